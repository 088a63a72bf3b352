//! The in-memory ring and its search.
//!
//! Entries live in chunks of [`CHUNK`]. A search touches, per entry it passes over, only
//! a compact [`Key`] (time, client, policy, reason) or, with a name filter, the chunk's
//! packed name buffer, which `memmem` scans at memory speed; the full entry is
//! read only for the entries that pass those, so the worst case (a rare name substring
//! over one million entries) stays a few milliseconds.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use memchr::memmem;

use super::{Cursor, DEFAULT_LIMIT, Entry, MAX_LIMIT, Page, Reason, Search};

/// Entries per chunk: large enough for one name scan to amortise its setup, small enough
/// that the memory of evicted entries is given back soon.
const CHUNK: usize = 4096;
/// The packed names' first capacity per entry: most names are shorter, so a chunk's
/// buffer seldom grows.
const NAME_BYTES: usize = 32;

/// What a search checks first, without following a pointer.
struct Key {
    time_ms: u64,
    client: IpAddr,
    policy: u32,
    reason: Reason,
}

struct Chunk {
    /// The sequence number of `keys[0]`; the others follow without gaps.
    first_seq: u64,
    min_ms: u64,
    max_ms: u64,
    keys: Vec<Key>,
    /// The entries, their names moved out into `names`.
    entries: Vec<Entry>,
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
            entries: Vec::with_capacity(CHUNK),
            names: Vec::with_capacity(CHUNK * NAME_BYTES),
            name_ends: Vec::with_capacity(CHUNK),
        }
    }

    /// This chunk's entries dropped and its buffers kept, so that an evicted chunk
    /// becomes the next one without allocating (and faulting in) a megabyte anew.
    fn emptied(mut self) -> Chunk {
        self.min_ms = u64::MAX;
        self.max_ms = 0;
        self.keys.clear();
        self.entries.clear();
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

    fn entry(&self, i: usize) -> Entry {
        Entry {
            name: self.name(i).into(),
            ..self.entries[i].clone()
        }
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
    /// Policy names by the index keys carry.
    policy_ids: foldhash::HashMap<Arc<str>, u32>,
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
            policy_ids: foldhash::HashMap::default(),
            spare: None,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn push_all(&mut self, entries: impl Iterator<Item = Entry>) {
        for entry in entries {
            self.push(entry);
        }
    }

    fn push(&mut self, mut entry: Entry) {
        if self.capacity == 0 {
            return;
        }
        let policy = match self.policy_ids.get(&*entry.policy) {
            Some(id) => *id,
            None => {
                let id = self.policy_ids.len() as u32;
                self.policy_ids.insert(entry.policy.clone(), id);
                id
            }
        };
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
        let name = std::mem::take(&mut entry.name);
        if memchr::memchr(b'\n', name.as_bytes()).is_none() {
            chunk.names.extend_from_slice(name.as_bytes());
        } else {
            chunk.names.extend(name.bytes().filter(|b| *b != b'\n'));
        }
        chunk.name_ends.push(chunk.names.len() as u32);
        chunk.names.push(b'\n');
        chunk.entries.push(entry);
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

    pub(super) fn search(&self, q: &Search) -> Page {
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let policy = match &q.policy {
            Some(p) => match self.policy_ids.get(p.as_str()) {
                Some(id) => Some(*id),
                None => return Page::default(),
            },
            None => None,
        };
        let needle = q
            .name
            .as_deref()
            .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|n| !n.is_empty());
        if needle.as_ref().is_some_and(|n| n.contains('\n')) {
            return Page::default();
        }
        let finder = needle.as_ref().map(|n| memmem::Finder::new(n.as_bytes()));
        let mut hits: Vec<usize> = Vec::new();
        let from = q.from_ms.unwrap_or(0);
        let to = q.to_ms.unwrap_or(u64::MAX);
        let before = q.cursor.map_or(u64::MAX, |c| c.0);
        let keep = |chunk: &Chunk, i: usize| {
            let key = &chunk.keys[i];
            key.time_ms >= from
                && key.time_ms <= to
                && policy.is_none_or(|p| p == key.policy)
                && q.reason.is_none_or(|r| r == key.reason)
                && q.client.as_ref().is_none_or(|c| {
                    // The name only when asked: reading the entry would cost a cache
                    // miss per entry scanned.
                    c.matches(key.client, || chunk.entries[i].client_name.as_deref())
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
            let hi = chunk
                .keys
                .len()
                .min(before.saturating_sub(chunk.first_seq) as usize);
            if lo >= hi || chunk.max_ms < from || chunk.min_ms > to {
                continue;
            }
            let mut take = |i: usize| {
                if keep(chunk, i) {
                    found.push((chunk.first_seq + i as u64, chunk.entry(i)));
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
            entries: found.into_iter().map(|(_, e)| e).collect(),
        }
    }
}
