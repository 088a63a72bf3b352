//! The replica's checks of what it is handed: forged hashes and revisions, pulled states,
//! list texts that are not their hash.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::DiskLists;
use crate::reload::ApplyFn;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ward-sync-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A primary's state with one list (`||listed.example^`) and one custom rule.
fn primary_state(dir: &Path) -> (SyncState, Vec<u8>) {
    let list = dir.join("primary-list.txt");
    let text = b"||listed.example^\n".to_vec();
    std::fs::write(&list, &text).unwrap();
    let config = Config::from_yaml(&format!(
        "upstreams:\n  default: {{ servers: [\"127.0.0.1:5399\"] }}\n\
         lists:\n  - {{ id: ads, path: \"{}\" }}\n\
         policies:\n  main: {{ lists: [ads], rules: [\"||p.example^\"] }}\n\
         default_policy: main\n",
        list.display()
    ))
    .unwrap();
    let texts = DiskLists {
        data_dir: dir.to_path_buf(),
    };
    let snapshot = Snapshot::build(config, &texts, 1).unwrap();
    (SyncState::of(&snapshot), text)
}

fn new_replica(dir: &Path, primary: &str) -> (Replica, Reloader) {
    let local = Config::from_yaml(&format!(
        "upstreams:\n  default: {{ servers: [\"127.0.0.1:5399\"] }}\n\
         policies:\n  main: {{ rules: [] }}\ndefault_policy: main\ndata_dir: \"{}\"\n",
        dir.join("data").display()
    ))
    .unwrap();
    let texts = DiskLists {
        data_dir: dir.join("data"),
    };
    let first = Snapshot::build(local.clone(), &texts, 1).unwrap();
    let apply: ApplyFn = Box::new(|_| Box::pin(async {}));
    let reloader = Reloader::new(None, Arc::new(first), apply);
    let replica = Replica::new(primary, "token", dir.join("data"), local).unwrap();
    (replica, reloader)
}

/// A change to a state that [`SyncState::check`] must find.
type Forgery = Box<dyn Fn(&mut SyncState)>;

#[test]
fn a_state_is_checked_against_its_own_content() {
    let dir = temp_dir("check");
    let (state, _) = primary_state(&dir);
    assert!(state.check().is_ok());
    let sha = state.lists[0].sha256.clone();
    let cases: Vec<(&str, Forgery, &str)> = vec![
        (
            "absolute path",
            Box::new(|s| s.lists[0].sha256 = "/tmp/x".into()),
            "sha256",
        ),
        (
            "dot dot",
            Box::new(|s| s.lists[0].sha256 = "../../x".into()),
            "sha256",
        ),
        (
            "upper case",
            Box::new(move |s| s.lists[0].sha256 = sha.to_uppercase()),
            "sha256",
        ),
        (
            "63 digits",
            Box::new(|s| s.lists[0].sha256.pop().map(drop).unwrap()),
            "sha256",
        ),
        (
            "revision",
            Box::new(|s| s.revision = "0123456789abcdef".into()),
            "revision",
        ),
        (
            "content",
            Box::new(|s| {
                s.config
                    .policies
                    .get_mut("main")
                    .unwrap()
                    .rules
                    .push("||forged.example^".into())
            }),
            "revision",
        ),
        (
            "a list's hash",
            Box::new(|s| s.lists[0].sha256 = "ab".repeat(32)),
            "revision",
        ),
        (
            "a list twice",
            Box::new(|s| s.lists.push(s.lists[0].clone())),
            "twice",
        ),
    ];
    for (what, forge, reason) in cases {
        let mut forged = state.clone();
        forge(&mut forged);
        let err = forged.check().expect_err(what);
        assert_eq!(err.kind(), SyncErrorKind::Invalid, "{what}");
        assert!(err.to_string().contains(reason), "{what}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_forged_state_is_refused_and_nothing_is_read_from_outside_data_dir() {
    let dir = temp_dir("forged");
    let (state, _) = primary_state(&dir);
    // A file outside data_dir, named as the forged hash would name it.
    let planted = dir.join("planted");
    std::fs::write(dir.join("planted.txt"), "||planted.example^\n").unwrap();
    let (replica, reloader) = new_replica(&dir, "http://127.0.0.1:9");
    let mut forged = state.clone();
    forged.lists[0].sha256 = planted.display().to_string();
    let err = replica.accept(forged, &reloader).await.unwrap_err();
    assert_eq!(err.kind(), SyncErrorKind::Invalid);
    assert_eq!(reloader.current().generation, 1);
    assert!(replica.status().last_error.unwrap().contains("sha256"));
    assert_eq!(replica.status().revision, None);
    assert!(stored_state(&dir.join("data")).is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Serves `state` at `/api/v1/sync/state` and `body` for every list, one connection
/// at a time.
async fn fake_primary(state: SyncState, body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let answer = if request.starts_with(b"GET /api/v1/sync/state ") {
                serde_json::to_vec(&state).unwrap()
            } else {
                body.clone()
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                answer.len()
            );
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(&answer).await;
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_pull_refuses_a_forged_state_and_a_list_that_is_not_its_hash() {
    let dir = temp_dir("pull");
    let (state, text) = primary_state(&dir);

    let mut forged = state.clone();
    forged.revision = "0123456789abcdef".into();
    let (replica, reloader) = new_replica(&dir, &fake_primary(forged, text.clone()).await);
    let err = replica.pull(&reloader).await.unwrap_err();
    assert_eq!(err.kind(), SyncErrorKind::Invalid);
    let status = replica.status();
    assert!(status.last_error.unwrap().contains("revision"), "{err}");
    assert_eq!(status.revision, None);
    assert_eq!(reloader.current().generation, 1);

    // The state is right, the list's text is not the one its hash names.
    let (replica, reloader) = new_replica(
        &dir,
        &fake_primary(state.clone(), b"||other.example^\n".to_vec()).await,
    );
    let err = replica.pull(&reloader).await.unwrap_err();
    assert_eq!(err.kind(), SyncErrorKind::Primary);
    assert!(err.to_string().contains("SHA-256"), "{err}");
    assert_eq!(reloader.current().generation, 1);
    assert!(!list_copy(&dir.join("data"), &state.lists[0].sha256).exists());

    // And the real thing is taken.
    let (replica, reloader) = new_replica(&dir, &fake_primary(state.clone(), text).await);
    let outcome = replica.pull(&reloader).await.unwrap();
    assert_eq!(outcome, Outcome::Applied { generation: 2 });
    assert_eq!(replica.status().revision, Some(state.revision.clone()));
    let _ = std::fs::remove_dir_all(&dir);
}
