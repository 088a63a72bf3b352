//! The Reloader in process: a config handed over whole (as an admin API write will), the
//! outcomes it reports, and what the query path is handed.

use std::sync::{Arc, Mutex};

use ward_config::Config;
use ward_state::Snapshot;
use ward_state::reload::{ApplyFn, Outcome, Reloader, Trigger};

fn config(rule: &str) -> Config {
    Config::from_yaml(&format!(
        r#"
upstreams:
  default: {{ servers: ["127.0.0.1:5399"] }}
policies:
  main: {{ lists: [], rules: ["{rule}"] }}
default_policy: main
data_dir: /nonexistent/ward-reload-test
"#
    ))
    .expect("valid config")
}

fn reloader() -> (Reloader, Arc<Mutex<Vec<u64>>>) {
    let applied: Arc<Mutex<Vec<u64>>> = Arc::default();
    let seen = applied.clone();
    let apply: ApplyFn = Box::new(move |s: Arc<Snapshot>| {
        let seen = seen.clone();
        Box::pin(async move { seen.lock().unwrap().push(s.generation) })
    });
    let texts = ward_state::DiskLists {
        data_dir: "/nonexistent/ward-reload-test".into(),
    };
    let first = Snapshot::build(config("||a.example^"), &texts, 1).unwrap();
    (Reloader::new(None, Arc::new(first), apply), applied)
}

#[tokio::test]
async fn a_config_handed_over_is_applied_rejected_or_found_unchanged() {
    let (reloader, applied) = reloader();

    let report = reloader
        .reload_config(Trigger::Api, config("||b.example^"))
        .await;
    assert_eq!(report.outcome, Outcome::Applied { generation: 2 });
    assert_eq!(report.trigger, "admin API write");
    assert_eq!(*applied.lock().unwrap(), [2]);
    assert_eq!(reloader.current().generation, 2);

    // The same again: nothing to swap.
    let report = reloader
        .reload_config(Trigger::Api, config("||b.example^"))
        .await;
    assert_eq!(report.outcome, Outcome::Unchanged { generation: 2 });
    assert_eq!(*applied.lock().unwrap(), [2]);

    // A policy that names an unknown list: rejected, with the field, nothing handed over.
    let mut bad = config("||c.example^");
    bad.policies
        .get_mut("main")
        .unwrap()
        .lists
        .push("nope".into());
    let report = reloader.reload_config(Trigger::Api, bad).await;
    match &report.outcome {
        Outcome::Rejected { reason } => assert!(reason.contains("policies.main.lists"), "{reason}"),
        other => panic!("not rejected: {other:?}"),
    }
    assert_eq!(reloader.current().generation, 2);
    assert_eq!(*applied.lock().unwrap(), [2]);

    let counts = reloader.counts();
    assert_eq!(
        (counts.applied, counts.unchanged, counts.rejected),
        (1, 1, 1)
    );
    assert!(reloader.running().is_none());
}

#[tokio::test]
async fn a_file_trigger_without_a_config_file_keeps_the_current_config() {
    let (reloader, applied) = reloader();
    let report = reloader.reload(Trigger::Signal).await;
    assert_eq!(report.outcome, Outcome::Unchanged { generation: 1 });
    assert!(applied.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_reload_that_changes_every_list_swaps_them_in_one_at_a_time() {
    let dir = std::env::temp_dir().join(format!("ward-reload-steps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.txt"), dir.join("b.txt"));
    std::fs::write(&a, "||a1.example^\n").unwrap();
    std::fs::write(&b, "||b1.example^\n").unwrap();
    let config = Config::from_yaml(&format!(
        r#"
upstreams:
  default: {{ servers: ["127.0.0.1:5399"] }}
lists:
  - {{ id: a, path: "{}" }}
  - {{ id: b, path: "{}" }}
policies:
  main: {{ lists: [a, b] }}
default_policy: main
data_dir: "{dir}"
list_dirs: ["{dir}"]
"#,
        a.display(),
        b.display(),
        dir = dir.display()
    ))
    .unwrap();
    let texts = ward_state::DiskLists {
        data_dir: dir.clone(),
    };
    let first = Snapshot::build(config.clone(), &texts, 1).unwrap();
    let handed: Arc<Mutex<Vec<Vec<bool>>>> = Arc::default();
    let seen = handed.clone();
    let apply: ApplyFn = Box::new(move |s: Arc<Snapshot>| {
        let seen = seen.clone();
        Box::pin(async move {
            seen.lock()
                .unwrap()
                .push(s.lists.iter().map(|l| l.reused).collect())
        })
    });
    let reloader = Reloader::new(None, Arc::new(first), apply);

    std::fs::write(&a, "||a2.example^\n").unwrap();
    std::fs::write(&b, "||b2.example^\n").unwrap();
    let report = reloader.reload(Trigger::Signal).await;
    assert_eq!(report.outcome, Outcome::Applied { generation: 3 });
    assert_eq!(report.lists_compiled, 2);
    // Two snapshots handed over: a new with b old, then b new with a kept.
    assert_eq!(
        *handed.lock().unwrap(),
        [vec![false, true], vec![true, false]]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
