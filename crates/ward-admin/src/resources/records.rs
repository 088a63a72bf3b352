//! `/api/v1/records`: the local answers, as one list.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use ward_config::{LocalRecord, RecordKind};

use super::{JsonBody, bad_request, conflict, edit, not_found, read};
use crate::AdminState;
use crate::openapi::{ApiError, LocalRecordSchema, WriteAnswer};

fn record_kind(text: &str) -> Result<RecordKind, String> {
    text.trim()
        .parse()
        .map_err(|()| format!("{text:?} is not one of A, AAAA, CNAME, TXT, PTR, MX, SRV, NS"))
}

/// Every local record, in config order.
#[utoipa::path(get, path = "/api/v1/records", tag = "records", operation_id = "get_records",
    responses((status = 200, description = "The records", body = [LocalRecordSchema])))]
pub(crate) async fn all(State(state): State<AdminState>) -> Response {
    read(&state, |config| Ok(config.records.clone()))
}

/// Replaces every local record.
#[utoipa::path(put, path = "/api/v1/records", tag = "records", operation_id = "replace_records",
    request_body = [LocalRecordSchema],
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "A bad name or value, a duplicate, a CNAME beside \
            another record", body = ApiError),
    ))]
pub(crate) async fn replace(
    State(state): State<AdminState>,
    JsonBody(records): JsonBody<Vec<LocalRecord>>,
) -> Response {
    edit(&state, |config| {
        config.records = records;
        Ok(())
    })
    .await
}

/// Adds a local record.
#[utoipa::path(post, path = "/api/v1/records", tag = "records", operation_id = "add_record",
    request_body = LocalRecordSchema,
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "A bad name or value, or a CNAME beside another record",
            body = ApiError),
        (status = 409, description = "The same record exists", body = ApiError),
    ))]
pub(crate) async fn add(
    State(state): State<AdminState>,
    JsonBody(record): JsonBody<LocalRecord>,
) -> Response {
    edit(&state, |config| {
        if config
            .records
            .iter()
            .any(|r| r.name == record.name && r.rtype == record.rtype && r.value == record.value)
        {
            return Err(conflict(format!(
                "the record {} {} {} exists",
                record.name, record.rtype, record.value
            )));
        }
        config.records.push(record);
        Ok(())
    })
    .await
}

/// The query of `DELETE /api/v1/records`.
#[derive(Deserialize)]
pub(crate) struct RecordQuery {
    name: Option<String>,
    #[serde(rename = "type")]
    rtype: Option<String>,
    value: Option<String>,
}

/// Removes the records of a name: all of them, or those of one type (and value).
#[utoipa::path(delete, path = "/api/v1/records", tag = "records", operation_id = "remove_records",
    params(
        ("name" = String, Query, description = "The record name, e.g. `nas.home.example`"),
        ("type" = Option<String>, Query, description = "Only records of this type"),
        ("value" = Option<String>, Query, description = "Only records with this value"),
    ),
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "No name, or an unknown type", body = ApiError),
        (status = 404, description = "No such record", body = ApiError),
    ))]
pub(crate) async fn remove(
    State(state): State<AdminState>,
    Query(query): Query<RecordQuery>,
) -> Response {
    let Some(name) = query.name.as_deref().filter(|n| !n.trim().is_empty()) else {
        return bad_request("name: required, e.g. ?name=nas.home.example&type=A").into_response();
    };
    let name = ward_config::normalise_name(name);
    let rtype = match query.rtype.as_deref().filter(|t| !t.trim().is_empty()) {
        None => None,
        Some(t) => match record_kind(t) {
            Ok(kind) => Some(kind),
            Err(e) => return bad_request(format!("type: {e}")).into_response(),
        },
    };
    let value = query.value.as_deref();
    edit(&state, |config| {
        let matches = |r: &LocalRecord| {
            r.name == name
                && rtype.is_none_or(|t| r.rtype == t)
                && value.is_none_or(|v| r.value == v)
        };
        if !config.records.iter().any(matches) {
            let what = match (rtype, value) {
                (Some(t), Some(v)) => format!("{t} record {v:?} for"),
                (Some(t), None) => format!("{t} record for"),
                (None, Some(v)) => format!("record {v:?} for"),
                (None, None) => "record for".to_owned(),
            };
            let known: Vec<String> = config
                .records
                .iter()
                .map(|r| format!("{} {}", r.name, r.rtype))
                .collect();
            return Err(not_found(&what, &name, known.iter().map(String::as_str)));
        }
        config.records.retain(|r| !matches(r));
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types_are_read_as_the_config_reads_them() {
        assert_eq!(
            ward_config::normalise_name("NAS.Home.Example."),
            "nas.home.example"
        );
        assert_eq!(
            ward_config::normalise_name("*.Bücher.example"),
            "*.xn--bcher-kva.example"
        );
        assert_eq!(record_kind("aaaa").unwrap(), RecordKind::Aaaa);
        assert_eq!(record_kind("Cname").unwrap(), RecordKind::Cname);
        assert_eq!(record_kind("MX").unwrap(), RecordKind::Mx);
        assert!(record_kind("HINFO").is_err());
    }
}
