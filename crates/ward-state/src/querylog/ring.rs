//! The in-memory ring and its search.
//!
//! Entries live in chunks of [`CHUNK`]. A search touches, per entry it passes over, only
//! a compact [`Key`] (time, client, policy, reason) or, with a name filter, the chunk's
//! packed name buffer, which `memmem` scans at memory speed; the full entry is
//! read only for the entries that pass those, so the worst case (a rare name substring
//! over one million entries) stays a few milliseconds.
//!
//! The rest of an entry is a fixed-size [`Detail`] with its texts (client name, rule,
//! list, answer) packed into one buffer per chunk and its policy and upstream as
//! numbers, not an [`Entry`] with its own allocations: a push copies a few bytes into
//! buffers already in use, and evicting a chunk frees nothing entry by entry (that,
//! on entries pushed 100,000 entries earlier and long out of the cache, was most of a
//! push's cost). A search builds an [`Entry`] for each entry it returns.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use memchr::memmem;

use super::{
    Cursor, DEFAULT_LIMIT, Entry, MAX_LIMIT, Page, Protocol, Reason, Search, UpstreamFilter,
};

/// Entries per chunk: large enough for one name scan to amortise its setup, small enough
/// that the memory of evicted entries is given back soon.
const CHUNK: usize = 4096;
/// The packed names' first capacity per entry: most names are shorter, so a chunk's
/// buffer seldom grows.
const NAME_BYTES: usize = 32;
/// A text length that stands for `None`.
const ABSENT: u32 = u32::MAX;

/// What a search checks first, without following a pointer.
struct Key {
    time_ms: u64,
    client: IpAddr,
    policy: u32,
    reason: Reason,
}

/// The rest of an entry, but for its name.
#[derive(Clone, Copy)]
struct Detail {
    /// Where the entry's texts start in its chunk's `texts`: the client name, the rule,
    /// the list, the answer, the service, the schedule and the ClientID, one after the
    /// other.
    texts_start: u32,
    /// Their lengths, in that order; [`ABSENT`] for a `None`.
    text_lens: [u32; TEXTS],
    elapsed_us: u32,
    /// The upstream's number in [`Ring::upstreams`] plus one; 0 for none.
    upstream: u32,
    qtype: u16,
    rcode: u8,
    cached: bool,
    protocol: Protocol,
}

/// The texts of an entry (see [`Detail::texts_start`]).
const TEXTS: usize = 7;

struct Chunk {
    /// The sequence number of `keys[0]`; the others follow without gaps.
    first_seq: u64,
    min_ms: u64,
    max_ms: u64,
    keys: Vec<Key>,
    details: Vec<Detail>,
    /// The texts of `details`, back to back.
    texts: Vec<u8>,
    /// Every name followed by `\n` (names have none, so a match never spans two).
    names: Vec<u8>,
    /// Where each name ends in `names`.
    name_ends: Vec<u32>,
}

impl Chunk {
    fn new(first_seq: u64) -> Chunk {
        Chunk {
            first_seq,
            min_ms: u64::MAX,
            max_ms: 0,
            keys: Vec::with_capacity(CHUNK),
            details: Vec::with_capacity(CHUNK),
            texts: Vec::new(),
            names: Vec::with_capacity(CHUNK * NAME_BYTES),
            name_ends: Vec::with_capacity(CHUNK),
        }
    }

    /// This chunk emptied, its buffers kept, so that an evicted chunk becomes the next
    /// one without allocating (and faulting in) its memory anew.
    fn emptied(mut self) -> Chunk {
        self.min_ms = u64::MAX;
        self.max_ms = 0;
        self.keys.clear();
        self.details.clear();
        self.texts.clear();
        self.names.clear();
        self.name_ends.clear();
        self
    }

    fn name_start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.name_ends[i - 1] as usize + 1
        }
    }

    fn name(&self, i: usize) -> &str {
        let bytes = &self.names[self.name_start(i)..self.name_ends[i] as usize];
        // Names are pushed whole from `str`s and split only at the `\n` after each.
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    /// Entry `i`'s texts: client name, rule, list, answer, service, schedule, ClientID.
    fn texts(&self, i: usize) -> [Option<&str>; TEXTS] {
        let detail = &self.details[i];
        let mut at = detail.texts_start as usize;
        detail.text_lens.map(|len| {
            (len != ABSENT).then(|| {
                let bytes = &self.texts[at..at + len as usize];
                at += len as usize;
                // Texts are pushed whole from `str`s and cut at the same lengths.
                std::str::from_utf8(bytes).unwrap_or_default()
            })
        })
    }

    /// Entry `i`'s client name and ClientID.
    fn client_names(&self, i: usize) -> [Option<&str>; 2] {
        let [name, .., id] = self.texts(i);
        [name, id]
    }

    fn entry(&self, i: usize, policies: &Interned, upstreams: &Interned) -> Entry {
        let key = &self.keys[i];
        let detail = &self.details[i];
        let [
            client_name,
            rule,
            list,
            answer,
            service,
            schedule,
            client_id,
        ] = self.texts(i);
        Entry {
            time_ms: key.time_ms,
            client: key.client,
            client_name: client_name.map(String::from),
            client_id: client_id.map(String::from),
            protocol: detail.protocol,
            policy: policies.get(key.policy),
            name: self.name(i).into(),
            qtype: detail.qtype,
            reason: key.reason,
            rule: rule.map(String::from),
            list: list.map(String::from),
            service: service.map(String::from),
            schedule: schedule.map(String::from),
            answer: answer.unwrap_or_default().into(),
            rcode: detail.rcode,
            upstream: detail.upstream.checked_sub(1).map(|id| upstreams.get(id)),
            cached: detail.cached,
            elapsed_us: detail.elapsed_us,
        }
    }
}

