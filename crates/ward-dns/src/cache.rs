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

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::wire::{Question, question_end, skip_name};

/// The longest key: group name (length-prefixed), type, class, flags, question name.
const KEY_MAX: usize = 1 + 255 + 2 + 2 + 1 + 255;

/// What identifies a cached answer: the upstream group that answered, the question's name
/// (lowercase, without the trailing dot), type and class, and the DO and CD bits (an
/// answer fetched with checking disabled may hold what a validating upstream would have
/// refused). Built on the stack, so a lookup allocates nothing; only an insert copies it
/// to the heap. The same key names a question in flight upstream (identical questions
/// share one exchange).
pub struct CacheKey {
    bytes: [u8; KEY_MAX],
    len: usize,
}

impl CacheKey {
    /// The key of a client's question sent to `group`; `None` for a group name longer than
    /// 255 bytes (never cached).
    pub fn new(group: &str, q: &Question<'_>) -> Option<CacheKey> {
        CacheKey::of(
            group,
            q.name,
            q.qtype,
            q.qclass,
            q.dnssec_ok(),
            q.checking_disabled,
        )
    }

    /// The key of a question given by its parts.
    pub fn of(
        group: &str,
        name: &str,
        qtype: RecordType,
        qclass: u16,
        dnssec_ok: bool,
        checking_disabled: bool,
    ) -> Option<CacheKey> {
        let group_len = u8::try_from(group.len()).ok()?;
        let len = 1 + group.len() + 5 + name.len();
        if len > KEY_MAX {
            return None;
        }
        let mut bytes = [0u8; KEY_MAX];
        bytes[0] = group_len;
        let mut at = 1 + group.len();
        bytes[1..at].copy_from_slice(group.as_bytes());
        bytes[at..at + 2].copy_from_slice(&u16::from(qtype).to_be_bytes());
        bytes[at + 2..at + 4].copy_from_slice(&qclass.to_be_bytes());
        bytes[at + 4] = u8::from(dnssec_ok) | u8::from(checking_disabled) << 1;
        at += 5;
        bytes[at..len].copy_from_slice(name.as_bytes());
        Some(CacheKey { bytes, len })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// One cached answer, ready to be sent again.
#[derive(Debug)]
pub struct CachedAnswer {
    /// The answer as the upstream sent it, id zeroed, without its OPT record.
    wire: Box<[u8]>,
    /// Byte offsets of every record's TTL field.
    ttls: Box<[u16]>,
    /// CNAME targets (lowercase, no trailing dot) and addresses of the answer section, with
    /// the type each is checked as: what answer filtering (CNAME cloaking) looks at.
    targets: Box<[(Box<str>, RecordType)]>,
    stored: Instant,
    ttl: u32,
}

impl CachedAnswer {
    /// Reads an upstream answer (in wire format, as the server sent it). Returns the entry
    /// and whether it may be cached (NOERROR or NXDOMAIN, not truncated, a TTL above 0
    /// after the limits); `None` if the answer cannot be read.
    pub fn read(answer: &[u8], limits: &CacheLimits) -> Option<(CachedAnswer, bool)> {
        let read = Reader::read(answer)?;
        let read = match &read.opt {
            // The OPT record is hop by hop: cut it off the end.
            Some(opt) if opt.end == read.end => read,
            None => read,
            // An OPT record before other additional records (legal, never seen from real
            // servers): let hickory rewrite the message without it.
            Some(_) => {
                let mut m = Message::from_vec(answer).ok()?;
                m.edns = None;
                let rewritten = m.to_vec().ok()?;
                let read = Reader::read(&rewritten)?;
                return Some(read.into_entry(&rewritten, limits));
            }
        };
        Some(read.into_entry(answer, limits))
    }

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
        if age > 0 {
            for &at in self.ttls.iter() {
                let at = usize::from(at);
                let ttl = u32::from_be_bytes(out[at..at + 4].try_into().ok()?);
                out[at..at + 4].copy_from_slice(&ttl.saturating_sub(age).to_be_bytes());
            }
        }
        if let Some(dnssec_ok) = edns {
            let arcount = u16::from_be_bytes([out[10], out[11]]).saturating_add(1);
            out[10..12].copy_from_slice(&arcount.to_be_bytes());
            crate::wire::push_opt(&mut out, dnssec_ok, 0);
        }
        Some(out)
    }
}

/// How long an answer stays fresh: the lowest TTL of its answer section, or for an answer
/// without one, its SOA's negative-caching time; `None` when it has neither or cannot be
/// read. DNS over HTTPS gives it as the response's `Cache-Control: max-age` (RFC 8484
/// section 5.1).
pub(crate) fn freshness(answer: &[u8]) -> Option<u32> {
    let r = Reader::read(answer)?;
    r.answer_ttl.or(r.soa_ttl)
}

/// What [`CachedAnswer::read`] learns from one walk over an answer.
struct Reader {
    rcode: u8,
    truncated: bool,
    /// Where the last record ends (anything after it is dropped).
    end: usize,
    /// Where the OPT record starts and ends.
    opt: Option<std::ops::Range<usize>>,
    ttls: Vec<u16>,
    targets: Vec<(Box<str>, RecordType)>,
    /// The lowest TTL of the answer section.
    answer_ttl: Option<u32>,
    /// The negative-caching TTL of an authority SOA: min(its TTL, its MINIMUM).
    soa_ttl: Option<u32>,
}

impl Reader {
    fn read(wire: &[u8]) -> Option<Reader> {
        let header = wire.get(..12)?;
        let count = |i: usize| usize::from(u16::from_be_bytes([header[i], header[i + 1]]));
        let q_end = question_end(wire)?;
        let qtype = RecordType::from(u16::from_be_bytes([wire[q_end - 4], wire[q_end - 3]]));
        let (answers, authorities) = (count(6), count(8));
        let mut r = Reader {
            rcode: header[3] & 0x0f,
            truncated: header[2] & 0x02 != 0,
            end: q_end,
            opt: None,
            ttls: Vec::with_capacity(answers + authorities + count(10)),
            targets: Vec::new(),
            answer_ttl: None,
            soa_ttl: None,
        };
        let mut at = q_end;
        for i in 0..answers + authorities + count(10) {
            let start = at;
            let fixed = skip_name(wire, at)?;
            let field = |o: usize, n: usize| wire.get(fixed + o..fixed + o + n);
            let rtype = u16::from_be_bytes(field(0, 2)?.try_into().ok()?);
            let ttl = u32::from_be_bytes(field(4, 4)?.try_into().ok()?);
            let rdlen = usize::from(u16::from_be_bytes(field(8, 2)?.try_into().ok()?));
            let rdata = fixed + 10..fixed + 10 + rdlen;
            let data = wire.get(rdata.clone())?;
            at = rdata.end;
            if i >= answers + authorities && rtype == 41 {
                if r.opt.is_some() {
                    return None;
                }
                r.opt = Some(start..at);
                continue;
            }
            r.ttls.push(u16::try_from(fixed + 4).ok()?);
            if i < answers {
                r.answer_ttl = Some(r.answer_ttl.map_or(ttl, |t| t.min(ttl)));
                match (rtype, data.len()) {
                    (5, _) => r
                        .targets
                        .push((read_name(wire, rdata.start)?.into(), qtype)),
                    (1, 4) => {
                        let ip = Ipv4Addr::from(<[u8; 4]>::try_from(data).ok()?);
                        r.targets.push((ip.to_string().into(), RecordType::A));
                    }
                    (28, 16) => {
                        let ip = Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?);
                        r.targets.push((ip.to_string().into(), RecordType::AAAA));
                    }
                    _ => {}
                }
            } else if i < answers + authorities && rtype == 6 && data.len() >= 22 {
                let minimum = u32::from_be_bytes(data[data.len() - 4..].try_into().ok()?);
                r.soa_ttl = Some(minimum.min(ttl));
            }
        }
        r.end = at;
        Some(r)
    }

