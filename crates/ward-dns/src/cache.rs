//! The cache of upstream answers, kept in wire format.
//!
//! Entries are the upstream's answers before any filtering, keyed by the upstream group,
//! the name, the type and the DO bit: every policy filters the cached answer for itself,
//! so one policy's filtering never leaks into another's answers. Each entry lives for its
//! answer's TTL (clamped to the config's bounds); negative answers for the SOA's minimum,
//! at most `negative_ttl`.
//!
//! An entry is the answer's bytes (without an OPT record), the offsets of its TTL fields,
//! and the names and addresses its answer section points at, which is all a cache hit
//! needs: the hit copies the bytes, writes the client's id, question and RD bit, lowers
//! the TTLs by the entry's age and appends an OPT record for an EDNS client, with no
//! decoding or encoding. A few hundred bytes an entry instead of a decoded message's
//! kilobytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use moka::Expiry;

/// What identifies a cached answer.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct CacheKey {
    /// The upstream group that answered.
    pub group: Arc<str>,
    /// The question's name, lowercase, without the trailing dot.
    pub name: Box<str>,
    /// The question's type.
    pub qtype: RecordType,
    /// Whether the client asked for DNSSEC records.
    pub dnssec_ok: bool,
}

/// One cached answer, ready to be sent again.
#[derive(Clone, Debug)]
pub struct CachedAnswer {
    /// The answer as the upstream sent it, without its OPT record.
    wire: Arc<[u8]>,
    /// Byte offsets of every record's TTL field.
    ttls: Arc<[u16]>,
    /// CNAME targets (lowercase, no trailing dot) and addresses of the answer section, with
    /// the type each is checked as: what answer filtering (CNAME cloaking) looks at.
    targets: Arc<[(Box<str>, RecordType)]>,
    stored: Instant,
    ttl: u32,
}

impl CachedAnswer {
    /// The names and addresses the answer points at, for answer filtering.
    pub fn targets(&self) -> impl Iterator<Item = (&str, RecordType)> {
        self.targets.iter().map(|(n, t)| (&**n, *t))
    }

    /// The answer for a client: its id, its question (its letter case), its RD bit, TTLs
    /// lowered by the entry's age, and an OPT record when it sent EDNS (`edns` = Some(DO)).
    /// `None` when the entry has expired or the client's question does not fit it.
    pub fn render(&self, request: &[u8], edns: Option<bool>) -> Option<Vec<u8>> {
        let age = u32::try_from(self.stored.elapsed().as_secs()).unwrap_or(u32::MAX);
        if age >= self.ttl || request.len() < 12 {
            return None;
        }
        let mut out = Vec::with_capacity(self.wire.len() + 11);
        out.extend_from_slice(&self.wire);
        // Id, and the client's RD bit.
        out[0..2].copy_from_slice(&request[0..2]);
        out[2] = (out[2] & !0x01) | (request[2] & 0x01);
        // The question, as the client wrote it (the same name in another case).
        let q_end = question_end(request)?;
        if q_end != question_end(&out)? {
            return None;
        }
        out[12..q_end].copy_from_slice(&request[12..q_end]);
        for &at in self.ttls.iter() {
            let at = usize::from(at);
            let ttl = u32::from_be_bytes(out[at..at + 4].try_into().ok()?);
            out[at..at + 4].copy_from_slice(&ttl.saturating_sub(age).to_be_bytes());
        }
        if let Some(dnssec_ok) = edns {
            let arcount = u16::from_be_bytes([out[10], out[11]]).saturating_add(1);
            out[10..12].copy_from_slice(&arcount.to_be_bytes());
            // Root name, type OPT, class = payload size, extended rcode and version 0,
            // the DO flag, no options.
            out.extend_from_slice(&[0, 0, 41]);
            out.extend_from_slice(&crate::answer::EDNS_PAYLOAD.to_be_bytes());
            out.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
        }
        Some(out)
    }
}

struct ByTtl;

