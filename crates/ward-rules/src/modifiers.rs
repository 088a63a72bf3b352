//! The DNS modifiers of adblock-style rules (`$important`, `$client`, `$dnstype`, ...).
//!
//! AdGuard Home applies a network rule only when every modifier is one that makes sense
//! for a DNS query (urlfilter's `IsHostLevelNetworkRule`); any other modifier, known to
//! browsers or not, makes it ignore the whole rule. Modifier names are case-insensitive.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

use hickory_proto::rr::RecordType;

use crate::line::SkipReason;
use crate::rewrite::{DnsRewrite, parse_dnsrewrite, parse_record_type};

/// The modifiers of one network rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Modifiers {
    pub important: bool,
    pub badfilter: bool,
    pub clients: Option<Filter<ClientId>>,
    pub ctags: Option<Filter<String>>,
    pub dnstypes: Option<Filter<RecordType>>,
    pub denyallow: Vec<String>,
    pub rewrite: Option<DnsRewrite>,
}

/// A permitted / restricted (`~`) set, as `$client`, `$ctag` and `$dnstype` have.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Filter<T> {
    pub permitted: Vec<T>,
    pub restricted: Vec<T>,
}

impl<T> Filter<T> {
    /// AdGuard's rule: a restricted match excludes; with a permitted list, one of it must
    /// match; with only restrictions, everything else matches.
    fn allows(&self, matches: impl Fn(&T) -> bool) -> bool {
        if self.restricted.iter().any(&matches) {
            return false;
        }
        self.permitted.is_empty() || self.permitted.iter().any(matches)
    }
}

/// One `$client` entry: an address, a subnet or a client name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ClientId {
    Net { addr: IpAddr, bits: u8 },
    Name(String),
}

impl ClientId {
    fn matches(&self, ip: Option<IpAddr>, name: Option<&str>) -> bool {
        match self {
            ClientId::Name(n) => name == Some(n.as_str()),
            ClientId::Net { addr, bits } => ip.is_some_and(|ip| prefix_contains(*addr, *bits, ip)),
        }
    }
}

fn prefix_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip.to_canonical()) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

/// What a query brings for the modifiers to test.
pub(crate) struct Subject<'a> {
    /// The normalised query name (ASCII).
    pub name: &'a [u8],
    pub qtype: RecordType,
    pub client_ip: Option<IpAddr>,
    pub client_name: Option<&'a str>,
    pub client_tags: &'a [String],
}

impl Modifiers {
    /// Whether a rule with these modifiers applies to this query.
    pub fn allows(&self, s: &Subject<'_>) -> bool {
        if let Some(types) = &self.dnstypes {
            if !types.allows(|t| *t == s.qtype) {
                return false;
            }
        }
        if let Some(tags) = &self.ctags {
            if !tags.allows(|t| s.client_tags.iter().any(|c| c == t)) {
                return false;
            }
        }
        if let Some(clients) = &self.clients {
            if !clients.allows(|c| c.matches(s.client_ip, s.client_name)) {
                return false;
            }
        }
        if !self.denyallow.is_empty() {
            // An IP "name" only reaches the filter from CNAME / answer filtering, and a
            // $denyallow rule never applies to it (AdGuard Home issue 3175).
            if std::str::from_utf8(s.name).is_ok_and(|n| n.parse::<IpAddr>().is_ok()) {
                return false;
            }
            if self
                .denyallow
                .iter()
                .any(|d| is_same_or_subdomain(s.name, d.as_bytes()))
            {
                return false;
            }
        }
        true
    }

    /// Whether the rule has a restriction that keeps a short pattern from matching
    /// everything (AdGuard refuses `*` or `||` alone otherwise).
    pub fn narrows(&self) -> bool {
        self.clients.is_some()
            || self.ctags.is_some()
            || self.dnstypes.is_some()
            || !self.denyallow.is_empty()
    }

