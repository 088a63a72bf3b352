//! What a page of another site cannot make the API do (issue 13), the metrics behind the
//! credentials, a write cancelled half-way, and the sync push's token checked before its
//! body is read; through the router (`oneshot`).

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use support::{LOCAL, json, setup, setup_applying};
use tower::ServiceExt;
use ward_admin::auth::Credentials;
use ward_admin::sync::{SyncControl, SyncSlot};
use ward_state::reload::ApplyFn;
use ward_state::sync::Replica;

/// One request from `from` with exactly these headers.
async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
    body: &str,
) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    let mut req = req.body(Body::from(body.to_owned())).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(LOCAL.parse::<SocketAddr>().unwrap()));
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

const RECORD: &str = r#"{"name": "evil.home.example", "type": "A", "value": "10.6.6.6"}"#;

#[tokio::test]
async fn a_cross_site_simple_post_is_refused_and_changes_nothing() {
    let s = setup("guard-types", Credentials::none(), false);
    let before = std::fs::read_to_string(&s.config_path).unwrap();
    for kind in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=----x",
    ] {
        let (status, body) = send(
            &s.app,
            Method::POST,
            "/api/v1/records",
            &[(header::CONTENT_TYPE, kind)],
            RECORD,
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{kind}: {body}");
        assert!(
            json(&body)["error"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
    }
    // No type at all, with a body.
    let (status, _) = send(&s.app, Method::POST, "/api/v1/records", &[], RECORD).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // YAML is for the whole config only.
    let (status, _) = send(
        &s.app,
        Method::POST,
        "/api/v1/records",
        &[(header::CONTENT_TYPE, "application/yaml")],
        RECORD,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(std::fs::read_to_string(&s.config_path).unwrap(), before);
    assert_eq!(s.generation(), 1);

    // JSON goes through; a write without a body needs no type.
    let (status, body) = send(
        &s.app,
        Method::POST,
        "/api/v1/records",
        &[(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        RECORD,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(
        &s.app,
        Method::DELETE,
        "/api/v1/records?name=evil.home.example",
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.generation(), 3);
}

#[tokio::test]
async fn another_origin_is_refused_and_the_own_one_is_not() {
    let s = setup("guard-origin", Credentials::none(), false);
    for origin in ["http://evil.example", "null", "http://127.0.0.1:9999"] {
        for (method, uri) in [
            (Method::GET, "/api/v1/querylog"),
            (Method::POST, "/api/v1/records"),
        ] {
            let (status, body) = send(
                &s.app,
                method.clone(),
                uri,
                &[
                    (header::HOST, "127.0.0.1:8080"),
                    (header::ORIGIN, origin),
                    (header::CONTENT_TYPE, "application/json"),
                ],
                RECORD,
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{origin} {method}: {body}");
            assert!(body.contains("origin"), "{body}");
        }
    }
    assert_eq!(s.generation(), 1);
    let (status, body) = send(
        &s.app,
        Method::POST,
        "/api/v1/records",
        &[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://127.0.0.1:8080"),
            (header::CONTENT_TYPE, "application/json"),
        ],
        RECORD,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn without_credentials_a_rebinding_host_is_refused() {
    let s = setup("guard-host", Credentials::none(), false);
    for host in [
        "evil.example:8080",
        "evil.example",
        "localhost.evil.example:8080",
    ] {
        let (status, body) = send(
            &s.app,
            Method::GET,
            "/api/v1/status",
            &[(header::HOST, host)],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{host}: {body}");
        assert!(body.contains("DNS rebinding"), "{body}");
    }
    for host in [
        "127.0.0.1:8080",
        "localhost:8080",
        "[::1]:8080",
        "127.0.0.1",
    ] {
        let (status, body) = send(
            &s.app,
            Method::GET,
            "/api/v1/status",
            &[(header::HOST, host)],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{host}: {body}");
    }
    // The probes answer whatever the Host (a Service name, in Kubernetes).
    let (status, _) = send(
        &s.app,
        Method::GET,
        "/livez",
        &[(header::HOST, "ward.dns.svc")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // With credentials, a name is fine: the credential is what counts.
    let s = setup(
        "guard-host-token",
        Credentials::none().with_token("t"),
        false,
    );
    let (status, _) = send(
        &s.app,
        Method::GET,
        "/api/v1/status",
        &[
            (header::HOST, "ward.example:8080"),
            (header::AUTHORIZATION, "Bearer t"),
        ],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_auth_puts_the_metrics_behind_the_credentials() {
    let s = setup("guard-metrics", Credentials::none().with_token("t"), false);
    let registry = Arc::new(prometheus_client::registry::Registry::default());
    s.state.set_metrics(registry);
    let (status, _) = send(&s.app, Method::GET, "/metrics", &[], "").await;
    assert_eq!(status, StatusCode::OK, "open by default");
    let guarded = ward_admin::router(s.state.clone().with_metrics_auth(true));
    let (status, _) = send(&guarded, Method::GET, "/metrics", &[], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(
        &guarded,
        Method::GET,
        "/metrics",
        &[(header::AUTHORIZATION, "Bearer wrong")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(
        &guarded,
        Method::GET,
        "/metrics",
        &[(header::AUTHORIZATION, "Bearer t")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The probes stay open.
    let (status, _) = send(&guarded, Method::GET, "/readyz", &[], "").await;
    assert_eq!(status, StatusCode::OK);
}

/// A write whose request is dropped while the new config is being applied (the client went
/// away, the timeout fired) still ends with the file and what serves agreeing. There is
/// no file watcher here to repair it afterwards.
#[tokio::test]
async fn a_write_cancelled_while_it_applies_lands_whole() {
    let slow: ApplyFn =
        Box::new(|_| Box::pin(async { tokio::time::sleep(Duration::from_millis(300)).await }));
    let s = setup_applying("guard-cancel", Credentials::none(), false, slow);
    let write = send(
        &s.app,
        Method::POST,
        "/api/v1/records",
        &[(header::CONTENT_TYPE, "application/json")],
        RECORD,
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(50), write)
            .await
            .is_err(),
        "the write should still be applying"
    );
    // Once the apply is over: the file and what serves are one config.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.saved(), *s.reloader.current().config);
    // The next write waits for the cancelled one to be over, and builds on it.
    let (status, body) = send(
        &s.app,
        Method::DELETE,
        "/api/v1/records?name=nas.home.example",
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let saved = s.saved();
    let serving = s.reloader.current().config.clone();
    assert_eq!(saved, *serving, "the file and what serves");
    assert!(
        serving
            .records
            .iter()
            .any(|r| r.name == "evil.home.example")
    );
    assert!(!serving.records.iter().any(|r| r.name == "nas.home.example"));
    assert_eq!(s.generation(), 3);
}

fn push_app(s: &support::Setup, token: &str) -> Router {
    let slot = SyncSlot::default();
    let local = (*s.reloader.current().config).clone();
    let replica = Replica::new("http://127.0.0.1:9", token, s.dir.join("data"), local).unwrap();
    let _ = slot.set(SyncControl {
        token: token.into(),
        reloader: s.reloader.clone(),
        replica: Some(Arc::new(replica)),
    });
    ward_admin::sync::router(slot)
}

#[tokio::test]
async fn a_push_is_authorized_before_its_body_is_read() {
    let s = setup("guard-push", Credentials::none(), false);
    let app = push_app(&s, "sync-token");
    // Not JSON, and no token: refused for the token, the body never parsed.
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/v1/sync/push",
        &[(header::CONTENT_TYPE, "application/json")],
        "{ not json",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // With the token, the body's problem is the answer.
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/v1/sync/push",
        &[
            (header::CONTENT_TYPE, "application/json"),
            (header::AUTHORIZATION, "Bearer sync-token"),
        ],
        "{ not json",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_forged_push_is_refused_with_the_reason() {
    let s = setup("guard-forged", Credentials::none(), false);
    let app = push_app(&s, "sync-token");
    let mut state = ward_state::sync::SyncState::of(&s.reloader.current());
    state.lists[0].sha256 = "/tmp/x".into();
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/v1/sync/push",
        &[
            (header::CONTENT_TYPE, "application/json"),
            (header::AUTHORIZATION, "Bearer sync-token"),
        ],
        &serde_json::to_string(&state).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        json(&body)["error"].as_str().unwrap().contains("sha256"),
        "{body}"
    );
    assert_eq!(s.generation(), 1);
}
