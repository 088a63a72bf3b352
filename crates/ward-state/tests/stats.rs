//! Statistics: buckets roll over and expire at the right times, ranges and top lists hold
//! what they should, the saved file survives a restart (and a corrupt one does not stop
//! it), and the memory stays bounded whatever names are asked.

use std::path::PathBuf;
use std::sync::Arc;

use ward_state::querylog::{Entry, Reason};
use ward_state::stats::{
    FILE_NAME, OPEN_KEYS, Range, Report, ReportQuery, Resolution, Stats, TOP_KEPT, TOP_KEPT_OLD,
};

const MINUTE: u64 = 60_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
/// An hour boundary (2023-11-14T22:00:00Z).
const T0: u64 = 1_700_000_000_000 / HOUR * HOUR;

fn entry(time_ms: u64, client: &str, name: &str, reason: Reason) -> Entry {
    Entry {
        time_ms,
        client: client.parse().unwrap(),
        client_name: None,
        client_id: None,
        protocol: ward_state::querylog::Protocol::Udp,
        policy: Arc::from("main"),
        name: name.into(),
        qtype: 1,
        reason,
        rule: None,
        list: None,
        service: None,
        schedule: None,
        answer: "0.0.0.0".into(),
        rcode: 0,
        upstream: None,
        cached: false,
        elapsed_us: 1000,
    }
}

fn ok(time_ms: u64, name: &str) -> Entry {
    entry(time_ms, "10.0.0.1", name, Reason::NotFilteredNotFound)
}

fn query(range: Range, resolution: Resolution) -> ReportQuery {
    ReportQuery {
        range,
        resolution,
        ..ReportQuery::default()
    }
}

