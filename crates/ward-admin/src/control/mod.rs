//! `/control`: the part of AdGuard Home's API that Home Assistant's integration (the PyPI
//! `adguardhome` library), adguardhome-sync and external-dns's AdGuard provider call, with
//! AdGuard Home's paths, field names, status codes and bodies, so that they talk to Ward
//! as they talk to AdGuard Home.
//!
//! One model, two APIs: every endpoint reads and writes Ward's own config and state, never
//! a second store. AdGuard Home's global settings are the default policy's (its lists,
//! custom rules as `user_rules`, safe search, blocked services); its protection is
//! `dns.protection_enabled`; its rewrites are local records; parental control and safe
//! browsing are the catalogue's adult and malware lists in the default policy. Writes take
//! the API's one write path ([`crate::resources::edit`]): validated, saved where the
//! API's writes go, applied through the reloader.
//!
//! The rules of the road are AdGuard Home's (`internal/home/control.go`, `authhttp.go`):
//! errors are `text/plain` lines; success is JSON, `OK\n`, or an empty 200; a request
//! without credentials gets a 401 with an empty body; `POST /control/login` gives an
//! `agh_session` cookie. Where AdGuard Home is stricter than its own tools (an empty body
//! with `Content-Type: application/json`, which adguardhome-sync sends and AdGuard Home
//! refuses), Ward takes it.

mod filtering;
mod general;
mod observe;
mod settings;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use serde::de::DeserializeOwned;
use ward_config::Config;

use crate::AdminState;
use crate::resources::Refusal;

/// The version `/control/status` reports: the tools refuse anything older than v0.107.68
/// (python-adguardhome's `MINIMUM_VERSION`, adguardhome-sync's `MinAgh`), and this is the
/// AdGuard Home release whose API Ward follows.
pub(crate) const AGH_VERSION: &str = "v0.107.79";

/// The `/control` routes.
pub(crate) fn routes() -> Router<AdminState> {
    use filtering as f;
    use general as g;
    use observe as o;
    use settings as s;
    Router::new()
        .route("/control/status", get(g::status))
        .route("/control/protection", post(g::protection))
        .route("/control/dns_info", get(g::dns_info))
        .route("/control/dns_config", post(g::dns_config))
        .route("/control/version.json", post(g::version).get(g::version))
        .route("/control/update", post(g::update))
        .route("/control/login", post(g::login))
        .route("/control/logout", get(g::logout))
        .route("/control/profile", get(g::profile))
        .route("/control/profile/update", put(g::profile_update))
        .route("/control/cache_clear", post(g::cache_clear))
        .route("/control/dhcp/status", get(g::dhcp_status))
        .route("/control/dhcp/{*action}", post(g::dhcp_unsupported))
        .route("/control/tls/status", get(g::tls_status))
        .route("/control/tls/configure", post(g::tls_configure))
        .route("/control/tls/validate", post(g::tls_configure))
        .route("/control/access/list", get(g::access_list))
        .route("/control/filtering/status", get(f::status))
        .route("/control/filtering/config", post(f::config_update))
        .route("/control/filtering/add_url", post(f::add_url))
        .route("/control/filtering/remove_url", post(f::remove_url))
        .route("/control/filtering/set_url", post(f::set_url))
        .route("/control/filtering/refresh", post(f::refresh))
        .route("/control/filtering/set_rules", post(f::set_rules))
        .route("/control/filtering/check_host", get(f::check_host))
        .route("/control/parental/status", get(s::parental_status))
        .route("/control/parental/enable", post(s::parental_enable))
        .route("/control/parental/disable", post(s::parental_disable))
        .route("/control/safebrowsing/status", get(s::safebrowsing_status))
        .route("/control/safebrowsing/enable", post(s::safebrowsing_enable))
        .route(
            "/control/safebrowsing/disable",
            post(s::safebrowsing_disable),
        )
        .route("/control/safesearch/status", get(s::safesearch_status))
        .route("/control/safesearch/settings", put(s::safesearch_settings))
        .route("/control/safesearch/enable", post(s::safesearch_enable))
        .route("/control/safesearch/disable", post(s::safesearch_disable))
        .route("/control/blocked_services/all", get(s::services_all))
        .route("/control/blocked_services/get", get(s::services_get))
        .route("/control/blocked_services/update", put(s::services_update))
        .route("/control/rewrite/list", get(s::rewrite_list))
        .route("/control/rewrite/add", post(s::rewrite_add))
        .route("/control/rewrite/delete", post(s::rewrite_delete))
        .route("/control/rewrite/update", put(s::rewrite_update))
        .route("/control/rewrite/settings", get(s::rewrite_settings))
        .route(
            "/control/rewrite/settings/update",
            put(s::rewrite_settings_update),
        )
        .route("/control/clients", get(s::clients))
        .route("/control/clients/add", post(s::clients_add))
        .route("/control/clients/update", post(s::clients_update))
        .route("/control/clients/delete", post(s::clients_delete))
        .route("/control/clients/search", post(s::clients_search))
        .route("/control/access/set", post(g::access_set))
        .route("/control/stats", get(o::stats))
        .route("/control/stats_reset", post(o::stats_reset))
        .route("/control/stats/config", get(o::stats_config))
        .route("/control/stats/config/update", put(o::stats_config_update))
        .route("/control/stats_info", get(o::stats_info))
        .route("/control/querylog", get(o::querylog))
        .route("/control/querylog/config", get(o::querylog_config))
        .route(
            "/control/querylog/config/update",
            put(o::querylog_config_update),
        )
        .route("/control/querylog_info", get(o::querylog_info))
        // AdGuard Home's answer for a path it does not have (a plain 404 line).
        .route("/control/{*rest}", any(not_found))
}

