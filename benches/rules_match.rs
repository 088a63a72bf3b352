//! Lookup cost of [`RuleSet::check`]: throughput with criterion, then per-lookup latency
//! percentiles, which criterion cannot give (it reports the mean of a batch).
//!
//! Sets: the synthetic 1M-name adblock list (`gen_corpus.py`, seed 1) and the real lists
//! of `shared/corpus`. Names: listed names (`blocked-exact`), names one or two labels
//! below a listed name (`blocked-sub`), and names with no listed parent (`allowed`).
//! Streams:
//! - `mixed`: a third of each class, 6,000 distinct names each, shuffled with a fixed
//!   seed, cycled. Its working set (18,000 names) mostly stays in the CPU caches, as the
//!   popular names of real traffic do.
//! - `mixed-cold`: the same with 200,000 distinct names (the allowed ones are the other
//!   corpus's listed names), each looked up once per pass: nearly every index probe is a
//!   cache miss, the worst case.
//! - each class alone, 6,000 distinct names, so the classes compare.
//!
//! Targets against the 1M set: median below 250 ns, p99 below 1 µs.
//!
//! `cargo bench --bench rules_match`; pin it with `taskset -c 1` on a busy machine.
//! The latency report runs after the criterion groups, whatever filter is given.

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{SplitMix, query_names};
use criterion::{Criterion, SamplingMode, Throughput};
use ward_rules::{Line, ListMask, RecordType, Request, RuleSet, parse_line};

/// The shuffle seed of the mixed streams.
const SHUFFLE_SEED: u64 = 0x7761_7264;
/// Lookups timed one by one per stream and round, after one warm-up pass.
const LATENCY_LOOKUPS: usize = 200_000;
const LATENCY_ROUNDS: usize = 3;

/// A rule set and the name streams it is measured with.
struct Workload {
    label: &'static str,
    rules: RuleSet,
    streams: Vec<(&'static str, Stream)>,
}

/// A stream of names packed in one buffer in the order they are looked up, as a server
/// finds them in the packets it has just read: the bench measures the rule set's memory
/// traffic, not a pointer chase to scattered `String`s of its own.
struct Stream {
    text: String,
    spans: Vec<(usize, usize)>,
}

impl Stream {
    fn new(names: Vec<String>) -> Stream {
        let mut text = String::with_capacity(names.iter().map(String::len).sum());
        let mut spans = Vec::with_capacity(names.len());
        for n in &names {
            spans.push((text.len(), n.len()));
            text.push_str(n);
        }
        Stream { text, spans }
    }

