//! A primary and two replicas, three `ward serve` processes on 127.0.0.1, .2 and .3: a
//! rule written on the primary blocks on both replicas, a replica restarted while the
//! primary is gone serves what it last accepted, and comes back to the primary's newest
//! revision when it returns.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::dns_support::*;

/// A free TCP port on `ip` (bound, then let go: the process binds it next).
fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Node {
    ip: &'static str,
    config: PathBuf,
}

fn filtering(upstream: SocketAddr, list: &Path, rules: &[&str]) -> String {
    let rules = rules
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"upstreams:
  default: {{ servers: ["{upstream}"] }}
lists:
  - {{ id: ads, path: "{}" }}
policies:
  main: {{ lists: [ads], rules: [{rules}] }}
default_policy: main
"#,
        list.display()
    )
}

fn node_local(ip: &str, admin_port: u16, data: &Path, sync: &str) -> String {
    format!(
        r#"dns:
  listen: ["{ip}:0"]
admin:
  listen: "{ip}:{admin_port}"
data_dir: "{}"
sync:
{sync}"#,
        data.display()
    )
}

fn blocked(ward: &Ward, name: &str) -> bool {
    addrs(ward, ward.dns.ip(), name, RecordType::A) == ["0.0.0.0"]
}

fn wait_until(limit: Duration, what: &str, done: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

#[test]
fn a_primary_and_two_replicas_serve_one_config() {
    let up = upstream();
    let dir = TempDir::new("sync");
    let token = dir.0.join("sync-token");
    std::fs::write(&token, "a-shared-sync-token\n").unwrap();
    let primary_list = dir.0.join("primary-ads.txt");
    std::fs::write(&primary_list, "||ads.example^\n").unwrap();
    // The replicas' own files name another list: they must serve the primary's.
    let replica_list = dir.0.join("replica-ads.txt");
    std::fs::write(&replica_list, "||replica-only.example^\n").unwrap();

    let primary_port = free_port("127.0.0.1");
    let replica_ports = [free_port("127.0.0.2"), free_port("127.0.0.3")];
    let primary_url = format!("http://127.0.0.1:{primary_port}");
    let primary = Node {
        ip: "127.0.0.1",
        config: dir.0.join("primary.yaml"),
    };
    let sync = format!(
        "  role: primary\n  replicas: [\"http://127.0.0.2:{}\", \"http://127.0.0.3:{}\"]\n  token_file: \"{}\"\n",
        replica_ports[0],
        replica_ports[1],
        token.display()
    );
    std::fs::write(
        &primary.config,
        node_local(primary.ip, primary_port, &dir.0.join("data-primary"), &sync)
            + &filtering(up, &primary_list, &[]),
    )
    .unwrap();
    let replicas: Vec<Node> = ["127.0.0.2", "127.0.0.3"]
        .into_iter()
        .zip(replica_ports)
        .map(|(ip, port)| {
            let config = dir.0.join(format!("replica-{ip}.yaml"));
            let sync = format!(
                "  role: replica\n  primary: \"{primary_url}\"\n  token_file: \"{}\"\n  interval: 1s\n",
                token.display()
            );
            std::fs::write(
                &config,
                node_local(ip, port, &dir.0.join(format!("data-{ip}")), &sync)
                    + &filtering(up, &replica_list, &[]),
            )
            .unwrap();
            Node { ip, config }
        })
        .collect();

    let p = Ward::spawn(&primary.config, &[]);
    let mut r: Vec<Ward> = replicas
        .iter()
        .map(|n| Ward::spawn(&n.config, &[]))
        .collect();
    let revision = |w: &Ward| w.status()["sync"]["revision"].as_str().map(str::to_owned);
    let primary_revision = revision(&p).expect("the primary's revision");
    for w in &r {
        w.wait_status(Duration::from_secs(5), "the first sync", |s| {
            s["sync"]["revision"].as_str() == Some(primary_revision.as_str())
        });
        assert!(blocked(w, "ads.example."), "the primary's list");
        assert!(
            !blocked(w, "replica-only.example."),
            "the replica's own list"
        );
    }

    // A rule written on the primary: blocked on both replicas within 2 s.
    let text = std::fs::read_to_string(&primary.config).unwrap();
    let edited = text.replace("rules: []", "rules: [\"||new.example^\"]");
    let (status, body) = http(p.admin, "PUT", "/api/v1/config", None, &edited);
    assert_eq!(status, 200, "{body}");
    let took = wait_until(Duration::from_secs(2), "the rule on both replicas", || {
        r.iter().all(|w| blocked(w, "new.example."))
    });
    eprintln!("write on the primary -> blocked on both replicas: {took:?}");

    // Writes go to the primary.
    let (status, body) = http(r[0].admin, "PUT", "/api/v1/config", None, &edited);
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("write to the primary, http://127.0.0.1:"),
        "{body}"
    );

    // The primary goes away; a replica restarted meanwhile serves what it accepted.
    drop(p);
    let restarted = replicas[1].config.clone();
    r.pop();
    let w = Ward::spawn(&restarted, &[]);
    assert!(blocked(&w, "new.example.") && blocked(&w, "ads.example."));
    assert!(!blocked(&w, "replica-only.example."));
    r.push(w);

    // The primary returns with a newer config (written while it was down): both replicas
    // follow it.
    let newer = edited.replace("||new.example^", "||newer.example^");
    std::fs::write(&primary.config, newer).unwrap();
    let p = Ward::spawn(&primary.config, &[]);
    let newest = revision(&p).unwrap();
    let took = wait_until(
        Duration::from_secs(5),
        "the newest revision on both",
        || {
            r.iter()
                .all(|w| w.status()["sync"]["revision"].as_str() == Some(newest.as_str()))
        },
    );
    eprintln!("primary back -> replicas on its newest revision: {took:?}");
    for w in &r {
        assert!(blocked(w, "newer.example.") && !blocked(w, "new.example."));
    }
}

