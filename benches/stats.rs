//! The statistics' cost per answered query: `Stats::record` per entry, in batches of
//! 1,024 as the recorder thread gives them (the recorder's share of a query, not the
//! query path's).
//!
//! The batches are what a busy resolver sees, at 10,000 queries a second: 200 clients
//! (a quarter of them named in the config), 3 policies, two upstreams and a third of the
//! answers from the cache; 5% of the queries blocked (a pool of 300 ad names), 1%
//! allowlisted, 0.5% rewritten; the other names drawn with a skew from 5,000 popular
//! names, except 5% never seen before (the long tail that fills the open hour's maps and
//! makes them shed their smaller half). Time goes on from batch to batch, so minutes roll
//! over and the minute buckets expire as they do in a server.
//!
//! - `record`: those batches;
//! - `record-new-names`: the same, but every name that is not blocked is new, as when
//!   dnsperf cycles through a corpus of 600,000 names (the open hour's name map is always
//!   full and sheds its smaller half every 5,000 entries);
//! - `record-blocked-flood`: every query blocked, every name new, as dnsperf's
//!   `blocked-exact` set (the name and blocked-name maps both take a key per entry).
//!
//! Target: at most 200 ns an entry for `record`.
//!
//! `cargo bench --bench stats`. `cargo test --benches` runs it once.

mod common;

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::SplitMix;
use criterion::{BatchSize, Criterion, Throughput};
use ward_state::querylog::{Entry, Reason};
use ward_state::stats::Stats;

/// Entries per batch, as the recorder batches them.
const BATCH: usize = 1024;
/// Simulated time between two queries: 10,000 queries a second.
const STEP_US: u64 = 100;

/// What the stats bench draws besides uniform numbers.
trait Skewed {
    fn skewed(&mut self, n: u64) -> u64;
}

impl Skewed for SplitMix {
    /// A number below `n`, small ones more likely (the square of a uniform draw), as
    /// popular names are asked for far more often than the rest.
    fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u) * n as f64) as u64
    }
}

/// An endless stream of realistic entries.
struct Traffic {
    rng: SplitMix,
    time_us: u64,
    /// Names never seen before, per cent of those not blocked.
    new_names_pct: u64,
    /// Every query blocked, for a name never seen before.
    blocked_flood: bool,
    fresh: u64,
    clients: Vec<(IpAddr, Option<String>)>,
    policies: Vec<Arc<str>>,
    upstreams: Vec<Arc<str>>,
}

impl Traffic {
    fn new(new_names_pct: u64, blocked_flood: bool) -> Traffic {
        Traffic {
            rng: SplitMix::new(1),
            time_us: 1_700_000_000_000_000,
            new_names_pct,
            blocked_flood,
            fresh: 0,
            clients: (0..200u32)
                .map(|c| {
                    let ip = format!("192.168.{}.{}", c / 100, c % 100 + 2);
                    let name = (c % 4 == 0).then(|| format!("device-{c}"));
                    (ip.parse().unwrap(), name)
                })
                .collect(),
            policies: ["default", "kids", "guests"]
                .into_iter()
                .map(Arc::from)
                .collect(),
            upstreams: ["https://dns.example/dns-query", "9.9.9.9:53"]
                .into_iter()
                .map(Arc::from)
                .collect(),
        }
    }

    fn entry(&mut self) -> Entry {
        self.time_us += STEP_US;
        let r = self.rng.next_u64();
        let roll = r % 1000;
        let reason = match roll {
            _ if self.blocked_flood => Reason::FilteredBlockList,
            0..50 => Reason::FilteredBlockList,
            50..60 => Reason::NotFilteredAllowList,
            60..65 => Reason::RewrittenRule,
            _ => Reason::NotFilteredNotFound,
        };
        let name = match reason {
            Reason::FilteredBlockList if self.blocked_flood => {
                self.fresh += 1;
                format!("d{}.blocked-{}.example", self.fresh, (r >> 16) % 50)
            }
            Reason::FilteredBlockList => {
                format!("ads{}.tracker{}.example", self.rng.skewed(300), r % 7)
            }
            _ if (r >> 10) % 100 < self.new_names_pct => {
                self.fresh += 1;
                format!("r{}.cdn-{}.example.net", self.fresh, (r >> 16) % 50)
            }
            _ => {
                let n = self.rng.skewed(5_000);
                format!("www.site{n}.example.com")
            }
        };
        let (client, client_name) = self.clients[(r >> 20) as usize % 200].clone();
        let blocked = reason == Reason::FilteredBlockList;
        let cached = !blocked && (r >> 30) % 3 == 0;
        Entry {
            time_ms: self.time_us / 1000,
            client,
            client_name,
            client_id: None,
            protocol: ward_state::querylog::Protocol::Udp,
            policy: self.policies[(r >> 40) as usize % 3].clone(),
            name,
            qtype: if (r >> 45) & 1 == 0 { 1 } else { 28 },
            reason,
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
            upstream: (!blocked).then(|| self.upstreams[(r >> 50) as usize % 2].clone()),
            cached,
            elapsed_us: if cached { 20 } else { (r % 30_000) as u32 },
        }
    }

    fn batch(&mut self) -> Vec<Entry> {
        (0..BATCH).map(|_| self.entry()).collect()
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();

    let mut group = c.benchmark_group("stats-record-1024");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (label, new_names_pct, blocked_flood) in [
        ("record", 5, false),
        ("record-new-names", 100, false),
        ("record-blocked-flood", 100, true),
    ] {
        let stats = Stats::open(None);
        let mut traffic = Traffic::new(new_names_pct, blocked_flood);
        // An hour already under way: its maps hold the popular names.
        for _ in 0..200 {
            stats.record(&traffic.batch());
        }
        group.bench_function(label, |b| {
            b.iter_batched_ref(
                || traffic.batch(),
                |batch| stats.record(black_box(batch)),
                BatchSize::SmallInput,
            )
        });
        eprintln!("{label}: {} keys tracked", stats.tracked_keys());
    }
    group.finish();
    c.final_summary();
}
