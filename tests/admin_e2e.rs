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
