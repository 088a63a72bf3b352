#!/usr/bin/env bash
# Reload latency and memory, end to end through the binary: Ward serving the real corpus
# (../shared/corpus, five lists, 537k rule lines) as path lists, with dnsperf asking at a
# fixed rate the whole time. Three kinds of change, ROUNDS times each:
#   rule    one custom rule added to the config file
#   list    one line added to a 100k-line list (the first 100,000 lines of the phishing list)
#   corpus  every list changed (a comment appended to each): the whole corpus recompiled
# For each: the time from the write to the new snapshot serving (the status' last_reload
# finished_at_ms; includes the file watcher's 30 ms pause), and the reload's own
# elapsed_ms (trigger to swapped in). Ward's RSS is sampled every 5 ms: steady state
# before each change, the peak during it. dnsperf's lost queries must be 0.
#
#   benches/reload/run.sh                # needs dnsperf, dnsmasq, python3; ~2 min
# Knobs: ROUNDS (10), QPS (20000), WARD_BIN (target/release/ward, built if missing),
# CORPUS (../shared/corpus), OUT (target/reload-bench), PORT (5598), STUB_PORT (5599).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ROUNDS=${ROUNDS:-10}
QPS=${QPS:-20000}
CORPUS=${CORPUS:-$REPO/../shared/corpus}
OUT=${OUT:-$REPO/target/reload-bench}
PORT=${PORT:-5598}
STUB_PORT=${STUB_PORT:-5599}
ADDR=127.0.0.1
for t in dnsperf dnsmasq python3 curl; do
  command -v "$t" >/dev/null || { echo "missing: $t (apt-get install dnsperf dnsmasq-base python3 curl)" >&2; exit 1; }
done
[[ -f $CORPUS/MANIFEST.md ]] || { echo "no corpus in $CORPUS (set CORPUS)" >&2; exit 1; }
if [[ -z ${WARD_BIN:-} ]]; then
  (cd "$REPO" && cargo build --release --bin ward >&2)
  WARD_BIN=$REPO/target/release/ward
fi

R="$OUT/$(date +%Y%m%d-%H%M%S)"
# The config in a directory of its own: the file watcher wakes on any event in it, and the
# samplers below write files all the time.
mkdir -p "$R/lists" "$R/data" "$R/etc"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

LISTS=(blp-basic-hosts blp-phishing-domains blp-tracking-adguard stevenblack-hosts urlhaus-domains)
for l in "${LISTS[@]}"; do cp "$CORPUS/$l.txt" "$R/lists/$l.txt"; done
head -n 100000 "$CORPUS/blp-phishing-domains.txt" > "$R/lists/hundred-k.txt"
LISTS+=(hundred-k)

write_config() {  # $1 = number of custom rules
  {
    cat <<EOF
dns:
  listen: ["$ADDR:$PORT"]
admin:
  listen: "$ADDR:$((PORT + 1000))"
upstreams:
  default: { servers: ["$ADDR:$STUB_PORT"] }
lists:
EOF
    for l in "${LISTS[@]}"; do echo "  - { id: $l, path: \"$R/lists/$l.txt\" }"; done
    echo "policies:"
    printf '  main: { lists: [%s], rules: [' "$(IFS=,; echo "${LISTS[*]}")"
    for ((i = 0; i < $1; i++)); do printf '"||bench-rule-%d.example^", ' "$i"; done
    echo '"||first.example^"] }'
    echo "default_policy: main"
    echo "data_dir: \"$R/data\""
  } > "$R/etc/ward.yaml.tmp"
  mv "$R/etc/ward.yaml.tmp" "$R/etc/ward.yaml"
}
write_config 0

cat > "$R/stub.conf" <<EOF
port=$STUB_PORT
listen-address=$ADDR
bind-interfaces
no-resolv
no-hosts
no-poll
address=/#/127.1.0.1
cache-size=0
user=root
pid-file=
EOF
dnsmasq --keep-in-foreground --conf-file="$R/stub.conf" >"$R/stub.log" 2>&1 &
PIDS+=($!)

"$WARD_BIN" serve --config "$R/etc/ward.yaml" >"$R/ward.log" 2>&1 &
WARD_PID=$!
PIDS+=($WARD_PID)
for _ in $(seq 1 200); do grep -q '"ready"\| ready' "$R/ward.log" 2>/dev/null && break; sleep 0.05; done
grep -q ' ready' "$R/ward.log" || { echo "Ward did not get ready:" >&2; cat "$R/ward.log" >&2; exit 1; }

# Queries: blocked names from the lists and names no list has, forwarded (then cached).
python3 - "$R" <<'EOF'
import random, sys, pathlib
r = pathlib.Path(sys.argv[1])
names = []
for line in (r / "lists/blp-phishing-domains.txt").read_text(errors="ignore").splitlines():
    line = line.strip()
    if line and not line.startswith("#"):
        names.append(line)
