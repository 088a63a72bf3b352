//! Who may use the API: Bearer tokens and HTTP Basic users, read from files (never from
//! the config itself), compared in constant time. `/livez`, `/readyz` and `/metrics` stay
//! open (`/metrics` too needs a credential with `admin.metrics_auth`).
//!
//! With no credentials at all (the embedded default, a first start), the API answers
//! clients on loopback only: the server's own machine, a `kubectl port-forward`, a test;
//! and only requests sent to an address or `localhost`, not to a name (see
//! [`crate::guard`]: a browser on the same machine is a loopback client too).

use std::net::SocketAddr;
use std::path::Path;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::AdminState;

/// The credentials the API accepts.
#[derive(Clone, Default)]
pub struct Credentials {
    tokens: Vec<String>,
    users: Vec<(String, String)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets themselves.
        f.debug_struct("Credentials")
            .field("tokens", &self.tokens.len())
            .field(
                "users",
                &self.users.iter().map(|(u, _)| u).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Credentials {
    /// No credentials: loopback clients only.
    pub fn none() -> Credentials {
        Credentials::default()
    }

    /// Accepts `token` as a Bearer token (empty tokens are ignored).
    pub fn with_token(mut self, token: &str) -> Credentials {
        let token = token.trim();
        if !token.is_empty() {
            self.tokens.push(token.to_owned());
        }
        self
    }

    /// Accepts `user` with `password` over HTTP Basic.
    pub fn with_user(mut self, user: &str, password: &str) -> Credentials {
        self.users.push((user.to_owned(), password.to_owned()));
        self
    }

    /// Reads a token file (its first line, trimmed) and a users file (`name:password` per
    /// line; blank lines and `#` comments skipped). The error names the file and line.
    pub fn from_files(
        token_file: Option<&Path>,
        users_file: Option<&Path>,
    ) -> Result<Credentials, String> {
        let mut credentials = Credentials::default();
        if let Some(path) = token_file {
            let token = read_secret(path).map_err(|e| format!("the admin token: {e}"))?;
            credentials = credentials.with_token(&token);
        }
        if let Some(path) = users_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading the admin users {}: {e}", path.display()))?;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                match line.split_once(':') {
                    Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                        credentials = credentials.with_user(user, password);
                    }
                    _ => {
                        return Err(format!(
                            "{} line {}: expected name:password",
                            path.display(),
                            i + 1
                        ));
                    }
                }
            }
        }
        Ok(credentials)
    }

    /// Whether any credential is configured.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.users.is_empty()
    }

    /// Whether the request's `Authorization` header carries an accepted credential. Every
    /// candidate is compared, in constant time, whatever matched before.
    fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let mut ok = subtle::Choice::from(0);
        if let Some(token) = strip_scheme(value, "Bearer") {
            for t in &self.tokens {
                ok |= t.as_bytes().ct_eq(token.trim().as_bytes());
            }
        } else if let Some(encoded) = strip_scheme(value, "Basic") {
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim())
            else {
                return false;
            };
            let Some((user, password)) = std::str::from_utf8(&decoded)
                .ok()
                .and_then(|s| s.split_once(':'))
            else {
                return false;
            };
            for (u, p) in &self.users {
                ok |= u.as_bytes().ct_eq(user.as_bytes()) & p.as_bytes().ct_eq(password.as_bytes());
            }
        }
        ok.into()
    }
}

/// A secret kept in a file (a token: the admin's, the sync's): its first line, trimmed.
/// An empty one is an error; the error names the file, never the secret.
pub fn read_secret(path: &Path) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let secret = text.lines().next().unwrap_or("").trim();
    if secret.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(secret.to_owned())
}

/// Whether the request's `Authorization` header is `Bearer <token>` with this (non-empty)
/// token, compared in constant time.
pub(crate) fn bearer_is(headers: &HeaderMap, token: &str) -> bool {
    !token.is_empty() && Credentials::none().with_token(token).accepts(headers)
}

fn strip_scheme<'v>(value: &'v str, scheme: &str) -> Option<&'v str> {
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then_some(rest)
}

fn problem(status: StatusCode, message: &str) -> Response {
    let body = axum::Json(serde_json::json!({ "error": message }));
    let mut response = (status, body).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ward\", Basic realm=\"ward\""),
        );
    }
    response
}

