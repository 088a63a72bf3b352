//! The query log, the statistics and the metrics of a running `ward serve`, after real
//! queries from `dig` and `kdig` and from test sockets on several source addresses.

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::dns_support::{TempDir, Ward, http, ip, metrics, query, sample, udp, upstream};

/// A config with two policies, a named client and the query log's settings in `query_log`.
fn config(dir: &Path, upstream: SocketAddr, query_log: &str) -> std::path::PathBuf {
    let list = dir.join("ads.txt");
    std::fs::write(&list, "||ads.example^\n||tracker.example^\n").unwrap();
    let config = format!(
        r#"
dns:
  listen: ["127.0.0.1:0"]
  upstream_timeout: 500ms
admin:
  listen: "127.0.0.1:0"
upstreams:
  default: {{ servers: ["{upstream}"] }}
lists:
  - {{ id: ads, path: "{list}" }}
policies:
  main: {{ lists: [ads] }}
  kids: {{ extends: main, rules: ["||tiktok.com^"] }}
clients:
  - {{ subnet: 127.0.0.0/8, policy: main }}
  - {{ subnet: 127.0.0.3/32, policy: kids, name: kids-tablet }}
default_policy: main
data_dir: "{data}"
query_log:
{query_log}
"#,
        list = list.display(),
        data = dir.join("data").display(),
    );
    let path = dir.join("ward.yaml");
    std::fs::write(&path, config).unwrap();
    path
}

