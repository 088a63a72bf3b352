//! Which of the matching rules decides, with AdGuard Home's order of precedence:
//!
//! 1. `$badfilter` rules remove the rules they name.
//! 2. `$dnsrewrite` rules, after their own exceptions, answer first: a CNAME wins, then
//!    a response code other than NOERROR, else the records of every rewrite rule.
//! 3. Network rules: `@@...$important` > `...$important` > `@@...` > blocking; ties go
//!    to the rule with more modifiers, then to the first one written.
//! 4. Host rules (hosts files, domain-only lines), for the query's address family.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use smallvec::SmallVec;

use crate::compile::indexed_pattern;
use crate::index::{ALLOW, BADFILTER, HOST, IMPORTANT, V6};
use crate::modifiers::Modifiers;
use crate::rewrite::DnsRewrite;
use crate::ruleset::{ComplexKind, ComplexRule, NetworkRule, RuleRef};
use crate::verdict::{Reason, Rewrite, RuleMatch, Verdict};

/// A rule that matched the name, before precedence is applied.
#[derive(Clone, Copy)]
pub(crate) struct Candidate<'s> {
    pub(crate) layer: usize,
    pub(crate) rule: RuleRef,
    pub(crate) flags: u8,
    /// The name's hash, for the identity of an indexed rule; 0 for general rules.
    pub(crate) key: u64,
    pub(crate) complex: Option<&'s ComplexRule>,
}

pub(crate) type Candidates<'s> = SmallVec<[Candidate<'s>; 8]>;

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

pub(crate) fn decide(found: &mut Candidates<'_>, name: &[u8], qtype: RecordType) -> Verdict {
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
