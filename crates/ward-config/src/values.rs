//! Checks of single values (names, record values, URLs), and the "did you mean" hint.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::RecordKind;
use crate::name;

/// Names of lists, policies and upstream groups: they appear in API paths, metrics labels
/// and file names, so keep them to `[A-Za-z0-9._-]`.
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("empty".to_owned());
    }
    if id.len() > 64 {
        return Err("longer than 64 characters".to_owned());
    }
    if id.starts_with('.') {
        // Ids name files (a list's downloaded copy): no hidden files.
        return Err("starts with '.'".to_owned());
    }
    match id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed; use letters, digits, '-', '_' and '.'"
        )),
        None => Ok(()),
    }
}

pub(crate) fn check_record_value(rtype: RecordKind, value: &str) -> Result<(), String> {
    match rtype {
        RecordKind::A => value
            .parse::<Ipv4Addr>()
            .map(drop)
            .map_err(|_| "an A record needs an IPv4 address".to_owned()),
        RecordKind::Aaaa => match value.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => Ok(()),
            Ok(IpAddr::V4(_)) => {
                Err("an AAAA record needs an IPv6 address; this is IPv4 (use type A)".to_owned())
            }
            Err(_) => value
                .parse::<Ipv6Addr>()
                .map(drop)
                .map_err(|_| "an AAAA record needs an IPv6 address".to_owned()),
        },
        RecordKind::Cname | RecordKind::Ptr => name::check_host_name(value),
        RecordKind::Txt => Ok(()),
    }
}

pub(crate) fn check_list_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("list URL {url:?} must start with https:// or http://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("list URL {url:?} has no host"));
    }
    if url.chars().any(char::is_whitespace) {
        return Err(format!("list URL {url:?} contains a space"));
    }
    Ok(())
}

/// `; did you mean "main"?` for a near miss, else the known names when there are few.
pub(crate) fn hint(name: &str, known: &[&str]) -> String {
    let best = known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2 && *d < k.len())
        .min();
    if let Some((_, k)) = best {
        return format!("; did you mean {k:?}?");
    }
    match known.len() {
        0 => String::new(),
        1..=8 => format!(
            "; known: {}",
            known
                .iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints() {
        assert_eq!(hint("mian", &["main", "kids"]), "; did you mean \"main\"?");
        assert_eq!(
            hint("zzzz", &["kids", "main"]),
            "; known: \"kids\", \"main\""
        );
        assert_eq!(hint("x", &[]), "");
    }

    #[test]
    fn ids() {
        assert!(check_id("adguard-dns").is_ok());
        assert!(check_id("hagezi.pro_plus").is_ok());
        assert!(check_id("a b").is_err());
        assert!(check_id("").is_err());
        assert!(check_id(".hidden").is_err());
    }
}