    /// How specific the rule is, for AdGuard's tie-break between rules of one priority:
    /// the one with more modifiers wins.
    pub fn count(&self) -> u32 {
        u32::from(self.important)
            + u32::from(self.clients.is_some())
            + u32::from(self.ctags.is_some())
            + u32::from(self.dnstypes.is_some())
            + u32::from(!self.denyallow.is_empty())
    }

    /// A hash of everything but `$badfilter`: a `$badfilter` rule disables the rules
    /// whose identity equals its own. `pattern` identifies the pattern: a hash of its
    /// text, or of its shape and name for an indexed rule.
    pub fn identity(&self, allow: bool, pattern: u64) -> u64 {
        let mut h = foldhash::fast::FixedState::with_seed(0x5741_5244).build_hasher();
        allow.hash(&mut h);
        pattern.hash(&mut h);
        Modifiers {
            badfilter: false,
            ..self.clone()
        }
        .hash(&mut h);
        h.finish()
    }
}

/// Whether `name` is `domain` or one of its subdomains.
pub(crate) fn is_same_or_subdomain(name: &[u8], domain: &[u8]) -> bool {
    name == domain
        || (name.len() > domain.len()
            && name.ends_with(domain)
            && name[name.len() - domain.len() - 1] == b'.')
}

/// Parses the options text of a rule (after `$`).
pub(crate) fn parse_modifiers(options: &str) -> Result<Modifiers, SkipReason> {
    let mut m = Modifiers::default();
    for option in split_escaped(options, b',') {
        let (name, value) = match option.find('=') {
            Some(eq) if eq > 0 => (&option[..eq], Some(&option[eq + 1..])),
            _ => (option.as_str(), None),
        };
        let invalid = |_| SkipReason::InvalidModifier;
        // Names as written: AdGuard Home's `$IMPORTANT` is no modifier, and its rule is
        // skipped. A negated content type (`$~script`) is no restriction for a DNS query,
        // which is none of them: the rule applies as AdGuard Home applies it.
        if let Some(kind) = name.strip_prefix('~') {
            if CONTENT_TYPES.contains(&kind) && value.is_none() {
                continue;
            }
        }
        match (name, value) {
            ("client", Some("")) => return Err(SkipReason::InvalidModifier),
            ("important", None) => m.important = true,
            ("badfilter", None) => m.badfilter = true,
            ("dnstype", Some(v)) => m.dnstypes = Some(parse_dnstypes(v)?),
            ("dnsrewrite", v) => {
                m.rewrite = Some(parse_dnsrewrite(v.unwrap_or("")).map_err(invalid)?)
            }
            ("denyallow", Some(v)) => m.denyallow = parse_denyallow(v)?,
            ("ctag", Some(v)) => m.ctags = Some(parse_ctags(v)?),
            ("client", Some(v)) => m.clients = Some(parse_clients(v)?),
            ("important" | "badfilter", Some(_))
            | ("dnstype" | "denyallow" | "ctag" | "client", None) => {
                return Err(SkipReason::InvalidModifier);
            }
            _ => return Err(SkipReason::UnsupportedModifier),
        }
    }
    Ok(m)
}

/// The content types of adblock rules (for web pages, not DNS).
const CONTENT_TYPES: &[&str] = &[
    "document",
    "subdocument",
    "script",
    "stylesheet",
    "object",
    "image",
    "xmlhttprequest",
    "media",
    "font",
    "websocket",
    "ping",
    "other",
];

