//! The OpenAPI document of the admin API, generated from the handlers' `#[utoipa::path]`
//! annotations (see `routes` in the crate root), and the page that shows it.
//!
//! The config types live in `ward-config`, which knows nothing of HTTP, so the bodies are
//! described here by schema-only mirrors of them (`ListSource`, `Policy`, ...); a test
//! checks that each mirror names exactly the fields its config type reads and writes.

use std::sync::Arc;

use axum::Extension;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The document's fixed part: info, tags, security schemes, shared schemas. The paths are
/// added by the router as it registers each handler.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ward admin API",
        description = "Ward's native admin API. Every endpoint but /livez, /readyz and \
            /metrics needs a credential: a Bearer token (the first line of \
            `admin.token_file`) or an HTTP Basic user (a `name:password` line of \
            `admin.users_file`). With neither configured, only clients on loopback are \
            answered. With `admin.read_only` every write (anything but GET) is refused with \
            403. Every write to the config changes the serving config, validates it, saves it \
            atomically over the config file and applies it through the reloader: it answers \
            200 with the reload's outcome and the new revision, or 400 with the reason and \
            changes nothing; also when its client goes away, a write either changes \
            nothing or lands whole. A write with a body must be `Content-Type: \
            application/json` (or YAML for PUT /api/v1/config), else 415; a request whose \
            `Origin` is not this server's is refused with 403, and so, with no credentials \
            configured, is one whose `Host` is not an IP address or `localhost`. \
            `admin.metrics_auth` puts /metrics behind the credentials. The query log and \
            the statistics are each node's own.",
        license(name = "MIT OR Apache-2.0"),
    ),
    security(("bearer" = []), ("basic" = [])),
    modifiers(&SecuritySchemes),
    tags(
        (name = "probes", description = "Kubernetes probes; open to everyone"),
        (name = "status", description = "What is serving, and why a name is blocked"),
        (name = "config", description = "The config as a whole"),
        (name = "lists", description = "Filter lists (`lists` in the config)"),
        (name = "policies", description = "Filtering policies and their custom rules"),
        (name = "clients", description = "Which subnet gets which policy"),
        (name = "records", description = "Local answers"),
        (name = "upstreams", description = "Named groups of upstream resolvers"),
        (name = "querylog", description = "What was asked, by whom, and what Ward answered"),
        (name = "stats", description = "The dashboard's numbers: totals, a time series, top lists"),
        (name = "metrics", description = "Prometheus metrics; open to everyone"),
        (name = "docs", description = "This document, and a page that shows it"),
    ),
)]
struct BaseDoc;

/// The document before the routes add their paths.
pub(crate) fn base() -> utoipa::openapi::OpenApi {
    let mut doc = BaseDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Adds the schemes `auth.rs` accepts.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// The generated document, serialized once when the router is built.
#[derive(Clone)]
pub(crate) struct Document(Arc<str>);

impl Document {
    pub(crate) fn new(doc: &utoipa::openapi::OpenApi) -> Document {
        let json = doc
            .to_pretty_json()
            .expect("an OpenAPI document always serializes");
        Document(json.into())
    }
}

/// This API's OpenAPI 3.1 document.
///
/// Generated from the code: every route the server answers is here.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "docs", operation_id = "get_openapi",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub(crate) async fn document(Extension(doc): Extension<Document>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.to_string(),
    )
        .into_response()
}

/// A page that lists every endpoint of this API.
///
/// Self-contained (no script or style from elsewhere): it reads `openapi.json` and shows
/// each path and method with its parameters, bodies and answers.
#[utoipa::path(get, path = "/api/v1/docs", tag = "docs", operation_id = "get_docs",
    responses((status = 200, description = "An HTML page", body = String, content_type = "text/html")))]
pub(crate) async fn docs_page() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

/// An error: `error` says what is wrong; a refused config adds `errors`, one per bad field.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApiError {
    /// What is wrong (for a config: every problem, one per line).
    error: String,
    /// For a refused config: each bad field.
    errors: Option<Vec<FieldProblem>>,
    /// For a config the reloader refused: its report.
    #[schema(value_type = Option<Object>)]
    outcome: Option<()>,
}

