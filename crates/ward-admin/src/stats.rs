//! `GET /api/v1/stats` (the dashboard's numbers) and `POST /api/v1/stats/reset`.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use ward_state::querylog::Search;
use ward_state::stats::{MAX_TOP, Range, ReportQuery, Resolution, Stats};

use crate::AdminState;
use crate::api::error;
use crate::openapi::{ApiError, StatsReport};

/// The query of `GET /api/v1/stats`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsQuery {
    /// `24h` (the default), `7d` or `30d`: the current hour and the 23, 167 or 719 before.
    range: Option<String>,
    /// `hour` (the default): a point per hour of the range; `minute`: a point per minute
    /// of the last 24 hours (with `range=24h` only: minutes are kept for a day).
    resolution: Option<String>,
    /// The length of each top list: 10 unless given, 1 to 100.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Only the queries answered by this policy (counted from the query log).
    policy: Option<String>,
    /// Only the queries of this client: an address, a subnet (`10.0.20.0/24`) or a
    /// client's name (counted from the query log).
    client: Option<String>,
    /// `all`, on a primary: every pod's counts added up (`nodes` says which pods
    /// answered). This pod's only unless given.
    node: Option<String>,
}

fn unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the statistics are not running yet: the server is starting",
    )
}

/// The statistics of a range: totals, a time series, top lists.
///
/// `totals`, `blocked_ratio`, `avg_processing_ms` and `series` cover the buckets from
/// `from_ms` to `to_ms` (the totals are the sum of the series). The top lists, `policies`
/// and `upstreams` come from the hour buckets of the range; each hour keeps its top 100
/// names and clients for a day and its top 30 after that, so over 7 or 30 days the top
/// lists are exact for the names that are in each hour's top and approximate below.
/// Each node counts its own queries.
#[utoipa::path(get, path = "/api/v1/stats", tag = "stats", operation_id = "get_stats",
    params(StatsQuery),
    responses(
        (status = 200, description = "The statistics", body = StatsReport),
        (status = 400, description = "A bad parameter, named", body = ApiError),
        (status = 503, description = "Starting", body = ApiError),
    ))]
pub(crate) async fn report(
    State(state): State<AdminState>,
    RawQuery(raw): RawQuery,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Response {
    let Some(stats) = state.stats() else {
        return unavailable();
    };
    let (query, scope, all) = match query.map_err(|e| e.body_text()).and_then(|Query(q)| {
        let scope = to_scope(&q)?;
        let all = crate::cluster::wants_all(q.node.as_deref())?;
        Ok((to_report_query(q)?, scope, all))
    }) {
        Ok(parsed) => parsed,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let made = match scope {
        None => {
            let stats = stats.clone();
            // Merging 30 days of hours takes milliseconds: off the async workers.
            tokio::task::spawn_blocking(move || (stats.report(now_ms, &query), Value::Null)).await
        }
        Some((filter, policy, client)) => {
            let Some(log) = state.query_log().cloned() else {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "statistics of a policy or client are counted from the query log, which \
                     is not running (query_log.enabled is false, or the server is starting)",
                );
            };
            // Up to the whole log counted: off the async workers.
            tokio::task::spawn_blocking(move || {
                let report = Stats::of_log(&log, &filter, now_ms, &query);
                let scope =
                    json!({ "policy": policy, "client": client, "since_ms": log.oldest_ms() });
                (report, scope)
            })
            .await
        }
    };
    let (report, scope) = match made {
        Ok(made) => made,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the report failed: {e}"),
            );
        }
    };
    let mut value = serde_json::to_value(report).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("scope".into(), scope);
        object.insert("node".into(), state.node_name().into());
        object.insert("nodes".into(), Value::Null);
    }
    if all {
        value = crate::cluster::merged_stats(&state, raw.as_deref(), query.limit, value).await;
    }
    Json(value).into_response()
}

/// A scoped report's query-log filter, and the policy and client as asked.
type Scope = (Search, Option<String>, Option<String>);

/// The query log's filter for a scoped report, and the scope as asked; `None` unscoped.
fn to_scope(q: &StatsQuery) -> Result<Option<Scope>, String> {
    let policy = given(q.policy.clone());
    let client = given(q.client.clone());
    if policy.is_none() && client.is_none() {
        return Ok(None);
    }
    let filter = Search {
        policy: policy.clone(),
        client: client
            .as_deref()
            .map(|c| c.parse().map_err(|e| format!("client: {e}")))
            .transpose()?,
        ..Search::default()
    };
    Ok(Some((filter, policy, client)))
}

fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn to_report_query(q: StatsQuery) -> Result<ReportQuery, String> {
    let mut report = ReportQuery::default();
    if let Some(range) = given(q.range) {
        report.range = range.parse().map_err(|e| format!("range: {e}"))?;
    }
    if let Some(resolution) = given(q.resolution) {
        report.resolution = resolution.parse().map_err(|e| format!("resolution: {e}"))?;
    }
    if report.resolution == Resolution::Minute && report.range != Range::Day {
        return Err("resolution: minute needs range=24h (minutes are kept for a day)".into());
    }
    if let Some(limit) = given(q.limit) {
        report.limit = limit
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_TOP).contains(n))
            .ok_or_else(|| format!("limit: {limit:?}: expected a number from 1 to {MAX_TOP}"))?;
    }
    Ok(report)
}

/// Forgets every statistic of this node.
///
/// Clears the counts and saves the empty statistics, so a restart does not bring them
/// back. The query log is not touched. Refused with `admin.read_only` and on a replica,
/// like every write.
#[utoipa::path(post, path = "/api/v1/stats/reset", tag = "stats", operation_id = "reset_stats",
    responses(
        (status = 204, description = "Reset"),
        (status = 403, description = "Read-only, or a replica", body = ApiError),
        (status = 500, description = "Reset in memory, but the empty statistics could not be \
            saved", body = ApiError),
        (status = 503, description = "Starting", body = ApiError),
    ))]
pub(crate) async fn reset(State(state): State<AdminState>) -> Response {
    let Some(stats) = state.stats() else {
        return unavailable();
    };
    let stats = stats.clone();
    match tokio::task::spawn_blocking(move || stats.reset()).await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the statistics are reset, but saving them failed: {e}"),
        ),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the reset failed: {e}"),
        ),
    }
}
