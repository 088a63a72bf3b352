//! Fuzzes the query path: arbitrary bytes as a DNS request through `Handler::handle`,
//! the wire fast path for plain queries and the hickory full path for the rest, with a
//! config that reaches every kind of answer (blocked, hosts addresses, `$dnsrewrite` A /
//! CNAME / TXT, local records with a wildcard, a CNAME chain and a long TXT, a forward
//! zone, a private reverse zone, ANY refused, a disallowed client, the rate limit) and a
//! local upstream, so forwarded queries are answered, cached and filtered too.
//!
//! Input layout: the first byte picks the transport (bit 0: UDP, else TCP) and the client
//! (bits 1-3, see `CLIENTS`); the rest is the request.
//!
//! Beyond "does not panic", an answer must be a response to the request: at least a
//! header, QR set, the request's id, within the client's UDP size over UDP (its EDNS
//! payload clamped to 512..=1232, else 512) and a message's 65,535 bytes over TCP, and
//! readable by hickory.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, OnceLock};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, rdata};
use libfuzzer_sys::fuzz_target;
use ward_config::Config;
use ward_dns::handler::{Handler, Runtime};
use ward_state::{DiskLists, Snapshot};

/// The clients a request can come from (the config below says what each one is).
const CLIENTS: [IpAddr; 8] = [
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), // default policy
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), // the `kids` client, by name and tag
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)), // not whitelisted: rate limited
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)), // disallowed
    IpAddr::V6(Ipv6Addr::LOCALHOST),
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5)),
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
];

struct Fixture {
    rt: tokio::runtime::Runtime,
    handler: Handler,
}

/// Answers every query it can read with one A record (or, for names starting as below,
/// forty of them, a CNAME to a blocked name, or SERVFAIL), and anything else with its
/// header turned into a response.
fn upstream(socket: UdpSocket) {
    let mut buf = [0u8; 65_535];
    while let Ok((len, src)) = socket.recv_from(&mut buf) {
        let raw = &buf[..len];
        let answer = match Message::from_vec(raw) {
            Ok(mut m) => {
                m.metadata.message_type = MessageType::Response;
                m.metadata.recursion_available = true;
                if let Some(name) = m.queries.first().map(|q| q.name().clone()) {
                    let label = name.iter().next().unwrap_or_default();
                    let a = |i: u8| {
                        Record::from_rdata(
                            name.clone(),
                            300,
                            RData::A(Ipv4Addr::new(93, 184, 216, i).into()),
                        )
                    };
                    if label.starts_with(b"big") {
                        for i in 0..40 {
                            m.add_answer(a(i));
                        }
                    } else if label.starts_with(b"cn") {
                        let target = Name::from_ascii("ads.example.").unwrap();
                        m.add_answer(Record::from_rdata(
                            name.clone(),
                            300,
                            RData::CNAME(rdata::CNAME(target)),
                        ));
                    } else if label.starts_with(b"fail") {
                        m.metadata.response_code = ResponseCode::ServFail;
                    } else {
                        m.add_answer(a(34));
                    }
                }
                m.to_vec().unwrap_or_else(|_| header_response(raw))
            }
            Err(_) => header_response(raw),
        };
        let _ = socket.send_to(&answer, src);
    }
}

