//! What the query thread pays for recording a query (issue 6), in process, without
//! sockets: `Handler::handle` on a blocked and on a cached name, against the same with
//! its `Trace`, the two clock reads and the `Event` pushed into a `Batch` for the
//! `Recorder`, as the UDP loop does. A writer on another thread drains the channel, as
//! in the server; with `queue-full`, the channel is full and every event is dropped (the
//! cost of building one, without the writer's).
//!
//! `cargo bench --bench query_path`: unpinned, the writer runs on the other core (the
//! case where handing records over crosses cores); under `taskset -c 0` both share one.
//! `cargo test --benches` runs each case once.

use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::Criterion;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use ward_config::Config;
use ward_dns::handler::{Handler, Origin, Runtime};
use ward_dns::metrics::DnsMetrics;
use ward_dns::record::{self, Event, Protocol, RecordConfig, Response, Trace};
use ward_state::{DiskLists, Snapshot};

/// Polls a future once: the handler answers blocked and cached names without waiting.
fn now<T>(f: impl Future<Output = T>) -> T {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the bench's queries are answered without waiting"),
    }
}

fn query(name: &str) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

/// A handler with a list of 10,000 blocked names and a cache holding `cached.example`
/// (put there by a local upstream that answers once).
fn handler(
    rt: &tokio::runtime::Runtime,
    queue: usize,
) -> (Arc<Handler>, tokio::task::JoinHandle<()>) {
    let dir = std::env::temp_dir().join(format!("ward-bench-query-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("ads.txt");
    let rules: String = (0..10_000)
        .map(|i| format!("||ads{i}.example^\n"))
        .collect();
    std::fs::write(&list, rules).unwrap();
    let upstream = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((len, src)) = upstream.recv_from(&mut buf) {
            let mut answer = Message::from_vec(&buf[..len]).unwrap();
            let name = answer.queries[0].name().clone();
            answer.metadata.message_type = hickory_proto::op::MessageType::Response;
            answer.add_answer(hickory_proto::rr::Record::from_rdata(
                name,
                3600,
                hickory_proto::rr::RData::A(std::net::Ipv4Addr::new(93, 184, 216, 34).into()),
            ));
            let _ = upstream.send_to(&answer.to_vec().unwrap(), src);
        }
    });
    let config = Config::from_yaml(&format!(
        r#"
dns: {{ listen: ["127.0.0.1:0"] }}
upstreams: {{ default: {{ servers: ["{upstream_addr}"] }} }}
lists: [{{ id: ads, path: "{}" }}]
policies:
  main: {{ lists: [ads] }}
  # The kids' VLAN: parental control on top, with a window open all day (so every
  # query pays for the open schedules too).
  kids:
    extends: main
    safe_search: true
    blocked_services: [social, games, tiktok]
    schedules:
      - {{ days: all, from: "00:00", to: "24:00", allow_services: [instagram] }}
clients: [{{ subnet: 127.0.0.3/32, policy: kids }}]
default_policy: main
data_dir: "{}"
"#,
        list.display(),
        dir.display()
    ))
    .unwrap();
    let snapshot = Snapshot::build(config, &DiskLists { data_dir: dir }, 1).unwrap();
    let metrics = DnsMetrics::default();
    let (recorder, writer) = record::channel(
        RecordConfig {
            capacity: queue,
            store: None,
            sinks: Vec::new(),
            anonymize_clients: false,
        },
        &metrics,
        None,
    );
    let (runtime, _) = rt.block_on(Runtime::build(Arc::new(snapshot)));
    let handler = Arc::new(Handler::with_recorder(runtime, recorder, &metrics));
    let src: SocketAddr = "127.0.0.2:5353".parse().unwrap();
    // Fill the cache through the upstream.
    rt.block_on(handler.handle(&query("cached.example"), src, true))
        .unwrap();
    rt.block_on(handler.handle(&query("forcesafesearch.google.com"), src, true))
        .unwrap();
    let writer = if queue > 1 {
        rt.spawn(writer.run(std::future::pending()))
    } else {
        // Never drained: after one event the channel is full.
        std::mem::forget(writer);
        rt.spawn(async {})
    };
    (handler, writer)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let src: SocketAddr = "127.0.0.2:5353".parse().unwrap();
    let mut group = c.benchmark_group("query-path");
    for (label, queue) in [("drained", 16_384), ("queue-full", 1)] {
        let (handler, _writer) = handler(&rt, queue);
        for name in ["ads77.example", "cached.example"] {
            let packet = query(name);
            let kind = if name.starts_with("ads") {
                "blocked"
            } else {
                "cached"
            };
            if label == "drained" {
                group.bench_function(format!("{kind}/handle"), |b| {
                    b.iter(|| black_box(now(handler.handle(&packet, src, true))))
                });
            }
            // The UDP loop's batch, handed over at every `Batch::MAX` events here (the
            // loop also hands it over whenever its socket has nothing to read).
            let mut batch = handler.batch().unwrap();
            group.bench_function(format!("{kind}/handle+record/{label}"), |b| {
                b.iter(|| {
                    let received = Instant::now();
                    let mut trace = Trace::for_batch(&batch);
                    let answer = now(handler.handle_traced(
                        &packet,
                        Origin {
                            src,
                            udp: true,
                            client_id: None,
                        },
                        &mut trace,
                    ));
                    let answer = black_box(answer.unwrap());
                    batch.push(Event {
                        received,
                        elapsed: received.elapsed(),
                        client: src.ip(),
                        client_id: None,
                        protocol: Protocol::Udp,
                        response: Response::new(answer),
                        trace,
                    });
                })
            });
        }
    }
    // Parental control's cost: the kids' policy on the same names, a blocked service, and
    // safe search (a CNAME to a cached enforcement host).
    let (handler, _writer) = handler(&rt, 16_384);
    let kids: SocketAddr = "127.0.0.3:5353".parse().unwrap();
    for (kind, name) in [
        ("blocked", "ads77.example"),
        ("cached", "cached.example"),
        ("service", "www.tiktok.com"),
        ("safe-search", "www.google.com"),
    ] {
        let packet = query(name);
        group.bench_function(format!("kids/{kind}/handle"), |b| {
            b.iter(|| black_box(now(handler.handle(&packet, kids, true))))
        });
    }
    group.finish();
    c.final_summary();
}
