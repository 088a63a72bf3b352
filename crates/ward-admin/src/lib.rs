//! Ward's admin HTTP server. The Kubernetes probes: `/livez` answers while the process
//! runs, `/readyz` once the rules are compiled and the DNS listeners are open; `/metrics`
//! for Prometheus (all three open to everyone: the metrics carry counts and config names,
//! never a query name or a client address; `admin.metrics_auth` puts `/metrics` behind the
//! credentials). Behind [`auth`]: `GET /api/v1/status` (the
//! served state), the config as a whole and "why is this name blocked?" ([`api`]), a
//! resource for each thing users edit (lists, policies and their rules, clients, records,
//! upstream groups), the query log and the statistics, and the OpenAPI document of all of
//! it with a page that shows it. Bodies are limited to 4 MiB, requests to 30 seconds.
//! In front of all of it, [`guard`]: what a page of another site cannot make a browser
//! send (a write that is not JSON, a request from another origin, a rebinding `Host`).
//! [`listener`] serves the router with a header timeout and a connection cap.
//!
//! Every route is registered through `utoipa-axum` together with its `#[utoipa::path]`
//! documentation, so `/api/v1/openapi.json` describes exactly what the router serves.

#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod cluster;
mod control;
mod guard;
pub mod listener;
mod openapi;
mod querylog;
mod resources;
mod session;
mod stats;
pub mod sync;
mod ui;
pub mod webhook;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use prometheus_client::registry::Registry;
use tokio::sync::Notify;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use ward_state::querylog::QueryLog;
use ward_state::stats::Stats;

/// Produces the body of `GET /api/v1/status` (a JSON object; `version` and `ready` are
/// added to it).
pub type StatusFn = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// Empties the DNS answer cache (the server's, handed over at start).
pub type CacheClear = Arc<dyn Fn() + Send + Sync>;

