//! Answers Ward writes itself: blocked names, hosts-file addresses, `$dnsrewrite`
//! results, local records, and error responses.
//!
//! Blocked answers follow AdGuard Home (`genDNSFilterMessage`): A, AAAA and HTTPS queries
//! get the blocking mode's answer; other types get an empty NOERROR in `null_ip` mode
//! and NODATA (with an SOA) otherwise.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use ward_config::{BlockingMode, LocalRecord, RecordKind};
use ward_rules::{Rewrite, RewriteRecord};
use ward_state::{Blocking, LocalRecords};

/// The EDNS payload size Ward advertises and answers within (the DNS Flag Day 2020 value).
pub const EDNS_PAYLOAD: u16 = 1232;

/// A response to `req` with its id, opcode, RD bit and question, recursion available, and
/// EDNS when the request had it.
pub fn response_to(req: &Message, rcode: ResponseCode) -> Message {
    let mut resp = Message::new(req.metadata.id, MessageType::Response, req.metadata.op_code);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.checking_disabled = req.metadata.checking_disabled;
    resp.metadata.response_code = rcode;
    resp.queries = req.queries.clone();
    if let Some(edns) = &req.edns {
        let mut out = Edns::new();
        out.set_max_payload(EDNS_PAYLOAD);
        out.set_dnssec_ok(edns.flags().dnssec_ok);
        resp.set_edns(out);
    }
    resp
}

/// The SOA that makes a negative answer cacheable for `ttl` seconds.
fn negative_soa(zone: &Name, ttl: u32) -> Record {
    let soa = SOA::new(
        Name::from_ascii("fake-for-negative-caching.ward.invalid.")
            .unwrap_or_else(|_| Name::root()),
        Name::from_ascii("hostmaster.ward.invalid.").unwrap_or_else(|_| Name::root()),
        1,
        1800,
        900,
        604_800,
        ttl,
    );
    Record::from_rdata(zone.clone(), ttl, RData::SOA(soa))
}

/// NOERROR with no answer and an SOA: "the name exists, not with this type".
pub fn nodata(req: &Message, q: &Query, ttl: u32) -> Message {
    let mut resp = response_to(req, ResponseCode::NoError);
    resp.add_authority(negative_soa(q.name(), ttl));
    resp
}

/// NXDOMAIN with an SOA: "this name does not exist".
pub fn nxdomain(req: &Message, q: &Query, ttl: u32) -> Message {
    let mut resp = response_to(req, ResponseCode::NXDomain);
    resp.add_authority(negative_soa(q.name(), ttl));
    resp
}

/// The answer for a blocked name in this policy's blocking mode.
pub fn blocked(req: &Message, q: &Query, b: &Blocking) -> Message {
    let qtype = q.query_type();
    if !matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::HTTPS) {
        return match b.mode {
            BlockingMode::NullIp => response_to(req, ResponseCode::NoError),
            _ => nodata(req, q, b.ttl),
        };
    }
    match b.mode {
        BlockingMode::Nxdomain => nxdomain(req, q, b.ttl),
        BlockingMode::Refused => response_to(req, ResponseCode::Refused),
        BlockingMode::NullIp | BlockingMode::CustomIp => {
            let (v4, v6) = match b.mode {
                BlockingMode::CustomIp => (b.ipv4, b.ipv6),
                _ => (
                    std::net::Ipv4Addr::UNSPECIFIED,
                    std::net::Ipv6Addr::UNSPECIFIED,
                ),
            };
            let mut resp = response_to(req, ResponseCode::NoError);
            match qtype {
                RecordType::A => {
                    resp.add_answer(Record::from_rdata(q.name().clone(), b.ttl, RData::A(A(v4))));
                }
                RecordType::AAAA => {
                    resp.add_answer(Record::from_rdata(
                        q.name().clone(),
                        b.ttl,
                        RData::AAAA(AAAA(v6)),
                    ));
                }
                _ => {}
            }
            resp
        }
    }
}

