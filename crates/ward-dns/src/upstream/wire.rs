//! The upstream query in wire form, and the checks an answer must pass to be taken.
//!
//! The query is encoded once per [`super::UpstreamGroup::resolve`] call; every exchange
//! (one per server tried) copies it and writes its own id into the first two bytes. Reader
//! tasks match answers on the raw bytes (id, QR bit, question) so that spoofed or stale
//! datagrams are dropped without being parsed or copied.

use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType};

use super::error::{UpstreamError, UpstreamErrorKind};
use crate::wire::{question_end, skip_name};

/// The EDNS payload size advertised upstream (DNS flag day 2020): large enough for most
/// answers, small enough to avoid IP fragmentation.
pub(crate) const EDNS_PAYLOAD: u16 = 1232;

const HEADER_LEN: usize = 12;

/// One query as sent upstream, id zeroed: built once per query, sent to as many servers as
/// the group's strategy tries.
pub struct Request {
    bytes: Vec<u8>,
    /// The question section (bytes 12.. of `bytes`), shared with the pending-query tables.
    question: Arc<[u8]>,
    client_id: u16,
    client_edns: bool,
}

impl Request {
    /// Builds the upstream form of a client's query: its one question, its RD/CD/AD bits, and
    /// an OPT record advertising [`EDNS_PAYLOAD`] with the client's DO bit. Client EDNS
    /// options (cookies, client subnet, padding) belong to the client's hop and are not
    /// forwarded.
    pub fn new(query: &Message) -> Result<Request, UpstreamError> {
        let [question] = query.queries.as_slice() else {
            return Err(UpstreamError::new(UpstreamErrorKind::InvalidQuery)
                .with_detail(format!("{} questions, not one", query.queries.len())));
        };
        let mut upstream = Message::new(0, MessageType::Query, query.metadata.op_code);
        upstream.metadata.recursion_desired = query.metadata.recursion_desired;
        upstream.metadata.checking_disabled = query.metadata.checking_disabled;
        upstream.metadata.authentic_data = query.metadata.authentic_data;
        upstream.add_query(question.clone());
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        edns.set_dnssec_ok(query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok));
        upstream.set_edns(edns);
        let bytes = upstream.to_vec().map_err(|e| {
            UpstreamError::new(UpstreamErrorKind::InvalidQuery).with_source(e.to_string())
        })?;
        if bytes.len() > usize::from(u16::MAX) {
            return Err(
                UpstreamError::new(UpstreamErrorKind::InvalidQuery).with_detail("too large")
            );
        }
        let end = question_end(&bytes).ok_or_else(|| {
            UpstreamError::new(UpstreamErrorKind::InvalidQuery).with_detail("unencodable question")
        })?;
        Ok(Request {
            question: Arc::from(&bytes[HEADER_LEN..end]),
            bytes,
            client_id: query.metadata.id,
            client_edns: query.edns.is_some(),
        })
    }

    /// The same query built from a client's datagram without decoding it: `raw` holds one
    /// uncompressed question that ends at `question_end` (as [`crate::wire::parse_query`]
    /// read it). The upstream form is the one [`Request::new`] builds.
    pub fn from_wire(
        raw: &[u8],
        question_end: usize,
        dnssec_ok: bool,
    ) -> Result<Request, UpstreamError> {
        let question = raw
            .get(HEADER_LEN..question_end)
            .filter(|q| q.len() > 4)
            .ok_or_else(|| {
                UpstreamError::new(UpstreamErrorKind::InvalidQuery).with_detail("no question")
            })?;
        let mut bytes = Vec::with_capacity(question_end + 11);
        // Id 0, opcode QUERY and the client's RD; its AD and CD; one question, one OPT.
        bytes.extend_from_slice(&[0, 0, raw[2] & 0x01, raw[3] & 0x30, 0, 1, 0, 0, 0, 0, 0, 1]);
        bytes.extend_from_slice(question);
        bytes.extend_from_slice(&[0, 0, 41]);
        bytes.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
        Ok(Request {
            question: Arc::from(question),
            client_id: u16::from_be_bytes([raw[0], raw[1]]),
            client_edns: true,
            bytes,
        })
    }

    /// The question section, which an answer must repeat.
    pub(crate) fn question(&self) -> &Arc<[u8]> {
        &self.question
    }

    /// The query with `id`, for a datagram or an HTTPS body.
    pub(crate) fn with_id(&self, id: u16) -> Vec<u8> {
        let mut out = self.bytes.clone();
        out[..2].copy_from_slice(&id.to_be_bytes());
        out
    }

    /// The query with `id` behind its 2-byte length, for TCP and TLS (RFC 1035 4.2.2).
    pub(crate) fn framed_with_id(&self, id: u16) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + 2);
        // `new` checked that the length fits in 16 bits.
        out.extend_from_slice(&(self.bytes.len() as u16).to_be_bytes());
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&self.bytes[2..]);
        out
    }

    /// Parses an upstream answer into the caller's terms: the caller's id, and no OPT record
    /// when the caller sent none.
    pub(crate) fn finish(&self, answer: &[u8]) -> Result<Message, UpstreamError> {
        let mut message = Message::from_vec(answer).map_err(|e| {
            UpstreamError::new(UpstreamErrorKind::Protocol).with_source(e.to_string())
        })?;
        message.metadata.id = self.client_id;
        if !self.client_edns {
            message.edns = None;
        }
        Ok(message)
    }
}

