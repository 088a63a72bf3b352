#!/usr/bin/env python3
"""Ward against the benchmark targets of issue 3, from one run of the shared harness.

    python3 benches/dnsperf/targets.py RUN_DIR      # RUN_DIR = OUT/runs/<date> (has results.jsonl)

Reads RUN_DIR/results.jsonl (every dnsperf run and server record) and RUN_DIR/logs/<label>.log
(Ward's own "ready elapsed_ms=..." line) and prints a markdown table: each target, its
limit, the value of every Ward variant in the run, the peers' values where the target
has one, and whether Ward meets it. With ROUNDS > 1 each value is the median over rounds.
Stdlib only.
"""
import json
import os
import re
import statistics
import sys

SETS = ("blocked-exact", "blocked-sub", "allowed", "allowed-miss")
PEERS = ("null_ref", "unbound", "dnsmasq_address", "dnsmasq_hosts", "kresd_rpz", "named_rpz")
US_LIMIT = {"blocked-exact": 5.8, "blocked-sub": 5.8, "allowed": 5.8, "allowed-miss": 20.0}
P99_LIMIT_MS = 0.3
READY_LIMIT_S = 0.5
RSS_LIMIT_BYTES = 64 * 1000 * 1000          # "64 MB"; 61.0 MiB
TARGET_QPS = 10000
# unbound in the baseline run the limits come from (issue 3)
UNBOUND_BASELINE_US = {"blocked-exact": 5.8, "blocked-sub": 5.8, "allowed": 6.9, "allowed-miss": 32.0}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def main(run_dir):
    rows = [json.loads(l) for l in open(os.path.join(run_dir, "results.jsonl")) if l.strip()]
    perf = [r for r in rows if r.get("type") is None and "set" in r]
    servers = [r for r in rows if r.get("type") == "server"]
    labels = []
    for r in servers:
        if r["label"] not in labels:
            labels.append(r["label"])
    wards = [l for l in labels if l.startswith("ward")]
    peers = [l for l in PEERS if l in labels]
    if not wards:
        sys.exit("no Ward run in %s" % run_dir)

    def runs(label, st, mode, kind):
        return [r for r in perf if r["label"] == label and r["set"] == st and r["mode"] == mode
                and r["kind"] == kind]

    def us_per_q(label, st):
        return median([r["cpu"]["server"] / 100.0 / r["qps"] * 1e6
                       for r in runs(label, st, "pinned", "throughput") if r.get("qps")])

    def lat(label, st, key):
        return median([r.get(key) for r in runs(label, st, "pinned", "latency")])

    def lost(label, kind):
        rs = [r for r in perf if r["label"] == label and r["kind"] == kind]
        if not rs:
            return None
        return (int(sum(r.get("sent", 0) - r.get("completed", 0) for r in rs)),
                int(sum(r.get("sent", 0) for r in rs)))

    def server(label, key):
        return median([r.get(key) for r in servers if r["label"] == label and r.get("ok")])

    def ready_s(label):
        path = os.path.join(run_dir, "logs", label + ".log")
        if not os.path.exists(path):
            return None
        for line in open(path, errors="replace"):
            line = ANSI.sub("", line)
            m = re.search(r"\bready\b.*elapsed_ms=(\d+)", line)
            if m:
                return int(m.group(1)) / 1000.0
        return None

    def cell(v, fmt):
        return "—" if v is None else fmt % v

    def verdict(vals, ok, names=None):
        names = names or wards
        got = [(n, v) for n, v in zip(names, vals) if v is not None]
        if not got:
            return "not measured"
        met = [n for n, v in got if ok(v)]
        if len(met) == len(got):
            return "**met**"
        if not met:
            return "**missed**"
        return "met by %s; **missed** by %s" % (", ".join(met), ", ".join(n for n, _ in got if n not in met))

    head = "| target | limit | " + " | ".join(wards) + " | " + " | ".join(peers) + " | Ward |"
    out = [head, "|---|---:|" + "---:|" * (len(wards) + len(peers)) + "---|"]

    def row(name, limit, wvals, pvals, ok, fmt):
        out.append("| %s | %s | %s | %s | %s |" % (
            name, limit, " | ".join(cell(v, fmt) for v in wvals),
            " | ".join(cell(v, fmt) for v in pvals), verdict(wvals, ok)))

    for st in SETS:
        lim = US_LIMIT[st]
        row("server CPU µs/q, %s (pinned, saturating)" % st, "≤ %.1f" % lim,
            [us_per_q(w, st) for w in wards], [us_per_q(p, st) for p in peers],
            lambda v, lim=lim: v <= lim, "%.1f")
    for st in SETS:
        p99 = [lat(w, st, "p99_ms") for w in wards]
        qps = [lat(w, st, "qps") for w in wards]
        # a p99 measured below 10k qps (half the saturation rate) does not test the target
        note = ["%.3f%s" % (v, "" if q is None or q >= 0.95 * TARGET_QPS else " (at %.0f qps)" % q)
                if v is not None else None for v, q in zip(p99, qps)]
        out.append("| p99 latency, %s, at 10k qps | < %.1f ms | %s | %s | %s |" % (
            st, P99_LIMIT_MS, " | ".join(n or "—" for n in note),
            " | ".join(cell(lat(p, st, "p99_ms"), "%.3f") for p in peers),
            verdict(p99, lambda v: v < P99_LIMIT_MS)))
    for kind, name in (("latency", "lost queries, fixed-rate runs (ward_soak: 60 s per set)"),
                       ("throughput", "lost queries, saturating runs")):
        wl = [lost(w, kind) for w in wards]
        pl = [lost(p, kind) for p in peers]
        fmt = lambda t: "—" if t is None else "%d of %s" % (t[0], "{:,}".format(t[1]))
        vals = [t[0] for t in wl if t is not None]
        out.append("| %s | 0 | %s | %s | %s |" % (
            name, " | ".join(fmt(t) for t in wl), " | ".join(fmt(t) for t in pl),
            verdict([t and t[0] for t in wl], lambda v: v == 0) if kind == "latency" else "(no target)"))
    row("start → ready (Ward's log line)", "< %.1f s" % READY_LIMIT_S,
        [ready_s(w) for w in wards], [None for _ in peers], lambda v: v < READY_LIMIT_S, "%.3f s")
    row("start → first blocked answer (harness probe)", "< %.1f s" % READY_LIMIT_S,
        [server(w, "load_s") for w in wards], [server(p, "load_s") for p in peers],
        lambda v: v < READY_LIMIT_S, "%.2f s")
    rules = server(wards[0], "rules")
    mib = lambda label, key: (lambda v: None if v is None else v / 1024.0)(server(label, key))
    row("RSS after load (%s names)" % ("{:,}".format(int(rules)) if rules else "?"), "< 64 MB (61.0 MiB)",
        [mib(w, "rss_load_kib") for w in wards], [mib(p, "rss_load_kib") for p in peers],
        lambda v: v * 1024 * 1024 < RSS_LIMIT_BYTES, "%.1f MiB")
    out.append("| RSS after all runs (cache full) | (no target) | %s | %s | |" % (
        " | ".join(cell(mib(w, "rss_end_kib"), "%.1f MiB") for w in wards),
        " | ".join(cell(mib(p, "rss_end_kib"), "%.1f MiB") for p in peers)))
    thr = [server(w, "threads") for w in wards]
    out.append("")
    out.append("Threads after load: " + ", ".join("%s %s" % (w, "?" if t is None else int(t)) for w, t in zip(wards, thr))
               + ". µs/q = server CPU per answered query in the pinned saturating run (server on one core, "
               "dnsperf on the other); RSS = VmRSS.")
    # The µs/q limits are absolute numbers from the baseline run, where unbound needed 5.8
    # (blocked), 6.9 (cached) and 32 (forwarded) µs/q. Another CPU or host gives other
    # absolute numbers, so also compare Ward with unbound in this same run: the limits say
    # "blocked no dearer than unbound's blocked, cached at most 0.84x, forwarded 0.63x".
    if "unbound" in labels:
        sat = [w for w in wards if any(us_per_q(w, st) is not None for st in SETS)]
        out.append("")
        out.append("The same limits relative to unbound in this run (machine-independent form: limit ÷ unbound's "
                   "µs/q in the baseline run):")
        out.append("")
        out.append("| query set | unbound here (baseline) | limit ÷ unbound | " +
                   " | ".join("%s ÷ unbound" % w for w in sat) + " | Ward (relative) |")
        out.append("|---|---:|---:|" + "---:|" * len(sat) + "---|")
        for st in SETS:
            ub = us_per_q("unbound", st)
            rel = US_LIMIT[st] / UNBOUND_BASELINE_US[st]
            vals = [None if (ub is None or us_per_q(w, st) is None) else us_per_q(w, st) / ub for w in sat]
            out.append("| %s | %s (%.1f) | %.2f | %s | %s |" % (
                st, cell(ub, "%.1f"), UNBOUND_BASELINE_US[st], rel, " | ".join(cell(v, "%.2f") for v in vals),
                verdict(vals, lambda v, rel=rel: v <= rel, sat)))
    if "null_ref" in labels:
        worst = max([v for v in (lat("null_ref", st, "p99_ms") for st in SETS) if v is not None] or [0])
        if worst >= P99_LIMIT_MS:
            out.append("")
            out.append("p99 caveat: the null responder (no lookup at all) itself has a p99 of up to %.3f ms at 10k qps "
                       "in this run, so the load generator and the VM, not the server, set the tail here; a p99 under "
                       "%.1f ms cannot be shown on this machine today. Compare p50 and the peers." % (worst, P99_LIMIT_MS))
    if rules and rules < 500000:
        out.append("")
        out.append("Note: this run used %s names, not the 600k corpus the targets are set for." % "{:,}".format(int(rules)))
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
