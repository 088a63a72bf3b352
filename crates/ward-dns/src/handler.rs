//! The query path (DESIGN.md section 2): client -> policy -> local records -> filter ->
//! answer | cache -> upstream -> filter the answer too -> respond.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use prometheus_client::metrics::gauge::Gauge;
use ward_config::UpstreamServer;
use ward_rules::{Reason, Request, Verdict};
use ward_state::{Policy, Snapshot};

use crate::answer;
use crate::cache::{AnswerCache, CacheKey, CacheLimits, CachedAnswer};
use crate::metrics::{DnsMetrics, UpstreamMetrics};
use crate::record::{Batch, Event, Recorder, Source, Trace};
use crate::upstream::{Strategy, UpstreamAddr, UpstreamError, UpstreamGroup, UpstreamQuery};
use crate::wire;

/// A snapshot and the upstream groups of its config: what one query uses.
pub struct Runtime {
    /// The compiled config and lists.
    pub snapshot: Arc<Snapshot>,
    upstreams: HashMap<String, UpstreamGroup>,
    /// Where the groups count their exchanges.
    metrics: Option<UpstreamMetrics>,
}

impl Runtime {
    /// Builds the upstream groups of the snapshot's config. DoT servers given by name are
    /// looked up once here with the system resolver (in Kubernetes, the cluster DNS: a
    /// bootstrap that does not depend on Ward). Groups whose servers cannot be used are left
    /// out, with the reason in the returned list.
    pub async fn build(snapshot: Arc<Snapshot>) -> (Runtime, Vec<String>) {
        Runtime::build_after(snapshot, None, None).await
    }

    /// [`Runtime::build`], with groups that count their exchanges in `metrics` (and so do
    /// the groups of every runtime a [`Handler::swap`] builds after it).
    pub async fn build_with_metrics(
        snapshot: Arc<Snapshot>,
        metrics: UpstreamMetrics,
    ) -> (Runtime, Vec<String>) {
        Runtime::build_after(snapshot, None, Some(metrics)).await
    }

    /// [`Runtime::build`], taking over `previous`'s groups whose config is unchanged, with
    /// their open sockets and connections.
    async fn build_after(
        snapshot: Arc<Snapshot>,
        previous: Option<&Runtime>,
        metrics: Option<UpstreamMetrics>,
    ) -> (Runtime, Vec<String>) {
        let mut upstreams = HashMap::new();
        let mut errors = Vec::new();
        let config = &snapshot.config;
        for (name, group) in &config.upstreams {
            let same = previous.and_then(|p| {
                let before = &p.snapshot.config;
                let unchanged = before.upstreams.get(name) == Some(group)
                    && before.dns.upstream_timeout == config.dns.upstream_timeout;
                unchanged.then(|| p.upstreams.get(name)).flatten()
            });
            if let Some(same) = same {
                upstreams.insert(name.clone(), same.clone());
                continue;
            }
            let mut servers = Vec::new();
            for s in &group.servers {
                let addr = match s {
                    UpstreamServer::Udp(a) => UpstreamAddr::Udp(*a),
                    UpstreamServer::Tcp(a) => UpstreamAddr::Tcp(*a),
                    UpstreamServer::Tls {
                        addr: Some(a),
                        host,
                        ..
                    } => UpstreamAddr::Tls {
                        addr: *a,
                        server_name: host.clone(),
                    },
                    UpstreamServer::Tls {
                        addr: None,
                        host,
                        port,
                    } => match bootstrap(host, *port).await {
                        Some(a) => UpstreamAddr::Tls {
                            addr: a,
                            server_name: host.clone(),
                        },
                        None => {
                            errors.push(format!("upstream {name}: cannot look up tls://{host}"));
                            continue;
                        }
                    },
                    UpstreamServer::Https { url } => UpstreamAddr::Https {
                        url: url.clone(),
                        addr: None,
                    },
                };
                servers.push(addr);
            }
            let strategy = match group.strategy {
                ward_config::Strategy::Parallel => Strategy::Parallel,
                ward_config::Strategy::RoundRobin => Strategy::RoundRobin,
                ward_config::Strategy::Failover => Strategy::Failover,
            };
            let timeout = config.dns.upstream_timeout;
            let built = UpstreamGroup::with_metrics(
                name,
                servers,
                strategy,
                timeout,
                None,
                metrics.as_ref(),
            );
            match built {
                Ok(g) => {
                    upstreams.insert(name.clone(), g);
                }
                Err(e) => errors.push(format!("upstream {name}: {e}")),
            }
        }
        (
            Runtime {
                snapshot,
                upstreams,
                metrics,
            },
            errors,
        )
    }
}

