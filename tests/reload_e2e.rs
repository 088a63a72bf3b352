//! Live updates end to end: a real `ward serve` whose config file and list files are
//! rewritten under it (atomic renames, a Kubernetes ConfigMap symlink swap), SIGHUP, a
//! URL list served by a local HTTP server, while clients keep asking.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::dns_support::*;

/// Writes `text` to `path` the way editors and config tools do: a temporary file renamed
/// over the old one.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn config(upstream: SocketAddr, list: &str, data: &Path, rules: &[&str]) -> String {
    let rules = rules
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"
dns:
  listen: ["127.0.0.1:0"]
  blocking_mode: null_ip
  upstream_timeout: 1s
admin:
  listen: "127.0.0.1:0"
upstreams:
  default: {{ servers: ["{upstream}"] }}
lists:
  - {{ id: mix, path: "{list}" }}
policies:
  main: {{ lists: [mix], rules: [{rules}] }}
clients:
  - {{ subnet: 127.0.0.0/8, policy: main }}
default_policy: main
data_dir: "{data}"
"#,
        data = data.display()
    )
}

fn generation(status: &serde_json::Value) -> u64 {
    status["generation"].as_u64().unwrap_or(0)
}

/// One query over UDP from `client`, with its own timeout: `None` if no answer came.
fn try_udp(server: SocketAddr, client: IpAddr, name: &str) -> Option<Vec<String>> {
    let sock = std::net::UdpSocket::bind(SocketAddr::new(client, 0)).ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let q = query(name, RecordType::A);
    sock.send_to(&q.to_vec().ok()?, server).ok()?;
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    let m = hickory_proto::op::Message::from_vec(&buf[..n]).ok()?;
    Some(ips(&m))
}

#[test]
fn fifty_swaps_lose_no_query_and_never_mix_two_snapshots() {
    let up = upstream();
    let dir = TempDir::new("reload-soak");
    let list = dir.0.join("mix.txt");
    let data = dir.0.join("data");
    // Variant A blocks the names, variant B their CNAME targets: every snapshot blocks every
    // *.mix.example and *.cmix.example answer, but a query decided by A and filtered by B
    // (or the other way round) would pass the upstream's address through.
    let lists = [
        "||mix.example^\n||always.example^\n",
        "||target.example^\n||always.example^\n",
    ];
    let rules: [&[&str]; 2] = [&["||cmix.example^"], &["||ctarget.example^"]];
    std::fs::write(&list, lists[0]).unwrap();
    let config_path = dir.0.join("ward.yaml");
    let list_str = list.display().to_string();
    std::fs::write(&config_path, config(up, &list_str, &data, rules[0])).unwrap();
    let ward = Ward::spawn(&config_path, &[]);
    assert_eq!(generation(&ward.status()), 1);

    let stop = Arc::new(AtomicBool::new(false));
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let answered = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for (c, client) in ["127.0.0.2", "127.0.0.3", "127.0.0.4", "tcp"]
        .into_iter()
        .enumerate()
    {
        let (stop, failures, answered) = (stop.clone(), failures.clone(), answered.clone());
        let server = ward.dns;
        clients.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                // The *mix names are new every time: the upstream takes 5 ms to answer
                // them, a window for a swap between deciding a query and filtering its
                // answer. The free names repeat, so the cache answers them too.
                let i = (n * 7 + c as u64) % 40;
                for (name, want) in [
                    (format!("q{n}-{c}.mix.example."), "0.0.0.0"),
                    (format!("q{n}-{c}.cmix.example."), "0.0.0.0"),
                    ("always.example.".to_owned(), "0.0.0.0"),
                    (format!("free{i}.example."), "127.1.0.1"),
                ] {
                    let got = if client == "tcp" {
                        Some(ips(&tcp(server, &query(&name, RecordType::A))))
                    } else {
                        try_udp(server, ip(client), &name)
                    };
                    match got {
                        Some(got) if got == [want] => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(got) => failures
                            .lock()
                            .unwrap()
                            .push(format!("{client} {name}: {got:?}, want {want}")),
                        None => failures
                            .lock()
                            .unwrap()
                            .push(format!("{client} {name}: no answer")),
                    }
                }
            }
        }));
    }

    let mut slowest = Duration::ZERO;
    for swap in 0..50 {
        let variant = (swap / 2 + 1) % 2;
        if swap % 2 == 0 {
            write_atomically(&list, lists[variant]);
        } else {
            let text = config(up, &list_str, &data, rules[variant]);
            write_atomically(&config_path, &text);
        }
        let want = swap as u64 + 2;
        let took = ward.wait_status(Duration::from_secs(2), "a swap applied", |s| {
            generation(s) >= want
        });
        slowest = slowest.max(took);
        // Let queries run on this generation too.
        std::thread::sleep(Duration::from_millis(40));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let status = ward.status();
    assert_eq!(generation(&status), 51, "{status:#}");
    assert_eq!(status["reloads"]["rejected"], 0, "{status:#}");
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} queries failed, first: {:?}",
        failures.len(),
        failures.len() as u64 + answered.load(Ordering::Relaxed),
        &failures[..failures.len().min(10)]
    );
    assert!(
        answered.load(Ordering::Relaxed) > 400,
        "too few queries ran"
    );
    eprintln!(
        "50 swaps, {} answers, slowest swap applied {slowest:?} after the write",
        answered.load(Ordering::Relaxed)
    );
}

