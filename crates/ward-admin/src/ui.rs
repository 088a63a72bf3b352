//! The web UI's files at `/ui/`: embedded in release builds, read from
//! `crates/ward-admin/ui/` by debug builds (rust-embed), so an edit shows on reload with
//! no rebuild and no Node. The files hold no data: they are served without credentials,
//! and the pages ask `/api/v1` for everything, with the session's credentials.
//!
//! Every file carries an `ETag` (its SHA-256) with `Cache-Control: no-cache`, so a browser
//! revalidates and gets a 304 while the file is unchanged; a path without an extension is
//! a page of the UI's own routing and gets `index.html`. Every answer carries a strict
//! Content-Security-Policy: scripts, styles and connections from this origin only, no
//! inline code, no framing. Compression (gzip) is the router's, for the API's answers too.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rust_embed::Embed;

/// The UI's files; tests, the vendoring script and the docs stay out of the binary.
#[derive(Embed)]
#[folder = "ui/"]
#[exclude = "test/*"]
#[exclude = "*.sh"]
#[exclude = "*.md"]
struct Assets;

/// What the pages may load and connect to: this origin only (`data:` images for icons).
pub(crate) const CSP: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The UI's routes, open to everyone (see the module's documentation).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route(
            "/ui/",
            get(|headers: HeaderMap| async move { file("", &headers) }),
        )
        .route(
            "/ui/{*path}",
            get(
                |Path(path): Path<String>, headers: HeaderMap| async move { file(&path, &headers) },
            ),
        )
}

/// Whether `path` is one of the UI's: `/`, `/ui` and everything under `/ui/`.
pub(crate) fn is_ui_path(path: &str) -> bool {
    path == "/" || path == "/ui" || path.starts_with("/ui/")
}

/// The file at `path` under `/ui/`, `index.html` for a page, 404 for anything else.
fn file(path: &str, headers: &HeaderMap) -> Response {
    let Some(path) = clean(path) else {
        return not_found();
    };
    let (name, asset) = match Assets::get(path) {
        Some(asset) => (path, asset),
        // A page's address (`/ui/log`, `/ui/policies/kids`): the app routes it.
        None if is_page(path) => match Assets::get("index.html") {
            Some(asset) => ("index.html", asset),
            None => return not_found(),
        },
        None => return not_found(),
    };
    let etag = format!("\"{}\"", hex(&asset.metadata.sha256_hash()));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = asset.data.into_owned().into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, content_type(name));
        r
    };
    let h = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, etag);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(h);
    response
}

/// The headers every UI answer carries.
fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

fn not_found() -> Response {
    let mut response = (StatusCode::NOT_FOUND, "not found\n").into_response();
    secure(response.headers_mut());
    response
}

/// `path` as a relative file name, `index.html` for the root; `None` for anything that
/// could leave the folder or name a hidden file (`..`, `.x`, empty segments, a backslash).
fn clean(path: &str) -> Option<&str> {
    if path.is_empty() {
        return Some("index.html");
    }
    let safe = !path.contains('\\')
        && path
            .split('/')
            .all(|segment| !segment.is_empty() && !segment.starts_with('.'));
    safe.then_some(path)
}

/// Whether `path` is an address of the UI's own routing (no file extension).
fn is_page(path: &str) -> bool {
    !path.rsplit('/').next().unwrap_or(path).contains('.')
}

