//! Adblock-style patterns: their shape, a matcher, and the literal a prefilter can use.
//!
//! AdGuard turns a pattern into a regular expression (`||` = start of the name or of a
//! label, `^` = a separator or the end, `*` = anything, `|` = an anchor) and matches it
//! against the name, or against `http://name` for `||` rules. Ward sorts patterns by
//! shape instead, like globset does: `||example.org^` is a domain suffix and `|x^` an
//! exact name, both looked up in a hash index; the rest are matched by [`Glob`] below,
//! which implements the same semantics without a regex engine, behind an Aho-Corasick
//! prefilter on their longest literal. `/regex/` rules use the regex crate.

use regex::Regex;
use regex_syntax::hir::{Hir, HirKind};

/// Where a pattern may match, once classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape<'a> {
    /// The name and all its subdomains (`||example.org^`, `||example.org|`).
    Suffix(&'a str),
    /// Exactly the name (`|example.org^`, `|example.org|`).
    Exact(&'a str),
    /// Anything else: a [`Glob`].
    General,
}

/// Whether `d` is a name an index lookup can find: host characters, no empty label.
fn is_clean_domain(d: &str) -> bool {
    !d.is_empty()
        && d.bytes().all(crate::name::is_host_byte)
        && !d.starts_with('.')
        && !d.ends_with('.')
        && !d.contains("..")
}

fn strip_terminator(s: &str) -> Option<&str> {
    s.strip_suffix("^|")
        .or_else(|| s.strip_suffix('^'))
        .or_else(|| s.strip_suffix('|'))
}

/// Classifies a lowercased pattern. For the names Ward looks up (host characters only)
/// the index shapes match exactly what AdGuard's regular expression would.
pub(crate) fn shape(pattern: &str) -> Shape<'_> {
    if let Some(rest) = pattern.strip_prefix("||") {
        if let Some(d) = strip_terminator(rest).filter(|d| is_clean_domain(d)) {
            return Shape::Suffix(d);
        }
    } else if let Some(rest) = pattern.strip_prefix('|') {
        if let Some(d) = strip_terminator(rest).filter(|d| is_clean_domain(d)) {
            return Shape::Exact(d);
        }
    }
    Shape::General
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(Box<[u8]>),
    /// `^`: one separator character, or the end of the name.
    Separator,
    /// `*`: any run of characters.
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anchor {
    /// Anywhere in the name.
    Anywhere,
    /// `|`: at the start.
    Head,
    /// `||`: at the start or at the start of a label.
    Label,
}

/// A general adblock pattern, matched with AdGuard's semantics.
#[derive(Clone, Debug)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
    start: Anchor,
    /// `|` at the end.
    end: bool,
    /// The pattern is matched against `http://name` (it starts with a scheme), as
    /// AdGuard does for such patterns.
    url: bool,
}

/// AdGuard's separator class: anything but a letter, a digit, or one of ` .%_-`.
fn is_separator(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || matches!(b, b' ' | b'.' | b'%' | b'_' | b'-'))
}

