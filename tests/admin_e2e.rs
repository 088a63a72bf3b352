//! The admin API of a real `ward serve` over a real port, with a token from a file: who
//! gets in, and what a write does.

use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::dns_support::*;

#[test]
fn the_token_file_guards_the_api_and_a_write_applies() {
    let up = upstream();
    let dir = TempDir::new("admin");
    let token = dir.0.join("admin-token");
    std::fs::write(&token, "t0ken-from-a-file\n").unwrap();
    let config_path = dir.0.join("ward.yaml");
    let text = format!(
        r#"dns:
  listen: ["127.0.0.1:0"]
admin:
  listen: "127.0.0.1:0"
  token_file: "{}"
upstreams:
  default: {{ servers: ["{up}"] }}
policies:
  main: {{ rules: [] }}
default_policy: main
data_dir: "{}"
"#,
        token.display(),
        dir.0.join("data").display()
    );
    std::fs::write(&config_path, &text).unwrap();
    let ward = Ward::spawn(&config_path, &[]);
    let good = Some("Bearer t0ken-from-a-file");
    let edited = text.replace("rules: []", "rules: [\"||api.example^\"]");

    // The probes stay open; the API wants the token, also from loopback.
    assert!(http(ward.admin, "GET", "/readyz", None, "").0 == 200);
    for auth in [None, Some("Bearer wrong"), Some("Basic dXNlcjpwYXNz")] {
        assert_eq!(
            http(ward.admin, "GET", "/api/v1/status", auth, "").0,
            401,
            "{auth:?}"
        );
        let (status, _) = http(ward.admin, "PUT", "/api/v1/config", auth, &edited);
        assert_eq!(status, 401, "{auth:?}");
    }
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), text);
    let (status, body) = http(ward.admin, "GET", "/api/v1/status", good, "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"generation\":1"), "{body}");

    // A write: saved, applied, answered with the new revision.
    let (status, body) = http(ward.admin, "PUT", "/api/v1/config", good, &edited);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"applied\""), "{body}");
    let saved = std::fs::read_to_string(&config_path).unwrap();
    assert!(saved.contains("||api.example^"), "{saved}");
    let blocked = addrs(&ward, ip("127.0.0.2"), "www.api.example.", RecordType::A);
    assert_eq!(blocked, ["0.0.0.0"]);
    let (status, body) = http(
        ward.admin,
        "GET",
        "/api/v1/check?name=www.api.example",
        good,
        "",
    );
    assert_eq!(status, 200);
    assert!(body.contains("\"text\":\"||api.example^\""), "{body}");
    // The file watcher sees the saved file and finds nothing new to do.
    std::thread::sleep(Duration::from_millis(200));
    let (_, body) = http(ward.admin, "GET", "/api/v1/status", good, "");
    assert!(body.contains("\"generation\":2"), "{body}");
    // The watcher's reload found nothing new; the last change is still the write's.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let status = loop {
        let (_, body) = http(ward.admin, "GET", "/api/v1/status", good, "");
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        if status["reloads"]["unchanged"].as_u64() >= Some(1)
            || std::time::Instant::now() > deadline
        {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status["last_reload"]["outcome"], "unchanged", "{status:#}");
    assert_eq!(status["last_change"]["outcome"], "applied", "{status:#}");
    assert_eq!(
        status["last_change"]["trigger"], "admin API write",
        "{status:#}"
    );
}

#[test]
fn the_token_may_come_from_the_environment() {
    let up = upstream();
    let dir = TempDir::new("admin-env");
    let config_path = dir.0.join("ward.yaml");
    std::fs::write(
        &config_path,
        format!(
            "dns:\n  listen: [\"127.0.0.1:0\"]\nadmin:\n  listen: \"127.0.0.1:0\"\nupstreams:\n  default: {{ servers: [\"{up}\"] }}\npolicies:\n  main: {{ rules: [] }}\ndefault_policy: main\ndata_dir: \"{}\"\n",
            dir.0.join("data").display()
        ),
    )
    .unwrap();
    let ward = Ward::spawn_env(&config_path, &[("WARD_ADMIN_TOKEN", "from-env")]);
    assert_eq!(http(ward.admin, "GET", "/api/v1/status", None, "").0, 401);
    let (status, _) = http(
        ward.admin,
        "GET",
        "/api/v1/status",
        Some("Bearer from-env"),
        "",
    );
    assert_eq!(status, 200);
}

