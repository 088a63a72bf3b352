//! Lists in, one immutable [`RuleSet`] out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use aho_corasick::AhoCorasick;

use crate::error::{Error, ErrorKind};
use crate::index::{
    ALLOW, BADFILTER, COMPLEX, EXACT, Entry, HOST, IMPORTANT, NameIndex, SIDE, V6, hash_key,
};
use crate::line::{Line, SkipReason, parse_line};
use crate::modifiers::{Modifiers, parse_modifiers};
use crate::name::normalize_ascii_or_idn;
use crate::pattern::{Glob, RegexPattern, Shape, shape};

/// How many lists one [`RuleSet`] holds at most (a [`ListMask`] has one bit per list).
pub const MAX_LISTS: usize = 256;

/// A list's position in its [`RuleSet`], in the order the lists were added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListId(pub u16);

/// A set of lists: what a policy enables. Lookups only see rules of lists in the mask,
/// so one compiled [`RuleSet`] serves every policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ListMask([u64; MAX_LISTS / 64]);

impl ListMask {
    /// Every list.
    pub const ALL: ListMask = ListMask([u64::MAX; MAX_LISTS / 64]);

    /// No list.
    pub fn none() -> ListMask {
        ListMask::default()
    }

    /// Adds a list.
    pub fn insert(&mut self, id: ListId) {
        let i = usize::from(id.0);
        self.0[i / 64] |= 1 << (i % 64);
    }

    /// Whether the list is in the set.
    pub fn contains(&self, id: ListId) -> bool {
        let i = usize::from(id.0);
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

impl FromIterator<ListId> for ListMask {
    fn from_iter<I: IntoIterator<Item = ListId>>(iter: I) -> ListMask {
        let mut mask = ListMask::none();
        for id in iter {
            mask.insert(id);
        }
        mask
    }
}

/// Where a rule was written: its list and the byte offset of its line. Resolve it with
/// [`RuleSet::rule_text`] and [`RuleSet::rule_line`]; rules carry no string of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleRef {
    /// The list.
    pub list: ListId,
    /// Byte offset of the line in the list text.
    pub offset: u32,
}

/// What compiling one list found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListStats {
    /// Lines read.
    pub lines: u64,
    /// Lines that became rules.
    pub rules: u64,
    /// Comment lines.
    pub comments: u64,
    /// Blank lines.
    pub blank: u64,
    skipped: [u64; SkipReason::ALL.len()],
}

impl ListStats {
    /// Lines skipped for this reason.
    pub fn skipped(&self, reason: SkipReason) -> u64 {
        self.skipped[reason.index()]
    }

    /// Lines skipped for any reason.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }

    fn skip(&mut self, reason: SkipReason) {
        self.skipped[reason.index()] += 1;
    }
}

/// A compiled rule that did not fit in a plain index entry.
#[derive(Debug)]
pub(crate) struct ComplexRule {
    pub rule: RuleRef,
    /// The index flags it would have (`ALLOW`, `IMPORTANT`, `BADFILTER`, `HOST`, `V6`).
    pub flags: u8,
    pub kind: ComplexKind,
}

#[derive(Debug)]
pub(crate) enum ComplexKind {
    /// A hosts line whose address is the answer.
    HostAnswer(IpAddr),
    /// An adblock-style rule with modifiers, or one the index cannot hold.
    Network(Box<NetworkRule>),
}

#[derive(Debug)]
pub(crate) struct NetworkRule {
    pub mods: Modifiers,
    pub matcher: Matcher,
    /// Hash of pattern and modifiers but `$badfilter`, see [`Modifiers::identity`].
    pub identity: u64,
}

#[derive(Debug)]
pub(crate) enum Matcher {
    /// Found through the name index: the key matching is the match.
    Indexed,
    Glob(Glob),
    Regex(RegexPattern),
}

impl Matcher {
    fn required_literal(&self) -> Option<&[u8]> {
        match self {
            Matcher::Indexed => None,
            Matcher::Glob(g) => g.required_literal(),
            Matcher::Regex(r) => r.required_literal(),
        }
    }

    pub fn is_match(&self, name: &[u8]) -> bool {
        match self {
            Matcher::Indexed => true,
            Matcher::Glob(g) => g.is_match(name),
            Matcher::Regex(r) => r.is_match(name),
        }
    }
}