#[test]
fn a_bad_config_or_a_broken_list_is_rejected_and_the_old_rules_stay() {
    let up = upstream();
    let dir = TempDir::new("reload-reject");
    let list = dir.0.join("mix.txt");
    let data = dir.0.join("data");
    std::fs::write(&list, "||always.example^\n").unwrap();
    let config_path = dir.0.join("ward.yaml");
    let list_str = list.display().to_string();
    let good = config(up, &list_str, &data, &["||custom.example^"]);
    std::fs::write(&config_path, &good).unwrap();
    let ward = Ward::spawn(&config_path, &[]);
    let blocked = |name: &str| addrs(&ward, ip("127.0.0.2"), name, RecordType::A) == ["0.0.0.0"];
    assert!(blocked("always.example.") && blocked("custom.example."));

    // An unknown blocking mode: rejected, with the field and its line.
    write_atomically(
        &config_path,
        &good.replace("blocking_mode: null_ip", "blocking_mode: sinkhole"),
    );
    ward.wait_status(Duration::from_secs(2), "the rejection", |s| {
        s["last_reload"]["outcome"] == "rejected"
    });
    let status = ward.status();
    let reason = status["last_reload"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("dns.blocking_mode") && reason.contains("line 4"),
        "{reason}"
    );
    assert_eq!(generation(&status), 1);
    assert!(blocked("always.example.") && blocked("custom.example."));

    // A list that turned into an error page: reported, the previous copy keeps serving.
    write_atomically(
        &list,
        "<html>\n<body>503 Service Unavailable</body>\n</html>\n",
    );
    ward.wait_status(Duration::from_secs(2), "the list error", |s| {
        s["lists"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a filter list"))
    });
    assert!(blocked("always.example."));

    // Fixed again: both apply.
    write_atomically(&list, "||always.example^\n||later.example^\n");
    write_atomically(&config_path, &good);
    ward.wait_status(Duration::from_secs(2), "the fix", |s| {
        s["lists"][0]["error"].is_null() && s["lists"][0]["rules"] == 2
    });
    assert!(blocked("later.example.") && blocked("custom.example."));
}

#[test]
fn sighup_reloads_and_reports_an_unchanged_config() {
    let up = upstream();
    let dir = TempDir::new("reload-hup");
    let list = dir.0.join("mix.txt");
    std::fs::write(&list, "||always.example^\n").unwrap();
    let config_path = dir.0.join("ward.yaml");
    let text = config(up, &list.display().to_string(), &dir.0.join("data"), &[]);
    std::fs::write(&config_path, &text).unwrap();
    let ward = Ward::spawn(&config_path, &[]);
    ward.signal("HUP");
    ward.wait_status(Duration::from_secs(2), "the SIGHUP reload", |s| {
        s["last_reload"]["trigger"] == "SIGHUP"
    });
    let status = ward.status();
    assert_eq!(status["last_reload"]["outcome"], "unchanged", "{status:#}");
    assert_eq!(status["last_reload"]["lists_reused"], 1, "{status:#}");
    assert_eq!(generation(&status), 1);
}

#[test]
fn a_configmap_symlink_swap_triggers_a_reload() {
    let up = upstream();
    let dir = TempDir::new("reload-configmap");
    let list = dir.0.join("list.txt");
    std::fs::write(&list, "||always.example^\n").unwrap();
    let list_str = list.display().to_string();
    let data = dir.0.join("data");
    // What the kubelet builds: <mount>/..<timestamp>/ward.yaml, ..data -> ..<timestamp>,
    // ward.yaml -> ..data/ward.yaml.
    let mount = dir.0.join("config");
    let first = mount.join("..2026_11_26_09_00_00.000000001");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::write(first.join("ward.yaml"), config(up, &list_str, &data, &[])).unwrap();
    std::os::unix::fs::symlink("..2026_11_26_09_00_00.000000001", mount.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/ward.yaml", mount.join("ward.yaml")).unwrap();
    let ward = Ward::spawn(&mount.join("ward.yaml"), &[]);
    assert_eq!(
        addrs(&ward, ip("127.0.0.2"), "k8s.example.", RecordType::A),
        ["127.1.0.1"]
    );

    // The update: a new directory, a new ..data link renamed over the old one.
    let second = mount.join("..2026_11_26_09_05_00.000000002");
    std::fs::create_dir_all(&second).unwrap();
    let text = config(up, &list_str, &data, &["||k8s.example^"]);
    std::fs::write(second.join("ward.yaml"), text).unwrap();
    std::os::unix::fs::symlink("..2026_11_26_09_05_00.000000002", mount.join("..data_tmp"))
        .unwrap();
    std::fs::rename(mount.join("..data_tmp"), mount.join("..data")).unwrap();
    std::fs::remove_dir_all(&first).unwrap();
    let took = ward.wait_status(Duration::from_secs(2), "the ConfigMap reload", |s| {
        generation(s) == 2
    });
    assert_eq!(
        ward.status()["last_reload"]["trigger"],
        "config file changed"
    );
    assert_eq!(
        addrs(&ward, ip("127.0.0.2"), "k8s.example.", RecordType::A),
        ["0.0.0.0"]
    );
    eprintln!("ConfigMap swap applied {took:?} after the rename");
}

/// A list server: serves `body` with `etag`, answers 304 to a matching If-None-Match,
/// counts both; stops listening when `alive` goes false.
struct ListServer {
    addr: SocketAddr,
    body: Arc<Mutex<(String, String)>>,
    full: Arc<AtomicU64>,
    not_modified: Arc<AtomicU64>,
    alive: Arc<AtomicBool>,
}

impl ListServer {
    fn start(body: &str, etag: &str) -> ListServer {
        ListServer::start_on("127.0.0.1:0", body, etag)
    }

    fn start_on(addr: &str, body: &str, etag: &str) -> ListServer {
        let listener = TcpListener::bind(addr).unwrap();
        listener.set_nonblocking(true).unwrap();
        let server = ListServer {
            addr: listener.local_addr().unwrap(),
            body: Arc::new(Mutex::new((body.to_owned(), etag.to_owned()))),
            full: Arc::default(),
            not_modified: Arc::default(),
            alive: Arc::new(AtomicBool::new(true)),
        };
        let (body, full, not_modified, alive) = (
            server.body.clone(),
            server.full.clone(),
            server.not_modified.clone(),
            server.alive.clone(),
        );
        std::thread::spawn(move || {
            while alive.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut if_none_match = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("if-none-match:") {
                        if_none_match = Some(v.trim().to_owned());
                    }
                }
                let (text, etag) = body.lock().unwrap().clone();
                let mut stream = stream;
                let quoted = format!("\"{etag}\"");
                let response = if if_none_match.as_deref() == Some(quoted.as_str()) {
                    not_modified.fetch_add(1, Ordering::Relaxed);
                    format!(
                        "HTTP/1.1 304 Not Modified\r\nETag: {quoted}\r\nConnection: close\r\n\r\n"
                    )
                } else {
                    full.fetch_add(1, Ordering::Relaxed);
                    format!(
                        "HTTP/1.1 200 OK\r\nETag: {quoted}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    )
                };
                let _ = stream.write_all(response.as_bytes());
                let mut rest = Vec::new();
                let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
                let _ = reader.read_to_end(&mut rest);
            }
            // The listener is dropped here: connections are refused from now on.
        });
        server
    }
}

#[test]
fn a_url_list_refreshes_with_etag_and_survives_its_server_going_away() {
    let up = upstream();
    let lists = ListServer::start("||remote1.example^\n", "v1");
    let dir = TempDir::new("reload-url");
    let data = dir.0.join("data");
    let config_path = dir.0.join("ward.yaml");
    let text = format!(
        r#"
dns:
  listen: ["127.0.0.1:0"]
admin:
  listen: "127.0.0.1:0"
upstreams:
  default: {{ servers: ["{up}"] }}
lists:
  - {{ id: remote, url: "http://{addr}/list.txt", refresh: 1h }}
policies:
  main: {{ lists: [remote] }}
default_policy: main
data_dir: "{data}"
"#,
        addr = lists.addr,
        data = data.display()
    );
    std::fs::write(&config_path, text).unwrap();
    let ward = Ward::spawn(&config_path, &[]);
    // No copy yet: downloaded at once, then applied.
    ward.wait_status(Duration::from_secs(5), "the first download", |s| {
        s["lists"][0]["rules"] == 1
    });
    let blocked =
        |ward: &Ward, name: &str| addrs(ward, ip("127.0.0.2"), name, RecordType::A) == ["0.0.0.0"];
    assert!(blocked(&ward, "remote1.example."));
    let copy = data.join("lists").join("remote.txt");
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        "||remote1.example^\n"
    );
    assert_eq!(lists.full.load(Ordering::Relaxed), 1);

    // SIGHUP checks for updates: the ETag comes back, the server says 304.
    ward.signal("HUP");
    ward.wait_status(Duration::from_secs(5), "a conditional download", |_| {
        lists.not_modified.load(Ordering::Relaxed) == 1
    });
    assert_eq!(lists.full.load(Ordering::Relaxed), 1);

    // A new version.
    *lists.body.lock().unwrap() = ("||remote2.example^\n".into(), "v2".into());
    ward.signal("HUP");
    ward.wait_status(Duration::from_secs(5), "the new version", |s| {
        s["lists"][0]["copy"]["etag"] == "\"v2\"" && generation(s) >= 3
    });
    assert!(blocked(&ward, "remote2.example.") && !blocked(&ward, "remote1.example."));

    // The server goes away: the download fails, the last good copy keeps serving.
    lists.alive.store(false, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(100));
    ward.signal("HUP");
    ward.wait_status(Duration::from_secs(15), "the failed download", |s| {
        s["lists"][0]["activity"]["last_error"].is_string()
    });
    assert!(blocked(&ward, "remote2.example."));
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        "||remote2.example^\n"
    );

    // A restart without the server serves the last good copy from the start.
    drop(ward);
    let ward = Ward::spawn(&config_path, &[]);
    assert!(blocked(&ward, "remote2.example."));
    let status = ward.status();
    assert_eq!(status["lists"][0]["rules"], 1, "{status:#}");
    assert_eq!(status["lists"][0]["copy"]["etag"], "\"v2\"", "{status:#}");
}

