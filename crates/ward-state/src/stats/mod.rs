//! Statistics as AdGuard Home's dashboard shows them, counted from the query log's
//! [`Entry`] values: totals and a time series, the top names, blocked names and clients,
//! queries per policy and the average latency of each upstream.
//!
//! Counts live in time buckets, because a report covers a range (24 hours, 7 or 30 days)
//! ending now and buckets let old data expire without keeping every entry:
//! - per minute, for the last 24 hours: only counts (queries, blocked, allowlisted,
//!   rewritten, cached, processing time), for a per-minute chart of the last day;
//! - per hour, for the last 30 days: the same counts, plus counting maps of names, blocked
//!   names, clients, policies and upstreams, from which the top lists are merged.
//!
//! The counting maps are what could grow without bound (every distinct name a client asks
//! for), so they are bounded as AdGuard Home bounds them (`maxDomains`): the hour still
//! open holds at most [`OPEN_KEYS`] keys per map (when full, it keeps its largest half, so
//! a flood of random names cannot push out the names that are really asked for); a closed
//! hour of the last day keeps its top [`TOP_KEPT`], an older one its top [`TOP_KEPT_OLD`].
//! The top lists of a report are therefore exact for names that are in each hour's top
//! and approximate below; the totals are always exact.
//!
//! Time is the entries' own: the newest entry recorded is "now" for expiry, so tests are
//! exact and a server that was stopped for a while keeps what is still in range. An entry
//! older than 30 days before the newest one recorded is ignored (a clock that starts at
//! 1970 before NTP sets it cannot wipe the history; a clock that was once far ahead needs
//! [`Stats::reset`]).
//!
//! Everything is kept in memory behind one mutex, taken once per recorded batch and once
//! per report, and saved as `stats.json` in the data directory (a few MiB at most).
//!
//! Recording is on the recorder thread's budget for every answered query, so it is kept
//! to a few hash lookups an entry: the maps hash with foldhash rather than SipHash (a
//! random seed per map; the keys are names clients choose, but each map is bounded, so
//! even a flood of colliding names could only slow one map of [`OPEN_KEYS`] keys), a
//! batch looks its minute and hour buckets up once per run of entries that share them,
//! and a full open map sheds its smaller half in place, keeping its capacity for the
//! names that follow.

mod bucket;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::querylog::{Entry, MAX_LIMIT, QueryLog, Search};
use bucket::{Counts, HourBucket};
pub use report::{
    ClientCount, DEFAULT_TOP, MAX_TOP, NameCount, Point, PolicyCount, Range, Report, ReportQuery,
    Resolution, Totals, UpstreamLatency,
};

/// The file the statistics are saved to, in the directory given to [`Stats::open`].
pub const FILE_NAME: &str = "stats.json";
/// Keys each counting map of the open hour holds at most.
pub const OPEN_KEYS: usize = 10_000;
/// Keys each counting map of a closed hour of the last 24 hours keeps: AdGuard Home's
/// `maxDomains` and `maxClients`.
pub const TOP_KEPT: usize = 100;
/// Keys each counting map of an hour older than 24 hours keeps, so that 30 days stay a
/// few MiB on disk and in memory.
pub const TOP_KEPT_OLD: usize = 30;
/// Policies or upstreams counted per hour at most (they come from the config, so this is
/// only a guard).
const CONFIG_KEYS: usize = 1_000;
/// The version of `stats.json`; another version is set aside like a corrupt file.
const FILE_VERSION: u32 = 1;

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 3_600_000;
/// Minute buckets kept: 24 hours.
const MINUTES_KEPT: u64 = 24 * 60;
/// Hour buckets kept: 30 days.
const HOURS_KEPT: u64 = 30 * 24;

/// The counting maps: hashed with foldhash (see the module docs for why), and
/// hashbrown's for its `entry_ref`, which hashes a name once whether it is new or not.
type HashMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

/// The statistics of one node. Cheap to clone: clones share the same counts.
#[derive(Clone)]
pub struct Stats {
    shared: Arc<Shared>,
}

