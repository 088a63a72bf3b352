//! The fast path's wire format: read a plain query's question, write a blocked answer,
//! without building hickory messages.
//!
//! Most queries are one question, maybe an OPT record, and are either blocked or
//! answered from the cache. For those, decoding the whole message and encoding the
//! answer costs more than deciding it. [`parse_query`] reads only what the decision
//! needs and gives up (the caller takes the full path) on anything unusual; [`blocked`]
//! writes the same answers as [`crate::answer::blocked`] (the tests compare them).

use hickory_proto::rr::RecordType;
use ward_config::BlockingMode;
use ward_state::Blocking;

/// A query's question and the little else the query path needs, read from its wire
/// format. Both ways of reading a query ([`parse_query`] for plain ones, hickory for the
/// rest) end in one of these, and every later step works on it.
#[derive(Debug)]
pub struct Question<'b> {
    /// The name, lowercase, without the trailing dot.
    pub name: &'b str,
    /// The type.
    pub qtype: RecordType,
    /// The class (1: IN).
    pub qclass: u16,
    /// Where the question section ends in the request (it starts at byte 12, and holds
    /// the name uncompressed).
    pub question_end: usize,
    /// The client's EDNS, if it sent an OPT record.
    pub edns: Option<ClientEdns>,
    /// The CD (checking disabled) bit.
    pub checking_disabled: bool,
}

/// What a client's OPT record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientEdns {
    /// The UDP payload size it accepts.
    pub payload: u16,
    /// The DO bit.
    pub dnssec_ok: bool,
    /// The EDNS version (only 0 exists; anything else is answered BADVERS).
    pub version: u8,
}

impl Question<'_> {
    /// The class IN.
    pub const IN: u16 = 1;

    /// The DO bit.
    pub fn dnssec_ok(&self) -> bool {
        self.edns.is_some_and(|e| e.dnssec_ok)
    }

    /// The largest UDP answer the client takes: its EDNS payload (at most Ward's), else
    /// 512 bytes.
    pub fn udp_limit(&self) -> usize {
        self.edns.map_or(512, |e| {
            usize::from(e.payload.clamp(512, crate::answer::EDNS_PAYLOAD))
        })
    }
}

/// Reads a standard query with one question of host-name characters and at most an OPT
/// record. `None` for anything else (the caller then reads it with hickory, which checks
/// and answers errors properly).
pub fn parse_query<'b>(raw: &[u8], name_buf: &'b mut [u8; 255]) -> Option<Question<'b>> {
    if raw.len() < 12 {
        return None;
    }
    let flags = u16::from_be_bytes([raw[2], raw[3]]);
    let count = |i: usize| u16::from_be_bytes([raw[i], raw[i + 1]]);
    // QR = 0, opcode QUERY, one question, no answers or authorities, at most one OPT.
    if flags & 0xF800 != 0 || count(4) != 1 || count(6) != 0 || count(8) != 0 || count(10) > 1 {
        return None;
    }
    let mut at = 12;
    let mut len = 0;
    loop {
        let label = usize::from(*raw.get(at)?);
        at += 1;
        if label == 0 {
            break;
        }
        if label > 63 || len + label + usize::from(len > 0) > 253 {
            return None;
        }
        if len > 0 {
            name_buf[len] = b'.';
            len += 1;
        }
        for &b in raw.get(at..at + label)? {
            // Host characters only: anything else takes the full path.
            if !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return None;
            }
            name_buf[len] = b.to_ascii_lowercase();
            len += 1;
        }
        at += label;
    }
    let qtype = RecordType::from(u16::from_be_bytes([*raw.get(at)?, *raw.get(at + 1)?]));
    let qclass = u16::from_be_bytes([*raw.get(at + 2)?, *raw.get(at + 3)?]);
    if len == 0 {
        return None;
    }
    let question_end = at + 4;
    let edns = if count(10) == 1 {
        // The OPT record: root name, type 41, class = payload, TTL = rcode, version, flags.
        let opt = raw.get(question_end..question_end + 11)?;
        if opt[0] != 0 || u16::from_be_bytes([opt[1], opt[2]]) != 41 {
            return None;
        }
        let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
        if question_end + 11 + rdlen != raw.len() {
            return None;
        }
        Some(ClientEdns {
            payload: u16::from_be_bytes([opt[3], opt[4]]),
            dnssec_ok: opt[7] & 0x80 != 0,
            version: opt[6],
        })
    } else {
        if question_end != raw.len() {
            return None;
        }
        None
    };
    let name = std::str::from_utf8(&name_buf[..len]).ok()?;
    Some(Question {
        name,
        qtype,
        qclass,
        question_end,
        edns,
        checking_disabled: raw[3] & 0x10 != 0,
    })
}

