//! `ward serve` end to end: a real process on loopback, a local upstream, clients on
//! 127.0.0.2 / 127.0.0.3 / 127.0.0.4 / ::1 mapped to different policies, queries over UDP
//! and TCP from a Rust client, `dig` and `kdig`.

use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::dns_support::*;

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
        addrs(&ward, main, "x.ads.example.", RecordType::AAAA),
        ["::"]
    );
    // Allowed: forwarded to the upstream.
    assert_eq!(
        addrs(&ward, main, "www.example.org.", RecordType::A),
        ["127.1.0.1"]
    );
    // Policies by source address: kids add a rule, cameras have no lists.
    assert_eq!(
        addrs(&ward, main, "www.tiktok.com.", RecordType::A),
        ["127.1.0.1"]
    );
    assert_eq!(
        addrs(&ward, kids, "www.tiktok.com.", RecordType::A),
        ["0.0.0.0"]
    );
    assert_eq!(
        addrs(&ward, kids, "ads.example.", RecordType::A),
        ["0.0.0.0"]
    );
    assert_eq!(
        addrs(&ward, cameras, "ads.example.", RecordType::A),
        ["127.1.0.1"]
    );
    // Hosts-style lines: 0.0.0.0 blocks, another address is the answer.
    assert_eq!(
        addrs(&ward, main, "hosts-blocked.example.", RecordType::A),
        ["0.0.0.0"]
    );
    assert_eq!(
        addrs(&ward, main, "printer.example.", RecordType::A),
        ["192.168.1.99"]
    );
    // $dnsrewrite answers as compiled.
    assert_eq!(
        addrs(&ward, main, "rewrite.example.", RecordType::A),
        ["192.0.2.7"]
    );
    // Local records: the wildcard, and the specific name overriding it.
    assert_eq!(
        addrs(&ward, main, "nas.home.example.com.", RecordType::A),
        ["192.168.1.20"]
    );
    assert_eq!(
        addrs(&ward, main, "auth.home.example.com.", RecordType::A),
        ["192.168.1.72"]
    );
    // CNAME cloaking: the upstream's CNAME target is blocked, so the answer is.
    assert_eq!(
        addrs(&ward, main, "cloaked.example.", RecordType::A),
        ["0.0.0.0"]
    );
    assert_eq!(
        addrs(&ward, cameras, "cloaked.example.", RecordType::A),
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
        addrs(&ward, main, "www.example.org.", RecordType::A),
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

/// `dig`, a client no one here wrote, from a bound source address.
#[test]
fn dig_from_two_vlans() {
    if Command::new("dig").arg("-v").output().is_err() {
        eprintln!("skipped: dig is not installed (bind9-dnsutils)");
        return;
    }
    let ward = start("dig", upstream(), "null_ip");
    let ask = |src: &str, name: &str, tcp: bool| dig(ward.dns, src, name, tcp);
    assert_eq!(ask("127.0.0.2", "www.tiktok.com", false), "127.1.0.1");
    assert_eq!(ask("127.0.0.3", "www.tiktok.com", false), "0.0.0.0");
    assert_eq!(ask("127.0.0.3", "www.tiktok.com", true), "0.0.0.0");
    assert_eq!(ask("127.0.0.2", "ads.example", true), "0.0.0.0");
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
        addrs(&ward, main, "example.com.", RecordType::A),
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
        addrs(&ward, main, "ads.example.", RecordType::A),
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
        addrs(&ward, main, "ads.example.", RecordType::A),
        ["192.0.2.1"]
    );
    assert_eq!(
        addrs(&ward, main, "ads.example.", RecordType::AAAA),
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
        addrs(&ward, v6, "www.tiktok.com.", RecordType::A),
        ["0.0.0.0"]
    );
    assert_eq!(
        ips(&tcp(ward.dns, &query("www.tiktok.com.", RecordType::AAAA))),
        ["::"]
    );
    assert_eq!(
        addrs(&ward, v6, "www.example.org.", RecordType::A),
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
        addrs(&ward, cameras, "cloaked.example.", RecordType::A),
        ["127.1.0.1"]
    );
    assert_eq!(
        addrs(&ward, main, "cloaked.example.", RecordType::A),
        ["0.0.0.0"]
    );
    assert_eq!(
        addrs(&ward, cameras, "cloaked.example.", RecordType::A),
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

#[test]
fn udp_threads_share_the_port_and_all_answer() {
    let up = upstream();
    let ward = start_args(
        "threads",
        "127.0.0.1:0",
        up,
        up,
        "null_ip",
        &["--threads", "3"],
    );
    // Three UDP sockets on the one port (SO_REUSEPORT), one per thread.
    let port = format!(":{:04X} ", ward.dns.port());
    let udp_table = std::fs::read_to_string("/proc/net/udp").unwrap();
    let sockets = udp_table
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(port.trim()))
        })
        .count();
    assert_eq!(sockets, 3, "UDP sockets on port {}", ward.dns.port());
    // A thread names itself once it runs: give them a moment.
    let udp_threads = || {
        let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", ward.child.id()))
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .map(|c| c.trim().to_owned())
            .filter(|c| c.starts_with("ward-udp"))
            .collect();
        names.sort();
        names
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while udp_threads().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(udp_threads(), ["ward-udp-0", "ward-udp-1", "ward-udp-2"]);
    // Clients on many source ports, which the kernel spreads over the sockets: every one is
    // answered, blocked or forwarded, by whichever thread reads it.
    for i in 0..60 {
        let (name, want) = if i % 2 == 0 {
            (format!("n{i}.ads.example."), "0.0.0.0")
        } else {
            (format!("n{i}.allowed.example."), "127.1.0.1")
        };
        let got = addrs(&ward, ip("127.0.0.2"), &name, RecordType::A);
        assert_eq!(got, [want], "{name}");
    }
}

