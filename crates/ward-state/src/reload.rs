//! The one Reloader (DESIGN.md section 2): every change to what Ward serves goes through
//! [`Reloader::reload`], one at a time.
//!
//! A reload reads the config (from its file, or as an admin API write hands it over),
//! validates it, builds the next [`Snapshot`] on the blocking pool while the current one
//! keeps serving (lists whose text has not changed are reused as they are), hands it to the
//! query path and reports an [`Outcome`]: applied (with the new generation), rejected
//! (with the reason; the current snapshot stays) or unchanged (nothing to do).
//!
//! When several lists changed, each is swapped in by a step of its own (a whole snapshot,
//! a generation each; the config applies with the first): lists are independent, as if
//! they had been refreshed a moment apart, and the peak memory is the serving snapshot plus
//! one new list instead of two of everything. Triggers:
//! the config file or a local list file changing ([`crate::watch`]), SIGHUP, list
//! downloads and refresh timers ([`crate::refresh`]), admin API writes.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use serde::Serialize;
use ward_config::Config;

use crate::Snapshot;
use crate::list_files::{ConfinedLists, check_new_list_files};

/// What asked for a reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The config file changed.
    ConfigFile,
    /// A local list file changed (its id).
    ListFile(String),
    /// SIGHUP.
    Signal,
    /// An admin API write.
    Api,
    /// A list was downloaded (its id).
    Download(String),
    /// A list's refresh timer re-read it (its id).
    Refresh(String),
    /// A replica took the primary's state (its revision).
    Sync(String),
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::ConfigFile => f.write_str("config file changed"),
            Trigger::ListFile(id) => write!(f, "list file {id} changed"),
            Trigger::Signal => f.write_str("SIGHUP"),
            Trigger::Api => f.write_str("admin API write"),
            Trigger::Download(id) => write!(f, "list {id} downloaded"),
            Trigger::Refresh(id) => write!(f, "list {id} refresh timer"),
            Trigger::Sync(revision) => write!(f, "sync: primary revision {revision}"),
        }
    }
}

/// How a reload ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A new snapshot serves.
    Applied {
        /// Its generation.
        generation: u64,
    },
    /// The change was refused; the previous snapshot still serves.
    Rejected {
        /// Why, naming the bad field or file.
        reason: String,
    },
    /// The change makes no difference to any answer; nothing was swapped.
    Unchanged {
        /// The generation still serving.
        generation: u64,
    },
}

/// One reload, as the log and `GET /api/v1/status` report it.
#[derive(Clone, Debug, Serialize)]
pub struct ReloadReport {
    /// What asked for it.
    pub trigger: String,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// When it ended, in milliseconds since the Unix epoch.
    pub finished_at_ms: u64,
    /// From the trigger to the outcome (for an applied reload: until the query path
    /// served the new snapshot).
    pub elapsed_ms: f64,
    /// Lists compiled anew.
    pub lists_compiled: usize,
    /// Lists reused from the previous snapshot.
    pub lists_reused: usize,
}

/// Reload counts, by outcome.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ReloadCounts {
    /// Applied reloads.
    pub applied: u64,
    /// Rejected reloads.
    pub rejected: u64,
    /// Reloads that changed nothing.
    pub unchanged: u64,
}

