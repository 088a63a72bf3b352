//! The default policy's parental control as AdGuard Home's switches: parental control and
//! safe browsing (the catalogue's adult and malware lists), safe search, blocked
//! services; the local records as rewrites; the clients.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use ward_config::import::ClientIdentifier;
use ward_config::{
    Config, EffectivePolicy, ListSource, LocalRecord, RecordKind, SafeSearch, SafeSearchLevel,
};

use super::{Body, config, default_policy, empty, json, ok, refuse, starting, text, write};
use crate::AdminState;
use crate::resources::Refusal;

/// The catalogue list that is AdGuard Home's parental control, and the list id it gets.
const PARENTAL: (&str, &str) = ("parental", "hagezi-nsfw");
/// The catalogue list that is AdGuard Home's safe browsing, and the list id it gets.
const SAFE_BROWSING: (&str, &str) = ("safebrowsing", "urlhaus");

fn effective(config: &Config) -> Option<EffectivePolicy> {
    config.effective_policy(&config.default_policy)
}

/// Whether the default policy uses the catalogue list `entry`.
fn uses_catalogue(config: &Config, entry: &str) -> bool {
    effective(config).is_some_and(|p| {
        p.lists.iter().any(|id| {
            config
                .lists
                .iter()
                .any(|l| l.id == *id && l.enabled && l.catalogue.as_deref() == Some(entry))
        })
    })
}

fn toggle(config: &mut Config, (id, entry): (&str, &str), on: bool) -> Result<(), Refusal> {
    if on {
        if uses_catalogue(config, entry) {
            return Ok(());
        }
        let existing = config
            .lists
            .iter()
            .position(|l| l.catalogue.as_deref() == Some(entry));
        let id = match existing {
            Some(i) => {
                config.lists[i].enabled = true;
                config.lists[i].id.clone()
            }
            None => {
                let mut id = id.to_owned();
                while config.lists.iter().any(|l| l.id == id) {
                    id.push('-');
                    id.push_str(entry);
                }
                config.lists.push(ListSource {
                    id: id.clone(),
                    path: None,
                    url: None,
                    catalogue: Some(entry.to_owned()),
                    refresh: None,
                    enabled: true,
                    allow: false,
                });
                id
            }
        };
        default_policy(config)?.lists.push(id);
    } else {
        let ids: Vec<String> = config
            .lists
            .iter()
            .filter(|l| l.catalogue.as_deref() == Some(entry))
            .map(|l| l.id.clone())
            .collect();
        let policy = default_policy(config)?;
        policy.lists.retain(|l| !ids.contains(l));
        if uses_catalogue(config, entry) {
            return Err(refuse(
                StatusCode::CONFLICT,
                format!("the default policy inherits the {entry} list: change its parent"),
            ));
        }
    }
    Ok(())
}

async fn set(state: &AdminState, list: (&'static str, &'static str), on: bool) -> Response {
    write(state, empty, move |config| toggle(config, list, on)).await
}

fn enabled_json(state: &AdminState, entry: &str) -> Response {
    match config(state) {
        Some(c) => json(json!({ "enabled": uses_catalogue(&c, entry) })),
        None => starting(),
    }
}

/// `GET /control/parental/status`.
pub(super) async fn parental_status(State(state): State<AdminState>) -> Response {
    enabled_json(&state, PARENTAL.1)
}

/// `POST /control/parental/enable`.
pub(super) async fn parental_enable(State(state): State<AdminState>) -> Response {
    set(&state, PARENTAL, true).await
}

/// `POST /control/parental/disable`.
pub(super) async fn parental_disable(State(state): State<AdminState>) -> Response {
    set(&state, PARENTAL, false).await
}

/// `GET /control/safebrowsing/status`.
pub(super) async fn safebrowsing_status(State(state): State<AdminState>) -> Response {
    enabled_json(&state, SAFE_BROWSING.1)
}

