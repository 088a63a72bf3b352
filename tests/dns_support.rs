//! What the DNS end-to-end tests stand on: a local upstream that stands in for the
//! internet, a `ward serve` process on loopback with a config mapping 127.0.0.2/3/4 and
//! ::1 to policies, and a small DNS client.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// The address the default upstream answers with, so forwarded answers are recognisable.
pub(crate) const UPSTREAM_A: Ipv4Addr = Ipv4Addr::new(127, 1, 0, 1);
/// The address the router upstream (conditional forwarding) answers with.
pub(crate) const ROUTER_A: Ipv4Addr = Ipv4Addr::new(127, 2, 0, 2);

/// A local authoritative stand-in for the internet: answers every A query with
/// `UPSTREAM_A`, `cloaked.example` with a CNAME to `tracker.blocked.example`,
/// `big.example` TXT with 40 long strings (more than 512 bytes), over UDP and TCP.
pub(crate) fn upstream() -> SocketAddr {
    upstream_answering(UPSTREAM_A)
}

pub(crate) fn upstream_answering(answer: Ipv4Addr) -> SocketAddr {
    // A UDP port whose TCP side is free too (other tests bind ports meanwhile).
    let (udp, addr, tcp) = loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = std::net::TcpListener::bind(addr) {
            break (udp, addr, tcp);
        }
    };
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, src)) = udp.recv_from(&mut buf) {
            let Some(resp) = upstream_answer(&buf[..n], answer) else {
                continue;
            };
            // `slow.*` names are answered after 400 ms, `*.mix.example` and
            // `*.cmix.example` (the reload soak test's) after 5 ms, from another thread.
            let delay = if buf[..n].windows(5).any(|w| w == b"\x04slow") {
                Some(400)
            } else if buf[..n].windows(5).any(|w| w == b"mix\x07e") {
                Some(5)
            } else {
                None
            };
            if let Some(ms) = delay {
                let udp = udp.try_clone().unwrap();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(ms));
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

pub(crate) fn asked(name: &str) -> usize {
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
        // The reload soak test's names: one list blocks the name, the next its CNAME
        // target; an answer filtered half by each would pass through.
        (n, RecordType::A) if n.ends_with(".mix.example.") || n.ends_with(".cmix.example.") => {
            let zone = if n.ends_with(".cmix.example.") {
                "ctarget"
            } else {
                "target"
            };
            let target = Name::from_ascii(format!("t.{zone}.example.")).unwrap();
            resp.add_answer(record(RData::CNAME(CNAME(target.clone()))));
            resp.add_answer(Record::from_rdata(target, 300, RData::A(A(answer))));
        }
        ("cloaked.example.", _) => {
            let target = Name::from_ascii("tracker.blocked.example.").unwrap();
            resp.add_answer(record(RData::CNAME(CNAME(target.clone()))));
            resp.add_answer(Record::from_rdata(target, 300, RData::A(A(answer))));
        }
        // As authorities answer: with the zone's SOA, which says how long "no" lasts
        // (RFC 2308); `nxdomain-nosoa*` without it, which must not be cached.
        (n, _) if n.starts_with("nxdomain") => {
            resp.metadata.response_code = ResponseCode::NXDomain;
            if !n.starts_with("nxdomain-nosoa") {
                let zone = Name::from_ascii("example.").unwrap();
                let soa = SOA::new(zone.clone(), zone.clone(), 1, 3600, 600, 86400, 60);
                resp.add_authority(Record::from_rdata(zone, 60, RData::SOA(soa)));
            }
        }
        // The safe-search enforcement hosts, with their real addresses: an answer with
        // them is safe search's, not the plain forward's.
        (n, RecordType::A) if safe_search_a(n).is_some() => {
            let ip = safe_search_a(n).unwrap_or(answer);
            resp.add_answer(record(RData::A(A(ip))));
        }
        (n, RecordType::AAAA) if safe_search_a(n).is_some() => {
            resp.add_answer(record(RData::AAAA(AAAA(SAFE_SEARCH_AAAA))));
        }
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

/// The IPv6 address the upstream gives every safe-search enforcement host.
pub(crate) const SAFE_SEARCH_AAAA: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0x2001, 0x4860, 0x4802, 0x32, 0, 0, 0, 0x78);

/// The IPv4 address of a safe-search enforcement host (a fully qualified name), as the
/// upstream answers it.
pub(crate) fn safe_search_a(name: &str) -> Option<Ipv4Addr> {
    Some(match name {
        "forcesafesearch.google.com." => Ipv4Addr::new(216, 239, 38, 120),
        "restrict.youtube.com." => Ipv4Addr::new(216, 239, 38, 120),
        "restrictmoderate.youtube.com." => Ipv4Addr::new(216, 239, 38, 119),
        "strict.bing.com." => Ipv4Addr::new(204, 79, 197, 220),
        "safe.duckduckgo.com." => Ipv4Addr::new(52, 142, 124, 215),
        _ => return None,
    })
}

/// A running `ward serve`, stopped (SIGTERM) when dropped.
pub(crate) struct Ward {
    pub(crate) child: Child,
    /// The first UDP listener logged.
    pub(crate) dns: SocketAddr,
    /// Every UDP listener, in the order logged.
    pub(crate) dns_all: Vec<SocketAddr>,
    pub(crate) admin: SocketAddr,
    /// The log up to "ready".
    startup: Vec<String>,
    _dir: Option<TempDir>,
}

impl Ward {
    /// Starts `ward serve --config <config>` with more arguments and waits until it is
    /// ready. The caller keeps the config's directory.
    pub(crate) fn spawn(config: &std::path::Path, args: &[&str]) -> Ward {
        Ward::launch(config, args, &[])
    }

    /// [`Ward::spawn`] with environment variables.
    pub(crate) fn spawn_env(config: &std::path::Path, env: &[(&str, &str)]) -> Ward {
        Ward::launch(config, &[], env)
    }

    fn launch(config: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Ward {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["serve", "--config"])
            .arg(config)
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start ward serve");
        let (dns_all, admin, startup) = wait_ready(&mut child);
        Ward {
            child,
            dns: dns_all[0],
            dns_all,
            admin,
            startup,
            _dir: None,
        }
    }

    /// The address of the first listener logged as "listening for {what} on ..."
    /// (`DNS over TLS`, `DNS over HTTPS`).
    pub(crate) fn listening(&self, what: &str) -> SocketAddr {
        let prefix = format!("listening for {what} on ");
        self.startup
            .iter()
            .find_map(|l| l.split(&prefix).nth(1)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {what} listener logged:\n{}", self.startup.join("\n")))
    }

    /// `GET /api/v1/status`, parsed.
    pub(crate) fn status(&self) -> serde_json::Value {
        let response = http_get(self.admin, "/api/v1/status");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("status is not JSON ({e}):\n{response}"))
    }

    /// Sends a signal (`HUP`, `TERM`) to the process.
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `limit` for the status to satisfy `done`; the time it took.
    pub(crate) fn wait_status(
        &self,
        limit: Duration,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> Duration {
        let start = Instant::now();
        loop {
            let status = self.status();
            if done(&status) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "{what} not within {limit:?}; status:\n{status:#}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
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

pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
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

pub(crate) fn start(tag: &str, upstream: SocketAddr, blocking_mode: &str) -> Ward {
    start_with(tag, upstream, upstream, blocking_mode)
}

pub(crate) fn start_with(
    tag: &str,
    upstream: SocketAddr,
    router: SocketAddr,
    blocking_mode: &str,
) -> Ward {
    start_on(tag, "127.0.0.1:0", upstream, router, blocking_mode)
}

pub(crate) fn start_on(
    tag: &str,
    listen: &str,
    upstream: SocketAddr,
    router: SocketAddr,
    blocking_mode: &str,
) -> Ward {
    start_args(tag, listen, upstream, router, blocking_mode, &[])
}

/// [`start_on`] with more `ward serve` arguments.
pub(crate) fn start_args(
    tag: &str,
    listen: &str,
    upstream: SocketAddr,
    router: SocketAddr,
    blocking_mode: &str,
    args: &[&str],
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
    let mut ward = Ward::spawn(&path, args);
    ward._dir = Some(dir);
    ward
}

/// Reads the log until "ready", collecting the listener addresses it logs: every UDP one,
/// and the admin one; and the log so far.
fn wait_ready(child: &mut Child) -> (Vec<SocketAddr>, SocketAddr, Vec<String>) {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut dns, mut admin) = (Vec::new(), None);
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
        if let Some(a) = addr("listening for UDP on ").filter(|a| !dns.contains(a)) {
            dns.push(a);
        }
        admin = admin.or_else(|| addr("listening for HTTP on "));
        let ready = line.contains(" ready");
        log.push(line);
        if ready {
            assert!(
                !dns.is_empty(),
                "no UDP listener logged:\n{}",
                log.join("\n")
            );
            return (dns, admin.expect("admin listener logged"), log);
        }
    }
    panic!("ward did not become ready:\n{}", log.join("\n"));
}

pub(crate) fn query(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m
}

/// Sends a query over UDP from `client` (127.0.0.x) and returns the answer.
pub(crate) fn udp(server: SocketAddr, client: IpAddr, msg: &Message) -> Message {
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
/// A message as DNS over TCP sends it: behind its 2-byte length (RFC 1035 4.2.2).
pub(crate) fn framed(msg: &Message) -> Vec<u8> {
    let bytes = msg.to_vec().unwrap();
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&bytes);
    out
}

pub(crate) fn tcp(server: SocketAddr, msg: &Message) -> Message {
    tcp_after(server, b"", msg).expect("an answer over TCP")
}

/// Sends `prefix` (a PROXY header, say) and then `msg` over one TCP connection; the
/// answer, or `None` when the connection is closed unanswered.
pub(crate) fn tcp_after(server: SocketAddr, prefix: &[u8], msg: &Message) -> Option<Message> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&server, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut bytes = prefix.to_vec();
    bytes.extend(framed(msg));
    s.write_all(&bytes).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).ok()?;
    Some(Message::from_vec(&buf).unwrap())
}

/// The addresses answered to `client` for `name`, over UDP.
pub(crate) fn addrs(ward: &Ward, client: IpAddr, name: &str, qtype: RecordType) -> Vec<String> {
    ips(&udp(ward.dns, client, &query(name, qtype)))
}

pub(crate) fn ips(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(crate) fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Host: the address, as curl sends it (without admin credentials, a name is refused).
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// One HTTP/1.1 request, with an `Authorization` header if given; the status and body.
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/yaml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

/// `GET /metrics` as text.
pub(crate) fn metrics(ward: &Ward) -> String {
    let (status, body) = http(ward.admin, "GET", "/metrics", None, "");
    assert_eq!(status, 200, "{body}");
    body
}

/// The value of one sample of the metrics text (`name{labels}` exactly as written),
/// 0 when there is no such sample.
pub(crate) fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// `dig +short` from a bound source address, over UDP or TCP: a client no one here wrote.
pub(crate) fn dig(server: SocketAddr, src: &str, name: &str, tcp: bool) -> String {
    let mut cmd = Command::new("dig");
    cmd.args(["+short", "+time=3", "+tries=1", "-b", src, "-p"])
        .arg(server.port().to_string())
        .arg(format!("@{}", server.ip()))
        .arg(name);
    if tcp {
        cmd.arg("+tcp");
    }
    let out = cmd
        .output()
        .expect("dig (bind9-dnsutils) must be installed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
