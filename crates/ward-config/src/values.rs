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
        RecordKind::Cname | RecordKind::Ptr | RecordKind::Ns => name::check_host_name(value),
        RecordKind::Mx => match value.split_whitespace().collect::<Vec<_>>()[..] {
            [preference, host] if preference.parse::<u16>().is_ok() => name::check_host_name(host),
            _ => Err("an MX record is `preference host` (`10 mail.example.com`)".to_owned()),
        },
        RecordKind::Srv => match value.split_whitespace().collect::<Vec<_>>()[..] {
            [priority, weight, port, target]
                if [priority, weight, port]
                    .iter()
                    .all(|n| n.parse::<u16>().is_ok()) =>
            {
                // "." is RFC 2782's "no such service here".
                if target == "." {
                    Ok(())
                } else {
                    name::check_host_name(target)
                }
            }
            _ => Err(
                "an SRV record is `priority weight port target` (`10 5 5060 sip.example.com`)"
                    .to_owned(),
            ),
        },
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

/// A replication peer's base URL: `http://` or `https://`, a host, an optional port, nothing
/// else. Ward adds its own API paths, so a path or query would be silently dropped or
/// doubled; credentials (`user:pass@`) would put a secret in the config.
pub(crate) fn check_base_url(url: &str) -> Result<(), String> {
    const EXAMPLE: &str = "give the base URL only, such as http://ward-primary:8080";
    // First, and without quoting the URL: the part before '@' is a secret.
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    if after_scheme[..authority_end].contains('@') {
        return Err(
            "the URL carries credentials (user@host); the token goes in sync.token_file".to_owned(),
        );
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("URL {url:?} must start with https:// or http://"))?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("URL {url:?} contains a space or control character"));
    }
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (addr, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("URL {url:?} has an unclosed '[' in its host"))?;
            if addr.parse::<Ipv6Addr>().is_err() {
                return Err(format!("URL {url:?}: {addr:?} is not an IPv6 address"));
            }
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| {
                    format!("URL {url:?}: expected ':port' after the IPv6 address")
                })?),
            };
            (None, port)
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(authority), None),
        },
    };
    if let Some(host) = host {
        if host.is_empty() {
            return Err(format!("URL {url:?} has no host"));
        }
        name::check_host_name(host).map_err(|reason| format!("URL {url:?}: host {reason}"))?;
    }
    if let Some(port) = port {
        if !matches!(port.parse::<u16>(), Ok(p) if p != 0) {
            return Err(format!(
                "URL {url:?}: port {port:?} is not a number from 1 to 65535"
            ));
        }
    }
    if tail.contains('?') {
        return Err(format!("URL {url:?} has a query; {EXAMPLE}"));
    }
    if tail.contains('#') {
        return Err(format!("URL {url:?} has a fragment; {EXAMPLE}"));
    }
    if !tail.is_empty() && tail != "/" {
        return Err(format!("URL {url:?} has a path; {EXAMPLE}"));
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
    fn mx_and_srv_values() {
        for ok in ["10 mail.example.com", "0 mx", "65535 a.b"] {
            assert_eq!(check_record_value(RecordKind::Mx, ok), Ok(()), "{ok}");
        }
        for bad in [
            "mail.example.com",
            "10",
            "x mail.example.com",
            "70000 mail.example",
        ] {
            assert!(check_record_value(RecordKind::Mx, bad).is_err(), "{bad}");
        }
        for ok in ["10 5 5060 sip.example.com", "0 0 0 ."] {
            assert_eq!(check_record_value(RecordKind::Srv, ok), Ok(()), "{ok}");
        }
        for bad in [
            "10 5 sip.example.com",
            "10 5 99999 sip.example.com",
            "a b c d",
        ] {
            assert!(check_record_value(RecordKind::Srv, bad).is_err(), "{bad}");
        }
        assert!(check_record_value(RecordKind::Ns, "ns1.example.com").is_ok());
        assert!(check_record_value(RecordKind::Ns, "not a name").is_err());
    }

    #[test]
    fn base_urls() {
        for ok in [
            "http://ward-primary.dns.svc:8080",
            "https://ward.example.com/",
            "http://10.0.0.7:8080",
            "http://[fd00::7]:8080",
            "http://[fd00::7]",
            "http://localhost",
        ] {
            assert_eq!(check_base_url(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("ward-primary:8080", "must start with"),
            ("ftp://ward:8080", "must start with"),
            ("http://", "has no host"),
            ("http://:8080", "has no host"),
            ("http:///api", "has no host"),
            ("http://ward:8080/api/v1", "has a path"),
            ("http://ward:8080//", "has a path"),
            ("http://ward:8080?x=1", "has a query"),
            ("http://ward:8080/?x=1", "has a query"),
            ("http://ward:8080#top", "has a fragment"),
            ("http://admin:s3cret@ward:8080", "carries credentials"),
            ("http://ward:http", "port \"http\""),
            ("http://ward:0", "port \"0\""),
            ("http://ward:65536", "port \"65536\""),
            ("http://ward:", "port \"\""),
            ("http://[fd00::7", "unclosed"),
            ("http://[fd00::zz]:80", "not an IPv6 address"),
            ("http://[fd00::7]x", "expected ':port'"),
            ("http://fd00::7:8080", "not allowed"),
            ("http://war d:8080", "space"),
            ("http://a..b:8080", "empty label"),
        ] {
            match check_base_url(bad) {
                Ok(()) => panic!("{bad} accepted"),
                Err(e) => assert!(e.contains(why), "{bad}: {e}"),
            }
        }
        for secret in [
            "http://admin:s3cret@ward",
            "admin:s3cret@ward",
            "http://a:s3cret@w ard",
        ] {
            let e = check_base_url(secret).unwrap_err();
            assert!(e.contains("credentials") && !e.contains("s3cret"), "{e}");
        }
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
