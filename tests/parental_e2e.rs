//! Parental control end to end: safe search, blocked services and schedules per policy,
//! asked with dig from addresses that stand for the VLANs, against a local upstream that
//! knows the enforcement hosts; and the embedded default config's first start, in a
//! network namespace of the test's own, against a local server standing in for the list
//! URL, and offline.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::rr::{RData, RecordType};
use serde_json::Value;

use crate::dns_support::{
    self, SAFE_SEARCH_AAAA, TempDir, UPSTREAM_A, Ward, asked, dig, http_get, ip, query, udp,
};

/// Minutes since midnight UTC, now.
fn minute_of_day() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60
        % 1440
}

/// `hh:mm` of a minute of the day (wrapped into the day).
fn hhmm(minute: i64) -> String {
    let m = minute.rem_euclid(1440);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// A Ward with a policy per client address:
/// - 127.0.0.2 main: the ads list;
/// - 127.0.0.3 and ::1 kids: main + safe search everywhere, TikTok and every game blocked;
/// - 127.0.0.4 teens: main + Google safe search, YouTube moderate, social media blocked
///   but Instagram let through by a window open now, YouTube blocked by a window three
///   hours from now (on Kathmandu's clock, UTC+05:45);
/// - 127.0.0.5 bedtime: main + a window open now that blocks everything.
///
/// The windows open a minute ago and close in three minutes.
fn start(tag: &str) -> (Ward, TempDir) {
    let upstream = dns_support::upstream();
    let router = dns_support::upstream_answering(dns_support::ROUTER_A);
    let dir = TempDir::new(tag);
    std::fs::write(dir.0.join("ads.txt"), "||ads.example^\n").unwrap();
    let now = minute_of_day() as i64;
    let (open_from, open_to) = (hhmm(now - 1), hhmm(now + 3));
    // Three hours from now in Kathmandu: UTC + 345 minutes.
    let (later_from, later_to) = (hhmm(now + 180 + 345), hhmm(now + 240 + 345));
    let config = format!(
        r#"
dns:
  listen: ["127.0.0.1:0", "[::1]:0"]
  upstream_timeout: 500ms
admin:
  listen: "127.0.0.1:0"
time_zone: UTC
upstreams:
  default: {{ servers: ["{upstream}"] }}
  router: {{ servers: ["{router}"] }}
forward:
  - {{ zones: ["home.example.com"], upstream: router }}
records:
  - {{ name: "printer.lan", type: A, value: 192.168.1.30 }}
lists:
  - {{ id: ads, path: "{dir}/ads.txt" }}
policies:
  main: {{ lists: [ads] }}
  kids:
    extends: main
    safe_search: true
    blocked_services: [tiktok, games]
  teens:
    extends: main
    safe_search: {{ google: true, youtube: moderate }}
    blocked_services: [social]
    schedules:
      - {{ name: free-time, days: all, from: "{open_from}", to: "{open_to}", allow_services: [instagram] }}
      - {{ name: later, days: all, from: "{later_from}", to: "{later_to}", time_zone: Asia/Kathmandu, block_services: [youtube] }}
  bedtime:
    extends: main
    schedules:
      - {{ name: bedtime, days: all, from: "{open_from}", to: "{open_to}", block_all: true }}
clients:
  - {{ subnet: 127.0.0.0/8, policy: main }}
  - {{ subnet: 127.0.0.3/32, policy: kids }}
  - {{ subnet: "::1/128", policy: kids }}
  - {{ subnet: 127.0.0.4/32, policy: teens }}
  - {{ subnet: 127.0.0.5/32, policy: bedtime }}
default_policy: main
data_dir: "{dir}/data"
"#,
        dir = dir.0.display(),
    );
    let path = dir.0.join("ward.yaml");
    std::fs::write(&path, config).unwrap();
    (Ward::spawn(&path, &[]), dir)
}

fn get(ward: &Ward, path: &str) -> Value {
    let response = http_get(ward.admin, path);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}):\n{response}"))
}

