//! `/api/v1/sync`: what the primary and its replicas say to each other, authenticated with
//! the shared sync token (`sync.token_file`), not with the admin credentials.
//!
//! - `GET /api/v1/sync/state`: the node's [`SyncState`] (a replica pulls the primary's).
//! - `GET /api/v1/sync/lists/{sha256}`: a list's text by its hash.
//! - `POST /api/v1/sync/push`: a replica takes a state the primary pushes. The token is
//!   checked before the body is read; a state that does not pass
//!   [`SyncState::check`] (a bad list hash, a revision that is not its content's) is
//!   refused with 400 and the reason, and changes nothing.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use ward_state::reload::Reloader;

use crate::api::{error, starting};
use ward_state::sync::{Replica, SyncErrorKind, SyncState};

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
        // A write like any other: JSON, and no other site's page may send it.
        .layer(axum::middleware::from_fn(crate::guard::same_site))
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

/// The largest state a push may carry: it holds the whole config; lists travel separately.
const PUSH_LIMIT: usize = 16 << 20;

/// Takes the body as a plain [`Body`] and reads it only once the token is checked: a JSON
/// extractor would read and parse up to [`PUSH_LIMIT`] for anyone who asks.
async fn push(State(slot): State<SyncSlot>, headers: HeaderMap, body: Body) -> Response {
    let Some(control) = slot.get() else {
        return starting();
    };
    if !authorized(control, &headers) {
        return error(StatusCode::UNAUTHORIZED, "the sync token is needed");
    }
    let Some(replica) = &control.replica else {
        return error(StatusCode::CONFLICT, "this node is not a replica");
    };
    let bytes = match axum::body::to_bytes(body, PUSH_LIMIT).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("reading the state (at most {PUSH_LIMIT} bytes): {e}"),
            );
        }
    };
    let state: SyncState = match serde_json::from_slice(&bytes) {
        Ok(state) => state,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("the state: {e}")),
    };
    match replica.accept(state, &control.reloader).await {
        Ok(outcome) => Json(json!({ "outcome": outcome, "revision": replica.status().revision }))
            .into_response(),
        Err(e) => {
            let status = match e.kind() {
                // The state is wrong, or its config is: the sender's problem.
                SyncErrorKind::Invalid | SyncErrorKind::Rejected => StatusCode::BAD_REQUEST,
                SyncErrorKind::Primary => StatusCode::BAD_GATEWAY,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, e.to_string())
        }
    }
}
