#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets under fuzz/corpus/<target>/ (not committed).

Seeds are what real inputs look like, so the fuzzer starts from the paths that matter
instead of having to guess a header or a config key: real DNS queries (built here byte
for byte, as dig sends them), the repository's config files, and the admin API's JSON
bodies. Run it from anywhere; it only adds files.
"""

import pathlib
import struct

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"

# DNS types and classes.
A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, OPT, HTTPS, AXFR, ANY = (
    1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 65, 252, 255)
IN, CH = 1, 3


def name(text):
    """A name in wire format, labels as given (bytes allowed)."""
    out = b""
    for label in (text.encode() if isinstance(text, str) else text).split(b"."):
        if label:
            out += bytes([len(label)]) + label
    return out + b"\0"


def opt(payload=1232, version=0, do=False):
    ttl = (version << 16) | (0x8000 if do else 0)
    return b"\0" + struct.pack(">HHIH", OPT, payload, ttl, 0)


def query(qid, questions, rd=True, opcode=0, edns=None, cd=False):
    flags = (opcode << 11) | (0x100 if rd else 0) | (0x10 if cd else 0)
    additional = [edns] if edns is not None else []
    out = struct.pack(">HHHHHH", qid, flags, len(questions), 0, 0, len(additional))
    for qname, qtype, qclass in questions:
        out += name(qname) + struct.pack(">HH", qtype, qclass)
    return out + b"".join(additional)


def dns_seeds():
    e = opt()
    q = lambda n, t=A, c=IN: (n, t, c)  # noqa: E731
    seeds = {
        "a": query(1, [q("example.com")], edns=e),
        "a-plain": query(2, [q("www.example.org")]),
        "aaaa": query(3, [q("example.com", AAAA)], edns=e),
        "any": query(4, [q("example.com", ANY)], edns=e),
        "axfr": query(5, [q("home.example", AXFR)]),
        "txt-local-long": query(6, [q("txt.lan.example", TXT)], edns=opt(512)),
        "txt-rewrite": query(7, [q("rw-txt.example", TXT)]),
        "edns-v1": query(8, [q("example.com")], edns=opt(version=1)),
        "chaos": query(9, [q("version.bind", TXT, CH)]),
        "chaos-blocked": query(10, [q("ads.example", A, CH)]),
        "odd-bytes": query(11, [q(b"a\x00b.ex\xffample.com")], edns=e),
        "two-questions": query(12, [q("example.com"), q("example.net", AAAA)]),
        "blocked": query(13, [q("ads.example")], edns=e),
        "blocked-regex": query(14, [q("trackers.example")]),
        "allowed": query(15, [q("ok.ads.example")]),
        "hosts": query(16, [q("hosted.example")]),
        "hosts-aaaa": query(17, [q("hosted6.example", AAAA)]),
        "rewrite-a": query(18, [q("rw-a.example")]),
        "rewrite-cname": query(19, [q("rw-cname.example")], edns=e),
        "rewrite-to-blocked": query(20, [q("rw-blocked.example")]),
        "rewrite-nx": query(21, [q("rw-nx.example")]),
        "local": query(22, [q("nas.home.example", AAAA)]),
        "wildcard": query(23, [q("x.lan.example")]),
        "cname-chain": query(24, [q("printer.lan.example")], edns=e),
        "cname-away": query(25, [q("away.lan.example")]),
        "forward-zone": query(26, [q("router.home.example")]),
        "private-reverse": query(27, [q("1.1.168.192.in-addr.arpa", PTR)]),
        "private-reverse-none": query(28, [q("7.0.0.10.in-addr.arpa", PTR)]),
        "local-ptr": query(29, [q("5.0.0.10.in-addr.arpa", PTR)]),
        "big-udp": query(30, [q("big.example")]),
        "big-edns": query(31, [q("big2.example")], edns=opt(4096, do=True)),
        "upstream-cname-cloaked": query(32, [q("cname.example")]),
        "upstream-servfail": query(33, [q("fail.example")]),
        "dnstype": query(34, [q("v6only.example", AAAA)]),
        "ctag": query(35, [q("kids-only.example")]),
        "client-name": query(36, [q("by-name.example")]),
        "notify": query(37, [q("example.com", SOA)], opcode=4),
        "cd": query(38, [q("example.com", HTTPS)], edns=e, cd=True),
        "root-ns": query(39, [q(".", NS)]),
        "mx-srv": query(40, [q("_sip._tcp.example.com", SRV)]),
        "header-only": query(41, []),
        "pointer-loop": query(42, [q("example.com")])[:-5] + b"\xc0\x0c" + struct.pack(">HH", A, IN),
    }
    # The first byte: bit 0 UDP, bits 1-3 the client (0 and 1: the default policy, 2:
    # the kids client, 3: rate limited, 4: disallowed, 5: ::1).
    out = {}
    for key, msg in seeds.items():
        out[f"{key}-udp"] = b"\x01" + msg
        out[f"{key}-tcp"] = b"\x00" + msg
    out["kids-udp"] = b"\x05" + seeds["ctag"]
    out["limited-udp"] = b"\x07" + seeds["a"]
    out["disallowed-tcp"] = b"\x08" + seeds["a"]
    out["disallowed-udp"] = b"\x09" + seeds["a"]
    out["v6-udp"] = b"\x0b" + seeds["blocked"]
    return out


def config_seeds():
    out = {}
    for path in [ROOT / "deploy/examples/home.yaml", ROOT / "crates/ward-config/src/default.yaml"]:
        out[path.name] = path.read_bytes()
    out["everything.yaml"] = b"""data_dir: /var/lib/ward
