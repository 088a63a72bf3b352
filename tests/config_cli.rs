//! `ward validate`, run as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn ward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .output()
        .expect("run ward")
}

fn repo_file(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// A config written to a fresh temporary file.
fn temp_config(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ward-config-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn validate_accepts_the_home_example_and_counts_it() {
    let out = ward(&[
        "validate",
        "--config",
        &repo_file("deploy/examples/home.yaml"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "config OK: 10 lists, 6 policies, 13 clients\n"
    );
}

#[test]
fn validate_prints_every_error_with_line_and_path() {
    let path = temp_config(
        "broken.yaml",
        "\
upstreams:
  default: { servers: [\"9.9.9.9\"] }
policies:
  main: {}
  kids:
    extends: mian
clients:
  - { subnet: 192.168.1.0/24, policy: main }
  - { subnet: 192.168.20.0/33, policy: kids }
default_policy: main
",
    );
    let out = ward(&["validate", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "line 6: policies.kids.extends: unknown policy \"mian\"; did you mean \"main\"?",
            "line 9: clients[1].subnet: invalid address: 192.168.20.0/33",
        ],
        "{stderr}"
    );
}

#[test]
fn validate_reports_an_unreadable_file_as_exit_2() {
    let out = ward(&["validate", "--config", "/nonexistent/ward.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ward.yaml"));
}

#[test]
fn validate_reports_yaml_syntax_with_its_line() {
    let path = temp_config("syntax.yaml", "default_policy: main\npolicies: {main: {}\n");
    let out = ward(&["validate", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("line 3: YAML syntax error"), "{stderr}");
}

#[test]
fn import_adguard_writes_a_config_that_validates_and_names_what_it_cannot_map() {
    let dir = std::env::temp_dir().join(format!("ward-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("ward.yaml");
    let source = repo_file("tests/data/agh/clients.yaml");
    let imported = ward(&["import-adguard", &source, "-o", out.to_str().unwrap()]);
    assert!(imported.status.success(), "{imported:?}");
    let report = String::from_utf8_lossy(&imported.stderr);
    assert!(report.contains("2 users written to"), "{report}");
    assert!(
        report.contains("not mapped: dns.upstream_dns: quic://"),
        "{report}"
    );
    // The users file holds the hashes, for the owner only.
    let users = std::fs::read_to_string(dir.join("ward-users")).unwrap();
    assert!(
        users.lines().any(|l| l.starts_with("admin:$2a$10$")),
        "{users}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("ward-users"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let validated = ward(&["validate", "--config", out.to_str().unwrap()]);
    assert!(validated.status.success(), "{validated:?}");
    assert!(String::from_utf8_lossy(&validated.stdout).starts_with("config OK"));
    // The upstreams of a file that names an upstream_dns_file come from that file, read
    // beside the AdGuardHome.yaml.
    let router = ward(&[
        "import-adguard",
        &repo_file("tests/data/agh/router.yaml"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(router.status.success(), "{router:?}");
    let config = std::fs::read_to_string(&out).unwrap();
    assert!(
        config.contains("https://dns.quad9.net/dns-query"),
        "{config}"
    );
    assert!(!config.contains("9.9.9.9"), "{config}");
    let refused = ward(&["import-adguard", &repo_file("deploy/examples/home.yaml")]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("schema_version"));
    let _ = std::fs::remove_dir_all(&dir);
}
