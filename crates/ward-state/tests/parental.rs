//! A policy's services, safe search and schedules, decided by the snapshot with the open
//! schedules given (the query path asks with the clock's, `check at=` with its own).

use ward_config::window::{Timestamp, Zone};
use ward_config::{Config, ListSource};
use ward_rules::{Reason, RecordType, Request};
use ward_state::{Checked, ListTexts, SERVICES_LAYER, Snapshot};

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
time_zone: Europe/Berlin
upstreams:
  default: { servers: ["127.0.0.1:5399"] }
forward:
  - { zones: ["home.example.com"], upstream: default }
lists:
  - { id: ads, path: /nonexistent/ads.txt }
  - { id: adult, path: /nonexistent/adult.txt }
  - { id: allow, path: /nonexistent/allow.txt }
policies:
  main: { lists: [ads, allow] }
  kids:
    extends: main
    rules: ["@@||ytimg.com^"]
    safe_search: true
    blocked_services: [social, youtube]
    schedules:
      # 0: afternoons, social let through
      - { name: after-homework, days: weekdays, from: "16:00", to: "19:00", allow_services: [social] }
      # 1: every evening, the adult list and games too, ads paused
      - { name: evening, days: all, from: "18:00", to: "21:00", block_lists: [adult], block_services: [games], pause_lists: [ads] }
      # 2: bedtime
      - { name: bedtime, days: all, from: "21:00", to: "07:00", block_all: true }
  teens:
    extends: kids
    safe_search: { youtube: moderate }
clients:
  - { subnet: 10.0.20.0/24, policy: kids }
  - { subnet: 10.0.21.0/24, policy: teens }
default_policy: main
"#;

fn snapshot() -> Snapshot {
    let config = Config::from_yaml(CONFIG).expect("valid config");
    let texts = Texts(vec![
        ("ads", "||ads.example^\n"),
        ("adult", "||adult.example^\n"),
        // A list's allow rule, as ad lists carry for breakage.
        ("allow", "@@||www.linkedin.com^\n"),
    ]);
    Snapshot::build(config, &texts, 1).expect("builds")
}

fn policy<'s>(s: &'s Snapshot, name: &str) -> &'s ward_state::Policy {
    s.policies.iter().find(|p| p.name == name).unwrap()
}

fn checked(s: &Snapshot, policy_name: &str, name: &str, open: u32) -> Checked {
    s.check_open(
        policy(s, policy_name),
        &Request::new(name, RecordType::A),
        open,
    )
}

fn reason(s: &Snapshot, policy_name: &str, name: &str, open: u32) -> (Reason, Option<usize>) {
    let c = checked(s, policy_name, name, open);
    (c.verdict.reason, c.schedule)
}

const NONE: u32 = 0;
const AFTERNOON: u32 = 1;
const EVENING: u32 = 1 << 1;
const BEDTIME: u32 = 1 << 2;

#[test]
fn services_block_per_policy_in_adguard_homes_order() {
    let s = snapshot();
    use Reason::*;
    for (policy, name, want) in [
        ("main", "www.instagram.com", NotFilteredNotFound),
        ("kids", "www.instagram.com", FilteredBlockedService),
        ("kids", "i.ytimg.com", NotFilteredAllowList), // the policy's own allow rule first
        ("kids", "www.youtube.com", FilteredBlockedService), // a service before safe search
        ("kids", "ads.example", FilteredBlockList),    // a list before a service
        ("kids", "www.linkedin.com", NotFilteredAllowList), // a list's allow rule too
        ("kids", "www.google.com", FilteredSafeSearch),
        ("main", "www.google.com", NotFilteredNotFound),
        ("teens", "www.instagram.com", FilteredBlockedService), // inherited
    ] {
        assert_eq!(reason(&s, policy, name, NONE).0, want, "{policy} {name}");
    }
    let c = checked(&s, "kids", "www.instagram.com", NONE);
    let rule = c.verdict.rules[0];
    assert_eq!(rule.layer, SERVICES_LAYER);
    let service = ward_state::parental::service_of(rule.rule.list).unwrap();
    assert_eq!(service.id, "instagram");
    let cited = s.cite(policy(&s, "kids"), &rule);
    assert_eq!(cited.list, "service instagram");
    assert!(cited.text.contains("instagram"), "{cited:?}");
}

