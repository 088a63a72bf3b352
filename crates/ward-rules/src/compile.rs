//! Compiling: list text -> index entries and complex rules, in one pass per list.
//!
//! Parsing happens in [`RuleSetBuilder::build`], once the total number of lines is known,
//! so the entry vector is allocated once at its final size and sorted in place: the peak
//! memory of a compile is the final rule set plus nothing of size.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::AhoCorasick;

use crate::error::{Error, ErrorKind};
use crate::index::{
    ALLOW, BADFILTER, COMPLEX, EXACT, Entry, HOST, IMPORTANT, NameIndex, V6, hash_key,
};
use crate::line::{Line, SkipReason, parse_line};
use crate::modifiers::{Modifiers, parse_modifiers};
use crate::name::normalize_ascii_or_idn;
use crate::pattern::{Glob, RegexPattern, Shape, shape};
use crate::ruleset::{
    ComplexKind, ComplexRule, General, Inner, List, ListId, ListStats, MAX_LISTS, Matcher,
    NetworkRule, RuleRef, RuleSet,
};

/// Collects lists for one [`RuleSet`]. Parsing happens in [`RuleSetBuilder::build`], when
/// the total size is known, so the index is allocated once.
#[derive(Debug, Default)]
pub struct RuleSetBuilder {
    lists: Vec<(String, Box<[u8]>)>,
}

impl RuleSetBuilder {
    /// Adds a list. Lines are read as AdGuard Home reads them; a bad line is counted and
    /// skipped, never an error.
    pub fn add_list(
        &mut self,
        name: impl Into<String>,
        text: impl Into<Vec<u8>>,
    ) -> Result<ListId, Error> {
        if self.lists.len() >= MAX_LISTS {
            return Err(Error::new(ErrorKind::TooManyLists { max: MAX_LISTS }));
        }
        let text: Box<[u8]> = text.into().into_boxed_slice();
        if text.len() > u32::MAX as usize {
            return Err(Error::new(ErrorKind::ListTooLarge { name: name.into() }));
        }
        self.lists.push((name.into(), text));
        Ok(ListId((self.lists.len() - 1) as u16))
    }

    /// Parses every list and builds the index.
    pub fn build(self) -> RuleSet {
        let lines: usize = self
            .lists
            .iter()
            .map(|(_, t)| memchr::memchr_iter(b'\n', t).count() + 1)
            .sum();
        let mut c = Compiler {
            entries: Vec::with_capacity(lines),
            ..Compiler::default()
        };
        let mut lists = Vec::with_capacity(self.lists.len());
        for (i, (name, text)) in self.lists.into_iter().enumerate() {
            let stats = c.compile_list(ListId(i as u16), &text);
            lists.push(List { name, text, stats });
        }
        let general = c.build_general();
        let index = NameIndex::build(c.entries);
        RuleSet {
            inner: Arc::new(Inner {
                lists,
                index,
                complex: c.complex,
                general,
            }),
        }
    }
}

#[derive(Default)]
struct Compiler {
    entries: Vec<Entry>,
    complex: Vec<ComplexRule>,
    general: Vec<u32>,
}