impl Glob {
    /// Compiles a lowercased pattern (not a `/regex/`).
    pub fn new(pattern: &str) -> Glob {
        let url = ["http://", "https://", "://"]
            .iter()
            .any(|p| pattern.starts_with(p))
            || is_slash_host_dot(pattern);
        let (start, mut body) = if let Some(rest) = pattern.strip_prefix("||") {
            (Anchor::Label, rest)
        } else if let Some(rest) = pattern.strip_prefix('|') {
            (Anchor::Head, rest)
        } else {
            (Anchor::Anywhere, pattern)
        };
        let mut end = false;
        if let Some(rest) = body.strip_suffix('|') {
            end = true;
            body = rest;
        }
        let mut tokens = Vec::new();
        let mut literal = Vec::new();
        for &b in body.as_bytes() {
            let token = match b {
                b'*' => Token::Any,
                b'^' => Token::Separator,
                _ => {
                    literal.push(b);
                    continue;
                }
            };
            if !literal.is_empty() {
                tokens.push(Token::Literal(
                    std::mem::take(&mut literal).into_boxed_slice(),
                ));
            }
            tokens.push(token);
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal.into_boxed_slice()));
        }
        Glob {
            tokens,
            start,
            end,
            url,
        }
    }

    /// The longest literal every match contains, if it is worth a prefilter (two bytes
    /// or more, and found in the name itself rather than in `http://`).
    pub fn required_literal(&self) -> Option<&[u8]> {
        if self.url {
            return None;
        }
        self.tokens
            .iter()
            .filter_map(|t| match t {
                Token::Literal(l) => Some(&l[..]),
                _ => None,
            })
            .max_by_key(|l| l.len())
            .filter(|l| l.len() > 1)
    }

    /// Whether the pattern matches `name` (lowercase).
    pub fn is_match(&self, name: &[u8]) -> bool {
        if self.url {
            let mut url = Vec::with_capacity(name.len() + 7);
            url.extend_from_slice(b"http://");
            url.extend_from_slice(name);
            return self.matches_in(&url);
        }
        self.matches_in(name)
    }

    fn matches_in(&self, s: &[u8]) -> bool {
        match self.start {
            Anchor::Head => self.matches_at(s),
            Anchor::Anywhere => {
                if matches!(self.tokens.first(), Some(Token::Any)) {
                    return self.matches_at(s);
                }
                (0..=s.len()).any(|at| self.matches_at(&s[at..]))
            }
            Anchor::Label => {
                // `||` is `^([a-z0-9-_.]+\.)?` in AdGuard's regex: the start, or after
                // a dot when everything before it is host characters.
                if self.matches_at(s) {
                    return true;
                }
                for at in 1..s.len() {
                    if !crate::name::is_host_byte(s[at - 1]) {
                        return false;
                    }
                    // `[a-z0-9-_.]+\.`: at least one character before the dot.
                    if at >= 2 && s[at - 1] == b'.' && self.matches_at(&s[at..]) {
                        return true;
                    }
                }
                false
            }
        }
    }

    /// Matches the tokens at the start of `s`: wildcard matching with one backtrack
    /// point (the last `*`), linear in practice, never exponential.
    fn matches_at(&self, s: &[u8]) -> bool {
        let tokens = &self.tokens;
        let (mut t, mut i) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        loop {
            if t == tokens.len() {
                if !self.end || i == s.len() {
                    return true;
                }
            } else {
                let advanced = match &tokens[t] {
                    Token::Any => {
                        backtrack = Some((t + 1, i));
                        t += 1;
                        continue;
                    }
                    Token::Literal(l) => s[i..].starts_with(l).then_some(l.len()),
                    Token::Separator if i == s.len() => Some(0),
                    Token::Separator => is_separator(s[i]).then_some(1),
                };
                if let Some(n) = advanced {
                    i += n;
                    t += 1;
                    continue;
                }
            }
            match backtrack {
                Some((bt, bi)) if bi < s.len() => {
                    backtrack = Some((bt, bi + 1));
                    t = bt;
                    i = bi + 1;
                }
                _ => return false,
            }
        }
    }
}

