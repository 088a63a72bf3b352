//! Fuzzes the whole path a filter list takes: parsing lines, compiling lists into one
//! index, and deciding queries, alone and layered with a policy's custom rules.
//!
//! Input layout: list text, then a 0x00 byte, then query lines. Inside the list part a
//! 0x01 byte starts another list (at most 8). Each query line's first byte picks the
//! query type and client address; the rest is the name. Besides those queries, words of
//! the list lines themselves are queried (as written, with `www.`, upper-cased with a
//! trailing dot), so the fuzzer reaches the index and the literal prefilter without
//! having to guess a matching name.
//!
//! Beyond "does not panic", it asserts what must hold for any input: every line is
//! counted once, a verdict's rules are real rule lines of lists in the mask, a verdict
//! agrees with its reason, and neither the case of a name nor its trailing dot matters.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use ward_rules::{
    Layer, Line, ListId, ListMask, Reason, RecordType, Request, RuleSet, Verdict, check, parse_line,
};

const QTYPES: [RecordType; 8] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::HTTPS,
    RecordType::TXT,
    RecordType::MX,
    RecordType::CNAME,
    RecordType::PTR,
    RecordType::SRV,
];

fn client(sel: u8) -> Option<IpAddr> {
    match sel % 6 {
        0 => None,
        1 => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        2 => Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))),
        3 => Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        4 => Some(IpAddr::V6(Ipv4Addr::new(192, 168, 1, 1).to_ipv6_mapped())),
        _ => Some(IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1))),
    }
}

/// Lines as `RuleSet` counts them: split on `\n`, no line after a final newline.
fn line_count(text: &[u8]) -> u64 {
    let pieces = text.split(|&b| b == b'\n').count();
    (pieces - usize::from(text.is_empty() || text.ends_with(b"\n"))) as u64
}

/// Resolves every rule of the verdict and checks that the verdict is well formed.
fn verify(layers: &[Layer<'_>], v: &Verdict) {
    for m in &v.rules {
        let layer = layers[m.layer];
        assert!(
            layer.mask.contains(m.rule.list),
            "rule outside the mask: {v:?}"
        );
        let text = layer.rules.rule_text(m.rule);
        let line = layer.rules.rule_line(m.rule) as u64;
        let (_, _, stats) = layer
            .rules
            .lists()
            .nth(usize::from(m.rule.list.0))
            .expect("the rule's list exists");
        assert!(line >= 1 && line <= stats.lines, "line {line} of {stats:?}");
        assert!(
            !matches!(
                parse_line(text),
                Line::Blank | Line::Comment | Line::Skipped(_)
            ),
            "a line that is not a rule decided: {text:?}"
        );
    }
    let consistent = match v.reason {
        Reason::NotFilteredNotFound => {
            v.rules.is_empty() && v.ip_addrs.is_empty() && v.rewrite.is_none()
        }
        Reason::NotFilteredAllowList | Reason::FilteredBlockList => {
            !v.rules.is_empty() && v.rewrite.is_none()
        }
        Reason::RewrittenRule => !v.rules.is_empty() && v.rewrite.is_some(),
        // A policy's reasons: a rule set alone never gives them.
        Reason::FilteredBlockedService | Reason::FilteredSafeSearch | Reason::FilteredSchedule => {
            false
        }
    };
    assert!(consistent, "{v:?}");
}

fuzz_target!(|data: &[u8]| {
    let (list_part, query_part) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let texts: Vec<&[u8]> = list_part.split(|&b| b == 1).take(8).collect();

    for text in &texts {
        for line in text.split(|&b| b == b'\n') {
            if let Ok(line) = std::str::from_utf8(line) {
                let _ = parse_line(line);
            }
        }
    }

    let mut builder = RuleSet::builder();
    for (i, text) in texts.iter().enumerate() {
        builder
            .add_list(format!("list{i}"), text.to_vec())
            .expect("at most 8 lists");
    }
    let rules = builder.build();
    for ((_, _, stats), text) in rules.lists().zip(&texts) {
        assert_eq!(stats.lines, line_count(text), "{stats:?}");
        assert_eq!(
            stats.lines,
            stats.rules + stats.comments + stats.blank + stats.skipped_total(),
            "{stats:?}"
        );
    }
    // The first list once more, as a policy's custom rules over the others.
    let custom = RuleSet::from_rules("custom", &String::from_utf8_lossy(texts[0]));

    let mask_bits = data.first().copied().unwrap_or(u8::MAX);
    let mask: ListMask = (0..texts.len())
        .filter(|i| mask_bits & (1 << i) != 0)
        .map(|i| ListId(i as u16))
        .collect();

    let mut queries: Vec<(String, RecordType, Option<IpAddr>)> = Vec::new();
    for line in query_part.split(|&b| b == b'\n').take(16) {
        let (sel, name) = line.split_first().map_or((0, line), |(s, n)| (*s, n));
        queries.push((
            String::from_utf8_lossy(name).into_owned(),
            QTYPES[usize::from(sel % 8)],
            client(sel / 8),
        ));
    }
    for text in &texts {
        let text = String::from_utf8_lossy(text);
        let words = text
            .split(|c: char| !(c.is_alphanumeric() || "._-".contains(c)))
            .filter(|w| !w.is_empty())
            .take(24);
        for word in words {
            queries.push((word.to_string(), RecordType::A, None));
            queries.push((format!("www.{word}"), RecordType::AAAA, client(2)));
            queries.push((
                format!("{}.", word.to_uppercase()),
                RecordType::HTTPS,
                client(4),
            ));
        }
    }

    let tags = ["device_pc".to_string()];
    for (name, qtype, ip) in &queries {
        let mut req = Request::new(name, *qtype)
            .client_name("laptop")
            .client_tags(&tags);
        if let Some(ip) = ip {
            req = req.client_ip(*ip);
        }
        let all = ListMask::ALL;
        let full = rules.check(&req, &all);
        verify(
            &[Layer {
                rules: &rules,
                mask: &all,
            }],
            &full,
        );

        let masked = rules.check(&req, &mask);
        verify(
            &[Layer {
                rules: &rules,
                mask: &mask,
            }],
            &masked,
        );

        let layers = [
            Layer {
                rules: &custom,
                mask: &all,
            },
            Layer {
                rules: &rules,
                mask: &mask,
            },
        ];
        verify(&layers, &check(&layers, &req));

        if name.is_ascii() && !name.ends_with('.') {
            let upper = name.to_ascii_uppercase();
            let dotted = format!("{name}.");
            assert_eq!(
                rules.check(
                    &Request {
                        name: &upper,
                        ..req
                    },
                    &all
                ),
                full
            );
            assert_eq!(
                rules.check(
                    &Request {
                        name: &dotted,
                        ..req
                    },
                    &all
                ),
                full
            );
        }
    }
});
