//! Property tests of the rule engine: what must hold for every list and every query,
//! not only for the examples in the unit tables.
//!
//! - Robustness: no text, valid or not, makes parsing, compiling or a lookup panic, and
//!   every verdict is well formed (its rules resolve to real lines of the right lists).
//! - Completeness: a name written in a hosts, domain-only or adblock list is always
//!   found, whatever the case of the query and with or without its trailing dot, and the
//!   rule reported is the line that lists it.
//! - AdGuard's suffix semantics: `||d^` covers `d` and its subdomains only; hosts and
//!   domain-only lines cover exactly `d`.
//! - Patterns mean what AdGuard's regular expression for them means, and spellings of
//!   one rule that AdGuard treats alike decide alike, whichever matcher Ward picks.
//! - List masks: a list outside the mask changes nothing, as if it were empty, for
//!   every list id up to `MAX_LISTS`.
//!
//! Case counts are kept small so `cargo test` stays quick in debug builds; raise them
//! with `PROPTEST_CASES=10000` for a longer hunt.

use std::net::IpAddr;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use ward_rules::{
    Line, ListId, ListMask, Reason, RecordType, Request, RuleSet, Verdict, is_domain_name,
    parse_line,
};

// ---------------------------------------------------------------------------------------
// Strategies.

/// A host-name label: letters, digits and inner hyphens.
fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?"
}

/// Any label of `[a-z0-9-]`, hyphens anywhere: what a query may bring.
fn query_label() -> impl Strategy<Value = String> {
    "[a-z0-9-]{1,10}"
}

/// A name that AdGuard reads as a domain in hosts and domain-only lists: labels of
/// `[a-z0-9-]` and a last label of two or more letters.
fn domain() -> impl Strategy<Value = String> {
    (vec(label(), 0..4), "[a-z]{2,6}").prop_map(|(mut labels, tld)| {
        labels.push(tld);
        labels.join(".")
    })
}

fn qtype() -> impl Strategy<Value = RecordType> {
    prop_oneof![
        select(vec![
            RecordType::A,
            RecordType::AAAA,
            RecordType::HTTPS,
            RecordType::TXT,
            RecordType::MX,
            RecordType::CNAME,
            RecordType::PTR,
        ]),
        any::<u16>().prop_map(RecordType::from),
    ]
}

fn client_ip() -> impl Strategy<Value = Option<IpAddr>> {
    prop_oneof![
        Just(None),
        any::<IpAddr>().prop_map(Some),
        select(vec![
            "127.0.0.1",
            "10.1.2.3",
            "::1",
            "::ffff:10.0.0.1",
            "fe80::1"
        ])
        .prop_map(|s| Some(s.parse().unwrap())),
    ]
}