/// Issue 15: a primary whose list servers cannot be reached at its first start (no copy
/// yet) is ready with what it has, and fills the list in once the server answers.
#[test]
fn a_first_start_without_its_list_server_is_ready_and_fills_the_list_in() {
    let up = upstream();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = TempDir::new("reload-first-start");
    let config_path = dir.0.join("ward.yaml");
    std::fs::write(
        &config_path,
        format!(
            r#"dns: {{ listen: ["127.0.0.1:0"] }}
admin: {{ listen: "127.0.0.1:0" }}
upstreams: {{ default: {{ servers: ["{up}"] }} }}
lists:
  - {{ id: remote, url: "http://127.0.0.1:{port}/list.txt", refresh: 1h }}
policies:
  main: {{ lists: [remote], rules: ["||local.example^"] }}
default_policy: main
data_dir: "{}"
"#,
            dir.0.join("data").display()
        ),
    )
    .unwrap();
    let ward = Ward::spawn(&config_path, &[]);
    let (code, _) = http(ward.admin, "GET", "/readyz", None, "");
    assert_eq!(code, 200, "ready with what it has");
    let blocked =
        |ward: &Ward, name: &str| addrs(ward, ip("127.0.0.2"), name, RecordType::A) == ["0.0.0.0"];
    assert!(blocked(&ward, "local.example."), "its own rules serve");
    ward.wait_status(Duration::from_secs(10), "the failed first download", |s| {
        s["lists"][0]["activity"]["last_error"].is_string()
    });
    assert!(!blocked(&ward, "remote.example."));

    // The server comes up; the next try (SIGHUP here, else the retry 30 s later,
    // doubling) fills the list in.
    let _lists = ListServer::start_on(&format!("127.0.0.1:{port}"), "||remote.example^\n", "v1");
    ward.signal("HUP");
    ward.wait_status(Duration::from_secs(10), "the list filled in", |s| {
        s["lists"][0]["rules"] == 1
    });
    assert!(blocked(&ward, "remote.example."));
}

