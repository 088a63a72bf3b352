//! `ward serve` end to end: a real process on loopback, a local upstream written here,
//! clients on 127.0.0.2 / 127.0.0.3 mapped to different policies, queries over UDP and
//! TCP from a Rust client and from `dig` when it is installed.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// The address the default upstream answers with, so forwarded answers are recognisable.
const UPSTREAM_A: Ipv4Addr = Ipv4Addr::new(127, 1, 0, 1);
/// The address the router upstream (conditional forwarding) answers with.
const ROUTER_A: Ipv4Addr = Ipv4Addr::new(127, 2, 0, 2);

/// A local authoritative stand-in for the internet: answers every A query with
/// `UPSTREAM_A`, `cloaked.example` with a CNAME to `tracker.blocked.example`,
/// `big.example` TXT with 40 long strings (more than 512 bytes), over UDP and TCP.
fn upstream() -> SocketAddr {
    upstream_answering(UPSTREAM_A)
}

fn upstream_answering(answer: Ipv4Addr) -> SocketAddr {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = std::net::TcpListener::bind(addr).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, src)) = udp.recv_from(&mut buf) {
            let Some(resp) = upstream_answer(&buf[..n], answer) else {
                continue;
            };
            if buf[..n].windows(5).any(|w| w == b"\x04slow") {
                // `slow.*` names are answered after 400 ms, from another thread.
                let udp = udp.try_clone().unwrap();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(400));
                    let _ = udp.send_to(&resp, src);
                });
            } else {
                let _ = udp.send_to(&resp, src);
            }
        }
    });
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in tcp.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                loop {
                    let mut len = [0u8; 2];
                    if s.read_exact(&mut len).is_err() {
                        return;
                    }
                    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
                    if s.read_exact(&mut msg).is_err() {
                        return;
                    }
                    if let Some(resp) = upstream_answer(&msg, answer) {
                        let mut out = (resp.len() as u16).to_be_bytes().to_vec();
                        out.extend_from_slice(&resp);
                        let _ = s.write_all(&out);
                    }
                }
            });
        }
    });
    addr
}

/// How many times the upstreams were asked each name (tests use names of their own).
static ASKED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn asked(name: &str) -> usize {
    ASKED.lock().unwrap().iter().filter(|n| *n == name).count()
}

fn upstream_answer(bytes: &[u8], answer: Ipv4Addr) -> Option<Vec<u8>> {
    let req = Message::from_vec(bytes).ok()?;
    let q = req.queries.first()?.clone();
    ASKED
        .lock()
        .unwrap()
        .push(q.name().to_ascii().to_ascii_lowercase());
    let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.queries = vec![q.clone()];
    if let Some(edns) = &req.edns {
        let mut e = Edns::new();
        e.set_max_payload(edns.max_payload());
        resp.set_edns(e);
    }
    let name = q.name().to_ascii().to_ascii_lowercase();
    let record = |rdata| Record::from_rdata(q.name().clone(), 300, rdata);
    match (name.as_str(), q.query_type()) {
        ("cloaked.example.", _) => {
            let target = Name::from_ascii("tracker.blocked.example.").unwrap();
            resp.add_answer(record(RData::CNAME(CNAME(target.clone()))));
            resp.add_answer(Record::from_rdata(target, 300, RData::A(A(answer))));
        }
        (n, _) if n.starts_with("nxdomain") => resp.metadata.response_code = ResponseCode::NXDomain,
        ("big.example.", RecordType::TXT) => {
            for i in 0..40 {
                resp.add_answer(record(RData::TXT(TXT::new(vec![format!(
                    "{i:02}-{}",
                    "x".repeat(60)
                )]))));
            }
        }
        (_, RecordType::A) => {
            resp.add_answer(record(RData::A(A(answer))));
        }
        (_, RecordType::AAAA) => {
            resp.add_answer(record(RData::AAAA(AAAA("2001:db8::1".parse().unwrap()))));
        }
        _ => {}
    }
    resp.to_vec().ok()
}

/// A running `ward serve`, stopped (SIGTERM) when dropped.
struct Ward {
    child: Child,
    dns: SocketAddr,
    admin: SocketAddr,
    _dir: TempDir,
}

