//! Issue 15: config that Git owns and config the UI owns. With `admin.write_to: data_dir`
//! the config file stays as Git has it and the API's writes are a layer in `data_dir`:
//! they serve, replicate and survive a restart and a file change; what the file defines
//! refuses API changes with a 409; what the file comes to define shadows the layer's.

use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::dns_support::*;

fn file_config(
    upstream: std::net::SocketAddr,
    data: &Path,
    list: &Path,
    extra_records: &str,
) -> String {
    format!(
        r#"dns: {{ listen: ["127.0.0.1:0"] }}
admin: {{ listen: "127.0.0.1:0", write_to: data_dir }}
upstreams: {{ default: {{ servers: ["{upstream}"] }} }}
lists:
  - {{ id: ads, path: "{list}" }}
policies:
  main: {{ lists: [ads], rules: ["||file.example^"] }}
  kids: {{ extends: main }}
clients:
  - {{ subnet: 127.0.0.3/32, policy: kids }}
records:
  - {{ name: "*.home.example", type: A, value: 10.0.0.1 }}
  - {{ name: nas.home.example, type: A, value: 10.0.0.5 }}
{extra_records}default_policy: main
data_dir: "{data}"
"#,
        list = list.display(),
        data = data.display(),
    )
}

fn json(ward: &Ward, method: &str, path: &str, body: &str) -> (u16, Value) {
    let out = std::process::Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-X", method])
        .args(["-H", "Content-Type: application/json"])
        .args(if body.is_empty() {
            vec![]
        } else {
            vec!["-d", body]
        })
        .arg(format!("http://{}{path}", ward.admin))
        .output()
        .expect("curl must be installed");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (
        code.parse().unwrap(),
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    )
}

fn a(ward: &Ward, src: &str, name: &str) -> Vec<String> {
    addrs(ward, ip(src), name, RecordType::A)
}