/// `POST /control/safebrowsing/enable`.
pub(super) async fn safebrowsing_enable(State(state): State<AdminState>) -> Response {
    set(&state, SAFE_BROWSING, true).await
}

/// `POST /control/safebrowsing/disable`.
pub(super) async fn safebrowsing_disable(State(state): State<AdminState>) -> Response {
    set(&state, SAFE_BROWSING, false).await
}

use ward_config::safesearch::ADGUARD_PROVIDERS as PROVIDERS;

/// AdGuard Home's safe-search object of a Ward setting: off is every provider on but
/// not enabled, as AdGuard Home keeps it.
fn safe_search_json(setting: &SafeSearch) -> Value {
    let mut out = serde_json::Map::new();
    let enabled = !matches!(setting, SafeSearch::All(false))
        && PROVIDERS
            .iter()
            .any(|p| setting.level(p) != SafeSearchLevel::Off);
    out.insert("enabled".into(), enabled.into());
    for p in PROVIDERS {
        let on = !enabled || setting.level(p) != SafeSearchLevel::Off;
        out.insert(p.into(), on.into());
    }
    Value::Object(out)
}

/// `GET /control/safesearch/status`.
pub(super) async fn safesearch_status(State(state): State<AdminState>) -> Response {
    match config(&state) {
        Some(c) => json(safe_search_json(
            &effective(&c).map_or(SafeSearch::All(false), |p| p.safe_search),
        )),
        None => starting(),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub(super) struct SafeSearchBody {
    enabled: bool,
    bing: bool,
    duckduckgo: bool,
    ecosia: bool,
    google: bool,
    pixabay: bool,
    yandex: bool,
    youtube: bool,
}

/// `PUT /control/safesearch/settings`.
pub(super) async fn safesearch_settings(
    State(state): State<AdminState>,
    Body(b): Body<SafeSearchBody>,
) -> Response {
    let setting = safe_search_setting(&b);
    write(&state, ok, move |config| {
        default_policy(config)?.safe_search = Some(setting);
        Ok(())
    })
    .await
}

/// `POST /control/safesearch/enable` (deprecated in AdGuard Home).
pub(super) async fn safesearch_enable(State(state): State<AdminState>) -> Response {
    write(&state, empty, |config| {
        default_policy(config)?.safe_search = Some(SafeSearch::All(true));
        Ok(())
    })
    .await
}

/// `POST /control/safesearch/disable` (deprecated in AdGuard Home).
pub(super) async fn safesearch_disable(State(state): State<AdminState>) -> Response {
    write(&state, empty, |config| {
        default_policy(config)?.safe_search = Some(SafeSearch::All(false));
        Ok(())
    })
    .await
}

/// AdGuard Home's group of a Ward category.
fn group(category: &str) -> &'static str {
    match category {
        "social" => "social_network",
        "games" => "gaming",
        "messaging" => "messenger",
        "video" | "streaming" | "music" => "streaming",
        "shopping" => "shopping",
        "dating" => "dating",
        "ai" => "ai",
        _ => "software",
    }
}

/// The icon every service gets (AdGuard Home sends each one's SVG, base64).
const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\"><circle cx=\"12\" cy=\"12\" r=\"10\"/></svg>";

/// `GET /control/blocked_services/all`.
pub(super) async fn services_all() -> Response {
    let icon = base64::engine::general_purpose::STANDARD.encode(ICON);
    let services: Vec<Value> = ward_config::services::all()
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "name": s.name,
                "icon_svg": icon,
                "rules": s.rules,
                "group_id": group(&s.category),
            })
        })
        .collect();
    let mut groups: Vec<&str> = ward_config::services::CATEGORIES
        .iter()
        .map(|c| group(c))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let groups: Vec<Value> = groups.into_iter().map(|g| json!({ "id": g })).collect();
    json(json!({ "blocked_services": services, "groups": groups }))
}