/// What the admin endpoints report and change; shared with the server that sets it.
#[derive(Clone, Default)]
pub struct AdminState {
    ready: Arc<AtomicBool>,
    status: Arc<OnceLock<StatusFn>>,
    control: Arc<OnceLock<Arc<api::Control>>>,
    refresh: Arc<OnceLock<Arc<Notify>>>,
    /// Empties the DNS answer cache.
    cache_clear: Arc<OnceLock<CacheClear>>,
    query_log: Arc<OnceLock<QueryLog>>,
    stats: Arc<OnceLock<Stats>>,
    metrics: Arc<OnceLock<Arc<Registry>>>,
    /// One config write at a time, from reading the serving config to the reload's
    /// outcome: two API writes at once would otherwise each change the same old config and
    /// the second would undo the first.
    writes: Arc<tokio::sync::Mutex<()>>,
    credentials: Arc<auth::Credentials>,
    /// The web UI's signed-in sessions.
    sessions: Arc<session::Sessions>,
    /// The sessions of AdGuard Home's `POST /control/login`.
    agh_sessions: Arc<AghSessions>,
    /// Failed sign-ins by address.
    lockout: Arc<auth::Lockout>,
    /// Places for the query log's live tails.
    tails: querylog::Tails,
    cluster: Arc<OnceLock<cluster::Cluster>>,
    read_only: bool,
    metrics_auth: bool,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl AdminState {
    /// An admin server accepting `credentials`; `read_only` refuses every write.
    pub fn new(credentials: auth::Credentials, read_only: bool) -> AdminState {
        AdminState {
            credentials: Arc::new(credentials),
            read_only,
            ..AdminState::default()
        }
    }

    /// Puts `/metrics` behind the API's credentials (`admin.metrics_auth`) when `on`.
    pub fn with_metrics_auth(mut self, on: bool) -> AdminState {
        self.metrics_auth = on;
        self
    }

    fn metrics_auth(&self) -> bool {
        self.metrics_auth
    }

    /// Hands the API what it changes, once the config is loaded (until then the config
    /// endpoints answer 503). Only the first call counts.
    pub fn set_control(&self, control: api::Control) {
        let _ = self.control.set(Arc::new(control));
    }

    pub(crate) fn control(&self) -> Option<&Arc<api::Control>> {
        self.control.get()
    }

    /// Lets `POST /api/v1/lists/{id}/refresh` wake the list refresher: `check_now` is the
    /// [`Notify`] it waits on (the one SIGHUP notifies), which makes every downloaded or
    /// timed list due at once. Until then that endpoint answers 409 for such lists. Only
    /// the first call counts.
    pub fn set_list_refresh(&self, check_now: Arc<Notify>) {
        let _ = self.refresh.set(check_now);
    }

    pub(crate) fn list_refresh(&self) -> Option<&Arc<Notify>> {
        self.refresh.get()
    }

    /// Lets `POST /control/cache_clear` empty the DNS server's answer cache. Only the first
    /// call counts.
    pub fn set_cache_clear(&self, clear: CacheClear) {
        let _ = self.cache_clear.set(clear);
    }

    pub(crate) fn cache_clear(&self) -> Option<&CacheClear> {
        self.cache_clear.get()
    }

    /// Lets `GET /api/v1/querylog` search `log` (until then, and when the query log is
    /// disabled, it answers 503). Only the first call counts.
    pub fn set_query_log(&self, log: QueryLog) {
        let _ = self.query_log.set(log);
    }

    pub(crate) fn query_log(&self) -> Option<&QueryLog> {
        self.query_log.get()
    }

    /// Lets `GET /api/v1/stats` report `stats` and `POST /api/v1/stats/reset` reset them
    /// (until then both answer 503). Only the first call counts.
    pub fn set_stats(&self, stats: Stats) {
        let _ = self.stats.set(stats);
    }

    pub(crate) fn stats(&self) -> Option<&Stats> {
        self.stats.get()
    }

    /// Lets `GET /metrics` encode `registry`, the server's one registry (until then it
    /// answers 503). Only the first call counts.
    pub fn set_metrics(&self, registry: Arc<Registry>) {
        let _ = self.metrics.set(registry);
    }

    /// Waits for the turn to write the config; hold it until the write's reload is over.
    /// Owned, so the task that finishes a write ([`api::save_and_apply`]) keeps it after
    /// the request is gone.
    pub(crate) async fn write_turn(&self) -> api::WriteTurn {
        self.writes.clone().lock_owned().await
    }

    fn credentials(&self) -> &auth::Credentials {
        &self.credentials
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    /// The primary's address when this node is a replica (its writes go there).
    fn replica_of(&self) -> Option<String> {
        let config = self.control()?.reloader.current().config.clone();
        (config.sync.role == ward_config::SyncRole::Replica)
            .then(|| config.sync.primary.clone())
            .flatten()
    }

    /// Names this pod and its cluster: the sync token it accepts for the primary's reads,
    /// and on the primary its replicas (for `node=all` and `/api/v1/nodes`). Only the first
    /// call counts.
    pub fn set_cluster(&self, cluster: cluster::Cluster) {
        let _ = self.cluster.set(cluster);
    }

    pub(crate) fn cluster(&self) -> Option<&cluster::Cluster> {
        self.cluster.get()
    }

    /// This pod's name, as entries and reports give it.
    pub(crate) fn node_name(&self) -> String {
        self.cluster()
            .map_or_else(|| "ward".to_owned(), |c| c.node.clone())
    }

    /// `GET /api/v1/status`'s body.
    pub(crate) fn status_value(&self) -> serde_json::Value {
        let mut body = match self.status.get() {
            Some(status) => status(),
            None => serde_json::json!({}),
        };
        if let Some(object) = body.as_object_mut() {
            object.insert("version".into(), env!("CARGO_PKG_VERSION").into());
            object.insert("ready".into(), self.is_ready().into());
        }
        body
    }

    pub(crate) fn tails(&self) -> &querylog::Tails {
        &self.tails
    }

    fn sessions(&self) -> &session::Sessions {
        &self.sessions
    }

    fn agh_sessions(&self) -> &session::Sessions {
        &self.agh_sessions.0
    }

    fn lockout(&self) -> &auth::Lockout {
        &self.lockout
    }

    /// Reports the served state through `status` at `GET /api/v1/status` from now on
    /// (until then it reports only the version and readiness). Only the first call counts.
    pub fn set_status(&self, status: StatusFn) {
        let _ = self.status.set(status);
    }

    /// Marks the server ready (or not) for `/readyz`.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// The `agh_session` cookie's sessions.
struct AghSessions(session::Sessions);

impl Default for AghSessions {
    fn default() -> AghSessions {
        AghSessions(session::Sessions::named(session::AGH_COOKIE))
    }
}

/// Request bodies above this are refused (413).
const BODY_LIMIT: usize = 4 << 20;

/// Requests taking longer are answered 408.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The admin routes. Serve them with
/// `into_make_service_with_connect_info::<SocketAddr>()`: without credentials the API
/// answers loopback clients only, and needs their address to know.
pub fn router(state: AdminState) -> Router {
    let (routes, document) = routes().split_for_parts();
    routes
        .merge(ui::routes())
        .merge(control::routes())
        .layer(Extension(openapi::Document::new(&document)))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ))
        .layer(axum::middleware::from_fn(guard::same_site))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // gzip when the client asks: the UI's files, and the API's JSON (a day of stats per
        // minute is 200 KB, 10 % of that gzipped). Not event streams (tower-http's default).
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// The OpenAPI document as JSON (for tests that check what calls the API).
#[cfg(test)]
pub(crate) fn openapi_json() -> serde_json::Value {
    let (_, document) = routes().split_for_parts();
    serde_json::from_str(&document.to_json().expect("serializes")).expect("is JSON")
}

/// Every route with its documentation. Handlers in one `routes!` share a path.
fn routes() -> OpenApiRouter<AdminState> {
    use resources::{clients, forward, lists, policies, records, upstreams};
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(livez))
        .routes(routes!(readyz))
        .routes(routes!(status))
        .routes(routes!(cluster::nodes))
        .routes(routes!(session::sign_in, session::who, session::sign_out))
        .routes(routes!(api::get_config, api::put_config))
        .routes(routes!(api::check))
        .routes(routes!(lists::catalogue))
        .routes(routes!(lists::all, lists::add))
        .routes(routes!(lists::one, lists::replace, lists::remove))
        .routes(routes!(lists::refresh))
        .routes(routes!(policies::services))
        .routes(routes!(policies::check_rule))
        .routes(routes!(policies::all, policies::add))
        .routes(routes!(policies::one, policies::replace, policies::remove))
        .routes(routes!(
            policies::rules,
            policies::replace_rules,
            policies::add_rule,
            policies::remove_rule
        ))
        .routes(routes!(
            clients::all,
            clients::replace,
            clients::add,
            clients::remove
        ))
        .routes(routes!(
            records::all,
            records::replace,
            records::add,
            records::remove
        ))
        .routes(routes!(upstreams::all, upstreams::add))
        .routes(routes!(forward::all, forward::replace))
        .routes(routes!(
            upstreams::one,
            upstreams::replace,
            upstreams::remove
        ))
        .routes(routes!(querylog::search))
        .routes(routes!(querylog::stream))
        .routes(routes!(querylog::export))
        .routes(routes!(stats::report))
        .routes(routes!(stats::reset))
        .routes(routes!(metrics))
        .routes(routes!(openapi::document))
        .routes(routes!(openapi::docs_page))
}

/// The process runs.
#[utoipa::path(get, path = "/livez", tag = "probes", security(()),
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
async fn livez() -> &'static str {
    "ok\n"
}

