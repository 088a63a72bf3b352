//! One view of a primary and its replicas, on the primary: `node=all` on the query log and
//! the statistics merges every pod's answer, and `GET /api/v1/nodes` lists every pod with
//! its revision. In Kubernetes the load balancer may send a VLAN's queries to a replica,
//! and the user looks at the primary.
//!
//! The primary asks each replica pod (every address its `sync.replicas` names resolve to)
//! with the sync token, which a node accepts for these reads only ([`PEER_READS`]). A pod
//! that does not answer is reported in the answer's `nodes`, never fatal: the rest are
//! merged.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Value, json};
use ward_state::sync::{PeerReply, Primary};

use crate::AdminState;
use crate::openapi::NodesAnswer;

/// What this node knows of its cluster; set once at start.
#[derive(Clone)]
pub struct Cluster {
    /// This pod's name (`HOSTNAME` in Kubernetes).
    pub node: String,
    /// The sync token: accepted from the primary for [`PEER_READS`]; empty when the node
    /// is neither primary nor replica.
    pub token: String,
    /// The primary side, on the primary: who the replicas are, and a client to ask them.
    pub primary: Option<Arc<Primary>>,
}

/// The reads the primary makes of its replicas with the sync token (GET only).
pub(crate) const PEER_READS: &[&str] = &["/api/v1/status", "/api/v1/querylog", "/api/v1/stats"];

/// Whether the request is one of [`PEER_READS`] carrying the sync token.
pub(crate) fn is_peer_read(
    state: &AdminState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> bool {
    method == Method::GET
        && PEER_READS.contains(&path)
        && state
            .cluster()
            .is_some_and(|c| crate::auth::bearer_is(headers, &c.token))
}

/// A pod's place in a merged answer: whether it answered, and why not.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct NodeAnswer {
    /// The pod's name, as it gives it (its address until it has answered once).
    pub(crate) node: String,
    /// `self` for the node answering, else the pod's address.
    pub(crate) address: String,
    /// Whether its part is in the answer.
    pub(crate) ok: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// The query string without the parameters the primary sets itself for each pod.
fn forwarded_query(raw: Option<&str>, drop: &[&str]) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = raw
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    pairs
        .into_iter()
        .filter(|(k, _)| !drop.contains(&k.as_str()))
        .collect()
}

