//! external-dns's webhook provider API (`api/webhook.yaml` and `provider/webhook` in
//! kubernetes-sigs/external-dns), on a listener of its own (`external_dns.listen`):
//! negotiation (`GET /`, the domain filter), `GET /records`, `POST /adjustendpoints`,
//! `POST /records` (a batch of changes) and `GET /healthz`, in the media type
//! `application/external.dns.webhook+json;version=1`.
//!
//! The records are Ward's local records. external-dns's are marked `managed_by:
//! external-dns`; it may create, update and delete those, never another: a create over a
//! record someone else keeps, or a delete of one, refuses the whole batch with 409 and the
//! reason. A batch is one config write (the API's write path: the config file, or the layer
//! in `data_dir`), so it applies at once or not at all, recompiles no list, and is pushed to
//! the replicas like any write. `GET /records` lists every record within the domain filter,
//! so that external-dns's TXT registry sees the names others keep and leaves them alone.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use ward_config::{Config, LocalRecord, RecordKind};

use crate::AdminState;
use crate::resources::Refusal;

/// The webhook's media type, in every answer and in every body it takes.
pub const MEDIA_TYPE: &str = "application/external.dns.webhook+json;version=1";
/// What `managed_by` says of external-dns's records.
pub const MANAGER: &str = "external-dns";
/// The largest body taken: a batch of some 20,000 records.
const BODY_LIMIT: usize = 8 << 20;

/// One record set as external-dns names it (`endpoint.Endpoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The owner name.
    #[serde(default)]
    pub dns_name: String,
    /// The values, one record each (TXT values in double quotes, as external-dns writes
    /// them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// `A`, `AAAA`, `CNAME`, `TXT`, `SRV`, `MX`, `NS` or `PTR`.
    #[serde(default)]
    pub record_type: String,
    /// For weighted and geographic routing, which Ward does not do: refused when set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub set_identifier: String,
    /// The TTL; 0 is Ward's default (300 s), and [`adjust`] says so.
    #[serde(default, rename = "recordTTL", skip_serializing_if = "is_zero")]
    pub record_ttl: i64,
    /// external-dns's own bookkeeping (kept by its TXT registry, not here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Provider-specific settings: Ward has none, so they are dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provider_specific: Vec<serde_json::Value>,
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's signature")]
fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A batch of changes (`plan.Changes`): `updateOld[i]` becomes `updateNew[i]`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    #[serde(default)]
    create: Vec<Endpoint>,
    #[serde(default)]
    update_old: Vec<Endpoint>,
    #[serde(default)]
    update_new: Vec<Endpoint>,
    #[serde(default)]
    delete: Vec<Endpoint>,
}

/// The webhook's routes, under `prefix` (`external_dns.path_prefix`, else none).
pub fn router(state: AdminState, prefix: Option<&str>) -> Router {
    let prefix = prefix.unwrap_or_default();
    let root = if prefix.is_empty() { "/" } else { prefix };
    let mut routes = Router::new()
        .route(root, get(negotiate))
        .route(&format!("{prefix}/records"), get(records).post(apply))
        .route(&format!("{prefix}/adjustendpoints"), post(adjust_endpoints))
        .route(&format!("{prefix}/healthz"), get(healthz));
    if !prefix.is_empty() {
        routes = routes.route(&format!("{prefix}/"), get(negotiate));
    }
    routes
        .fallback(|| async { refused(StatusCode::NOT_FOUND, "not found") })
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// An answer in the webhook's media type.
fn answer(value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, MEDIA_TYPE)], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// An error as the API answers one: `{"error": message}` (external-dns logs the status).
fn refused(status: StatusCode, message: impl Into<String>) -> Response {
    Refusal::new(status, message).into_response()
}

/// A body in the webhook's media type, decoded; else 415 or 400 with the reason.
fn body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> Result<T, Refusal> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = media.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/external.dns.webhook+json") {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the body must be {MEDIA_TYPE}, not {media:?}"),
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("body: {e}")))
}

/// `GET /`: the domain filter, as external-dns's `DomainFilter` reads it.
async fn negotiate(State(state): State<AdminState>) -> Response {
    let Some(config) = config(&state) else {
        return starting();
    };
    let include = &config.external_dns.domains;
    answer(&serde_json::json!({ "include": include }))
}

