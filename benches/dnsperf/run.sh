#!/usr/bin/env bash
# Ward next to dnsmasq and unbound (and a null responder, the ceiling) on the same corpus,
# on loopback, with the shared DNS benchmark harness. See benches/dnsperf/README.md.
#
#   benches/dnsperf/run.sh                                   # 600k names, ~25 min
#   N=2000 DURATION=2 LAT_DURATION=1 WARD_SOAK_DURATION=2 benches/dnsperf/run.sh   # smoke run
#
# Knobs: every variable of run_baseline.sh (N, DURATION, LAT_QPS, LAT_DURATION, MODES, SETS,
# ROUNDS, ...) plus
#   WARD_BENCH_DIR      the shared harness (default: ../shared/bench next to the repo root)
#   OUT                 corpora and runs (default: target/dnsperf under the repo root)
#   SERVERS             default "null_ref ward ward1 unbound dnsmasq_address ward_soak"
#   WARD_BIN            a ward binary to measure (default: cargo build --release, then a copy)
#   WARD_SOAK_DURATION  seconds of each ward_soak fixed-rate run (default 60)
#   NO_INSTALL=1        never apt-get install missing tools, only say what is missing
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

BENCH=${WARD_BENCH_DIR:-$REPO/../shared/bench}
if [[ ! -x "$BENCH/run_baseline.sh" ]]; then
  cat >&2 <<EOF
benches/dnsperf: the shared DNS benchmark harness is missing: no run_baseline.sh in
  $BENCH
Set WARD_BENCH_DIR to the folder that holds run_baseline.sh, benchlib.py and gen_corpus.py
(it lives next to this repository as ../shared/bench).
EOF
  exit 2
fi
BENCH=$(cd "$BENCH" && pwd)

# ------------------------------------------------------------------ tools
need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
command -v unbound >/dev/null || need+=(unbound)
command -v taskset >/dev/null || need+=(util-linux)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
  if [[ ${NO_INSTALL:-} != 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "benches/dnsperf: installing ${need[*]} (apt-get; NO_INSTALL=1 to refuse)" >&2
    apt-get install -y "${need[@]}" >&2 || { apt-get update >&2 && apt-get install -y "${need[@]}" >&2; }
  else
    echo "benches/dnsperf: missing tools; install them with: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
command -v rustc >/dev/null || echo "benches/dnsperf: no rustc: the null responder (ceiling) is skipped" >&2

# ------------------------------------------------------------------ Ward binary
OUT=${OUT:-$REPO/target/dnsperf}
mkdir -p "$OUT/bin"
OUT=$(cd "$OUT" && pwd)
if [[ -z ${WARD_BIN:-} ]]; then
  (cd "$REPO" && cargo build --release --bin ward >&2)
  # A copy, so that a rebuild during the run (other work in this tree) cannot swap the
  # binary between the servers of one run.
  rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -n $(git -C "$REPO" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null) ]] && rev="$rev-dirty"
  WARD_BIN="$OUT/bin/ward-$rev"
  cp "$REPO/target/release/ward" "$WARD_BIN.tmp" && mv "$WARD_BIN.tmp" "$WARD_BIN"
fi
[[ -x $WARD_BIN ]] || { echo "benches/dnsperf: WARD_BIN=$WARD_BIN is not an executable" >&2; exit 1; }
WARD_BIN=$(cd "$(dirname "$WARD_BIN")" && pwd)/$(basename "$WARD_BIN")
echo "benches/dnsperf: measuring $WARD_BIN" >&2

# ------------------------------------------------------------------ the run
export WARD_BIN OUT
export SERVERS=${SERVERS:-"null_ref ward ward1 unbound dnsmasq_address ward_soak"}
export EXTRA="$HERE/ward.bench.sh${EXTRA:+ $EXTRA}"
before=$(ls -1 "$OUT/runs" 2>/dev/null | tail -n 1 || true)
"$BENCH/run_baseline.sh"
run=$(ls -1 "$OUT/runs" | tail -n 1)
[[ -n $run && $run != "$before" ]] || { echo "benches/dnsperf: no new run folder in $OUT/runs" >&2; exit 1; }
RUN="$OUT/runs/$run"

echo
echo "### Ward against the targets of issue 3"
echo
python3 "$HERE/targets.py" "$RUN" | tee "$RUN/targets.md"
echo
echo "benches/dnsperf: tables in $RUN/table.md and $RUN/targets.md; every number in $RUN/results.jsonl" >&2
