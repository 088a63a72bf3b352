//! Who may use the API: Bearer tokens and HTTP Basic users, read from files (never from
//! the config itself), compared in constant time. A user's password may be a bcrypt hash
//! (`htpasswd -B` lines, as AdGuardHome.yaml keeps its users): the first check of a
//! password costs bcrypt's work, on the blocking pool and two at a time, and an accepted
//! one is remembered (as a SHA-256 digest) so that a client sending Basic credentials with
//! every request pays it once. `/livez`, `/readyz` and `/metrics` stay
//! open (`/metrics` too needs a credential with `admin.metrics_auth`).
//!
//! With no credentials at all (the embedded default, a first start), the API answers
//! clients on loopback only: the server's own machine, a `kubectl port-forward`, a test;
//! and only requests sent to an address or `localhost`, not to a name (see
//! [`crate::guard`]: a browser on the same machine is a loopback client too).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::AdminState;
use crate::session::Principal;

/// The credentials the API accepts.
#[derive(Clone, Default)]
pub struct Credentials {
    tokens: Vec<String>,
    users: Vec<(String, Password)>,
    /// Digests of bcrypt users' passwords already checked (user, password, hash).
    verified: Arc<Mutex<HashSet<[u8; 32]>>>,
}

/// A user's password as the users file gives it.
#[derive(Clone)]
enum Password {
    Plain(String),
    /// A bcrypt hash (`$2a$`, `$2b$`, `$2y$`).
    Bcrypt(String),
}

impl Password {
    fn of(text: &str) -> Password {
        let is_hash = ["$2a$", "$2b$", "$2y$", "$2x$"]
            .iter()
            .any(|p| text.starts_with(p))
            && text.len() == 60;
        if is_hash {
            Password::Bcrypt(text.to_owned())
        } else {
            Password::Plain(text.to_owned())
        }
    }
}

/// Failed sign-ins by client address, as AdGuard Home counts them (`authratelimiter.go`):
/// [`LOCKOUT_ATTEMPTS`] failures within a minute lock the address out for
/// [`LOCKOUT_FOR`], correct credentials included; a success clears its count. At most
/// [`LOCKOUT_CLIENTS`] addresses are tracked (the oldest are forgotten first).
#[derive(Default)]
pub(crate) struct Lockout {
    map: Mutex<std::collections::HashMap<std::net::IpAddr, Attempts>>,
}

struct Attempts {
    first: std::time::Instant,
    count: u32,
    until: Option<std::time::Instant>,
}

/// Failures that lock an address out.
pub(crate) const LOCKOUT_ATTEMPTS: u32 = 5;
/// How long a lockout lasts.
pub(crate) const LOCKOUT_FOR: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Addresses tracked at most.
const LOCKOUT_CLIENTS: usize = 4096;

impl Lockout {
    /// How long `ip` stays locked out, if it is.
    pub(crate) fn blocked(&self, ip: std::net::IpAddr) -> Option<std::time::Duration> {
        let now = std::time::Instant::now();
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&ip)?.until.filter(|u| *u > now).map(|u| u - now)
    }

    /// Counts a failure of `ip`.
    pub(crate) fn failed(&self, ip: std::net::IpAddr) {
        let now = std::time::Instant::now();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= LOCKOUT_CLIENTS && !map.contains_key(&ip) {
            map.retain(|_, a| a.until.is_some_and(|u| u > now));
            if map.len() >= LOCKOUT_CLIENTS {
                if let Some(oldest) = map.iter().min_by_key(|(_, a)| a.first).map(|(k, _)| *k) {
                    map.remove(&oldest);
                }
            }
        }
        let a = map.entry(ip).or_insert(Attempts {
            first: now,
            count: 0,
            until: None,
        });
        if now.duration_since(a.first) > std::time::Duration::from_secs(60) {
            a.first = now;
            a.count = 0;
        }
        a.count += 1;
        if a.count >= LOCKOUT_ATTEMPTS {
            a.until = Some(now + LOCKOUT_FOR);
        }
    }

    /// Clears `ip`'s failures.
    pub(crate) fn succeeded(&self, ip: std::net::IpAddr) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&ip);
    }
}

