#!/usr/bin/env bash
# What recording every query costs the query path (issue 6): saturating dnsperf
# throughput and Ward's CPU per query, Ward on one core (its UDP thread, the recorder and
# everything else share it) and dnsperf on the other. Variants, run in turn ROUNDS times
# so that the machine's drift hits them alike:
#   base      BASE_BIN, a Ward built before recording existed (no events at all)
#   nolog     WARD_BIN with query_log.enabled: false (statistics and metrics only)
#   memory    WARD_BIN with the query log in memory only (files: false)
#   default   WARD_BIN as shipped: the query log in memory and in JSON-lines files
#   idle      WARD_BIN with a queue of one: every record is built and dropped, so the
#             recorder is idle and what is left is the query thread's own work
#
#   BASE_BIN=target/dnsperf/bin/ward-4c191ad WARD_BIN=target/release/ward benches/dnsperf/querylog.sh
#
# Knobs: SETS ("blocked-exact allowed"), VARIANTS ("base nolog memory default"; add idle),
# ROUNDS (3), DURATION (15 s per run), and those of profile.sh, which runs each
# measurement (NOPERF=1 THREADS=1; OTHERS_CORE=1 moves the recorder beside dnsperf).
# Loopback only.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SETS=${SETS:-"blocked-exact allowed"}
VARIANTS=${VARIANTS:-"base nolog memory default"}
ROUNDS=${ROUNDS:-3}
export DURATION=${DURATION:-15} NOPERF=1 THREADS=1
: "${BASE_BIN:?set BASE_BIN to a Ward built before the query log was wired}"
: "${WARD_BIN:?set WARD_BIN to the Ward to measure}"
declare -A EXTRA=(
  [base]=""
  [nolog]="query_log: { enabled: false }"
  [memory]="query_log: { files: false }"
  [default]=""
  [idle]="query_log: { queue: 1 }"
)
RESULTS=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  for set in $SETS; do
    for variant in $VARIANTS; do
      bin=$WARD_BIN
      [[ $variant == base ]] && bin=$BASE_BIN
      line=$(WARD_BIN=$bin CONFIG_EXTRA=${EXTRA[$variant]} "$HERE/profile.sh" "$set" 2>/dev/null | sed -n 1p)
      echo "round $round $set $variant: $line" >&2
      echo "$set $variant $line" >>"$RESULTS"
    done
  done
done
python3 - "$RESULTS" <<'PY'
import re, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    s, v, rest = line.split(" ", 2)
    m = re.search(r"qps (\d+), .* = ([\d.]+) µs/q \(UDP threads ([\d.]+), others ([\d.]+)\)", rest)
    if m:
        rows.setdefault((s, v), []).append(tuple(float(g) for g in m.groups()))
print("%-14s %-8s %12s %12s %10s %10s %12s" % ("set", "variant", "qps (median)", "qps vs base", "µs/query", "UDP µs/q", "others µs/q"))
for s in dict.fromkeys(k[0] for k in rows):
    base = statistics.median(r[0] for r in rows.get((s, "base"), [(0, 0, 0, 0)]))
    for v in ("base", "idle", "nolog", "memory", "default"):
        if (s, v) not in rows:
            continue
        med = [statistics.median(r[i] for r in rows[(s, v)]) for i in range(4)]
        print("%-14s %-8s %12.0f %+11.1f%% %10.2f %10.2f %12.2f" % (s, v, med[0], (med[0] / base - 1) * 100 if base else 0, med[1], med[2], med[3]))
PY
rm -f "$RESULTS"