impl Drop for Ward {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ward-e2e-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(tag: &str, upstream: SocketAddr, blocking_mode: &str) -> Ward {
    start_with(tag, upstream, upstream, blocking_mode)
}

fn start_with(tag: &str, upstream: SocketAddr, router: SocketAddr, blocking_mode: &str) -> Ward {
    start_on(tag, "127.0.0.1:0", upstream, router, blocking_mode)
}

fn start_on(
    tag: &str,
    listen: &str,
    upstream: SocketAddr,
    router: SocketAddr,
    blocking_mode: &str,
) -> Ward {
    let dir = TempDir::new(tag);
    let list = dir.0.join("ads.txt");
    std::fs::write(&list, "||ads.example^\n||blocked.example^\n0.0.0.0 hosts-blocked.example\n192.168.1.99 printer.example\n||rewrite.example^$dnsrewrite=NOERROR;A;192.0.2.7\n").unwrap();
    let config = format!(
        r#"
dns:
  listen: ["{listen}"]
  blocking_mode: {blocking_mode}
  blocking_ipv4: 192.0.2.1
  blocking_ipv6: "2001:db8::b"
  blocked_ttl: 10
  upstream_timeout: 500ms
admin:
  listen: "127.0.0.1:0"
upstreams:
  default: {{ servers: ["{upstream}"] }}
  router: {{ servers: ["{router}"] }}
forward:
  - {{ zones: ["home.example.com", "168.192.in-addr.arpa"], upstream: router }}
records:
  - {{ name: "*.home.example.com", type: A, value: 192.168.1.20 }}
  - {{ name: "auth.home.example.com", type: A, value: 192.168.1.72 }}
lists:
  - {{ id: ads, path: "{list}" }}
policies:
  main: {{ lists: [ads] }}
  kids: {{ extends: main, rules: ["||tiktok.com^"] }}
  cameras: {{ lists: [] }}
clients:
  - {{ subnet: 127.0.0.0/8, policy: main }}
  - {{ subnet: 127.0.0.3/32, policy: kids }}
  - {{ subnet: 127.0.0.4/32, policy: cameras }}
  - {{ subnet: "::1/128", policy: kids }}
default_policy: main
data_dir: "{data}"
"#,
        list = list.display(),
        data = dir.0.join("data").display(),
    );
    let path = dir.0.join("ward.yaml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start ward serve");
    let (dns, admin) = wait_ready(&mut child);
    Ward {
        child,
        dns,
        admin,
        _dir: dir,
    }
}

/// Reads the log until "ready", collecting the listener addresses it logs.
fn wait_ready(child: &mut Child) -> (SocketAddr, SocketAddr) {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut dns, mut admin) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = Vec::new();
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let addr = |prefix: &str| {
            line.split(prefix)
                .nth(1)
                .and_then(|a| a.trim().parse::<SocketAddr>().ok())
        };
        dns = dns.or_else(|| addr("listening for UDP on "));
        admin = admin.or_else(|| addr("listening for HTTP on "));
        let ready = line.contains(" ready");
        log.push(line);
        if ready {
            return (
                dns.expect("UDP listener logged"),
                admin.expect("admin listener logged"),
            );
        }
    }
    panic!("ward did not become ready:\n{}", log.join("\n"));
}

fn query(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m
}

