//! From the query path to the query log, the statistics and the metrics.
//!
//! After an answer is sent, the serving loop puts an [`Event`] in its [`Batch`]: the
//! answer it sent (see [`Response`]), the client, the times, and the handler's [`Trace`]
//! of what decided it (the snapshot, the policy, the rule). A UDP loop hands its batch
//! to the [`Recorder`] when it has nothing more to read (or holds [`Batch::MAX`] events),
//! so that a busy loop pays for one hand-over every few dozen queries, not one a query;
//! answers sent from tasks (forwarded queries, TCP) go over one by one. A batch holds
//! the snapshot its events were decided by, so that an answer given at once takes no
//! reference to it (see `SnapshotRef`). A hand-over is a `try_send` on a bounded
//! channel: it never waits and never wakes a thread (the [`RecordWriter`] polls). When
//! the channel holds its capacity in events, what does not fit is dropped and counted
//! in `ward_querylog_dropped_total`; the queries were answered all the same.
//!
//! The writer does the work that costs something, off the query path: it reads the
//! question and an answer summary back from the answer's wire format, resolves the rule's
//! text and list from the snapshot, fills a [`querylog::Entry`] (the same ones again
//! and again, so that an entry allocates nothing), counts the metrics, and hands each
//! batch of entries to the sinks (the statistics) and the query log's store.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use ward_rules::{Reason, RecordType, RuleMatch};
use ward_state::Snapshot;
use ward_state::querylog::{self, Entry};

use crate::cache::read_name_into;
use crate::metrics::{DnsMetrics, QueryLabels, RcodeLabels, SourceLabels};
use crate::wire::skip_name;

/// Entries the writer fills before it hands them on.
const BATCH: usize = 1024;
/// Emptied batches kept for the serving loops to fill again.
const SPARE_BATCHES: usize = 64;

/// How often the writer drains the channel. It polls rather than waits so that the query
/// path never has a sleeping writer to wake: a wake-up is a futex call on the query
/// thread, several times the cost of the send. Entries reach searches within this delay.
const POLL: Duration = Duration::from_millis(25);
/// How often it drains the channel while queries come fast (at least [`BUSY`] events a
/// drain): the events of 2 ms, not 25, are what the query threads and the writer pass
/// through the caches (they often share a core), and their batches are reused while
/// still in them.
const POLL_BUSY: Duration = Duration::from_millis(2);
/// Events in a drain from which the writer polls every [`POLL_BUSY`]: 10,000 queries a
/// second. A home network's rate stays at [`POLL`], a wake-up every 25 ms.
const BUSY: usize = 250;

pub use ward_state::querylog::Protocol;

/// What produced an answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// The filter: blocked, rewritten, or a hosts-style address.
    Filter,
    /// A local record.
    Local,
    /// The cache.
    Cache,
    /// An upstream server, just now.
    Upstream,
    /// Nothing: SERVFAIL, FORMERR, NOTIMP, or an unreadable query.
    #[default]
    Error,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Filter => "filter",
            Source::Local => "local",
            Source::Cache => "cache",
            Source::Upstream => "upstream",
            Source::Error => "error",
        }
    }
}

/// What the handler decided about one query, filled in as it goes.
#[derive(Debug, Default)]
pub struct Trace {
    decided: Option<Decided>,
    pub(crate) source: Source,
    /// Whether the cache was asked and had nothing.
    pub(crate) cache_miss: bool,
    /// The upstream server that answered.
    pub(crate) upstream: Option<Arc<str>>,
    /// The address of the snapshot the serving loop's batch holds (0: none). Only
    /// compared, never followed: the batch's reference keeps that snapshot alive, so the
    /// address cannot stand for another one.
    batch_snapshot: usize,
}

#[derive(Debug)]
struct Decided {
    snapshot: SnapshotRef,
    policy: usize,
    reason: Reason,
    rule: Option<RuleMatch>,
    /// The schedule (an index into the policy's) that decided.
    schedule: Option<usize>,
}

/// The snapshot a query was decided by. Every query took a reference of its own before,
/// one atomic add and one subtract on a counter that every serving thread and the
/// recorder share; a query answered at once by a loop whose batch holds that snapshot
/// takes none.
#[derive(Debug)]
enum SnapshotRef {
    Own(Arc<Snapshot>),
    /// The one the batch the event is pushed into holds.
    Batch,
}

