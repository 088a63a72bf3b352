//! Lists in, one immutable [`RuleSet`] out.

use std::net::IpAddr;
use std::sync::Arc;

use aho_corasick::AhoCorasick;

pub use crate::compile::RuleSetBuilder;
use crate::index::NameIndex;
use crate::line::SkipReason;
use crate::modifiers::Modifiers;
use crate::pattern::{Glob, RegexPattern};

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

    /// Takes a list out.
    pub fn remove(&mut self, id: ListId) {
        let i = usize::from(id.0);
        self.0[i / 64] &= !(1 << (i % 64));
    }

    /// Adds every list of `other`.
    pub fn union_with(&mut self, other: &ListMask) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }

    /// Takes out every list of `other`.
    pub fn difference_with(&mut self, other: &ListMask) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a &= !b;
        }
    }

    /// Whether no list is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
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

    pub(crate) fn skip(&mut self, reason: SkipReason) {
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
    pub(crate) fn required_literal(&self) -> Option<&[u8]> {
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
    /// One bit per byte pair that starts a literal: a name with none of those pairs
    /// cannot contain a literal, and skips the automaton. 8 KiB, cache-resident.
    pub first_pairs: Vec<u64>,
}

impl General {
    /// Sets the bit of the pair `(a, b)`.
    pub(crate) fn add_pair(&mut self, a: u8, b: u8) {
        if self.first_pairs.is_empty() {
            self.first_pairs = vec![0; 65536 / 64];
        }
        let i = usize::from(a) << 8 | usize::from(b);
        self.first_pairs[i / 64] |= 1 << (i % 64);
    }

    /// Whether the name may contain one of the literals.
    pub(crate) fn may_contain_literal(&self, name: &[u8]) -> bool {
        name.windows(2).any(|w| {
            let i = usize::from(w[0]) << 8 | usize::from(w[1]);
            self.first_pairs
                .get(i / 64)
                .is_some_and(|bits| bits & (1 << (i % 64)) != 0)
        })
    }
}

pub(crate) struct Inner {
    pub lists: Vec<List>,
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

    /// A list's text, as given to [`RuleSetBuilder::add_list`] (empty for an unknown id).
    pub fn list_text(&self, id: ListId) -> &[u8] {
        self.inner
            .lists
            .get(usize::from(id.0))
            .map_or(&[], |l| &l.text)
    }

    /// Whether both are the same compiled rules (clones of one set).
    pub fn ptr_eq(&self, other: &RuleSet) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
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
            + i.general.first_pairs.capacity() * size_of::<u64>()
    }

    /// Bytes of list text kept to print the rule that decided a verdict.
    pub fn text_bytes(&self) -> usize {
        self.inner.lists.iter().map(|l| l.text.len()).sum()
    }
}
