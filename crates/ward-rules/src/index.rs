//! The name index: one compact hash table over the exact and suffix rules of all lists.
//!
//! Almost every real rule is a plain name (`||x^`, a hosts line, a domain line), so those
//! never become objects. Each is a 16-byte [`Entry`]: the 64-bit hash of its name, its
//! list, its line (or the index of its complex rule) and a few flags. Entries live in
//! 64-byte buckets of four, one cache line each, filled by linear probing to 80%.
//!
//! A Bloom filter of about one byte a name, small enough to stay in the CPU's cache,
//! answers most label suffixes of most queries (names in no list) without touching the
//! buckets. The suffixes that pass it cost one cache line each, and those lines are all
//! requested before any is read, so their misses overlap instead of queueing: on a
//! machine where a random read from memory takes 100-200 ns, one such read is the cost
//! of a lookup that finds a rule. Names are not kept: a 64-bit hash identifies a name (two names
//! of a 2M-rule index share a hash with a probability near 10^-7), and nothing an
//! outsider could gain from a forged collision: it only changes the verdict of the
//! forger's own query for a name nobody else asks for. The rule text is still there, in
//! the list, to cite.

use std::hash::BuildHasher;

/// The entry is an exact-name rule (hosts, domain-only, `|x^`); else it also matches
/// subdomains.
pub(crate) const EXACT: u8 = 1;
/// `@@`: an exception.
pub(crate) const ALLOW: u8 = 1 << 1;
/// `$important`.
pub(crate) const IMPORTANT: u8 = 1 << 2;
/// `$badfilter`.
pub(crate) const BADFILTER: u8 = 1 << 3;
/// `payload` indexes the complex rules: the rule has modifiers or an answer address.
pub(crate) const COMPLEX: u8 = 1 << 4;
/// A hosts-file or domain-only rule (AdGuard's host rules, below every network rule).
pub(crate) const HOST: u8 = 1 << 5;
/// A host rule with an IPv6 address.
pub(crate) const V6: u8 = 1 << 6;

/// One indexed rule.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(crate) struct Entry {
    /// [`hash_key`] of the name.
    pub hash: u64,
    /// The line's byte offset in its list, or the complex rule's index with [`COMPLEX`].
    pub payload: u32,
    pub list: u16,
    pub flags: u8,
    /// 0 for an empty slot, else [`USED`], and in a bucket's first slot also
    /// [`OVERFLOWED`].
    used: u8,
}

const USED: u8 = 1;
/// An entry probed past this (full) bucket: a search that ends here without a match
/// must go on to the next bucket. Without it, most searches read one cache line.
const OVERFLOWED: u8 = 2;

impl Entry {
    pub fn new(hash: u64, payload: u32, list: u16, flags: u8) -> Entry {
        Entry {
            hash,
            payload,
            list,
            flags,
            used: USED,
        }
    }
}

const SLOTS: usize = 4;

/// Four entries in one cache line.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Bucket([Entry; SLOTS]);

impl Bucket {
    fn is_full(&self) -> bool {
        self.0[SLOTS - 1].used != 0
    }

    fn overflowed(&self) -> bool {
        self.0[0].used & OVERFLOWED != 0
    }
}

/// Hashes a name key. The seed is fixed so the index is the same on every run.
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    foldhash::fast::FixedState::with_seed(0x7761_7264_7275_6c65).hash_one(key)
}

/// The buckets, and a Bloom filter in front of them.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    buckets: Vec<Bucket>,
    /// One 64-bit word per eight names, three bits set per name: about 1 byte a name,
    /// small enough to stay in cache where the buckets cannot, and 3-4% false
    /// positives. Most label suffixes of most queries are in no list; the filter answers
    /// them without touching the buckets.
    filter: Vec<u64>,
}

/// The filter word of a hash (high bits, decorrelated from the bucket) and its three bits.
fn filter_slot(hash: u64, words: usize) -> (usize, u64) {
    let word = home(hash.rotate_left(32), words);
    let bits = (1 << (hash & 63)) | (1 << ((hash >> 6) & 63)) | (1 << ((hash >> 12) & 63));
    (word, bits)
}

