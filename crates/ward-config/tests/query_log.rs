//! Issue 6: the `query_log` section parses, defaults, round-trips, is node-local, and its
//! bad values are errors with their paths and lines.

use std::time::Duration;

use ward_config::{Config, QueryLogConfig};

fn with(more: &str) -> String {
    format!(
        "upstreams: {{ default: {{ servers: [9.9.9.9] }} }}\n\
         policies: {{ main: {{ rules: [\"||ads.example^\"] }} }}\n\
         default_policy: main\n{more}"
    )
}

#[test]
fn defaults_fields_and_round_trip() {
    let plain = Config::from_yaml(&with("")).unwrap();
    assert_eq!(plain.query_log, QueryLogConfig::default());
    assert!(plain.query_log.enabled && plain.query_log.files);
    assert_eq!(plain.query_log.memory_entries, 100_000);
    assert!(
        !plain.to_yaml().contains("query_log"),
        "defaults are not written out"
    );

    let text = with(
        "query_log:\n  enabled: true\n  memory_entries: 5000\n  files: false\n  retention: 7d\n  anonymize_clients: true\n  ignore: [\"*.local\", \"connectivity-check.ubuntu.com\"]\n",
    );
    let c = Config::from_yaml(&text).unwrap();
    let q = &c.query_log;
    assert_eq!(q.memory_entries, 5000);
    assert!(!q.files && q.anonymize_clients);
    assert_eq!(q.retention, Duration::from_secs(7 * 86_400));
    assert_eq!(q.ignore, ["*.local", "connectivity-check.ubuntu.com"]);
    assert_eq!(Config::from_yaml(&c.to_yaml()).unwrap(), c);

    // Node-local: a replica keeps its own.
    let other = Config::from_yaml(&with("")).unwrap();
    assert!(c.filtering_eq(&other));
    assert_eq!(other.with_node_local_from(&c).query_log, c.query_log);
}

#[test]
fn bad_values_name_their_field_and_line() {
    let text = with(
        "query_log:\n  memory_entries: 0\n  retention: 10s\n  ignore: [\"ok.example\", \"*.\"]\n  colour: blue\n",
    );
    let err = Config::from_yaml(&text).unwrap_err().to_string();
    assert!(err.contains("query_log.colour"), "{err}");
    let text = with(
        "query_log:\n  memory_entries: 0\n  retention: 10s\n  ignore: [\"ok.example\", \"*.\"]\n",
    );
    let err = Config::from_yaml(&text).unwrap_err().to_string();
    for want in [
        "line 5: query_log.memory_entries",
        "line 6: query_log.retention",
        "query_log.ignore[1]",
    ] {
        assert!(err.contains(want), "{want:?} in:\n{err}");
    }
    // Off: no memory needed.
    let off = with("query_log: { enabled: false, memory_entries: 0 }\n");
    assert!(Config::from_yaml(&off).is_ok());
}

/// Issue 13: the files are capped by size as well as age.
#[test]
fn max_disk_takes_human_sizes_and_is_not_written_when_default() {
    let plain = Config::from_yaml(&with("")).unwrap();
    assert_eq!(plain.query_log.max_disk, 1 << 30);
    for (text, bytes) in [
        ("512MiB", 512u64 << 20),
        ("2GiB", 2 << 30),
        ("\"1.5 GiB\"", 3 << 29),
        ("500MB", 500_000_000),
        ("10485760", 10 << 20),
    ] {
        let c = Config::from_yaml(&with(&format!("query_log: {{ max_disk: {text} }}\n")))
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(c.query_log.max_disk, bytes, "{text}");
        assert_eq!(Config::from_yaml(&c.to_yaml()).unwrap(), c, "{text}");
    }
    let c = Config::from_yaml(&with("query_log: { retention: 7d }\n")).unwrap();
    assert!(!c.to_yaml().contains("max_disk"), "{}", c.to_yaml());

    let err = Config::from_yaml(&with("query_log:\n  max_disk: 1 furlong\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 5: query_log.max_disk") && err.contains("512MiB"),
        "{err}"
    );
    let err = Config::from_yaml(&with("query_log:\n  max_disk: 4KiB\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 5: query_log.max_disk") && err.contains("1MiB"),
        "{err}"
    );
}
