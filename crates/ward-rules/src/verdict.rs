//! What a lookup returns: [`Request`] in, [`Verdict`] out.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use smallvec::SmallVec;

use crate::rewrite::RewriteRecord;
use crate::ruleset::{ListMask, RuleRef, RuleSet};
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
    /// A blocked service's rule matched (set by the policy, never by a rule set).
    FilteredBlockedService,
    /// Safe search: answer with `rewrite`'s CNAME to the provider's enforcement host (set
    /// by the policy, never by a rule set).
    FilteredSafeSearch,
    /// A schedule that blocks every name is open (Ward's own; AdGuard Home has none).
    FilteredSchedule,
}

impl Reason {
    /// The name AdGuard Home's API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotFilteredNotFound => "NotFilteredNotFound",
            Reason::NotFilteredAllowList => "NotFilteredAllowList",
            Reason::FilteredBlockList => "FilteredBlockList",
            Reason::RewrittenRule => "RewrittenRule",
            Reason::FilteredBlockedService => "FilteredBlockedService",
            Reason::FilteredSafeSearch => "FilteredSafeSearch",
            Reason::FilteredSchedule => "FilteredSchedule",
        }
    }

    /// Every reason, in declaration order.
    pub const ALL: [Reason; 7] = [
        Reason::NotFilteredNotFound,
        Reason::NotFilteredAllowList,
        Reason::FilteredBlockList,
        Reason::RewrittenRule,
        Reason::FilteredBlockedService,
        Reason::FilteredSafeSearch,
        Reason::FilteredSchedule,
    ];

    /// The reason named `name` ([`Reason::as_str`]).
    pub fn from_name(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether the name gets the blocking answer (or a hosts rule's addresses).
    pub fn is_blocked(self) -> bool {
        matches!(
            self,
            Reason::FilteredBlockList | Reason::FilteredBlockedService | Reason::FilteredSchedule
        )
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
    pub(crate) fn new(reason: Reason, rules: SmallVec<[RuleMatch; 2]>) -> Verdict {
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
        !matches!(
            self.reason,
            Reason::NotFilteredNotFound | Reason::NotFilteredAllowList
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
        crate::lookup::check(&[Layer { rules: self, mask }], request)
    }
}
