//! The query log: every answered query as an [`Entry`], kept in a bounded in-memory ring
//! for fast searches and appended to rotated JSON-lines files.
//!
//! The query path never touches this module: it hands a cheap event to a bounded channel
//! (`ward_dns::record`), and the one thread draining that channel turns the events into
//! entries and gives them to the [`Store`] in batches. The store does the work that costs
//! something (ignored names, JSON, file writes) and pushes each batch into the ring under
//! one short write lock; [`QueryLog`] handles search it meanwhile.
//!
//! The ring is stored in chunks of 4,096 entries with the names of a chunk packed into
//! one buffer, so a name-substring search is a `memmem` over a few MiB rather
//! than a pointer chase per entry, and the time, client, policy and reason of each entry
//! sit in a compact key array. A search over one million entries held reads at most those
//! two arrays once.
//!
//! Files: `<dir>/querylog.json` receives one JSON object per line; at `rotate_bytes` (or
//! after an hour, so a quiet server's entries expire too) it is renamed to
//! `querylog.<unix-ms>.json`, and rotated files whose newest entry is older than
//! `retention` are deleted, as are the oldest while all the files take more than
//! `max_disk`. The files are for log shippers and for people, and for the ring itself: at
//! start the newest `memory_entries` of them are read back into it (`files::read_back`),
//! so a restart does not empty the log that searches and the UI see.

mod files;
mod json;
mod ring;
mod search;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde::Serialize;
pub use ward_rules::Reason;

use files::Files;
pub use json::ipv4_text;
use ring::Ring;
pub use search::{
    ClientFilter, Cursor, Page, ReasonFilter, Search, UpstreamFilter, parse_qtype, parse_rcode,
    parse_reason,
};

/// The default size of the in-memory ring.
pub const DEFAULT_MEMORY_ENTRIES: usize = 100_000;
/// The default size at which `querylog.json` is rotated.
pub const DEFAULT_ROTATE_BYTES: u64 = 64 << 20;
/// The default retention of rotated files: a day. AdGuard Home keeps 90 days, but Ward
/// often runs in a pod with a small volume; set it longer where the disk allows.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// The default most disk the files take together: 1 GiB.
pub const DEFAULT_MAX_DISK: u64 = 1 << 30;
/// The default page size of a search.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest page a search returns.
pub const MAX_LIMIT: usize = 1000;

/// How the query log keeps its entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryLogConfig {
    /// Entries held in memory for searches; the oldest are evicted first.
    pub memory_entries: usize,
    /// Where the JSON-lines files go; `None` keeps the log in memory only.
    pub dir: Option<PathBuf>,
    /// The size at which `querylog.json` is rotated.
    pub rotate_bytes: u64,
    /// How long rotated files are kept after their newest entry.
    pub retention: Duration,
    /// The most the files may take together: the oldest rotated files are deleted past it,
    /// and `querylog.json` rotates at a quarter of it if that is below `rotate_bytes`.
    pub max_disk: u64,
    /// Zero the last octet of IPv4 clients and the last 80 bits of IPv6 clients.
    pub anonymize_clients: bool,
    /// Names never logged: exact (`example.com`) or every name below a suffix
    /// (`*.example.com`, which does not match `example.com` itself).
    pub ignore: Vec<String>,
}

impl Default for QueryLogConfig {
    fn default() -> QueryLogConfig {
        QueryLogConfig {
            memory_entries: DEFAULT_MEMORY_ENTRIES,
            dir: None,
            rotate_bytes: DEFAULT_ROTATE_BYTES,
            retention: DEFAULT_RETENTION,
            max_disk: DEFAULT_MAX_DISK,
            anonymize_clients: false,
            ignore: Vec::new(),
        }
    }
}

/// One answered query, as the query path fills it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// When it was answered, Unix ms.
    pub time_ms: u64,
    /// The client's address.
    pub client: IpAddr,
    /// The client's name in the config, if it has one.
    pub client_name: Option<String>,
    /// The ClientID the query named (DNS over TLS or HTTPS), if it named one.
    pub client_id: Option<String>,
    /// How the query arrived.
    pub protocol: Protocol,
    /// The policy that answered (shared with the snapshot's policy name).
    pub policy: Arc<str>,
    /// The question name: lowercase, no trailing dot.
    pub name: String,
    /// The question type.
    pub qtype: u16,
    /// Why the answer is what it is.
    pub reason: Reason,
    /// The text of the deciding rule.
    pub rule: Option<String>,
    /// The id of the deciding rule's list.
    pub list: Option<String>,
    /// The blocked service (`FilteredBlockedService`) or safe-search provider
    /// (`FilteredSafeSearch`) that decided, by id.
    pub service: Option<String>,
    /// The schedule that decided: one that blocks everything, added what blocked, or
    /// paused what would have.
    pub schedule: Option<String>,
    /// A short summary of the answer: `0.0.0.0`, `93.184.216.34, 2606::1`, `NXDOMAIN`.
    pub answer: String,
    /// The response code.
    pub rcode: u8,
    /// The upstream that answered, if one did.
    pub upstream: Option<Arc<str>>,
    /// Whether the answer came from the cache.
    pub cached: bool,
    /// Time from the request to the response, µs.
    pub elapsed_us: u32,
}

