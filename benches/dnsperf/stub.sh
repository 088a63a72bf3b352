# Sourced by the benchmark scripts: the upstream stub they forward to, a dnsmasq that
# answers every name with 127.1.0.1 (TTL one day) and caches nothing, as the shared
# harness's stub does.
#
#   start_stub DIR PORT [ADDRESS]     writes DIR/stub.conf, logs to DIR/stub.log;
#                                     the stub's pid is in STUB_PID
start_stub() {
  local dir=$1 port=$2 addr=${3:-127.0.0.1}
  cat > "$dir/stub.conf" <<CONF
port=$port
listen-address=$addr
bind-interfaces
no-resolv
no-hosts
no-poll
address=/#/127.1.0.1
local-ttl=86400
cache-size=0
user=root
pid-file=
CONF
  dnsmasq --keep-in-foreground --conf-file="$dir/stub.conf" >"$dir/stub.log" 2>&1 &
  STUB_PID=$!
}
