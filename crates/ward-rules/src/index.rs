//! The name index: one compact hash table over the exact and suffix rules of all lists.
//!
//! Almost every real rule is a plain name (`||x^`, a hosts line, a domain line), so those
//! never become objects. Each is a 20-byte [`Entry`] that points at the name's bytes in
//! the list text itself (or in a side arena when the name had to be normalised), records
//! its list and the line's byte offset, and carries a few flags. Entries are sorted by a
//! 64-bit hash of the name, and a directory maps the top bits of a hash to the run of
//! entries in that bucket: about two entries per bucket, four bytes per bucket, no
//! pointers, no per-rule allocation, and a lookup costs one directory read and one short
//! scan per label suffix of the query name.

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
/// The key lives in the side arena, not in the list text.
pub(crate) const SIDE: u8 = 1 << 7;

/// One indexed rule. 20 bytes, 4-aligned.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct Entry {
    pub hash_hi: u32,
    pub hash_lo: u32,
    /// Byte offset of the key in its list's text (or in the side arena with [`SIDE`]).
    pub key_off: u32,
    /// The line's byte offset in its list, or the complex rule's index with [`COMPLEX`].
    pub payload: u32,
    pub list: u16,
    pub key_len: u8,
    pub flags: u8,
}

impl Entry {
    fn hash(&self) -> u64 {
        (u64::from(self.hash_hi) << 32) | u64::from(self.hash_lo)
    }
}

/// Hashes a name key. The seed is fixed so the index is the same on every run; query
/// names cannot grow a bucket, so there is nothing for a hash flood to attack.
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    foldhash::fast::FixedState::with_seed(0x7761_7264_7275_6c65).hash_one(key)
}

/// The sorted entries and their bucket directory.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    entries: Vec<Entry>,
    dir: Vec<u32>,
    shift: u32,
}

impl NameIndex {
    /// Sorts `entries` in place and builds the directory. Peak memory is the entries
    /// plus the directory: nothing is copied.
    pub fn build(mut entries: Vec<Entry>) -> NameIndex {
        entries.shrink_to_fit();
        entries.sort_unstable_by_key(Entry::hash);
        // About two entries per bucket, at least two buckets.
        let bits = (entries.len() / 2)
            .max(2)
            .next_power_of_two()
            .trailing_zeros();
        let buckets = 1usize << bits;
        let shift = 64 - bits;
        let mut dir = Vec::with_capacity(buckets + 1);
        let mut at = 0usize;
        for bucket in 0..buckets {
            dir.push(at as u32);
            while at < entries.len() && (entries[at].hash() >> shift) as usize == bucket {
                at += 1;
            }
        }
        dir.push(at as u32);
        NameIndex {
            entries,
            dir,
            shift,
        }
    }

    /// The entries whose key hashes to `hash` (callers compare the key bytes).
    pub fn bucket(&self, hash: u64) -> impl Iterator<Item = &Entry> {
        let b = (hash >> self.shift) as usize;
        let (lo, hi) = match (self.dir.get(b), self.dir.get(b + 1)) {
            (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
            _ => (0, 0),
        };
        let (h_hi, h_lo) = ((hash >> 32) as u32, hash as u32);
        self.entries[lo..hi]
            .iter()
            .filter(move |e| e.hash_lo == h_lo && e.hash_hi == h_hi)
    }

    pub fn memory_usage(&self) -> usize {
        self.entries.capacity() * size_of::<Entry>() + self.dir.capacity() * size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_twenty_bytes() {
        assert_eq!(size_of::<Entry>(), 20);
    }

    #[test]
    fn finds_every_entry() {
        let keys: Vec<String> = (0..1000).map(|i| format!("host{i}.example")).collect();
        let entries = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let h = hash_key(k.as_bytes());
                Entry {
                    hash_hi: (h >> 32) as u32,
                    hash_lo: h as u32,
                    key_off: 0,
                    payload: i as u32,
                    list: 0,
                    key_len: k.len() as u8,
                    flags: 0,
                }
            })
            .collect();
        let index = NameIndex::build(entries);
        for (i, k) in keys.iter().enumerate() {
            let found: Vec<u32> = index
                .bucket(hash_key(k.as_bytes()))
                .map(|e| e.payload)
                .collect();
            assert_eq!(found, vec![i as u32], "{k}");
        }
        assert_eq!(index.bucket(hash_key(b"absent.example")).count(), 0);
    }
}
