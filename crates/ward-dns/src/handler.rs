//! The query path (DESIGN.md section 2): client -> policy -> local records -> filter ->
//! answer | cache -> upstream -> filter the answer too -> respond.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use ward_config::{LocalRecord, UpstreamServer};
use ward_rules::{Reason, Request, Verdict};
use ward_state::{Asker, Checked, Policy, Snapshot};

use crate::answer;
use crate::cache::{AnswerCache, CacheKey, CacheLimits, CachedAnswer};
use crate::inflight::InFlight;
use crate::limits::{Admission, RateLimiter};
use crate::metrics::{DnsMetrics, GuardMetrics, UpstreamMetrics};
use crate::record::{Batch, Event, Recorder, Source, Trace};
use crate::upstream::{Strategy, UpstreamAddr, UpstreamGroup, UpstreamQuery};
use crate::wire::{self, Question};

/// Where a query came from: what the query path needs besides its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    /// The client's address and port (the ones a trusted PROXY header gave).
    pub src: SocketAddr,
    /// Whether it came over UDP: the answer's size limit and the rate limit.
    pub udp: bool,
    /// The ClientID it named (DNS over TLS or HTTPS), lowercase.
    pub client_id: Option<&'a str>,
}

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
///
/// Every query goes through the same steps, whichever way it was read: who may ask
/// ([`RateLimiter::admit`]), the question ([`wire::Question`], read by the wire parser for
/// plain queries and by hickory for the rest), the protocol's refusals, the decision
/// ([`decide`]: local records, the policy's filter, the upstream group), the cache, the
/// upstream exchange (identical questions merged, [`InFlight`]), answer filtering, and
/// the client's size limit ([`fit`]). Answers Ward makes itself are written straight in
/// wire format where that is simple (blocked, refused, errors) and through hickory where
/// it is not (local records, rewrites); cached and forwarded answers are never decoded.
pub struct Handler {
    runtime: ArcSwap<Runtime>,
    cache: Arc<AnswerCache>,
    in_flight: InFlight,
    limiter: RateLimiter,
    recorder: Option<Recorder>,
    guards: GuardMetrics,
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
            cache: Arc::new(AnswerCache::new(limits)),
            in_flight: InFlight::default(),
            limiter: RateLimiter::default(),
            recorder: None,
            guards: GuardMetrics::default(),
        }
    }

    /// A handler whose serving loops hand every answered query to `recorder`, and whose
    /// cache and abuse controls report in `metrics`.
    pub fn with_recorder(runtime: Runtime, recorder: Recorder, metrics: &DnsMetrics) -> Handler {
        let handler = Handler {
            recorder: Some(recorder),
            guards: metrics.guards.clone(),
            ..Handler::new(runtime)
        };
        metrics.cache_entries.watch(&handler.cache);
        handler
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

    /// The counters of what the abuse controls turned away.
    pub(crate) fn guard_metrics(&self) -> &GuardMetrics {
        &self.guards
    }

    /// How each server of each upstream group serving now has been answering, by group
    /// name and the group's order.
    pub fn upstream_health(&self) -> Vec<crate::metrics::ServerHealth> {
        let runtime = self.runtime.load();
        let mut groups: Vec<_> = runtime.upstreams.iter().collect();
        groups.sort_unstable_by(|a, b| a.0.cmp(b.0));
        groups.into_iter().flat_map(|(_, g)| g.health()).collect()
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
        }
        errors
    }

    /// Empties the answer cache: the next query for every name asks upstream.
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    /// Answers one DNS message from `src`. `udp` sets the size limit (the client's EDNS
    /// payload, else 512 bytes; larger answers are truncated with the TC bit) and the
    /// rate limit. Returns `None` for input that deserves no answer (not a query, not even
    /// a header, a client over the rate limit or not allowed over UDP).
    pub async fn handle(&self, bytes: &[u8], src: SocketAddr, udp: bool) -> Option<Vec<u8>> {
        let origin = Origin {
            src,
            udp,
            client_id: None,
        };
        self.handle_traced(bytes, origin, &mut Trace::default())
            .await
    }

    /// [`Handler::handle`] for a query from `origin`, noting in `trace` what decided the
    /// answer (for the record).
    pub async fn handle_traced(
        &self,
        bytes: &[u8],
        origin: Origin<'_>,
        trace: &mut Trace,
    ) -> Option<Vec<u8>> {
        let Origin {
            src,
            udp,
            client_id,
        } = origin;
        let client = src.ip();
        let rt = self.runtime.load();
        let admission = self.limiter.admit(&rt.snapshot.config.dns, client, udp);
        match admission {
            Admission::Answer => {}
            Admission::Limited => {
                self.guards.refused("ratelimit");
                return None;
            }
            Admission::NotAllowed if udp => {
                self.guards.refused("not_allowed");
                return None;
            }
            Admission::NotAllowed => self.guards.refused("not_allowed"),
        }
        let mut name_buf = [0u8; 255];
        let mut name_text = String::new();
        let mut decoded = None;
        let q = match wire::parse_query(bytes, &mut name_buf) {
            Some(q) => q,
            None => {
                let req = match Message::from_vec(bytes) {
                    Ok(req) => req,
                    Err(_) => return formerr(bytes),
                };
                if req.metadata.message_type != MessageType::Query {
                    return None;
                }
                let q = match read_question(&req, bytes, &mut name_text) {
                    Ok(q) => q,
                    Err(rcode) => {
                        // One question at most is repeated: a FORMERR to 200 questions
                        // would otherwise be larger than the query (found by fuzzing).
                        let mut resp = answer::response_to(&req, rcode);
                        if resp.queries.len() != 1 {
                            resp.queries.clear();
                        }
                        return resp.to_vec().ok().or_else(|| formerr(bytes));
                    }
                };
                decoded = Some(req);
                q
            }
        };
        if admission == Admission::NotAllowed {
            return Some(wire::refused(bytes, &q));
        }
        let client = rt.snapshot.asker(client, client_id);
        let answer = self.answer(rt, bytes, &q, decoded, client, trace).await;
        Some(fit(bytes, &q, answer, udp))
    }

    /// The answer to a readable query, before the client's size limit.
    async fn answer(
        &self,
        rt: arc_swap::Guard<Arc<Runtime>>,
        raw: &[u8],
        q: &Question<'_>,
        decoded: Option<Message>,
        client: Asker,
        trace: &mut Trace,
    ) -> Vec<u8> {
        if q.edns.is_some_and(|e| e.version > 0) {
            self.guards.refused("badvers");
            return wire::badvers(raw, q);
        }
        // Ward is not an authority: it has no zone to transfer (nor should an upstream's
        // be relayed).
        if matches!(q.qtype, RecordType::AXFR | RecordType::IXFR) {
            self.guards.refused("zone_transfer");
            return wire::refused(raw, q);
        }
        let snap = &rt.snapshot;
        let policy_index = snap.policy_index(client);
        let policy = &snap.policies[policy_index];
        trace.policy(snap, policy_index);
        let message = |build: &dyn Fn(&Message, &Query) -> Message| {
            with_message(raw, q, decoded.as_ref(), build)
        };
        match decide(snap, policy, q, client, trace) {
            Decision::Blocked => {
                trace.source = Source::Filter;
                wire::blocked(raw, q, &policy.blocking)
            }
            Decision::Addresses(ips) => {
                trace.source = Source::Filter;
                message(&|req, hq| answer::addresses(req, hq, &ips, policy.blocking.ttl))
            }
            Decision::Local(records) => {
                trace.source = Source::Local;
                message(&|req, hq| answer::local(req, hq, records, &snap.records))
            }
            Decision::PrivateReverse => {
                trace.source = Source::Local;
                let ttl = snap.config.cache.negative_ttl;
                message(&|req, hq| answer::nxdomain(req, hq, ttl))
            }
            Decision::Refused => wire::refused(raw, q),
            Decision::AnyRefused => {
                self.guards.refused("any");
                trace.source = Source::Local;
                wire::any_refused(raw, q, ANY_TTL)
            }
            Decision::Rewrite(verdict) => {
                trace.source = Source::Filter;
                trace.leave_batch(snap);
                let rt = arc_swap::Guard::into_inner(rt);
                let req = match decoded {
                    Some(req) => req,
                    None => match Message::from_vec(raw) {
                        Ok(req) => req,
                        Err(_) => return wire::servfail(raw, q),
                    },
                };
                // Boxed, as the forwarding below: the rare paths' state stays out of the
                // future every query allocates (3.7 KB instead of 10.6).
                let rewritten = self.rewritten(&rt, policy_index, &req, &verdict, client, trace);
                let resp = Box::pin(rewritten).await;
                encode(raw, q, resp)
            }
            Decision::Forward(group) => {
                let Some(key) = CacheKey::new(group, q) else {
                    trace.source = Source::Error;
                    return wire::servfail(raw, q);
                };
                if let Some(hit) = self.cached(snap, policy, raw, q, &key, client, trace) {
                    return hit;
                }
                trace.leave_batch(snap);
                let rt = arc_swap::Guard::into_inner(rt);
                let forwarded = self.forward(&rt, policy_index, raw, q, &key, client, trace);
                forwarded.await
            }
        }
    }

    /// The answer from the cache, if it has one for `key` (only class IN is cached).
    #[allow(clippy::too_many_arguments)]
    fn cached(
        &self,
        snap: &Snapshot,
        policy: &Policy,
        raw: &[u8],
        q: &Question<'_>,
        key: &CacheKey,
        client: Asker,
        trace: &mut Trace,
    ) -> Option<Vec<u8>> {
        if q.qclass != Question::IN {
            return None;
        }
        let hit = self.cache.get(key)?;
        trace.source = Source::Cache;
        Some(answer_from(snap, policy, raw, q, client, &hit, trace))
    }

    /// A cache miss: the question goes to the group (or joins the identical one already
    /// there), and the answer is cached and filtered for this client.
    #[allow(clippy::too_many_arguments)]
    async fn forward(
        &self,
        rt: &Runtime,
        policy_index: usize,
        raw: &[u8],
        q: &Question<'_>,
        key: &CacheKey,
        client: Asker,
        trace: &mut Trace,
    ) -> Vec<u8> {
        trace.cache_miss = true;
        let snap = &rt.snapshot;
        let policy = &snap.policies[policy_index];
        let group = upstream_of(snap, policy, q.name).and_then(|g| rt.upstreams.get(g));
        let Some(group) = group else {
            trace.source = Source::Error;
            return wire::servfail(raw, q);
        };
        match self.fetch(group, key, raw, q, trace).await {
            Some(entry) => {
                trace.source = Source::Upstream;
                answer_from(snap, policy, raw, q, client, &entry, trace)
            }
            None => {
                trace.source = Source::Error;
                wire::servfail(raw, q)
            }
        }
    }

    /// Asks the group, or waits for the identical question already asking, and caches the
    /// answer if it may be cached. The entry to answer from, or `None` when there is none
    /// (SERVFAIL).
    async fn fetch(
        &self,
        group: &UpstreamGroup,
        key: &CacheKey,
        raw: &[u8],
        q: &Question<'_>,
        trace: &mut Trace,
    ) -> Option<Arc<CachedAnswer>> {
        let keep = q.qclass == Question::IN;
        // Made only by the query that asks, inside the future `forward` boxes.
        let ask = || async {
            let query = UpstreamQuery::from_wire(raw, q.question_end, q.dnssec_ok());
            let answer = match query {
                Ok(query) => group.exchange_from(&query).await,
                Err(err) => Err(err),
            };
            match answer {
                Ok((answer, server)) => {
                    let entry = self.cache.insert(key, &answer, keep);
                    if entry.is_none() {
                        tracing::debug!(
                            name = q.name,
                            group = group.name(),
                            "unreadable upstream answer"
                        );
                    }
                    entry.map(|e| (e, server))
                }
                Err(err) => {
                    tracing::debug!(name = q.name, group = group.name(), %err, "upstream failed");
                    None
                }
            }
        };
        let (fetched, merged) = self.in_flight.fetch(key, ask).await;
        if merged {
            self.guards.merged.inc();
        }
        let (entry, server) = fetched?;
        trace.upstream = Some(server);
        Some(entry)
    }

    /// A `$dnsrewrite` answer; a CNAME rewrite is followed by the target's answer as this
    /// client would get it (from the cache or upstream).
    async fn rewritten(
        &self,
        rt: &Runtime,
        policy_index: usize,
        req: &Message,
        v: &Verdict,
        client: Asker,
        trace: &mut Trace,
    ) -> Message {
        let snap = &rt.snapshot;
        let policy = &snap.policies[policy_index];
        let q = &req.queries[0];
        let Some(rw) = &v.rewrite else {
            return answer::response_to(req, ResponseCode::ServFail);
        };
        let ttl = policy.blocking.ttl;
        let Some(target) = &rw.cname else {
            return answer::rewritten(req, q, rw, ttl);
        };
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
        let sub_raw = sub.to_vec().unwrap_or_default();
        let mut buf = [0u8; 255];
        let Some(sub_q) = wire::parse_query(&sub_raw, &mut buf) else {
            return answer::response_to(req, ResponseCode::ServFail);
        };
        let servfail = || answer::response_to(req, ResponseCode::ServFail);
        let Some(group) = upstream_of(snap, policy, sub_q.name) else {
            return servfail();
        };
        let Some(key) = CacheKey::new(group, &sub_q) else {
            return servfail();
        };
        let target = match self.cached(snap, policy, &sub_raw, &sub_q, &key, client, trace) {
            Some(hit) => hit,
            None => {
                let forwarded =
                    self.forward(rt, policy_index, &sub_raw, &sub_q, &key, client, trace);
                Box::pin(forwarded).await
            }
        };
        let Ok(target_resp) = Message::from_vec(&target) else {
            return servfail();
        };
        resp.metadata.response_code = target_resp.metadata.response_code;
        resp.answers.extend(target_resp.answers);
        resp
    }
}