/// One bad field of a refused config.
#[derive(Serialize, ToSchema)]
pub(crate) struct FieldProblem {
    /// The field: `policies.kids.extends`, `clients[1].subnet`.
    path: String,
    /// Its line, when the config was sent as text; `null` for a resource change.
    line: Option<u64>,
    /// The problem, with the line and path.
    message: String,
}

/// The answer of every write: the reload's outcome and the revision serving after it.
#[derive(Serialize, ToSchema)]
pub(crate) struct WriteAnswer {
    /// The revision of the config serving now (16 hex digits).
    revision: String,
    /// The reload: `outcome` (`applied` with its `generation`, or `unchanged`),
    /// `trigger`, `elapsed_ms`, `lists_compiled`, `lists_reused`, `finished_at_ms`.
    #[schema(value_type = Object)]
    outcome: (),
}

/// The config serving now, with its revision.
#[derive(Serialize, ToSchema)]
pub(crate) struct ConfigAnswer {
    /// The revision (16 hex digits).
    revision: String,
    /// The config, as `docs/configuration.md` describes it.
    #[schema(value_type = Object)]
    config: (),
}

/// `POST /api/v1/lists/{id}/refresh` accepted.
#[derive(Serialize, ToSchema)]
pub(crate) struct RefreshAnswer {
    /// The list.
    pub(crate) list: String,
    /// `downloading` (a URL list), `re-reading` (a local file).
    pub(crate) action: &'static str,
}

/// A filter list: exactly one of `path`, `url` and `catalogue`.
#[derive(Serialize, ToSchema)]
#[schema(as = ListSource)]
pub(crate) struct ListSourceSchema {
    /// The name policies use for the list: letters, digits, `-`, `_`, `.`.
    id: String,
    /// A local file.
    path: Option<String>,
    /// An `http://` or `https://` URL to download.
    url: Option<String>,
    /// A list of Ward's catalogue by its id (`adguard-dns`, `hagezi-pro`, ...; see
    /// `blocklists/catalogue.yaml`), downloaded from its URL; instead of `path` or `url`.
    catalogue: Option<String>,
    /// How often to download or re-read the list (`24h`, `30m`); at least `1m`. Unset:
    /// URL and catalogue lists every 24 hours, files when they change.
    refresh: Option<String>,
    /// A disabled list is kept in the config but not loaded (default true).
    enabled: Option<bool>,
    /// An allowlist (default false): a name any of its rules matches is not filtered by
    /// the policies that use it.
    allow: Option<bool>,
}

/// A well-known public list of Ward's catalogue.
#[derive(Serialize, ToSchema)]
#[schema(as = CatalogueEntry)]
pub(crate) struct CatalogueEntrySchema {
    /// What a list's `catalogue` names.
    id: String,
    /// Its name, as its maintainer gives it.
    name: String,
    /// Where it is downloaded from.
    url: String,
    /// `adblock`, `hosts` or `domains`.
    format: String,
    /// Its licence (SPDX).
    licence: String,
    /// `ads`, `trackers`, `malware`, `phishing`, `adult`, `gambling`, `social` or
    /// `telemetry`.
    category: String,
    /// Who keeps it.
    maintainer: String,
    /// The list Ward's embedded default config uses (present and true on that one only).
    default: Option<bool>,
}

/// A filtering policy.
#[derive(Serialize, ToSchema)]
#[schema(as = Policy)]
pub(crate) struct PolicySchema {
    /// A policy whose lists, rules, upstream and blocking mode this one inherits.
    extends: Option<String>,
    /// Ids of lists, added to the inherited ones.
    lists: Option<Vec<String>>,
    /// Custom rules in AdGuard syntax, after the inherited ones.
    rules: Option<Vec<String>>,
    /// The upstream group; unset means the parent's, else the group named `default`.
    upstream: Option<String>,
    /// `null_ip`, `nxdomain`, `refused` or `custom_ip`; unset means the parent's, else
    /// `dns.blocking_mode`.
    blocking_mode: Option<String>,
    /// Safe search: `true` (every provider, YouTube strict), `false`, or a map of provider
    /// ids (`google`, `youtube`, `bing`, `duckduckgo`, `ecosia`, `pixabay`, `yandex`) to
    /// `true`, `false` or, for YouTube, `moderate`; unset means the parent's, else off.
    #[schema(value_type = Object)]
    safe_search: Option<serde_json::Value>,
    /// Services (`tiktok`) or categories (`social`, `games`) to block, from
    /// `GET /api/v1/services`; added to the inherited ones.
    blocked_services: Option<Vec<String>>,
    /// Weekly windows that change the blocking while open; after the inherited ones.
    schedules: Option<Vec<ScheduleSchema>>,
}

