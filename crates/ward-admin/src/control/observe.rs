//! `/control/stats` and `/control/querylog`, from Ward's statistics and query log, in
//! AdGuard Home's shapes (its counts are integers, its times seconds, its `elapsedMs` a
//! string: the tools check).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use ward_state::querylog::{Entry, ReasonFilter, Search};
use ward_state::stats::{Range, ReportQuery, Resolution};

use super::filtering::{filter_list_id, reason_name};
use super::{Body, config, empty, json, starting, text, write};
use crate::AdminState;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// AdGuard Home's top lists: one single-key object per name.
fn tops<T>(rows: &[T], key: impl Fn(&T) -> String, value: impl Fn(&T) -> Value) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert(key(r), value(r));
            Value::Object(m)
        })
        .collect()
}

/// `GET /control/stats`: the last 24 hours, per hour.
pub(super) async fn stats(State(state): State<AdminState>) -> Response {
    let Some(stats) = state.stats() else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Couldn't get statistics data",
        );
    };
    let r = stats.report(
        now_ms(),
        &ReportQuery {
            range: Range::Day,
            resolution: Resolution::Hour,
            limit: 100,
        },
    );
    let series =
        |f: fn(&ward_state::stats::Point) -> u64| -> Vec<u64> { r.series.iter().map(f).collect() };
    let t = &r.totals;
    json(json!({
        "time_units": "hours",
        "top_queried_domains": tops(&r.top_names, |n| n.name.clone(), |n| n.count.into()),
        "top_clients": tops(&r.top_clients, |c| c.client.to_string(), |c| c.count.into()),
        "top_blocked_domains": tops(&r.top_blocked, |n| n.name.clone(), |n| n.count.into()),
        "top_upstreams_responses": tops(&r.upstreams, |u| u.upstream.clone(), |u| u.queries.into()),
        "top_upstreams_avg_time": tops(&r.upstreams, |u| u.upstream.clone(), |u| (u.avg_ms / 1000.0).into()),
        "dns_queries": series(|p| p.totals.queries),
        "blocked_filtering": series(|p| p.totals.blocked),
        "replaced_safebrowsing": series(|_| 0),
        "replaced_parental": series(|_| 0),
        "num_dns_queries": t.queries,
        "num_blocked_filtering": t.blocked,
        "num_replaced_safebrowsing": 0,
        "num_replaced_safesearch": t.safe_search,
        "num_replaced_parental": 0,
        "avg_processing_time": r.avg_processing_ms / 1000.0,
    }))
}

/// `POST /control/stats_reset`.
pub(super) async fn stats_reset(State(state): State<AdminState>) -> Response {
    match state.stats().map(ward_state::stats::Stats::reset) {
        Some(Ok(())) => empty(),
        Some(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("stats: {e}")),
        None => text(StatusCode::INTERNAL_SERVER_ERROR, "stats: not running"),
    }
}

/// Ward keeps statistics for 30 days.
const STATS_MS: u64 = 30 * 24 * 3600 * 1000;

