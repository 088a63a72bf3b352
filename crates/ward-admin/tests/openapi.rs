//! The OpenAPI document and the docs page: the document describes every route the router
//! serves and nothing else, its body schemas name the config's own fields and the fields
//! the query log and the statistics answer with, and both stay behind the credentials.

mod support;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode, header};
use serde_json::Value;
use support::{LOCAL, REMOTE, call, call_full, json, setup};
use ward_admin::auth::Credentials;

/// Every route the router serves. A new route goes here, in the document (registered
/// with its annotation) and in a test of its own.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("GET", "/api/v1/status"),
    ("GET", "/api/v1/nodes"),
    ("POST", "/api/v1/session"),
    ("GET", "/api/v1/session"),
    ("DELETE", "/api/v1/session"),
    ("GET", "/api/v1/config"),
    ("PUT", "/api/v1/config"),
    ("GET", "/api/v1/check"),
    ("GET", "/api/v1/rules/check"),
    ("GET", "/api/v1/catalogue"),
    ("GET", "/api/v1/services"),
    ("GET", "/api/v1/lists"),
    ("POST", "/api/v1/lists"),
    ("GET", "/api/v1/lists/{id}"),
    ("PUT", "/api/v1/lists/{id}"),
    ("DELETE", "/api/v1/lists/{id}"),
    ("POST", "/api/v1/lists/{id}/refresh"),
    ("GET", "/api/v1/policies"),
    ("POST", "/api/v1/policies"),
    ("GET", "/api/v1/policies/{name}"),
    ("PUT", "/api/v1/policies/{name}"),
    ("DELETE", "/api/v1/policies/{name}"),
    ("GET", "/api/v1/policies/{name}/rules"),
    ("PUT", "/api/v1/policies/{name}/rules"),
    ("POST", "/api/v1/policies/{name}/rules"),
    ("DELETE", "/api/v1/policies/{name}/rules"),
    ("GET", "/api/v1/clients"),
    ("PUT", "/api/v1/clients"),
    ("POST", "/api/v1/clients"),
    ("DELETE", "/api/v1/clients"),
    ("GET", "/api/v1/records"),
    ("PUT", "/api/v1/records"),
    ("POST", "/api/v1/records"),
    ("DELETE", "/api/v1/records"),
    ("GET", "/api/v1/upstreams"),
    ("POST", "/api/v1/upstreams"),
    ("GET", "/api/v1/forward"),
    ("PUT", "/api/v1/forward"),
    ("GET", "/api/v1/upstreams/{name}"),
    ("PUT", "/api/v1/upstreams/{name}"),
    ("DELETE", "/api/v1/upstreams/{name}"),
    ("GET", "/api/v1/querylog"),
    ("GET", "/api/v1/querylog/stream"),
    ("GET", "/api/v1/querylog/export"),
    ("GET", "/api/v1/stats"),
    ("POST", "/api/v1/stats/reset"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
];

async fn document(s: &support::Setup) -> Value {
    let (status, headers, body) = call_full(
        &s.app,
        Method::GET,
        "/api/v1/openapi.json",
        LOCAL,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    json(&body)
}

/// Whether the router has a route for the request: axum answers an unknown path with an
/// empty 404 and a known path's other methods with 405; every handler's own 404 says why.
async fn served(s: &support::Setup, method: &str, path: &str) -> bool {
    // Ids that do not exist and bodies that do not parse: no request changes anything.
    let uri = path.replace("{id}", "zz-none").replace("{name}", "zz-none");
    let method: Method = method.parse().unwrap();
    let body = (method != Method::GET && method != Method::DELETE).then_some("not json");
    let (status, text) = s.local(method, &uri, body).await;
    status != StatusCode::METHOD_NOT_ALLOWED
        && !(status == StatusCode::NOT_FOUND && text.is_empty())
}

#[tokio::test]
async fn the_document_describes_every_route_the_router_serves_and_no_other() {
    let s = setup("oa-routes", Credentials::none(), false);
    let doc = document(&s).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(operation_ids.insert(id.clone()), "operationId {id} twice");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary"
            );
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
        }
    }
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, listed);

    for (method, path) in ROUTES {
        assert!(
            served(&s, method, path).await,
            "{method} {path} is not served"
        );
    }
    // The check itself tells a missing route from a handler's 404.
    assert!(!served(&s, "GET", "/api/v1/nope").await);
    assert!(!served(&s, "DELETE", "/api/v1/status").await);
    assert!(!served(&s, "PATCH", "/api/v1/lists/{id}").await);
    assert_eq!(s.generation(), 1);
}

