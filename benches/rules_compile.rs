//! Compile time of a [`RuleSet`]: `builder`, `add_list` and `build`, parsing included,
//! on one thread, as `ward compile` and a list reload pay it.
//!
//! Inputs: the real lists of `shared/corpus` (five lists in one set), and synthetic
//! adblock lists of 1M and 2M names and a hosts list of 1M names (`gen_corpus.py`,
//! seed 1). Target: 1M rules in at most 0.5 s, and 2M in about twice that. Also a
//! policy's custom rules (1 and 100), which compile on their own.
//!
//! `cargo bench --bench rules_compile`; pin it with `taskset -c 1` on a busy machine.

mod common;

use std::time::Duration;

use common::List;
use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use ward_rules::RuleSet;

fn compile(lists: Vec<List>) -> RuleSet {
    let mut b = RuleSet::builder();
    for l in lists {
        b.add_list(l.name, l.text).expect("within MAX_LISTS");
    }
    b.build()
}

/// A policy's custom rules, as a user writes them in the UI: blocks, exceptions, a
/// client-specific rule and a rewrite, `n` in all.
fn custom_rules(n: usize) -> List {
    let mut text = String::new();
    for i in 0..n {
        let line = match i % 4 {
            0 => format!("||blocked-{i}.example^\n"),
            1 => format!("@@||allowed-{i}.example^\n"),
            2 => format!("||kids-{i}.example^$client=192.168.20.0/24\n"),
            _ => format!("||nas-{i}.home.example^$dnsrewrite=192.168.1.{}\n", i % 250),
        };
        text.push_str(&line);
    }
    List {
        name: "custom".into(),
        text: text.into_bytes(),
    }
}

fn inputs() -> Vec<(&'static str, Vec<List>)> {
    // Custom rules compile on their own, so editing one never recompiles the lists.
    let mut inputs = vec![
        ("custom-1-rule", vec![custom_rules(1)]),
        ("custom-100-rules", vec![custom_rules(100)]),
    ];
    if let Some(real) = common::real_lists() {
        inputs.push(("real-corpus-5-lists", real));
    }
    // Each corpus is located (or generated) once, whichever of its files are used.
    let n1m = common::synthetic(1_000_000);
    let n2m = common::synthetic(2_000_000);
    let synthetic = [
        ("adblock-1M", &n1m, "blocklist.adblock"),
        ("adblock-2M", &n2m, "blocklist.adblock"),
        ("hosts-1M", &n1m, "blocklist.hosts"),
    ];
    for (label, dir, file) in synthetic {
        if let Some(list) = dir.as_deref().and_then(|d| common::read_list(d, file)) {
            inputs.push((label, vec![list]));
        }
    }
    inputs
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let inputs = inputs();

    let mut group = c.benchmark_group("compile");
    // One compile of 2M rules is about a second: ten flat samples of one iteration
    // each keep the whole bench to a few minutes.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    for (label, lists) in &inputs {
        // One untimed compile for the figures the time is read against.
        let rules = compile(lists.clone());
        let count = rules.rule_count();
        let text = rules.text_bytes();
        let memory = rules.memory_usage();
        eprintln!(
            "{label}: {count} rules, {:.1} MiB text, memory_usage {:.1} MiB \
             ({:.1} bytes per rule beyond the text)",
            mib(text),
            mib(memory),
            memory.saturating_sub(text) as f64 / count.max(1) as f64,
        );
        drop(rules);
        group.throughput(Throughput::Elements(count));
        // The copy of the input is made outside the timed part: `add_list` takes the
        // bytes by value, as `ward compile` hands over what it read from disk.
        group.bench_function(*label, |b| {
            b.iter_batched(|| lists.clone(), compile, BatchSize::PerIteration)
        });
    }
    group.finish();
    c.final_summary();
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
