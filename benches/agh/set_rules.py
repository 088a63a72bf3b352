#!/usr/bin/env python3
"""external-dns's traffic pattern, measured (issue 17; not run by CI).

A release `ward serve` with the shared corpus (537k rules in five lists) answers dnsperf
at a steady rate from a local upstream while `POST /control/filtering/set_rules` replaces
the user rules with 1,000 and then 10,000 managed `$dnsrewrite` rules, as external-dns's
AdGuard provider writes them. Reports for each: the time the call took (the write is
applied when it answers), the time until dig gets the last record, whether any list was
compiled again, and dnsperf's lost queries over the whole run.

    python3 benches/agh/set_rules.py [--ward target/release/ward] [--rate 2000]
"""

import argparse
import base64
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


def post_rules(url, rules):
    req = urllib.request.Request(url + "/control/filtering/set_rules",
                                 data=json.dumps({"rules": rules}).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", "Basic " + base64.b64encode(b"bench:bench").decode())
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
        assert r.status == 200, r.status
    return time.perf_counter() - started


def dig(port, name):
    out = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "-p", str(port),
                          "@127.0.0.1", name], capture_output=True, text=True)
    return out.stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ward", default=str(REPO / "target/release/ward"))
    ap.add_argument("--rate", type=int, default=2000, help="dnsperf queries a second")
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="ward-bench-set-rules-"))
    dns, admin, up = free_port(), free_port(), upstream()
    lists = sorted(CORPUS.glob("*.txt"))
    (d / "users").write_text("bench:bench\n")
    config = {
        "dns": {"listen": [f"127.0.0.1:{dns}"]},
        "admin": {"listen": f"127.0.0.1:{admin}", "users_file": str(d / "users")},
        "upstreams": {"default": {"servers": [f"127.0.0.1:{up}"]}},
        "lists": [{"id": p.stem, "path": str(p)} for p in lists],
        "list_dirs": [str(CORPUS)],
        "policies": {"main": {"lists": [p.stem for p in lists], "rules": ["||unmanaged.example^"]}},
        "default_policy": "main",
        "data_dir": str(d / "data"),
    }
    (d / "ward.yaml").write_text(json.dumps(config))
    log = open(d / "ward.log", "w+")
    ward = subprocess.Popen([args.ward, "serve", "--config", str(d / "ward.yaml")],
                            stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{admin}"
    for _ in range(600):
        log.seek(0)
        if " ready" in log.read():
            break
        time.sleep(0.1)
    else:
        sys.exit("ward did not become ready")
    (d / "queries").write_text("".join(f"q{i}.bench.example A\n" for i in range(2000)))
    perf = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(dns), "-d", str(d / "queries"),
                             "-l", "30", "-Q", str(args.rate)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(5)
    results = []
    for count in (1000, 10000):
        log.seek(0, os.SEEK_END)
        mark = log.tell()
        rules = ["||unmanaged.example^"] + [
            f"|svc{i}.home.example^$dnsrewrite=NOERROR;A;10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256},important"
            for i in range(count)
        ]
        took = post_rules(url, rules)
        last = f"svc{count - 1}.home.example"
        t0 = time.perf_counter()
        while dig(dns, last).startswith("127.1") or dig(dns, last) == "":
            time.sleep(0.005)
        visible = took + time.perf_counter() - t0
        log.seek(mark)
        compiled = log.read().count("list compiled")
        results.append((count, took, visible, compiled))
        time.sleep(5)
    out, _ = perf.communicate()
    ward.terminate()
    ward.wait(10)
    lost = next((l.strip() for l in out.splitlines() if "Queries lost" in l), "?")
    sent = next((l.strip() for l in out.splitlines() if "Queries sent" in l), "?")
    for count, took, visible, compiled in results:
        print(f"set_rules {count:>6} managed rules: call {took * 1000:7.1f} ms, "
              f"answered {visible * 1000:7.1f} ms, lists compiled again: {compiled}")
    print(f"dnsperf at {args.rate}/s for 30 s: {sent}; {lost}")


if __name__ == "__main__":
    main()