#[test]
fn safe_search_is_a_cname_to_the_providers_host_at_the_policys_level() {
    let s = snapshot();
    let host = |policy: &str, name: &str| {
        let c = checked(&s, policy, name, NONE);
        assert_eq!(
            c.verdict.reason,
            Reason::FilteredSafeSearch,
            "{policy} {name}"
        );
        c.verdict.rewrite.unwrap().cname.unwrap()
    };
    assert_eq!(
        host("kids", "www.google.co.uk"),
        "forcesafesearch.google.com"
    );
    assert_eq!(host("kids", "WWW.Bing.com."), "strict.bing.com");
    // Teens: only YouTube's safe search, moderate, but the `youtube` service they inherit
    // comes first.
    assert_eq!(
        reason(&s, "teens", "m.youtube.com", NONE).0,
        Reason::FilteredBlockedService
    );
    assert_eq!(
        reason(&s, "teens", "www.google.com", NONE).0,
        Reason::NotFilteredNotFound
    );
    // Moderate YouTube for the teens is in the DNS end-to-end tests, on a policy that does
    // not block YouTube.
}

#[test]
fn open_schedules_add_and_pause_services_and_lists_and_block_everything() {
    let s = snapshot();
    use Reason::*;
    // Afternoon: social let through, and the log says by which schedule.
    assert_eq!(
        reason(&s, "kids", "www.instagram.com", AFTERNOON),
        (NotFilteredNotFound, Some(0))
    );
    // Still blocked: YouTube is not social.
    assert_eq!(
        reason(&s, "kids", "www.youtube.com", AFTERNOON),
        (FilteredBlockedService, None)
    );
    // Evening: the adult list and games added, ads paused.
    assert_eq!(
        reason(&s, "kids", "adult.example", EVENING),
        (FilteredBlockList, Some(1))
    );
    assert_eq!(
        reason(&s, "kids", "adult.example", NONE),
        (NotFilteredNotFound, None)
    );
    assert_eq!(
        reason(&s, "kids", "www.roblox.com", EVENING),
        (FilteredBlockedService, Some(1))
    );
    assert_eq!(
        reason(&s, "kids", "ads.example", EVENING),
        (NotFilteredNotFound, Some(1))
    );
    // Both: a window's allow beats another's block.
    assert_eq!(
        reason(&s, "kids", "www.instagram.com", AFTERNOON | EVENING),
        (NotFilteredNotFound, Some(0))
    );
    // Bedtime: every name, even the allowed ones; the local zone still resolves.
    for name in ["example.org", "www.linkedin.com", "i.ytimg.com"] {
        assert_eq!(
            reason(&s, "kids", name, BEDTIME),
            (FilteredSchedule, Some(2)),
            "{name}"
        );
    }
    assert_eq!(
        reason(&s, "kids", "nas.home.example.com", BEDTIME),
        (NotFilteredNotFound, None)
    );
    // An answer's names are not bedtime's to block (the question was).
    let kids = policy(&s, "kids");
    let answer = s.check_answer(kids, &Request::new("cdn.example.net", RecordType::A));
    assert!(!answer.verdict.reason.is_blocked(), "{answer:?}");
    // Schedules are inherited.
    assert_eq!(
        reason(&s, "teens", "example.org", BEDTIME),
        (FilteredSchedule, Some(2))
    );
}

#[test]
fn which_schedules_are_open_follows_the_clock_of_the_zone() {
    let s = snapshot();
    let kids = policy(&s, "kids");
    let berlin: Zone = "Europe/Berlin".parse().unwrap();
    assert_eq!(s.zone, berlin);
    let at = |text: &str| {
        let now: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        kids.controls
            .open_at(ward_config::window::parse_at(text, now, &s.zone).unwrap())
    };
    // 2026-12-04 is a Friday, 2026-12-05 a Saturday.
    assert_eq!(at("2026-12-04T15:59"), NONE);
    assert_eq!(at("2026-12-04T16:30"), AFTERNOON);
    assert_eq!(at("2026-12-04T18:30"), AFTERNOON | EVENING);
    assert_eq!(at("2026-12-05T18:30"), EVENING);
    assert_eq!(at("2026-12-05T23:00"), BEDTIME);
    assert_eq!(at("2026-12-06T06:59"), BEDTIME);
    // 20:30 UTC is 21:30 in Berlin.
    assert_eq!(at("2026-12-04T20:30:00Z"), BEDTIME);
    // The check's verdict at a time, as `check at=` gives it.
    let fri_1630: Timestamp = "2026-12-04T15:30:00Z".parse().unwrap();
    let c = s.check_at(
        kids,
        &Request::new("www.instagram.com", RecordType::A),
        fri_1630,
    );
    assert_eq!(
        (c.verdict.reason, c.schedule),
        (Reason::NotFilteredNotFound, Some(0))
    );
    // Without a zone in the config, the system's; the round trip keeps the fields.
    let config = Config::from_yaml(CONFIG).unwrap();
    assert_eq!(Config::from_yaml(&config.to_yaml()).unwrap(), config);
}