#[derive(Debug)]
pub(crate) struct List {
    pub name: String,
    pub text: Box<[u8]>,
    pub stats: ListStats,
}

/// General (non-indexed) rules behind an Aho-Corasick prefilter on their literals.
#[derive(Debug, Default)]
pub(crate) struct General {
    pub prefilter: Option<AhoCorasick>,
    /// Literal `i` guards `rules[starts[i]..starts[i + 1]]` (indices into `complex`).
    pub starts: Vec<u32>,
    pub rules: Vec<u32>,
    /// Rules with no usable literal: checked on every lookup.
    pub always: Vec<u32>,
}

pub(crate) struct Inner {
    pub lists: Vec<List>,
    pub side: Vec<u8>,
    pub index: NameIndex,
    pub complex: Vec<ComplexRule>,
    pub general: General,
}

/// Compiled filter lists: immutable, `Send + Sync`, and cheap to clone.
///
/// Build one with [`RuleSetBuilder`]; look names up with [`RuleSet::check`] (one rule
/// set and a list mask) or [`crate::check`] (several layers, such as the big lists plus a
/// policy's custom rules).
#[derive(Clone)]
pub struct RuleSet {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("lists", &self.inner.lists.len())
            .field("rules", &self.rule_count())
            .finish()
    }
}

impl RuleSet {
    /// Starts a rule set.
    pub fn builder() -> RuleSetBuilder {
        RuleSetBuilder::default()
    }

    /// Compiles one list of rule lines, such as a policy's custom rules.
    pub fn from_rules(name: &str, text: &str) -> RuleSet {
        let mut b = RuleSet::builder();
        b.add_list(name, text)
            .expect("one list is within MAX_LISTS");
        b.build()
    }

    /// The lists, in the order they were added.
    pub fn lists(&self) -> impl Iterator<Item = (ListId, &str, &ListStats)> {
        self.inner
            .lists
            .iter()
            .enumerate()
            .map(|(i, l)| (ListId(i as u16), l.name.as_str(), &l.stats))
    }

    /// A list's name, as given to [`RuleSetBuilder::add_list`].
    pub fn list_name(&self, id: ListId) -> &str {
        self.inner
            .lists
            .get(usize::from(id.0))
            .map_or("", |l| l.name.as_str())
    }

    /// Rules compiled from all lists.
    pub fn rule_count(&self) -> u64 {
        self.inner.lists.iter().map(|l| l.stats.rules).sum()
    }

    /// The text of a rule's line, without surrounding whitespace.
    pub fn rule_text(&self, rule: RuleRef) -> &str {
        let Some(list) = self.inner.lists.get(usize::from(rule.list.0)) else {
            return "";
        };
        let start = (rule.offset as usize).min(list.text.len());
        let rest = &list.text[start..];
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("").trim()
    }

    /// The 1-based line number of a rule in its list.
    pub fn rule_line(&self, rule: RuleRef) -> usize {
        let Some(list) = self.inner.lists.get(usize::from(rule.list.0)) else {
            return 0;
        };
        let end = (rule.offset as usize).min(list.text.len());
        memchr::memchr_iter(b'\n', &list.text[..end]).count() + 1
    }

    /// Heap bytes held, list text included (see [`RuleSet::text_bytes`]).
    pub fn memory_usage(&self) -> usize {
        let i = &self.inner;
        let complex_heap: usize = i
            .complex
            .iter()
            .map(|c| match &c.kind {
                ComplexKind::HostAnswer(_) => 0,
                // The modifiers and matcher own a few small allocations; a regex owns
                // its compiled program. These are estimates: the regex crate does not
                // report its size.
                ComplexKind::Network(n) => {
                    size_of::<NetworkRule>()
                        + 64
                        + match n.matcher {
                            Matcher::Regex(_) => 16 * 1024,
                            _ => 0,
                        }
                }
            })
            .sum();
        self.text_bytes()
            + i.lists.capacity() * size_of::<List>()
            + i.side.capacity()
            + i.index.memory_usage()
            + i.complex.capacity() * size_of::<ComplexRule>()
            + complex_heap
            + i.general
                .prefilter
                .as_ref()
                .map_or(0, AhoCorasick::memory_usage)
            + (i.general.starts.capacity()
                + i.general.rules.capacity()
                + i.general.always.capacity())
                * size_of::<u32>()
    }

