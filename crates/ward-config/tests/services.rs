//! The blocked-services catalogue (`blocklists/services/`): every file is well formed, its
//! id and category are ones a config may name, and every rule compiles as Ward compiles
//! lists, with no line skipped.

use std::collections::HashSet;

use ward_config::services::{self, CATEGORIES};
use ward_rules::RuleSet;

#[test]
fn every_service_file_parses_and_names_a_known_category() {
    let all = services::load().expect("every service file parses");
    assert_eq!(all, services::all());
    assert!(all.len() >= 120, "{} services", all.len());
    let mut names = HashSet::new();
    for s in &all {
        assert!(
            !s.id.is_empty()
                && s.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{}: ids are lowercase, digits and _ (AdGuard Home's form)",
            s.id
        );
        assert!(
            CATEGORIES.contains(&s.category.as_str()),
            "{}: category {}",
            s.id,
            s.category
        );
        assert!(!s.name.trim().is_empty(), "{}: no name", s.id);
        assert!(
            names.insert(s.name.to_lowercase()),
            "{}: a second service named {}",
            s.id,
            s.name
        );
        assert!(!s.rules.is_empty(), "{}: no rules", s.id);
        let unique: HashSet<&String> = s.rules.iter().collect();
        assert_eq!(unique.len(), s.rules.len(), "{}: a rule given twice", s.id);
        for rule in &s.rules {
            assert!(
                rule.starts_with("||") && rule.ends_with('^') && !rule.contains('$'),
                "{}: {rule:?} is not a ||domain^ rule",
                s.id
            );
        }
    }
    assert!(services::get("tiktok").is_some_and(|s| s.category == "social"));
    assert!(services::get("youtube").is_some_and(|s| s.category == "video"));
    assert!(services::get("no_such_service").is_none());
    // AdGuard Home's ids for the services a household asks about first.
    for id in [
        "instagram",
        "facebook",
        "snapchat",
        "whatsapp",
        "twitch",
        "discord",
        "netflix",
        "roblox",
        "fortnite",
        "steam",
        "reddit",
        "twitter",
    ] {
        assert!(services::get(id).is_some(), "no service {id}");
    }
}

#[test]
fn every_services_rules_compile_with_no_line_skipped() {
    for s in services::all() {
        let mut builder = RuleSet::builder();
        builder
            .add_list(s.id.clone(), s.rules.join("\n").into_bytes())
            .unwrap();
        let rules = builder.build();
        let (_, _, stats) = rules.lists().next().unwrap();
        assert_eq!(stats.skipped_total(), 0, "{}: {stats:?}", s.id);
        assert_eq!(stats.rules, s.rules.len() as u64, "{}: {stats:?}", s.id);
    }
}
