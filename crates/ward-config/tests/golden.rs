//! The shipped configs validate, survive a round trip, and mean what their comments say.

use std::net::SocketAddr;

use ward_config::{BlockingMode, Config, DEFAULT_CONFIG_YAML, IpNetwork, UpstreamServer};

const HOME: &str = include_str!("../../../deploy/examples/home.yaml");

fn valid(text: &str) -> Config {
    Config::from_yaml(text).unwrap_or_else(|e| panic!("invalid config:\n{e}"))
}

#[test]
fn embedded_default_listens_on_loopback_and_blocks_with_the_catalogue_default() {
    let c = Config::default_config();
    assert_eq!(c, valid(DEFAULT_CONFIG_YAML));
    assert_eq!(
        c.dns.listen,
        ["127.0.0.1:5353".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(
        c.admin.listen,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.default_policy, "default");
    assert!(!c.upstreams["default"].servers.is_empty());
    // One list, the catalogue's default, downloaded daily.
    let default = ward_config::catalogue::entries()
        .iter()
        .find(|e| e.default)
        .expect("the catalogue marks a default list");
    let [ads] = c.lists.as_slice() else {
        panic!("{:?}", c.lists)
    };
    assert_eq!(ads.catalogue.as_deref(), Some(default.id.as_str()));
    assert_eq!(ads.download_url(), Some(default.url.as_str()));
    assert_eq!(
        ads.refresh_every(),
        Some(std::time::Duration::from_secs(86_400))
    );
    let p = c.effective_policy("default").unwrap();
    assert_eq!(p.upstream, "default");
    assert_eq!(p.lists, std::slice::from_ref(&ads.id));
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn home_example_validates_and_round_trips() {
    let c = valid(HOME);
    assert_eq!(valid(&c.to_yaml()), c);
    assert_eq!(c.validate(), Ok(()));
    assert_eq!(c.default_policy, "main");
    assert_eq!(c.policies.len(), 6);
    assert_eq!(c.clients.len(), 13);
    assert_eq!(c.forward[0].upstream, "router");
    assert!(
        c.forward[0]
            .zones
            .contains(&"168.192.in-addr.arpa".to_owned())
    );
    assert_eq!(
        c.upstreams["router"].servers,
        [UpstreamServer::Udp("192.168.1.1:53".parse().unwrap())]
    );
    let cameras = c
        .clients
        .iter()
        .find(|r| r.subnet == Some("192.168.60.0/24".parse::<IpNetwork>().unwrap()))
        .unwrap();
    assert_eq!(cameras.policy, "cameras");
    assert!(
        c.clients
            .iter()
            .any(|r| r.subnet.is_some_and(|s| s.is_ipv6()))
    );
}

#[test]
fn home_example_kids_inherit_main() {
    let c = valid(HOME);
    let kids = c.effective_policy("kids").unwrap();
    let main = c.effective_policy("main").unwrap();
    assert_eq!(kids.lists[..main.lists.len()], main.lists[..]);
    assert!(kids.lists.contains(&"oisd-nsfw".to_owned()));
    assert_eq!(kids.rules[0], main.rules[0]);
    assert_eq!(kids.blocked_services, ["social", "roblox", "fortnite"]);
    assert_eq!(kids.safe_search, ward_config::SafeSearch::All(true));
    let schedules: Vec<_> = kids.schedules.iter().map(|s| s.name.as_deref()).collect();
    assert_eq!(schedules, [Some("after-homework"), Some("bedtime")]);
    assert_eq!(
        c.time_zone.as_ref().map(|z| z.name()),
        Some("Europe/Berlin")
    );
    assert_eq!(kids.upstream, "default");
    assert_eq!(kids.blocking_mode, BlockingMode::NullIp);
    assert_eq!(
        c.effective_policy("guest").unwrap().blocking_mode,
        BlockingMode::Nxdomain
    );
    assert_eq!(
        c.effective_policy("cameras").unwrap().upstream,
        "unfiltered"
    );
    assert_eq!(c.effective_policy("nope"), None);
}

/// The YAML of issue 3, with the `adult` list it names declared.
#[test]
fn issue_3_example_validates() {
    let text = r#"
dns:
  listen: ["192.168.1.71:53"]      # each address serves UDP and TCP
  blocking_mode: null_ip           # null_ip | nxdomain | refused | custom_ip
  blocked_ttl: 10
admin:
  listen: "0.0.0.0:8080"
upstreams:                         # named groups
  default: { servers: ["tls://1.1.1.1", "https://dns.quad9.net/dns-query", "8.8.8.8"], strategy: parallel }
  router:  { servers: ["192.168.1.1:53"] }
forward:                           # conditional forwarding, most specific zone wins
  - { zones: ["home.example.com", "168.192.in-addr.arpa"], upstream: router }
records:                           # local answers; a wildcard is the fallback, specific names override it
  - { name: "*.home.example.com", type: A, value: 192.168.1.20 }
  - { name: "auth.home.example.com", type: A, value: 192.168.1.72 }
lists:
  - { id: adguard-dns, path: /var/lib/ward/lists/adguard-dns.txt }
  - { id: oisd, url: "https://big.oisd.nl/", refresh: 24h }
  - { id: adult, url: "https://nsfw.oisd.nl/", refresh: 24h }
policies:
  main:    { lists: [adguard-dns, oisd] }
  kids:    { extends: main, lists: [adult], rules: ["||tiktok.com^"] }
  iot:     { extends: main, rules: ["||facebook.com^", "||instagram.com^"] }
  guest:   { lists: [adguard-dns] }
  cameras: { lists: [], upstream: default }
clients:                           # longest prefix wins; IPv4 and IPv6
  - { subnet: 192.168.1.0/24, policy: main }
  - { subnet: 192.168.20.0/24, policy: kids }
default_policy: main
cache: { size: 100000, min_ttl: 0, max_ttl: 86400 }
"#;
    let c = valid(text);
    assert_eq!(
        c.effective_policy("kids").unwrap().lists,
        ["adguard-dns", "oisd", "adult"]
    );
    assert_eq!(
        c.lists[1].refresh,
        Some(std::time::Duration::from_secs(86400))
    );
    assert_eq!(c.cache.negative_ttl, 300);
}

/// docs/configuration.md shows the home example as it is shipped, and each of its YAML
/// snippets is a valid piece of a config.
#[test]
fn configuration_docs_match_the_code() {
    let docs = include_str!("../../../docs/configuration.md");
    assert!(
        docs.contains(HOME),
        "docs/configuration.md must end with deploy/examples/home.yaml verbatim"
    );
    let base = "upstreams: { default: { servers: [9.9.9.9] } }\n\
                policies: { main: {} }\n\
                default_policy: main\n";
    let mut snippets = 0;
    for block in docs.split("```yaml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        if block.contains("default_policy:") && block.contains("policies:") {
            valid(block);
        } else {
            // A section alone: it must parse on top of the smallest config, with the names
            // it refers to declared.
            let declared = "upstreams:\n  default: { servers: [9.9.9.9] }\n  router: { servers: [9.9.9.9] }\n  unfiltered: { servers: [9.9.9.9] }\n";
            let top: Vec<&str> = block
                .lines()
                .filter(|l| !l.starts_with(' ') && !l.is_empty())
                .filter_map(|l| l.split(':').next())
                .collect();
            let text = match top.as_slice() {
                ["upstreams"] => {
                    format!("{block}policies: {{ main: {{}} }}\ndefault_policy: main\n")
                }
                ["policies"] => format!(
                    "{declared}{block}lists:\n  - {{ id: adguard-dns, path: /a }}\n  - {{ id: oisd-big, path: /b }}\n  - {{ id: oisd-nsfw, path: /c }}\ndefault_policy: main\n"
                ),
                ["clients"] => {
                    format!("{declared}{block}policies: {{ kids: {{}} }}\ndefault_policy: kids\n")
                }
                ["forward"] => {
                    format!("{declared}{block}policies: {{ main: {{}} }}\ndefault_policy: main\n")
                }
                ["default_policy"] => continue,
                _ => format!("{base}{block}"),
            };
            valid(&text);
        }
        snippets += 1;
    }
    assert!(snippets >= 10, "only {snippets} YAML snippets found");
}
