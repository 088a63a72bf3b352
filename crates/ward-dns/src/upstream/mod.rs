//! Forwarding queries to upstream resolvers: plain DNS (UDP with TCP retry, or TCP), DNS
//! over TLS and DNS over HTTPS, grouped under a strategy.
//!
//! Why not hickory-resolver: it opens a socket per query and topped out near 25k queries/s
//! here, while a forwarded miss may cost at most 20 µs of server CPU. This forwarder keeps
//! sockets open and multiplexes queries on them, matched by random 16-bit ids:
//!
//! - UDP: a small pool of connected sockets per server, one reader task each, replaced after
//!   a few thousand queries so the source port keeps changing ([`udp`]);
//! - TCP and DoT: one pipelined connection per server, reconnected when it closes
//!   ([`stream`]);
//! - DoH: reqwest's pooled HTTP/2 connection, one stream per query ([`https`]).
//!
//! The query is encoded once per call and answers are matched on their raw bytes (id, QR
//! bit, question): a datagram that answers nothing in flight is dropped unparsed, which is
//! the forwarder's defence against spoofed answers. Answers stay in wire format:
//! [`UpstreamGroup::exchange`] hands the raw answer on (the query path caches and sends it
//! without decoding it), [`UpstreamGroup::resolve`] parses it for callers that want a
//! message.

mod addr;
mod error;
mod https;
mod pending;
mod stream;
mod udp;
mod wire;

use std::fmt;
use std::future::{Future, poll_fn};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use rustls::pki_types::ServerName;

pub use addr::UpstreamAddr;
pub use error::{UpstreamError, UpstreamErrorKind};

use crate::metrics::{ServerMetrics, UpstreamMetrics};

use https::HttpsUpstream;
use stream::StreamUpstream;
use udp::UdpUpstream;
pub use wire::Request as UpstreamQuery;

use wire::Request;

/// How a group picks the servers a query goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Every server at once; the first good answer wins. Fastest answers, most upstream
    /// traffic.
    Parallel,
    /// One server per query, the next one for the next query; on failure the query moves on
    /// to the following servers.
    RoundRobin,
    /// The first server, then the second when the first fails or times out, and so on.
    Failover,
}

impl FromStr for Strategy {
    type Err = UpstreamError;

    /// `parallel`, `round_robin` or `failover`.
    fn from_str(s: &str) -> Result<Strategy, UpstreamError> {
        match s {
            "parallel" => Ok(Strategy::Parallel),
            "round_robin" => Ok(Strategy::RoundRobin),
            "failover" => Ok(Strategy::Failover),
            _ => Err(
                UpstreamError::new(UpstreamErrorKind::InvalidGroup).with_detail(format!(
                    "strategy {s:?}: use parallel, round_robin or failover"
                )),
            ),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Parallel => "parallel",
            Strategy::RoundRobin => "round_robin",
            Strategy::Failover => "failover",
        })
    }
}

/// A named set of upstream servers with a strategy and a per-exchange timeout: what a policy
/// or a conditional-forwarding zone forwards to.
///
/// Cheap to clone (one `Arc`); clones share sockets and connections. Sockets open on first
/// use, so a group can be built outside the runtime but must be used inside a tokio one.
#[derive(Clone)]
pub struct UpstreamGroup {
    inner: Arc<Group>,
}

struct Group {
    name: Box<str>,
    servers: Box<[Server]>,
    strategy: Strategy,
    timeout: Duration,
    /// Round-robin position.
    next: AtomicUsize,
}

struct Server {
    /// The address text, for errors, logs, metrics and the query log.
    label: Arc<str>,
    transport: Transport,
    metrics: ServerMetrics,
}

enum Transport {
    Udp(UdpUpstream),
    Stream(StreamUpstream),
    Https(HttpsUpstream),
}

