//! The cache of upstream answers.
//!
//! Entries are the upstream's answers before any filtering, keyed by the upstream group,
//! the name, the type and the DO bit: every policy filters the cached answer for itself,
//! so one policy's filtering never leaks into another's answers. Each entry lives for its
//! answer's TTL (clamped to the config's bounds); negative answers for the SOA's minimum,
//! at most `negative_ttl`. Served copies have their TTLs lowered by the time spent in
//! the cache.

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

#[derive(Clone, Debug)]
struct Entry {
    message: Arc<Message>,
    stored: Instant,
    ttl: u32,
}

struct ByTtl;

impl Expiry<CacheKey, Entry> for ByTtl {
    fn expire_after_create(&self, _: &CacheKey, value: &Entry, _: Instant) -> Option<Duration> {
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
    entries: moka::sync::Cache<CacheKey, Entry>,
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

    /// A cached answer with its TTLs lowered by its age, if one is still fresh.
    pub fn get(&self, key: &CacheKey) -> Option<Message> {
        let e = self.entries.get(key)?;
        let age = u32::try_from(e.stored.elapsed().as_secs()).unwrap_or(u32::MAX);
        if age >= e.ttl {
            return None;
        }
        let mut m = (*e.message).clone();
        for r in m
            .answers
            .iter_mut()
            .chain(m.authorities.iter_mut())
            .chain(m.additionals.iter_mut())
        {
            r.ttl = r.ttl.saturating_sub(age);
        }
        Some(m)
    }

    /// Stores an upstream answer, if it may be cached.
    pub fn insert(&self, key: CacheKey, message: &Message) {
        let Some(ttl) = self.ttl_of(message) else {
            return;
        };
        if ttl == 0 {
            return;
        }
        let entry = Entry {
            message: Arc::new(message.clone()),
            stored: Instant::now(),
            ttl,
        };
        self.entries.insert(key, entry);
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