fn report(stats: &Stats, now_ms: u64, range: Range) -> Report {
    stats.report(now_ms, &query(range, Resolution::Hour))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ward-stats-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn names(list: &[ward_state::stats::NameCount]) -> Vec<(&str, u64)> {
    list.iter().map(|n| (&*n.name, n.count)).collect()
}

#[test]
fn buckets_roll_over_at_minute_and_hour_boundaries() {
    let stats = Stats::open(None);
    // The last millisecond of an hour (and of its last minute), then the first of the next.
    stats.record(&[ok(T0 + HOUR - 1, "a.example"), ok(T0 + HOUR, "b.example")]);
    stats.record(&[ok(T0 + HOUR + MINUTE - 1, "b.example")]);
    stats.record(&[ok(T0 + HOUR + MINUTE, "c.example")]);
    let now = T0 + HOUR + 2 * MINUTE;

    let by_minute = stats.report(now, &query(Range::Day, Resolution::Minute));
    assert_eq!(by_minute.series.len(), 24 * 60);
    let last: Vec<(u64, u64)> = by_minute.series[24 * 60 - 4..]
        .iter()
        .map(|p| (p.time_ms, p.totals.queries))
        .collect();
    assert_eq!(
        last,
        [
            (T0 + HOUR - MINUTE, 1),
            (T0 + HOUR, 2),
            (T0 + HOUR + MINUTE, 1),
            (T0 + HOUR + 2 * MINUTE, 0),
        ]
    );
    assert_eq!(by_minute.to_ms, T0 + HOUR + 3 * MINUTE);
    assert_eq!(by_minute.from_ms, by_minute.to_ms - DAY);
    assert_eq!(by_minute.totals.queries, 4);

    let by_hour = report(&stats, now, Range::Day);
    assert_eq!(by_hour.series.len(), 24);
    assert_eq!(by_hour.from_ms, T0 + HOUR - 23 * HOUR);
    assert_eq!(by_hour.to_ms, T0 + 2 * HOUR);
    let last: Vec<(u64, u64)> = by_hour.series[22..]
        .iter()
        .map(|p| (p.time_ms, p.totals.queries))
        .collect();
    assert_eq!(last, [(T0, 1), (T0 + HOUR, 3)]);
    assert_eq!(by_hour.series[23].time, "2023-11-14T23:00:00Z");
    // The totals are the sum of the series.
    assert_eq!(by_hour.totals.queries, 4);
}

#[test]
fn ranges_include_their_hours_and_exclude_older_ones() {
    let stats = Stats::open(None);
    let now = T0 + 40 * DAY + 30 * MINUTE;
    let this_hour = now / HOUR * HOUR;
    let ages = [
        ("this-hour.example", 0),
        ("23h.example", 23 * HOUR),
        ("24h.example", 24 * HOUR),
        ("167h.example", 167 * HOUR),
        ("168h.example", 168 * HOUR),
        ("719h.example", 719 * HOUR),
    ];
    let mut batch: Vec<Entry> = ages
        .iter()
        .map(|(name, age)| ok(this_hour - age, name))
        .collect();
    batch.reverse();
    stats.record(&batch);
    // Older than 30 days before the newest entry: ignored.
    stats.record(&[ok(this_hour - 720 * HOUR, "720h.example")]);

    let in_range = |range| -> Vec<String> {
        let mut names: Vec<String> = report(&stats, now, range)
            .top_names
            .into_iter()
            .map(|n| n.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(in_range(Range::Day), ["23h.example", "this-hour.example"]);
    assert_eq!(
        in_range(Range::Week),
        [
            "167h.example",
            "23h.example",
            "24h.example",
            "this-hour.example"
        ]
    );
    assert_eq!(in_range(Range::Month).len(), 6);
    assert_eq!(report(&stats, now, Range::Day).totals.queries, 2);
    assert_eq!(report(&stats, now, Range::Week).totals.queries, 4);
    assert_eq!(report(&stats, now, Range::Month).totals.queries, 6);
    assert_eq!(report(&stats, now, Range::Month).series.len(), 720);
    assert_eq!(report(&stats, now, Range::Week).series.len(), 168);

    // A day later the 30-day range has lost the oldest day, whatever is recorded.
    let later = now + DAY;
    stats.record(&[ok(later, "next-day.example")]);
    let month = report(&stats, later, Range::Month);
    assert!(!month.top_names.iter().any(|n| n.name == "719h.example"));
    assert_eq!(month.totals.queries, 6);
}

#[test]
fn top_lists_are_ordered_and_limited_with_client_names() {
    let stats = Stats::open(None);
    let mut batch = Vec::new();
    for (name, n) in [
        ("b.example", 5),
        ("a.example", 5),
        ("c.example", 3),
        ("d.example", 1),
    ] {
        for i in 0..n {
            batch.push(ok(T0 + i, name));
        }
    }
    for (name, n) in [("ads.example", 4), ("track.example", 2)] {
        for i in 0..n {
            batch.push(entry(T0 + i, "10.0.0.2", name, Reason::FilteredBlockList));
        }
    }
    let mut named = ok(T0 + 50, "a.example");
    named.client = "10.0.0.3".parse().unwrap();
    named.client_name = Some("laptop".into());
    batch.push(named);
    stats.record(&batch);

    let r = stats.report(
        T0 + MINUTE,
        &ReportQuery {
            limit: 3,
            ..ReportQuery::default()
        },
    );
    assert_eq!(
        names(&r.top_names),
        [("a.example", 6), ("b.example", 5), ("ads.example", 4)]
    );
    assert_eq!(
        names(&r.top_blocked),
        [("ads.example", 4), ("track.example", 2)]
    );
    let clients: Vec<(String, Option<&str>, u64)> = r
        .top_clients
        .iter()
        .map(|c| (c.client.to_string(), c.name.as_deref(), c.count))
        .collect();
    assert_eq!(
        clients,
        [
            ("10.0.0.1".to_owned(), None, 14),
            ("10.0.0.2".to_owned(), None, 6),
            ("10.0.0.3".to_owned(), Some("laptop"), 1),
        ]
    );
    // The default limit is 10; more than 100 is cut to 100.
    assert_eq!(report(&stats, T0 + MINUTE, Range::Day).top_names.len(), 6);
    let many = stats.report(
        T0 + MINUTE,
        &ReportQuery {
            limit: 1000,
            ..ReportQuery::default()
        },
    );
    assert_eq!(many.top_names.len(), 6);
}

#[test]
fn ratios_policies_and_upstream_latency() {
    let stats = Stats::open(None);
    let kids: Arc<str> = "kids".into();
    let mut batch = Vec::new();
    for i in 0..8u64 {
        let reason = match i {
            0 | 1 => Reason::FilteredBlockList,
            2 => Reason::NotFilteredAllowList,
            3 => Reason::RewrittenRule,
            _ => Reason::NotFilteredNotFound,
        };
        let mut e = entry(T0 + i, "10.0.0.1", "x.example", reason);
        e.elapsed_us = 500 * (i as u32 + 1);
        if i >= 4 {
            e.upstream = Some(if i < 6 { "8.8.8.8:53" } else { "1.1.1.1:53" }.into());
        }
        if i == 7 {
            // From the cache: counted as cached, not as the upstream's latency.
            e.cached = true;
        }
        if i % 2 == 0 {
            e.policy = kids.clone();
        }
        batch.push(e);
    }
    stats.record(&batch);
    let r = report(&stats, T0 + 10, Range::Day);
    assert_eq!(r.totals.queries, 8);
    assert_eq!(r.totals.blocked, 2);
    assert_eq!(r.totals.allowlisted, 1);
    assert_eq!(r.totals.rewritten, 1);
    assert_eq!(r.totals.cached, 1);
    assert_eq!(r.blocked_ratio, 0.25);
    // (500 + 1000 + ... + 4000) / 8 µs = 2250 µs.
    assert_eq!(r.avg_processing_ms, 2.25);
    let policies: Vec<(&str, u64, u64)> = r
        .policies
        .iter()
        .map(|p| (&*p.policy, p.queries, p.blocked))
        .collect();
    assert_eq!(policies, [("kids", 4, 1), ("main", 4, 1)]);
    let upstreams: Vec<(&str, u64, f64)> = r
        .upstreams
        .iter()
        .map(|u| (&*u.upstream, u.queries, u.avg_ms))
        .collect();
    // 8.8.8.8: 2500 and 3000 µs; 1.1.1.1: 3500 µs (the cached 4000 is left out).
    assert_eq!(upstreams, [("8.8.8.8:53", 2, 2.75), ("1.1.1.1:53", 1, 3.5)]);

    // No queries: zeros, not NaN.
    let empty = report(&Stats::open(None), T0, Range::Day);
    assert_eq!(empty.blocked_ratio, 0.0);
    assert_eq!(empty.avg_processing_ms, 0.0);
    assert!(serde_json::to_string(&empty).is_ok());
}

#[test]
fn blocked_services_and_safe_search_are_counted_per_policy() {
    let stats = Stats::open(None);
    let kids: Arc<str> = "kids".into();
    let mut batch = Vec::new();
    for (i, (policy, reason, name)) in [
        (&kids, Reason::FilteredBlockedService, "tiktok.com"),
        (&kids, Reason::FilteredBlockedService, "www.roblox.com"),
        (&kids, Reason::FilteredSafeSearch, "www.google.com"),
        (&kids, Reason::FilteredSchedule, "example.org"),
        (&kids, Reason::FilteredBlockList, "ads.example"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = entry(T0 + i as u64, "10.0.0.3", name, reason);
        e.policy = policy.clone();
        batch.push(e);
    }
    batch.push(entry(
        T0 + 9,
        "10.0.0.1",
        "www.google.com",
        Reason::NotFilteredNotFound,
    ));
    stats.record(&batch);
    let r = report(&stats, T0 + 10, Range::Day);
    assert_eq!(r.totals.queries, 6);
    // A blocked service and a schedule's block are blocked; safe search is not.
    assert_eq!(r.totals.blocked, 4);
    assert_eq!(r.totals.blocked_services, 2);
    assert_eq!(r.totals.safe_search, 1);
    let series: u64 = r.series.iter().map(|p| p.totals.blocked_services).sum();
    assert_eq!(series, 2);
    let policies: Vec<(&str, u64, u64, u64, u64)> = r
        .policies
        .iter()
        .map(|p| {
            (
                &*p.policy,
                p.queries,
                p.blocked,
                p.blocked_services,
                p.safe_search,
            )
        })
        .collect();
    assert_eq!(policies, [("kids", 5, 4, 2, 1), ("main", 1, 0, 0, 0)]);
    assert!(r.top_blocked.iter().any(|n| n.name == "tiktok.com"));
    // Several nodes' reports add up.
    let merged = Report::merge(vec![r.clone(), r], 10).unwrap();
    assert_eq!(merged.totals.blocked_services, 4);
    assert_eq!(merged.policies[0].safe_search, 2);
}

#[test]
fn a_late_entry_still_counts_after_its_hour_closed() {
    let stats = Stats::open(None);
    stats.record(&[ok(T0 + HOUR - 10, "early.example")]);
    stats.record(&[ok(T0 + HOUR + 5, "next.example")]);
    // 20 ms late, after the next hour began.
    stats.record(&[ok(T0 + HOUR - 1, "late.example")]);
    let r = report(&stats, T0 + HOUR + MINUTE, Range::Day);
    assert_eq!(r.series[22].totals.queries, 2);
    assert_eq!(r.series[23].totals.queries, 1);
    assert!(r.top_names.iter().any(|n| n.name == "late.example"));
}

#[test]
fn statistics_survive_a_restart() {
    let dir = scratch("restart");
    let stats = Stats::open(Some(dir.clone()));
    let mut batch = Vec::new();
    for h in 0..50u64 {
        let mut e = entry(
            T0 + h * HOUR + h,
            "10.0.0.9",
            &format!("n{}.example", h % 7),
            if h % 3 == 0 {
                Reason::FilteredBlockList
            } else {
                Reason::NotFilteredNotFound
            },
        );
        e.client_name = Some("tv".into());
        e.upstream = Some("9.9.9.9:53".into());
        batch.push(e);
    }
    stats.record(&batch);
    stats.save().unwrap();
    assert!(dir.join(FILE_NAME).exists());
    let now = T0 + 50 * HOUR;
    let reopened = Stats::open(Some(dir.clone()));
    for range in [Range::Day, Range::Week, Range::Month] {
        for resolution in [Resolution::Hour, Resolution::Minute] {
            let q = ReportQuery {
                range,
                resolution,
                limit: 100,
            };
            assert_eq!(reopened.report(now, &q), stats.report(now, &q));
        }
    }
    assert_eq!(reopened.tracked_keys(), stats.tracked_keys());
    // Hours 27 to 49 of the 50 recorded are in the last 24 hours (the 24th is `now`'s).
    assert_eq!(
        reopened.report(now, &ReportQuery::default()).totals.queries,
        23
    );
    // And they go on counting where they stopped.
    reopened.record(&[ok(now, "more.example")]);
    assert_eq!(
        reopened.report(now, &ReportQuery::default()).totals.queries,
        24
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_file_is_set_aside_and_the_statistics_start_empty() {
    let dir = scratch("corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    for bad in [
        "{\"version\": 1, \"stats\": {\"newest_ms\": ".to_owned(),
        "\u{0}\u{1}not json".to_owned(),
        // Another version of the format is not guessed at.
        r#"{"version": 99, "stats": {"newest_ms": 0, "minutes": {}, "hours": {}}}"#.to_owned(),
    ] {
        std::fs::write(dir.join(FILE_NAME), &bad).unwrap();
        let stats = Stats::open(Some(dir.clone()));
        assert_eq!(report(&stats, T0, Range::Month).totals.queries, 0);
        assert!(!dir.join(FILE_NAME).exists());
        let set_aside = std::fs::read_to_string(dir.join("stats.json.bad")).unwrap();
        assert_eq!(set_aside, bad);
        // It works as if new, and saves a good file again.
        stats.record(&[ok(T0, "a.example")]);
        stats.save().unwrap();
        let reopened = Stats::open(Some(dir.clone()));
        assert_eq!(report(&reopened, T0, Range::Day).totals.queries, 1);
        std::fs::remove_file(dir.join(FILE_NAME)).unwrap();
    }
    // A missing file is a first start, not an error.
    let _ = std::fs::remove_file(dir.join("stats.json.bad"));
    let stats = Stats::open(Some(dir.clone()));
    assert_eq!(report(&stats, T0, Range::Day).totals.queries, 0);
    assert!(!dir.join("stats.json.bad").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reset_forgets_everything_on_disk_too() {
    let dir = scratch("reset");
    let stats = Stats::open(Some(dir.clone()));
    stats.record(&[ok(T0, "a.example")]);
    stats.save().unwrap();
    stats.reset().unwrap();
    assert_eq!(report(&stats, T0, Range::Day).totals.queries, 0);
    assert_eq!(stats.tracked_keys(), 0);
    let reopened = Stats::open(Some(dir.clone()));
    assert_eq!(report(&reopened, T0, Range::Day).totals.queries, 0);
    // Counting starts again at any time, even earlier than before the reset.
    stats.record(&[ok(T0 - 40 * DAY, "old.example")]);
    assert_eq!(report(&stats, T0 - 40 * DAY, Range::Day).totals.queries, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_open_hour_lets_few_names_asked_once_in() {
    let stats = Stats::open(None);
    // OPEN_KEYS names asked twice each fill the open hour's name map.
    let full: Vec<Entry> = (0..2 * OPEN_KEYS as u64)
        .map(|i| ok(T0 + i / 1000, &format!("n{}.example", i / 2)))
        .collect();
    for batch in full.chunks(1000) {
        stats.record(batch);
    }
    let before = stats.tracked_keys();
    // 20,000 names asked once each. Were each let in, the map would shed its smaller half
    // every 5,000 of them and end full again; the doorkeeper lets in only the few whose
    // bits collide with names turned away before.
    let flood: Vec<Entry> = (0..20_000u64)
        .map(|i| ok(T0 + 100 + i / 1000, &format!("r{i}.flood.example")))
        .collect();
    for batch in flood.chunks(1000) {
        stats.record(batch);
    }
    let after = stats.tracked_keys();
    assert!(
        after < before - OPEN_KEYS / 4,
        "{before} keys, then {after}"
    );
    let r = report(&stats, T0 + HOUR - 1, Range::Day);
    assert_eq!(r.totals.queries, 2 * OPEN_KEYS as u64 + 20_000);
    assert!(
        r.top_names.iter().all(|t| t.count == 2),
        "{:?}",
        r.top_names
    );
    // A name that comes again gets in at its second coming and is counted from there:
    // 2 after three (3 should its first coming collide with a flood name's bits).
    let again: Vec<Entry> = (0..3).map(|i| ok(T0 + 200 + i, "again.example")).collect();
    stats.record(&again);
    let r = report(&stats, T0 + HOUR - 1, Range::Day);
    let count = r
        .top_names
        .iter()
        .find(|t| t.name == "again.example")
        .map(|t| t.count);
    assert!(matches!(count, Some(2 | 3)), "{count:?}");
}

#[test]
fn a_flood_of_distinct_names_keeps_the_open_hour_bounded_and_its_real_top() {
    let stats = Stats::open(None);
    // 50,000 random-looking names from 50,000 clients, one query each, with a name and a
    // client asked 500 times spread through the flood.
    let mut batch = Vec::new();
    for i in 0..50_000u64 {
        let client = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 0xff, i & 0xff);
        batch.push(entry(
            T0 + i % HOUR,
            &client,
            &format!("r{i}.flood.example"),
            Reason::FilteredBlockList,
        ));
        if i % 100 == 0 {
            batch.push(entry(
                T0 + i % HOUR,
                "192.168.1.5",
                "popular.example",
                Reason::FilteredBlockList,
            ));
        }
        if batch.len() >= 1000 {
            stats.record(&batch);
            batch.clear();
        }
    }
    stats.record(&batch);
    assert!(
        stats.tracked_keys() <= 3 * OPEN_KEYS + 1,
        "{}",
        stats.tracked_keys()
    );
    let r = report(&stats, T0 + HOUR - 1, Range::Day);
    assert_eq!(r.totals.queries, 50_500);
    assert_eq!(r.top_names[0].name, "popular.example");
    assert_eq!(r.top_names[0].count, 500);
    assert_eq!(r.top_blocked[0].name, "popular.example");
    assert_eq!(r.top_clients[0].client.to_string(), "192.168.1.5");

    // Once the hour is closed it keeps only its top.
    stats.record(&[ok(T0 + HOUR, "next.example")]);
    let names_clients_kept = 3 * TOP_KEPT + 2;
    assert!(
        stats.tracked_keys() <= names_clients_kept + 3,
        "{}",
        stats.tracked_keys()
    );
    let r = report(&stats, T0 + HOUR, Range::Day);
    assert_eq!(r.top_names[0].name, "popular.example");
    assert_eq!(r.totals.queries, 50_501);
}

#[test]
fn thirty_busy_days_stay_a_few_mib() {
    let dir = scratch("bounded");
    let stats = Stats::open(Some(dir.clone()));
    // 200 distinct names, blocked names and clients in every hour of 30 days.
    for h in 0..720u64 {
        let batch: Vec<Entry> = (0..200u64)
            .map(|i| {
                entry(
                    T0 + h * HOUR + i,
                    &format!("10.1.{}.{}", i / 100, i % 100),
                    &format!("host-{i}-of-hour-{h}.some-long-domain-name.example"),
                    Reason::FilteredBlockList,
                )
            })
            .collect();
        stats.record(&batch);
    }
    let closed_recent = 23 * 3 * TOP_KEPT;
    let closed_old = 696 * 3 * TOP_KEPT_OLD;
    let open = 3 * 200;
    let policies = 720;
    assert!(
        stats.tracked_keys() <= closed_recent + closed_old + open + policies,
        "{}",
        stats.tracked_keys()
    );
    stats.save().unwrap();
    let size = std::fs::metadata(dir.join(FILE_NAME)).unwrap().len();
    assert!(size < 4 << 20, "stats.json is {size} bytes");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_batch_counts_as_its_entries_one_by_one_whatever_their_order() {
    // Entries of two hours and several minutes, interleaved as late entries come: the
    // batch looks each bucket up once per run, and must count the same as single entries.
    let times = [
        T0 + HOUR - 1,
        T0 + HOUR,
        T0 + HOUR - MINUTE,
        T0 + HOUR + 1,
        T0 + HOUR + 2,
        T0 + HOUR - 2,
        T0 + HOUR + MINUTE,
        T0 + 5,
    ];
    let batch: Vec<Entry> = times
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let reason = if i % 3 == 0 {
                Reason::FilteredBlockList
            } else {
                Reason::NotFilteredNotFound
            };
            entry(
                t,
                &format!("10.0.0.{}", i % 2),
                &format!("n{}.example", i % 3),
                reason,
            )
        })
        .collect();
    let batched = Stats::open(None);
    batched.record(&batch);
    let one_by_one = Stats::open(None);
    for e in &batch {
        one_by_one.record(std::slice::from_ref(e));
    }
    let now = T0 + HOUR + 2 * MINUTE;
    for resolution in [Resolution::Hour, Resolution::Minute] {
        let q = ReportQuery {
            limit: 100,
            ..query(Range::Day, resolution)
        };
        assert_eq!(batched.report(now, &q), one_by_one.report(now, &q));
    }
    let r = batched.report(now, &query(Range::Day, Resolution::Hour));
    assert_eq!(r.series[22].totals.queries, 4);
    assert_eq!(r.series[23].totals.queries, 4);
    assert_eq!(r.totals.blocked, 3);
}

/// Issue 14: the primary's `node=all` adds up every pod's report: totals and buckets
/// summed by time, top lists summed name by name, upstream averages weighted by queries.
#[test]
fn reports_of_several_nodes_merge_into_one() {
    let now = T0 + 30 * MINUTE;
    let a = Stats::open(None);
    let b = Stats::open(None);
    let upstream = |e: Entry, server: &str, us: u32| Entry {
        upstream: Some(server.into()),
        elapsed_us: us,
        ..e
    };
    a.record(&[
        upstream(ok(T0 + MINUTE, "a.example"), "9.9.9.9:53", 1000),
        upstream(ok(T0 + MINUTE, "shared.example"), "9.9.9.9:53", 1000),
        entry(
            T0 + 2 * MINUTE,
            "10.0.0.2",
            "ads.example",
            Reason::FilteredBlockList,
        ),
    ]);
    b.record(&[
        upstream(ok(T0 + MINUTE, "shared.example"), "9.9.9.9:53", 4000),
        upstream(ok(T0 + 3 * MINUTE, "shared.example"), "1.1.1.1:53", 2000),
    ]);
    let q = query(Range::Day, Resolution::Minute);
    let merged = Report::merge(vec![a.report(now, &q), b.report(now, &q)], 10).unwrap();
    assert_eq!(merged.totals.queries, 5);
    assert_eq!(merged.totals.blocked, 1);
    assert_eq!(merged.series.len(), a.report(now, &q).series.len());
    let at = |t: u64| {
        merged
            .series
            .iter()
            .find(|p| p.time_ms == t)
            .unwrap()
            .totals
            .queries
    };
    assert_eq!(
        (at(T0 + MINUTE), at(T0 + 2 * MINUTE), at(T0 + 3 * MINUTE)),
        (3, 1, 1)
    );
    assert_eq!(
        names(&merged.top_names),
        [("shared.example", 3), ("a.example", 1), ("ads.example", 1)]
    );
    assert_eq!(names(&merged.top_blocked), [("ads.example", 1)]);
    let quad9 = merged
        .upstreams
        .iter()
        .find(|u| u.upstream == "9.9.9.9:53")
        .unwrap();
    assert_eq!(quad9.queries, 3);
    assert!((quad9.avg_ms - 2.0).abs() < 1e-9, "{}", quad9.avg_ms);
    assert_eq!(merged.policies[0].queries, 5);
    assert_eq!(merged.top_clients[0].count, 4);
    assert!(Report::merge(Vec::new(), 10).is_none());
}
