//! Ward's admin HTTP server. The Kubernetes probes: `/livez` answers while the process
//! runs, `/readyz` once the rules are compiled and the DNS listeners are open; and
//! `GET /api/v1/status`, the served state (generation, lists, the last reload's outcome).
//! The rest of the `/api/v1` API, the web UI and `/metrics` come with issues 5 and 6.

#![deny(missing_docs)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

/// Produces the body of `GET /api/v1/status` (a JSON object; `version` and `ready` are
/// added to it).
pub type StatusFn = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// What the admin endpoints report; shared with the server that sets it.
#[derive(Clone, Default)]
pub struct AdminState {
    ready: Arc<AtomicBool>,
    status: Arc<OnceLock<StatusFn>>,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl AdminState {
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

/// The admin routes.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/status", get(status))
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

    async fn status(app: &Router, path: &str) -> StatusCode {
        let req = Request::get(path).body(Body::empty()).unwrap();
        app.clone().oneshot(req).await.unwrap().status()
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
        let req = Request::get("/api/v1/status").body(Body::empty()).unwrap();
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["generation"], 7);
        assert_eq!(v["ready"], true);
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    }
}
