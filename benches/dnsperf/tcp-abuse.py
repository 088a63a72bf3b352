#!/usr/bin/env python3
"""One TCP client that pipelines queries and never reads its answers (issue 13): Ward's
RSS before, at its peak and after, and whether Ward closed the connection.

    python3 benches/dnsperf/tcp-abuse.py target/release/ward 5701

Starts the given binary on 127.0.0.1:PORT (admin on PORT+1) with a one-rule policy,
writes up to 300,000 framed queries for a blocked name in batches of 1,000 within 30 s,
and reads /proc/<pid>/status. Loopback only.
"""
import socket, struct, subprocess, sys, time, os
binary, port = sys.argv[1], int(sys.argv[2])
d = f"/tmp/tcpabuse-{port}"; os.makedirs(d, exist_ok=True)
open(f"{d}/ward.yaml","w").write(f"""dns: {{ listen: ["127.0.0.1:{port}"] }}
admin: {{ listen: "127.0.0.1:{port+1}" }}
upstreams: {{ default: {{ servers: ["127.0.0.1:9"] }} }}
policies: {{ main: {{ rules: ["||blocked.example^"] }} }}
default_policy: main
data_dir: {d}/data
""")
p = subprocess.Popen([binary, "serve", "--config", f"{d}/ward.yaml"], stderr=subprocess.DEVNULL)
time.sleep(1.5)
def rss(): return int([l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1]) // 1024
q = bytes.fromhex("123401000001000000000000") + b"\x07blocked\x07example\x00" + b"\x00\x01\x00\x01"
frame = struct.pack(">H", len(q)) + q
before = rss()
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(0.5)
sent, t0, closed, peak = 0, time.time(), False, before
batch = frame * 1000
while sent < 300000 and time.time() - t0 < 30:
    try:
        s.sendall(batch); sent += 1000
    except socket.timeout: pass
    except OSError: closed = True; break
    peak = max(peak, rss())
time.sleep(1); during = rss()
s.close(); time.sleep(2)
print(f"{os.path.basename(binary)}: sent {sent} queries in {time.time()-t0:.1f}s, closed by server: {closed}; RSS {before} MiB before, peak {max(peak,during)} MiB, {rss()} MiB after the client left")
p.terminate(); p.wait()