/// Sends a query over UDP from `client` (127.0.0.x) and returns the answer.
fn udp(server: SocketAddr, client: IpAddr, msg: &Message) -> Message {
    let sock = std::net::UdpSocket::bind(SocketAddr::new(client, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(&msg.to_vec().unwrap(), server).unwrap();
    let mut buf = [0u8; 65535];
    let (n, _) = sock.recv_from(&mut buf).expect("an answer");
    Message::from_vec(&buf[..n]).unwrap()
}

/// Sends a query over TCP. std cannot bind a TCP client before connecting, so the source
/// is the loopback address of the server's family (127.0.0.1 or ::1); dig and kdig cover
/// TCP from other sources.
fn tcp(server: SocketAddr, msg: &Message) -> Message {
    use std::io::{Read, Write};
    let sock = std::net::TcpStream::connect_timeout(&server, Duration::from_secs(5)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let bytes = msg.to_vec().unwrap();
    let mut s = sock;
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&bytes);
    s.write_all(&out).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).unwrap();
    Message::from_vec(&buf).unwrap()
}

fn ips(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn policies_blocking_records_and_forwarding() {
    let ward = start("main", upstream(), "null_ip");
    let main = ip("127.0.0.2");
    let kids = ip("127.0.0.3");
    let cameras = ip("127.0.0.4");

    // Blocked by the list: 0.0.0.0 for A, :: for AAAA, for the list's subdomains too.
    let r = udp(ward.dns, main, &query("ads.example.", RecordType::A));
    assert_eq!(
        (r.metadata.id, r.metadata.response_code),
        (0x1234, ResponseCode::NoError)
    );
    assert_eq!(ips(&r), ["0.0.0.0"]);
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("x.ads.example.", RecordType::AAAA)
        )),
        ["::"]
    );
    // Allowed: forwarded to the upstream.
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("www.example.org.", RecordType::A)
        )),
        ["127.1.0.1"]
    );
    // Policies by source address: kids add a rule, cameras have no lists.
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("www.tiktok.com.", RecordType::A)
        )),
        ["127.1.0.1"]
    );
    assert_eq!(
        ips(&udp(
            ward.dns,
            kids,
            &query("www.tiktok.com.", RecordType::A)
        )),
        ["0.0.0.0"]
    );
    assert_eq!(
        ips(&udp(ward.dns, kids, &query("ads.example.", RecordType::A))),
        ["0.0.0.0"]
    );
    assert_eq!(
        ips(&udp(
            ward.dns,
            cameras,
            &query("ads.example.", RecordType::A)
        )),
        ["127.1.0.1"]
    );
    // Hosts-style lines: 0.0.0.0 blocks, another address is the answer.
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("hosts-blocked.example.", RecordType::A)
        )),
        ["0.0.0.0"]
    );
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("printer.example.", RecordType::A)
        )),
        ["192.168.1.99"]
    );
    // $dnsrewrite answers as compiled.
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("rewrite.example.", RecordType::A)
        )),
        ["192.0.2.7"]
    );
    // Local records: the wildcard, and the specific name overriding it.
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("nas.home.example.com.", RecordType::A)
        )),
        ["192.168.1.20"]
    );
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("auth.home.example.com.", RecordType::A)
        )),
        ["192.168.1.72"]
    );
    // CNAME cloaking: the upstream's CNAME target is blocked, so the answer is.
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("cloaked.example.", RecordType::A)
        )),
        ["0.0.0.0"]
    );
    assert_eq!(
        ips(&udp(
            ward.dns,
            cameras,
            &query("cloaked.example.", RecordType::A)
        )),
        ["127.1.0.1"]
    );
    // Upstream NXDOMAIN passes through.
    let r = udp(ward.dns, main, &query("nxdomain.example.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    // TCP.
    assert_eq!(
        ips(&tcp(ward.dns, &query("ads.example.", RecordType::A))),
        ["0.0.0.0"]
    );
    assert_eq!(
        ips(&tcp(ward.dns, &query("www.example.org.", RecordType::A))),
        ["127.1.0.1"]
    );
}

#[test]
fn truncation_edns_and_malformed_packets() {
    let ward = start("wire", upstream(), "nxdomain");
    let main = ip("127.0.0.2");
    // NXDOMAIN mode: NXDOMAIN with an SOA.
    let r = udp(ward.dns, main, &query("ads.example.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert!(
        r.authorities
            .iter()
            .any(|a| a.record_type() == RecordType::SOA)
    );
    // A big answer over plain UDP is truncated; over TCP it is whole.
    let big = query("big.example.", RecordType::TXT);
    let r = udp(ward.dns, main, &big);
    assert!(r.metadata.truncation, "TC bit");
    assert_eq!(tcp(ward.dns, &big).answers.len(), 40);
    // With EDNS and a large buffer it fits in UDP; the answer carries EDNS too.
    let mut with_edns = big.clone();
    let mut e = Edns::new();
    e.set_max_payload(4096);
    with_edns.set_edns(e);
    let r = udp(ward.dns, main, &with_edns);
    assert!(r.edns.is_some());
    assert!(r.metadata.truncation || r.answers.len() == 40);
    // A malformed packet gets FORMERR, and the server keeps serving.
    let sock = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut garbage = vec![
        0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    garbage.extend_from_slice(&[0x3f, 0xff, 0xff]);
    sock.send_to(&garbage, ward.dns).unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = sock.recv_from(&mut buf).expect("FORMERR");
    let r = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(
        (r.metadata.id, r.metadata.response_code),
        (0xabcd, ResponseCode::FormErr)
    );
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("www.example.org.", RecordType::A)
        )),
        ["127.1.0.1"]
    );
}

