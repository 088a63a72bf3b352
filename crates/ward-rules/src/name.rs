//! Domain names as the rule engine compares them: lowercase ASCII, no trailing dot,
//! internationalised names as punycode.

use std::borrow::Cow;

/// The longest name a lookup accepts (RFC 1035: 253 characters in text form).
pub const MAX_NAME_LEN: usize = 253;

/// Normalises a query name: ASCII lowercase, one trailing dot removed, IDN as punycode.
///
/// Returns `None` for names that cannot be a DNS name at all (empty after the dot is
/// removed, too long, or an IDN that does not convert to punycode).
pub fn normalize_query_name(name: &str) -> Option<Cow<'_, str>> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return None;
    }
    let name = normalize_ascii_or_idn(name)?;
    (name.len() <= MAX_NAME_LEN).then_some(name)
}

/// Lowercases `name`, converting it to punycode first when it is not ASCII.
///
/// Borrows when the name is already lowercase ASCII, which is nearly every list line.
pub(crate) fn normalize_ascii_or_idn(name: &str) -> Option<Cow<'_, str>> {
    if name.is_ascii() {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Some(Cow::Owned(name.to_ascii_lowercase()))
        } else {
            Some(Cow::Borrowed(name))
        }
    } else {
        idna::domain_to_ascii(name).ok().map(Cow::Owned)
    }
}

/// Whether `name` counts as a domain in a hosts file or a domain-only list.
///
/// This is AdGuard's rule (urlfilter `IsDomainName`): labels of letters, digits and
/// inner hyphens, at most 63 characters each and 253 in all, and a last label of two or
/// more letters, or a punycode label (`xn--` and at least four more characters). Lines
/// that fail it (`_dmarc.example.org`, `a.b.123`, `example.org.`) are read as
/// adblock-style patterns instead, exactly as AdGuard Home reads them.
pub fn is_domain_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NAME_LEN {
        return false;
    }
    let mut labels = bytes.split(|&b| b == b'.').peekable();
    while let Some(label) = labels.next() {
        let last = labels.peek().is_none();
        if label.is_empty() || label.len() > 63 {
            return false;
        }
        if !label[0].is_ascii_alphanumeric() {
            return false;
        }
        if !label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        {
            return false;
        }
        if !last && label[label.len() - 1] == b'-' {
            return false;
        }
        if last {
            let letters = label.len() > 1 && label.iter().all(u8::is_ascii_alphabetic);
            let punycode =
                label.len() >= "xn--wwww".len() && label[..4].eq_ignore_ascii_case(b"xn--");
            if !letters && !punycode {
                return false;
            }
        }
    }
    true
}

/// Whether every byte of `name` can appear in a host name as AdGuard's patterns see it:
/// letters, digits, `-`, `_` and `.`. Index lookups are exact for such names.
pub(crate) fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_follow_adguard() {
        let table = [
            ("example.org", true),
            ("EXAMPLE.org", true),
            ("localhost", true),
            ("a.bc", true),
            ("a.b", false),
            ("0-app.com", true),
            ("xn--e1afmkfd.xn--p1ai", true),
            ("example.xn--p1a", false),
            ("_dmarc.example.org", false),
            ("a.b.123", false),
            ("example.org.", false),
            ("example.c", false),
            ("-a.example.org", false),
            ("a-.example.org", false),
            ("a..b.org", false),
            ("exa mple.org", false),
            ("", false),
        ];
        for (name, want) in table {
            assert_eq!(is_domain_name(name), want, "{name}");
        }
    }

    #[test]
    fn query_names_are_normalised() {
        assert_eq!(
            normalize_query_name("Ads.Example.ORG.").unwrap(),
            "ads.example.org"
        );
        assert_eq!(
            normalize_query_name("пример.рф").unwrap(),
            "xn--e1afmkfd.xn--p1ai"
        );
        assert!(normalize_query_name(".").is_none());
        assert!(normalize_query_name(&"a.".repeat(200)).is_none());
    }
}
