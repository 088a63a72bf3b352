//! Domain names in the config: zones, record owners and targets.
//!
//! Names are normalised once, when the config is read, the way the rule engine compares
//! them: lowercase ASCII (IDN as punycode), no trailing dot. Validation then only has to
//! check the normalised form.

use serde::{Deserialize, Deserializer};

/// Lowercase, no trailing dot, IDN converted to punycode. A name that cannot be converted is
/// returned lowercased so that validation can report it.
pub(crate) fn normalise(name: &str) -> String {
    let name = name.trim();
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_ascii() {
        return name.to_ascii_lowercase();
    }
    let (wild, rest) = match name.strip_prefix("*.") {
        Some(rest) => ("*.", rest),
        None => ("", name),
    };
    match idna::domain_to_ascii(rest) {
        Ok(ascii) => format!("{wild}{ascii}"),
        Err(_) => name.to_lowercase(),
    }
}

/// A host name: 1 to 253 characters, labels of 1 to 63 letters, digits, `-` and `_`, no
/// label starting or ending with `-`.
pub(crate) fn check_host_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".to_owned());
    }
    if name.len() > 253 {
        return Err(format!("{} characters, at most 253", name.len()));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("empty label (two dots in a row, or a leading dot)".to_owned());
        }
        if label.len() > 63 {
            return Err(format!("label {label:?} is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("{c:?} is not allowed in a name"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with '-'"));
        }
    }
    Ok(())
}

/// A record owner: a host name, optionally starting with the wildcard label `*.`.
pub(crate) fn check_record_name(name: &str) -> Result<(), String> {
    match name.strip_prefix("*.") {
        Some(rest) => check_host_name(rest),
        None if name == "*" => Err("a wildcard needs a domain: *.example.com".to_owned()),
        None if name.contains('*') => {
            Err("a wildcard is only allowed as the whole first label: *.example.com".to_owned())
        }
        None => check_host_name(name),
    }
}

pub(crate) fn deserialize_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d).map(|s| normalise(&s))
}

pub(crate) fn deserialize_optional_name<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d).map(|o| o.map(|s| normalise(&s)))
}

/// ClientIDs as a query names them: lowercase (a TLS server name is compared without
/// case, and so, for one rule, is the DoH path).
pub(crate) fn deserialize_client_ids<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<String>, D::Error> {
    Vec::<String>::deserialize(d).map(|v| v.iter().map(|s| s.trim().to_ascii_lowercase()).collect())
}

/// A ClientID, as AdGuard Home takes one: a host-name label, 1 to 63 letters, digits and
/// `-`, not starting or ending with `-` (it is the first label of a TLS server name).
pub fn check_client_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("empty ClientID".to_owned());
    }
    if id.len() > 63 {
        return Err(format!("ClientID {id:?} is longer than 63 characters"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(format!(
            "{c:?} is not allowed in ClientID {id:?}; use letters, digits and '-'"
        ));
    }
    if id.starts_with('-') || id.ends_with('-') {
        return Err(format!("ClientID {id:?} starts or ends with '-'"));
    }
    Ok(())
}

pub(crate) fn deserialize_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Vec::<String>::deserialize(d).map(|v| v.iter().map(|s| normalise(s)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(normalise("Home.Example.COM."), "home.example.com");
        assert_eq!(normalise("*.Bücher.example"), "*.xn--bcher-kva.example");
        assert_eq!(normalise(" x.y "), "x.y");
    }

    #[test]
    fn checks_names() {
        assert!(check_host_name("home.example.com").is_ok());
        assert!(check_host_name("_acme-challenge.example.com").is_ok());
        assert!(check_host_name("168.192.in-addr.arpa").is_ok());
        assert!(check_host_name("a..b").is_err());
        assert!(check_host_name("-a.b").is_err());
        assert!(check_host_name("a b").is_err());
        assert!(check_host_name(&"a".repeat(64)).is_err());
        assert!(check_record_name("*.home.example.com").is_ok());
        assert!(check_record_name("a.*.example.com").is_err());
        assert!(check_record_name("*").is_err());
    }
}