/// The service ids a policy blocks, its categories spelled out.
fn blocked_ids(names: &[String]) -> Vec<String> {
    ward_config::services::expand(names.iter().map(String::as_str))
        .into_iter()
        .map(|s| s.id.clone())
        .collect()
}

/// `GET /control/blocked_services/get`.
pub(super) async fn services_get(State(state): State<AdminState>) -> Response {
    let Some(config) = config(&state) else {
        return starting();
    };
    let ids = effective(&config).map(|p| blocked_ids(&p.blocked_services));
    let schedule = pause_of(&config, &config.default_policy);
    json(json!({ "schedule": schedule, "ids": ids.filter(|i| !i.is_empty()) }))
}

/// The pause schedule of a policy's blocked services, in AdGuard Home's shape: its
/// windows named `<policy>-pause-<n>`.
fn pause_of(config: &Config, policy: &str) -> Value {
    let prefix = format!("{policy}-pause-");
    let windows: Vec<&ward_config::Schedule> = config
        .policies
        .get(policy)
        .map(|p| {
            p.schedules
                .iter()
                .filter(|s| s.name.as_deref().is_some_and(|n| n.starts_with(&prefix)))
                .collect()
        })
        .unwrap_or_default();
    serde_json::to_value(ward_config::import::pause_schedule(&windows))
        .unwrap_or_else(|_| json!({ "time_zone": "Local" }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ServicesBody {
    ids: Vec<String>,
    schedule: Option<Value>,
}

/// `PUT /control/blocked_services/update`: the default policy's blocked services, and
/// AdGuard Home's pause schedule as windows that let them through (`<policy>-pause-<n>`;
/// the policy's other schedules stay).
pub(super) async fn services_update(
    State(state): State<AdminState>,
    Body(body): Body<ServicesBody>,
) -> Response {
    let unknown: Vec<String> = body
        .ids
        .iter()
        .filter(|id| ward_config::services::get(id).is_none())
        .map(|id| format!("validating: unknown blocked-service {id:?}"))
        .collect();
    if !unknown.is_empty() {
        return text(StatusCode::UNPROCESSABLE_ENTITY, unknown.join("\n"));
    }
    let schedule = match body.schedule.map(serde_norway::to_value).transpose() {
        Ok(s) => s,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("json.Decode: schedule: {e}"),
            );
        }
    };
    write(&state, empty, move |config| {
        let name = config.default_policy.clone();
        let windows = schedule
            .as_ref()
            .map(|s| ward_config::import::pause_windows(s, &name, &body.ids))
            .unwrap_or_default();
        let prefix = format!("{name}-pause-");
        let policy = default_policy(config)?;
        policy.blocked_services = body.ids;
        policy
            .schedules
            .retain(|s| !s.name.as_deref().is_some_and(|n| n.starts_with(&prefix)));
        policy.schedules.extend(windows);
        Ok(())
    })
    .await
}

/// A local record as a rewrite, if it is of a type rewrites have.
fn rewrite(r: &LocalRecord) -> Option<Value> {
    matches!(
        r.rtype,
        RecordKind::A | RecordKind::Aaaa | RecordKind::Cname
    )
    .then(|| json!({ "domain": r.name, "answer": r.value, "enabled": true }))
}

/// `GET /control/rewrite/list`: the A, AAAA and CNAME local records.
pub(super) async fn rewrite_list(State(state): State<AdminState>) -> Response {
    match config(&state) {
        Some(c) => json(c.records.iter().filter_map(rewrite).collect::<Vec<_>>()),
        None => starting(),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub(super) struct RewriteBody {
    domain: String,
    answer: String,
    enabled: Option<bool>,
}

/// The local record of a rewrite: an IPv4 answer is an A record, IPv6 AAAA, a name a
/// CNAME.
fn record(body: &RewriteBody) -> Result<LocalRecord, Refusal> {
    let name = body
        .domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let answer = body.answer.trim();
    let rtype = match answer.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => RecordKind::A,
        Ok(std::net::IpAddr::V6(_)) => RecordKind::Aaaa,
        Err(_) if answer == "A" || answer == "AAAA" => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "normalizing: an A or AAAA exception (keep the upstream's answer) is not \
                 supported: leave the type out of the records",
            ));
        }
        Err(_) => RecordKind::Cname,
    };
    Ok(LocalRecord {
        name,
        rtype,
        value: answer.trim_end_matches('.').to_owned(),
        ttl: ward_config::default_record_ttl(),
        managed_by: None,
    })
}

