//! The query log: what is logged is found, filtered and paged; what must not be logged
//! is not; files rotate and expire, and a failing disk loses only their lines. (A flood
//! that overflows the query path's channel is tested end to end, in
//! tests/querylog_e2e.rs.)

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ward_state::querylog::{
    ClientFilter, Cursor, Entry, QueryLog, QueryLogConfig, Reason, ReasonFilter, Search, Store,
    UpstreamFilter, anonymize_ip, parse_qtype, parse_rcode, parse_reason,
};

/// One entry at a time, as the tests log them.
trait LogOne {
    fn log(&mut self, entry: Entry);
}

impl LogOne for Store {
    fn log(&mut self, entry: Entry) {
        self.write(&[entry]);
    }
}

fn entry(i: u64, client: &str, policy: &Arc<str>, name: &str, reason: Reason) -> Entry {
    Entry {
        time_ms: 1_700_000_000_000 + i,
        client: client.parse().unwrap(),
        client_name: None,
        client_id: None,
        protocol: ward_state::querylog::Protocol::Udp,
        policy: policy.clone(),
        name: name.into(),
        qtype: 1,
        reason,
        rule: (reason == Reason::FilteredBlockList).then(|| "||ads.example^".into()),
        list: (reason == Reason::FilteredBlockList).then(|| "ads".into()),
        service: None,
        schedule: None,
        answer: "0.0.0.0".into(),
        rcode: 0,
        upstream: None,
        cached: false,
        elapsed_us: 120,
    }
}

/// Polls until `n` entries are held (the writer drains asynchronously), for up to 1 s.
async fn wait_len(log: &QueryLog, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while log.len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(log.len(), n, "entries held after 1 s");
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ward-querylog-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn names(page: &[Entry]) -> Vec<&str> {
    page.iter().map(|e| &*e.name).collect()
}

/// 300 entries: clients 10.0.0.{0,1,2}, policies kids/adults, every 7th blocked, names
/// `host<i>.example.com`.
async fn filled() -> QueryLog {
    let (log, mut store) = QueryLog::new(QueryLogConfig::default());
    let kids: Arc<str> = "kids".into();
    let adults: Arc<str> = "adults".into();
    for i in 0..300 {
        let policy = if i % 2 == 0 { &kids } else { &adults };
        let reason = if i % 7 == 0 {
            Reason::FilteredBlockList
        } else {
            Reason::NotFilteredNotFound
        };
        let client = format!("10.0.0.{}", i % 3);
        store.log(entry(
            i,
            &client,
            policy,
            &format!("host{i}.example.com"),
            reason,
        ));
    }
    wait_len(&log, 300).await;
    log
}

#[tokio::test]
async fn logged_entries_are_found_newest_first_with_every_field() {
    let log = filled().await;
    let page = log.search(&Search::default());
    assert_eq!(page.entries.len(), 100);
    assert_eq!(page.entries[0].name, "host299.example.com");
    assert_eq!(page.entries[99].name, "host200.example.com");
    let blocked = &log
        .search(&Search {
            name: Some("HOST294.".into()),
            ..Search::default()
        })
        .entries[0];
    assert_eq!(blocked.reason, Reason::FilteredBlockList);
    assert_eq!(blocked.rule.as_deref(), Some("||ads.example^"));
    assert_eq!(blocked.list.as_deref(), Some("ads"));
    assert_eq!(&*blocked.policy, "kids");
    assert_eq!(blocked.time_ms, 1_700_000_000_294);
}

#[tokio::test]
async fn filters_combine() {
    let log = filled().await;
    let all = |s: Search| {
        log.search(&Search {
            limit: Some(1000),
            ..s
        })
        .entries
    };
    let blocked = all(Search {
        reason: Some(ReasonFilter::only(Reason::FilteredBlockList)),
        ..Search::default()
    });
    assert_eq!(blocked.len(), 43); // 0, 7, ..., 294
    assert!(
        blocked
            .iter()
            .all(|e| (e.time_ms - 1_700_000_000_000) % 7 == 0)
    );

    let client = all(Search {
        client: Some("10.0.0.1".parse().unwrap()),
        ..Search::default()
    });
    assert_eq!(client.len(), 100);
    let subnet = all(Search {
        client: Some("10.0.0.0/24".parse().unwrap()),
        ..Search::default()
    });
    assert_eq!(subnet.len(), 300);
    let v6 = all(Search {
        client: Some("fd00::/8".parse().unwrap()),
        ..Search::default()
    });
    assert!(v6.is_empty());

    let kids_blocked = all(Search {
        policy: Some("kids".into()),
        reason: Some(ReasonFilter::only(Reason::FilteredBlockList)),
        ..Search::default()
    });
    // Even multiples of 7 below 300.
    assert_eq!(kids_blocked.len(), 22);
    assert!(
        all(Search {
            policy: Some("nobody".into()),
            ..Search::default()
        })
        .is_empty()
    );

    let range = all(Search {
        from_ms: Some(1_700_000_000_010),
        to_ms: Some(1_700_000_000_019),
        ..Search::default()
    });
    assert_eq!(range.len(), 10);

    let substring = all(Search {
        name: Some("ST12".into()),
        ..Search::default()
    });
    assert_eq!(
        names(&substring),
        [
            "host129.example.com",
            "host128.example.com",
            "host127.example.com",
            "host126.example.com",
            "host125.example.com",
            "host124.example.com",
            "host123.example.com",
            "host122.example.com",
            "host121.example.com",
            "host120.example.com",
            "host12.example.com",
        ]
    );
    // A name matching twice is listed once.
    assert_eq!(
        all(Search {
            name: Some("e".into()),
            ..Search::default()
        })
        .len(),
        300
    );
}

#[tokio::test]
async fn a_cursor_walks_every_page_without_repeats_or_gaps() {
    let log = filled().await;
    for (filter, expected) in [
        (Search::default(), 300),
        (
            Search {
                name: Some("1".into()),
                ..Search::default()
            },
            (0..300)
                .filter(|i: &u64| i.to_string().contains('1'))
                .count(),
        ),
        (
            Search {
                client: Some("10.0.0.2".parse().unwrap()),
                ..Search::default()
            },
            100,
        ),
    ] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = log.search(&Search {
                limit: Some(7),
                cursor,
                ..filter.clone()
            });
            assert!(page.entries.len() <= 7);
            seen.extend(page.entries.iter().map(|e| e.time_ms));
            match page.next_cursor {
                Some(c) => cursor = Some(c.parse::<Cursor>().unwrap()),
                None => break,
            }
        }
        assert_eq!(seen.len(), expected, "{filter:?}");
        assert!(
            seen.windows(2).all(|w| w[0] > w[1]),
            "newest first, no repeats"
        );
        let all = log.search(&Search {
            limit: Some(1000),
            ..filter.clone()
        });
        let all: Vec<u64> = all.entries.iter().map(|e| e.time_ms).collect();
        assert_eq!(seen, all, "no gaps");
    }
    assert!("x".parse::<Cursor>().is_err());
}

