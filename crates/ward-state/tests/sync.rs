//! A replica taking states in process: applied once, the same revision again changes
//! nothing, what it accepted is kept and served at the next start.

use std::sync::{Arc, Mutex};

use ward_config::Config;
use ward_state::reload::{ApplyFn, Outcome, Reloader};
use ward_state::sync::{Replica, SyncState, stored_state};
use ward_state::{DiskLists, Snapshot};

fn config(rule: &str, data: &std::path::Path) -> Config {
    Config::from_yaml(&format!(
        r#"upstreams:
  default: {{ servers: ["127.0.0.1:5399"] }}
policies:
  main: {{ rules: ["{rule}"] }}
default_policy: main
data_dir: "{}"
"#,
        data.display()
    ))
    .unwrap()
}

#[tokio::test]
async fn the_same_revision_twice_changes_nothing_and_is_kept() {
    let dir = std::env::temp_dir().join(format!("ward-sync-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The primary's state, from a snapshot of its config.
    let primary = Snapshot::build(
        config("||from-primary.example^", &dir),
        &DiskLists {
            data_dir: dir.clone(),
        },
        1,
    )
    .unwrap();
    let state = SyncState::of(&primary);

    let local = config("||local.example^", &dir);
    let texts = DiskLists {
        data_dir: dir.clone(),
    };
    let applied: Arc<Mutex<u32>> = Arc::default();
    let count = applied.clone();
    let apply: ApplyFn = Box::new(move |_| {
        let count = count.clone();
        Box::pin(async move { *count.lock().unwrap() += 1 })
    });
    let first = Snapshot::build(local.clone(), &texts, 1).unwrap();
    let reloader = Reloader::new(None, Arc::new(first), apply);
    let replica = Replica::new("http://127.0.0.1:9", "token", dir.clone(), local.clone()).unwrap();

    let outcome = replica.accept(state.clone(), &reloader).await.unwrap();
    assert_eq!(outcome, Outcome::Applied { generation: 2 });
    let serving = reloader.current();
    assert_eq!(
        serving.config.policies["main"].rules,
        ["||from-primary.example^"]
    );
    // Node-local settings stay the replica's own.
    assert_eq!(serving.config.data_dir.as_deref(), Some(dir.as_path()));
    assert_eq!(
        replica.status().revision.as_deref(),
        Some(state.revision.as_str())
    );

    let again = replica.accept(state.clone(), &reloader).await.unwrap();
    assert_eq!(again, Outcome::Unchanged { generation: 2 });
    assert_eq!(*applied.lock().unwrap(), 1);

    // Kept on disk: the next start serves it before hearing from the primary.
    assert_eq!(
        stored_state(&dir).map(|s| s.revision),
        Some(state.revision.clone())
    );
    let restarted =
        Replica::new("http://127.0.0.1:9", "token", dir.clone(), local.clone()).unwrap();
    let effective = restarted.effective(local);
    assert_eq!(
        effective.policies["main"].rules,
        ["||from-primary.example^"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
