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
    s.check(policy, &Request::new(name, RecordType::A))
        .verdict
        .reason
}

#[test]
fn policies_follow_subnets_and_inherit() {
    let s = snapshot();
    assert_eq!(
        s.policy_for("127.0.0.2".parse::<IpAddr>().unwrap()).name,
        "main"
    );
    assert_eq!(
        s.policy_for("127.0.0.3".parse::<IpAddr>().unwrap()).name,
        "kids"
    );
    assert_eq!(
        s.policy_for("::ffff:127.0.0.3".parse::<IpAddr>().unwrap())
            .name,
        "kids"
    );
    assert_eq!(
        s.policy_for("10.0.0.1".parse::<IpAddr>().unwrap()).name,
        "main"
    );
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

/// Lists from memory that a test can change between builds.
struct Mutable(std::sync::Mutex<Vec<(String, Result<String, String>)>>);

impl Mutable {
    fn new(lists: &[(&str, &str)]) -> Mutable {
        Mutable(std::sync::Mutex::new(
            lists
                .iter()
                .map(|(id, t)| ((*id).to_owned(), Ok((*t).to_owned())))
                .collect(),
        ))
    }

    fn set(&self, id: &str, text: Result<&str, &str>) {
        let mut lists = self.0.lock().unwrap();
        let entry = lists.iter_mut().find(|(i, _)| i == id).unwrap();
        entry.1 = text.map(str::to_owned).map_err(str::to_owned);
    }
}

impl ListTexts for Mutable {
    fn text(&self, list: &ListSource) -> Result<Vec<u8>, String> {
        let lists = self.0.lock().unwrap();
        match lists.iter().find(|(id, _)| *id == list.id) {
            Some((_, Ok(t))) => Ok(t.as_bytes().to_vec()),
            Some((_, Err(e))) => Err(e.clone()),
            None => Err(format!("no text for {}", list.id)),
        }
    }
}

fn rebuild_config() -> Config {
    Config::from_yaml(
        &CONFIG
            .replace(", broken]", "]")
            .replace("  - { id: broken, path: /nonexistent/broken.txt }\n", ""),
    )
    .expect("valid config")
}

#[test]
fn a_rebuild_reuses_unchanged_lists_and_compiles_changed_ones() {
    let texts = Mutable::new(&[("ads", "||ads.example^\n"), ("adult", "||adult.example^\n")]);
    let first = Snapshot::build(rebuild_config(), &texts, 1).unwrap();
    assert!(first.list_errors.is_empty(), "{:?}", first.list_errors);

    // Nothing changed: every list is the same compiled set, and the snapshot says so.
    let same = Snapshot::rebuild(rebuild_config(), &texts, 2, Some(&first)).unwrap();
    assert!(same.lists.iter().all(|l| l.reused));
    assert!(same.same_as(&first));

    // One list changed: only it is compiled again.
    texts.set("adult", Ok("||adult.example^\n||casino.example^\n"));
    let next = Snapshot::rebuild(rebuild_config(), &texts, 3, Some(&same)).unwrap();
    let reused: Vec<_> = next
        .lists
        .iter()
        .map(|l| (l.id.as_str(), l.reused))
        .collect();
    assert_eq!(reused, [("ads", true), ("adult", false)]);
    assert!(
        next.list("ads")
            .unwrap()
            .rules
            .ptr_eq(&first.list("ads").unwrap().rules)
    );
    assert!(!next.same_as(&same));
    assert_eq!(
        reason(&next, "127.0.0.3", "casino.example"),
        Reason::FilteredBlockList
    );
    assert_eq!(
        reason(&same, "127.0.0.3", "casino.example"),
        Reason::NotFilteredNotFound
    );

    // A config change alone (a custom rule) reuses every list.
    let mut config = rebuild_config();
    config
        .policies
        .get_mut("main")
        .unwrap()
        .rules
        .push("||new.example^".into());
    let edited = Snapshot::rebuild(config, &texts, 4, Some(&next)).unwrap();
    assert!(edited.lists.iter().all(|l| l.reused));
    assert!(!edited.same_as(&next));
    assert_eq!(
        reason(&edited, "127.0.0.2", "new.example"),
        Reason::FilteredBlockList
    );
}

#[test]
fn a_failed_or_broken_list_keeps_its_previous_copy() {
    let texts = Mutable::new(&[("ads", "||ads.example^\n"), ("adult", "||adult.example^\n")]);
    let first = Snapshot::build(rebuild_config(), &texts, 1).unwrap();

    texts.set("ads", Err("reading ads.txt: permission denied"));
    let s = Snapshot::rebuild(rebuild_config(), &texts, 2, Some(&first)).unwrap();
    assert_eq!(
        reason(&s, "127.0.0.2", "ads.example"),
        Reason::FilteredBlockList
    );
    assert_eq!(s.list_errors.len(), 1);
    assert!(
        s.list_errors[0].1.contains("serving the previous copy"),
        "{:?}",
        s.list_errors
    );

    texts.set(
        "ads",
        Ok("<html>\n<body>503 Service Unavailable</body>\n</html>\n"),
    );
    let s = Snapshot::rebuild(rebuild_config(), &texts, 3, Some(&s)).unwrap();
    assert_eq!(
        reason(&s, "127.0.0.2", "ads.example"),
        Reason::FilteredBlockList
    );
    assert!(
        s.list_errors[0].1.contains("HTML page"),
        "{:?}",
        s.list_errors
    );
    texts.set("ads", Ok("||ads.example^\n\u{0}\u{1}\u{2}\n"));
    let s = Snapshot::rebuild(rebuild_config(), &texts, 3, Some(&s)).unwrap();
    assert_eq!(
        reason(&s, "127.0.0.2", "ads.example"),
        Reason::FilteredBlockList
    );
    assert!(
        s.list_errors[0].1.contains("line 2 has a binary"),
        "{:?}",
        s.list_errors
    );
    texts.set("ads", Ok("this is not\na filter list\n"));
    let s = Snapshot::rebuild(rebuild_config(), &texts, 3, Some(&s)).unwrap();
    assert_eq!(
        reason(&s, "127.0.0.2", "ads.example"),
        Reason::FilteredBlockList
    );
    assert!(
        s.list_errors[0].1.contains("none of its 2 lines"),
        "{:?}",
        s.list_errors
    );

    // Emptied on purpose (comments only): applied.
    texts.set("ads", Ok("! nothing blocked for now\n"));
    let s = Snapshot::rebuild(rebuild_config(), &texts, 4, Some(&s)).unwrap();
    assert!(s.list_errors.is_empty(), "{:?}", s.list_errors);
    assert_eq!(
        reason(&s, "127.0.0.2", "ads.example"),
        Reason::NotFilteredNotFound
    );

    // Broken with no previous copy: reported, and empty.
    let fresh = Snapshot::build(rebuild_config(), &texts, 1).unwrap();
    assert!(fresh.list_errors.is_empty());
    texts.set("adult", Ok("\u{0}\u{1}binary\n\u{7f}\u{2}junk\n"));
    let s = Snapshot::build(rebuild_config(), &texts, 1).unwrap();
    assert_eq!(s.list_errors.len(), 1, "{:?}", s.list_errors);
    assert_eq!(
        reason(&s, "127.0.0.3", "adult.example"),
        Reason::NotFilteredNotFound
    );
}

#[test]
fn a_step_replaces_one_changed_list_and_says_what_is_left() {
    let texts = Mutable::new(&[("ads", "||ads.example^\n"), ("adult", "||adult.example^\n")]);
    let first = Snapshot::build(rebuild_config(), &texts, 1).unwrap();
    texts.set("ads", Ok("||ads2.example^\n"));
    texts.set("adult", Ok("||adult2.example^\n"));

    let (one, pending) = Snapshot::rebuild_step(rebuild_config(), &texts, 2, Some(&first)).unwrap();
    assert!(pending);
    let replaced: Vec<_> = one
        .lists
        .iter()
        .map(|l| (l.id.as_str(), l.reused))
        .collect();
    assert_eq!(replaced, [("ads", false), ("adult", true)]);
    // A whole snapshot: the new ads list and the old adult list.
    assert_eq!(
        reason(&one, "127.0.0.3", "ads2.example"),
        Reason::FilteredBlockList
    );
    assert_eq!(
        reason(&one, "127.0.0.3", "adult.example"),
        Reason::FilteredBlockList
    );

    let (two, pending) = Snapshot::rebuild_step(rebuild_config(), &texts, 3, Some(&one)).unwrap();
    assert!(!pending);
    assert_eq!(
        reason(&two, "127.0.0.3", "adult2.example"),
        Reason::FilteredBlockList
    );
    assert_eq!(
        reason(&two, "127.0.0.3", "adult.example"),
        Reason::NotFilteredNotFound
    );
    assert!(
        two.list("ads")
            .unwrap()
            .rules
            .ptr_eq(&one.list("ads").unwrap().rules)
    );

    let (three, pending) = Snapshot::rebuild_step(rebuild_config(), &texts, 4, Some(&two)).unwrap();
    assert!(!pending && three.same_as(&two));
}

/// Issue 13, point 8: what `$client='name'` and `$ctag` rules see of a client address.
#[test]
fn a_client_address_has_the_name_and_tags_of_its_entries() {
    let config = Config::from_yaml(
        r#"
upstreams:
  default: { servers: ["127.0.0.1:5399"] }
policies:
  main: { rules: ["||games.example^$ctag=user_child", "||dad.example^$client='dad-laptop'"] }
clients:
  - { subnet: 192.168.20.0/24, policy: main, name: kids-vlan, tags: [user_child] }
  - { subnet: 192.168.20.7/32, policy: main, name: kids-tv }
  - { subnet: 192.168.1.23/32, policy: main, name: dad-laptop, tags: [user_admin, device_laptop] }
  - { subnet: "fd00:20::/64", policy: main, tags: [os_android] }
default_policy: main
"#,
    )
    .unwrap();
    let s = Snapshot::build(config, &Texts(vec![]), 1).unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let info = s.client(ip("192.168.20.5"));
    assert_eq!(
        (info.name, info.tags),
        (Some("kids-vlan"), &["user_child".to_owned()][..])
    );
    // The name of the most specific named entry, the tags of the most specific with tags.
    let info = s.client(ip("192.168.20.7"));
    assert_eq!(
        (info.name, info.tags),
        (Some("kids-tv"), &["user_child".to_owned()][..])
    );
    let info = s.client(ip("::ffff:192.168.1.23"));
    assert_eq!(info.name, Some("dad-laptop"));
    assert_eq!(info.tags, ["user_admin", "device_laptop"]);
    let info = s.client(ip("fd00:20::9"));
    assert_eq!(
        (info.name, info.tags),
        (None, &["os_android".to_owned()][..])
    );
    assert_eq!(s.client(ip("10.0.0.1")), ward_state::ClientInfo::default());

    let verdict = |client: &str, name: &str| {
        let client = ip(client);
        let policy = s.policy_for(client);
        let request = s
            .client(client)
            .apply(Request::new(name, RecordType::A).client_ip(client));
        s.check(policy, &request).verdict.reason
    };
    assert_eq!(
        verdict("192.168.20.7", "games.example"),
        Reason::FilteredBlockList
    );
    assert_eq!(
        verdict("192.168.1.23", "games.example"),
        Reason::NotFilteredNotFound
    );
    assert_eq!(
        verdict("192.168.1.23", "dad.example"),
        Reason::FilteredBlockList
    );
    assert_eq!(
        verdict("192.168.20.7", "dad.example"),
        Reason::NotFilteredNotFound
    );
}

#[test]
fn an_allowlist_lets_through_what_any_of_its_rules_matches() {
    let config = Config::from_yaml(
        r#"
upstreams:
  default: { servers: ["127.0.0.1:5399"] }
lists:
  - { id: ads, path: /nonexistent/ads.txt }
  - { id: keep, path: /nonexistent/keep.txt, allow: true }
policies:
  main:
    lists: [ads, keep]
    rules: ["||custom.example^$important"]
    blocked_services: [tiktok]
  plain: { lists: [ads] }
clients:
  - { subnet: 127.0.0.3/32, policy: plain }
default_policy: main
"#,
    )
    .expect("valid config");
    // Blocking rules, an exception and a hosts line: in an allowlist each one allows.
    let texts = Texts(vec![
        ("ads", "||ads.example^$important\n||tracker.example^\n"),
        (
            "keep",
            "||ads.example^\n@@||custom.example^\n0.0.0.0 tiktok.com\n",
        ),
    ]);
    let s = Snapshot::build(config, &texts, 1).expect("builds");
    let main = s.policy_for("127.0.0.2".parse::<IpAddr>().unwrap());
    assert_eq!(main.lists.len(), 1, "the allowlist is not a block list");
    assert_eq!(main.allow_lists.len(), 1);
    for name in [
        "ads.example",
        "sub.ads.example",
        "custom.example",
        "tiktok.com",
    ] {
        let checked = s.check(main, &Request::new(name, RecordType::A));
        assert_eq!(
            checked.verdict.reason,
            Reason::NotFilteredAllowList,
            "{name}: the allowlist beats $important, custom rules and blocked services"
        );
        let rule = checked.verdict.rules[0];
        assert_eq!(
            s.lists[rule.layer].id, "keep",
            "{name}: its rule is the allowlist's"
        );
    }
    assert_eq!(
        reason(&s, "127.0.0.2", "tracker.example"),
        Reason::FilteredBlockList,
        "what the allowlist does not name is filtered as before"
    );
    assert_eq!(
        reason(&s, "127.0.0.3", "ads.example"),
        Reason::FilteredBlockList,
        "a policy without the allowlist blocks"
    );
}

#[test]
fn a_schedule_may_not_block_with_an_allowlist() {
    let err = Config::from_yaml(
        r#"
upstreams:
  default: { servers: ["127.0.0.1:5399"] }
lists:
  - { id: keep, path: /nonexistent/keep.txt, allow: true }
policies:
  main:
    schedules:
      - { days: [mon], from: "20:00", to: "21:00", block_lists: [keep] }
default_policy: main
"#,
    )
    .expect_err("an allowlist cannot block");
    assert!(
        err.to_string().contains("is an allowlist"),
        "the error says why: {err}"
    );
}
