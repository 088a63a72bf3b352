//! The query log's API: `GET /api/v1/querylog` searches the in-memory entries, newest
//! first, a page at a time; `/api/v1/querylog/stream` tails them live (Server-Sent
//! Events); `/api/v1/querylog/export` streams every match as CSV or NDJSON. All three take
//! the same filters.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use ward_state::querylog::{
    Cursor, DEFAULT_LIMIT, Entry, MAX_LIMIT, Page, QueryLog, Search, parse_qtype, parse_rcode,
    parse_reason,
};

use crate::AdminState;
use crate::api::error;
use crate::openapi::{ApiError, QueryLogPage, QueryLogTail};

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
    /// `fd00::/8`), a client's name in the config, or a ClientID.
    client: Option<String>,
    /// Entries answered by this policy.
    policy: Option<String>,
    /// Entries whose name contains this (case-insensitive).
    name: Option<String>,
    /// `blocked`, `allowlisted`, `rewritten`, `processed` (not filtered), or AdGuard Home's
    /// reasons (`FilteredBlockList`, `NotFilteredAllowList`, `RewrittenRule`,
    /// `NotFilteredNotFound`).
    verdict: Option<String>,
    /// Entries of this question type: `A`, `AAAA`, `HTTPS`, `TYPE65`, or its number.
    qtype: Option<String>,
    /// Entries with this response code: `NOERROR`, `NXDOMAIN`, `SERVFAIL`, ..., or its
    /// number.
    rcode: Option<String>,
    /// Entries answered by this upstream (its address as entries show it), or `none` for
    /// those no upstream answered (blocked, cached, local).
    upstream: Option<String>,
    /// Only entries logged after a page's `head`: what is new since that page.
    since: Option<String>,
    /// `all`, on a primary: every pod's entries merged newest first (each entry names its
    /// `node`; `nodes` says which pods answered). This pod's only unless given. Search only.
    node: Option<String>,
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
    RawQuery(raw): RawQuery,
    query: Result<Query<QueryLogQuery>, QueryRejection>,
) -> Response {
    let Some(log) = state.query_log() else {
        return not_running();
    };
    let mut query = match query {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let node = state.node_name();
    let all = match crate::cluster::wants_all(query.node.as_deref()) {
        Ok(all) => all,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    if all {
        // The cursor is the merged one; each pod's own is inside it.
        let cursor = query.cursor.take();
        let search = match to_search(query) {
            Ok(search) => search,
            Err(message) => return error(StatusCode::BAD_REQUEST, message),
        };
        let limit = search.limit.unwrap_or(DEFAULT_LIMIT);
        let own = async |from: Option<String>| {
            let mut search = search.clone();
            search.cursor = from
                .map(|c| c.parse().map_err(|e| format!("cursor: {e}")))
                .transpose()?;
            let log = log.clone();
            let page = tokio::task::spawn_blocking(move || log.search(&search))
                .await
                .map_err(|e| format!("the search failed: {e}"))?;
            Ok(page_json(page, &node))
        };
        return match crate::cluster::merged_querylog(
            &state,
            raw.as_deref(),
            limit,
            given(cursor).as_deref(),
            own,
        )
        .await
        {
            Ok(page) => Json(page).into_response(),
            Err(message) => error(StatusCode::BAD_REQUEST, message),
        };
    }
    let search = match to_search(query) {
        Ok(search) => search,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let log = log.clone();
    // A search scans up to the whole ring: off the async workers.
    match tokio::task::spawn_blocking(move || log.search(&search)).await {
        Ok(page) => Json(page_json(page, &node)).into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the search failed: {e}"),
        ),
    }
}

/// A page as the API gives it: each entry with the pod that logged it and the cursor of
/// the entries after it.
fn page_json(page: Page, node: &str) -> serde_json::Value {
    let entries: Vec<serde_json::Value> = page
        .entries
        .iter()
        .zip(&page.cursors)
        .map(|(entry, cursor)| {
            let mut value = serde_json::to_value(entry).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.insert("node".into(), node.into());
                object.insert("cursor".into(), cursor.to_string().into());
            }
            value
        })
        .collect();
    serde_json::json!({
        "entries": entries,
        "next_cursor": page.next_cursor,
        "head": page.head,
        "nodes": null,
    })
}

/// How often a live tail looks for new entries: at most 4 events a second, however busy
/// the server (the UI renders each event once).
const TAIL_EVERY: Duration = Duration::from_millis(250);
/// The most entries one tail event carries; more set `more`.
const TAIL_MAX: usize = 100;
/// Live tails open at once; more are refused (429), so that open streams cannot take
/// the admin listener's connections.
pub(crate) const MAX_TAILS: usize = 16;

/// Places for the live tails: [`MAX_TAILS`] of them, shared by the admin state's clones.
#[derive(Clone)]
pub(crate) struct Tails(std::sync::Arc<tokio::sync::Semaphore>);

impl Default for Tails {
    fn default() -> Tails {
        Tails(std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_TAILS)))
    }
}