impl UpstreamGroup {
    /// Builds a group. `timeout` bounds each exchange with one server (a failover group may
    /// take one timeout per server). `tls` is the client configuration for DoT and DoH
    /// servers; `None` means the Mozilla roots (webpki-roots) on the ring provider.
    pub fn new(
        name: &str,
        servers: Vec<UpstreamAddr>,
        strategy: Strategy,
        timeout: Duration,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<UpstreamGroup, UpstreamError> {
        UpstreamGroup::with_metrics(name, servers, strategy, timeout, tls, None)
    }

    /// [`UpstreamGroup::new`], counting every exchange in `metrics` (by group and server).
    pub fn with_metrics(
        name: &str,
        servers: Vec<UpstreamAddr>,
        strategy: Strategy,
        timeout: Duration,
        tls: Option<Arc<rustls::ClientConfig>>,
        metrics: Option<&UpstreamMetrics>,
    ) -> Result<UpstreamGroup, UpstreamError> {
        let invalid = |detail: String| {
            UpstreamError::new(UpstreamErrorKind::InvalidGroup)
                .with_detail(format!("group {name:?}: {detail}"))
        };
        if servers.is_empty() {
            return Err(invalid("no servers".into()));
        }
        if timeout.is_zero() {
            return Err(invalid("zero timeout".into()));
        }
        let mut tls = tls;
        let mut tls_config = || -> Result<Arc<rustls::ClientConfig>, UpstreamError> {
            match &tls {
                Some(config) => Ok(Arc::clone(config)),
                None => Ok(Arc::clone(tls.insert(https::default_tls_config()?))),
            }
        };
        let mut built = Vec::with_capacity(servers.len());
        for server in servers {
            let label: Arc<str> = server.to_string().into();
            let metrics_label = server.metrics_label();
            let transport = match server {
                UpstreamAddr::Udp(addr) => Transport::Udp(UdpUpstream::new(addr)),
                UpstreamAddr::Tcp(addr) => Transport::Stream(StreamUpstream::tcp(addr)),
                UpstreamAddr::Tls { addr, server_name } => {
                    let name = ServerName::try_from(server_name)
                        .map_err(|e| invalid(format!("{label}: {e}")))?;
                    let mut config = tls_config()?;
                    if !config.alpn_protocols.is_empty() {
                        // DoT needs no ALPN, and must not offer a DoH config's "h2".
                        let mut dot = (*config).clone();
                        dot.alpn_protocols.clear();
                        config = Arc::new(dot);
                    }
                    Transport::Stream(StreamUpstream::tls(addr, config, name))
                }
                UpstreamAddr::Https { url, addr } => {
                    let config = tls_config()?;
                    let https = HttpsUpstream::new(&url, addr, &config, timeout)
                        .map_err(|e| invalid(format!("{label}: {e}")))?;
                    Transport::Https(https)
                }
            };
            let metrics = metrics.map_or_else(
                || ServerMetrics::unregistered(name, &metrics_label),
                |m| m.server(name, &metrics_label),
            );
            built.push(Server {
                label,
                transport,
                metrics,
            });
        }
        Ok(UpstreamGroup {
            inner: Arc::new(Group {
                name: name.into(),
                servers: built.into_boxed_slice(),
                strategy,
                timeout,
                next: AtomicUsize::new(0),
            }),
        })
    }

    /// Sends the question of `query` (its id is replaced by a fresh one per upstream exchange;
    /// the returned message carries the caller's id back) and returns the upstream's response.
    ///
    /// The upstream query keeps the client's RD, CD and AD bits and DO bit, and advertises a
    /// 1232-byte EDNS payload; the response has an OPT record only if `query` had one. A
    /// SERVFAIL or REFUSED answer counts as a failure of that server: the next one is tried
    /// (or, in parallel, another may win), and when every server fails the last such answer
    /// is returned, or else an error.
    pub async fn resolve(&self, query: &Message) -> Result<Message, UpstreamError> {
        let request = Request::new(query)?;
        let answer = self.exchange(&request).await?;
        request.finish(&answer)
    }

    /// [`UpstreamGroup::resolve`] in wire format: the answer as the chosen server sent it
    /// (its id, its OPT record), checked to be a well-formed answer to the question.
    pub async fn exchange(&self, request: &UpstreamQuery) -> Result<Vec<u8>, UpstreamError> {
        self.exchange_from(request).await.map(|(answer, _)| answer)
    }

    /// [`UpstreamGroup::exchange`], also naming the server whose answer it is.
    pub async fn exchange_from(
        &self,
        request: &UpstreamQuery,
    ) -> Result<(Vec<u8>, Arc<str>), UpstreamError> {
        let group = &*self.inner;
        let (answer, server) = match group.strategy {
            Strategy::Parallel if group.servers.len() > 1 => group.race(request).await,
            Strategy::RoundRobin => {
                let start = group.next.fetch_add(1, Ordering::Relaxed) % group.servers.len();
                group.in_turn(request, start).await
            }
            Strategy::Parallel | Strategy::Failover => group.in_turn(request, 0).await,
        }?;
        Ok((answer, group.servers[server].label.clone()))
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// How each of its servers has been answering, in the group's order.
    pub fn health(&self) -> Vec<crate::metrics::ServerHealth> {
        self.inner
            .servers
            .iter()
            .map(|s| s.metrics.health.report())
            .collect()
    }

    /// The group's strategy.
    pub fn strategy(&self) -> Strategy {
        self.inner.strategy
    }
}

impl fmt::Debug for UpstreamGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = &*self.inner;
        f.debug_struct("UpstreamGroup")
            .field("name", &group.name)
            .field(
                "servers",
                &group.servers.iter().map(|s| &*s.label).collect::<Vec<_>>(),
            )
            .field("strategy", &group.strategy)
            .field("timeout", &group.timeout)
            .finish()
    }
}

