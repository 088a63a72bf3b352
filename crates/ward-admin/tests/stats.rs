//! `GET /api/v1/stats`, `POST /api/v1/stats/reset` and `GET /metrics` through the router.

mod support;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{Method, StatusCode, header};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde_json::Value;
use support::{LOCAL, REMOTE, Setup, call, call_full, json, setup};
use ward_admin::auth::Credentials;
use ward_state::querylog::{Entry, Reason};
use ward_state::stats::Stats;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn entry(time_ms: u64, client: &str, name: &str, reason: Reason) -> Entry {
    Entry {
        time_ms,
        client: client.parse().unwrap(),
        client_name: None,
        client_id: None,
        protocol: ward_state::querylog::Protocol::Udp,
        policy: Arc::from("main"),
        name: name.into(),
        qtype: 1,
        reason,
        rule: None,
        list: None,
        service: None,
        schedule: None,
        answer: "0.0.0.0".into(),
        rcode: 0,
        upstream: None,
        cached: false,
        elapsed_us: 2000,
    }
}

/// Ten queries of the last minute: 4 blocked `ads.example` (from the tablet, policy kids),
/// 6 `www.example` (2 from the cache, 4 answered by 9.9.9.9 in 2 ms each).
fn recorded() -> Stats {
    let stats = Stats::open(None);
    let now = now_ms() - 1000;
    let mut batch = Vec::new();
    for i in 0..4 {
        let mut e = entry(
            now - i,
            "10.0.20.7",
            "ads.example",
            Reason::FilteredBlockList,
        );
        e.client_name = Some("tablet".into());
        e.policy = Arc::from("kids");
        batch.push(e);
    }
    for i in 0..6 {
        let mut e = entry(
            now - i,
            "192.168.1.2",
            "www.example",
            Reason::NotFilteredNotFound,
        );
        if i < 2 {
            e.cached = true;
        } else {
            e.upstream = Some("9.9.9.9:53".into());
        }
        batch.push(e);
    }
    stats.record(&batch);
    stats
}

fn with_stats(tag: &str, credentials: Credentials, read_only: bool) -> (Setup, Stats) {
    let s = setup(tag, credentials, read_only);
    let stats = recorded();
    s.state.set_stats(stats.clone());
    (s, stats)
}

async fn get(s: &Setup, uri: &str) -> (StatusCode, Value) {
    let (status, body) = s.local(Method::GET, uri, None).await;
    (status, json(&body))
}

