//! Issue 19: DNS over TLS and over HTTPS for clients, ClientIDs, and the PROXY protocol in
//! front of them, tried against the real binary with real clients (kdig, curl) and a
//! certificate authority the tests make.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

use crate::dns_support::{TempDir, UPSTREAM_A, Ward, http, metrics, query, sample, upstream};

/// The name clients reach Ward by in these tests.
const SERVER_NAME: &str = "dns.test";

/// A certificate authority of the test's own, and the server certificates it issues.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate, PEM, where the clients read it.
    ca_file: PathBuf,
}

impl Authority {
    fn new(dir: &Path, name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("Ward test CA {name}"));
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let ca_file = dir.join(format!("{name}-ca.crt"));
        std::fs::write(&ca_file, cert.pem()).unwrap();
        Authority {
            issuer: Issuer::new(params, key),
            ca_file,
        }
    }

    /// A certificate for `dns.test`, `*.dns.test` and 127.0.0.1 and its key, PEM.
    fn issue(&self) -> (String, String) {
        let mut params =
            CertificateParams::new(vec![SERVER_NAME.to_owned(), format!("*.{SERVER_NAME}")])
                .unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params
            .distinguished_name
            .push(DnType::CommonName, SERVER_NAME);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// The certificate files as a Kubernetes Secret volume lays them out: `tls.crt` and
/// `tls.key` are links into `..data`, itself a link to a directory of this version's
/// files; the kubelet swaps `..data` to update them all at once.
struct SecretVolume {
    dir: PathBuf,
    version: usize,
}

impl SecretVolume {
    fn new(dir: &Path, (cert, key): (String, String)) -> SecretVolume {
        let dir = dir.join("tls");
        std::fs::create_dir_all(&dir).unwrap();
        let mut volume = SecretVolume { dir, version: 0 };
        volume.update(&cert, &key);
        for file in ["tls.crt", "tls.key"] {
            std::os::unix::fs::symlink(format!("..data/{file}"), volume.dir.join(file)).unwrap();
        }
        volume
    }

    fn cert_file(&self) -> PathBuf {
        self.dir.join("tls.crt")
    }

    fn key_file(&self) -> PathBuf {
        self.dir.join("tls.key")
    }

    /// A new version of the files, swapped in at once.
    fn update(&mut self, cert: &str, key: &str) {
        self.version += 1;
        let version = format!("..version_{}", self.version);
        std::fs::create_dir(self.dir.join(&version)).unwrap();
        std::fs::write(self.dir.join(&version).join("tls.crt"), cert).unwrap();
        std::fs::write(self.dir.join(&version).join("tls.key"), key).unwrap();
        let next = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&version, &next).unwrap();
        std::fs::rename(&next, self.dir.join("..data")).unwrap();
    }
}

/// Ward with DoT and DoH on free ports, ClientID `kids-phone` mapped to the kids'
/// policy, `extra` added to the `dns` section.
fn start(tag: &str, volume: &SecretVolume, dir: &TempDir, extra: &str) -> Ward {
    let path = dir.0.join("ward.yaml");
    std::fs::write(
        &path,
        format!(
            r#"dns:
  listen: ["127.0.0.1:0"]
  tls:
    cert_file: "{cert}"
    key_file: "{key}"
    server_name: {SERVER_NAME}
    dot: ["127.0.0.1:0"]
    doh: ["127.0.0.1:0"]
{extra}
admin: {{ listen: "127.0.0.1:0" }}
upstreams: {{ default: {{ servers: ["{upstream}"] }} }}
policies:
  main: {{}}
  kids: {{ rules: ["||games.example^"] }}
clients:
  - {{ subnet: 127.0.0.0/8, policy: main }}
  - {{ subnet: 127.0.0.9/32, policy: kids, name: behind-the-proxy }}
  - {{ client_ids: [kids-phone], policy: kids, name: "kids phone" }}
default_policy: main
data_dir: "{data}"
"#,
            cert = volume.cert_file().display(),
            key = volume.key_file().display(),
            upstream = upstream(),
            data = dir.0.join(format!("{tag}-data")).display(),
        ),
    )
    .unwrap();
    Ward::spawn(&path, &[])
}

