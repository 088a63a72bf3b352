//! Golden tests over the shared corpus of real public blocklists (`shared/corpus`).
//!
//! They pin what compiling real lists yields (line, rule, comment, blank and skip counts
//! per file) and spot-check verdicts on real entries of each file, so a change to the
//! parser or the index that shifts how real-world lists are read shows up here first.
//!
//! The corpus lives outside the repository: it is found at `$WARD_CORPUS_DIR`, else at
//! `../../../shared/corpus` from this crate. Where it is absent each test says so and
//! passes, so the suite still runs on a checkout without it.

use std::path::PathBuf;
use std::sync::OnceLock;

use ward_rules::{ListId, ListMask, ListStats, Reason, RecordType, Request, RuleSet, SkipReason};

/// The corpus files, in the order they are added to the rule set.
const FILES: [&str; 5] = [
    "blp-basic-hosts.txt",
    "blp-phishing-domains.txt",
    "blp-tracking-adguard.txt",
    "stevenblack-hosts.txt",
    "urlhaus-domains.txt",
];
const BASIC_HOSTS: usize = 0;
const PHISHING_DOMAINS: usize = 1;
const TRACKING_ADGUARD: usize = 2;
const STEVENBLACK_HOSTS: usize = 3;
const URLHAUS: usize = 4;

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("WARD_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    FILES.iter().all(|f| dir.join(f).is_file()).then_some(dir)
}

/// The whole corpus compiled once per test binary, one list per file; `None` (and a
/// message) when the corpus is not there.
fn corpus() -> Option<&'static RuleSet> {
    static RULES: OnceLock<Option<RuleSet>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        let dir = corpus_dir()?;
        let mut b = RuleSet::builder();
        for (i, file) in FILES.iter().enumerate() {
            let text = std::fs::read(dir.join(file))
                .unwrap_or_else(|e| panic!("reading {}: {e}", dir.join(file).display()));
            let id = b.add_list(*file, text).unwrap();
            assert_eq!(usize::from(id.0), i);
        }
        Some(b.build())
    });
    if rules.is_none() {
        eprintln!(
            "skipped: corpus not found (set WARD_CORPUS_DIR, or put it at ../../../shared/corpus \
             from crates/ward-rules)"
        );
    }
    rules.as_ref()
}

fn only(list: usize) -> ListMask {
    [ListId(list as u16)].into_iter().collect()
}

/// A verdict's reason and, when a rule decided, its text, list name and line number.
type Decision = (Reason, Option<(String, String, usize)>);

fn decide(rules: &RuleSet, name: &str, mask: &ListMask) -> Decision {
    let v = rules.check(&Request::new(name, RecordType::A), mask);
    let rule = v.rules.first().map(|m| {
        (
            rules.rule_text(m.rule).to_string(),
            rules.list_name(m.rule.list).to_string(),
            rules.rule_line(m.rule),
        )
    });
    (v.reason, rule)
}

fn blocked_by(rule: &str, list: usize, line: usize) -> Decision {
    (
        Reason::FilteredBlockList,
        Some((rule.to_string(), FILES[list].to_string(), line)),
    )
}

const NOT_FOUND: Decision = (Reason::NotFilteredNotFound, None);

/// What `ward compile` reports for each file: lines, rules, comments, blank lines, and
/// skipped lines (all of them `$all` rules in urlhaus, which AdGuard Home ignores).
///
/// These agree with MANIFEST.md: its "rule lines" column is lines minus comments minus
/// blank lines (76,036 / 190,215 / 143,876 / 121,356 / 6,254; 537,737 in all), which is
/// rules plus skipped here. `manifest_agrees` checks that against the file itself.
const COUNTS: [(u64, u64, u64, u64, u64); 5] = [
    (76_049, 76_036, 12, 1, 0),
    (190_228, 190_215, 12, 1, 0),
    (143_889, 143_876, 12, 1, 0),
    (121_370, 121_356, 14, 0, 0),
    (6_260, 2_908, 6, 0, 3_346),
];

fn stats(rules: &RuleSet, list: usize) -> &ListStats {
    let (id, name, stats) = rules.lists().nth(list).unwrap();
    assert_eq!((usize::from(id.0), name), (list, FILES[list]));
    stats
}