/// What `GET /api/v1/services` answers.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServicesAnswer {
    /// Every service, by id.
    services: Vec<ServiceSchema>,
    /// The categories a policy may block whole.
    categories: Vec<String>,
    /// The safe-search providers.
    safe_search: Vec<SafeSearchProviderSchema>,
}

/// A service a policy can block.
#[derive(Serialize, ToSchema)]
#[schema(as = Service)]
pub(crate) struct ServiceSchema {
    /// Its id (AdGuard Home's where it has the service).
    id: String,
    /// Its name.
    name: String,
    /// `social`, `video`, `games`, `messaging`, `music`, `shopping`, `dating`,
    /// `streaming`, `ai` or `other`.
    category: String,
    /// The rules that block it.
    rules: Vec<String>,
}

/// A safe-search provider.
#[derive(Serialize, ToSchema)]
#[schema(as = SafeSearchProvider)]
pub(crate) struct SafeSearchProviderSchema {
    /// Its id.
    id: String,
    /// Its name.
    name: String,
    /// The host its names are answered with (a CNAME to it).
    enforce: String,
    /// YouTube's moderate host.
    moderate: Option<String>,
    /// How many names it rewrites.
    names: u64,
}

/// A weekly window of a policy and what it changes while open.
#[derive(Serialize, ToSchema)]
#[schema(as = Schedule)]
pub(crate) struct ScheduleSchema {
    /// What the query log and `/api/v1/check` call it; unset, `<policy>#<n>`.
    name: Option<String>,
    /// The days it starts on: `weekdays`, `weekends`, `all`, `mon,wed`, or a list of days.
    days: String,
    /// When it opens, `hh:mm`.
    from: String,
    /// When it closes, `hh:mm`; at or before `from`, on the next day.
    to: String,
    /// Its IANA time zone; unset means the config's `time_zone`.
    time_zone: Option<String>,
    /// Block every name but local records and conditional-forwarding zones.
    block_all: Option<bool>,
    /// Services or categories blocked while it is open.
    block_services: Option<Vec<String>>,
    /// Services or categories of the policy let through while it is open.
    allow_services: Option<Vec<String>>,
    /// Lists applied while it is open.
    block_lists: Option<Vec<String>>,
    /// Lists of the policy that do not apply while it is open.
    pause_lists: Option<Vec<String>>,
}

/// A new policy: its name beside the fields of `Policy`.
#[derive(Serialize, ToSchema)]
#[schema(as = NewPolicy)]
pub(crate) struct NewPolicySchema {
    /// The policy's name: letters, digits, `-`, `_`, `.`.
    name: String,
    /// A policy whose lists, rules, upstream and blocking mode this one inherits.
    extends: Option<String>,
    /// Ids of lists, added to the inherited ones.
    lists: Option<Vec<String>>,
    /// Custom rules in AdGuard syntax, after the inherited ones.
    rules: Option<Vec<String>>,
    /// The upstream group; unset means the parent's, else the group named `default`.
    upstream: Option<String>,
    /// `null_ip`, `nxdomain`, `refused` or `custom_ip`; unset means the parent's, else
    /// `dns.blocking_mode`.
    blocking_mode: Option<String>,
    /// Safe search: `true` (every provider, YouTube strict), `false`, or a map of provider
    /// ids (`google`, `youtube`, `bing`, `duckduckgo`, `ecosia`, `pixabay`, `yandex`) to
    /// `true`, `false` or, for YouTube, `moderate`; unset means the parent's, else off.
    #[schema(value_type = Object)]
    safe_search: Option<serde_json::Value>,
    /// Services (`tiktok`) or categories (`social`, `games`) to block, from
    /// `GET /api/v1/services`; added to the inherited ones.
    blocked_services: Option<Vec<String>>,
    /// Weekly windows that change the blocking while open; after the inherited ones.
    schedules: Option<Vec<ScheduleSchema>>,
}

/// One custom rule.
#[derive(Serialize, ToSchema)]
pub(crate) struct RuleBody {
    /// A rule in AdGuard syntax: `||ads.example^`, `@@||ok.example^`, `0.0.0.0 x.example`.
    rule: String,
}

