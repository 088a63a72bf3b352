# Ward for the shared DNS benchmark harness (../shared/bench/run_baseline.sh, EXTRA=this file).
# Sourced by run_baseline.sh, which provides run_server, $CORPUS, $CONF, $RUN, $STUB_PORT,
# $ADDR, $LAT_QPS, $SETS. benches/dnsperf/run.sh sets WARD_BIN to a copy of the release binary.
#
#   bench_ward       Ward as configured by default (one UDP thread per core, each with its
#                    own SO_REUSEPORT socket; TCP and admin on a runtime of as many threads)
#   bench_ward1      Ward with --threads 1 (the peers are single-threaded): one UDP thread,
#                    a one-thread runtime beside it
#   bench_ward_soak  no saturating runs: one 60 s fixed-rate run per query set at LAT_QPS
#                    (10k qps), for the "p99 < 0.3 ms, zero lost queries in 60 s" target
#
# Every variant: the corpus' adblock list (`||d^` blocks d and its subdomains) in the one
# policy every client gets, blocked names answered 0.0.0.0 (null_ip, AdGuard Home's default),
# everything else forwarded to the harness' upstream stub over UDP, cache at its default
# size (100,000 answers).

ward_write_config() {  # $1 = config dir, $2 = DNS port
  local d=$1 port=$2
  mkdir -p "$d/data"
  cp "$CORPUS/blocklist.adblock" "$d/"   # list files are read only beside the config (list_dirs)
  cat > "$d/ward.yaml" <<EOF
dns:
  listen: ["$ADDR:$port"]
  blocking_mode: null_ip
admin:
  listen: "$ADDR:$((port + 1000))"
upstreams:
  default: { servers: ["$ADDR:$STUB_PORT"] }
lists:
  - { id: corpus, path: "$d/blocklist.adblock" }
policies:
  main: { lists: [corpus] }
default_policy: main
data_dir: "$d/data"
EOF
  if ! "${WARD_BIN:-ward}" validate --config "$d/ward.yaml" >"$d/validate.log" 2>&1; then
    log "ward: config rejected by 'ward validate':"; cat "$d/validate.log" >&2
    return 1
  fi
}

bench_ward() {
  local port=$1 d="$CONF/ward"
  ward_write_config "$d" "$port" || return 0
  run_server ward "Ward adblock list (||d^: d + subdomains), default threads" "$port" -- \
    "${WARD_BIN:-ward}" serve --config "$d/ward.yaml"
}

bench_ward1() {
  local port=$1 d="$CONF/ward1"
  ward_write_config "$d" "$port" || return 0
  run_server ward1 "Ward adblock list (||d^: d + subdomains), one UDP thread" "$port" -- \
    "${WARD_BIN:-ward}" serve --config "$d/ward.yaml" --threads 1
}

bench_ward_soak() {
  # run_server reads these globals; bash's dynamic scoping lets this function override
  # them for this one server: no saturating runs, 60 s latency runs at LAT_QPS.
  local MODES="" LAT_DURATION=${WARD_SOAK_DURATION:-60}
  local port=$1 d="$CONF/ward_soak"
  ward_write_config "$d" "$port" || return 0
  run_server ward_soak "Ward, ${LAT_DURATION} s at ${LAT_QPS} qps per set (no saturating runs)" "$port" -- \
    "${WARD_BIN:-ward}" serve --config "$d/ward.yaml"
}
