//! What a page on another site must not make the API do. A browser lets any page send
//! "simple" requests to any address, the admin listener on loopback included, without
//! asking the server first (no CORS preflight): `GET`, and `POST` with a body of
//! `text/plain`, `application/x-www-form-urlencoded` or `multipart/form-data`. With no
//! credentials configured the API trusts loopback clients, and the browser is one. So:
//!
//! - a write (anything but `GET`, `HEAD`, `OPTIONS`) with a body must say it is JSON
//!   (YAML too where the API takes YAML: `PUT /api/v1/config`), else 415. A simple type is
//!   refused even without a body. A write without a body and without a content type
//!   (`curl -X POST .../refresh`, `DELETE ...?rule=`) passes: there is nothing to read.
//! - a request with an `Origin` header (browsers send one with every cross-site request,
//!   and with every same-site write) whose host and port are not the request's own `Host`
//!   is refused (403). `http` or `https`: a TLS proxy in front of the listener changes
//!   the scheme the browser sees, not the host.
//! - with no credentials configured, a request for the API whose `Host` is not an IP
//!   address or `localhost` is refused (403, in [`crate::auth`]): a page whose name the
//!   attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name as `Host`, and
//!   would otherwise read the API as a same-origin page.

use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::api::error;

/// The middleware in front of every route: [`origin_problem`], then
/// [`content_type_problem`].
pub(crate) async fn same_site(request: Request, next: Next) -> Response {
    let control = crate::control::is_control_path(request.uri().path());
    if let Some(message) = origin_problem(request.headers(), request.uri()) {
        if control {
            return crate::control::text(StatusCode::FORBIDDEN, message);
        }
        return error(StatusCode::FORBIDDEN, message);
    }
    let has_body = has_body(&request);
    if let Some(message) = content_type_problem(
        request.method(),
        request.uri().path(),
        request.headers(),
        has_body,
    ) {
        if control {
            // AdGuard Home's words (internal/home/control.go).
            return crate::control::text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "only content-type application/json is allowed",
            );
        }
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, message);
    }
    next.run(request).await
}

/// Whether the request may carry a body: a `Content-Length` above 0, a
/// `Transfer-Encoding`, or (for requests made in process) a body that is not empty.
fn has_body(request: &Request) -> bool {
    let headers = request.headers();
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => {
            headers.contains_key(header::TRANSFER_ENCODING)
                || request.body().size_hint().exact() != Some(0)
        }
    }
}

/// The body types a write to `path` with `method` may have. YAML is not a type a browser
/// sends without asking first, so it is as safe as JSON where the API reads it.
fn accepted_types(method: &Method, path: &str) -> &'static [&'static str] {
    const JSON: &[&str] = &["application/json"];
    const JSON_OR_YAML: &[&str] = &[
        "application/json",
        "application/yaml",
        "text/yaml",
        "application/x-yaml",
    ];
    if method == Method::PUT && path == "/api/v1/config" {
        JSON_OR_YAML
    } else {
        JSON
    }
}

/// Why a write's content type is refused, if it is.
pub(crate) fn content_type_problem(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    has_body: bool,
) -> Option<String> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let accepted = accepted_types(method, path);
    let wanted = || accepted.join(" or ");
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return has_body
            .then(|| format!("a {method} with a body needs Content-Type: {}", wanted()));
    };
    let given = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if accepted.contains(&given.as_str()) {
        return None;
    }
    Some(format!(
        "Content-Type {given:?} is not accepted for a {method} to {path}: send {} (a \
         browser page of another site can send text/plain, form and multipart bodies \
         without asking, so they are never accepted)",
        wanted()
    ))
}

