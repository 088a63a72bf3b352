//! The upstream forwarder against in-test upstreams on loopback: a tiny UDP+TCP DNS
//! responder that can be told to drop, delay, truncate, spoof or fail, the same responder
//! behind rustls (DoT), and an HTTP/2 DoH endpoint.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use ward_dns::upstream::{Strategy, UpstreamAddr, UpstreamErrorKind, UpstreamGroup};

// ---------------------------------------------------------------------------------------
// The in-test upstream
// ---------------------------------------------------------------------------------------

/// How the in-test upstream treats the queries it gets.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Answers at once.
    Answer,
    /// Never answers.
    Drop,
    /// Answers after a while.
    Delay(Duration),
    /// Over UDP, answers with TC set and no records; over TCP, answers in full.
    Truncate,
    /// Sends an answer with another id and one for another question (both with the spoof
    /// address), then the real answer.
    SpoofFirst,
    /// Sends only the spoofed answers.
    SpoofOnly,
    /// Answers SERVFAIL.
    ServFail,
}

const SPOOF_IP: Ipv4Addr = Ipv4Addr::new(127, 6, 6, 6);

#[derive(Default)]
struct Stats {
    udp_queries: AtomicUsize,
    tcp_queries: AtomicUsize,
    tcp_connections: AtomicUsize,
    udp_sources: Mutex<HashSet<SocketAddr>>,
    /// (payload size, DO bit) of the last query's OPT record.
    last_edns: Mutex<Option<(u16, bool)>>,
}

struct Behaviour {
    mode: Mutex<Mode>,
    /// The address every A answer carries, telling servers apart.
    ip: Ipv4Addr,
    stats: Stats,
    /// Wakes every TCP connection task to close its connection.
    close_tcp: Notify,
}

impl Behaviour {
    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap()
    }

    fn record(&self, query: &Message) {
        *self.stats.last_edns.lock().unwrap() = query
            .edns
            .as_ref()
            .map(|e| (e.max_payload(), e.flags().dnssec_ok));
    }

    /// The answer to `query` (None for modes that do not answer this way).
    fn answer(&self, query: &Message) -> Message {
        let mut answer = Message::response(query.metadata.id, OpCode::Query);
        answer.metadata.recursion_desired = query.metadata.recursion_desired;
        answer.metadata.recursion_available = true;
        answer.add_queries(query.queries.iter().cloned());
        if query.edns.is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(1232);
            answer.set_edns(edns);
        }
        if self.mode() == Mode::ServFail {
            answer.metadata.response_code = ResponseCode::ServFail;
            return answer;
        }
        if let Some(q) = query.queries.first() {
            if q.query_type() == RecordType::A {
                answer.add_answer(Record::from_rdata(
                    q.name().clone(),
                    60,
                    RData::A(A(self.ip)),
                ));
            }
        }
        answer
    }

    /// The spoofed answers for `query`: another id, then another question.
    fn spoofs(&self, query: &Message) -> [Vec<u8>; 2] {
        let mut wrong_id = self.answer(query);
        wrong_id.metadata.id = query.metadata.id.wrapping_add(1);
        wrong_id.answers[0] =
            Record::from_rdata(query.queries[0].name().clone(), 60, RData::A(A(SPOOF_IP)));
        let mut wrong_question = wrong_id.clone();
        wrong_question.metadata.id = query.metadata.id;
        let other = Name::from_str("spoof.example.").unwrap();
        wrong_question.queries[0].set_name(other.clone());
        wrong_question.answers[0] = Record::from_rdata(other, 60, RData::A(A(SPOOF_IP)));
        [wrong_id.to_vec().unwrap(), wrong_question.to_vec().unwrap()]
    }
}

/// `delay-<ms>.` as the first label asks for a delayed answer, whatever the mode.
fn name_delay(query: &Message) -> Option<Duration> {
    let name = query.queries.first()?.name().to_ascii();
    let ms = name
        .strip_prefix("delay-")?
        .split('.')
        .next()?
        .parse()
        .ok()?;
    Some(Duration::from_millis(ms))
}

/// A plain DNS upstream on 127.0.0.1, UDP and TCP on the same port.
struct TestUpstream {
    addr: SocketAddr,
    behaviour: Arc<Behaviour>,
    /// The server tasks, aborted when the upstream is dropped.
    _tasks: JoinSet<()>,
}

impl TestUpstream {
    async fn start(mode: Mode) -> TestUpstream {
        TestUpstream::start_with_ip(mode, Ipv4Addr::new(127, 1, 0, 1)).await
    }