/// Whether `answer` is a response to the query whose question section is `question` (the
/// id is checked by whoever looked the query up by it). Names compare without ASCII case, as
/// DNS does; everything else byte for byte.
pub(crate) fn answers(answer: &[u8], question: &[u8]) -> bool {
    let qd_count = answer.get(4..6);
    let is_response = answer.get(2).is_some_and(|b| b & 0x80 != 0);
    if !is_response || qd_count != Some(&[0, 1]) {
        return false;
    }
    let Some(theirs) = answer.get(HEADER_LEN..HEADER_LEN + question.len()) else {
        return false;
    };
    // The name is everything but the type and class; its length octets (< 64) are never
    // ASCII letters, so they still compare exactly.
    let name_len = question.len() - 4;
    theirs[..name_len].eq_ignore_ascii_case(&question[..name_len])
        && theirs[name_len..] == question[name_len..]
}

/// The id of a message, if it has a header.
pub(crate) fn message_id(message: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*message.first()?, *message.get(1)?]))
}

/// Whether a message has the TC (truncated) bit.
pub(crate) fn is_truncated(message: &[u8]) -> bool {
    message.get(2).is_some_and(|b| b & 0x02 != 0)
}

/// Whether an answer says "this server could not help" (SERVFAIL or REFUSED): another
/// server may.
pub(crate) fn is_server_failure(message: &[u8]) -> bool {
    let rcode = message.get(3).map_or(0, |b| b & 0x0f);
    // SERVFAIL, REFUSED.
    rcode == 2 || rcode == 5
}