    fn iter(&self) -> impl Clone + Iterator<Item = &str> {
        self.spans.iter().map(|&(at, len)| &self.text[at..at + len])
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// Distinct names per class in the warm streams: the generator's allowed names (5,000 +
/// 1,000) bound it, and every class gets the same number so that their figures compare.
const WARM_PER_CLASS: usize = 6_000;
/// Distinct names per class in `mixed-cold`: 200,000 names looked up once per pass, so
/// nearly every lookup misses the CPU caches.
const COLD_PER_CLASS: usize = 66_667;

/// The names a set is measured with, by class.
struct Names {
    exact: Vec<String>,
    sub: Vec<String>,
    /// Few allowed names (the generator's `allowed` files).
    allowed: Vec<String>,
    /// Many allowed names (the other corpus's listed names), empty when unavailable.
    allowed_cold: Vec<String>,
}

fn check(rules: &RuleSet, name: &str) -> ward_rules::Verdict {
    rules.check(&Request::new(name, RecordType::A), &ListMask::ALL)
}

fn compile(lists: Vec<common::List>) -> RuleSet {
    let mut b = RuleSet::builder();
    for l in lists {
        b.add_list(l.name, l.text).expect("within MAX_LISTS");
    }
    b.build()
}

/// The same number of names from each class, interleaved at random.
fn mixed(classes: &[&[String]], per_class: usize) -> Vec<String> {
    let per_class = classes
        .iter()
        .map(|v| v.len())
        .min()
        .unwrap_or(0)
        .min(per_class);
    let mut all: Vec<String> = classes
        .iter()
        .flat_map(|v| v[..per_class].iter().cloned())
        .collect();
    SplitMix::new(SHUFFLE_SEED).shuffle(&mut all);
    all
}

/// `mixed` (a third of each class, warm), `mixed-cold` (the same, 200,000 distinct
/// names), and each class alone with as many distinct names as `mixed` has of it.
fn streams(names: Names, [exact, sub]: [&'static str; 2]) -> Vec<(&'static str, Stream)> {
    let warm = |v: &[String]| v[..v.len().min(WARM_PER_CLASS)].to_vec();
    let mut streams = vec![(
        "mixed",
        mixed(&[&names.exact, &names.sub, &names.allowed], WARM_PER_CLASS),
    )];
    if names.allowed_cold.is_empty() {
        common::skip("the mixed-cold stream: no second corpus for its allowed names");
    } else {
        streams.push((
            "mixed-cold",
            mixed(
                &[&names.exact, &names.sub, &names.allowed_cold],
                COLD_PER_CLASS,
            ),
        ));
    }
    streams.push((exact, warm(&names.exact)));
    streams.push((sub, warm(&names.sub)));
    streams.push(("allowed", warm(&names.allowed)));
    streams
        .into_iter()
        .map(|(label, names)| (label, Stream::new(names)))
        .collect()
}

/// The generator's allowed names: a few thousand names with no listed parent.
fn synthetic_allowed(dir: &Path) -> Vec<String> {
    let mut allowed = query_names(&dir.join("queries-allowed.txt"));
    allowed.extend(query_names(&dir.join("queries-allowed-miss.txt")));
    allowed
}

/// The names of the plain rules of real lists, deduplicated and shuffled.
fn real_names(lists: &[common::List]) -> Vec<String> {
    let mut names = Vec::new();
    for l in lists {
        let Ok(text) = std::str::from_utf8(&l.text) else {
            continue;
        };
        for line in text.lines() {
            match parse_line(line) {
                Line::Domain(name) => names.push(name.to_ascii_lowercase()),
                Line::Hosts { ip, names: n } if ip.is_unspecified() || ip.is_loopback() => names
                    .extend(
                        n.split_whitespace()
                            .filter(|n| n.contains('.'))
                            .map(str::to_ascii_lowercase),
                    ),
                Line::Network {
                    allow: false,
                    pattern,
                    options: "",
                } => {
                    if let Some(name) = pattern
                        .strip_prefix("||")
                        .and_then(|p| p.strip_suffix('^'))
                        .filter(|p| !p.contains(['*', '/', '|', '^']))
                    {
                        names.push(name.to_ascii_lowercase());
                    }
                }
                _ => {}
            }
        }
    }
    names.sort_unstable();
    names.dedup();
    SplitMix::new(SHUFFLE_SEED).shuffle(&mut names);
    names
}

/// The 1M adblock set and the generator's query files; the real lists' names (none of
/// them in the synthetic list) are the many allowed names of `mixed-cold`.
fn synthetic_workload(real: Option<&[common::List]>) -> Option<Workload> {
    let dir = common::synthetic(1_000_000)?;
    let list = common::synthetic_list(1_000_000, "blocklist.adblock")?;
    let names = Names {
        exact: query_names(&dir.join("queries-blocked-exact.txt")),
        sub: query_names(&dir.join("queries-blocked-sub.txt")),
        allowed: synthetic_allowed(&dir),
        allowed_cold: real.map(real_names).unwrap_or_default(),
    };
    Some(Workload {
        label: "adblock-1M",
        rules: compile(vec![list]),
        streams: streams(names, ["blocked-exact", "blocked-sub"]),
    })
}

/// The real lists, with names taken from their own plain rules: listed names, and
/// those names one label down (blocked by `||x^` rules, not by hosts or domain lines,
/// which block the exact name only). Allowed names come from the synthetic corpus.
fn real_workload(lists: Vec<common::List>) -> Workload {
    let mut listed = real_names(&lists);
    let mut rng = SplitMix::new(SHUFFLE_SEED);
    let half = (listed.len() / 2).min(100_000);
    const SUB: [&str; 8] = ["www", "cdn", "api", "m", "static", "img", "t", "x1"];
    let sub: Vec<String> = listed[half..2 * half]
        .iter()
        .map(|n| format!("{}.{n}", SUB[(rng.next_u64() % 8) as usize]))
        .collect();
    listed.truncate(half);
    let (allowed, allowed_cold) = match common::synthetic(1_000_000) {
        Some(dir) => (
            synthetic_allowed(&dir),
            query_names(&dir.join("queries-blocked-exact.txt")),
        ),
        None => {
            let allowed = (0..WARM_PER_CLASS)
                .map(|i| {
                    let tld = ["com", "net", "org", "io", "de"][i % 5];
                    format!("www.w{:x}.ward-bench.{tld}", rng.next_u64() >> 20)
                })
                .collect();
            (allowed, Vec::new())
        }
    };
    let names = Names {
        exact: listed,
        sub,
        allowed,
        allowed_cold,
    };
    Workload {
        label: "real-corpus",
        rules: compile(lists),
        streams: streams(names, ["listed-exact", "listed-sub"]),
    }
}

fn describe(w: &Workload) {
    eprintln!(
        "{}: {} rules, {:.1} MiB memory_usage",
        w.label,
        w.rules.rule_count(),
        w.rules.memory_usage() as f64 / (1024.0 * 1024.0)
    );
    for (stream, names) in &w.streams {
        let filtered = names
            .iter()
            .filter(|n| check(&w.rules, n).is_filtered())
            .count();
        eprintln!(
            "  {stream}: {} names, {filtered} filtered ({:.1}%)",
            names.len(),
            100.0 * filtered as f64 / names.len().max(1) as f64
        );
    }
}

fn throughput(c: &mut Criterion, w: &Workload) {
    let mut group = c.benchmark_group(format!("match/{}", w.label));
    // Flat sampling: one pass over a stream takes milliseconds to a tenth of a second.
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for (stream, names) in &w.streams {
        group.throughput(Throughput::Elements(names.len() as u64));
        group.bench_function(*stream, |b| {
            b.iter(|| {
                for name in names.iter() {
                    black_box(check(&w.rules, black_box(name)));
                }
            })
        });
    }
    group.finish();
}

/// Nanoseconds between two `Instant::now()` with nothing between them, per sample.
fn empty_pairs(n: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let t1 = Instant::now();
        out.push(t1.duration_since(t0).as_nanos() as u64);
    }
    out.sort_unstable();
    out
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 * p / 100.0).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Times `LATENCY_LOOKUPS` single lookups over `names` (cycled), less `overhead`.
fn time_lookups(rules: &RuleSet, names: &Stream, overhead: u64) -> Vec<u64> {
    let mut out = Vec::with_capacity(LATENCY_LOOKUPS);
    for name in names.iter().cycle().take(LATENCY_LOOKUPS) {
        let t0 = Instant::now();
        let v = check(rules, black_box(name));
        let t1 = Instant::now();
        black_box(v);
        out.push((t1.duration_since(t0).as_nanos() as u64).saturating_sub(overhead));
    }
    out.sort_unstable();
    out
}

fn latency(workloads: &[Workload]) {
    let empty = empty_pairs(LATENCY_LOOKUPS);
    let overhead = percentile(&empty, 50.0);
    println!();
    println!(
        "Per-lookup latency, {LATENCY_LOOKUPS} lookups per round after one warm-up pass, \
         in ns, less the {overhead} ns median of an empty Instant pair \
         (empty pair p99 {} ns, p99.9 {} ns)",
        percentile(&empty, 99.0),
        percentile(&empty, 99.9)
    );
    println!(
        "{:<12} {:<14} {:>5} {:>6} {:>6} {:>6} {:>7} {:>8} {:>7}",
        "set", "stream", "round", "p50", "p90", "p99", "p99.9", "max", "mean"
    );
    for w in workloads {
        for (stream, names) in &w.streams {
            if names.is_empty() {
                continue;
            }
            for name in names.iter().take(LATENCY_LOOKUPS) {
                black_box(check(&w.rules, name));
            }
            for round in 1..=LATENCY_ROUNDS {
                let t = time_lookups(&w.rules, names, overhead);
                let mean = t.iter().sum::<u64>() as f64 / t.len() as f64;
                println!(
                    "{:<12} {:<14} {:>5} {:>6} {:>6} {:>6} {:>7} {:>8} {:>7.0}",
                    w.label,
                    stream,
                    round,
                    percentile(&t, 50.0),
                    percentile(&t, 90.0),
                    percentile(&t, 99.0),
                    percentile(&t, 99.9),
                    t.last().copied().unwrap_or(0),
                    mean
                );
            }
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let real = common::real_lists();
    let mut workloads = Vec::new();
    workloads.extend(synthetic_workload(real.as_deref()));
    workloads.extend(real.map(real_workload));
    for w in &workloads {
        describe(w);
    }
    for w in &workloads {
        throughput(&mut c, w);
    }
    c.final_summary();
    if workloads.is_empty() {
        common::skip("the latency percentiles: no rule set to look names up in");
    } else if common::bench_mode() {
        latency(&workloads);
    } else {
        common::skip("the latency percentiles outside `cargo bench`");
    }
}
