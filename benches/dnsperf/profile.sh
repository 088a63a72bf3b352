#!/usr/bin/env bash
# Where Ward's time goes under dnsperf load: perf record -g of a Ward serving the benchmark
# corpus, loopback only. See benches/dnsperf/README.md.
#
#   benches/dnsperf/profile.sh [SET]        SET = blocked-exact | blocked-sub | allowed | allowed-miss
#
# Needs the corpus of a previous run.sh (OUT/corpus-n$N-s1), perf, dnsperf, dnsmasq.
# Knobs: N (600000), DURATION (15), OUT (target/dnsperf), WARD_BIN (OUT/bin/ward-* newest),
# PORT (5498), STUB_PORT (5499), FREQ (499 Hz), CALLGRAPH (dwarf; or fp), THREADS (unset:
# passed as --threads), QPS (unset = saturate; e.g. 10000 for a fixed rate), NOPERF=1 (only
# CPU per query and context switches, no perf), CONFIG_EXTRA (YAML appended to Ward's config,
# e.g. "query_log: { enabled: false }"), OTHERS_CORE (unset: every Ward thread on core 0;
# e.g. 1: all but the UDP threads on that core, beside dnsperf). The environment reaches Ward.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SET=${1:-allowed}
N=${N:-600000}
DURATION=${DURATION:-15}
OUT=${OUT:-$REPO/target/dnsperf}
PORT=${PORT:-5498}
STUB_PORT=${STUB_PORT:-5499}
FREQ=${FREQ:-499}
CALLGRAPH=${CALLGRAPH:-dwarf}
ADDR=127.0.0.1
CORPUS="$OUT/corpus-n$N-s1"
QFILE="$CORPUS/queries-$SET.txt"
[[ -f $QFILE ]] || { echo "no $QFILE: run benches/dnsperf/run.sh (N=$N) first" >&2; exit 1; }
for t in perf dnsperf dnsmasq taskset; do
  command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }
done
WARD_BIN=${WARD_BIN:-$(ls -t "$OUT"/bin/ward-* 2>/dev/null | head -n 1)}
[[ -x ${WARD_BIN:-} ]] || { echo "no Ward binary: set WARD_BIN or run run.sh first" >&2; exit 1; }

P="$OUT/profile/$(date +%Y%m%d-%H%M%S)-$SET"
mkdir -p "$P/data"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  # the query log's files: hundreds of MB a run at saturation, and nothing reads them
  rm -rf "$P/data/querylog" "$P/blocklist.adblock"
}
trap cleanup EXIT

. "$HERE/stub.sh"
start_stub "$P" "$STUB_PORT" "$ADDR"
PIDS+=("$STUB_PID")

# The list beside the config: Ward reads list files only under the config's directory and
# <data_dir>/lists unless list_dirs says otherwise (and a Ward from before list_dirs would
# refuse that key).
cp "$CORPUS/blocklist.adblock" "$P/"
cat > "$P/ward.yaml" <<EOF
dns:
  listen: ["$ADDR:$PORT"]
  blocking_mode: null_ip
admin:
  listen: "$ADDR:$((PORT + 1000))"
upstreams:
  default: { servers: ["$ADDR:$STUB_PORT"] }
lists:
  - { id: corpus, path: "$P/blocklist.adblock" }
policies:
  main: { lists: [corpus] }
default_policy: main
data_dir: "$P/data"
${CONFIG_EXTRA:-}
EOF
"$WARD_BIN" serve --config "$P/ward.yaml" ${THREADS:+--threads "$THREADS"} >"$P/ward.log" 2>&1 &
PIDS+=($!)
WARD_PID=$!
for _ in $(seq 1 100); do grep -q "ready" "$P/ward.log" 2>/dev/null && break; sleep 0.1; done
grep -q "ready" "$P/ward.log" || { echo "Ward did not get ready:" >&2; cat "$P/ward.log" >&2; exit 1; }
taskset -a -p -c 0 "$WARD_PID" >/dev/null
if [[ -n ${OTHERS_CORE:-} ]]; then   # Ward's threads but the UDP ones (the recorder's among them) elsewhere
  for t in /proc/"$WARD_PID"/task/*; do
    [[ $(cat "$t/comm") == ward-udp* ]] || taskset -p -c "$OTHERS_CORE" "${t##*/}" >/dev/null
  done
fi
taskset -a -p -c 1 "$STUB_PID" >/dev/null

if [[ $SET == allowed ]]; then   # warm the cache, as the harness does
  taskset -c 1 dnsperf -s $ADDR -p "$PORT" -d "$QFILE" -n 1 -Q 5000 -l 30 >/dev/null