impl Expiry<CacheKey, CachedAnswer> for ByTtl {
    fn expire_after_create(
        &self,
        _: &CacheKey,
        value: &CachedAnswer,
        _: Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(u64::from(value.ttl)))
    }
}

/// TTL bounds from the config's `cache` section.
#[derive(Clone, Copy, Debug)]
pub struct CacheLimits {
    /// Entries at most.
    pub size: u64,
    /// Shortest time an answer is kept.
    pub min_ttl: u32,
    /// Longest time an answer is kept.
    pub max_ttl: u32,
    /// Longest time a negative answer is kept.
    pub negative_ttl: u32,
}

/// Upstream answers, shared by every policy.
pub struct AnswerCache {
    entries: moka::sync::Cache<CacheKey, CachedAnswer>,
    limits: CacheLimits,
}

impl AnswerCache {
    /// An empty cache.
    pub fn new(limits: CacheLimits) -> AnswerCache {
        let entries = moka::sync::Cache::builder()
            .max_capacity(limits.size)
            .expire_after(ByTtl)
            .build();
        AnswerCache { entries, limits }
    }

    /// A cached answer, if one is still fresh.
    pub fn get(&self, key: &CacheKey) -> Option<CachedAnswer> {
        self.entries
            .get(key)
            .filter(|e| e.stored.elapsed().as_secs() < u64::from(e.ttl))
    }

    /// Stores an upstream answer and returns the entry, if it may be cached.
    pub fn insert(&self, key: CacheKey, message: &Message) -> Option<CachedAnswer> {
        let ttl = self.ttl_of(message).filter(|t| *t > 0)?;
        if message.metadata.truncation {
            return None;
        }
        let mut m = message.clone();
        m.edns = None;
        m.metadata.id = 0;
        let wire = m.to_vec().ok()?;
        let ttls = ttl_offsets(&wire)?;
        let targets = message
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::CNAME(c) => Some((
                    c.0.to_ascii()
                        .trim_end_matches('.')
                        .to_ascii_lowercase()
                        .into(),
                    message.queries.first()?.query_type(),
                )),
                RData::A(a) => Some((a.0.to_string().into(), RecordType::A)),
                RData::AAAA(a) => Some((a.0.to_string().into(), RecordType::AAAA)),
                _ => None,
            })
            .collect();
        let entry = CachedAnswer {
            wire: wire.into(),
            ttls: ttls.into(),
            targets,
            stored: Instant::now(),
            ttl,
        };
        self.entries.insert(key, entry.clone());
        Some(entry)
    }

    /// Entries held (approximate, as the cache counts lazily).
    pub fn len(&self) -> u64 {
        self.entries.entry_count()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn ttl_of(&self, m: &Message) -> Option<u32> {
        let l = &self.limits;
        let negative = |m: &Message| {
            let soa = m.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(soa) => Some(soa.minimum.min(r.ttl)),
                _ => None,
            });
            soa.unwrap_or(l.negative_ttl).min(l.negative_ttl)
        };
        match m.metadata.response_code {
            ResponseCode::NoError if !m.answers.is_empty() => {
                let min = m.answers.iter().map(|r| r.ttl).min().unwrap_or(0);
                Some(min.clamp(l.min_ttl, l.max_ttl.max(l.min_ttl)))
            }
            ResponseCode::NoError | ResponseCode::NXDomain => Some(negative(m)),
            _ => None,
        }
    }
}

