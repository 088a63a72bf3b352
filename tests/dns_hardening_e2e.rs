//! Issue 13, the DNS side: what a device on the LAN (or a web page, or a flood) can do to
//! the server, tried against the real binary. Each test is one of the issue's findings.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::dns_support::{TempDir, Ward, framed, ip, ips, metrics, query, sample, udp};

/// What a test upstream saw: (name, class, CD bit) → queries.
type Seen = Arc<Mutex<HashMap<(String, u16, bool), usize>>>;

/// A local upstream over UDP that counts what it is asked and answers with `answer`
/// (`None`: no answer), after `delay` for names starting with `slow`.
fn responder(answer: fn(&Message) -> Option<Message>) -> (SocketAddr, Seen) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let counts = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, src)) = socket.recv_from(&mut buf) {
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(q) = req.queries.first() else {
                continue;
            };
            let name = q.name().to_ascii().to_ascii_lowercase();
            let key = (
                name.clone(),
                u16::from(q.query_class()),
                req.metadata.checking_disabled,
            );
            *counts.lock().unwrap().entry(key).or_default() += 1;
            let Some(resp) = answer(&req) else { continue };
            let bytes = resp.to_vec().unwrap();
            if name.starts_with("slow") {
                let socket = socket.try_clone().unwrap();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    let _ = socket.send_to(&bytes, src);
                });
            } else {
                let _ = socket.send_to(&bytes, src);
            }
        }
    });
    (addr, seen)
}

fn asked(seen: &Seen, name: &str, class: u16, cd: bool) -> usize {
    let key = (name.to_owned(), class, cd);
    seen.lock().unwrap().get(&key).copied().unwrap_or(0)
}

/// The test upstream's answers: class IN gets an A record (TTL 300), any other class an
/// NXDOMAIN with an SOA (cacheable, if a cache were careless), `nosoa*` an NXDOMAIN
/// without one.
fn by_class(req: &Message) -> Option<Message> {
    let q = req.queries.first()?.clone();
    let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.checking_disabled = req.metadata.checking_disabled;
    resp.queries = vec![q.clone()];
    if req.edns.is_some() {
        resp.set_edns(Edns::new());
    }
    let name = q.name().to_ascii().to_ascii_lowercase();
    if name.starts_with("nosoa") {
        resp.metadata.response_code = ResponseCode::NXDomain;
    } else if q.query_class() != DNSClass::IN {
        resp.metadata.response_code = ResponseCode::NXDomain;
        let zone = Name::root();
        let soa = SOA::new(zone.clone(), zone.clone(), 1, 3600, 600, 86400, 3600);
        let mut record = Record::from_rdata(zone, 3600, RData::SOA(soa));
        record.dns_class = q.query_class();
        resp.add_authority(record);
    } else if q.query_type() == RecordType::A {
        let a = RData::A(A("127.1.0.1".parse().unwrap()));
        resp.add_answer(Record::from_rdata(q.name().clone(), 300, a));
    }
    Some(resp)
}

/// Starts Ward with `upstream` as its only group, `dns_extra` added under `dns:`, and
/// `extra` at the top level.
fn start(tag: &str, upstream: SocketAddr, dns_extra: &str, extra: &str) -> (Ward, TempDir) {
    let dir = TempDir::new(tag);
    let list = dir.0.join("ads.txt");
    std::fs::write(&list, "||ads.example^\n").unwrap();
    let config = format!(
        r#"
dns:
  listen: ["127.0.0.1:0"]
  upstream_timeout: 1s
{dns_extra}
admin:
  listen: "127.0.0.1:0"
upstreams:
  default: {{ servers: ["{upstream}"] }}
lists:
  - {{ id: ads, path: "{list}" }}
policies:
  main: {{ lists: [ads] }}
clients:
  - {{ subnet: 127.0.0.0/8, policy: main }}
default_policy: main
data_dir: "{data}"
{extra}
"#,
        list = list.display(),
        data = dir.0.join("data").display(),
    );
    let path = dir.0.join("ward.yaml");
    std::fs::write(&path, config).unwrap();
    (Ward::spawn(&path, &[]), dir)
}