impl NameIndex {
    /// Builds the table from `entries`, sorted first so the buckets fill in order.
    pub fn build(mut entries: Vec<Entry>) -> NameIndex {
        // 80% full: a probe rarely reaches a second bucket, and the entries cost 20 bytes
        // each.
        let count = (entries.len() * 5).div_ceil(SLOTS * 4).max(1);
        let mut buckets = vec![Bucket::default(); count];
        let mut filter = vec![0u64; entries.len().div_ceil(8).max(1)];
        for e in &entries {
            let (word, bits) = filter_slot(e.hash, filter.len());
            filter[word] |= bits;
        }
        entries.sort_unstable_by_key(|e| home(e.hash, count));
        for e in entries {
            let mut at = home(e.hash, count);
            while buckets[at].is_full() {
                buckets[at].0[0].used |= OVERFLOWED;
                at = if at + 1 == count { 0 } else { at + 1 };
            }
            let slot = buckets[at]
                .0
                .iter()
                .position(|s| s.used == 0)
                .unwrap_or(SLOTS - 1);
            buckets[at].0[slot] = e;
        }
        NameIndex { buckets, filter }
    }

    /// Whether some entry may have this hash (false positives, no false negatives).
    pub fn may_contain(&self, hash: u64) -> bool {
        if self.filter.is_empty() {
            return false;
        }
        let (word, bits) = filter_slot(hash, self.filter.len());
        self.filter[word] & bits == bits
    }

    /// Reads the first word of the bucket where `hash` starts, so that the cache line is
    /// on its way before [`NameIndex::for_each`] needs it.
    pub fn touch(&self, hash: u64) -> u64 {
        self.buckets
            .get(home(hash, self.buckets.len()))
            .map_or(0, |b| b.0[0].hash)
    }

    /// Calls `f` with every entry whose name hashes to `hash`.
    pub fn for_each(&self, hash: u64, mut f: impl FnMut(&Entry)) {
        let count = self.buckets.len();
        if count == 0 {
            return;
        }
        let mut at = home(hash, count);
        // The walk ends at a bucket that no entry was pushed past: one with a free slot,
        // or full without overflowing. The table is never full, so there is one.
        for _ in 0..count {
            let bucket = &self.buckets[at];
            for e in &bucket.0 {
                if e.used == 0 {
                    return;
                }
                if e.hash == hash {
                    f(e);
                }
            }
            if !bucket.overflowed() {
                return;
            }
            at = if at + 1 == count { 0 } else { at + 1 };
        }
    }

    pub fn memory_usage(&self) -> usize {
        self.buckets.capacity() * size_of::<Bucket>() + self.filter.capacity() * size_of::<u64>()
    }
}

/// The bucket a hash starts at: the high bits of `hash * count` (Lemire's range
/// reduction), uniform for any bucket count.
fn home(hash: u64, count: usize) -> usize {
    ((u128::from(hash) * count as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(size_of::<Entry>(), 16);
        assert_eq!(size_of::<Bucket>(), 64);
        assert_eq!(align_of::<Bucket>(), 64);
    }

    #[test]
    fn finds_every_entry_and_duplicates() {
        for n in [0usize, 1, 3, 4, 5, 17, 1000] {
            let keys: Vec<String> = (0..n).map(|i| format!("host{i}.example")).collect();
            let mut entries: Vec<Entry> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| Entry::new(hash_key(k.as_bytes()), i as u32, 0, 0))
                .collect();
            // The same name in a second list.
            if let Some(k) = keys.first() {
                entries.push(Entry::new(hash_key(k.as_bytes()), 99, 1, 0));
            }
            let index = NameIndex::build(entries);
            for (i, k) in keys.iter().enumerate() {
                assert!(index.may_contain(hash_key(k.as_bytes())), "{k}");
                let mut found = Vec::new();
                index.for_each(hash_key(k.as_bytes()), |e| found.push((e.list, e.payload)));
                found.sort_unstable();
                let want = if i == 0 {
                    vec![(0, 0), (1, 99)]
                } else {
                    vec![(0, i as u32)]
                };
                assert_eq!(found, want, "{k}");
            }
            let mut absent = 0;
            index.for_each(hash_key(b"absent.example"), |_| absent += 1);
            assert_eq!(absent, 0);
        }
    }

    #[test]
    fn wraps_around_the_end() {
        // Every entry hashes to the last bucket: the probe must wrap to the first.
        let entries: Vec<Entry> = (0..12).map(|i| Entry::new(u64::MAX, i, 0, 0)).collect();
        let index = NameIndex::build(entries);
        let mut found = 0;
        index.for_each(u64::MAX, |_| found += 1);
        assert_eq!(found, 12);
    }
}
