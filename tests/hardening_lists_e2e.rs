//! Issue 13, against the real binary: list files that are no lists (a FIFO, `/dev/zero`, a
//! directory, a file outside the allowed directories) from the config file and from the
//! API, a list with a 20,000-character line, `$client` by name and `$ctag`, and logs
//! without colours when no one is watching them in a terminal.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::dns_support::{TempDir, Ward, addrs, dig, http_get, upstream};

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

/// `curl` a JSON body to the admin API: the status and the body as JSON.
fn send(ward: &Ward, method: &str, path: &str, body: &str) -> (u16, Value) {
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "20",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
        ])
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ])
        .arg(format!("http://{}{path}", ward.admin))
        .output()
        .expect("curl must be installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    let json = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
    (code.trim().parse().unwrap_or(0), json)
}

fn get_json(addr: SocketAddr, path: &str) -> Value {
    let response = http_get(addr, path);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}):\n{response}"))
}

/// A list's entry in `/api/v1/status`.
fn list_status(ward: &Ward, id: &str) -> Value {
    let status = ward.status();
    status["lists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id)
        .unwrap_or_else(|| panic!("no list {id} in {status:#}"))
        .clone()
}

fn config(dir: &Path, more: &str) -> PathBuf {
    let path = dir.join("ward.yaml");
    std::fs::write(
        &path,
        format!(
            r#"dns:
  listen: ["127.0.0.1:0"]
admin:
  listen: "127.0.0.1:0"
upstreams:
  default: {{ servers: ["{up}"] }}
default_policy: main
data_dir: "{data}"
{more}"#,
            up = upstream(),
            data = dir.join("data").display(),
        ),
    )
    .unwrap();
    path
}

/// A FIFO, `/dev/zero`, a directory and a file outside the allowed directories as list
/// paths in the config file: Ward starts (reading the FIFO used to block the one
/// reloader for good, `/dev/zero` to fill the memory), each is that list's error, and the
/// good list serves.
#[test]
fn list_files_that_are_no_lists_are_their_lists_errors_and_the_others_serve() {
    let dir = TempDir::new("lists-bad-files");
    let outside = TempDir::new("lists-outside");
    std::fs::write(dir.0.join("ads.txt"), "||ads.example^\n").unwrap();
    mkfifo(&dir.0.join("fifo.txt"));
    std::fs::create_dir_all(dir.0.join("folder")).unwrap();
    std::fs::write(outside.0.join("secret.txt"), "||secret.example^\n").unwrap();
    let path = config(
        &dir.0,
        &format!(
            r#"lists:
  - {{ id: ads, path: "{d}/ads.txt" }}
  - {{ id: fifo, path: "{d}/fifo.txt" }}
  - {{ id: zero, path: /dev/zero }}
  - {{ id: folder, path: "{d}/folder" }}
  - {{ id: outside, path: "{o}/secret.txt" }}
  - {{ id: escape, path: "{d}/../{on}/secret.txt" }}
policies:
  main: {{ lists: [ads, fifo, zero, folder, outside, escape] }}
"#,
            d = dir.0.display(),
            o = outside.0.display(),
            on = outside.0.file_name().unwrap().to_string_lossy(),
        ),
    );
    let started = Instant::now();
    let ward = Ward::spawn(&path, &[]);
    assert!(started.elapsed() < Duration::from_secs(20));

    for (id, why) in [
        ("fifo", "is a FIFO, not a regular file"),
        (
            "zero",
            "/dev/zero is outside the directories lists may be read from",
        ),
        ("folder", "is a directory, not a regular file"),
        ("outside", "is outside the directories"),
        ("escape", "is outside the directories"),
    ] {
        let list = list_status(&ward, id);
        let error = list["error"].as_str().unwrap_or_default();
        assert!(error.contains(why), "{id}: {list:#}");
        assert_eq!(list["rules"], 0, "{id}: {list:#}");
    }
    assert_eq!(list_status(&ward, "ads")["error"], Value::Null);
    assert_eq!(
        addrs(&ward, ip("127.0.0.1"), "ads.example", RecordType::A),
        ["0.0.0.0"]
    );
    assert_eq!(
        addrs(&ward, ip("127.0.0.1"), "secret.example", RecordType::A),
        ["127.1.0.1"],
        "a file outside the allowed directories is never read"
    );

    // A reload reads them again, as quickly: SIGHUP and the server still answers.
    let before = ward.status()["reloads"]["unchanged"].as_u64().unwrap()
        + ward.status()["reloads"]["applied"].as_u64().unwrap();
    ward.signal("HUP");
    ward.wait_status(Duration::from_secs(10), "the SIGHUP reload", |s| {
        s["reloads"]["unchanged"].as_u64().unwrap() + s["reloads"]["applied"].as_u64().unwrap()
            > before
    });
    assert_eq!(
        addrs(&ward, ip("127.0.0.1"), "ads.example", RecordType::A),
        ["0.0.0.0"]
    );
}

/// The API refuses a list file Ward may not read, with a message that says why, and the
/// server keeps answering; `list_dirs` names where lists may live (here also `/dev`, so
/// that `/dev/zero` meets the regular-file check rather than the directory check).
#[test]
fn the_api_refuses_list_files_that_are_no_lists_and_says_why() {
    let dir = TempDir::new("lists-api-refusals");
    let outside = TempDir::new("lists-api-outside");
    std::fs::write(dir.0.join("ads.txt"), "||ads.example^\n").unwrap();
    std::fs::write(dir.0.join("more.txt"), "||more.example^\n").unwrap();
    mkfifo(&dir.0.join("fifo.txt"));
    std::fs::write(outside.0.join("secret.txt"), "||secret.example^\n").unwrap();
    let path = config(
        &dir.0,
        &format!(
            r#"list_dirs: ["{d}", /dev]
lists:
  - {{ id: ads, path: "{d}/ads.txt" }}
policies:
  main: {{ lists: [ads] }}
"#,
            d = dir.0.display(),
        ),
    );
    let ward = Ward::spawn(&path, &[]);
    let saved = std::fs::read_to_string(&path).unwrap();

    let fifo = dir.0.join("fifo.txt");
    let secret = outside.0.join("secret.txt");
    for (id, file, why) in [
        ("fifo", fifo.as_path(), "is a FIFO, not a regular file"),
        (
            "zero",
            Path::new("/dev/zero"),
            "is a character device, not a regular file",
        ),
        (
            "folder",
            dir.0.as_path(),
            "is a directory, not a regular file",
        ),
        (
            "outside",
            secret.as_path(),
            "is outside the directories lists may be read from",
        ),
    ] {
        let body = format!(r#"{{"id": "{id}", "path": "{}"}}"#, file.display());
        let started = Instant::now();
        let (status, answer) = send(&ward, "POST", "/api/v1/lists", &body);
        assert_eq!(status, 400, "{id}: {answer:#}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(&format!("lists[1].path (list {id})")) && error.contains(why),
            "{id}: {answer:#}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{id}");
        // Nothing changed: not the file, not what serves, and the server answers.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), saved, "{id}");
        assert_eq!(
            addrs(&ward, ip("127.0.0.1"), "ads.example", RecordType::A),
            ["0.0.0.0"]
        );
    }
    // The whole config too.
    let mut whole = get_json(ward.admin, "/api/v1/config")["config"].clone();
    whole["lists"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"id": "fifo", "path": fifo}));
    let (status, answer) = send(&ward, "PUT", "/api/v1/config", &whole.to_string());
    assert_eq!(status, 400, "{answer:#}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("is a FIFO"),
        "{answer:#}"
    );

    // Nor may a write widen the directories to reach a file.
    let mut wider = get_json(ward.admin, "/api/v1/config")["config"].clone();
    wider["list_dirs"] = serde_json::json!(["/"]);
    wider["lists"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"id": "secret", "path": secret}));
    let (status, answer) = send(&ward, "PUT", "/api/v1/config", &wider.to_string());
    assert_eq!(status, 400, "{answer:#}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("list_dirs: cannot be changed through the API"),
        "{answer:#}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), saved);
    // Nor move data_dir, whose lists folder is an allowed directory.
    let mut moved = get_json(ward.admin, "/api/v1/config")["config"].clone();
    moved["data_dir"] = serde_json::json!("/");
    let (status, answer) = send(&ward, "PUT", "/api/v1/config", &moved.to_string());
    assert_eq!(status, 400, "{answer:#}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("data_dir: cannot be changed through the API"),
        "{answer:#}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), saved);

    // A list file where lists may be is taken.
    let body = format!(
        r#"{{"id": "more", "path": "{}"}}"#,
        dir.0.join("more.txt").display()
    );
    let (status, answer) = send(&ward, "POST", "/api/v1/lists", &body);
    assert_eq!(status, 200, "{answer:#}");
    assert_eq!(list_status(&ward, "more")["rules"], 1);
}

/// A 20,000-character line compiles in no time and is counted as `invalid_pattern`; the
/// rules around it serve.
#[test]
fn a_list_with_a_20k_character_line_compiles_fast_and_skips_it() {
    let dir = TempDir::new("lists-long-line");
    let list = dir.0.join("long.txt");
    std::fs::write(
        &list,
        format!(
            "||ads.example^\n{}\n||{}*^\n||tracker.example^\n",
            "a".repeat(20_000),
            "b.".repeat(10_000)
        ),
    )
    .unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["compile", "--json"])
        .arg(&list)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let l = &report["lists"][0];
    assert_eq!(l["rules"], 2, "{report:#}");
    assert_eq!(l["skipped_by_reason"]["invalid_pattern"], 2, "{report:#}");
    let seconds = report["compile_seconds"].as_f64().unwrap();
    assert!(seconds < 0.5, "compiled in {seconds} s");

    let path = config(
        &dir.0,
        &format!(
            "lists: [{{ id: long, path: \"{}\" }}]\npolicies: {{ main: {{ lists: [long] }} }}\n",
            list.display()
        ),
    );
    let started = Instant::now();
    let ward = Ward::spawn(&path, &[]);
    assert!(started.elapsed() < Duration::from_secs(10));
    let status = list_status(&ward, "long");
    assert_eq!(
        (status["rules"].as_u64(), status["skipped"].as_u64()),
        (Some(2), Some(2))
    );
    // by reason, as `ward compile` says (the web UI's lists page shows it)
    assert_eq!(
        status["skipped_by_reason"],
        serde_json::json!({ "invalid_pattern": 2 }),
        "{status:#}"
    );
    assert_eq!(
        addrs(&ward, ip("127.0.0.1"), "tracker.example", RecordType::A),
        ["0.0.0.0"]
    );
}