struct Shared {
    tables: Mutex<Tables>,
    /// `<dir>/stats.json`, or `None` in memory only.
    file: Option<PathBuf>,
    /// One save at a time: two would write the same temporary file.
    saving: Mutex<()>,
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats")
            .field("file", &self.shared.file)
            .finish_non_exhaustive()
    }
}

impl Stats {
    /// Statistics saved in `dir` (`None`: in memory only), loaded from its `stats.json`
    /// when there is one. A file that cannot be read or parsed is logged, renamed to
    /// `stats.json.bad` and the statistics start empty: they never stop a start.
    pub fn open(dir: Option<PathBuf>) -> Stats {
        let file = dir.map(|d| d.join(FILE_NAME));
        let tables = file.as_deref().map(load).unwrap_or_default();
        Stats {
            shared: Arc::new(Shared {
                tables: Mutex::new(tables),
                file,
                saving: Mutex::new(()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.shared.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a batch of answered queries (in any order) under one lock.
    pub fn record(&self, entries: &[Entry]) {
        if !entries.is_empty() {
            self.lock().record(entries);
        }
    }

    /// The statistics of `query.range` ending at `now_ms` (Unix ms).
    pub fn report(&self, now_ms: u64, query: &ReportQuery) -> Report {
        report::build(&self.lock(), now_ms, query)
    }

    /// The statistics of the query log's entries that `filter` keeps (a policy, a subnet,
    /// a client): the dashboard's view of one scope, counted from the log rather than kept
    /// per scope, so any subnet or client can be asked for. They reach back as far as the
    /// log holds entries (`query_log.memory_entries`); [`QueryLog::oldest_ms`] says how far.
    /// The filter's `cursor`, `since` and `limit` are ignored.
    pub fn of_log(log: &QueryLog, filter: &Search, now_ms: u64, query: &ReportQuery) -> Report {
        let scoped = Stats::open(None);
        let from = (now_ms / HOUR_MS + 1).saturating_sub(query.range.hours()) * HOUR_MS;
        let mut search = Search {
            from_ms: Some(filter.from_ms.unwrap_or(0).max(from)),
            limit: Some(MAX_LIMIT),
            cursor: None,
            since: None,
            ..filter.clone()
        };
        loop {
            let page = log.search(&search);
            scoped.record(&page.entries);
            match page.next_cursor.and_then(|c| c.parse().ok()) {
                Some(next) => search.cursor = Some(next),
                None => break,
            }
        }
        scoped.report(now_ms, query)
    }

    /// Forgets everything, and saves the empty statistics so a restart does not bring them
    /// back. The counts are cleared even when the save fails.
    pub fn reset(&self) -> std::io::Result<()> {
        *self.lock() = Tables::default();
        self.save()
    }

    /// Writes `stats.json` atomically (nothing to do in memory only). Call it now and then
    /// and at shutdown; what was recorded since the last save is lost on a crash.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.shared.file else {
            return Ok(());
        };
        let _turn = self.shared.saving.lock().unwrap_or_else(|e| e.into_inner());
        // Serialised under the lock, written without it: the recorder waits for the
        // former only (milliseconds), never for the disk.
        let bytes = {
            let tables = self.lock();
            serde_json::to_vec(&FileOut {
                version: FILE_VERSION,
                stats: &tables,
            })
            .map_err(std::io::Error::other)?
        };
        crate::write_atomically(path, &bytes)
    }

    /// Keys held in all the counting maps (names, clients, policies, upstreams of every
    /// hour): what the memory and the file size grow with.
    pub fn tracked_keys(&self) -> usize {
        self.lock().hours.values().map(HourBucket::keys).sum()
    }
}

/// Reads `path`; a missing file is a first start, a bad one is set aside.
fn load(path: &Path) -> Tables {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Tables::default(),
        Err(e) => return set_aside(path, &e.to_string()),
    };
    match serde_json::from_slice::<FileIn>(&text) {
        Ok(file) if file.version == FILE_VERSION => {
            let mut tables = file.stats;
            // A file edited by hand (or by an older build) is held to today's bounds.
            tables.expire();
            tables
        }
        Ok(file) => set_aside(
            path,
            &format!("version {} (not {FILE_VERSION})", file.version),
        ),
        Err(e) => set_aside(path, &e.to_string()),
    }
}

fn set_aside(path: &Path, why: &str) -> Tables {
    let mut bad = path.as_os_str().to_owned();
    bad.push(".bad");
    let renamed = std::fs::rename(path, &bad);
    tracing::warn!(
        file = %path.display(),
        error = why,
        moved_to = %Path::new(&bad).display(),
        moved = renamed.is_ok(),
        "the saved statistics cannot be read; starting with empty statistics"
    );
    Tables::default()
}

#[derive(Serialize)]
struct FileOut<'a> {
    version: u32,
    stats: &'a Tables,
}

#[derive(Deserialize)]
struct FileIn {
    version: u32,
    stats: Tables,
}

/// Every bucket, keyed by minute or hour since the Unix epoch.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Tables {
    /// The newest entry's time, Unix ms: "now" for expiry.
    newest_ms: u64,
    minutes: BTreeMap<u64, Counts>,
    hours: BTreeMap<u64, HourBucket>,
}