/// Upper-cases the letters of `name` whose position has its bit set in `bits`.
fn recase(name: &str, bits: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if bits & (1 << (i % 64)) != 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// Names that the rule generators below share, so rules of different lists and kinds
/// meet on the same queries (parents, children, siblings).
const NAMES: &[&str] = &[
    "a.test",
    "b.a.test",
    "c.b.a.test",
    "x-y.a.test",
    "other.test",
    "test",
    "ads.example.org",
    "example.org",
    "1.2.3.4",
];

/// DNS modifiers (and a few browser-only ones AdGuard Home ignores the rule for).
const MODIFIERS: &[&str] = &[
    "important",
    "badfilter",
    "dnstype=A",
    "dnstype=AAAA",
    "dnstype=~A",
    "dnstype=BOGUS",
    "client=127.0.0.1",
    "client=10.0.0.0/8",
    "client=~10.0.0.0/8",
    "client=::1",
    "client='laptop'",
    "client=~laptop",
    "client=300.1.1.1",
    "ctag=device_pc",
    "ctag=~user_child",
    "denyallow=a.test",
    "denyallow=b.a.test|example.org",
    "dnsrewrite",
    "dnsrewrite=NXDOMAIN",
    "dnsrewrite=REFUSED",
    "dnsrewrite=NOERROR",
    "dnsrewrite=1.2.3.4",
    "dnsrewrite=::1",
    "dnsrewrite=cname.test",
    "dnsrewrite=a.test",
    "dnsrewrite=NOERROR;A;5.6.7.8",
    "dnsrewrite=NOERROR;AAAA;::2",
    "dnsrewrite=NOERROR;MX;10 mx.test",
    "dnsrewrite=NOERROR;TXT;hello\\, world",
    "dnsrewrite=NOERROR;SRV;1 2 53 srv.test",
    "dnsrewrite=NOERROR;HTTPS;1 . alpn=h2",
    "dnsrewrite=NOERROR;PTR;ptr.test.",
    "dnsrewrite=NOERROR;BOGUS;x",
    "third-party",
    "all",
    "domain=example.org",
    "IMPORTANT",
    "",
];

/// An adblock pattern over `n`, in one of the shapes AdGuard knows.
fn pattern(n: &str, shape: u8) -> String {
    match shape % 14 {
        0 => format!("||{n}^"),
        1 => format!("|{n}^"),
        2 => n.to_string(),
        3 => format!("*{n}*"),
        4 => format!("||{n}"),
        5 => format!("{n}^"),
        6 => format!("|{n}|"),
        7 => format!("/{}$/", n.replace('.', "\\.")),
        8 => format!("/^(www\\.)?{n}/"),
        9 => format!("://{n}"),
        10 => format!("||*.{n}^"),
        11 => format!("{n}/*"),
        12 => format!("||{}^", n.to_ascii_uppercase()),
        _ => format!("||{n}^|"),
    }
}

/// A rule line of any kind over the shared names.
fn rule_line() -> impl Strategy<Value = String> {
    let name = select(NAMES);
    prop_oneof![
        // Adblock-style, with or without `@@` and modifiers.
        4 => (
            any::<bool>(),
            name.clone(),
            any::<u8>(),
            vec(select(MODIFIERS), 0..3)
        )
            .prop_map(|(allow, n, shape, mods)| {
                let mut line = String::new();
                if allow {
                    line.push_str("@@");
                }
                line.push_str(&pattern(n, shape));
                if !mods.is_empty() {
                    line.push('$');
                    line.push_str(&mods.join(","));
                }
                line
            }),
        // Hosts lines: blocking and answering addresses, one or two names.
        2 => (
            select(vec!["0.0.0.0", "127.0.0.1", "::", "::1", "1.2.3.4", "2001:db8::1", "fe80::1%lo0"]),
            vec(name.clone(), 1..3),
        )
            .prop_map(|(ip, names)| format!("{ip} {}", names.join(" "))),
        // Domain-only lines.
        1 => name.prop_map(str::to_string),
        // Comments, blanks and cosmetic rules, which must not count as rules.
        1 => select(vec!["! comment", "# comment", "", "   ", "a.test##.banner", "#@#x"])
            .prop_map(str::to_string),
    ]
}

/// A line that stresses the parser: rule syntax characters in any order, or any text.
fn wild_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => rule_line(),
        3 => "[ \t|@$^*/#!.,=~:;'a-zA-Z0-9_%()\\[\\]?+\\\\-]{0,40}",
        1 => any::<String>(),
        1 => "[0-9a-f:.%]{1,20}[ \t][a-zA-Zа-я0-9.ü-]{0,30}",
    ]
}

/// Queries: the shared names, their subdomains, and arbitrary text.
fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(NAMES).prop_map(str::to_string),
        2 => (query_label(), select(NAMES)).prop_map(|(x, n)| format!("{x}.{n}")),
        1 => select(NAMES).prop_map(|n| format!("{}.", n.to_ascii_uppercase())),
        1 => "[a-zA-Z0-9._*^|-]{0,30}",
        1 => any::<String>(),
    ]
}

// ---------------------------------------------------------------------------------------
// Helpers.

/// `cases` cases, unless `PROPTEST_CASES` asks for another number.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    // Integration tests have no lib.rs for proptest to put its regression files beside;
    // a failure prints its minimal input instead, to paste into a regression test.
    config.failure_persistence = None;
    config
}

fn build(lists: &[String]) -> (RuleSet, Vec<ListId>) {
    let mut b = RuleSet::builder();
    let ids = lists
        .iter()
        .enumerate()
        .map(|(i, text)| b.add_list(format!("list{i}"), text.as_bytes()).unwrap())
        .collect();
    (b.build(), ids)
}

fn only(id: ListId) -> ListMask {
    [id].into_iter().collect()
}

