#!/usr/bin/env bash
# Two Ward binaries side by side: saturating dnsperf throughput and Ward's CPU per query
# on each query set, Ward on one core (every Ward thread) and dnsperf on the other, run
# in turn ROUNDS times so that the machine's drift hits both alike. What issue 13 asks
# of its hardening: blocked, cached and forwarded-miss CPU per query within 5 % of before.
#
#   BASE_BIN=target/dnsperf/bin/ward-f3d36db WARD_BIN=target/release/ward benches/dnsperf/compare.sh
#
# Knobs: SETS ("blocked-exact allowed allowed-miss"), ROUNDS (3), DURATION (8 s per run:
# the allowed-miss set holds 1M names, each asked once, so a run must not send more),
# CONFIG_EXTRA (YAML for both), and those of profile.sh, which runs each measurement
# (NOPERF=1 THREADS=1). Needs the corpus of run.sh (or gen_corpus.py -n 600000 --seed 1
# into target/dnsperf/corpus-n600000-s1). Loopback only.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SETS=${SETS:-"blocked-exact allowed allowed-miss"}
ROUNDS=${ROUNDS:-3}
export DURATION=${DURATION:-8} NOPERF=1 THREADS=${THREADS:-1}
: "${BASE_BIN:?set BASE_BIN to the Ward to compare against}"
: "${WARD_BIN:?set WARD_BIN to the Ward to measure}"
RESULTS=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  for set in $SETS; do
    for variant in base new; do
      bin=$WARD_BIN
      [[ $variant == base ]] && bin=$BASE_BIN
      line=$(WARD_BIN=$bin "$HERE/profile.sh" "$set" 2>/dev/null | tr '\n' ' ')
      echo "round $round $set $variant: $line" >&2
      echo "$round $set $variant $line" >>"$RESULTS"
    done
  done
done
# Medians over the rounds, and new against base paired round by round: median [lowest,
# highest] of the per-round differences.
python3 - "$RESULTS" <<'PY'
import re, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    r, s, v, rest = line.split(" ", 3)
    m = re.search(r"qps (\d+), .* = ([\d.]+) µs/q \(UDP threads ([\d.]+), others ([\d.]+)\)", rest)
    lost = re.search(r"Queries lost:\s+(\d+)", rest)
    if m:
        rows[(r, s, v)] = tuple(float(g) for g in m.groups()) + (int(lost.group(1)) if lost else -1,)
def paired(s, i):
    d = [(rows[(r, s, "new")][i] / rows[(r, s, "base")][i] - 1) * 100
         for (r, s2, v) in rows if s2 == s and v == "new" and (r, s, "base") in rows]
    return "%+6.1f%% [%+.1f, %+.1f]" % (statistics.median(d), min(d), max(d)) if d else ""
print("%-14s %-5s %12s %10s %10s %12s %8s" % ("set", "", "qps (median)", "µs/query", "UDP µs/q", "others µs/q", "lost"))
for s in dict.fromkeys(k[1] for k in rows):
    for v in ("base", "new"):
        rs = [rows[k] for k in rows if k[1] == s and k[2] == v]
        if rs:
            med = [statistics.median(x[i] for x in rs) for i in range(4)]
            print("%-14s %-5s %12.0f %10.2f %10.2f %12.2f %8d" % (s, v, *med, sum(x[4] for x in rs)))
    print("%-14s new vs base, paired: qps %s, µs/query %s, UDP µs/q %s" % (s, paired(s, 0), paired(s, 1), paired(s, 2)))
PY
rm -f "$RESULTS"