/// Why [`checked`] refused a request.
enum Refused {
    /// Its address is locked out, for this long yet.
    Locked(std::time::Duration),
    /// No accepted credential.
    Wrong,
}

/// The request's credential under the lockout: refused while its address is locked out;
/// a wrong `Authorization` counts as a failure, an accepted one clears them.
async fn checked(
    state: &AdminState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
) -> Result<Principal, Refused> {
    if let Some(left) = ip.and_then(|ip| state.lockout().blocked(ip)) {
        return Err(Refused::Locked(left));
    }
    let accepted = state.credentials().accepts(headers).await;
    if let Some(ip) = ip {
        match &accepted {
            Some(_) => state.lockout().succeeded(ip),
            None if headers.contains_key(header::AUTHORIZATION) => state.lockout().failed(ip),
            None => {}
        }
    }
    accepted.ok_or(Refused::Wrong)
}

/// The client address of a request (the TCP peer), when known.
pub(crate) fn peer(request: &Request) -> Option<std::net::IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
}

/// bcrypt checks running at once at most: each costs tens of milliseconds of a core, and
/// wrong passwords are never remembered.
static BCRYPT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// Accepted bcrypt passwords remembered at most (then forgotten all at once).
const VERIFIED_MAX: usize = 256;

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

    /// Accepts `user` with `password` over HTTP Basic; a password that is a bcrypt hash
    /// (60 characters from `$2a$`, `$2b$` or `$2y$` on) accepts what it hashes.
    pub fn with_user(mut self, user: &str, password: &str) -> Credentials {
        self.users.push((user.to_owned(), Password::of(password)));
        self
    }

    /// Reads a token file (its first line, trimmed) and a users file (`name:password` per
    /// line, the password plain or a bcrypt hash as `htpasswd -B` writes it; blank lines
    /// and `#` comments skipped). The error names the file and line.
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

    /// Who the request's `Authorization` header says it is, if it carries an accepted
    /// credential: the Basic user (`token` for a Bearer token) and how it got in.
    pub(crate) async fn accepts(&self, headers: &HeaderMap) -> Option<Principal> {
        if let Some(principal) = self.accepts_bearer(headers) {
            return Some(principal);
        }
        let (user, password) = basic(headers)?;
        let ok = self.user_is(&user, &password).await;
        ok.then_some(Principal {
            user: Some(user),
            via: "basic",
        })
    }

    /// [`Credentials::accepts`] for a Bearer token only.
    fn accepts_bearer(&self, headers: &HeaderMap) -> Option<Principal> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())?;
        let token = strip_scheme(value, "Bearer")?;
        self.token_is(token).then(|| Principal {
            user: Some("token".to_owned()),
            via: "bearer",
        })
    }

    /// Whether `token` is an accepted token. Every candidate is compared, in constant
    /// time, whatever matched before.
    pub(crate) fn token_is(&self, token: &str) -> bool {
        let mut ok = subtle::Choice::from(0);
        for t in &self.tokens {
            ok |= t.as_bytes().ct_eq(token.trim().as_bytes());
        }
        ok.into()
    }

    /// Whether `user` with `password` is a user of the users file: plain passwords in
    /// constant time (as [`Credentials::token_is`]), a bcrypt hash by bcrypt, once.
    pub(crate) async fn user_is(&self, user: &str, password: &str) -> bool {
        let mut ok = subtle::Choice::from(0);
        let mut hash = None;
        for (u, p) in &self.users {
            let name = u.as_bytes().ct_eq(user.as_bytes());
            match p {
                Password::Plain(p) => ok |= name & p.as_bytes().ct_eq(password.as_bytes()),
                Password::Bcrypt(h) if bool::from(name) => hash = Some(h.clone()),
                Password::Bcrypt(_) => {}
            }
        }
        if bool::from(ok) {
            return true;
        }
        let Some(hash) = hash else { return false };
        let digest: [u8; 32] = {
            use sha2::Digest;
            let mut d = sha2::Sha256::new();
            for part in [user, password, &hash] {
                d.update((part.len() as u64).to_le_bytes());
                d.update(part.as_bytes());
            }
            d.finalize().into()
        };
        let seen = |verified: &Mutex<HashSet<[u8; 32]>>| {
            verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&digest)
        };
        if seen(&self.verified) {
            return true;
        }
        let Ok(_permit) = BCRYPT.acquire().await else {
            return false;
        };
        let password = password.to_owned();
        let checked =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        if checked {
            let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if verified.len() >= VERIFIED_MAX {
                verified.clear();
            }
            verified.insert(digest);
        }
        checked
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
    !token.is_empty()
        && Credentials::none()
            .with_token(token)
            .accepts_bearer(headers)
            .is_some()
}

