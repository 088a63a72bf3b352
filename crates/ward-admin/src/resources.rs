//! REST resources over the config, one module per thing users edit: `lists`, `policies`
//! (and each policy's custom `rules`), `clients`, `records`, `upstreams`, `forward`.
//!
//! Reads answer from the config serving now. Every write takes the same path ([`edit`]):
//! copy the serving config, change the copy (404 for an unknown id or name, 409 for a
//! duplicate or for removing what something still names), validate it (400 with every bad
//! field's path), then [`crate::api::save_and_apply`]: saved atomically over the config
//! file and applied through the reloader, answering 200 with the outcome and the revision.
//! Bodies are the config's own JSON shapes, as `GET` returns them.

pub(crate) mod clients;
pub(crate) mod forward;
pub(crate) mod lists;
pub(crate) mod policies;
pub(crate) mod records;
pub(crate) mod upstreams;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use ward_config::Config;
use ward_state::reload::Trigger;

use crate::AdminState;
use crate::api::{self, error};

/// A JSON request body. One that does not parse is a 400 naming the field
/// (`servers[1]: invalid upstream ...`), whatever its content type says.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = e.path().to_string();
            let message = if at == "." {
                format!("body: {}", e.inner())
            } else {
                format!("body: {at}: {}", e.inner())
            };
            bad_request(message).into_response()
        })?;
        de.end()
            .map_err(|e| bad_request(format!("body: {e}")).into_response())?;
        Ok(JsonBody(value))
    }
}

/// A body that names a new item beside the item's own fields (`{"name": "guests",
/// "extends": "main"}`). Not `#[serde(flatten)]`: it would let unknown fields through,
/// where the config types refuse them.
pub(crate) struct Named<T> {
    pub(crate) name: String,
    pub(crate) item: T,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut fields = serde_json::Map::deserialize(d)?;
        let name = match fields.remove("name") {
            Some(serde_json::Value::String(name)) => name,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "name: expected a string, not {other}"
                )));
            }
            None => return Err(D::Error::missing_field("name")),
        };
        let item = serde_path_to_error::deserialize(serde_json::Value::Object(fields)).map_err(
            |e| match e.path().to_string().as_str() {
                "." => D::Error::custom(e.into_inner()),
                at => D::Error::custom(format!("{at}: {}", e.into_inner())),
            },
        )?;
        Ok(Named { name, item })
    }
}

/// Answers what `read` finds in the serving config, as JSON.
pub(crate) fn read<T: Serialize>(
    state: &AdminState,
    read: impl FnOnce(&Config) -> Result<T, Refusal>,
) -> Response {
    let Some(control) = state.control() else {
        return api::starting();
    };
    match read(&control.reloader.current().config) {
        Ok(found) => Json(found).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// The one write path: `change` edits a copy of the serving config (or refuses with the
/// answer to give), which is validated, saved and applied. One write at a time.
pub(crate) async fn edit(
    state: &AdminState,
    change: impl FnOnce(&mut Config) -> Result<(), Refusal>,
) -> Response {
    let Some(control) = state.control() else {
        return api::starting();
    };
    if control.config_path.is_none() {
        return api::embedded_default();
    }
    // Also for the writes that come by another listener than the API's (external-dns's).
    if let Some(message) = crate::auth::read_only(state) {
        return error(StatusCode::FORBIDDEN, message);
    }
    let turn = state.write_turn().await;
    let mut config = (*control.reloader.current().config).clone();
    if let Err(refusal) = change(&mut config) {
        return refusal.into_response();
    }
    // As the file will load (found by the admin_body fuzz target: a CNAME written in
    // mixed case served as written, its file loaded lowercase).
    config.normalise();
    if let Err(e) = config.validate() {
        return api::invalid_config(&e);
    }
    api::save_and_apply(control, turn, config, Trigger::Api).await
}

/// Why a request is refused before anything changes (400, 404, 409), with what to do
/// about it. A user's mistake: answered, not logged.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.status, self.message)
    }
}

/// 404 for `what` `name`, naming the ones there are.
pub(crate) fn not_found<'a>(
    what: &str,
    name: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Refusal {
    let known: Vec<&str> = known.into_iter().collect();
    let message = if known.is_empty() {
        format!("no {what} {name:?}; there are none")
    } else {
        format!("no {what} {name:?}; known: {}", known.join(", "))
    };
    Refusal::new(StatusCode::NOT_FOUND, message)
}

/// 409: `message` says what is in the way.
pub(crate) fn conflict(message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::CONFLICT, message)
}

/// 400 for a request that cannot be right whatever the config.
pub(crate) fn bad_request(message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, message)
}

/// Refuses a body that names something else than its URL: a `PUT` replaces, it does not
/// rename.
pub(crate) fn same_name(what: &str, url: &str, given: &str) -> Result<(), Refusal> {
    if given == url {
        Ok(())
    } else {
        Err(bad_request(format!(
            "{what}: the body says {given:?} but the URL {url:?}; to rename, add the new one \
             and remove the old one"
        )))
    }
}

/// "policies a, b" for an error message.
pub(crate) fn names(items: &[String]) -> String {
    items.join(", ")
}