/// The newest query log entry for `name` from `client`, waiting for the recorder.
fn logged(ward: &Ward, client: &str, name: &str, at_least: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let page = get(
            ward,
            &format!("/api/v1/querylog?client={client}&search={name}&limit=100"),
        );
        let entries: Vec<Value> = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] == name)
            .cloned()
            .collect();
        if entries.len() >= at_least || Instant::now() > deadline {
            return entries;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn safe_search_rewrites_the_kids_searches_only_over_ipv4_and_ipv6_and_from_the_cache() {
    let (ward, _dir) = start("parental-safe");
    // The kids get Google's enforcement host, as a CNAME and its addresses; main gets
    // the name as the upstream has it.
    assert_eq!(
        dig(ward.dns, "127.0.0.3", "www.google.de", false),
        "forcesafesearch.google.com.\n216.239.38.120"
    );
    assert_eq!(
        dig(ward.dns, "127.0.0.2", "www.google.de", false),
        UPSTREAM_A.to_string()
    );
    // Again, over TCP: from the cache, the enforcement host asked upstream once.
    assert_eq!(
        dig(ward.dns, "127.0.0.3", "www.google.de", true),
        "forcesafesearch.google.com.\n216.239.38.120"
    );
    assert_eq!(asked("forcesafesearch.google.com."), 1);
    let entries = logged(&ward, "127.0.0.3", "www.google.de", 2);
    assert_eq!(entries.len(), 2, "{entries:?}");
    for e in &entries {
        assert_eq!(e["reason"], "FilteredSafeSearch", "{e}");
        assert_eq!(e["service"], "google", "{e}");
        assert_eq!(e["policy"], "kids", "{e}");
    }
    // Newest first: the second was answered from the cache.
    assert_eq!(entries[0]["cached"], true, "{entries:?}");
    assert_eq!(entries[1]["cached"], false, "{entries:?}");

    // AAAA, from the kids' IPv6 address to the IPv6 listener.
    let v6 = *ward
        .dns_all
        .iter()
        .find(|a| a.is_ipv6())
        .expect("a [::1] listener");
    let answer = udp(v6, ip("::1"), &query("www.youtube.com.", RecordType::AAAA));
    let cname = answer.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(c) => Some(c.0.to_ascii()),
        _ => None,
    });
    assert_eq!(cname.as_deref(), Some("restrict.youtube.com."));
    assert_eq!(dns_support::ips(&answer), [SAFE_SEARCH_AAAA.to_string()]);
    // The teens' YouTube is moderate; Bing is not enforced for them, it is for the kids.
    assert_eq!(
        dig(ward.dns, "127.0.0.4", "m.youtube.com", false),
        "restrictmoderate.youtube.com.\n216.239.38.119"
    );
    assert_eq!(
        dig(ward.dns, "127.0.0.4", "www.bing.com", false),
        UPSTREAM_A.to_string()
    );
    assert_eq!(
        dig(ward.dns, "127.0.0.3", "www.bing.com", false),
        "strict.bing.com.\n204.79.197.220"
    );
    // The enforcement host itself is an ordinary name.
    assert_eq!(
        dig(ward.dns, "127.0.0.3", "forcesafesearch.google.com", false),
        "216.239.38.120"
    );

    let check = get(&ward, "/api/v1/check?name=www.google.com&client=127.0.0.3");
    assert_eq!(check["reason"], "FilteredSafeSearch", "{check}");
    assert_eq!(check["safe_search"]["provider"], "google", "{check}");
    assert_eq!(
        check["safe_search"]["host"], "forcesafesearch.google.com",
        "{check}"
    );
    assert_eq!(
        check["rewrite"]["cname"], "forcesafesearch.google.com",
        "{check}"
    );
}

