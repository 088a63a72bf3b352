//! `/control/filtering/*`: AdGuard Home's filter lists are Ward's lists that the default
//! policy uses (its `whitelist_filters` those of them that are allowlists), its `user_rules` the default policy's own custom rules (kept as they come:
//! order, comments, blank lines), its `check_host` Ward's verdict in AdGuard Home's terms.

use std::net::IpAddr;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use ward_config::{Config, ListSource};
use ward_rules::{Reason, Request, parse_record_type};

use super::{
    Body, config, default_policy, empty, json, list_number, refuse, starting, text, write,
};
use crate::AdminState;

/// AdGuard Home's name of a reason (`internal/filtering/reason.go`); Ward's schedule that
/// blocks everything has none, and is a block.
pub(crate) fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::NotFilteredNotFound => "NotFilteredNotFound",
        Reason::NotFilteredAllowList => "NotFilteredWhiteList",
        Reason::FilteredBlockList | Reason::FilteredSchedule => "FilteredBlackList",
        Reason::RewrittenRule => "RewriteRule",
        Reason::FilteredBlockedService => "FilteredBlockedService",
        Reason::FilteredSafeSearch => "FilteredSafeSearch",
    }
}

/// The `filter_list_id` of a rule's list: 0 for custom rules, -2 for blocked services,
/// -5 for safe search, else the list's number.
pub(crate) fn filter_list_id(list: &str) -> i64 {
    if list.starts_with("policy ") {
        0
    } else if list.starts_with("service ") {
        -2
    } else {
        list_number(list)
    }
}

/// Where a list comes from, as AdGuard Home names a filter: its URL, or its file.
fn location(list: &ListSource) -> String {
    match (&list.path, list.download_url()) {
        (Some(path), _) => path.display().to_string(),
        (None, Some(url)) => url.to_owned(),
        (None, None) => String::new(),
    }
}

/// Whether the default policy applies the list.
fn used(config: &Config, id: &str) -> bool {
    config
        .effective_policy(&config.default_policy)
        .is_some_and(|p| p.lists.iter().any(|l| l == id))
}

/// `GET /control/filtering/status`.
pub(super) async fn status(State(state): State<AdminState>) -> Response {
    let Some(config) = config(&state) else {
        return starting();
    };
    let status = state.status_value();
    let list_status = |id: &str| -> Option<Value> {
        status["lists"]
            .as_array()?
            .iter()
            .find(|l| l["id"] == id)
            .cloned()
    };
    let filter = |l: &ListSource| {
        let s = list_status(&l.id).unwrap_or_default();
        let mut filter = json!({
            "url": location(l),
            "name": l.id,
            "id": list_number(&l.id),
            "rules_count": s["rules"].as_u64().unwrap_or(0),
            "enabled": l.enabled && used(&config, &l.id),
        });
        let fetched = s["copy"]["fetched_at"].as_i64();
        if let Some(at) = fetched.and_then(|t| ward_config::window::Timestamp::from_second(t).ok())
        {
            filter["last_updated"] = at.to_string().into();
        }
        filter
    };
    let (allow, block): (Vec<&ListSource>, Vec<&ListSource>) =
        config.lists.iter().partition(|l| l.allow);
    let filters = |lists: Vec<&ListSource>| -> Option<Vec<Value>> {
        (!lists.is_empty()).then(|| lists.into_iter().map(filter).collect())
    };
    let user_rules = config
        .policies
        .get(&config.default_policy)
        .map(|p| p.rules.clone())
        .unwrap_or_default();
    let hours = config
        .lists
        .iter()
        .filter_map(ListSource::refresh_every)
        .map(|d| d.as_secs() / 3600)
        .min()
        .unwrap_or(24);
    json(json!({
        "filters": filters(block),
        "whitelist_filters": filters(allow),
        "user_rules": user_rules,
        "interval": hours,
        "enabled": config.dns.filtering_enabled,
    }))
}

#[derive(Deserialize)]
pub(super) struct ConfigBody {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    interval: u32,
}