/// Splits on `sep` unless escaped with `\` or inside double quotes; `\sep` becomes
/// `sep`, other escapes are kept as written, and empty parts are dropped (AdGuard's
/// `splitWithEscapeCharacter`, which knows no quotes: external-dns's AdGuard provider
/// writes its TXT registry records as `$dnsrewrite=NOERROR;TXT;"heritage=external-dns,
/// external-dns/owner=..."`, which AdGuard Home cuts at the comma and Ward takes whole).
fn split_escaped(s: &str, sep: u8) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = Vec::new();
    let mut escaped = false;
    let mut quoted = false;
    for &c in s.as_bytes() {
        if c == b'"' && !escaped {
            quoted = !quoted;
            cur.push(c);
        } else if c == b'\\' {
            escaped = true;
        } else if c == sep && quoted && !escaped {
            cur.push(c);
        } else if c == sep {
            if escaped {
                cur.push(c);
                escaped = false;
            } else if !cur.is_empty() {
                parts.push(String::from_utf8_lossy(&cur).into_owned());
                cur.clear();
            }
        } else {
            if escaped {
                escaped = false;
                cur.push(b'\\');
            }
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        parts.push(String::from_utf8_lossy(&cur).into_owned());
    }
    parts
}

fn split_negated(item: &str) -> (bool, &str) {
    match item.strip_prefix('~') {
        Some(rest) => (true, rest),
        None => (false, item),
    }
}

fn parse_dnstypes(value: &str) -> Result<Filter<RecordType>, SkipReason> {
    let mut f = Filter {
        permitted: Vec::new(),
        restricted: Vec::new(),
    };
    for item in value.split('|') {
        let (negated, name) = split_negated(item);
        let rtype = parse_record_type(name).map_err(|_| SkipReason::InvalidModifier)?;
        if negated {
            f.restricted.push(rtype)
        } else {
            f.permitted.push(rtype)
        }
    }
    Ok(f)
}

fn parse_ctags(value: &str) -> Result<Filter<String>, SkipReason> {
    let mut f = Filter {
        permitted: Vec::new(),
        restricted: Vec::new(),
    };
    for item in value.split('|') {
        let (negated, tag) = split_negated(item);
        let valid = !tag.is_empty()
            && tag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(SkipReason::InvalidModifier);
        }
        let list = if negated {
            &mut f.restricted
        } else {
            &mut f.permitted
        };
        list.push(tag.to_owned());
    }
    f.permitted.sort();
    f.restricted.sort();
    Ok(f)
}

fn parse_denyallow(value: &str) -> Result<Vec<String>, SkipReason> {
    let mut domains = Vec::new();
    for item in value.split('|') {
        // Negation, and the `google.*` any-public-suffix form, are not allowed here.
        if item.starts_with('~') || !crate::name::is_domain_name(item) {
            return Err(SkipReason::InvalidModifier);
        }
        domains.push(item.to_ascii_lowercase());
    }
    if domains.is_empty() {
        return Err(SkipReason::InvalidModifier);
    }
    Ok(domains)
}

/// `$client` values: addresses, subnets, or names (quoted when they hold spaces or
/// separators: `'Frank\'s laptop'`), each optionally negated with `~`.
fn parse_clients(value: &str) -> Result<Filter<ClientId>, SkipReason> {
    let mut f = Filter {
        permitted: Vec::new(),
        restricted: Vec::new(),
    };
    for item in split_escaped(value, b'|') {
        let (negated, mut client) = split_negated(&item);
        let bytes = client.as_bytes();
        let quote = (bytes.len() >= 2
            && (bytes[0] == b'\'' || bytes[0] == b'"')
            && bytes[0] == bytes[bytes.len() - 1])
            .then(|| bytes[0] as char);
        if quote.is_some() {
            client = &client[1..client.len() - 1];
        }
        let mut client = client.replace("\\,", ",");
        if let Some(q) = quote {
            client = client.replace(&format!("\\{q}"), &q.to_string());
        }
        if client.is_empty() {
            return Err(SkipReason::InvalidModifier);
        }
        let id = parse_client_id(&client);
        if negated {
            f.restricted.push(id)
        } else {
            f.permitted.push(id)
        }
    }
    Ok(f)
}

