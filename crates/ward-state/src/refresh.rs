//! Keeping lists fresh: URL lists are downloaded (when there is no copy yet, then every
//! `refresh`, 24 hours unless set, and on SIGHUP), path lists with a `refresh` are
//! re-read on that timer as well as when they change (for file systems without change
//! events, such as NFS).
//!
//! A download that fails keeps the last good copy serving and is tried again after 30
//! seconds, doubling up to the list's refresh interval. Every good copy is on disk in
//! `<data_dir>/lists/`, so a restart without network serves the last good lists at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::Notify;
use ward_config::ListSource;
use ward_rules::{Line, parse_line};

use crate::download::{Downloader, Fetched};
use crate::reload::{Reloader, Trigger};

/// How often a URL list is downloaded when its `refresh` is not set (AdGuard Home's
/// default update interval).
pub const DEFAULT_URL_REFRESH: Duration = Duration::from_secs(24 * 3600);

/// The first retry after a failed download; doubled per failure, up to the refresh.
const RETRY: Duration = Duration::from_secs(30);

/// What the status page says about one list's downloads and refreshes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ListActivity {
    /// `downloading` while a download runs, else `idle`.
    pub state: &'static str,
    /// Bytes received by the running download.
    pub bytes: u64,
    /// The last download that succeeded (a new copy or "not modified"), Unix ms.
    pub last_success_ms: Option<u64>,
    /// The last failure, if it came after the last success.
    pub last_error: Option<String>,
    /// When the next download or re-read is due, Unix ms.
    pub next_ms: Option<u64>,
}

/// Download and refresh activity of every list, by id.
#[derive(Debug, Default)]
pub struct Activity {
    lists: Mutex<HashMap<String, ListActivity>>,
}