/// The content type of a UI file, by its extension (the folder holds few kinds).
fn content_type(name: &str) -> HeaderValue {
    let ext = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    HeaderValue::from_static(match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "webmanifest" => "application/json",
        "txt" | "" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The names of the embedded files (for tests).
#[cfg(test)]
pub(crate) fn names() -> Vec<String> {
    Assets::iter().map(|n| n.into_owned()).collect()
}

/// An embedded file's text (for tests).
#[cfg(test)]
pub(crate) fn text(name: &str) -> Option<String> {
    Assets::get(name).map(|f| String::from_utf8_lossy(&f.data).into_owned())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn fetch(path: &str, etag: Option<&str>) -> Response {
        let mut req = Request::get(path);
        if let Some(etag) = etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        let app = crate::router(crate::AdminState::default());
        // No client address: the files are served to everyone, unlike the API.
        app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn body(response: Response) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn files_are_served_with_their_type_an_etag_and_the_csp() {
        for (path, kind) in [
            ("/ui/", "text/html"),
            ("/ui/app.js", "text/javascript"),
            ("/ui/style.css", "text/css"),
            ("/ui/vendor/preact.js", "text/javascript"),
        ] {
            let r = fetch(path, None).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            let h = r.headers();
            assert!(
                h[header::CONTENT_TYPE].to_str().unwrap().starts_with(kind),
                "{path}"
            );
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP, "{path}");
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(h[header::CACHE_CONTROL], "no-cache");
            let etag = h[header::ETAG].to_str().unwrap().to_owned();
            // unchanged: 304 without a body, same ETag
            let again = fetch(path, Some(&etag)).await;
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
            assert_eq!(again.headers()[header::ETAG], etag.as_str());
            assert!(body(again).await.is_empty());
            // another ETag: the file
            let other = fetch(path, Some("\"0000\"")).await;
            assert_eq!(other.status(), StatusCode::OK, "{path}");
        }
    }

    #[tokio::test]
    async fn the_root_leads_to_the_ui_and_pages_get_the_index() {
        let r = fetch("/", None).await;
        assert!(r.status().is_redirection());
        assert_eq!(r.headers()[header::LOCATION], "/ui/");
        let index = body(fetch("/ui/", None).await).await;
        for page in ["/ui/check", "/ui/log", "/ui/policies/kids"] {
            let r = fetch(page, None).await;
            assert_eq!(r.status(), StatusCode::OK, "{page}");
            assert_eq!(body(r).await, index, "{page}");
        }
        // a file that is not there is a 404, not the index
        assert_eq!(
            fetch("/ui/missing.js", None).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn nothing_outside_the_folder_or_left_out_of_it_is_served() {
        for path in [
            "/ui/../Cargo.toml",
            "/ui/%2e%2e/Cargo.toml",
            "/ui/..%2fCargo.toml",
            "/ui/vendor/../../src/lib.rs",
            "/ui/vendor/update.sh",
            "/ui/test/e2e/ui.test.mjs",
            "/ui/.hidden",
        ] {
            let r = fetch(path, None).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP, "{path}");
        }
    }

    /// Every index.html reference and every relative import of the UI's modules names an
    /// embedded file: a typo would otherwise show only in a browser.
    #[test]
    fn every_import_names_an_embedded_file() {
        let names = names();
        let index = text("index.html").unwrap();
        for r in ["/ui/app.js", "/ui/style.css"] {
            assert!(index.contains(r), "index.html loads {r}");
        }
        let mut checked = 0;
        for name in names.iter().filter(|n| n.ends_with(".js")) {
            let source = text(name).unwrap();
            let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
            for target in imports(&source) {
                let resolved = resolve(dir, &target);
                assert!(
                    names.contains(&resolved),
                    "{name} imports {target} ({resolved}), which is not in the UI"
                );
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} imports found");
    }

    /// Every `/api/v1/...` path the UI calls is a path of the OpenAPI document (the pages
    /// and the API cannot drift apart unnoticed).
    #[test]
    fn every_api_path_the_ui_calls_is_documented() {
        let document = crate::openapi_json();
        let paths = document["paths"].as_object().unwrap();
        let mut called = 0;
        for name in names()
            .iter()
            .filter(|n| n.ends_with(".js") && !n.starts_with("vendor/"))
        {
            let source = text(name).unwrap();
            for path in api_paths(&source) {
                assert!(
                    paths.keys().any(|p| same_path(p, &path)),
                    "{name} calls {path}, which the OpenAPI document does not have"
                );
                called += 1;
            }
        }
        assert!(called >= 3, "only {called} API calls found");
    }

    /// The module names after `from` and `import(` in `source` that are relative.
    fn imports(source: &str) -> Vec<String> {
        let mut found = Vec::new();
        for marker in ["from '", "from \"", "from\"", "import('", "import(\""] {
            for (at, _) in source.match_indices(marker) {
                let rest = &source[at + marker.len()..];
                let end = rest.find(['\'', '"']).unwrap_or(0);
                let target = &rest[..end];
                if target.starts_with("./") || target.starts_with("../") {
                    found.push(target.to_owned());
                }
            }
        }
        found
    }

    /// `target` relative to the folder `dir` of the importing file.
    fn resolve(dir: &str, target: &str) -> String {
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for segment in target.split('/') {
            match segment {
                "." => {}
                ".." => {
                    parts.pop();
                }
                s => parts.push(s),
            }
        }
        parts.join("/")
    }

    /// Whether the document's `documented` (`/api/v1/policies/{name}`) is the UI's
    /// `called` (`/api/v1/policies/${name}` in a template literal).
    fn same_path(documented: &str, called: &str) -> bool {
        let (d, c): (Vec<_>, Vec<_>) =
            (documented.split('/').collect(), called.split('/').collect());
        d.len() == c.len()
            && d.iter().zip(&c).all(|(d, c)| {
                d == c || (d.starts_with('{') && c.starts_with("${") && c.ends_with('}'))
            })
    }

    /// The string literals in `source` that start with `/api/v1/`.
    fn api_paths(source: &str) -> Vec<String> {
        let mut found = Vec::new();
        for quote in ['\'', '"', '`'] {
            let marker = format!("{quote}/api/v1/");
            for (at, _) in source.match_indices(&marker) {
                let rest = &source[at + 1..];
                let end = rest.find(quote).unwrap_or(rest.len());
                found.push(rest[..end].to_owned());
            }
        }
        found
    }

    #[test]
    fn paths_that_could_leave_the_folder_are_refused() {
        for bad in [
            "../Cargo.toml",
            "a/../../x",
            "..",
            ".git/config",
            "a//b",
            "a\\b",
        ] {
            assert_eq!(clean(bad), None, "{bad}");
        }
        assert_eq!(clean(""), Some("index.html"));
        assert_eq!(clean("pages/log.js"), Some("pages/log.js"));
    }

    #[test]
    fn pages_are_paths_without_an_extension() {
        assert!(is_page("log"));
        assert!(is_page("policies/kids"));
        assert!(!is_page("app.js"));
        assert!(!is_page("vendor/missing.css"));
    }
}