/// Why a request's `Origin` is refused, if it is: it is not `http(s)://` the request's own
/// `Host` (or the URI's authority, when there is no `Host`).
pub(crate) fn origin_problem(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    let origin = headers.get(header::ORIGIN)?;
    let refuse = |why: &str| {
        Some(format!(
            "Origin {:?} {why}: the admin API answers pages of its own origin only",
            String::from_utf8_lossy(origin.as_bytes())
        ))
    };
    let Some((scheme, origin_host, origin_port)) = origin.to_str().ok().and_then(parse_origin)
    else {
        return refuse("is not an http or https origin");
    };
    let Some(host) = request_host(headers, uri) else {
        return refuse("cannot be compared: the request has no Host");
    };
    let default_port = if scheme == "https" { 443 } else { 80 };
    let host_port = host.port_u16().unwrap_or(default_port);
    let same = host.host().eq_ignore_ascii_case(&origin_host)
        && host_port == origin_port.unwrap_or(default_port);
    if same {
        None
    } else {
        refuse(&format!("is not this server's ({})", host.as_str()))
    }
}

/// `scheme://host[:port]` of an `Origin` header, for `http` and `https` only (`null`,
/// `file://` and extension origins are never this server).
fn parse_origin(text: &str) -> Option<(&'static str, String, Option<u16>)> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => "http",
        "https" => "https",
        _ => return None,
    };
    // An origin has no path; tolerate a final slash.
    let authority: Authority = rest.strip_suffix('/').unwrap_or(rest).parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    Some((scheme, authority.host().to_owned(), authority.port_u16()))
}

