//! `GET /api/v1/querylog` through the router: each filter, paging with the cursor, bad
//! parameters, and the answers before the log is set and without credentials.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::Value;
use support::{LOCAL, REMOTE, Setup, call, json, setup};
use ward_admin::auth::Credentials;
use ward_state::querylog::{Entry, QueryLog, QueryLogConfig, Reason};

/// 2024-05-01T12:00:00Z.
const T: u64 = 1_714_564_800_000;
const N: u64 = 60;

/// Entry `i` of the fixture, one second apart: every 4th from the kids' tablet
/// (10.0.20.7, policy kids), the others from 192.168.1.1-3 (policy main); every 3rd
/// `ads.example.com` blocked, the rest `www.example.org` or `cdn.example.net`; one
/// allowlisted, one rewritten.
fn entry(i: u64) -> Entry {
    let tablet = i % 4 == 0;
    let reason = match i {
        7 => Reason::NotFilteredAllowList,
        11 => Reason::RewrittenRule,
        _ if i % 3 == 0 => Reason::FilteredBlockList,
        _ => Reason::NotFilteredNotFound,
    };
    let name = match i % 3 {
        0 => "ads.example.com",
        1 => "www.example.org",
        _ => "cdn.example.net",
    };
    Entry {
        time_ms: T + i * 1000,
        client_id: None,
        protocol: ward_state::querylog::Protocol::Udp,
        client: if tablet {
            "10.0.20.7".parse().unwrap()
        } else {
            format!("192.168.1.{}", i % 3 + 1).parse().unwrap()
        },
        client_name: tablet.then(|| "tablet".into()),
        policy: Arc::from(if tablet { "kids" } else { "main" }),
        name: name.into(),
        qtype: 1,
        reason,
        rule: (reason == Reason::FilteredBlockList).then(|| "||ads.example.com^".into()),
        list: (reason == Reason::FilteredBlockList).then(|| "ads".into()),
        service: None,
        schedule: None,
        answer: "0.0.0.0".into(),
        rcode: 0,
        upstream: Some("9.9.9.9:53".into()),
        cached: false,
        elapsed_us: 300,
    }
}

fn with_log(tag: &str, credentials: Credentials) -> Setup {
    let s = setup(tag, credentials, false);
    let (log, mut store) = QueryLog::new(QueryLogConfig::default());
    store.write(&(0..N).map(entry).collect::<Vec<_>>());
    s.state.set_query_log(log);
    s
}

async fn get(s: &Setup, uri: &str) -> (StatusCode, Value) {
    let (status, body) = s.local(Method::GET, uri, None).await;
    (status, json(&body))
}

/// Every entry a search finds, page after page, as fixture indices (newest first).
async fn all_pages(s: &Setup, query: &str, limit: usize) -> Vec<u64> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..=N {
        let mut uri = format!("/api/v1/querylog?limit={limit}&{query}");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = get(s, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {page}");
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= limit);
        found.extend(
            entries
                .iter()
                .map(|e| (e["time_ms"].as_u64().unwrap() - T) / 1000),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return found,
        }
    }
    panic!("{query}: more pages than entries");
}

#[tokio::test]
async fn each_filter_finds_exactly_its_entries() {
    let s = with_log("ql-filters", Credentials::none());
    let reason = |i: u64| entry(i).reason;
    let filters: &[(&str, &dyn Fn(u64) -> bool)] = &[
        ("", &|_| true),
        ("from=1714564810000", &|i| i >= 10),
        ("to=2024-05-01T12:00:20Z", &|i| i <= 20),
        ("to=2024-05-01T14:00:20.000%2B02:00", &|i| i <= 20),
        ("from=2024-05-01T12:00:05Z&to=1714564815000", &|i| {
            (5..=15).contains(&i)
        }),
        ("client=10.0.20.7", &|i| i % 4 == 0),
        ("client=192.168.1.0/24", &|i| i % 4 != 0),
        ("client=192.168.1.2", &|i| i % 4 != 0 && i % 3 == 1),
        ("client=TABLET", &|i| i % 4 == 0),
        ("client=nobody", &|_| false),
        ("policy=kids", &|i| i % 4 == 0),
        ("policy=main", &|i| i % 4 != 0),
        ("policy=gone", &|_| false),
        ("name=EXAMPLE.com", &|i| i % 3 == 0),
        ("name=example", &|_| true),
        ("verdict=blocked", &|i| {
            reason(i) == Reason::FilteredBlockList
        }),
        ("verdict=FilteredBlockList", &|i| {
            reason(i) == Reason::FilteredBlockList
        }),
        ("verdict=allowlisted", &|i| i == 7),
        ("verdict=rewritten", &|i| i == 11),
        ("verdict=processed", &|i| {
            reason(i) == Reason::NotFilteredNotFound
        }),
        ("verdict=blocked&policy=kids&client=tablet", &|i| {
            reason(i) == Reason::FilteredBlockList && i % 4 == 0
        }),
        // Empty parameters are as if not given (a form's empty fields).
        ("client=&verdict=&name=&from=", &|_| true),
    ];
    for (query, keep) in filters {
        let want: Vec<u64> = (0..N).rev().filter(|&i| keep(i)).collect();
        assert_eq!(all_pages(&s, query, 1000).await, want, "{query}");
    }
}

