//! Building a snapshot from a config and its lists.

use std::net::IpAddr;

use ward_config::{Config, ListSource};
use ward_rules::{Reason, RecordType, Request};
use ward_state::{ListTexts, Snapshot};

/// Lists served from memory.
struct Texts(Vec<(&'static str, &'static str)>);

impl ListTexts for Texts {
    fn text(&self, list: &ListSource) -> Result<Vec<u8>, String> {
        self.0
            .iter()
            .find(|(id, _)| *id == list.id)
            .map(|(_, t)| t.as_bytes().to_vec())
            .ok_or_else(|| format!("no text for {}", list.id))
    }
}

const CONFIG: &str = r#"
upstreams:
  default: { servers: ["127.0.0.1:5399"] }
  router: { servers: ["127.0.0.1:5398"] }
forward:
  - { zones: ["home.example.com", "168.192.in-addr.arpa"], upstream: router }
  - { zones: ["iot.home.example.com"], upstream: default }
records:
  - { name: "*.home.example.com", type: A, value: 192.168.1.20 }
  - { name: "auth.home.example.com", type: A, value: 192.168.1.72 }
lists:
  - { id: ads, path: /nonexistent/ads.txt }
  - { id: adult, path: /nonexistent/adult.txt }
  - { id: broken, path: /nonexistent/broken.txt }
policies:
  main: { lists: [ads, broken] }
  kids: { extends: main, lists: [adult], rules: ["||tiktok.com^"] }
  cameras: { lists: [] }
clients:
  - { subnet: 127.0.0.0/8, policy: main }
  - { subnet: 127.0.0.3/32, policy: kids }
  - { subnet: 127.0.0.4/32, policy: cameras }
default_policy: main
"#;

fn snapshot() -> Snapshot {
    let config = Config::from_yaml(CONFIG).expect("valid config");
    let texts = Texts(vec![
        ("ads", "||ads.example^\n"),
        ("adult", "||adult.example^\n"),
    ]);
    Snapshot::build(config, &texts, 1).expect("builds")
}

fn reason(s: &Snapshot, client: &str, name: &str) -> Reason {
    let policy = s.policy_for(client.parse::<IpAddr>().unwrap());
    let layers = [
        ward_rules::Layer {
            rules: &s.rules,
            mask: &policy.mask,
        },
        ward_rules::Layer {
            rules: &policy.custom,
            mask: &ward_rules::ListMask::ALL,
        },
    ];
    ward_rules::check(&layers, &Request::new(name, RecordType::A)).reason
}

#[test]
fn policies_follow_subnets_and_inherit() {
    let s = snapshot();
    assert_eq!(s.policy_for("127.0.0.2".parse().unwrap()).name, "main");
    assert_eq!(s.policy_for("127.0.0.3".parse().unwrap()).name, "kids");
    assert_eq!(
        s.policy_for("::ffff:127.0.0.3".parse().unwrap()).name,
        "kids"
    );
    assert_eq!(s.policy_for("10.0.0.1".parse().unwrap()).name, "main");
    assert_eq!(
        reason(&s, "127.0.0.2", "ads.example"),
        Reason::FilteredBlockList
    );
    assert_eq!(
        reason(&s, "127.0.0.2", "adult.example"),
        Reason::NotFilteredNotFound
    );
    assert_eq!(
        reason(&s, "127.0.0.2", "tiktok.com"),
        Reason::NotFilteredNotFound
    );
    // kids extends main: the parent's lists, its own list and its own rules.
    assert_eq!(
        reason(&s, "127.0.0.3", "ads.example"),
        Reason::FilteredBlockList
    );
    assert_eq!(
        reason(&s, "127.0.0.3", "adult.example"),
        Reason::FilteredBlockList
    );
    assert_eq!(
        reason(&s, "127.0.0.3", "www.tiktok.com"),
        Reason::FilteredBlockList
    );
    assert_eq!(
        reason(&s, "127.0.0.4", "ads.example"),
        Reason::NotFilteredNotFound
    );
}

#[test]
fn an_unreadable_list_is_reported_and_empty() {
    let s = snapshot();
    assert_eq!(s.list_errors.len(), 1);
    assert_eq!(s.list_errors[0].0, "broken");
}

#[test]
fn most_specific_forward_zone_wins() {
    let s = snapshot();
    assert_eq!(s.forward_zone("nas.home.example.com"), Some("router"));
    assert_eq!(s.forward_zone("home.example.com"), Some("router"));
    assert_eq!(s.forward_zone("cam.iot.home.example.com"), Some("default"));
    assert_eq!(s.forward_zone("20.1.168.192.in-addr.arpa"), Some("router"));
    assert_eq!(s.forward_zone("example.com"), None);
    assert_eq!(s.forward_zone("xhome.example.com"), None);
}

#[test]
fn specific_records_override_the_wildcard() {
    let s = snapshot();
    let value = |n: &str| s.records.lookup(n).map(|r| r[0].value.clone());
    assert_eq!(
        value("auth.home.example.com").as_deref(),
        Some("192.168.1.72")
    );
    assert_eq!(
        value("nas.home.example.com").as_deref(),
        Some("192.168.1.20")
    );
    assert_eq!(
        value("a.b.home.example.com").as_deref(),
        Some("192.168.1.20")
    );
    assert_eq!(value("home.example.com"), None);
    assert_eq!(value("example.com"), None);
}
