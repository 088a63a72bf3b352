//! Who may ask, and how fast: the client access lists and the UDP rate limit
//! (`dns.allowed_clients`, `dns.disallowed_clients`, `dns.ratelimit*`, AdGuard Home's
//! names and meanings).
//!
//! The rate limit counts queries per client prefix (a /32 and a /64 by default, so that
//! the devices of one VLAN never share a budget) in one-second windows, in a table of a
//! fixed size: a flood from any number of source addresses costs no memory beyond it. A
//! slot is one `AtomicU64` (a tag of the prefix's hash, the window, the count), updated
//! with one compare-and-swap, so the serving threads share the table without a lock; a
//! client whose slot is taken over by others (the table is full of active prefixes)
//! starts a new window: under such a flood the limit errs towards answering.
//!
//! Only UDP is limited: over TCP the source address cannot be forged, so TCP cannot
//! amplify, and its connection caps bound what one client holds (`dns.tcp`).

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ward_config::{DnsConfig, IpNetwork};

/// Slots in the rate limit's table: 512 KiB, room for 65,536 clients active in the same
/// second.
const SLOTS: usize = 1 << 16;
/// Slots a prefix may live in (consecutive, one cache line).
const WAYS: usize = 8;

/// What to do with a query, before it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Answer it.
    Answer,
    /// The client is not allowed: drop it over UDP (an answer would be amplification's
    /// reward), answer REFUSED over TCP.
    NotAllowed,
    /// Over the rate limit: drop it.
    Limited,
}

/// The table of the rate limit.
pub struct RateLimiter {
    slots: Box<[AtomicU64]>,
    hasher: foldhash::fast::RandomState,
    started: Instant,
}

impl Default for RateLimiter {
    fn default() -> RateLimiter {
        RateLimiter {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: foldhash::fast::RandomState::default(),
            started: Instant::now(),
        }
    }
}

impl RateLimiter {
    /// Whether a query from `client` may be answered under the config's access lists and
    /// rate limit (`udp`: only UDP queries are rate limited).
    pub fn admit(&self, dns: &DnsConfig, client: IpAddr, udp: bool) -> Admission {
        let client = client.to_canonical();
        if !dns.disallowed_clients.is_empty() && contains(&dns.disallowed_clients, client)
            || !dns.allowed_clients.is_empty() && !contains(&dns.allowed_clients, client)
        {
            return Admission::NotAllowed;
        }
        if !udp || dns.ratelimit == 0 || contains(&dns.ratelimit_whitelist, client) {
            return Admission::Answer;
        }
        let prefix = prefix(
            client,
            dns.ratelimit_subnet_len_ipv4,
            dns.ratelimit_subnet_len_ipv6,
        );
        let window = self.started.elapsed().as_secs() as u16;
        if self.count(prefix, window, dns.ratelimit) {
            Admission::Answer
        } else {
            Admission::Limited
        }
    }

    /// Counts a query of `prefix` in `window`; false when that makes more than `limit`.
    fn count(&self, prefix: u128, window: u16, limit: u32) -> bool {
        let hash = self.hasher.hash_one(prefix);
        // Tag 0 marks an empty slot.
        let tag = ((hash >> 32) as u32).max(1);
        let base = (hash as usize) & (SLOTS - 1) & !(WAYS - 1);
        let limit = u64::from(limit.min(u32::from(u16::MAX)));
        let ways = &self.slots[base..base + WAYS];
        for slot in ways {
            let mut current = slot.load(Ordering::Relaxed);
            while Slot::unpack(current).tag == tag {
                let s = Slot::unpack(current);
                let next = if s.window == window {
                    if u64::from(s.count) >= limit {
                        return false;
                    }
                    Slot {
                        count: s.count + 1,
                        ..s
                    }
                } else {
                    Slot {
                        tag,
                        window,
                        count: 1,
                    }
                };
                match slot.compare_exchange_weak(
                    current,
                    next.pack(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return true,
                    Err(now) => current = now,
                }
            }
        }
        // Not there: take an empty or stale slot, else the one with the fewest queries.
        let victim = ways
            .iter()
            .min_by_key(|slot| {
                let s = Slot::unpack(slot.load(Ordering::Relaxed));
                if s.tag == 0 || s.window != window {
                    0
                } else {
                    u32::from(s.count)
                }
            })
            .unwrap_or(&ways[0]);
        let fresh = Slot {
            tag,
            window,
            count: 1,
        };
        victim.store(fresh.pack(), Ordering::Relaxed);
        true
    }
}

/// One slot of the table, packed in a `u64`.
#[derive(Clone, Copy)]
struct Slot {
    tag: u32,
    window: u16,
    count: u16,
}

impl Slot {
    fn unpack(v: u64) -> Slot {
        Slot {
            tag: (v >> 32) as u32,
            window: (v >> 16) as u16,
            count: v as u16,
        }
    }