#[tokio::test]
async fn the_ring_keeps_the_newest() {
    let (log, mut store) = QueryLog::new(QueryLogConfig {
        memory_entries: 5000,
        ..QueryLogConfig::default()
    });
    let p: Arc<str> = "default".into();
    for i in 0..12_000 {
        store.log(entry(
            i,
            "10.0.0.1",
            &p,
            "a.example",
            Reason::NotFilteredNotFound,
        ));
        if i % 4000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    wait_len(&log, 5000).await;
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let page = log.search(&Search {
            limit: Some(1000),
            from_ms: Some(0),
            ..Search::default()
        });
        if page.entries[0].time_ms == 1_700_000_000_000 + 11_999 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = log.search(&Search {
            limit: Some(1000),
            cursor,
            ..Search::default()
        });
        all.extend(page.entries.iter().map(|e| e.time_ms - 1_700_000_000_000));
        match page.next_cursor {
            Some(c) => cursor = Some(c.parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(all, (7000..12_000).rev().collect::<Vec<_>>());
}

#[tokio::test]
async fn anonymised_clients_lose_their_host_part() {
    assert_eq!(
        anonymize_ip("192.168.1.77".parse().unwrap()),
        "192.168.1.0".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        anonymize_ip("2001:db8:1:2:3:4:5:6".parse().unwrap()),
        "2001:db8:1::".parse::<IpAddr>().unwrap()
    );
    let dir = scratch("anon");
    let (log, mut store) = QueryLog::new(QueryLogConfig {
        anonymize_clients: true,
        dir: Some(dir.clone()),
        ..QueryLogConfig::default()
    });
    let p: Arc<str> = "default".into();
    store.log(entry(
        1,
        "192.168.1.77",
        &p,
        "a.example",
        Reason::NotFilteredNotFound,
    ));
    store.log(entry(
        2,
        "2001:db8:1:2:3:4:5:6",
        &p,
        "b.example",
        Reason::NotFilteredNotFound,
    ));
    wait_len(&log, 2).await;
    let clients: Vec<IpAddr> = log
        .search(&Search::default())
        .entries
        .iter()
        .map(|e| e.client)
        .collect();
    assert_eq!(
        clients,
        [
            "2001:db8:1::".parse::<IpAddr>().unwrap(),
            "192.168.1.0".parse().unwrap()
        ]
    );
    drop(store);
    let text = std::fs::read_to_string(dir.join("querylog.json")).unwrap();
    assert!(!text.contains(".77") && !text.contains(":5:6"), "{text}");
    assert!(text.contains("\"client\":\"192.168.1.0\""), "{text}");
}

#[tokio::test]
async fn ignored_names_are_never_logged() {
    let dir = scratch("ignore");
    let (log, mut store) = QueryLog::new(QueryLogConfig {
        ignore: vec!["Exact.example.".into(), "*.local".into()],
        dir: Some(dir.clone()),
        ..QueryLogConfig::default()
    });
    let p: Arc<str> = "default".into();
    for name in [
        "exact.example",
        "EXACT.example",
        "sub.exact.example",
        "printer.local",
        "a.b.local",
        "local",
        "notlocal",
    ] {
        store.log(entry(1, "10.0.0.1", &p, name, Reason::NotFilteredNotFound));
    }
    wait_len(&log, 3).await;
    let page = log.search(&Search::default());
    assert_eq!(
        names(&page.entries),
        ["notlocal", "local", "sub.exact.example"]
    );
    drop(store);
    let text = std::fs::read_to_string(dir.join("querylog.json")).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(!text.contains("printer") && !text.contains("\"exact.example\""));
}

#[tokio::test]
async fn a_batch_mixing_kept_changed_and_ignored_entries_keeps_its_order() {
    // One write: entries logged as given, entries the config changes (their copies are
    // logged in their place) and ignored entries, interleaved.
    let dir = scratch("mixed");
    let (log, mut store) = QueryLog::new(QueryLogConfig {
        ignore: vec!["*.local".into()],
        anonymize_clients: true,
        dir: Some(dir.clone()),
        ..QueryLogConfig::default()
    });
    let p: Arc<str> = "default".into();
    let batch: Vec<Entry> = [
        ("10.0.0.0", "one.example"),
        ("10.0.0.9", "two.example"),
        ("10.0.0.0", "printer.local"),
        ("10.0.0.0", "THREE.example."),
        ("10.0.0.7", "NAS.local"),
        ("10.0.0.0", "four.example"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (client, name))| entry(i as u64, client, &p, name, Reason::NotFilteredNotFound))
    .collect();
    store.write(&batch);
    wait_len(&log, 4).await;
    let page = log.search(&Search::default());
    assert_eq!(
        names(&page.entries),
        [
            "four.example",
            "three.example",
            "two.example",
            "one.example"
        ]
    );
    assert!(
        page.entries
            .iter()
            .all(|e| e.client == "10.0.0.0".parse::<IpAddr>().unwrap())
    );
    drop(store);
    let text = std::fs::read_to_string(dir.join("querylog.json")).unwrap();
    let names_in_file: Vec<String> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["name"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        names_in_file,
        [
            "one.example",
            "two.example",
            "three.example",
            "four.example"
        ]
    );
    assert!(
        !text.contains("10.0.0.9") && !text.contains("local"),
        "{text}"
    );
}

#[tokio::test]
async fn entries_serialize_with_readable_fields() {
    let p: Arc<str> = "kids".into();
    let mut e = entry(0, "10.0.0.1", &p, "ads.example", Reason::FilteredBlockList);
    e.qtype = 28;
    e.rcode = 3;
    e.upstream = Some("dns.example:53".into());
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["time"], "2023-11-14T22:13:20.000Z");
    assert_eq!(v["time_ms"], 1_700_000_000_000u64);
    assert_eq!(v["client"], "10.0.0.1");
    assert_eq!(v["qtype"], "AAAA");
    assert_eq!(v["reason"], "FilteredBlockList");
    assert_eq!(v["rcode"], "NXDOMAIN");
    assert_eq!(v["rule"], "||ads.example^");
    assert_eq!(v["upstream"], "dns.example:53");
    // A type without a name has RFC 3597's.
    e.qtype = 65_280;
    assert_eq!(serde_json::to_value(&e).unwrap()["qtype"], "TYPE65280");
    assert!(v.get("client_name").is_none(), "absent fields are left out");

    // `blocked` is every blocked answer: by a rule, a service or a schedule.
    let blocked = parse_reason("blocked").unwrap();
    for (reason, kept) in [
        (Reason::FilteredBlockList, true),
        (Reason::FilteredBlockedService, true),
        (Reason::FilteredSchedule, true),
        (Reason::FilteredSafeSearch, false),
        (Reason::NotFilteredNotFound, false),
    ] {
        assert_eq!(blocked.matches(reason), kept, "{reason:?}");
    }
    let exact = parse_reason("FilteredBlockList").unwrap();
    assert!(exact.matches(Reason::FilteredBlockList));
    assert!(!exact.matches(Reason::FilteredBlockedService));
    assert_eq!(
        parse_reason("rewrittenrule"),
        Some(ReasonFilter::only(Reason::RewrittenRule))
    );
    assert_eq!(
        parse_reason("safe_search"),
        Some(ReasonFilter::only(Reason::FilteredSafeSearch))
    );
    assert_eq!(parse_reason("nope"), None);
    assert_eq!(
        "laptop".parse::<ClientFilter>(),
        Ok(ClientFilter::Name("laptop".into()))
    );
    assert!("10.0.0.0/33".parse::<ClientFilter>().is_err());
}

fn rotated(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "querylog.json")
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn files_are_json_lines_rotated_at_the_size() {
    let dir = scratch("rotate");
    let (log, mut store) = QueryLog::new(QueryLogConfig {
        dir: Some(dir.clone()),
        rotate_bytes: 4096,
        ..QueryLogConfig::default()
    });
    let p: Arc<str> = "default".into();
    for i in 0..200 {
        store.log(entry(
            i,
            "10.0.0.1",
            &p,
            &format!("n{i}.example"),
            Reason::NotFilteredNotFound,
        ));
    }
    wait_len(&log, 200).await;
    drop(store);

    let files = rotated(&dir);
    assert!(files.len() >= 3, "{files:?}");
    let mut seen = HashSet::new();
    for name in files.iter().map(String::as_str).chain(["querylog.json"]) {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        if name != "querylog.json" {
            // Rotated once past the size: at most one line over it.
            assert!(
                text.len() >= 4096 && text.len() < 4096 + 400,
                "{name}: {}",
                text.len()
            );
        }
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(seen.insert(v["name"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(seen.len(), 200, "every entry in exactly one file");
}

#[tokio::test]
async fn rotated_files_expire_after_the_retention() {
    let dir = scratch("retention");
    std::fs::create_dir_all(&dir).unwrap();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let old = format!("querylog.{}.json", now_ms - 10_000);
    let recent = format!("querylog.{}.json", now_ms + 60_000);
    for name in [&old, &recent, &"querylog.notes.json".to_owned()] {
        std::fs::write(dir.join(name), "{}\n").unwrap();
    }
    let (log, mut store) = QueryLog::new(QueryLogConfig {
        dir: Some(dir.clone()),
        rotate_bytes: 1024,
        retention: Duration::from_secs(2),
        ..QueryLogConfig::default()
    });
    let p: Arc<str> = "default".into();
    store.log(entry(
        0,
        "10.0.0.1",
        &p,
        "a.example",
        Reason::NotFilteredNotFound,
    ));
    wait_len(&log, 1).await;
    // Expired at the start; the others are not rotated files of an age to go.
    assert_eq!(
        rotated(&dir),
        [recent.clone(), "querylog.notes.json".into()]
    );

    // Files rotated now are gone once the retention has passed (they are checked at
    // every rotation and at least every quarter of the retention).
    for i in 0..40 {
        store.log(entry(
            i,
            "10.0.0.1",
            &p,
            &format!("n{i}.example"),
            Reason::NotFilteredNotFound,
        ));
    }
    wait_len(&log, 41).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let first = rotated(&dir);
    assert!(first.len() > 2, "{first:?}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The store checks its files at every write, also of an empty batch (the recorder
    // writes one at every poll).
    store.write(&[]);
    let later = rotated(&dir);
    for name in &first {
        if name != &recent && name != "querylog.notes.json" {
            assert!(
                !later.contains(name),
                "{name} outlived the retention: {later:?}"
            );
        }
    }
    drop(store);
}

#[tokio::test]
async fn a_restart_appends_to_the_file_and_reads_it_back_into_memory() {
    let dir = scratch("restart");
    let p: Arc<str> = "default".into();
    for run in 0..3u64 {
        let (log, mut store) = QueryLog::new(QueryLogConfig {
            dir: Some(dir.clone()),
            ..QueryLogConfig::default()
        });
        // Every earlier run's entry is back, newest first.
        let before: Vec<String> = (0..run).rev().map(|r| format!("run{r}.example")).collect();
        assert_eq!(names(&log.search(&Search::default()).entries), before);
        let name = format!("run{run}.example");
        store.log(entry(
            run,
            "10.0.0.1",
            &p,
            &name,
            Reason::NotFilteredNotFound,
        ));
        wait_len(&log, run as usize + 1).await;
        assert_eq!(log.search(&Search::default()).entries[0].name, name);
        drop(store);
    }
    let text = std::fs::read_to_string(dir.join("querylog.json")).unwrap();
    let names: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["name"].to_string())
        .collect();
    assert_eq!(
        names,
        ["\"run0.example\"", "\"run1.example\"", "\"run2.example\""]
    );
}

#[tokio::test]
async fn the_newest_entries_of_every_file_fill_memory_at_start_bad_lines_skipped() {
    let dir = scratch("read-back");
    let p: Arc<str> = "default".into();
    {
        let (_log, mut store) = QueryLog::new(QueryLogConfig {
            dir: Some(dir.clone()),
            rotate_bytes: 4096,
            ..QueryLogConfig::default()
        });
        for i in 0..500 {
            let name = format!("n{i}.example");
            store.log(entry(i, "10.0.0.1", &p, &name, Reason::NotFilteredNotFound));
        }
    }
    assert!(rotated(&dir).len() >= 5, "{:?}", rotated(&dir));
    // A crash cut the last line short; someone left a note in the oldest file; a file
    // of another name is not the log's.
    let mut current = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("querylog.json"))
        .unwrap();
    std::io::Write::write_all(&mut current, b"{\"time_ms\":17000000").unwrap();
    let oldest = dir.join(&rotated(&dir)[0]);
    let text = std::fs::read_to_string(&oldest).unwrap();
    std::fs::write(&oldest, format!("not json\n{text}")).unwrap();
    std::fs::write(dir.join("querylog.old.json"), "{}\n").unwrap();

    // Room for fewer than were logged: the newest 250, oldest to newest in sequence.
    let (log, _store) = QueryLog::new(QueryLogConfig {
        dir: Some(dir.clone()),
        memory_entries: 250,
        ..QueryLogConfig::default()
    });
    assert_eq!(log.len(), 249, "250 lines, the torn one skipped");
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let page = log.search(&Search {
            limit: Some(100),
            cursor,
            ..Search::default()
        });
        found.extend(page.entries.into_iter().map(|e| e.name));
        match page.next_cursor {
            Some(next) => cursor = Some(next.parse().unwrap()),
            None => break,
        }
    }
    let expected: Vec<String> = (251..500).rev().map(|i| format!("n{i}.example")).collect();
    assert_eq!(found, expected);

    // Room for all: every entry, the bad lines skipped.
    let (log, _store) = QueryLog::new(QueryLogConfig {
        dir: Some(dir.clone()),
        ..QueryLogConfig::default()
    });
    assert_eq!(log.len(), 500);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_field_survives_the_files_and_a_restart() {
    let dir = scratch("read-back-fields");
    let all: Vec<Entry> = (0..300).map(varied).collect();
    {
        let (_log, mut store) = QueryLog::new(QueryLogConfig {
            dir: Some(dir.clone()),
            ..QueryLogConfig::default()
        });
        store.write(&all);
    }
    let (log, _store) = QueryLog::new(QueryLogConfig {
        dir: Some(dir.clone()),
        ..QueryLogConfig::default()
    });
    let found = log
        .search(&Search {
            limit: Some(1000),
            ..Search::default()
        })
        .entries;
    // As the ring keeps them: newlines dropped from names; the rcode is the header's 4
    // bits, which is all the files name.
    let expected: Vec<Entry> = all
        .iter()
        .rev()
        .map(|e| Entry {
            name: e.name.replace('\n', ""),
            rcode: e.rcode & 0x0f,
            ..e.clone()
        })
        .collect();
    assert_eq!(found.len(), expected.len());
    for (got, want) in found.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn type_rcode_and_upstream_filters() {
    let (log, mut store) = QueryLog::new(QueryLogConfig::default());
    let p: Arc<str> = "default".into();
    let quad9: Arc<str> = "9.9.9.9:53".into();
    for i in 0..60u64 {
        let mut e = entry(
            i,
            "10.0.0.1",
            &p,
            &format!("n{i}.example"),
            Reason::NotFilteredNotFound,
        );
        e.qtype = [1, 28, 65][i as usize % 3];
        e.rcode = [0, 3][i as usize % 2];
        e.upstream = (i % 4 != 0).then(|| quad9.clone());
        store.log(e);
    }
    wait_len(&log, 60).await;
    let count = |s: Search| {
        log.search(&Search {
            limit: Some(1000),
            ..s
        })
        .entries
        .len()
    };
    let qtype = |t: &str| Some(parse_qtype(t).unwrap());
    assert_eq!(
        count(Search {
            qtype: qtype("AAAA"),
            ..Search::default()
        }),
        20
    );
    assert_eq!(
        count(Search {
            qtype: qtype("https"),
            ..Search::default()
        }),
        20
    );
    assert_eq!(
        count(Search {
            qtype: qtype("TYPE65"),
            ..Search::default()
        }),
        20
    );
    assert_eq!(
        count(Search {
            qtype: qtype("16"),
            ..Search::default()
        }),
        0
    );
    assert_eq!(parse_qtype("NOPE"), None);
    let rcode = |r: &str| Some(parse_rcode(r).unwrap());
    assert_eq!(
        count(Search {
            rcode: rcode("nxdomain"),
            ..Search::default()
        }),
        30
    );
    assert_eq!(
        count(Search {
            rcode: rcode("0"),
            ..Search::default()
        }),
        30
    );
    assert_eq!(parse_rcode("16"), None);
    assert_eq!(parse_rcode("NOPE"), None);
    let upstream = |u: &str| Some(u.parse::<UpstreamFilter>().unwrap());
    assert_eq!(
        count(Search {
            upstream: upstream("9.9.9.9:53"),
            ..Search::default()
        }),
        45
    );
    assert_eq!(
        count(Search {
            upstream: upstream("NONE"),
            ..Search::default()
        }),
        15
    );
    assert_eq!(
        count(Search {
            upstream: upstream("1.1.1.1:53"),
            ..Search::default()
        }),
        0
    );
    // Combined: AAAA (i % 3 == 1) and NXDOMAIN (odd) and upstream (i % 4 != 0).
    let both = count(Search {
        qtype: qtype("AAAA"),
        rcode: rcode("NXDOMAIN"),
        upstream: upstream("9.9.9.9:53"),
        ..Search::default()
    });
    assert_eq!(
        both,
        (0..60)
            .filter(|i| i % 3 == 1 && i % 2 == 1 && i % 4 != 0)
            .count()
    );
}

#[tokio::test]
async fn since_a_head_finds_only_what_was_logged_after_it() {
    let (log, mut store) = QueryLog::new(QueryLogConfig {
        memory_entries: 10_000,
        ..QueryLogConfig::default()
    });
    let p: Arc<str> = "default".into();
    let log_n = |store: &mut Store, range: std::ops::Range<u64>| {
        let batch: Vec<Entry> = range
            .map(|i| {
                entry(
                    i,
                    "10.0.0.1",
                    &p,
                    &format!("n{i}.example"),
                    Reason::NotFilteredNotFound,
                )
            })
            .collect();
        store.write(&batch);
    };
    log_n(&mut store, 0..5000);
    let first = log.search(&Search::default());
    let head: Cursor = first.head.parse().unwrap();
    assert_eq!(log.head(), head);
    let since = |head: Cursor, limit| {
        log.search(&Search {
            since: Some(head),
            limit: Some(limit),
            ..Search::default()
        })
    };
    assert!(since(head, 100).entries.is_empty(), "nothing new yet");
    // Across a chunk boundary (4096).
    log_n(&mut store, 5000..5003);
    let new = since(head, 100);
    assert_eq!(
        names(&new.entries),
        ["n5002.example", "n5001.example", "n5000.example"]
    );
    let head: Cursor = new.head.parse().unwrap();
    log_n(&mut store, 5003..9000);
    // More than a page since: the newest page, and a cursor for the rest, which stops at
    // `since`.
    let new = since(head, 1000);
    assert_eq!(new.entries[0].name, "n8999.example");
    let rest = log.search(&Search {
        since: Some(head),
        cursor: Some(new.next_cursor.unwrap().parse().unwrap()),
        limit: Some(1000),
        ..Search::default()
    });
    assert_eq!(rest.entries.len(), 1000);
    let mut seen = 0;
    let mut cursor = None;
    loop {
        let page = log.search(&Search {
            since: Some(head),
            cursor,
            limit: Some(1000),
            ..Search::default()
        });
        seen += page.entries.len();
        match page.next_cursor {
            Some(next) => cursor = Some(next.parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, 3997);
}

#[tokio::test]
async fn a_disk_that_fails_writes_loses_the_file_lines_only() {
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    let dir = scratch("full");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.join("querylog.json")).unwrap();
    let (log, mut store) = QueryLog::new(QueryLogConfig {
        dir: Some(dir.clone()),
        ..QueryLogConfig::default()
    });
    let p: Arc<str> = "default".into();
    // About 400 KB of lines: more than one write's worth, so some are written (and fail)
    // while entries keep coming.
    let batch: Vec<Entry> = (0..2000)
        .map(|i| {
            let name = format!("n{i}.example");
            entry(i, "10.0.0.1", &p, &name, Reason::NotFilteredNotFound)
        })
        .collect();
    for chunk in batch.chunks(100) {
        store.write(chunk);
    }
    store.flush();
    wait_len(&log, 2000).await;
    let page = log.search(&Search {
        limit: Some(1000),
        ..Search::default()
    });
    assert_eq!(page.entries.len(), 1000);
    assert_eq!(page.entries[0].name, "n1999.example");
    drop(store);
    assert!(
        rotated(&dir).is_empty(),
        "nothing rotated: {:?}",
        rotated(&dir)
    );
}

/// Entry `i` of a varied sequence: every optional field present and absent (and empty),
/// strings that need JSON escapes, IPv4 and IPv6 clients, odd types and rcodes, times
/// from 1970 to 9999.
fn varied(i: usize) -> Entry {
    let policies = ["default", "kids \"k\"", "päd\\agogik"];
    let names = [
        "ads.example",
        "b\u{fc}cher.example",
        "quote\".example",
        "back\\slash.example",
        "ctl\u{1}\u{1f}\t\r\u{8}\u{c}.example",
        "new\nline.example",
        "del\u{7f}.example",
        "emoji-\u{1f600}.example",
        "",
    ];
    let clients = [
        "10.0.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "::1",
        "2001:db8::8a2e:370:7334",
        "::ffff:192.0.2.1",
    ];
    let qtypes = [
        0u16, 1, 2, 5, 12, 15, 16, 28, 33, 64, 65, 255, 257, 65_534, 65_535,
    ];
    let times = [
        0,
        999,
        1_700_000_000_000,
        1_700_000_000_999,
        1_700_000_001_000,
        1_700_000_000_500,
        951_825_600_123, // 2000-02-29
        253_402_300_799_999,
    ];
    let reason = [
        Reason::NotFilteredNotFound,
        Reason::FilteredBlockList,
        Reason::NotFilteredAllowList,
        Reason::RewrittenRule,
    ][i % 4];
    let policy: Arc<str> = policies[i % 3].into();
    let mut e = entry(0, clients[i % clients.len()], &policy, "", reason);
    e.time_ms = times[i % times.len()];
    e.name = names[i % names.len()].into();
    e.qtype = qtypes[i % qtypes.len()];
    e.rcode = (i * 7 % 256) as u8;
    e.client_name = (i % 5 == 1).then(|| ["laptop", "tv \"living\"", "a\\b", ""][i % 4].into());
    e.rule = (i % 3 != 0).then(|| ["||ads.example^", "/x\"y\\z/", "@@|a|", ""][i % 4].into());
    e.list = (i % 4 != 1).then(|| ["ads", "my \"list\"", ""][i % 3].into());
    e.answer = [
        "0.0.0.0",
        "93.184.216.34, 2606::1",
        "NXDOMAIN",
        "\"txt\"",
        "",
    ][i % 5]
        .into();
    e.upstream =
        (i % 6 != 0).then(|| ["1.1.1.1:53", "https://dns.example/q?a=\"b\""][i % 2].into());
    e.cached = i % 2 == 0;
    e.elapsed_us = [0, 1, 120, 999_999, u32::MAX][i % 5];
    e
}

#[tokio::test]
async fn file_lines_are_the_entries_serde_json_form_byte_for_byte() {
    // The files write their lines without serde (for speed); every field, escape and
    // optional field must come out as `serde_json` writes the `Serialize` form.
    let dir = scratch("json");
    let (_log, mut store) = QueryLog::new(QueryLogConfig {
        dir: Some(dir.clone()),
        ..QueryLogConfig::default()
    });
    let batch: Vec<Entry> = (0..300).map(varied).collect();
    let expected: Vec<String> = batch
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    // In one batch, and again one by one.
    store.write(&batch);
    for e in batch {
        store.log(e);
    }
    drop(store);
    let text = std::fs::read_to_string(dir.join("querylog.json")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 * expected.len());
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(*line, expected[i % expected.len()], "line {i}");
    }
    assert!(text.ends_with('\n'));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn searches_return_every_field_as_logged_across_chunks_and_evictions() {
    // The ring keeps entries packed (texts in a buffer per chunk, policies and upstreams
    // as numbers); a search must give back what was logged, field for field, but for
    // the newlines it drops from names.
    let (log, mut store) = QueryLog::new(QueryLogConfig {
        memory_entries: 5_000,
        ..QueryLogConfig::default()
    });
    let all: Vec<Entry> = (0..9_000).map(varied).collect();
    for batch in all.chunks(1024) {
        store.write(batch);
    }
    assert_eq!(log.len(), 5_000);
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let page = log.search(&Search {
            limit: Some(1000),
            cursor,
            ..Search::default()
        });
        found.extend(page.entries);
        match page.next_cursor {
            Some(next) => cursor = Some(next.parse().unwrap()),
            None => break,
        }
    }
    let expected: Vec<Entry> = all[4_000..]
        .iter()
        .rev()
        .map(|e| Entry {
            name: e.name.replace('\n', ""),
            ..e.clone()
        })
        .collect();
    assert_eq!(found.len(), expected.len());
    for (got, want) in found.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    // Client names are found by the client filter as well.
    let tv = log.search(&Search {
        client: Some(ClientFilter::Name("TV \"LIVING\"".into())),
        limit: Some(1000),
        ..Search::default()
    });
    assert!(!tv.entries.is_empty());
    assert!(
        tv.entries
            .iter()
            .all(|e| e.client_name.as_deref() == Some("tv \"living\""))
    );
}

/// Issue 13: the files are capped by their total size as well as by age; the oldest go
/// first, and `querylog.json` rotates at a quarter of the cap when that is smaller.
#[tokio::test]
async fn the_files_together_stay_within_max_disk_the_oldest_deleted_first() {
    let dir = scratch("max-disk");
    std::fs::create_dir_all(&dir).unwrap();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // Within the retention, but older than anything written below and too big to keep.
    let old = format!("querylog.{}.json", now_ms - 5_000);
    std::fs::write(dir.join(&old), "x".repeat(9000)).unwrap();
    let max_disk = 16 << 10;
    let (log, mut store) = QueryLog::new(QueryLogConfig {
        dir: Some(dir.clone()),
        max_disk,
        ..QueryLogConfig::default()
    });
    let p: Arc<str> = "default".into();
    for i in 0..600 {
        store.log(entry(
            i,
            "10.0.0.1",
            &p,
            &format!("n{i}.example"),
            Reason::NotFilteredNotFound,
        ));
    }
    wait_len(&log, 600).await;
    drop(store);

    let files = rotated(&dir);
    assert!(!files.contains(&old), "{files:?}");
    assert!(files.len() >= 2, "some history is kept: {files:?}");
    let size = |name: &str| std::fs::metadata(dir.join(name)).unwrap().len();
    let total: u64 = files.iter().map(|f| size(f)).sum::<u64>() + size("querylog.json");
    // At most one line over: a file rotates right after the line that reaches its size.
    assert!(total <= max_disk + 400, "{total} bytes in {files:?}");
    for name in &files {
        let bytes = size(name);
        assert!((4096..4096 + 400).contains(&bytes), "{name}: {bytes}");
    }
    // What is left is the newest: the last entry, and no gap before it.
    let mut kept: Vec<u64> = files
        .iter()
        .map(String::as_str)
        .chain(["querylog.json"])
        .flat_map(|name| {
            std::fs::read_to_string(dir.join(name))
                .unwrap()
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v["time_ms"].as_u64().unwrap() - 1_700_000_000_000
                })
                .collect::<Vec<_>>()
        })
        .collect();
    kept.sort_unstable();
    assert_eq!(kept.last(), Some(&599), "{kept:?}");
    assert!(kept.len() < 600, "some entries went");
    assert!(kept.windows(2).all(|w| w[1] == w[0] + 1), "{kept:?}");
}
