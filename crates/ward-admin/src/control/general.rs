//! `/control/status`, protection, DNS settings, sign-in, and the answers AdGuard Home gives
//! for what Ward does not do (self-update, DHCP, TLS until Ward serves DoT and DoH).

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use ward_config::window::Timestamp;
use ward_config::{BlockingMode, Config, Strategy, UpstreamServer};

use super::{AGH_VERSION, Body, config, empty, json, ok, refuse, starting, text, write};
use crate::AdminState;
use crate::session::Principal;

/// When this process's admin API started, Unix ms (AdGuard Home's `start_time`).
static STARTED_MS: LazyLock<f64> = LazyLock::new(|| now_ms() as f64);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How long protection stays paused from now, ms (0 when it is not paused).
fn paused_for_ms(config: &Config) -> i64 {
    let dns = &config.dns;
    match (dns.protection_enabled, dns.protection_disabled_until) {
        (false, Some(until)) => {
            let left = until.as_millisecond() - Timestamp::now().as_millisecond();
            left.max(0)
        }
        _ => 0,
    }
}

/// Whether protection is on now.
fn protection_on(config: &Config) -> bool {
    config.dns.protection_at(Timestamp::now())
}

/// `GET /control/status`.
pub(super) async fn status(State(state): State<AdminState>) -> Response {
    LazyLock::force(&STARTED_MS);
    let Some(config) = config(&state) else {
        return starting();
    };
    let listen = &config.dns.listen;
    json(json!({
        "version": AGH_VERSION,
        "language": "",
        "dns_addresses": listen.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>(),
        "dns_port": listen.first().map_or(53, |a| a.port()),
        "http_port": config.admin.listen.port(),
        "protection_disabled_duration": paused_for_ms(&config),
        "start_time": *STARTED_MS,
        "protection_enabled": protection_on(&config),
        "dhcp_available": false,
        "running": state.is_ready(),
    }))
}

#[derive(Deserialize)]
pub(super) struct ProtectionBody {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    duration: u64,
}

/// `POST /control/protection`: on, off, or off for `duration` ms.
pub(super) async fn protection(
    State(state): State<AdminState>,
    Body(body): Body<ProtectionBody>,
) -> Response {
    if body.enabled && body.duration > 0 {
        return text(
            StatusCode::BAD_REQUEST,
            "Setting a duration is only allowed with protection disabling",
        );
    }
    let until = (!body.enabled && body.duration > 0).then(|| {
        let ms = Timestamp::now()
            .as_millisecond()
            .saturating_add(i64::try_from(body.duration).unwrap_or(i64::MAX / 2));
        Timestamp::from_millisecond(ms).unwrap_or(Timestamp::MAX)
    });
    write(&state, ok, |config| {
        config.dns.protection_enabled = body.enabled;
        config.dns.protection_disabled_until = until;
        Ok(())
    })
    .await
}

/// AdGuard Home's name of a blocking mode.
fn mode_name(mode: BlockingMode) -> &'static str {
    match mode {
        BlockingMode::NullIp => "null_ip",
        BlockingMode::Nxdomain => "nxdomain",
        BlockingMode::Refused => "refused",
        BlockingMode::CustomIp => "custom_ip",
    }
}