impl Compiler {
    fn compile_list(&mut self, list: ListId, text: &[u8]) -> ListStats {
        let mut stats = ListStats::default();
        let whole = std::str::from_utf8(text).ok();
        // A UTF-8 byte-order mark is not part of the first rule.
        let mut start = if text.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        while start < text.len() {
            let end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i);
            let rule = RuleRef {
                list,
                offset: start as u32,
            };
            stats.lines += 1;
            let line = match whole {
                Some(s) => Ok(&s[start..end]),
                None => std::str::from_utf8(&text[start..end]),
            };
            match line {
                Ok(line) => match self.compile_line(line, rule) {
                    Ok(Some(())) => stats.rules += 1,
                    Ok(None) if line.trim().is_empty() => stats.blank += 1,
                    Ok(None) => stats.comments += 1,
                    Err(reason) => stats.skip(reason),
                },
                Err(_) => stats.skip(SkipReason::InvalidUtf8),
            }
            start = end + 1;
        }
        stats
    }

    /// Compiles one line: `Ok(Some)` for a rule, `Ok(None)` for a comment or blank.
    fn compile_line(&mut self, line: &str, rule: RuleRef) -> Result<Option<()>, SkipReason> {
        match parse_line(line) {
            Line::Blank | Line::Comment => Ok(None),
            Line::Skipped(reason) => Err(reason),
            Line::Domain(name) => {
                let key = Self::host_key(name).ok_or(SkipReason::InvalidPattern)?;
                self.push_entry(key, rule, HOST | EXACT, rule.offset);
                Ok(Some(()))
            }
            Line::Hosts { ip, names } => {
                // An IPv4-mapped address (`::ffff:1.2.3.4`) is an IPv6 one, answered for
                // AAAA, as AdGuard Home answers it.
                let v6 = if ip.is_ipv6() { V6 } else { 0 };
                let blocks = ip.is_unspecified() || ip.is_loopback();
                let mut any = false;
                for name in names.split([' ', '\t']).filter(|n| !n.is_empty()) {
                    let Some(key) = Self::host_key(name) else {
                        continue;
                    };
                    any = true;
                    if blocks {
                        self.push_entry(key, rule, HOST | EXACT | v6, rule.offset);
                    } else {
                        let flags = HOST | EXACT | v6;
                        let at = self.push_complex(ComplexRule {
                            rule,
                            flags,
                            kind: ComplexKind::HostAnswer(ip),
                        });
                        self.push_entry(key, rule, flags | COMPLEX, at);
                    }
                }
                if any {
                    Ok(Some(()))
                } else {
                    Err(SkipReason::InvalidPattern)
                }
            }
            Line::Network {
                allow,
                pattern,
                options,
            } => {
                self.compile_network(allow, pattern, options, rule)?;
                Ok(Some(()))
            }
        }
    }

    /// The index key of a hosts or domain-line name; `None` when it cannot be a DNS name
    /// (longer than 253 characters, also after conversion to punycode).
    fn host_key(name: &str) -> Option<u64> {
        let key = normalize_ascii_or_idn(name)?;
        (key.len() <= crate::name::MAX_NAME_LEN).then(|| hash_key(key.as_bytes()))
    }

    fn compile_network(
        &mut self,
        allow: bool,
        pattern: &str,
        options: &str,
        rule: RuleRef,
    ) -> Result<(), SkipReason> {
        let mods = if options.is_empty() {
            Modifiers::default()
        } else {
            parse_modifiers(options)?
        };
        let mut flags = if allow { ALLOW } else { 0 };
        if mods.important {
            flags |= IMPORTANT;
        }
        if mods.badfilter {
            flags |= BADFILTER;
        }

        if pattern.len() > 1 && pattern.starts_with('/') && pattern.ends_with('/') {
            let regex = RegexPattern::new(&pattern[1..pattern.len() - 1])
                .ok_or(SkipReason::InvalidRegex)?;
            self.push_general(rule, flags, allow, pattern, mods, Matcher::Regex(regex));
            return Ok(());
        }

        // `example.org/*` means `example.org^`; names are compared lowercased.
        let mut lowered = Cow::Borrowed(pattern);
        if let Some(stem) = pattern.strip_suffix("/*") {
            lowered = format!("{stem}^").into();
        }
        if lowered.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = lowered.to_ascii_lowercase().into();
        }
        let p: &str = &lowered;
        if p.contains(|c: char| c == ' ' || c.is_control()) {
            return Err(SkipReason::InvalidPattern);
        }
        if (matches!(p, "" | "||" | "|" | "*") || p.len() < 3) && !mods.narrows() {
            return Err(SkipReason::TooWide);
        }

        let Some((exact, domain)) = indexed_name(p) else {
            self.push_general(rule, flags, allow, p, mods, Matcher::Glob(Glob::new(p)));
            return Ok(());
        };
        if domain.len() > 253 {
            return Err(SkipReason::InvalidPattern);
        }
        if exact {
            flags |= EXACT;
        }
        let key = hash_key(domain.as_bytes());
        let simple = mods.rewrite.is_none() && !mods.narrows();
        if simple {
            self.push_entry(key, rule, flags, rule.offset);
        } else {
            let identity = mods.identity(allow, indexed_pattern(flags, key));
            let at = self.push_complex(ComplexRule {
                rule,
                flags,
                kind: ComplexKind::Network(Box::new(NetworkRule {
                    mods,
                    matcher: Matcher::Indexed,
                    identity,
                })),
            });
            self.push_entry(key, rule, flags | COMPLEX, at);
        }
        Ok(())
    }

    /// Adds a rule that the index cannot find: the prefilter will.
    fn push_general(
        &mut self,
        rule: RuleRef,
        flags: u8,
        allow: bool,
        pattern: &str,
        mods: Modifiers,
        matcher: Matcher,
    ) {
        let identity = mods.identity(allow, hash_key(pattern.as_bytes()));
        let network = NetworkRule {
            mods,
            matcher,
            identity,
        };
        let kind = ComplexKind::Network(Box::new(network));
        let at = self.push_complex(ComplexRule { rule, flags, kind });
        self.general.push(at);
    }

    fn push_complex(&mut self, rule: ComplexRule) -> u32 {
        self.complex.push(rule);
        (self.complex.len() - 1) as u32
    }

    fn push_entry(&mut self, key: u64, rule: RuleRef, flags: u8, payload: u32) {
        self.entries
            .push(Entry::new(key, payload, rule.list.0, flags));
    }

    /// Builds the Aho-Corasick prefilter over the general rules' literals.
    fn build_general(&mut self) -> General {
        let mut literal_ids: HashMap<&[u8], u32> = HashMap::new();
        let mut literals: Vec<&[u8]> = Vec::new();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut always = Vec::new();
        for &at in &self.general {
            let ComplexKind::Network(n) = &self.complex[at as usize].kind else {
                continue;
            };
            match n.matcher.required_literal() {
                Some(lit) => {
                    let id = *literal_ids.entry(lit).or_insert_with(|| {
                        literals.push(lit);
                        (literals.len() - 1) as u32
                    });
                    pairs.push((id, at));
                }
                None => always.push(at),
            }
        }
        if literals.is_empty() {
            return General {
                always,
                ..General::default()
            };
        }
        pairs.sort_unstable();
        let mut starts = Vec::with_capacity(literals.len() + 1);
        let mut i = 0;
        for lit in 0..literals.len() as u32 {
            starts.push(i as u32);
            while i < pairs.len() && pairs[i].0 == lit {
                i += 1;
            }
        }
        starts.push(i as u32);
        let rules: Vec<u32> = pairs.into_iter().map(|(_, r)| r).collect();
        let Some(prefilter) = build_prefilter(&literals) else {
            // No automaton (it would need more states than it can count): every general
            // rule is then checked on every lookup, slow but never wrong.
            always.extend(rules);
            return General {
                always,
                ..General::default()
            };
        };
        let mut general = General {
            prefilter: Some(prefilter),
            starts,
            rules,
            always,
            first_pairs: Vec::new(),
        };
        for lit in &literals {
            general.add_pair(lit[0], lit[1]);
        }
        general
    }
}

