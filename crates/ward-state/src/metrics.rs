//! The state side's Prometheus metrics: lists, reloads, the served snapshot, replica
//! sync, and the process.
//!
//! Almost everything here is read when `/metrics` is scraped, from the [`Reloader`], the
//! [`Replica`] and the [`Primary`] that already keep it (their counts, their status), so
//! no figure is kept twice and none can drift from what `GET /api/v1/status` says. The
//! one thing recorded as it happens is the reload duration histogram, which the Reloader
//! observes once per reload.
//!
//! Nothing is global: [`register`] adds to the registry it is handed (one per server,
//! created in `main`), so several servers in one test process keep their figures apart.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::reload::Reloader;
use crate::sync::{Primary, Replica, SyncState};

/// What the state metrics are read from.
#[derive(Clone)]
pub struct StateSources {
    /// The one Reloader: lists, reloads, the served snapshot.
    pub reloader: Arc<Reloader>,
    /// The replica side, on a replica.
    pub replica: Option<Arc<Replica>>,
    /// The primary side, on a primary.
    pub primary: Option<Arc<Primary>>,
}

/// Adds the state side's metrics to `registry`: names start with `ward_` (`process_` for
/// the process), so hand it the root registry, not one with a prefix. Call it once per
/// registry. docs/metrics.md lists every metric.
pub fn register(registry: &mut Registry, sources: StateSources) {
    registry.register(
        "ward_reload_duration_seconds",
        "How long reloads took, from the trigger to the outcome, by outcome",
        sources.reloader.durations().clone(),
    );
    registry.register(
        "ward_build",
        "The running build: 1, with its version",
        // The workspace shares one version: this crate's is the binary's.
        Info::new([("version", env!("CARGO_PKG_VERSION"))]),
    );
    registry.register_collector(Box::new(StateCollector {
        sources,
        revisions: Mutex::new(None),
        process_start: process_start_time(),
    }));
}

/// Reads the state at each scrape.
struct StateCollector {
    sources: StateSources,
    /// Revisions of the snapshot last scraped (hashing the config is not free).
    revisions: Mutex<Option<Revisions>>,
    /// Seconds since the Unix epoch; it does not change.
    process_start: Option<f64>,
}

impl fmt::Debug for StateCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateCollector")
            .field("replica", &self.sources.replica.is_some())
            .field("primary", &self.sources.primary.is_some())
            .finish_non_exhaustive()
    }
}

/// The revisions of one generation.
#[derive(Clone)]
struct Revisions {
    generation: u64,
    /// [`crate::Snapshot::revision`].
    config: String,
    /// The revision of the [`SyncState`] a primary pushes (computed on a primary only).
    sync: Option<String>,
}

impl StateCollector {
    fn revisions(&self, snapshot: &crate::Snapshot) -> Revisions {
        let mut cached = self.revisions.lock().unwrap_or_else(|e| e.into_inner());
        match &*cached {
            Some(r) if r.generation == snapshot.generation => r.clone(),
            _ => {
                let fresh = Revisions {
                    generation: snapshot.generation,
                    config: snapshot.revision(),
                    sync: self
                        .sources
                        .primary
                        .as_ref()
                        .map(|_| SyncState::of(snapshot).revision),
                };
                *cached = Some(fresh.clone());
                fresh
            }
        }
    }