/// `POST /control/rewrite/add`: a local record (AdGuard Home takes duplicates; Ward keeps
/// one of each).
pub(super) async fn rewrite_add(
    State(state): State<AdminState>,
    Body(body): Body<RewriteBody>,
) -> Response {
    if body.enabled == Some(false) {
        return text(
            StatusCode::BAD_REQUEST,
            "a disabled rewrite is not kept: Ward's local records are all served",
        );
    }
    write(&state, empty, move |config| {
        let r = record(&body)?;
        let same = |x: &LocalRecord| x.name == r.name && x.rtype == r.rtype && x.value == r.value;
        if !config.records.iter().any(same) {
            config.records.push(r);
        }
        Ok(())
    })
    .await
}

/// `POST /control/rewrite/delete`: every local record with the domain and answer.
pub(super) async fn rewrite_delete(
    State(state): State<AdminState>,
    Body(body): Body<RewriteBody>,
) -> Response {
    write(&state, empty, move |config| {
        let name = body
            .domain
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let answer = body.answer.trim().trim_end_matches('.').to_owned();
        config
            .records
            .retain(|r| !(r.name == name && r.value.eq_ignore_ascii_case(&answer)));
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct RewriteUpdate {
    target: RewriteBody,
    update: RewriteBody,
}

/// `PUT /control/rewrite/update`.
pub(super) async fn rewrite_update(
    State(state): State<AdminState>,
    Body(body): Body<RewriteUpdate>,
) -> Response {
    write(&state, empty, move |config| {
        let name = body
            .target
            .domain
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let answer = body.target.answer.trim().trim_end_matches('.').to_owned();
        let Some(i) = config
            .records
            .iter()
            .position(|r| r.name == name && r.value.eq_ignore_ascii_case(&answer))
        else {
            return Err(refuse(StatusCode::BAD_REQUEST, "target rule not found"));
        };
        let next = record(&body.update)?;
        config.records[i] = LocalRecord {
            ttl: config.records[i].ttl,
            ..next
        };
        Ok(())
    })
    .await
}

/// `GET /control/rewrite/settings`: local records are always served.
pub(super) async fn rewrite_settings() -> Response {
    json(json!({ "enabled": true }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct EnabledBody {
    enabled: bool,
}

/// `PUT /control/rewrite/settings/update`.
pub(super) async fn rewrite_settings_update(Body(body): Body<EnabledBody>) -> Response {
    if body.enabled {
        empty()
    } else {
        text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Ward's local records cannot be switched off as a whole: remove them",
        )
    }
}

/// `GET /control/clients`: each client rule as a persistent client; its own settings are
/// its policy's.
pub(super) async fn clients(State(state): State<AdminState>) -> Response {
    let Some(config) = config(&state) else {
        return starting();
    };
    let clients: Vec<Value> = config
        .clients
        .iter()
        .map(|c| {
            let policy = config.effective_policy(&c.policy);
            let safe = policy
                .as_ref()
                .map_or(SafeSearch::All(false), |p| p.safe_search.clone());
            let safe = safe_search_json(&safe);
            let catalogue = |id: &String| {
                config
                    .lists
                    .iter()
                    .find(|l| l.id == *id)
                    .and_then(|l| l.catalogue.as_deref())
            };
            let uses = |entry: &str| {
                policy
                    .as_ref()
                    .is_some_and(|p| p.lists.iter().any(|id| catalogue(id) == Some(entry)))
            };
            let filters = policy.as_ref().is_some_and(|p| {
                !p.rules.is_empty()
                    || p.lists.iter().any(|id| {
                        ![PARENTAL.1, SAFE_BROWSING.1].contains(&catalogue(id).unwrap_or(""))
                    })
            });
            // Its own policy, as AdGuard Home's switches: the global settings where it
            // extends the default policy without changing them.
            let own = (c.policy != config.default_policy)
                .then(|| config.policies.get(&c.policy))
                .flatten();
            let extends = |p: &ward_config::PolicyConfig| {
                p.extends.as_deref() == Some(config.default_policy.as_str())
            };
            let global_settings =
                own.is_none_or(|p| extends(p) && p.safe_search.is_none() && p.lists.is_empty());
            let global_services = own.is_none_or(|p| {
                extends(p) && p.blocked_services.is_empty() && p.schedules.is_empty()
            });
            let upstreams = own
                .and_then(|p| p.upstream.as_ref())
                .and_then(|g| config.upstreams.get(g))
                .map(|g| {
                    g.servers
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                });
            json!({
                "safe_search": safe,
                "blocked_services_schedule": pause_of(&config, &c.policy),
                "name": c.name.clone().unwrap_or_else(|| match c.subnet {
                    Some(subnet) => subnet.to_string(),
                    None => c.client_ids.join(", "),
                }),
                "blocked_services": policy.as_ref().map(|p| blocked_ids(&p.blocked_services)),
                "ids": c.subnet.iter().map(ToString::to_string).chain(c.client_ids.iter().cloned()).collect::<Vec<_>>(),
                "tags": (!c.tags.is_empty()).then(|| c.tags.clone()),
                "upstreams": upstreams,
                "filtering_enabled": filters,
                "parental_enabled": uses(PARENTAL.1),
                "safebrowsing_enabled": uses(SAFE_BROWSING.1),
                "safesearch_enabled": safe["enabled"],
                "use_global_blocked_services": global_services,
                "use_global_settings": global_settings,
                "ignore_querylog": false,
                "ignore_statistics": false,
                "upstreams_cache_size": 0,
                "upstreams_cache_enabled": false,
            })
        })
        .collect();
    json(json!({
        "clients": (!clients.is_empty()).then_some(clients),
        "auto_clients": null,
        "supported_tags": ward_config::CLIENT_TAGS,
    }))
}

/// A persistent client as AdGuard Home's tools send it (`clients/add`, `clients/update`).
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub(super) struct ClientBody {
    name: String,
    ids: Vec<String>,
    tags: Vec<String>,
    use_global_settings: Option<bool>,
    filtering_enabled: bool,
    parental_enabled: bool,
    safebrowsing_enabled: bool,
    safe_search: Option<SafeSearchBody>,
    safesearch_enabled: Option<bool>,
    use_global_blocked_services: Option<bool>,
    blocked_services: Vec<String>,
    blocked_services_schedule: Option<Value>,
    upstreams: Vec<String>,
}

/// Adds `body` as client rules (one per address or subnet) and, when it has settings or
/// upstreams of its own, a policy of its own, as the import makes it
/// ([`ward_config::import::client_policy`]).
fn add_client(config: &mut Config, body: ClientBody) -> Result<(), Refusal> {
    let name = body.name.trim().to_owned();
    if name.is_empty() {
        return Err(refuse(StatusCode::BAD_REQUEST, "adding client: empty name"));
    }
    if body.ids.is_empty() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "adding client: id required",
        ));
    }
    if config
        .clients
        .iter()
        .any(|c| c.name.as_deref() == Some(name.as_str()))
    {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            format!("adding client: another client uses the same name {name:?}"),
        ));
    }
    let mut subnets = Vec::new();
    let mut client_ids = Vec::new();
    for id in body.ids.iter().map(|id| id.trim()) {
        let taken = |other: &ward_config::ClientRule| {
            Err(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "adding client: another client {:?} uses the same ID {id:?}",
                    other.name.clone().unwrap_or_default()
                ),
            ))
        };
        match ClientIdentifier::of(id) {
            ClientIdentifier::Subnet(net) => {
                if let Some(other) = config.clients.iter().find(|c| c.subnet == Some(net)) {
                    return taken(other);
                }
                subnets.push(net);
            }
            ClientIdentifier::ClientId(client_id) => {
                if let Some(other) =
                    (config.clients.iter()).find(|c| c.client_ids.contains(&client_id))
                {
                    return taken(other);
                }
                client_ids.push(client_id);
            }
            ClientIdentifier::Other => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "adding client: {id:?}: Ward knows clients by IP address, subnet or \
                         ClientID (MAC addresses are not supported)"
                    ),
                ));
            }
        }
    }
    let mut servers = Vec::new();
    for line in body.upstreams.iter().map(|l| l.trim()) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let server = line.parse().map_err(|e| {
            refuse(
                StatusCode::BAD_REQUEST,
                format!("adding client: upstream {line:?}: {e}"),
            )
        })?;
        servers.push(server);
    }
    let upstream = (!servers.is_empty())
        .then(|| ward_config::import::client_upstream_group(config, &name, servers));
    let safe = body.safe_search.clone().unwrap_or(SafeSearchBody {
        enabled: body.safesearch_enabled.unwrap_or(false),
        bing: true,
        duckduckgo: true,
        ecosia: true,
        google: true,
        pixabay: true,
        yandex: true,
        youtube: true,
    });
    let pause = body
        .blocked_services_schedule
        .as_ref()
        .and_then(|s| serde_norway::to_value(s).ok());
    let settings = ward_config::import::ClientSettings {
        use_global_settings: body.use_global_settings.unwrap_or(true),
        filtering_enabled: body.filtering_enabled,
        parental_enabled: body.parental_enabled,
        safebrowsing_enabled: body.safebrowsing_enabled,
        safe_search: safe_search_setting(&safe),
        use_global_blocked_services: body.use_global_blocked_services.unwrap_or(true),
        blocked_services: body.blocked_services.clone(),
        pause,
        upstream,
    };
    let policy = ward_config::import::client_policy(config, &name, &settings).name;
    let like = ward_config::ClientRule {
        subnet: None,
        client_ids: Vec::new(),
        policy,
        name: Some(name.clone()),
        tags: body.tags.clone(),
    };
    let rules = ward_config::import::client_rules(subnets, client_ids, &like);
    config.clients.extend(rules);
    Ok(())
}