/// The user and password of an `Authorization: Basic` header.
pub(crate) fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    let encoded = strip_scheme(value, "Basic")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
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
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if crate::control::is_control_path(path) {
        return control(state, request, next).await;
    }
    let open = (OPEN_PATHS.contains(&path) && !(path == "/metrics" && state.metrics_auth()))
        || crate::ui::is_ui_path(path)
        || (path == "/api/v1/session" && request.method() == Method::POST);
    if open {
        return next.run(request).await;
    }
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let credentials = state.credentials();
    let principal =
        if crate::cluster::is_peer_read(&state, request.method(), path, request.headers()) {
            // The primary reading a replica for its merged views (crate::cluster).
            Principal {
                user: Some("sync".to_owned()),
                via: "sync",
            }
        } else if let Some(user) = state.sessions().user(request.headers()) {
            // The browser sends the cookie with whatever it asks for; a write must show it
            // comes from the UI's own script (see crate::session).
            if writes && !request.headers().contains_key(crate::session::UI_HEADER) {
                return problem(
                    StatusCode::FORBIDDEN,
                    "a write with the session cookie must carry the X-Ward-UI header",
                );
            }
            Principal {
                user: Some(user),
                via: "session",
            }
        } else if credentials.is_empty() {
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
            if let Some(message) = crate::guard::rebinding_problem(request.headers(), request.uri())
            {
                return problem(StatusCode::FORBIDDEN, &message);
            }
            Principal {
                user: None,
                via: "local",
            }
        } else {
            match checked(&state, peer(&request), request.headers()).await {
                Ok(principal) => principal,
                Err(Refused::Locked(left)) => {
                    return problem(
                        StatusCode::UNAUTHORIZED,
                        &format!(
                            "too many failed attempts from this address: try again in {} \
                             minutes",
                            left.as_secs() / 60 + 1
                        ),
                    );
                }
                Err(Refused::Wrong) => {
                    return problem(
                        StatusCode::UNAUTHORIZED,
                        "a valid Bearer token, Basic user or session is needed",
                    );
                }
            }
        };
    request.extensions_mut().insert(principal);
    if writes && let Some(message) = read_only(&state) {
        return problem(StatusCode::FORBIDDEN, &message);
    }
    next.run(request).await
}

/// Why this node takes no writes, if it takes none: a replica (its primary does), or
/// `admin.read_only`.
pub(crate) fn read_only(state: &AdminState) -> Option<String> {
    if !state.read_only() {
        return None;
    }
    Some(match state.replica_of() {
        Some(primary) => format!("this is a replica: write to the primary, {primary}"),
        None => "read-only: the config file is the source of truth (admin.read_only)".into(),
    })
}