#[tokio::test]
async fn pages_follow_the_cursor_through_every_entry_once() {
    let s = with_log("ql-pages", Credentials::none());
    for (query, limit) in [("", 7), ("", 1), ("", 60), ("verdict=blocked", 3)] {
        let found = all_pages(&s, query, limit).await;
        let unique: HashSet<u64> = found.iter().copied().collect();
        assert_eq!(unique.len(), found.len(), "{query} by {limit}: a repeat");
        assert!(found.windows(2).all(|w| w[0] > w[1]), "newest first");
        let want = if query.is_empty() { N as usize } else { 20 };
        assert_eq!(found.len(), want, "{query} by {limit}");
    }
    // The default page is 100 entries: all 60 here, with no next page.
    let (_, page) = get(&s, "/api/v1/querylog").await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 60);
    assert!(page["next_cursor"].is_null());
    // An entry as JSON: readable names for the time, type, reason and code.
    let blocked = &page["entries"][2];
    assert_eq!(blocked["time"], "2024-05-01T12:00:57.000Z");
    assert_eq!(blocked["qtype"], "A");
    assert_eq!(blocked["reason"], "FilteredBlockList");
    assert_eq!(blocked["rcode"], "NOERROR");
    assert_eq!(blocked["rule"], "||ads.example.com^");
}

#[tokio::test]
async fn a_bad_parameter_is_a_400_that_names_it() {
    let s = with_log("ql-bad", Credentials::none());
    for (query, param) in [
        ("from=yesterday", "from"),
        ("from=2024-05-01T12:00:00", "from"),
        ("to=2024-02-30T00:00:00Z", "to"),
        ("from=1714564820000&to=1714564810000", "from"),
        ("client=10.0.0.0/33", "client"),
        ("client=fd00::/129", "client"),
        ("verdict=nope", "verdict"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=xyz", "cursor"),
        ("cursor=-1", "cursor"),
    ] {
        let (status, body) = get(&s, &format!("/api/v1/querylog?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{param}: ")),
            "{query}: {message}"
        );
    }
    // The largest page is accepted.
    let (status, _) = get(&s, "/api/v1/querylog?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn before_the_log_is_set_the_search_answers_503() {
    let s = setup("ql-starting", Credentials::none(), false);
    let (status, body) = get(&s, "/api/v1/querylog").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("query_log.enabled"),
        "{body}"
    );
    let (log, _store) = QueryLog::new(QueryLogConfig::default());
    s.state.set_query_log(log);
    let (status, body) = get(&s, "/api/v1/querylog").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["entries"], serde_json::json!([]));
    assert!(body["next_cursor"].is_null());
}

#[tokio::test]
async fn the_query_log_needs_a_credential_when_there_are_credentials() {
    let s = with_log("ql-auth", Credentials::none().with_token("the-token"));
    for from in [LOCAL, REMOTE] {
        let (status, _) = call(&s.app, Method::GET, "/api/v1/querylog", from, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{from}");
        let (status, _) = call(
            &s.app,
            Method::GET,
            "/api/v1/querylog",
            from,
            Some("Bearer wrong"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{from}");
    }
    let (status, body) = call(
        &s.app,
        Method::GET,
        "/api/v1/querylog?limit=5",
        REMOTE,
        Some("Bearer the-token"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["entries"].as_array().unwrap().len(), 5);
}