/// Clients in a subnet get a policy; the longest matching prefix wins.
#[derive(Serialize, ToSchema)]
#[schema(as = ClientRule)]
pub(crate) struct ClientRuleSchema {
    /// An IPv4 or IPv6 subnet (`192.168.20.0/24`, `fd00:20::/64`); a bare address is a
    /// /32 or /128. A rule has a subnet, ClientIDs, or both.
    subnet: Option<String>,
    /// ClientIDs: the names DNS-over-HTTPS (`/dns-query/kids-phone`) and DNS-over-TLS
    /// (`kids-phone.dns.home.example.com`) clients give themselves; a query naming one
    /// gets this rule's policy, name and tags whatever its address. Letters, digits and
    /// `-`, at most 63.
    client_ids: Vec<String>,
    /// The policy of clients in it.
    policy: String,
    /// A name for the clients in it (`kids-tablet` for a /32), shown in the query log and
    /// the statistics and matched by the query log's `client` filter; the most specific
    /// named subnet names a client.
    name: Option<String>,
    /// Tags for `$ctag` rules (`user_child`, `device_phone`, ...).
    tags: Vec<String>,
}

/// Conditional forwarding: names in these zones go to this upstream group.
#[derive(Serialize, ToSchema)]
#[schema(as = ForwardRule)]
pub(crate) struct ForwardRuleSchema {
    /// Zones (`home.example.com`, `168.192.in-addr.arpa`): each zone and every name below
    /// it; the longest zone that matches wins.
    zones: Vec<String>,
    /// The upstream group that answers them.
    upstream: String,
}

/// A local answer.
#[derive(Serialize, ToSchema)]
#[schema(as = LocalRecord)]
pub(crate) struct LocalRecordSchema {
    /// The owner name; `*.example.com` answers every name below `example.com` that has no
    /// record of its own.
    name: String,
    /// `A`, `AAAA`, `CNAME`, `TXT`, `PTR`, `MX`, `SRV` or `NS`.
    #[serde(rename = "type")]
    rtype: String,
    /// An IPv4 address (A), an IPv6 address (AAAA), a host name (CNAME, PTR, NS),
    /// `preference host` (MX), `priority weight port target` (SRV), any text (TXT).
    value: String,
    /// TTL of the answer, in seconds (default 300).
    ttl: Option<u32>,
    /// Who keeps the record: `external-dns` for those its webhook writes (the only ones it
    /// may change); unset for the config's own.
    managed_by: Option<String>,
}

/// A named group of upstream resolvers.
#[derive(Serialize, ToSchema)]
#[schema(as = UpstreamGroup)]
pub(crate) struct UpstreamGroupSchema {
    /// `8.8.8.8`, `tcp://1.1.1.1`, `tls://dns.quad9.net`, `https://dns.quad9.net/dns-query`.
    servers: Vec<String>,
    /// `parallel` (the default), `round_robin` or `failover`.
    strategy: Option<String>,
}

/// A new upstream group: its name beside the fields of `UpstreamGroup`.
#[derive(Serialize, ToSchema)]
#[schema(as = NewUpstreamGroup)]
pub(crate) struct NewUpstreamGroupSchema {
    /// The group's name: letters, digits, `-`, `_`, `.`.
    name: String,
    /// `8.8.8.8`, `tcp://1.1.1.1`, `tls://dns.quad9.net`, `https://dns.quad9.net/dns-query`.
    servers: Vec<String>,
    /// `parallel` (the default), `round_robin` or `failover`.
    strategy: Option<String>,
}

/// A page of the query log, newest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct QueryLogPage {
    /// The entries found.
    entries: Vec<QueryLogEntry>,
    /// Pass it as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
    /// Where the log stood at this search: pass it as `since` (to the search or to
    /// `/api/v1/querylog/stream`) for what is logged after it. Empty with `node=all`.
    head: String,
    /// With `node=all`: each pod, and whether its entries are in the page (a pod that did
    /// not answer is named with the reason; the others are merged). `null` otherwise.
    nodes: Option<Vec<NodeAnswerSchema>>,
}

