//! The counts of a bucket and the bounded counting maps of an hour: what recording an
//! entry updates.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;

use hashbrown::hash_map::EntryRef;
use serde::{Deserialize, Serialize};

use super::{CONFIG_KEYS, HashMap, OPEN_KEYS};
use crate::querylog::{Entry, Reason};

/// Counts of one bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Counts {
    pub(super) queries: u64,
    pub(super) blocked: u64,
    pub(super) allowlisted: u64,
    pub(super) rewritten: u64,
    pub(super) cached: u64,
    /// Of `blocked`, by a blocked service.
    #[serde(default)]
    pub(super) blocked_services: u64,
    /// Answered with a safe-search enforcement host.
    #[serde(default)]
    pub(super) safe_search: u64,
    /// The sum of the entries' `elapsed_us`, for the average processing time.
    pub(super) elapsed_us: u64,
}

impl Counts {
    pub(super) fn count(&mut self, e: &Entry) {
        self.queries += 1;
        match e.reason {
            Reason::FilteredBlockList | Reason::FilteredSchedule => self.blocked += 1,
            Reason::FilteredBlockedService => {
                self.blocked += 1;
                self.blocked_services += 1;
            }
            Reason::FilteredSafeSearch => self.safe_search += 1,
            Reason::NotFilteredAllowList => self.allowlisted += 1,
            Reason::RewrittenRule => self.rewritten += 1,
            Reason::NotFilteredNotFound => {}
        }
        self.cached += u64::from(e.cached);
        self.elapsed_us += u64::from(e.elapsed_us);
    }

    pub(super) fn add(&mut self, other: &Counts) {
        self.queries += other.queries;
        self.blocked += other.blocked;
        self.allowlisted += other.allowlisted;
        self.rewritten += other.rewritten;
        self.cached += other.cached;
        self.blocked_services += other.blocked_services;
        self.safe_search += other.safe_search;
        self.elapsed_us += other.elapsed_us;
    }
}

/// Queries of one client in one hour, with the client's name when the config has one.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct ClientTally {
    pub(super) count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<Box<str>>,
}

/// Queries of one policy in one hour.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub(super) struct PolicyTally {
    pub(super) queries: u64,
    pub(super) blocked: u64,
    #[serde(default)]
    pub(super) blocked_services: u64,
    #[serde(default)]
    pub(super) safe_search: u64,
}

/// Answers of one upstream in one hour.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub(super) struct UpstreamTally {
    pub(super) queries: u64,
    pub(super) elapsed_us: u64,
}

/// One hour: counts, and counting maps bounded to `kept` keys each.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct HourBucket {
    pub(super) counts: Counts,
    /// Keys each of `names`, `blocked` and `clients` may hold: [`OPEN_KEYS`] while the
    /// hour is open, then [`TOP_KEPT`](super::TOP_KEPT), then
    /// [`TOP_KEPT_OLD`](super::TOP_KEPT_OLD).
    pub(super) kept: usize,
    pub(super) names: HashMap<Box<str>, u64>,
    pub(super) blocked: HashMap<Box<str>, u64>,
    pub(super) clients: HashMap<IpAddr, ClientTally>,
    pub(super) policies: HashMap<Box<str>, PolicyTally>,
    pub(super) upstreams: HashMap<Box<str>, UpstreamTally>,
    /// The keys that the full open maps of `names`, `blocked` and `clients` turned away
    /// once (see [`Doorkeeper`]); none once the hour is closed.
    #[serde(skip)]
    pub(super) doors: [Doorkeeper; 3],
}

impl HourBucket {
    pub(super) fn new(kept: usize) -> HourBucket {
        HourBucket {
            counts: Counts::default(),
            kept,
            names: HashMap::default(),
            blocked: HashMap::default(),
            clients: HashMap::default(),
            policies: HashMap::default(),
            upstreams: HashMap::default(),
            doors: Default::default(),
        }
    }

