//! `/api/v1`: the config as a whole, and "why is this name blocked?".
//!
//! `PUT /api/v1/config` validates the body (YAML or JSON), saves it over the config file
//! atomically (a temporary file renamed over it, so a crash never leaves half a config),
//! and applies it through the Reloader; the running config is untouched when any of that
//! fails. Every config write ends in [`save_and_apply`], which is all or nothing even when
//! the request is cancelled.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use ward_config::{Config, ConfigError};
use ward_rules::{Request, parse_record_type};
use ward_state::layer::Layer;
use ward_state::reload::{Outcome, ReloadReport, Reloader, Trigger};

use crate::AdminState;
use crate::openapi::{ApiError, ConfigAnswer, WriteAnswer};

/// What the API changes: the one Reloader, and the file an accepted config is saved to.
pub struct Control {
    /// Every change goes through it.
    pub reloader: Arc<Reloader>,
    /// Where `PUT /api/v1/config` saves the config; `None` when Ward runs on its embedded
    /// default (then the config cannot be changed through the API).
    pub config_path: Option<PathBuf>,
}

/// A user error (or a 5xx the user can act on): `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The answer before the config is loaded.
pub(crate) fn starting() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "starting: no config loaded yet",
    )
}

/// The answer to a write when there is no config file to save it to.
pub(crate) fn embedded_default() -> Response {
    error(
        StatusCode::CONFLICT,
        "Ward runs on its embedded default config; start it with --config FILE to \
         change the config through the API",
    )
}

/// 400 with every bad field: `errors` holds each one's `path` (`policies.kids.extends`),
/// `line` (when the config came as text; `null` for a change made through a resource) and
/// `message`; `error` is all of them, one per line.
pub(crate) fn invalid_config(e: &ConfigError) -> Response {
    let errors: Vec<_> = e
        .errors()
        .iter()
        .map(
            |f| json!({ "path": f.path().to_string(), "line": f.line(), "message": f.to_string() }),
        )
        .collect();
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": e.to_string(), "errors": errors })),
    )
        .into_response()
}

fn wants_yaml(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("yaml"))
}

/// The whole config: JSON with its revision, or YAML.
///
/// JSON (`revision`, `config`), or the config as YAML when the client accepts
/// `application/yaml`. The revision is the first 16 hex digits of the SHA-256 of the
/// config's YAML: equal configs have equal revisions on every pod.
#[utoipa::path(get, path = "/api/v1/config", tag = "config",
    params(("Accept" = Option<String>, Header, description = "`application/yaml` for the YAML")),
    responses(
        (status = 200, description = "The config serving now", content(
            (ConfigAnswer = "application/json"),
            (String = "application/yaml"),
        )),
        (status = 503, description = "No config loaded yet", body = ApiError),
    ))]
pub(crate) async fn get_config(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let Some(control) = state.control() else {
        return starting();
    };
    let snapshot = control.reloader.current();
    if wants_yaml(&headers) {
        return (
            [(header::CONTENT_TYPE, "application/yaml")],
            snapshot.config.to_yaml(),
        )
            .into_response();
    }
    Json(json!({ "revision": snapshot.revision(), "config": &*snapshot.config })).into_response()
}

/// Replaces the whole config: validates, saves, applies.
///
/// The body is the config as YAML or JSON (the `config` of `GET`, not the whole answer).
/// A bad config is refused with every bad field's path and line and changes nothing;
/// else it is saved over the config file atomically and applied through the reloader.
#[utoipa::path(put, path = "/api/v1/config", tag = "config",
    request_body(description = "The whole config", content(
        (Object = "application/yaml"),
        (Object = "application/json"),
    )),
    responses(
        (status = 200, description = "Saved and applied (or unchanged)", body = WriteAnswer),
        (status = 400, description = "Invalid: every bad field with its path and line", body = ApiError),
        (status = 409, description = "Ward runs on its embedded default: nothing to save to", body = ApiError),
    ))]
