//! `/api/v1/sync`: what the primary and its replicas say to each other, authenticated with
//! the shared sync token (`sync.token_file`), not with the admin credentials.
//!
//! - `GET /api/v1/sync/state`: the node's [`SyncState`] (a replica pulls the primary's).
//! - `GET /api/v1/sync/lists/{sha256}`: a list's text by its hash.
//! - `POST /api/v1/sync/push`: a replica takes a state the primary pushes.

use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use ward_state::reload::Reloader;

use crate::api::{error, starting};
use ward_state::sync::{Replica, SyncState};

/// What the sync endpoints need.
#[derive(Clone)]
pub struct SyncControl {
    /// The shared token.
    pub token: Arc<str>,
    /// The node's reloader.
    pub reloader: Arc<Reloader>,
    /// The replica side, on a replica.
    pub replica: Option<Arc<Replica>>,
}

fn authorized(control: &SyncControl, headers: &HeaderMap) -> bool {
    crate::auth::bearer_is(headers, &control.token)
}

/// Where the sync routes find their [`SyncControl`] once the node has loaded its config
/// (until then they answer 503).
pub type SyncSlot = Arc<OnceLock<SyncControl>>;

/// The sync routes, with their own authentication; merge them into the admin router.
pub fn router(slot: SyncSlot) -> Router {
    Router::new()
        .route("/api/v1/sync/state", get(state))
        .route("/api/v1/sync/lists/{sha256}", get(list))
        .route("/api/v1/sync/push", post(push))
        // A state carries the whole config; lists travel separately.
        .layer(axum::extract::DefaultBodyLimit::max(16 << 20))
        .with_state(slot)
}

async fn state(State(slot): State<SyncSlot>, headers: HeaderMap) -> Response {
    let Some(control) = slot.get() else {
        return starting();
    };
    if !authorized(control, &headers) {
        return error(StatusCode::UNAUTHORIZED, "the sync token is needed");
    }
    Json(SyncState::of(&control.reloader.current())).into_response()
}

async fn list(
    State(slot): State<SyncSlot>,
    headers: HeaderMap,
    Path(sha256): Path<String>,
) -> Response {
    let Some(control) = slot.get() else {
        return starting();
    };
    if !authorized(control, &headers) {
        return error(StatusCode::UNAUTHORIZED, "the sync token is needed");
    }
    let snapshot = control.reloader.current();
    match SyncState::list_text(&snapshot, &sha256) {
        Some(text) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text.to_vec(),
        )
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no list with SHA-256 {sha256}"),
        ),
    }
}

async fn push(
    State(slot): State<SyncSlot>,
    headers: HeaderMap,
    Json(state): Json<SyncState>,
) -> Response {
    let Some(control) = slot.get() else {
        return starting();
    };
    if !authorized(control, &headers) {
        return error(StatusCode::UNAUTHORIZED, "the sync token is needed");
    }
    let Some(replica) = &control.replica else {
        return error(StatusCode::CONFLICT, "this node is not a replica");
    };
    match replica.accept(state, &control.reloader).await {
        Ok(outcome) => Json(json!({ "outcome": outcome, "revision": replica.status().revision }))
            .into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, e),
    }
}