/// The authority the request was sent to: its `Host` header, else the URI's.
pub(crate) fn request_host(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<Authority> {
    match headers.get(header::HOST) {
        Some(value) => value.to_str().ok()?.parse().ok(),
        None => uri.authority().cloned(),
    }
}

/// Why, with no credentials configured, a request's `Host` is refused, if it is: it is not
/// an IP literal or `localhost` ([`host_is_literal`]), or it does not parse. A request
/// without any `Host` (nor an authority in its URI) passes: no browser sends one.
pub(crate) fn rebinding_problem(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    if !headers.contains_key(header::HOST) && uri.authority().is_none() {
        return None;
    }
    let shown = headers.get(header::HOST).map_or_else(
        || uri.authority().map(|a| a.to_string()).unwrap_or_default(),
        |v| String::from_utf8_lossy(v.as_bytes()).into_owned(),
    );
    match request_host(headers, uri) {
        Some(host) if host_is_literal(&host) => None,
        _ => Some(format!(
            "Host {shown:?} is not an IP address or localhost: with no admin credentials \
             configured the API answers requests sent to an address only (a page of another \
             site could reach it through DNS rebinding); use http://127.0.0.1:PORT, or set \
             admin.token_file or admin.users_file"
        )),
    }
}

/// Whether a `Host` names this machine without DNS: an IPv4 address, a bracketed IPv6
/// address or `localhost`, each with an optional port. No name an attacker owns can be one.
pub(crate) fn host_is_literal(host: &Authority) -> bool {
    let name = host.host();
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    bare.parse::<std::net::IpAddr>().is_ok() || name.eq_ignore_ascii_case("localhost")
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Uri};

    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn writes_with_a_body_must_be_json_and_simple_types_never_pass() {
        let put = Method::PUT;
        let post = Method::POST;
        let delete = Method::DELETE;
        let ct = |v: &str| headers(&[(header::CONTENT_TYPE, v)]);
        let none = HeaderMap::new();
        let table: &[(&Method, &str, &HeaderMap, bool, bool)] = &[
            // method, path, headers, has a body, accepted
            (
                &post,
                "/api/v1/records",
                &ct("application/json"),
                true,
                true,
            ),
            (
                &post,
                "/api/v1/records",
                &ct("Application/JSON; charset=utf-8"),
                true,
                true,
            ),
            (&post, "/api/v1/records", &ct("text/plain"), true, false),
            (
                &post,
                "/api/v1/records",
                &ct("text/plain;charset=UTF-8"),
                true,
                false,
            ),
            (
                &post,
                "/api/v1/records",
                &ct("application/x-www-form-urlencoded"),
                true,
                false,
            ),
            (
                &post,
                "/api/v1/records",
                &ct("multipart/form-data; boundary=x"),
                true,
                false,
            ),
            (
                &post,
                "/api/v1/records",
                &ct("application/yaml"),
                true,
                false,
            ),
            (&post, "/api/v1/records", &none, true, false),
            // No body, no type: nothing to read (refresh, stats reset, DELETE ?rule=).
            (&post, "/api/v1/lists/ads/refresh", &none, false, true),
            (&delete, "/api/v1/policies/main/rules", &none, false, true),
            // A simple type is refused even without a body.
            (
                &post,
                "/api/v1/stats/reset",
                &ct("text/plain"),
                false,
                false,
            ),
            (&put, "/api/v1/config", &ct("application/yaml"), true, true),
            (&put, "/api/v1/config", &ct("text/yaml"), true, true),
            (&put, "/api/v1/config", &ct("application/json"), true, true),
            (&put, "/api/v1/config", &ct("text/plain"), true, false),
            (
                &Method::GET,
                "/api/v1/status",
                &ct("text/plain"),
                true,
                true,
            ),
        ];
        for (method, path, headers, body, ok) in table {
            let problem = content_type_problem(method, path, headers, *body);
            assert_eq!(
                problem.is_none(),
                *ok,
                "{method} {path} {headers:?}: {problem:?}"
            );
        }
    }

    #[test]
    fn an_origin_must_be_the_host_the_request_was_sent_to() {
        let uri = Uri::from_static("/api/v1/records");
        let check = |origin: &str, host: &str| {
            origin_problem(
                &headers(&[(header::ORIGIN, origin), (header::HOST, host)]),
                &uri,
            )
            .is_none()
        };
        assert!(check("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(check("http://LOCALHOST:8080", "localhost:8080"));
        assert!(check("http://[::1]:8080", "[::1]:8080"));
        assert!(check("http://ward.lan", "ward.lan:80"));
        assert!(check("https://ward.example", "ward.example"));
        assert!(check("https://ward.example/", "ward.example:443"));
        assert!(!check("http://evil.example", "127.0.0.1:8080"));
        assert!(!check("http://127.0.0.1:8081", "127.0.0.1:8080"));
        assert!(!check("http://127.0.0.1", "127.0.0.1:8080"));
        assert!(!check("https://ward.example", "ward.example:80"));
        assert!(!check("null", "127.0.0.1:8080"));
        assert!(!check("file://", "127.0.0.1:8080"));
        assert!(!check("chrome-extension://abc", "127.0.0.1:8080"));
        assert!(!check("http://user@127.0.0.1:8080", "127.0.0.1:8080"));
        // No Origin: not a browser's cross-site request.
        assert!(origin_problem(&headers(&[(header::HOST, "x")]), &uri).is_none());
        // An Origin with nothing to compare it with.
        assert!(origin_problem(&headers(&[(header::ORIGIN, "http://x")]), &uri).is_some());
    }

    #[test]
    fn a_host_that_does_not_parse_is_refused_and_none_at_all_passes() {
        let uri = Uri::from_static("/api/v1/status");
        let problem = |host: &str| rebinding_problem(&headers(&[(header::HOST, host)]), &uri);
        assert!(problem("127.0.0.1:8080").is_none());
        assert!(problem("evil.example").is_some());
        assert!(problem("[fe80::1%eth0]:8080").is_some());
        assert!(rebinding_problem(&HeaderMap::new(), &uri).is_none());
    }

    #[test]
    fn literal_hosts_are_addresses_and_localhost() {
        let literal = |h: &str| host_is_literal(&h.parse().unwrap());
        for host in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "192.168.1.71:8080",
            "[::1]",
            "[::1]:8080",
            "[fd00::71]:80",
            "localhost",
            "LocalHost:8080",
        ] {
            assert!(literal(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8080",
            "ward.lan",
        ] {
            assert!(!literal(host), "{host}");
        }
    }
}