pub(crate) async fn put_config(State(state): State<AdminState>, body: String) -> Response {
    let Some(control) = state.control() else {
        return starting();
    };
    if control.config_path.is_none() {
        return embedded_default();
    }
    if let Some(layer) = control.reloader.layer() {
        return error(
            StatusCode::CONFLICT,
            format!(
                "the config file is read-only here: the API's changes are a layer over it \
                 ({}), made through the resource endpoints (/api/v1/lists, /policies, \
                 /clients, /records, /upstreams, /forward); change the file itself in Git",
                layer.path().display()
            ),
        );
    }
    // JSON is YAML's flow syntax: one parser for both, with the same errors.
    let config = match Config::from_yaml(&body) {
        Ok(config) => config,
        Err(e) => return invalid_config(&e),
    };
    let turn = state.write_turn().await;
    save_and_apply(control, turn, config, Trigger::Api).await
}

/// The turn to write the config ([`AdminState::write_turn`]), held from reading the
/// serving config to the end of the write.
pub(crate) type WriteTurn = tokio::sync::OwnedMutexGuard<()>;

/// Saves `config` over the config file atomically and applies it through the Reloader;
/// puts the file back if the reload refuses it. The answer every config write gives: 200
/// with the outcome and the revision, or 400/500 with the reason.
///
/// All or nothing, also when the request is cancelled (the client goes away, the request
/// timeout fires): the work runs in a task of its own, which a dropped request cannot stop
/// half-way. The commit point is writing the file. Until then the task checks whether
/// anyone still waits for the answer, and if not it changes nothing; from then on it
/// finishes (applies, or puts the file back) whatever happens to the request. So a
/// cancelled write either changed nothing or landed whole, saved and serving: a client
/// that lost its answer reads `GET /api/v1/config` to know which.
pub(crate) async fn save_and_apply(
    control: &Arc<Control>,
    turn: WriteTurn,
    config: Config,
    trigger: Trigger,
) -> Response {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let control = control.clone();
    tokio::spawn(async move {
        // The turn goes with the task: the next write waits until this one is over.
        let _turn = turn;
        let response = match control.reloader.layer() {
            Some(layer) => {
                commit_layer(&control, layer, config, trigger, || answer.is_closed()).await
            }
            None => commit(&control, config, trigger, || answer.is_closed()).await,
        };
        let _ = answer.send(response);
    });
    match answered.await {
        Ok(response) => response,
        // Only a panic in the task ends it without an answer.
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the write failed; GET /api/v1/config says what is saved and serving",
        ),
    }
}

/// [`save_and_apply`]'s work. `abandoned` says whether the request is gone; it is asked
/// only before the file is written.
async fn commit(
    control: &Control,
    config: Config,
    trigger: Trigger,
    abandoned: impl Fn() -> bool,
) -> Response {
    let Some(path) = control.config_path.as_deref() else {
        return embedded_default();
    };
    let before = match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading {}: {e}", path.display()),
            );
        }
    };
    if let Some(refused) = refused_before_saving(control, &config, &trigger, &abandoned) {
        return refused;
    }
    let text = config.to_yaml();
    // The commit point: from here the write lands whole or is undone whole.
    if let Err(e) = ward_state::write_atomically(path, text.as_bytes()) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "saving {}: {e}; the running config is unchanged",
                path.display()
            ),
        );
    }
    // The file watcher sees this save too; its reload reads the same config and finds
    // nothing to do (`unchanged`): one write, one new generation.
    let report = control.reloader.reload_config(trigger, config).await;
    // Put the file back as it was: what serves and what is saved stay one config.
    reload_answer(control, report, || {
        let restored = match &before {
            Some(before) => ward_state::write_atomically(path, before),
            None => std::fs::remove_file(path),
        };
        if let Err(e) = restored {
            tracing::error!(
                path = %path.display(),
                %e,
                "putting the config file back after a refused write failed: the file \
                 holds the refused config, the previous one serves"
            );
        }
    })
}

