//! Finding every rule that matches a name, in every layer.
//!
//! The name is normalised once into a stack buffer and its label suffixes hashed once;
//! each layer then asks its index (through the Bloom filter) for each suffix, and its
//! general rules through the literal prefilter. What matched goes to [`crate::decide`].

use std::borrow::Cow;

use smallvec::SmallVec;

use crate::decide::{Candidate, Candidates, decide};
use crate::index::{COMPLEX, EXACT, hash_key};
use crate::modifiers::Subject;
use crate::name::normalize_query_name;
use crate::ruleset::{ComplexKind, ListId, RuleRef};
use crate::verdict::{Layer, Request, Verdict};

/// Looks a query up in several rule sets at once, as one: a policy's custom rules and its
/// lists decide together, so a custom `@@` rule overrides a list's block.
pub fn check(layers: &[Layer<'_>], request: &Request<'_>) -> Verdict {
    let mut buf = [0u8; crate::name::MAX_NAME_LEN];
    let name: Cow<'_, [u8]> = match lowercase_into(request.name, &mut buf) {
        Some(n) => Cow::Borrowed(n),
        None => match normalize_query_name(request.name) {
            Some(n) => Cow::Owned(n.into_owned().into_bytes()),
            None => return Verdict::not_found(),
        },
    };
    let subject = Subject {
        name: &name,
        qtype: request.qtype,
        client_ip: request.client_ip.map(|ip| ip.to_canonical()),
        client_name: request.client_name,
        client_tags: request.client_tags,
    };
    let mut all = Suffixes::new();
    suffixes(&name, &mut all);
    let mut found = Candidates::new();
    for (i, layer) in layers.iter().enumerate() {
        collect(i, layer, &name, &all, &subject, &mut found);
    }
    if found.is_empty() {
        return Verdict::not_found();
    }
    decide(&mut found, &name, request.qtype)
}

/// The fast path of normalisation: an ASCII name lowercased into a stack buffer.
fn lowercase_into<'b>(
    name: &str,
    buf: &'b mut [u8; crate::name::MAX_NAME_LEN],
) -> Option<&'b [u8]> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > buf.len() || !name.is_ascii() {
        return None;
    }
    let out = &mut buf[..name.len()];
    for (o, b) in out.iter_mut().zip(name.bytes()) {
        *o = b.to_ascii_lowercase();
    }
    Some(out)
}

fn push_unique<'s>(found: &mut Candidates<'s>, c: Candidate<'s>) {
    if !found.iter().any(|f| f.layer == c.layer && f.rule == c.rule) {
        found.push(c);
    }
}

/// The label suffixes of a name (the name, then each parent) and their hashes.
type Suffixes = SmallVec<[(usize, u64); 8]>;

fn suffixes(name: &[u8], out: &mut Suffixes) {
    out.push((0, hash_key(name)));
    // Names are short: a plain loop beats a vectorised search here. A parent is one only
    // below a non-empty label: AdGuard's `||` needs a character before the dot, so
    // `.example.org` is not below `example.org`.
    for (i, &b) in name.iter().enumerate() {
        if b == b'.' && i > 0 {
            out.push((i + 1, hash_key(&name[i + 1..])));
        }
    }
}

/// Finds every rule of one layer that matches the name.
fn collect<'s>(
    layer: usize,
    l: &Layer<'s>,
    name: &[u8],
    suffixes: &Suffixes,
    subject: &Subject<'_>,
    found: &mut Candidates<'s>,
) {
    let inner = &*l.rules.inner;
    // Ask for the bucket of every suffix the filter lets through before reading any, so
    // the cache misses overlap. (Asking the filter twice is cheaper than keeping its
    // answers: its words are in the cache the second time.)
    let mut touched = 0;
    for &(_, h) in suffixes {
        if inner.index.may_contain(h) {
            touched ^= inner.index.touch(h);
        }
    }
    std::hint::black_box(touched);
    for &(start, hash) in suffixes {
        if !inner.index.may_contain(hash) {
            continue;
        }
        inner.index.for_each(hash, |e| {
            let list = ListId(e.list);
            // Exact-name rules only match the whole name.
            if !l.mask.contains(list) || (e.flags & EXACT != 0 && start != 0) {
                return;
            }
            let complex = (e.flags & COMPLEX != 0).then(|| &inner.complex[e.payload as usize]);
            if let Some(ComplexKind::Network(n)) = complex.map(|c| &c.kind) {
                if !n.mods.allows(subject) {
                    return;
                }
            }
            let rule = complex.map_or(
                RuleRef {
                    list,
                    offset: e.payload,
                },
                |c| c.rule,
            );
            let flags = e.flags & !COMPLEX;
            push_unique(
                found,
                Candidate {
                    layer,
                    rule,
                    flags,
                    key: hash,
                    complex,
                },
            );
        });
    }
    // General rules: the literal prefilter, then the matcher.
    let general = &inner.general;
    let mut check = |at: u32| {
        let c = &inner.complex[at as usize];
        let ComplexKind::Network(n) = &c.kind else {
            return;
        };
        if l.mask.contains(c.rule.list) && n.matcher.is_match(name) && n.mods.allows(subject) {
            let flags = c.flags;
            push_unique(
                found,
                Candidate {
                    layer,
                    rule: c.rule,
                    flags,
                    key: 0,
                    complex: Some(c),
                },
            );
        }
    };
    if let Some(ac) = general
        .prefilter
        .as_ref()
        .filter(|_| general.may_contain_literal(name))
    {
        for m in ac.find_overlapping_iter(name) {
            let lit = m.pattern().as_usize();
            let (lo, hi) = (
                general.starts[lit] as usize,
                general.starts[lit + 1] as usize,
            );
            for &at in &general.rules[lo..hi] {
                check(at);
            }
        }
    }
    for &at in &general.always {
        check(at);
    }
}