async fn healthz(State(state): State<AdminState>) -> Response {
    match config(&state) {
        Some(_) => answer(&serde_json::json!({ "status": "ok" })),
        None => starting(),
    }
}

fn config(state: &AdminState) -> Option<std::sync::Arc<Config>> {
    Some(state.control()?.reloader.current().config.clone())
}

fn starting() -> Response {
    refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "starting: no config loaded yet",
    )
}

/// Whether `name` is one external-dns may manage: in the domain filter (a domain or a name
/// below it), or any name without one.
fn in_domains(config: &Config, name: &str) -> bool {
    let domains = &config.external_dns.domains;
    let name = name.trim_start_matches("*.");
    domains.is_empty()
        || domains
            .iter()
            .any(|d| ward_state::is_same_or_subdomain(name, d))
}

/// `GET /records`: every local record in the domain filter, by name and type.
async fn records(State(state): State<AdminState>) -> Response {
    let Some(config) = config(&state) else {
        return starting();
    };
    let mut sets: BTreeMap<(String, RecordKind), Endpoint> = BTreeMap::new();
    for r in config
        .records
        .iter()
        .filter(|r| in_domains(&config, &r.name))
    {
        let set = sets
            .entry((r.name.clone(), r.rtype))
            .or_insert_with(|| Endpoint {
                dns_name: r.name.clone(),
                record_type: r.rtype.to_string(),
                record_ttl: i64::from(r.ttl),
                ..Endpoint::default()
            });
        set.targets.push(target(r.rtype, &r.value));
    }
    answer(&sets.into_values().collect::<Vec<_>>())
}

/// A record's value as external-dns writes a target: TXT in double quotes.
fn target(rtype: RecordKind, value: &str) -> String {
    if rtype == RecordKind::Txt {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value.to_owned()
    }
}

/// A target as the record's value: TXT without its quotes (and their escapes), host
/// names normalised as the config loads them.
fn value(rtype: RecordKind, target: &str) -> String {
    if rtype != RecordKind::Txt {
        return target.trim().to_owned();
    }
    match target.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => target.to_owned(),
    }
}

/// The record type external-dns names, if Ward keeps it.
fn kind(endpoint: &Endpoint) -> Result<RecordKind, Refusal> {
    endpoint.record_type.parse().map_err(|()| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{} {}: Ward keeps A, AAAA, CNAME, TXT, SRV, MX, NS and PTR records",
                endpoint.dns_name, endpoint.record_type
            ),
        )
    })
}

/// `POST /adjustendpoints`: the endpoints as Ward will keep them, so that external-dns's
/// plan compares like with like: names normalised, TTL 0 as 300, provider-specific
/// settings dropped.
async fn adjust_endpoints(headers: HeaderMap, bytes: Bytes) -> Response {
    let endpoints: Vec<Endpoint> = match body(&headers, &bytes) {
        Ok(e) => e,
        Err(refusal) => return refusal.into_response(),
    };
    answer(&endpoints.into_iter().map(adjust).collect::<Vec<_>>())
}

fn adjust(mut e: Endpoint) -> Endpoint {
    e.dns_name = ward_config::normalise_name(&e.dns_name);
    if e.record_ttl <= 0 {
        e.record_ttl = i64::from(ward_config::default_record_ttl());
    }
    e.provider_specific.clear();
    e
}

/// `POST /records`: a batch of changes, applied as one write (204), or none of it (4xx
/// with the reason).
async fn apply(State(state): State<AdminState>, headers: HeaderMap, bytes: Bytes) -> Response {
    let changes: Changes = match body(&headers, &bytes) {
        Ok(c) => c,
        Err(refusal) => return refusal.into_response(),
    };
    if changes.update_old.len() != changes.update_new.len() {
        return refused(
            StatusCode::BAD_REQUEST,
            "updateOld and updateNew must pair up: as many of each",
        );
    }
    let response =
        crate::resources::edit(&state, move |config| apply_changes(config, &changes)).await;
    if response.status() == StatusCode::OK {
        return StatusCode::NO_CONTENT.into_response();
    }
    response
}

