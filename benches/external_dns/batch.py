#!/usr/bin/env python3
"""external-dns's webhook, measured (issue 18; not run by CI).

A release primary (the shared corpus, 537k rule lines in five lists, when it is there)
with external-dns's webhook and two replicas (pulling every 30 s, so what they serve
sooner was pushed) answer dnsperf at a steady rate on a replica while one `POST /records`
creates 1,000 A records, as external-dns sends a batch. Reports the call's time, the time
until each node answers the last record, whether a list was compiled again, and
dnsperf's lost queries.

    python3 benches/external_dns/batch.py [--ward target/release/ward] [--rate 2000]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
sys.path.insert(0, str(REPO / "benches"))
from local_dns import free_port, upstream  # noqa: E402
MEDIA = "application/external.dns.webhook+json;version=1"


def dig(ip, port, name):
    out = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "-p", str(port), f"@{ip}", name],
                         capture_output=True, text=True)
    return out.stdout.strip()


def start(binary, config, log_path):
    log = open(log_path, "w+")
    proc = subprocess.Popen([binary, "serve", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(1200):
        log.seek(0)
        if " ready" in log.read():
            return proc, log
        time.sleep(0.1)
    sys.exit(f"ward did not become ready: {log_path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ward", default=str(REPO / "target/release/ward"))
    ap.add_argument("--rate", type=int, default=2000, help="dnsperf queries a second")
    ap.add_argument("--count", type=int, default=1000, help="records in the batch")
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="ward-bench-external-dns-"))
    (d / "sync-token").write_text("bench-sync-token\n")
    up = upstream()
    ips = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    dns = {ip: free_port(ip) for ip in ips}
    admin = {ip: free_port(ip) for ip in ips}
    hook = free_port()
    lists = sorted(CORPUS.glob("*.txt"))
    filtering = {
        "upstreams": {"default": {"servers": [f"127.0.0.1:{up}"]}},
        "records": [{"name": "*.home.example", "type": "A", "value": "192.168.1.20"}],
        "lists": [{"id": p.stem, "path": str(p)} for p in lists],
        "policies": {"main": {"lists": [p.stem for p in lists]}},
        "default_policy": "main",
    }
    if lists:
        filtering["list_dirs"] = [str(CORPUS)]
    procs = []
    for ip in ips:
        sync = ({"role": "primary", "replicas": [f"http://{r}:{admin[r]}" for r in ips[1:]],
                 "token_file": str(d / "sync-token")} if ip == ips[0] else
                {"role": "replica", "primary": f"http://127.0.0.1:{admin[ips[0]]}",
                 "token_file": str(d / "sync-token"), "interval": "30s"})
        config = dict(filtering, dns={"listen": [f"{ip}:{dns[ip]}"]},
                      admin={"listen": f"{ip}:{admin[ip]}", "write_to": "data_dir"},
                      data_dir=str(d / f"data-{ip}"), sync=sync)
        if ip == ips[0]:
            config["external_dns"] = {"listen": f"127.0.0.1:{hook}", "domains": ["home.example"]}
        (d / f"{ip}.yaml").write_text(json.dumps(config))
        procs.append(start(args.ward, d / f"{ip}.yaml", d / f"{ip}.log"))
    # The replicas serve the primary's lists (their first pull) before the clock starts.
    for ip in ips[1:]:
        for _ in range(600):
            if dig(ip, dns[ip], "zzz.home.example") == "192.168.1.20":
                break
            time.sleep(0.1)
    (d / "queries").write_text("".join(f"q{i}.bench.example A\n" for i in range(2000)))
    perf = subprocess.Popen(["dnsperf", "-s", ips[1], "-p", str(dns[ips[1]]), "-d", str(d / "queries"),
                             "-l", "20", "-Q", str(args.rate)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(5)
    marks = [log.seek(0, os.SEEK_END) for _, log in procs]
    batch = {"create": [{"dnsName": f"svc-{i}.home.example", "recordType": "A",
                         "targets": [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"]}
                        for i in range(args.count)]}
    req = urllib.request.Request(f"http://127.0.0.1:{hook}/records",
                                 data=json.dumps(batch).encode(), method="POST")
    req.add_header("Content-Type", MEDIA)
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 204, r.status
    took = time.perf_counter() - started
    last = f"svc-{args.count - 1}.home.example"
    visible = {}
    pending = set(ips)
    while pending:
        for ip in list(pending):
            if dig(ip, dns[ip], last).startswith("10."):
                visible[ip] = time.perf_counter() - started
                pending.discard(ip)
        if time.perf_counter() - started > 60:
            sys.exit(f"not answered within 60 s on {sorted(pending)}")
    out, _ = perf.communicate()
    compiled = []
    for (proc, log), mark in zip(procs, marks):
        log.seek(mark)
        compiled.append(log.read().count("list compiled"))
        proc.terminate()
        proc.wait(10)
    lost = next((l.strip() for l in out.splitlines() if "Queries lost" in l), "?")
    sent = next((l.strip() for l in out.splitlines() if "Queries sent" in l), "?")
    print(f"corpus lists: {len(lists)}; batch of {args.count} creates: call {took * 1000:.1f} ms")
    for ip in ips:
        role = "primary" if ip == ips[0] else "replica"
        print(f"  {role} {ip}: answers the last record {visible[ip] * 1000:.1f} ms after the call began")
    print(f"lists compiled again (primary, replicas): {compiled}")
    print(f"dnsperf on a replica at {args.rate}/s for 20 s: {sent}; {lost}")


if __name__ == "__main__":
    main()