    async fn start_with_ip(mode: Mode, ip: Ipv4Addr) -> TestUpstream {
        let behaviour = Arc::new(Behaviour {
            mode: Mutex::new(mode),
            ip,
            stats: Stats::default(),
            close_tcp: Notify::new(),
        });
        // UDP on port 0, then TCP on the same port (retried if another test holds it).
        let (udp, tcp) = loop {
            let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            // Room for a burst of a thousand queries.
            socket2::SockRef::from(&udp)
                .set_recv_buffer_size(1 << 20)
                .unwrap();
            udp.set_nonblocking(true).unwrap();
            let udp = UdpSocket::from_std(udp).unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let mut tasks = JoinSet::new();
        tasks.spawn(serve_udp(udp, Arc::clone(&behaviour)));
        let b = Arc::clone(&behaviour);
        tasks.spawn(async move {
            loop {
                let Ok((stream, _)) = tcp.accept().await else {
                    return;
                };
                b.stats.tcp_connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_stream(stream, Arc::clone(&b)));
            }
        });
        TestUpstream {
            addr,
            behaviour,
            _tasks: tasks,
        }
    }

    fn set_mode(&self, mode: Mode) {
        *self.behaviour.mode.lock().unwrap() = mode;
    }

    fn stats(&self) -> &Stats {
        &self.behaviour.stats
    }

    fn udp(&self) -> UpstreamAddr {
        UpstreamAddr::Udp(self.addr)
    }

    fn tcp(&self) -> UpstreamAddr {
        UpstreamAddr::Tcp(self.addr)
    }
}

async fn serve_udp(socket: UdpSocket, b: Arc<Behaviour>) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        b.stats.udp_queries.fetch_add(1, Ordering::SeqCst);
        b.stats.udp_sources.lock().unwrap().insert(from);
        let Ok(query) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        b.record(&query);
        let delay = name_delay(&query);
        let send = |bytes: Vec<u8>, delay: Option<Duration>| {
            let socket = Arc::clone(&socket);
            async move {
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
                let _ = socket.send_to(&bytes, from).await;
            }
        };
        match b.mode() {
            Mode::Drop => {}
            Mode::Truncate => {
                let mut tc = b.answer(&query);
                tc.answers.clear();
                tc.metadata.truncation = true;
                send(tc.to_vec().unwrap(), None).await;
            }
            Mode::SpoofFirst | Mode::SpoofOnly => {
                for spoof in b.spoofs(&query) {
                    send(spoof, None).await;
                }
                if b.mode() == Mode::SpoofFirst {
                    send(b.answer(&query).to_vec().unwrap(), None).await;
                }
            }
            Mode::Delay(d) => {
                tokio::spawn(send(b.answer(&query).to_vec().unwrap(), Some(d)));
            }
            Mode::Answer | Mode::ServFail => {
                let bytes = b.answer(&query).to_vec().unwrap();
                match delay {
                    Some(d) => drop(tokio::spawn(send(bytes, Some(d)))),
                    None => send(bytes, None).await,
                }
            }
        }
    }
}

/// Serves length-framed queries on one TCP or TLS connection, answering each on its own
/// task so that delayed answers come back out of order.
async fn serve_stream<S>(stream: S, b: Arc<Behaviour>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut read, mut write) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            let mut frame = (bytes.len() as u16).to_be_bytes().to_vec();
            frame.extend_from_slice(&bytes);
            if write.write_all(&frame).await.is_err() || write.flush().await.is_err() {
                return;
            }
        }
    });
    let reader = async {
        loop {
            let mut len = [0u8; 2];
            read.read_exact(&mut len).await?;
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
            read.read_exact(&mut buf).await?;
            b.stats.tcp_queries.fetch_add(1, Ordering::SeqCst);
            let Ok(query) = Message::from_vec(&buf) else {
                continue;
            };
            b.record(&query);
            let delay = match b.mode() {
                Mode::Drop | Mode::SpoofOnly => continue,
                Mode::Delay(d) => Some(d),
                _ => name_delay(&query),
            };
            let bytes = b.answer(&query).to_vec().unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
                let _ = tx.send(bytes);
            });
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    };
    tokio::select! {
        _ = reader => {}
        _ = b.close_tcp.notified() => {}
    }
    writer.abort();
}

// ---------------------------------------------------------------------------------------
// DoT and DoH servers
// ---------------------------------------------------------------------------------------