#[test]
fn blocked_services_and_categories_follow_the_policy() {
    let (ward, _dir) = start("parental-services");
    let blocked = "0.0.0.0";
    for (client, name, answer) in [
        // Kids: TikTok by id, Roblox and Fortnite by the `games` category.
        ("127.0.0.3", "tiktok.com", blocked),
        ("127.0.0.3", "v16.tiktokcdn.com", blocked),
        ("127.0.0.3", "www.roblox.com", blocked),
        ("127.0.0.3", "fortnite.com", blocked),
        ("127.0.0.3", "www.instagram.com", "127.1.0.1"),
        // Teens: `social`, but for Instagram, let through by a window open now.
        ("127.0.0.4", "www.facebook.com", blocked),
        ("127.0.0.4", "tiktok.com", blocked),
        ("127.0.0.4", "www.instagram.com", "127.1.0.1"),
        ("127.0.0.4", "www.roblox.com", "127.1.0.1"),
        // Main blocks no service; its list still applies to everyone.
        ("127.0.0.2", "tiktok.com", "127.1.0.1"),
        ("127.0.0.2", "www.roblox.com", "127.1.0.1"),
        ("127.0.0.3", "ads.example", blocked),
    ] {
        assert_eq!(
            dig(ward.dns, client, name, false),
            answer,
            "{name} from {client}"
        );
    }
    let tiktok = logged(&ward, "127.0.0.3", "tiktok.com", 1);
    assert_eq!(tiktok[0]["reason"], "FilteredBlockedService", "{tiktok:?}");
    assert_eq!(tiktok[0]["service"], "tiktok", "{tiktok:?}");
    assert_eq!(tiktok[0]["list"], "service tiktok", "{tiktok:?}");
    assert_eq!(tiktok[0]["rule"], "||tiktok.com^", "{tiktok:?}");
    // Let through, and the log says which schedule did it.
    let instagram = logged(&ward, "127.0.0.4", "www.instagram.com", 1);
    assert_eq!(
        instagram[0]["reason"], "NotFilteredNotFound",
        "{instagram:?}"
    );
    assert_eq!(instagram[0]["schedule"], "free-time", "{instagram:?}");

    let check = get(&ward, "/api/v1/check?name=www.roblox.com&client=127.0.0.3");
    assert_eq!(check["reason"], "FilteredBlockedService", "{check}");
    assert_eq!(check["service"]["id"], "roblox", "{check}");
    assert_eq!(check["service"]["category"], "games", "{check}");
    assert_eq!(check["rules"][0]["list"], "service roblox", "{check}");

    // Counted per policy: statistics and metrics.
    let deadline = Instant::now() + Duration::from_secs(5);
    let kids = loop {
        let stats = get(&ward, "/api/v1/stats");
        let kids = stats["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["policy"] == "kids")
            .cloned();
        match kids {
            Some(k) if k["queries"] == 6 => break k,
            other if Instant::now() > deadline => panic!("{other:?}\n{stats}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert_eq!(kids["blocked"], 5, "{kids}");
    let metrics = dns_support::metrics(&ward);
    let series =
        r#"ward_dns_queries_total{policy="kids",verdict="blocked_service",protocol="udp"}"#;
    assert_eq!(dns_support::sample(&metrics, series), 4.0, "{metrics}");
}

#[test]
fn schedules_open_around_now_and_check_answers_for_another_time() {
    let (ward, dir) = start("parental-schedules");
    // Bedtime blocks every name, but the local network keeps working.
    assert_eq!(dig(ward.dns, "127.0.0.5", "example.org", false), "0.0.0.0");
    assert_eq!(
        dig(ward.dns, "127.0.0.5", "www.google.com", false),
        "0.0.0.0"
    );
    assert_eq!(
        dig(ward.dns, "127.0.0.5", "nas.home.example.com", false),
        dns_support::ROUTER_A.to_string()
    );
    assert_eq!(
        dig(ward.dns, "127.0.0.5", "printer.lan", false),
        "192.168.1.30"
    );
    // Outside bedtime's policy: not blocked.
    assert_eq!(
        dig(ward.dns, "127.0.0.2", "example.org", false),
        UPSTREAM_A.to_string()
    );
    let bedtime = logged(&ward, "127.0.0.5", "example.org", 1);
    assert_eq!(bedtime[0]["reason"], "FilteredSchedule", "{bedtime:?}");
    assert_eq!(bedtime[0]["schedule"], "bedtime", "{bedtime:?}");

    // The teens' `later` window is closed now: YouTube resolves (moderate, as safe
    // search has it). Asked for a time inside it, it is blocked, and says why.
    assert_eq!(
        dig(ward.dns, "127.0.0.4", "www.youtube.com", false),
        "restrictmoderate.youtube.com.\n216.239.38.119"
    );
    let now = minute_of_day() as i64;
    let inside = hhmm(now + 210);
    let outside = hhmm(now + 60);
    let check = |at: &str| {
        get(
            &ward,
            &format!("/api/v1/check?name=www.youtube.com&client=127.0.0.4&at={at}"),
        )
    };
    let later = check(&inside);
    assert_eq!(later["reason"], "FilteredBlockedService", "{later}");
    assert_eq!(later["service"]["id"], "youtube", "{later}");
    assert_eq!(later["schedule"], "later", "{later}");
    assert_eq!(
        later["open_schedules"],
        serde_json::json!(["later"]),
        "{later}"
    );
    let sooner = check(&outside);
    assert_eq!(sooner["reason"], "FilteredSafeSearch", "{sooner}");
    assert_eq!(sooner["open_schedules"], serde_json::json!([]), "{sooner}");
    // Now: Instagram's window is open.
    let now_check = get(&ward, "/api/v1/check?name=www.youtube.com&client=127.0.0.4");
    assert_eq!(
        now_check["open_schedules"],
        serde_json::json!(["free-time"]),
        "{now_check}"
    );
    // A time that is no time is refused, with the forms it takes.
    let (status, body) = dns_support::http(
        ward.admin,
        "GET",
        "/api/v1/check?name=youtube.com&at=teatime",
        None,
        "",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("expected a time"), "{body}");

    // The same from the command line.
    let ward_check = |at: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["check", "--config"])
            .arg(dir.0.join("ward.yaml"))
            .args(["--client", "127.0.0.4", "--at", at, "www.youtube.com"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = ward_check(&inside);
    assert!(
        text.starts_with("blocked service youtube: `||youtube.com^`")
            && text.trim_end().ends_with("(schedule later)"),
        "{text}"
    );
    assert_eq!(
        ward_check(&outside).trim(),
        "safe search: answered as restrictmoderate.youtube.com"
    );
}

/// Runs `script` with `sh` in a network namespace of its own (only a loopback, brought
/// up), as the test's child; the embedded default config's fixed ports are free there and
/// nothing it sends can leave.
fn in_netns(dir: &std::path::Path, script: &str, env: &[(&str, &str)]) -> std::process::Child {
    Command::new("unshare")
        .args(["-rn", "sh", "-c"])
        .arg(format!("ip link set lo up || exit 97\n{script}"))
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux) must be installed")
}

/// `command` run inside the namespace of process `pid`.
fn nsenter(pid: u32, command: &[&str]) -> String {
    let out = Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-U",
            "-n",
            "--preserve-credentials",
            "--",
        ])
        .args(command)
        .output()
        .expect("nsenter (util-linux) must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The embedded default config's `ward serve` in a namespace, with its log collected;
/// `mirror` is served by a Python HTTP server there, on port 8099.
struct DefaultWard {
    child: std::process::Child,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl DefaultWard {
    fn start(dir: &std::path::Path, mirror: Option<&std::path::Path>) -> DefaultWard {
        let ward = env!("CARGO_BIN_EXE_ward");
        let script = match mirror {
            Some(files) => format!(
                "timeout 120 python3 -m http.server 8099 --bind 127.0.0.1 --directory '{}' \
                 >/dev/null 2>&1 &\n\
                 for i in $(seq 50); do python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 8099))' 2>/dev/null && break; sleep 0.1; done\n\
                 exec '{ward}' serve",
                files.display()
            ),
            None => format!("exec '{ward}' serve"),
        };
        let env: &[(&str, &str)] = match mirror {
            Some(_) => &[("WARD_CATALOGUE_MIRROR", "http://127.0.0.1:8099/")],
            None => &[],
        };
        let mut child = in_netns(dir, &script, env);
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().unwrap().push(line);
            }
        });
        let ward = DefaultWard { child, log };
        ward.wait_log("ready", "ready");
        ward
    }

    fn wait_log(&self, needle: &str, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{what} not logged:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn status(&self) -> Value {
        let body = nsenter(
            self.child.id(),
            &["curl", "-s", "http://127.0.0.1:8080/api/v1/status"],
        );
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("status: {e}: {body:?}"))
    }

    fn dig(&self, name: &str) -> String {
        let out = nsenter(
            self.child.id(),
            &[
                "dig",
                "+short",
                "+time=2",
                "+tries=1",
                "-p",
                "5353",
                "@127.0.0.1",
                name,
            ],
        );
        out.trim().to_owned()
    }
}

impl Drop for DefaultWard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
    }
}