    pub(super) fn count(&mut self, e: &Entry) {
        self.counts.count(e);
        // While the hour is open a map that has been full takes a new key at its second
        // coming, shedding its smaller half if it must; once the hour is closed, a late
        // entry's new key is left out (its counts are not).
        let open = self.kept >= OPEN_KEYS;
        let kept = self.kept;
        let [names_door, blocked_door, clients_door] = &mut self.doors;
        let door = |d| open.then_some(d);
        let name = &*e.name;
        tally(
            &mut self.names,
            name,
            kept,
            door(names_door),
            |n| *n += 1,
            |n| *n,
        );
        if e.reason.is_blocked() {
            tally(
                &mut self.blocked,
                name,
                kept,
                door(blocked_door),
                |n| *n += 1,
                |n| *n,
            );
        }
        tally(
            &mut self.clients,
            &e.client,
            kept,
            door(clients_door),
            |c| {
                c.count += 1;
                if let Some(name) = e.client_name.as_deref()
                    && c.name.as_deref() != Some(name)
                {
                    c.name = Some(name.into());
                }
            },
            |c| c.count,
        );
        let blocked = u64::from(e.reason.is_blocked());
        let service = u64::from(e.reason == Reason::FilteredBlockedService);
        let safe_search = u64::from(e.reason == Reason::FilteredSafeSearch);
        tally(
            &mut self.policies,
            &*e.policy,
            CONFIG_KEYS,
            None,
            |p| {
                p.queries += 1;
                p.blocked += blocked;
                p.blocked_services += service;
                p.safe_search += safe_search;
            },
            |p| p.queries,
        );
        if let Some(upstream) = e.upstream.as_deref().filter(|_| !e.cached) {
            tally(
                &mut self.upstreams,
                upstream,
                CONFIG_KEYS,
                None,
                |u| {
                    u.queries += 1;
                    u.elapsed_us += u64::from(e.elapsed_us);
                },
                |u| u.queries,
            );
        }
    }

    /// Cuts the counting maps to their top `kept` keys (and never raises the bound).
    pub(super) fn trim(&mut self, kept: usize) {
        self.kept = self.kept.min(kept);
        if self.kept < OPEN_KEYS {
            self.doors = Default::default();
        }
        // A closed hour takes no new keys: give the memory back.
        keep_top(&mut self.names, self.kept, |n| *n, Shrink::Yes);
        keep_top(&mut self.blocked, self.kept, |n| *n, Shrink::Yes);
        keep_top(&mut self.clients, self.kept, |c| c.count, Shrink::Yes);
        keep_top(&mut self.policies, CONFIG_KEYS, |p| p.queries, Shrink::Yes);
        keep_top(&mut self.upstreams, CONFIG_KEYS, |u| u.queries, Shrink::Yes);
    }

    pub(super) fn keys(&self) -> usize {
        self.names.len()
            + self.blocked.len()
            + self.clients.len()
            + self.policies.len()
            + self.upstreams.len()
    }
}

/// Updates `key`'s tally in `map`. A new key is added while the map holds fewer than
/// `kept`. An open map (one with a `door`), once it has been full, takes a new key only
/// if its doorkeeper has turned it away before, and keeps its largest half to make room
/// when it is full again; a closed map leaves the key out when it is full.
pub(super) fn tally<K, Q, V>(
    map: &mut HashMap<K, V>,
    key: &Q,
    kept: usize,
    door: Option<&mut Doorkeeper>,
    update: impl FnOnce(&mut V),
    count: impl Fn(&V) -> u64,
) where
    K: Borrow<Q> + Hash + Eq,
    Q: ToOwned<Owned: Into<K>> + Hash + Eq + ?Sized,
    V: Default,
{
    // One hash for the lookup and the insert; the key is copied only when it is new.
    let len = map.len();
    let vacant = match map.entry_ref(key) {
        EntryRef::Occupied(entry) => return update(entry.into_mut()),
        EntryRef::Vacant(entry) => entry,
    };
    let taken = match door {
        Some(door) if door.active() || len >= kept => door.seen(key),
        _ => len < kept,
    };
    if !taken {
        return;
    }
    let mut v = V::default();
    update(&mut v);
    if len < kept {
        vacant.insert_with_key(key.to_owned().into(), v);
        return;
    }
    // The map fills up again: keep its capacity rather than regrow it.
    keep_top(map, kept / 2, count, Shrink::No);
    map.insert(key.to_owned().into(), v);
}

/// The keys an open map that has been full turned away once, in a two-hash Bloom filter
/// (TinyLFU's doorkeeper): such a map takes a new key only the second time it comes, so
/// that a flood of names asked once each (random subdomains, a scan) neither makes it
/// shed its smaller half nor allocates a key per query. A key taken on its second coming
/// starts at one; the totals count every query.
///
/// The hash has a fixed seed, so a flood crafted to collide here gets its names taken as
/// they all were before there was a doorkeeper: it can cost time, never the bound.
#[derive(Clone, Debug, Default)]
pub(super) struct Doorkeeper {
    /// [`Doorkeeper::BITS`] bits once a key has been turned away; empty before.
    bits: Vec<u64>,
    /// Bits set; at a quarter of them every bit is cleared, so that a key never seen
    /// passes for seen at most one time in 16 (one in 50 on average).
    set: usize,
}