/// A self-signed certificate for `localhost` and 127.0.0.1, and a client configuration that
/// trusts only it.
struct TestPki {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl TestPki {
    fn new() -> TestPki {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        TestPki {
            cert: certified.cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()),
        }
    }

    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    fn acceptor(&self, alpn: &[&[u8]]) -> TlsAcceptor {
        let mut config = rustls::ServerConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    }
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A DoT server: the test upstream's stream handler behind TLS.
async fn start_dot(pki: &TestPki, behaviour: Arc<Behaviour>) -> (SocketAddr, JoinSet<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = pki.acceptor(&[]);
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            behaviour
                .stats
                .tcp_connections
                .fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let b = Arc::clone(&behaviour);
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve_stream(tls, b).await;
                }
            });
        }
    });
    (addr, tasks)
}

/// A DoH server: POST /dns-query over HTTP/2 only. It refuses (400) a query whose id is not
/// 0 and (505) anything but HTTP/2.
async fn start_doh(pki: &TestPki, behaviour: Arc<Behaviour>) -> (SocketAddr, JoinSet<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = pki.acceptor(&[b"h2"]);
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            behaviour
                .stats
                .tcp_connections
                .fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let b = Arc::clone(&behaviour);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |req| doh(req, Arc::clone(&b)));
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, tasks)
}

async fn doh(
    req: hyper::Request<Incoming>,
    b: Arc<Behaviour>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let status = |code: u16| {
        Ok(hyper::Response::builder()
            .status(code)
            .body(Full::new(Bytes::new()))
            .unwrap())
    };
    if req.version() != hyper::Version::HTTP_2 {
        return status(505);
    }
    let content_type = req.headers().get("content-type").cloned();
    if req.method() != hyper::Method::POST
        || req.uri().path() != "/dns-query"
        || content_type.as_ref().map(|v| v.as_bytes()) != Some(b"application/dns-message")
    {
        return status(400);
    }
    let Ok(body) = req.into_body().collect().await else {
        return status(400);
    };
    b.stats.tcp_queries.fetch_add(1, Ordering::SeqCst);
    let Ok(query) = Message::from_vec(&body.to_bytes()) else {
        return status(400);
    };
    if query.metadata.id != 0 {
        return status(400);
    }
    b.record(&query);
    if let Mode::Delay(d) = b.mode() {
        tokio::time::sleep(d).await;
    }
    let answer = b.answer(&query).to_vec().unwrap();
    Ok(hyper::Response::builder()
        .header("content-type", "application/dns-message")
        .body(Full::new(Bytes::from(answer)))
        .unwrap())
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn query(name: &str, id: u16) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_str(name).unwrap(), RecordType::A));
    m
}

fn a_records(answer: &Message) -> Vec<IpAddr> {
    answer
        .answers
        .iter()
        .filter_map(|r| r.data.ip_addr())
        .collect()
}

fn group(servers: Vec<UpstreamAddr>, strategy: Strategy, timeout_ms: u64) -> UpstreamGroup {
    UpstreamGroup::new(
        "test",
        servers,
        strategy,
        Duration::from_millis(timeout_ms),
        None,
    )
    .unwrap()
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 1, 0, last))
}

/// A UDP address on which nothing listens: the kernel answers "port unreachable".
async fn dead_udp_addr() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.local_addr().unwrap()
}

// ---------------------------------------------------------------------------------------
// Plain DNS over UDP
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn udp_answer_carries_the_callers_id() {
    let upstream = TestUpstream::start(Mode::Answer).await;
    let group = group(vec![upstream.udp()], Strategy::Failover, 2000);
    let answer = group
        .resolve(&query("www.example.com.", 0xbeef))
        .await
        .unwrap();
    assert_eq!(answer.metadata.id, 0xbeef);
    assert_eq!(answer.metadata.message_type, MessageType::Response);
    assert_eq!(answer.queries[0].name().to_ascii(), "www.example.com.");
    assert_eq!(a_records(&answer), vec![ip(1)]);
    assert!(answer.edns.is_none(), "the client sent no OPT record");
    assert_eq!(group.name(), "test");
}