/// Removes the client `name`: its rules, and its own policy (`client-...`) and upstream
/// group if nothing else uses them.
fn remove_client(config: &mut Config, name: &str) -> bool {
    let before = config.clients.len();
    let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut config.clients)
        .into_iter()
        .partition(|c| c.name.as_deref() == Some(name));
    config.clients = kept;
    let own: std::collections::BTreeSet<String> = gone
        .into_iter()
        .map(|c| c.policy)
        .filter(|p| p.starts_with("client-"))
        .collect();
    for policy in own {
        let used = config.clients.iter().any(|c| c.policy == policy)
            || config
                .policies
                .values()
                .any(|p| p.extends.as_deref() == Some(&policy));
        if used {
            continue;
        }
        let group = config.policies.remove(&policy).and_then(|p| p.upstream);
        if let Some(group) = group.filter(|g| g.starts_with("client-")) {
            let used = config
                .policies
                .values()
                .any(|p| p.upstream.as_deref() == Some(&group))
                || config.forward.iter().any(|f| f.upstream == group);
            if !used {
                config.upstreams.remove(&group);
            }
        }
    }
    config.clients.len() != before
}

/// `POST /control/clients/add`.
pub(super) async fn clients_add(
    State(state): State<AdminState>,
    Body(body): Body<ClientBody>,
) -> Response {
    write(&state, empty, move |config| add_client(config, body)).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ClientUpdate {
    name: String,
    data: Option<ClientBody>,
}

/// `POST /control/clients/update`: the client `name` becomes `data`.
pub(super) async fn clients_update(
    State(state): State<AdminState>,
    Body(body): Body<ClientUpdate>,
) -> Response {
    let Some(data) = body.data.filter(|_| !body.name.is_empty()) else {
        return text(StatusCode::BAD_REQUEST, "Invalid request");
    };
    let name = body.name;
    write(&state, empty, move |config| {
        if !remove_client(config, &name) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("updating client: client {name:?} is not found"),
            ));
        }
        add_client(config, data)
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct NameBody {
    name: String,
}

/// `POST /control/clients/delete`.
pub(super) async fn clients_delete(
    State(state): State<AdminState>,
    Body(body): Body<NameBody>,
) -> Response {
    if body.name.is_empty() {
        return text(StatusCode::BAD_REQUEST, "client's name must be non-empty");
    }
    write(&state, empty, move |config| {
        if remove_client(config, &body.name) {
            Ok(())
        } else {
            Err(refuse(StatusCode::BAD_REQUEST, "Client not found"))
        }
    })
    .await
}

/// Ward's safe search of an AdGuard Home safe-search object.
fn safe_search_setting(b: &SafeSearchBody) -> SafeSearch {
    let on = [
        b.bing,
        b.duckduckgo,
        b.ecosia,
        b.google,
        b.pixabay,
        b.yandex,
        b.youtube,
    ];
    if !b.enabled {
        SafeSearch::All(false)
    } else if on.iter().all(|o| *o) {
        SafeSearch::All(true)
    } else {
        SafeSearch::Providers(
            PROVIDERS
                .iter()
                .zip(on)
                .map(|(p, on)| {
                    let level = if on {
                        SafeSearchLevel::Strict
                    } else {
                        SafeSearchLevel::Off
                    };
                    ((*p).to_owned(), level)
                })
                .collect(),
        )
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SearchBody {
    clients: Vec<SearchId>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SearchId {
    id: String,
}

/// `POST /control/clients/search`: for each id (an address), the client it is.
pub(super) async fn clients_search(
    State(state): State<AdminState>,
    Body(body): Body<SearchBody>,
) -> Response {
    let Some(control) = state.control() else {
        return starting();
    };
    let snapshot = control.reloader.current();
    let config = &snapshot.config;
    let answers: Vec<Value> = body
        .clients
        .iter()
        .filter_map(|c| {
            // An address, or a ClientID (the rule naming it, wherever its queries come
            // from).
            let id = c.id.trim();
            let asker = match id.parse::<std::net::IpAddr>() {
                Ok(ip) => ward_state::Asker::from(ip),
                Err(_) => {
                    let asker = snapshot.asker(
                        std::net::Ipv4Addr::UNSPECIFIED.into(),
                        Some(&id.to_ascii_lowercase()),
                    );
                    asker.rule?;
                    asker
                }
            };
            let ip = asker.ip;
            let policy = &snapshot.policy_for(asker).name;
            let name = snapshot.client_name(asker).map(str::to_owned);
            let info = snapshot.client(asker);
            let mut client = json!({
                "name": name.clone().unwrap_or_default(),
                "ids": [c.id],
                "tags": (!info.tags.is_empty()).then(|| info.tags.to_vec()),
                "use_global_settings": *policy == config.default_policy,
                "use_global_blocked_services": *policy == config.default_policy,
                "filtering_enabled": true,
                "disallowed": config.dns.disallowed_clients.iter().any(|n| n.contains(ip)),
                "whois_info": {},
            });
            if name.is_none() {
                client["name"] = "".into();
            }
            let mut entry = serde_json::Map::new();
            entry.insert(c.id.clone(), client);
            Some(Value::Object(entry))
        })
        .collect();
    json(answers)
}