/// `dig` with these arguments against Ward, from `src`: its whole output.
fn dig(ward: &Ward, src: &str, args: &[&str]) -> String {
    let out = Command::new("dig")
        .args(["+time=2", "+tries=1", "-b", src, "-p"])
        .arg(ward.dns.port().to_string())
        .arg(format!("@{}", ward.dns.ip()))
        .args(args)
        .output()
        .expect("dig (bind9-dnsutils) must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The CPU time a process has used (user + system), in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which may hold spaces) start after ") ".
    let rest = stat.rsplit_once(") ").unwrap().1;
    let fields: Vec<&str> = rest.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// A sample's value in Ward's `/metrics` (0 when the series is absent).
fn metric(ward: &Ward, series: &str) -> f64 {
    sample(&metrics(ward), series)
}

#[test]
fn a_tcp_client_that_pipelines_and_never_reads_cannot_grow_memory() {
    let (upstream, _) = responder(by_class);
    // The default limits: 16 queries in flight, a 5 s write timeout.
    let (ward, _dir) = start("tcp-abuse", upstream, "", "");
    let pid = ward.child.id();
    // Warm up: the blocked name's answer and the allocator's arenas.
    for _ in 0..100 {
        udp(
            ward.dns,
            ip("127.0.0.2"),
            &query("x.ads.example.", RecordType::A),
        );
    }
    let before = rss_kib(pid);
    let mut stream = TcpStream::connect(ward.dns).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let one = framed(&query("x.ads.example.", RecordType::A));
    let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
    let started = Instant::now();
    let mut sent = 0;
    let closed = loop {
        match stream.write_all(&batch) {
            Ok(()) => sent += 1000,
            // The server stopped reading (its queries in flight are full, their answers
            // unread): writes stall until it gives up on us and closes.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break true,
        }
        if sent >= 300_000 || started.elapsed() > Duration::from_secs(20) {
            break false;
        }
    };
    let after = rss_kib(pid);
    assert!(
        closed,
        "the connection was still open after {sent} queries unread"
    );
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} KiB to {after} KiB after {sent} pipelined queries"
    );
    // Other clients were answered all along, and are still.
    let answer = udp(
        ward.dns,
        ip("127.0.0.3"),
        &query("x.ads.example.", RecordType::A),
    );
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(metric(&ward, "ward_dns_tcp_write_timeouts_total") >= 1.0);
}

#[test]
fn tcp_connections_are_capped_in_all_and_per_client() {
    let (upstream, _) = responder(by_class);
    let (ward, _dir) = start(
        "tcp-caps",
        upstream,
        "  tcp: { max_connections: 6, max_connections_per_client: 3 }",
        "",
    );
    let connect = |src: &str| {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&SocketAddr::new(ip(src), 0).into()).unwrap();
        socket.connect(&ward.dns.into()).unwrap();
        let stream = TcpStream::from(socket);
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        stream
    };
    // Three from one address are served; the fourth is closed at once.
    let held: Vec<TcpStream> = (0..3).map(|_| connect("127.0.0.2")).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = connect("127.0.0.2");
    let _ = fourth.write_all(&framed(&query("a.example.", RecordType::A)));
    let mut buf = [0u8; 2];
    assert!(
        matches!(fourth.read(&mut buf), Ok(0) | Err(_)),
        "a fourth connection from one client was served"
    );
    // Another client gets its own three, up to six in all.
    let more: Vec<TcpStream> = (0..3).map(|_| connect("127.0.0.3")).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut seventh = connect("127.0.0.4");
    let _ = seventh.write_all(&framed(&query("a.example.", RecordType::A)));
    assert!(matches!(seventh.read(&mut buf), Ok(0) | Err(_)));
    assert!(metric(&ward, "ward_dns_tcp_connections_refused_total") >= 2.0);
    // A held connection still answers; closing some makes room again.
    let mut first = held.into_iter().next().unwrap();
    first
        .write_all(&framed(&query("a.example.", RecordType::A)))
        .unwrap();
    first.read_exact(&mut buf).unwrap();
    drop(more);
    drop(first);
    std::thread::sleep(Duration::from_millis(300));
    let mut again = connect("127.0.0.4");
    again
        .write_all(&framed(&query("a.example.", RecordType::A)))
        .unwrap();
    again
        .read_exact(&mut buf)
        .expect("room for a new connection");
}