/// `GET path` on the admin API (loopback, no credentials needed), parsed.
fn get(ward: &Ward, path: &str) -> Value {
    let (status, body) = http(ward.admin, "GET", path, None, "");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// The query log's entries for `params`, newest first, once there are `n` of them (the
/// recorder writes every 25 ms).
fn entries(ward: &Ward, params: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let page = get(ward, &format!("/api/v1/querylog?{params}"));
        let found = page["entries"].as_array().unwrap().clone();
        if found.len() >= n || Instant::now() > deadline {
            assert_eq!(found.len(), n, "querylog?{params}: {page:#}");
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn dig(ward: &Ward, src: &str, name: &str, tcp: bool) -> String {
    crate::dns_support::dig(ward.dns, src, name, tcp)
}

fn kdig(ward: &Ward, src: &str, name: &str) -> String {
    let out = Command::new("kdig")
        .args(["+short", "+tcp", "+timeout=3", "-b", src, "-p"])
        .arg(ward.dns.port().to_string())
        .arg("@127.0.0.1")
        .arg(name)
        .output()
        .expect("kdig (knot-dnsutils) must be installed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn real_queries_appear_in_the_log_the_metrics_and_the_statistics() {
    let dir = TempDir::new("querylog");
    let up = upstream();
    let path = config(&dir.0, up, "  ignore: [\"*.ignored.example\"]");
    let ward = Ward::spawn(&path, &[]);

    assert_eq!(dig(&ward, "127.0.0.2", "ads.example", false), "0.0.0.0");
    assert_eq!(
        dig(&ward, "127.0.0.2", "www.allowed.example", false),
        "127.1.0.1"
    );
    assert_eq!(
        dig(&ward, "127.0.0.2", "www.allowed.example", false),
        "127.1.0.1"
    );
    assert_eq!(kdig(&ward, "127.0.0.3", "www.tiktok.com"), "0.0.0.0");
    assert_eq!(
        dig(&ward, "127.0.0.2", "a.ignored.example", false),
        "127.1.0.1"
    );
    let aaaa = udp(
        ward.dns,
        ip("127.0.0.2"),
        &query("v6.allowed.example", RecordType::AAAA),
    );
    assert_eq!(aaaa.answers.len(), 1);

    // Five entries: the ignored name is not logged.
    let all = entries(&ward, "", 5);
    let names: Vec<&str> = all.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "v6.allowed.example",
            "www.tiktok.com",
            "www.allowed.example",
            "www.allowed.example",
            "ads.example"
        ]
    );
    let blocked = &all[4];
    assert_eq!(blocked["client"], "127.0.0.2");
    assert_eq!(blocked["policy"], "main");
    assert_eq!(blocked["qtype"], "A");
    assert_eq!(blocked["reason"], "FilteredBlockList");
    assert_eq!(blocked["rule"], "||ads.example^");
    assert_eq!(blocked["list"], "ads");
    assert_eq!(blocked["answer"], "0.0.0.0");
    assert_eq!(blocked["rcode"], "NOERROR");
    assert_eq!(blocked["cached"], false);
    assert!(blocked.get("upstream").is_none(), "{blocked}");
    let (miss, hit) = (&all[3], &all[2]);
    assert_eq!(miss["reason"], "NotFilteredNotFound");
    assert_eq!(miss["answer"], "127.1.0.1");
    assert_eq!(miss["upstream"], up.to_string());
    assert_eq!(miss["cached"], false);
    assert_eq!(hit["cached"], true);
    assert!(hit.get("upstream").is_none(), "{hit}");
    let kids = &all[1];
    assert_eq!(kids["client"], "127.0.0.3");
    assert_eq!(kids["client_name"], "kids-tablet");
    assert_eq!(kids["policy"], "kids");
    assert_eq!(kids["rule"], "||tiktok.com^");
    assert_eq!(kids["list"], "policy kids rules");
    assert_eq!(all[0]["qtype"], "AAAA");
    assert_eq!(all[0]["answer"], "2001:db8::1");
    for e in &all {
        let t = e["time_ms"].as_u64().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(t <= now && now - t < 60_000, "{e}");
        assert!(e["elapsed_us"].as_u64().unwrap() < 5_000_000, "{e}");
    }

    // Filters, each on its own.
    let only = |params: &str, n: usize| -> Vec<String> {
        entries(&ward, params, n)
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(only("client=127.0.0.3", 1), ["www.tiktok.com"]);
    assert_eq!(only("client=kids-tablet", 1), ["www.tiktok.com"]);
    assert_eq!(only("policy=kids", 1), ["www.tiktok.com"]);
    assert_eq!(
        only("verdict=blocked", 2),
        ["www.tiktok.com", "ads.example"]
    );
    assert_eq!(only("name=ALLOWED", 3).len(), 3);
    assert_eq!(
        only("client=127.0.0.0/24&verdict=processed&name=www", 2).len(),
        2
    );
    let first = all.last().unwrap()["time_ms"].as_u64().unwrap();
    assert_eq!(only(&format!("to={first}"), 1), ["ads.example"]);
    let (status, body) = http(ward.admin, "GET", "/api/v1/querylog?limit=x", None, "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("limit"), "{body}");

    // Pages of two, by the cursor: every entry once, in order.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(&ward, &format!("/api/v1/querylog?limit=2{cursor}"));
        for e in page["entries"].as_array().unwrap() {
            seen.push(e["name"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, names);

    // The metrics moved with the queries.
    let text = metrics(&ward);
    let q = |policy: &str, verdict: &str, protocol: &str| {
        sample(
            &text,
            &format!(
                "ward_dns_queries_total{{policy=\"{policy}\",verdict=\"{verdict}\",protocol=\"{protocol}\"}}"
            ),
        )
    };
    assert_eq!(q("main", "blocked", "udp"), 1.0, "{text}");
    assert_eq!(q("main", "processed", "udp"), 4.0, "{text}");
    assert_eq!(q("kids", "blocked", "tcp"), 1.0, "{text}");
    assert_eq!(sample(&text, "ward_dns_cache_hits_total"), 1.0, "{text}");
    assert_eq!(sample(&text, "ward_dns_cache_misses_total"), 3.0, "{text}");
    assert_eq!(sample(&text, "ward_dns_cache_entries"), 3.0, "{text}");
    assert_eq!(
        sample(&text, "ward_dns_responses_total{rcode=\"NOERROR\"}"),
        6.0,
        "{text}"
    );
    let server = format!("{{group=\"default\",server=\"{up}\"}}");
    assert_eq!(
        sample(&text, &format!("ward_dns_upstream_requests_total{server}")),
        3.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("ward_dns_upstream_duration_seconds_count{server}")
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "ward_dns_query_duration_seconds_count{source=\"cache\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(sample(&text, "ward_querylog_dropped_total"), 0.0, "{text}");
    assert_eq!(sample(&text, "ward_querylog_entries"), 5.0, "{text}");

    // The statistics count every query, the ignored one too.
    let stats = get(&ward, "/api/v1/stats");
    check_stats(&stats, up);

    // The file has the same entries, as JSON lines.
    drop(ward);
    let file = std::fs::read_to_string(dir.0.join("data/querylog/querylog.json")).unwrap();
    let logged: Vec<Value> = file
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logged.len(), 5, "{file}");
    assert_eq!(logged[0]["name"], "ads.example");
    assert_eq!(logged[0]["rule"], "||ads.example^");

    // The statistics survive a restart (saved at shutdown), and the in-memory log is
    // read back from the file.
    let ward = Ward::spawn(&path, &[]);
    check_stats(&get(&ward, "/api/v1/stats"), up);
    let back = get(&ward, "/api/v1/querylog")["entries"].clone();
    assert_eq!(back.as_array().unwrap().len(), 5);
    assert_eq!(back[4]["name"], "ads.example");
}

/// The statistics of the six queries of the test above.
fn check_stats(stats: &Value, upstream: SocketAddr) {
    let totals = &stats["totals"];
    assert_eq!(totals["queries"], 6, "{stats:#}");
    assert_eq!(totals["blocked"], 2, "{stats:#}");
    assert_eq!(totals["cached"], 1, "{stats:#}");
    let ratio = stats["blocked_ratio"].as_f64().unwrap();
    assert!((ratio - 2.0 / 6.0).abs() < 1e-9, "{stats:#}");
    let top = |key: &str, field: &str| -> Vec<(String, u64)> {
        stats[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e[field].as_str().unwrap().to_owned(),
                    e["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        top("top_names", "name")[0],
        ("www.allowed.example".into(), 2)
    );
    let mut blocked = top("top_blocked", "name");
    blocked.sort();
    assert_eq!(
        blocked,
        [("ads.example".into(), 1), ("www.tiktok.com".into(), 1)]
    );
    assert_eq!(
        top("top_clients", "client"),
        [("127.0.0.2".into(), 5), ("127.0.0.3".into(), 1)]
    );
    assert_eq!(stats["top_clients"][1]["name"], "kids-tablet");
    let policies: Vec<(String, u64, u64)> = stats["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["policy"].as_str().unwrap().to_owned(),
                p["queries"].as_u64().unwrap(),
                p["blocked"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(policies.contains(&("main".into(), 5, 1)), "{stats:#}");
    assert!(policies.contains(&("kids".into(), 1, 1)), "{stats:#}");
    let upstreams = stats["upstreams"].as_array().unwrap();
    assert_eq!(upstreams.len(), 1, "{stats:#}");
    assert_eq!(upstreams[0]["upstream"], upstream.to_string());
    assert_eq!(upstreams[0]["queries"], 3, "{stats:#}");
}

/// A flood through a queue of one: every query is answered; what the recorder could not
/// take is counted as dropped, and nothing is lost without being counted.
#[test]
fn a_flood_that_overflows_the_queue_loses_log_entries_only() {
    let dir = TempDir::new("querylog-flood");
    let path = config(&dir.0, upstream(), "  queue: 1\n  files: false");
    let ward = Ward::spawn(&path, &[]);
    let socket = UdpSocket::bind("127.0.0.2:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    const N: u16 = 3000;
    const WINDOW: u16 = 64;
    let mut answered = HashSet::new();
    let mut buf = [0u8; 512];
    // Up to WINDOW queries in flight at once, each a different name.
    let send = |id: u16| {
        let mut m: Message = query(&format!("n{id}.flood.example"), RecordType::A);
        m.metadata.id = id;
        socket.send_to(&m.to_vec().unwrap(), ward.dns).unwrap();
    };
    for id in 0..WINDOW {
        send(id);
    }
    let mut next = WINDOW;
    while answered.len() < usize::from(N) {
        let len = socket.recv(&mut buf).expect("every query is answered");
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        assert!(answered.insert(id), "answered twice: {id}");
        if next < N {
            send(next);
            next += 1;
        }
        assert!(len > 12);
    }
    // The recorder took some and dropped the rest; together they are every query.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let text = metrics(&ward);
        let dropped = sample(&text, "ward_querylog_dropped_total");
        let held = sample(&text, "ward_querylog_entries");
        if dropped + held == f64::from(N) || Instant::now() > deadline {
            assert!(dropped > 0.0, "the queue of one never overflowed:\n{text}");
            assert_eq!(dropped + held, f64::from(N), "{text}");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Entries name what decided them in the snapshot that decided them, also when the
/// snapshot changes while a client's queries come in bursts (a UDP loop's batch holds
/// the snapshot of the queries it answered at once, and hands it over with them).
#[test]
fn entries_across_reloads_cite_the_rules_of_their_own_snapshot() {
    let dir = TempDir::new("querylog-reloads");
    let path = config(&dir.0, upstream(), "  files: false");
    let ward = Ward::spawn(&path, &[]);
    let list = dir.0.join("ads.txt");
    let socket = UdpSocket::bind("127.0.0.2:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    const BURST: u16 = 16;
    let (blocked, allowed) = std::thread::scope(|s| {
        let client = s.spawn(|| {
            let (mut blocked, mut allowed, mut id) = (0, 0, 0u16);
            let mut buf = [0u8; 512];
            // Bursts of queries sent back to back, so that the loop answers several
            // before its socket is empty, every 5 ms until the reloads are done (at most
            // 60, so that every entry fits one page).
            for _ in 0..60 {
                if stop.load(std::sync::atomic::Ordering::Acquire) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
                for _ in 0..BURST {
                    let mut m: Message = query("ads.example", RecordType::A);
                    m.metadata.id = id;
                    id += 1;
                    socket.send_to(&m.to_vec().unwrap(), ward.dns).unwrap();
                }
                for _ in 0..BURST {
                    let len = socket.recv(&mut buf).expect("every query is answered");
                    let answer = Message::from_vec(&buf[..len]).unwrap();
                    match answer.answers.first().map(|r| r.data.to_string()) {
                        Some(a) if a == "0.0.0.0" => blocked += 1,
                        Some(_) => allowed += 1,
                        None => panic!("no address: {answer:?}"),
                    }
                }
            }
            (blocked, allowed)
        });
        // The list blocks ads.example, then does not, then does again: six snapshots.
        for (i, text) in ["||other.example^\n", "||ads.example^\n"]
            .iter()
            .cycle()
            .take(5)
            .enumerate()
        {
            std::thread::sleep(Duration::from_millis(30));
            std::fs::write(&list, text).unwrap();
            ward.signal("HUP");
            let want = i as u64 + 2;
            ward.wait_status(Duration::from_secs(3), "the reload", |s| {
                s["generation"].as_u64().unwrap_or(0) >= want
            });
        }
        std::thread::sleep(Duration::from_millis(30));
        stop.store(true, std::sync::atomic::Ordering::Release);
        client.join().unwrap()
    });
    assert!(
        blocked > 0 && allowed > 0,
        "{blocked} blocked, {allowed} allowed"
    );
    let all = entries(&ward, "name=ads.example&limit=1000", blocked + allowed);
    let mut seen = (0, 0);
    for e in &all {
        assert_eq!(e["policy"], "main", "{e}");
        if e["answer"] == "0.0.0.0" {
            seen.0 += 1;
            assert_eq!(e["reason"], "FilteredBlockList", "{e}");
            assert_eq!(e["rule"], "||ads.example^", "{e}");
            assert_eq!(e["list"], "ads", "{e}");
        } else {
            seen.1 += 1;
            assert_eq!(e["reason"], "NotFilteredNotFound", "{e}");
            assert!(e["rule"].is_null() && e["list"].is_null(), "{e}");
        }
    }
    assert_eq!(seen, (blocked, allowed), "every answer has its entry");
}

/// `--log-json`: every line on stderr is a JSON object a log shipper can read.
#[test]
fn logs_are_json_lines_when_asked() {
    use std::io::{BufRead, BufReader};
    let dir = TempDir::new("querylog-json-logs");
    let path = config(&dir.0, upstream(), "  files: false");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["serve", "--log-json", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        let ready = line.contains("\"ready\"");
        lines.push(line);
        if ready {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines.len() >= 3, "{lines:#?}");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["timestamp"].is_string() && v["level"].is_string(),
            "{line}"
        );
        assert!(v["fields"]["message"].is_string(), "{line}");
    }
    let ready: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(ready["fields"]["message"], "ready");
    assert!(ready["fields"]["udp_threads"].as_u64().is_some(), "{ready}");
}

/// `curl` on the admin API: the status line's code, the headers, the (de-chunked) body.
fn curl(ward: &Ward, path: &str, extra: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "--max-time", "10"])
        .args(extra)
        .arg(format!("http://{}{path}", ward.admin))
        .output()
        .expect("curl must be installed");
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head.to_ascii_lowercase(), body.to_owned())
}

/// Issue 14: the filters the UI offers (type, rcode, upstream), the live tail, the
/// streamed export, and a log that a restart does not empty.
#[test]
fn the_log_filters_by_type_rcode_and_upstream_tails_exports_and_survives_a_restart() {
    let dir = TempDir::new("querylog-tail");
    let up = upstream();
    let path = config(&dir.0, up, "  files: true");
    let ward = Ward::spawn(&path, &[]);

    assert_eq!(dig(&ward, "127.0.0.2", "ads.example", false), "0.0.0.0");
    assert_eq!(dig(&ward, "127.0.0.2", "one.example", false), "127.1.0.1");
    let aaaa = udp(
        ward.dns,
        ip("127.0.0.2"),
        &query("six.example", RecordType::AAAA),
    );
    assert_eq!(aaaa.answers.len(), 1);
    entries(&ward, "", 3);

    let names = |params: &str, n: usize| -> Vec<String> {
        entries(&ward, params, n)
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("qtype=AAAA", 1), ["six.example"]);
    assert_eq!(names("qtype=28", 1), ["six.example"]);
    assert_eq!(
        names("qtype=a&rcode=NOERROR", 2),
        ["one.example", "ads.example"]
    );
    assert_eq!(names("rcode=NXDOMAIN", 0), Vec::<String>::new());
    assert_eq!(names("upstream=none", 1), ["ads.example"]);
    assert_eq!(
        names(&format!("upstream={up}"), 2),
        ["six.example", "one.example"]
    );
    for (params, bad) in [
        ("qtype=NOPE", "qtype"),
        ("rcode=99", "rcode"),
        ("since=x", "since"),
    ] {
        let (status, body) = http(
            ward.admin,
            "GET",
            &format!("/api/v1/querylog?{params}"),
            None,
            "",
        );
        assert_eq!(status, 400, "{params}: {body}");
        assert!(body.contains(bad), "{params}: {body}");
    }

    // The export: every match, newest first, as an attachment.
    let (code, head, csv) = curl(&ward, "/api/v1/querylog/export?format=csv&qtype=A", &[]);
    assert_eq!(code, 200, "{head}{csv}");
    assert!(head.contains("content-type: text/csv"), "{head}");
    assert!(
        head.contains("content-disposition: attachment; filename=\"ward-querylog-"),
        "{head}"
    );
    let rows: Vec<&str> = csv.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(
        rows[0],
        "time,time_ms,client,client_name,client_id,protocol,policy,name,qtype,reason,rule,list,service,schedule,answer,rcode,upstream,cached,elapsed_us"
    );
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows[1].contains(",one.example,A,NotFilteredNotFound,"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains(
            ",ads.example,A,FilteredBlockList,||ads.example^,ads,,,0.0.0.0,NOERROR,,false,"
        ),
        "{}",
        rows[2]
    );
    let (code, head, ndjson) = curl(&ward, "/api/v1/querylog/export", &[]);
    assert_eq!(code, 200);
    assert!(
        head.contains("content-type: application/x-ndjson"),
        "{head}"
    );
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["name"], "six.example");
    // Gzipped as a browser asks for it: the same rows.
    let (code, head, gzipped) = curl(&ward, "/api/v1/querylog/export", &["--compressed"]);
    assert_eq!(code, 200, "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert_eq!(gzipped, ndjson);
    let (code, _, one) = curl(&ward, "/api/v1/querylog/export?limit=1", &[]);
    assert_eq!((code, one.lines().count()), (200, 1));
    let (code, _, body) = curl(&ward, "/api/v1/querylog/export?format=xml", &[]);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("format"), "{body}");

    // The live tail: the kids' entries only, as they are logged.
    let admin = ward.admin;
    let tail = std::thread::spawn(move || {
        let out = Command::new("curl")
            .args(["-sN", "--max-time", "3"])
            .arg(format!("http://{admin}/api/v1/querylog/stream?policy=kids"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    });
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(kdig(&ward, "127.0.0.3", "live.tiktok.com"), "0.0.0.0");
    assert_eq!(
        dig(&ward, "127.0.0.2", "not-kids.example", false),
        "127.1.0.1"
    );
    assert_eq!(
        dig(&ward, "127.0.0.3", "kids-too.example", false),
        "127.1.0.1"
    );
    let text = tail.join().unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(text.contains("event: entries"), "{text}");
    let tailed: Vec<&str> = events
        .iter()
        .rev()
        .flat_map(|e| e["entries"].as_array().unwrap())
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(tailed, ["kids-too.example", "live.tiktok.com"], "{text}");
    assert!(
        events
            .iter()
            .all(|e| e["more"] == false && e["head"].is_string())
    );

    // A page's head as `since`: only what came after it.
    let head = get(&ward, "/api/v1/querylog")["head"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(dig(&ward, "127.0.0.2", "after.example", false), "127.1.0.1");
    assert_eq!(names(&format!("since={head}"), 1), ["after.example"]);

    // A restart reads the files back: the log is not empty.
    let before = entries(&ward, "limit=1000", 7);
    drop(ward);
    let ward = Ward::spawn(&path, &[]);
    let after = entries(&ward, "limit=1000", 7);
    assert_eq!(after, before);
}

/// At most 16 live tails are open at once; the 17th is told so, and a closed one frees
/// its place.
#[test]
fn live_tails_are_capped() {
    let dir = TempDir::new("querylog-tails");
    let path = config(&dir.0, upstream(), "  files: false");
    let ward = Ward::spawn(&path, &[]);
    let url = format!("http://{}/api/v1/querylog/stream", ward.admin);
    let mut tails: Vec<std::process::Child> = (0..16)
        .map(|_| {
            Command::new("curl")
                .args(["-sN", "--max-time", "20", &url])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // A refused tail ends at once; all 16 are still streaming.
    std::thread::sleep(Duration::from_millis(1500));
    for t in &mut tails {
        assert!(t.try_wait().unwrap().is_none(), "a tail ended early");
    }
    let (code, _, body) = curl(&ward, "/api/v1/querylog/stream", &["--max-time", "2"]);
    assert_eq!(code, 429, "{body}");
    assert!(body.contains("16 live tails"), "{body}");
    let mut first = tails.remove(0);
    first.kill().unwrap();
    first.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "1",
                &url,
            ])
            .output()
            .unwrap();
        // Open (and cut by --max-time) rather than refused.
        if String::from_utf8_lossy(&out.stdout) == "200" {
            break;
        }
        assert!(Instant::now() < deadline, "no place freed");
        std::thread::sleep(Duration::from_millis(100));
    }
    for mut t in tails {
        let _ = t.kill();
        let _ = t.wait();
    }
}