/// `curl -s` with `args`, then the URL; the status and the body.
pub(crate) fn curl(args: &[&str], url: &str) -> (u16, String) {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl must be installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// The A answer to `name` (the upstream answers every other name with 127.1.0.1).
fn a_of(ward: &Ward, name: &str) -> Vec<String> {
    addrs(ward, ip("127.0.0.1"), name, RecordType::A)
}

/// A config with no admin credentials (the README's first recipes): loopback clients may
/// use the API.
fn open_config(dir: &TempDir, up: std::net::SocketAddr, admin: &str) -> std::path::PathBuf {
    let path = dir.0.join("ward.yaml");
    std::fs::write(
        &path,
        format!(
            r#"dns:
  listen: ["127.0.0.1:0"]
admin:
{admin}
upstreams:
  default: {{ servers: ["{up}"] }}
records:
  - {{ name: nas.home.example, type: A, value: 10.0.0.5 }}
policies:
  main: {{ rules: [] }}
default_policy: main
data_dir: "{}"
"#,
            dir.0.join("data").display()
        ),
    )
    .unwrap();
    path
}

const EVIL_RECORD: &str = r#"{"name": "evil.home.example", "type": "A", "value": "10.6.6.6"}"#;

/// Issue 13: a page of another site, open in the browser of the machine Ward runs on, is a
/// loopback client; with no credentials it could add a record with a "simple" POST, or
/// read the API through DNS rebinding.
#[test]
fn a_page_of_another_site_cannot_drive_the_api() {
    let up = upstream();
    let dir = TempDir::new("admin-cross-site");
    let config = open_config(&dir, up, "  listen: \"127.0.0.1:0\"");
    let ward = Ward::spawn(&config, &[]);
    let records = format!("http://{}/api/v1/records", ward.admin);
    let evil = || a_of(&ward, "evil.home.example.");

    // A form or text/plain POST needs no CORS preflight: refused, nothing added.
    for kind in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let (status, body) = curl(
            &[
                "-H",
                &format!("Content-Type: {kind}"),
                "--data-binary",
                EVIL_RECORD,
            ],
            &records,
        );
        assert_eq!(status, 415, "{kind}: {body}");
        assert!(body.contains("application/json"), "{body}");
    }
    assert_ne!(evil(), ["10.6.6.6"]);
    // JSON from a page of another origin: refused too.
    let (status, body) = curl(
        &["-H", "Origin: http://evil.example", "--json", EVIL_RECORD],
        &records,
    );
    assert_eq!(status, 403, "{body}");
    assert_ne!(evil(), ["10.6.6.6"]);
    // A rebinding name as Host: the query log stays unread.
    let querylog = format!("http://{}/api/v1/querylog", ward.admin);
    let (status, body) = curl(&["-H", "Host: evil.example:8080"], &querylog);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("DNS rebinding"), "{body}");
    let port = ward.admin.port();
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let (status, body) = curl(&["-H", &format!("Host: {host}")], &querylog);
        assert_eq!(status, 200, "{host}: {body}");
    }
    let (status, _) = curl(&[], &format!("http://localhost:{port}/api/v1/status"));
    assert_eq!(status, 200);

    // The same write, as a client of the API sends it, with its own origin: applied.
    let own = format!("Origin: http://127.0.0.1:{port}");
    let (status, body) = curl(&["-H", &own, "--json", EVIL_RECORD], &records);
    assert_eq!(status, 200, "{body}");
    assert_eq!(evil(), ["10.6.6.6"]);
    // A write without a body needs no content type (`DELETE ?name=`).
    let (status, body) = curl(
        &["-X", "DELETE"],
        &format!("{records}?name=evil.home.example"),
    );
    assert_eq!(status, 200, "{body}");
    assert_ne!(evil(), ["10.6.6.6"]);
}

