//! One list line -> what kind of rule it is, without allocating.
//!
//! The order of the checks is AdGuard's (urlfilter `NewRule`): comment, cosmetic rule,
//! hosts / domain-only line, and only then an adblock-style network rule.

use std::fmt;
use std::net::IpAddr;

use crate::name::is_domain_name;

/// Why a line produced no rule. Every skipped line is counted under one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SkipReason {
    /// An element-hiding, CSS, scriptlet or HTML rule (`##`, `#@#`, `#$#`, `$$`, ...):
    /// browsers apply them, DNS cannot.
    Cosmetic,
    /// A network rule with a modifier that is not a DNS modifier (`$third-party`,
    /// `$domain=`, `$script`, `$all`, ...): AdGuard Home ignores the whole rule.
    UnsupportedModifier,
    /// A DNS modifier with a value that does not parse (`$dnstype=BOGUS`).
    InvalidModifier,
    /// A pattern that would match nearly every name (`*`, `||`, or under three
    /// characters) without a `$client`, `$ctag`, `$dnstype` or `$denyallow` to narrow it.
    TooWide,
    /// A `/regex/` that is not valid RE2 syntax.
    InvalidRegex,
    /// A pattern that no DNS name can match: it contains a space or a control character,
    /// or it is longer than [`MAX_PATTERN_LEN`].
    InvalidPattern,
    /// A line that is not valid UTF-8.
    InvalidUtf8,
}

impl SkipReason {
    /// Every reason, in the order reports print them.
    pub const ALL: [SkipReason; 7] = [
        SkipReason::Cosmetic,
        SkipReason::UnsupportedModifier,
        SkipReason::InvalidModifier,
        SkipReason::TooWide,
        SkipReason::InvalidRegex,
        SkipReason::InvalidPattern,
        SkipReason::InvalidUtf8,
    ];

    /// A short stable name for reports and JSON (`unsupported_modifier`).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Cosmetic => "cosmetic",
            SkipReason::UnsupportedModifier => "unsupported_modifier",
            SkipReason::InvalidModifier => "invalid_modifier",
            SkipReason::TooWide => "too_wide",
            SkipReason::InvalidRegex => "invalid_regex",
            SkipReason::InvalidPattern => "invalid_pattern",
            SkipReason::InvalidUtf8 => "invalid_utf8",
        }
    }

    pub(crate) fn index(self) -> usize {
        SkipReason::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one list line is. Borrowed from the line: parsing allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// Empty or only whitespace.
    Blank,
    /// `! ...`, `# ...`, or a `[Adblock Plus 2.0]` header.
    Comment,
    /// Not a rule Ward can apply, with the reason.
    Skipped(SkipReason),
    /// A hosts-file line: an address and the names (whitespace separated, comment
    /// removed) it applies to.
    Hosts {
        /// The address: unspecified or loopback blocks, any other is the answer.
        ip: IpAddr,
        /// The names, separated by spaces or tabs.
        names: &'a str,
    },
    /// A domain-only line: blocks exactly this name.
    Domain(&'a str),
    /// An adblock-style rule, split into its parts.
    Network {
        /// `@@`: an exception.
        allow: bool,
        /// The pattern, `||example.org^` or `/regex/`.
        pattern: &'a str,
        /// The text after the options `$`, empty when there is none.
        options: &'a str,
    },
}

/// The longest pattern (the rule without `@@` and its `$` options) a list line may have.
/// A DNS name has at most 253 characters, so a longer pattern can only match through
/// wildcards or regex repetition, and one four times that long matches nothing real. The
/// cap keeps compile time linear in a list's size: the prefilter's automaton over one
/// 20,000-byte literal took seconds to build.
pub const MAX_PATTERN_LEN: usize = 1024;

/// Characters `trim` removes around a line (Go's `strings.TrimSpace`, ASCII part).
fn is_trim(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0b' | '\x0c')
}

/// Classifies one line of a filter list.
pub fn parse_line(line: &str) -> Line<'_> {
    let line = line.trim_matches(is_trim);
    if line.is_empty() {
        return Line::Blank;
    }
    if line.starts_with('!') || (line.starts_with('#') && !starts_with_marker(line)) {
        return Line::Comment;
    }
    // `[Adblock Plus 2.0]`: a list-format header, not a pattern.
    if line.starts_with('[') && line.ends_with(']') {
        return Line::Comment;
    }
    if is_cosmetic(line) {
        return Line::Skipped(SkipReason::Cosmetic);
    }
    if let Some(hosts) = parse_hosts(line) {
        return hosts;
    }
    parse_network(line)
}

/// Cosmetic markers, longest first (AdGuard's `cosmeticRulesMarkers`).
const COSMETIC_MARKERS: [&str; 12] = [
    "#@$?#", "#@?#", "#$?#", "#@$#", "#@%#", "#?#", "#@#", "#$#", "#%#", "$@$", "##", "$$",
];

fn starts_with_marker(line: &str) -> bool {
    COSMETIC_MARKERS.iter().any(|m| line.starts_with(m))
}

/// Whether the line is a cosmetic rule. As in AdGuard, only the first `#` and the
/// first `$` are looked at, and a marker after a space is a hosts-file comment.
fn is_cosmetic(line: &str) -> bool {
    let bytes = line.as_bytes();
    for first in [b'#', b'$'] {
        let Some(at) = memchr::memchr(first, bytes) else {
            continue;
        };
        if at > 0 && bytes[at - 1] == b' ' {
            continue;
        }
        if COSMETIC_MARKERS
            .iter()
            .any(|m| bytes[at..].starts_with(m.as_bytes()))
        {
            return true;
        }
    }
    false
}