/// The addresses of hosts-file rules, those of the query's family.
pub fn addresses(req: &Message, q: &Query, ips: &[IpAddr], ttl: u32) -> Message {
    let mut resp = response_to(req, ResponseCode::NoError);
    for ip in ips {
        let rdata = match (ip, q.query_type()) {
            (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
            (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(*v6)),
            _ => continue,
        };
        resp.add_answer(Record::from_rdata(q.name().clone(), ttl, rdata));
    }
    resp
}

/// A `$dnsrewrite` answer without a CNAME: its response code and the records of the
/// query's type (none of that type is NODATA).
pub fn rewritten(req: &Message, q: &Query, rw: &Rewrite, ttl: u32) -> Message {
    let mut resp = response_to(req, rw.rcode);
    for r in rw
        .records
        .iter()
        .filter(|r| r.record_type() == q.query_type())
    {
        if let Some(rdata) = rewrite_rdata(r) {
            resp.add_answer(Record::from_rdata(q.name().clone(), ttl, rdata));
        }
    }
    resp
}

/// A CNAME record from the question's name to `target`.
pub fn cname_record(q: &Query, target: &str, ttl: u32) -> Option<Record> {
    let target = fqdn(target)?;
    Some(Record::from_rdata(
        q.name().clone(),
        ttl,
        RData::CNAME(CNAME(target)),
    ))
}

fn fqdn(name: &str) -> Option<Name> {
    let mut n = Name::from_ascii(name).ok()?;
    n.set_fqdn(true);
    Some(n)
}

fn rewrite_rdata(r: &RewriteRecord) -> Option<RData> {
    Some(match r {
        RewriteRecord::A(ip) => RData::A(A(*ip)),
        RewriteRecord::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        RewriteRecord::Mx {
            preference,
            exchange,
        } => RData::MX(MX::new(*preference, fqdn(exchange)?)),
        RewriteRecord::Txt(text) => RData::TXT(txt(text)),
        RewriteRecord::Ptr(name) => RData::PTR(PTR(fqdn(name)?)),
        RewriteRecord::Ns(name) => RData::NS(NS(fqdn(name)?)),
        RewriteRecord::Srv {
            priority,
            weight,
            port,
            target,
        } => RData::SRV(SRV::new(*priority, *weight, *port, fqdn(target)?)),
        // Zone-file syntax is the rule's own syntax, with the target made absolute.
        RewriteRecord::Svcb {
            rtype,
            priority,
            target,
            params,
        } => {
            let target = if target == "." {
                ".".to_owned()
            } else {
                format!("{target}.")
            };
            let params: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let text = format!("{priority} {target} {}", params.join(" "));
            RData::try_from_str(*rtype, text.trim()).ok()?
        }
        RewriteRecord::Empty(_) => return None,
    })
}

/// A TXT record of `text`, in strings of at most 255 bytes (a character-string's
/// limit, RFC 1035 3.3): a longer value would make the answer unencodable.
pub fn txt(text: &str) -> TXT {
    let mut strings = Vec::with_capacity(text.len() / 255 + 1);
    let mut rest = text;
    while rest.len() > 255 {
        // Cut at a character boundary at most 255 bytes in.
        let mut cut = 255;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        strings.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    strings.push(rest.to_owned());
    TXT::new(strings)
}

/// An MX record's value, `preference host` (validated when the config loaded).
fn mx(value: &str) -> Option<MX> {
    let (preference, host) = value.split_once(' ')?;
    Some(MX::new(preference.parse().ok()?, fqdn(host)?))
}

/// An SRV record's value, `priority weight port target`; `.` is the root.
fn srv(value: &str) -> Option<SRV> {
    let mut fields = value.split(' ');
    let mut number = || fields.next()?.parse::<u16>().ok();
    let (priority, weight, port) = (number()?, number()?, number()?);
    let target = match fields.next()? {
        "." => Name::root(),
        host => fqdn(host)?,
    };
    Some(SRV::new(priority, weight, port, target))
}

/// How many CNAMEs of local records an answer follows: enough for any real chain,
/// and an end to a loop.
const LOCAL_CNAME_HOPS: usize = 8;

/// Local records for the question: those of its type, or a CNAME for any type, followed
/// to the records of its target when those are local too (`all`). A name with records
/// but none of this type gets NODATA.
pub fn local(req: &Message, q: &Query, records: &[LocalRecord], all: &LocalRecords) -> Message {
    let mut resp = response_to(req, ResponseCode::NoError);
    resp.metadata.authoritative = true;
    let qtype = q.query_type();
    let mut owner = q.name().clone();
    let mut records = records;
    for _ in 0..LOCAL_CNAME_HOPS {
        let mut target = None;
        for r in records {
            let matches = match r.rtype {
                RecordKind::A => qtype == RecordType::A,
                RecordKind::Aaaa => qtype == RecordType::AAAA,
                RecordKind::Txt => qtype == RecordType::TXT,
                RecordKind::Ptr => qtype == RecordType::PTR,
                RecordKind::Mx => qtype == RecordType::MX,
                RecordKind::Srv => qtype == RecordType::SRV,
                RecordKind::Ns => qtype == RecordType::NS,
                RecordKind::Cname => true,
            };
            if !matches {
                continue;
            }
            let rdata = match r.rtype {
                RecordKind::A => r.value.parse().ok().map(|ip| RData::A(A(ip))),
                RecordKind::Aaaa => r.value.parse().ok().map(|ip| RData::AAAA(AAAA(ip))),
                RecordKind::Txt => Some(RData::TXT(txt(&r.value))),
                RecordKind::Ptr => fqdn(&r.value).map(|n| RData::PTR(PTR(n))),
                RecordKind::Ns => fqdn(&r.value).map(|n| RData::NS(NS(n))),
                RecordKind::Mx => mx(&r.value).map(RData::MX),
                RecordKind::Srv => srv(&r.value).map(RData::SRV),
                RecordKind::Cname => fqdn(&r.value).map(|n| RData::CNAME(CNAME(n))),
            };
            if let Some(rdata) = rdata {
                if let RData::CNAME(CNAME(name)) = &rdata {
                    target = Some(name.clone());
                }
                resp.add_answer(Record::from_rdata(owner.clone(), r.ttl, rdata));
            }
        }
        // A CNAME answers every type but CNAME itself; its target's records follow.
        let Some(next) = target.filter(|_| qtype != RecordType::CNAME) else {
            break;
        };
        let key = next.to_ascii().trim_end_matches('.').to_ascii_lowercase();
        let Some(found) = all.lookup(&key) else {
            break;
        };
        owner = next;
        records = found;
    }
    if resp.answers.is_empty() {
        resp.add_authority(negative_soa(
            q.name(),
            records.first().map_or(300, |r| r.ttl),
        ));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_txt_values_are_split_into_strings_of_255_bytes() {
        let ascii = "a".repeat(600);
        let strings: Vec<usize> = txt(&ascii).txt_data.iter().map(|s| s.len()).collect();
        assert_eq!(strings, [255, 255, 90]);
        // Never inside a character: 'é' is two bytes, so the first cut is at 254.
        let accents = "é".repeat(200);
        let parts = txt(&accents).txt_data;
        assert!(parts.iter().all(|s| s.len() <= 255));
        assert_eq!(parts[0].len(), 254);
        let joined: Vec<u8> = parts.iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(joined, accents.as_bytes());
        // A $dnsrewrite TXT record takes the same way: its answer encodes.
        let rdata = rewrite_rdata(&RewriteRecord::Txt("x".repeat(1000))).unwrap();
        let record = Record::from_rdata(Name::from_ascii("t.example.").unwrap(), 10, rdata);
        let mut m = Message::query();
        m.add_answer(record);
        assert!(m.to_vec().is_ok());
        assert_eq!(txt("").txt_data.len(), 1);
    }
}