/// Hands a new snapshot to the query path; the future completes once queries use it.
pub type ApplyFn =
    Box<dyn Fn(Arc<Snapshot>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The one writer of the served snapshot.
pub struct Reloader {
    config_path: Option<PathBuf>,
    current: ArcSwap<Snapshot>,
    apply: ApplyFn,
    /// One reload at a time, in the order they were asked for.
    serial: tokio::sync::Mutex<()>,
    history: Mutex<History>,
    /// The generation serving, for whoever waits for changes.
    generation: tokio::sync::watch::Sender<u64>,
    /// What a config read from the file becomes before it applies (a replica serves the
    /// primary's filtering part with its own file's node-local settings).
    overlay: std::sync::OnceLock<Overlay>,
    /// The API's writes over a config file Git owns, when they go to `data_dir`.
    layer: std::sync::OnceLock<Arc<crate::layer::LayerStore>>,
    /// How long reloads took, by outcome; [`crate::metrics`] exposes it.
    durations: ReloadDurations,
}

/// Reload durations in seconds, by `outcome` label (`applied`, `rejected`, `unchanged`).
pub(crate) type ReloadDurations = Family<[(&'static str, &'static str); 1], Histogram>;

/// 5 ms to about 41 s: an unchanged reload takes milliseconds, compiling a large list
/// seconds.
fn reload_duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// See [`Reloader::set_overlay`].
pub type Overlay = Box<dyn Fn(Config) -> Config + Send + Sync>;

#[derive(Default)]
struct History {
    last: Option<ReloadReport>,
    /// The last reload that applied or was rejected (not one that found nothing new, as
    /// the file watcher's echo of an API write does).
    last_change: Option<ReloadReport>,
    counts: ReloadCounts,
    running: Option<String>,
}

impl Reloader {
    /// A reloader of `initial` (already serving), which re-reads `config_path` (if any) on
    /// [`Trigger::ConfigFile`] and [`Trigger::Signal`].
    pub fn new(config_path: Option<PathBuf>, initial: Arc<Snapshot>, apply: ApplyFn) -> Reloader {
        let generation = tokio::sync::watch::Sender::new(initial.generation);
        Reloader {
            config_path,
            current: ArcSwap::new(initial),
            apply,
            serial: tokio::sync::Mutex::new(()),
            history: Mutex::new(History::default()),
            generation,
            overlay: std::sync::OnceLock::new(),
            layer: std::sync::OnceLock::new(),
            durations: Family::new_with_constructor(reload_duration_histogram),
        }
    }

    /// Reload durations by outcome (shared: the clone [`crate::metrics`] registers is
    /// the same histogram).
    pub(crate) fn durations(&self) -> &ReloadDurations {
        &self.durations
    }

    /// Passes every config read from the file through `overlay` before it applies. Only
    /// the first call counts.
    pub fn set_overlay(&self, overlay: Overlay) {
        let _ = self.overlay.set(overlay);
    }

    /// Lays `layer` over every config read from the file from now on (the API's writes
    /// kept in `data_dir`). Only the first call counts.
    pub fn set_layer(&self, layer: Arc<crate::layer::LayerStore>) {
        let _ = self.layer.set(layer);
    }

    /// The layer the API writes to, when its writes go to `data_dir`.
    pub fn layer(&self) -> Option<&Arc<crate::layer::LayerStore>> {
        self.layer.get()
    }

    /// Changes whenever a new snapshot serves (its value: the generation).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// The snapshot serving now.
    pub fn current(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The config file, if Ward was started with one.
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    /// The last reload's report.
    pub fn last(&self) -> Option<ReloadReport> {
        self.lock_history().last.clone()
    }

    /// The last reload that applied a config or refused one.
    pub fn last_change(&self) -> Option<ReloadReport> {
        self.lock_history().last_change.clone()
    }

    /// Reloads so far, by outcome.
    pub fn counts(&self) -> ReloadCounts {
        self.lock_history().counts
    }

    /// The trigger of the reload running now, if one is.
    pub fn running(&self) -> Option<String> {
        self.lock_history().running.clone()
    }

    /// Reloads for `trigger`: the config file is read again for a file change or SIGHUP,
    /// the current config is kept for list triggers.
    pub async fn reload(&self, trigger: Trigger) -> ReloadReport {
        let started = Instant::now();
        let _turn = self.serial.lock().await;
        let config = match (&trigger, &self.config_path) {
            (Trigger::ConfigFile | Trigger::Signal, Some(path)) => {
                match read_config(path).and_then(|c| self.with_layer(c, path)) {
                    Ok(config) => match self.overlay.get() {
                        Some(overlay) => overlay(config),
                        None => config,
                    },
                    Err(reason) => return self.finish(trigger, started, Err(reason), (0, 0)),
                }
            }
            _ => (*self.current().config).clone(),
        };
        self.reload_locked(trigger, config, started).await
    }

    /// `file` (read from `path`) with the API's layer over it, if there is one; the two
    /// together must be valid.
    fn with_layer(&self, file: Config, path: &Path) -> Result<Config, String> {
        let Some(layer) = self.layer.get() else {
            return Ok(file);
        };
        let config = layer.over(file);
        match config.validate() {
            Ok(()) => {
                layer.set_invalid(None);
                Ok(config)
            }
            Err(e) => {
                let why = format!(
                    "{} with the API's additions ({}): {e}",
                    path.display(),
                    layer.path().display()
                );
                layer.set_invalid(Some(why.clone()));
                Err(why)
            }
        }
    }

    /// Applies a config handed over whole (an admin API write or a replica sync), after
    /// the same validation as a file's.
    pub async fn reload_config(&self, trigger: Trigger, config: Config) -> ReloadReport {
        let started = Instant::now();
        let _turn = self.serial.lock().await;
        if let Err(errors) = config.validate() {
            return self.finish(trigger, started, Err(errors.to_string()), (0, 0));
        }
        if trigger == Trigger::Api {
            if let Err(reason) = self.check_list_files(&config) {
                return self.finish(trigger, started, Err(reason), (0, 0));
            }
        }
        self.reload_locked(trigger, config, started).await
    }

    /// Whether an API write may name the list files `config` adds: each under the allowed
    /// directories and, if it exists, a regular file ([`check_new_list_files`]). A list
    /// the serving config already has is not checked again: a write that changes
    /// something else is not refused for a list the config file names.
    pub fn check_list_files(&self, config: &Config) -> Result<(), String> {
        check_new_list_files(config, &self.current().config, self.config_path.as_deref())
    }

    async fn reload_locked(
        &self,
        trigger: Trigger,
        config: Config,
        started: Instant,
    ) -> ReloadReport {
        self.lock_history().running = Some(trigger.to_string());
        let mut current = self.current();
        warn_node_local(&current.config, &config);
        let texts = Arc::new(ConfinedLists::new(&config, self.config_path.as_deref()));
        // Step by step: each swap replaces at most one list that changed (a reload that
        // changes every list would otherwise hold two of everything at its peak). Each
        // step is a whole snapshot; the config applies with the first.
        let (mut compiled, mut reused) = (0, 0);
        let mut applied = None;
        let mut list_errors = Vec::new();
        // One step per list at most, and one for the config: a bound, whatever happens.
        for _ in 0..=config.lists.len() {
            let previous = current.clone();
            let generation = current.generation + 1;
            let (config, texts) = (config.clone(), texts.clone());
            let built = tokio::task::spawn_blocking(move || {
                Snapshot::rebuild_step(config, &*texts, generation, Some(&previous))
            })
            .await;
            let built = match built {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(e) => Err(format!("compiling the lists failed: {e}")),
            };
            let (next, pending) = match built {
                Ok(next) => next,
                Err(reason) if applied.is_none() => {
                    return self.finish(trigger, started, Err(reason), (0, 0));
                }
                // A later step failed: what was applied stays.
                Err(reason) => {
                    tracing::warn!(%reason, "a reload step failed");
                    break;
                }
            };
            let now_reused = next.lists.iter().filter(|l| l.reused).count();
            compiled += next.lists.len() - now_reused;
            reused = now_reused;
            list_errors.clone_from(&next.list_errors);
            if next.same_as(&current) {
                break;
            }
            let next = Arc::new(next);
            (self.apply)(next.clone()).await;
            self.current.store(next.clone());
            self.generation.send_replace(generation);
            applied = Some(generation);
            // The previous snapshot is freed when the last query holding it ends (queries
            // are short: almost always by now). Then give its memory back to the system.
            current = next;
            release_free_memory();
            if !pending {
                break;
            }
        }
        for (list, err) in &list_errors {
            tracing::warn!(list = %list, %err, "list not updated");
        }
        let outcome = match applied {
            Some(generation) => Outcome::Applied { generation },
            None => Outcome::Unchanged {
                generation: current.generation,
            },
        };
        self.finish(trigger, started, Ok(outcome), (compiled, reused))
    }

    fn finish(
        &self,
        trigger: Trigger,
        started: Instant,
        outcome: Result<Outcome, String>,
        (compiled, reused): (usize, usize),
    ) -> ReloadReport {
        let outcome = outcome.unwrap_or_else(|reason| Outcome::Rejected { reason });
        let report = ReloadReport {
            trigger: trigger.to_string(),
            outcome,
            finished_at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            lists_compiled: compiled,
            lists_reused: reused,
        };
        match &report.outcome {
            Outcome::Applied { generation } => tracing::info!(
                trigger = %report.trigger,
                generation,
                elapsed_ms = report.elapsed_ms,
                lists_compiled = compiled,
                lists_reused = reused,
                "reload applied"
            ),
            Outcome::Unchanged { generation } => tracing::info!(
                trigger = %report.trigger,
                generation,
                elapsed_ms = report.elapsed_ms,
                "reload changed nothing"
            ),
            Outcome::Rejected { reason } => tracing::warn!(
                trigger = %report.trigger,
                %reason,
                "reload rejected; the previous config keeps serving"
            ),
        }
        let outcome = match report.outcome {
            Outcome::Applied { .. } => "applied",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Unchanged { .. } => "unchanged",
        };
        self.durations
            .get_or_create(&[("outcome", outcome)])
            .observe(report.elapsed_ms / 1000.0);
        let mut history = self.lock_history();
        history.running = None;
        match report.outcome {
            Outcome::Applied { .. } => history.counts.applied += 1,
            Outcome::Rejected { .. } => history.counts.rejected += 1,
            Outcome::Unchanged { .. } => history.counts.unchanged += 1,
        }
        if !matches!(report.outcome, Outcome::Unchanged { .. }) {
            history.last_change = Some(report.clone());
        }
        history.last = Some(report.clone());
        report
    }

    fn lock_history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads and validates a config file; the error names the file, the field and the line.
pub fn read_config(path: &Path) -> Result<Config, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    Config::from_yaml(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Settings that only a restart applies: said in the log, not an error (the rest of the
/// change applies).
fn warn_node_local(old: &Config, new: &Config) {
    if old.dns.listen != new.dns.listen {
        tracing::warn!("dns.listen changed: the listeners change at the next restart");
    }
    if old.admin != new.admin {
        tracing::warn!(
            "admin changed: the admin listener and credentials change at the next restart"
        );
    }
    if old.sync != new.sync {
        tracing::warn!("sync changed: the node's role and peers change at the next restart");
    }
    if old.cache != new.cache {
        tracing::warn!("cache changed: the cache is resized at the next restart");
    }
}

/// Returns freed heap memory to the system. glibc keeps what a dropped snapshot freed for
/// later allocations, so without this the resident size after every list reload would
/// stay at its peak.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