#[test]
fn out_of_descriptors_the_accept_loop_backs_off_instead_of_spinning() {
    let (upstream, _) = responder(by_class);
    let (ward, _dir) = start("emfile", upstream, "", "");
    let pid = ward.child.id();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    let limit = open + 8;
    let status = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={limit}:{limit}"))
        .status()
        .expect("prlimit (util-linux)");
    assert!(status.success());
    // More connections than Ward has descriptors left: the kernel completes them all,
    // Ward's accept fails with EMFILE from the ninth on.
    // (30: within the default per-client cap of 32, so that every one is accepted.)
    let held: Vec<TcpStream> = (0..30)
        .filter_map(|_| TcpStream::connect(ward.dns).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let ticks = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(pid) - ticks;
    assert!(
        used < 60,
        "{used} ticks of CPU in 3 s with accept failing (a spinning loop takes ~300)"
    );
    // UDP is answered meanwhile (what needs no new socket: a forwarded name would need
    // an upstream socket, and gets SERVFAIL); once the connections go, TCP is again.
    let answer = udp(
        ward.dns,
        ip("127.0.0.2"),
        &query("x.ads.example.", RecordType::A),
    );
    assert_eq!(ips(&answer), ["0.0.0.0"]);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = dig(&ward, "127.0.0.2", &["+tcp", "+short", "b.example"]);
        if out.contains("127.1.0.1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no TCP answer after the flood: {out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn class_and_cd_are_part_of_the_cache_key() {
    let (upstream, seen) = responder(by_class);
    let (ward, _dir) = start("class", upstream, "", "");
    // The CHAOS question's NXDOMAIN must not become the IN answer.
    let ch = dig(&ward, "127.0.0.2", &["CH", "A", "nas.lan"]);
    assert!(ch.contains("status: NXDOMAIN"), "{ch}");
    let inet = dig(&ward, "127.0.0.2", &["IN", "A", "nas.lan", "+short"]);
    assert_eq!(inet.trim(), "127.1.0.1");
    // Only class IN is cached: CH is asked again.
    dig(&ward, "127.0.0.2", &["CH", "A", "nas.lan"]);
    assert_eq!(asked(&seen, "nas.lan.", 3, false), 2);
    assert_eq!(asked(&seen, "nas.lan.", 1, false), 1);
    // With checking disabled it is another question.
    let cd = dig(&ward, "127.0.0.2", &["+cd", "A", "nas.lan", "+short"]);
    assert_eq!(cd.trim(), "127.1.0.1");
    dig(&ward, "127.0.0.2", &["+cd", "A", "nas.lan"]);
    assert_eq!(asked(&seen, "nas.lan.", 1, true), 1);
    // A blocked name in another class is refused, not answered with an IN address.
    let blocked = dig(&ward, "127.0.0.2", &["CH", "A", "x.ads.example"]);
    assert!(blocked.contains("status: REFUSED"), "{blocked}");
}

#[test]
fn ttl_clamps_apply_to_what_clients_see_and_soa_less_negatives_are_not_cached() {
    let (upstream, seen) = responder(by_class);
    let (ward, _dir) = start(
        "ttl",
        upstream,
        "",
        "cache: { min_ttl: 400, max_ttl: 3600 }",
    );
    let out = dig(
        &ward,
        "127.0.0.2",
        &["+noall", "+answer", "A", "ttl.example"],
    );
    let ttl: u32 = out
        .split_whitespace()
        .nth(1)
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no answer: {out}"));
    assert!(
        (399..=400).contains(&ttl),
        "TTL {ttl} (upstream 300, min_ttl 400)"
    );
    for _ in 0..2 {
        let nx = dig(&ward, "127.0.0.2", &["A", "nosoa.example"]);
        assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    }
    // RFC 2308 5: without an SOA, a negative answer is not cached.
    assert_eq!(asked(&seen, "nosoa.example.", 1, false), 2);
}

#[test]
fn identical_questions_in_flight_are_asked_upstream_once() {
    let (upstream, seen) = responder(by_class);
    let (ward, _dir) = start("merge", upstream, "", "");
    let dns = ward.dns;
    let clients: Vec<_> = (0..20)
        .map(|i| {
            std::thread::spawn(move || {
                let src = ip(&format!("127.0.0.{}", 10 + i % 5));
                udp(dns, src, &query("slow-merge.example.", RecordType::A))
            })
        })
        .collect();
    for c in clients {
        let answer = c.join().unwrap();
        assert_eq!(answer.answers.len(), 1, "{answer:?}");
    }
    assert_eq!(asked(&seen, "slow-merge.example.", 1, false), 1);
    assert!(metric(&ward, "ward_dns_merged_queries_total") >= 19.0);
}

#[test]
fn any_zone_transfers_and_unknown_edns_versions_are_refused() {
    let (upstream, seen) = responder(by_class);
    let (ward, _dir) = start("refusals", upstream, "", "");
    // RFC 8482: one HINFO record, never the upstream's whole answer.
    let any = dig(
        &ward,
        "127.0.0.2",
        &["+noall", "+answer", "ANY", "example.org"],
    );
    assert!(
        any.contains("HINFO") && any.contains("\"RFC8482\""),
        "{any}"
    );
    assert_eq!(asked(&seen, "example.org.", 1, false), 0);
    // Ward is no authority: AXFR over TCP (dig's way) and over UDP are refused.
    let axfr = dig(&ward, "127.0.0.2", &["AXFR", "example.org"]);
    assert!(
        axfr.contains("Transfer failed") || axfr.contains("REFUSED"),
        "{axfr}"
    );
    let answer = udp(
        ward.dns,
        ip("127.0.0.2"),
        &query("example.org.", RecordType::AXFR),
    );
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    assert_eq!(asked(&seen, "example.org.", 1, false), 0);
    // RFC 6891 6.1.3: EDNS version 1 gets BADVERS, with an OPT of version 0.
    let v1 = dig(
        &ward,
        "127.0.0.2",
        &["+edns=1", "+noednsnegotiation", "A", "v1.example"],
    );
    assert!(v1.contains("status: BADVERS"), "{v1}");
    assert!(v1.contains("EDNS: version: 0"), "{v1}");
    assert!(metric(&ward, "ward_dns_refused_queries_total{reason=\"any\"}") >= 1.0);
    assert!(metric(&ward, "ward_dns_refused_queries_total{reason=\"badvers\"}") >= 1.0);
}

#[test]
fn refuse_any_off_forwards_any() {
    let (upstream, seen) = responder(by_class);
    let (ward, _dir) = start("any-off", upstream, "  refuse_any: false", "");
    dig(&ward, "127.0.0.2", &["ANY", "example.net"]);
    assert_eq!(asked(&seen, "example.net.", 1, false), 1);
}

#[test]
fn local_cnames_are_followed_and_long_txt_values_split() {
    let (upstream, _) = responder(by_class);
    let long = "t".repeat(300);
    let records = format!(
        r#"records:
  - {{ name: alias.lan, type: CNAME, value: nas.lan }}
  - {{ name: "*.apps.lan", type: CNAME, value: alias.lan }}
  - {{ name: nas.lan, type: A, value: 192.168.1.10 }}
  - {{ name: big.lan, type: TXT, value: "{long}" }}"#
    );
    let (ward, _dir) = start("local", upstream, "", &records);
    let out = dig(&ward, "127.0.0.2", &["+short", "A", "grafana.apps.lan"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["alias.lan.", "nas.lan.", "192.168.1.10"]
    );
    // 300 bytes in strings of at most 255: an answer, not a timeout.
    let txt = dig(&ward, "127.0.0.2", &["+short", "TXT", "big.lan"]);
    let strings: Vec<&str> = txt.trim().split("\" \"").collect();
    assert_eq!(strings.len(), 2, "{txt}");
    assert_eq!(txt.matches('t').count(), 300, "{txt}");
}

#[test]
fn mx_srv_and_ns_records_are_answered() {
    let (upstream, _) = responder(by_class);
    let records = r#"records:
  - { name: home.lan, type: MX, value: "10  Mail.Home.lan." }
  - { name: _sip._tcp.home.lan, type: SRV, value: "10 5 5060 pbx.home.lan" }
  - { name: _none._tcp.home.lan, type: SRV, value: "0 0 0 ." }
  - { name: lab.home.lan, type: NS, value: ns1.lab.home.lan }"#;
    let (ward, _dir) = start("mx-srv-ns", upstream, "", records);
    let short = |args: &[&str]| dig(&ward, "127.0.0.2", args).trim().to_owned();
    // Host names normalised as the config loads them.
    assert_eq!(short(&["+short", "MX", "home.lan"]), "10 mail.home.lan.");
    assert_eq!(
        short(&["+short", "SRV", "_sip._tcp.home.lan"]),
        "10 5 5060 pbx.home.lan."
    );
    assert_eq!(short(&["+short", "SRV", "_none._tcp.home.lan"]), "0 0 0 .");
    assert_eq!(
        short(&["+short", "NS", "lab.home.lan"]),
        "ns1.lab.home.lan."
    );
    // The name has records, none of this type: NODATA, not the upstream's answer.
    let a = dig(&ward, "127.0.0.2", &["A", "home.lan"]);
    assert!(
        a.contains("status: NOERROR") && a.contains("ANSWER: 0"),
        "{a}"
    );
}

#[test]
fn access_lists_drop_udp_and_refuse_tcp() {
    let (upstream, _) = responder(by_class);
    let (ward, _dir) = start(
        "access",
        upstream,
        "  disallowed_clients: [127.0.0.7, 127.0.9.0/24]",
        "",
    );
    let udp_out = dig(&ward, "127.0.0.7", &["A", "a.example"]);
    assert!(
        !udp_out.contains("status:"),
        "a disallowed client got a UDP answer: {udp_out}"
    );
    let tcp_out = dig(&ward, "127.0.9.9", &["+tcp", "A", "a.example"]);
    assert!(tcp_out.contains("status: REFUSED"), "{tcp_out}");
    let allowed = dig(&ward, "127.0.0.2", &["+short", "A", "a.example"]);
    assert_eq!(allowed.trim(), "127.1.0.1");
    assert!(
        metric(
            &ward,
            "ward_dns_refused_queries_total{reason=\"not_allowed\"}"
        ) >= 2.0
    );
}

#[test]
fn a_flood_over_the_rate_limit_is_dropped_and_others_are_answered() {
    let (upstream, _) = responder(by_class);
    let (ward, _dir) = start(
        "ratelimit",
        upstream,
        "  ratelimit: 20",
        "query_log: { enabled: false }",
    );
    let flood = UdpSocket::bind("127.0.0.5:0").unwrap();
    flood
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let q = query("x.ads.example.", RecordType::A).to_vec().unwrap();
    for _ in 0..300 {
        flood.send_to(&q, ward.dns).unwrap();
    }
    let mut answered = 0;
    let mut buf = [0u8; 512];
    while flood.recv_from(&mut buf).is_ok() {
        answered += 1;
    }
    // 20 a second, over at most two one-second windows.
    assert!((1..=40).contains(&answered), "{answered} of 300 answered");
    // Another device is answered all the same.
    let other = dig(&ward, "127.0.0.6", &["+short", "A", "x.ads.example"]);
    assert_eq!(other.trim(), "0.0.0.0");
    let limited = metric(
        &ward,
        "ward_dns_refused_queries_total{reason=\"ratelimit\"}",
    );
    // Most of the rest were counted as limited (some never reached Ward: a burst
    // overflows a socket's receive buffer).
    assert!(limited >= 150.0, "{limited}");
    // A flood from 100,000 source addresses: the limiter's table has a fixed size.
    let pid = ward.child.id();
    let before = rss_kib(pid);
    for i in 0..100_000u32 {
        let src = format!("127.{}.{}.{}", 20 + i / 65_536, (i / 256) % 256, i % 256);
        let socket = UdpSocket::bind((src.as_str(), 0)).unwrap();
        let _ = socket.send_to(&q, ward.dns);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(pid);
    assert!(
        after < before + 40 * 1024,
        "RSS grew from {before} KiB to {after} KiB under a flood from 100k sources"
    );
    let other = dig(&ward, "127.0.0.6", &["+short", "A", "y.ads.example"]);
    assert_eq!(other.trim(), "0.0.0.0");
}

/// Sends `prefix` and then a query for `name` over one TCP connection from 127.0.0.1; the
/// answer's addresses, or `None` when the connection is closed unanswered.
fn tcp_after(ward: &Ward, prefix: &[u8], name: &str) -> Option<Vec<String>> {
    crate::dns_support::tcp_after(ward.dns, prefix, &query(name, RecordType::A)).map(|m| ips(&m))
}

#[test]
fn a_trusted_proxy_names_the_client_and_others_may_not() {
    let (upstream, _) = responder(by_class);
    let dir = TempDir::new("proxy");
    let path = dir.0.join("ward.yaml");
    std::fs::write(
        &path,
        format!(
            r#"dns:
  listen: ["127.0.0.1:0"]
  proxy_protocol: {{ trusted: [127.0.0.1/32] }}
admin: {{ listen: "127.0.0.1:0" }}
upstreams: {{ default: {{ servers: ["{upstream}"] }} }}
policies:
  main: {{}}
  kids: {{ rules: ["||kids.example^"] }}
clients: [{{ subnet: 127.0.0.9/32, policy: kids }}]
default_policy: main
data_dir: "{}"
"#,
            dir.0.join("data").display()
        ),
    )
    .unwrap();
    let ward = Ward::spawn(&path, &[]);
    let blocked = Some(vec!["0.0.0.0".to_owned()]);
    // v1 from the trusted proxy: the kids' device behind it gets the kids' policy.
    let v1 = b"PROXY TCP4 127.0.0.9 127.0.0.1 40000 53\r\n";
    assert_eq!(tcp_after(&ward, v1, "kids.example"), blocked);
    // The trusted proxy's own queries (no header): its own policy.
    assert_ne!(tcp_after(&ward, b"", "kids.example"), blocked);
    assert!(tcp_after(&ward, b"", "kids.example").is_some());
    // A malformed header closes the connection unanswered.
    assert_eq!(
        tcp_after(&ward, b"PROXY TCP4 not-an-address\r\n", "kids.example"),
        None
    );
    // v2, as kdig sends it, from the trusted source and from an untrusted one.
    let kdig = |src: &str| {
        let out = Command::new("kdig")
            .args([
                "+tcp",
                "+short",
                "+retry=0",
                "+timeout=2",
                "+proxy=127.0.0.9-127.0.0.1",
                "-b",
                src,
            ])
            .args([
                "-p",
                &ward.dns.port().to_string(),
                &format!("@{}", ward.dns.ip()),
            ])
            .args(["kids.example", "A"])
            .output()
            .expect("kdig (knot-dnsutils) must be installed");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(kdig("127.0.0.1"), "0.0.0.0");
    assert_eq!(
        kdig("127.0.0.2"),
        "",
        "a header from an untrusted source is refused"
    );
    // An untrusted source without a header is served as itself.
    assert_ne!(
        dig(&ward, "127.0.0.2", &["+tcp", "+short", "kids.example"]).trim(),
        ""
    );
}