#[tokio::test]
async fn the_document_names_both_credentials_and_opens_only_the_probes_and_metrics() {
    let s = setup("oa-auth", Credentials::none(), false);
    let doc = document(&s).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["basic"]["scheme"], "basic");
    assert_eq!(
        doc["security"],
        serde_json::json!([{ "bearer": [] }, { "basic": [] }])
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        let security = &item["get"]["security"];
        if path == "/livez" || path == "/readyz" {
            assert_eq!(*security, serde_json::json!([{}]), "{path}");
        } else if path == "/metrics" {
            // Open, or behind the credentials with admin.metrics_auth.
            assert_eq!(
                *security,
                serde_json::json!([{}, { "bearer": [] }, { "basic": [] }]),
                "{path}"
            );
        } else {
            assert!(security.is_null(), "{path} overrides the credentials");
        }
    }
}

/// The names of a schema's properties.
fn properties(doc: &Value, schema: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no schema {schema}"))
        .keys()
        .cloned()
        .collect()
}

/// The field names of the items `GET uri` returns (an array, or an object by name).
async fn fields(s: &support::Setup, uri: &str) -> BTreeSet<String> {
    let (_, body) = s.local(Method::GET, uri, None).await;
    let v = json(&body);
    let items: Vec<&Value> = match &v {
        Value::Array(items) => items.iter().collect(),
        Value::Object(by_name) => by_name.values().collect(),
        _ => panic!("{uri}: {body}"),
    };
    items
        .iter()
        .flat_map(|item| item.as_object().unwrap().keys().cloned())
        .collect()
}

#[tokio::test]
async fn the_body_schemas_name_exactly_the_fields_of_the_config_types() {
    // The test config sets every field of every resource somewhere.
    let s = setup("oa-schemas", Credentials::none(), false);
    let doc = document(&s).await;
    for (uri, schema) in [
        ("/api/v1/lists", "ListSource"),
        ("/api/v1/policies", "Policy"),
        ("/api/v1/clients", "ClientRule"),
        ("/api/v1/records", "LocalRecord"),
        ("/api/v1/upstreams", "UpstreamGroup"),
        ("/api/v1/forward", "ForwardRule"),
    ] {
        assert_eq!(fields(&s, uri).await, properties(&doc, schema), "{schema}");
    }
    for (new, schema) in [
        ("NewPolicy", "Policy"),
        ("NewUpstreamGroup", "UpstreamGroup"),
    ] {
        let mut expected = properties(&doc, schema);
        expected.insert("name".to_owned());
        assert_eq!(properties(&doc, new), expected, "{new}");
    }
    // Every body and answer refers to a schema that is there.
    let text = doc.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{name} is referred to but missing"
        );
    }
}