fn with(mut pairs: Vec<(String, String)>, extra: &[(&str, String)]) -> String {
    for (k, v) in extra {
        pairs.push(((*k).to_owned(), v.clone()));
    }
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

/// The replicas' replies, one per pod; empty when this node is not a primary.
async fn ask_replicas(state: &AdminState, path_and_query: &str) -> Vec<PeerReply> {
    match state.cluster().and_then(|c| c.primary.clone()) {
        Some(primary) => primary.get_each(path_and_query).await,
        None => Vec::new(),
    }
}

fn this_node(state: &AdminState) -> String {
    state
        .cluster()
        .map_or_else(|| "ward".to_owned(), |c| c.node.clone())
}

/// One pod's part of a merged query-log page.
struct Source {
    key: String,
    entries: VecDeque<Value>,
    next_cursor: Option<String>,
    /// Entries taken into the merged page, and the cursor after the last of them.
    taken: usize,
    after_taken: Option<String>,
}

impl Source {
    fn new(key: String, page: &Value) -> Source {
        Source {
            key,
            entries: page["entries"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into(),
            next_cursor: page["next_cursor"].as_str().map(str::to_owned),
            taken: 0,
            after_taken: None,
        }
    }
}

/// Where a pod stands in a merged cursor.
#[derive(Clone, Debug, PartialEq)]
enum Place {
    /// From its newest entry.
    Start,
    /// From its own cursor.
    At(String),
    /// Nothing more.
    Done,
}

/// A merged cursor: each pod's place (a missing pod starts), base64url JSON.
fn decode_cursor(text: &str) -> Result<Vec<(String, Place)>, String> {
    let bad = || format!("cursor: {text:?}: not a cursor of a node=all page");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.strip_prefix('m').ok_or_else(bad)?)
        .map_err(|_| bad())?;
    let map: serde_json::Map<String, Value> = serde_json::from_slice(&json).map_err(|_| bad())?;
    map.into_iter()
        .map(|(k, v)| match v {
            Value::Null => Ok((k, Place::Done)),
            Value::String(c) => Ok((k, Place::At(c))),
            _ => Err(bad()),
        })
        .collect()
}

fn encode_cursor(places: &[(String, Place)]) -> String {
    let map: serde_json::Map<String, Value> = places
        .iter()
        .filter_map(|(k, p)| match p {
            Place::Start => None,
            Place::At(c) => Some((k.clone(), Value::String(c.clone()))),
            Place::Done => Some((k.clone(), Value::Null)),
        })
        .collect();
    let json = serde_json::to_vec(&map).unwrap_or_default();
    format!(
        "m{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    )
}

/// `GET /api/v1/querylog?node=all` on the primary: every pod's page of the same search,
/// merged newest first, with a cursor that holds each pod's place. `own` searches this
/// node from a cursor of its own (`None`: from the newest).
pub(crate) async fn merged_querylog(
    state: &AdminState,
    raw: Option<&str>,
    limit: usize,
    cursor: Option<&str>,
    own: impl AsyncFnOnce(Option<String>) -> Result<Value, String>,
) -> Result<Value, String> {
    let places = cursor.map(decode_cursor).transpose()?.unwrap_or_default();
    let place = |key: &str| {
        places
            .iter()
            .find(|(k, _)| k == key)
            .map_or(Place::Start, |(_, p)| p.clone())
    };
    let base = forwarded_query(raw, &["node", "cursor", "limit"]);
    let path_for = |address: &str| {
        let mut extra = vec![("limit", limit.to_string())];
        match place(address) {
            Place::Done => return None,
            Place::At(c) => extra.push(("cursor", c)),
            Place::Start => {}
        }
        Some(format!("/api/v1/querylog?{}", with(base.clone(), &extra)))
    };
    let replies = match state.cluster().and_then(|c| c.primary.clone()) {
        Some(primary) => primary.get_each_with(path_for).await,
        None => Vec::new(),
    };

    let name = this_node(state);
    let mut sources = Vec::new();
    let mut nodes = Vec::new();
    // Pods that did not answer keep their place; pods done stay done.
    let mut next: Vec<(String, Place)> = places
        .iter()
        .filter(|(_, p)| *p == Place::Done)
        .cloned()
        .collect();
    let own_place = place("self");
    if own_place != Place::Done {
        let from = match &own_place {
            Place::At(c) => Some(c.clone()),
            _ => None,
        };
        match own(from).await {
            Ok(page) => sources.push(Source::new("self".into(), &page)),
            Err(error) => {
                next.push(("self".into(), own_place));
                nodes.push(NodeAnswer {
                    node: name.clone(),
                    address: "self".into(),
                    ok: false,
                    error: Some(error),
                });
            }
        }
    }
    if nodes.is_empty() {
        nodes.push(NodeAnswer {
            node: name,
            address: "self".into(),
            ok: true,
            error: None,
        });
    }
    for reply in replies {
        match reply.result {
            Ok(page) => {
                let node = page["entries"][0]["node"]
                    .as_str()
                    .map_or_else(|| reply.address.clone(), str::to_owned);
                nodes.push(NodeAnswer {
                    node,
                    address: reply.address.clone(),
                    ok: true,
                    error: None,
                });
                sources.push(Source::new(reply.address, &page));
            }
            Err(error) => {
                next.push((reply.address.clone(), place(&reply.address)));
                nodes.push(NodeAnswer {
                    node: reply.address.clone(),
                    address: reply.address,
                    ok: false,
                    error: Some(format!("{}: {error}", reply.replica)),
                });
            }
        }
    }

    // Newest first across the pods; ties in pod order.
    let mut entries = Vec::with_capacity(limit);
    while entries.len() < limit {
        let newest = sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.entries
                    .front()
                    .map(|e| (i, e["time_ms"].as_u64().unwrap_or(0)))
            })
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
        let Some((i, _)) = newest else { break };
        let source = &mut sources[i];
        let Some(entry) = source.entries.pop_front() else {
            break;
        };
        source.taken += 1;
        source.after_taken = entry["cursor"].as_str().map(str::to_owned);
        entries.push(entry);
    }
    for s in sources {
        let after = if !s.entries.is_empty() {
            // Inside its page: after the last taken, or where it was.
            match s.after_taken {
                Some(c) => Place::At(c),
                None => place(&s.key),
            }
        } else {
            // Its page is used up: its next page, if it has one.
            s.next_cursor.map_or(Place::Done, Place::At)
        };
        next.push((s.key, after));
    }
    // An empty page ends it even with a pod down: it would be asked for ever.
    let more = !entries.is_empty() && next.iter().any(|(_, p)| *p != Place::Done);
    Ok(json!({
        "entries": entries,
        "next_cursor": more.then(|| encode_cursor(&next)),
        "head": "",
        "nodes": nodes,
    }))
}