impl Trace {
    /// The trace of a query that `batch`'s loop answers: a decision by the snapshot the
    /// batch holds refers to it without a reference of its own.
    pub fn for_batch(batch: &Batch) -> Trace {
        Trace {
            batch_snapshot: batch
                .snapshot
                .as_ref()
                .map_or(0, |s| Arc::as_ptr(s) as usize),
            ..Trace::default()
        }
    }

    /// The policy (an index into the snapshot's) that answers the query.
    pub(crate) fn policy(&mut self, snapshot: &Arc<Snapshot>, policy: usize) {
        let snapshot = if Arc::as_ptr(snapshot) as usize == self.batch_snapshot {
            SnapshotRef::Batch
        } else {
            SnapshotRef::Own(snapshot.clone())
        };
        self.decided = Some(Decided {
            snapshot,
            policy,
            reason: Reason::NotFilteredNotFound,
            rule: None,
            schedule: None,
        });
    }

    /// Before the answer may wait (for an upstream, say), after which it is recorded
    /// from a task, outside the loop's batch: later decisions take their own reference.
    /// (One already made is made again after this, or is [`Trace::leave_batch`]'s.)
    pub(crate) fn may_wait(&mut self) {
        self.batch_snapshot = 0;
    }

    /// Before the answer waits: the decision takes its own reference to `snapshot`, the
    /// one it was made by, and later ones will too.
    pub(crate) fn leave_batch(&mut self, snapshot: &Arc<Snapshot>) {
        if let Some(d) = &mut self.decided {
            if matches!(d.snapshot, SnapshotRef::Batch) {
                d.snapshot = SnapshotRef::Own(snapshot.clone());
            }
        }
        self.batch_snapshot = 0;
    }

    /// The filter's verdict, the rule that decided it and the schedule that did.
    pub(crate) fn verdict(
        &mut self,
        reason: Reason,
        rule: Option<RuleMatch>,
        schedule: Option<usize>,
    ) {
        if let Some(d) = &mut self.decided {
            d.reason = reason;
            d.rule = rule;
            d.schedule = schedule;
        }
    }
}

/// One answered query, as the serving loop hands it over.
#[derive(Debug)]
pub struct Event {
    /// When the query arrived.
    pub received: Instant,
    /// Arrival to answer sent.
    pub elapsed: Duration,
    /// The client's address.
    pub client: IpAddr,
    /// The ClientID the query named, if it named one.
    pub client_id: Option<Arc<str>>,
    /// How it arrived.
    pub protocol: Protocol,
    /// The answer sent, in wire format.
    pub response: Response,
    /// What decided the answer.
    pub trace: Trace,
}

/// An answer as the recorder gets it: copied when it is small (most are), so that the
/// query thread frees its own buffer (glibc makes a free from another thread take the
/// owner's arena lock, and the query thread then pays for consolidating it), moved when
/// it is large.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // inline on purpose: no allocation per query
pub enum Response {
    /// Up to [`Response::INLINE`] bytes.
    Inline {
        /// How many of `bytes` are the answer.
        len: u8,
        /// The answer, then zeros.
        bytes: [u8; Response::INLINE],
    },
    /// A larger answer.
    Heap(Vec<u8>),
}

impl Response {
    /// The largest answer copied: a blocked answer is about 60 bytes, an A or AAAA answer
    /// 60 to 160 with a short CNAME chain. (Larger, the event's copies cost more than the
    /// rare free from the other thread.)
    pub const INLINE: usize = 160;

    /// The answer to record, from the buffer that was sent.
    pub fn new(sent: Vec<u8>) -> Response {
        match u8::try_from(sent.len())
            .ok()
            .filter(|&l| usize::from(l) <= Response::INLINE)
        {
            Some(len) => {
                let mut bytes = [0u8; Response::INLINE];
                bytes[..sent.len()].copy_from_slice(&sent);
                Response::Inline { len, bytes }
            }
            None => Response::Heap(sent),
        }
    }

    /// The answer's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Response::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Response::Heap(v) => v,
        }
    }
}

/// Events on their way to the writer, and the snapshot those that refer to their batch's
/// were decided by.
#[derive(Debug)]
struct Handover {
    events: Vec<Event>,
    snapshot: Option<Arc<Snapshot>>,
}

/// The query path's end of the channel. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Recorder {
    shared: Arc<Channel>,
    sender: SyncSender<Handover>,
}

/// What the recorders and the writer share.
#[derive(Debug)]
struct Channel {
    /// Events sent and not yet taken by the writer; at most `capacity`.
    pending: AtomicUsize,
    capacity: usize,
    dropped: Counter,
    /// Emptied batches, back from the writer, so that their memory is reused (and freed,
    /// if ever, by the thread that allocated it).
    spare: Mutex<Vec<Vec<Event>>>,
}

