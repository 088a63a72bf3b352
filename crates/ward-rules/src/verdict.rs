//! A query in, a [`Verdict`] out, with AdGuard Home's order of precedence.
//!
//! 1. `$badfilter` rules remove the rules they name.
//! 2. `$dnsrewrite` rules, after their own exceptions, answer first: a CNAME wins, then
//!    a response code other than NOERROR, else the records of every rewrite rule.
//! 3. Network rules: `@@...$important` > `...$important` > `@@...` > blocking; ties go
//!    to the rule with more modifiers, then to the first one written.
//! 4. Host rules (hosts files, domain-only lines), for the query's address family.

use std::borrow::Cow;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use smallvec::SmallVec;

use crate::compile::indexed_pattern;
use crate::index::{ALLOW, BADFILTER, COMPLEX, EXACT, HOST, IMPORTANT, V6, hash_key};
use crate::modifiers::{Modifiers, Subject};
use crate::name::normalize_query_name;
use crate::rewrite::{DnsRewrite, RewriteRecord};
use crate::ruleset::{ComplexKind, ComplexRule, ListId, ListMask, NetworkRule, RuleRef, RuleSet};

/// A DNS question and who asked it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The query name, in any case, with or without the trailing dot.
    pub name: &'a str,
    /// The query type.
    pub qtype: RecordType,
    /// The client's address, for `$client`.
    pub client_ip: Option<IpAddr>,
    /// The client's name, for `$client`.
    pub client_name: Option<&'a str>,
    /// The client's tags, for `$ctag`.
    pub client_tags: &'a [String],
}

impl<'a> Request<'a> {
    /// A question for `name` and `qtype` from an unknown client.
    pub fn new(name: &'a str, qtype: RecordType) -> Request<'a> {
        Request {
            name,
            qtype,
            client_ip: None,
            client_name: None,
            client_tags: &[],
        }
    }

    /// Sets the client's address.
    pub fn client_ip(mut self, ip: IpAddr) -> Self {
        self.client_ip = Some(ip.to_canonical());
        self
    }

    /// Sets the client's name.
    pub fn client_name(mut self, name: &'a str) -> Self {
        self.client_name = Some(name);
        self
    }

    /// Sets the client's tags.
    pub fn client_tags(mut self, tags: &'a [String]) -> Self {
        self.client_tags = tags;
        self
    }
}

/// Why a verdict is what it is, named as AdGuard Home names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No rule matched: resolve normally.
    NotFilteredNotFound,
    /// An exception (`@@`) matched: resolve normally.
    NotFilteredAllowList,
    /// A blocking rule matched: answer per the blocking mode, or with `ip_addrs`.
    FilteredBlockList,
    /// A `$dnsrewrite` rule matched: answer with `rewrite`.
    RewrittenRule,
}

impl Reason {
    /// The name AdGuard Home's API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotFilteredNotFound => "NotFilteredNotFound",
            Reason::NotFilteredAllowList => "NotFilteredAllowList",
            Reason::FilteredBlockList => "FilteredBlockList",
            Reason::RewrittenRule => "RewrittenRule",
        }
    }
}

/// A rule that took part in a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleMatch {
    /// Which layer of the lookup the rule is in (0 for [`RuleSet::check`]).
    pub layer: usize,
    /// The rule; resolve it with that layer's [`RuleSet::rule_text`].
    pub rule: RuleRef,
}

/// What `$dnsrewrite` rules answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// The response code.
    pub rcode: ResponseCode,
    /// A CNAME to answer with (the server resolves it); other records are ignored then.
    pub cname: Option<String>,
    /// The records of every applied rewrite, in rule order; the server answers those of
    /// the query's type.
    pub records: Vec<RewriteRecord>,
}

/// The decision for one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Why.
    pub reason: Reason,
    /// The rules that decided, the deciding one first (inline up to two: a verdict
    /// allocates nothing in the common case).
    pub rules: SmallVec<[RuleMatch; 2]>,
    /// For a hosts-file match with real addresses: the addresses of the query's family.
    /// Empty when the match blocks (0.0.0.0, 127.0.0.1, ::, ::1).
    pub ip_addrs: Vec<IpAddr>,
    /// For [`Reason::RewrittenRule`].
    pub rewrite: Option<Rewrite>,
}

impl Verdict {
    fn new(reason: Reason, rules: SmallVec<[RuleMatch; 2]>) -> Verdict {
        Verdict {
            reason,
            rules,
            ip_addrs: Vec::new(),
            rewrite: None,
        }
    }