    fn encode_state(&self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let reloader = &self.sources.reloader;
        let snapshot = reloader.current();

        // Lists: every enabled list of the config, also one that failed before it ever
        // had a copy (0 rules).
        let enabled: Vec<&str> = snapshot
            .config
            .lists
            .iter()
            .filter(|l| l.enabled)
            .map(|l| l.id.as_str())
            .collect();
        let mut m = encoder.encode_descriptor(
            "ward_list_rules",
            "Rules compiled from the list and serving now.",
            None,
            MetricType::Gauge,
        )?;
        for id in &enabled {
            let rules = snapshot.list(id).map_or(0, |l| l.rules.rule_count());
            ConstGauge::new(rules).encode(m.encode_family(&[("list", escape(id))])?)?;
        }
        let mut m = encoder.encode_descriptor(
            "ward_list_failing",
            "1 if the list's last read, download or check failed (its previous copy, if any, \
             still serves), else 0.",
            None,
            MetricType::Gauge,
        )?;
        for id in &enabled {
            let failing = snapshot.list_errors.iter().any(|(l, _)| l == id);
            ConstGauge::new(i64::from(failing))
                .encode(m.encode_family(&[("list", escape(id))])?)?;
        }

        let counts = reloader.counts();
        let mut m = encoder.encode_descriptor(
            "ward_reloads",
            "Reloads, by outcome: applied (a new snapshot serves), rejected (the previous \
             one still serves), unchanged.",
            None,
            MetricType::Counter,
        )?;
        for (outcome, n) in [
            ("applied", counts.applied),
            ("rejected", counts.rejected),
            ("unchanged", counts.unchanged),
        ] {
            ConstCounter::new(n).encode(m.encode_family(&[("outcome", outcome)])?)?;
        }

        gauge(
            encoder,
            "ward_snapshot_generation",
            "Generation of the snapshot serving: 1 at start, +1 per applied reload step.",
            snapshot.generation,
        )?;
        let revisions = self.revisions(&snapshot);
        encoder
            .encode_descriptor(
                "ward_config",
                "The config serving: 1, with its revision (a hash of its filtering part).",
                None,
                MetricType::Info,
            )?
            .encode_info(&[("revision", revisions.config.as_str())])?;

        self.encode_sync(encoder, revisions.sync.as_deref())
    }

