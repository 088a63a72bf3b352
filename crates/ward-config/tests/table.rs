//! Table tests: configs that must validate, and configs that must not, each with the path
//! and line of every error it must report.

use ward_config::{Config, ErrorKind, SyncRole};

/// Lines joined with newlines, so that a row's line numbers are its index + 1.
fn doc(lines: &[&str]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// The smallest valid config, lines 1 to 5, ending inside `policies` so that a row can add
/// policies as well as sections.
const BASE: &[&str] = &[
    "upstreams:",
    "  default: { servers: [\"9.9.9.9\"] }",
    "default_policy: main",
    "policies:",
    "  main: {}",
];

/// BASE, then `more` from line 6 on.
fn base_and(more: &[&str]) -> String {
    let mut lines = BASE.to_vec();
    lines.extend_from_slice(more);
    doc(&lines)
}

#[test]
fn valid_configs() {
    let rows: &[(&str, String)] = &[
        ("base", base_and(&[])),
        (
            "parental control: safe search, services and categories, schedules, a zone",
            base_and(&[
                "  kids:",
                "    extends: main",
                "    safe_search: true",
                "    blocked_services: [tiktok, games]",
                "    schedules:",
                "      - { name: homework, days: weekdays, from: \"16:00\", to: \"19:00\", allow_services: [games] }",
                "      - { days: [sat, sun], from: \"21:00\", to: \"07:00\", block_all: true, time_zone: America/New_York }",
                "      - { days: all, from: \"00:00\", to: \"24:00\", block_lists: [adult], pause_lists: [ads] }",
                "  teens: { safe_search: { google: true, youtube: moderate, bing: false }, blocked_services: [social] }",
                "  none: { safe_search: false }",
                "lists:",
                "  - { id: ads, url: \"https://lists.example/ads.txt\" }",
                "  - { id: adult, catalogue: hagezi-nsfw }",
                "time_zone: Europe/Berlin",
            ]),
        ),
        (
            "empty sections",
            base_and(&["clients:", "lists:", "records:", "forward:"]),
        ),
        (
            "ipv6 and single-address subnets",
            base_and(&[
                "clients:",
                "  - { subnet: \"fd00:20::/64\", policy: main }",
                "  - { subnet: 192.168.1.50, policy: main }",
                "  - { subnet: \"::/0\", policy: main }",
                "  - { subnet: 0.0.0.0/0, policy: main }",
            ]),
        ),
        (
            "every record type, wildcard, lowercase type",
            base_and(&[
                "records:",
                "  - { name: \"*.home.example.com\", type: A, value: 192.168.1.20 }",
                "  - { name: a.home.example.com, type: aaaa, value: \"fd00::1\", ttl: 60 }",
                "  - { name: b.home.example.com, type: CNAME, value: a.home.example.com. }",
                "  - { name: _acme-challenge.home.example.com, type: TXT, value: \"x y z\" }",
                "  - { name: 20.1.168.192.in-addr.arpa, type: PTR, value: a.home.example.com }",
                "  - { name: Bücher.example, type: A, value: 10.0.0.1 }",
            ]),
        ),
        (
            "custom_ip with both addresses",
            base_and(&[
                "dns:",
                "  blocking_mode: custom_ip",
                "  blocking_ipv4: 192.168.1.2",
                "  blocking_ipv6: \"fd00::2\"",
            ]),
        ),
        (
            "extends chain and inherited upstream",
            doc(&[
                "upstreams:",
                "  cf: { servers: [\"tls://1.1.1.1\"], strategy: failover }",
                "policies:",
                "  a: { upstream: cf }",
                "  b: { extends: a }",
                "  c: { extends: b, blocking_mode: refused }",
                "default_policy: c",
            ]),
        ),
        (
            "lists: path, url, refresh as text or seconds, disabled",
            base_and(&[
                "lists:",
                "  - { id: a, path: /x/a.txt }",
                "  - { id: b, url: \"https://example.com/b.txt\", refresh: 12h }",
                "  - { id: c, url: \"http://example.com/c.txt\", refresh: 3600, enabled: false }",
            ]),
        ),
        (
            "every upstream form",
            doc(&[
                "upstreams:",
                "  default:",
                "    servers:",
                "      - 8.8.8.8",
                "      - \"8.8.4.4:5353\"",
                "      - udp://1.1.1.2",
                "      - \"[2001:db8::1]:53\"",
                "      - tcp://1.1.1.1",
                "      - tls://1.0.0.1",
                "      - tls://dns.quad9.net",
                "      - tls://dns.google:853",
                "      - https://dns.quad9.net/dns-query",
                "    strategy: round_robin",
                "policies: { main: }",
                "default_policy: main",
            ]),
        ),
        (
            "forward zones, uppercase and trailing dot",
            base_and(&[
                "forward:",
                "  - { zones: [Home.Example.COM., 168.192.in-addr.arpa], upstream: default }",
            ]),
        ),
        (
            "port 0 (a free port, as tests use) never collides",
            base_and(&[
                "dns: { listen: [\"127.0.0.1:0\", \"127.0.0.1:0\"] }",
                "admin: { listen: \"127.0.0.1:0\" }",
            ]),
        ),
        (
            "data_dir and cache",
            base_and(&[
                "data_dir: /srv/ward",
                "cache: { size: 0, min_ttl: 60, max_ttl: 60, negative_ttl: 0 }",
            ]),
        ),
        (
            "admin auth from files, read-only",
            base_and(&[
                "admin:",
                "  listen: \"0.0.0.0:8080\"",
                "  token_file: /run/secrets/ward/admin-token",
                "  users_file: /run/secrets/ward/users",
                "  read_only: true",
            ]),
        ),
        (
            "sync: a primary with replicas, IPv6 and trailing slash",
            base_and(&[
                "sync:",
                "  role: primary",
                "  replicas: [\"http://ward-replicas.dns.svc:8080\", \"https://[fd00::7]:8443/\"]",
                "  token_file: /run/secrets/ward/sync-token",
            ]),
        ),
        (
            "sync: a primary without replicas (they pull), interval unused but allowed",
            base_and(&["sync: { role: primary, token_file: /t, interval: 5m }"]),
        ),
        (
            "sync: a replica, interval in seconds",
            base_and(&[
                "sync:",
                "  role: replica",
                "  primary: http://ward-primary.dns.svc:8080",
                "  token_file: /run/secrets/ward/sync-token",
                "  interval: 1",
            ]),
        ),
        (
            "sync: standalone, written out or empty",
            base_and(&["sync: { role: standalone, interval: 1m }"]),
        ),
        ("sync: empty section", base_and(&["sync:"])),
    ];
    for (name, text) in rows {
        if let Err(e) = Config::from_yaml(text) {
            panic!("row {name:?} should be valid:\n{e}\n--- config:\n{text}");
        }
    }
}

/// (row name, config, [(path, line, text the message must contain)]): exactly these errors.
type InvalidRow = (
    &'static str,
    String,
    Vec<(&'static str, usize, &'static str)>,
);

#[test]
fn invalid_configs() {
    let rows: Vec<InvalidRow> = vec![
        (
            "unknown top-level field",
            base_and(&["blocklists: []"]),
            vec![("blocklists", 6, "unknown field `blocklists`")],
        ),
        (
            "unknown nested field, and a bad value in the same section",
            base_and(&[
                "dns:",
                "  listen: [\"127.0.0.1:53\", nope]",
                "  blocking: nxdomain",
            ]),
            vec![
                (
                    "dns.listen[1]",
                    7,
                    "invalid socket address syntax: \"nope\"",
                ),
                ("dns.blocking", 8, "unknown field `blocking`"),
            ],
        ),
        (
            "wrong type",
            base_and(&["dns:", "  blocked_ttl: ten"]),
            vec![("dns.blocked_ttl", 7, "invalid type: string \"ten\"")],
        ),
        (
            "unknown enum value",
            base_and(&["dns: { blocking_mode: sinkhole }"]),
            vec![("dns.blocking_mode", 6, "unknown variant `sinkhole`")],
        ),
        (
            "YAML syntax",
            doc(&["policies:", "  main: {", "default_policy: main"]),
            vec![("", 3, "YAML syntax error")],
        ),
        (
            "not a mapping",
            doc(&["- main"]),
            vec![("", 1, "a config is a mapping")],
        ),
        (
            "parental control mistakes",
            base_and(&[
                "  kids:",
                "    safe_search: { gogle: true, bing: moderate }",
                "    blocked_services: [tiktk, social]",
                "    schedules:",
                "      - { days: weekdays, from: \"16:00\", to: \"19:00\" }",
                "      - { days: all, from: \"16:00\", to: \"19:00\", block_lists: [adlt], allow_services: [gmes] }",
                "  a: { schedules: [{ days: funday, from: \"16:00\", to: \"19:00\", block_all: true }] }",
                "  b: { schedules: [{ days: all, from: \"4pm\", to: \"19:00\", block_all: true }] }",
                "  c: { schedules: [{ days: all, from: \"16:00\", to: \"19:00\", time_zone: Mars/Olympus, block_all: true }] }",
                "time_zone: Moon/Base",
            ]),
            vec![
                (
                    "policies.kids.safe_search.gogle",
                    7,
                    "unknown safe-search provider \"gogle\"; did you mean \"google\"?",
                ),
                (
                    "policies.kids.safe_search.bing",
                    7,
                    "bing has no moderate level",
                ),
                (
                    "policies.kids.blocked_services[0]",
                    8,
                    "unknown service or category \"tiktk\"; did you mean \"tiktok\"?",
                ),
                (
                    "policies.kids.schedules[0]",
                    10,
                    "a schedule changes nothing",
                ),
                (
                    "policies.kids.schedules[1].block_lists[0]",
                    11,
                    "unknown list \"adlt\"",
                ),
                (
                    "policies.kids.schedules[1].allow_services[0]",
                    11,
                    "unknown service or category \"gmes\"; did you mean \"games\"?",
                ),
                (
                    "policies.a.schedules[0].days",
                    12,
                    "\"funday\": expected mon",
                ),
                ("policies.b.schedules[0].from", 13, "expected a time of day"),
                (
                    "policies.c.schedules[0].time_zone",
                    14,
                    "not an IANA time zone",
                ),
                ("time_zone", 15, "not an IANA time zone"),
            ],
        ),
        (
            "more than 32 schedules with the inherited ones",
            base_and(&[
                "  evenings:",
                "    schedules:",
                &"      - { days: all, from: \"20:00\", to: \"21:00\", block_all: true }\n"
                    .repeat(20),
                "  kids:",
                "    extends: evenings",
                "    schedules:",
                &"      - { days: all, from: \"07:00\", to: \"08:00\", block_all: true }\n"
                    .repeat(13),
            ]),
            vec![(
                "policies.kids.schedules",
                31,
                "33 schedules with the inherited ones; a policy has at most 32",
            )],
        ),
        (
            "extends an unknown policy",
            base_and(&["  kids:", "    extends: mian"]),
            vec![(
                "policies.kids.extends",
                7,
                "unknown policy \"mian\"; did you mean \"main\"?",
            )],
        ),
        (
            "extends cycle",
            doc(&[
                "upstreams: { default: { servers: [9.9.9.9] } }",
                "policies:",
                "  a: { extends: c }",
                "  b: { extends: a }",
                "  c: { extends: b }",
                "default_policy: a",
            ]),
            vec![(
                "policies.a.extends",
                3,
                "policy inheritance cycle: a -> c -> b -> a",
            )],
        ),
        (
            "extends itself",
            base_and(&["  self: { extends: self }"]),
            vec![("policies.self.extends", 6, "cycle: self -> self")],
        ),
        (
            "unknown list",
            base_and(&[
                "  kids: { lists: [ads, adult] }",
                "lists:",
                "  - { id: ads, path: /ads.txt }",
            ]),
            vec![("policies.kids.lists[1]", 6, "unknown list \"adult\"")],
        ),
        (
            "unknown upstream group in a policy and in a forward rule",
            base_and(&[
                "  kids: { upstream: cloudflare }",
                "forward:",
                "  - zones: [home.example.com]",
                "    upstream: router",
            ]),
            vec![
                (
                    "policies.kids.upstream",
                    6,
                    "unknown upstream group \"cloudflare\"",
                ),
                (
                    "forward[0].upstream",
                    9,
                    "unknown upstream group \"router\"",
                ),
            ],
        ),
        (
            "unknown policy in a client rule and as the default",
            doc(&[
                "upstreams: { default: { servers: [9.9.9.9] } }",
                "policies: { main: {} }",
                "clients:",
                "  - { subnet: 10.0.0.0/8, policy: main }",
                "  - subnet: 10.1.0.0/16",
                "    policy: kdis",
                "default_policy: mains",
            ]),
            vec![
                ("clients[1].policy", 6, "unknown policy \"kdis\""),
                (
                    "default_policy",
                    7,
                    "unknown policy \"mains\"; did you mean \"main\"?",
                ),
            ],
        ),
        (
            "missing default_policy",
            doc(&[
                "upstreams: { default: { servers: [9.9.9.9] } }",
                "policies: { main: {} }",
            ]),
            vec![("default_policy", 1, "missing field `default_policy`")],
        ),
        (
            "missing field in an entry",
            base_and(&["clients:", "  - { subnet: 10.0.0.0/8 }"]),
            vec![("clients[0].policy", 7, "missing field `policy`")],
        ),
        (
            "duplicate list ids, both and neither of path and url",
            base_and(&[
                "lists:",
                "  - { id: ads, path: /a.txt }",
                "  - { id: ads, url: \"https://x.example/\" }",
                "  - { id: both, path: /b.txt, url: \"https://x.example/\" }",
                "  - { id: neither }",
            ]),
            vec![
                (
                    "lists[1].id",
                    8,
                    "duplicate list id \"ads\", first given at lists[0]",
                ),
                (
                    "lists[2]",
                    9,
                    "exactly one of `path`, `url` and `catalogue`",
                ),
                (
                    "lists[3]",
                    10,
                    "exactly one of `path`, `url` and `catalogue`",
                ),
            ],
        ),
        (
            "list url, refresh, id",
            base_and(&[
                "lists:",
                "  - { id: a, url: \"ftp://x.example/a\" }",
                "  - { id: b, url: \"https://x.example/b\", refresh: 10s }",
                "  - { id: c, url: \"https://x.example/c\", refresh: daily }",
                "  - { id: \"d e\", path: /d }",
            ]),
            vec![
                ("lists[0].url", 7, "must start with https:// or http://"),
                ("lists[1].refresh", 8, "shorter than the minimum"),
                ("lists[2].refresh", 9, "invalid duration \"daily\""),
                ("lists[3].id", 10, "invalid name \"d e\""),
            ],
        ),
        (
            "subnets: syntax, host bits, duplicate",
            base_and(&[
                "clients:",
                "  - { subnet: 192.168.1.0/24, policy: main }",
                "  - { subnet: 192.168.1.0/33, policy: main }",
                "  - { subnet: 192.168.20.7/24, policy: main }",
                "  - { subnet: 192.168.1.0/24, policy: main }",
                "  - { subnet: \"fd00:20::1/64\", policy: main }",
                "  - { subnet: lan, policy: main }",
            ]),
            vec![
                ("clients[1].subnet", 8, "192.168.1.0/33"),
                ("clients[2].subnet", 9, "did you mean 192.168.20.0/24?"),
                (
                    "clients[3].subnet",
                    10,
                    "duplicate subnet \"192.168.1.0/24\"",
                ),
                ("clients[4].subnet", 11, "did you mean fd00:20::/64?"),
                ("clients[5].subnet", 12, "lan"),
            ],
        ),
        (
            "ClientIDs: a rule needs a subnet or one, each a label, once",
            base_and(&[
                "clients:",
                "  - { client_ids: [kids-phone], policy: main }",
                "  - { policy: main }",
                "  - { client_ids: [Kids-Phone], subnet: 10.0.0.0/8, policy: main }",
                "  - { client_ids: [kids_tablet, -x], policy: main }",
            ]),
            vec![
                ("clients[1]", 8, "needs a subnet, client_ids, or both"),
                (
                    "clients[2].client_ids[0]",
                    9,
                    "duplicate ClientID \"kids-phone\"",
                ),
                ("clients[3].client_ids[0]", 10, "'_' is not allowed"),
                ("clients[3].client_ids[1]", 10, "starts or ends with '-'"),
            ],
        ),
        (
            "dns.tls: a certificate for the listeners, ports of their own",
            base_and(&[
                "dns:",
                "  listen: [\"127.0.0.1:53\"]",
                "  tls:",
                "    key_file: /tls/tls.key",
                "    server_name: \"dns..example\"",
                "    dot: [\"127.0.0.1:53\"]",
                "    doh: [\"127.0.0.1:443\", \"127.0.0.1:443\"]",
            ]),
            vec![
                ("dns.tls.cert_file", 8, "need a certificate"),
                ("dns.tls.server_name", 10, "empty label"),
                (
                    "dns.tls.dot[0]",
                    11,
                    "duplicate listen address \"127.0.0.1:53\"",
                ),
                (
                    "dns.tls.doh[1]",
                    12,
                    "duplicate listen address \"127.0.0.1:443\"",
                ),
            ],
        ),
        (
            "listen addresses",
            base_and(&[
                "dns:",
                "  listen:",
                "    - \"127.0.0.1:53\"",
                "    - \"127.0.0.1:53\"",
                "admin:",
                "  listen: \"127.0.0.1:53\"",
            ]),
            vec![
                ("dns.listen[1]", 9, "duplicate listen address"),
                (
                    "admin.listen",
                    11,
                    "duplicate listen address \"127.0.0.1:53\"",
                ),
            ],
        ),
        (
            "the webhook's listen address, and port 0 twice",
            base_and(&[
                "dns:",
                "  listen: [\"127.0.0.1:0\"]",
                "  tls: { cert_file: /c, key_file: /k, dot: [\"127.0.0.1:0\"] }",
                "admin: { listen: \"127.0.0.1:8080\" }",
                "external_dns: { listen: \"127.0.0.1:8080\" }",
            ]),
            vec![(
                "external_dns.listen",
                10,
                "duplicate listen address \"127.0.0.1:8080\"",
            )],
        ),
        (
            "no listen address, admin port missing",
            base_and(&["dns: { listen: [] }", "admin: { listen: 127.0.0.1 }"]),
            vec![
                ("dns.listen", 6, "dns.listen must not be empty"),
                ("admin.listen", 7, "invalid socket address syntax"),
            ],
        ),
        (
            "record values per type, record names",
            base_and(&[
                "records:",
                "  - { name: a.example, type: A, value: \"fd00::1\" }",
                "  - { name: a.example, type: AAAA, value: 10.0.0.1 }",
                "  - { name: c.example, type: CNAME, value: \"not a name\" }",
                "  - { name: p.example, type: PTR, value: \"x..y\" }",
                "  - { name: a.*.example, type: A, value: 10.0.0.1 }",
                "  - { name: m.example, type: HINFO, value: mail.example }",
                "  - { name: t.example, type: TXT, value: 42 }",
                "  - { name: m.example, type: MX, value: mail.example }",
                "  - { name: _s._tcp.example, type: SRV, value: \"10 5 sip.example\" }",
            ]),
            vec![
                ("records[0].value", 7, "an A record needs an IPv4 address"),
                ("records[1].value", 8, "this is IPv4 (use type A)"),
                ("records[2].value", 9, "CNAME record value \"not a name\""),
                ("records[3].value", 10, "empty label"),
                (
                    "records[4].name",
                    11,
                    "only allowed as the whole first label",
                ),
                ("records[5].type", 12, "unknown variant `HINFO`"),
                ("records[6].value", 13, "invalid type: integer `42`"),
                ("records[7].value", 14, "an MX record is `preference host`"),
                (
                    "records[8].value",
                    15,
                    "an SRV record is `priority weight port target`",
                ),
            ],
        ),
        (
            "CNAME beside another record",
            base_and(&[
                "records:",
                "  - { name: x.example, type: A, value: 10.0.0.1 }",
                "  - { name: x.example, type: CNAME, value: y.example }",
            ]),
            vec![("records[1].name", 8, "a CNAME must be alone")],
        ),
        (
            "zones: invalid and duplicate",
            base_and(&[
                "forward:",
                "  - { zones: [home.example.com, \"bad zone\"], upstream: default }",
                "  - { zones: [HOME.example.com.], upstream: default }",
                "  - { zones: [], upstream: default }",
            ]),
            vec![
                ("forward[0].zones[1]", 7, "invalid name \"bad zone\""),
                (
                    "forward[1].zones[0]",
                    8,
                    "duplicate forward zone \"home.example.com\", first given at forward[0].zones[0]",
                ),
                ("forward[2].zones", 9, "zones must not be empty"),
            ],
        ),
        (
            "custom_ip without addresses, globally and in a policy",
            base_and(&[
                "  kids: { blocking_mode: custom_ip }",
                "dns:",
                "  blocking_mode: custom_ip",
                "  blocking_ipv4: 10.0.0.1",
            ]),
            // Reported once, where the mode is set for everyone.
            vec![("dns.blocking_mode", 8, "custom_ip needs dns.blocking_ipv6")],
        ),
        (
            "custom_ip in a policy only",
            base_and(&["  kids: { blocking_mode: custom_ip }"]),
            vec![
                ("policies.kids.blocking_mode", 6, "needs dns.blocking_ipv4"),
                ("policies.kids.blocking_mode", 6, "needs dns.blocking_ipv6"),
            ],
        ),
        (
            "cache TTLs",
            base_and(&["cache:", "  min_ttl: 600", "  max_ttl: 60"]),
            vec![("cache.min_ttl", 7, "min_ttl 600 is above max_ttl 60")],
        ),
        (
            "upstream groups: empty, missing servers, bad server, bad strategy",
            doc(&[
                "upstreams:",
                "  default: { servers: [] }",
                "  b: { strategy: parallel }",
                "  c: { servers: [\"quic://dns.adguard.com\", \"dns.google\"] }",
                "  d: { servers: [9.9.9.9], strategy: random }",
                "policies: { main: {} }",
                "default_policy: main",
            ]),
            vec![
                ("upstreams.default.servers", 2, "must not be empty"),
                ("upstreams.b.servers", 3, "missing field `servers`"),
                ("upstreams.c.servers[0]", 4, "unsupported scheme quic://"),
                ("upstreams.d.strategy", 5, "unknown variant `random`"),
            ],
        ),
        (
            "no upstream for a policy",
            doc(&[
                "upstreams: { cf: { servers: [1.1.1.1] } }",
                "policies:",
                "  main: {}",
                "  kids: { upstream: cf }",
                "default_policy: main",
            ]),
            vec![("policies.main", 3, "no upstream group")],
        ),
        (
            "upstream timeout",
            base_and(&["dns: { upstream_timeout: 0s }"]),
            vec![("dns.upstream_timeout", 6, "must be above 0")],
        ),
        (
            "admin: an unknown field leaves the section out, so its other checks wait",
            base_and(&[
                "admin:",
                "  token: s3cret",
                "  token_file: \"\"",
                "  users_file: \"\"",
            ]),
            vec![("admin.token", 7, "unknown field `token`")],
        ),
        (
            "admin: empty files",
            base_and(&["admin:", "  token_file: \"\"", "  users_file: \"\""]),
            vec![
                ("admin.token_file", 7, "token_file must not be empty"),
                ("admin.users_file", 8, "users_file must not be empty"),
            ],
        ),
        (
            "admin: read_only not a bool",
            base_and(&["admin: { read_only: yes }"]),
            vec![("admin.read_only", 6, "invalid type: string \"yes\"")],
        ),
        (
            "sync: a replica needs the primary and the token",
            base_and(&["sync:", "  role: replica"]),
            // Missing fields are reported at their section.
            vec![
                (
                    "sync.primary",
                    6,
                    "sync.primary: a replica needs the primary's address",
                ),
                (
                    "sync.token_file",
                    6,
                    "sync.token_file: a replica needs the file holding the shared sync token, to authenticate its pulls",
                ),
            ],
        ),
        (
            "sync: a primary needs the token, and has no primary",
            base_and(&[
                "sync:",
                "  role: primary",
                "  primary: http://ward-0.ward:8080",
            ]),
            vec![
                (
                    "sync.primary",
                    8,
                    "sync.primary: only a replica pulls from a primary (sync.role is primary)",
                ),
                (
                    "sync.token_file",
                    6,
                    "a primary needs the file holding the shared sync token, to authenticate its pushes",
                ),
            ],
        ),
        (
            "sync: replicas on a replica",
            base_and(&[
                "sync:",
                "  role: replica",
                "  primary: http://ward-primary:8080",
                "  token_file: /t",
                "  replicas: [\"http://ward-1:8080\"]",
            ]),
            vec![(
                "sync.replicas",
                10,
                "sync.replicas: only a primary pushes to replicas (sync.role is replica)",
            )],
        ),
        (
            "sync: replicas and primary without a role (standalone)",
            base_and(&[
                "sync:",
                "  replicas: [\"http://ward-1:8080\"]",
                "  primary: http://ward-primary:8080",
            ]),
            vec![
                (
                    "sync.replicas",
                    7,
                    "only a primary pushes to replicas (sync.role is standalone)",
                ),
                (
                    "sync.primary",
                    8,
                    "only a replica pulls from a primary (sync.role is standalone)",
                ),
            ],
        ),
        (
            "sync: replica URLs: path, scheme, query, host, port, credentials, duplicate",
            base_and(&[
                "sync:",
                "  role: primary",
                "  token_file: /t",
                "  replicas:",
                "    - http://ward-replicas:8080/api",
                "    - ward-replicas:8080",
                "    - \"http://ward-replicas:8080?x=1\"",
                "    - http://:8080",
                "    - http://ward-replicas:80800",
                "    - http://admin:s3cret@ward-replicas:8080",
                "    - http://ward-1:8080",
                "    - HTTP://ward-1:8080",
                "    - http://Ward-1:8080/",
            ]),
            vec![
                ("sync.replicas[0]", 10, "has a path"),
                (
                    "sync.replicas[1]",
                    11,
                    "must start with https:// or http://",
                ),
                ("sync.replicas[2]", 12, "has a query"),
                ("sync.replicas[3]", 13, "has no host"),
                ("sync.replicas[4]", 14, "port \"80800\""),
                ("sync.replicas[5]", 15, "carries credentials"),
                (
                    "sync.replicas[7]",
                    17,
                    "must start with https:// or http://",
                ),
                (
                    "sync.replicas[8]",
                    18,
                    "duplicate replica \"http://Ward-1:8080/\", first given at sync.replicas[6]",
                ),
            ],
        ),
        (
            "sync: the primary's URL, an empty token file, a short interval",
            base_and(&[
                "sync:",
                "  role: replica",
                "  primary: https://ward-primary:8080/v1/",
                "  token_file: \"\"",
                "  interval: 500ms",
            ]),
            vec![
                ("sync.primary", 8, "has a path"),
                ("sync.token_file", 9, "token_file must not be empty"),
                (
                    "sync.interval",
                    10,
                    "interval 500ms is shorter than the minimum, 1s",
                ),
            ],
        ),
        (
            "sync: unknown field, unknown role, bad interval",
            base_and(&[
                "sync:",
                "  role: leader",
                "  primaries: [http://a:8080]",
                "  interval: often",
            ]),
            vec![
                (
                    "sync.role",
                    7,
                    "unknown variant `leader`, expected one of `standalone`, `primary`, `replica`",
                ),
                ("sync.primaries", 8, "unknown field `primaries`"),
                ("sync.interval", 9, "invalid duration \"often\""),
            ],
        ),
        (
            "sync: not a mapping",
            base_and(&["sync: primary"]),
            vec![("sync", 6, "invalid type: string \"primary\"")],
        ),
        (
            "errors in every section are all reported",
            doc(&[
                "dns: { blocked_ttl: -1 }",
                "upstreams: { default: { servers: [9.9.9.9], bogus: 1 } }",
                "lists:",
                "  - { id: ads, path: /a.txt, refesh: 1h }",
                "policies:",
                "  main: { lists: [ads, nope] }",
                "clients:",
                "  - { subnet: 10.0.0.0/8, policy: man }",
                "default_policy: main",
                "cache: { max_ttl: big }",
            ]),
            vec![
                ("dns.blocked_ttl", 1, "invalid value: integer `-1`"),
                ("upstreams.default.bogus", 2, "unknown field `bogus`"),
                ("lists[0].refesh", 4, "unknown field `refesh`"),
                // lists[0] did not parse, but its id is known: only "nope" is unknown.
                ("policies.main.lists[1]", 6, "unknown list \"nope\""),
                ("clients[0].policy", 8, "unknown policy \"man\""),
                ("cache.max_ttl", 10, "invalid type: string \"big\""),
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (name, text, expected) in &rows {
        let errors = match Config::from_yaml(text) {
            Ok(_) => {
                failures.push(format!("row {name:?}: validated, expected errors"));
                continue;
            }
            Err(e) => e,
        };
        let got: Vec<(String, Option<usize>, String)> = errors
            .errors()
            .iter()
            .map(|e| (e.path().to_string(), e.line(), e.to_string()))
            .collect();
        let mut unmatched: Vec<&(String, Option<usize>, String)> = got.iter().collect();
        for (path, line, text) in expected {
            match unmatched
                .iter()
                .position(|(p, l, m)| p == path && *l == Some(*line) && m.contains(text))
            {
                Some(i) => {
                    unmatched.remove(i);
                }
                None => failures.push(format!(
                    "row {name:?}: no error at line {line} for {path:?} containing {text:?}; got:\n{errors}"
                )),
            }
        }
        if !unmatched.is_empty() {
            failures.push(format!("row {name:?}: unexpected errors {unmatched:#?}"));
        }
        for e in errors.errors() {
            let prefix = match e.line() {
                Some(l) => format!("line {l}: "),
                None => String::new(),
            };
            assert!(e.to_string().starts_with(&prefix), "{e}");
            assert!(e.column().is_some(), "row {name:?}: {e} has no column");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_error_format_names_line_path_and_problem() {
    let text = base_and(&["  kids:", "    extends: mian"]);
    let err = Config::from_yaml(&text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 7: policies.kids.extends: unknown policy \"mian\"; did you mean \"main\"?"
    );
    let e = &err.errors()[0];
    assert_eq!(e.column(), Some(5));
    assert!(matches!(
        e.kind(),
        ErrorKind::UnknownReference { name, .. } if name == "mian"
    ));
}

#[test]
fn validate_sync_built_in_code() {
    let mut c = Config::default_config();
    c.sync.role = SyncRole::Replica;
    c.sync.interval = std::time::Duration::ZERO;
    let err = c.validate().unwrap_err();
    let got: Vec<String> = err.errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(
        got,
        [
            "sync.primary: a replica needs the primary's address",
            "sync.token_file: a replica needs the file holding the shared sync token, to \
             authenticate its pulls from the primary",
            "sync.interval: interval 0s is shorter than the minimum, 1s",
        ]
    );
    assert!(matches!(
        err.errors()[0].kind(),
        ErrorKind::SyncMissing {
            role: SyncRole::Replica,
            ..
        }
    ));
    assert!(err.errors().iter().all(|e| e.line().is_none()));
}

#[test]
fn names_are_normalised() {
    let text = base_and(&[
        "forward:",
        "  - { zones: [Home.Example.COM.], upstream: default }",
        "records:",
        "  - { name: NAS.Home.Example.com., type: CNAME, value: Box.Home.Example.com. }",
        "  - { name: Bücher.example, type: A, value: 10.0.0.1 }",
    ]);
    let c = Config::from_yaml(&text).unwrap();
    assert_eq!(c.forward[0].zones, ["home.example.com"]);
    assert_eq!(c.records[0].name, "nas.home.example.com");
    assert_eq!(c.records[0].value, "box.home.example.com");
    assert_eq!(c.records[1].name, "xn--bcher-kva.example");
}

#[test]
fn validate_a_config_built_in_code() {
    let mut c = Config::default_config();
    c.default_policy = "missing".to_owned();
    let err = c.validate().unwrap_err();
    assert_eq!(err.errors().len(), 1);
    assert_eq!(err.errors()[0].path().to_string(), "default_policy");
    assert_eq!(err.errors()[0].line(), None);
    assert_eq!(
        err.to_string(),
        "default_policy: unknown policy \"missing\"; known: \"default\""
    );
}