#[test]
fn probes_answer() {
    let ward = start("probes", upstream(), "null_ip");
    for path in ["/livez", "/readyz"] {
        let out = http_get(ward.admin, path);
        assert!(out.starts_with("HTTP/1.1 200"), "{path}: {out}");
    }
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// `dig`, a client no one here wrote, from a bound source address.
#[test]
fn dig_from_two_vlans() {
    if Command::new("dig").arg("-v").output().is_err() {
        eprintln!("skipped: dig is not installed (bind9-dnsutils)");
        return;
    }
    let ward = start("dig", upstream(), "null_ip");
    let dig = |src: &str, name: &str, tcp: bool| -> String {
        let mut cmd = Command::new("dig");
        cmd.args(["+short", "+time=3", "+tries=1", "-b", src, "-p"])
            .arg(ward.dns.port().to_string())
            .arg("@127.0.0.1")
            .arg(name);
        if tcp {
            cmd.arg("+tcp");
        }
        String::from_utf8(cmd.output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(dig("127.0.0.2", "www.tiktok.com", false), "127.1.0.1");
    assert_eq!(dig("127.0.0.3", "www.tiktok.com", false), "0.0.0.0");
    assert_eq!(dig("127.0.0.3", "www.tiktok.com", true), "0.0.0.0");
    assert_eq!(dig("127.0.0.2", "ads.example", true), "0.0.0.0");
}

#[test]
fn conditional_forwarding_private_reverse_and_dead_upstreams() {
    // The router answers differently, so its answers are recognisable.
    let ward = start_with(
        "forward",
        upstream(),
        upstream_answering(ROUTER_A),
        "null_ip",
    );
    let main = ip("127.0.0.2");
    // Names under a forward zone (no local record) go to the router; others do not.
    let r = udp(ward.dns, main, &query("home.example.com.", RecordType::A));
    assert_eq!(ips(&r), ["127.2.0.2"]);
    assert_eq!(
        ips(&udp(ward.dns, main, &query("example.com.", RecordType::A))),
        ["127.1.0.1"]
    );
    // Private reverse zones: 192.168.x goes to the router (a forward zone), 10.x never
    // leaves: NXDOMAIN.
    let r = udp(
        ward.dns,
        main,
        &query("5.1.168.192.in-addr.arpa.", RecordType::PTR),
    );
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    let r = udp(
        ward.dns,
        main,
        &query("5.0.0.10.in-addr.arpa.", RecordType::PTR),
    );
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    drop(ward);

    // Every upstream dead: SERVFAIL within the timeout, and blocking still works.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    let ward = start_with("dead", dead_addr, dead_addr, "null_ip");
    let t = Instant::now();
    let r = udp(ward.dns, main, &query("www.example.org.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(
        ips(&udp(ward.dns, main, &query("ads.example.", RecordType::A))),
        ["0.0.0.0"]
    );
}

#[test]
fn blocking_modes_and_ipv6_clients() {
    let main = ip("127.0.0.2");
    let ward = start("refused", upstream(), "refused");
    let r = udp(ward.dns, main, &query("ads.example.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    drop(ward);

    let ward = start("custom", upstream(), "custom_ip");
    assert_eq!(
        ips(&udp(ward.dns, main, &query("ads.example.", RecordType::A))),
        ["192.0.2.1"]
    );
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("ads.example.", RecordType::AAAA)
        )),
        ["2001:db8::b"]
    );
    // Other types get NODATA (with an SOA), as in AdGuard Home.
    let r = udp(ward.dns, main, &query("ads.example.", RecordType::MX));
    assert_eq!(
        (r.metadata.response_code, r.answers.len()),
        (ResponseCode::NoError, 0)
    );
    assert!(
        r.authorities
            .iter()
            .any(|a| a.record_type() == RecordType::SOA)
    );
    drop(ward);

    // An IPv6 client (::1 is mapped to the kids policy) gets its policy, over UDP and TCP.
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped the IPv6 part: no ::1 here");
        return;
    }
    let up = upstream();
    let ward = start_on("v6", "[::1]:0", up, up, "null_ip");
    let v6 = ip("::1");
    assert_eq!(
        ips(&udp(ward.dns, v6, &query("www.tiktok.com.", RecordType::A))),
        ["0.0.0.0"]
    );
    assert_eq!(
        ips(&tcp(ward.dns, &query("www.tiktok.com.", RecordType::AAAA))),
        ["::"]
    );
    assert_eq!(
        ips(&udp(
            ward.dns,
            v6,
            &query("www.example.org.", RecordType::A)
        )),
        ["127.1.0.1"]
    );
}

#[test]
fn cached_answers_never_carry_another_policys_filtering() {
    let ward = start("cache", upstream(), "null_ip");
    // The cameras policy (no lists) asks first: the unfiltered answer is cached.
    let cameras = ip("127.0.0.4");
    let main = ip("127.0.0.2");
    assert_eq!(
        ips(&udp(
            ward.dns,
            cameras,
            &query("cloaked.example.", RecordType::A)
        )),
        ["127.1.0.1"]
    );
    assert_eq!(
        ips(&udp(
            ward.dns,
            main,
            &query("cloaked.example.", RecordType::A)
        )),
        ["0.0.0.0"]
    );
    assert_eq!(
        ips(&udp(
            ward.dns,
            cameras,
            &query("cloaked.example.", RecordType::A)
        )),
        ["127.1.0.1"]
    );
    // Positive and negative answers are asked upstream once, then cached.
    for _ in 0..3 {
        udp(ward.dns, main, &query("count.example.", RecordType::A));
        let r = udp(
            ward.dns,
            main,
            &query("nxdomain-count.example.", RecordType::A),
        );
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    }
    assert_eq!(
        (asked("count.example."), asked("nxdomain-count.example.")),
        (1, 1)
    );
    // A cached answer's TTL counts down (never up) and comes from the cache.
    let first = udp(ward.dns, main, &query("ttl.example.", RecordType::A));
    std::thread::sleep(Duration::from_millis(1100));
    let second = udp(ward.dns, main, &query("ttl.example.", RecordType::A));
    assert!(
        second.answers[0].ttl < first.answers[0].ttl,
        "{} then {}",
        first.answers[0].ttl,
        second.answers[0].ttl
    );
}

/// `kdig`, the other real client, over TCP and with EDNS.
#[test]
fn kdig_over_tcp() {
    if Command::new("kdig").arg("-V").output().is_err() {
        eprintln!("skipped: kdig is not installed (knot-dnsutils)");
        return;
    }
    let ward = start("kdig", upstream(), "null_ip");
    let out = Command::new("kdig")
        .args([
            "+short",
            "+tcp",
            "+edns=0",
            "+timeout=3",
            "-b",
            "127.0.0.3",
            "-p",
        ])
        .arg(ward.dns.port().to_string())
        .arg("@127.0.0.1")
        .arg("www.tiktok.com")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0.0.0.0");
}

#[test]
fn sigterm_drains_queries_in_flight() {
    let ward = start("drain", upstream(), "null_ip");
    let sock = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The upstream takes 400 ms for slow.example; SIGTERM arrives meanwhile.
    sock.send_to(
        &query("slow.example.", RecordType::A).to_vec().unwrap(),
        ward.dns,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(ward.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let mut buf = [0u8; 512];
    let (n, _) = sock
        .recv_from(&mut buf)
        .expect("the query in flight is answered");
    let r = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(ips(&r), ["127.1.0.1"]);
}