/// A pod's part in a `node=all` answer.
#[derive(Serialize, ToSchema)]
#[schema(as = NodeAnswer)]
pub(crate) struct NodeAnswerSchema {
    /// The pod's name (`HOSTNAME`), or its address when it did not answer.
    node: String,
    /// `self` for the pod answering, else the replica pod's address.
    address: String,
    /// Whether its part is in the answer.
    ok: bool,
    /// Why not.
    error: Option<String>,
}

/// Every pod: this one first, then on a primary each replica pod.
#[derive(Serialize, ToSchema)]
pub(crate) struct NodesAnswer {
    /// The pods. Each has `node` (its name), `address` (`self` or the pod's), `self`,
    /// `ok` (it answered) and `error`, and from its status `role`, `revision` (the sync
    /// revision it serves), `generation`, `config_revision`, `rules`, `last_reload`,
    /// `last_change` (the last reload that applied or refused a config),
    /// `started_ms`, `ready`, `version`, `last_sync_ms` and `last_sync_error` (a
    /// replica's last pull); a replica listed by the primary also has `replica` (the
    /// address configured), `in_sync` (it serves the primary's revision), `behind_ms`
    /// (how long it has not: since the primary's revision changed; `null` when it did not
    /// answer) and `last_push`.
    #[schema(value_type = Vec<Object>)]
    nodes: Vec<serde_json::Value>,
}

/// One event of `GET /api/v1/querylog/stream`: the entries that matched since the last.
#[derive(Serialize, ToSchema)]
pub(crate) struct QueryLogTail {
    /// The new entries that match, newest first, at most 100.
    entries: Vec<QueryLogEntry>,
    /// More matched than were sent: the newest 100 are here; search with `since` for all.
    more: bool,
    /// Where the log stands now (also the event's `id`, for `Last-Event-ID`).
    head: String,
}

/// One answered query.
#[derive(Serialize, ToSchema)]
pub(crate) struct QueryLogEntry {
    /// The pod that answered it (`HOSTNAME`).
    node: String,
    /// Pass it as `cursor` for the entries after this one.
    cursor: String,
    /// When it was answered, RFC 3339 with milliseconds.
    time: String,
    /// The same, Unix ms.
    time_ms: u64,
    /// The client's address (without its host part with `query_log.anonymize_clients`).
    client: String,
    /// The client's name in the config, when it has one (its ClientID's rule's, if the
    /// query named one).
    client_name: Option<String>,
    /// The ClientID the query named (DNS over TLS or HTTPS), if it named one.
    client_id: Option<String>,
    /// How the query arrived: `udp`, `tcp`, `dot` (DNS over TLS) or `doh` (DNS over
    /// HTTPS).
    protocol: String,
    /// The policy that answered.
    policy: String,
    /// The question name: lowercase, no trailing dot.
    name: String,
    /// The question type: `A`, `AAAA`, `HTTPS`, ...
    qtype: String,
    /// AdGuard Home's reason: `NotFilteredNotFound`, `NotFilteredAllowList`,
    /// `FilteredBlockList`, `RewrittenRule`, `FilteredBlockedService`,
    /// `FilteredSafeSearch`; or Ward's `FilteredSchedule` (a schedule that blocks every
    /// name).
    reason: String,
    /// The text of the deciding rule.
    rule: Option<String>,
    /// The id of the deciding rule's list (`service <id>` for a blocked service's).
    list: Option<String>,
    /// The blocked service (`FilteredBlockedService`) or safe-search provider
    /// (`FilteredSafeSearch`) that decided, by id.
    service: Option<String>,
    /// The schedule that decided: one that blocks everything, added what blocked, or
    /// paused what would have.
    schedule: Option<String>,
    /// A short summary of the answer: `0.0.0.0`, `93.184.216.34, 2606::1`, `NXDOMAIN`.
    answer: String,
    /// The response code: `NOERROR`, `NXDOMAIN`, `SERVFAIL`, ...
    rcode: String,
    /// The upstream that answered, if one did.
    upstream: Option<String>,
    /// Whether the answer came from the cache.
    cached: bool,
    /// Time from the request to the response, µs.
    elapsed_us: u32,
}

