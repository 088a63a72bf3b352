//! `$dnsrewrite` values: what a rewrite rule answers instead of the upstream.
//!
//! The grammar is AdGuard's: a shorthand (`NXDOMAIN`, an IP, a host name for a CNAME) or
//! the full `RCODE;TYPE;VALUE` form. An empty value is only meaningful in an exception
//! (`@@||x^$dnsrewrite` cancels every rewrite of `x`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// One `$dnsrewrite` modifier, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DnsRewrite {
    /// `$dnsrewrite` with no value: in an exception it cancels every rewrite.
    Empty,
    /// Answer with this response code and no records (`NXDOMAIN`, `REFUSED`, ...).
    /// `NOERROR` here means an empty answer.
    Rcode(ResponseCode),
    /// Answer with a CNAME to this name (the resolver follows it).
    Cname(String),
    /// Answer `NOERROR` with this record.
    Record(RewriteRecord),
}

/// A record that a rewrite answers with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RewriteRecord {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A mail exchanger.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The exchanger's host name.
        exchange: String,
    },
    /// A text record, verbatim.
    Txt(String),
    /// A pointer, fully qualified (with a trailing dot).
    Ptr(String),
    /// A name server.
    Ns(String),
    /// A service location.
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Relative weight among equal priorities.
        weight: u16,
        /// TCP or UDP port.
        port: u16,
        /// The target host, or `.` for "no service".
        target: String,
    },
    /// An HTTPS or SVCB record (`priority target key=value...`).
    Svcb {
        /// `HTTPS` or `SVCB`.
        rtype: RecordType,
        /// 0 is alias mode.
        priority: u16,
        /// The target host, or `.`.
        target: String,
        /// Service parameters in the order written.
        params: Vec<(String, String)>,
    },
    /// A record type Ward recognises but has no value syntax for: answered as NODATA.
    Empty(RecordType),
}

impl RewriteRecord {
    /// The record's type.
    pub fn record_type(&self) -> RecordType {
        match self {
            RewriteRecord::A(_) => RecordType::A,
            RewriteRecord::Aaaa(_) => RecordType::AAAA,
            RewriteRecord::Mx { .. } => RecordType::MX,
            RewriteRecord::Txt(_) => RecordType::TXT,
            RewriteRecord::Ptr(_) => RecordType::PTR,
            RewriteRecord::Ns(_) => RecordType::NS,
            RewriteRecord::Srv { .. } => RecordType::SRV,
            RewriteRecord::Svcb { rtype, .. } => *rtype,
            RewriteRecord::Empty(rtype) => *rtype,
        }
    }
}

impl fmt::Display for RewriteRecord {
    /// The value in the syntax the rule was written in (`10 mail.example.org` for MX).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RewriteRecord::A(ip) => write!(f, "{ip}"),
            RewriteRecord::Aaaa(ip) => write!(f, "{ip}"),
            RewriteRecord::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            RewriteRecord::Txt(s) | RewriteRecord::Ptr(s) | RewriteRecord::Ns(s) => f.write_str(s),
            RewriteRecord::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                write!(f, "{priority} {weight} {port} {target}")
            }
            RewriteRecord::Svcb {
                priority,
                target,
                params,
                ..
            } => {
                write!(f, "{priority} {target}")?;
                for (k, v) in params {
                    write!(f, " {k}={v}")?;
                }
                Ok(())
            }
            RewriteRecord::Empty(_) => Ok(()),
        }
    }
}

/// Parses the value of a `$dnsrewrite` modifier.
pub(crate) fn parse_dnsrewrite(value: &str) -> Result<DnsRewrite, String> {
    let parts: Vec<&str> = value.splitn(3, ';').collect();
    match parts.as_slice() {
        [short] => parse_short(short),
        [rcode, rtype, value] => parse_full(rcode, rtype, value),
        _ => Err(format!("{value:?}: expected zero or two `;`")),
    }
}

fn parse_short(s: &str) -> Result<DnsRewrite, String> {
    if s.is_empty() {
        return Ok(DnsRewrite::Empty);
    }
    if s.bytes().all(|b| b.is_ascii_uppercase()) {
        return match s {
            "NOERROR" => Ok(DnsRewrite::Rcode(ResponseCode::NoError)),
            "SERVFAIL" => Ok(DnsRewrite::Rcode(ResponseCode::ServFail)),
            "NXDOMAIN" => Ok(DnsRewrite::Rcode(ResponseCode::NXDomain)),
            "REFUSED" => Ok(DnsRewrite::Rcode(ResponseCode::Refused)),
            _ => Err(format!("unknown keyword {s:?}")),
        };
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(DnsRewrite::Record(match ip {
            IpAddr::V4(ip) => RewriteRecord::A(ip),
            IpAddr::V6(ip) => RewriteRecord::Aaaa(ip),
        }));
    }
    validate_host(s)?;
    Ok(DnsRewrite::Cname(s.to_ascii_lowercase()))
}