/// The batch over `config`: removals first (`updateOld`, `delete`), then additions
/// (`updateNew`, `create`).
fn apply_changes(config: &mut Config, changes: &Changes) -> Result<(), Refusal> {
    for e in changes.update_old.iter().chain(&changes.delete) {
        let (name, rtype) = checked(config, e)?;
        let mine = |r: &LocalRecord| r.name == name && r.rtype == rtype;
        if let Some(other) = config
            .records
            .iter()
            .find(|r| mine(r) && r.managed_by.as_deref() != Some(MANAGER))
        {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                format!(
                    "{name} {rtype} {}: not a record of external-dns's (the config keeps it): not deleted",
                    other.value
                ),
            ));
        }
        // Deleting what is not there is done already: external-dns may repeat a batch.
        let values: Vec<String> = e.targets.iter().map(|t| value(rtype, t)).collect();
        let listed = |r: &LocalRecord| {
            values.is_empty()
                || values.contains(&r.value)
                || normalised_in(rtype, &r.value, &values)
        };
        config.records.retain(|r| !(mine(r) && listed(r)));
    }
    for e in changes.update_new.iter().chain(&changes.create) {
        let (name, rtype) = checked(config, e)?;
        if let Some(other) = config.records.iter().find(|r| {
            r.name == name
                && (r.rtype == rtype || r.rtype == RecordKind::Cname || rtype == RecordKind::Cname)
                && r.managed_by.as_deref() != Some(MANAGER)
        }) {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                format!(
                    "{name} {rtype}: the config keeps {} {} {} (not external-dns's): not created",
                    other.name, other.rtype, other.value
                ),
            ));
        }
        // A create of a set external-dns already has replaces it (a repeated batch).
        config.records.retain(|r| {
            !(r.name == name && r.rtype == rtype && r.managed_by.as_deref() == Some(MANAGER))
        });
        let ttl = match u32::try_from(e.record_ttl) {
            Ok(0) | Err(_) => ward_config::default_record_ttl(),
            Ok(ttl) => ttl,
        };
        if e.targets.is_empty() {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("{name} {rtype}: no targets"),
            ));
        }
        for t in &e.targets {
            config.records.push(LocalRecord {
                name: name.clone(),
                rtype,
                value: value(rtype, t),
                ttl,
                managed_by: Some(MANAGER.to_owned()),
            });
        }
    }
    Ok(())
}

/// Whether `value` is among `values` once host names are normalised (external-dns may
/// write `Nas.Example.` where the config keeps `nas.example`).
fn normalised_in(rtype: RecordKind, value: &str, values: &[String]) -> bool {
    matches!(rtype, RecordKind::Cname | RecordKind::Ptr | RecordKind::Ns)
        && values
            .iter()
            .any(|v| ward_config::normalise_name(v) == value)
}

/// An endpoint's owner name and type, if external-dns may manage them.
fn checked(config: &Config, e: &Endpoint) -> Result<(String, RecordKind), Refusal> {
    if !e.set_identifier.is_empty() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{} {}: set identifier {:?}: Ward has no weighted or geographic records",
                e.dns_name, e.record_type, e.set_identifier
            ),
        ));
    }
    let rtype = kind(e)?;
    let name = ward_config::normalise_name(&e.dns_name);
    if !in_domains(config, &name) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{name}: outside external_dns.domains ({})",
                config.external_dns.domains.join(", ")
            ),
        ));
    }
    Ok((name, rtype))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_targets_lose_and_regain_their_quotes() {
        let registry = "\"heritage=external-dns,external-dns/owner=default\"";
        let kept = value(RecordKind::Txt, registry);
        assert_eq!(kept, "heritage=external-dns,external-dns/owner=default");
        assert_eq!(target(RecordKind::Txt, &kept), registry);
        let escaped = value(RecordKind::Txt, r#""a \"b\" c""#);
        assert_eq!(escaped, r#"a "b" c"#);
        assert_eq!(target(RecordKind::Txt, &escaped), r#""a \"b\" c""#);
        assert_eq!(value(RecordKind::Txt, "bare"), "bare");
        assert_eq!(value(RecordKind::A, " 10.0.0.1 "), "10.0.0.1");
    }

    #[test]
    fn adjusted_endpoints_are_as_records_lists_them() {
        let e = adjust(Endpoint {
            dns_name: "Nas.Home.Example.".into(),
            record_type: "A".into(),
            targets: vec!["10.0.0.5".into()],
            provider_specific: vec![serde_json::json!({"name": "x", "value": "y"})],
            ..Endpoint::default()
        });
        assert_eq!(e.dns_name, "nas.home.example");
        assert_eq!(e.record_ttl, 300);
        assert!(e.provider_specific.is_empty());
    }
}
