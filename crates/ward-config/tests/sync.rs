//! Issue 5: admin auth and primary/replica sync. The new fields parse, default and round-trip;
//! the replicated part of a config is everything but the node-local settings. (Validation
//! errors, with their paths and lines, are rows of `tests/table.rs`.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use ward_config::{AdminConfig, Config, SyncConfig, SyncRole};

/// The smallest valid config, with `more` after it.
fn with(more: &str) -> String {
    format!(
        "upstreams: {{ default: {{ servers: [9.9.9.9] }} }}\n\
         policies: {{ main: {{ rules: [\"||ads.example^\"] }} }}\n\
         default_policy: main\n{more}"
    )
}

fn valid(text: &str) -> Config {
    Config::from_yaml(text).unwrap_or_else(|e| panic!("invalid config:\n{e}\n--- config:\n{text}"))
}

/// The config survives `to_yaml` -> `from_yaml` unchanged.
fn round_trips(c: &Config) {
    let yaml = c.to_yaml();
    assert_eq!(&valid(&yaml), c, "--- written as:\n{yaml}");
}

/// The YAML of issue 5.
const ISSUE_5: &str = r#"
admin:
  listen: "0.0.0.0:8080"
  token_file: /run/secrets/ward/admin-token   # Bearer token for API writes
sync:
  role: primary                               # or: replica
  replicas: ["http://ward-replicas.dns.svc:8080"]   # primary only
  primary: "http://ward-primary.dns.svc:8080"       # replica only
  token_file: /run/secrets/ward/sync-token
"#;