/// What a write refuses before anything is saved: a list file Ward may not read (a FIFO,
/// a device, a file outside `list_dirs`; the file watcher would apply a saved one), and a
/// request nobody waits for any more.
fn refused_before_saving(
    control: &Control,
    config: &Config,
    trigger: &Trigger,
    abandoned: &impl Fn() -> bool,
) -> Option<Response> {
    if *trigger == Trigger::Api {
        if let Err(reason) = control.reloader.check_list_files(config) {
            return Some(error(StatusCode::BAD_REQUEST, reason));
        }
    }
    if abandoned() {
        tracing::info!("an API write was cancelled before it was saved; nothing changed");
        return Some(error(
            StatusCode::REQUEST_TIMEOUT,
            "cancelled; nothing changed",
        ));
    }
    None
}

/// A saved write's answer once its reload is over: 400 with the reason after `put_back`
/// undid the save, or 200 with the revision serving.
fn reload_answer(control: &Control, report: ReloadReport, put_back: impl FnOnce()) -> Response {
    match &report.outcome {
        Outcome::Rejected { reason } => {
            put_back();
            (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": reason, "outcome": report })),
            )
                .into_response()
        }
        _ => {
            let revision = control.reloader.current().revision();
            Json(json!({ "revision": revision, "outcome": report })).into_response()
        }
    }
}

/// [`commit`] where the API's writes are a layer over the config file (`data_dir`): the
/// layer that makes the file into `config` is saved and applied, and put back if the
/// reload refuses `config`. A change to what the file defines is a 409.
async fn commit_layer(
    control: &Control,
    layer: &ward_state::layer::LayerStore,
    config: Config,
    trigger: Trigger,
    abandoned: impl Fn() -> bool,
) -> Response {
    let Some(file) = layer.file() else {
        return starting();
    };
    // The layer does not fit the file serving: a write now would be made against the file
    // alone and drop what the layer holds.
    if let Some(why) = layer.invalid() {
        return error(
            StatusCode::CONFLICT,
            format!("the API's changes are not serving, so none are taken: {why}"),
        );
    }
    let next = match Layer::between(&file, &config, &layer.layer()) {
        Ok(next) => next,
        Err(message) => return error(StatusCode::CONFLICT, message),
    };
    if let Some(refused) = refused_before_saving(control, &config, &trigger, &abandoned) {
        return refused;
    }
    // The commit point, as the file's save is in `commit`.
    let previous = match layer.replace(next) {
        Ok(previous) => previous,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "saving {}: {e}; the running config is unchanged",
                    layer.path().display()
                ),
            );
        }
    };
    let report = control.reloader.reload_config(trigger, config).await;
    reload_answer(control, report, || {
        if let Err(e) = layer.replace(previous) {
            tracing::error!(
                path = %layer.path().display(),
                %e,
                "putting the config layer back after a refused write failed: it holds \
                 the refused change, the previous config serves"
            );
        }
    })
}

/// The query of `GET /api/v1/check`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CheckQuery {
    /// The name to check, e.g. `ads.example.com`.
    #[param(required = true)]
    name: Option<String>,
    /// The query type: `A` (the default), `AAAA`, `HTTPS`, ...
    qtype: Option<String>,
    /// The client's IP address: its subnet picks the policy (the default policy without).
    client: Option<String>,
    /// The policy to check under, instead of the client's (the web UI's "every policy
    /// side by side" asks once per policy).
    policy: Option<String>,
    /// When: the policy's schedules as they are then ("would YouTube be blocked at
    /// 21:30?"). `21:30` (today), `fri 21:30` (the coming Friday), `2026-12-04T21:30`
    /// (on the config's `time_zone`), or RFC 3339 with an offset; unset means now.
    at: Option<String>,
}

/// Why is this name blocked (or not)?
///
/// The verdict of `policy`, else of `client`'s policy (the default policy without a
/// client), with the client's name and tags from `clients` for `$client` and `$ctag`
/// rules, the deciding rule, its list and line first; `local_record` says whether a local
/// record answers the name. `service` names the blocked service that decided, `safe_search`
/// the provider and enforcement host, `schedule` the schedule (one that blocks everything,
/// added what blocked, or paused what would have), `open_schedules` those open `at`.
#[utoipa::path(get, path = "/api/v1/check", tag = "status", params(CheckQuery),
    responses(
        (status = 200, description = "The verdict", body = Object),
        (status = 400, description = "A missing name, or a bad qtype, client or time", body = ApiError),
    ))]