/// `kdig +short` over TLS to `server`, verifying its certificate with `ca` for
/// `hostname` (the TLS server name, which may carry a ClientID).
fn kdig_tls(server: SocketAddr, ca: &Path, hostname: &str, name: &str) -> String {
    kdig(server, ca, hostname, &["+tls"], name)
}

/// `kdig +short` over HTTPS to `server` at `path` (POST; `get` for GET).
fn kdig_https(server: SocketAddr, ca: &Path, path: &str, get: bool, name: &str) -> String {
    let https = format!("+https={path}");
    let mut args = vec![https.as_str()];
    if get {
        args.push("+https-get");
    }
    kdig(server, ca, SERVER_NAME, &args, name)
}

fn kdig(server: SocketAddr, ca: &Path, hostname: &str, args: &[&str], name: &str) -> String {
    let out = Command::new("kdig")
        .args(["+short", "+retry=0", "+timeout=3"])
        .arg(format!("+tls-ca={}", ca.display()))
        .arg(format!("+tls-hostname={hostname}"))
        .args(args)
        .args([
            "-p",
            &server.port().to_string(),
            &format!("@{}", server.ip()),
        ])
        .args([name, "A"])
        .output()
        .expect("kdig (knot-dnsutils) must be installed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// curl to the DoH listener by its name: the status, the headers and the body.
fn curl(server: SocketAddr, ca: &Path, args: &[&str], path: &str) -> (u16, String, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!(
        "ward-curl-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let headers = dir.with_extension("headers");
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", "--cacert"])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("{SERVER_NAME}:{}:{}", server.port(), server.ip()))
        .arg("-D")
        .arg(&headers)
        .args(args)
        .arg(format!("https://{SERVER_NAME}:{}{path}", server.port()))
        .output()
        .expect("curl must be installed");
    let head = std::fs::read_to_string(&headers).unwrap_or_default();
    let _ = std::fs::remove_file(&headers);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head, out.stdout)
}

fn wire(name: &str) -> Vec<u8> {
    let mut m = query(name, RecordType::A);
    m.metadata.id = 0;
    m.to_vec().unwrap()
}

fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// The newest query log entries for `name`, newest first, once `ready` holds of them (or
/// after 5 seconds: the caller's assertion then says what is missing).
fn logged(
    ward: &Ward,
    name: &str,
    ready: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = http(
            ward.admin,
            "GET",
            &format!("/api/v1/querylog?name={name}&limit=50"),
            None,
            "",
        );
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        if ready(&entries) || Instant::now() > deadline {
            return entries;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn dot_and_doh_answer_from_the_one_query_path_with_client_ids() {
    let dir = TempDir::new("encrypted");
    let ca = Authority::new(&dir.0, "one");
    let volume = SecretVolume::new(&dir.0, ca.issue());
    let ward = start("encrypted", &volume, &dir, "");
    let (dot, doh) = (
        ward.listening("DNS over TLS"),
        ward.listening("DNS over HTTPS"),
    );
    let forwarded = UPSTREAM_A.to_string();
    let kids_phone = format!("kids-phone.{SERVER_NAME}");

    // DoT: the server name alone is the LAN's policy; one label below it names the
    // ClientID, whose rule is the kids' policy, from the same source address.
    assert_eq!(
        kdig_tls(dot, &ca.ca_file, SERVER_NAME, "games.example"),
        forwarded
    );
    assert_eq!(
        kdig_tls(dot, &ca.ca_file, &kids_phone, "games.example"),
        "0.0.0.0"
    );
    assert_eq!(
        kdig_tls(dot, &ca.ca_file, &kids_phone, "school.example"),
        forwarded
    );
    // DoH over HTTP/2 (kdig): POST and GET, the ClientID in the path.
    assert_eq!(
        kdig_https(doh, &ca.ca_file, "/dns-query", false, "games.example"),
        forwarded
    );
    assert_eq!(
        kdig_https(
            doh,
            &ca.ca_file,
            "/dns-query/kids-phone",
            false,
            "games.example"
        ),
        "0.0.0.0"
    );
    assert_eq!(
        kdig_https(
            doh,
            &ca.ca_file,
            "/dns-query/kids-phone",
            true,
            "games.example"
        ),
        "0.0.0.0"
    );
    // DoH over HTTP/1.1 (curl), and over TLS 1.2.
    let post = wire("h1.games.example");
    let body = dir.0.join("query.bin");
    std::fs::write(&body, &post).unwrap();
    let data = format!("@{}", body.display());
    for tls in [&["--tlsv1.3"][..], &["--tlsv1.2", "--tls-max", "1.2"]] {
        let mut args = vec!["--http1.1", "-H", "Content-Type: application/dns-message"];
        args.extend(["--data-binary", &data]);
        args.extend(tls);
        let (status, head, answer) = curl(doh, &ca.ca_file, &args, "/dns-query/kids-phone");
        assert_eq!(status, 200, "{head}");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/dns-message"),
            "{head}"
        );
        let answer = Message::from_vec(&answer).unwrap();
        assert_eq!(crate::dns_support::ips(&answer), ["0.0.0.0"]);
    }
    let get = format!("/dns-query?dns={}", base64url(&wire("h1get.example")));
    let (status, head, answer) = curl(doh, &ca.ca_file, &["--http1.1"], &get);
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("cache-control: max-age="),
        "the answer's TTL as its freshness: {head}"
    );
    let answer = Message::from_vec(&answer).unwrap();
    assert_eq!(crate::dns_support::ips(&answer), [forwarded.as_str()]);

    // The log and the metrics see the protocol, the ClientID and its client's name.
    let by = |entries: &[serde_json::Value], protocol: &str, id: Option<&str>| {
        entries.iter().any(|e| {
            e["protocol"] == protocol
                && e["client_id"].as_str() == id
                && e["policy"] == if id.is_some() { "kids" } else { "main" }
                && (id.is_none() || e["client_name"] == "kids phone")
        })
    };
    let all = |e: &[serde_json::Value]| {
        ["dot", "doh"]
            .iter()
            .all(|p| by(e, p, None) && by(e, p, Some("kids-phone")))
    };
    let entries = logged(&ward, "games.example", all);
    assert!(all(&entries), "{entries:#?}");
    let m = metrics(&ward);
    for protocol in ["dot", "doh"] {
        let series = format!(
            "ward_dns_queries_total{{policy=\"kids\",verdict=\"blocked\",protocol=\"{protocol}\"}}"
        );
        assert!(sample(&m, &series) >= 1.0, "{series} in\n{m}");
    }
    // The admin API names ClientIDs too.
    let (status, body) = http(ward.admin, "GET", "/api/v1/clients", None, "");
    assert_eq!(status, 200);
    assert!(body.contains("\"client_ids\":[\"kids-phone\"]"), "{body}");
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart() {
    let dir = TempDir::new("renewal");
    let first = Authority::new(&dir.0, "first");
    let mut volume = SecretVolume::new(&dir.0, first.issue());
    let ward = start("renewal", &volume, &dir, "");
    let (dot, doh) = (
        ward.listening("DNS over TLS"),
        ward.listening("DNS over HTTPS"),
    );
    let forwarded = UPSTREAM_A.to_string();
    assert_eq!(
        kdig_tls(dot, &first.ca_file, SERVER_NAME, "a.example"),
        forwarded
    );

    // Renewed by another authority, as the kubelet swaps a Secret's files.
    let second = Authority::new(&dir.0, "second");
    let (cert, key) = second.issue();
    volume.update(&cert, &key);
    let deadline = Instant::now() + Duration::from_secs(20);
    while kdig_tls(dot, &second.ca_file, SERVER_NAME, "b.example") != forwarded {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate is never served"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(kdig_tls(dot, &first.ca_file, SERVER_NAME, "c.example"), "");
    assert_eq!(
        kdig_https(doh, &second.ca_file, "/dns-query", false, "d.example"),
        forwarded
    );

    // A broken renewal (a key that is not the certificate's, then a truncated
    // certificate) is refused: the last good pair stays.
    let (_, other_key) = second.issue();
    volume.update(&cert, &other_key);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        kdig_tls(dot, &second.ca_file, SERVER_NAME, "e.example"),
        forwarded
    );
    volume.update(&cert[..cert.len() / 2], &key);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        kdig_tls(dot, &second.ca_file, SERVER_NAME, "f.example"),
        forwarded
    );
    assert_eq!(
        kdig_https(doh, &second.ca_file, "/dns-query", true, "g.example"),
        forwarded
    );
}

#[test]
fn malformed_tls_http_and_doh_get_errors_not_crashes() {
    let dir = TempDir::new("malformed-tls");
    let ca = Authority::new(&dir.0, "one");
    let volume = SecretVolume::new(&dir.0, ca.issue());
    let ward = start("malformed", &volume, &dir, "  tcp: { idle_timeout: 1s }");
    let (dot, doh) = (
        ward.listening("DNS over TLS"),
        ward.listening("DNS over HTTPS"),
    );
    let closed = |addr: SocketAddr, bytes: &[u8]| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(bytes);
        let started = Instant::now();
        let mut buf = [0u8; 512];
        // Closed, perhaps after a TLS alert.
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    };
    // Plain DNS, and plain HTTP, to the TLS listeners; a ClientHello cut short.
    let plain = crate::dns_support::framed(&query("plain.example", RecordType::A));
    closed(dot, &plain);
    closed(doh, b"GET /dns-query HTTP/1.1\r\nHost: dns.test\r\n\r\n");
    let hello_start = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let waited = closed(dot, &hello_start);
    assert!(
        waited < Duration::from_secs(4),
        "closed after the idle timeout: {waited:?}"
    );

    // HTTP requests that are not DNS queries, each with its status.
    let short = dir.0.join("short.bin");
    std::fs::write(&short, [0u8; 5]).unwrap();
    let big = dir.0.join("big.bin");
    std::fs::write(&big, vec![7u8; 70_000]).unwrap();
    let garbage = dir.0.join("garbage.bin");
    std::fs::write(
        &garbage,
        b"\x12\x34 this is no DNS message at all, just bytes",
    )
    .unwrap();
    let at = |f: &PathBuf| format!("@{}", f.display());
    let (short, big, garbage) = (at(&short), at(&big), at(&garbage));
    let dns_type = "Content-Type: application/dns-message";
    let cases: Vec<(Vec<&str>, String, u16)> = vec![
        (vec![], "/".into(), 404),
        (vec![], "/dns-query".into(), 400),
        (vec![], "/dns-query?dns=***".into(), 400),
        (vec!["-X", "PUT"], "/dns-query".into(), 405),
        (vec!["--data-binary", &short], "/dns-query".into(), 415),
        (
            vec!["-H", dns_type, "--data-binary", &short],
            "/dns-query".into(),
            400,
        ),
        (
            vec!["-H", dns_type, "--data-binary", &big],
            "/dns-query".into(),
            413,
        ),
        (
            vec!["-H", dns_type, "--data-binary", &garbage],
            "/dns-query/bad_id".into(),
            400,
        ),
    ];
    for (args, path, want) in &cases {
        let (status, head, body) = curl(doh, &ca.ca_file, args, path);
        assert_eq!(
            status,
            *want,
            "{args:?} {path}: {head}{}",
            String::from_utf8_lossy(&body)
        );
    }
    // Bytes that are no query get a DNS error, as over TCP.
    let (status, _, body) = curl(
        doh,
        &ca.ca_file,
        &["-H", dns_type, "--data-binary", &garbage],
        "/dns-query",
    );
    assert_eq!(status, 200);
    let answer = Message::from_vec(&body).unwrap();
    assert_eq!(answer.metadata.response_code, ResponseCode::FormErr);

    // Still serving, and counted.
    let forwarded = UPSTREAM_A.to_string();
    assert_eq!(
        kdig_tls(dot, &ca.ca_file, SERVER_NAME, "after.example"),
        forwarded
    );
    assert_eq!(
        kdig_https(doh, &ca.ca_file, "/dns-query", false, "after.example"),
        forwarded
    );
    let m = metrics(&ward);
    assert!(
        sample(&m, "ward_dns_tls_handshake_failures_total") >= 3.0,
        "{m}"
    );
    assert!(
        sample(&m, "ward_dns_doh_requests_refused_total") >= cases.len() as f64,
        "{m}"
    );
}

/// A load balancer in front of Ward, as HAProxy or an Envoy Gateway passes TLS through:
/// it accepts a client, connects to `backend` from `source`, sends a PROXY header
/// naming `client` (v1 or v2), and then copies bytes both ways. Its address.
fn balancer(backend: SocketAddr, source: &str, client: SocketAddr, v2: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let source: SocketAddr = format!("{source}:0").parse().unwrap();
    std::thread::spawn(move || {
        for front in listener.incoming() {
            let Ok(front) = front else { continue };
            let socket = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )
            .unwrap();
            socket.bind(&source.into()).unwrap();
            if socket.connect(&backend.into()).is_err() {
                continue;
            }
            let mut back: TcpStream = socket.into();
            let header = if v2 {
                proxy_v2(client, backend)
            } else {
                format!(
                    "PROXY TCP4 {} {} {} {}\r\n",
                    client.ip(),
                    backend.ip(),
                    client.port(),
                    backend.port()
                )
                .into_bytes()
            };
            if back.write_all(&header).is_err() {
                continue;
            }
            let (mut f2, mut b2) = (front.try_clone().unwrap(), back.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut f2, &mut b2);
                let _ = b2.shutdown(std::net::Shutdown::Write);
            });
            let (mut front, mut back) = (front, back);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut back, &mut front);
                let _ = front.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

/// A PROXY v2 header (PROXY command, TCP over IPv4) from `client` to `server`.
fn proxy_v2(client: SocketAddr, server: SocketAddr) -> Vec<u8> {
    let (SocketAddr::V4(c), SocketAddr::V4(s)) = (client, server) else {
        panic!("IPv4 only");
    };
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend([0x21, 0x11, 0, 12]);
    h.extend(c.ip().octets());
    h.extend(s.ip().octets());
    h.extend(c.port().to_be_bytes());
    h.extend(s.port().to_be_bytes());
    h
}

#[test]
fn a_trusted_balancer_names_the_client_of_encrypted_connections() {
    let dir = TempDir::new("proxy-tls");
    let ca = Authority::new(&dir.0, "one");
    let volume = SecretVolume::new(&dir.0, ca.issue());
    let ward = start(
        "proxy-tls",
        &volume,
        &dir,
        "  proxy_protocol: { trusted: [127.0.0.1/32] }",
    );
    let (dot, doh) = (
        ward.listening("DNS over TLS"),
        ward.listening("DNS over HTTPS"),
    );
    let kid: SocketAddr = "127.0.0.9:40000".parse().unwrap();
    let forwarded = UPSTREAM_A.to_string();
    // From the trusted balancer, v1 and v2: the client it names gets its policy.
    let dot_v1 = balancer(dot, "127.0.0.1", kid, false);
    let doh_v2 = balancer(doh, "127.0.0.1", kid, true);
    assert_eq!(
        kdig_tls(dot_v1, &ca.ca_file, SERVER_NAME, "games.example"),
        "0.0.0.0"
    );
    assert_eq!(
        kdig_https(doh_v2, &ca.ca_file, "/dns-query", false, "games.example"),
        "0.0.0.0"
    );
    let proxied = |e: &[serde_json::Value]| {
        ["dot", "doh"].iter().all(|p| {
            e.iter().any(|e| {
                e["client"] == "127.0.0.9"
                    && e["protocol"] == *p
                    && e["policy"] == "kids"
                    && e["client_name"] == "behind-the-proxy"
            })
        })
    };
    let entries = logged(&ward, "games.example", proxied);
    assert!(proxied(&entries), "{entries:#?}");
    // From an untrusted source, a header closes the connection: nothing answered.
    let untrusted_dot = balancer(dot, "127.0.0.2", kid, false);
    let untrusted_doh = balancer(doh, "127.0.0.2", kid, true);
    assert_eq!(
        kdig_tls(untrusted_dot, &ca.ca_file, SERVER_NAME, "games.example"),
        ""
    );
    assert_eq!(
        kdig_https(
            untrusted_doh,
            &ca.ca_file,
            "/dns-query",
            false,
            "games.example"
        ),
        ""
    );
    // The balancer's own connections, without a header, are its own.
    assert_eq!(
        kdig_tls(dot, &ca.ca_file, SERVER_NAME, "games.example"),
        forwarded
    );
}
