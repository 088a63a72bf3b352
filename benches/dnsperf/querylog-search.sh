#!/usr/bin/env bash
# GET /api/v1/querylog against a running Ward holding ENTRIES query log entries (issue 6:
# under 50 ms with 1M held). dnsperf fills the log with real queries (a mix of blocked and
# forwarded names of the benchmark corpus), then curl times each search several times.
#
#   WARD_BIN=target/release/ward benches/dnsperf/querylog-search.sh
#
# Needs the corpus of a previous run.sh (OUT/corpus-n$N-s1), dnsperf, dnsmasq, curl.
# Knobs: ENTRIES (1000000), N (600000), OUT (target/dnsperf), PORT (5498), REPEAT (5).
# Loopback only.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ENTRIES=${ENTRIES:-1000000}
N=${N:-600000}
OUT=${OUT:-$REPO/target/dnsperf}
PORT=${PORT:-5498}
STUB_PORT=$((PORT + 1))
ADMIN_PORT=$((PORT + 1000))
REPEAT=${REPEAT:-5}
ADDR=127.0.0.1
CORPUS="$OUT/corpus-n$N-s1"
[[ -f $CORPUS/queries-allowed.txt ]] || { echo "no $CORPUS: run benches/dnsperf/run.sh first" >&2; exit 1; }
: "${WARD_BIN:?set WARD_BIN}"
P="$OUT/querylog-search/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$P/data"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
. "$(dirname "$0")/stub.sh"
start_stub "$P" "$STUB_PORT" "$ADDR"
PIDS+=("$STUB_PID")
cp "$CORPUS/blocklist.adblock" "$P/"   # list files are read only beside the config (list_dirs)
cat > "$P/ward.yaml" <<YAML
dns: { listen: ["$ADDR:$PORT"] }
admin: { listen: "$ADDR:$ADMIN_PORT" }
upstreams: { default: { servers: ["$ADDR:$STUB_PORT"] } }
lists: [{ id: corpus, path: "$P/blocklist.adblock" }]
policies: { main: { lists: [corpus] } }
default_policy: main
data_dir: "$P/data"
query_log: { memory_entries: $ENTRIES, files: false }
YAML
"$WARD_BIN" serve --config "$P/ward.yaml" >"$P/ward.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q "ready" "$P/ward.log" 2>/dev/null && break; sleep 0.1; done
# Half blocked, half forwarded names, one rare name at the very start.
{ echo "rare-needle.example A"; head -n 300000 "$CORPUS/queries-blocked-exact.txt"; head -n 300000 "$CORPUS/queries-allowed.txt"; } > "$P/queries.txt"
API="http://$ADDR:$ADMIN_PORT/api/v1"
held() { curl -s "$API/../../metrics" | awk '/^ward_querylog_entries / {print $2}'; }
while (( $(held) < ENTRIES )); do
  dnsperf -s $ADDR -p "$PORT" -d "$P/queries.txt" -n 1 -c 10 -q 200 -t 5 >/dev/null 2>&1 || true
  echo "entries held: $(held)" >&2
  # the rare name must stay in the ring: ask it again near the end
  dig +short +time=2 +tries=1 -p "$PORT" @$ADDR rare-needle.example >/dev/null || true
done
echo "searches over $(held) entries held (curl time_total, $REPEAT runs: min / median / max ms)"
search() {
  local label=$1 query=$2 times
  times=$(for _ in $(seq 1 "$REPEAT"); do curl -s -o "$P/last.json" -w '%{time_total}\n' "$API/querylog?$query"; done | sort -n)
  local found
  found=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["entries"]))' "$P/last.json")
  echo "$times" | python3 -c '
import sys, statistics
t = [float(x) * 1000 for x in sys.stdin.read().split()]
print("%-34s %7.1f / %7.1f / %7.1f ms  (%s entries)" % (sys.argv[1], min(t), statistics.median(t), max(t), sys.argv[2]))' "$label" "$found"
}
search "newest page (100)" ""
search "newest page (1000)" "limit=1000"
search "verdict=blocked" "verdict=blocked"
search "client=127.0.0.1" "client=127.0.0.1"
search "policy=main&verdict=processed" "policy=main&verdict=processed"
search "name=rare-needle (rare)" "name=rare-needle"
search "name=no-such-thing (scans all)" "name=no-such-thing"
search "client=10.9.9.9 (none: scans all)" "client=10.9.9.9"
