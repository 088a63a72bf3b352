//! Sign-in for the web UI: `POST /api/v1/session` takes a users-file user and password or
//! the token once and answers with a session cookie (`HttpOnly`, `SameSite=Strict`), which
//! the API then accepts in place of the `Authorization` header. A page of another site can
//! neither read the cookie nor make the browser send it (SameSite=Strict); and a write
//! made with the cookie must also carry the `X-Ward-UI` header, which a cross-site request
//! cannot set without a CORS preflight that Ward never answers.
//!
//! Sessions live in memory (a restart signs everyone out), for [`TTL`] at most, and at
//! most [`MAX_SESSIONS`] at once: signing in beyond that ends the session closest to its
//! end, so no number of sign-ins can grow the table.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AdminState;
use crate::api::error;
use crate::resources::JsonBody;

/// The cookie's name.
pub(crate) const COOKIE: &str = "ward_session";
/// The cookie AdGuard Home's `POST /control/login` sets.
pub(crate) const AGH_COOKIE: &str = "agh_session";
/// The header a write made with the session cookie must carry (any value).
pub(crate) const UI_HEADER: &str = "x-ward-ui";
/// How long a session lasts.
pub(crate) const TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions held at most.
pub(crate) const MAX_SESSIONS: usize = 1024;

/// Who a request is, once the auth middleware let it in.
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    /// The user's name (`token` for the token; none for an open loopback API).
    pub(crate) user: Option<String>,
    /// `session`, `bearer`, `basic` or `local` (no credentials configured).
    pub(crate) via: &'static str,
}

struct Session {
    user: String,
    expires: Instant,
}

/// The signed-in sessions, by their secret.
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    cookie: &'static str,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions::named(COOKIE)
    }
}

impl Sessions {
    /// Sessions whose cookie is `cookie`.
    pub(crate) fn named(cookie: &'static str) -> Sessions {
        Sessions {
            map: Mutex::default(),
            cookie,
        }
    }

    /// A new session for `user`: its secret, 256 random bits as hex.
    pub(crate) fn open(&self, user: &str) -> String {
        let secret: String = (0..4)
            .map(|_| format!("{:016x}", rand::random::<u64>()))
            .collect();
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            let soonest = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone());
            if let Some(k) = soonest {
                map.remove(&k);
            }
        }
        map.insert(
            secret.clone(),
            Session {
                user: user.to_owned(),
                expires: now + TTL,
            },
        );
        secret
    }

    /// The user of the session the request's cookie names, if it is one and not over.
    pub(crate) fn user(&self, headers: &HeaderMap) -> Option<String> {
        let secret = cookie(headers, self.cookie)?;
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(secret)
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.user.clone())
    }

    /// Ends the session the request's cookie names; whether it had a cookie.
    pub(crate) fn close(&self, headers: &HeaderMap) -> bool {
        let Some(secret) = cookie(headers, self.cookie) else {
            return false;
        };
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(secret);
        true
    }

    /// Whether the request carries this store's cookie at all.
    pub(crate) fn has_cookie(&self, headers: &HeaderMap) -> bool {
        cookie(headers, self.cookie).is_some()
    }

    /// Sessions held (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

/// The value of the cookie `name`, if the request has one.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// The body of `POST /api/v1/session`: a user and password of `admin.users_file`, or the
/// token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    /// A user of `admin.users_file`.
    user: Option<String>,
    /// Its password.
    password: Option<String>,
    /// The token, instead of a user.
    token: Option<String>,
}

/// Signs in: a session cookie for the web UI.
///
/// Open to everyone (it is how one gets in); the same rules against other sites apply as
/// to every write (a JSON body, this origin). Answers 401 for a wrong user, password or
/// token, and 409 when no credentials are configured (the API is then open to this
/// machine only, with nothing to sign in with).
#[utoipa::path(post, path = "/api/v1/session", tag = "session", operation_id = "sign_in",
    security(()),
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in: the `ward_session` cookie is set", body = Object),
        (status = 401, description = "Wrong credentials", body = crate::openapi::ApiError),
        (status = 409, description = "No credentials are configured", body = crate::openapi::ApiError),
    ))]
pub(crate) async fn sign_in(
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<SignIn>,
) -> Response {
    let credentials = state.credentials();
    if credentials.is_empty() {
        return error(
            StatusCode::CONFLICT,
            "no admin credentials are configured: the API is open to this machine only, \
             with nothing to sign in with",
        );
    }
    let user = match (&body.user, &body.password, &body.token) {
        (Some(u), Some(p), None) if credentials.user_is(u, p).await => u.to_string(),
        (None, None, Some(t)) if credentials.token_is(t) => "token".to_owned(),
        _ => {
            // The same answer, and about the same time, for every kind of mistake.
            tokio::time::sleep(Duration::from_millis(250)).await;
            return error(StatusCode::UNAUTHORIZED, "wrong user, password or token");
        }
    };
    let secret = state.sessions().open(&user);
    let cookie = format!(
        "{COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        TTL.as_secs()
    );
    let mut response =
        Json(serde_json::json!({ "user": user, "ttl_s": TTL.as_secs() })).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// Who is signed in, and what they may do.
///
/// `user` (none when the API is open to this machine without credentials), how the
/// request got in (`session`, `bearer`, `basic`, `local`), and whether the API refuses
/// writes here (`read_only`, with `primary` on a replica): the web UI's banner.
#[utoipa::path(get, path = "/api/v1/session", tag = "session", operation_id = "get_session",
    responses((status = 200, description = "The session", body = Object)))]
pub(crate) async fn who(State(state): State<AdminState>, request: Request) -> Response {
    let principal = request.extensions().get::<Principal>().cloned();
    let primary = state.replica_of();
    Json(serde_json::json!({
        "user": principal.as_ref().and_then(|p| p.user.clone()),
        "via": principal.as_ref().map_or("local", |p| p.via),
        "credentials": !state.credentials().is_empty(),
        "read_only": state.read_only() || primary.is_some(),
        "primary": primary,
    }))
    .into_response()
}

/// Signs out: the session ends and its cookie is cleared.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", operation_id = "sign_out",
    responses((status = 204, description = "Signed out")))]
pub(crate) async fn sign_out(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let _ = state.sessions().close(&headers);
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("ward_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_never_holds_more_than_its_cap() {
        let sessions = Sessions::default();
        let first = sessions.open("a");
        for _ in 0..MAX_SESSIONS + 50 {
            sessions.open("b");
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        // the oldest went first
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, format!("{COOKIE}={first}").parse().unwrap());
        assert_eq!(sessions.user(&headers), None);
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let sessions = Sessions::default();
        let secret = sessions.open("alice");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("theme=dark; {COOKIE}={secret}; x=1")
                .parse()
                .unwrap(),
        );
        assert_eq!(sessions.user(&headers).as_deref(), Some("alice"));
        headers.insert(header::COOKIE, format!("{COOKIE}=nope").parse().unwrap());
        assert_eq!(sessions.user(&headers), None);
        assert_eq!(secret.len(), 64);
    }
}