dns:
  listen: ["0.0.0.0:53", "[::]:53"]
  blocking_mode: custom_ip
  blocking_ipv4: 0.0.0.0
  blocking_ipv6: "::"
  upstream_timeout: 2s
  ratelimit: 20
  ratelimit_subnet_len_ipv4: 24
  ratelimit_whitelist: [10.0.0.1/32]
  refuse_any: false
  allowed_clients: [10.0.0.0/8, "fd00::/8"]
  disallowed_clients: [10.0.9.9]
  tcp: { max_connections: 100 }
admin: { listen: "127.0.0.1:8080", read_only: true }
upstreams:
  default: { servers: ["tls://1.1.1.1", "https://dns.example/dns-query", "9.9.9.9:53"], strategy: failover }
forward:
  - { zones: [home.example, 168.192.in-addr.arpa], upstream: default }
records:
  - { name: "*.home.example", type: A, value: 192.168.1.20 }
  - { name: t.home.example, type: TXT, value: "v=spf1 -all" }
lists:
  - { id: ads, url: "https://lists.example/ads.txt", refresh: 12h }
  - { id: local, path: lists/local.txt, enabled: false }
policies:
  default: { lists: [ads], rules: ["||x.example^$dnsrewrite=NOERROR;A;1.2.3.4"] }
  kids: { extends: default, blocking_mode: nxdomain, upstream: default }
clients:
  - { subnet: 10.0.20.0/24, policy: kids, name: tablets, tags: [user_child, device_tablet] }
default_policy: default
cache: { size: 1000, min_ttl: 10, max_ttl: 3600, negative_ttl: 60 }
query_log: { enabled: true, max_age: 7d, max_disk: 100MiB }
"""
    out["flow.json"] = b'{"upstreams": {"default": {"servers": ["1.1.1.1"]}}, "policies": {"p": {}}, "default_policy": "p"}'
    out["anchors.yaml"] = b"base: &b { servers: [1.1.1.1] }\nupstreams: { default: *b, other: { <<: *b } }\npolicies: { p: {} }\ndefault_policy: p\n"
    return out


def admin_seeds():
    # The first byte is the route's index in admin_body.rs's ROUTES.
    bodies = [
        (0, b'{"id": "more", "path": "more.txt"}'),
        (0, b'{"id": "web", "url": "http://127.0.0.1:9/more.txt", "refresh": "6h", "enabled": false}'),
        (1, b'{"id": "ads", "path": "/dev/zero"}'),
        (2, b'{"name": "guests", "extends": "main", "rules": ["||guest.example^"], "blocking_mode": "nxdomain"}'),
        (3, b'{"lists": [], "rules": ["@@||ok.example^", "||a.example^$important"]}'),
        (4, b'{"extends": "kids"}'),
        (5, b'["||one.example^", "/regex[0-9]+/", "0.0.0.0 hosts.example"]'),
        (6, b'{"rule": "||two.example^$dnsrewrite=NOERROR;CNAME;other.example"}'),
        (7, b'[{"subnet": "10.0.30.0/24", "policy": "kids", "name": "tv", "tags": ["device_tv"]}]'),
        (8, b'{"subnet": "192.168.1.7", "policy": "main"}'),
        (9, b'[{"name": "a.home.example", "type": "A", "value": "10.0.0.7", "ttl": 30}]'),
        (10, b'{"name": "b.home.example", "type": "TXT", "value": "hello"}'),
        (10, b'{"name": "c.home.example", "type": "CNAME", "value": "nas.home.example"}'),
        (11, b'{"name": "quad9", "servers": ["9.9.9.9", "tls://9.9.9.9"], "strategy": "failover"}'),
        (12, b'{"servers": ["127.0.0.1:5300"]}'),
        (13, (ROOT / "deploy/examples/home.yaml").read_bytes()),
        (14, b'{"upstreams": {"default": {"servers": ["1.1.1.1"]}}, "policies": {"p": {}}, "default_policy": "p"}'),
    ]
    return {f"route{i:02}-{n}": bytes([i]) + body for n, (i, body) in enumerate(bodies)}


def rule_lines_seeds():
    # List lines, a 0x00, then queries (first byte: type and client); see rule_lines.rs.
    return {
        "handmade": b"||ads.example^$important\n@@||ok.ads.example^\n/^tr[a-z]+\\./\n"
        b"||x^$dnsrewrite=NOERROR;A;1.2.3.4\n||y^$client=10.0.0.0/8,dnstype=AAAA\n"
        b"\0\001www.ads.example\n\002ok.ads.example\n",
    }


def main():
    for target, seeds in [
        ("rule_lines", rule_lines_seeds()),
        ("dns_request", dns_seeds()),
        ("config", config_seeds()),
        ("admin_body", admin_seeds()),
    ]:
        d = CORPUS / target
        d.mkdir(parents=True, exist_ok=True)
        for key, data in seeds.items():
            (d / f"seed-{key}").write_bytes(data)
        print(f"{d}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