impl Group {
    /// Servers one after the other from `start`, until one answers well.
    async fn in_turn(&self, request: &Request, start: usize) -> Result<Answered, UpstreamError> {
        let mut failures = Failures::default();
        let n = self.servers.len();
        for i in (start..start + n).map(|i| i % n) {
            let outcome = self.servers[i].exchange(request, self.timeout).await;
            if let Some(answer) = failures.add(outcome, i) {
                return Ok((answer, i));
            }
        }
        failures.finish(self)
    }

    /// All servers at once; the first good answer wins and the other exchanges are dropped
    /// (their late answers match nothing in flight and are discarded).
    async fn race(&self, request: &Request) -> Result<Answered, UpstreamError> {
        let mut racing: Vec<_> = self
            .servers
            .iter()
            .map(|server| Some(Box::pin(server.exchange(request, self.timeout))))
            .collect();
        let mut failures = Failures::default();
        let winner = poll_fn(|cx| {
            for (i, slot) in racing.iter_mut().enumerate() {
                let Some(exchange) = slot else { continue };
                if let Poll::Ready(outcome) = exchange.as_mut().poll(cx) {
                    *slot = None;
                    if let Some(answer) = failures.add(outcome, i) {
                        return Poll::Ready(Some((answer, i)));
                    }
                }
            }
            if racing.iter().all(Option::is_none) {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await;
        match winner {
            Some(answer) => Ok(answer),
            None => failures.finish(self),
        }
    }
}

impl Server {
    /// One exchange, bounded by `timeout`: an answer every reader can walk.
    async fn exchange(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> Result<Vec<u8>, UpstreamError> {
        self.metrics.requests.inc();
        let started = Instant::now();
        let outcome = self.exchange_bounded(request, timeout).await;
        match &outcome {
            Ok(answer) if !wire::is_server_failure(answer) => {
                let took = started.elapsed();
                self.metrics.duration.observe(took.as_secs_f64());
                self.metrics.health.succeeded(took);
            }
            Ok(answer) => {
                self.metrics.errors.inc();
                let rcode = answer.get(3).map_or(0, |b| b & 0x0f);
                let name = if rcode == 5 { "REFUSED" } else { "SERVFAIL" };
                self.metrics.health.failed(format!("answered {name}"));
            }
            Err(e) => {
                self.metrics.errors.inc();
                self.metrics.health.failed(e.to_string());
            }
        }
        outcome
    }

    async fn exchange_bounded(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> Result<Vec<u8>, UpstreamError> {
        let answer = match tokio::time::timeout(timeout, self.transport.exchange(request)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(e.at(&self.label)),
            Err(_) => {
                return Err(UpstreamError::new(UpstreamErrorKind::Timeout)
                    .with_detail(format!("no answer within {timeout:?}"))
                    .at(&self.label));
            }
        };
        if !wire::well_formed(&answer) {
            return Err(UpstreamError::new(UpstreamErrorKind::Protocol)
                .with_detail("malformed answer")
                .at(&self.label));
        }
        Ok(answer)
    }
}

impl Transport {
    async fn exchange(&self, request: &Request) -> Result<Vec<u8>, UpstreamError> {
        // The stream transports' state (TLS, HTTP/2) is kilobytes: boxed, so the future of
        // every forwarded query carries only UDP's inline.
        match self {
            Transport::Udp(udp) => udp.exchange(request).await,
            Transport::Stream(stream) => Box::pin(stream.exchange(request)).await,
            Transport::Https(https) => Box::pin(https.exchange(request)).await,
        }
    }
}

/// An answer and the index of the server that gave it.
type Answered = (Vec<u8>, usize);

/// What the servers tried so far said, short of a good answer.
#[derive(Default)]
struct Failures {
    last_answer: Option<Answered>,
    last_error: Option<UpstreamError>,
}

impl Failures {
    /// Records the outcome of an exchange with server `i`; returns the answer when it is
    /// a good one.
    fn add(&mut self, outcome: Result<Vec<u8>, UpstreamError>, i: usize) -> Option<Vec<u8>> {
        match outcome {
            Ok(answer) if !wire::is_server_failure(&answer) => return Some(answer),
            Ok(answer) => self.last_answer = Some((answer, i)),
            Err(e) => {
                tracing::debug!(error = %e, "upstream exchange failed");
                self.last_error = Some(e);
            }
        }
        None
    }

    /// The outcome when no server answered well: the last SERVFAIL/REFUSED answer if any,
    /// else the error (a single server's own, or [`UpstreamErrorKind::AllFailed`]).
    fn finish(self, group: &Group) -> Result<Answered, UpstreamError> {
        if let Some(answer) = self.last_answer {
            return Ok(answer);
        }
        let error = self
            .last_error
            .unwrap_or_else(|| UpstreamError::new(UpstreamErrorKind::AllFailed));
        if group.servers.len() == 1 {
            return Err(error);
        }
        Err(UpstreamError::new(UpstreamErrorKind::AllFailed)
            .with_detail(format!(
                "{} servers of group {:?}, last",
                group.servers.len(),
                group.name
            ))
            .with_source(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: T) {}

    #[test]
    fn group_is_send_sync_and_resolve_is_send() {
        let group = UpstreamGroup::new(
            "g",
            vec!["127.0.0.1".parse().unwrap()],
            Strategy::Failover,
            Duration::from_secs(1),
            None,
        )
        .unwrap();
        assert_send_sync(&group);
        let query = Message::query();
        assert_send(group.resolve(&query));
    }

    #[test]
    fn builds_every_transport_outside_a_runtime() {
        let servers = [
            "8.8.8.8",
            "tcp://8.8.8.8",
            "tls://1.1.1.1#one.one.one.one",
            "https://dns.quad9.net/dns-query#9.9.9.9",
        ];
        let servers = servers.iter().map(|s| s.parse().unwrap()).collect();
        let group = UpstreamGroup::new(
            "default",
            servers,
            Strategy::Parallel,
            Duration::from_secs(2),
            None,
        )
        .unwrap();
        assert_eq!(group.name(), "default");
        assert!(format!("{group:?}").contains("tls://1.1.1.1#one.one.one.one"));
    }

    #[test]
    fn rejects_empty_groups_and_zero_timeouts() {
        let err = UpstreamGroup::new(
            "g",
            vec![],
            Strategy::Parallel,
            Duration::from_secs(1),
            None,
        )
        .unwrap_err();
        assert_eq!(err.kind(), UpstreamErrorKind::InvalidGroup);
        let err = UpstreamGroup::new(
            "g",
            vec!["127.0.0.1".parse().unwrap()],
            Strategy::Parallel,
            Duration::ZERO,
            None,
        )
        .unwrap_err();
        assert_eq!(err.kind(), UpstreamErrorKind::InvalidGroup);
    }

    #[test]
    fn strategy_text_round_trips() {
        for s in [Strategy::Parallel, Strategy::RoundRobin, Strategy::Failover] {
            assert_eq!(s.to_string().parse::<Strategy>().unwrap(), s);
        }
        assert!("random".parse::<Strategy>().is_err());
    }
}