/// `POST /control/filtering/config`: filtering on or off (`dns.filtering_enabled`: the
/// policies' lists and custom rules) and the update interval of every downloaded list (in
/// hours), set only on lists whose interval it changes. Ward keeps downloaded lists
/// current, so 0 (AdGuard Home's "never") leaves their intervals as they are.
pub(super) async fn config_update(
    State(state): State<AdminState>,
    Body(body): Body<ConfigBody>,
) -> Response {
    if body.interval > 8760 {
        return text(StatusCode::BAD_REQUEST, "Unsupported interval");
    }
    write(&state, empty, |config| {
        config.dns.filtering_enabled = body.enabled;
        if body.interval == 0 {
            return Ok(());
        }
        let every = Some(std::time::Duration::from_secs(
            u64::from(body.interval) * 3600,
        ));
        for list in config
            .lists
            .iter_mut()
            .filter(|l| l.download_url().is_some() && l.refresh_every() != every)
        {
            list.refresh = every;
        }
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct AddBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    whitelist: bool,
}

/// A list id from a filter's name: lowercase letters, digits and `-`, unique in `config`.
fn new_id(config: &Config, name: &str, url: &str) -> String {
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let base = if base.is_empty() {
        format!("list-{}", list_number(url) % 100_000)
    } else {
        base.chars().take(48).collect()
    };
    let mut id = base.clone();
    let mut n = 2;
    while config.lists.iter().any(|l| l.id == id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// The list of the kind the request names (`whitelist`) at `url`.
fn find(config: &Config, url: &str, allow: bool) -> Option<usize> {
    config
        .lists
        .iter()
        .position(|l| l.allow == allow && location(l) == url)
}

/// `POST /control/filtering/add_url`: a new list (an allowlist for `whitelist`), used by
/// the default policy; a URL is downloaded within a second.
pub(super) async fn add_url(
    State(state): State<AdminState>,
    Body(body): Body<AddBody>,
) -> Response {
    let url = body.url.trim().to_owned();
    let path = url.starts_with('/');
    if !(path || url.starts_with("http://") || url.starts_with("https://")) {
        return text(
            StatusCode::BAD_REQUEST,
            format!("checking filter: {url:?}: not an http(s) URL or an absolute path"),
        );
    }
    write(&state, added, move |config| {
        if find(config, &url, body.whitelist).is_some() {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("Filter with URL {url:?}: url already exists"),
            ));
        }
        let id = new_id(config, &body.name, &url);
        config.lists.push(ListSource {
            id: id.clone(),
            path: path.then(|| url.clone().into()),
            url: (!path).then(|| url.clone()),
            catalogue: None,
            refresh: None,
            enabled: true,
            allow: body.whitelist,
        });
        default_policy(config)?.lists.push(id);
        Ok(())
    })
    .await
}

fn added() -> Response {
    text(StatusCode::OK, "OK 0 rules")
}

#[derive(Deserialize)]
pub(super) struct RemoveBody {
    #[serde(default)]
    url: String,
    #[serde(default)]
    whitelist: bool,
}

/// `POST /control/filtering/remove_url`: the list goes, from every policy too.
pub(super) async fn remove_url(
    State(state): State<AdminState>,
    Body(body): Body<RemoveBody>,
) -> Response {
    let url = body.url;
    write(&state, added, move |config| {
        let Some(i) = find(config, &url, body.whitelist) else {
            return Ok(());
        };
        let id = config.lists.remove(i).id;
        for p in config.policies.values_mut() {
            p.lists.retain(|l| *l != id);
            for s in &mut p.schedules {
                s.block_lists.retain(|l| *l != id);
                s.pause_lists.retain(|l| *l != id);
            }
        }
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct SetBody {
    #[serde(default)]
    url: String,
    #[serde(default)]
    whitelist: bool,
    data: Option<SetData>,
}

#[derive(Deserialize)]
pub(super) struct SetData {
    #[serde(default)]
    url: String,
    #[serde(default)]
    enabled: bool,
}

/// `POST /control/filtering/set_url`: a new URL, and whether the default policy uses it
/// (the list's id stays: policies name it).
pub(super) async fn set_url(
    State(state): State<AdminState>,
    Body(body): Body<SetBody>,
) -> Response {
    let Some(data) = body.data else {
        return text(StatusCode::BAD_REQUEST, "data is absent");
    };
    let url = body.url;
    write(&state, empty, move |config| {
        let Some(i) = find(config, &url, body.whitelist) else {
            return Err(refuse(StatusCode::BAD_REQUEST, "url doesn't exist"));
        };
        let new = data.url.trim().to_owned();
        if new != url {
            if find(config, &new, body.whitelist).is_some() {
                return Err(refuse(StatusCode::BAD_REQUEST, "url already exists"));
            }
            let list = &mut config.lists[i];
            if new.starts_with('/') {
                list.path = Some(new.into());
                list.url = None;
            } else {
                list.url = Some(new);
                list.path = None;
            }
            list.catalogue = None;
        }
        let id = config.lists[i].id.clone();
        config.lists[i].enabled = true;
        let policy = default_policy(config)?;
        let has = policy.lists.contains(&id);
        if data.enabled && !has {
            policy.lists.push(id);
        } else if !data.enabled {
            policy.lists.retain(|l| *l != id);
        }
        Ok(())
    })
    .await
}

/// `POST /control/filtering/refresh`: every downloaded list is due now; the count of
/// updated ones is not known when this answers.
pub(super) async fn refresh(State(state): State<AdminState>) -> Response {
    match state.list_refresh() {
        Some(now) => {
            now.notify_one();
            json(json!({ "updated": 0 }))
        }
        None => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "filters update procedure is not available yet",
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct RulesBody {
    #[serde(default)]
    rules: Vec<String>,
}

/// `POST /control/filtering/set_rules`: the default policy's own rules, as given, and
/// the copies of them that clients' policies of their own hold (a client that turns a
/// global setting off cannot extend the default policy; see
/// [`ward_config::import::client_policy`]), so that AdGuard Home's global user rules stay
/// every client's. Only those small rule sets compile again; no list does.
pub(super) async fn set_rules(
    State(state): State<AdminState>,
    Body(body): Body<RulesBody>,
) -> Response {
    write(&state, empty, move |config| {
        let old = std::mem::replace(&mut default_policy(config)?.rules, body.rules.clone());
        let clients: std::collections::BTreeSet<&str> =
            config.clients.iter().map(|c| c.policy.as_str()).collect();
        for (name, policy) in &mut config.policies {
            let copy = name.starts_with("client-")
                && clients.contains(name.as_str())
                && policy.extends.is_none()
                && !old.is_empty()
                && policy.rules == old;
            if copy {
                policy.rules.clone_from(&body.rules);
            }
        }
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct CheckQuery {
    name: Option<String>,
    client: Option<String>,
    qtype: Option<String>,
}

/// `GET /control/filtering/check_host`: the verdict for the client's policy (its name,
/// or an address), else the default policy's.
pub(super) async fn check_host(
    State(state): State<AdminState>,
    Query(q): Query<CheckQuery>,
) -> Response {
    let Some(control) = state.control() else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "starting");
    };
    let Some(name) = q.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "query parameter \"name\" is required",
        );
    };
    let qtype = match parse_record_type(q.qtype.as_deref().unwrap_or("A")) {
        Ok(t) => t,
        Err(_) => {
            return text(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "bad qtype query parameter: {:?}",
                    q.qtype.unwrap_or_default()
                ),
            );
        }
    };
    let snapshot = control.reloader.current();
    // The client: an address, or the rule a name or ClientID names (at its subnet's
    // address, if it has one).
    let client: Option<ward_state::Asker> = q.client.as_deref().and_then(|c| {
        if let Ok(ip) = c.parse::<IpAddr>() {
            return Some(ip.into());
        }
        let lower = c.to_ascii_lowercase();
        let rule = snapshot
            .config
            .clients
            .iter()
            .position(|r| r.name.as_deref() == Some(c) || r.client_ids.contains(&lower))?;
        let subnet = snapshot.config.clients[rule].subnet;
        Some(ward_state::Asker {
            ip: subnet.map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |s| s.ip()),
            rule: Some(rule),
        })
    });
    let policy = match client {
        Some(c) => snapshot.policy_for(c),
        None => &snapshot.policies[snapshot.default_policy],
    };
    let info = client.map(|c| snapshot.client(c)).unwrap_or_default();
    let mut request = Request::new(name, qtype);
    if let Some(c) = client {
        request = info.apply(request.client_ip(c.ip));
    }
    let v = snapshot.check(policy, &request).verdict;
    let rules: Vec<Value> = v
        .rules
        .iter()
        .map(|m| {
            let c = snapshot.cite(policy, m);
            json!({ "text": c.text, "filter_list_id": filter_list_id(&c.list) })
        })
        .collect();
    let service = (v.reason == Reason::FilteredBlockedService)
        .then(|| v.rules.first())
        .flatten()
        .and_then(|m| ward_state::parental::service_of(m.rule.list))
        .map_or("", |s| s.id.as_str());
    let cname = v
        .rewrite
        .as_ref()
        .and_then(|r| r.cname.clone())
        .unwrap_or_default();
    let ips: Option<Vec<String>> =
        (!v.ip_addrs.is_empty()).then(|| v.ip_addrs.iter().map(ToString::to_string).collect());
    json(json!({
        "reason": reason_name(v.reason),
        "rule": rules.first().map_or(Value::from(""), |r| r["text"].clone()),
        "rules": rules,
        "service_name": service,
        "cname": cname,
        "ip_addrs": ips,
        "filter_id": rules.first().map_or(Value::from(0), |r| r["filter_list_id"].clone()),
    }))
}