fi
RATE=()
[[ -n ${QPS:-} ]] && RATE=(-Q "$QPS")
echo "profiling Ward (pid $WARD_PID, core 0) on $SET for ${DURATION}s; output in $P" >&2
# context switches of all of Ward's threads so far
ctxt() { cat /proc/"$WARD_PID"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n + 0}'; }
PERF_PID=
if [[ ${NOPERF:-} != 1 ]]; then
  # perf itself runs on the load generator's core, so that Ward's core only pays for the sampling
  taskset -c 1 perf record -F "$FREQ" --call-graph "$CALLGRAPH" -p "$WARD_PID" -o "$P/perf.data" -- sleep "$((DURATION + 1))" \
    2>"$P/perf-record.log" &
  PERF_PID=$!
fi
# CPU ticks of the UDP threads (ward-udp-*), which answer the queries, and of all the others
# (the recorder, TCP, the admin API): the query path's own cost and what runs beside it
udp_ticks() { for t in /proc/"$WARD_PID"/task/*; do
  if [[ $(cat "$t/comm" 2>/dev/null) == ward-udp* ]]; then awk '{print $14 + $15}' "$t/stat"; fi
  done | awk '{n += $1} END {print n + 0}'; }
c0=$(ctxt)
u0=$(udp_ticks)
t0=$(awk '{print $14 + $15}' "/proc/$WARD_PID/stat")
taskset -c 1 dnsperf -s $ADDR -p "$PORT" -d "$QFILE" -c 10 -q 100 -t 5 -l "$DURATION" "${RATE[@]}" >"$P/dnsperf.txt" 2>&1
t1=$(awk '{print $14 + $15}' "/proc/$WARD_PID/stat")
u1=$(udp_ticks)
c1=$(ctxt)
threads=$(ls /proc/"$WARD_PID"/task | wc -l)
[[ -n $PERF_PID ]] && { wait "$PERF_PID" || true; }
qps=$(awk '/Queries per second/ {print $4}' "$P/dnsperf.txt")
hz=$(getconf CLK_TCK)
python3 - "$t0" "$t1" "$hz" "$qps" "$DURATION" "$c0" "$c1" "$threads" "$u0" "$u1" <<'EOF' | tee "$P/summary.txt"
import sys
t0, t1, hz, qps, dur = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4] or 0), float(sys.argv[5])
sw = int(sys.argv[7]) - int(sys.argv[6])
cpu = (t1 - t0) / hz
udp = (int(sys.argv[10]) - int(sys.argv[9])) / hz
n = qps * dur or 1
print("qps %.0f, Ward CPU %.1f s in %.0f s = %.2f µs/q (UDP threads %.2f, others %.2f); %s threads, %.3f context switches per query"
      % (qps, cpu, dur, cpu / n * 1e6, udp / n * 1e6, (cpu - udp) / n * 1e6, sys.argv[8], sw / n))
EOF
grep -E "Queries (sent|completed|lost)" "$P/dnsperf.txt"
[[ -n $PERF_PID ]] || exit 0
REPORT=(perf report -i "$P/perf.data" --stdio)
NOISE='inlined|catch_unwind|do_call|call_once|poll_future|poll_inner|with_mut|with_budget|budget<|\{closure|try_with|enter_runtime|clone3|thread_start|start_thread|run_worker|run<|with<|backtrace|Scoped|0xffffffffffffffff'
"${REPORT[@]}" --no-children --sort symbol -g none --percent-limit 0.4 2>/dev/null | grep -v '^#' | grep -v '^$' \
  | sed -E 's/ +- +- *$//' >"$P/flat.txt" || true
"${REPORT[@]}" --children --sort symbol -g none --percent-limit 0.5 2>/dev/null | grep -v '^#' | grep -v '^$' \
  | sed -E 's/ +- +- *$//' | grep -vE "$NOISE" >"$P/children.txt" || true
"${REPORT[@]}" --no-children --sort symbol -G --percent-limit 2 2>/dev/null >"$P/callers.txt" || true
echo; echo "== self time by symbol (flat; in a VM perf samples on a timer, so time with interrupts off"
echo "   shows up where they are turned on again: finish_task_switch, _raw_spin_unlock_irqrestore) =="
cut -c1-160 "$P/flat.txt" | head -n 40
echo; echo "== inclusive time (children), runtime plumbing left out =="
cut -c1-160 "$P/children.txt" | head -n 70
echo; echo "reports: $P/{flat,children,callers}.txt; perf data: $P/perf.data" >&2
