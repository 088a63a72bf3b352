//! `GET /api/v1/querylog`: a search of the query log's in-memory entries, newest first,
//! a page at a time.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use ward_state::querylog::{MAX_LIMIT, Search, parse_reason};

use crate::AdminState;
use crate::api::error;
use crate::openapi::{ApiError, QueryLogPage};

/// The query of `GET /api/v1/querylog`. Every filter given must match; an empty one is
/// as if it were not given.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct QueryLogQuery {
    /// Entries at or after this time: RFC 3339 (`2024-05-01T12:00:00Z`,
    /// `2024-05-01T14:00:00+02:00`) or Unix ms.
    from: Option<String>,
    /// Entries at or before this time, as `from`.
    to: Option<String>,
    /// Entries of a client: an address (`192.168.1.10`), a subnet (`10.0.20.0/24`,
    /// `fd00::/8`) or a client's name in the config.
    client: Option<String>,
    /// Entries answered by this policy.
    policy: Option<String>,
    /// Entries whose name contains this (case-insensitive).
    name: Option<String>,
    /// `blocked`, `allowlisted`, `rewritten`, `processed` (not filtered), or AdGuard Home's
    /// reasons (`FilteredBlockList`, `NotFilteredAllowList`, `RewrittenRule`,
    /// `NotFilteredNotFound`).
    verdict: Option<String>,
    /// The page size: 100 unless given, 1 to 1000.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page, for the page after it.
    cursor: Option<String>,
}

/// Searches the query log.
///
/// The entries held in memory (`query_log.memory_entries`, since the server started),
/// newest first. Pass `next_cursor` back as `cursor` for the next page; it is `null` on
/// the last one.
#[utoipa::path(get, path = "/api/v1/querylog", tag = "querylog", operation_id = "search_querylog",
    params(QueryLogQuery),
    responses(
        (status = 200, description = "A page of entries, newest first", body = QueryLogPage),
        (status = 400, description = "A bad parameter, named", body = ApiError),
        (status = 503, description = "The query log is not running (starting, or \
            `query_log.enabled` is false)", body = ApiError),
    ))]
pub(crate) async fn search(
    State(state): State<AdminState>,
    query: Result<Query<QueryLogQuery>, QueryRejection>,
) -> Response {
    let Some(log) = state.query_log() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the query log is not running: the server is starting, or query_log.enabled is false",
        );
    };
    let search = match query
        .map_err(|e| e.body_text())
        .and_then(|Query(q)| to_search(q))
    {
        Ok(search) => search,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let log = log.clone();
    // A search scans up to the whole ring: off the async workers.
    match tokio::task::spawn_blocking(move || log.search(&search)).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the search failed: {e}"),
        ),
    }
}

/// The parameter, or `None` when it is missing or empty.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// The query's parameters checked; the error names the bad one and says why.
fn to_search(q: QueryLogQuery) -> Result<Search, String> {
    let time = |name: &str, value: Option<String>| {
        given(value)
            .map(|v| parse_time(v.trim()).map_err(|e| format!("{name}: {e}")))
            .transpose()
    };
    let from_ms = time("from", q.from)?;
    let to_ms = time("to", q.to)?;
    if let (Some(from), Some(to)) = (from_ms, to_ms) {
        if from > to {
            return Err("from: after to".into());
        }
    }
    let client = given(q.client)
        .map(|c| c.trim().parse().map_err(|e| format!("client: {e}")))
        .transpose()?;
    let reason = given(q.verdict)
        .map(|v| {
            parse_reason(v.trim()).ok_or_else(|| {
                format!(
                    "verdict: {v:?}: expected blocked, allowlisted, rewritten, processed, \
                     FilteredBlockList, NotFilteredAllowList, RewrittenRule or \
                     NotFilteredNotFound"
                )
            })
        })
        .transpose()?;
    let limit = given(q.limit)
        .map(|l| {
            l.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| format!("limit: {l:?}: expected a number from 1 to {MAX_LIMIT}"))
        })
        .transpose()?;
    let cursor = given(q.cursor)
        .map(|c| c.trim().parse().map_err(|e| format!("cursor: {e}")))
        .transpose()?;
    Ok(Search {
        from_ms,
        to_ms,
        client,
        policy: given(q.policy).map(|p| p.trim().to_owned()),
        name: given(q.name),
        reason,
        limit,
        cursor,
    })
}

/// Unix ms, or RFC 3339 with `Z` or a `±hh:mm` offset (fractions of a second allowed).
fn parse_time(s: &str) -> Result<u64, String> {
    const EXPECTED: &str = "expected RFC 3339 (2024-05-01T12:00:00Z) or Unix ms";
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| format!("{s:?}: too large for Unix ms"));
    }
    if !s.is_ascii() || s.len() < 11 {
        return Err(format!("{s:?}: {EXPECTED}"));
    }
    let (local, offset_minutes) = if let Some(local) = s.strip_suffix(['Z', 'z']) {
        (local, 0)
    } else {
        match s.as_bytes()[s.len() - 6..] {
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
                if [h1, h2, m1, m2].iter().all(u8::is_ascii_digit) =>
            {
                let digit = |b: u8| i64::from(b - b'0');
                let minutes = (digit(h1) * 10 + digit(h2)) * 60 + digit(m1) * 10 + digit(m2);
                let minutes = if sign == b'-' { -minutes } else { minutes };
                (&s[..s.len() - 6], minutes)
            }
            _ => {
                return Err(format!(
                    "{s:?}: {EXPECTED}, with Z or an offset such as +02:00"
                ));
            }
        }
    };
    // RFC 3339 allows a lowercase `t`; humantime does not.
    let time: SystemTime = humantime::parse_rfc3339_weak(&local.to_ascii_uppercase())
        .map_err(|e| format!("{s:?}: {e}; {EXPECTED}"))?;
    let local_ms = time
        .duration_since(UNIX_EPOCH)
        .map_err(|_| format!("{s:?}: before 1970"))?
        .as_millis();
    let utc_ms =
        i128::try_from(local_ms).unwrap_or(i128::MAX) - i128::from(offset_minutes) * 60_000;
    u64::try_from(utc_ms).map_err(|_| format!("{s:?}: before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_unix_ms_or_rfc_3339_with_an_offset() {
        let at = 1_714_564_800_000; // 2024-05-01T12:00:00Z
        for (text, want) in [
            ("1714564800000", Ok(at)),
            ("2024-05-01T12:00:00Z", Ok(at)),
            ("2024-05-01t12:00:00z", Ok(at)),
            ("2024-05-01T12:00:00.250Z", Ok(at + 250)),
            ("2024-05-01T14:00:00+02:00", Ok(at)),
            ("2024-05-01T07:30:00-04:30", Ok(at)),
            ("2024-05-01T12:00:00+00:00", Ok(at)),
            ("1970-01-01T00:30:00+01:00", Err("before 1970")),
            ("2024-05-01", Err("expected RFC 3339")),
            ("2024-05-01T12:00:00", Err("with Z or an offset")),
            ("2024-13-01T12:00:00Z", Err("expected RFC 3339")),
            ("yesterday", Err("expected RFC 3339")),
            ("2024-05-01T12:00:00+2:00", Err("with Z or an offset")),
            ("99999999999999999999999", Err("too large")),
            ("2024-05-01T12:00:00\u{e9}Z", Err("expected RFC 3339")),
            ("", Err("expected RFC 3339")),
        ] {
            match (parse_time(text), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: {got:?}, expected {want:?}"),
            }
        }
    }
}
