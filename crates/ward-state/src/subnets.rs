//! Client subnets to policies: longest prefix wins.

use std::net::IpAddr;

/// Subnets (IPv4 and IPv6) mapped to a value, looked up by longest prefix.
///
/// A home network has a handful of subnets, so this is a list sorted by prefix length,
/// longest first: the first match is the most specific one.
#[derive(Clone, Debug, Default)]
pub struct SubnetTable {
    v4: Vec<(u32, u8, usize)>,
    v6: Vec<(u128, u8, usize)>,
}

impl SubnetTable {
    /// Adds `addr/prefix` -> `value`. An IPv4-mapped IPv6 subnet is stored as IPv4.
    pub fn insert(&mut self, addr: IpAddr, prefix: u8, value: usize) {
        match addr {
            IpAddr::V4(a) => {
                let prefix = prefix.min(32);
                self.v4.push((u32::from(a) & mask32(prefix), prefix, value));
                self.v4.sort_by_key(|e| std::cmp::Reverse(e.1));
            }
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => self.insert(IpAddr::V4(v4), prefix - 96, value),
                _ => {
                    let prefix = prefix.min(128);
                    self.v6
                        .push((u128::from(a) & mask128(prefix), prefix, value));
                    self.v6.sort_by_key(|e| std::cmp::Reverse(e.1));
                }
            },
        }
    }

    /// The value of the longest prefix that contains `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<usize> {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4
                    .iter()
                    .find(|(net, p, _)| a & mask32(*p) == *net)
                    .map(|e| e.2)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6
                    .iter()
                    .find(|(net, p, _)| a & mask128(*p) == *net)
                    .map(|e| e.2)
            }
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let mut t = SubnetTable::default();
        t.insert("192.168.0.0".parse().unwrap(), 16, 1);
        t.insert("192.168.20.0".parse().unwrap(), 24, 2);
        t.insert("192.168.20.7".parse().unwrap(), 32, 3);
        t.insert("0.0.0.0".parse().unwrap(), 0, 9);
        t.insert("fd00:20::".parse().unwrap(), 64, 4);
        t.insert("::ffff:10.0.0.0".parse().unwrap(), 104, 5);
        let at = |s: &str| t.lookup(s.parse().unwrap());
        assert_eq!(at("192.168.1.5"), Some(1));
        assert_eq!(at("192.168.20.5"), Some(2));
        assert_eq!(at("192.168.20.7"), Some(3));
        assert_eq!(at("::ffff:192.168.20.5"), Some(2));
        assert_eq!(at("8.8.8.8"), Some(9));
        assert_eq!(at("10.1.2.3"), Some(5));
        assert_eq!(at("fd00:20::1"), Some(4));
        assert_eq!(at("fd00:21::1"), None);
    }
}