/// AdGuard matches `/host.` patterns of plain host characters against the URL, so that
/// `/ads.` finds `ads.` at the start of the host (urlfilter `shouldMatchHostname`).
fn is_slash_host_dot(p: &str) -> bool {
    p.len() > 3
        && p.starts_with('/')
        && p.ends_with('.')
        && p[1..p.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// A `/regex/` rule.
#[derive(Clone, Debug)]
pub(crate) struct RegexPattern {
    regex: Regex,
    literal: Option<Box<[u8]>>,
}

impl RegexPattern {
    /// Compiles the text between the slashes, case-insensitively as AdGuard does.
    pub fn new(expr: &str) -> Option<RegexPattern> {
        let regex = regex::RegexBuilder::new(expr)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .ok()?;
        let literal = regex_syntax::parse(expr)
            .ok()
            .and_then(|hir| required_literal(&hir))
            .filter(|l| l.len() > 1 && l.is_ascii())
            .map(|l| l.to_ascii_lowercase().into_boxed_slice());
        Some(RegexPattern { regex, literal })
    }

    pub fn required_literal(&self) -> Option<&[u8]> {
        self.literal.as_deref()
    }

    pub fn is_match(&self, name: &[u8]) -> bool {
        std::str::from_utf8(name).is_ok_and(|s| self.regex.is_match(s))
    }
}

/// The longest literal that every match of `hir` contains: literals of a concatenation
/// at the top (or inside groups and `+` repetitions) are required; anything under an
/// alternation or an optional repetition is not.
fn required_literal(hir: &Hir) -> Option<Vec<u8>> {
    match hir.kind() {
        HirKind::Literal(lit) => Some(lit.0.to_vec()),
        HirKind::Capture(cap) => required_literal(&cap.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => required_literal(&rep.sub),
        HirKind::Concat(subs) => {
            // Adjacent literals join into one longer required literal.
            let mut best: Option<Vec<u8>> = None;
            let mut run: Vec<u8> = Vec::new();
            let consider = |cand: Vec<u8>, best: &mut Option<Vec<u8>>| {
                if best.as_ref().is_none_or(|b| cand.len() > b.len()) {
                    *best = Some(cand);
                }
            };
            for sub in subs {
                if let HirKind::Literal(lit) = sub.kind() {
                    run.extend_from_slice(&lit.0);
                    continue;
                }
                if !run.is_empty() {
                    consider(std::mem::take(&mut run), &mut best);
                }
                if let Some(inner) = required_literal(sub) {
                    consider(inner, &mut best);
                }
            }
            if !run.is_empty() {
                consider(run, &mut best);
            }
            best
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(shape("||example.org^"), Shape::Suffix("example.org"));
        assert_eq!(shape("||example.org|"), Shape::Suffix("example.org"));
        assert_eq!(shape("||example.org^|"), Shape::Suffix("example.org"));
        assert_eq!(shape("|example.org^"), Shape::Exact("example.org"));
        assert_eq!(shape("||example.org"), Shape::General);
        assert_eq!(shape("||*.example.org^"), Shape::General);
        assert_eq!(shape("example.org^"), Shape::General);
        assert_eq!(shape("||.example.org^"), Shape::General);
    }

    #[test]
    fn globs() {
        let table: &[(&str, &str, bool)] = &[
            ("||example.org", "example.org", true),
            ("||example.org", "a.example.organic.net", true),
            ("||example.org", "notexample.org", false),
            ("||example.org", ".example.org", false),
            ("||example.org", "a..example.org", true),
            ("||ads*.example^", "ads1.cdn.example", true),
            ("||ads*.example^", "x.ads1.cdn.example", true),
            ("||ads*.example^", "xads1.cdn.example", false),
            ("example", "my-example-site.org", true),
            ("example^", "a.example", true),
            ("example^", "example.org", false),
            ("|ads.", "ads.example.org", true),
            ("|ads.", "x.ads.example.org", false),
            ("org|", "example.org", true),
            ("org|", "example.org.net", false),
            ("ad*ex", "adindex.org", true),
            (
                "a*b*c*d*e*f",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                false,
            ),
            ("://ads.", "ads.example.org", true),
            ("://ads.", "x.ads.example.org", false),
            ("/ads.", "ads.example.org", true),
            ("/ads.", "x.ads.example.org", false),
            ("1.1.104.12", "21.1.104.123", true),
        ];
        for (pattern, name, want) in table {
            let glob = Glob::new(pattern);
            assert_eq!(glob.is_match(name.as_bytes()), *want, "{pattern} vs {name}");
        }
    }

    #[test]
    fn regex_literals() {
        let lit = |e: &str| {
            RegexPattern::new(e)
                .unwrap()
                .required_literal()
                .map(|l| l.to_vec())
        };
        assert_eq!(
            lit(r"^ads?\d+\.tracker\.com$"),
            Some(b".tracker.com".to_vec())
        );
        assert_eq!(lit(r"(ads|track)er"), Some(b"er".to_vec()));
        assert_eq!(lit(r"a|bcd"), None);
        assert_eq!(lit(r"(foo)?bar"), Some(b"bar".to_vec()));
        assert_eq!(lit(r"ABC\d"), Some(b"abc".to_vec()));
    }
}