/// The servers of the upstream group the default policy uses, as AdGuard Home writes them.
fn servers(config: &Config, group: &str) -> Vec<String> {
    config
        .upstreams
        .get(group)
        .map(|g| g.servers.iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

/// `GET /control/dns_info`: the default policy's upstreams and the DNS settings.
pub(super) async fn dns_info(State(state): State<AdminState>) -> Response {
    let Some(config) = config(&state) else {
        return starting();
    };
    let policy = config.effective_policy(&config.default_policy);
    let group = policy.as_ref().map_or("default", |p| p.upstream.as_str());
    let dns = &config.dns;
    let upstream_mode = match config.upstreams.get(group).map(|g| g.strategy) {
        Some(Strategy::Parallel) => "parallel",
        _ => "",
    };
    // Private reverse zones forwarded: AdGuard Home's private PTR resolvers.
    let ptr: Vec<String> = config
        .forward
        .iter()
        .filter(|f| f.zones.iter().any(|z| z.ends_with(".arpa")))
        .flat_map(|f| servers(&config, &f.upstream))
        .collect();
    json(json!({
        "upstream_dns": servers(&config, group),
        "upstream_dns_file": "",
        "bootstrap_dns": [],
        "fallback_dns": [],
        "protection_enabled": protection_on(&config),
        "ratelimit": dns.ratelimit,
        "ratelimit_subnet_len_ipv4": dns.ratelimit_subnet_len_ipv4,
        "ratelimit_subnet_len_ipv6": dns.ratelimit_subnet_len_ipv6,
        "upstream_timeout": dns.upstream_timeout.as_secs().max(1),
        "ratelimit_whitelist": dns.ratelimit_whitelist.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "blocking_mode": policy.as_ref().map_or(mode_name(dns.blocking_mode), |p| mode_name(p.blocking_mode)),
        "edns_cs_enabled": false,
        "edns_cs_use_custom": false,
        "dnssec_enabled": false,
        "disable_ipv6": false,
        "upstream_mode": upstream_mode,
        "blocked_response_ttl": dns.blocked_ttl,
        "cache_size": config.cache.size,
        "cache_ttl_min": config.cache.min_ttl,
        "cache_ttl_max": config.cache.max_ttl,
        "cache_enabled": config.cache.size > 0,
        "cache_optimistic": false,
        "resolve_clients": false,
        "use_private_ptr_resolvers": !ptr.is_empty(),
        "local_ptr_upstreams": ptr,
        "blocking_ipv4": dns.blocking_ipv4.map(|a| a.to_string()).unwrap_or_default(),
        "blocking_ipv6": dns.blocking_ipv6.map(|a| a.to_string()).unwrap_or_default(),
        "protection_disabled_until": dns.protection_disabled_until.filter(|_| !dns.protection_enabled).map(|t| t.to_string()),
        "edns_cs_custom_ip": "",
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DnsConfigBody {
    protection_enabled: Option<bool>,
    upstream_dns: Option<Vec<String>>,
    ratelimit: Option<u32>,
    blocking_mode: Option<String>,
    blocking_ipv4: Option<String>,
    blocking_ipv6: Option<String>,
    blocked_response_ttl: Option<u32>,
    cache_ttl_min: Option<u32>,
    cache_ttl_max: Option<u32>,
    upstream_timeout: Option<u64>,
}

/// `POST /control/dns_config`: the fields given change, the others stay. The upstreams
/// are the default policy's group's servers; AdGuard Home's `[/domain/]upstream` lines
/// are Ward's `forward` zones, which this endpoint does not write.
pub(super) async fn dns_config(
    State(state): State<AdminState>,
    Body(body): Body<DnsConfigBody>,
) -> Response {
    let mode = match body.blocking_mode.as_deref() {
        None => None,
        Some("default" | "null_ip") => Some(BlockingMode::NullIp),
        Some("nxdomain") => Some(BlockingMode::Nxdomain),
        Some("refused") => Some(BlockingMode::Refused),
        Some("custom_ip") => Some(BlockingMode::CustomIp),
        Some(other) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("validating dns config: blocking_mode: bad value {other:?}"),
            );
        }
    };
    let mut upstreams = Vec::new();
    for line in body.upstream_dns.iter().flatten() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with("[/") {
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "validating dns config: {line:?}: per-domain upstreams are Ward's forward \
                     zones (PUT /api/v1/forward)"
                ),
            );
        }
        match line.parse::<UpstreamServer>() {
            Ok(server) => upstreams.push(server),
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("validating dns config: {line:?}: {e}"),
                );
            }
        }
    }
    // Given (`Some`): an empty one unsets the address.
    let ip = |text: &Option<String>| {
        text.as_ref()
            .map(|t| Some(t.clone()).filter(|t| !t.is_empty()))
    };
    let (v4, v6) = (ip(&body.blocking_ipv4), ip(&body.blocking_ipv6));
    write(&state, empty, move |config| {
        let dns = &mut config.dns;
        if let Some(on) = body.protection_enabled {
            dns.protection_enabled = on;
            if on {
                dns.protection_disabled_until = None;
            }
        }
        if let Some(n) = body.ratelimit {
            dns.ratelimit = n;
        }
        if let Some(ttl) = body.blocked_response_ttl {
            dns.blocked_ttl = ttl;
        }
        if let Some(s) = body.upstream_timeout {
            dns.upstream_timeout = std::time::Duration::from_secs(s.max(1));
        }
        for (given, slot) in [(v4, 4), (v6, 6)] {
            let Some(given) = given else { continue };
            let bad = |e: std::net::AddrParseError| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    format!("validating dns config: {e}"),
                )
            };
            match slot {
                4 => dns.blocking_ipv4 = given.map(|t| t.parse()).transpose().map_err(bad)?,
                _ => dns.blocking_ipv6 = given.map(|t| t.parse()).transpose().map_err(bad)?,
            }
        }
        if let Some(ttl) = body.cache_ttl_min {
            config.cache.min_ttl = ttl;
        }
        if let Some(ttl) = body.cache_ttl_max {
            config.cache.max_ttl = ttl;
        }
        let name = config.default_policy.clone();
        if let Some(mode) = mode {
            if let Some(p) = config.policies.get_mut(&name) {
                p.blocking_mode = Some(mode);
            }
        }
        if !upstreams.is_empty() {
            let group = config
                .effective_policy(&name)
                .map_or_else(|| "default".to_owned(), |p| p.upstream);
            if let Some(g) = config.upstreams.get_mut(&group) {
                g.servers = upstreams;
            }
        }
        Ok(())
    })
    .await
}