#[tokio::test]
async fn the_report_has_the_recorded_queries() {
    let (s, _) = with_stats("st-report", Credentials::none(), false);
    let (status, r) = get(&s, "/api/v1/stats").await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["range"], "24h");
    assert_eq!(r["resolution"], "hour");
    assert_eq!(
        r["totals"],
        serde_json::json!({
            "queries": 10, "blocked": 4, "allowlisted": 0, "rewritten": 0, "cached": 2,
            "blocked_services": 0, "safe_search": 0
        })
    );
    assert_eq!(r["blocked_ratio"], 0.4);
    assert_eq!(r["avg_processing_ms"], 2.0);
    let series = r["series"].as_array().unwrap();
    assert_eq!(series.len(), 24);
    let queries: u64 = series.iter().map(|p| p["queries"].as_u64().unwrap()).sum();
    assert_eq!(queries, 10);
    assert_eq!(
        r["top_names"],
        serde_json::json!([
            { "name": "www.example", "count": 6 },
            { "name": "ads.example", "count": 4 },
        ])
    );
    assert_eq!(
        r["top_blocked"],
        serde_json::json!([{ "name": "ads.example", "count": 4 }])
    );
    assert_eq!(
        r["top_clients"],
        serde_json::json!([
            { "client": "192.168.1.2", "count": 6 },
            { "client": "10.0.20.7", "name": "tablet", "count": 4 },
        ])
    );
    assert_eq!(
        r["policies"],
        serde_json::json!([
            { "policy": "main", "queries": 6, "blocked": 0, "blocked_services": 0, "safe_search": 0 },
            { "policy": "kids", "queries": 4, "blocked": 4, "blocked_services": 0, "safe_search": 0 },
        ])
    );
    assert_eq!(
        r["upstreams"],
        serde_json::json!([{ "upstream": "9.9.9.9:53", "queries": 4, "avg_ms": 2.0 }])
    );

    // Other ranges and resolutions, and a shorter top list.
    for (query, points) in [
        ("range=7d", 168),
        ("range=30d", 720),
        ("range=24h&resolution=minute", 1440),
    ] {
        let (status, r) = get(&s, &format!("/api/v1/stats?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {r}");
        assert_eq!(r["series"].as_array().unwrap().len(), points, "{query}");
        assert_eq!(r["totals"]["queries"], 10, "{query}");
    }
    let (_, r) = get(&s, "/api/v1/stats?limit=1").await;
    assert_eq!(r["top_names"].as_array().unwrap().len(), 1);
    assert_eq!(r["top_clients"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_bad_stats_parameter_is_a_400_that_names_it() {
    let (s, _) = with_stats("st-bad", Credentials::none(), false);
    for (query, param) in [
        ("range=1y", "range"),
        ("range=7D", "range"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("resolution=second", "resolution"),
        ("resolution=minute&range=7d", "resolution"),
    ] {
        let (status, body) = get(&s, &format!("/api/v1/stats?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{param}: ")),
            "{query}: {message}"
        );
    }
    let (status, _) = get(&s, "/api/v1/stats?limit=100&range=30d").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn reset_forgets_the_counts() {
    let (s, stats) = with_stats("st-reset", Credentials::none(), false);
    let (status, body) = s.local(Method::POST, "/api/v1/stats/reset", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, r) = get(&s, "/api/v1/stats").await;
    assert_eq!(r["totals"]["queries"], 0);
    assert_eq!(r["top_names"], serde_json::json!([]));
    assert_eq!(stats.tracked_keys(), 0);
}

#[tokio::test]
async fn reset_is_refused_when_read_only_and_reading_is_not() {
    let (s, stats) = with_stats("st-readonly", Credentials::none(), true);
    let (status, body) = s.local(Method::POST, "/api/v1/stats/reset", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(json(&body)["error"].as_str().unwrap().contains("read-only"));
    assert!(stats.tracked_keys() > 0);
    let (status, r) = get(&s, "/api/v1/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["totals"]["queries"], 10);
}

#[tokio::test]
async fn stats_answer_503_until_set_and_need_a_credential() {
    let s = setup("st-starting", Credentials::none(), false);
    let (status, _) = get(&s, "/api/v1/stats").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = s.local(Method::POST, "/api/v1/stats/reset", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    let (s, stats) = with_stats("st-auth", Credentials::none().with_token("tok"), false);
    for (method, uri) in [
        (Method::GET, "/api/v1/stats"),
        (Method::POST, "/api/v1/stats/reset"),
    ] {
        let (status, _) = call(&s.app, method.clone(), uri, LOCAL, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
    assert!(stats.tracked_keys() > 0);
    let (status, _) = call(
        &s.app,
        Method::GET,
        "/api/v1/stats",
        REMOTE,
        Some("Bearer tok"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_are_open_and_encode_the_registry() {
    let s = setup("st-metrics", Credentials::none().with_token("tok"), false);
    // Before the registry is set: 503, still without credentials.
    let (status, _) = call(&s.app, Method::GET, "/metrics", REMOTE, None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    let mut registry = Registry::with_prefix("ward");
    let answered: Counter<u64, AtomicU64> = Counter::default();
    registry.register("test_answers", "Answers in this test", answered.clone());
    answered.inc_by(3);
    s.state.set_metrics(Arc::new(registry));

    let (status, headers, body) =
        call_full(&s.app, Method::GET, "/metrics", REMOTE, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(
        body.contains("# TYPE ward_test_answers counter\n"),
        "{body}"
    );
    assert!(body.contains("\nward_test_answers_total 3\n"), "{body}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    // Read at each scrape.
    answered.inc();
    let (_, _, body) = call_full(&s.app, Method::GET, "/metrics", REMOTE, None, None).await;
    assert!(body.contains("\nward_test_answers_total 4\n"), "{body}");
    // Only GET: the open path opens nothing else.
    let (status, _) = call(&s.app, Method::POST, "/metrics", REMOTE, None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = call(&s.app, Method::GET, "/metrics/x", REMOTE, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
