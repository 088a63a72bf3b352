#!/usr/bin/env bash
# Instructions per query, counted by callgrind: a deterministic stand-in for "server CPU per
# query" on a machine whose timings are too noisy to show a few per cent. User space only:
# what the kernel does for a system call is not counted.
#
#   benches/dnsperf/instructions.sh BIN [BIN...]
#   SET=blocked benches/dnsperf/instructions.sh BIN [BIN...]
#
# For every binary, Ward runs under `valgrind --tool=callgrind` with --threads 1 and one UDP
# upstream (a dnsmasq stub that answers every name, no cache), and dnsperf sends it first N1
# and then, in a second run, N2 queries at QPS queries per second. SET says which:
#   miss     (default) distinct names, each a cache miss that is forwarded;
#   blocked  distinct names under a blocked domain (one adblock rule);
#   cached   200 names over and over: all but the first 200 answered from the cache.
# Instructions counted over the whole process (every thread: UDP, upstream sockets, query
# log, statistics) in the two runs give
#
#   per query = (I(N2) - I(N1)) / (N2 - N1)
#
# so start-up, config load and shutdown cancel out. Miss names come from the benchmark
# corpus' allowed-miss set (benches/dnsperf/run.sh makes it) when present, otherwise they
# are generated. Knobs: N1 (4000), N2 (12000), QPS (400; low enough that Ward under valgrind
# keeps up: check "lost" in the output), ROUNDS (1), PORT (5798), STUB_PORT (5799),
# OUT (target/dnsperf), CONFIG_EXTRA (YAML appended to Ward's config).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
N1=${N1:-4000}
N2=${N2:-12000}
QPS=${QPS:-400}
ROUNDS=${ROUNDS:-1}
PORT=${PORT:-5798}
ADMIN_PORT=$((PORT - 1))
STUB_PORT=${STUB_PORT:-5799}
OUT=${OUT:-$REPO/target/dnsperf}
(($# > 0)) || { sed -n '2,19p' "$0" >&2; exit 2; }
for t in valgrind dnsperf dnsmasq curl; do
  command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }
done
((N2 > N1)) || { echo "N2 must be larger than N1" >&2; exit 2; }

W="$OUT/instructions/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$W"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

. "$HERE/stub.sh"
start_stub "$W" "$STUB_PORT" "127.0.0.1"
PIDS+=("$STUB_PID")

# the query files; the first N1 queries are a prefix of the N2
SET=${SET:-miss}
MISS="$OUT/corpus-n600000-s1/queries-allowed-miss.txt"
case $SET in
  miss)
    if [[ -f $MISS ]] && (($(wc -l <"$MISS") >= N2)); then
      head -n "$N2" "$MISS" >"$W/q$N2.txt"
    else
      seq 1 "$N2" | sed 's/.*/miss-&.bench.example A/' >"$W/q$N2.txt"
    fi ;;
  blocked) seq 1 "$N2" | sed 's/.*/host-&.ads.example A/' >"$W/q$N2.txt" ;;
  cached) seq 1 "$N2" | awk '{print "name-" ($1 % 200) ".bench.example A"}' >"$W/q$N2.txt" ;;
  *) echo "SET is miss, blocked or cached" >&2; exit 2 ;;
esac
head -n "$N1" "$W/q$N2.txt" >"$W/q$N1.txt"

# one run: Ward under callgrind, n queries, its total instruction count on stdout
count() {
  local bin=$1 n=$2 tag=$3 pid i
  rm -rf "$W/data-$tag"
  cat > "$W/ward-$tag.yaml" <<EOF
dns: { listen: ["127.0.0.1:$PORT"] }
admin: { listen: "127.0.0.1:$ADMIN_PORT" }
upstreams: { default: { servers: ["127.0.0.1:$STUB_PORT"] } }
policies: { main: { rules: ["||ads.example^"] } }
default_policy: main
data_dir: $W/data-$tag
${CONFIG_EXTRA:-}
EOF
  valgrind --tool=callgrind --callgrind-out-file="$W/cg-$tag.out" \
    "$bin" serve --config "$W/ward-$tag.yaml" --threads 1 >"$W/ward-$tag.log" 2>&1 &
  pid=$!
  for i in $(seq 1 600); do
    curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "ward exited, see $W/ward-$tag.log" >&2; exit 1; }
    sleep 0.2
  done
  dnsperf -s 127.0.0.1 -p "$PORT" -d "$W/q$n.txt" -Q "$QPS" -c 4 -n 1 -t 5 >"$W/dnsperf-$tag.txt" 2>&1
  kill -TERM "$pid"
  wait "$pid" || true
  lost=$(awk '/Queries lost:/ {print $3}' "$W/dnsperf-$tag.txt")
  ((lost == 0)) || echo "  $tag: $lost queries lost (lower QPS)" >&2
  awk '/^(summary|totals):/ {print $2; exit}' "$W/cg-$tag.out"
}

echo "SET=$SET"
printf '%-40s %8s %14s %14s %12s\n' binary round "I(N1=$N1)" "I(N2=$N2)" "instr/query"
for r in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    name=$(basename "$bin")
    a=$(count "$bin" "$N1" "$name-r$r-$N1")
    b=$(count "$bin" "$N2" "$name-r$r-$N2")
    printf '%-40s %8s %14s %14s %12s\n' "$name" "$r" "$a" "$b" $(((b - a) / (N2 - N1)))
  done
done | tee "$W/result.txt"
echo "files: $W"