/// Issue 13: a replica takes nothing it is pushed without checking it. A list `sha256`
/// is a file name under `<data_dir>/sync/lists/`: one that is a path (`/abs/planted`,
/// `../../../planted`) would make the replica serve any file on the machine as a list. A
/// revision that is not the content's would make it skip or keep the wrong content. Each
/// is refused with 400 and the reason, and what serves stays.
#[test]
fn a_forged_push_is_refused_with_the_reason_and_changes_nothing() {
    use crate::admin_e2e::curl;
    let up = upstream();
    let dir = TempDir::new("sync-forged");
    let token = dir.0.join("sync-token");
    std::fs::write(&token, "forged-push-token\n").unwrap();
    let list = dir.0.join("ads.txt");
    std::fs::write(&list, "||ads.example^\n").unwrap();
    // What a forged hash would point at, outside the replica's data_dir.
    std::fs::write(dir.0.join("planted.txt"), "||planted.example^\n").unwrap();

    let primary_port = free_port("127.0.0.1");
    let replica_port = free_port("127.0.0.2");
    let primary_config = dir.0.join("primary.yaml");
    let sync = format!("  role: primary\n  token_file: \"{}\"\n", token.display());
    std::fs::write(
        &primary_config,
        node_local(
            "127.0.0.1",
            primary_port,
            &dir.0.join("data-primary"),
            &sync,
        ) + &filtering(up, &list, &[]),
    )
    .unwrap();
    let replica_config = dir.0.join("replica.yaml");
    let sync = format!(
        "  role: replica\n  primary: \"http://127.0.0.1:{primary_port}\"\n  token_file: \"{}\"\n  interval: 1h\n",
        token.display()
    );
    std::fs::write(
        &replica_config,
        node_local(
            "127.0.0.2",
            replica_port,
            &dir.0.join("data-replica"),
            &sync,
        ) + &filtering(up, &list, &[]),
    )
    .unwrap();
    let p = Ward::spawn(&primary_config, &[]);
    let r = Ward::spawn(&replica_config, &[]);
    let revision = |w: &Ward| w.status()["sync"]["revision"].as_str().map(str::to_owned);
    let good = revision(&p).unwrap();
    r.wait_status(Duration::from_secs(5), "the first sync", |s| {
        s["sync"]["revision"].as_str() == Some(good.as_str())
    });
    assert!(blocked(&r, "ads.example."));

    let auth = "Authorization: Bearer forged-push-token";
    let (status, state) = curl(
        &["-H", auth],
        &format!("http://127.0.0.1:{primary_port}/api/v1/sync/state"),
    );
    assert_eq!(status, 200, "{state}");
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let push = |forged: &serde_json::Value| {
        curl(
            &["-H", auth, "--json", &forged.to_string()],
            &format!("http://127.0.0.2:{replica_port}/api/v1/sync/push"),
        )
    };
    let planted = dir.0.join("planted").display().to_string();
    let mut forgeries = Vec::new();
    for sha in [planted.as_str(), "../../../planted"] {
        let mut forged = state.clone();
        forged["lists"][0]["sha256"] = sha.into();
        forgeries.push((forged, "sha256"));
    }
    let mut forged = state.clone();
    forged["config"]["policies"]["main"]["rules"] = serde_json::json!(["||forged.example^"]);
    forgeries.push((forged, "revision"));

    for (forged, reason) in &forgeries {
        let (status, body) = push(forged);
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(reason), "{reason}: {body}");
        assert_eq!(revision(&r).as_deref(), Some(good.as_str()));
        assert!(
            !blocked(&r, "planted.example."),
            "a file outside data_dir served"
        );
        assert!(!blocked(&r, "forged.example."), "a forged rule served");
        assert!(blocked(&r, "ads.example."));
    }
    // The reason is the replica's last error, for its status page.
    let last = r.status()["sync"]["replica"]["last_error"].clone();
    assert!(last.as_str().unwrap().contains("revision"), "{last}");

    // Without the token the body is not even read.
    let (status, _) = curl(
        &["--json", "{ this is not json"],
        &format!("http://127.0.0.2:{replica_port}/api/v1/sync/push"),
    );
    assert_eq!(status, 401);
    // The real state still goes through.
    let (status, body) = push(&state);
    assert_eq!(status, 200, "{body}");
}

