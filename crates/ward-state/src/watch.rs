//! Watching the config file and the local list files it names, to reload when they change.
//!
//! The watches are on their directories, not on the files: an editor's atomic save
//! (write a temporary file, rename it over) and Kubernetes' ConfigMap update (a new
//! timestamped directory, then the `..data` symlink renamed over the old one) replace the
//! file rather than write to it, which a watch on the file itself would miss. Any event in
//! a watched directory wakes the watcher; 30 ms later (one save is several events) it
//! compares each file's identity (size, modification time, inode, followed through
//! symlinks) with what it saw last, and reloads only if one changed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::Snapshot;
use crate::reload::{Reloader, Trigger};

/// How long the directory must be quiet before the files are compared: one save is often
/// several events (create, write, rename).
const DEBOUNCE: Duration = Duration::from_millis(30);

/// A running watcher; dropping it stops the watching.
pub struct FileWatcher {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FileWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a watched file is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Watched {
    Config,
    List(String),
}

/// A file's identity, followed through symlinks; `None` while it does not exist.
type Identity = Option<(u64, Option<SystemTime>, u64)>;

fn identity(path: &Path) -> Identity {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.len(), meta.modified().ok(), inode))
}

/// The files a snapshot's reloads read: the config file and every enabled local list.
fn files(config_path: Option<&Path>, snapshot: &Snapshot) -> HashMap<PathBuf, Watched> {
    let mut files = HashMap::new();
    if let Some(path) = config_path {
        files.insert(path.to_path_buf(), Watched::Config);
    }
    for list in snapshot.config.lists.iter().filter(|l| l.enabled) {
        if let Some(path) = &list.path {
            files
                .entry(path.clone())
                .or_insert_with(|| Watched::List(list.id.clone()));
        }
    }
    files
}

fn directory(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Starts watching the reloader's config file and its snapshot's local lists (the set is
/// updated after every reload). Must be called inside a tokio runtime.
pub fn spawn(reloader: Arc<Reloader>) -> notify::Result<FileWatcher> {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            // Full means a wake-up is already pending: this event is covered by it.
            let _ = tx.try_send(());
        }
    })?;
    // Armed before this returns, not in the task: the server says `ready` right after,
    // and a file written then must not come before the watch (under load the task may
    // start late, and such a write was missed for good: its identity was taken as seen).
    let mut watched_dirs: HashSet<PathBuf> = HashSet::new();
    let mut seen: HashMap<PathBuf, Identity> = HashMap::new();
    let mut targets = files(reloader.config_path(), &reloader.current());
    rewatch(&mut watcher, &mut watched_dirs, &targets);
    for path in targets.keys() {
        seen.insert(path.clone(), identity(path));
    }
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Let the burst of one save end. Events that come meanwhile are covered by
            // this check; a directory that never rests (a log file beside the config) is
            // checked every DEBOUNCE, never starved.
            tokio::time::sleep(DEBOUNCE).await;
            while rx.try_recv().is_ok() {}
            let mut changed: Vec<Watched> = Vec::new();
            for (path, what) in &targets {
                let now = identity(path);
                if seen.get(path) != Some(&now) {
                    seen.insert(path.clone(), now);
                    changed.push(what.clone());
                }
            }
            let trigger = if changed.contains(&Watched::Config) {
                Some(Trigger::ConfigFile)
            } else {
                changed.into_iter().find_map(|w| match w {
                    Watched::List(id) => Some(Trigger::ListFile(id)),
                    Watched::Config => None,
                })
            };
            let Some(trigger) = trigger else { continue };
            reloader.reload(trigger).await;
            // The config may name other lists now.
            targets = files(reloader.config_path(), &reloader.current());
            rewatch(&mut watcher, &mut watched_dirs, &targets);
            for path in targets.keys() {
                seen.entry(path.clone()).or_insert_with(|| identity(path));
            }
        }
    });
    Ok(FileWatcher { task })
}

/// Watches the directories of `targets` and no others.
fn rewatch(
    watcher: &mut notify::RecommendedWatcher,
    watched: &mut HashSet<PathBuf>,
    targets: &HashMap<PathBuf, Watched>,
) {
    let wanted: HashSet<PathBuf> = targets.keys().map(|f| directory(f)).collect();
    for dir in watched.difference(&wanted) {
        let _ = watcher.unwatch(dir);
    }
    watched.retain(|d| wanted.contains(d));
    for dir in wanted {
        if watched.contains(&dir) {
            continue;
        }
        match watcher.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                tracing::debug!(dir = %dir.display(), "watching for changes");
                watched.insert(dir);
            }
            Err(err) => tracing::warn!(
                dir = %dir.display(),
                %err,
                "cannot watch for changes; SIGHUP or a refresh timer reloads it"
            ),
        }
    }
}
