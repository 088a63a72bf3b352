//! Query log costs: search latency with one million entries held, and the store's cost
//! per entry written (the recorder thread's share of a query, not the query path's).
//!
//! The log holds 1M entries of 200 clients, 3 policies and 20,000 distinct names (5%
//! blocked), plus 10 entries of one rare name and of one rare client. Searches (a page
//! of 100, newest first):
//! - `newest`: no filter, the API's default view;
//! - `client`: one of the 200 clients (a page is found within ~20,000 entries);
//! - `rare-client`: a client with 10 entries: every key is read;
//! - `rare-name`: a substring of the rare name: every name is scanned (the worst case);
//! - `no-match-name`: a substring nothing has.
//!
//! Target (issue 6): every search well under 50 ms at 1M entries.
//!
//! Writes (`querylog-write-1024`): `Store::write` per batch of 1,024, into the ring only
//! and into the ring and the JSON-lines file. Targets: at most 150 ns an entry in memory,
//! 400 ns with the file. The file's rotated parts are deleted as soon as they are
//! rotated (a zero retention), so a run neither fills the disk (it writes gigabytes)
//! nor waits for it: what is measured is the recorder thread's work and the `write(2)`
//! into the page cache, not the disk's speed.
//!
//! `cargo bench --bench querylog`. `cargo test --benches` runs it once with 20,000
//! entries.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::SplitMix;
use criterion::Criterion;
use ward_state::querylog::{Entry, QueryLog, QueryLogConfig, Reason, Search};

fn entries(n: usize) -> impl Iterator<Item = Entry> {
    let policies: Vec<Arc<str>> = ["default", "kids", "guests"]
        .into_iter()
        .map(Arc::from)
        .collect();
    let upstream: Arc<str> = "https://dns.example/dns-query".into();
    let mut rng = SplitMix::new(1);
    let rare_every = n / 10;
    (0..n).map(move |i| {
        let r = rng.next_u64();
        let blocked = r % 20 == 0;
        let rare = i % rare_every == rare_every / 2;
        let name = if rare {
            "telemetry.rare-vendor.example".to_owned()
        } else {
            let host = (r >> 8) % 20_000;
            format!("host{host}.site{}.example.com", host % 997)
        };
        let client = if rare {
            "10.9.9.9".parse().unwrap()
        } else {
            let c = (r >> 40) % 200;
            format!("192.168.{}.{}", c / 100, c % 100 + 2)
                .parse()
                .unwrap()
        };
        Entry {
            time_ms: 1_700_000_000_000 + i as u64,
            client,
            client_name: None,
            client_id: None,
            protocol: ward_state::querylog::Protocol::Udp,
            policy: policies[(r >> 50) as usize % 3].clone(),
            name,
            qtype: if r & 1 == 0 { 1 } else { 28 },
            reason: if blocked {
                Reason::FilteredBlockList
            } else {
                Reason::NotFilteredNotFound
            },
            rule: blocked.then(|| "||tracker.example^".into()),
            list: blocked.then(|| "adguard-dns".into()),
            service: None,
            schedule: None,
            answer: if blocked {
                "0.0.0.0".into()
            } else {
                "93.184.216.34".into()
            },
            rcode: 0,
            upstream: (!blocked).then(|| upstream.clone()),
            cached: r & 2 == 0,
            elapsed_us: (r % 5000) as u32,
        }
    })
}

/// A log holding `n` entries, written in batches of 1,024 as the recorder writes them.
fn filled(n: usize) -> QueryLog {
    let (log, mut store) = QueryLog::new(QueryLogConfig {
        memory_entries: n,
        ..QueryLogConfig::default()
    });
    let started = Instant::now();
    let mut all = entries(n).peekable();
    while all.peek().is_some() {
        store.write(&all.by_ref().take(1024).collect::<Vec<_>>());
    }
    assert_eq!(log.len(), n, "the bench log must hold every entry");
    eprintln!("filled the log with {n} entries in {:?}", started.elapsed());
    log
}

/// Resident set size from /proc (Linux only).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n = if bench { 1_000_000 } else { 20_000 };
    let rss_before = rss_bytes();
    let log = filled(n);
    if let (Some(before), Some(after)) = (rss_before, rss_bytes()) {
        eprintln!(
            "resident memory of {n} entries: {} MiB ({} bytes an entry)",
            after.saturating_sub(before) >> 20,
            after.saturating_sub(before) / n as u64
        );
    }
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();

    let searches: [(&str, Search); 5] = [
        ("newest", Search::default()),
        (
            "client",
            Search {
                client: Some("192.168.0.42".parse().unwrap()),
                ..Search::default()
            },
        ),
        (
            "rare-client",
            Search {
                client: Some("10.9.9.9".parse().unwrap()),
                ..Search::default()
            },
        ),
        (
            "rare-name",
            Search {
                name: Some("RARE-vendor".into()),
                ..Search::default()
            },
        ),
        (
            "no-match-name",
            Search {
                name: Some("nothing-has-this".into()),
                ..Search::default()
            },
        ),
    ];
    let mut group = c.benchmark_group(format!("querylog-search-{n}"));
    for (label, search) in &searches {
        let found = log.search(search).entries.len();
        eprintln!("{label}: {found} entries on the first page");
        group.bench_function(*label, |b| b.iter(|| black_box(log.search(search))));
    }
    group.finish();
    drop(log);

    // Store::write per entry, in batches of 1,024: into the ring only, and into the ring
    // and the JSON-lines file (rotated at the default 64 MiB, and then deleted).
    let batch: Vec<Entry> = entries(1024).collect();
    let dir = std::env::temp_dir().join(format!("ward-bench-querylog-{}", std::process::id()));
    let mut group = c.benchmark_group("querylog-write-1024");
    group.throughput(criterion::Throughput::Elements(batch.len() as u64));
    for (label, dir) in [("memory", None), ("memory-and-file", Some(dir.clone()))] {
        let (_log, mut store) = QueryLog::new(QueryLogConfig {
            memory_entries: 100_000,
            dir,
            retention: Duration::ZERO,
            ..QueryLogConfig::default()
        });
        group.bench_function(label, |b| b.iter(|| store.write(&batch)));
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
    c.final_summary();
}