    /// Bytes of list text kept to print the rule that decided a verdict.
    pub fn text_bytes(&self) -> usize {
        self.inner.lists.iter().map(|l| l.text.len()).sum()
    }

    pub(crate) fn key(&self, e: &Entry) -> &[u8] {
        let (off, len) = (e.key_off as usize, usize::from(e.key_len));
        if e.flags & SIDE != 0 {
            &self.inner.side[off..off + len]
        } else {
            &self.inner.lists[usize::from(e.list)].text[off..off + len]
        }
    }
}

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
        let mut side = c.side;
        side.shrink_to_fit();
        RuleSet {
            inner: Arc::new(Inner {
                lists,
                side,
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
    side: Vec<u8>,
    complex: Vec<ComplexRule>,
    general: Vec<u32>,
}

/// A key to index: where its bytes are.
enum KeyBytes<'a> {
    /// A slice of the list text being compiled.
    Text(&'a str),
    /// A normalised copy.
    Owned(String),
}

impl Compiler {
    fn compile_list(&mut self, list: ListId, text: &[u8]) -> ListStats {
        let mut stats = ListStats::default();
        let whole = std::str::from_utf8(text).ok();
        let mut start = 0usize;
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
                Ok(line) => match self.compile_line(text, line, rule) {
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
    fn compile_line(
        &mut self,
        text: &[u8],
        line: &str,
        rule: RuleRef,
    ) -> Result<Option<()>, SkipReason> {
        match parse_line(line) {
            Line::Blank | Line::Comment => Ok(None),
            Line::Skipped(reason) => Err(reason),
            Line::Domain(name) => {
                let key = self.host_key(name).ok_or(SkipReason::InvalidPattern)?;
                self.push_entry(text, key, rule, HOST | EXACT, rule.offset);
                Ok(Some(()))
            }
            Line::Hosts { ip, names } => {
                let ip = ip.to_canonical();
                let v6 = if ip.is_ipv6() { V6 } else { 0 };
                let blocks = ip.is_unspecified() || ip.is_loopback();
                let mut any = false;
                for name in names.split([' ', '\t']).filter(|n| !n.is_empty()) {
                    let Some(key) = self.host_key(name) else {
                        continue;
                    };
                    any = true;
                    if blocks {
                        self.push_entry(text, key, rule, HOST | EXACT | v6, rule.offset);
                    } else {
                        let flags = HOST | EXACT | v6;
                        let at = self.push_complex(ComplexRule {
                            rule,
                            flags,
                            kind: ComplexKind::HostAnswer(ip),
                        });
                        self.push_entry(text, key, rule, flags | COMPLEX, at);
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
                self.compile_network(text, allow, pattern, options, rule)?;
                Ok(Some(()))
            }
        }
    }

    fn host_key<'a>(&self, name: &'a str) -> Option<KeyBytes<'a>> {
        if name.len() > 253 {
            return None;
        }
        Some(match normalize_ascii_or_idn(name)? {
            std::borrow::Cow::Borrowed(s) => KeyBytes::Text(s),
            std::borrow::Cow::Owned(s) => KeyBytes::Owned(s),
        })
    }

    fn compile_network(
        &mut self,
        text: &[u8],
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
            let identity = mods.identity(allow, pattern);
            let at = self.push_complex(ComplexRule {
                rule,
                flags,
                kind: ComplexKind::Network(Box::new(NetworkRule {
                    mods,
                    matcher: Matcher::Regex(regex),
                    identity,
                })),
            });
            self.general.push(at);
            return Ok(());
        }

        // `example.org/*` means `example.org^`; names are compared lowercased.
        let mut lowered = std::borrow::Cow::Borrowed(pattern);
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

        let shape = match shape(p) {
            Shape::General if !p.is_ascii() => idn_shape(p),
            s => s.into(),
        };
        let (exact, domain) = match &shape {
            OwnedShape::Suffix(d) => (false, d.as_str()),
            OwnedShape::Exact(d) => (true, d.as_str()),
            OwnedShape::Borrowed(Shape::Suffix(d)) => (false, *d),
            OwnedShape::Borrowed(Shape::Exact(d)) => (true, *d),
            OwnedShape::Borrowed(Shape::General) => {
                let identity = mods.identity(allow, p);
                let at = self.push_complex(ComplexRule {
                    rule,
                    flags,
                    kind: ComplexKind::Network(Box::new(NetworkRule {
                        mods,
                        matcher: Matcher::Glob(Glob::new(p)),
                        identity,
                    })),
                });
                self.general.push(at);
                return Ok(());
            }
        };
        if domain.len() > 253 {
            return Err(SkipReason::InvalidPattern);
        }
        if exact {
            flags |= EXACT;
        }
        // The key points into the list text when the pattern was used verbatim.
        let key = if std::ptr::eq(p.as_ptr(), pattern.as_ptr())
            && pattern.as_bytes().as_ptr_range().contains(&domain.as_ptr())
        {
            KeyBytes::Text(
                &pattern[domain.as_ptr() as usize - pattern.as_ptr() as usize..][..domain.len()],
            )
        } else {
            KeyBytes::Owned(domain.to_owned())
        };
        let simple = mods.rewrite.is_none() && !mods.narrows();
        if simple {
            self.push_entry(text, key, rule, flags, rule.offset);
        } else {
            let canonical = if exact {
                format!("|{domain}^")
            } else {
                format!("||{domain}^")
            };
            let identity = mods.identity(allow, &canonical);
            let at = self.push_complex(ComplexRule {
                rule,
                flags,
                kind: ComplexKind::Network(Box::new(NetworkRule {
                    mods,
                    matcher: Matcher::Indexed,
                    identity,
                })),
            });
            self.push_entry(text, key, rule, flags | COMPLEX, at);
        }
        Ok(())
    }

    fn push_complex(&mut self, rule: ComplexRule) -> u32 {
        self.complex.push(rule);
        (self.complex.len() - 1) as u32
    }

    fn push_entry(
        &mut self,
        text: &[u8],
        key: KeyBytes<'_>,
        rule: RuleRef,
        flags: u8,
        payload: u32,
    ) {
        let (key_off, bytes, flags) = match &key {
            KeyBytes::Text(s) => (
                s.as_ptr() as usize - text.as_ptr() as usize,
                s.as_bytes(),
                flags,
            ),
            KeyBytes::Owned(s) => {
                let off = self.side.len();
                self.side.extend_from_slice(s.as_bytes());
                (off, s.as_bytes(), flags | SIDE)
            }
        };
        let h = hash_key(bytes);
        self.entries.push(Entry {
            hash_hi: (h >> 32) as u32,
            hash_lo: h as u32,
            key_off: key_off as u32,
            payload,
            list: rule.list.0,
            key_len: bytes.len() as u8,
            flags,
        });
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
        let prefilter = AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(&literals)
            .ok();
        General {
            prefilter,
            starts,
            rules: pairs.into_iter().map(|(_, r)| r).collect(),
            always,
        }
    }
}

/// A shape whose domain may have been converted from an IDN.
enum OwnedShape<'a> {
    Borrowed(Shape<'a>),
    Suffix(String),
    Exact(String),
}

impl<'a> From<Shape<'a>> for OwnedShape<'a> {
    fn from(s: Shape<'a>) -> Self {
        OwnedShape::Borrowed(s)
    }
}

/// `||пример.рф^` is `||xn--e1afmkfd.xn--p1ai^`: internationalised names in index-shaped
/// patterns are converted to punycode, the form queries arrive in.
fn idn_shape(p: &str) -> OwnedShape<'_> {
    let convert = |prefix: &str| -> Option<String> {
        let rest = p.strip_prefix(prefix)?;
        let (domain, term) = ["^|", "^", "|"]
            .iter()
            .find_map(|t| rest.strip_suffix(t).map(|d| (d, *t)))?;
        let ascii = idna::domain_to_ascii(domain).ok()?;
        let converted = format!("{prefix}{ascii}{term}");
        Some(converted)
    };
    if let Some(c) = convert("||") {
        if let Shape::Suffix(d) = shape(&c) {
            return OwnedShape::Suffix(d.to_owned());
        }
    } else if let Some(c) = convert("|") {
        if let Shape::Exact(d) = shape(&c) {
            return OwnedShape::Exact(d.to_owned());
        }
    }
    OwnedShape::Borrowed(Shape::General)
}