/// The query of the stream and the export: the search's filters besides.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// `csv` (a header row, then one row per entry) or `ndjson` (one JSON object per
    /// line, as the search's entries); `ndjson` unless given.
    format: Option<String>,
}

/// Tails the query log: Server-Sent Events of the entries that match as they are logged.
///
/// Takes the search's filters (but `cursor` and `limit`). Each `entries` event holds what
/// matched since the last one, newest first, at most 100 (`more` says when there were
/// more); events come at most 4 times a second, none while nothing matches, with a
/// comment every 15 s to keep the connection up. It starts at `since` (or the
/// `Last-Event-ID` a reconnecting `EventSource` sends), else at the newest entry. At most
/// 16 tails are open at once.
#[utoipa::path(get, path = "/api/v1/querylog/stream", tag = "querylog",
    operation_id = "tail_querylog",
    params(QueryLogQuery),
    responses(
        (status = 200, description = "`text/event-stream`: `entries` events, each a \
            `QueryLogTail`", body = QueryLogTail, content_type = "text/event-stream"),
        (status = 400, description = "A bad parameter, named", body = ApiError),
        (status = 429, description = "16 tails are open already", body = ApiError),
        (status = 503, description = "The query log is not running", body = ApiError),
    ))]
pub(crate) async fn stream(
    State(state): State<AdminState>,
    headers: HeaderMap,
    query: Result<Query<QueryLogQuery>, QueryRejection>,
) -> Response {
    let Some(log) = state.query_log() else {
        return not_running();
    };
    let mut search = match query
        .map_err(|e| e.body_text())
        .and_then(|Query(q)| to_search(q))
    {
        Ok(search) => search,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let Ok(permit) = state.tails().0.clone().try_acquire_owned() else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{MAX_TAILS} live tails are open already; close one"),
        );
    };
    if search.since.is_none() {
        search.since = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
    }
    let since = search.since.unwrap_or_else(|| log.head());
    search.cursor = None;
    search.limit = Some(TAIL_MAX);
    let tail = Tail {
        log: log.clone(),
        search,
        since,
        node: state.node_name(),
        _permit: permit,
    };
    let events = futures_util::stream::unfold(tail, |mut tail| async move {
        loop {
            tokio::time::sleep(TAIL_EVERY).await;
            if tail.log.head() == tail.since {
                continue;
            }
            tail.search.since = Some(tail.since);
            let (log, search) = (tail.log.clone(), tail.search.clone());
            let page = match tokio::task::spawn_blocking(move || log.search(&search)).await {
                Ok(page) => page,
                Err(_) => return None,
            };
            if let Ok(head) = page.head.parse() {
                tail.since = head;
            }
            if page.entries.is_empty() {
                continue;
            }
            let more = page.next_cursor.is_some();
            let head = page.head.clone();
            let page = page_json(page, &tail.node);
            let body = serde_json::json!({
                "entries": page["entries"],
                "more": more,
                "head": head,
            });
            let event = Event::default()
                .event("entries")
                .id(head)
                .json_data(body)
                .unwrap_or_default();
            return Some((Ok::<_, std::convert::Infallible>(event), tail));
        }
    });
    // Fused: polled after its end (a failed search), it ends again rather than panicking.
    Sse::new(futures_util::StreamExt::fuse(events))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// A live tail's place: the filters, and the head it has sent up to.
struct Tail {
    log: QueryLog,
    search: Search,
    since: Cursor,
    /// This pod's name, for the entries.
    node: String,
    /// Its place among [`MAX_TAILS`], given back when the client goes.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// Exports the query log: every entry that matches, newest first, streamed.
///
/// Takes the search's filters; `limit` caps the rows (every match unless given). Rows are
/// written as they are found, a page of 1,000 at a time, so an export of the whole log
/// never sits in memory; the file is named `ward-querylog-<time>.<csv|ndjson>`.
#[utoipa::path(get, path = "/api/v1/querylog/export", tag = "querylog",
    operation_id = "export_querylog",
    params(QueryLogQuery, ExportQuery),
    responses(
        (status = 200, description = "`text/csv` or `application/x-ndjson`, as an \
            attachment", body = String, content_type = "text/csv"),
        (status = 400, description = "A bad parameter, named", body = ApiError),
        (status = 503, description = "The query log is not running", body = ApiError),
    ))]