fn split_ws(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    match s.find([' ', '\t']) {
        Some(end) => (&s[..end], s[end..].trim_matches([' ', '\t'])),
        None => (s, ""),
    }
}

/// A hosts line (`IP name...`) or a domain-only line, or `None` for a network rule.
fn parse_hosts(line: &str) -> Option<Line<'_>> {
    // An inline comment ends a hosts line. A `#` at the very start was a comment line.
    let text = match line.find('#') {
        Some(at) if at > 0 => line[..at].trim_end_matches([' ', '\t']),
        _ => line,
    };
    let (first, rest) = split_ws(text);
    if rest.is_empty() {
        // One word: a domain-only line if it is a domain name, else a pattern. A comment
        // after one word (`example.org # note`) keeps the word.
        return is_domain_name(first).then_some(Line::Domain(first));
    }
    let ip = parse_hosts_ip(first)?;
    Some(Line::Hosts { ip, names: rest })
}

/// Parses a hosts-file address, also with an IPv6 zone (`fe80::1%lo0`).
fn parse_hosts_ip(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    let (addr, zone) = s.split_once('%')?;
    if zone.is_empty() {
        return None;
    }
    match addr.parse() {
        Ok(IpAddr::V6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    }
}

/// Splits an adblock-style rule into exception flag, pattern and options.
fn parse_network(line: &str) -> Line<'_> {
    let (allow, rule) = match line.strip_prefix("@@") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    if rule.is_empty() {
        return Line::Skipped(SkipReason::TooWide);
    }
    // A regex rule keeps its `$`s: they belong to the expression.
    let (pattern, options) = if rule.len() > 1
        && rule.starts_with('/')
        && rule.ends_with('/')
        && !rule.contains("replace=")
    {
        (rule, "")
    } else {
        split_options(rule)
    };
    // Here, before any matcher sees it (only the options may be long: `$denyallow` and
    // `$client` lists are).
    if pattern.len() > MAX_PATTERN_LEN {
        return Line::Skipped(SkipReason::InvalidPattern);
    }
    Line::Network {
        allow,
        pattern,
        options,
    }
}

/// Finds the options delimiter: the last `$` that is not the final character and not
/// escaped as `\$` (AdGuard's `parseRuleText`).
fn split_options(rule: &str) -> (&str, &str) {
    let bytes = rule.as_bytes();
    if bytes.len() < 2 {
        return (rule, "");
    }
    let mut escaped_seen = false;
    let mut at = bytes.len() - 1;
    while at > 0 {
        at -= 1;
        if bytes[at] != b'$' {
            continue;
        }
        if !escaped_seen && at > 0 && bytes[at - 1] == b'\\' {
            escaped_seen = true;
            continue;
        }
        return (&rule[..at], &rule[at + 1..]);
    }
    (rule, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_lines() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let table: &[(&str, Line<'_>)] = &[
            ("", Line::Blank),
            ("  \t\r", Line::Blank),
            ("! comment", Line::Comment),
            ("# comment", Line::Comment),
            ("#", Line::Comment),
            ("[Adblock Plus 2.0]", Line::Comment),
            ("example.org##.banner", Line::Skipped(SkipReason::Cosmetic)),
            ("##.banner", Line::Skipped(SkipReason::Cosmetic)),
            ("example.org#@#.banner", Line::Skipped(SkipReason::Cosmetic)),
            (
                "example.org#$#body { }",
                Line::Skipped(SkipReason::Cosmetic),
            ),
            ("example.org$$script", Line::Skipped(SkipReason::Cosmetic)),
            (
                "0.0.0.0 ads.example ## phishing",
                Line::Hosts {
                    ip: ip("0.0.0.0"),
                    names: "ads.example",
                },
            ),
            (
                "0.0.0.0\tads.example\r\n",
                Line::Hosts {
                    ip: ip("0.0.0.0"),
                    names: "ads.example",
                },
            ),
            (
                "127.0.0.1 a.example b.example #c",
                Line::Hosts {
                    ip: ip("127.0.0.1"),
                    names: "a.example b.example",
                },
            ),
            (
                "fe80::1%lo0 localhost",
                Line::Hosts {
                    ip: ip("fe80::1"),
                    names: "localhost",
                },
            ),
            ("example.org", Line::Domain("example.org")),
            ("example.org # note", Line::Domain("example.org")),
            (
                "_dmarc.example.org",
                Line::Network {
                    allow: false,
                    pattern: "_dmarc.example.org",
                    options: "",
                },
            ),
            (
                "example.org.",
                Line::Network {
                    allow: false,
                    pattern: "example.org.",
                    options: "",
                },
            ),
            (
                "||example.org^",
                Line::Network {
                    allow: false,
                    pattern: "||example.org^",
                    options: "",
                },
            ),
            (
                "@@||example.org^$important",
                Line::Network {
                    allow: true,
                    pattern: "||example.org^",
                    options: "important",
                },
            ),
            (
                "/ads?[0-9]$/",
                Line::Network {
                    allow: false,
                    pattern: "/ads?[0-9]$/",
                    options: "",
                },
            ),
            (
                "||x^$dnsrewrite=a\\$b",
                Line::Network {
                    allow: false,
                    pattern: "||x^",
                    options: "dnsrewrite=a\\$b",
                },
            ),
            (
                "||x^$",
                Line::Network {
                    allow: false,
                    pattern: "||x^$",
                    options: "",
                },
            ),
            ("@@", Line::Skipped(SkipReason::TooWide)),
        ];
        for (line, want) in table {
            assert_eq!(parse_line(line), *want, "{line:?}");
        }
    }
}