#[test]
fn the_default_config_downloads_the_catalogue_default_list_at_first_start() {
    let dir = TempDir::new("parental-default");
    let mirror = dir.0.join("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    // The mirror has the default list by its catalogue id.
    std::fs::write(
        mirror.join("adguard-dns.txt"),
        "! Title: AdGuard DNS filter (stand-in)\n||ads.default.test^\n||tracker.default.test^\n",
    )
    .unwrap();
    let ward = DefaultWard::start(&dir.0, Some(&mirror));
    ward.wait_log("list downloaded", "the download");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let status = ward.status();
        if status["rules"] == 2 || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status["rules"], 2, "{status:#}");
    assert_eq!(status["lists"][0]["id"], "ads", "{status:#}");
    assert_eq!(status["lists"][0]["source"], "catalogue", "{status:#}");
    assert_eq!(
        status["lists"][0]["location"], "http://127.0.0.1:8099/adguard-dns.txt",
        "{status:#}"
    );
    assert_eq!(status["warnings"], serde_json::json!([]), "{status:#}");
    // Blocked on the default's DNS port, from the copy in ./data (no /var/lib/ward here).
    assert_eq!(ward.dig("ads.default.test"), "0.0.0.0");
    let copy = dir.0.join("data/lists/ads.txt");
    assert!(
        std::fs::read_to_string(&copy)
            .unwrap_or_default()
            .contains("||ads.default.test^"),
        "{}",
        copy.display()
    );
}

#[test]
fn the_default_config_offline_serves_unfiltered_and_says_so() {
    let dir = TempDir::new("parental-offline");
    // No mirror: the catalogue's own URL, in a namespace with nothing but a loopback.
    let ward = DefaultWard::start(&dir.0, None);
    let line = ward.wait_log("list download failed", "the failed download");
    assert!(line.contains("there is no copy yet"), "{line}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let status = ward.status();
        let warned = status["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("the last download failed"));
        if warned || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let warning = status["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.starts_with("list ads has no rules")
            && warning.ends_with("policy default filters without it"),
        "{status:#}"
    );
    assert!(warning.contains("the last download failed"), "{warning}");
    assert_eq!(status["rules"], 0, "{status:#}");
    assert_eq!(
        status["lists"][0]["location"],
        "https://adguardteam.github.io/HostlistsRegistry/assets/filter_1.txt",
        "{status:#}"
    );
    // It still answers: nothing is blocked, and the upstream is out of reach.
    let answer = ward.dig("ads.default.test");
    assert!(!answer.contains("0.0.0.0"), "{answer}");
}