/// The statistics of a range.
#[derive(Serialize, ToSchema)]
pub(crate) struct StatsReport {
    /// `24h`, `7d` or `30d`.
    range: String,
    /// `hour` or `minute`: the step of `series`.
    resolution: String,
    /// The start of the first bucket of `series`, Unix ms.
    from_ms: u64,
    /// The end of its last bucket (exclusive), Unix ms.
    to_ms: u64,
    /// Every query from `from_ms` to `to_ms`, by outcome.
    totals: StatsTotals,
    /// Blocked queries over all queries (0 without queries).
    blocked_ratio: f64,
    /// The average time from request to response, ms.
    avg_processing_ms: f64,
    /// One point per bucket, oldest first, empty buckets included.
    series: Vec<StatsPoint>,
    /// The names asked for most.
    top_names: Vec<NameCount>,
    /// The names blocked most.
    top_blocked: Vec<NameCount>,
    /// The clients that asked most.
    top_clients: Vec<ClientCount>,
    /// Queries per policy, most first.
    policies: Vec<PolicyCount>,
    /// Answers per upstream (not from the cache) and their average time, most first.
    upstreams: Vec<UpstreamLatency>,
    /// With `policy` or `client`: what was counted, and from when (`null` otherwise).
    scope: Option<StatsScope>,
    /// The pod that counted them (`HOSTNAME`); `null` with `node=all`.
    node: Option<String>,
    /// With `node=all`: each pod, and whether its counts are in (`null` otherwise).
    nodes: Option<Vec<NodeAnswerSchema>>,
}

/// The scope of a report counted from the query log.
#[derive(Serialize, ToSchema)]
pub(crate) struct StatsScope {
    /// The policy asked for.
    policy: Option<String>,
    /// The client asked for: an address, a subnet or a client name.
    client: Option<String>,
    /// The oldest entry the query log holds, Unix ms: the counts reach back no further
    /// (`query_log.memory_entries` bounds it).
    since_ms: Option<u64>,
}

/// Queries by outcome.
#[derive(Serialize, ToSchema)]
pub(crate) struct StatsTotals {
    /// Every answered query.
    queries: u64,
    /// Blocked: by a rule (`FilteredBlockList`), a blocked service or a schedule.
    blocked: u64,
    /// Let through by an exception (`NotFilteredAllowList`).
    allowlisted: u64,
    /// Answered by a `$dnsrewrite` rule (`RewrittenRule`).
    rewritten: u64,
    /// Answered from the cache.
    cached: u64,
    /// Of `blocked`, by a blocked service (`FilteredBlockedService`).
    blocked_services: u64,
    /// Answered with a safe-search enforcement host (`FilteredSafeSearch`).
    safe_search: u64,
}

/// One bucket (an hour or a minute) of the time series.
#[derive(Serialize, ToSchema)]
pub(crate) struct StatsPoint {
    /// The bucket's start, Unix ms.
    time_ms: u64,
    /// The same, RFC 3339.
    time: String,
    /// Every answered query.
    queries: u64,
    /// Blocked: by a rule, a blocked service or a schedule.
    blocked: u64,
    /// Let through by an exception.
    allowlisted: u64,
    /// Answered by a `$dnsrewrite` rule.
    rewritten: u64,
    /// Answered from the cache.
    cached: u64,
    /// Of `blocked`, by a blocked service.
    blocked_services: u64,
    /// Answered with a safe-search enforcement host.
    safe_search: u64,
    /// The average processing time of its queries, ms.
    avg_processing_ms: f64,
}

/// A name and its queries.
#[derive(Serialize, ToSchema)]
pub(crate) struct NameCount {
    /// The name.
    name: String,
    /// Its queries.
    count: u64,
}

/// A client and its queries.
#[derive(Serialize, ToSchema)]
pub(crate) struct ClientCount {
    /// Its address.
    client: String,
    /// Its name in the config, when it has one.
    name: Option<String>,
    /// Its queries.
    count: u64,
}

/// A policy's queries.
#[derive(Serialize, ToSchema)]
pub(crate) struct PolicyCount {
    /// The policy.
    policy: String,
    /// Queries it answered.
    queries: u64,
    /// Of those, blocked.
    blocked: u64,
    /// Of those blocked, by a blocked service.
    blocked_services: u64,
    /// Of those, answered with a safe-search enforcement host.
    safe_search: u64,
}

/// An upstream's answers and their average time.
#[derive(Serialize, ToSchema)]
pub(crate) struct UpstreamLatency {
    /// The upstream, as the query log names it.
    upstream: String,
    /// Queries it answered (answers from the cache are not counted).
    queries: u64,
    /// Their average time from request to response, ms.
    avg_ms: f64,
}