#[test]
fn issue_5_example_as_a_primary_and_as_a_replica() {
    // The issue shows every field at once; a node is one or the other.
    let err = Config::from_yaml(&with(ISSUE_5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 11: sync.primary: only a replica pulls from a primary (sync.role is primary)"
    );

    let primary = valid(&with(
        &ISSUE_5.replace("  primary: \"http://ward-primary.dns.svc:8080\"", ""),
    ));
    assert_eq!(
        primary.admin.token_file.as_deref(),
        Some(Path::new("/run/secrets/ward/admin-token"))
    );
    assert_eq!(primary.admin.listen, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(
        primary.sync,
        SyncConfig {
            role: SyncRole::Primary,
            replicas: vec!["http://ward-replicas.dns.svc:8080".to_owned()],
            primary: None,
            token_file: Some(PathBuf::from("/run/secrets/ward/sync-token")),
            interval: Duration::from_secs(30),
        }
    );
    round_trips(&primary);

    let replica = valid(&with(
        &ISSUE_5
            .replace("role: primary", "role: replica")
            .replace("  replicas: [\"http://ward-replicas.dns.svc:8080\"]", ""),
    ));
    assert_eq!(replica.sync.role, SyncRole::Replica);
    assert_eq!(
        replica.sync.primary.as_deref(),
        Some("http://ward-primary.dns.svc:8080")
    );
    assert!(replica.sync.replicas.is_empty());
    round_trips(&replica);
}

#[test]
fn defaults() {
    let c = valid(&with(""));
    assert_eq!(c.admin, AdminConfig::default());
    assert_eq!(c.admin.token_file, None);
    assert_eq!(c.admin.users_file, None);
    assert!(!c.admin.read_only);
    assert_eq!(c.sync, SyncConfig::default());
    assert_eq!(c.sync.role, SyncRole::Standalone);
    assert!(c.sync.replicas.is_empty());
    assert_eq!(c.sync.primary, None);
    assert_eq!(c.sync.token_file, None);
    assert_eq!(c.sync.interval, Duration::from_secs(30));
    assert_eq!(valid(&with("sync:\n")), c);
    assert_eq!(valid(&with("sync: {}\nadmin: {}\n")), c);
    assert_eq!(Config::default_config().sync, SyncConfig::default());
    assert_eq!(Config::default_config().admin, AdminConfig::default());
}

#[test]
fn every_new_field_parses_and_round_trips() {
    let c = valid(&with(
        "admin:\n  token_file: /run/secrets/ward/admin-token\n  \
         users_file: /run/secrets/ward/users\n  read_only: true\n\
         sync:\n  role: replica\n  primary: https://ward-primary.example:8443/\n  \
         token_file: /run/secrets/ward/sync-token\n  interval: 1m 30s\n",
    ));
    assert_eq!(
        c.admin.users_file.as_deref(),
        Some(Path::new("/run/secrets/ward/users"))
    );
    assert!(c.admin.read_only);
    assert_eq!(c.sync.interval, Duration::from_secs(90));
    assert_eq!(
        c.sync.primary.as_deref(),
        Some("https://ward-primary.example:8443/")
    );
    round_trips(&c);
    assert!(c.to_yaml().contains("interval: 1m 30s"), "{}", c.to_yaml());

    // Seconds are accepted too; each role's value is written back as its name.
    for role in ["standalone", "primary", "replica"] {
        let extra = match role {
            "primary" => "  token_file: /t\n  replicas: [\"http://[fd00::7]:8080\"]\n",
            "replica" => "  token_file: /t\n  primary: http://10.0.0.7:8080\n",
            _ => "",
        };
        let c = valid(&with(&format!(
            "sync:\n  role: {role}\n  interval: 45\n{extra}"
        )));
        assert_eq!(c.sync.interval, Duration::from_secs(45));
        assert_eq!(c.sync.role.to_string(), role);
        assert!(c.to_yaml().contains(&format!("role: {role}")));
        round_trips(&c);
    }
}

#[test]
fn a_standalone_config_is_written_without_a_sync_section() {
    let c = valid(&with(""));
    let yaml = c.to_yaml();
    assert!(!yaml.contains("sync"), "{yaml}");
    // The YAML of a config that uses none of issue 5's fields (and so its revision) is as
    // it was before they existed.
    assert!(!yaml.contains("token_file"), "{yaml}");
    assert!(!yaml.contains("read_only"), "{yaml}");
    assert!(!yaml.contains("users_file"), "{yaml}");
    round_trips(&c);
    // A standalone node with a non-default interval keeps it.
    let c = valid(&with("sync: { interval: 2m }\n"));
    assert!(c.to_yaml().contains("sync:"));
    round_trips(&c);
}

#[test]
fn unknown_fields_under_sync_and_admin_are_errors() {
    for (text, path, field) in [
        (
            "sync:\n  role: primary\n  secret: abc\n",
            "sync.secret",
            "secret",
        ),
        (
            "sync: { replica: http://a:8080 }\n",
            "sync.replica",
            "replica",
        ),
        ("sync: { token: abc }\n", "sync.token", "token"),
        (
            "admin: { password: hunter2 }\n",
            "admin.password",
            "password",
        ),
        ("admin: { users: [a] }\n", "admin.users", "users"),
    ] {
        let err = Config::from_yaml(&with(text)).unwrap_err();
        let e = &err.errors()[0];
        assert_eq!(err.errors().len(), 1, "{err}");
        assert_eq!(e.path().to_string(), path);
        assert!(e.line().is_some_and(|l| l >= 4), "{err}");
        assert!(
            e.to_string()
                .contains(&format!("unknown field `{field}`, expected one of")),
            "{err}"
        );
    }
}

/// What a change is, and the change.
type Change = (&'static str, fn(&mut Config));

/// A primary with every node-local setting set, and a replica of it.
fn primary_and_replica() -> (Config, Config) {
    let primary = valid(&with(
        "dns: { listen: [\"10.0.0.1:53\"], blocking_mode: nxdomain }\n\
         admin: { listen: \"10.0.0.1:8080\", token_file: /a, read_only: false }\n\
         data_dir: /srv/primary\n\
         sync: { role: primary, replicas: [\"http://ward-replicas:8080\"], token_file: /s }\n\
         lists: [{ id: ads, url: \"https://x.example/ads.txt\", refresh: 24h }]\n\
         cache: { size: 5000 }\n",
    ));
    let replica = valid(&with(
        "dns: { listen: [\"10.0.0.2:53\", \"[fd00::2]:53\"], blocking_mode: nxdomain }\n\
         admin: { listen: \"10.0.0.2:8080\", users_file: /u, read_only: true }\n\
         data_dir: /srv/replica\n\
         sync: { role: replica, primary: \"http://ward-primary:8080\", token_file: /s, interval: 10s }\n\
         lists: [{ id: ads, url: \"https://x.example/ads.txt\", refresh: 24h }]\n\
         cache: { size: 5000 }\n",
    ));
    (primary, replica)
}

#[test]
fn node_local_settings_do_not_make_configs_differ() {
    let (primary, replica) = primary_and_replica();
    assert_ne!(primary, replica);
    assert!(primary.filtering_eq(&replica));
    assert!(replica.filtering_eq(&primary));

    let changes: &[Change] = &[
        ("dns.listen", |c| {
            c.dns.listen = vec!["127.0.0.1:5300".parse().unwrap()]
        }),
        ("admin.listen", |c| {
            c.admin.listen = "[::]:9090".parse().unwrap()
        }),
        ("admin.read_only", |c| c.admin.read_only ^= true),
        ("sync.role", |c| c.sync = SyncConfig::default()),
        ("data_dir", |c| c.data_dir = None),
    ];
    for (what, change) in changes {
        let mut changed = primary.clone();
        change(&mut changed);
        assert_ne!(changed, primary, "{what}");
        assert!(changed.filtering_eq(&primary), "{what}");
        assert!(primary.filtering_eq(&changed), "{what}");
    }
}

#[test]
fn filtering_changes_make_configs_differ() {
    let (primary, _) = primary_and_replica();
    let changes: &[Change] = &[
        ("a policy rule", |c| {
            c.policies.get_mut("main").unwrap().rules[0] = "||tracker.example^".to_owned()
        }),
        ("dns.blocking_mode", |c| {
            c.dns.blocking_mode = ward_config::BlockingMode::Refused
        }),
        ("dns.blocked_ttl", |c| c.dns.blocked_ttl += 1),
        ("dns.blocking_ipv4", |c| {
            c.dns.blocking_ipv4 = Some("10.9.9.9".parse().unwrap())
        }),
        ("dns.blocking_ipv6", |c| {
            c.dns.blocking_ipv6 = Some("fd00::9".parse().unwrap())
        }),
        ("dns.upstream_timeout", |c| {
            c.dns.upstream_timeout = Duration::from_secs(5)
        }),
        ("a list's refresh", |c| c.lists[0].refresh = None),
        ("cache.size", |c| c.cache.size = 1),
        ("default_policy", |c| c.default_policy = "other".to_owned()),
        ("upstreams", |c| {
            c.upstreams.get_mut("default").unwrap().strategy = ward_config::Strategy::Failover
        }),
        ("clients", |c| {
            c.clients.push(ward_config::ClientRule {
                subnet: Some("10.1.0.0/16".parse().unwrap()),
                client_ids: Vec::new(),
                policy: "main".to_owned(),
                name: None,
                tags: Vec::new(),
            })
        }),
    ];
    for (what, change) in changes {
        let mut changed = primary.clone();
        change(&mut changed);
        assert!(!changed.filtering_eq(&primary), "{what}");
        assert!(!primary.filtering_eq(&changed), "{what}");
    }
}

#[test]
fn with_node_local_from_takes_the_filtering_here_and_the_rest_there() {
    let (mut primary, replica) = primary_and_replica();
    primary
        .policies
        .get_mut("main")
        .unwrap()
        .rules
        .push("||new.example^".to_owned());
    primary.dns.blocked_ttl = 60;
    assert!(!primary.filtering_eq(&replica));

    let served = primary.with_node_local_from(&replica);
    assert!(served.filtering_eq(&primary));
    assert_eq!(served.dns.blocked_ttl, 60);
    assert_eq!(served.policies, primary.policies);
    assert_eq!(served.dns.listen, replica.dns.listen);
    assert_eq!(served.admin, replica.admin);
    assert_eq!(served.sync, replica.sync);
    assert_eq!(served.data_dir, replica.data_dir);
    assert_eq!(served.validate(), Ok(()));
    round_trips(&served);

    // Taking nothing new changes nothing.
    assert_eq!(replica.with_node_local_from(&replica), replica);
    assert_eq!(primary.with_node_local_from(&primary), primary);
    // Back the other way: the replica's filtering with the primary's own settings.
    let back = served.with_node_local_from(&primary);
    assert_eq!(back, primary);
}