/// Whether the question section `raw[12..end]` is one name written out in labels, with
/// no compression pointer: what answers written from the request's bytes need.
pub fn plain_question(raw: &[u8], end: usize) -> bool {
    let mut at = 12;
    while let Some(&len) = raw.get(at) {
        if len == 0 {
            return at + 5 == end;
        }
        if len & 0xC0 != 0 {
            return false;
        }
        at += 1 + usize::from(len);
    }
    false
}

/// The SOA rdata of negative answers, as [`crate::answer`] writes it.
fn soa_rdata(ttl: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for name in [
        "fake-for-negative-caching.ward.invalid",
        "hostmaster.ward.invalid",
    ] {
        for label in name.split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
    }
    for v in [1u32, 1800, 900, 604_800, ttl] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

/// The blocked answer for a query in the policy's blocking mode, byte for byte what the
/// full path would send (before truncation).
pub fn blocked(raw: &[u8], q: &Question<'_>, b: &Blocking) -> Vec<u8> {
    #[derive(PartialEq)]
    enum Body {
        Empty,
        Soa,
        Addr(Vec<u8>),
    }
    let address_type = matches!(
        q.qtype,
        RecordType::A | RecordType::AAAA | RecordType::HTTPS
    );
    let (rcode, body) = match b.mode {
        _ if !address_type && b.mode == BlockingMode::NullIp => (0, Body::Empty),
        _ if !address_type => (0, Body::Soa),
        BlockingMode::Nxdomain => (3, Body::Soa),
        BlockingMode::Refused => (5, Body::Empty),
        BlockingMode::NullIp | BlockingMode::CustomIp => {
            let custom = b.mode == BlockingMode::CustomIp;
            match q.qtype {
                RecordType::A if custom => (0, Body::Addr(b.ipv4.octets().to_vec())),
                RecordType::A => (0, Body::Addr(vec![0; 4])),
                RecordType::AAAA if custom => (0, Body::Addr(b.ipv6.octets().to_vec())),
                RecordType::AAAA => (0, Body::Addr(vec![0; 16])),
                _ => (0, Body::Empty),
            }
        }
    };
    let mut out = Vec::with_capacity(q.question_end + 96);
    out.extend_from_slice(&raw[..2]);
    // QR, the client's RD and CD; RA.
    out.push(0x80 | (raw[2] & 0x01));
    out.push(0x80 | (raw[3] & 0x10) | rcode);
    let (an, ns) = match body {
        Body::Addr(_) => (1u16, 0u16),
        Body::Soa => (0, 1),
        Body::Empty => (0, 0),
    };
    for n in [1u16, an, ns, u16::from(q.edns.is_some())] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out.extend_from_slice(&raw[12..q.question_end]);
    let rr_header = |out: &mut Vec<u8>, rtype: u16, rdlen: usize| {
        out.extend_from_slice(&[0xC0, 0x0C]);
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&b.ttl.to_be_bytes());
        out.extend_from_slice(&(rdlen as u16).to_be_bytes());
    };
    match body {
        Body::Addr(addr) => {
            rr_header(&mut out, u16::from(q.qtype), addr.len());
            out.extend_from_slice(&addr);
        }
        Body::Soa => {
            let rdata = soa_rdata(b.ttl);
            rr_header(&mut out, 6, rdata.len());
            out.extend_from_slice(&rdata);
        }
        Body::Empty => {}
    }
    if let Some(edns) = q.edns {
        push_opt(&mut out, edns.dnssec_ok, 0);
    }
    out
}