/// How a query arrived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Plain DNS over UDP.
    #[default]
    Udp,
    /// Plain DNS over TCP.
    Tcp,
    /// DNS over TLS (RFC 7858).
    Dot,
    /// DNS over HTTPS (RFC 8484).
    Doh,
}

impl Protocol {
    /// Every protocol, in the order of the variants.
    pub const ALL: [Protocol; 4] = [Protocol::Udp, Protocol::Tcp, Protocol::Dot, Protocol::Doh];

    /// Its name in the log, the metrics and the API: `udp`, `tcp`, `dot`, `doh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
            Protocol::Dot => "dot",
            Protocol::Doh => "doh",
        }
    }

    /// The protocol of a name [`Protocol::as_str`] gives.
    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// The JSON form of an entry: readable names for the time, type, reason and rcode. The
/// files write the same bytes without serde (json.rs).
#[derive(Serialize)]
struct EntryJson<'a> {
    time: String,
    time_ms: u64,
    client: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    protocol: &'static str,
    policy: &'a str,
    name: &'a str,
    qtype: std::borrow::Cow<'static, str>,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    list: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<&'a str>,
    answer: &'a str,
    rcode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<&'a str>,
    cached: bool,
    elapsed_us: u32,
}

impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EntryJson {
            time: humantime::format_rfc3339_millis(
                UNIX_EPOCH + Duration::from_millis(self.time_ms),
            )
            .to_string(),
            time_ms: self.time_ms,
            client: self.client,
            client_name: self.client_name.as_deref(),
            client_id: self.client_id.as_deref(),
            protocol: self.protocol.as_str(),
            policy: &self.policy,
            name: &self.name,
            qtype: json::qtype_name(self.qtype),
            reason: self.reason.as_str(),
            rule: self.rule.as_deref(),
            list: self.list.as_deref(),
            service: self.service.as_deref(),
            schedule: self.schedule.as_deref(),
            answer: &self.answer,
            rcode: json::rcode_str(self.rcode),
            upstream: self.upstream.as_deref(),
            cached: self.cached,
            elapsed_us: self.elapsed_us,
        }
        .serialize(s)
    }
}

struct Shared {
    ring: RwLock<Ring>,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Ring> {
        self.ring.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Searches the entries held in memory. Cheap to clone.
#[derive(Clone)]
pub struct QueryLog {
    shared: Arc<Shared>,
}

/// Where entries are written: the ring and the files. One owner (the thread that drains
/// the query path's events) writes; [`QueryLog`] handles search meanwhile.
pub struct Store {
    shared: Arc<Shared>,
    ignored: IgnoredNames,
    anonymize: bool,
    files: Option<Files>,
    file_tick: Instant,
    /// What [`Store::write`] does with each entry of the batch; kept for its memory.
    marks: Vec<Mark>,
    /// Copies of the entries of the batch that the config changes, in order.
    prepared: Vec<Entry>,
}

/// What the store does with one entry of a batch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Logged as given.
    Given,
    /// Logged as its copy in `prepared` (its name lowercased, its client anonymised).
    Prepared,
    /// Left out: an ignored name.
    Ignored,
}

impl QueryLog {
    /// An empty query log and the store that fills it.
    ///
    /// With a directory, the newest entries of its files are read back into memory first
    /// (a line that is not an entry is skipped and counted in the log message).
    pub fn new(config: QueryLogConfig) -> (QueryLog, Store) {
        let mut ring = Ring::new(config.memory_entries);
        let ignored = IgnoredNames::new(&config.ignore);
        if let Some(dir) = &config.dir {
            let started = Instant::now();
            // As the store would log them now: the ignore list may have grown since.
            let read = files::read_back(dir, config.memory_entries, |mut e| {
                if prepare(&mut e, &ignored, config.anonymize_clients) {
                    ring.push_all([&e]);
                }
            });
            if read.entries > 0 || read.bad_lines > 0 {
                tracing::info!(
                    dir = %dir.display(),
                    entries = read.entries,
                    files = read.files,
                    bad_lines = read.bad_lines,
                    ms = started.elapsed().as_millis() as u64,
                    "query log: read the newest entries back from the files"
                );
            }
        }
        let shared = Arc::new(Shared {
            ring: RwLock::new(ring),
        });
        let store = Store {
            shared: shared.clone(),
            ignored,
            anonymize: config.anonymize_clients,
            files: config
                .dir
                .map(|dir| Files::new(dir, config.rotate_bytes, config.retention, config.max_disk)),
            file_tick: Instant::now(),
            marks: Vec::new(),
            prepared: Vec::new(),
        };
        (QueryLog { shared }, store)
    }

    /// Entries held in memory.
    pub fn len(&self) -> usize {
        self.shared.read().len()
    }

    /// Whether no entry is held in memory.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Searches the in-memory entries, newest first.
    pub fn search(&self, q: &Search) -> Page {
        self.shared.read().search(q)
    }