#[tokio::test]
async fn edns_do_bit_passes_through_and_1232_is_advertised() {
    let upstream = TestUpstream::start(Mode::Answer).await;
    let group = group(vec![upstream.udp()], Strategy::Failover, 2000);

    group.resolve(&query("a.example.", 1)).await.unwrap();
    assert_eq!(
        *upstream.stats().last_edns.lock().unwrap(),
        Some((1232, false))
    );

    let mut with_do = query("b.example.", 2);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    edns.set_dnssec_ok(true);
    with_do.set_edns(edns);
    let answer = group.resolve(&with_do).await.unwrap();
    assert_eq!(
        *upstream.stats().last_edns.lock().unwrap(),
        Some((1232, true))
    );
    assert!(answer.edns.is_some(), "the client sent an OPT record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_concurrent_queries_spread_over_random_source_ports() {
    let upstream = TestUpstream::start(Mode::Answer).await;
    let group = group(vec![upstream.udp()], Strategy::Failover, 5000);
    let mut queries = JoinSet::new();
    for i in 0..2000u16 {
        let group = group.clone();
        queries.spawn(async move {
            let name = format!("q{i}.example.");
            let answer = group.resolve(&query(&name, i)).await.unwrap();
            assert_eq!(answer.metadata.id, i);
            assert_eq!(answer.queries[0].name().to_ascii(), name);
            assert_eq!(a_records(&answer), vec![ip(1)]);
        });
    }
    while let Some(done) = queries.join_next().await {
        done.unwrap();
    }
    assert_eq!(upstream.stats().udp_queries.load(Ordering::SeqCst), 2000);
    // A socket carries 64 queries at most: some 32 sockets, on ports drawn from
    // 1024-65535, not from the kernel's ephemeral range (32768-60999 on Linux), which
    // 31 random draws all miss below 32768 with a chance of 1e-9.
    let sources = upstream.stats().udp_sources.lock().unwrap().clone();
    assert!(
        (2000 / 64..=800).contains(&sources.len()),
        "{} source sockets for 2000 queries",
        sources.len()
    );
    let low = sources.iter().filter(|s| s.port() < 32768).count();
    assert!(low > 0, "no source port below 32768: {sources:?}");
    assert!(sources.iter().all(|s| s.port() >= 1024));
}

#[tokio::test]
async fn answers_with_a_wrong_id_or_question_are_ignored() {
    let upstream = TestUpstream::start(Mode::SpoofFirst).await;
    let group = group(vec![upstream.udp()], Strategy::Failover, 2000);
    for i in 0..20 {
        let answer = group.resolve(&query("bank.example.", i)).await.unwrap();
        assert_eq!(
            a_records(&answer),
            vec![ip(1)],
            "a spoofed answer was taken"
        );
        assert_eq!(answer.queries[0].name().to_ascii(), "bank.example.");
    }

    upstream.set_mode(Mode::SpoofOnly);
    let err = group.resolve(&query("bank.example.", 1)).await.unwrap_err();
    assert_eq!(err.kind(), UpstreamErrorKind::Timeout);
}

#[tokio::test]
async fn a_truncated_answer_is_asked_again_over_tcp() {
    let upstream = TestUpstream::start(Mode::Truncate).await;
    let group = group(vec![upstream.udp()], Strategy::Failover, 2000);
    let answer = group.resolve(&query("big.example.", 77)).await.unwrap();
    assert_eq!(answer.metadata.id, 77);
    assert!(!answer.metadata.truncation);
    assert_eq!(a_records(&answer), vec![ip(1)]);
    assert_eq!(upstream.stats().udp_queries.load(Ordering::SeqCst), 1);
    assert_eq!(upstream.stats().tcp_queries.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn no_answer_is_a_timeout_error_within_the_timeout() {
    let upstream = TestUpstream::start(Mode::Drop).await;
    let group = group(vec![upstream.udp()], Strategy::Failover, 200);
    let started = Instant::now();
    let err = group.resolve(&query("slow.example.", 1)).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), UpstreamErrorKind::Timeout);
    assert_eq!(err.server(), Some(upstream.udp().to_string().as_str()));
    assert!(
        took >= Duration::from_millis(200),
        "gave up early: {took:?}"
    );
    assert!(took < Duration::from_millis(400), "gave up late: {took:?}");
}

#[tokio::test]
async fn a_late_answer_after_a_timeout_does_not_disturb_the_next_query() {
    let upstream = TestUpstream::start(Mode::Delay(Duration::from_millis(150))).await;
    let group = group(vec![upstream.udp()], Strategy::Failover, 100);
    let err = group.resolve(&query("late.example.", 1)).await.unwrap_err();
    assert_eq!(err.kind(), UpstreamErrorKind::Timeout);
    upstream.set_mode(Mode::Answer);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = group.resolve(&query("next.example.", 2)).await.unwrap();
    assert_eq!(answer.queries[0].name().to_ascii(), "next.example.");
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn parallel_takes_the_fastest_answer() {
    let slow = TestUpstream::start_with_ip(
        Mode::Delay(Duration::from_millis(400)),
        Ipv4Addr::new(127, 1, 0, 1),
    )
    .await;
    let fast = TestUpstream::start_with_ip(Mode::Answer, Ipv4Addr::new(127, 1, 0, 2)).await;
    let group = group(vec![slow.udp(), fast.udp()], Strategy::Parallel, 2000);
    let started = Instant::now();
    let answer = group.resolve(&query("race.example.", 5)).await.unwrap();
    assert_eq!(a_records(&answer), vec![ip(2)]);
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(slow.stats().udp_queries.load(Ordering::SeqCst), 1);
    assert_eq!(fast.stats().udp_queries.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn parallel_passes_over_a_servfail_and_returns_it_when_all_fail() {
    let failing = TestUpstream::start_with_ip(Mode::ServFail, Ipv4Addr::new(127, 1, 0, 1)).await;
    let good = TestUpstream::start_with_ip(
        Mode::Delay(Duration::from_millis(50)),
        Ipv4Addr::new(127, 1, 0, 2),
    )
    .await;
    let group = group(vec![failing.udp(), good.udp()], Strategy::Parallel, 2000);
    let answer = group.resolve(&query("x.example.", 5)).await.unwrap();
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert_eq!(a_records(&answer), vec![ip(2)]);

    good.set_mode(Mode::ServFail);
    let answer = group.resolve(&query("x.example.", 6)).await.unwrap();
    assert_eq!(answer.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(answer.metadata.id, 6);
}

#[tokio::test]
async fn failover_skips_a_dead_server_at_once() {
    let good = TestUpstream::start_with_ip(Mode::Answer, Ipv4Addr::new(127, 1, 0, 2)).await;
    let dead = UpstreamAddr::Udp(dead_udp_addr().await);
    let group = group(vec![dead, good.udp()], Strategy::Failover, 1000);
    let started = Instant::now();
    let answer = group.resolve(&query("x.example.", 5)).await.unwrap();
    assert_eq!(a_records(&answer), vec![ip(2)]);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "port unreachable should fail over without waiting for the timeout"
    );
}

#[tokio::test]
async fn failover_moves_on_after_a_timeout_or_a_servfail() {
    let first = TestUpstream::start_with_ip(Mode::Drop, Ipv4Addr::new(127, 1, 0, 1)).await;
    let second = TestUpstream::start_with_ip(Mode::Answer, Ipv4Addr::new(127, 1, 0, 2)).await;
    let group = group(vec![first.udp(), second.udp()], Strategy::Failover, 150);
    let started = Instant::now();
    let answer = group.resolve(&query("x.example.", 5)).await.unwrap();
    assert_eq!(a_records(&answer), vec![ip(2)]);
    assert!(started.elapsed() >= Duration::from_millis(150));

    first.set_mode(Mode::ServFail);
    let answer = group.resolve(&query("x.example.", 6)).await.unwrap();
    assert_eq!(a_records(&answer), vec![ip(2)]);
    assert_eq!(first.stats().udp_queries.load(Ordering::SeqCst), 2);
    assert_eq!(second.stats().udp_queries.load(Ordering::SeqCst), 2);

    // A healthy first server takes everything.
    first.set_mode(Mode::Answer);
    let answer = group.resolve(&query("x.example.", 7)).await.unwrap();
    assert_eq!(a_records(&answer), vec![ip(1)]);
    assert_eq!(second.stats().udp_queries.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn all_servers_failing_is_an_all_failed_error() {
    let a = TestUpstream::start(Mode::Drop).await;
    let b = TestUpstream::start(Mode::Drop).await;
    for strategy in [Strategy::Parallel, Strategy::Failover, Strategy::RoundRobin] {
        let group = group(vec![a.udp(), b.udp()], strategy, 100);
        let err = group.resolve(&query("x.example.", 5)).await.unwrap_err();
        assert_eq!(err.kind(), UpstreamErrorKind::AllFailed, "{strategy}");
        assert!(err.to_string().contains("timed out"), "{err}");
    }
}

#[tokio::test]
async fn round_robin_alternates_between_servers() {
    let a = TestUpstream::start_with_ip(Mode::Answer, Ipv4Addr::new(127, 1, 0, 1)).await;
    let b = TestUpstream::start_with_ip(Mode::Answer, Ipv4Addr::new(127, 1, 0, 2)).await;
    let group = group(vec![a.udp(), b.udp()], Strategy::RoundRobin, 1000);
    let mut seen = Vec::new();
    for i in 0..6 {
        let answer = group.resolve(&query("rr.example.", i)).await.unwrap();
        seen.push(a_records(&answer)[0]);
    }
    assert_eq!(seen, [ip(1), ip(2), ip(1), ip(2), ip(1), ip(2)]);
    assert_eq!(a.stats().udp_queries.load(Ordering::SeqCst), 3);
    assert_eq!(b.stats().udp_queries.load(Ordering::SeqCst), 3);

    // A dead turn moves on to the other server.
    a.set_mode(Mode::ServFail);
    for i in 0..4 {
        let answer = group.resolve(&query("rr.example.", i)).await.unwrap();
        assert_eq!(a_records(&answer), vec![ip(2)]);
    }
}

// ---------------------------------------------------------------------------------------
// Plain DNS over TCP
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_pipelines_queries_on_one_connection() {
    let upstream = TestUpstream::start(Mode::Answer).await;
    let group = group(vec![upstream.tcp()], Strategy::Failover, 5000);
    // Later queries are answered sooner: answers come back in reverse order.
    let started = Instant::now();
    let mut queries = JoinSet::new();
    for i in 0..50u16 {
        let group = group.clone();
        queries.spawn(async move {
            let name = format!("delay-{}.q{i}.example.", (50 - i) * 4);
            let answer = group.resolve(&query(&name, i)).await.unwrap();
            assert_eq!(answer.metadata.id, i);
            assert_eq!(answer.queries[0].name().to_ascii(), name);
            assert_eq!(a_records(&answer), vec![ip(1)]);
        });
    }
    while let Some(done) = queries.join_next().await {
        done.unwrap();
    }
    // One at a time this would take the sum of the delays, 5.1 s.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(upstream.stats().tcp_connections.load(Ordering::SeqCst), 1);
    assert_eq!(upstream.stats().tcp_queries.load(Ordering::SeqCst), 50);
    assert_eq!(upstream.stats().udp_queries.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn tcp_reconnects_after_the_server_closes_the_connection() {
    let upstream = TestUpstream::start(Mode::Answer).await;
    let group = group(vec![upstream.tcp()], Strategy::Failover, 2000);
    group.resolve(&query("one.example.", 1)).await.unwrap();
    upstream.behaviour.close_tcp.notify_waiters();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answer = group.resolve(&query("two.example.", 2)).await.unwrap();
    assert_eq!(a_records(&answer), vec![ip(1)]);
    assert_eq!(upstream.stats().tcp_connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_silent_tcp_connection_is_replaced() {
    let upstream = TestUpstream::start(Mode::Answer).await;
    let group = group(vec![upstream.tcp()], Strategy::Failover, 600);
    group.resolve(&query("one.example.", 1)).await.unwrap();
    // The connection stays open but nothing comes back (a half-open connection).
    upstream.set_mode(Mode::Drop);
    for i in 0..3 {
        let err = group.resolve(&query("lost.example.", i)).await.unwrap_err();
        assert_eq!(err.kind(), UpstreamErrorKind::Timeout);
    }
    upstream.set_mode(Mode::Answer);
    let answer = group.resolve(&query("two.example.", 2)).await.unwrap();
    assert_eq!(a_records(&answer), vec![ip(1)]);
    assert_eq!(upstream.stats().tcp_connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn tcp_to_a_closed_port_fails_fast() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let group = group(vec![UpstreamAddr::Tcp(addr)], Strategy::Failover, 2000);
    let started = Instant::now();
    let err = group.resolve(&query("x.example.", 1)).await.unwrap_err();
    assert_eq!(err.kind(), UpstreamErrorKind::Io);
    assert!(started.elapsed() < Duration::from_millis(500));
}

// ---------------------------------------------------------------------------------------
// DNS over TLS
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_with_an_injected_root_pipelines_on_one_connection() {
    let pki = TestPki::new();
    let upstream = TestUpstream::start(Mode::Answer).await;
    let (addr, _server) = start_dot(&pki, Arc::clone(&upstream.behaviour)).await;
    let server: UpstreamAddr = format!("tls://{addr}#localhost").parse().unwrap();
    let group = UpstreamGroup::new(
        "dot",
        vec![server],
        Strategy::Failover,
        Duration::from_secs(5),
        Some(pki.client_config()),
    )
    .unwrap();
    let mut queries = JoinSet::new();
    for i in 0..20u16 {
        let group = group.clone();
        queries.spawn(async move {
            let name = format!("delay-{}.dot{i}.example.", (20 - i) * 5);
            let answer = group.resolve(&query(&name, i)).await.unwrap();
            assert_eq!(answer.metadata.id, i);
            assert_eq!(a_records(&answer), vec![ip(1)]);
        });
    }
    while let Some(done) = queries.join_next().await {
        done.unwrap();
    }
    let stats = upstream.stats();
    assert_eq!(stats.tcp_connections.load(Ordering::SeqCst), 1);
    assert_eq!(stats.tcp_queries.load(Ordering::SeqCst), 20);
}

#[tokio::test]
async fn dot_checks_the_certificate() {
    let pki = TestPki::new();
    let upstream = TestUpstream::start(Mode::Answer).await;
    let (addr, _server) = start_dot(&pki, Arc::clone(&upstream.behaviour)).await;

    // The public roots do not know the test certificate.
    let server: UpstreamAddr = format!("tls://{addr}#localhost").parse().unwrap();
    let group = group(vec![server], Strategy::Failover, 2000);
    let err = group.resolve(&query("x.example.", 1)).await.unwrap_err();
    assert_eq!(err.kind(), UpstreamErrorKind::Tls, "{err}");

    // A trusted certificate for another name.
    let server: UpstreamAddr = format!("tls://{addr}#dns.example").parse().unwrap();
    let group = UpstreamGroup::new(
        "dot",
        vec![server],
        Strategy::Failover,
        Duration::from_secs(2),
        Some(pki.client_config()),
    )
    .unwrap();
    let err = group.resolve(&query("x.example.", 1)).await.unwrap_err();
    assert_eq!(err.kind(), UpstreamErrorKind::Tls, "{err}");
    assert_eq!(upstream.stats().tcp_queries.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------------------
// DNS over HTTPS
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doh_posts_over_http2_with_id_zero() {
    let pki = TestPki::new();
    let upstream = TestUpstream::start(Mode::Answer).await;
    let (addr, _server) = start_doh(&pki, Arc::clone(&upstream.behaviour)).await;
    for text in [
        format!("https://{addr}/dns-query"),
        format!("https://localhost:{}/dns-query#127.0.0.1", addr.port()),
    ] {
        let server: UpstreamAddr = text.parse().unwrap();
        let group = UpstreamGroup::new(
            "doh",
            vec![server],
            Strategy::Failover,
            Duration::from_secs(5),
            Some(pki.client_config()),
        )
        .unwrap();
        // One query first: until the first connection is up, concurrent queries may each
        // start one (hyper's pool cannot know yet that the server speaks HTTP/2).
        let first = group
            .resolve(&query("doh-first.example.", 999))
            .await
            .unwrap();
        assert_eq!(a_records(&first), vec![ip(1)]);
        let mut queries = JoinSet::new();
        for i in 0..20u16 {
            let group = group.clone();
            queries.spawn(async move {
                let name = format!("doh{i}.example.");
                let answer = group.resolve(&query(&name, 1000 + i)).await.unwrap();
                assert_eq!(answer.metadata.id, 1000 + i);
                assert_eq!(answer.queries[0].name().to_ascii(), name);
                assert_eq!(a_records(&answer), vec![ip(1)]);
            });
        }
        while let Some(done) = queries.join_next().await {
            done.unwrap();
        }
    }
    let stats = upstream.stats();
    assert_eq!(stats.tcp_queries.load(Ordering::SeqCst), 42);
    // One HTTP/2 connection per group, queries multiplexed on it.
    assert_eq!(stats.tcp_connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn doh_errors_are_http_errors() {
    let pki = TestPki::new();
    let upstream = TestUpstream::start(Mode::Answer).await;
    let (addr, _server) = start_doh(&pki, Arc::clone(&upstream.behaviour)).await;
    let server: UpstreamAddr = format!("https://{addr}/wrong-path").parse().unwrap();
    let group = UpstreamGroup::new(
        "doh",
        vec![server],
        Strategy::Failover,
        Duration::from_secs(2),
        Some(pki.client_config()),
    )
    .unwrap();
    let err = group.resolve(&query("x.example.", 1)).await.unwrap_err();
    assert_eq!(err.kind(), UpstreamErrorKind::Http, "{err}");
    assert!(err.to_string().contains("400"), "{err}");
}

#[tokio::test]
async fn doh_times_out() {
    let pki = TestPki::new();
    let upstream = TestUpstream::start(Mode::Delay(Duration::from_millis(500))).await;
    let (addr, _server) = start_doh(&pki, Arc::clone(&upstream.behaviour)).await;
    let server: UpstreamAddr = format!("https://{addr}/dns-query").parse().unwrap();
    let group = UpstreamGroup::new(
        "doh",
        vec![server],
        Strategy::Failover,
        Duration::from_millis(200),
        Some(pki.client_config()),
    )
    .unwrap();
    let started = Instant::now();
    let err = group.resolve(&query("x.example.", 1)).await.unwrap_err();
    assert_eq!(err.kind(), UpstreamErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_millis(450));
}

// ---------------------------------------------------------------------------------------
// Throughput (run by hand: cargo test -p ward-dns --release --test upstream -- --ignored
// --nocapture)
// ---------------------------------------------------------------------------------------

/// CPU time of the whole process: the sum over its threads of
/// /proc/self/task/*/schedstat (nanoseconds on the CPU).
fn process_cpu() -> Duration {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("schedstat");
        if let Ok(stat) = std::fs::read_to_string(path) {
            total += Duration::from_nanos(stat.split(' ').next().unwrap().parse().unwrap());
        }
    }
    total
}

/// CPU time of the calling thread, from /proc/thread-self/schedstat.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    Duration::from_nanos(stat.split(' ').next().unwrap().parse().unwrap())
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Udp,
    Tcp,
    Tls,
    Https,
}

/// Forwards `queries` queries with `in_flight` at a time through one group with one server
/// on `transport`, and prints queries/s and CPU per query: the whole process, the responder
/// (its own thread), and the rest (the forwarder, plus the load generator's query building,
/// which is small).
fn measure(transport: Transport, queries: usize, in_flight: usize) {
    // The responder runs on its own thread and single-threaded runtime, so that its CPU time
    // can be told apart from the forwarder's.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let responder = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let upstream = TestUpstream::start(Mode::Answer).await;
            let pki = TestPki::new();
            let (server, tls, _servers) = match transport {
                Transport::Udp => (upstream.udp(), None, None),
                Transport::Tcp => (upstream.tcp(), None, None),
                Transport::Tls => {
                    let (addr, tasks) = start_dot(&pki, Arc::clone(&upstream.behaviour)).await;
                    let server = format!("tls://{addr}#localhost").parse().unwrap();
                    (server, Some(pki.client_config()), Some(tasks))
                }
                Transport::Https => {
                    let (addr, tasks) = start_doh(&pki, Arc::clone(&upstream.behaviour)).await;
                    let server = format!("https://{addr}/dns-query").parse().unwrap();
                    (server, Some(pki.client_config()), Some(tasks))
                }
            };
            addr_tx.send((server, tls)).unwrap();
            let before = thread_cpu();
            let _ = stop_rx.await;
            thread_cpu() - before
        })
    });
    let (server, tls) = addr_rx.recv().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let group = UpstreamGroup::new(
        "bench",
        vec![server],
        Strategy::Failover,
        Duration::from_secs(2),
        tls,
    )
    .unwrap();
    let names: Arc<Vec<Message>> = Arc::new(
        (0..1000)
            .map(|i| query(&format!("host{i}.bench.example."), i as u16))
            .collect(),
    );
    let (wall, cpu, failed) = rt.block_on(async {
        // Open the sockets and connections first.
        group.resolve(&names[0]).await.unwrap();
        let next = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let cpu_before = process_cpu();
        let started = Instant::now();
        let mut workers = JoinSet::new();
        for _ in 0..in_flight {
            let (group, names, next, failed) = (
                group.clone(),
                Arc::clone(&names),
                Arc::clone(&next),
                Arc::clone(&failed),
            );
            workers.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= queries {
                        break;
                    }
                    if group.resolve(&names[i % names.len()]).await.is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        while workers.join_next().await.is_some() {}
        let wall = started.elapsed();
        (
            wall,
            process_cpu() - cpu_before,
            failed.load(Ordering::Relaxed),
        )
    });
    stop_tx.send(()).unwrap();
    let responder_cpu = responder.join().unwrap();
    let forwarder_cpu = cpu.saturating_sub(responder_cpu);
    let per_query = |d: Duration| d.as_secs_f64() * 1e6 / queries as f64;
    println!(
        "{transport:?}: {queries} queries, {in_flight} in flight, 1 worker thread: \
         {:.0} queries/s, {failed} failed; CPU per query: process {:.2} µs, \
         responder {:.2} µs, forwarder (with load generator) {:.2} µs",
        queries as f64 / wall.as_secs_f64(),
        per_query(cpu),
        per_query(responder_cpu),
        per_query(forwarder_cpu),
    );
    assert_eq!(failed, 0);
}

#[test]
#[ignore = "measurement: run by hand with --release --ignored --nocapture"]
fn throughput_of_one_group_against_the_test_upstream() {
    measure(Transport::Udp, 100_000, 256);
    measure(Transport::Tcp, 100_000, 256);
    measure(Transport::Tls, 100_000, 256);
    measure(Transport::Https, 20_000, 256);
}