#[tokio::test]
async fn the_docs_page_is_self_contained_html() {
    let s = setup("oa-page", Credentials::none(), false);
    let (status, headers, body) =
        call_full(&s.app, Method::GET, "/api/v1/docs", LOCAL, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{headers:?}"
    );
    assert!(body.starts_with("<!doctype html>"));
    assert!(body.contains(r#"fetch("openapi.json""#));
    // Nothing from elsewhere: no external script, style sheet or font.
    for outside in ["<script src", "<link", "@import", "url(http", "src=\"http"] {
        assert!(!body.contains(outside), "{outside}");
    }
}

#[tokio::test]
async fn the_document_and_the_page_need_credentials() {
    let s = setup(
        "oa-creds",
        Credentials::none().with_user("alice", "wonderland"),
        false,
    );
    for uri in ["/api/v1/openapi.json", "/api/v1/docs"] {
        let (status, _) = call(&s.app, Method::GET, uri, REMOTE, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        let auth = support::basic("alice", "wonderland");
        let (status, _) = call(&s.app, Method::GET, uri, REMOTE, Some(&auth), None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }
}

/// The field names of a JSON object, and of the objects in its arrays, by the schema name
/// the document gives them.
fn object_fields(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn the_query_log_and_stats_schemas_name_exactly_the_fields_answered() {
    use std::sync::Arc;
    use ward_state::querylog::{Entry, QueryLog, QueryLogConfig, Reason};
    use ward_state::stats::Stats;

    let s = setup("oa-observe", Credentials::none(), false);
    let doc = document(&s).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // Every optional field set.
    let entry = Entry {
        time_ms: now - 1000,
        client: "10.0.20.7".parse().unwrap(),
        client_name: Some("tablet".into()),
        client_id: Some("tablet".into()),
        protocol: ward_state::querylog::Protocol::Doh,
        policy: Arc::from("kids"),
        name: "ads.example".into(),
        qtype: 1,
        reason: Reason::FilteredBlockList,
        rule: Some("||ads.example^".into()),
        list: Some("ads".into()),
        service: Some("tiktok".into()),
        schedule: Some("bedtime".into()),
        answer: "0.0.0.0".into(),
        rcode: 0,
        upstream: Some("9.9.9.9:53".into()),
        cached: false,
        elapsed_us: 100,
    };
    let (log, mut store) = QueryLog::new(QueryLogConfig::default());
    store.write(&[entry.clone(), entry.clone()]);
    s.state.set_query_log(log);
    let stats = Stats::open(None);
    stats.record(&[entry]);
    s.state.set_stats(stats);

    let (_, body) = s.local(Method::GET, "/api/v1/querylog?limit=1", None).await;
    let page = json(&body);
    assert!(page["next_cursor"].is_string(), "{page}");
    assert_eq!(object_fields(&page), properties(&doc, "QueryLogPage"));
    assert_eq!(
        object_fields(&page["entries"][0]),
        properties(&doc, "QueryLogEntry")
    );

    let (_, body) = s.local(Method::GET, "/api/v1/stats", None).await;
    let report = json(&body);
    assert_eq!(object_fields(&report), properties(&doc, "StatsReport"));
    for (field, schema) in [
        ("totals", "StatsTotals"),
        ("series", "StatsPoint"),
        ("top_names", "NameCount"),
        ("top_blocked", "NameCount"),
        ("top_clients", "ClientCount"),
        ("policies", "PolicyCount"),
        ("upstreams", "UpstreamLatency"),
    ] {
        let value = &report[field];
        let sample = match value {
            Value::Array(items) => items.last().unwrap_or_else(|| panic!("{field} is empty")),
            other => other,
        };
        assert_eq!(object_fields(sample), properties(&doc, schema), "{field}");
    }
}

#[tokio::test]
async fn the_catalogue_schema_names_the_fields_answered() {
    let s = setup("oa-catalogue", Credentials::none(), false);
    let doc = document(&s).await;
    let (_, body) = s.local(Method::GET, "/api/v1/catalogue", None).await;
    let entries = json(&body);
    let entries = entries.as_array().unwrap();
    assert!(entries.len() >= 15);
    let schema = properties(&doc, "CatalogueEntry");
    for entry in entries {
        let mut fields = object_fields(entry);
        fields.insert("default".to_owned());
        assert_eq!(fields, schema, "{entry}");
    }
    assert_eq!(entries.iter().filter(|e| e["default"] == true).count(), 1);
}

#[tokio::test]
async fn the_services_schema_names_the_fields_answered() {
    let s = setup("oa-services", Credentials::none(), false);
    let doc = document(&s).await;
    let (status, body) = s.local(Method::GET, "/api/v1/services", None).await;
    assert_eq!(status, 200, "{body}");
    let answer = json(&body);
    assert_eq!(object_fields(&answer), properties(&doc, "ServicesAnswer"));
    let services = answer["services"].as_array().unwrap();
    assert!(services.len() >= 100, "{}", services.len());
    for service in services {
        assert_eq!(
            object_fields(service),
            properties(&doc, "Service"),
            "{service}"
        );
    }
    let tiktok = services.iter().find(|s| s["id"] == "tiktok").unwrap();
    assert_eq!(tiktok["category"], "social");
    assert!(
        tiktok["rules"]
            .as_array()
            .unwrap()
            .contains(&"||tiktok.com^".into())
    );
    assert!(
        answer["categories"]
            .as_array()
            .unwrap()
            .contains(&"games".into())
    );
    let providers = answer["safe_search"].as_array().unwrap();
    assert_eq!(providers.len(), 7);
    for provider in providers {
        let mut fields = object_fields(provider);
        fields.insert("moderate".to_owned());
        assert_eq!(fields, properties(&doc, "SafeSearchProvider"), "{provider}");
    }
    let youtube = providers.iter().find(|p| p["id"] == "youtube").unwrap();
    assert_eq!(youtube["moderate"], "restrictmoderate.youtube.com");
}