    fn encode_sync(
        &self,
        encoder: &mut DescriptorEncoder<'_>,
        newest: Option<&str>,
    ) -> fmt::Result {
        // A node is one or the other (serve.rs makes at most one of them).
        let role = match (&self.sources.replica, &self.sources.primary) {
            (Some(replica), _) => Role::Replica(replica),
            (None, Some(primary)) => Role::Primary(primary),
            (None, None) => Role::Standalone,
        };
        let name = match role {
            Role::Standalone => "standalone",
            Role::Primary(_) => "primary",
            Role::Replica(_) => "replica",
        };
        let mut m = encoder.encode_descriptor(
            "ward_sync_role",
            "This node's role in replication: 1, with role standalone, primary or replica.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(1).encode(m.encode_family(&[("role", name)])?)?;

        if let Role::Replica(replica) = role {
            let status = replica.status();
            if let Some(revision) = &status.revision {
                encoder
                    .encode_descriptor(
                        "ward_sync_revision",
                        "The sync revision this node serves: 1, with the revision.",
                        None,
                        MetricType::Info,
                    )?
                    .encode_info(&[("revision", escape(revision))])?;
            }
            if let Some(last) = status.last_sync_ms {
                gauge(
                    encoder,
                    "ward_sync_lag_seconds",
                    "Seconds since the replica's last successful exchange with the primary.",
                    unix_ms().saturating_sub(last) as f64 / 1000.0,
                )?;
            }
            gauge(
                encoder,
                "ward_sync_failing",
                "1 if the replica's last exchange with the primary failed (the last accepted \
                 config still serves), else 0.",
                i64::from(status.last_error.is_some()),
            )?;
        }

        if let Role::Primary(primary) = role {
            if let Some(revision) = newest {
                encoder
                    .encode_descriptor(
                        "ward_sync_revision",
                        "The sync revision this node serves: 1, with the revision.",
                        None,
                        MetricType::Info,
                    )?
                    .encode_info(&[("revision", revision)])?;
            }
            let pushes = primary.status();
            let mut m = encoder.encode_descriptor(
                "ward_sync_replica_in_sync",
                "1 if the replica pod accepted the primary's newest revision, else 0.",
                None,
                MetricType::Gauge,
            )?;
            for p in &pushes {
                let in_sync = p.ok && p.revision.is_some() && p.revision.as_deref() == newest;
                let labels = [
                    ("replica", escape(&p.replica)),
                    ("address", escape(&p.address)),
                ];
                ConstGauge::new(i64::from(in_sync)).encode(m.encode_family(&labels)?)?;
            }
            let mut m = encoder.encode_descriptor(
                "ward_sync_replica_last_push_timestamp_seconds",
                "When the primary last pushed to the replica pod (or failed to reach it), \
                 seconds since the Unix epoch.",
                None,
                MetricType::Gauge,
            )?;
            for p in &pushes {
                let labels = [
                    ("replica", escape(&p.replica)),
                    ("address", escape(&p.address)),
                ];
                ConstGauge::new(p.at_ms as f64 / 1000.0).encode(m.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    fn encode_process(&self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        if let Some(rss) = resident_memory_bytes() {
            gauge(
                encoder,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                rss,
            )?;
        }
        if let Some(start) = self.process_start {
            gauge(
                encoder,
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds.",
                start,
            )?;
        }
        Ok(())
    }
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        self.encode_state(&mut encoder)?;
        self.encode_process(&mut encoder)
    }
}

/// What this node is in replication, with its side of it.
#[derive(Clone, Copy)]
enum Role<'a> {
    Standalone,
    Primary(&'a Primary),
    Replica(&'a Replica),
}

/// One gauge without labels.
fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: impl EncodeGaugeValue,
) -> fmt::Result {
    let m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(m)
}

/// A label value as the text format wants it: prometheus-client 0.24 writes label
/// values as they are, and a `"`, `\` or line break from a configured URL would break
/// the whole scrape.
fn escape(value: &str) -> Cow<'_, str> {
    if !value.contains(['"', '\\', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `VmRSS` of `/proc/self/status`, in bytes (Linux; `None` elsewhere).
fn resident_memory_bytes() -> Option<u64> {
    crate::process_memory().map(|m| m.resident)
}

/// When the process started, in seconds since the Unix epoch: its start in clock ticks
/// after boot (`/proc/self/stat`) plus the boot time (`/proc/stat`). Linux; `None`
/// elsewhere.
fn process_start_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    parse_start_time(&stat, &boot)
}

/// USER_HZ: the unit of the times in `/proc`, fixed at 100 by the kernel's ABI on the
/// architectures Ward builds for (the Prometheus Go client's procfs assumes the same).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

fn parse_start_time(stat: &str, boot: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces and ')': the
    // fields after its last ')' start with field 3, so `starttime` (22) is the 20th.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let btime: u64 = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(btime as f64 + ticks as f64 / CLOCK_TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use prometheus_client::encoding::text::encode;
    use ward_config::Config;

    use super::*;
    use crate::reload::{ApplyFn, Outcome, Trigger};
    use crate::{DiskLists, Snapshot};

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ward-metrics-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A config with a local list of two rules, a URL list never downloaded (failing),
    /// a disabled list, and `rule` as the policy's own rule.
    fn config(dir: &Path, rule: &str) -> Config {
        let local = dir.join("local.txt");
        std::fs::write(&local, "||a.example^\n||b.example^\n").unwrap();
        Config::from_yaml(&format!(
            r#"
upstreams:
  default: {{ servers: ["127.0.0.1:5399"] }}
lists:
  - {{ id: local, path: "{}" }}
  - {{ id: remote, url: "https://lists.invalid/remote.txt" }}
  - {{ id: off, path: "{}", enabled: false }}
policies:
  main: {{ lists: [local, remote], rules: ["{rule}"] }}
default_policy: main
data_dir: "{}"
"#,
            local.display(),
            local.display(),
            dir.display()
        ))
        .expect("valid config")
    }

    fn reloader(dir: &Path) -> Arc<Reloader> {
        let apply: ApplyFn = Box::new(|_| Box::pin(async {}));
        let texts = DiskLists {
            data_dir: dir.to_path_buf(),
        };
        let first = Snapshot::build(config(dir, "||c.example^"), &texts, 1).unwrap();
        Arc::new(Reloader::new(None, Arc::new(first), apply))
    }

    fn scrape(registry: &Registry) -> String {
        let mut text = String::new();
        encode(&mut text, registry).unwrap();
        text
    }

    /// The value of the sample `series` (name and labels exactly as written), if present.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map(|v| v.parse().unwrap())
    }

    #[tokio::test]
    async fn lists_reloads_and_the_generation_follow_the_reloader() {
        let dir = temp_dir("standalone");
        let reloader = reloader(&dir);
        let mut registry = Registry::default();
        register(
            &mut registry,
            StateSources {
                reloader: reloader.clone(),
                replica: None,
                primary: None,
            },
        );

        let text = scrape(&registry);
        assert_eq!(sample(&text, r#"ward_list_rules{list="local"}"#), Some(2.0));
        assert_eq!(
            sample(&text, r#"ward_list_failing{list="local"}"#),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, r#"ward_list_rules{list="remote"}"#),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, r#"ward_list_failing{list="remote"}"#),
            Some(1.0)
        );
        assert!(
            !text.contains(r#"list="off""#),
            "disabled lists are left out:\n{text}"
        );
        assert_eq!(sample(&text, "ward_snapshot_generation"), Some(1.0));
        assert_eq!(
            sample(&text, r#"ward_reloads_total{outcome="applied"}"#),
            Some(0.0)
        );
        let first_revision = reloader.current().revision();
        let info = format!(r#"ward_config_info{{revision="{first_revision}"}}"#);
        assert_eq!(sample(&text, &info), Some(1.0));
        assert_eq!(
            sample(&text, r#"ward_sync_role{role="standalone"}"#),
            Some(1.0)
        );
        let build = format!(
            r#"ward_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(sample(&text, &build), Some(1.0));
        // No reload yet: no duration series.
        assert!(
            !text.contains("ward_reload_duration_seconds_count"),
            "{text}"
        );
        assert!(!text.contains("ward_sync_lag_seconds"), "{text}");
        assert!(text.ends_with("# EOF\n"));

        let report = reloader
            .reload_config(Trigger::Api, config(&dir, "||d.example^"))
            .await;
        assert_eq!(report.outcome, Outcome::Applied { generation: 2 });
        let mut bad = config(&dir, "||e.example^");
        bad.default_policy = "missing".into();
        let report = reloader.reload_config(Trigger::Api, bad).await;
        assert!(matches!(report.outcome, Outcome::Rejected { .. }));

        let text = scrape(&registry);
        assert_eq!(sample(&text, "ward_snapshot_generation"), Some(2.0));
        assert_eq!(
            sample(&text, r#"ward_reloads_total{outcome="applied"}"#),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, r#"ward_reloads_total{outcome="rejected"}"#),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, r#"ward_reloads_total{outcome="unchanged"}"#),
            Some(0.0)
        );
        let applied = r#"ward_reload_duration_seconds_count{outcome="applied"}"#;
        assert_eq!(sample(&text, applied), Some(1.0));
        let rejected = r#"ward_reload_duration_seconds_count{outcome="rejected"}"#;
        assert_eq!(sample(&text, rejected), Some(1.0));
        // The revision follows the new generation, not the one cached at the first scrape.
        let revision = reloader.current().revision();
        assert_ne!(revision, first_revision);
        let info = format!(r#"ward_config_info{{revision="{revision}"}}"#);
        assert_eq!(sample(&text, &info), Some(1.0), "{text}");
        assert!(!text.contains(&first_revision));
    }

    #[tokio::test]
    async fn a_replica_reports_its_revision_lag_and_failures() {
        let dir = temp_dir("replica");
        let reloader = reloader(&dir);
        let local = (*reloader.current().config).clone();
        let replica =
            Arc::new(Replica::new("http://127.0.0.1:9", "token", dir.clone(), local).unwrap());
        let mut registry = Registry::default();
        register(
            &mut registry,
            StateSources {
                reloader: reloader.clone(),
                replica: Some(replica.clone()),
                primary: None,
            },
        );
        let text = scrape(&registry);
        assert_eq!(
            sample(&text, r#"ward_sync_role{role="replica"}"#),
            Some(1.0)
        );
        assert_eq!(sample(&text, "ward_sync_failing"), Some(0.0));
        assert!(
            !text.contains("ward_sync_lag_seconds"),
            "never synced: {text}"
        );
        assert!(!text.contains("ward_sync_revision_info"), "{text}");

        // The primary's state (no lists, so nothing to fetch from it).
        let primary_config = Config::from_yaml(&format!(
            "upstreams:\n  default: {{ servers: [\"127.0.0.1:5399\"] }}\n\
             policies:\n  main: {{ rules: [\"||p.example^\"] }}\ndefault_policy: main\n\
             data_dir: \"{}\"\n",
            dir.display()
        ))
        .unwrap();
        let texts = DiskLists {
            data_dir: dir.clone(),
        };
        let state = SyncState::of(&Snapshot::build(primary_config, &texts, 1).unwrap());
        replica.accept(state.clone(), &reloader).await.unwrap();

        let text = scrape(&registry);
        let info = format!(
            r#"ward_sync_revision_info{{revision="{}"}}"#,
            state.revision
        );
        assert_eq!(sample(&text, &info), Some(1.0), "{text}");
        let lag = sample(&text, "ward_sync_lag_seconds").unwrap();
        assert!((0.0..5.0).contains(&lag), "lag {lag}");
        assert_eq!(sample(&text, "ward_sync_failing"), Some(0.0));
        assert_eq!(sample(&text, "ward_snapshot_generation"), Some(2.0));

        // Nothing listens on port 9: the pull fails, the accepted revision stays.
        assert!(replica.pull(&reloader).await.is_err());
        let text = scrape(&registry);
        assert_eq!(sample(&text, "ward_sync_failing"), Some(1.0));
        assert_eq!(sample(&text, &info), Some(1.0));
    }

    /// Answers every HTTP request on `listener` with 200 after reading it whole.
    async fn accept_pushes(listener: tokio::net::TcpListener) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = conn.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        let response = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        let _ = conn.write_all(response.as_bytes()).await;
                        request.clear();
                    }
                }
            });
        }
    }

    #[tokio::test]
    async fn a_primary_reports_which_replica_pods_have_its_newest_revision() {
        let dir = temp_dir("primary");
        let reloader = reloader(&dir);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(accept_pushes(listener));
        let down = "http://127.0.0.1:9".to_owned();
        let primary = Arc::new(Primary::new(vec![up.clone(), down.clone()], "token").unwrap());
        let mut registry = Registry::default();
        register(
            &mut registry,
            StateSources {
                reloader: reloader.clone(),
                replica: None,
                primary: Some(primary.clone()),
            },
        );
        let text = scrape(&registry);
        assert_eq!(
            sample(&text, r#"ward_sync_role{role="primary"}"#),
            Some(1.0)
        );
        assert!(
            !text.contains("ward_sync_replica_in_sync{"),
            "no push yet: {text}"
        );

        let before = unix_ms() as f64 / 1000.0;
        let state = SyncState::of(&reloader.current());
        assert!(!primary.push(&state).await, "port 9 refuses");
        let text = scrape(&registry);
        let info = format!(
            r#"ward_sync_revision_info{{revision="{}"}}"#,
            state.revision
        );
        assert_eq!(sample(&text, &info), Some(1.0), "{text}");
        let pod = |url: &str| {
            format!(
                r#"{{replica="{url}",address="{}"}}"#,
                url.trim_start_matches("http://")
            )
        };
        let in_sync =
            |text: &str, url: &str| sample(text, &format!("ward_sync_replica_in_sync{}", pod(url)));
        assert_eq!(in_sync(&text, &up), Some(1.0), "{text}");
        assert_eq!(in_sync(&text, &down), Some(0.0), "{text}");
        let pushed = format!("ward_sync_replica_last_push_timestamp_seconds{}", pod(&up));
        let at = sample(&text, &pushed).unwrap();
        assert!(
            at >= before.floor() && at <= unix_ms() as f64 / 1000.0 + 1.0,
            "{at}"
        );

        // A new generation is a new revision the replica has not been pushed yet.
        let report = reloader
            .reload_config(Trigger::Api, config(&dir, "||f.example^"))
            .await;
        assert_eq!(report.outcome, Outcome::Applied { generation: 2 });
        let text = scrape(&registry);
        assert_eq!(in_sync(&text, &up), Some(0.0), "{text}");
    }

    #[test]
    fn process_figures_are_read_from_proc() {
        let status = "Name:\tward\nVmPeak:\t  20000 kB\nVmHWM:\t   2000 kB\nVmRSS:\t   1234 kB\nThreads:\t4\n";
        let memory = crate::parse_process_memory(status).unwrap();
        assert_eq!((memory.resident, memory.peak), (1234 * 1024, 2000 * 1024));
        assert_eq!(crate::parse_process_memory("Name:\tward\n"), None);
        // A command name with spaces and a ')' of its own.
        let stat = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 12345 1000 200";
        let boot = "cpu  1 2 3\nbtime 1700000000\nprocesses 99\n";
        let start = parse_start_time(stat, boot).unwrap();
        assert!((start - 1_700_000_123.45).abs() < 1e-3, "{start}");
        assert_eq!(parse_start_time(stat, "cpu 1 2 3\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_resident_size_and_started_lately() {
        let dir = temp_dir("process");
        let mut registry = Registry::default();
        register(
            &mut registry,
            StateSources {
                reloader: reloader(&dir),
                replica: None,
                primary: None,
            },
        );
        let text = scrape(&registry);
        let rss = sample(&text, "process_resident_memory_bytes").unwrap();
        assert!(rss > 1024.0 * 1024.0, "{rss}");
        let start = sample(&text, "process_start_time_seconds").unwrap();
        let now = unix_ms() as f64 / 1000.0;
        // The test binary started moments ago (a wrong tick rate would be off by far).
        assert!(
            start <= now + 1.0 && start > now - 600.0,
            "start {start}, now {now}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("http://a:1"), "http://a:1");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