/// Issue 14: on the primary, `node=all` merges every pod's query log and statistics
/// (the load balancer may send a VLAN's queries to any pod), `/api/v1/nodes` lists the
/// pods with their revisions, and a pod that is down is reported, not fatal. The
/// primary reads its replicas with the sync token, which opens those reads only.
#[test]
fn the_primary_shows_every_pods_log_statistics_and_revision() {
    let up = upstream();
    let dir = TempDir::new("sync-views");
    let token = dir.0.join("sync-token");
    std::fs::write(&token, "views-sync-token\n").unwrap();
    let admin_token = dir.0.join("admin-token");
    std::fs::write(&admin_token, "views-admin-token\n").unwrap();
    let list = dir.0.join("ads.txt");
    std::fs::write(&list, "||ads.example^\n").unwrap();
    let ips = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let ports: Vec<u16> = ips.iter().map(|ip| free_port(ip)).collect();
    let with_admin_token = |text: String| {
        text.replace(
            "admin:\n  listen:",
            &format!(
                "admin:\n  token_file: \"{}\"\n  listen:",
                admin_token.display()
            ),
        )
    };
    let configs: Vec<PathBuf> = ips
        .iter()
        .zip(&ports)
        .enumerate()
        .map(|(i, (ip, port))| {
            let sync = if i == 0 {
                format!(
                    "  role: primary\n  replicas: [\"http://127.0.0.2:{}\", \"http://127.0.0.3:{}\"]\n  token_file: \"{}\"\n",
                    ports[1],
                    ports[2],
                    token.display()
                )
            } else {
                format!(
                    "  role: replica\n  primary: \"http://127.0.0.1:{}\"\n  token_file: \"{}\"\n  interval: 1s\n",
                    ports[0],
                    token.display()
                )
            };
            let path = dir.0.join(format!("node-{i}.yaml"));
            let text = node_local(ip, *port, &dir.0.join(format!("data-{i}")), &sync)
                + &filtering(up, &list, &[]);
            std::fs::write(&path, with_admin_token(text)).unwrap();
            path
        })
        .collect();
    let names = ["ward-0", "ward-replica-0", "ward-replica-1"];
    let pods: Vec<Ward> = configs
        .iter()
        .zip(names)
        .map(|(c, name)| Ward::spawn_env(c, &[("HOSTNAME", name)]))
        .collect();
    let auth = Some("Bearer views-admin-token");
    let get = |w: &Ward, path: &str| -> serde_json::Value {
        let (status, body) = http(w.admin, "GET", path, auth, "");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    let revision = get(&pods[0], "/api/v1/status")["sync"]["revision"]
        .as_str()
        .unwrap()
        .to_owned();
    for w in &pods[1..] {
        wait_until(Duration::from_secs(5), "the first sync", || {
            get(w, "/api/v1/status")["sync"]["revision"].as_str() == Some(revision.as_str())
        });
    }

    // One query on each pod, and a blocked one on the last.
    for (i, w) in pods.iter().enumerate() {
        let name = format!("on-pod-{i}.example.");
        assert_eq!(addrs(w, w.dns.ip(), &name, RecordType::A), ["127.1.0.1"]);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(blocked(&pods[2], "ads.example."));
    let merged = |params: &str| get(&pods[0], &format!("/api/v1/querylog?node=all&{params}"));
    wait_until(Duration::from_secs(3), "every pod's entries", || {
        merged("")["entries"].as_array().unwrap().len() == 4
    });
    let page = merged("");
    let seen: Vec<(String, String)> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"].as_str().unwrap().to_owned(),
                e["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ward-replica-1".to_owned(), "ads.example".to_owned()),
            ("ward-replica-1".to_owned(), "on-pod-2.example".to_owned()),
            ("ward-replica-0".to_owned(), "on-pod-1.example".to_owned()),
            ("ward-0".to_owned(), "on-pod-0.example".to_owned()),
        ]
    );
    let nodes = page["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{page:#}");
    assert!(nodes.iter().all(|n| n["ok"] == true), "{page:#}");
    assert!(page["next_cursor"].is_null());
    // Filters reach every pod.
    assert_eq!(
        merged("verdict=blocked")["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A page at a time: every entry once, newest first.
    let mut walked = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = merged(&format!("limit=1&cursor={cursor}"));
        walked.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
        assert!(walked.len() <= 4, "{walked:?}");
    }
    assert_eq!(walked, seen.iter().map(|s| s.1.clone()).collect::<Vec<_>>());

    // The statistics add up; a scope reaches every pod too.
    let stats = get(&pods[0], "/api/v1/stats?node=all");
    assert_eq!(stats["totals"]["queries"], 4, "{stats:#}");
    assert_eq!(stats["totals"]["blocked"], 1);
    assert_eq!(stats["nodes"].as_array().unwrap().len(), 3);
    let own = get(&pods[0], "/api/v1/stats");
    assert_eq!(own["totals"]["queries"], 1);
    assert_eq!(own["node"], "ward-0");
    let scoped = get(&pods[0], "/api/v1/stats?node=all&client=127.0.0.3");
    assert_eq!(scoped["totals"]["queries"], 2, "{scoped:#}");
    assert_eq!(scoped["scope"]["client"], "127.0.0.3");

    // Every pod, in sync.
    let all = get(&pods[0], "/api/v1/nodes")["nodes"].clone();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!(all[0]["node"], "ward-0");
    assert_eq!(all[0]["role"], "primary");
    assert_eq!(all[0]["self"], true);
    for (node, name) in all[1..].iter().zip(&names[1..]) {
        assert_eq!(node["node"], *name, "{node:#}");
        assert_eq!(node["role"], "replica");
        assert_eq!(node["in_sync"], true);
        assert_eq!(node["behind_ms"], 0);
        assert_eq!(node["revision"], revision.as_str());
        // The primary started first: its first push failed and the replica pulled.
        assert!(node["last_push"]["at_ms"].as_u64().is_some(), "{node:#}");
        assert!(node["last_sync_ms"].as_u64().is_some(), "{node:#}");
    }

    // The sync token opens the primary's reads, nothing else.
    let sync_auth = Some("Bearer views-sync-token");
    let (status, _) = http(pods[1].admin, "GET", "/api/v1/querylog", sync_auth, "");
    assert_eq!(status, 200);
    for path in ["/api/v1/config", "/api/v1/policies"] {
        let (status, body) = http(pods[1].admin, "GET", path, sync_auth, "");
        assert_eq!(status, 401, "GET {path}: {body}");
    }
    let write = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
        .args(["-H", "Content-Type: application/json", "-d", "[]"])
        .args(["-H", "Authorization: Bearer views-sync-token"])
        .arg(format!("http://{}/api/v1/forward", pods[0].admin))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&write.stdout), "401");

    // A pod down: named, and the others still merged.
    pods[2].signal("KILL");
    std::thread::sleep(Duration::from_millis(200));
    let page = merged("");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{page:#}");
    let down: Vec<&serde_json::Value> = page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["ok"] == false)
        .collect();
    assert_eq!(down.len(), 1, "{page:#}");
    assert!(
        down[0]["error"].as_str().unwrap().contains("127.0.0.3"),
        "{page:#}"
    );
    let stats = get(&pods[0], "/api/v1/stats?node=all");
    assert_eq!(stats["totals"]["queries"], 2);
    let all = get(&pods[0], "/api/v1/nodes")["nodes"].clone();
    assert_eq!(all[2]["ok"], false, "{all:#}");
    assert!(all[2]["error"].is_string());
}

