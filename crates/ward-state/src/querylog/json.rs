//! An entry's JSON line for the files, written straight into a reused buffer.
//!
//! The files get a line for every answered query, on the recorder thread's budget, so
//! the line is made without `serde_json`'s per-entry work: the date and clock of the time
//! are formatted once per second (a busy server logs thousands of entries in the same
//! second), the type and rcode names are static, IPv4 clients and numbers are written
//! digit by digit, and strings that need no escaping (nearly all) are copied as they are.
//!
//! The line is byte for byte what `serde_json` makes of `Entry`'s `Serialize`, the form
//! the API returns (tests/querylog.rs checks the two agree, escapes included).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use ward_rules::{RecordType, ResponseCode, rcode_name};

use super::Entry;

/// A question type's name: `A`, `AAAA`, `HTTPS`; `TYPE65280` (RFC 3597's form) for a type
/// hickory does not name.
pub(super) fn qtype_name(qtype: u16) -> Cow<'static, str> {
    match RecordType::from(qtype) {
        RecordType::Unknown(_) => Cow::Owned(format!("TYPE{qtype}")),
        known => Cow::Borrowed(known.into()),
    }
}

/// The type `qtype_name` names so (uppercase); hickory's `FromStr` knows fewer names
/// than it writes (no `ZERO`, `OPT`, `IXFR`), so the table is made from the names.
pub(super) fn qtype_number(name: &str) -> Option<u16> {
    static NUMBERS: LazyLock<foldhash::HashMap<&'static str, u16>> = LazyLock::new(|| {
        (0..=u16::MAX)
            .filter_map(|n| match RecordType::from(n) {
                RecordType::Unknown(_) => None,
                known => Some((<&'static str>::from(known), n)),
            })
            .collect()
    });
    NUMBERS.get(name).copied()
}

/// A response code's name as `rcode_name` gives it (`NOERROR`, `NXDOMAIN`, `RCODE11`):
/// an entry's `rcode` is the header's 4 bits, so 16 names, made once.
pub(super) fn rcode_str(rcode: u8) -> &'static str {
    static NAMES: LazyLock<[Box<str>; 16]> = LazyLock::new(|| {
        std::array::from_fn(|low| rcode_name(ResponseCode::from(0, low as u8)).into())
    });
    // `ResponseCode::from(0, rcode)` reads the low 4 bits only, as this does.
    &NAMES[usize::from(rcode & 0x0f)]
}

/// Writes entries as JSON lines, reusing the formatted time of the last second.
pub(super) struct LineEncoder {
    /// The Unix second the two texts below are for.
    second: Option<u64>,
    /// `"time":"2023-11-14T22:13:20.` for that second; the milliseconds follow.
    date: Vec<u8>,
    /// `Z","time_ms":1700000000` for that second; the milliseconds follow.
    seconds: Vec<u8>,
}

impl LineEncoder {
    pub(super) fn new() -> LineEncoder {
        LineEncoder {
            second: None,
            date: Vec::with_capacity(40),
            seconds: Vec::with_capacity(40),
        }
    }

    /// Appends `entry`'s JSON object (without a newline) to `out`.
    pub(super) fn encode(&mut self, entry: &Entry, out: &mut Vec<u8>) {
        out.push(b'{');
        self.time(entry.time_ms, out);
        out.extend_from_slice(b",\"client\":\"");
        ip(out, entry.client);
        out.push(b'"');
        if let Some(name) = &entry.client_name {
            out.extend_from_slice(b",\"client_name\":");
            string(out, name);
        }
        if let Some(id) = &entry.client_id {
            out.extend_from_slice(b",\"client_id\":");
            string(out, id);
        }
        out.extend_from_slice(b",\"protocol\":");
        plain_string(out, entry.protocol.as_str());
        out.extend_from_slice(b",\"policy\":");
        string(out, &entry.policy);
        out.extend_from_slice(b",\"name\":");
        string(out, &entry.name);
        out.extend_from_slice(b",\"qtype\":");
        plain_string(out, &qtype_name(entry.qtype));
        out.extend_from_slice(b",\"reason\":");
        plain_string(out, entry.reason.as_str());
        if let Some(rule) = &entry.rule {
            out.extend_from_slice(b",\"rule\":");
            string(out, rule);
        }
        if let Some(list) = &entry.list {
            out.extend_from_slice(b",\"list\":");
            string(out, list);
        }
        if let Some(service) = &entry.service {
            out.extend_from_slice(b",\"service\":");
            string(out, service);
        }
        if let Some(schedule) = &entry.schedule {
            out.extend_from_slice(b",\"schedule\":");
            string(out, schedule);
        }
        out.extend_from_slice(b",\"answer\":");
        string(out, &entry.answer);
        out.extend_from_slice(b",\"rcode\":");
        plain_string(out, rcode_str(entry.rcode));
        if let Some(upstream) = &entry.upstream {
            out.extend_from_slice(b",\"upstream\":");
            string(out, upstream);
        }
        out.extend_from_slice(if entry.cached {
            b",\"cached\":true"
        } else {
            b",\"cached\":false"
        });
        out.extend_from_slice(b",\"elapsed_us\":");
        number(out, entry.elapsed_us.into());
        out.push(b'}');
    }

