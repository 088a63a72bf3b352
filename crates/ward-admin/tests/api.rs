//! The `/api/v1` routes through the router (`oneshot`): auth, the config as a whole,
//! `check`, limits.

mod support;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use support::{LOCAL, REMOTE, Setup, basic, call, config_text, json, setup};
use tower::ServiceExt;
use ward_admin::auth::Credentials;
use ward_config::Config;

#[tokio::test]
async fn without_credentials_only_loopback_clients_get_in() {
    let s = setup("loopback", Credentials::none(), false);
    let (status, _) = call(&s.app, Method::GET, "/api/v1/status", LOCAL, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&s.app, Method::GET, "/api/v1/status", REMOTE, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("admin.token_file"), "{body}");
    // The probes stay open.
    for probe in ["/livez", "/readyz"] {
        let (status, _) = call(&s.app, Method::GET, probe, REMOTE, None, None).await;
        assert_eq!(status, StatusCode::OK, "{probe}");
    }
}

#[tokio::test]
async fn a_missing_or_wrong_credential_gets_401_and_changes_nothing() {
    let credentials = Credentials::none()
        .with_token("the-token")
        .with_user("alice", "wonderland");
    let s = setup("auth", credentials, false);
    let list = s.dir.join("ads.txt");
    let new_config = config_text("||new.example^", &list);
    let before = std::fs::read_to_string(&s.config_path).unwrap();
    let wrong = [
        None,
        Some("Bearer wrong-token".to_owned()),
        Some(basic("alice", "not-her-password")),
        Some(basic("mallory", "wonderland")),
        Some("Digest the-token".to_owned()),
    ];
    for auth in &wrong {
        // Loopback does not help once credentials exist.
        let (status, _) = call(
            &s.app,
            Method::PUT,
            "/api/v1/config",
            LOCAL,
            auth.as_deref(),
            Some(&new_config),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        let (status, _) = call(
            &s.app,
            Method::GET,
            "/api/v1/config",
            LOCAL,
            auth.as_deref(),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    assert_eq!(std::fs::read_to_string(&s.config_path).unwrap(), before);
    assert_eq!(s.reloader.current().generation, 1);

    for auth in ["Bearer the-token".to_owned(), basic("alice", "wonderland")] {
        let (status, _) = call(
            &s.app,
            Method::GET,
            "/api/v1/status",
            REMOTE,
            Some(&auth),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{auth}");
    }
}

#[tokio::test]
async fn read_only_refuses_writes_and_serves_reads() {
    let s = setup("readonly", Credentials::none(), true);
    let list = s.dir.join("ads.txt");
    let (status, body) = call(
        &s.app,
        Method::PUT,
        "/api/v1/config",
        LOCAL,
        None,
        Some(&config_text("||new.example^", &list)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("read-only"), "{body}");
    let (status, _) = call(&s.app, Method::GET, "/api/v1/config", LOCAL, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.reloader.current().generation, 1);
}

#[tokio::test]
async fn a_config_is_read_replaced_and_refused_with_the_bad_fields() {
    let s = setup("config", Credentials::none(), false);
    let (status, body) = call(&s.app, Method::GET, "/api/v1/config", LOCAL, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["config"]["default_policy"], "main");
    let revision = v["revision"].as_str().unwrap().to_owned();
    assert_eq!(revision.len(), 16);

    // YAML, on request.
    let mut req = Request::get("/api/v1/config")
        .header(header::ACCEPT, "application/yaml")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(LOCAL.parse::<SocketAddr>().unwrap()));
    let resp = s.app.clone().oneshot(req).await.unwrap();
    let yaml = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(Config::from_yaml(&yaml).is_ok(), "{yaml}");

    // Two bad fields: 400 naming both, with lines; nothing changes.
    let before = std::fs::read_to_string(&s.config_path).unwrap();
    let bad = before
        .replace("default_policy: main", "default_policy: mian")
        .replace("subnet: 10.0.20.0/24", "subnet: 10.0.20.0/33");
    let (status, body) = call(
        &s.app,
        Method::PUT,
        "/api/v1/config",
        LOCAL,
        None,
        Some(&bad),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let v = json(&body);
    let paths: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"default_policy"), "{paths:?}");
    assert!(
        paths.iter().any(|p| p.starts_with("clients[0]")),
        "{paths:?}"
    );
    assert!(v["errors"][0]["line"].as_u64().is_some(), "{body}");
    assert_eq!(std::fs::read_to_string(&s.config_path).unwrap(), before);
    assert_eq!(s.reloader.current().generation, 1);

    // A good one, as JSON: saved, applied, a new revision; check sees the new rule.
    let mut good: serde_json::Value = json(&body_of_config(&s).await);
    good["policies"]["main"]["rules"] = serde_json::json!(["||new.example^"]);
    let (status, body) = call(
        &s.app,
        Method::PUT,
        "/api/v1/config",
        LOCAL,
        None,
        Some(&good.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["outcome"]["outcome"], "applied");
    assert_ne!(v["revision"], revision.as_str());
    assert_eq!(s.reloader.current().generation, 2);
    let saved = Config::from_yaml(&std::fs::read_to_string(&s.config_path).unwrap()).unwrap();
    assert_eq!(saved.policies["main"].rules, ["||new.example^"]);
    let (_, body) = call(
        &s.app,
        Method::GET,
        "/api/v1/check?name=www.new.example",
        LOCAL,
        None,
        None,
    )
    .await;
    assert_eq!(json(&body)["reason"], "FilteredBlockList", "{body}");

    // The same again: unchanged, same revision.
    let (status, body) = call(
        &s.app,
        Method::PUT,
        "/api/v1/config",
        LOCAL,
        None,
        Some(&good.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["outcome"]["outcome"], "unchanged");
    assert_eq!(s.reloader.current().generation, 2);
}

async fn body_of_config(s: &Setup) -> String {
    let (_, body) = call(&s.app, Method::GET, "/api/v1/config", LOCAL, None, None).await;
    json(&body)["config"].to_string()
}

#[tokio::test]
async fn check_names_the_deciding_rule_its_list_and_line_for_the_clients_policy() {
    let s = setup("check", Credentials::none(), false);
    let (status, body) = call(
        &s.app,
        Method::GET,
        "/api/v1/check?name=cdn.tracker.example&qtype=AAAA&client=10.0.20.7",
        LOCAL,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["policy"], "kids");
    assert_eq!(v["qtype"], "AAAA");
    assert_eq!(v["reason"], "FilteredBlockList");
    assert_eq!(v["rules"][0]["list"], "ads");
    assert_eq!(v["rules"][0]["text"], "||tracker.example^");
    assert_eq!(v["rules"][0]["line"], 3);

    let (_, body) = call(
        &s.app,
        Method::GET,
        "/api/v1/check?name=games.example&client=10.0.20.7",
        LOCAL,
        None,
        None,
    )
    .await;
    let v = json(&body);
    assert_eq!(v["reason"], "FilteredBlockList");
    assert_eq!(v["rules"][0]["list"], "policy kids rules");
    // Another client's policy does not have the kids' rule.
    let (_, body) = call(
        &s.app,
        Method::GET,
        "/api/v1/check?name=games.example&client=10.0.1.7",
        LOCAL,
        None,
        None,
    )
    .await;
    assert_eq!(json(&body)["reason"], "NotFilteredNotFound");
    assert_eq!(json(&body)["policy"], "main");

    for bad in [
        "/api/v1/check",
        "/api/v1/check?name=x.example&qtype=NOPE",
        "/api/v1/check?name=x.example&client=not-an-ip",
    ] {
        let (status, body) = call(&s.app, Method::GET, bad, LOCAL, None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(json(&body)["error"].is_string());
    }
}

#[tokio::test]
async fn bodies_over_4_mib_are_refused() {
    let s = setup("limit", Credentials::none(), false);
    let big = "#".repeat(5 << 20);
    let (status, _) = call(
        &s.app,
        Method::PUT,
        "/api/v1/config",
        LOCAL,
        None,
        Some(&big),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(s.reloader.current().generation, 1);
}