/// Issue 15: a replica that has never had a config from its primary is not ready (the
/// load balancer skips it) while the primary is gone, and is once the first sync lands.
#[test]
fn a_replica_without_a_config_from_its_primary_is_not_ready() {
    let up = upstream();
    let dir = TempDir::new("sync-not-ready");
    let token = dir.0.join("sync-token");
    std::fs::write(&token, "not-ready-token\n").unwrap();
    let list = dir.0.join("ads.txt");
    std::fs::write(&list, "||ads.example^\n").unwrap();
    let (primary_port, replica_port) = (free_port("127.0.0.1"), free_port("127.0.0.2"));
    let replica_config = dir.0.join("replica.yaml");
    std::fs::write(
        &replica_config,
        node_local(
            "127.0.0.2",
            replica_port,
            &dir.0.join("data-r"),
            &format!(
                "  role: replica\n  primary: \"http://127.0.0.1:{primary_port}\"\n  token_file: \"{}\"\n  interval: 1s\n",
                token.display()
            ),
        ) + &filtering(up, &list, &[]),
    )
    .unwrap();
    let replica = Ward::spawn(&replica_config, &[]);
    let readyz = |w: &Ward| http(w.admin, "GET", "/readyz", None, "").0;
    assert_eq!(readyz(&replica), 503, "no config from the primary yet");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(readyz(&replica), 503, "still none: the primary is gone");

    let primary_config = dir.0.join("primary.yaml");
    std::fs::write(
        &primary_config,
        node_local(
            "127.0.0.1",
            primary_port,
            &dir.0.join("data-p"),
            &format!(
                "  role: primary\n  replicas: [\"http://127.0.0.2:{replica_port}\"]\n  token_file: \"{}\"\n",
                token.display()
            ),
        ) + &filtering(up, &list, &["||from-primary.example^"]),
    )
    .unwrap();
    let _primary = Ward::spawn(&primary_config, &[]);
    wait_until(Duration::from_secs(5), "the replica ready", || {
        readyz(&replica) == 200
    });
    assert!(blocked(&replica, "from-primary.example."));
    // Restarted with the primary gone, it serves what it accepted and is ready at once.
    drop(_primary);
    drop(replica);
    let replica = Ward::spawn(&replica_config, &[]);
    assert_eq!(readyz(&replica), 200);
    assert!(blocked(&replica, "from-primary.example."));
}