/// Whether `path` is one of AdGuard Home's.
pub(crate) fn is_control_path(path: &str) -> bool {
    path == "/control" || path.starts_with("/control/")
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "404 page not found")
}

/// An error as AdGuard Home writes one: the status, and the message as a line of text.
pub(crate) fn text(status: StatusCode, message: impl std::fmt::Display) -> Response {
    let mut response = (status, format!("{message}\n")).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// 200 `OK\n`, as `aghhttp.OK` writes it.
pub(crate) fn ok() -> Response {
    text(StatusCode::OK, "OK")
}

/// An empty 200, as most of AdGuard Home's setters answer.
pub(crate) fn empty() -> Response {
    StatusCode::OK.into_response()
}

/// A JSON 200.
pub(crate) fn json(value: impl serde::Serialize) -> Response {
    axum::Json(value).into_response()
}

/// The 401 AdGuard Home answers without credentials: an empty body, no challenge.
pub(crate) fn unauthorized() -> Response {
    StatusCode::UNAUTHORIZED.into_response()
}

/// A JSON body as AdGuard Home reads one: unknown fields ignored, missing ones defaulted
/// (the structs say how); one that does not parse is a 400 `<prefix>: <error>`.
pub(crate) struct Body<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| text(StatusCode::BAD_REQUEST, format!("json decode: {e}")))
    }
}

/// The serving config, if one is loaded yet.
pub(crate) fn config(state: &AdminState) -> Option<std::sync::Arc<Config>> {
    state.control().map(|c| c.reloader.current().config.clone())
}

/// The answer while no config is loaded.
pub(crate) fn starting() -> Response {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "starting: no config loaded yet",
    )
}

/// A config write through the API's one write path, answered AdGuard Home's way: `done`
/// when it is applied (or changes nothing), the refusal's message as text otherwise.
pub(crate) async fn write(
    state: &AdminState,
    done: fn() -> Response,
    change: impl FnOnce(&mut Config) -> Result<(), Refusal>,
) -> Response {
    let response = crate::resources::edit(state, change).await;
    if response.status() == StatusCode::OK {
        return done();
    }
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    text(status, message)
}

/// A refusal of a `/control` write.
pub(crate) fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal::new(status, message)
}

/// The default policy, which stands for AdGuard Home's global settings.
pub(crate) fn default_policy(
    config: &mut Config,
) -> Result<&mut ward_config::PolicyConfig, Refusal> {
    let name = config.default_policy.clone();
    config
        .policies
        .get_mut(&name)
        .ok_or_else(|| refuse(StatusCode::INTERNAL_SERVER_ERROR, "no default policy"))
}

/// The stable AdGuard Home id of a Ward list: a positive 53-bit number from its id, the
/// same on every pod and after every restart.
pub(crate) fn list_number(id: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(id.as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(n) >> 11) as i64 + 1
}