/// Answers DNS queries from the current [`Runtime`].
pub struct Handler {
    runtime: ArcSwap<Runtime>,
    cache: AnswerCache,
    recorder: Option<Recorder>,
    cache_entries: Gauge,
}

impl Handler {
    /// A handler serving `runtime`, with a cache sized by its config.
    pub fn new(runtime: Runtime) -> Handler {
        let c = &runtime.snapshot.config.cache;
        let limits = CacheLimits {
            size: c.size,
            min_ttl: c.min_ttl,
            max_ttl: c.max_ttl,
            negative_ttl: c.negative_ttl,
        };
        Handler {
            runtime: ArcSwap::from_pointee(runtime),
            cache: AnswerCache::new(limits),
            recorder: None,
            cache_entries: Gauge::default(),
        }
    }

    /// A handler whose serving loops hand every answered query to `recorder`, and whose
    /// cache reports its size in `metrics`.
    pub fn with_recorder(runtime: Runtime, recorder: Recorder, metrics: &DnsMetrics) -> Handler {
        Handler {
            recorder: Some(recorder),
            cache_entries: metrics.cache_entries.clone(),
            ..Handler::new(runtime)
        }
    }

    /// Whether answered queries are recorded (the serving loops build no event otherwise).
    pub fn records(&self) -> bool {
        self.recorder.is_some()
    }

    /// A batch for a serving loop's events, if answered queries are recorded.
    pub fn batch(&self) -> Option<Batch> {
        self.recorder.as_ref().map(Recorder::batch)
    }

    /// Hands an answered query to the recorder, if there is one.
    pub fn record(&self, event: Event) {
        if let Some(recorder) = &self.recorder {
            recorder.record(event);
        }
    }