/// Checks that a verdict is well formed: its rules are real rule lines of lists in the
/// mask, and its reason agrees with what it carries.
fn assert_well_formed(rules: &RuleSet, mask: &ListMask, v: &Verdict) {
    let lists = rules.lists().count();
    for m in &v.rules {
        assert_eq!(m.layer, 0);
        assert!(usize::from(m.rule.list.0) < lists, "{v:?}");
        assert!(mask.contains(m.rule.list), "rule outside the mask: {v:?}");
        let text = rules.rule_text(m.rule);
        assert!(!text.is_empty(), "empty rule text: {v:?}");
        assert!(
            !matches!(
                parse_line(text),
                Line::Blank | Line::Comment | Line::Skipped(_)
            ),
            "a non-rule line decided: {text:?}"
        );
        let (_, _, stats) = rules.lists().nth(usize::from(m.rule.list.0)).unwrap();
        let line = rules.rule_line(m.rule) as u64;
        assert!(line >= 1 && line <= stats.lines, "{line} of {stats:?}");
    }
    match v.reason {
        Reason::NotFilteredNotFound => {
            assert!(v.rules.is_empty() && v.ip_addrs.is_empty() && v.rewrite.is_none())
        }
        Reason::NotFilteredAllowList => assert!(!v.rules.is_empty() && v.rewrite.is_none()),
        Reason::FilteredBlockList => assert!(!v.rules.is_empty() && v.rewrite.is_none()),
        Reason::RewrittenRule => assert!(!v.rules.is_empty() && v.rewrite.is_some()),
        // A policy's reasons: a rule set alone never gives them.
        Reason::FilteredBlockedService | Reason::FilteredSafeSearch | Reason::FilteredSchedule => {
            panic!("a rule set decided {:?}", v.reason)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Robustness.

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn parse_line_never_panics(line in wild_line()) {
        // Classification is total, and a domain-only line is a domain by AdGuard's rule.
        if let Line::Domain(d) = parse_line(&line) {
            prop_assert!(is_domain_name(d));
        }
    }

    #[test]
    fn parse_line_never_panics_on_bytes(bytes in vec(any::<u8>(), 0..64)) {
        let _ = parse_line(&String::from_utf8_lossy(&bytes));
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Any lists compile, count every line once, and answer any query without panicking.
    #[test]
    fn any_lists_compile_and_answer(
        lists in vec((vec(wild_line(), 0..24), any::<bool>()), 1..4),
        raw in vec(any::<u8>(), 0..200),
        queries in vec((query(), qtype(), client_ip()), 1..12),
        tags in vec(select(vec!["device_pc", "user_child", "os_linux"]), 0..2),
        client_name in proptest::option::of(select(vec!["laptop", "phone"])),
    ) {
        let mut texts: Vec<Vec<u8>> = lists
            .iter()
            .map(|(lines, crlf)| lines.join(if *crlf { "\r\n" } else { "\n" }).into_bytes())
            .collect();
        texts.push(raw);
        let mut b = RuleSet::builder();
        for (i, t) in texts.iter().enumerate() {
            b.add_list(format!("list{i}"), t.clone()).unwrap();
        }
        let rules = b.build();

        for ((_, _, stats), text) in rules.lists().zip(&texts) {
            let want_lines = text.split(|&b| b == b'\n').count()
                - usize::from(text.is_empty() || text.ends_with(b"\n"));
            prop_assert_eq!(stats.lines, want_lines as u64);
            prop_assert_eq!(
                stats.lines,
                stats.rules + stats.comments + stats.blank + stats.skipped_total()
            );
        }

        let tags: Vec<String> = tags.into_iter().map(str::to_string).collect();
        // Names taken from the lists themselves reach the index and the prefilters.
        let from_lines = texts.iter().flat_map(|t| {
            String::from_utf8_lossy(t)
                .split(|c: char| !(c.is_alphanumeric() || "._-".contains(c)))
                .filter(|w| !w.is_empty())
                .flat_map(|w| [w.to_string(), format!("www.{w}")])
                .collect::<Vec<_>>()
        });
        let derived = from_lines.map(|n| (n, RecordType::A, None));
        for (name, qtype, ip) in queries.into_iter().chain(derived) {
            let mut req = Request::new(&name, qtype).client_tags(&tags);
            if let Some(ip) = ip {
                req = req.client_ip(ip);
            }
            if let Some(n) = client_name {
                req = req.client_name(n);
            }
            let v = rules.check(&req, &ListMask::ALL);
            assert_well_formed(&rules, &ListMask::ALL, &v);
            // Names compare case-insensitively and without the trailing dot.
            if name.is_ascii() && !name.ends_with('.') {
                let upper = name.to_ascii_uppercase();
                let dotted = format!("{name}.");
                prop_assert_eq!(&rules.check(&Request { name: &upper, ..req }, &ListMask::ALL), &v);
                prop_assert_eq!(&rules.check(&Request { name: &dotted, ..req }, &ListMask::ALL), &v);
            }
            prop_assert_eq!(rules.check(&req, &ListMask::none()), Verdict::not_found());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Completeness.

proptest! {
    #![proptest_config(config(96))]

    /// Every listed name is blocked by its own line, in all three syntaxes.
    #[test]
    fn listed_names_are_blocked(
        names in vec(domain(), 1..40),
        bits in any::<u64>(),
        dot in any::<bool>(),
        crlf in any::<bool>(),
        qtype in qtype(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let hosts: String = names.iter().map(|n| format!("0.0.0.0 {n}{eol}")).collect();
        let domains: String = names.iter().map(|n| format!("{n}{eol}")).collect();
        let adblock: String = names.iter().map(|n| format!("||{n}^{eol}")).collect();
        let (rules, ids) = build(&[hosts, domains, adblock]);
        for (id, (_, _, stats)) in ids.iter().zip(rules.lists()) {
            prop_assert_eq!(stats.rules, names.len() as u64, "list {:?}", id);
        }

        for name in &names {
            let query = format!("{}{}", recase(name, bits), if dot { "." } else { "" });
            let req = Request::new(&query, qtype);
            let decided_by = |mask: &ListMask| {
                let v = rules.check(&req, mask);
                assert_well_formed(&rules, mask, &v);
                assert_eq!(v.reason, Reason::FilteredBlockList, "{query} in {mask:?}");
                assert!(v.ip_addrs.is_empty());
                rules.rule_text(v.rules[0].rule).to_string()
            };
            prop_assert_eq!(decided_by(&only(ids[0])), format!("0.0.0.0 {name}"));
            prop_assert_eq!(decided_by(&only(ids[1])), name.clone());
            // `||p^` of a listed parent covers the name too; the first one written wins.
            let first = names
                .iter()
                .find(|p| *p == name || name.ends_with(&format!(".{p}")))
                .unwrap();
            let adblock_rule = format!("||{first}^");
            prop_assert_eq!(decided_by(&only(ids[2])), adblock_rule.clone());
            // Network rules outrank host rules.
            prop_assert_eq!(decided_by(&ListMask::ALL), adblock_rule);
        }
    }

    /// Names listed with capitals are found in lowercase, and the other way round.
    #[test]
    fn list_case_does_not_matter(name in domain(), bits in any::<u64>(), qbits in any::<u64>()) {
        let written = recase(&name, bits);
        let (rules, _) = build(&[
            format!("0.0.0.0 {written}\n"),
            format!("{written}\n"),
            format!("||{written}^\n"),
        ]);
        let query = recase(&name, qbits);
        for (i, (id, _, _)) in rules.lists().enumerate() {
            let v = rules.check(&Request::new(&query, RecordType::A), &only(id));
            prop_assert_eq!(v.reason, Reason::FilteredBlockList, "list {}", i);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Suffix semantics.

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn adblock_rules_cover_subdomains_only(
        d in domain(),
        xs in vec(query_label(), 1..3),
        qtype in qtype(),
    ) {
        let (rules, _) = build(&[format!("||{d}^\n")]);
        let x = xs.join(".");
        let reason = |q: &str| rules.check(&Request::new(q, qtype), &ListMask::ALL).reason;
        prop_assert_eq!(reason(&d), Reason::FilteredBlockList);
        prop_assert_eq!(reason(&format!("{x}.{d}")), Reason::FilteredBlockList);
        prop_assert_eq!(reason(&format!("{x}{d}")), Reason::NotFilteredNotFound);
        prop_assert_eq!(reason(&format!("{d}.{x}")), Reason::NotFilteredNotFound);
        prop_assert_eq!(reason(&format!("{d}{x}")), Reason::NotFilteredNotFound);
    }

    #[test]
    fn host_and_domain_lines_cover_the_exact_name(
        d in domain(),
        xs in vec(query_label(), 1..3),
        ip in select(vec!["0.0.0.0", "127.0.0.1", "::", "::1"]),
        qtype in qtype(),
    ) {
        let (rules, ids) = build(&[format!("{ip} {d}\n"), format!("{d}\n")]);
        let x = xs.join(".");
        for id in ids {
            let reason = |q: &str| rules.check(&Request::new(q, qtype), &only(id)).reason;
            prop_assert_eq!(reason(&d), Reason::FilteredBlockList);
            prop_assert_eq!(reason(&format!("{x}.{d}")), Reason::NotFilteredNotFound);
            prop_assert_eq!(reason(&format!("{x}{d}")), Reason::NotFilteredNotFound);
            prop_assert_eq!(reason(&format!("{d}.{x}")), Reason::NotFilteredNotFound);
        }
    }
}

/// AdGuard's meaning of an adblock pattern for a host name, as a regular expression:
/// `||` is the start of the name or of a label, `|` an anchor, `^` a separator or the
/// end, `*` anything (urlfilter `patternToRegexp`, hostname form).
fn adguard_regex(pattern: &str) -> regex::Regex {
    let (start, body) = if let Some(rest) = pattern.strip_prefix("||") {
        (r"^([a-z0-9-_.]+\.)?", rest)
    } else if let Some(rest) = pattern.strip_prefix('|') {
        ("^", rest)
    } else {
        ("", pattern)
    };
    let (body, end) = match body.strip_suffix('|') {
        Some(b) => (b, "$"),
        None => (body, ""),
    };
    let mut re = String::from(start);
    for c in body.chars() {
        match c {
            '*' => re.push_str(".*"),
            '^' => re.push_str(r"([^ a-zA-Z0-9.%_\-]|$)"),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(end);
    regex::Regex::new(&re).unwrap()
}

proptest! {
    #![proptest_config(config(256))]

    /// Wildcard patterns, whether the index or the glob matcher handles them, match the
    /// host names AdGuard's regular expression matches, and no others.
    #[test]
    fn patterns_match_as_adguards_regex(
        start in select(vec!["", "|", "||"]),
        body in vec(select(vec!["a", "b", "ab", "a.b", ".", "-", "_", "*", "^"]), 1..6),
        end in select(vec!["", "|"]),
        // Names as a DNS message can carry them: no empty label.
        names in vec(vec("[ab_-]{1,3}", 1..4).prop_map(|l| l.join(".")), 1..16),
    ) {
        let pattern = format!("{start}{}{end}", body.concat());
        // Only adblock-style rules: a bare domain is a domain-only line, and a pattern
        // too wide to accept is not a rule at all.
        if !matches!(parse_line(&pattern), Line::Network { .. }) {
            return Ok(());
        }
        let rules = RuleSet::from_rules("patterns", &pattern);
        if rules.rule_count() == 0 {
            return Ok(());
        }
        let re = adguard_regex(&pattern);
        for name in &names {
            let v = rules.check(&Request::new(name, RecordType::A), &ListMask::ALL);
            prop_assert_eq!(
                v.reason == Reason::FilteredBlockList,
                re.is_match(name),
                "{:?} vs {:?} (regex {})", pattern, name, re.as_str()
            );
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Spellings of one rule that AdGuard treats alike decide alike, whichever matcher
    /// Ward picks for each (name index, indexed rule with modifiers, glob, regex).
    #[test]
    fn equivalent_spellings_agree(
        d in domain(),
        xs in vec(query_label(), 0..3),
        joiner in select(vec![".", "", "-"]),
        tail in select(vec!["", ".x", "x"]),
        qtype in select(vec![RecordType::A, RecordType::AAAA, RecordType::HTTPS]),
    ) {
        let x = xs.join(".");
        let query = if x.is_empty() { format!("{d}{tail}") } else { format!("{x}{joiner}{d}{tail}") };
        let re = regex::escape(&d);
        let suffix = [
            format!("||{d}^"),
            format!("||{}^", d.to_ascii_uppercase()),
            format!("||{d}|"),
            format!("||{d}^|"),
            format!("||{d}^*"),
            format!("||{d}^$important"),
            format!("||{d}^$dnstype=~SOA"),
            format!("||{d}^$client=~'nobody'"),
            format!("||{d}^$ctag=~user_child"),
            format!("/^([a-z0-9_.-]+\\.)?{re}$/"),
        ];
        let exact = [
            format!("0.0.0.0 {d}"),
            format!("127.0.0.1 {d}"),
            format!(":: {d}"),
            d.clone(),
            d.to_ascii_uppercase(),
            format!("|{d}^"),
            format!("|{d}|"),
            format!("|{d}^$dnstype=~SOA"),
            format!("/^{re}$/"),
        ];
        for family in [&suffix[..], &exact[..]] {
            let decisions: Vec<(String, Reason)> = family
                .iter()
                .map(|rule| {
                    let rules = RuleSet::from_rules("one", rule);
                    assert_eq!(rules.rule_count(), 1, "{rule}");
                    (rule.clone(), rules.check(&Request::new(&query, qtype), &ListMask::ALL).reason)
                })
                .collect();
            let first = decisions[0].1;
            for (rule, reason) in &decisions {
                prop_assert_eq!(*reason, first, "{} vs {} on {}: {:?}", rule, &decisions[0].0, &query, &decisions);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// List masks.

proptest! {
    #![proptest_config(config(128))]

    /// Checking with a mask gives exactly the verdict of a rule set whose other lists
    /// are empty: a list outside the mask never decides, never unblocks, never disables
    /// a rule with `$badfilter` and never adds a rewrite.
    #[test]
    fn lists_outside_the_mask_change_nothing(
        lists in vec(vec(rule_line(), 0..12), 1..5),
        in_mask in vec(any::<bool>(), 5),
        queries in vec((query(), qtype(), client_ip()), 1..16),
    ) {
        let texts: Vec<String> = lists.iter().map(|l| l.join("\n")).collect();
        let (full, ids) = build(&texts);
        let mask: ListMask = ids.iter().copied().filter(|id| in_mask[usize::from(id.0)]).collect();
        let masked_texts: Vec<String> = texts
            .iter()
            .zip(&ids)
            .map(|(t, id)| if mask.contains(*id) { t.clone() } else { String::new() })
            .collect();
        let (reduced, _) = build(&masked_texts);

        for (name, qtype, ip) in &queries {
            let mut req = Request::new(name, *qtype).client_name("laptop");
            if let Some(ip) = ip {
                req = req.client_ip(*ip);
            }
            let v = full.check(&req, &mask);
            assert_well_formed(&full, &mask, &v);
            prop_assert_eq!(&v, &reduced.check(&req, &ListMask::ALL), "{:?} {:?}", name, texts);
        }
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// Every list id up to `MAX_LISTS` has its own bit in a mask.
    #[test]
    fn masks_reach_every_list(
        in_mask in vec(any::<bool>(), ward_rules::MAX_LISTS),
        probes in vec(0..ward_rules::MAX_LISTS, 1..32),
    ) {
        let texts: Vec<String> = (0..ward_rules::MAX_LISTS)
            .map(|i| format!("||n{i}.test^\n0.0.0.0 h{i}.test\n"))
            .collect();
        let (rules, ids) = build(&texts);
        let mask: ListMask = ids.iter().copied().filter(|id| in_mask[usize::from(id.0)]).collect();
        for i in probes {
            for name in [format!("x.n{i}.test"), format!("h{i}.test")] {
                let v = rules.check(&Request::new(&name, RecordType::A), &mask);
                if in_mask[i] {
                    prop_assert_eq!(v.reason, Reason::FilteredBlockList);
                    prop_assert_eq!(v.rules[0].rule.list, ids[i]);
                } else {
                    prop_assert_eq!(v.reason, Reason::NotFilteredNotFound);
                }
            }
        }
    }
}

#[test]
fn lists_beyond_the_maximum_are_refused() {
    let mut b = RuleSet::builder();
    for i in 0..ward_rules::MAX_LISTS {
        b.add_list(format!("list{i}"), "").unwrap();
    }
    assert!(b.add_list("one too many", "||x.test^").is_err());
    assert_eq!(b.build().lists().count(), ward_rules::MAX_LISTS);
}