    /// The entry for the answer this reader walked (its OPT record, if any, is the last
    /// record), and whether it may be cached.
    fn into_entry(self, answer: &[u8], l: &CacheLimits) -> (CachedAnswer, bool) {
        let mut wire = answer[..self.opt.as_ref().map_or(self.end, |o| o.start)].to_vec();
        wire[0..2].fill(0);
        if self.opt.is_some() {
            let arcount = u16::from_be_bytes([wire[10], wire[11]]).saturating_sub(1);
            wire[10..12].copy_from_slice(&arcount.to_be_bytes());
        }
        let clamp = |t: u32| t.clamp(l.min_ttl, l.max_ttl.max(l.min_ttl));
        // What clients see is clamped too, not only how long the entry lives: every
        // record's TTL, lowered by the entry's age as it is sent.
        for &at in &self.ttls {
            let at = usize::from(at);
            let ttl = u32::from_be_bytes(wire[at..at + 4].try_into().unwrap_or_default());
            wire[at..at + 4].copy_from_slice(&clamp(ttl).to_be_bytes());
        }
        let ttl = match self.rcode {
            // NOERROR with answers.
            0 if self.answer_ttl.is_some() => self.answer_ttl.map(clamp),
            // NODATA and NXDOMAIN, for as long as their SOA says (RFC 2308 3), at most
            // `negative_ttl`. Without an SOA there is no such time: not cached (RFC 2308 5).
            0 | 3 => self.soa_ttl.map(|t| t.min(l.negative_ttl)),
            _ => None,
        };
        let cacheable = !self.truncated && ttl.is_some_and(|t| t > 0);
        let entry = CachedAnswer {
            wire: wire.into(),
            ttls: self.ttls.into(),
            targets: self.targets.into(),
            stored: Instant::now(),
            // An answer that is not kept is sent once, now.
            ttl: ttl.filter(|_| cacheable).unwrap_or(1),
        };
        (entry, cacheable)
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
///
/// quick_cache rather than moka: with moka's table full (100,000 answers, most of them
/// asked once), a cache hit cost 2.7 µs more than with it empty (4.0 against 6.8 µs of
/// server CPU per query), its probes walking tombstones and pointers; quick_cache keeps
/// entries in its shards' own arrays and evicts with CLOCK-Pro (scan resistant, as
/// TinyLFU is). Entries expire by their TTL at lookup and make room by capacity.
pub struct AnswerCache {
    entries: quick_cache::sync::Cache<Box<[u8]>, Arc<CachedAnswer>>,
    limits: CacheLimits,
}

impl AnswerCache {
    /// An empty cache.
    pub fn new(limits: CacheLimits) -> AnswerCache {
        let size = usize::try_from(limits.size).unwrap_or(usize::MAX).max(1);
        AnswerCache {
            entries: quick_cache::sync::Cache::new(size),
            limits,
        }
    }

    /// A cached answer, if one is still fresh (an expired one is dropped).
    pub fn get(&self, key: &CacheKey) -> Option<Arc<CachedAnswer>> {
        let entry = self.entries.get(key.as_bytes())?;
        if entry.stored.elapsed().as_secs() < u64::from(entry.ttl) {
            return Some(entry);
        }
        self.entries.remove(key.as_bytes());
        None
    }

    /// Reads an upstream answer and stores it if it may be cached. Returns the entry either
    /// way (an uncacheable answer is still sent, once), or `None` if it cannot be read.
    /// `keep: false` reads it without storing it (a class other than IN).
    pub fn insert(&self, key: &CacheKey, answer: &[u8], keep: bool) -> Option<Arc<CachedAnswer>> {
        let (entry, cacheable) = CachedAnswer::read(answer, &self.limits)?;
        let entry = Arc::new(entry);
        if cacheable && keep {
            self.entries.insert(key.as_bytes().into(), entry.clone());
        }
        Some(entry)
    }

    /// Entries held.
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every entry (the upstreams changed).
    pub fn clear(&self) {
        self.entries.clear();
    }
}

/// The name at `at`, following compression pointers: lowercase, dot-separated, without
/// the trailing dot. `None` for a name that runs off the message, loops or is too long.
pub(crate) fn read_name(wire: &[u8], at: usize) -> Option<String> {
    let mut name = String::new();
    read_name_into(wire, at, &mut name)?;
    Some(name)
}

/// [`read_name`], appended to `name` (which keeps its memory from one name to the next).
pub(crate) fn read_name_into(wire: &[u8], mut at: usize, name: &mut String) -> Option<()> {
    let start = name.len();
    let mut jumps = 0;
    loop {
        let len = *wire.get(at)?;
        match len {
            0 => return Some(()),
            l if l & 0xC0 == 0xC0 => {
                jumps += 1;
                if jumps > 64 {
                    return None;
                }
                at = usize::from(u16::from_be_bytes([l & 0x3F, *wire.get(at + 1)?]));
            }
            l if l & 0xC0 != 0 => return None,
            l => {
                let label = wire.get(at + 1..at + 1 + usize::from(l))?;
                if name.len() > start {
                    name.push('.');
                }
                match std::str::from_utf8(label) {
                    Ok(ascii) if ascii.is_ascii() => {
                        let from = name.len();
                        name.push_str(ascii);
                        name[from..].make_ascii_lowercase();
                    }
                    // Bytes outside ASCII become the Latin-1 characters of the same
                    // value, which no rule matches (rules are ASCII).
                    _ => name.extend(label.iter().map(|b| char::from(b.to_ascii_lowercase()))),
                }
                if name.len() - start > 255 {
                    return None;
                }
                at += 1 + usize::from(l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::ResponseCode;
    use hickory_proto::op::{Edns, MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::{A, CNAME, SOA};
    use hickory_proto::rr::{Name, RData, Record};

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
        CacheKey::of("default", "www.example.org", RecordType::A, 1, false, false).unwrap()
    }

    fn wire(m: &Message) -> Vec<u8> {
        m.to_vec().unwrap()
    }

    #[test]
    fn a_hit_is_the_answer_for_this_client() {
        let cache = AnswerCache::new(limits());
        let mut upstream = upstream_answer();
        upstream.set_edns(Edns::new());
        let entry = cache.insert(&key(), &wire(&upstream), true).unwrap();
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
        // Without EDNS: no OPT record (the upstream's is never passed on).
        let mut plain = req.clone();
        plain.edns = None;
        let hit = cache
            .get(&key())
            .unwrap()
            .render(&plain.to_vec().unwrap(), None)
            .unwrap();
        let m = Message::from_vec(&hit).unwrap();
        assert!(m.edns.is_none());
        assert!(m.additionals.is_empty());
        // Another group, type, class, DO or CD bit is another entry.
        for other in [
            CacheKey::of("router", "www.example.org", RecordType::A, 1, false, false),
            CacheKey::of(
                "default",
                "www.example.org",
                RecordType::AAAA,
                1,
                false,
                false,
            ),
            CacheKey::of("default", "www.example.org", RecordType::A, 1, true, false),
            CacheKey::of("default", "www.example.org", RecordType::A, 3, false, false),
            CacheKey::of("default", "www.example.org", RecordType::A, 1, false, true),
            CacheKey::of("default", "example.org", RecordType::A, 1, false, false),
        ] {
            assert!(cache.get(&other.unwrap()).is_none());
        }
    }

    #[test]
    fn compressed_cname_targets_are_read_through_their_pointers() {
        // hickory compresses "example.net" inside the second target against the first.
        let mut m = upstream_answer();
        m.answers.insert(
            1,
            Record::from_rdata(
                Name::from_ascii("cdn.example.net.").unwrap(),
                300,
                RData::CNAME(CNAME(Name::from_ascii("Edge.CDN.example.net.").unwrap())),
            ),
        );
        let (entry, cacheable) = CachedAnswer::read(&wire(&m), &limits()).unwrap();
        assert!(cacheable);
        let names: Vec<_> = entry.targets().map(|(n, _)| n.to_owned()).collect();
        assert_eq!(
            names,
            ["cdn.example.net", "edge.cdn.example.net", "192.0.2.1"]
        );
    }

    #[test]
    fn negative_answers_live_for_the_soa_minimum_at_most_negative_ttl() {
        let name = Name::from_ascii("nx.example.org.").unwrap();
        let zone = Name::from_ascii("example.org.").unwrap();
        for (minimum, soa_ttl, want) in [(60, 3600, 60), (3600, 3600, 300), (3600, 30, 30)] {
            let mut m = Message::new(1, MessageType::Response, OpCode::Query);
            m.metadata.response_code = ResponseCode::NXDomain;
            m.add_query(Query::query(name.clone(), RecordType::A));
            let soa = SOA::new(zone.clone(), zone.clone(), 1, 2, 3, 4, minimum);
            m.add_authority(Record::from_rdata(zone.clone(), soa_ttl, RData::SOA(soa)));
            let (entry, cacheable) = CachedAnswer::read(&wire(&m), &limits()).unwrap();
            assert!(cacheable);
            assert_eq!(entry.ttl, want, "minimum {minimum}, SOA TTL {soa_ttl}");
        }
    }

    #[test]
    fn servfail_truncated_and_ttl_0_answers_are_sent_but_not_kept() {
        let cache = AnswerCache::new(limits());
        let mut servfail = upstream_answer();
        servfail.metadata.response_code = ResponseCode::ServFail;
        let mut truncated = upstream_answer();
        truncated.metadata.truncation = true;
        let mut zero = upstream_answer();
        for r in &mut zero.answers {
            r.ttl = 0;
        }
        for m in [servfail, truncated, zero] {
            let entry = cache.insert(&key(), &wire(&m), true).unwrap();
            assert!(cache.get(&key()).is_none());
            let raw = wire(&Message::query());
            // The question differs from the request's: nothing to render for it.
            assert!(entry.render(&raw, None).is_none());
        }
    }

    #[test]
    fn the_cache_holds_at_most_its_size() {
        let cache = AnswerCache::new(limits());
        let answer = wire(&upstream_answer());
        for i in 0..1000 {
            let key = CacheKey::of(
                "default",
                &format!("n{i}.example"),
                RecordType::A,
                1,
                false,
                false,
            );
            cache.insert(&key.unwrap(), &answer, true).unwrap();
        }
        assert!(cache.len() <= limits().size, "{} entries", cache.len());
        assert!(!cache.is_empty());
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn clients_see_the_clamped_ttls() {
        let limits = CacheLimits {
            min_ttl: 120,
            max_ttl: 200,
            ..limits()
        };
        // TTLs 300 and 60: lowered to 200 and raised to 120, in the answer sent.
        let (entry, cacheable) = CachedAnswer::read(&wire(&upstream_answer()), &limits).unwrap();
        assert!(cacheable);
        assert_eq!(entry.ttl, 120);
        let mut req = Message::new(7, MessageType::Query, OpCode::Query);
        req.add_query(Query::query(
            Name::from_ascii("www.example.org.").unwrap(),
            RecordType::A,
        ));
        let sent = entry.render(&req.to_vec().unwrap(), None).unwrap();
        let ttls: Vec<u32> = Message::from_vec(&sent)
            .unwrap()
            .answers
            .iter()
            .map(|r| r.ttl)
            .collect();
        assert_eq!(ttls, [200, 120]);
    }

    #[test]
    fn negative_answers_without_an_soa_are_not_kept() {
        // RFC 2308 5: without an SOA there is nothing to say how long "no" lasts.
        for rcode in [ResponseCode::NXDomain, ResponseCode::NoError] {
            let mut m = Message::new(1, MessageType::Response, OpCode::Query);
            m.metadata.response_code = rcode;
            m.add_query(Query::query(
                Name::from_ascii("nx.example.org.").unwrap(),
                RecordType::A,
            ));
            let (_, cacheable) = CachedAnswer::read(&wire(&m), &limits()).unwrap();
            assert!(!cacheable, "{rcode:?}");
        }
    }

    #[test]
    fn unreadable_answers_are_refused() {
        let cache = AnswerCache::new(limits());
        let good = wire(&upstream_answer());
        for cut in [5, 20, good.len() - 1] {
            assert!(
                cache.insert(&key(), &good[..cut], true).is_none(),
                "cut at {cut}"
            );
        }
        // A compression pointer that loops.
        let mut looped = good.clone();
        let q_end = question_end(&looped).unwrap();
        looped.truncate(q_end);
        looped[7] = 1; // ANCOUNT 1
        let here = u16::try_from(q_end + 12).unwrap();
        looped.extend_from_slice(&[0xC0, 0x0C, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2]);
        looped.extend_from_slice(&(0xC000 | here).to_be_bytes());
        assert!(cache.insert(&key(), &looped, true).is_none());
    }
}
