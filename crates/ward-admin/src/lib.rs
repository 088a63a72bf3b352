//! Ward's admin HTTP server. The Kubernetes probes: `/livez` answers while the process
//! runs, `/readyz` once the rules are compiled and the DNS listeners are open (both open to
//! everyone). Behind [`auth`]: `GET /api/v1/status` (the served state), `GET` and `PUT
//! /api/v1/config`, `GET /api/v1/check` ([`api`]). Bodies are limited to 4 MiB, requests to
//! 30 seconds.

#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod sync;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

/// Produces the body of `GET /api/v1/status` (a JSON object; `version` and `ready` are
/// added to it).
pub type StatusFn = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// What the admin endpoints report and change; shared with the server that sets it.
#[derive(Clone, Default)]
pub struct AdminState {
    ready: Arc<AtomicBool>,
    status: Arc<OnceLock<StatusFn>>,
    control: Arc<OnceLock<Arc<api::Control>>>,
    credentials: Arc<auth::Credentials>,
    read_only: bool,
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

    /// Hands the API what it changes, once the config is loaded (until then the config
    /// endpoints answer 503). Only the first call counts.
    pub fn set_control(&self, control: api::Control) {
        let _ = self.control.set(Arc::new(control));
    }

    pub(crate) fn control(&self) -> Option<&Arc<api::Control>> {
        self.control.get()
    }

    fn credentials(&self) -> &auth::Credentials {
        &self.credentials
    }

    fn read_only(&self) -> bool {
        self.read_only
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

/// Request bodies above this are refused (413).
const BODY_LIMIT: usize = 4 << 20;

/// Requests taking longer are answered 408.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The admin routes. Serve them with
/// `into_make_service_with_connect_info::<SocketAddr>()`: without credentials the API
/// answers loopback clients only, and needs their address to know.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/status", get(status))
        .route("/api/v1/config", get(api::get_config).put(api::put_config))
        .route("/api/v1/check", get(api::check))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

async fn status(State(state): State<AdminState>) -> Json<serde_json::Value> {
    let mut body = match state.status.get() {
        Some(status) => status(),
        None => serde_json::json!({}),
    };
    if let Some(object) = body.as_object_mut() {
        object.insert("version".into(), env!("CARGO_PKG_VERSION").into());
        object.insert("ready".into(), state.is_ready().into());
    }
    Json(body)
}

async fn readyz(State(state): State<AdminState>) -> (StatusCode, &'static str) {
    if state.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
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