impl Channel {
    fn spare(&self) -> Vec<Event> {
        self.spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    fn give_back(&self, mut events: Vec<Event>) {
        events.clear();
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < SPARE_BATCHES {
            spare.push(events);
        }
    }
}

impl Recorder {
    /// Hands one event to the writer, or drops and counts it when the writer is behind.
    /// (An event that refers to its batch's snapshot goes in a [`Batch`].)
    pub fn record(&self, event: Event) {
        debug_assert!(
            !event
                .trace
                .decided
                .as_ref()
                .is_some_and(|d| matches!(d.snapshot, SnapshotRef::Batch)),
            "an event outside a batch refers to a batch's snapshot"
        );
        let mut events = self.shared.spare();
        events.push(event);
        self.send(events, None);
    }

    /// An empty batch for a serving loop to fill.
    pub fn batch(&self) -> Batch {
        Batch {
            recorder: self.clone(),
            events: self.shared.spare(),
            snapshot: None,
        }
    }

    /// Hands `events` to the writer: as many as there is room for, the rest dropped and
    /// counted.
    fn send(&self, mut events: Vec<Event>, snapshot: Option<Arc<Snapshot>>) {
        let c = &*self.shared;
        let mut taken = 0;
        let _ = c
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |pending| {
                taken = events.len().min(c.capacity.saturating_sub(pending));
                Some(pending + taken)
            });
        if taken < events.len() {
            c.dropped.inc_by((events.len() - taken) as u64);
            events.truncate(taken);
        }
        if events.is_empty() {
            return c.give_back(events);
        }
        if let Err(TrySendError::Full(h) | TrySendError::Disconnected(h)) =
            self.sender.try_send(Handover { events, snapshot })
        {
            // Only when the writer is gone (the channel has a slot for every event).
            c.pending.fetch_sub(h.events.len(), Ordering::AcqRel);
            c.dropped.inc_by(h.events.len() as u64);
        }
    }

    /// Events dropped so far.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.get()
    }
}

/// The events of one serving loop, on their way to the [`Recorder`]. Dropping it hands
/// over what it holds.
#[derive(Debug)]
pub struct Batch {
    recorder: Recorder,
    events: Vec<Event>,
    /// The snapshot of the events that refer to their batch's: taken from the first
    /// event decided by it, handed over with the batch (so that an idle loop keeps no
    /// snapshot alive after a reload).
    snapshot: Option<Arc<Snapshot>>,
}

impl Batch {
    /// The most events a batch holds before it is handed over.
    pub const MAX: usize = 64;

    /// Adds an event, handing the batch over when it is full.
    pub fn push(&mut self, mut event: Event) {
        if let Some(d) = &mut event.trace.decided {
            match &d.snapshot {
                SnapshotRef::Own(own) => {
                    let same = self.snapshot.as_ref().is_some_and(|s| Arc::ptr_eq(s, own));
                    if !same {
                        // A snapshot the events held do not refer to: they go first.
                        self.flush();
                        if let SnapshotRef::Own(own) =
                            std::mem::replace(&mut d.snapshot, SnapshotRef::Batch)
                        {
                            self.snapshot = Some(own);
                        }
                    }
                    // (The same one, from a query that took a reference anyway: kept.)
                }
                SnapshotRef::Batch => {
                    if self.snapshot.is_none() {
                        // Its trace was made for this batch, which cannot have let its
                        // snapshot go since: nothing the loop does in between flushes.
                        debug_assert!(false, "an event refers to a batch without a snapshot");
                        event.trace.decided = None;
                    }
                }
            }
        }
        self.events.push(event);
        if self.events.len() >= Batch::MAX {
            self.flush();
        }
    }

    /// Gives an event that refers to this batch's snapshot a reference of its own, for
    /// an event recorded outside the batch after all.
    pub fn detach(&self, trace: &mut Trace) {
        match &self.snapshot {
            Some(snapshot) => trace.leave_batch(snapshot),
            None => trace.may_wait(),
        }
    }