/// Clients by name and tag: 127.0.0.3 is `dad-laptop`, 127.0.0.5 a child's tablet.
fn clients_config(dir: &Path) -> PathBuf {
    config(
        dir,
        r#"policies:
  main:
    rules:
      - "||games.example^$ctag=user_child"
      - "||social.example^$client=~'dad-laptop'"
      - "||dad-only.example^$client='dad-laptop'"
clients:
  - { subnet: 127.0.0.0/8, policy: main }
  - { subnet: 127.0.0.3/32, policy: main, name: dad-laptop, tags: [user_admin, device_laptop] }
  - { subnet: 127.0.0.5/32, policy: main, name: kid-tablet, tags: [user_child, device_tablet] }
"#,
    )
}

/// What each client gets for each name: blocked (true) or not.
const CLIENT_CASES: &[(&str, &str, bool)] = &[
    ("127.0.0.5", "games.example", true),
    ("127.0.0.3", "games.example", false),
    ("127.0.0.1", "games.example", false),
    ("127.0.0.3", "social.example", false),
    ("127.0.0.5", "social.example", true),
    ("127.0.0.1", "social.example", true),
    ("127.0.0.3", "dad-only.example", true),
    ("127.0.0.5", "dad-only.example", false),
];

/// `$client='name'` and `$ctag` decide `/api/v1/check` and `ward check --config` for the
/// client address given, as they will the DNS answer.
#[test]
fn client_names_and_tags_decide_check_and_the_cli() {
    let dir = TempDir::new("lists-client-tags");
    let path = clients_config(&dir.0);
    let ward = Ward::spawn(&path, &[]);
    for &(client, name, blocked) in CLIENT_CASES {
        let v = get_json(
            ward.admin,
            &format!("/api/v1/check?name={name}&client={client}"),
        );
        assert_eq!(
            v["filtered"], blocked,
            "/api/v1/check {client} {name}: {v:#}"
        );
        let out = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["check", "--json", "--client", client, "--config"])
            .arg(&path)
            .arg(name)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["reason"] == "FilteredBlockList",
            blocked,
            "ward check {client} {name}: {v:#}"
        );
    }
    let v = get_json(
        ward.admin,
        "/api/v1/check?name=games.example&client=127.0.0.5",
    );
    assert_eq!(v["client_name"], "kid-tablet");
    assert_eq!(
        v["client_tags"],
        serde_json::json!(["user_child", "device_tablet"])
    );
    assert_eq!(v["rules"][0]["text"], "||games.example^$ctag=user_child");

    // The text form cites the rule; --ctag and --client-name override the config's.
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ward"))
            .arg("check")
            .args(args)
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        run(&["--client", "127.0.0.5", "games.example"]),
        "blocked by `||games.example^$ctag=user_child` (list policy main rules, line 1)\n"
    );
    assert_eq!(
        run(&[
            "--client",
            "127.0.0.1",
            "--ctag",
            "user_child",
            "games.example"
        ]),
        "blocked by `||games.example^$ctag=user_child` (list policy main rules, line 1)\n"
    );
    assert_eq!(
        run(&[
            "--client",
            "127.0.0.1",
            "--client-name",
            "dad-laptop",
            "social.example"
        ]),
        "not filtered: no rule matches\n"
    );
}