pub(crate) async fn check(
    State(state): State<AdminState>,
    Query(q): Query<CheckQuery>,
) -> Response {
    let Some(control) = state.control() else {
        return starting();
    };
    let Some(name) = q.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "name: required, e.g. ?name=ads.example.com",
        );
    };
    let qtype_text = q.qtype.as_deref().unwrap_or("A");
    let qtype = match parse_record_type(qtype_text) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("qtype: {e}")),
    };
    let client: Option<IpAddr> = match q.client.as_deref() {
        None | Some("") => None,
        Some(c) => match c.parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("client: not an IP address: {c:?}"),
                );
            }
        },
    };
    let snapshot = control.reloader.current();
    let policy = match (q.policy.as_deref().filter(|p| !p.is_empty()), client) {
        (Some(wanted), _) => match snapshot.policies.iter().find(|p| p.name == wanted) {
            Some(p) => p,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("policy: no policy is named {wanted:?}"),
                );
            }
        },
        (None, Some(ip)) => snapshot.policy_for(ip),
        (None, None) => &snapshot.policies[snapshot.default_policy],
    };
    // The client's name and tags too, for `$client='name'` and `$ctag` rules: the answer is
    // the one the DNS query from that address gets.
    let info = client.map(|ip| snapshot.client(ip)).unwrap_or_default();
    let mut request = Request::new(name, qtype);
    if let Some(ip) = client {
        request = info.apply(request.client_ip(ip));
    }
    let now = ward_config::window::Timestamp::now();
    let at = match q.at.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => now,
        Some(text) => match ward_config::window::parse_at(text, now, &snapshot.zone) {
            Ok(at) => at,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("at: {e}")),
        },
    };
    let open = policy.controls.open_at(at);
    let ward_state::Checked { verdict, schedule } = snapshot.check_open(policy, &request, open);
    let open_schedules: Vec<&str> = policy
        .controls
        .open_schedules(open)
        .map(|s| s.name.as_str())
        .collect();
    let service = (verdict.reason == ward_rules::Reason::FilteredBlockedService)
        .then(|| verdict.rules.first())
        .flatten()
        .and_then(|m| ward_state::parental::service_of(m.rule.list))
        .map(|s| json!({ "id": s.id, "name": s.name, "category": s.category }));
    let safe_search = (verdict.reason == ward_rules::Reason::FilteredSafeSearch)
        .then(|| {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            ward_state::parental::safe_search_provider(&name)
        })
        .flatten()
        .map(|p| {
            json!({
                "provider": p.id,
                "name": p.name,
                "host": verdict.rewrite.as_ref().and_then(|r| r.cname.as_deref()),
            })
        });
    let schedule = schedule
        .and_then(|i| policy.controls.schedules.get(i))
        .map(|s| s.name.as_str());
    let rules: Vec<_> = verdict
        .rules
        .iter()
        .map(|m| snapshot.cite(policy, m))
        .collect();
    let rewrite = verdict.rewrite.as_ref().map(|r| {
        json!({
            "rcode": ward_rules::rcode_name(r.rcode),
            "cname": r.cname,
            "records": r.records.iter().map(|rec| format!("{rec:?}")).collect::<Vec<_>>(),
        })
    });
    Json(json!({
        "name": name,
        "qtype": qtype.to_string(),
        "client": client,
        "client_name": info.name,
        "client_tags": info.tags,
        "policy": policy.name,
        "reason": verdict.reason.as_str(),
        "filtered": verdict.is_filtered(),
        "rules": rules,
        "ip_addrs": verdict.ip_addrs,
        "rewrite": rewrite,
        "service": service,
        "safe_search": safe_search,
        "schedule": schedule,
        "at": at.to_string(),
        "time_zone": snapshot.zone.name(),
        "open_schedules": open_schedules,
        "local_record": snapshot.records.lookup(&name.trim_end_matches('.').to_ascii_lowercase()).is_some(),
        "generation": snapshot.generation,
    }))
    .into_response()
}