    /// The snapshot queries are answered from.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.runtime.load().snapshot.clone()
    }

    /// Answers from `snapshot` from now on. Upstream groups whose config is unchanged are
    /// kept with their connections; when any group changed, the cache is emptied (its
    /// answers came from the old servers). A query in flight finishes on the snapshot it
    /// started with. Returns the groups that could not be built, as [`Runtime::build`].
    pub async fn swap(&self, snapshot: Arc<Snapshot>) -> Vec<String> {
        let current = self.runtime.load_full();
        let metrics = current.metrics.clone();
        let (next, errors) = Runtime::build_after(snapshot, Some(&current), metrics).await;
        let before = &current.snapshot.config;
        let after = &next.snapshot.config;
        let upstreams_changed = before.upstreams != after.upstreams
            || before.dns.upstream_timeout != after.dns.upstream_timeout;
        self.runtime.store(Arc::new(next));
        if upstreams_changed {
            self.cache.clear();
            self.cache_entries.set(0);
        }
        errors
    }

    /// Answers one DNS message from `src`. `udp` sets the size limit (the client's EDNS
    /// payload, else 512 bytes; larger answers are truncated with the TC bit). Returns
    /// `None` for input that deserves no answer (not a query, or not even a header).
    pub async fn handle(&self, bytes: &[u8], src: SocketAddr, udp: bool) -> Option<Vec<u8>> {
        self.handle_traced(bytes, src, udp, &mut Trace::default())
            .await
    }

    /// [`Handler::handle`], noting in `trace` what decided the answer (for the record).
    pub async fn handle_traced(
        &self,
        bytes: &[u8],
        src: SocketAddr,
        udp: bool,
        trace: &mut Trace,
    ) -> Option<Vec<u8>> {
        let mut name = [0u8; 255];
        if let Some(q) = wire::parse_query(bytes, &mut name) {
            let answer = match self.decide(bytes, &q, src.ip(), trace) {
                Fast::Answer(answer) => Some(answer),
                Fast::Forward(rt) => {
                    trace.leave_batch(&rt.snapshot);
                    Some(self.forward_wire(&rt, bytes, &q, src.ip(), trace).await)
                }
                Fast::Full => None,
            };
            if let Some(answer) = answer {
                let limit = q.edns.map_or(512, |(size, _)| {
                    usize::from(size.clamp(512, answer::EDNS_PAYLOAD))
                });
                if !udp || answer.len() <= limit {
                    return Some(answer);
                }
                return Some(wire::truncated(bytes, &q, answer[3] & 0x0f));
            }
        }
        let req = match Message::from_vec(bytes) {
            Ok(req) => req,
            Err(_) => return formerr(bytes),
        };
        if req.metadata.message_type != MessageType::Query {
            return None;
        }
        let reply = if req.metadata.op_code != OpCode::Query {
            Reply::Message(answer::response_to(&req, ResponseCode::NotImp))
        } else if req.queries.len() != 1 {
            Reply::Message(answer::response_to(&req, ResponseCode::FormErr))
        } else {
            self.answer(&req, bytes, src.ip(), trace).await
        };
        match reply {
            Reply::Message(resp) => encode(&req, resp, udp),
            Reply::Wire(wire) => fit(&req, wire, udp),
        }
    }

    /// The fast path's decision for a plain query, made on the wire format: blocked and
    /// cached answers at once, a cache miss forwarded without decoding anything, the rest
    /// (local records, rewrites, hosts-style addresses, private reverse zones) to the full
    /// path.
    fn decide(
        &self,
        raw: &[u8],
        q: &wire::Question<'_>,
        client: IpAddr,
        trace: &mut Trace,
    ) -> Fast {
        let rt = self.runtime.load();
        let snap = &rt.snapshot;
        if snap.records.lookup(q.name).is_some() {
            return Fast::Full;
        }
        let policy_index = snap.policy_index(client);
        let policy = &snap.policies[policy_index];
        let verdict = filter(snap, policy, q.name, q.qtype, client);
        trace.policy(snap, policy_index);
        trace.verdict(verdict.reason, verdict.rules.first().copied());
        match verdict.reason {
            Reason::FilteredBlockList if verdict.ip_addrs.is_empty() => {
                trace.source = Source::Filter;
                Fast::Answer(wire::blocked(raw, q, &policy.blocking))
            }
            Reason::NotFilteredNotFound | Reason::NotFilteredAllowList => {
                let Some(group) = upstream_of(snap, policy, q.name) else {
                    return Fast::Full;
                };
                let dnssec_ok = q.edns.is_some_and(|(_, d)| d);
                let Some(key) = CacheKey::new(group, q.name, q.qtype, dnssec_ok) else {
                    return Fast::Full;
                };
                match self.cache.get(&key) {
                    Some(hit) => {
                        trace.source = Source::Cache;
                        Fast::Answer(answer_from(snap, policy, raw, q, client, &hit, trace))
                    }
                    None => {
                        trace.cache_miss = true;
                        Fast::Forward(arc_swap::Guard::into_inner(rt))
                    }
                }
            }
            _ => Fast::Full,
        }
    }

    /// A cache miss of the fast path: the client's question goes upstream as it came, the
    /// answer is cached and filtered in wire format.
    async fn forward_wire(
        &self,
        rt: &Runtime,
        raw: &[u8],
        q: &wire::Question<'_>,
        client: IpAddr,
        trace: &mut Trace,
    ) -> Vec<u8> {
        let snap = &rt.snapshot;
        let policy = snap.policy_for(client);
        let servfail = || wire::servfail(raw, q);
        let Some(group_name) = upstream_of(snap, policy, q.name) else {
            return servfail();
        };
        let Some(group) = rt.upstreams.get(group_name) else {
            return servfail();
        };
        let dnssec_ok = q.edns.is_some_and(|(_, d)| d);
        let Some(key) = CacheKey::new(group_name, q.name, q.qtype, dnssec_ok) else {
            return servfail();
        };
        let query = UpstreamQuery::from_wire(raw, q.question_end, dnssec_ok);
        match self.fetch(group, q.name, &key, query, trace).await {
            Some(entry) => {
                trace.source = Source::Upstream;
                answer_from(snap, policy, raw, q, client, &entry, trace)
            }
            None => servfail(),
        }
    }

    /// Asks the group and caches the answer if it may be cached. The entry to answer
    /// from, or `None` when there is none (SERVFAIL).
    async fn fetch(
        &self,
        group: &UpstreamGroup,
        name: &str,
        key: &CacheKey,
        query: Result<UpstreamQuery, UpstreamError>,
        trace: &mut Trace,
    ) -> Option<Arc<CachedAnswer>> {
        let answer = match query {
            Ok(query) => group.exchange_from(&query).await,
            Err(err) => Err(err),
        };
        match answer {
            Ok((answer, server)) => {
                trace.upstream = Some(server);
                let entry = self.cache.insert(key, &answer);
                self.cache_entries.set(self.cache.len() as i64);
                if entry.is_none() {
                    tracing::debug!(name, group = group.name(), "unreadable upstream answer");
                }
                entry
            }
            Err(err) => {
                tracing::debug!(name, group = group.name(), %err, "upstream failed");
                None
            }
        }
    }

    async fn answer(&self, req: &Message, raw: &[u8], client: IpAddr, trace: &mut Trace) -> Reply {
        let q = &req.queries[0];
        let name = q
            .name()
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        trace.may_wait();
        let rt = self.runtime.load_full();
        let snap = &rt.snapshot;
        let policy_index = snap.policy_index(client);
        let policy = &snap.policies[policy_index];
        trace.policy(snap, policy_index);

        if let Some(records) = snap.records.lookup(&name) {
            trace.source = Source::Local;
            return Reply::Message(answer::local(req, q, records));
        }
        let verdict = filter(snap, policy, &name, q.query_type(), client);
        trace.verdict(verdict.reason, verdict.rules.first().copied());
        let ttl = policy.blocking.ttl;
        match verdict.reason {
            Reason::FilteredBlockList if !verdict.ip_addrs.is_empty() => {
                trace.source = Source::Filter;
                Reply::Message(answer::addresses(req, q, &verdict.ip_addrs, ttl))
            }
            Reason::FilteredBlockList => {
                trace.source = Source::Filter;
                Reply::Message(answer::blocked(req, q, &policy.blocking))
            }
            Reason::RewrittenRule => {
                trace.source = Source::Filter;
                let reply = self.rewritten(&rt, policy, req, q, &verdict, client, trace);
                Reply::Message(reply.await)
            }
            Reason::NotFilteredAllowList | Reason::NotFilteredNotFound => {
                self.forward(&rt, policy, req, raw, q, &name, client, trace)
                    .await
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn rewritten(
        &self,
        rt: &Runtime,
        policy: &Policy,
        req: &Message,
        q: &Query,
        v: &Verdict,
        client: IpAddr,
        trace: &mut Trace,
    ) -> Message {
        let Some(rw) = &v.rewrite else {
            return answer::response_to(req, ResponseCode::ServFail);
        };
        let ttl = policy.blocking.ttl;
        let Some(target) = &rw.cname else {
            return answer::rewritten(req, q, rw, ttl);
        };
        // A CNAME rewrite: the CNAME, then the target's answer as this client would get it.
        let mut resp = answer::response_to(req, ResponseCode::NoError);
        let Some(cname) = answer::cname_record(q, target, ttl) else {
            return resp;
        };
        let target_name = match &cname.data {
            RData::CNAME(c) => c.0.clone(),
            _ => return resp,
        };
        resp.add_answer(cname);
        let mut sub = req.clone();
        sub.queries = vec![Query::query(target_name, q.query_type())];
        let raw = sub.to_vec().unwrap_or_default();
        let sub_q = &sub.queries[0];
        let reply =
            Box::pin(self.forward(rt, policy, &sub, &raw, sub_q, target, client, trace)).await;
        let Some(target_resp) = reply.into_message() else {
            return answer::response_to(req, ResponseCode::ServFail);
        };
        resp.metadata.response_code = target_resp.metadata.response_code;
        resp.answers.extend(target_resp.answers);
        resp
    }

    #[allow(clippy::too_many_arguments)]
    async fn forward(
        &self,
        rt: &Runtime,
        policy: &Policy,
        req: &Message,
        raw: &[u8],
        q: &Query,
        name: &str,
        client: IpAddr,
        trace: &mut Trace,
    ) -> Reply {
        let snap = &rt.snapshot;
        let group_name = match snap.forward_zone(name) {
            Some(zone_group) => zone_group,
            // Private reverse zones never leave the network: without a forward zone for
            // them, they do not exist (RFC 6303).
            None if is_private_reverse(name) => {
                trace.source = Source::Local;
                return Reply::Message(answer::nxdomain(req, q, snap.config.cache.negative_ttl));
            }
            None => policy.upstream.as_str(),
        };
        let dnssec_ok = req.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
        let (Some(group), Some(key)) = (
            rt.upstreams.get(group_name),
            CacheKey::new(group_name, name, q.query_type(), dnssec_ok),
        ) else {
            trace.source = Source::Error;
            return Reply::Message(answer::response_to(req, ResponseCode::ServFail));
        };
        let cached = match self.cache.get(&key) {
            Some(hit) => {
                trace.source = Source::Cache;
                hit
            }
            None => {
                trace.cache_miss = true;
                let query = UpstreamQuery::new(req);
                match self.fetch(group, name, &key, query, trace).await {
                    Some(entry) => {
                        trace.source = Source::Upstream;
                        entry
                    }
                    None => {
                        trace.source = Source::Error;
                        return Reply::Message(answer::response_to(req, ResponseCode::ServFail));
                    }
                }
            }
        };
        // CNAME cloaking: a blocked CNAME target or answer address blocks the answer.
        if let Some(blocking) = cloaked(snap, policy, client, &cached) {
            trace.verdict(blocking.reason, blocking.rules.first().copied());
            return Reply::Message(answer::blocked(req, q, &policy.blocking));
        }
        let edns = req.edns.as_ref().map(|e| e.flags().dnssec_ok);
        match cached.render(raw, edns) {
            Some(wire) => Reply::Wire(wire),
            None => {
                trace.source = Source::Error;
                Reply::Message(answer::response_to(req, ResponseCode::ServFail))
            }
        }
    }
}

/// Where the fast path goes.
enum Fast {
    /// Answered: blocked, or from the cache.
    Answer(Vec<u8>),
    /// Not in the cache: forward it (with the runtime it was decided on).
    Forward(Arc<Runtime>),
    /// Everything else: the full path decides.
    Full,
}

/// The upstream group a query that is not blocked goes to: its conditional-forwarding
/// zone's, else the policy's. `None` for private reverse zones without a zone (the full
/// path answers NXDOMAIN).
fn upstream_of<'s>(snap: &'s Snapshot, policy: &'s Policy, name: &str) -> Option<&'s str> {
    match snap.forward_zone(name) {
        Some(group) => Some(group),
        None if is_private_reverse(name) => None,
        None => Some(policy.upstream.as_str()),
    }
}

/// The policy's blocking verdict for one of the names or addresses an answer points at,
/// if it blocks one.
fn cloaked(
    snap: &Snapshot,
    policy: &Policy,
    client: IpAddr,
    entry: &CachedAnswer,
) -> Option<Verdict> {
    entry
        .targets()
        .map(|(target, qtype)| filter(snap, policy, target, qtype, client))
        .find(|v| v.reason == Reason::FilteredBlockList)
}

/// The fast path's answer from a cache entry: blocked if the answer is cloaked, else the
/// entry as this client's answer (SERVFAIL if it cannot be rendered for it).
#[allow(clippy::too_many_arguments)]
fn answer_from(
    snap: &Snapshot,
    policy: &Policy,
    raw: &[u8],
    q: &wire::Question<'_>,
    client: IpAddr,
    entry: &CachedAnswer,
    trace: &mut Trace,
) -> Vec<u8> {
    if let Some(blocking) = cloaked(snap, policy, client, entry) {
        trace.verdict(blocking.reason, blocking.rules.first().copied());
        return wire::blocked(raw, q, &policy.blocking);
    }
    match entry.render(raw, q.edns.map(|(_, d)| d)) {
        Some(answer) => answer,
        None => {
            trace.source = Source::Error;
            wire::servfail(raw, q)
        }
    }
}

/// What the query path produced: a message to encode, or an answer already in wire
/// format (a cache hit, sent without decoding or encoding).
enum Reply {
    Message(Message),
    Wire(Vec<u8>),
}

impl Reply {
    fn into_message(self) -> Option<Message> {
        match self {
            Reply::Message(m) => Some(m),
            Reply::Wire(w) => Message::from_vec(&w).ok(),
        }
    }
}

/// The first address of `host` from the system resolver, within five seconds.
async fn bootstrap(host: &str, port: u16) -> Option<SocketAddr> {
    let lookup = tokio::net::lookup_host((host, port));
    tokio::time::timeout(std::time::Duration::from_secs(5), lookup)
        .await
        .ok()?
        .ok()?
        .next()
}

/// The policy's verdict: its lists and its own rules, decided together.
fn filter(
    snap: &Snapshot,
    policy: &Policy,
    name: &str,
    qtype: RecordType,
    client: IpAddr,
) -> Verdict {
    snap.check(policy, &Request::new(name, qtype).client_ip(client))
}

/// Reverse zones of private and local addresses (RFC 1918, 6761, 6303, 4193).
fn is_private_reverse(name: &str) -> bool {
    // Every query that is not blocked asks this: names outside .arpa answer at once.
    if !name.ends_with(".arpa") {
        return false;
    }
    const ZONES: &[&str] = &[
        "10.in-addr.arpa",
        "127.in-addr.arpa",
        "168.192.in-addr.arpa",
        "254.169.in-addr.arpa",
        "d.f.ip6.arpa",
        "c.f.ip6.arpa",
        "8.e.f.ip6.arpa",
        "9.e.f.ip6.arpa",
        "a.e.f.ip6.arpa",
        "b.e.f.ip6.arpa",
    ];
    if ZONES
        .iter()
        .any(|z| ward_state::is_same_or_subdomain(name, z))
    {
        return true;
    }
    // 172.16.0.0/12: 16 to 31.172.in-addr.arpa, found without building the 16 zones.
    let Some(rest) = name.strip_suffix(".172.in-addr.arpa") else {
        return false;
    };
    let octet = rest.rsplit('.').next().unwrap_or(rest);
    octet
        .parse::<u8>()
        .is_ok_and(|n| (16..=31).contains(&n) && !octet.starts_with('0'))
}

/// A FORMERR for a message whose header is readable; nothing for anything shorter.
fn formerr(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < 12 || bytes[2] & 0x80 != 0 {
        return None;
    }
    let mut out = bytes[..12].to_vec();
    // QR=1, keep opcode and RD; RA=1, RCODE=1 (FORMERR); no records.
    out[2] = (bytes[2] & 0x79) | 0x80;
    out[3] = 0x80 | 0x01;
    out[4..12].fill(0);
    Some(out)
}

/// The UDP payload a client accepts: its EDNS size (at most Ward's), else 512 bytes.
fn udp_limit(req: &Message) -> usize {
    req.edns.as_ref().map_or(512, |e| {
        usize::from(e.max_payload().clamp(512, answer::EDNS_PAYLOAD))
    })
}

/// An answer in wire format, or a truncated one (header, question, TC) if it is too big
/// for the client's UDP size.
fn fit(req: &Message, wire: Vec<u8>, udp: bool) -> Option<Vec<u8>> {
    if !udp || wire.len() <= udp_limit(req) {
        return Some(wire);
    }
    let rcode = ResponseCode::from(0, wire.get(3).map_or(0, |b| b & 0x0f));
    let mut truncated = answer::response_to(req, rcode);
    truncated.metadata.truncation = true;
    truncated.to_vec().ok()
}

/// Encodes the response, truncated to the client's UDP payload size when needed.
fn encode(req: &Message, resp: Message, udp: bool) -> Option<Vec<u8>> {
    let bytes = resp.to_vec().ok()?;
    if !udp {
        return Some(bytes);
    }
    if bytes.len() <= udp_limit(req) {
        return Some(bytes);
    }
    let mut truncated = resp.truncate();
    truncated.metadata.truncation = true;
    truncated.edns = resp.edns.clone();
    truncated.to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::is_private_reverse;

    #[test]
    fn private_reverse_zones() {
        for name in [
            "5.0.0.10.in-addr.arpa",
            "10.in-addr.arpa",
            "1.1.168.192.in-addr.arpa",
            "1.0.16.172.in-addr.arpa",
            "31.172.in-addr.arpa",
            "1.2.3.d.f.ip6.arpa",
        ] {
            assert!(is_private_reverse(name), "{name}");
        }
        for name in [
            "example.com",
            "1.0.15.172.in-addr.arpa",
            "1.0.32.172.in-addr.arpa",
            "1.0.016.172.in-addr.arpa",
            "172.in-addr.arpa",
            "8.8.8.8.in-addr.arpa",
            "x172.in-addr.arpa",
        ] {
            assert!(!is_private_reverse(name), "{name}");
        }
    }
}
