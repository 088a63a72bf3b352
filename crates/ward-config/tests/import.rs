//! `ward import-adguard` on AdGuardHome.yaml files written from AdGuard Home's format
//! (tests/data/agh/): a plain home one, one with clients, tags, conditional upstreams and
//! rewrites, and one from an older schema. Each import validates, maps what it should,
//! and names what it cannot.

use ward_config::import::{import_adguard, import_adguard_in};
use ward_config::{BlockingMode, Config, RecordKind, SafeSearch, SafeSearchLevel, Strategy};

fn fixture(name: &str) -> String {
    let path = format!("{}/../../tests/data/agh/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The import's config, read back from its YAML (as `ward validate` reads the file).
fn round_trip(config: &Config) -> Config {
    Config::from_yaml(&config.to_yaml()).unwrap_or_else(|e| panic!("{e}\n{}", config.to_yaml()))
}

fn reported(unmapped: &[String], needle: &str) -> bool {
    unmapped.iter().any(|l| l.contains(needle))
}

#[test]
fn a_plain_home() {
    let imported = import_adguard(&fixture("home.yaml")).unwrap();
    let c = round_trip(&imported.config);
    assert_eq!(imported.users.len(), 1);
    assert!(imported.users[0].1.starts_with("$2a$10$"));
    assert_eq!(c.admin.users_file.as_deref(), Some("ward-users".as_ref()));
    let default = &c.upstreams["default"];
    assert!(!default.servers.is_empty());
    assert_eq!(default.strategy, Strategy::RoundRobin, "load_balance");
    let policy = &c.policies[&c.default_policy];
    // User rules verbatim: comments and the blank line too.
    assert!(
        policy.rules.iter().any(String::is_empty),
        "{:?}",
        policy.rules
    );
    assert!(
        policy
            .rules
            .iter()
            .any(|r| r.starts_with('!') || r.starts_with('#'))
    );
    // The AdGuard DNS filter is the catalogue's; a disabled filter stays, disabled.
    assert!(
        c.lists
            .iter()
            .any(|l| l.catalogue.as_deref() == Some("adguard-dns"))
    );
    assert!(c.lists.iter().any(|l| !l.enabled));
    assert_eq!(c.dns.blocking_mode, BlockingMode::NullIp);
    assert!(c.dns.protection_enabled);
    assert_ne!(c.cache.size, 100_000, "an 8 MiB cache in entries");
    assert!(policy.safe_search.is_none());
}

#[test]
fn clients_tags_conditional_upstreams_and_rewrites() {
    let imported = import_adguard(&fixture("clients.yaml")).unwrap();
    let c = round_trip(&imported.config);
    let u = &imported.unmapped;
    assert_eq!(imported.users.len(), 2);
    // [/home.example/] and the private reverse zones go to the router.
    let router = c
        .forward
        .iter()
        .find(|f| f.zones.iter().any(|z| z == "home.example"))
        .unwrap();
    assert!(router.zones.iter().any(|z| z == "168.192.in-addr.arpa"));
    assert!(router.zones.iter().any(|z| z == "10.in-addr.arpa"));
    // [/guest.home.example/]# goes back to the default upstreams.
    assert!(
        c.forward
            .iter()
            .any(|f| f.upstream == "default" && f.zones.iter().any(|z| z == "guest.home.example"))
    );
    // Rewrites: the wildcard and a specific override; the A exception is reported.
    assert!(
        c.records
            .iter()
            .any(|r| r.name == "*.home.example" && r.rtype == RecordKind::A)
    );
    assert!(c.records.iter().any(|r| r.name == "nas.home.example"));
    assert!(reported(u, "upstream's-answer exception"));
    // A client with its own settings: a policy of its own, with the pause schedule as
    // windows that let its services through. Its blocked services replace the global
    // ones, as in AdGuard Home, so it does not extend the default policy: it has the
    // filter lists, a copy of the user rules, and its own parental control.
    let tablet = c
        .clients
        .iter()
        .find(|x| x.name.as_deref() == Some("Kids tablet"))
        .unwrap();
    assert_ne!(tablet.policy, c.default_policy);
    assert!(tablet.tags.iter().any(|t| t == "user_child"));
    let own = &c.policies[&tablet.policy];
    let default = &c.policies[&c.default_policy];
    assert_eq!(own.extends, None);
    assert!(
        own.lists.iter().any(|l| l == "hagezi-pro"),
        "{:?}",
        own.lists
    );
    assert_eq!(own.rules, default.rules);
    assert!(!own.blocked_services.is_empty());
    assert_ne!(own.blocked_services, default.blocked_services);
    assert!(reported(u, "its own copy of the user rules"));
    // A client with upstreams of its own: an upstream group, and a policy that extends
    // the default one with it.
    let iot = c
        .clients
        .iter()
        .find(|x| x.name.as_deref() == Some("IoT VLAN"))
        .unwrap();
    let iot = &c.policies[&iot.policy];
    assert_eq!(iot.extends.as_deref(), Some(c.default_policy.as_str()));
    let group = &c.upstreams[iot.upstream.as_deref().unwrap()];
    assert_eq!(group.servers.len(), 1);
    assert!(group.servers[0].to_string().contains("dns.quad9.net"));
    assert!(
        own.schedules
            .iter()
            .all(|s| s.allow_services == own.blocked_services)
    );
    assert!(
        own.lists.iter().any(|l| l == "hagezi-nsfw"),
        "parental control"
    );
    // Safe search: YouTube is moderate, as AdGuard Home enforces it.
    let Some(SafeSearch::Providers(map)) = &c.policies[&c.default_policy].safe_search else {
        panic!("safe search is a map")
    };
    assert_eq!(map.get("youtube"), Some(&SafeSearchLevel::Moderate));
    // The allowlist is a list with `allow`, used by the default policy.
    let allow: Vec<_> = c.lists.iter().filter(|l| l.allow).collect();
    assert_eq!(allow.len(), 1, "{allow:?}");
    assert!(
        allow[0]
            .url
            .as_deref()
            .unwrap()
            .ends_with("whitelist-referral.txt")
    );
    assert!(c.policies[&c.default_policy].lists.contains(&allow[0].id));
    assert!(!reported(u, "whitelist_filters"));
    // What cannot be mapped is named.
    for needle in [
        "quic://",
        "sdns://",
        "a MAC address: Ward knows clients by address, subnet or ClientID",
        "wizz",
        "[//]",
        "fallback_dns",
    ] {
        assert!(
            reported(u, needle),
            "{needle} not reported:\n{}",
            u.join("\n")
        );
    }
    // DoT and DoH where plain DNS listens, with the certificate files and server name;
    // the DoT client by its ClientID.
    let tls = &c.dns.tls;
    assert_eq!(tls.server_name.as_deref(), Some("dns.home.example"));
    assert_eq!(
        tls.cert_file.as_deref(),
        Some("/opt/adguardhome/tls/tls.crt".as_ref())
    );
    assert_eq!(tls.dot, ["0.0.0.0:853".parse().unwrap()]);
    assert_eq!(tls.doh, ["0.0.0.0:443".parse().unwrap()]);
    assert!(reported(u, "tls.port_dns_over_quic"));
    let pixel = c
        .clients
        .iter()
        .find(|r| r.client_ids == ["pixel8"])
        .unwrap();
    assert_eq!(
        (pixel.subnet, pixel.name.as_deref()),
        (None, Some("Pixel 8 (DoT)"))
    );
    // Access lists: addresses and subnets; a ClientID is reported.
    assert!(!c.dns.allowed_clients.is_empty());
    assert!(reported(u, "dns.allowed_clients"));
}

#[test]
fn an_older_schema() {
    let imported = import_adguard(&fixture("old-schema.yaml")).unwrap();
    let c = round_trip(&imported.config);
    // The web address from bind_host/bind_port, the filtering settings from `dns`.
    assert_ne!(c.admin.listen.port(), 8080);
    assert!(!c.lists.is_empty());
    assert!(!c.policies[&c.default_policy].rules.is_empty());
}

#[test]
fn files_it_cannot_read_say_why() {
    assert!(
        import_adguard("dns: {}\n")
            .unwrap_err()
            .contains("schema_version")
    );
    assert!(
        import_adguard("schema_version: 7\n")
            .unwrap_err()
            .contains("older")
    );
    assert!(
        import_adguard("schema_version: 99\n")
            .unwrap_err()
            .contains("newer")
    );
    assert!(import_adguard("[not yaml").unwrap_err().contains("YAML"));
}

/// Each fixture's import, whole: the config as YAML and the report, against the golden
/// files beside the fixture (`<name>.ward.yaml`, `<name>.report`). `WARD_BLESS=1` writes
/// them anew (then read the diff).
#[test]
fn imports_match_their_golden_configs_and_reports() {
    let dir = format!("{}/../../tests/data/agh", env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for name in ["home", "clients", "old-schema", "router"] {
        let text = fixture(&format!("{name}.yaml"));
        let imported = import_adguard_in(&text, Some(dir.as_ref())).unwrap();
        let yaml = imported.config.to_yaml();
        let report = imported.unmapped.join("\n") + "\n";
        for (ext, got) in [("ward.yaml", &yaml), ("report", &report)] {
            let path = format!("{dir}/{name}.{ext}");
            if std::env::var_os("WARD_BLESS").is_some() {
                std::fs::write(&path, got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            if want != *got {
                failures.push(format!("{path} differs; got:\n{got}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn upstreams_from_a_file_private_networks_and_clients_that_turn_things_off() {
    let dir = format!("{}/../../tests/data/agh", env!("CARGO_MANIFEST_DIR"));
    let text = fixture("router.yaml");
    let c = round_trip(&import_adguard_in(&text, Some(dir.as_ref())).unwrap().config);
    // The upstream file's lines, not upstream_dns's.
    let default = &c.upstreams["default"];
    assert_eq!(default.servers.len(), 1);
    assert!(default.servers[0].to_string().contains("dns.quad9.net"));
    let zones: Vec<&str> = c
        .forward
        .iter()
        .flat_map(|f| f.zones.iter().map(String::as_str))
        .collect();
    for zone in [
        "home.example",
        "168.192.in-addr.arpa",
        "16.172.in-addr.arpa",
    ] {
        assert!(zones.contains(&zone), "{zone}: {zones:?}");
    }
    assert!(zones.contains(&"31.172.in-addr.arpa") && zones.contains(&"d.f.ip6.arpa"));
    assert!(
        !zones.contains(&"10.in-addr.arpa"),
        "only the private networks named"
    );
    let policy_of = |name: &str| {
        let client = c.clients.iter().find(|x| x.name.as_deref() == Some(name));
        &c.policies[&client.unwrap().policy]
    };
    // Filtering off for the work laptop: nothing of the default policy reaches it.
    let work = policy_of("Work laptop");
    assert_eq!(work.extends, None);
    assert!(work.lists.is_empty() && work.rules.is_empty());
    // Parental control off for the parents: the lists and rules, not the adult list.
    let parents = policy_of("Parents phone");
    assert_eq!(parents.extends, None);
    assert_eq!(parents.lists, ["adguard-dns"]);
    assert_eq!(parents.rules, ["||ads.example^"]);
    assert!(
        c.policies["default"]
            .lists
            .iter()
            .any(|l| l == "hagezi-nsfw")
    );
    // Upstreams of its own, and the global settings otherwise.
    let guest = policy_of("Guest");
    assert_eq!(guest.extends.as_deref(), Some("default"));
    assert_eq!(
        c.upstreams[guest.upstream.as_deref().unwrap()]
            .servers
            .len(),
        1
    );
    // Without the directory the file is not read, and the report says so.
    let alone = import_adguard(&text).unwrap();
    assert!(reported(&alone.unmapped, "dns.upstream_dns_file"));
    assert!(
        alone.config.upstreams["default"].servers[0]
            .to_string()
            .contains("9.9.9.9")
    );
}