/// The answer to a query whose answer does not fit the client's UDP payload: the header
/// with TC and `rcode`, the question, and an OPT record for an EDNS client (RFC 1035 4.2.1;
/// the client retries over TCP).
pub fn truncated(raw: &[u8], q: &Question<'_>, rcode: u8) -> Vec<u8> {
    empty(raw, q, rcode, true)
}

/// SERVFAIL for a query: the header, the question, an OPT record for an EDNS client.
pub fn servfail(raw: &[u8], q: &Question<'_>) -> Vec<u8> {
    empty(raw, q, 2, false)
}

/// REFUSED for a query, in the same shape.
pub fn refused(raw: &[u8], q: &Question<'_>) -> Vec<u8> {
    empty(raw, q, 5, false)
}

/// NOTIMP for a query, in the same shape.
pub fn notimp(raw: &[u8], q: &Question<'_>) -> Vec<u8> {
    empty(raw, q, 4, false)
}

/// BADVERS (RFC 6891 6.1.3): the query's EDNS version is not one Ward speaks. The
/// extended rcode 16 is the OPT record's upper byte 1 over a header rcode of 0; the OPT
/// says version 0, the one Ward does.
pub fn badvers(raw: &[u8], q: &Question<'_>) -> Vec<u8> {
    let mut out = empty(raw, q, 0, false);
    if q.edns.is_some() {
        // The OPT record is the last 11 bytes: its TTL's first byte is the extended rcode.
        let at = out.len() - 11 + 5;
        out[at] = 1;
    }
    out
}