#[test]
fn a_busy_directory_does_not_hold_a_reload_back() {
    let up = upstream();
    let dir = TempDir::new("reload-busy");
    let list = dir.0.join("list.txt");
    std::fs::write(&list, "||always.example^\n").unwrap();
    let list_str = list.display().to_string();
    let config_path = dir.0.join("ward.yaml");
    std::fs::write(
        &config_path,
        config(up, &list_str, &dir.0.join("data"), &[]),
    )
    .unwrap();
    let ward = Ward::spawn(&config_path, &[]);
    // Something beside the config writes all the time (a log file, say).
    let stop = Arc::new(AtomicBool::new(false));
    let noise = {
        let (stop, path) = (stop.clone(), dir.0.join("noise.log"));
        std::thread::spawn(move || {
            let mut f = std::fs::File::create(path).unwrap();
            while !stop.load(Ordering::Relaxed) {
                let _ = writeln!(f, "tick");
                let _ = f.flush();
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let text = config(up, &list_str, &dir.0.join("data"), &["||busy.example^"]);
    write_atomically(&config_path, &text);
    let took = ward.wait_status(Duration::from_secs(2), "the reload", |s| generation(s) == 2);
    stop.store(true, Ordering::Relaxed);
    noise.join().unwrap();
    assert_eq!(
        addrs(&ward, ip("127.0.0.2"), "busy.example.", RecordType::A),
        ["0.0.0.0"]
    );
    eprintln!("applied {took:?} after the write, with a write every 5 ms beside it");
}