    /// The time of the oldest entry held, Unix ms: how far back a search can see.
    pub fn oldest_ms(&self) -> Option<u64> {
        self.shared.read().oldest_ms()
    }

    /// Where the log stands: the [`Search::since`] that finds only entries logged after
    /// now. Cheap (a read lock and a number), for a tail to poll.
    pub fn head(&self) -> Cursor {
        Cursor(self.shared.read().head())
    }
}

/// How often the file is flushed, rotated by age and its directory expired.
const FILE_TICK: Duration = Duration::from_secs(1);

impl Store {
    /// Logs a batch (oldest first): names in the ignore list are left out, clients
    /// anonymised if configured, the rest appended to the file and pushed into the ring
    /// under one write lock. File writes are plain buffered `std::fs` calls (one
    /// `write(2)` per 256 KiB, a rename per rotation): cheap, but blocking.
    ///
    /// The entries are borrowed, so that their writer can fill the same ones again (the
    /// recorder's entries need nothing done and are not copied: their names are
    /// lowercase and their clients anonymised already).
    pub fn write(&mut self, entries: &[Entry]) {
        self.marks.clear();
        self.prepared.clear();
        for entry in entries {
            let mark = if !self.normal(entry) {
                let mut copy = entry.clone();
                if prepare(&mut copy, &self.ignored, self.anonymize) {
                    self.prepared.push(copy);
                    Mark::Prepared
                } else {
                    Mark::Ignored
                }
            } else if self.ignored.contains(&entry.name) {
                Mark::Ignored
            } else {
                Mark::Given
            };
            self.marks.push(mark);
        }
        if let Some(files) = &mut self.files {
            files.write_all(logged(entries, &self.marks, &self.prepared));
            if self.file_tick.elapsed() >= FILE_TICK {
                self.file_tick = Instant::now();
                files.tick();
            }
        }
        if self.marks.iter().any(|m| *m != Mark::Ignored) {
            self.shared
                .write()
                .push_all(logged(entries, &self.marks, &self.prepared));
        }
        // The ring copied what it keeps: the copies are freed here, outside the lock.
        self.prepared.clear();
    }

    /// Whether the config leaves an entry as it is: its name lowercase without the
    /// trailing dot, its client anonymised if it must be.
    fn normal(&self, entry: &Entry) -> bool {
        normal_name(&entry.name) && (!self.anonymize || anonymize_ip(entry.client) == entry.client)
    }

    /// Writes what is buffered to the file.
    pub fn flush(&mut self) {
        if let Some(files) = &mut self.files {
            files.flush();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The entries of a batch that are logged, as they are logged.
fn logged<'a>(
    entries: &'a [Entry],
    marks: &'a [Mark],
    prepared: &'a [Entry],
) -> impl Iterator<Item = &'a Entry> {
    let mut prepared = prepared.iter();
    entries
        .iter()
        .zip(marks)
        .filter_map(move |(entry, mark)| match mark {
            Mark::Given => Some(entry),
            Mark::Prepared => prepared.next(),
            Mark::Ignored => None,
        })
}

/// Whether a name is as the log keeps it: lowercase, without the trailing dot.
fn normal_name(name: &str) -> bool {
    !name.ends_with('.') && !name.bytes().any(|b| b.is_ascii_uppercase())
}

/// Applies the config to one entry; false if it is not to be logged.
fn prepare(entry: &mut Entry, ignored: &IgnoredNames, anonymize: bool) -> bool {
    if !normal_name(&entry.name) {
        let name = entry.name.trim_end_matches('.').to_ascii_lowercase();
        entry.name = name;
    }
    if ignored.contains(&entry.name) {
        return false;
    }
    if anonymize {
        entry.client = anonymize_ip(entry.client);
    }
    true
}

/// The client address with its host part zeroed: the last octet of IPv4, the last 80
/// bits of IPv6 (as AdGuard Home's `anonymize_client_ip`).
pub fn anonymize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & !0xff).into()),
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 80) - 1)).into()),
    }
}

/// The names never logged.
struct IgnoredNames {
    exact: foldhash::HashSet<Box<str>>,
    /// `.suffix`, for `*.suffix`.
    below: Vec<Box<str>>,
}

impl IgnoredNames {
    fn new(patterns: &[String]) -> IgnoredNames {
        let mut exact = foldhash::HashSet::default();
        let mut below = Vec::new();
        for p in patterns {
            let p = p.trim().trim_end_matches('.').to_ascii_lowercase();
            match p.strip_prefix("*.") {
                Some(suffix) => below.push(format!(".{suffix}").into_boxed_str()),
                None if !p.is_empty() => {
                    exact.insert(p.into_boxed_str());
                }
                None => {}
            }
        }
        IgnoredNames { exact, below }
    }

    fn contains(&self, name: &str) -> bool {
        // Most configs ignore nothing: no hashing then.
        (!self.exact.is_empty() && self.exact.contains(name))
            || self.below.iter().any(|s| name.ends_with(&**s))
    }
}