    fn pack(self) -> u64 {
        u64::from(self.tag) << 32 | u64::from(self.window) << 16 | u64::from(self.count)
    }
}

fn contains(networks: &[IpNetwork], ip: IpAddr) -> bool {
    networks.iter().any(|n| n.contains(ip))
}

/// The client's prefix of the given lengths, as one number (IPv4 ones kept apart from
/// IPv6 ones by a bit above the 32 of the address).
fn prefix(ip: IpAddr, v4_len: u8, v6_len: u8) -> u128 {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = u32::MAX
                .checked_shl(32 - u32::from(v4_len.min(32)))
                .unwrap_or(0);
            1 << 64 | u128::from(bits & mask)
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX
                .checked_shl(128 - u32::from(v6_len.min(128)))
                .unwrap_or(0);
            bits & mask
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(ratelimit: u32) -> DnsConfig {
        DnsConfig {
            ratelimit,
            ..DnsConfig::default()
        }
    }

    #[test]
    fn a_client_gets_its_budget_per_second_and_others_theirs() {
        let limiter = RateLimiter::default();
        let config = dns(5);
        let a: IpAddr = "192.168.20.31".parse().unwrap();
        let b: IpAddr = "192.168.20.32".parse().unwrap();
        let admitted = (0..20)
            .filter(|_| limiter.admit(&config, a, true) == Admission::Answer)
            .count();
        assert!((5..=10).contains(&admitted), "{admitted}");
        assert_eq!(limiter.admit(&config, b, true), Admission::Answer);
        // TCP is not limited, nor a whitelisted client.
        assert_eq!(limiter.admit(&config, a, false), Admission::Answer);
        let mut listed = config.clone();
        listed.ratelimit_whitelist = vec!["192.168.20.0/24".parse().unwrap()];
        assert_eq!(limiter.admit(&listed, a, true), Admission::Answer);
    }

    #[test]
    fn prefixes_share_a_budget() {
        let limiter = RateLimiter::default();
        let mut config = dns(3);
        config.ratelimit_subnet_len_ipv4 = 24;
        for i in 0..3 {
            let ip: IpAddr = format!("10.0.0.{i}").parse().unwrap();
            assert_eq!(limiter.admit(&config, ip, true), Admission::Answer);
        }
        let ip: IpAddr = "10.0.0.200".parse().unwrap();
        // Within the same second (or the next, if it just turned): at most 3 more.
        let more = (0..10)
            .filter(|_| limiter.admit(&config, ip, true) == Admission::Answer)
            .count();
        assert!(more <= 3, "{more}");
        assert_eq!(
            prefix(
                "::ffff:10.0.0.1".parse::<IpAddr>().unwrap().to_canonical(),
                32,
                64
            ),
            prefix("10.0.0.1".parse().unwrap(), 32, 64)
        );
        assert_ne!(
            prefix("2001:db8::1".parse().unwrap(), 32, 64),
            prefix("2001:db8:0:1::1".parse().unwrap(), 32, 64)
        );
        assert_eq!(
            prefix("2001:db8::1".parse().unwrap(), 32, 64),
            prefix("2001:db8::ffff".parse().unwrap(), 32, 64)
        );
    }

    #[test]
    fn access_lists() {
        let limiter = RateLimiter::default();
        let mut config = dns(0);
        config.disallowed_clients = vec!["192.168.30.0/24".parse().unwrap()];
        let guest: IpAddr = "192.168.30.5".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.168.30.5".parse().unwrap();
        let main: IpAddr = "192.168.1.5".parse().unwrap();
        assert_eq!(limiter.admit(&config, guest, true), Admission::NotAllowed);
        assert_eq!(limiter.admit(&config, mapped, false), Admission::NotAllowed);
        assert_eq!(limiter.admit(&config, main, true), Admission::Answer);
        config.disallowed_clients.clear();
        config.allowed_clients = vec!["192.168.1.0/24".parse().unwrap()];
        assert_eq!(limiter.admit(&config, guest, true), Admission::NotAllowed);
        assert_eq!(limiter.admit(&config, main, true), Admission::Answer);
    }

    #[test]
    fn a_flood_of_sources_fits_the_table() {
        let limiter = RateLimiter::default();
        let config = dns(2);
        for i in 0..200_000u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 | i));
            assert_eq!(limiter.admit(&config, ip, true), Admission::Answer);
        }
        assert_eq!(limiter.slots.len(), SLOTS);
    }
}