/// The bound of an hour's counting maps when `newest` is the newest hour.
fn kept_for(hour: u64, newest: u64) -> usize {
    if hour >= newest {
        OPEN_KEYS
    } else if newest - hour < 24 {
        TOP_KEPT
    } else {
        TOP_KEPT_OLD
    }
}

impl Tables {
    fn record(&mut self, entries: &[Entry]) {
        let before = self.newest_ms;
        let newest_ms = entries.iter().map(|e| e.time_ms).max().unwrap_or(0);
        self.newest_ms = self.newest_ms.max(newest_ms);
        let newest_hour = self.newest_ms / HOUR_MS;
        let first_hour = (newest_hour + 1).saturating_sub(HOURS_KEPT);
        let first_minute = (self.newest_ms / MINUTE_MS + 1).saturating_sub(MINUTES_KEPT);
        // A batch covers a second or so: its entries share one minute and one hour, so
        // each is looked up once per run rather than once per entry.
        let mut minute_bucket: Option<(u64, &mut Counts)> = None;
        let mut hour_bucket: Option<(u64, &mut HourBucket)> = None;
        for e in entries {
            let hour = e.time_ms / HOUR_MS;
            if hour < first_hour {
                continue;
            }
            let minute = e.time_ms / MINUTE_MS;
            if minute >= first_minute {
                if minute_bucket.as_ref().is_none_or(|(m, _)| *m != minute) {
                    minute_bucket = Some((minute, self.minutes.entry(minute).or_default()));
                }
                if let Some((_, counts)) = &mut minute_bucket {
                    counts.count(e);
                }
            }
            if hour_bucket.as_ref().is_none_or(|(h, _)| *h != hour) {
                let bucket = self
                    .hours
                    .entry(hour)
                    .or_insert_with(|| HourBucket::new(kept_for(hour, newest_hour)));
                hour_bucket = Some((hour, bucket));
            }
            if let Some((_, bucket)) = &mut hour_bucket {
                bucket.count(e);
            }
        }
        // Closing an hour after its batch is counted: the last entries of an hour that
        // come in the same batch as the first of the next still reach its open maps.
        if self.newest_ms / HOUR_MS != before / HOUR_MS {
            self.expire();
        } else if self.newest_ms / MINUTE_MS != before / MINUTE_MS {
            self.minutes = self.minutes.split_off(&first_minute);
        }
    }

    /// Drops the buckets out of range and bounds each hour as its age says.
    fn expire(&mut self) {
        let newest_hour = self.newest_ms / HOUR_MS;
        let first_minute = (self.newest_ms / MINUTE_MS + 1).saturating_sub(MINUTES_KEPT);
        self.minutes = self.minutes.split_off(&first_minute);
        self.hours = self
            .hours
            .split_off(&(newest_hour + 1).saturating_sub(HOURS_KEPT));
        for (&hour, bucket) in &mut self.hours {
            bucket.trim(kept_for(hour, newest_hour));
        }
    }
}