/// The TTL of RFC 8482's answer to `ANY`: an hour, as nothing about it changes.
const ANY_TTL: u32 = 3600;

/// What a query gets, decided from the snapshot: the same steps for every query.
enum Decision<'s> {
    /// Local records (class IN).
    Local(&'s [LocalRecord]),
    /// Blocked: the policy's blocking answer.
    Blocked,
    /// A hosts-style rule's own addresses.
    Addresses(Vec<IpAddr>),
    /// A `$dnsrewrite` rule's answer.
    Rewrite(Verdict),
    /// A private reverse zone without a forward zone: NXDOMAIN (RFC 6303).
    PrivateReverse,
    /// REFUSED: a class other than IN that is blocked or has nowhere to go.
    Refused,
    /// RFC 8482's short answer to `ANY`.
    AnyRefused,
    /// To this upstream group, through the cache.
    Forward(&'s str),
}

/// The one decision of the query path: local records, then the policy's filter, then
/// where an unfiltered query goes. Classes other than IN get no local records (those are
/// IN) and no blocking answer (an address is an IN answer): blocked, they are REFUSED.
fn decide<'s>(
    snap: &'s Snapshot,
    policy: &'s Policy,
    q: &Question<'_>,
    client: Asker,
    trace: &mut Trace,
) -> Decision<'s> {
    let class_in = q.qclass == Question::IN;
    if class_in {
        if let Some(records) = snap.records.lookup(q.name) {
            return Decision::Local(records);
        }
    }
    // Protection off (AdGuard Home's toggle and pause): answered as if nothing filtered.
    let Checked { verdict, schedule } = if snap.protection_now() {
        filter(snap, policy, q.name, q.qtype, client)
    } else {
        Checked {
            verdict: Verdict::not_found(),
            schedule: None,
        }
    };
    trace.verdict(verdict.reason, verdict.rules.first().copied(), schedule);
    match verdict.reason {
        _ if verdict.is_filtered() && !class_in => Decision::Refused,
        Reason::FilteredBlockList if !verdict.ip_addrs.is_empty() => {
            Decision::Addresses(verdict.ip_addrs)
        }
        Reason::FilteredBlockList | Reason::FilteredBlockedService | Reason::FilteredSchedule => {
            Decision::Blocked
        }
        Reason::RewrittenRule | Reason::FilteredSafeSearch => Decision::Rewrite(verdict),
        Reason::NotFilteredNotFound | Reason::NotFilteredAllowList => {
            match upstream_of(snap, policy, q.name) {
                None if class_in => Decision::PrivateReverse,
                None => Decision::Refused,
                Some(_) if q.qtype == RecordType::ANY && snap.config.dns.refuse_any => {
                    Decision::AnyRefused
                }
                Some(group) => Decision::Forward(group),
            }
        }
    }
}