/// Issue 13: a client that sends half a request header is disconnected within the header
/// timeout (10 s), and the API answers others meanwhile.
#[test]
fn a_slow_admin_client_is_disconnected() {
    use std::io::{Read, Write};
    let up = upstream();
    let dir = TempDir::new("admin-slow");
    let config = open_config(&dir, up, "  listen: \"127.0.0.1:0\"");
    let ward = Ward::spawn(&config, &[]);
    let mut slow = std::net::TcpStream::connect(ward.admin).unwrap();
    slow.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(http(ward.admin, "GET", "/livez", None, "").0, 200);
    slow.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "closed after {took:?}");
    assert!(
        took >= Duration::from_secs(5),
        "closed after {took:?}: too soon"
    );
    eprintln!("half a header: closed after {took:?}");
}

/// The config the API serves, and the file, as configs.
fn served_and_saved(
    ward: &Ward,
    path: &std::path::Path,
) -> (ward_config::Config, ward_config::Config) {
    let (status, yaml) = curl(
        &["-H", "Accept: application/yaml"],
        &format!("http://{}/api/v1/config", ward.admin),
    );
    assert_eq!(status, 200, "{yaml}");
    let served = ward_config::Config::from_yaml(&yaml).unwrap();
    let saved = ward_config::Config::from_yaml(&std::fs::read_to_string(path).unwrap()).unwrap();
    (served, saved)
}