/// Answered without credentials: the probes, and the metrics a Prometheus in another pod
/// scrapes (counts and config names, no query names or client addresses).
const OPEN_PATHS: &[&str] = &["/livez", "/readyz", "/metrics"];

/// The middleware in front of everything but [`OPEN_PATHS`] (and `/metrics` too with
/// `admin.metrics_auth`) and the web UI's files, which hold no data (the sign-in page must
/// load without credentials).
pub(crate) async fn require(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let open = (OPEN_PATHS.contains(&path) && !(path == "/metrics" && state.metrics_auth()))
        || crate::ui::is_ui_path(path);
    if open {
        return next.run(request).await;
    }
    let credentials = state.credentials();
    if credentials.is_empty() {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_canonical());
        if !peer.is_some_and(|ip| ip.is_loopback()) {
            return problem(
                StatusCode::UNAUTHORIZED,
                "no admin credentials are configured, so the API answers local clients only; \
                 set admin.token_file or admin.users_file",
            );
        }
        // Loopback is trusted only when the request was sent to this machine by address:
        // a browser page whose name was re-pointed at 127.0.0.1 (DNS rebinding) sends that
        // name. A request without any Host is not a browser's.
        if let Some(message) = crate::guard::rebinding_problem(request.headers(), request.uri()) {
            return problem(StatusCode::FORBIDDEN, &message);
        }
    } else if !credentials.accepts(request.headers()) {
        return problem(
            StatusCode::UNAUTHORIZED,
            "a valid Bearer token or Basic user is needed",
        );
    }
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if writes && state.read_only() {
        let config = state.control().map(|c| c.reloader.current().config.clone());
        let replica_of = config
            .as_deref()
            .filter(|c| c.sync.role == ward_config::SyncRole::Replica)
            .and_then(|c| c.sync.primary.clone());
        let message = match replica_of {
            Some(primary) => format!("this is a replica: write to the primary, {primary}"),
            None => "read-only: the config file is the source of truth (admin.read_only)".into(),
        };
        return problem(StatusCode::FORBIDDEN, &message);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    fn basic(user: &str, password: &str) -> String {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {encoded}")
    }

    #[test]
    fn tokens_and_users_are_checked() {
        let c = Credentials::none()
            .with_token("s3cret-token")
            .with_user("admin", "pw:with:colons");
        assert!(c.accepts(&headers("Bearer s3cret-token")));
        assert!(c.accepts(&headers("bearer s3cret-token")));
        assert!(!c.accepts(&headers("Bearer s3cret-tokeN")));
        assert!(!c.accepts(&headers("Bearer s3cret")));
        assert!(!c.accepts(&headers("Bearer ")));
        assert!(c.accepts(&headers(&basic("admin", "pw:with:colons"))));
        assert!(!c.accepts(&headers(&basic("admin", "pw"))));
        assert!(!c.accepts(&headers(&basic("root", "pw:with:colons"))));
        assert!(!c.accepts(&headers("Basic !!!not-base64")));
        assert!(!c.accepts(&HeaderMap::new()));
        // A token is not a password and the other way round.
        assert!(!c.accepts(&headers("Bearer pw:with:colons")));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn the_sync_token_is_a_bearer_token_and_never_empty() {
        assert!(bearer_is(&headers("Bearer sync-token"), "sync-token"));
        assert!(!bearer_is(&headers("Bearer other"), "sync-token"));
        assert!(!bearer_is(
            &headers(&basic("sync-token", "x")),
            "sync-token"
        ));
        assert!(!bearer_is(&headers("Bearer "), ""));
        assert!(!bearer_is(&HeaderMap::new(), ""));
    }

    #[test]
    fn files_are_read_and_bad_lines_named() {
        let dir = std::env::temp_dir().join(format!("ward-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("token");
        let users = dir.join("users");
        std::fs::write(&token, "abc123\n").unwrap();
        std::fs::write(&users, "# admins\nalice:one\n\nbob:two\n").unwrap();
        let c = Credentials::from_files(Some(&token), Some(&users)).unwrap();
        assert!(c.accepts(&headers("Bearer abc123")));
        assert!(c.accepts(&headers(&basic("bob", "two"))));
        std::fs::write(&users, "alice:one\nbroken\n").unwrap();
        let err = Credentials::from_files(None, Some(&users)).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        std::fs::write(&token, "\n").unwrap();
        assert!(Credentials::from_files(Some(&token), None).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
