//! Nothing a config file contains can panic the parser (DESIGN.md section 7), and every
//! error of a non-empty file has a line.

use proptest::prelude::*;
use ward_config::Config;

const HOME: &str = include_str!("../../../deploy/examples/home.yaml");

fn check(text: &str) {
    if let Err(e) = Config::from_yaml(text) {
        assert!(!e.errors().is_empty());
        if !text.trim().is_empty() {
            for err in e.errors() {
                assert!(
                    err.line().is_some(),
                    "no line for {err}\n--- config:\n{text}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_does_not_panic(text in "\\PC{0,200}") {
        let _ = Config::from_yaml(&text);
    }

    #[test]
    fn yaml_shaped_text_does_not_panic(text in "([a-z_]{1,8}: ?(\\[|\\{|-|[0-9./:]{0,12}|\"[^\"]{0,6}\")?\n {0,4}){0,12}") {
        let _ = Config::from_yaml(&text);
    }

    /// The home example with one line dropped, or one line's characters swapped.
    #[test]
    fn damaged_home_example_reports_lines(line in 0usize..200, at in 0usize..80, c in "[a-z0-9:.\\[\\]{}\\-# ]") {
        let lines: Vec<&str> = HOME.lines().collect();
        let line = line % lines.len();
        let mut dropped = lines.clone();
        dropped.remove(line);
        check(&dropped.join("\n"));
        let mut changed: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        let target = &mut changed[line];
        if !target.is_empty() {
            let mut i = at % target.len();
            while !target.is_char_boundary(i) {
                i -= 1;
            }
            target.replace_range(i..i, &c);
        }
        check(&changed.join("\n"));
    }
}

#[test]
fn deep_nesting_and_alias_bombs_are_errors() {
    check(&format!("dns: {}", "[".repeat(100_000)));
    check(&format!("dns: {}{}", "[".repeat(5_000), "]".repeat(5_000)));
    check(&format!("dns: {}", "{a: ".repeat(50_000)));
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
    for i in 0..9 {
        bomb.push_str(&format!(
            "b{i}: &b{i} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
            p = if i == 0 {
                "a".to_owned()
            } else {
                format!("b{}", i - 1)
            }
        ));
    }
    check(&bomb);
}