/// The rules are compiled and the DNS listeners are open.
#[utoipa::path(get, path = "/readyz", tag = "probes", security(()),
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 503, description = "`not ready`", body = String, content_type = "text/plain"),
    ))]
async fn readyz(State(state): State<AdminState>) -> (StatusCode, &'static str) {
    if state.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// The content type of `/metrics`: OpenMetrics text, which Prometheus asks for first.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Prometheus metrics, OpenMetrics text.
///
/// The counters and gauges of the server's one registry (docs/metrics.md lists them).
/// Open to everyone, like the probes, so a Prometheus in another pod can scrape it: it
/// carries counts and config names (policies, lists, upstreams), never a query name or a
/// client address. With `admin.metrics_auth: true` it needs the API's credentials.
#[utoipa::path(get, path = "/metrics", tag = "metrics", operation_id = "get_metrics",
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The metrics", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 401, description = "`admin.metrics_auth` is on and no valid credential \
            came", body = openapi::ApiError),
        (status = 503, description = "Starting", body = openapi::ApiError),
    ))]
async fn metrics(State(state): State<AdminState>) -> Response {
    let Some(registry) = state.metrics.get() else {
        return api::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the metrics are not registered yet: the server is starting",
        );
    };
    let mut text = String::with_capacity(16 << 10);
    match prometheus_client::encoding::text::encode(&mut text, registry) {
        Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(e) => api::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding the metrics failed: {e}"),
        ),
    }
}

/// The served state: version, readiness, generation, reloads, lists.
///
/// `version` and `ready` are always there; the rest once the server has loaded its
/// config: the generation and revision serving, the last reload and the counts by outcome,
/// every list with its rules, its last copy and its download activity, and `warnings`:
/// what filters less than the config asks (a list with no copy yet, and the policies that
/// go without it).
#[utoipa::path(get, path = "/api/v1/status", tag = "status", operation_id = "get_status",
    responses((status = 200, description = "The served state", body = Object)))]
async fn status(State(state): State<AdminState>) -> Json<serde_json::Value> {
    Json(state.status_value())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    /// A request from a loopback client (no credentials are configured in these tests).
    fn local(path: &str) -> Request<Body> {
        let mut req = Request::get(path).body(Body::empty()).unwrap();
        let from: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(from));
        req
    }

    async fn status(app: &Router, path: &str) -> StatusCode {
        app.clone().oneshot(local(path)).await.unwrap().status()
    }

    #[tokio::test]
    async fn probes() {
        let state = AdminState::default();
        let app = router(state.clone());
        assert_eq!(status(&app, "/livez").await, StatusCode::OK);
        assert_eq!(
            status(&app, "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        state.set_ready(true);
        assert_eq!(status(&app, "/readyz").await, StatusCode::OK);
        assert_eq!(status(&app, "/nope").await, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn status_adds_version_and_readiness_to_the_served_state() {
        use http_body_util::BodyExt;
        let state = AdminState::default();
        state.set_status(Arc::new(|| serde_json::json!({ "generation": 7 })));
        state.set_ready(true);
        let app = router(state);
        let resp = app.oneshot(local("/api/v1/status")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["generation"], 7);
        assert_eq!(v["ready"], true);
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    }
}
