//! What a search of the in-memory log asks for, and the page it gets back.

use std::net::IpAddr;
use std::str::FromStr;

use serde::Serialize;

use super::{Entry, Reason};

/// Which reasons a search keeps: a set of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReasonFilter(u8);

impl ReasonFilter {
    /// Entries of this reason only.
    pub fn only(reason: Reason) -> ReasonFilter {
        ReasonFilter(1 << Reason::ALL.iter().position(|r| *r == reason).unwrap_or(0))
    }

    /// No entry (a filter for what Ward never logs: AdGuard Home's parental and safe
    /// browsing services).
    pub fn none() -> ReasonFilter {
        ReasonFilter(0)
    }

    /// Entries whose reason `keep` holds for.
    fn of(keep: impl Fn(Reason) -> bool) -> ReasonFilter {
        ReasonFilter(
            Reason::ALL
                .iter()
                .enumerate()
                .filter(|(_, r)| keep(**r))
                .fold(0, |set, (i, _)| set | 1 << i),
        )
    }

    /// Whether an entry of `reason` is kept.
    pub fn matches(self, reason: Reason) -> bool {
        Reason::ALL
            .iter()
            .position(|r| *r == reason)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }
}

/// Parses a reason filter: AdGuard Home's names (`FilteredBlockList`, ...) for one reason,
/// or a word, any case: `blocked` (by a rule, a service or a schedule), `allowlisted`,
/// `rewritten`, `processed` (not filtered), `blocked_service`, `safe_search`, `schedule`.
pub fn parse_reason(s: &str) -> Option<ReasonFilter> {
    if let Some(r) = Reason::ALL
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(s))
    {
        return Some(ReasonFilter::only(r));
    }
    let one = ReasonFilter::only;
    match s.to_ascii_lowercase().replace('-', "_").as_str() {
        "processed" | "notfiltered" => Some(one(Reason::NotFilteredNotFound)),
        "allowlisted" | "allowed" | "whitelisted" => Some(one(Reason::NotFilteredAllowList)),
        "blocked" | "filtered" => Some(ReasonFilter::of(Reason::is_blocked)),
        "rewritten" => Some(one(Reason::RewrittenRule)),
        "blocked_service" | "blocked_services" | "service" => {
            Some(one(Reason::FilteredBlockedService))
        }
        "safe_search" | "safesearch" => Some(one(Reason::FilteredSafeSearch)),
        "schedule" => Some(one(Reason::FilteredSchedule)),
        _ => None,
    }
}

/// Which clients a search keeps: an address, a subnet, or a client name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientFilter {
    /// Clients in `addr/prefix` (a single address has the full prefix).
    Net {
        /// The network's address.
        addr: IpAddr,
        /// Its prefix length.
        prefix: u8,
    },
    /// Clients with this name in the config, or this ClientID (case-insensitive).
    Name(Box<str>),
}

impl ClientFilter {
    /// Whether an entry of `client` is kept; `names` gives its client name and ClientID.
    pub(super) fn matches<'a>(
        &self,
        client: IpAddr,
        names: impl FnOnce() -> [Option<&'a str>; 2],
    ) -> bool {
        match self {
            ClientFilter::Net { addr, prefix } => in_net(client, *addr, *prefix),
            ClientFilter::Name(want) => names()
                .into_iter()
                .flatten()
                .any(|n| n.eq_ignore_ascii_case(want)),
        }
    }
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

impl FromStr for ClientFilter {
    type Err = String;