pub(crate) async fn export(
    State(state): State<AdminState>,
    query: Result<Query<QueryLogQuery>, QueryRejection>,
    format: Result<Query<ExportQuery>, QueryRejection>,
) -> Response {
    let Some(log) = state.query_log() else {
        return not_running();
    };
    let parsed = query
        .map_err(|e| e.body_text())
        .and_then(|Query(q)| {
            let cap = given(q.limit.clone())
                .map(|l| {
                    l.trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("limit: {l:?}: expected a number from 1"))
                })
                .transpose()?;
            let search = to_search(QueryLogQuery { limit: None, ..q })?;
            Ok((search, cap))
        })
        .and_then(|(search, cap)| {
            let format = format.map_err(|e| e.body_text())?.0.format;
            let format = match given(format).as_deref().map(str::trim) {
                None | Some("ndjson") => Format::Ndjson,
                Some("csv") => Format::Csv,
                Some(other) => return Err(format!("format: {other:?}: expected csv or ndjson")),
            };
            Ok((search, cap, format))
        });
    let (mut search, cap, format) = match parsed {
        Ok(p) => p,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let log = log.clone();
    tokio::task::spawn_blocking(move || {
        let mut left = cap.unwrap_or(usize::MAX);
        let mut out = format.start();
        loop {
            search.limit = Some(MAX_LIMIT.min(left));
            let page = log.search(&search);
            for entry in &page.entries {
                format.write(entry, &mut out);
            }
            left -= page.entries.len();
            // The client went away: stop searching.
            if tx.blocking_send(std::mem::take(&mut out)).is_err() {
                return;
            }
            match page.next_cursor.and_then(|c| c.parse().ok()) {
                Some(next) if left > 0 => search.cursor = Some(next),
                _ => return,
            }
        }
    });
    // poll_fn, not unfold: the gzip layer polls a body again after its end, which
    // unfold panics on (a closed channel answers None as often as asked).
    let mut rx = rx;
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|chunk| chunk.map(Ok::<_, std::convert::Infallible>))
    });
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "");
    (
        [
            (header::CONTENT_TYPE, format.content_type()),
            (
                header::CONTENT_DISPOSITION,
                &format!(
                    "attachment; filename=\"ward-querylog-{stamp}.{}\"",
                    format.extension()
                ),
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// An export's file format.
#[derive(Clone, Copy, Debug)]
enum Format {
    Csv,
    Ndjson,
}

/// The CSV columns, in order: the JSON form's fields.
const CSV_COLUMNS: [&str; 19] = [
    "time",
    "time_ms",
    "client",
    "client_name",
    "client_id",
    "protocol",
    "policy",
    "name",
    "qtype",
    "reason",
    "rule",
    "list",
    "service",
    "schedule",
    "answer",
    "rcode",
    "upstream",
    "cached",
    "elapsed_us",
];

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }

    /// The file's first bytes: CSV's header row.
    fn start(self) -> Vec<u8> {
        match self {
            Format::Csv => csv_row(CSV_COLUMNS.iter().copied()),
            Format::Ndjson => Vec::new(),
        }
    }

    fn write(self, entry: &Entry, out: &mut Vec<u8>) {
        match self {
            Format::Ndjson => {
                if serde_json::to_writer(&mut *out, entry).is_ok() {
                    out.push(b'\n');
                }
            }
            Format::Csv => {
                // The JSON form's fields, so both files hold the same texts.
                let value = serde_json::to_value(entry).unwrap_or_default();
                let cells = CSV_COLUMNS.map(|column| match &value[column] {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                out.extend(csv_row(cells.iter().map(String::as_str)));
            }
        }
    }
}

/// One CSV row (RFC 4180, as the `csv` crate writes it: quoted where needed).
fn csv_row<'a>(cells: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let _ = writer.write_record(cells);
    writer.into_inner().unwrap_or_default()
}

fn not_running() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the query log is not running: the server is starting, or query_log.enabled is false",
    )
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
    let since = given(q.since)
        .map(|c| c.trim().parse().map_err(|e| format!("since: {e}")))
        .transpose()?;
    let qtype = given(q.qtype)
        .map(|t| {
            parse_qtype(&t).ok_or_else(|| {
                format!("qtype: {t:?}: expected a type (A, AAAA, HTTPS, TYPE65) or its number")
            })
        })
        .transpose()?;
    let rcode = given(q.rcode)
        .map(|r| {
            parse_rcode(&r).ok_or_else(|| {
                format!(
                    "rcode: {r:?}: expected NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ... or 0 to 15"
                )
            })
        })
        .transpose()?;
    let upstream = given(q.upstream)
        .map(|u| u.parse().map_err(|e| format!("upstream: {e}")))
        .transpose()?;
    Ok(Search {
        from_ms,
        to_ms,
        client,
        policy: given(q.policy).map(|p| p.trim().to_owned()),
        name: given(q.name),
        reason,
        qtype,
        rcode,
        upstream,
        limit,
        cursor,
        since,
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