/// The same through DNS, from the client's own address (dig bound to it).
#[test]
fn client_names_and_tags_decide_dns_answers() {
    let dir = TempDir::new("lists-client-tags-dns");
    let ward = Ward::spawn(&clients_config(&dir.0), &[]);
    for &(client, name, blocked) in CLIENT_CASES {
        let answer = dig(ward.dns, client, name, false);
        assert_eq!(
            answer == "0.0.0.0",
            blocked,
            "dig -b {client} {name}: {answer:?}"
        );
    }
}

/// Reads `ward serve`'s log until it is ready (or `limit` passes); every line.
fn serve_log(path: &Path, env: &[(&str, &str)]) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["serve", "--config"])
        .arg(path)
        .envs(env.iter().copied())
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let ready = line.contains(" ready");
            lines.push(line);
            if ready {
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

/// `ward serve` for `seconds` in a pseudo-terminal (`script`): its log as a person sees it.
fn serve_log_in_a_terminal(path: &Path, no_color: bool) -> String {
    let ward = env!("CARGO_BIN_EXE_ward");
    let command = format!("timeout -s TERM 3 {ward} serve --config {}", path.display());
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd.output().expect("script (util-linux) must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Logs carry no ANSI colours when stderr is not a terminal (a file, a pipe, journald,
/// a log shipper), nor at a terminal with `NO_COLOR` set.
#[test]
fn logs_have_no_colours_unless_a_terminal_shows_them() {
    let dir = TempDir::new("logs-no-colour");
    let path = config(&dir.0, "policies: { main: {} }\n");
    let lines = serve_log(&path, &[]);
    assert!(lines.iter().any(|l| l.contains(" ready")), "{lines:#?}");
    let coloured: Vec<&String> = lines.iter().filter(|l| l.contains("\x1b[")).collect();
    assert!(coloured.is_empty(), "colours in a pipe: {coloured:#?}");

    let shown = serve_log_in_a_terminal(&path, false);
    assert!(shown.contains(" ready"), "{shown}");
    assert!(
        shown.contains("\x1b["),
        "a terminal shows colours:\n{shown}"
    );
    let shown = serve_log_in_a_terminal(&path, true);
    assert!(shown.contains(" ready"), "{shown}");
    assert!(!shown.contains("\x1b["), "NO_COLOR at a terminal:\n{shown}");
}