impl Activity {
    /// A copy of every list's activity.
    pub fn all(&self) -> HashMap<String, ListActivity> {
        self.lock().clone()
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut ListActivity)) {
        let mut lists = self.lock();
        let entry = lists.entry(id.to_owned()).or_insert_with(|| ListActivity {
            state: "idle",
            ..ListActivity::default()
        });
        f(entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ListActivity>> {
        self.lists.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether a download looks like a filter list: not an HTML page or a binary file
/// ([`crate::check_list_text`]), and empty, only comments, or with at least one line Ward
/// reads as a rule.
pub fn accept_list(text: &[u8]) -> Result<(), String> {
    crate::check_list_text(text)?;
    let text = String::from_utf8_lossy(text);
    let mut lines = 0u64;
    for line in text.lines() {
        match parse_line(line) {
            Line::Blank | Line::Comment => {}
            Line::Skipped(_) => lines += 1,
            _ => return Ok(()),
        }
    }
    if lines == 0 {
        Ok(())
    } else {
        Err(format!(
            "not a filter list: none of its {lines} lines is a rule"
        ))
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// When a list is next due, from its last good copy's age.
fn first_due(downloader: &Downloader, list: &ListSource, now: Instant) -> Instant {
    let Some(url) = list.download_url() else {
        return now + list.refresh_every().unwrap_or(Duration::MAX / 4);
    };
    let refresh = list.refresh_every().unwrap_or(DEFAULT_URL_REFRESH);
    let Some(copy) = downloader.copy_info(&list.id).filter(|c| c.url == url) else {
        return now;
    };
    if !downloader.copy_path(&list.id).is_file() {
        return now;
    }
    let age = SystemTime::now()
        .duration_since(UNIX_EPOCH + Duration::from_secs(copy.fetched_at))
        .unwrap_or_default();
    now + refresh.saturating_sub(age)
}

/// Runs the refresh timers of the reloader's current config until the task is dropped.
/// Lists added by a reload are picked up within a second; `now` makes every list due at
/// once (SIGHUP: "check for updates").
pub async fn run(
    reloader: Arc<Reloader>,
    downloader: Arc<Downloader>,
    activity: Arc<Activity>,
    check_now: Arc<Notify>,
) {
    // id -> (source as configured, when due, failures in a row)
    let mut due: HashMap<String, (ListSource, Instant, u32)> = HashMap::new();
    loop {
        let now = Instant::now();
        let config = reloader.current().config.clone();
        let lists: Vec<&ListSource> = config
            .lists
            .iter()
            .filter(|l| l.enabled && (l.download_url().is_some() || l.refresh_every().is_some()))
            .collect();
        due.retain(|id, (source, _, _)| lists.iter().any(|l| l.id == *id && **l == *source));
        for list in &lists {
            due.entry(list.id.clone()).or_insert_with(|| {
                let at = first_due(&downloader, list, now);
                ((*list).clone(), at, 0)
            });
        }
        let ready: Vec<String> = due
            .iter()
            .filter(|(_, (_, at, _))| *at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ready {
            let Some((source, _, failures)) = due.get(&id).cloned() else {
                continue;
            };
            let (next, failures) = match source.download_url() {
                Some(url) => {
                    let url = url.to_owned();
                    download(&reloader, &downloader, &activity, &source, &url, failures).await
                }
                None => {
                    reloader.reload(Trigger::Refresh(id.clone())).await;
                    (source.refresh_every().unwrap_or(DEFAULT_URL_REFRESH), 0)
                }
            };
            let at = Instant::now() + next;
            activity.update(&id, |a| {
                a.next_ms = Some(unix_ms(SystemTime::now() + next));
            });
            due.insert(id, (source, at, failures));
        }
        let next = due
            .values()
            .map(|(_, at, _)| *at)
            .min()
            .map_or(Duration::from_secs(1), |at| {
                at.saturating_duration_since(Instant::now())
            });
        tokio::select! {
            _ = tokio::time::sleep(next.min(Duration::from_secs(1))) => {}
            _ = check_now.notified() => {
                let at = Instant::now();
                for (_, due, failures) in due.values_mut() {
                    *due = at;
                    *failures = 0;
                }
            }
        }
    }
}

/// One download of a URL list; returns when to try next and the failures in a row.
async fn download(
    reloader: &Reloader,
    downloader: &Downloader,
    activity: &Activity,
    list: &ListSource,
    url: &str,
    failures: u32,
) -> (Duration, u32) {
    let refresh = list.refresh_every().unwrap_or(DEFAULT_URL_REFRESH);
    let id = list.id.as_str();
    tracing::info!(list = id, url, "downloading list");
    activity.update(id, |a| {
        a.state = "downloading";
        a.bytes = 0;
    });
    let started = Instant::now();
    let logged_mib = AtomicU64::new(0);
    let progress = |bytes: u64| {
        activity.update(id, |a| a.bytes = bytes);
        // Long downloads say how far they got, every 8 MiB.
        let mib = bytes >> 20;
        if mib >= logged_mib.load(Ordering::Relaxed) + 8 {
            logged_mib.store(mib, Ordering::Relaxed);
            tracing::info!(list = id, mib, "downloading list");
        }
    };
    let result = downloader.fetch(id, url, &accept_list, &progress).await;
    activity.update(id, |a| a.state = "idle");
    match result {
        Ok(Fetched::Changed { bytes }) => {
            tracing::info!(
                list = id,
                bytes,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "list downloaded"
            );
            activity.update(id, |a| {
                a.last_success_ms = Some(unix_ms(SystemTime::now()));
                a.last_error = None;
            });
            reloader.reload(Trigger::Download(id.to_owned())).await;
            (refresh, 0)
        }
        Ok(Fetched::NotModified) => {
            tracing::info!(list = id, "list not modified");
            activity.update(id, |a| {
                a.last_success_ms = Some(unix_ms(SystemTime::now()));
                a.last_error = None;
            });
            (refresh, 0)
        }
        Err(err) => {
            let retry = RETRY.saturating_mul(1 << failures.min(16)).min(refresh);
            if downloader.copy_path(id).is_file() {
                tracing::warn!(
                    list = id,
                    %err,
                    retry_s = retry.as_secs(),
                    "list download failed; the last good copy keeps serving"
                );
            } else {
                tracing::warn!(
                    list = id,
                    %err,
                    retry_s = retry.as_secs(),
                    "list download failed and there is no copy yet: the policies that use \
                     it filter without it until a download succeeds"
                );
            }
            activity.update(id, |a| a.last_error = Some(err.to_string()));
            (retry, failures + 1)
        }
    }
}
