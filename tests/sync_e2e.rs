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