    /// Whether it holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Hands what it holds to the recorder, with the snapshot.
    pub fn flush(&mut self) {
        if !self.events.is_empty() {
            let spare = self.recorder.shared.spare();
            self.recorder.send(
                std::mem::replace(&mut self.events, spare),
                self.snapshot.take(),
            );
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Called with every batch of entries before the query log takes them (the statistics).
pub type Sink = Box<dyn FnMut(&[Entry]) + Send>;

/// What the writer does with the events.
pub struct RecordConfig {
    /// Room in the channel; more events wait for nobody and are dropped.
    pub capacity: usize,
    /// The query log's store; `None` when the query log is off.
    pub store: Option<querylog::Store>,
    /// Sees every entry, also those the query log ignores.
    pub sinks: Vec<Sink>,
    /// Client addresses without their host part, in the log and the sinks alike.
    pub anonymize_clients: bool,
}

/// Drains the channel: entries for the query log and the sinks, counts for the metrics.
pub struct RecordWriter {
    receiver: Receiver<Handover>,
    shared: Arc<Channel>,
    config: RecordConfig,
    metrics: DnsMetrics,
    counters: Counters,
    log: Option<querylog::QueryLog>,
    policies: PolicyNames,
    /// The entries filled from events, reused batch after batch: their strings keep
    /// their memory, so filling one allocates nothing.
    entries: Vec<Entry>,
    /// Strings of `None` fields, kept for the next entry that has one.
    spare_strings: Vec<String>,
}

/// A recorder and the writer that must run for anything to be recorded.
pub fn channel(
    config: RecordConfig,
    metrics: &DnsMetrics,
    log: Option<querylog::QueryLog>,
) -> (Recorder, RecordWriter) {
    let capacity = config.capacity.max(1);
    // A slot for every event: what bounds the queue is the count of events.
    let (sender, receiver) = sync_channel(capacity);
    let shared = Arc::new(Channel {
        pending: AtomicUsize::new(0),
        capacity,
        dropped: metrics.log_dropped.clone(),
        spare: Mutex::new(Vec::new()),
    });
    let recorder = Recorder {
        shared: shared.clone(),
        sender,
    };
    let writer = RecordWriter {
        receiver,
        shared,
        config,
        metrics: metrics.clone(),
        counters: Counters::new(metrics),
        log,
        policies: PolicyNames::default(),
        entries: Vec::new(),
        spare_strings: Vec::new(),
    };
    (recorder, writer)
}

impl RecordWriter {
    /// Runs until `stop` completes (then drains what is left and flushes the query log's
    /// file) or every [`Recorder`] is dropped. File writes are buffered `std::fs` calls:
    /// cheap, but blocking, so spawn this on a multi-thread runtime.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut stopping = false;
        let mut busy = false;
        loop {
            if !stopping {
                let poll = if busy { POLL_BUSY } else { POLL };
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = &mut stop => stopping = true,
                }
            }
            let (open, taken) = self.drain();
            busy = taken >= BUSY;
            if stopping || !open {
                break;
            }
        }
        if let Some(store) = &mut self.config.store {
            store.flush();
        }
    }

    /// Takes every event waiting: whether a recorder is left, and how many events.
    fn drain(&mut self) -> (bool, usize) {
        let mut taken = 0;
        loop {
            // Wall-clock time of an event: now, less how long ago it arrived.
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let now = Instant::now();
            let mut filled = 0;
            let mut open = true;
            let mut empty = false;
            while filled < BATCH {
                match self.receiver.try_recv() {
                    Ok(Handover { events, snapshot }) => {
                        self.shared
                            .pending
                            .fetch_sub(events.len(), Ordering::AcqRel);
                        taken += events.len();
                        for event in &events {
                            let decided = event.trace.decided.as_ref().and_then(|d| {
                                let s = match &d.snapshot {
                                    SnapshotRef::Own(s) => s,
                                    SnapshotRef::Batch => snapshot.as_ref()?,
                                };
                                Some((d, &**s))
                            });
                            self.count(event, decided);
                            let ago = now.saturating_duration_since(event.received).as_millis();
                            let time_ms = now_ms.saturating_sub(ago as u64);
                            if let Some((d, s)) = decided {
                                if self.fill(filled, event, d, s, time_ms) {
                                    filled += 1;
                                }
                            }
                        }
                        self.shared.give_back(events);
                    }
                    Err(TryRecvError::Empty) => {
                        empty = true;
                        break;
                    }
                    Err(TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            self.write(filled);
            if empty || !open {
                return (open, taken);
            }
        }
    }

    /// The first `filled` entries to the sinks and the store (which also checks its
    /// files when there are none).
    fn write(&mut self, filled: usize) {
        let entries = &self.entries[..filled];
        for sink in &mut self.config.sinks {
            sink(entries);
        }
        if let Some(store) = &mut self.config.store {
            store.write(entries);
        }
        if let Some(log) = &self.log {
            self.metrics.log_entries.set(log.len() as i64);
        }
    }

    fn count(&mut self, event: &Event, decided: Option<(&Decided, &Snapshot)>) {
        let c = &mut self.counters;
        let rcode = event.response.bytes().get(3).map_or(2, |b| b & 0x0f);
        c.responses[usize::from(rcode).min(RCODES.len() - 1)].inc();
        c.duration[event.trace.source as usize].observe(event.elapsed.as_secs_f64());
        if event.trace.source == Source::Cache {
            self.metrics.cache_hits.inc();
        } else if event.trace.cache_miss {
            self.metrics.cache_misses.inc();
        }
        if let Some((d, snapshot)) = decided {
            if let Some(queries) = c.query(&self.metrics, d, snapshot, event.protocol) {
                queries.inc();
            }
        }
    }

    /// Fills entry `at` from an event decided by `d` in `snapshot`; false when its
    /// question cannot be read.
    fn fill(
        &mut self,
        at: usize,
        event: &Event,
        d: &Decided,
        snapshot: &Snapshot,
        time_ms: u64,
    ) -> bool {
        let Some(policy) = snapshot.policies.get(d.policy) else {
            return false;
        };
        if at == self.entries.len() {
            self.entries.push(blank_entry());
        }
        let e = &mut self.entries[at];
        let Some((qtype, rcode)) =
            Summary::read_into(event.response.bytes(), &mut e.name, &mut e.answer)
        else {
            return false;
        };
        let citation = d.rule.map(|rule| snapshot.rule_text(policy, &rule));
        let spare = &mut self.spare_strings;
        let client_id = event.client_id.as_deref();
        set(
            &mut e.client_name,
            snapshot.client_name(snapshot.asker(event.client, client_id)),
            spare,
        );
        set(&mut e.client_id, client_id, spare);
        e.protocol = event.protocol;
        set(&mut e.rule, citation.map(|(_, text)| text), spare);
        set(&mut e.list, citation.map(|(list, _)| list), spare);
        let service = match d.reason {
            Reason::FilteredBlockedService => d
                .rule
                .and_then(|r| ward_state::parental::service_of(r.rule.list))
                .map(|s| s.id.as_str()),
            Reason::FilteredSafeSearch => {
                ward_state::parental::safe_search_provider(&e.name).map(|p| p.id.as_str())
            }
            _ => None,
        };
        set(&mut e.service, service, spare);
        let schedule = d
            .schedule
            .and_then(|i| policy.controls.schedules.get(i))
            .map(|s| s.name.as_str());
        set(&mut e.schedule, schedule, spare);
        e.time_ms = time_ms;
        e.client = if self.config.anonymize_clients {
            querylog::anonymize_ip(event.client)
        } else {
            event.client
        };
        e.policy = self.policies.name(snapshot, d.policy);
        e.qtype = qtype;
        e.reason = d.reason;
        e.rcode = rcode;
        e.upstream.clone_from(&event.trace.upstream);
        e.cached = event.trace.source == Source::Cache;
        e.elapsed_us = u32::try_from(event.elapsed.as_micros()).unwrap_or(u32::MAX);
        true
    }
}

/// An entry to fill.
fn blank_entry() -> Entry {
    Entry {
        time_ms: 0,
        client: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        client_name: None,
        client_id: None,
        protocol: Protocol::Udp,
        policy: Arc::from(""),
        name: String::new(),
        qtype: 0,
        reason: Reason::NotFilteredNotFound,
        rule: None,
        list: None,
        service: None,
        schedule: None,
        answer: String::new(),
        rcode: 0,
        upstream: None,
        cached: false,
        elapsed_us: 0,
    }
}

/// Sets an optional text field to `value`, reusing its string or a spare one.
fn set(field: &mut Option<String>, value: Option<&str>, spare: &mut Vec<String>) {
    match value {
        Some(value) => {
            let s = field.get_or_insert_with(|| spare.pop().unwrap_or_default());
            s.clear();
            s.push_str(value);
        }
        None => {
            if let Some(s) = field.take() {
                spare.push(s);
            }
        }
    }
}

/// The policy names of the latest snapshot seen, shared by every entry of it.
#[derive(Default)]
struct PolicyNames {
    generation: Option<u64>,
    names: Vec<Arc<str>>,
}

impl PolicyNames {
    fn name(&mut self, snapshot: &Snapshot, i: usize) -> Arc<str> {
        if self.generation != Some(snapshot.generation) {
            self.generation = Some(snapshot.generation);
            self.names = snapshot
                .policies
                .iter()
                .map(|p| Arc::from(p.name.as_str()))
                .collect();
        }
        self.names.get(i).cloned().unwrap_or_else(|| Arc::from(""))
    }
}

/// The metric series the writer counts in, looked up once rather than per event (a
/// family lookup hashes its labels under a lock).
struct Counters {
    responses: Vec<Counter>,
    duration: Vec<Histogram>,
    /// `ward_dns_queries_total` by policy, verdict and protocol, for the policies of
    /// one generation.
    queries: Vec<Counter>,
    generation: Option<u64>,
}

/// Response codes by value; the last stands for every other.
const RCODES: [&str; 7] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "OTHER",
];
/// Sources, in the order of [`Source`]'s variants.
const SOURCES: [Source; 5] = [
    Source::Filter,
    Source::Local,
    Source::Cache,
    Source::Upstream,
    Source::Error,
];
/// Verdicts, in the order of [`verdict_index`].
const VERDICTS: [&str; 7] = [
    "processed",
    "allowlisted",
    "blocked",
    "rewritten",
    "blocked_service",
    "safe_search",
    "blocked_schedule",
];

fn verdict_index(reason: Reason) -> usize {
    match reason {
        Reason::NotFilteredNotFound => 0,
        Reason::NotFilteredAllowList => 1,
        Reason::FilteredBlockList => 2,
        Reason::RewrittenRule => 3,
        Reason::FilteredBlockedService => 4,
        Reason::FilteredSafeSearch => 5,
        Reason::FilteredSchedule => 6,
    }
}

impl Counters {
    fn new(m: &DnsMetrics) -> Counters {
        Counters {
            responses: RCODES
                .iter()
                .map(|&rcode| m.responses.get_or_create_owned(&RcodeLabels { rcode }))
                .collect(),
            duration: SOURCES
                .iter()
                .map(|s| {
                    m.duration
                        .get_or_create_owned(&SourceLabels { source: s.as_str() })
                })
                .collect(),
            queries: Vec::new(),
            generation: None,
        }
    }

    /// The query counter of a decided event (the series of its snapshot's policies are
    /// looked up again when the generation changes).
    fn query(
        &mut self,
        m: &DnsMetrics,
        d: &Decided,
        snapshot: &Snapshot,
        protocol: Protocol,
    ) -> Option<&Counter> {
        if self.generation != Some(snapshot.generation) {
            self.generation = Some(snapshot.generation);
            self.queries.clear();
            for policy in &snapshot.policies {
                for verdict in VERDICTS {
                    for protocol in Protocol::ALL {
                        self.queries
                            .push(m.queries.get_or_create_owned(&QueryLabels {
                                policy: policy.name.clone(),
                                verdict,
                                protocol: protocol.as_str(),
                            }));
                    }
                }
            }
        }
        let i = (d.policy * VERDICTS.len() + verdict_index(d.reason)) * Protocol::ALL.len()
            + protocol as usize;
        self.queries.get(i)
    }
}

/// What an answer says, read from its wire format.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) name: String,
    pub(crate) qtype: u16,
    pub(crate) rcode: u8,
    /// The answer records, shortly: addresses as they are, `CNAME target`, other types by
    /// their name; empty when there are none.
    pub(crate) text: String,
}

impl Summary {
    /// `None` when the message has no readable question.
    #[cfg(test)]
    pub(crate) fn read(wire: &[u8]) -> Option<Summary> {
        let (mut name, mut text) = (String::new(), String::new());
        let (qtype, rcode) = Summary::read_into(wire, &mut name, &mut text)?;
        Some(Summary {
            name,
            qtype,
            rcode,
            text,
        })
    }

    /// Reads the question's name and the answer's summary into `name` and `text`
    /// (replacing what they held), and returns the question type and the rcode; `None`
    /// when the message has no readable question.
    pub(crate) fn read_into(
        wire: &[u8],
        name: &mut String,
        text: &mut String,
    ) -> Option<(u16, u8)> {
        let u16_at = |at: usize| -> Option<u16> {
            Some(u16::from_be_bytes([*wire.get(at)?, *wire.get(at + 1)?]))
        };
        if u16_at(4)? != 1 {
            return None;
        }
        let answers = u16_at(6)?;
        name.clear();
        read_name_into(wire, 12, name)?;
        let mut at = skip_name(wire, 12)?;
        let qtype = u16_at(at)?;
        at += 4;
        text.clear();
        let add = |text: &mut String, part: &dyn std::fmt::Display| {
            if !text.is_empty() {
                text.push_str(", ");
            }
            let _ = write!(text, "{part}");
        };
        for _ in 0..answers {
            let Some(rdata) = skip_name(wire, at).map(|a| a + 10) else {
                break;
            };
            let (Some(rtype), Some(len)) = (u16_at(rdata - 10), u16_at(rdata - 2)) else {
                break;
            };
            let Some(data) = wire.get(rdata..rdata + usize::from(len)) else {
                break;
            };
            match (RecordType::from(rtype), data.len()) {
                (RecordType::A, 4) => {
                    // Most answers: written digit by digit rather than through `fmt`.
                    if !text.is_empty() {
                        text.push_str(", ");
                    }
                    let (digits, len) = querylog::ipv4_text(<[u8; 4]>::try_from(data).ok()?);
                    text.extend(digits[..len].iter().map(|&b| char::from(b)));
                }
                (RecordType::AAAA, 16) => {
                    add(text, &Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?))
                }
                (RecordType::CNAME, _) => {
                    add(text, &"CNAME");
                    let bare = text.len();
                    text.push(' ');
                    if read_name_into(wire, rdata, text).is_none() {
                        text.truncate(bare);
                    }
                }
                (RecordType::Unknown(n), _) => add(text, &format_args!("TYPE{n}")),
                (other, _) => add(text, &other),
            }
            at = rdata + usize::from(len);
        }
        Some((qtype, wire.get(3)? & 0x0f))
    }
}

#[cfg(test)]
mod tests {
    use crate::handler::Origin;
    use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
    use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX};
    use hickory_proto::rr::{Name, RData, Record};