/// Issue 15: a pod listens on `0.0.0.0:5353` and `[::]:5353` together (dual stack); each
/// answers its own family over UDP and TCP.
#[test]
fn ipv4_and_ipv6_wildcards_share_a_port() {
    let up = upstream();
    // A port free on both stacks, for UDP and TCP: each probe is let go before the next
    // (a dual-stack [::] probe would collide with the IPv4 one it sits beside).
    let free = |port: u16| {
        std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok()
            && std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()
            && std::net::UdpSocket::bind(("::", port)).is_ok()
            && std::net::TcpListener::bind(("::", port)).is_ok()
    };
    let port = (0..100)
        .map(|_| {
            std::net::UdpSocket::bind("0.0.0.0:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .find(|p| free(*p))
        .expect("a port free on both stacks");
    let dir = TempDir::new("dual-stack");
    let path = dir.0.join("ward.yaml");
    std::fs::write(
        &path,
        format!(
            r#"dns: {{ listen: ["0.0.0.0:{port}", "[::]:{port}"] }}
admin: {{ listen: "127.0.0.1:0" }}
upstreams: {{ default: {{ servers: ["{up}"] }} }}
policies: {{ main: {{ rules: ["||ads.example^"] }} }}
default_policy: main
data_dir: "{}"
"#,
            dir.0.join("data").display()
        ),
    )
    .unwrap();
    let _ward = Ward::spawn(&path, &[]);
    for (server, src) in [
        (format!("127.0.0.1:{port}"), "127.0.0.1"),
        (format!("[::1]:{port}"), "::1"),
    ] {
        let server: std::net::SocketAddr = server.parse().unwrap();
        for tcp in [false, true] {
            assert_eq!(
                dig(server, src, "ads.example", tcp),
                "0.0.0.0",
                "{server} tcp={tcp}"
            );
            assert_eq!(
                dig(server, src, "www.example", tcp),
                "127.1.0.1",
                "{server} tcp={tcp}"
            );
        }
    }
}