random.seed(1)
out = [f"{n} A" for n in random.sample(names, 20000)]
out += [f"allowed-{i}.bench.example A" for i in range(20000)]
random.shuffle(out)
(r / "queries.txt").write_text("\n".join(out) + "\n")
EOF

# RSS sampler: "unix_ms rss_kib" lines.
( while kill -0 "$WARD_PID" 2>/dev/null; do
    echo "$(date +%s%3N) $(awk '/VmRSS/ {print $2}' /proc/$WARD_PID/status 2>/dev/null)"
    sleep 0.005
  done ) > "$R/rss.txt" &
PIDS+=($!)

# dnsperf runs a fixed time that covers every change (about 1.5 s each), and ends by itself.
DNSPERF_SECONDS=${DNSPERF_SECONDS:-$((ROUNDS * 3 * 2 + 15))}
dnsperf -s $ADDR -p "$PORT" -d "$R/queries.txt" -l "$DNSPERF_SECONDS" -Q "$QPS" -c 4 -t 2 >"$R/dnsperf.txt" 2>&1 &
DNSPERF_PID=$!
sleep 3

status() { curl -s "http://$ADDR:$((PORT + 1000))/api/v1/status"; }
generation() { status | python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])'; }

: > "$R/changes.txt"
change() {  # $1 = kind, $2 = round
  local kind=$1 round=$2 before t0 done_now
  before=$(generation)
  sleep 0.5  # a steady state before the change, for the RSS sampler
  t0=$(date +%s%3N)
  case $kind in
    rule) write_config "$((round + 1))" ;;
    list) echo "bench-$round.hundred-k.example" >> "$R/lists/hundred-k.txt" ;;
    corpus) for l in "${LISTS[@]}"; do echo "# bench change $round" >> "$R/lists/$l.txt"; done ;;
  esac
  # Done when a reload that ended after the write has applied and none is running (a
  # reload of several changed lists swaps them in one step at a time).
  while :; do
    done_now=$(status | python3 -c '
import json, sys
s = json.load(sys.stdin); r = s.get("last_reload") or {}
print(1 if s["generation"] > int(sys.argv[1]) and s.get("reloading") is None
      and r.get("finished_at_ms", 0) >= int(sys.argv[2]) else 0)' "$before" "$t0")
    [[ $done_now == 1 ]] && break
    (( $(date +%s%3N) - t0 > 10000 )) && { echo "no reload 10 s after a $kind change" >&2; exit 1; }
    sleep 0.002
  done
  # When it was served (the reload's own clock), and how long the reload itself took.
  local served elapsed
  read -r served elapsed < <(status | python3 -c 'import json,sys; r = json.load(sys.stdin)["last_reload"]; print(r["finished_at_ms"], r["elapsed_ms"])')
  echo "$kind $round $t0 $served $elapsed" >> "$R/changes.txt"
  sleep 0.5
}
for ((i = 0; i < ROUNDS; i++)); do change rule "$i"; done
for ((i = 0; i < ROUNDS; i++)); do change list "$i"; done
for ((i = 0; i < ROUNDS; i++)); do change corpus "$i"; done
echo "changes done; waiting for dnsperf to end (${DNSPERF_SECONDS} s in all)" >&2
wait "$DNSPERF_PID" || true

python3 - "$R" <<'EOF'
import sys, pathlib, statistics
r = pathlib.Path(sys.argv[1])
rss = []
for line in (r / "rss.txt").read_text().splitlines():
    parts = line.split()
    if len(parts) == 2 and parts[1].isdigit():
        rss.append((int(parts[0]), int(parts[1])))
rows = {}
for line in (r / "changes.txt").read_text().splitlines():
    kind, _, t0, t1, elapsed = line.split()
    t0, t1 = int(t0), int(t1)
    before = [k for t, k in rss if t0 - 400 <= t < t0]
    during = [k for t, k in rss if t0 <= t <= t1 + 300]
    steady = statistics.median(before) if before else float("nan")
    peak = max(during) if during else float("nan")
    rows.setdefault(kind, []).append((t1 - t0, float(elapsed), steady, peak))
print(f"{'change':8} {'write->served ms (p50 / max)':>30} {'reload ms (p50 / max)':>24} {'steady RSS MiB':>15} {'peak/steady (max)':>18}")
for kind in ("rule", "list", "corpus"):
    v = rows.get(kind, [])
    if not v:
        continue
    wall = [x[0] for x in v]; el = [x[1] for x in v]
    ratio = max(x[3] / x[2] for x in v)
    print(f"{kind:8} {statistics.median(wall):>18.0f} / {max(wall):<9.0f} {statistics.median(el):>13.1f} / {max(el):<8.1f} {statistics.median([x[2] for x in v]) / 1024:>15.1f} {ratio:>18.2f}")
text = (r / "dnsperf.txt").read_text()
for line in text.splitlines():
    if any(k in line for k in ("Queries sent", "Queries completed", "Queries lost")):
        print(line.strip())
print(f"results: {r}")
EOF