fn parse_full(rcode: &str, rtype: &str, value: &str) -> Result<DnsRewrite, String> {
    let rcode = parse_rcode(rcode)?;
    if rcode != ResponseCode::NoError || (rtype.is_empty() && value.is_empty()) {
        return Ok(DnsRewrite::Rcode(rcode));
    }
    let rtype = parse_record_type(rtype)?;
    let record = match rtype {
        RecordType::A => match value.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => RewriteRecord::A(ip),
            _ => return Err(format!("{value:?} is not an IPv4 address")),
        },
        RecordType::AAAA => match value.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => RewriteRecord::Aaaa(ip),
            _ => return Err(format!("{value:?} is not an IPv6 address")),
        },
        RecordType::CNAME => {
            validate_host(value)?;
            return Ok(DnsRewrite::Cname(value.to_ascii_lowercase()));
        }
        RecordType::MX => {
            let (pref, exchange) = value
                .split_once(' ')
                .ok_or_else(|| format!("MX {value:?}: expected `preference exchange`"))?;
            validate_host(exchange)?;
            RewriteRecord::Mx {
                preference: parse_u16("MX preference", pref)?,
                exchange: exchange.to_ascii_lowercase(),
            }
        }
        // A quoted value is the text inside the quotes (external-dns writes its registry
        // records so).
        RecordType::TXT => RewriteRecord::Txt(
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value)
                .to_owned(),
        ),
        RecordType::PTR | RecordType::NS => {
            let host = value.strip_suffix('.').unwrap_or(value);
            validate_host(host)?;
            let fqdn = format!("{}.", host.to_ascii_lowercase());
            if rtype == RecordType::PTR {
                RewriteRecord::Ptr(fqdn)
            } else {
                RewriteRecord::Ns(fqdn)
            }
        }
        RecordType::SRV => {
            let fields: Vec<&str> = value.split(' ').collect();
            let [priority, weight, port, target, ..] = fields.as_slice() else {
                return Err(format!(
                    "SRV {value:?}: expected `priority weight port target`"
                ));
            };
            if *target != "." {
                validate_host(target)?;
            }
            RewriteRecord::Srv {
                priority: parse_u16("SRV priority", priority)?,
                weight: parse_u16("SRV weight", weight)?,
                port: parse_u16("SRV port", port)?,
                target: target.to_ascii_lowercase(),
            }
        }
        RecordType::HTTPS | RecordType::SVCB => {
            let fields: Vec<&str> = value.split(' ').collect();
            let [priority, target, params @ ..] = fields.as_slice() else {
                return Err(format!(
                    "{rtype} {value:?}: expected `priority target [key=value]...`"
                ));
            };
            if *target != "." {
                validate_host(target)?;
            }
            let params = params
                .iter()
                .map(|p| match p.split('=').collect::<Vec<_>>().as_slice() {
                    [k, v] => Ok(((*k).to_owned(), (*v).to_owned())),
                    _ => Err(format!("{rtype} parameter {p:?}: expected key=value")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            RewriteRecord::Svcb {
                rtype,
                priority: parse_u16("priority", priority)?,
                target: target.to_ascii_lowercase(),
                params,
            }
        }
        other => RewriteRecord::Empty(other),
    };
    Ok(DnsRewrite::Record(record))
}

fn parse_u16(what: &str, s: &str) -> Result<u16, String> {
    s.parse()
        .map_err(|_| format!("{what} {s:?} is not a number from 0 to 65535"))
}

/// Parses a response code name (`NOERROR`, `nxdomain`, ...).
pub(crate) fn parse_rcode(s: &str) -> Result<ResponseCode, String> {
    Ok(match s.to_ascii_uppercase().as_str() {
        "NOERROR" => ResponseCode::NoError,
        "FORMERR" => ResponseCode::FormErr,
        "SERVFAIL" => ResponseCode::ServFail,
        "NXDOMAIN" => ResponseCode::NXDomain,
        "NOTIMP" => ResponseCode::NotImp,
        "REFUSED" => ResponseCode::Refused,
        "YXDOMAIN" => ResponseCode::YXDomain,
        "YXRRSET" => ResponseCode::YXRRSet,
        "NXRRSET" => ResponseCode::NXRRSet,
        "NOTAUTH" => ResponseCode::NotAuth,
        "NOTZONE" => ResponseCode::NotZone,
        _ => return Err(format!("unknown response code {s:?}")),
    })
}

/// The response code's name as rules and AdGuard Home's API write it.
pub fn rcode_name(rcode: ResponseCode) -> String {
    match rcode {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

/// Parses a record type name in any letter case (`A`, `aaaa`, `HTTPS`, `TYPE65`).
pub fn parse_record_type(s: &str) -> Result<RecordType, String> {
    let upper = s.to_ascii_uppercase();
    if let Some(num) = upper.strip_prefix("TYPE") {
        if let Ok(n) = num.parse::<u16>() {
            return Ok(RecordType::from(n));
        }
    }
    match upper.parse::<RecordType>() {
        Ok(RecordType::Unknown(_)) | Err(_) => Err(format!("unknown record type {s:?}")),
        Ok(RecordType::NULL) if upper != "NULL" => Err(format!("unknown record type {s:?}")),
        Ok(t) => Ok(t),
    }
}

/// Validates a host name the way AdGuard validates rewrite targets: dot-separated
/// labels of letters, digits and hyphens, none starting with a hyphen.
fn validate_host(host: &str) -> Result<(), String> {
    if host.is_empty() || host.len() > 253 {
        return Err(format!("invalid host name {host:?}"));
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.as_bytes()[0].is_ascii_alphanumeric()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(format!("invalid host name {host:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let table: &[(&str, Option<DnsRewrite>)] = &[
            ("", Some(DnsRewrite::Empty)),
            ("NXDOMAIN", Some(DnsRewrite::Rcode(ResponseCode::NXDomain))),
            ("REFUSED", Some(DnsRewrite::Rcode(ResponseCode::Refused))),
            ("BOGUS", None),
            (
                "1.2.3.4",
                Some(DnsRewrite::Record(RewriteRecord::A(
                    "1.2.3.4".parse().unwrap(),
                ))),
            ),
            (
                "::1",
                Some(DnsRewrite::Record(RewriteRecord::Aaaa(
                    "::1".parse().unwrap(),
                ))),
            ),
            ("example.net", Some(DnsRewrite::Cname("example.net".into()))),
            (
                "noerror;cname;example.net",
                Some(DnsRewrite::Cname("example.net".into())),
            ),
            (
                "NOERROR;A;1.2.3.4",
                Some(DnsRewrite::Record(RewriteRecord::A(
                    "1.2.3.4".parse().unwrap(),
                ))),
            ),
            ("NOERROR;A;::1", None),
            (
                "NXDOMAIN;;",
                Some(DnsRewrite::Rcode(ResponseCode::NXDomain)),
            ),
            (
                "NOERROR;MX;32 mail.example.org",
                Some(DnsRewrite::Record(RewriteRecord::Mx {
                    preference: 32,
                    exchange: "mail.example.org".into(),
                })),
            ),
            (
                "NOERROR;PTR;host.example.org",
                Some(DnsRewrite::Record(RewriteRecord::Ptr(
                    "host.example.org.".into(),
                ))),
            ),
            (
                "NOERROR;SRV;10 60 8080 sip.example.org",
                Some(DnsRewrite::Record(RewriteRecord::Srv {
                    priority: 10,
                    weight: 60,
                    port: 8080,
                    target: "sip.example.org".into(),
                })),
            ),
            (
                "NOERROR;HTTPS;1 . alpn=h3",
                Some(DnsRewrite::Record(RewriteRecord::Svcb {
                    rtype: RecordType::HTTPS,
                    priority: 1,
                    target: ".".into(),
                    params: vec![("alpn".into(), "h3".into())],
                })),
            ),
            (
                "NOERROR;TXT;hello world",
                Some(DnsRewrite::Record(RewriteRecord::Txt("hello world".into()))),
            ),
            (
                "NOERROR;TXT;\"heritage=external-dns,external-dns/owner=ward\"",
                Some(DnsRewrite::Record(RewriteRecord::Txt(
                    "heritage=external-dns,external-dns/owner=ward".into(),
                ))),
            ),
            ("NOERROR;BOGUS;x", None),
            ("a;b", None),
        ];
        for (value, want) in table {
            assert_eq!(parse_dnsrewrite(value).ok(), *want, "{value:?}");
        }
    }

    #[test]
    fn record_types() {
        assert_eq!(parse_record_type("aaaa").unwrap(), RecordType::AAAA);
        assert_eq!(parse_record_type("TYPE65").unwrap(), RecordType::HTTPS);
        assert!(parse_record_type("nonsense").is_err());
    }
}