/// `POST /control/version.json`: Ward updates with its image, never itself.
pub(super) async fn version() -> Response {
    json(json!({ "disabled": true }))
}

/// `POST /control/update`: there is never an update to install.
pub(super) async fn update() -> Response {
    text(StatusCode::BAD_REQUEST, "update request isn't allowed now")
}

#[derive(Deserialize)]
pub(super) struct LoginBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// `POST /control/login`: an `agh_session` cookie for a users-file user.
pub(super) async fn login(
    State(state): State<AdminState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Body(body): Body<LoginBody>,
) -> Response {
    let ip = peer.ip().to_canonical();
    if let Some(left) = state.lockout().blocked(ip) {
        let mut response = text(
            StatusCode::TOO_MANY_REQUESTS,
            format!("auth: blocked for {}s", left.as_secs()),
        );
        if let Ok(v) = HeaderValue::from_str(&left.as_secs().to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    if !state
        .credentials()
        .user_is(&body.name, &body.password)
        .await
    {
        state.lockout().failed(ip);
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        return text(StatusCode::FORBIDDEN, "invalid username or password");
    }
    state.lockout().succeeded(ip);
    let secret = state.agh_sessions().open(&body.name);
    let mut response = ok();
    let cookie = format!(
        "{}={secret}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
        crate::session::AGH_COOKIE,
        crate::session::TTL.as_secs()
    );
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate, proxy-revalidate"),
    );
    response
}

/// `GET /control/logout`: the session ends; to the sign-in page, as AdGuard Home does.
pub(super) async fn logout(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let had = state.agh_sessions().close(&headers);
    let mut response = (StatusCode::FOUND, [(header::LOCATION, "/ui/login")]).into_response();
    if had {
        response.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "agh_session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax",
            ),
        );
    }
    response
}

/// `GET /control/profile`.
pub(super) async fn profile(request: Request) -> Response {
    let user = request
        .extensions()
        .get::<Principal>()
        .and_then(|p| p.user.clone())
        .unwrap_or_default();
    json(json!({ "name": user, "language": "", "theme": "auto" }))
}

#[derive(Deserialize)]
pub(super) struct ProfileBody {
    #[serde(default)]
    theme: Option<String>,
}

/// `PUT /control/profile/update`: the web UI follows the system's theme; nothing is kept.
pub(super) async fn profile_update(Body(body): Body<ProfileBody>) -> Response {
    match body.theme.as_deref() {
        None | Some("auto" | "light" | "dark") => ok(),
        Some(other) => text(
            StatusCode::BAD_REQUEST,
            format!(
                "reading req: invalid theme {other:?}, supported: \"auto\", \"dark\", \"light\""
            ),
        ),
    }
}

/// `GET /control/dhcp/status`: Ward serves no DHCP; the shape AdGuard Home gives when its
/// server is off (adguardhome-sync reads it on every run and stops at anything but 200).
pub(super) async fn dhcp_status() -> Response {
    json(json!({
        "interface_name": "",
        "v4": { "gateway_ip": "", "subnet_mask": "", "range_start": "", "range_end": "", "lease_duration": 0 },
        "v6": { "range_start": "", "lease_duration": 0 },
        "leases": [],
        "static_leases": [],
        "enabled": false,
    }))
}