    /// No rule matched.
    pub fn not_found() -> Verdict {
        Verdict::new(Reason::NotFilteredNotFound, SmallVec::new())
    }

    /// Whether the query is answered by the filter rather than resolved.
    pub fn is_filtered(&self) -> bool {
        matches!(
            self.reason,
            Reason::FilteredBlockList | Reason::RewrittenRule
        )
    }
}

/// One rule set and the lists of it that apply.
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    /// The rules.
    pub rules: &'a RuleSet,
    /// The lists of it that apply.
    pub mask: &'a ListMask,
}

impl RuleSet {
    /// Looks a query up in the lists of `mask`.
    pub fn check(&self, request: &Request<'_>, mask: &ListMask) -> Verdict {
        check(&[Layer { rules: self, mask }], request)
    }
}

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

/// A rule that matched the name, before precedence is applied.
#[derive(Clone, Copy)]
struct Candidate<'s> {
    layer: usize,
    rule: RuleRef,
    flags: u8,
    /// The name's hash, for the identity of an indexed rule; 0 for general rules.
    key: u64,
    complex: Option<&'s ComplexRule>,
}

type Candidates<'s> = SmallVec<[Candidate<'s>; 8]>;

impl<'s> Candidate<'s> {
    fn network(&self) -> Option<&'s NetworkRule> {
        match &self.complex?.kind {
            ComplexKind::Network(n) => Some(n),
            ComplexKind::HostAnswer(_) => None,
        }
    }

    fn rewrite(&self) -> Option<&'s DnsRewrite> {
        self.network()?.mods.rewrite.as_ref()
    }

    fn is(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn order(&self) -> (usize, RuleRef) {
        (self.layer, self.rule)
    }

    /// What a `$badfilter` rule compares.
    fn identity(&self) -> u64 {
        if let Some(n) = self.network() {
            return n.identity;
        }
        let mods = Modifiers {
            important: self.is(IMPORTANT),
            ..Modifiers::default()
        };
        mods.identity(self.is(ALLOW), indexed_pattern(self.flags, self.key))
    }

    fn modifier_count(&self) -> u32 {
        match self.network() {
            Some(n) => n.mods.count(),
            None => u32::from(self.is(IMPORTANT)),
        }
    }
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
    // Names are short: a plain loop beats a vectorised search here.
    for (i, &b) in name.iter().enumerate() {
        if b == b'.' {
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
    // the cache misses overlap.
    // A 253-character name has at most 127 labels, so 128 bits mark every suffix.
    let mut probe = 0u128;
    let mut touched = 0;
    for (i, &(_, h)) in suffixes.iter().enumerate() {
        if inner.index.may_contain(h) {
            probe |= 1 << i;
            touched ^= inner.index.touch(h);
        }
    }
    std::hint::black_box(touched);
    for (i, &(start, hash)) in suffixes.iter().enumerate() {
        if probe & (1 << i) == 0 {
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

fn decide(found: &mut Candidates<'_>, name: &[u8], qtype: RecordType) -> Verdict {
    // 1. $badfilter.
    if found.iter().any(|c| c.is(BADFILTER)) {
        let disabled: SmallVec<[u64; 4]> = found
            .iter()
            .filter(|c| c.is(BADFILTER))
            .map(Candidate::identity)
            .collect();
        found.retain(|c| !c.is(BADFILTER) && (c.is(HOST) || !disabled.contains(&c.identity())));
    }
    if found.len() > 1 {
        found.sort_by_key(Candidate::order);
    }

    // 2. $dnsrewrite.
    if let Some(v) = rewrite_verdict(found, name) {
        return v;
    }

    // 3. Network rules.
    let best = found
        .iter()
        .filter(|c| !c.is(HOST) && c.rewrite().is_none())
        .max_by(|a, b| {
            let rank = |c: &Candidate<'_>| (priority(c), c.modifier_count());
            // Equal rank: the first written wins, so compare order reversed.
            rank(a)
                .cmp(&rank(b))
                .then_with(|| b.order().cmp(&a.order()))
        });
    if let Some(best) = best {
        let reason = if best.is(ALLOW) {
            Reason::NotFilteredAllowList
        } else {
            Reason::FilteredBlockList
        };
        return Verdict::new(
            reason,
            smallvec::smallvec![RuleMatch {
                layer: best.layer,
                rule: best.rule,
            }],
        );
    }

    // 4. Host rules.
    let hosts: SmallVec<[&Candidate<'_>; 4]> = found.iter().filter(|c| c.is(HOST)).collect();
    if hosts.is_empty() {
        return Verdict::not_found();
    }
    let family = match qtype {
        RecordType::A => Some(false),
        RecordType::AAAA => Some(true),
        _ => None,
    };
    let same_family: SmallVec<[&Candidate<'_>; 4]> = hosts
        .iter()
        .copied()
        .filter(|c| Some(c.is(V6)) == family)
        .collect();
    if !same_family.is_empty() {
        let mut v = Verdict::new(
            Reason::FilteredBlockList,
            same_family
                .iter()
                .map(|c| RuleMatch {
                    layer: c.layer,
                    rule: c.rule,
                })
                .collect(),
        );
        for c in &same_family {
            if let Some(ComplexKind::HostAnswer(ip)) = c.complex.map(|c| &c.kind) {
                if !v.ip_addrs.contains(ip) {
                    v.ip_addrs.push(*ip);
                }
            }
        }
        return v;
    }
    // Another family or another type: the name is blocked; IPv4 rules are reported first.
    let first = hosts.iter().find(|c| !c.is(V6)).unwrap_or(&hosts[0]);
    Verdict::new(
        Reason::FilteredBlockList,
        smallvec::smallvec![RuleMatch {
            layer: first.layer,
            rule: first.rule,
        }],
    )
}

/// `@@...$important` > `...$important` > `@@...` > blocking.
fn priority(c: &Candidate<'_>) -> u8 {
    match (c.is(ALLOW), c.is(IMPORTANT)) {
        (true, true) => 3,
        (false, true) => 2,
        (true, false) => 1,
        (false, false) => 0,
    }
}

/// Applies `$dnsrewrite` exceptions, then the rewrites (urlfilter `DNSRewrites`, AdGuard
/// Home `processDNSRewrites`).
fn rewrite_verdict(found: &[Candidate<'_>], name: &[u8]) -> Option<Verdict> {
    if !found.iter().any(|c| c.rewrite().is_some()) {
        return None;
    }
    let mut rules: SmallVec<[&Candidate<'_>; 4]> = found
        .iter()
        .filter(|c| c.rewrite().is_some() && !c.is(ALLOW))
        .collect();
    for exc in found.iter().filter(|c| c.is(ALLOW)) {
        let Some(exc_rw) = exc.rewrite() else {
            continue;
        };
        let exc_important = exc.is(IMPORTANT);
        rules.retain(|r| {
            if r.is(IMPORTANT) && !exc_important {
                return true;
            }
            // An empty `$dnsrewrite` exception cancels every rewrite it may cancel.
            *exc_rw != DnsRewrite::Empty && r.rewrite() != Some(exc_rw)
        });
    }
    let matched = |c: &&Candidate<'_>| RuleMatch {
        layer: c.layer,
        rule: c.rule,
    };
    if let Some(c) = rules
        .iter()
        .find(|c| matches!(c.rewrite(), Some(DnsRewrite::Cname(_))))
    {
        let Some(DnsRewrite::Cname(target)) = c.rewrite() else {
            return None;
        };
        if target.as_bytes() == name {
            // A rewrite of a name to itself: ignore the rewrites, go on filtering.
            return None;
        }
        let mut v = Verdict::new(Reason::RewrittenRule, smallvec::smallvec![matched(c)]);
        v.rewrite = Some(Rewrite {
            rcode: ResponseCode::NoError,
            cname: Some(target.clone()),
            records: Vec::new(),
        });
        return Some(v);
    }
    if let Some(c) = rules.iter().find(
        |c| matches!(c.rewrite(), Some(DnsRewrite::Rcode(rc)) if *rc != ResponseCode::NoError),
    ) {
        let Some(DnsRewrite::Rcode(rcode)) = c.rewrite() else {
            return None;
        };
        let mut v = Verdict::new(Reason::RewrittenRule, smallvec::smallvec![matched(c)]);
        v.rewrite = Some(Rewrite {
            rcode: *rcode,
            cname: None,
            records: Vec::new(),
        });
        return Some(v);
    }
    if rules.is_empty() {
        return None;
    }
    let records = rules
        .iter()
        .filter_map(|c| match c.rewrite() {
            Some(DnsRewrite::Record(r)) => Some(r.clone()),
            _ => None,
        })
        .collect();
    let mut v = Verdict::new(Reason::RewrittenRule, rules.iter().map(matched).collect());
    v.rewrite = Some(Rewrite {
        rcode: ResponseCode::NoError,
        cname: None,
        records,
    });
    Some(v)
}