fn parse_client_id(client: &str) -> ClientId {
    if let Ok(ip) = client.parse::<IpAddr>() {
        let ip = ip.to_canonical();
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        return ClientId::Net { addr: ip, bits };
    }
    if let Some((addr, bits)) = client.split_once('/') {
        if let (Ok(addr), Ok(bits)) = (addr.parse::<IpAddr>(), bits.parse::<u8>()) {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if bits <= max {
                // `::ffff:10.0.0.0/104` is the IPv4 subnet 10.0.0.0/8: clients are
                // compared in canonical form.
                if let IpAddr::V6(v6) = addr {
                    if let (Some(v4), true) = (v6.to_ipv4_mapped(), bits >= 96) {
                        return ClientId::Net {
                            addr: IpAddr::V4(v4),
                            bits: bits - 96,
                        };
                    }
                }
                return ClientId::Net { addr, bits };
            }
        }
    }
    ClientId::Name(client.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(ip: Option<&str>, name: Option<&'a str>, tags: &'a [String]) -> Subject<'a> {
        Subject {
            name: b"x.example.org",
            qtype: RecordType::A,
            client_ip: ip.map(|s| s.parse().unwrap()),
            client_name: name,
            client_tags: tags,
        }
    }

    #[test]
    fn a_quoted_value_keeps_its_commas() {
        let m = parse_modifiers(
            r#"dnsrewrite=NOERROR;TXT;"heritage=external-dns,external-dns/owner=ward",important"#,
        )
        .unwrap();
        assert!(m.important);
        assert!(m.rewrite.is_some());
        // Unquoted, the comma still separates modifiers, as in AdGuard Home.
        assert_eq!(
            parse_modifiers("dnsrewrite=NOERROR;TXT;a,b").unwrap_err(),
            SkipReason::UnsupportedModifier
        );
        assert_eq!(
            split_escaped(r#"a,"b,c",d\,e"#, b','),
            ["a", "\"b,c\"", "d,e"]
        );
    }

    #[test]
    fn clients() {
        let m = parse_modifiers(r"client='Frank\'s laptop'|192.168.0.0/24|~192.168.0.7").unwrap();
        assert!(m.allows(&subject(None, Some("Frank's laptop"), &[])));
        assert!(m.allows(&subject(Some("192.168.0.5"), None, &[])));
        assert!(m.allows(&subject(Some("::ffff:192.168.0.5"), None, &[])));
        assert!(!m.allows(&subject(Some("192.168.0.7"), None, &[])));
        assert!(!m.allows(&subject(Some("10.0.0.1"), None, &[])));
        assert!(!m.allows(&subject(None, None, &[])));
        let mapped = parse_modifiers("client=::ffff:10.0.0.0/104").unwrap();
        assert!(mapped.allows(&subject(Some("10.1.2.3"), None, &[])));
        assert!(!mapped.allows(&subject(Some("11.1.2.3"), None, &[])));
    }

    #[test]
    fn unknown_and_invalid() {
        assert_eq!(
            parse_modifiers("third-party"),
            Err(SkipReason::UnsupportedModifier)
        );
        assert_eq!(
            parse_modifiers("important,domain=a.com"),
            Err(SkipReason::UnsupportedModifier)
        );
        assert_eq!(
            parse_modifiers("dnstype=BOGUS"),
            Err(SkipReason::InvalidModifier)
        );
        assert_eq!(
            parse_modifiers("ctag=Bad"),
            Err(SkipReason::InvalidModifier)
        );
        assert_eq!(
            parse_modifiers("denyallow=~a.com"),
            Err(SkipReason::InvalidModifier)
        );
        // As AdGuard Home: names as written, an empty `$client=`, content types.
        assert_eq!(
            parse_modifiers("IMPORTANT"),
            Err(SkipReason::UnsupportedModifier)
        );
        assert_eq!(
            parse_modifiers("DnsType=aaaa"),
            Err(SkipReason::UnsupportedModifier)
        );
        assert_eq!(parse_modifiers("client="), Err(SkipReason::InvalidModifier));
        let m = parse_modifiers("~script,~image,important").unwrap();
        assert!(m.important);
        assert_eq!(
            parse_modifiers("script"),
            Err(SkipReason::UnsupportedModifier)
        );
    }
}