/// The question of a query the wire parser did not take (odd characters in the name,
/// more additional records, another opcode), checked as that parser checks: one
/// question, written out without compression. The error is the response code to answer.
fn read_question<'n>(
    req: &Message,
    raw: &[u8],
    name: &'n mut String,
) -> Result<Question<'n>, ResponseCode> {
    if req.metadata.op_code != OpCode::Query {
        return Err(ResponseCode::NotImp);
    }
    let [query] = req.queries.as_slice() else {
        return Err(ResponseCode::FormErr);
    };
    let question_end = wire::question_end(raw).ok_or(ResponseCode::FormErr)?;
    if !wire::plain_question(raw, question_end) {
        return Err(ResponseCode::FormErr);
    }
    *name = query
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let edns = req.edns.as_ref().map(|e| wire::ClientEdns {
        payload: e.max_payload(),
        dnssec_ok: e.flags().dnssec_ok,
        version: e.version(),
    });
    Ok(Question {
        name: name.as_str(),
        qtype: query.query_type(),
        qclass: u16::from(query.query_class()),
        question_end,
        edns,
        checking_disabled: req.metadata.checking_disabled,
    })
}

/// An answer built as a hickory message (local records, hosts addresses, rewrites),
/// from the decoded request (decoded now if the wire parser read it).
fn with_message(
    raw: &[u8],
    q: &Question<'_>,
    decoded: Option<&Message>,
    build: &dyn Fn(&Message, &Query) -> Message,
) -> Vec<u8> {
    let owned;
    let req = match decoded {
        Some(req) => req,
        None => match Message::from_vec(raw) {
            Ok(req) => {
                owned = req;
                &owned
            }
            Err(_) => return wire::servfail(raw, q),
        },
    };
    encode(raw, q, build(req, &req.queries[0]))
}

