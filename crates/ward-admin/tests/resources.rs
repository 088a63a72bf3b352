//! The `/api/v1` resources (lists, policies and their rules, clients, records, upstream
//! groups) through the router: each write changes the file and the serving snapshot, and
//! each refused one changes neither. One test goes over a real port.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{LOCAL, Setup, call, json, setup};
use ward_admin::api::Control;
use ward_admin::auth::Credentials;
use ward_admin::{AdminState, router};

/// What `GET /api/v1/check` says about `name` (for `client`, if given).
async fn check(s: &Setup, name: &str, client: Option<&str>) -> Value {
    let uri = match client {
        Some(c) => format!("/api/v1/check?name={name}&client={c}"),
        None => format!("/api/v1/check?name={name}"),
    };
    let (status, body) = s.local(Method::GET, &uri, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    json(&body)
}

async fn reason(s: &Setup, name: &str) -> String {
    check(s, name, None).await["reason"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A write that must succeed: 200, applied, and one generation more.
async fn write(s: &Setup, method: Method, uri: &str, body: Option<&str>) -> Value {
    let before = s.generation();
    let (status, text) = s.local(method.clone(), uri, body).await;
    assert_eq!(status, StatusCode::OK, "{method} {uri}: {text}");
    let v = json(&text);
    assert_eq!(v["outcome"]["outcome"], "applied", "{method} {uri}: {text}");
    assert_eq!(s.generation(), before + 1, "{method} {uri}");
    assert_eq!(v["revision"].as_str().unwrap().len(), 16);
    v
}

/// A write that must be refused with `status`, leaving the file byte for byte as it was
/// and the same snapshot serving; returns the error message.
async fn refused(
    s: &Setup,
    method: Method,
    uri: &str,
    body: Option<&str>,
    status: StatusCode,
) -> String {
    let file = std::fs::read(&s.config_path).unwrap();
    let generation = s.generation();
    let (got, text) = s.local(method.clone(), uri, body).await;
    assert_eq!(got, status, "{method} {uri}: {text}");
    assert_eq!(
        std::fs::read(&s.config_path).unwrap(),
        file,
        "{method} {uri}"
    );
    assert_eq!(s.generation(), generation, "{method} {uri}");
    json(&text)["error"].as_str().unwrap().to_owned()
}

/// Percent-encodes everything but letters and digits (for a rule in a query).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn lists_are_added_replaced_and_removed_while_no_policy_uses_them() {
    let s = setup("res-lists", Credentials::none(), false);
    let (status, body) = s.local(Method::GET, "/api/v1/lists", None).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<String> = json(&body)
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["ads", "remote", "known", "keep"]);
    // A catalogue list is shown as written; one the catalogue lacks is refused, naming
    // those it has.
    let (_, body) = s.local(Method::GET, "/api/v1/lists/known", None).await;
    assert_eq!(json(&body)["catalogue"], "adguard-dns");
    assert!(json(&body).get("url").is_none());
    let message = refused(
        &s,
        Method::POST,
        "/api/v1/lists",
        Some(r#"{ "id": "made-up", "catalogue": "no-such-list" }"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("lists[4].catalogue"), "{message}");
    assert!(message.contains("adguard-dns"), "{message}");
    let message = refused(
        &s,
        Method::POST,
        "/api/v1/lists",
        Some(r#"{ "id": "both", "catalogue": "hagezi-pro", "url": "https://x.example/l.txt" }"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        message.contains("exactly one of `path`, `url` and `catalogue`"),
        "{message}"
    );

    // Add a list, then have a policy use it: check sees its rule.
    let extra = s.dir.join("extra.txt");
    std::fs::write(&extra, "||extra.example^\n").unwrap();
    let list = json!({ "id": "extra", "path": extra });
    write(&s, Method::POST, "/api/v1/lists", Some(&list.to_string())).await;
    assert!(s.saved().lists.iter().any(|l| l.id == "extra"));
    let (status, body) = s.local(Method::GET, "/api/v1/lists/extra", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["enabled"], true);
    let main = json!({ "lists": ["ads", "extra"], "rules": ["||custom.example^"] });
    write(
        &s,
        Method::PUT,
        "/api/v1/policies/main",
        Some(&main.to_string()),
    )
    .await;
    assert_eq!(reason(&s, "a.extra.example").await, "FilteredBlockList");

    // In use: 409 naming the policy; nothing changes.
    let message = refused(
        &s,
        Method::DELETE,
        "/api/v1/lists/extra",
        None,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("main"), "{message}");

    // Disabled by PUT: kept in the config, no longer loaded.
    let disabled = json!({ "id": "extra", "path": extra, "enabled": false });
    write(
        &s,
        Method::PUT,
        "/api/v1/lists/extra",
        Some(&disabled.to_string()),
    )
    .await;
    assert_eq!(reason(&s, "a.extra.example").await, "NotFilteredNotFound");
    assert!(
        !s.saved()
            .lists
            .iter()
            .find(|l| l.id == "extra")
            .unwrap()
            .enabled
    );

    // Out of the policy, then removed.
    let main = json!({ "lists": ["ads"], "rules": ["||custom.example^"] });
    write(
        &s,
        Method::PUT,
        "/api/v1/policies/main",
        Some(&main.to_string()),
    )
    .await;
    write(&s, Method::DELETE, "/api/v1/lists/extra", None).await;
    assert!(!s.saved().lists.iter().any(|l| l.id == "extra"));
    let message = refused(
        &s,
        Method::GET,
        "/api/v1/lists/extra",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(message.contains("known: ads, remote"), "{message}");

    // Refusals.
    let dup = json!({ "id": "ads", "path": extra }).to_string();
    refused(
        &s,
        Method::POST,
        "/api/v1/lists",
        Some(&dup),
        StatusCode::CONFLICT,
    )
    .await;
    let renamed = json!({ "id": "other", "path": extra }).to_string();
    let message = refused(
        &s,
        Method::PUT,
        "/api/v1/lists/ads",
        Some(&renamed),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("other"), "{message}");
    refused(
        &s,
        Method::PUT,
        "/api/v1/lists/nope",
        Some(&dup),
        StatusCode::NOT_FOUND,
    )
    .await;
    refused(
        &s,
        Method::DELETE,
        "/api/v1/lists/nope",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Both a path and a URL: the validation's error, with the field's path.
    let both = json!({ "id": "both", "path": extra, "url": "https://lists.example/x.txt" });
    let (status, body) = s
        .local(Method::POST, "/api/v1/lists", Some(&both.to_string()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(json(&body)["errors"][0]["path"], "lists[4]", "{body}");
    // A body that is not a list: the field is named.
    let message = refused(
        &s,
        Method::POST,
        "/api/v1/lists",
        Some(r#"{ "id": "x", "path": "x.txt", "enabld": false }"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("enabld"), "{message}");
    refused(
        &s,
        Method::POST,
        "/api/v1/lists",
        Some(r#"{ "id": "x", "refresh": 5 }"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
    refused(
        &s,
        Method::POST,
        "/api/v1/lists",
        Some("not json"),
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn a_list_refresh_rereads_a_file_or_wakes_the_downloads() {
    let s = setup("res-refresh", Credentials::none(), false);
    // A local file: re-read now (this test has no file watcher).
    std::fs::write(s.dir.join("ads.txt"), "||fresh.example^\n").unwrap();
    let (status, body) = s
        .local(Method::POST, "/api/v1/lists/ads/refresh", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(json(&body)["action"], "re-reading");
    let mut waited = Duration::ZERO;
    while reason(&s, "fresh.example").await != "FilteredBlockList" {
        assert!(waited < Duration::from_secs(10), "the list was not re-read");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    assert_eq!(reason(&s, "ads.example").await, "NotFilteredNotFound");

    // A disabled list: nothing to refresh.
    let message = refused(
        &s,
        Method::POST,
        "/api/v1/lists/remote/refresh",
        None,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("disabled"), "{message}");
    let (_, body) = s.local(Method::GET, "/api/v1/lists/remote", None).await;
    let mut remote = json(&body);
    remote["enabled"] = json!(true);
    write(
        &s,
        Method::PUT,
        "/api/v1/lists/remote",
        Some(&remote.to_string()),
    )
    .await;
    // A URL list before the server wired its downloads: 409.
    let message = refused(
        &s,
        Method::POST,
        "/api/v1/lists/remote/refresh",
        None,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("not running"), "{message}");
    // Then the downloads are woken.
    let check_now = Arc::new(tokio::sync::Notify::new());
    s.state.set_list_refresh(check_now.clone());
    let (status, body) = s
        .local(Method::POST, "/api/v1/lists/remote/refresh", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(json(&body)["action"], "downloading");
    tokio::time::timeout(Duration::from_secs(1), check_now.notified())
        .await
        .expect("the refresher was not woken");

    refused(
        &s,
        Method::POST,
        "/api/v1/lists/nope/refresh",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn policies_are_added_replaced_and_removed_once_nothing_uses_them() {
    let s = setup("res-policies", Credentials::none(), false);
    let (_, body) = s.local(Method::GET, "/api/v1/policies", None).await;
    let all = json(&body);
    assert_eq!(all["kids"]["extends"], "main");
    assert_eq!(all["main"]["lists"], json!(["ads"]));

    let guests = json!({ "name": "guests", "extends": "main", "rules": ["||guest.example^"],
                         "blocking_mode": "refused" });
    write(
        &s,
        Method::POST,
        "/api/v1/policies",
        Some(&guests.to_string()),
    )
    .await;
    assert_eq!(s.saved().policies["guests"].rules, ["||guest.example^"]);
    let (status, body) = s.local(Method::GET, "/api/v1/policies/guests", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["blocking_mode"], "refused");
    let client = json!({ "subnet": "10.0.30.0/24", "policy": "guests" });
    write(
        &s,
        Method::POST,
        "/api/v1/clients",
        Some(&client.to_string()),
    )
    .await;
    let v = check(&s, "guest.example", Some("10.0.30.5")).await;
    assert_eq!(v["policy"], "guests");
    assert_eq!(v["reason"], "FilteredBlockList");

    // Refusals: a duplicate, an unknown list (the validation names the field), an unknown
    // field, no name.
    refused(
        &s,
        Method::POST,
        "/api/v1/policies",
        Some(&guests.to_string()),
        StatusCode::CONFLICT,
    )
    .await;
    let (status, body) = s
        .local(
            Method::POST,
            "/api/v1/policies",
            Some(r#"{ "name": "odd", "lists": ["nope"] }"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(json(&body)["errors"][0]["path"], "policies.odd.lists[0]");
    for bad in [
        r#"{ "name": "odd", "bogus": 1 }"#,
        r#"{ "lists": [] }"#,
        r#"{ "name": 7 }"#,
        r#"{ "name": "odd", "rules": ["example.com##.banner"] }"#,
    ] {
        refused(
            &s,
            Method::POST,
            "/api/v1/policies",
            Some(bad),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }

    // In use: each user is named.
    let message = refused(
        &s,
        Method::DELETE,
        "/api/v1/policies/guests",
        None,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("clients 10.0.30.0/24"), "{message}");
    let message = refused(
        &s,
        Method::DELETE,
        "/api/v1/policies/main",
        None,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("default_policy"), "{message}");
    assert!(message.contains("policy kids (extends)"), "{message}");
    assert!(message.contains("policy guests (extends)"), "{message}");

    write(
        &s,
        Method::DELETE,
        "/api/v1/clients?subnet=10.0.30.0/24",
        None,
    )
    .await;
    write(&s, Method::DELETE, "/api/v1/policies/guests", None).await;
    assert!(!s.saved().policies.contains_key("guests"));
    refused(
        &s,
        Method::GET,
        "/api/v1/policies/guests",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Replaced: the kids lose their own rule.
    assert_eq!(
        check(&s, "games.example", Some("10.0.20.7")).await["reason"],
        "FilteredBlockList"
    );
    write(
        &s,
        Method::PUT,
        "/api/v1/policies/kids",
        Some(r#"{ "extends": "main" }"#),
    )
    .await;
    assert_eq!(
        check(&s, "games.example", Some("10.0.20.7")).await["reason"],
        "NotFilteredNotFound"
    );
    refused(
        &s,
        Method::PUT,
        "/api/v1/policies/nope",
        Some("{}"),
        StatusCode::NOT_FOUND,
    )
    .await;
    refused(
        &s,
        Method::PUT,
        "/api/v1/policies/kids",
        Some(r#"{ "extends": "kids" }"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn custom_rules_are_listed_added_replaced_and_removed() {
    let s = setup("res-rules", Credentials::none(), false);
    let (status, body) = s
        .local(Method::GET, "/api/v1/policies/main/rules", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body), json!(["||custom.example^"]));

    assert_eq!(reason(&s, "www.new.example").await, "NotFilteredNotFound");
    write(
        &s,
        Method::POST,
        "/api/v1/policies/main/rules",
        Some(r#"{ "rule": "||new.example^" }"#),
    )
    .await;
    assert_eq!(reason(&s, "www.new.example").await, "FilteredBlockList");
    assert_eq!(
        s.saved().policies["main"].rules,
        ["||custom.example^", "||new.example^"]
    );

    refused(
        &s,
        Method::POST,
        "/api/v1/policies/main/rules",
        Some(r#"{ "rule": "||new.example^" }"#),
        StatusCode::CONFLICT,
    )
    .await;
    let message = refused(
        &s,
        Method::POST,
        "/api/v1/policies/main/rules",
        Some(r#"{ "rule": "example.com##.banner" }"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("cosmetic"), "{message}");
    refused(
        &s,
        Method::POST,
        "/api/v1/policies/nope/rules",
        Some(r#"{ "rule": "||x.example^" }"#),
        StatusCode::NOT_FOUND,
    )
    .await;

    // Removed by its text, URL-encoded.
    let uri = format!(
        "/api/v1/policies/main/rules?rule={}",
        encode("||new.example^")
    );
    write(&s, Method::DELETE, &uri, None).await;
    assert_eq!(reason(&s, "www.new.example").await, "NotFilteredNotFound");
    refused(&s, Method::DELETE, &uri, None, StatusCode::NOT_FOUND).await;
    // A rule the policy inherits is removed where it is written.
    let uri = format!(
        "/api/v1/policies/kids/rules?rule={}",
        encode("||custom.example^")
    );
    let message = refused(&s, Method::DELETE, &uri, None, StatusCode::NOT_FOUND).await;
    assert!(message.contains("from policy \"main\""), "{message}");
    refused(
        &s,
        Method::DELETE,
        "/api/v1/policies/main/rules",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // Replaced whole.
    let rules = json!(["||a.example^", "@@||ok.a.example^", "! a note"]);
    write(
        &s,
        Method::PUT,
        "/api/v1/policies/main/rules",
        Some(&rules.to_string()),
    )
    .await;
    let (_, body) = s
        .local(Method::GET, "/api/v1/policies/main/rules", None)
        .await;
    assert_eq!(json(&body), rules);
    assert_eq!(reason(&s, "x.a.example").await, "FilteredBlockList");
    assert_eq!(reason(&s, "ok.a.example").await, "NotFilteredAllowList");
    let message = refused(
        &s,
        Method::PUT,
        "/api/v1/policies/main/rules",
        Some(r#"["||fine.example^", "||a.example^$third-party"]"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.starts_with("rules[1]"), "{message}");
}

#[tokio::test]
async fn clients_are_one_ordered_list_edited_whole_or_by_subnet() {
    let s = setup("res-clients", Credentials::none(), false);
    let (_, body) = s.local(Method::GET, "/api/v1/clients", None).await;
    assert_eq!(
        json(&body),
        json!([{ "subnet": "10.0.20.0/24", "client_ids": ["kids-tablet"], "policy": "kids",
                 "name": "kids-devices", "tags": ["user_child"] }])
    );

    let same = json!({ "subnet": "10.0.20.0/24", "policy": "main" }).to_string();
    let message = refused(
        &s,
        Method::POST,
        "/api/v1/clients",
        Some(&same),
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("kids"), "{message}");
    let (status, body) = s
        .local(
            Method::POST,
            "/api/v1/clients",
            Some(r#"{ "subnet": "10.0.40.0/24", "policy": "nope" }"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json(&body)["errors"][0]["path"], "clients[1].policy");
    for bad in [
        r#"{ "subnet": "10.0.40.0/33", "policy": "main" }"#,
        r#"{ "subnet": "10.0.40.1/24", "policy": "main" }"#,
        r#"{ "subnet": "10.0.40.0/24" }"#,
    ] {
        refused(
            &s,
            Method::POST,
            "/api/v1/clients",
            Some(bad),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }

    // A bare address is a /32.
    write(
        &s,
        Method::POST,
        "/api/v1/clients",
        Some(r#"{ "subnet": "10.0.1.7", "policy": "kids" }"#),
    )
    .await;
    assert_eq!(
        check(&s, "games.example", Some("10.0.1.7")).await["policy"],
        "kids"
    );
    write(
        &s,
        Method::DELETE,
        "/api/v1/clients?subnet=10.0.1.7/32",
        None,
    )
    .await;

    // A rule of ClientIDs only (a phone off the Wi-Fi), keyed by its first ClientID; a
    // ClientID another rule names, or one that is not a label, is refused.
    write(
        &s,
        Method::POST,
        "/api/v1/clients",
        Some(r#"{ "client_ids": ["Kids-Phone", "kids-watch"], "policy": "kids" }"#),
    )
    .await;
    assert_eq!(
        s.saved().clients[1].client_ids,
        ["kids-phone", "kids-watch"]
    );
    assert_eq!(s.saved().clients[1].subnet, None);
    refused(
        &s,
        Method::POST,
        "/api/v1/clients",
        Some(r#"{ "client_ids": ["kids-phone"], "policy": "main" }"#),
        StatusCode::CONFLICT,
    )
    .await;
    for bad in [
        r#"{ "client_ids": ["kids-watch", "x"], "subnet": "10.0.50.0/24", "policy": "main" }"#,
        r#"{ "client_ids": ["no_underscores"], "policy": "main" }"#,
        r#"{ "client_ids": [], "policy": "main" }"#,
    ] {
        refused(
            &s,
            Method::POST,
            "/api/v1/clients",
            Some(bad),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    write(
        &s,
        Method::DELETE,
        "/api/v1/clients?client_id=kids-phone",
        None,
    )
    .await;
    assert_eq!(s.saved().clients.len(), 1);
    refused(
        &s,
        Method::DELETE,
        "/api/v1/clients?client_id=kids-phone",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        check(&s, "games.example", Some("10.0.1.7")).await["policy"],
        "main"
    );

    write(&s, Method::PUT, "/api/v1/clients", Some("[]")).await;
    assert!(s.saved().clients.is_empty());
    assert_eq!(
        check(&s, "games.example", Some("10.0.20.7")).await["policy"],
        "main"
    );
    refused(
        &s,
        Method::DELETE,
        "/api/v1/clients?subnet=10.0.20.0/24",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    refused(
        &s,
        Method::DELETE,
        "/api/v1/clients",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    refused(
        &s,
        Method::DELETE,
        "/api/v1/clients?subnet=garbage",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    // Two rules for one subnet in a whole list: the validation's 400.
    let twice = json!([{ "subnet": "10.0.9.0/24", "policy": "main" },
                       { "subnet": "10.0.9.0/24", "policy": "kids" }]);
    refused(
        &s,
        Method::PUT,
        "/api/v1/clients",
        Some(&twice.to_string()),
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn records_are_added_and_removed_by_name_type_and_value() {
    let s = setup("res-records", Credentials::none(), false);
    let (_, body) = s.local(Method::GET, "/api/v1/records", None).await;
    assert_eq!(json(&body)[0]["name"], "nas.home.example");

    let printer = r#"{ "name": "Printer.Home.Example.", "type": "A", "value": "10.0.0.9" }"#;
    write(&s, Method::POST, "/api/v1/records", Some(printer)).await;
    let saved = s.saved();
    let added = saved.records.last().unwrap();
    assert_eq!(added.name, "printer.home.example");
    assert_eq!(added.ttl, 300);
    assert_eq!(
        check(&s, "printer.home.example", None).await["local_record"],
        true
    );

    refused(
        &s,
        Method::POST,
        "/api/v1/records",
        Some(printer),
        StatusCode::CONFLICT,
    )
    .await;
    for bad in [
        // A CNAME beside the A record.
        r#"{ "name": "nas.home.example", "type": "CNAME", "value": "other.example" }"#,
        r#"{ "name": "x.home.example", "type": "A", "value": "not-an-ip" }"#,
        r#"{ "name": "x.home.example", "type": "MX", "value": "mail.example" }"#,
    ] {
        refused(
            &s,
            Method::POST,
            "/api/v1/records",
            Some(bad),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }

    refused(
        &s,
        Method::DELETE,
        "/api/v1/records?name=printer.home.example&type=AAAA",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    write(
        &s,
        Method::DELETE,
        "/api/v1/records?name=PRINTER.home.example.&type=a",
        None,
    )
    .await;
    assert_eq!(
        check(&s, "printer.home.example", None).await["local_record"],
        false
    );
    refused(
        &s,
        Method::DELETE,
        "/api/v1/records?type=A",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    refused(
        &s,
        Method::DELETE,
        "/api/v1/records?name=nas.home.example&type=HINFO",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;

    write(&s, Method::PUT, "/api/v1/records", Some("[]")).await;
    let (_, body) = s.local(Method::GET, "/api/v1/records", None).await;
    assert_eq!(json(&body), json!([]));
    assert!(s.saved().records.is_empty());
}

#[tokio::test]
async fn upstream_groups_are_added_replaced_and_removed_while_unused() {
    let s = setup("res-upstreams", Credentials::none(), false);
    let (_, body) = s.local(Method::GET, "/api/v1/upstreams", None).await;
    let all = json(&body);
    assert_eq!(all["router"]["strategy"], "failover");
    assert_eq!(all["default"]["servers"], json!(["127.0.0.1:5399"]));

    let quad9 =
        json!({ "name": "quad9", "servers": ["tls://dns.quad9.net"], "strategy": "failover" });
    write(
        &s,
        Method::POST,
        "/api/v1/upstreams",
        Some(&quad9.to_string()),
    )
    .await;
    assert!(s.saved().upstreams.contains_key("quad9"));
    refused(
        &s,
        Method::POST,
        "/api/v1/upstreams",
        Some(&quad9.to_string()),
        StatusCode::CONFLICT,
    )
    .await;
    let message = refused(
        &s,
        Method::POST,
        "/api/v1/upstreams",
        Some(r#"{ "name": "bad", "servers": ["9.9.9.9", "nope://x"] }"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("servers[1]"), "{message}");
    refused(
        &s,
        Method::POST,
        "/api/v1/upstreams",
        Some(r#"{ "name": "empty", "servers": [] }"#),
        StatusCode::BAD_REQUEST,
    )
    .await;

    write(
        &s,
        Method::PUT,
        "/api/v1/upstreams/quad9",
        Some(r#"{ "servers": ["9.9.9.9"] }"#),
    )
    .await;
    let (_, body) = s.local(Method::GET, "/api/v1/upstreams/quad9", None).await;
    assert_eq!(
        json(&body),
        json!({ "servers": ["9.9.9.9:53"], "strategy": "parallel" })
    );

    // In use: by a forward rule; by every policy that falls back to `default`.
    let message = refused(
        &s,
        Method::DELETE,
        "/api/v1/upstreams/router",
        None,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("forward[0] (home.example)"), "{message}");
    let message = refused(
        &s,
        Method::DELETE,
        "/api/v1/upstreams/default",
        None,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("policy kids"), "{message}");
    assert!(message.contains("policy main"), "{message}");

    write(&s, Method::DELETE, "/api/v1/upstreams/quad9", None).await;
    refused(
        &s,
        Method::GET,
        "/api/v1/upstreams/quad9",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    refused(
        &s,
        Method::PUT,
        "/api/v1/upstreams/quad9",
        Some(r#"{ "servers": ["9.9.9.9"] }"#),
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn forward_rules_are_one_list_replaced_whole() {
    let s = setup("res-forward", Credentials::none(), false);
    let (_, body) = s.local(Method::GET, "/api/v1/forward", None).await;
    assert_eq!(
        json(&body),
        json!([{ "zones": ["home.example"], "upstream": "router" }])
    );
    let rules = json!([
        { "zones": ["Home.Example.", "168.192.in-addr.arpa"], "upstream": "router" },
        { "zones": ["corp.example"], "upstream": "default" },
    ]);
    write(&s, Method::PUT, "/api/v1/forward", Some(&rules.to_string())).await;
    let saved = s.saved().forward;
    assert_eq!(saved.len(), 2);
    assert_eq!(saved[0].zones, ["home.example", "168.192.in-addr.arpa"]);
    let (_, body) = s.local(Method::GET, "/api/v1/forward", None).await;
    assert_eq!(json(&body)[1]["upstream"], "default");

    let message = refused(
        &s,
        Method::PUT,
        "/api/v1/forward",
        Some(r#"[{ "zones": ["x.example"], "upstream": "nowhere" }]"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("nowhere"), "{message}");
    let message = refused(
        &s,
        Method::PUT,
        "/api/v1/forward",
        Some(r#"[{ "zones": ["x.example"], "upstream": "router", "extra": 1 }]"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("extra"), "{message}");

    // Emptied: nothing is forwarded, and the router group can go.
    write(&s, Method::PUT, "/api/v1/forward", Some("[]")).await;
    write(
        &s,
        Method::PUT,
        "/api/v1/forward",
        Some(r#"[{ "zones": ["corp.example"], "upstream": "default" }]"#),
    )
    .await;
    write(&s, Method::DELETE, "/api/v1/upstreams/router", None).await;
}

#[tokio::test]
async fn a_write_the_same_as_the_config_is_unchanged() {
    let s = setup("res-unchanged", Credentials::none(), false);
    let (_, body) = s.local(Method::GET, "/api/v1/lists/ads", None).await;
    let (status, body) = s.local(Method::PUT, "/api/v1/lists/ads", Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["outcome"]["outcome"], "unchanged");
    assert_eq!(s.generation(), 1);
}

#[tokio::test]
async fn refused_writes_leave_no_trace_in_the_directory() {
    let s = setup("res-trace", Credentials::none(), false);
    let before: Vec<_> = std::fs::read_dir(&s.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    refused(
        &s,
        Method::POST,
        "/api/v1/clients",
        Some(r#"{ "subnet": "10.0.9.0/24", "policy": "nope" }"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
    write(
        &s,
        Method::POST,
        "/api/v1/policies/main/rules",
        Some(r#"{ "rule": "||x.example^" }"#),
    )
    .await;
    // The file is whole YAML after a write, and no temporary file is left beside it.
    let mut after: Vec<_> = std::fs::read_dir(&s.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    after.retain(|n| n != "data");
    let mut before = before;
    before.retain(|n| n != "data");
    before.sort();
    after.sort();
    assert_eq!(before, after);
    assert!(
        s.saved().policies["main"]
            .rules
            .contains(&"||x.example^".to_owned())
    );
}

#[tokio::test]
async fn read_only_refuses_every_resource_write() {
    let s = setup("res-readonly", Credentials::none(), true);
    let writes = [
        (
            Method::POST,
            "/api/v1/lists",
            r#"{ "id": "x", "path": "x.txt" }"#,
        ),
        (
            Method::PUT,
            "/api/v1/lists/ads",
            r#"{ "id": "ads", "path": "x.txt" }"#,
        ),
        (Method::DELETE, "/api/v1/lists/ads", ""),
        (Method::POST, "/api/v1/lists/ads/refresh", ""),
        (
            Method::POST,
            "/api/v1/policies/main/rules",
            r#"{ "rule": "||x^" }"#,
        ),
        (Method::DELETE, "/api/v1/policies/kids", ""),
        (Method::PUT, "/api/v1/clients", "[]"),
        (Method::DELETE, "/api/v1/records?name=nas.home.example", ""),
        (
            Method::POST,
            "/api/v1/upstreams",
            r#"{ "name": "x", "servers": ["9.9.9.9"] }"#,
        ),
    ];
    for (method, uri, body) in writes {
        let message = refused(
            &s,
            method,
            uri,
            Some(body).filter(|b| !b.is_empty()),
            StatusCode::FORBIDDEN,
        )
        .await;
        assert!(message.contains("read-only"), "{message}");
    }
    for uri in [
        "/api/v1/lists",
        "/api/v1/policies/main/rules",
        "/api/v1/upstreams",
    ] {
        let (status, _) = s.local(Method::GET, uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }
}

#[tokio::test]
async fn without_a_config_file_writes_are_409_and_before_a_config_503() {
    let s = setup("res-nofile", Credentials::none(), false);
    let state = AdminState::new(Credentials::none(), false);
    state.set_control(Control {
        reloader: s.reloader.clone(),
        config_path: None,
    });
    let app = router(state);
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/v1/policies/main/rules",
        LOCAL,
        None,
        Some(r#"{ "rule": "||x.example^" }"#),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("--config"), "{body}");
    let (status, _) = call(&app, Method::GET, "/api/v1/lists", LOCAL, None, None).await;
    assert_eq!(status, StatusCode::OK);

    let starting = router(AdminState::default());
    for (method, uri) in [
        (Method::GET, "/api/v1/lists"),
        (Method::DELETE, "/api/v1/records?name=x.example"),
        (Method::POST, "/api/v1/lists/ads/refresh"),
    ] {
        let (status, _) = call(&starting, method, uri, LOCAL, None, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
    }
}

#[tokio::test]
async fn concurrent_writes_are_applied_one_after_another_and_none_is_lost() {
    let s = Arc::new(setup("res-concurrent", Credentials::none(), false));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!(r#"{{ "rule": "||r{i}.example^" }}"#);
            s.local(Method::POST, "/api/v1/policies/main/rules", Some(&body))
                .await
        }));
    }
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let rules = &s.saved().policies["main"].rules;
    for i in 0..8 {
        assert!(rules.contains(&format!("||r{i}.example^")), "{rules:?}");
    }
    assert_eq!(s.generation(), 9);
}

/// One HTTP/1.1 exchange over a plain TCP connection: the status and the body.
async fn http(addr: SocketAddr, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[tokio::test]
async fn a_rule_added_over_a_real_port_with_a_bearer_token_blocks_the_name() {
    let s = setup(
        "res-port",
        Credentials::none().with_token("port-token"),
        false,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = s.app.clone();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    let body = r#"{"rule":"||over-http.example^"}"#;
    let post = |auth: &str| {
        format!(
            "POST /api/v1/policies/main/rules HTTP/1.1\r\nHost: {addr}\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    // Loopback is not enough once a token is configured.
    let (status, _) = http(addr, &post("")).await;
    assert_eq!(status, 401);
    let (status, answer) = http(addr, &post("Authorization: Bearer port-token\r\n")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(json(&answer)["outcome"]["outcome"], "applied");

    let get = format!(
        "GET /api/v1/check?name=www.over-http.example HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer port-token\r\nConnection: close\r\n\r\n"
    );
    let (status, answer) = http(addr, &get).await;
    assert_eq!(status, 200, "{answer}");
    let v = json(&answer);
    assert_eq!(v["reason"], "FilteredBlockList");
    assert_eq!(v["rules"][0]["text"], "||over-http.example^");
    server.abort();
}