/// The answer RFC 8482 (4.2) allows to an `ANY` query: one synthesized HINFO record whose
/// CPU is "RFC8482" and OS empty, instead of everything the name has.
pub fn any_refused(raw: &[u8], q: &Question<'_>, ttl: u32) -> Vec<u8> {
    let mut out = empty(raw, q, 0, false);
    let opt = q.edns.map(|_| out.split_off(out.len() - 11));
    out[7] = 1; // ANCOUNT 1
    out.extend_from_slice(&[0xC0, 0x0C]);
    out.extend_from_slice(&13u16.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    let rdata = b"\x07RFC8482\x00";
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
    if let Some(opt) = opt {
        out.extend_from_slice(&opt);
    }
    out
}

fn empty(raw: &[u8], q: &Question<'_>, rcode: u8, tc: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(q.question_end + 11);
    out.extend_from_slice(&raw[..2]);
    // QR, TC, the client's RD and CD; RA.
    out.push(0x80 | if tc { 0x02 } else { 0 } | (raw[2] & 0x01));
    out.push(0x80 | (raw[3] & 0x10) | (rcode & 0x0f));
    for n in [1u16, 0, 0, u16::from(q.edns.is_some())] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out.extend_from_slice(&raw[12..q.question_end]);
    if let Some(edns) = q.edns {
        push_opt(&mut out, edns.dnssec_ok, 0);
    }
    out
}

/// Appends Ward's OPT record (the caller counts it in ARCOUNT): root name, type OPT, class
/// = the UDP payload Ward accepts, the extended rcode's upper byte, version 0, the DO
/// flag, no options.
pub(crate) fn push_opt(out: &mut Vec<u8>, dnssec_ok: bool, extended_rcode: u8) {
    out.extend_from_slice(&[0, 0, 41]);
    out.extend_from_slice(&crate::answer::EDNS_PAYLOAD.to_be_bytes());
    out.extend_from_slice(&[extended_rcode, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
}

/// Skips a (possibly compressed) name at `at`; the offset after it.
pub(crate) fn skip_name(wire: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *wire.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xC0 == 0xC0 => return Some(at + 2).filter(|end| *end <= wire.len()),
            l if l & 0xC0 != 0 => return None,
            l => at += 1 + usize::from(l),
        }
    }
}

/// The offset where the question section of a one-question message ends.
pub(crate) fn question_end(wire: &[u8]) -> Option<usize> {
    let qdcount = u16::from_be_bytes([*wire.get(4)?, *wire.get(5)?]);
    if qdcount != 1 {
        return None;
    }
    let end = skip_name(wire, 12)? + 4;
    (end <= wire.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::Name;

    use super::*;

    fn request(name: &str, qtype: RecordType, edns: Option<bool>) -> Message {
        let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        if let Some(dnssec_ok) = edns {
            let mut e = Edns::new();
            e.set_max_payload(4096);
            e.set_dnssec_ok(dnssec_ok);
            m.set_edns(e);
        }
        m
    }

    #[test]
    fn reads_plain_queries_only() {
        let mut buf = [0u8; 255];
        let raw = request("Ads.Example.COM.", RecordType::AAAA, Some(true))
            .to_vec()
            .unwrap();
        let q = parse_query(&raw, &mut buf).unwrap();
        let edns = ClientEdns {
            payload: 4096,
            dnssec_ok: true,
            version: 0,
        };
        assert_eq!(
            (q.name, q.qtype, q.qclass, q.edns),
            ("ads.example.com", RecordType::AAAA, 1, Some(edns))
        );
        let raw = request("x.example.", RecordType::A, None).to_vec().unwrap();
        assert_eq!(parse_query(&raw, &mut [0u8; 255]).unwrap().edns, None);
        // A response, a name with a space, trailing garbage: the full path decides.
        let mut response = raw.clone();
        response[2] |= 0x80;
        assert!(parse_query(&response, &mut [0u8; 255]).is_none());
        let mut odd = request("ab.example.", RecordType::A, None)
            .to_vec()
            .unwrap();
        odd[13] = b' ';
        assert!(parse_query(&odd, &mut [0u8; 255]).is_none());
        let mut trailing = raw.clone();
        trailing.push(0);
        assert!(parse_query(&trailing, &mut [0u8; 255]).is_none());
        assert!(parse_query(&raw[..raw.len() - 1], &mut [0u8; 255]).is_none());
    }

    #[test]
    fn truncated_and_servfail_answers_match_the_full_path() {
        for edns in [None, Some(false), Some(true)] {
            let req = request("Big.Example.com.", RecordType::TXT, edns);
            let raw = req.to_vec().unwrap();
            let mut buf = [0u8; 255];
            let q = parse_query(&raw, &mut buf).unwrap();
            let mut full = crate::answer::response_to(&req, ResponseCode::NoError);
            full.metadata.truncation = true;
            assert_eq!(Message::from_vec(&truncated(&raw, &q, 0)).unwrap(), full);
            let full = crate::answer::response_to(&req, ResponseCode::ServFail);
            assert_eq!(Message::from_vec(&servfail(&raw, &q)).unwrap(), full);
        }
    }

    #[test]
    fn blocked_answers_match_the_full_path() {
        let modes = [
            BlockingMode::NullIp,
            BlockingMode::Nxdomain,
            BlockingMode::Refused,
            BlockingMode::CustomIp,
        ];
        let types = [
            RecordType::A,
            RecordType::AAAA,
            RecordType::HTTPS,
            RecordType::MX,
            RecordType::TXT,
        ];
        for mode in modes {
            let b = Blocking {
                mode,
                ipv4: Ipv4Addr::new(192, 0, 2, 1),
                ipv6: Ipv6Addr::LOCALHOST,
                ttl: 10,
            };
            for qtype in types {
                for edns in [None, Some(false), Some(true)] {
                    let req = request("Ads.Example.com.", qtype, edns);
                    let raw = req.to_vec().unwrap();
                    let mut buf = [0u8; 255];
                    let q = parse_query(&raw, &mut buf).unwrap();
                    let fast = Message::from_vec(&blocked(&raw, &q, &b)).unwrap();
                    let full = crate::answer::blocked(&req, &req.queries[0], &b);
                    assert_eq!(fast, full, "{mode:?} {qtype} {edns:?}");
                }
            }
        }
    }
}