/// `POST /control/dhcp/*` (set_config, find_active_dhcp, the static leases, reset):
/// AdGuard Home's answer where it has no DHCP server, 501 with the reason.
pub(super) async fn dhcp_unsupported() -> Response {
    (
        StatusCode::NOT_IMPLEMENTED,
        axum::Json(json!({ "message": "dhcp is not supported: Ward serves no DHCP (turn off adguardhome-sync's dhcp features)" })),
    )
        .into_response()
}

/// `POST /control/cache_clear`: the DNS answer cache emptied.
pub(super) async fn cache_clear(State(state): State<AdminState>) -> Response {
    match state.cache_clear() {
        Some(clear) => {
            clear();
            ok()
        }
        None => starting(),
    }
}

#[derive(Deserialize)]
pub(super) struct TlsBody {
    #[serde(default)]
    enabled: bool,
}

/// `POST /control/tls/configure` and `tls/validate`: encrypted DNS off is what Ward has,
/// answered with the status; on is refused until Ward serves DoT and DoH.
pub(super) async fn tls_configure(Body(body): Body<TlsBody>) -> Response {
    if body.enabled {
        return text(
            StatusCode::BAD_REQUEST,
            "encryption is not supported: Ward serves no DNS-over-TLS or DNS-over-HTTPS yet",
        );
    }
    tls_status().await
}

/// `GET /control/tls/status`: encrypted DNS is off (AdGuard Home's shape for a fresh
/// config).
pub(super) async fn tls_status() -> Response {
    json(json!({
        "not_before": "0001-01-01T00:00:00Z",
        "not_after": "0001-01-01T00:00:00Z",
        "dns_names": null,
        "valid_cert": false,
        "valid_chain": false,
        "valid_key": false,
        "valid_pair": false,
        "enabled": false,
        "force_https": false,
        "port_https": 443,
        "port_dns_over_tls": 853,
        "port_dns_over_quic": 853,
        "port_dnscrypt": 0,
        "dnscrypt_config_file": "",
        "certificate_chain": "",
        "private_key": "",
        "certificate_path": "",
        "private_key_path": "",
        "private_key_saved": false,
        "serve_plain_dns": true,
    }))
}

/// `GET /control/access/list`: `dns.allowed_clients` and `dns.disallowed_clients`.
pub(super) async fn access_list(State(state): State<AdminState>) -> Response {
    let Some(config) = config(&state) else {
        return starting();
    };
    let nets = |v: &[ward_config::IpNetwork]| -> Option<Vec<String>> {
        (!v.is_empty()).then(|| v.iter().map(ToString::to_string).collect())
    };
    json(json!({
        "allowed_clients": nets(&config.dns.allowed_clients),
        "disallowed_clients": nets(&config.dns.disallowed_clients),
        "blocked_hosts": null,
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AccessBody {
    allowed_clients: Option<Vec<String>>,
    disallowed_clients: Option<Vec<String>>,
    blocked_hosts: Option<Vec<String>>,
}

/// `POST /control/access/set`: `dns.allowed_clients` and `dns.disallowed_clients`
/// (addresses and subnets; AdGuard Home's blocked hosts are rules in Ward).
pub(super) async fn access_set(
    State(state): State<AdminState>,
    Body(body): Body<AccessBody>,
) -> Response {
    if body.blocked_hosts.as_ref().is_some_and(|h| !h.is_empty()) {
        return text(
            StatusCode::BAD_REQUEST,
            "blocked_hosts: block names with rules (POST /control/filtering/set_rules)",
        );
    }
    let parse =
        |list: Option<Vec<String>>, what: &str| -> Result<Vec<ward_config::IpNetwork>, String> {
            list.unwrap_or_default()
                .iter()
                .map(|c| {
                    c.trim().parse().map_err(|_| {
                        format!("validating {what}: {c:?}: Ward knows clients by address or subnet")
                    })
                })
                .collect()
        };
    let allowed = match parse(body.allowed_clients, "allowed clients") {
        Ok(a) => a,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let disallowed = match parse(body.disallowed_clients, "disallowed clients") {
        Ok(d) => d,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    write(&state, empty, move |config| {
        config.dns.allowed_clients = allowed;
        config.dns.disallowed_clients = disallowed;
        Ok(())
    })
    .await
}