    use super::*;

    fn answer(records: Vec<RData>, rcode: ResponseCode) -> Vec<u8> {
        let name = Name::from_ascii("WWW.Example.com.").unwrap();
        let mut m = Message::query();
        m.metadata.message_type = MessageType::Response;
        m.metadata.response_code = rcode;
        m.add_query(Query::query(name.clone(), RecordType::A));
        for r in records {
            m.add_answer(Record::from_rdata(name.clone(), 60, r));
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn summaries_name_what_the_answer_holds() {
        let wire = answer(
            vec![
                RData::CNAME(CNAME(Name::from_ascii("cdn.example.net.").unwrap())),
                RData::A(A::new(93, 184, 216, 34)),
                RData::AAAA(AAAA::new(0x2606, 0, 0, 0, 0, 0, 0, 1)),
                RData::MX(MX::new(10, Name::from_ascii("mx.example.com.").unwrap())),
            ],
            ResponseCode::NoError,
        );
        let s = Summary::read(&wire).unwrap();
        assert_eq!(s.name, "www.example.com");
        assert_eq!(s.qtype, 1);
        assert_eq!(s.rcode, 0);
        assert_eq!(s.text, "CNAME cdn.example.net, 93.184.216.34, 2606::1, MX");
    }

    fn event() -> Event {
        event_of(answer(vec![], ResponseCode::NoError))
    }

    fn event_of(response: Vec<u8>) -> Event {
        Event {
            received: Instant::now(),
            elapsed: Duration::ZERO,
            client: IpAddr::V4(Ipv4Addr::LOCALHOST),
            client_id: None,
            protocol: Protocol::Udp,
            response: Response::new(response),
            trace: Trace::default(),
        }
    }

    #[test]
    fn a_batch_takes_what_fits_and_counts_the_rest() {
        let metrics = DnsMetrics::default();
        let config = RecordConfig {
            capacity: 3,
            store: None,
            sinks: Vec::new(),
            anonymize_clients: false,
        };
        let (recorder, mut writer) = channel(config, &metrics, None);
        let mut batch = recorder.batch();
        for _ in 0..5 {
            batch.push(event());
        }
        assert_eq!(
            recorder.dropped(),
            0,
            "nothing is handed over before a flush"
        );
        batch.flush();
        assert!(batch.is_empty());
        assert_eq!(recorder.dropped(), 2, "three fit, two are dropped");
        recorder.record(event());
        assert_eq!(
            recorder.dropped(),
            3,
            "the queue is full until the writer drains it"
        );
        assert_eq!(writer.drain(), (true, 3), "the recorders are still there");
        assert_eq!(writer.shared.pending.load(Ordering::Acquire), 0);
        // Room again, and a dropped batch hands over what it holds.
        batch.push(event());
        batch.push(event());
        drop(batch);
        recorder.record(event());
        assert_eq!(recorder.dropped(), 3);
        assert_eq!(writer.shared.pending.load(Ordering::Acquire), 3);
        drop(recorder);
        assert_eq!(writer.drain(), (false, 3), "every recorder is gone");
        assert_eq!(writer.shared.pending.load(Ordering::Acquire), 0);
    }

    /// A snapshot whose one policy blocks names by `rule` (no lists, so no files).
    fn snapshot(rule: &str, generation: u64) -> Arc<Snapshot> {
        let config = ward_config::Config::from_yaml(&format!(
            r#"
dns: {{ listen: ["127.0.0.1:0"] }}
upstreams: {{ default: {{ servers: ["127.0.0.1:9"] }} }}
policies: {{ main: {{ rules: ["{rule}"] }} }}
default_policy: main
data_dir: /nonexistent
"#
        ))
        .unwrap();
        let lists = ward_state::DiskLists {
            data_dir: "/nonexistent".into(),
        };
        Arc::new(Snapshot::build(config, &lists, generation).unwrap())
    }

    #[tokio::test]
    async fn a_batch_hands_its_events_over_with_the_snapshot_that_decided_them() {
        use crate::handler::{Handler, Runtime};
        let metrics = DnsMetrics::default();
        let (log, store) = querylog::QueryLog::new(querylog::QueryLogConfig::default());
        let config = RecordConfig {
            capacity: 100,
            store: Some(store),
            sinks: Vec::new(),
            anonymize_clients: false,
        };
        let (recorder, mut writer) = channel(config, &metrics, Some(log.clone()));
        let a = snapshot("||ads.example^", 1);
        let b = snapshot("||example^", 2);
        let (runtime, _) = Runtime::build(a.clone()).await;
        let handler = Handler::with_recorder(runtime, recorder, &metrics);
        let mut batch = handler.batch().unwrap();
        let src: std::net::SocketAddr = "127.0.0.2:5353".parse().unwrap();
        let mut m = Message::query();
        m.add_query(Query::query(
            Name::from_ascii("ads.example.").unwrap(),
            RecordType::A,
        ));
        let packet = m.to_vec().unwrap();
        let ask = async |batch: &mut Batch| {
            let mut trace = Trace::for_batch(batch);
            let answer = handler
                .handle_traced(
                    &packet,
                    Origin {
                        src,
                        udp: true,
                        client_id: None,
                    },
                    &mut trace,
                )
                .await;
            batch.push(Event {
                trace,
                ..event_of(answer.unwrap())
            });
        };
        ask(&mut batch).await;
        // The batch took the first query's reference; the next ones take none.
        let refs = Arc::strong_count(&a);
        ask(&mut batch).await;
        ask(&mut batch).await;
        assert_eq!(Arc::strong_count(&a), refs);
        handler.swap(b.clone()).await;
        // Decided by the new snapshot: the events of the old one go first, with it.
        ask(&mut batch).await;
        ask(&mut batch).await;
        batch.flush();
        assert_eq!(writer.drain(), (true, 5));
        let page = log.search(&querylog::Search::default());
        let rules: Vec<_> = page.entries.iter().map(|e| e.rule.as_deref()).collect();
        assert_eq!(
            rules,
            [
                Some("||example^"),
                Some("||example^"),
                Some("||ads.example^"),
                Some("||ads.example^"),
                Some("||ads.example^"),
            ],
            "newest first"
        );
        drop(batch);
        drop(handler);
        assert_eq!(
            Arc::strong_count(&a),
            1,
            "no reference to the old snapshot is left"
        );
    }

    #[test]
    fn addresses_of_every_width() {
        let wire = answer(
            vec![
                RData::A(A::new(0, 10, 100, 255)),
                RData::A(A::new(9, 99, 199, 200)),
            ],
            ResponseCode::NoError,
        );
        let s = Summary::read(&wire).unwrap();
        assert_eq!(s.text, "0.10.100.255, 9.99.199.200");
    }

    #[test]
    fn empty_and_broken_answers() {
        let nx = Summary::read(&answer(vec![], ResponseCode::NXDomain)).unwrap();
        assert_eq!((nx.rcode, nx.text.as_str()), (3, ""));
        let full = answer(vec![RData::A(A::new(1, 2, 3, 4))], ResponseCode::NoError);
        // Cut inside the answer record: the question is still read, the record is not.
        let cut = Summary::read(&full[..full.len() - 2]).unwrap();
        assert_eq!(cut.text, "");
        assert_eq!(Summary::read(&full[..11]), None);
    }
}