    /// `192.168.1.10`, `192.168.1.0/24`, `fd00::/8`, or anything else as a client name.
    fn from_str(s: &str) -> Result<ClientFilter, String> {
        if let Some((addr, prefix)) = s.split_once('/') {
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("{s:?}: not an address/prefix"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0 to {max}"))?;
            return Ok(ClientFilter::Net { addr, prefix });
        }
        if let Ok(addr) = s.parse::<IpAddr>() {
            let prefix = if addr.is_ipv4() { 32 } else { 128 };
            return Ok(ClientFilter::Net { addr, prefix });
        }
        if s.is_empty() {
            return Err("an empty client filter".into());
        }
        Ok(ClientFilter::Name(s.into()))
    }
}

/// Where the next page starts: before the last entry of the previous one. Opaque to
/// users: its text form is what [`Page::next_cursor`] carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor(pub(super) u64);

impl FromStr for Cursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Cursor, String> {
        s.parse()
            .map(Cursor)
            .map_err(|_| format!("{s:?}: not a cursor this log gave"))
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A search of the in-memory log; every filter set must match.
#[derive(Clone, Debug, Default)]
pub struct Search {
    /// Entries at or after this time, Unix ms.
    pub from_ms: Option<u64>,
    /// Entries at or before this time, Unix ms.
    pub to_ms: Option<u64>,
    /// Entries of these clients.
    pub client: Option<ClientFilter>,
    /// Entries answered by this policy.
    pub policy: Option<String>,
    /// Entries whose name contains this (case-insensitive).
    pub name: Option<String>,
    /// Entries with one of these reasons.
    pub reason: Option<ReasonFilter>,
    /// Entries of this question type.
    pub qtype: Option<u16>,
    /// Entries with this response code (the header's 4 bits).
    pub rcode: Option<u8>,
    /// Entries answered by this upstream (its address as the log shows it; `none` for
    /// entries no upstream answered: blocked, cached, local).
    pub upstream: Option<UpstreamFilter>,
    /// The page size: 100 unless set, at most 1,000.
    pub limit: Option<usize>,
    /// The previous page's [`Page::next_cursor`], for the page after it.
    pub cursor: Option<Cursor>,
    /// Only entries logged at or after this point: a [`Page::head`] of an earlier search,
    /// for the entries logged since (a live tail).
    pub since: Option<Cursor>,
}

/// Which upstream a search keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamFilter {
    /// Entries this upstream answered.
    Named(String),
    /// Entries no upstream answered.
    None,
}

impl FromStr for UpstreamFilter {
    type Err = String;

    /// `none`, or an upstream's address as the log shows it.
    fn from_str(s: &str) -> Result<UpstreamFilter, String> {
        match s.trim() {
            "" => Err("an empty upstream filter".into()),
            none if none.eq_ignore_ascii_case("none") => Ok(UpstreamFilter::None),
            named => Ok(UpstreamFilter::Named(named.to_owned())),
        }
    }
}

/// Parses a question type filter: its name (`A`, `aaaa`, `HTTPS`), RFC 3597's `TYPE65`,
/// or its number.
pub fn parse_qtype(s: &str) -> Option<u16> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u16>() {
        return Some(n);
    }
    if let Some(n) = s
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("TYPE"))
        .and_then(|_| s[4..].parse::<u16>().ok())
    {
        return Some(n);
    }
    super::json::qtype_number(&s.to_ascii_uppercase())
}

/// Parses a response code filter: its name as the log shows it (`NOERROR`, `nxdomain`,
/// `SERVFAIL`, `RCODE11`) or its number (0 to 15).
pub fn parse_rcode(s: &str) -> Option<u8> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u8>() {
        return (n < 16).then_some(n);
    }
    (0..16u8).find(|&n| super::json::rcode_str(n).eq_ignore_ascii_case(s))
}

/// One page of a search, newest first.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Page {
    /// The entries found.
    pub entries: Vec<Entry>,
    /// For each entry, the [`Search::cursor`] of the entries after it (a merged view of
    /// several nodes stops inside a node's page).
    #[serde(skip)]
    pub cursors: Vec<Cursor>,
    /// Pass this as [`Search::cursor`] for the next page; `None` when this is the last.
    pub next_cursor: Option<String>,
    /// Where the log stood at the search: pass it as [`Search::since`] for the entries
    /// logged after this page (the live tail starts there).
    pub head: String,
}