/// `GET /api/v1/stats?node=all` on the primary: every pod's report for the same query,
/// merged. `own` is this node's report as JSON.
pub(crate) async fn merged_stats(
    state: &AdminState,
    raw: Option<&str>,
    limit: usize,
    own: Value,
) -> Value {
    let path = format!(
        "/api/v1/stats?{}",
        with(forwarded_query(raw, &["node"]), &[])
    );
    let replies = ask_replicas(state, &path).await;
    let mut reports = Vec::new();
    let mut nodes = vec![NodeAnswer {
        node: this_node(state),
        address: "self".into(),
        ok: true,
        error: None,
    }];
    let scope = own["scope"].clone();
    if let Ok(report) = serde_json::from_value(own) {
        reports.push(report);
    }
    for reply in replies {
        let parsed = reply.result.and_then(|v| {
            let node = v["node"].as_str().map(str::to_owned);
            serde_json::from_value::<ward_state::stats::Report>(v)
                .map(|r| (node, r))
                .map_err(|e| format!("not a report: {e}"))
        });
        match parsed {
            Ok((node, report)) => {
                reports.push(report);
                nodes.push(NodeAnswer {
                    node: node.unwrap_or_else(|| reply.address.clone()),
                    address: reply.address,
                    ok: true,
                    error: None,
                });
            }
            Err(error) => nodes.push(NodeAnswer {
                node: reply.address.clone(),
                address: reply.address,
                ok: false,
                error: Some(format!("{}: {error}", reply.replica)),
            }),
        }
    }
    let merged = ward_state::stats::Report::merge(reports, limit);
    let mut value = serde_json::to_value(merged).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("scope".into(), scope);
        object.insert("node".into(), Value::Null);
        object.insert(
            "nodes".into(),
            serde_json::to_value(nodes).unwrap_or_default(),
        );
    }
    value
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The fields of a status the nodes page shows.
fn summary(status: &Value) -> Value {
    json!({
        "node": status["node"]["name"],
        "started_ms": status["node"]["started_ms"],
        "version": status["version"],
        "ready": status["ready"],
        "role": status["sync"]["role"],
        "revision": status["sync"]["revision"],
        "generation": status["generation"],
        "config_revision": status["config_revision"],
        "rules": status["rules"],
        "last_reload": status["last_reload"],
        "last_change": status["last_change"],
        "last_sync_ms": status["sync"]["replica"]["last_sync_ms"],
        "last_sync_error": status["sync"]["replica"]["last_error"],
    })
}

/// Every pod: this one, and on the primary each replica.
///
/// For each: its name, role, sync revision, generation and last reload; on the primary,
/// for each replica pod its own status (asked with the sync token), the primary's last
/// push to it, whether it serves the primary's revision, and since when it has been
/// behind. A replica that does not answer is listed with the reason.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "status", operation_id = "get_nodes",
    responses((status = 200, description = "Every pod", body = NodesAnswer)))]
pub(crate) async fn nodes(State(state): State<AdminState>) -> Response {
    let own = state.status_value();
    let mut this = summary(&own);
    this["address"] = "self".into();
    this["self"] = true.into();
    this["ok"] = true.into();
    let revision = own["sync"]["revision"].as_str().map(str::to_owned);
    let mut all = vec![this];
    let primary = state.cluster().and_then(|c| c.primary.clone());
    if let Some(primary) = primary {
        let pushes = primary.status();
        // Since when the primary's revision has been what it is.
        let changed_ms = primary
            .revision_since()
            .filter(|(r, _)| Some(r) == revision.as_ref())
            .map(|(_, at)| at);
        for reply in primary.get_each("/api/v1/status").await {
            let push = pushes.iter().find(|p| p.address == reply.address).cloned();
            let mut node = match &reply.result {
                Ok(status) => summary(status),
                Err(_) => json!({ "node": reply.address }),
            };
            node["address"] = reply.address.clone().into();
            node["replica"] = reply.replica.clone().into();
            node["self"] = false.into();
            node["ok"] = reply.result.is_ok().into();
            if let Err(e) = &reply.result {
                node["error"] = e.clone().into();
            }
            let in_sync = reply.result.is_ok() && node["revision"].as_str() == revision.as_deref();
            node["in_sync"] = in_sync.into();
            // Unknown for a pod that did not answer.
            node["behind_ms"] = match (&reply.result, in_sync) {
                (Err(_), _) => Value::Null,
                (Ok(_), true) => 0.into(),
                (Ok(_), false) => changed_ms.map(|at| unix_ms().saturating_sub(at)).into(),
            };
            node["last_push"] = serde_json::to_value(push).unwrap_or_default();
            all.push(node);
        }
    }
    Json(json!({ "nodes": all })).into_response()
}

/// The `node` parameter: `all` merges the pods (on a primary), `self` (or none) is this
/// one; anything else is a 400 naming it.
pub(crate) fn wants_all(node: Option<&str>) -> Result<bool, String> {
    match node.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(false),
        Some(n) if n.eq_ignore_ascii_case("self") => Ok(false),
        Some(n) if n.eq_ignore_ascii_case("all") => Ok(true),
        Some(n) => Err(format!("node: {n:?}: expected all or self")),
    }
}