    /// `"time":"2023-11-14T22:13:20.123Z","time_ms":1700000000123`: the time as
    /// humantime's `format_rfc3339_millis` writes it, and in Unix ms.
    fn time(&mut self, time_ms: u64, out: &mut Vec<u8>) {
        let second = time_ms / 1000;
        if self.second != Some(second) {
            // humantime's own text for the whole second, `000Z` cut off. (Like the
            // `Serialize` form, it panics past the year 9999, which no clock reaches.)
            let text = humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_secs(second))
                .to_string();
            self.date.clear();
            self.date.extend_from_slice(b"\"time\":\"");
            self.date
                .extend_from_slice(&text.as_bytes()[..text.len() - "000Z".len()]);
            self.seconds.clear();
            self.seconds.extend_from_slice(b"Z\",\"time_ms\":");
            if second > 0 {
                number(&mut self.seconds, second);
            }
            self.second = Some(second);
        }
        let ms = (time_ms % 1000) as u16;
        let ms = [
            b'0' + (ms / 100) as u8,
            b'0' + (ms / 10 % 10) as u8,
            b'0' + (ms % 10) as u8,
        ];
        out.extend_from_slice(&self.date);
        out.extend_from_slice(&ms);
        out.extend_from_slice(&self.seconds);
        if second > 0 {
            // The second's digits, then the milliseconds' three.
            out.extend_from_slice(&ms);
        } else {
            number(out, time_ms);
        }
    }
}

/// A JSON string. `serde_json` escapes `"`, `\` and control characters only; a string
/// with none of those is copied as it is, others go through `serde_json` itself.
fn string(out: &mut Vec<u8>, s: &str) {
    // No early exit, so that the check is vectorised: the strings are short and nearly
    // never need an escape.
    let escape = s.bytes().fold(false, |escape, b| {
        escape | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if escape {
        // Writing into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// A string known to need no escape: a type, reason or rcode name.
fn plain_string(out: &mut Vec<u8>, s: &str) {
    debug_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()), "{s:?}");
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// A number in decimal.
fn number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// An IPv4 address in dotted decimal, as its `Display` form gives it, written digit by
/// digit (`fmt` costs several times more): the text is the first `len` bytes.
pub fn ipv4_text(octets: [u8; 4]) -> ([u8; 15], usize) {
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            text[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            text[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        text[len] = b'0' + octet % 10;
        len += 1;
    }
    (text, len)
}

/// An address as its `Display` form gives it (and serde serialises it).
fn ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let (text, len) = ipv4_text(v4.octets());
            out.extend_from_slice(&text[..len]);
        }
        IpAddr::V6(v6) => {
            use std::io::Write;
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small, fixed pseudo-random sequence.
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn times_are_humantimes_rfc3339_millis_whatever_the_order() {
        let last_ms = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
        let mut times = vec![
            0,
            7,
            999,
            1000,
            1001,
            951_782_400_000,
            1_700_000_000_012,
            last_ms,
        ];
        let mut state = 1;
        for _ in 0..20_000 {
            let t = splitmix(&mut state) % (last_ms + 1);
            // Runs within a second (the cache hits) and jumps back and forth.
            times.extend([t, t / 1000 * 1000 + 999, t.saturating_sub(1)]);
        }
        let mut encoder = LineEncoder::new();
        let mut out = Vec::new();
        for t in times {
            out.clear();
            encoder.time(t, &mut out);
            let want = humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(t));
            assert_eq!(
                std::str::from_utf8(&out).unwrap(),
                format!("\"time\":\"{want}\",\"time_ms\":{t}")
            );
        }
    }

    #[test]
    fn numbers_and_addresses_are_as_display_writes_them() {
        let mut out = Vec::new();
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            255,
            65_535,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            out.clear();
            number(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        for addr in [
            "0.0.0.0",
            "10.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fd00::1:2",
            "::ffff:1.2.3.4",
        ] {
            let addr: IpAddr = addr.parse().unwrap();
            out.clear();
            ip(&mut out, addr);
            assert_eq!(out, addr.to_string().as_bytes());
        }
        for octet in 0..=u8::MAX {
            let addr = IpAddr::from([octet, 255 - octet, octet / 10, 7]);
            out.clear();
            ip(&mut out, addr);
            assert_eq!(out, addr.to_string().as_bytes());
        }
        for rcode in 0..=u8::MAX {
            assert_eq!(
                rcode_str(rcode),
                rcode_name(ResponseCode::from(0, rcode)),
                "rcode {rcode}"
            );
        }
    }
}

/// A line of the files as it was written, for [`parse_line`].
#[derive(serde::Deserialize)]
struct Line {
    time_ms: u64,
    client: IpAddr,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    /// Missing from the lines of versions before DNS over TLS and HTTPS: UDP or TCP,
    /// which they did not tell apart.
    #[serde(default)]
    protocol: Option<String>,
    policy: String,
    name: String,
    qtype: String,
    reason: String,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    list: Option<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    answer: String,
    rcode: String,
    #[serde(default)]
    upstream: Option<String>,
    #[serde(default)]
    cached: bool,
    #[serde(default)]
    elapsed_us: u32,
}

/// An entry read back from a line of the files; `None` for a line that is not one.
pub(super) fn parse_line(line: &[u8]) -> Option<Entry> {
    let line: Line = serde_json::from_slice(line).ok()?;
    Some(Entry {
        time_ms: line.time_ms,
        client: line.client,
        client_name: line.client_name,
        client_id: line.client_id,
        protocol: match line.protocol {
            Some(p) => super::Protocol::from_name(&p)?,
            None => super::Protocol::Udp,
        },
        policy: line.policy.into(),
        name: line.name,
        qtype: super::parse_qtype(&line.qtype)?,
        reason: super::Reason::from_name(&line.reason)?,
        rule: line.rule,
        list: line.list,
        service: line.service,
        schedule: line.schedule,
        answer: line.answer,
        rcode: super::parse_rcode(&line.rcode)?,
        upstream: line.upstream.map(Into::into),
        cached: line.cached,
        elapsed_us: line.elapsed_us,
    })
}