/// The general rules' literal automaton. A DFA scans a name about twice as fast as an
/// NFA (with the real corpus's 2,307 bare-IP patterns, 130 against 240 ns a lookup) but
/// costs about 2 KiB a literal, so past [`DFA_MAX_BYTES`] the NFA is used.
fn build_prefilter(literals: &[&[u8]]) -> Option<AhoCorasick> {
    use aho_corasick::AhoCorasickKind::{ContiguousNFA, DFA};
    let build = |kind| AhoCorasick::builder().kind(Some(kind)).build(literals).ok();
    let total: usize = literals.iter().map(|l| l.len()).sum();
    if total <= DFA_MAX_BYTES / 64 {
        if let Some(dfa) = build(DFA).filter(|d| d.memory_usage() <= DFA_MAX_BYTES) {
            return Some(dfa);
        }
    }
    build(ContiguousNFA)
}

/// The most memory the prefilter's DFA may take.
const DFA_MAX_BYTES: usize = 16 << 20;

/// What a `$badfilter` compares for an indexed rule: its shape and its name's hash.
pub(crate) fn indexed_pattern(flags: u8, key: u64) -> u64 {
    key ^ if flags & EXACT != 0 {
        0x9e37_79b9_7f4a_7c15
    } else {
        0
    }
}

/// The name an index-shaped pattern (`||x^`, `|x^`) is filed under, and whether it is
/// exact; `None` for the patterns the prefilter must find.
fn indexed_name(p: &str) -> Option<(bool, Cow<'_, str>)> {
    match shape(p) {
        Shape::Suffix(d) => Some((false, Cow::Borrowed(d))),
        Shape::Exact(d) => Some((true, Cow::Borrowed(d))),
        Shape::General if !p.is_ascii() => idn_name(p),
        Shape::General => None,
    }
}

/// `||пример.рф^` is `||xn--e1afmkfd.xn--p1ai^`: internationalised names in index-shaped
/// patterns are converted to punycode, the form queries arrive in.
fn idn_name(p: &str) -> Option<(bool, Cow<'_, str>)> {
    let (prefix, rest) = match p.strip_prefix("||") {
        Some(rest) => ("||", rest),
        None => ("|", p.strip_prefix('|')?),
    };
    let (domain, term) = ["^|", "^", "|"]
        .iter()
        .find_map(|t| rest.strip_suffix(t).map(|d| (d, *t)))?;
    let converted = format!("{prefix}{}{term}", idna::domain_to_ascii(domain).ok()?);
    match shape(&converted) {
        Shape::Suffix(d) => Some((false, Cow::Owned(d.to_owned()))),
        Shape::Exact(d) => Some((true, Cow::Owned(d.to_owned()))),
        Shape::General => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idn_names_too_long_as_punycode_are_skipped() {
        // Widely spaced CJK characters: 3 bytes of UTF-8 each, about 4 of punycode.
        let labels: Vec<String> = (0..8)
            .map(|l| {
                (0..10)
                    .filter_map(|i| char::from_u32(0x4e00 + (l * 10 + i) * 251))
                    .collect()
            })
            .collect();
        let name = labels.join(".");
        assert!(name.len() <= 253);
        let puny = idna::domain_to_ascii(&name).unwrap();
        assert!(puny.len() > 253, "{}", puny.len());
        let rules = RuleSet::from_rules("idn", &format!("0.0.0.0 {name}\n"));
        let (_, _, s) = rules.lists().next().unwrap();
        assert_eq!((s.rules, s.skipped(SkipReason::InvalidPattern)), (0, 1));
    }
}