/// `GET /control/stats/config`.
pub(super) async fn stats_config() -> Response {
    json(
        json!({ "ignored": null, "interval": STATS_MS, "enabled": true, "ignored_enabled": false }),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct StatsConfigBody {
    enabled: Option<bool>,
    interval: Option<f64>,
}

/// `PUT /control/stats/config/update`: Ward's statistics are always on and kept 30 days.
pub(super) async fn stats_config_update(Body(body): Body<StatsConfigBody>) -> Response {
    match (body.enabled, body.interval) {
        (None, _) => text(StatusCode::UNPROCESSABLE_ENTITY, "enabled is null"),
        (Some(true), None) => empty(),
        (Some(true), Some(ms)) if (ms as u64) == STATS_MS => empty(),
        _ => text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported interval: Ward keeps statistics on, for 30 days",
        ),
    }
}

/// `GET /control/stats_info` (deprecated in AdGuard Home).
pub(super) async fn stats_info() -> Response {
    json(json!({ "interval": 30 }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct LogQuery {
    older_than: Option<String>,
    limit: Option<usize>,
    search: Option<String>,
    response_status: Option<String>,
}

/// A query log entry in AdGuard Home's shape.
fn entry(e: &Entry) -> Value {
    let time = ward_config::window::Timestamp::from_millisecond(e.time_ms as i64)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let qtype = ward_rules::RecordType::from(e.qtype).to_string();
    let answer: Vec<Value> = e
        .answer
        .split(", ")
        .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
        .map(|ip| {
            let t = if ip.is_ipv4() { "A" } else { "AAAA" };
            json!({ "type": t, "value": ip.to_string(), "ttl": 0 })
        })
        .collect();
    let rules: Vec<Value> = match (&e.rule, &e.list) {
        (Some(rule), Some(list)) => {
            vec![json!({ "filter_list_id": filter_list_id(list), "text": rule })]
        }
        _ => Vec::new(),
    };
    let mut out = json!({
        "cached": e.cached,
        "client": e.client.to_string(),
        "client_info": { "name": e.client_name.clone().unwrap_or_default(), "disallowed_rule": "", "disallowed": false, "whois": {} },
        "client_proto": match e.protocol {
            ward_state::querylog::Protocol::Udp | ward_state::querylog::Protocol::Tcp => "",
            other => other.as_str(),
        },
        "elapsedMs": format!("{:.3}", f64::from(e.elapsed_us) / 1000.0),
        "question": { "class": "IN", "name": e.name, "type": qtype },
        "reason": reason_name(e.reason),
        "rules": rules,
        "status": ward_rules::rcode_name(ward_rules::ResponseCode::from(0, e.rcode)),
        "time": time,
        "upstream": e.upstream.as_deref().unwrap_or(""),
    });
    if !answer.is_empty() {
        out["answer"] = answer.into();
    }
    if let Some(id) = &e.client_id {
        out["client_id"] = id.clone().into();
    }
    if let (Some(service), ward_rules::Reason::FilteredBlockedService) = (&e.service, e.reason) {
        out["service_name"] = service.clone().into();
    }
    out
}

/// `GET /control/querylog`: newest first, `limit` at a time (500 unless given, at most
/// 1,000), older than `older_than`.
pub(super) async fn querylog(
    State(state): State<AdminState>,
    Query(q): Query<LogQuery>,
) -> Response {
    let Some(log) = state.query_log() else {
        return json(json!({ "data": [], "oldest": "" }));
    };
    let to_ms = match q.older_than.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match t.parse::<ward_config::window::Timestamp>() {
            Ok(t) => Some((t.as_millisecond() - 1).max(0) as u64),
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("parsing params: older_than: {e}"),
                );
            }
        },
    };
    let status = q
        .response_status
        .as_deref()
        .map(|s| s.trim_matches('"').to_owned());
    let reason = match status.as_deref() {
        None | Some("" | "all") => None,
        Some("filtered" | "blocked") => ward_state::querylog::parse_reason("blocked"),
        Some("blocked_services") => ward_state::querylog::parse_reason("blocked_service"),
        Some("whitelisted") => ward_state::querylog::parse_reason("allowlisted"),
        Some("rewritten") => ward_state::querylog::parse_reason("rewritten"),
        Some("safe_search") => ward_state::querylog::parse_reason("safe_search"),
        Some("processed") => ward_state::querylog::parse_reason("processed"),
        Some("blocked_safebrowsing" | "blocked_parental") => Some(ReasonFilter::none()),
        Some(other) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("parsing params: invalid value {other}"),
            );
        }
    };
    let search = Search {
        to_ms,
        name: q
            .search
            .map(|s| s.trim_matches('"').to_owned())
            .filter(|s| !s.is_empty()),
        reason,
        limit: Some(q.limit.unwrap_or(500).clamp(1, 1000)),
        ..Search::default()
    };
    let page = log.search(&search);
    let oldest = page
        .entries
        .last()
        .and_then(|e| ward_config::window::Timestamp::from_millisecond(e.time_ms as i64).ok())
        .map(|t| t.to_string())
        .unwrap_or_default();
    let data: Vec<Value> = page.entries.iter().map(entry).collect();
    json(json!({ "data": data, "oldest": oldest }))
}

/// `GET /control/querylog/config`.
pub(super) async fn querylog_config(State(state): State<AdminState>) -> Response {
    let Some(config) = config(&state) else {
        return starting();
    };
    let q = &config.query_log;
    json(json!({
        "ignored": (!q.ignore.is_empty()).then(|| q.ignore.clone()),
        "interval": q.retention.as_millis() as u64,
        "enabled": q.enabled,
        "ignored_enabled": !q.ignore.is_empty(),
        "anonymize_client_ip": q.anonymize_clients,
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct LogConfigBody {
    enabled: Option<bool>,
    interval: Option<f64>,
    anonymize_client_ip: Option<bool>,
    ignored: Option<Vec<String>>,
    ignored_enabled: Option<bool>,
}

/// `PUT /control/querylog/config/update`: `query_log` of this node's config.
pub(super) async fn querylog_config_update(
    State(state): State<AdminState>,
    Body(b): Body<LogConfigBody>,
) -> Response {
    let Some(enabled) = b.enabled else {
        return text(StatusCode::UNPROCESSABLE_ENTITY, "enabled is null");
    };
    let Some(anonymize) = b.anonymize_client_ip else {
        return text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "anonymize_client_ip is null",
        );
    };
    let hour = 3_600_000.0;
    let interval = b.interval.unwrap_or(90.0 * 24.0 * hour);
    if interval < hour {
        return text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported interval: less than an hour",
        );
    }
    if interval > 366.0 * 24.0 * hour {
        return text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported interval: more than a year",
        );
    }
    let ignored = match b.ignored_enabled {
        Some(false) => Vec::new(),
        _ => b.ignored.unwrap_or_default(),
    };
    write(&state, empty, move |config| {
        let q = &mut config.query_log;
        q.enabled = enabled;
        q.anonymize_clients = anonymize;
        q.retention = std::time::Duration::from_millis(interval as u64);
        q.ignore = ignored;
        Ok(())
    })
    .await
}

/// `GET /control/querylog_info` (deprecated in AdGuard Home): the retention in days.
pub(super) async fn querylog_info(State(state): State<AdminState>) -> Response {
    let Some(config) = config(&state) else {
        return starting();
    };
    let q = &config.query_log;
    json(json!({
        "interval": q.retention.as_secs_f64() / 86_400.0,
        "enabled": q.enabled,
        "anonymize_client_ip": q.anonymize_clients,
    }))
}