/// Skips a (possibly compressed) name at `at`; the offset after it.
fn skip_name(wire: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *wire.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xC0 == 0xC0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

/// The offset where the question section of a one-question message ends.
fn question_end(wire: &[u8]) -> Option<usize> {
    let qdcount = u16::from_be_bytes([*wire.get(4)?, *wire.get(5)?]);
    if qdcount != 1 {
        return None;
    }
    let end = skip_name(wire, 12)? + 4;
    (end <= wire.len()).then_some(end)
}

/// The offsets of the TTL field of every record of a message.
fn ttl_offsets(wire: &[u8]) -> Option<Vec<u16>> {
    let count = |i: usize| u16::from_be_bytes([wire[i], wire[i + 1]]);
    if wire.len() < 12 {
        return None;
    }
    let records = usize::from(count(6)) + usize::from(count(8)) + usize::from(count(10));
    let mut at = question_end(wire)?;
    let mut out = Vec::with_capacity(records);
    for _ in 0..records {
        at = skip_name(wire, at)?;
        let ttl_at = at + 4;
        let rdlen = usize::from(u16::from_be_bytes([
            *wire.get(ttl_at + 4)?,
            *wire.get(ttl_at + 5)?,
        ]));
        out.push(u16::try_from(ttl_at).ok()?);
        at = ttl_at + 6 + rdlen;
        if at > wire.len() {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Edns, MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::{A, CNAME};
    use hickory_proto::rr::{Name, Record};

    use super::*;

    fn limits() -> CacheLimits {
        CacheLimits {
            size: 100,
            min_ttl: 0,
            max_ttl: 86_400,
            negative_ttl: 300,
        }
    }

    fn upstream_answer() -> Message {
        let name = Name::from_ascii("www.example.org.").unwrap();
        let target = Name::from_ascii("cdn.example.net.").unwrap();
        let mut m = Message::new(77, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(name.clone(), RecordType::A));
        m.add_answer(Record::from_rdata(
            name,
            300,
            RData::CNAME(CNAME(target.clone())),
        ));
        m.add_answer(Record::from_rdata(
            target,
            60,
            RData::A(A("192.0.2.1".parse().unwrap())),
        ));
        m
    }

    fn key() -> CacheKey {
        CacheKey {
            group: "default".into(),
            name: "www.example.org".into(),
            qtype: RecordType::A,
            dnssec_ok: false,
        }
    }

    #[test]
    fn a_hit_is_the_answer_for_this_client() {
        let cache = AnswerCache::new(limits());
        let entry = cache.insert(key(), &upstream_answer()).unwrap();
        assert_eq!(entry.ttl, 60);
        let targets: Vec<_> = entry.targets().map(|(n, t)| (n.to_owned(), t)).collect();
        assert_eq!(
            targets,
            [
                ("cdn.example.net".to_owned(), RecordType::A),
                ("192.0.2.1".to_owned(), RecordType::A)
            ]
        );

        let mut req = Message::new(0xbeef, MessageType::Query, OpCode::Query);
        req.metadata.recursion_desired = true;
        req.add_query(Query::query(
            Name::from_ascii("WwW.ExAmple.org.").unwrap(),
            RecordType::A,
        ));
        req.set_edns(Edns::new());
        let raw = req.to_vec().unwrap();
        let hit = cache.get(&key()).unwrap().render(&raw, Some(true)).unwrap();
        let m = Message::from_vec(&hit).unwrap();
        assert_eq!(m.metadata.id, 0xbeef);
        assert!(m.metadata.recursion_desired);
        assert_eq!(m.queries[0].name().to_ascii(), "WwW.ExAmple.org.");
        assert_eq!(m.answers.len(), 2);
        assert_eq!(m.answers[1].ttl, 60);
        assert!(
            m.edns
                .as_ref()
                .is_some_and(|e| e.flags().dnssec_ok && e.max_payload() == 1232)
        );
        // Without EDNS: no OPT record.
        let mut plain = req.clone();
        plain.edns = None;
        let hit = cache
            .get(&key())
            .unwrap()
            .render(&plain.to_vec().unwrap(), None)
            .unwrap();
        assert!(Message::from_vec(&hit).unwrap().edns.is_none());
    }

    #[test]
    fn servfail_and_truncated_answers_are_not_kept() {
        let cache = AnswerCache::new(limits());
        let mut m = upstream_answer();
        m.metadata.response_code = ResponseCode::ServFail;
        assert!(cache.insert(key(), &m).is_none());
        let mut m = upstream_answer();
        m.metadata.truncation = true;
        assert!(cache.insert(key(), &m).is_none());
    }
}