/// Whether every record an answer counts is there, within its bounds: what an answer must
/// be for the cache and the client to read it.
pub(crate) fn well_formed(message: &[u8]) -> bool {
    let Some(header) = message.get(..HEADER_LEN) else {
        return false;
    };
    let count = |i: usize| usize::from(u16::from_be_bytes([header[i], header[i + 1]]));
    let Some(mut at) = question_end(message) else {
        return false;
    };
    for _ in 0..count(6) + count(8) + count(10) {
        let Some(after_name) = skip_name(message, at) else {
            return false;
        };
        let Some(rdlen) = message.get(after_name + 8..after_name + 10) else {
            return false;
        };
        at = after_name + 10 + usize::from(u16::from_be_bytes([rdlen[0], rdlen[1]]));
        if at > message.len() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use hickory_proto::op::Query;
    use hickory_proto::rr::{Name, RecordType};

    use super::*;

    fn query(name: &str, edns: Option<bool>) -> Message {
        let mut m = Message::query();
        m.metadata.id = 0x1234;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_str(name).unwrap(), RecordType::A));
        if let Some(dnssec_ok) = edns {
            let mut e = Edns::new();
            e.set_max_payload(4096);
            e.set_dnssec_ok(dnssec_ok);
            m.set_edns(e);
        }
        m
    }

    #[test]
    fn upstream_query_advertises_1232_and_keeps_do() {
        for (client, want_do) in [(None, false), (Some(false), false), (Some(true), true)] {
            let req = Request::new(&query("Example.COM.", client)).unwrap();
            let sent = Message::from_vec(&req.with_id(7)).unwrap();
            assert_eq!(sent.metadata.id, 7);
            assert!(sent.metadata.recursion_desired);
            let edns = sent.edns.expect("OPT record");
            assert_eq!(edns.max_payload(), EDNS_PAYLOAD);
            assert_eq!(edns.flags().dnssec_ok, want_do);
            let framed = req.framed_with_id(7);
            assert_eq!(&framed[2..], &req.with_id(7)[..]);
            assert_eq!(
                usize::from(u16::from_be_bytes([framed[0], framed[1]])),
                framed.len() - 2
            );
        }
    }

    #[test]
    fn the_wire_form_of_a_query_is_the_decoded_forms() {
        for (client, dnssec_ok) in [(None, false), (Some(false), false), (Some(true), true)] {
            for (rd, cd) in [(true, false), (false, true)] {
                let mut m = query("Example.COM.", client);
                m.metadata.recursion_desired = rd;
                m.metadata.checking_disabled = cd;
                let raw = m.to_vec().unwrap();
                let end = question_end(&raw).unwrap();
                let wire = Request::from_wire(&raw, end, dnssec_ok).unwrap();
                let decoded = Request::new(&m).unwrap();
                assert_eq!(
                    wire.with_id(9),
                    decoded.with_id(9),
                    "{client:?} rd={rd} cd={cd}"
                );
                assert_eq!(wire.question(), decoded.question());
            }
        }
        assert!(Request::from_wire(&[0; 12], 12, false).is_err());
    }

    #[test]
    fn well_formed_walks_every_record() {
        let mut response = query("example.com.", Some(false));
        response.metadata.message_type = MessageType::Response;
        let bytes = response.to_vec().unwrap();
        assert!(well_formed(&bytes));
        assert!(!well_formed(&bytes[..bytes.len() - 1]));
        let mut extra = bytes.clone();
        extra[11] = 2; // ARCOUNT 2, one record there
        assert!(!well_formed(&extra));
        assert!(!is_server_failure(&bytes));
        let mut refused = bytes.clone();
        refused[3] |= 5;
        assert!(is_server_failure(&refused));
    }

    #[test]
    fn answers_checks_qr_count_name_and_type() {
        let req = Request::new(&query("example.com.", None)).unwrap();
        let mut response = query("EXAMPLE.com.", None);
        response.metadata.message_type = MessageType::Response;
        let bytes = response.to_vec().unwrap();
        assert!(answers(&bytes, req.question()));

        let not_a_response = query("example.com.", None).to_vec().unwrap();
        assert!(!answers(&not_a_response, req.question()));

        let mut other = query("example.org.", None);
        other.metadata.message_type = MessageType::Response;
        assert!(!answers(&other.to_vec().unwrap(), req.question()));

        let mut aaaa = response.clone();
        aaaa.queries[0].set_query_type(RecordType::AAAA);
        assert!(!answers(&aaaa.to_vec().unwrap(), req.question()));

        assert!(!answers(&bytes[..14], req.question()));
        assert!(!answers(&[], req.question()));
    }

    #[test]
    fn finish_restores_the_callers_id_and_edns_shape() {
        let req = Request::new(&query("example.com.", None)).unwrap();
        let mut response = query("example.com.", Some(false));
        response.metadata.id = 999;
        response.metadata.message_type = MessageType::Response;
        let got = req.finish(&response.to_vec().unwrap()).unwrap();
        assert_eq!(got.metadata.id, 0x1234);
        assert!(got.edns.is_none());
        assert!(req.finish(b"\x00\x01").is_err());
    }

    #[test]
    fn rejects_queries_without_exactly_one_question() {
        let mut two = query("a.example.", None);
        two.add_query(Query::query(
            Name::from_str("b.example.").unwrap(),
            RecordType::A,
        ));
        assert_eq!(
            Request::new(&two).err().map(|e| e.kind()),
            Some(UpstreamErrorKind::InvalidQuery)
        );
        let mut none = query("a.example.", None);
        none.queries.clear();
        assert!(Request::new(&none).is_err());
    }
}