#[test]
fn compile_counts() {
    let Some(rules) = corpus() else { return };
    for (i, &(lines, rule_count, comments, blank, skipped)) in COUNTS.iter().enumerate() {
        let s = stats(rules, i);
        assert_eq!(
            (s.lines, s.rules, s.comments, s.blank, s.skipped_total()),
            (lines, rule_count, comments, blank, skipped),
            "{}",
            FILES[i]
        );
        assert_eq!(s.lines, s.rules + s.comments + s.blank + s.skipped_total());
    }
    let urlhaus = stats(rules, URLHAUS);
    assert_eq!(urlhaus.skipped(SkipReason::UnsupportedModifier), 3_346);
    assert_eq!(rules.rule_count(), 534_391);
}

#[test]
fn manifest_agrees() {
    let Some(rules) = corpus() else { return };
    let manifest = std::fs::read_to_string(corpus_dir().unwrap().join("MANIFEST.md")).unwrap();
    let mut total = 0;
    for (i, file) in FILES.iter().enumerate() {
        // `| `file` | format | source | licence | 76,036 |`: the last cell of its row.
        let row = manifest
            .lines()
            .find(|l| l.starts_with(&format!("| `{file}`")))
            .unwrap_or_else(|| panic!("{file} not in MANIFEST.md"));
        let cell = row.trim_end_matches('|').rsplit('|').next().unwrap();
        let manifest_rules: u64 = cell.trim().replace(',', "").parse().unwrap();
        let s = stats(rules, i);
        assert_eq!(s.lines - s.comments - s.blank, manifest_rules, "{file}");
        assert_eq!(s.rules + s.skipped_total(), manifest_rules, "{file}");
        total += manifest_rules;
    }
    assert!(manifest.contains(&format!("{} rule lines", group_thousands(total))));
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn hosts_entries_block_the_exact_name() {
    let Some(rules) = corpus() else { return };
    let basic = only(BASIC_HOSTS);
    assert_eq!(
        decide(rules, "0-app.com", &basic),
        blocked_by("0.0.0.0 0-app.com", BASIC_HOSTS, 14)
    );
    assert_eq!(
        decide(rules, "0-APP.com.", &basic),
        blocked_by("0.0.0.0 0-app.com", BASIC_HOSTS, 14)
    );
    assert_eq!(decide(rules, "www.0-app.com", &basic), NOT_FOUND);

    let steven = only(STEVENBLACK_HOSTS);
    assert_eq!(
        decide(rules, "26vulkanvegas.com", &steven),
        blocked_by("0.0.0.0 26vulkanvegas.com", STEVENBLACK_HOSTS, 1003)
    );
    // The `www.` name is a line of its own, far down the file.
    assert_eq!(
        decide(rules, "www.26vulkanvegas.com", &steven),
        blocked_by("0.0.0.0 www.26vulkanvegas.com", STEVENBLACK_HOSTS, 80762)
    );
    assert_eq!(decide(rules, "cdn.26vulkanvegas.com", &steven), NOT_FOUND);
    assert_eq!(decide(rules, "x26vulkanvegas.com", &steven), NOT_FOUND);
}

#[test]
fn domain_entries_block_the_exact_name() {
    let Some(rules) = corpus() else { return };
    let phishing = only(PHISHING_DOMAINS);
    assert_eq!(
        decide(rules, "ijustwanttoplaypoker.com", &phishing),
        blocked_by("ijustwanttoplaypoker.com", PHISHING_DOMAINS, 50000)
    );
    assert_eq!(
        decide(rules, "www.ijustwanttoplaypoker.com", &phishing),
        blocked_by("www.ijustwanttoplaypoker.com", PHISHING_DOMAINS, 144950)
    );
    assert_eq!(
        decide(rules, "m.ijustwanttoplaypoker.com", &phishing),
        NOT_FOUND
    );

    let urlhaus = only(URLHAUS);
    assert_eq!(
        decide(rules, "111101111.ru", &urlhaus),
        blocked_by("111101111.ru", URLHAUS, 197)
    );
    assert_eq!(decide(rules, "www.111101111.ru", &urlhaus), NOT_FOUND);
}

#[test]
fn adblock_entries_block_subdomains() {
    let Some(rules) = corpus() else { return };
    let tracking = only(TRACKING_ADGUARD);
    for name in [
        "a.kamatera.com",
        "x.a.kamatera.com",
        "deep.x.A.Kamatera.com.",
    ] {
        assert_eq!(
            decide(rules, name, &tracking),
            blocked_by("||a.kamatera.com^", TRACKING_ADGUARD, 1002),
            "{name}"
        );
    }
    assert_eq!(decide(rules, "xa.kamatera.com", &tracking), NOT_FOUND);
    assert_eq!(decide(rules, "kamatera.com", &tracking), NOT_FOUND);
}

#[test]
fn urlhaus_all_rules_do_not_apply() {
    let Some(rules) = corpus() else { return };
    let urlhaus = only(URLHAUS);
    // `||wegrowcoaching.com^$all` (line 6258): `$all` is a browser modifier.
    assert_eq!(decide(rules, "wegrowcoaching.com", &urlhaus), NOT_FOUND);
    // `||2024.sci-hub.se/2294/...pdf^$all` (line 2915).
    assert_eq!(decide(rules, "2024.sci-hub.se", &urlhaus), NOT_FOUND);
    // While the plain domain lines next to them do.
    assert_eq!(
        decide(rules, "dacemirror.sci-hub.se", &urlhaus),
        blocked_by("dacemirror.sci-hub.se", URLHAUS, 2454)
    );
}

#[test]
fn urlhaus_bare_ips_match_as_substrings() {
    let Some(rules) = corpus() else { return };
    let urlhaus = only(URLHAUS);
    // `1.1.104.12` is not a domain name (its last label is digits), so AdGuard reads it
    // as an adblock pattern without anchors: it matches anywhere in the name.
    let by_line_7 = blocked_by("1.1.104.12", URLHAUS, 7);
    assert_eq!(decide(rules, "1.1.104.12", &urlhaus), by_line_7);
    assert_eq!(decide(rules, "21.1.104.123", &urlhaus), by_line_7);
    assert_eq!(decide(rules, "x.1.1.104.12.example", &urlhaus), by_line_7);
    assert_eq!(
        decide(rules, "1.1.104.120", &urlhaus),
        by_line_7,
        "line 7 `1.1.104.12` is written before line 8 `1.1.104.120`"
    );
    assert_eq!(decide(rules, "1.1.104.1", &urlhaus), NOT_FOUND);
}

#[test]
fn unlisted_names_are_not_found() {
    let Some(rules) = corpus() else { return };
    for name in [
        "ward-test-unlisted.example",
        "example.org",
        "kamatera.com",
        "www.0-app.com",
    ] {
        assert_eq!(decide(rules, name, &ListMask::ALL), NOT_FOUND, "{name}");
    }
    // A listed name with every list masked out.
    assert_eq!(decide(rules, "0-app.com", &ListMask::none()), NOT_FOUND);
}

#[test]
fn every_list_blocks_its_own_entries() {
    // A sample of each file's own entries, checked against that file alone: the first
    // name of a few hundred lines spread over the file must be blocked by that line.
    let Some(rules) = corpus() else { return };
    let dir = corpus_dir().unwrap();
    for (i, file) in FILES.iter().enumerate() {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mask = only(i);
        let mut checked = 0;
        for (n, line) in lines.iter().enumerate().step_by(lines.len() / 300 + 1) {
            let name = match line.split_whitespace().collect::<Vec<_>>()[..] {
                ["0.0.0.0", name] => name,
                [rule] if rule.starts_with("||") && rule.ends_with('^') => &rule[2..rule.len() - 1],
                [name] if !name.starts_with(['!', '#', '|']) && !name.contains('$') => name,
                _ => continue,
            };
            let (reason, rule) = decide(rules, name, &mask);
            assert_eq!(
                reason,
                Reason::FilteredBlockList,
                "{file}:{}: {name}",
                n + 1
            );
            let (text, _, line_no) = rule.unwrap();
            // An earlier line may decide when it also covers the name (a duplicate, a
            // shorter bare IP in urlhaus, a parent `||x^`); else it is this line.
            assert!(
                line_no <= n + 1,
                "{file}:{}: {name} decided by {text}",
                n + 1
            );
            if line_no == n + 1 {
                assert_eq!(text, line.trim(), "{file}: {name}");
            }
            checked += 1;
        }
        assert!(checked > 100, "{file}: only {checked} entries checked");
    }
}