/// Issue 13: a write whose client goes away right after sending it either changes
/// nothing or lands whole: the file, the API's config and the DNS answers agree. And the
/// file watcher, seeing Ward's own save, applies nothing twice: one write, one generation.
#[test]
fn a_cancelled_write_leaves_the_file_and_the_served_config_one() {
    use std::io::Write;
    let up = upstream();
    let dir = TempDir::new("admin-cancel");
    let config = open_config(&dir, up, "  listen: \"127.0.0.1:0\"");
    let ward = Ward::spawn(&config, &[]);
    let generation = |w: &Ward| w.status()["generation"].as_u64().unwrap();
    let applied = |w: &Ward| w.status()["reloads"]["applied"].as_u64().unwrap();
    assert_eq!(generation(&ward), 1);

    for (i, name) in [
        "cancel1.home.example",
        "cancel2.home.example",
        "cancel3.home.example",
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!(r#"{{"name": "{name}", "type": "A", "value": "10.7.7.{i}"}}"#);
        let mut s = std::net::TcpStream::connect(ward.admin).unwrap();
        write!(
            s,
            "POST /api/v1/records HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            ward.admin,
            body.len()
        )
        .unwrap();
        // Gone before the answer: at once, or a moment later (while it is being saved or
        // applied).
        std::thread::sleep(Duration::from_millis([0, 3, 30][i]));
        s.shutdown(std::net::Shutdown::Both).unwrap();
        drop(s);
        // Whatever happened settles within a moment (and the watcher has looked).
        std::thread::sleep(Duration::from_millis(500));
        let (served, saved) = served_and_saved(&ward, &config);
        assert_eq!(served, saved, "write {i}: the file and the served config");
        let in_file = saved.records.iter().any(|r| r.name == name);
        let answered = a_of(&ward, &format!("{name}.")) == [format!("10.7.7.{i}")];
        assert_eq!(
            in_file, answered,
            "{name}: in the file {in_file}, answered {answered}"
        );
        eprintln!("cancelled write {i}: landed {in_file}");
        assert_eq!(generation(&ward), applied(&ward) + 1);
    }

    // Writes that get their answer: each moves the generation exactly once, though the
    // watcher sees each save.
    let before = generation(&ward);
    let records = format!("http://{}/api/v1/records", ward.admin);
    for i in 0..3 {
        let body =
            format!(r#"{{"name": "once{i}.home.example", "type": "A", "value": "10.8.8.{i}"}}"#);
        let (status, answer) = curl(&["--json", &body], &records);
        assert_eq!(status, 200, "{answer}");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(generation(&ward), before + i + 1, "after write {i}");
    }
    let (served, saved) = served_and_saved(&ward, &config);
    assert_eq!(served, saved);
}

/// `admin.metrics_auth: true` puts `/metrics` behind the API's credentials.
#[test]
fn metrics_auth_guards_the_metrics() {
    let up = upstream();
    let dir = TempDir::new("admin-metrics-auth");
    let token = dir.0.join("admin-token");
    std::fs::write(&token, "metrics-t0ken\n").unwrap();
    let config = open_config(
        &dir,
        up,
        &format!(
            "  listen: \"127.0.0.1:0\"\n  token_file: \"{}\"\n  metrics_auth: true",
            token.display()
        ),
    );
    let ward = Ward::spawn(&config, &[]);
    let metrics = format!("http://{}/metrics", ward.admin);
    let (status, _) = curl(&[], &metrics);
    assert_eq!(status, 401);
    let (status, body) = curl(&["-H", "Authorization: Bearer metrics-t0ken"], &metrics);
    assert_eq!(status, 200);
    assert!(body.contains("ward_snapshot_generation"), "{body}");
    let (status, _) = curl(&[], &format!("http://{}/readyz", ward.admin));
    assert_eq!(status, 200);
}

/// The web UI's files come from the binary with their CSP, without credentials (the
/// sign-in page must load), while the API behind them still wants the token; and
/// `/api/v1/check?policy=` checks a name under a named policy (the UI's "every policy
/// side by side").
#[test]
fn the_ui_is_served_and_check_names_a_policy() {
    let up = upstream();
    let dir = TempDir::new("admin-ui");
    let token = dir.0.join("admin-token");
    std::fs::write(&token, "ui-t0ken\n").unwrap();
    let config_path = dir.0.join("ward.yaml");
    std::fs::write(
        &config_path,
        format!(
            r#"dns: {{ listen: ["127.0.0.1:0"] }}
admin: {{ listen: "127.0.0.1:0", token_file: "{}" }}
upstreams: {{ default: {{ servers: ["{up}"] }} }}
policies:
  main: {{ rules: ["||ads.example^"] }}
  kids: {{ extends: main, rules: ["||games.example^"] }}
clients: [ {{ subnet: 127.0.0.3/32, policy: kids }} ]
default_policy: main
data_dir: "{}"
"#,
            token.display(),
            dir.0.join("data").display()
        ),
    )
    .unwrap();
    let ward = Ward::spawn(&config_path, &[]);

    let page = http_get(ward.admin, "/ui/check?name=games.example");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let lower = page.to_ascii_lowercase();
    assert!(lower.contains("content-type: text/html"), "{page}");
    assert!(
        lower.contains("content-security-policy: default-src 'self'"),
        "{page}"
    );
    assert!(page.contains("/ui/app.js"), "{page}");
    let script = http_get(ward.admin, "/ui/app.js");
    assert!(
        script
            .to_ascii_lowercase()
            .contains("content-type: text/javascript")
    );
    assert_eq!(http(ward.admin, "GET", "/api/v1/policies", None, "").0, 401);

    let auth = Some("Bearer ui-t0ken");
    let check = |query: &str| {
        let (status, body) = http(
            ward.admin,
            "GET",
            &format!("/api/v1/check?{query}"),
            auth,
            "",
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        (status, v, body)
    };
    let (status, v, body) = check("name=games.example&policy=kids");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (v["policy"].as_str(), v["filtered"].as_bool()),
        (Some("kids"), Some(true))
    );
    let (_, v, _) = check("name=games.example&policy=main");
    assert_eq!(
        (v["policy"].as_str(), v["filtered"].as_bool()),
        (Some("main"), Some(false))
    );
    // the policy named wins over the client's; without one, the client's subnet decides
    let (_, v, _) = check("name=games.example&client=127.0.0.3&policy=main");
    assert_eq!(v["policy"], "main");
    let (_, v, _) = check("name=games.example&client=127.0.0.3");
    assert_eq!(
        (v["policy"].as_str(), v["filtered"].as_bool()),
        (Some("kids"), Some(true))
    );
    let (status, _, body) = check("name=games.example&policy=nope");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no policy is named"), "{body}");
}

/// The web UI's sign-in with curl: a users-file user gets an HttpOnly, SameSite=Strict
/// session cookie that the API accepts in place of credentials; a write with the cookie
/// alone (what a cross-site form could send) is refused unless it carries X-Ward-UI;
/// signing out ends the session.
#[test]
fn a_session_cookie_signs_the_ui_in_and_out() {
    let up = upstream();
    let dir = TempDir::new("admin-session");
    let users = dir.0.join("users");
    std::fs::write(&users, "alice:s3cret-pass\n").unwrap();
    let config_path = dir.0.join("ward.yaml");
    std::fs::write(
        &config_path,
        format!(
            r#"dns: {{ listen: ["127.0.0.1:0"] }}
admin: {{ listen: "127.0.0.1:0", users_file: "{}" }}
upstreams: {{ default: {{ servers: ["{up}"] }} }}
policies: {{ main: {{ rules: [] }} }}
default_policy: main
data_dir: "{}"
"#,
            users.display(),
            dir.0.join("data").display()
        ),
    )
    .unwrap();
    let ward = Ward::spawn(&config_path, &[]);
    let base = format!("http://{}", ward.admin);
    let url = |p: &str| format!("{base}{p}");
    let json = ["-H", "Content-Type: application/json"];
    let sign_in = |body: &str, jar: &std::path::Path| {
        let jar = jar.to_str().unwrap().to_owned();
        let args = [
            &json[..],
            &["-c", &jar, "-D", "-", "-X", "POST", "-d", body],
        ]
        .concat();
        curl(&args, &url("/api/v1/session"))
    };
    let jar = dir.0.join("cookies");

    let (status, _) = sign_in(r#"{"user":"alice","password":"wrong"}"#, &jar);
    assert_eq!(status, 401);
    let (status, head) = sign_in(r#"{"user":"alice","password":"s3cret-pass"}"#, &jar);
    assert_eq!(status, 200, "{head}");
    let cookie = head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: ward_session=")
        })
        .unwrap_or_else(|| panic!("no session cookie: {head}"));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let jar_s = jar.to_str().unwrap();

    let (status, body) = curl(&["-b", jar_s], &url("/api/v1/session"));
    assert_eq!(status, 200, "{body}");
    let who: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (who["user"].as_str(), who["via"].as_str()),
        (Some("alice"), Some("session"))
    );
    // without the cookie: 401
    assert_eq!(curl(&[], &url("/api/v1/session")).0, 401);

    let rule = r#"{"rule":"||session.example^"}"#;
    let write = |extra: &[&str]| {
        let args = [&json[..], &["-b", jar_s, "-X", "POST", "-d", rule], extra].concat();
        curl(&args, &url("/api/v1/policies/main/rules"))
    };
    let (status, body) = write(&[]);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("X-Ward-UI"), "{body}");
    let (status, body) = write(&["-H", "X-Ward-UI: 1"]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(a_of(&ward, "session.example"), ["0.0.0.0"]);

    let (status, _) = curl(
        &[
            "-b",
            jar_s,
            "-c",
            jar_s,
            "-X",
            "DELETE",
            "-H",
            "X-Ward-UI: 1",
        ],
        &url("/api/v1/session"),
    );
    assert_eq!(status, 204);
    // the old cookie, sent by hand, no longer works
    let secret = cookie
        .split("ward_session=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let by_hand = format!("Cookie: ward_session={secret}");
    assert_eq!(curl(&["-H", &by_hand], &url("/api/v1/session")).0, 401);
}

/// `GET /api/v1/rules/check` says of one line whether Ward applies it, as a write would,
/// without saving anything (the web UI's editor asks it per line).
#[test]
fn a_rule_line_is_checked_without_saving() {
    let up = upstream();
    let dir = TempDir::new("admin-rule-check");
    let path = open_config(&dir, up, "  listen: \"127.0.0.1:0\"");
    let ward = Ward::spawn(&path, &[]);
    let before = std::fs::read_to_string(&path).unwrap();
    let check = |rule: &str| {
        let (status, body) = curl(
            &["-G", "--data-urlencode", &format!("rule={rule}")],
            &format!("http://{}/api/v1/rules/check", ward.admin),
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    let v = check("||ads.example^");
    assert_eq!(
        (v["ok"].as_bool(), v["comment"].as_bool()),
        (Some(true), Some(false))
    );
    let v = check("! a comment");
    assert_eq!(
        (v["ok"].as_bool(), v["comment"].as_bool()),
        (Some(true), Some(true))
    );
    let v = check("||x.example^$nosuchmodifier");
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["problem"],
        "not a rule Ward applies (unsupported_modifier)"
    );
    assert_eq!(check("example.com##.banner")["ok"], false);
    assert_eq!(check("   ")["problem"], "empty");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
}

/// Issue 14: the status names this pod and says how each upstream server has been
/// answering: the one that answers is healthy, the one that never does is not, with why.
#[test]
fn the_status_gives_each_upstream_servers_health_and_the_node() {
    let up = upstream();
    // A port nothing answers on: bound, never read.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    let dir = TempDir::new("admin-health");
    let config_path = dir.0.join("ward.yaml");
    std::fs::write(
        &config_path,
        format!(
            r#"dns: {{ listen: ["127.0.0.1:0"], upstream_timeout: 300ms }}
admin: {{ listen: "127.0.0.1:0" }}
upstreams:
  default: {{ servers: ["{up}"] }}
  router: {{ servers: ["{dead_addr}"] }}
forward: [ {{ zones: [home.example], upstream: router }} ]
policies: {{ main: {{}} }}
default_policy: main
data_dir: "{}"
"#,
            dir.0.join("data").display()
        ),
    )
    .unwrap();
    let ward = Ward::spawn_env(&config_path, &[("HOSTNAME", "ward-primary-0")]);
    assert_eq!(a_of(&ward, "www.example"), ["127.1.0.1"]);
    assert!(a_of(&ward, "nas.home.example").is_empty());

    let status = ward.status();
    assert_eq!(status["node"]["name"], "ward-primary-0");
    assert!(status["node"]["started_ms"].as_u64().unwrap() > 1_700_000_000_000);
    let health = status["upstreams"].as_array().unwrap();
    assert_eq!(health.len(), 2, "{status:#}");
    let (default, router) = (&health[0], &health[1]);
    assert_eq!(default["group"], "default");
    assert_eq!(default["server"], up.to_string());
    assert!(default["answered"].as_u64().unwrap() >= 1, "{default}");
    assert_eq!(default["failed"], 0);
    assert_eq!(default["healthy"], true);
    assert!(default["mean_ms"].as_f64().unwrap() > 0.0, "{default}");
    assert_eq!(router["group"], "router");
    assert_eq!(router["answered"], 0);
    assert!(router["failed"].as_u64().unwrap() >= 1, "{router}");
    assert_eq!(router["healthy"], false);
    assert!(
        router["last_error"].as_str().unwrap().contains("timed out"),
        "{router}"
    );
    drop(dead);
}
