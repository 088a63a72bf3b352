//! The query path's Prometheus metrics, registered in the registry the binary makes
//! (one per server: tests running several servers in one process keep their figures
//! apart). Names and labels are listed in docs/metrics.md.
//!
//! Queries, responses, latency and the cache's hits are counted by the recorder thread
//! from the events the query path hands it ([`crate::record`]), so the query path pays
//! nothing for them; when that channel overflows, the events lost are counted in
//! `ward_querylog_dropped_total` and missing from these counts. Upstream exchanges are
//! counted where they happen, per server (they cost tens of microseconds anyway).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};

use crate::cache::AnswerCache;

/// Latency buckets: 25 µs to about 6.5 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_025, 2.0, 19))
}

/// A histogram family with the latency buckets.
type LatencyFamily<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct QueryLabels {
    pub(crate) policy: String,
    pub(crate) verdict: &'static str,
    pub(crate) protocol: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RcodeLabels {
    pub(crate) rcode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SourceLabels {
    pub(crate) source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RefusedLabels {
    pub(crate) reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    group: String,
    server: String,
}

/// Everything the query path reports. Cheap to clone (the metrics are shared).
#[derive(Clone, Debug)]
pub struct DnsMetrics {
    pub(crate) queries: Family<QueryLabels, Counter>,
    pub(crate) responses: Family<RcodeLabels, Counter>,
    pub(crate) duration: LatencyFamily<SourceLabels>,
    pub(crate) cache_hits: Counter,
    pub(crate) cache_misses: Counter,
    pub(crate) cache_entries: CacheEntries,
    pub(crate) log_dropped: Counter,
    pub(crate) log_entries: Gauge,
    /// Per upstream server; hand it to the runtime that builds the groups.
    pub upstream: UpstreamMetrics,
    /// What the abuse controls turned away, counted where it happens.
    pub guards: GuardMetrics,
}

/// What the query path turns away or merges: counted on the spot (the recorder never
/// sees a dropped query), each an atomic add on a path that is rare or already slow.
#[derive(Clone, Debug, Default)]
pub struct GuardMetrics {
    /// Queries not answered as asked, by reason: `ratelimit` and `not_allowed` (dropped,
    /// or REFUSED over TCP), `any` (RFC 8482's short answer), `zone_transfer` (AXFR and
    /// IXFR, REFUSED), `badvers` (an EDNS version Ward does not speak).
    pub(crate) refused: Family<RefusedLabels, Counter>,
    /// Cache misses that joined an identical question already in flight upstream.
    pub(crate) merged: Counter,
    /// TCP connections closed at once: over `dns.tcp.max_connections` or the per-client
    /// cap.
    pub(crate) tcp_refused: Counter,
    /// TCP connections closed because the client took no answer within the write timeout.
    pub(crate) tcp_write_timeouts: Counter,
    /// DNS-over-TLS and DNS-over-HTTPS connections whose TLS handshake failed or timed out.
    pub(crate) tls_handshake_failures: Counter,
    /// DNS-over-HTTPS requests answered with an HTTP error (a bad path, method, media
    /// type, body or ClientID).
    pub(crate) doh_refused: Counter,
}

impl GuardMetrics {
    pub(crate) fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&RefusedLabels { reason }).inc();
    }

    fn register_in(&self, dns: &mut Registry) {
        dns.register(
            "refused_queries",
            "Queries refused or dropped by the abuse controls, by reason (ratelimit, \
             not_allowed, any, zone_transfer, badvers)",
            self.refused.clone(),
        );
        dns.register(
            "merged_queries",
            "Cache misses that joined an identical question already in flight upstream",
            self.merged.clone(),
        );
        dns.register(
            "tcp_connections_refused",
            "TCP connections closed at once: over the total or per-client connection cap",
            self.tcp_refused.clone(),
        );
        dns.register(
            "tcp_write_timeouts",
            "TCP connections closed because the client took no answer within the write timeout",
            self.tcp_write_timeouts.clone(),
        );
        dns.register(
            "tls_handshake_failures",
            "DNS-over-TLS and DNS-over-HTTPS connections whose TLS handshake failed or timed out",
            self.tls_handshake_failures.clone(),
        );
        dns.register(
            "doh_requests_refused",
            "DNS-over-HTTPS requests answered with an HTTP error: a bad path, method, media type, body or ClientID",
            self.doh_refused.clone(),
        );
    }
}

impl Default for DnsMetrics {
    /// Metrics in no registry (counted, never read): for handlers built without one.
    fn default() -> DnsMetrics {
        DnsMetrics {
            queries: Family::default(),
            responses: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_entries: CacheEntries::default(),
            log_dropped: Counter::default(),
            log_entries: Gauge::default(),
            upstream: UpstreamMetrics::default(),
            guards: GuardMetrics::default(),
        }
    }
}

impl DnsMetrics {
    /// The query path's metrics, registered in `registry` (names start with `ward_dns_`
    /// and `ward_querylog_`).
    pub fn register(registry: &mut Registry) -> DnsMetrics {
        let m = DnsMetrics::default();
        let dns = registry.sub_registry_with_prefix("ward_dns");
        dns.register(
            "queries",
            "Queries answered, by the client's policy, the verdict and the protocol",
            m.queries.clone(),
        );
        dns.register(
            "responses",
            "Responses sent, by response code",
            m.responses.clone(),
        );
        dns.register_with_unit(
            "query_duration",
            "Time from a query's arrival to its answer being sent, by what answered it",
            Unit::Seconds,
            m.duration.clone(),
        );
        dns.register(
            "cache_hits",
            "Answers taken from the cache",
            m.cache_hits.clone(),
        );
        dns.register(
            "cache_misses",
            "Queries the cache could not answer, sent upstream",
            m.cache_misses.clone(),
        );
        dns.register(
            "cache_entries",
            "Answers held in the cache",
            m.cache_entries.clone(),
        );
        m.upstream.register_in(dns);
        m.guards.register_in(dns);
        let log = registry.sub_registry_with_prefix("ward_querylog");
        log.register(
            "dropped",
            "Query events dropped because the recorder was behind: missing from the query \
             log, the statistics and the query counts",
            m.log_dropped.clone(),
        );
        log.register(
            "entries",
            "Query log entries held in memory",
            m.log_entries.clone(),
        );
        m
    }
}

/// The number of answers in the cache, counted when `/metrics` is read: counting
/// quick_cache's shards after every insert cost 200 instructions a forwarded miss.
#[derive(Clone, Debug, Default)]
pub(crate) struct CacheEntries(Arc<Mutex<Weak<AnswerCache>>>);

impl CacheEntries {
    /// Reports `cache` from now on.
    pub(crate) fn watch(&self, cache: &Arc<AnswerCache>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(cache);
    }

    fn get(&self) -> i64 {
        let cache = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .upgrade();
        cache.map_or(0, |c| i64::try_from(c.len()).unwrap_or(i64::MAX))
    }
}

impl TypedMetric for CacheEntries {
    const TYPE: MetricType = MetricType::Gauge;
}

impl EncodeMetric for CacheEntries {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&self.get())
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Exchanges with upstream servers: requests, failures and latency per group and server,
/// and each server's [`ServerHealth`].
#[derive(Clone, Debug)]
pub struct UpstreamMetrics {
    requests: Family<UpstreamLabels, Counter>,
    errors: Family<UpstreamLabels, Counter>,
    duration: LatencyFamily<UpstreamLabels>,
    /// By group and server label; kept across reloads as the counters are.
    health: Arc<Mutex<HealthByServer>>,
}

impl Default for UpstreamMetrics {
    fn default() -> UpstreamMetrics {
        UpstreamMetrics {
            requests: Family::default(),
            errors: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            health: Arc::default(),
        }
    }
}

/// Each server's [`Health`] by group and server label.
type HealthByServer = BTreeMap<(String, String), Arc<Health>>;

/// One server's exchanges as they went: counted where they happen, on the exchange's
/// own budget (a few atomics; the lock only when one fails).
#[derive(Debug, Default)]
pub(crate) struct Health {
    group: String,
    server: String,
    ok: AtomicU64,
    failed: AtomicU64,
    /// The time of the successful exchanges together, µs.
    ok_us: AtomicU64,
    last_ok_ms: AtomicU64,
    last_error_ms: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Health {
    pub(crate) fn succeeded(&self, took: std::time::Duration) {
        self.ok.fetch_add(1, Ordering::Relaxed);
        self.ok_us
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        self.last_ok_ms.store(unix_ms(), Ordering::Relaxed);
    }

    pub(crate) fn failed(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.last_error_ms.store(unix_ms(), Ordering::Relaxed);
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(why);
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How one upstream server has been answering since the process started.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ServerHealth {
    /// The upstream group.
    pub group: String,
    /// The server, as `/metrics` labels it (scheme and host: no DoH path or ClientID).
    pub server: String,
    /// Exchanges that got an answer.
    pub answered: u64,
    /// Exchanges that failed: timeout, connection or protocol error, SERVFAIL or REFUSED.
    pub failed: u64,
    /// The mean time of the answered exchanges, ms.
    pub mean_ms: Option<f64>,
    /// The last answered exchange, Unix ms.
    pub last_ok_ms: Option<u64>,
    /// The last failed exchange, Unix ms.
    pub last_error_ms: Option<u64>,
    /// Why it failed.
    pub last_error: Option<String>,
    /// Whether its last exchange was answered (or it has had none).
    pub healthy: bool,
}

impl UpstreamMetrics {
    fn register_in(&self, registry: &mut Registry) {
        registry.register(
            "upstream_requests",
            "Exchanges with an upstream server",
            self.requests.clone(),
        );
        registry.register(
            "upstream_errors",
            "Exchanges that failed: timeout, connection or protocol error, SERVFAIL or REFUSED",
            self.errors.clone(),
        );
        registry.register_with_unit(
            "upstream_duration",
            "Time an upstream server took to answer (successful exchanges)",
            Unit::Seconds,
            self.duration.clone(),
        );
    }

    /// The metrics of one server of one group.
    pub(crate) fn server(&self, group: &str, server: &str) -> ServerMetrics {
        let labels = UpstreamLabels {
            group: label_value(group),
            server: label_value(server),
        };
        let health = self
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((group.to_owned(), server.to_owned()))
            .or_insert_with(|| {
                Arc::new(Health {
                    group: group.to_owned(),
                    server: server.to_owned(),
                    ..Health::default()
                })
            })
            .clone();
        ServerMetrics {
            requests: self.requests.get_or_create_owned(&labels),
            errors: self.errors.get_or_create_owned(&labels),
            duration: self.duration.get_or_create_owned(&labels),
            health,
        }
    }
}

impl Health {
    /// How it stands now.
    pub(crate) fn report(&self) -> ServerHealth {
        let answered = self.ok.load(Ordering::Relaxed);
        let last = |at: &AtomicU64| Some(at.load(Ordering::Relaxed)).filter(|ms| *ms > 0);
        let (last_ok_ms, last_error_ms) = (last(&self.last_ok_ms), last(&self.last_error_ms));
        ServerHealth {
            group: self.group.clone(),
            server: self.server.clone(),
            answered,
            failed: self.failed.load(Ordering::Relaxed),
            mean_ms: (answered > 0)
                .then(|| self.ok_us.load(Ordering::Relaxed) as f64 / answered as f64 / 1000.0),
            last_ok_ms,
            last_error_ms,
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            healthy: last_error_ms <= last_ok_ms,
        }
    }
}

/// A label value as the text format needs it: prometheus-client 0.24 writes values as
/// they are, and a server written in the config may hold a quote or a backslash.
fn label_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// One server's metrics, kept by the server itself.
#[derive(Clone, Debug)]
pub(crate) struct ServerMetrics {
    pub(crate) requests: Counter,
    pub(crate) errors: Counter,
    pub(crate) duration: Histogram,
    pub(crate) health: Arc<Health>,
}

impl ServerMetrics {
    /// In no registry: for groups built without metrics (their health is still kept).
    pub(crate) fn unregistered(group: &str, server: &str) -> ServerMetrics {
        ServerMetrics {
            requests: Counter::default(),
            errors: Counter::default(),
            duration: latency_histogram(),
            health: Arc::new(Health {
                group: group.to_owned(),
                server: server.to_owned(),
                ..Health::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    #[test]
    fn server_labels_are_escaped_and_counted() {
        let mut registry = Registry::default();
        let m = DnsMetrics::register(&mut registry);
        let server = m.upstream.server("default", "https://x/\"q\"");
        server.requests.inc();
        server.duration.observe(0.001);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        let series = r#"{group="default",server="https://x/\"q\""}"#;
        assert!(
            text.contains(&format!("ward_dns_upstream_requests_total{series} 1")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "ward_dns_upstream_duration_seconds_count{series} 1"
            )),
            "{text}"
        );
    }
}