/// [`require`] for AdGuard Home's `/control`, by its rules: `POST /control/login` is open;
/// a request with the `agh_session` cookie is who the cookie says or nobody; else HTTP
/// Basic (or a Bearer token); without them, a 401 with an empty body. With no credentials
/// configured, loopback clients only, as for the rest of the API.
async fn control(state: AdminState, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == "/control/login" && request.method() == Method::POST {
        return next.run(request).await;
    }
    let credentials = state.credentials();
    let sessions = state.agh_sessions();
    let principal = if sessions.has_cookie(request.headers()) {
        match sessions.user(request.headers()) {
            Some(user) => Principal {
                user: Some(user),
                via: "session",
            },
            None => return crate::control::unauthorized(),
        }
    } else if credentials.is_empty() {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_canonical());
        if !peer.is_some_and(|ip| ip.is_loopback())
            || crate::guard::rebinding_problem(request.headers(), request.uri()).is_some()
        {
            return crate::control::unauthorized();
        }
        Principal {
            user: None,
            via: "local",
        }
    } else {
        match checked(&state, peer(&request), request.headers()).await {
            Ok(principal) => principal,
            Err(_) => return crate::control::unauthorized(),
        }
    };
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if writes && let Some(message) = read_only(&state) {
        return crate::control::text(StatusCode::FORBIDDEN, message);
    }
    request.extensions_mut().insert(principal);
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

    #[tokio::test]
    async fn tokens_and_users_are_checked() {
        let c = Credentials::none()
            .with_token("s3cret-token")
            .with_user("admin", "pw:with:colons");
        let via = |h: HeaderMap| {
            let c = c.clone();
            async move { c.accepts(&h).await.map(|p| (p.via, p.user)) }
        };
        assert_eq!(
            via(headers("Bearer s3cret-token")).await,
            Some(("bearer", Some("token".to_owned())))
        );
        assert!(c.accepts(&headers("bearer s3cret-token")).await.is_some());
        assert!(c.accepts(&headers("Bearer s3cret-tokeN")).await.is_none());
        assert!(c.accepts(&headers("Bearer s3cret")).await.is_none());
        assert!(c.accepts(&headers("Bearer ")).await.is_none());
        assert_eq!(
            via(headers(&basic("admin", "pw:with:colons"))).await,
            Some(("basic", Some("admin".to_owned())))
        );
        assert!(c.accepts(&headers(&basic("admin", "pw"))).await.is_none());
        assert!(
            c.accepts(&headers(&basic("root", "pw:with:colons")))
                .await
                .is_none()
        );
        assert!(c.accepts(&headers("Basic !!!not-base64")).await.is_none());
        assert!(c.accepts(&HeaderMap::new()).await.is_none());
        // A token is not a password and the other way round.
        assert!(c.accepts(&headers("Bearer pw:with:colons")).await.is_none());
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

    #[tokio::test]
    async fn files_are_read_and_bad_lines_named() {
        let dir = std::env::temp_dir().join(format!("ward-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("token");
        let users = dir.join("users");
        std::fs::write(&token, "abc123\n").unwrap();
        std::fs::write(&users, "# admins\nalice:one\n\nbob:two\n").unwrap();
        let c = Credentials::from_files(Some(&token), Some(&users)).unwrap();
        assert!(c.accepts(&headers("Bearer abc123")).await.is_some());
        assert!(c.accepts(&headers(&basic("bob", "two"))).await.is_some());
        std::fs::write(&users, "alice:one\nbroken\n").unwrap();
        let err = Credentials::from_files(None, Some(&users)).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        std::fs::write(&token, "\n").unwrap();
        assert!(Credentials::from_files(Some(&token), None).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn bcrypt_hashes_are_passwords_checked_once() {
        // `htpasswd -nbB alice secret` writes $2y$; AdGuardHome.yaml keeps $2a$.
        let hash = bcrypt::hash_with_result("secret", 4).unwrap();
        let y = hash.format_for_version(bcrypt::Version::TwoY);
        let a = hash.format_for_version(bcrypt::Version::TwoA);
        let c = Credentials::none()
            .with_user("alice", &y)
            .with_user("bob", &a)
            .with_user("carol", "$2y$short-is-a-password");
        assert!(c.user_is("alice", "secret").await);
        assert!(!c.user_is("alice", "Secret").await);
        assert!(
            !c.user_is("alice", &y).await,
            "the hash is not the password"
        );
        assert!(c.user_is("bob", "secret").await);
        assert!(!c.user_is("bob", "").await);
        assert!(c.user_is("carol", "$2y$short-is-a-password").await);
        assert!(
            c.accepts(&headers(&basic("alice", "secret")))
                .await
                .is_some()
        );
        // Remembered: the digests of the two accepted, not of the refused ones.
        assert_eq!(c.verified.lock().unwrap().len(), 2);
        assert!(!format!("{c:?}").contains("$2"));
    }
}