/// Strings that entries share and a chunk stores as numbers: policy and upstream
/// names, a handful per config.
#[derive(Default)]
struct Interned {
    ids: foldhash::HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
    /// The name last given and its number.
    last: Option<(Arc<str>, u32)>,
}

impl Interned {
    /// The number of `name`, given one if it is new.
    fn id(&mut self, name: &Arc<str>) -> u32 {
        // Entries share their policy's and upstream's `Arc`: the one of the last entry
        // is most often this one, and needs no hashing.
        if let Some((last, id)) = &self.last
            && Arc::ptr_eq(last, name)
        {
            return *id;
        }
        let id = match self.ids.get(&**name) {
            Some(id) => *id,
            None => {
                let id = self.names.len() as u32;
                self.ids.insert(name.clone(), id);
                self.names.push(name.clone());
                id
            }
        };
        self.last = Some((name.clone(), id));
        id
    }

    fn find(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    fn get(&self, id: u32) -> Arc<str> {
        self.names[id as usize].clone()
    }
}

/// The newest `capacity` entries, oldest first.
pub(super) struct Ring {
    chunks: VecDeque<Chunk>,
    /// Entries of the first chunk already evicted.
    skip: usize,
    len: usize,
    capacity: usize,
    next_seq: u64,
    /// Policy names by the number keys carry.
    policies: Interned,
    /// Upstream names by the number details carry.
    upstreams: Interned,
    /// The last chunk evicted, emptied, to be the next one.
    spare: Option<Chunk>,
}

impl Ring {
    pub(super) fn new(capacity: usize) -> Ring {
        Ring {
            chunks: VecDeque::new(),
            skip: 0,
            len: 0,
            capacity,
            next_seq: 0,
            policies: Interned::default(),
            upstreams: Interned::default(),
            spare: None,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn push_all<'a>(&mut self, entries: impl IntoIterator<Item = &'a Entry>) {
        for entry in entries {
            self.push(entry);
        }
    }

    fn push(&mut self, entry: &Entry) {
        if self.capacity == 0 {
            return;
        }
        let policy = self.policies.id(&entry.policy);
        let upstream = entry
            .upstream
            .as_ref()
            .map_or(0, |u| self.upstreams.id(u) + 1);
        if self.chunks.back().is_none_or(|c| c.keys.len() == CHUNK) {
            let chunk = match self.spare.take() {
                Some(spare) => Chunk {
                    first_seq: self.next_seq,
                    ..spare
                },
                None => Chunk::new(self.next_seq),
            };
            self.chunks.push_back(chunk);
        }
        let Some(chunk) = self.chunks.back_mut() else {
            return;
        };
        chunk.min_ms = chunk.min_ms.min(entry.time_ms);
        chunk.max_ms = chunk.max_ms.max(entry.time_ms);
        chunk.keys.push(Key {
            time_ms: entry.time_ms,
            client: entry.client,
            policy,
            reason: entry.reason,
        });
        let name = entry.name.as_bytes();
        if memchr::memchr(b'\n', name).is_none() {
            chunk.names.extend_from_slice(name);
        } else {
            chunk.names.extend(name.iter().filter(|b| **b != b'\n'));
        }
        chunk.name_ends.push(chunk.names.len() as u32);
        chunk.names.push(b'\n');
        let texts_start = chunk.texts.len() as u32;
        let texts = [
            entry.client_name.as_deref(),
            entry.rule.as_deref(),
            entry.list.as_deref(),
            Some(&*entry.answer),
            entry.service.as_deref(),
            entry.schedule.as_deref(),
            entry.client_id.as_deref(),
        ];
        let text_lens = texts.map(|text| match text {
            Some(text) => {
                chunk.texts.extend_from_slice(text.as_bytes());
                text.len() as u32
            }
            None => ABSENT,
        });
        chunk.details.push(Detail {
            texts_start,
            text_lens,
            elapsed_us: entry.elapsed_us,
            upstream,
            qtype: entry.qtype,
            rcode: entry.rcode,
            cached: entry.cached,
            protocol: entry.protocol,
        });
        self.next_seq += 1;
        self.len += 1;
        while self.len > self.capacity {
            self.skip += 1;
            self.len -= 1;
            if self
                .chunks
                .front()
                .is_some_and(|c| self.skip == c.keys.len())
            {
                self.spare = self.chunks.pop_front().map(Chunk::emptied);
                self.skip = 0;
            }
        }
    }

    /// The time of the oldest entry held.
    pub(super) fn oldest_ms(&self) -> Option<u64> {
        let chunk = self.chunks.front()?;
        chunk.keys.get(self.skip).map(|k| k.time_ms)
    }

    /// The sequence number the next entry pushed gets: a search's [`Page::head`].
    pub(super) fn head(&self) -> u64 {
        self.next_seq
    }

    pub(super) fn search(&self, q: &Search) -> Page {
        let head = self.next_seq.to_string();
        let nothing = || Page {
            head: head.clone(),
            ..Page::default()
        };
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let policy = match &q.policy {
            Some(p) => match self.policies.find(p) {
                Some(id) => Some(id),
                None => return nothing(),
            },
            None => None,
        };
        // The upstream's number as details carry it (0 for none).
        let upstream = match &q.upstream {
            Some(UpstreamFilter::Named(u)) => match self.upstreams.find(u) {
                Some(id) => Some(id + 1),
                None => return nothing(),
            },
            Some(UpstreamFilter::None) => Some(0),
            None => None,
        };
        let needle = q
            .name
            .as_deref()
            .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|n| !n.is_empty());
        if needle.as_ref().is_some_and(|n| n.contains('\n')) {
            return nothing();
        }
        let finder = needle.as_ref().map(|n| memmem::Finder::new(n.as_bytes()));
        let mut hits: Vec<usize> = Vec::new();
        let from = q.from_ms.unwrap_or(0);
        let to = q.to_ms.unwrap_or(u64::MAX);
        let before = q.cursor.map_or(u64::MAX, |c| c.0);
        let since = q.since.map_or(0, |c| c.0);
        let details = q.qtype.is_some() || q.rcode.is_some() || upstream.is_some();
        let keep = |chunk: &Chunk, i: usize| {
            let key = &chunk.keys[i];
            key.time_ms >= from
                && key.time_ms <= to
                && policy.is_none_or(|p| p == key.policy)
                && q.reason.is_none_or(|r| r.matches(key.reason))
                && (!details || {
                    let detail = &chunk.details[i];
                    q.qtype.is_none_or(|t| t == detail.qtype)
                        && q.rcode.is_none_or(|r| r == detail.rcode)
                        && upstream.is_none_or(|u| u == detail.upstream)
                })
                && q.client.as_ref().is_none_or(|c| {
                    // The name only when asked: reading the entry would cost a cache
                    // miss per entry scanned.
                    c.matches(key.client, || chunk.client_names(i))
                })
        };

        let mut found: Vec<(u64, Entry)> = Vec::new();
        // One more than the page, to know whether there is a next page.
        let want = limit + 1;
        for (c, chunk) in self.chunks.iter().enumerate().rev() {
            if found.len() == want {
                break;
            }
            let lo = if c == 0 { self.skip } else { 0 };
            let lo = lo.max(since.saturating_sub(chunk.first_seq).min(CHUNK as u64) as usize);
            let hi = chunk
                .keys
                .len()
                .min(before.saturating_sub(chunk.first_seq) as usize);
            if chunk.first_seq + (chunk.keys.len() as u64) <= since {
                // This chunk and every older one are before `since`.
                break;
            }
            if lo >= hi || chunk.max_ms < from || chunk.min_ms > to {
                continue;
            }
            let mut take = |i: usize| {
                if keep(chunk, i) {
                    let entry = chunk.entry(i, &self.policies, &self.upstreams);
                    found.push((chunk.first_seq + i as u64, entry));
                }
                found.len() < want
            };
            match &finder {
                Some(finder) => {
                    // Forward search (memchr's SIMD prefilter; its reverse search has
                    // none) over the chunk's names, then the matches newest first.
                    let start = chunk.name_start(lo);
                    let hay = &chunk.names[start..chunk.name_ends[hi - 1] as usize];
                    hits.clear();
                    for pos in finder.find_iter(hay) {
                        let pos = (start + pos) as u32;
                        let i = chunk.name_ends.partition_point(|end| *end <= pos);
                        if hits.last() != Some(&i) {
                            hits.push(i);
                        }
                    }
                    for &i in hits.iter().rev() {
                        if !take(i) {
                            break;
                        }
                    }
                }
                None => {
                    for i in (lo..hi).rev() {
                        if !take(i) {
                            break;
                        }
                    }
                }
            }
        }
        let more = found.len() > limit;
        found.truncate(limit);
        Page {
            next_cursor: more
                .then(|| found.last().map(|(seq, _)| Cursor(*seq).to_string()))
                .flatten(),
            cursors: found.iter().map(|(seq, _)| Cursor(*seq)).collect(),
            entries: found.into_iter().map(|(_, e)| e).collect(),
            head,
        }
    }
}
