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
      echo "$round $set $variant $line" >>"$RESULTS"
    done
  done
done
# Medians over the rounds, and the qps of each variant against base and against nolog
# paired round by round (the machine drifts by several % between rounds, less within one):
# median [lowest, highest].
python3 - "$RESULTS" <<'PY'
import re, sys, statistics
rows, qps = {}, {}
for line in open(sys.argv[1]):
    r, s, v, rest = line.split(" ", 3)
    m = re.search(r"qps (\d+), .* = ([\d.]+) µs/q \(UDP threads ([\d.]+), others ([\d.]+)\)", rest)
    if m:
        rows.setdefault((s, v), []).append(tuple(float(g) for g in m.groups()))
        qps[(r, s, v)] = float(m.group(1))
def paired(s, v, against):
    d = [(qps[(r, s, v)] / qps[(r, s, against)] - 1) * 100
         for (r, s2, v2) in qps if s2 == s and v2 == v and (r, s, against) in qps]
    if not d or v == against or v == "base":
        return "%18s" % ""
    return "%+6.1f%% [%+.1f, %+.1f]" % (statistics.median(d), min(d), max(d))
print("%-14s %-8s %12s %10s %10s %12s %22s %22s" % ("set", "variant", "qps (median)", "µs/query", "UDP µs/q", "others µs/q", "qps vs base, paired", "qps vs nolog, paired"))
for s in dict.fromkeys(k[0] for k in rows):
    for v in ("base", "idle", "nolog", "memory", "default"):
        if (s, v) not in rows:
            continue
        med = [statistics.median(r[i] for r in rows[(s, v)]) for i in range(4)]
        print("%-14s %-8s %12.0f %10.2f %10.2f %12.2f %22s %22s" % (s, v, med[0], med[1], med[2], med[3], paired(s, v, "base"), paired(s, v, "nolog")))
PY
rm -f "$RESULTS"