fn header_response(raw: &[u8]) -> Vec<u8> {
    let mut out = raw[..raw.len().min(12)].to_vec();
    out.resize(12, 0);
    out[2] |= 0x80;
    out[4..12].fill(0);
    out
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ward-fuzz-dns-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("lists")).unwrap();
        let list = dir.join("lists/ads.txt");
        std::fs::write(
            &list,
            "! ads\n||ads.example^\n||tracker.example^$important\n@@||ok.ads.example^\n\
             /^tr[a-z]+\\.example$/\n||v6only.example^$dnstype=AAAA\n\
             ||kids-only.example^$ctag=user_child\n||by-name.example^$client='kids-tablet'\n",
        )
        .unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let up = socket.local_addr().unwrap();
        std::thread::spawn(move || upstream(socket));
        let long_txt = "t".repeat(600);
        let text = format!(
            r#"data_dir: "{dir}"
dns:
  listen: ["127.0.0.1:0"]
  upstream_timeout: 50ms
  refuse_any: true
  ratelimit: 5
  ratelimit_whitelist: ["127.0.0.1/32", "127.0.0.2/32", "127.0.0.5/32", "::1/128"]
  disallowed_clients: ["127.0.0.4/32"]
upstreams:
  default: {{ servers: ["{up}"] }}
  router: {{ servers: ["{up}"] }}
forward:
  - {{ zones: [home.example, 168.192.in-addr.arpa], upstream: router }}
records:
  - {{ name: nas.home.example, type: A, value: 10.0.0.5 }}
  - {{ name: nas.home.example, type: AAAA, value: "fd00::5" }}
  - {{ name: "*.lan.example", type: A, value: 10.0.0.6 }}
  - {{ name: printer.lan.example, type: CNAME, value: alias.lan.example }}
  - {{ name: alias.lan.example, type: CNAME, value: nas.home.example }}
  - {{ name: away.lan.example, type: CNAME, value: forwarded.example }}
  - {{ name: txt.lan.example, type: TXT, value: "{long_txt}" }}
  - {{ name: 5.0.0.10.in-addr.arpa, type: PTR, value: nas.home.example }}
lists:
  - {{ id: ads, path: "{list}" }}
policies:
  main:
    lists: [ads]
    rules:
      - "||custom.example^"
      - "10.1.2.3 hosted.example"
      - "::1 hosted6.example"
      - "||rw-a.example^$dnsrewrite=NOERROR;A;1.2.3.4"
      - "||rw-cname.example^$dnsrewrite=rw-target.example"
      - "||rw-blocked.example^$dnsrewrite=ads.example"
      - "||rw-txt.example^$dnsrewrite=NOERROR;TXT;{long_txt}"
      - "||rw-nx.example^$dnsrewrite=NXDOMAIN"
  kids: {{ extends: main, rules: ["||games.example^"], blocking_mode: nxdomain }}
clients:
  - {{ subnet: 127.0.0.2/32, policy: kids, name: kids-tablet, tags: [user_child] }}
default_policy: main
"#,
            dir = dir.display(),
            list = list.display(),
        );
        let config = Config::from_yaml(&text).unwrap_or_else(|e| panic!("{e}"));
        let snapshot = Snapshot::build(config, &DiskLists { data_dir: dir }, 1).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (runtime, errors) = rt.block_on(Runtime::build(Arc::new(snapshot)));
        assert!(errors.is_empty(), "{errors:?}");
        Fixture {
            rt,
            handler: Handler::new(runtime),
        }
    })
}

/// The largest UDP answer the request allows, as the handler reads it: its EDNS payload
/// (from whichever parser takes it) clamped to 512..=1232, else 512.
fn udp_limit(request: &[u8]) -> usize {
    let mut buf = [0u8; 255];
    if let Some(q) = ward_dns::wire::parse_query(request, &mut buf) {
        return q.udp_limit();
    }
    match Message::from_vec(request) {
        Ok(m) => m
            .edns
            .map_or(512, |e| usize::from(e.max_payload().clamp(512, 1232))),
        Err(_) => 512,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, request)) = data.split_first() else {
        return;
    };
    let udp = sel & 1 == 1;
    let client = CLIENTS[usize::from(sel >> 1) % CLIENTS.len()];
    let src = SocketAddr::new(client, 5353);
    let f = fixture();
    let Some(answer) = f.rt.block_on(f.handler.handle(request, src, udp)) else {
        return;
    };
    assert!(
        answer.len() >= 12,
        "an answer shorter than a header: {answer:?}"
    );
    assert!(answer[2] & 0x80 != 0, "an answer without QR: {answer:?}");
    if request.len() >= 2 {
        assert_eq!(answer[..2], request[..2], "an answer with another id");
    }
    if udp {
        let limit = udp_limit(request);
        assert!(
            answer.len() <= limit,
            "{} bytes over UDP, the client takes {limit}",
            answer.len()
        );
    } else {
        assert!(
            answer.len() <= usize::from(u16::MAX),
            "{} bytes",
            answer.len()
        );
    }
    if let Err(e) = Message::from_vec(&answer) {
        panic!("an answer hickory cannot read ({e}): {answer:?}");
    }
});