fn wait(limit: Duration, what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn api_writes_are_a_layer_over_a_file_git_owns() {
    let up = upstream();
    let dir = TempDir::new("layer");
    let data = dir.0.join("data");
    let list = dir.0.join("ads.txt");
    std::fs::write(&list, "||ads.example^\n").unwrap();
    let path = dir.0.join("ward.yaml");
    let text = file_config(up, &data, &list, "");
    std::fs::write(&path, &text).unwrap();
    let ward = Ward::spawn(&path, &[]);

    let status = ward.status();
    assert_eq!(status["writes"]["mode"], "data_dir", "{status:#}");
    assert_eq!(
        status["writes"]["file"]["policies"],
        serde_json::json!(["kids", "main"])
    );
    assert_eq!(status["writes"]["file"]["records"][1], "nas.home.example A");

    // Added through the API: a rule on a file policy, a record, a client, a policy.
    for (path, body) in [
        (
            "/api/v1/policies/kids/rules",
            r#"{"rule": "||api.example^"}"#,
        ),
        (
            "/api/v1/records",
            r#"{"name": "tv.home.example", "type": "A", "value": "10.0.0.9"}"#,
        ),
        (
            "/api/v1/policies",
            r#"{"name": "guests", "lists": ["ads"]}"#,
        ),
        (
            "/api/v1/clients",
            r#"{"subnet": "127.0.0.4/32", "policy": "guests"}"#,
        ),
    ] {
        let (code, body) = json(&ward, "POST", path, body);
        assert_eq!(code, 200, "POST {path}: {body}");
    }
    assert_eq!(a(&ward, "127.0.0.3", "www.api.example."), ["0.0.0.0"]);
    assert_eq!(a(&ward, "127.0.0.2", "www.api.example."), ["127.1.0.1"]);
    assert_eq!(a(&ward, "127.0.0.2", "tv.home.example."), ["10.0.0.9"]);
    assert_eq!(a(&ward, "127.0.0.4", "ads.example."), ["0.0.0.0"]);
    // The file is as Git has it; the layer holds the additions.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let layer: Value =
        serde_json::from_slice(&std::fs::read(data.join("config-layer.json")).unwrap()).unwrap();
    assert_eq!(
        layer["policy_rules"]["kids"],
        serde_json::json!(["||api.example^"])
    );
    assert_eq!(layer["records"][0]["name"], "tv.home.example");
    assert_eq!(layer["version"], 1);

    // What the file defines refuses API changes, and says where to make them.
    for (method, path, body) in [
        ("PUT", "/api/v1/policies/main", r#"{"lists": []}"#),
        ("DELETE", "/api/v1/records?name=nas.home.example", ""),
        (
            "DELETE",
            "/api/v1/policies/main/rules?rule=%7C%7Cfile.example%5E",
            "",
        ),
        (
            "PUT",
            "/api/v1/lists/ads",
            r#"{"id": "ads", "url": "http://127.0.0.1:9/x", "enabled": false}"#,
        ),
        (
            "POST",
            "/api/v1/records",
            r#"{"name": "nas.home.example", "type": "A", "value": "10.0.0.6"}"#,
        ),
    ] {
        let (code, body) = json(&ward, method, path, body);
        assert_eq!(code, 409, "{method} {path}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("defined in the config file: change it there"),
            "{method} {path}: {body}"
        );
    }
    let (code, body) = json(&ward, "PUT", "/api/v1/config", "{}");
    assert_eq!(code, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("read-only"),
        "{body}"
    );
    // The API's own entries it may change and remove.
    let (code, body) = json(
        &ward,
        "DELETE",
        "/api/v1/policies/kids/rules?rule=%7C%7Capi.example%5E",
        "",
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(a(&ward, "127.0.0.3", "www.api.example."), ["127.1.0.1"]);
    let generation = ward.status()["generation"].as_u64().unwrap();

    // A restart serves the file with the layer over it.
    drop(ward);
    let ward = Ward::spawn(&path, &[]);
    assert_eq!(a(&ward, "127.0.0.2", "tv.home.example."), ["10.0.0.9"]);
    assert_eq!(a(&ward, "127.0.0.4", "ads.example."), ["0.0.0.0"]);
    assert!(generation > 1);

    // The file comes to define what the API added: the file's serves, the API's is kept
    // and reported.
    let shadowing = file_config(
        up,
        &data,
        &list,
        "  - { name: tv.home.example, type: A, value: 10.0.0.50 }\n",
    );
    std::fs::write(&path, &shadowing).unwrap();
    wait(Duration::from_secs(5), "the file change", || {
        a(&ward, "127.0.0.2", "tv.home.example.") == ["10.0.0.50"]
    });
    let status = ward.status();
    assert_eq!(
        status["writes"]["shadowed"],
        serde_json::json!(["record tv.home.example A 10.0.0.9"]),
        "{status:#}"
    );
    // And when the file drops it again, the API's comes back.
    std::fs::write(&path, &text).unwrap();
    wait(Duration::from_secs(5), "the file change back", || {
        a(&ward, "127.0.0.2", "tv.home.example.") == ["10.0.0.9"]
    });

    // A file that no longer fits the layer (the API's policy names a list the file
    // dropped) is refused; the config serving stays, and writes wait.
    let dropped = text
        .replace("  - { id: ads, path: \"", "  # - { id: ads, path: \"")
        .replace("lists: [ads], ", "");
    std::fs::write(&path, &dropped).unwrap();
    wait(Duration::from_secs(5), "the refused file change", || {
        ward.status()["writes"]["invalid"].is_string()
    });
    let status = ward.status();
    assert_eq!(status["last_reload"]["outcome"], "rejected", "{status:#}");
    assert!(
        status["writes"]["invalid"]
            .as_str()
            .unwrap()
            .contains("config-layer.json"),
        "{status:#}"
    );
    assert_eq!(
        a(&ward, "127.0.0.4", "ads.example."),
        ["0.0.0.0"],
        "the previous config serves"
    );
    let (code, body) = json(
        &ward,
        "POST",
        "/api/v1/records",
        r#"{"name": "x.home.example", "type": "A", "value": "10.0.0.7"}"#,
    );
    assert_eq!(code, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("not serving"),
        "{body}"
    );
    std::fs::write(&path, &text).unwrap();
    wait(Duration::from_secs(5), "the file fitting again", || {
        ward.status()["writes"]["invalid"].is_null()
    });
    let (code, body) = json(
        &ward,
        "POST",
        "/api/v1/records",
        r#"{"name": "x.home.example", "type": "A", "value": "10.0.0.7"}"#,
    );
    assert_eq!(code, 200, "{body}");
}

/// The layer's config is the primary's: a replica serves the API's additions too.
#[test]
fn a_replica_serves_the_primarys_layer() {
    let up = upstream();
    let dir = TempDir::new("layer-sync");
    let token = dir.0.join("sync-token");
    std::fs::write(&token, "layer-sync-token\n").unwrap();
    let list = dir.0.join("ads.txt");
    std::fs::write(&list, "||ads.example^\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.2:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let primary_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let primary = dir.0.join("primary.yaml");
    std::fs::write(
        &primary,
        file_config(up, &dir.0.join("data-p"), &list, "")
            .replace("listen: \"127.0.0.1:0\"", &format!("listen: \"127.0.0.1:{primary_port}\""))
            + &format!(
                "sync: {{ role: primary, replicas: [\"http://127.0.0.2:{port}\"], token_file: \"{}\" }}\n",
                token.display()
            ),
    )
    .unwrap();
    let replica = dir.0.join("replica.yaml");
    std::fs::write(
        &replica,
        format!(
            r#"dns: {{ listen: ["127.0.0.2:0"] }}
admin: {{ listen: "127.0.0.2:{port}" }}
data_dir: "{}"
sync: {{ role: replica, primary: "http://127.0.0.1:{primary_port}", token_file: "{}", interval: 1s }}
upstreams: {{ default: {{ servers: ["{up}"] }} }}
policies: {{ main: {{}} }}
default_policy: main
"#,
            dir.0.join("data-r").display(),
            token.display()
        ),
    )
    .unwrap();
    let p = Ward::spawn(&primary, &[]);
    let r = Ward::spawn(&replica, &[]);
    let (code, body) = json(
        &p,
        "POST",
        "/api/v1/records",
        r#"{"name": "tv.home.example", "type": "A", "value": "10.0.0.9"}"#,
    );
    assert_eq!(code, 200, "{body}");
    wait(Duration::from_secs(5), "the record on the replica", || {
        addrs(&r, ip("127.0.0.2"), "tv.home.example.", RecordType::A) == ["10.0.0.9"]
    });
    assert_eq!(
        addrs(&r, ip("127.0.0.2"), "nas.home.example.", RecordType::A),
        ["10.0.0.5"]
    );
}