/// A message in wire format; SERVFAIL if it cannot be encoded (never silence).
fn encode(raw: &[u8], q: &Question<'_>, resp: Message) -> Vec<u8> {
    match resp.to_vec() {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::debug!(name = q.name, %err, "answer cannot be encoded; SERVFAIL");
            wire::servfail(raw, q)
        }
    }
}

/// The answer as the client can take it: over UDP within its payload size, else the
/// header and question with TC (RFC 1035 4.2.1: it retries over TCP); over TCP within a
/// message's 65,535 bytes, else SERVFAIL.
fn fit(raw: &[u8], q: &Question<'_>, answer: Vec<u8>, udp: bool) -> Vec<u8> {
    if udp && answer.len() > q.udp_limit() {
        return wire::truncated(raw, q, answer[3] & 0x0f);
    }
    if answer.len() > usize::from(u16::MAX) {
        return wire::servfail(raw, q);
    }
    answer
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
/// if it blocks one (a blocked service's CDN behind a CNAME included), with the client's
/// name and tags looked up once for them all.
fn cloaked(
    snap: &Snapshot,
    policy: &Policy,
    client: Asker,
    entry: &CachedAnswer,
) -> Option<Checked> {
    let info = snap.client(client);
    entry
        .targets()
        .map(|(target, qtype)| {
            let request = info.apply(Request::new(target, qtype).client_ip(client.ip));
            snap.check_answer(policy, &request)
        })
        .find(|c| c.verdict.reason.is_blocked())
}

/// The answer from a cache entry: blocked if the answer is cloaked, else the entry as this
/// client's answer (SERVFAIL if it cannot be rendered for it).
fn answer_from(
    snap: &Snapshot,
    policy: &Policy,
    raw: &[u8],
    q: &Question<'_>,
    client: Asker,
    entry: &CachedAnswer,
    trace: &mut Trace,
) -> Vec<u8> {
    let cloaked = snap
        .protection_now()
        .then(|| cloaked(snap, policy, client, entry))
        .flatten();
    if let Some(Checked { verdict, schedule }) = cloaked {
        trace.verdict(verdict.reason, verdict.rules.first().copied(), schedule);
        return wire::blocked(raw, q, &policy.blocking);
    }
    match entry.render(raw, q.edns.map(|e| e.dnssec_ok)) {
        Some(answer) => answer,
        None => {
            trace.source = Source::Error;
            wire::servfail(raw, q)
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

/// The policy's verdict for the client now: its lists and its own rules, decided
/// together, then its services, safe search and schedules. The client's name and tags,
/// for `$client='name'` and `$ctag` rules: two scans of the config's few client subnets,
/// no allocation.
fn filter(
    snap: &Snapshot,
    policy: &Policy,
    name: &str,
    qtype: RecordType,
    client: Asker,
) -> Checked {
    let info = snap.client(client);
    snap.check(
        policy,
        &info.apply(Request::new(name, qtype).client_ip(client.ip)),
    )
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use super::{Handler, Origin, Runtime, Trace, is_private_reverse};

    /// The UDP loop boxes this future for every query it answers: the rare paths
    /// (forwarding, rewrites) are boxed on their own so that it stays small (it was
    /// 10.6 KB when they were not, and blocked answers cost twice as much).
    #[test]
    fn the_future_of_a_query_stays_small() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = ward_config::Config::from_yaml(
            "upstreams: { default: { servers: [\"127.0.0.1:9\"] } }\n\
             policies: { main: {} }\ndefault_policy: main\n",
        )
        .unwrap();
        let lists = ward_state::DiskLists {
            data_dir: std::env::temp_dir(),
        };
        let snapshot = ward_state::Snapshot::build(config, &lists, 1).unwrap();
        let (runtime, _) = rt.block_on(Runtime::build(Arc::new(snapshot)));
        let handler = Handler::new(runtime);
        let src: SocketAddr = "127.0.0.2:5353".parse().unwrap();
        let mut trace = Trace::default();
        let future = handler.handle_traced(
            &[],
            Origin {
                src,
                udp: true,
                client_id: None,
            },
            &mut trace,
        );
        let size = std::mem::size_of_val(&future);
        assert!(size <= 4096, "{size} bytes");
    }

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