impl Doorkeeper {
    /// 16 KiB: about 16,000 keys turned away between clearings.
    const BITS: usize = 1 << 17;

    /// Whether it has turned a key away yet: from then on its map takes only keys it
    /// has seen.
    fn active(&self) -> bool {
        !self.bits.is_empty()
    }

    /// Whether `key` was turned away before (or collides with keys that were); if not,
    /// marks it.
    pub(super) fn seen<Q: Hash + ?Sized>(&mut self, key: &Q) -> bool {
        let hash = foldhash::fast::FixedState::with_seed(0x5741_5244).hash_one(key);
        if self.bits.is_empty() {
            self.bits = vec![0; Doorkeeper::BITS / 64];
        }
        let at = [hash as usize, (hash >> 32) as usize].map(|h| h % Doorkeeper::BITS);
        let seen = at
            .iter()
            .all(|&bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0);
        if !seen {
            for bit in at {
                let (word, mask) = (bit / 64, 1u64 << (bit % 64));
                self.set += usize::from(self.bits[word] & mask == 0);
                self.bits[word] |= mask;
            }
            if self.set >= Doorkeeper::BITS / 4 {
                self.bits.fill(0);
                self.set = 0;
            }
        }
        seen
    }
}

/// Whether [`keep_top`] gives the memory of the dropped keys back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shrink {
    Yes,
    No,
}

/// Keeps the `n` keys with the largest counts (ties broken arbitrarily).
///
/// In place: only the counts are copied out (to find the `n`-th largest), so the kept
/// keys are neither moved nor hashed again.
pub(super) fn keep_top<K: Hash + Eq, V>(
    map: &mut HashMap<K, V>,
    n: usize,
    count: impl Fn(&V) -> u64,
    shrink: Shrink,
) {
    if map.len() <= n {
        return;
    }
    if n == 0 {
        map.clear();
        return;
    }
    let mut counts: Vec<u64> = map.values().map(&count).collect();
    let (larger, &mut nth, _) = counts.select_nth_unstable_by(n - 1, |a, b| b.cmp(a));
    // Every key counted above the n-th largest count stays, and as many of those counted
    // just that as there is room for.
    let mut ties = n - larger.iter().filter(|c| **c > nth).count();
    map.retain(|_, v| match count(v).cmp(&nth) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal if ties > 0 => {
            ties -= 1;
            true
        }
        _ => false,
    });
    if shrink == Shrink::Yes {
        map.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_doorkeeper_lets_a_key_in_the_second_time_and_few_strangers_the_first() {
        let mut door = Doorkeeper::default();
        assert!(!door.seen("printer.example"));
        assert!(door.seen("printer.example"));
        // 100,000 keys never seen, through several clearings: at most one in 16 passes
        // for seen at the fullest, one in 50 on average.
        let passed = (0..100_000)
            .filter(|i| door.seen(&format!("r{i}.flood.example")))
            .count();
        assert!(passed < 100_000 / 25, "{passed} strangers passed");
    }

    #[test]
    fn keep_top_keeps_the_largest_counts_and_only_as_many_ties_as_fit() {
        let counts = [5, 3, 1, 3, 7, 3, 1, 1];
        for (n, kept) in [
            (0, &[][..]),
            (1, &[7][..]),
            (2, &[7, 5][..]),
            (3, &[7, 5, 3][..]),
            (4, &[7, 5, 3, 3][..]),
            (5, &[7, 5, 3, 3, 3][..]),
            (6, &[7, 5, 3, 3, 3, 1][..]),
            (8, &counts[..]),
            (9, &counts[..]),
        ] {
            for shrink in [Shrink::Yes, Shrink::No] {
                let mut map: HashMap<u32, u64> = HashMap::default();
                map.extend((0..).zip(counts));
                keep_top(&mut map, n, |c| *c, shrink);
                let mut left: Vec<u64> = map.into_values().collect();
                left.sort_unstable_by(|a, b| b.cmp(a));
                let mut want = kept.to_vec();
                want.sort_unstable_by(|a, b| b.cmp(a));
                assert_eq!(left, want, "n = {n}");
            }
        }
    }
}
