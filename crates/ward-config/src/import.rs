//! `ward import-adguard`: a Ward config from an AdGuardHome.yaml (schema versions 12 to
//! 34, AdGuard Home v0.107.0 to v0.107.79), with a report of what could not be mapped.
//!
//! The file is read as AdGuard Home v0.107.79 reads it: each field where the file's
//! `schema_version` keeps it (filtering settings moved from `dns` to `filtering` at 26,
//! the web address into `http` at 23, clients into `clients.persistent` at 14), AdGuard
//! Home's defaults for what is missing. Every field is mapped, left out because it changes
//! nothing Ward could miss, or named in the report with what Ward does instead.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use serde_norway::Value;

use crate::model::{
    BlockingMode, ClientRule, Config, ForwardRule, ListSource, LocalRecord, PolicyConfig,
    RecordKind, SafeSearch, SafeSearchLevel, Schedule, Strategy, UpstreamGroupConfig,
};
use crate::safesearch::ADGUARD_PROVIDERS;
use crate::upstream::UpstreamServer;
use crate::window::{Days, TimeOfDay, Zone};

/// The schema versions the import knows.
pub const SCHEMAS: std::ops::RangeInclusive<u64> = 12..=34;

/// What an import gives.
#[derive(Debug)]
pub struct Imported {
    /// The Ward config (it validates).
    pub config: Config,
    /// AdGuard Home's users, for a users file: `name` and its bcrypt hash.
    pub users: Vec<(String, String)>,
    /// What was not mapped, one line each: the AdGuard Home key, its value, and what Ward
    /// does instead.
    pub unmapped: Vec<String>,
}

struct Reader<'a> {
    root: &'a Value,
    schema: u64,
    unmapped: Vec<String>,
    /// AdGuard Home's directory, for the files its config names by a relative path.
    dir: Option<&'a Path>,
}

impl<'a> Reader<'a> {
    fn at(&self, path: &str) -> Option<&'a Value> {
        let mut v = self.root;
        for key in path.split('.') {
            v = v.get(key)?;
        }
        (!v.is_null()).then_some(v)
    }

    fn str(&self, path: &str) -> Option<&'a str> {
        self.at(path)?.as_str()
    }

    fn bool(&self, path: &str) -> Option<bool> {
        self.at(path)?.as_bool()
    }

    fn u64(&self, path: &str) -> Option<u64> {
        self.at(path)?.as_u64()
    }

    fn strings(&self, path: &str) -> Vec<String> {
        self.at(path)
            .and_then(Value::as_sequence)
            .map(|s| {
                s.iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Where filtering settings are: `filtering` from schema 26, `dns` before.
    fn filtering(&self, key: &str) -> String {
        if self.schema >= 26 {
            format!("filtering.{key}")
        } else {
            format!("dns.{key}")
        }
    }

    fn report(&mut self, path: &str, value: impl std::fmt::Display, why: &str) {
        self.unmapped.push(format!("{path}: {value}: {why}"));
    }
}

/// Reads an AdGuardHome.yaml; the error says why there is nothing to import. A file it
/// names (`upstream_dns_file`) is not read: [`import_adguard_in`] reads it.
pub fn import_adguard(text: &str) -> Result<Imported, String> {
    import_adguard_in(text, None)
}

/// [`import_adguard`] of a file in AdGuard Home's directory `dir`, where the files it
/// names by a relative path are (its working directory, as AdGuard Home reads them).
pub fn import_adguard_in(text: &str, dir: Option<&Path>) -> Result<Imported, String> {
    let root: Value = serde_norway::from_str(text).map_err(|e| format!("not a YAML file: {e}"))?;
    let schema = root
        .get("schema_version")
        .and_then(Value::as_u64)
        .ok_or("no schema_version: not an AdGuardHome.yaml")?;
    if schema < *SCHEMAS.start() {
        return Err(format!(
            "schema_version {schema} is older than AdGuard Home v0.107: open the file with \
             AdGuard Home v0.107 once, so that it upgrades it"
        ));
    }
    if schema > *SCHEMAS.end() {
        return Err(format!(
            "schema_version {schema} is newer than this importer knows ({})",
            SCHEMAS.end()
        ));
    }
    let mut r = Reader {
        root: &root,
        schema,
        unmapped: Vec::new(),
        dir,
    };
    let mut config = Config::from_yaml(
        "upstreams: { default: { servers: [\"9.9.9.9\"] } }\npolicies: { default: {} }\n\
         default_policy: default\n",
    )
    .map_err(|e| e.to_string())?;

    listeners(&mut r, &mut config);
    let users = users(&mut r, &mut config);
    upstreams(&mut r, &mut config);
    cache_and_blocking(&mut r, &mut config);
    query_log(&mut r, &mut config);
    lists_and_rules(&mut r, &mut config);
    rewrites(&mut r, &mut config);
    parental(&mut r, &mut config);
    clients(&mut r, &mut config);

    config.normalise();
    config
        .validate()
        .map_err(|e| format!("the imported config does not validate (a bug): {e}"))?;
    Ok(Imported {
        config,
        users,
        unmapped: r.unmapped,
    })
}

fn listeners(r: &mut Reader<'_>, config: &mut Config) {
    let port = r.u64("dns.port").unwrap_or(53) as u16;
    let hosts = {
        let list = r.strings("dns.bind_hosts");
        if list.is_empty() {
            vec!["0.0.0.0".to_owned()]
        } else {
            list
        }
    };
    let mut listen = Vec::new();
    for host in hosts {
        match host.parse::<IpAddr>() {
            Ok(ip) => listen.push(SocketAddr::new(ip, port)),
            Err(_) => r.report("dns.bind_hosts", &host, "not an address Ward can listen on"),
        }
    }
    if listen
        .iter()
        .any(|a| a.ip().is_unspecified() && a.is_ipv4())
    {
        r.report(
            "dns.bind_hosts",
            "0.0.0.0",
            "AdGuard Home also answered IPv6 clients there; add \"[::]:53\" to dns.listen for them",
        );
    }
    if !listen.is_empty() {
        config.dns.listen = listen;
    }
    let web = if r.schema >= 23 {
        r.str("http.address").map(str::to_owned)
    } else {
        r.str("bind_host")
            .map(|h| format!("{h}:{}", r.u64("bind_port").unwrap_or(3000)))
    };
    if let Some(web) = web {
        match web.parse::<SocketAddr>() {
            Ok(a) => config.admin.listen = a,
            Err(_) => r.report("http.address", &web, "not an address:port"),
        }
    }
    if r.bool("tls.enabled") == Some(true) {
        tls(r, config);
    }
    if r.bool("dhcp.enabled") == Some(true) {
        r.report("dhcp.enabled", true, "Ward has no DHCP server");
    }
}

/// AdGuard Home's `tls`: its certificate files, server name and DoT and DoH ports become
/// `dns.tls`, on the addresses plain DNS listens on.
fn tls(r: &mut Reader<'_>, config: &mut Config) {
    let cert = r.str("tls.certificate_path").filter(|p| !p.is_empty());
    let key = r.str("tls.private_key_path").filter(|p| !p.is_empty());
    let (Some(cert), Some(key)) = (cert, key) else {
        let inline = r
            .str("tls.certificate_chain")
            .is_some_and(|c| !c.is_empty());
        let why = if inline {
            "a certificate given inline: write it and its key to files, then set \
             dns.tls.cert_file and key_file"
        } else {
            "no certificate_path and private_key_path: DoT and DoH not imported"
        };
        r.report("tls", "enabled", why);
        return;
    };
    // On the addresses of plain DNS; port 0 turns a protocol off, as in AdGuard Home.
    let on = |port: u64| -> Vec<SocketAddr> {
        let mut addrs: Vec<SocketAddr> = (config.dns.listen.iter())
            .filter(|_| port != 0)
            .map(|a| SocketAddr::new(a.ip(), port as u16))
            .collect();
        addrs.dedup();
        addrs
    };
    let dot = on(r.u64("tls.port_dns_over_tls").unwrap_or(853));
    let doh = on(r.u64("tls.port_https").unwrap_or(443));
    config.dns.tls = crate::TlsConfig {
        cert_file: Some(cert.into()),
        key_file: Some(key.into()),
        server_name: (r.str("tls.server_name"))
            .filter(|n| !n.is_empty())
            .map(crate::name::normalise),
        dot,
        doh,
    };
    if let Some(port) = r.u64("tls.port_dns_over_quic").filter(|p| *p != 0) {
        r.report(
            "tls.port_dns_over_quic",
            port,
            "Ward serves DNS over TLS and HTTPS, not over QUIC",
        );
    }
    if r.bool("tls.force_https") == Some(true) {
        r.report(
            "tls.force_https",
            true,
            "the admin UI is served over plain HTTP (put a TLS-terminating ingress in front)",
        );
    }
}

fn users(r: &mut Reader<'_>, config: &mut Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(users) = r.at("users").and_then(Value::as_sequence) {
        for u in users {
            let name = u.get("name").and_then(Value::as_str).unwrap_or_default();
            let hash = u
                .get("password")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name.is_empty() || name.contains(':') || name.contains('\n') || hash.is_empty() {
                r.report("users", name, "a user a users file cannot hold");
                continue;
            }
            out.push((name.to_owned(), hash.to_owned()));
        }
    }
    if out.is_empty() {
        r.report(
            "users",
            "none",
            "AdGuard Home had no authentication; Ward's API answers this machine only until \
             admin.users_file or admin.token_file is set",
        );
    } else {
        config.admin.users_file = Some("ward-users".into());
    }
    out
}

/// A Ward server of an AdGuard Home upstream address, if Ward has its protocol.
fn server(text: &str) -> Result<UpstreamServer, &'static str> {
    let text = text.trim();
    if text.starts_with("quic://") {
        return Err("Ward has no DNS over QUIC");
    }
    if text.starts_with("sdns://") {
        return Err("DNS stamps are not supported: write the server's URL");
    }
    let text = text.strip_prefix("udp://").unwrap_or(text);
    let text = match text.strip_prefix("h3://") {
        Some(rest) => format!("https://{rest}"),
        None => text.to_owned(),
    };
    text.parse::<UpstreamServer>()
        .map_err(|_| "Ward's plain DNS servers are IP addresses")
}

fn upstreams(r: &mut Reader<'_>, config: &mut Config) {
    let strategy = match r.str("dns.upstream_mode") {
        Some("parallel") => Strategy::Parallel,
        Some("fastest_addr") => {
            r.report(
                "dns.upstream_mode",
                "fastest_addr",
                "Ward asks the servers in parallel and takes the first good answer",
            );
            Strategy::Parallel
        }
        _ if r.bool("dns.all_servers") == Some(true) => Strategy::Parallel,
        _ => Strategy::RoundRobin,
    };
    let mut default = Vec::new();
    // Domain -> servers, in the file's order.
    let mut zones: Vec<(String, Vec<UpstreamServer>)> = Vec::new();
    for line in upstream_lines(r) {
        let line = line.trim().to_owned();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix("[/") else {
            match server(&line) {
                Ok(s) => default.push(s),
                Err(why) => r.report("dns.upstream_dns", &line, why),
            }
            continue;
        };
        let Some((domains, servers)) = rest.split_once("/]") else {
            r.report("dns.upstream_dns", &line, "not an upstream line");
            continue;
        };
        if domains.is_empty() {
            r.report(
                "dns.upstream_dns",
                &line,
                "Ward has no upstream for single-label names",
            );
            continue;
        }
        let mut mapped = Vec::new();
        let mut to_default = false;
        for s in servers.split_whitespace() {
            if s == "#" {
                to_default = true;
                continue;
            }
            match server(s) {
                Ok(s) => mapped.push(s),
                Err(why) => r.report("dns.upstream_dns", s, why),
            }
        }
        for d in domains.split('/').filter(|d| !d.is_empty()) {
            if d.starts_with("*.") {
                r.report(
                    "dns.upstream_dns",
                    &line,
                    "a forward zone always includes the domain itself",
                );
                continue;
            }
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let servers = if to_default {
                Vec::new()
            } else {
                mapped.clone()
            };
            match zones.iter_mut().find(|(z, _)| *z == d) {
                Some((_, s)) => s.extend(servers),
                None => zones.push((d, servers)),
            }
        }
    }
    if default.is_empty() {
        r.report(
            "dns.upstream_dns",
            "none usable",
            "the default group asks AdGuard Home's own default, https://dns10.quad9.net/dns-query",
        );
        if let Ok(s) = "https://dns10.quad9.net/dns-query".parse() {
            default.push(s);
        }
    }
    config.upstreams.clear();
    config.upstreams.insert(
        "default".into(),
        UpstreamGroupConfig {
            servers: default.clone(),
            strategy,
        },
    );
    let private = r.bool("dns.use_private_ptr_resolvers") == Some(true);
    let ptr: Vec<UpstreamServer> = r
        .strings("dns.local_ptr_upstreams")
        .iter()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| match server(l) {
            Ok(s) => Some(s),
            Err(why) => {
                r.report("dns.local_ptr_upstreams", l, why);
                None
            }
        })
        .collect();
    if private && !ptr.is_empty() {
        for z in private_zones(r) {
            if !zones.iter().any(|(d, _)| *d == z) {
                zones.push((z, ptr.clone()));
            }
        }
    } else if private {
        r.report(
            "dns.use_private_ptr_resolvers",
            true,
            "AdGuard Home asked the system's resolvers; name them in local_ptr_upstreams or \
             add a forward zone",
        );
    }
    // One group per distinct server list.
    let mut groups: Vec<(String, Vec<UpstreamServer>)> = Vec::new();
    for (zone, servers) in zones {
        let group = if servers.is_empty() || servers == default {
            "default".to_owned()
        } else if let Some((name, _)) = groups.iter().find(|(_, s)| *s == servers) {
            name.clone()
        } else {
            let name = unique(&slug(&format!("fwd-{zone}")), |n| {
                groups.iter().any(|(g, _)| g == n)
            });
            groups.push((name.clone(), servers));
            name
        };
        match config.forward.iter_mut().find(|f| f.upstream == group) {
            Some(f) => f.zones.push(zone),
            None => config.forward.push(ForwardRule {
                zones: vec![zone],
                upstream: group,
            }),
        }
    }
    for (name, servers) in groups {
        config
            .upstreams
            .insert(name, UpstreamGroupConfig { servers, strategy });
    }
    if let Some(t) = r.str("dns.upstream_timeout").and_then(duration) {
        config.dns.upstream_timeout = t.min(std::time::Duration::from_secs(60));
    }
    if !r.strings("dns.fallback_dns").is_empty() {
        r.report(
            "dns.fallback_dns",
            r.strings("dns.fallback_dns").join(" "),
            "Ward answers SERVFAIL when every upstream fails",
        );
    }
}

/// The upstream lines: those of `dns.upstream_dns_file` when it names a file (AdGuard Home
/// then reads them instead of `dns.upstream_dns`), else `dns.upstream_dns`.
fn upstream_lines(r: &mut Reader<'_>) -> Vec<String> {
    let Some(file) = r.str("dns.upstream_dns_file").filter(|f| !f.is_empty()) else {
        return r.strings("dns.upstream_dns");
    };
    let path = Path::new(&file);
    let path = match r.dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_owned(),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(e) => {
            let why = format!("not read ({e}): dns.upstream_dns is imported instead");
            r.report("dns.upstream_dns_file", path.display(), &why);
            r.strings("dns.upstream_dns")
        }
    }
}

/// The reverse zones of the networks AdGuard Home calls private for PTR queries:
/// `dns.private_networks`, else the RFC 6303 set (as Ward's own).
fn private_zones(r: &mut Reader<'_>) -> Vec<String> {
    let networks = r.strings("dns.private_networks");
    let networks: Vec<String> = networks.into_iter().filter(|n| !n.is_empty()).collect();
    if networks.is_empty() {
        return PRIVATE_REVERSE.iter().map(|z| (*z).to_owned()).collect();
    }
    let mut zones = Vec::new();
    for n in &networks {
        match n.parse::<crate::IpNetwork>() {
            Ok(net) => zones.extend(reverse_zones(net)),
            Err(_) => r.report("dns.private_networks", n, "not a subnet"),
        }
    }
    r.report(
        "dns.private_networks",
        networks.join(" "),
        "their reverse zones go to local_ptr_upstreams; Ward still answers NXDOMAIN for the \
         other private reverse zones, which AdGuard Home sent to the general upstreams",
    );
    zones
}

/// The reverse zones that together cover `net`: one per octet (IPv4) or nibble (IPv6)
/// boundary, a prefix between boundaries spread over the zones under it (`172.16.0.0/12`:
/// `16.172.in-addr.arpa` to `31.172.in-addr.arpa`): at most 128 zones.
fn reverse_zones(net: crate::IpNetwork) -> Vec<String> {
    let (bytes, step, suffix): (Vec<u8>, u8, &str) = match net.network() {
        std::net::IpAddr::V4(a) => (a.octets().to_vec(), 8, "in-addr.arpa"),
        std::net::IpAddr::V6(a) => (
            a.octets().iter().flat_map(|b| [b >> 4, b & 15]).collect(),
            4,
            "ip6.arpa",
        ),
    };
    let prefix = net.prefix();
    let labels = usize::from(prefix.div_ceil(step));
    let spread = u32::from(labels as u8 * step - prefix);
    (0..1usize << spread)
        .map(|i| {
            let mut units = bytes[..labels].to_vec();
            if let Some(last) = units.last_mut() {
                *last |= i as u8;
            }
            let mut name: Vec<String> = units
                .iter()
                .rev()
                .map(|u| {
                    if step == 8 {
                        u.to_string()
                    } else {
                        format!("{u:x}")
                    }
                })
                .collect();
            name.push(suffix.to_owned());
            name.join(".")
        })
        .collect()
}

/// The reverse zones of the private networks (RFC 1918, 6303, 4193).
const PRIVATE_REVERSE: &[&str] = &[
    "10.in-addr.arpa",
    "16.172.in-addr.arpa",
    "17.172.in-addr.arpa",
    "18.172.in-addr.arpa",
    "19.172.in-addr.arpa",
    "20.172.in-addr.arpa",
    "21.172.in-addr.arpa",
    "22.172.in-addr.arpa",
    "23.172.in-addr.arpa",
    "24.172.in-addr.arpa",
    "25.172.in-addr.arpa",
    "26.172.in-addr.arpa",
    "27.172.in-addr.arpa",
    "28.172.in-addr.arpa",
    "29.172.in-addr.arpa",
    "30.172.in-addr.arpa",
    "31.172.in-addr.arpa",
    "168.192.in-addr.arpa",
    "254.169.in-addr.arpa",
    "d.f.ip6.arpa",
];

/// AdGuard Home's durations: Go's (`2160h`, `10s`), and days (`90d`, `1d12h`).
fn duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let (days, rest) = match text.find('d') {
        Some(i) if text[..i].chars().all(|c| c.is_ascii_digit()) && i > 0 => {
            (text[..i].parse::<u64>().ok()?, &text[i + 1..])
        }
        _ => (0, text),
    };
    let rest = if rest.is_empty() {
        std::time::Duration::ZERO
    } else {
        humantime::parse_duration(rest).ok()?
    };
    Some(std::time::Duration::from_secs(days * 86_400) + rest)
}

fn cache_and_blocking(r: &mut Reader<'_>, config: &mut Config) {
    let size = r.u64("dns.cache_size").unwrap_or(4 << 20);
    let enabled = r.bool("dns.cache_enabled").unwrap_or(size > 0);
    if !enabled || size == 0 {
        config.cache.size = 0;
    } else if size != 4 << 20 {
        config.cache.size = (size / 256).max(1000);
    }
    if let Some(t) = r.u64("dns.cache_ttl_min") {
        config.cache.min_ttl = t as u32;
    }
    if let Some(t) = r.u64("dns.cache_ttl_max").filter(|t| *t > 0) {
        config.cache.max_ttl = t as u32;
    }
    if r.bool("dns.cache_optimistic") == Some(true) {
        r.report(
            "dns.cache_optimistic",
            true,
            "Ward never serves an expired answer",
        );
    }
    let mode = r.str(&r.filtering("blocking_mode")).unwrap_or("default");
    config.dns.blocking_mode = match mode {
        "nxdomain" => BlockingMode::Nxdomain,
        "refused" => BlockingMode::Refused,
        "custom_ip" => BlockingMode::CustomIp,
        _ => BlockingMode::NullIp,
    };
    if config.dns.blocking_mode == BlockingMode::CustomIp {
        config.dns.blocking_ipv4 = r
            .str(&r.filtering("blocking_ipv4"))
            .and_then(|a| a.parse().ok());
        config.dns.blocking_ipv6 = r
            .str(&r.filtering("blocking_ipv6"))
            .and_then(|a| a.parse().ok());
    }
    if let Some(ttl) = r.u64(&r.filtering("blocked_response_ttl")) {
        config.dns.blocked_ttl = ttl as u32;
    }
    if let Some(n) = r.u64("dns.ratelimit") {
        config.dns.ratelimit = n as u32;
    }
    config.dns.ratelimit_subnet_len_ipv4 =
        r.u64("dns.ratelimit_subnet_len_ipv4").unwrap_or(24) as u8;
    config.dns.ratelimit_subnet_len_ipv6 =
        r.u64("dns.ratelimit_subnet_len_ipv6").unwrap_or(56) as u8;
    config.dns.ratelimit_whitelist = r
        .strings("dns.ratelimit_whitelist")
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    let nets = |r: &mut Reader<'_>, key: &str| -> Vec<crate::IpNetwork> {
        let mut out = Vec::new();
        for c in r.strings(key) {
            match c.parse::<crate::IpNetwork>() {
                Ok(n) => out.push(crate::IpNetwork::new(n.network(), n.prefix()).unwrap_or(n)),
                Err(_) => r.report(
                    key,
                    &c,
                    "a ClientID: the access lists take addresses and subnets",
                ),
            }
        }
        out
    };
    config.dns.allowed_clients = nets(r, "dns.allowed_clients");
    if config.dns.allowed_clients.is_empty() {
        config.dns.disallowed_clients = nets(r, "dns.disallowed_clients");
    }
    let protection = if r.schema >= 26 {
        r.bool("filtering.protection_enabled")
    } else {
        r.bool("dns.protection_enabled")
    };
    config.dns.protection_enabled = protection.unwrap_or(true);
}

fn query_log(r: &mut Reader<'_>, config: &mut Config) {
    let q = &mut config.query_log;
    if let Some(on) = r.bool("querylog.enabled") {
        q.enabled = on;
    }
    if let Some(on) = r.bool("querylog.file_enabled") {
        q.files = on;
    }
    if let Some(t) = r.str("querylog.interval").and_then(duration) {
        q.retention = t;
    }
    if let Some(on) = r.bool("dns.anonymize_client_ip") {
        q.anonymize_clients = on;
    }
    let ignored_on = r.bool("querylog.ignored_enabled").unwrap_or(true);
    if ignored_on {
        for rule in r.strings("querylog.ignored") {
            let name = rule
                .trim_start_matches("||")
                .trim_start_matches('|')
                .trim_end_matches('^');
            if name.is_empty()
                || name == "."
                || name.contains(['/', '$', '*']) && !name.starts_with("*.")
            {
                r.report(
                    "querylog.ignored",
                    &rule,
                    "Ward ignores names and *.suffixes only",
                );
                continue;
            }
            q.ignore.push(name.to_owned());
            if rule.starts_with("||") {
                q.ignore.push(format!("*.{name}"));
            }
        }
    }
    if r.bool("statistics.enabled") == Some(false) {
        r.report("statistics.enabled", false, "Ward keeps statistics always");
    }
}

/// A Ward name from a display name.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches(['-', '.']).to_owned();
    out.chars().take(60).collect()
}

fn unique(base: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut name = base.to_owned();
    let mut n = 2;
    while taken(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

fn lists_and_rules(r: &mut Reader<'_>, config: &mut Config) {
    let mut used = Vec::new();
    // Block lists, then allowlists (`whitelist_filters`): both are lists the default
    // policy uses, told apart by `allow`.
    for (key, allow) in [("filters", false), ("whitelist_filters", true)] {
        for f in r.at(key).and_then(Value::as_sequence).into_iter().flatten() {
            let url = f.get("url").and_then(Value::as_str).unwrap_or_default();
            let name = f.get("name").and_then(Value::as_str).unwrap_or_default();
            let enabled = f.get("enabled").and_then(Value::as_bool).unwrap_or(true);
            let agh_id = f.get("id").and_then(Value::as_u64).unwrap_or(0);
            let catalogue = crate::catalogue::entries()
                .iter()
                .find(|e| !allow && e.url == url);
            let base = match catalogue {
                Some(e) => e.id.clone(),
                None if !slug(name).is_empty() => slug(name),
                None => format!("agh-{agh_id}"),
            };
            let id = unique(&base, |n| config.lists.iter().any(|l| l.id == n));
            let path = url.starts_with('/');
            if !path && !url.starts_with("http://") && !url.starts_with("https://") {
                r.report(key, url, "not an http(s) URL or an absolute path");
                continue;
            }
            config.lists.push(ListSource {
                id: id.clone(),
                path: path.then(|| url.into()),
                url: (!path && catalogue.is_none()).then(|| url.to_owned()),
                catalogue: catalogue.map(|e| e.id.clone()),
                refresh: None,
                enabled,
                allow,
            });
            used.push(id);
        }
    }
    if let Some(h) = r
        .u64(&r.filtering("filters_update_interval"))
        .filter(|h| *h != 24 && *h != 0)
    {
        for l in config.lists.iter_mut().filter(|l| l.path.is_none()) {
            l.refresh = Some(std::time::Duration::from_secs(h * 3600));
        }
    }
    let mut rules = r.strings("user_rules");
    rules.extend(
        r.strings("dns.blocked_hosts")
            .into_iter()
            .filter(|h| !["version.bind", "id.server", "hostname.bind"].contains(&h.as_str())),
    );
    config.dns.filtering_enabled = r.bool(&r.filtering("filtering_enabled")).unwrap_or(true);
    let policy = config.policies.entry("default".into()).or_default();
    policy.lists = used;
    policy.rules = rules;
}

fn rewrites(r: &mut Reader<'_>, config: &mut Config) {
    let ttl = config.dns.blocked_ttl;
    for rw in r
        .at(&r.filtering("rewrites"))
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let domain = rw.get("domain").and_then(Value::as_str).unwrap_or_default();
        let answer = rw.get("answer").and_then(Value::as_str).unwrap_or_default();
        if rw.get("enabled").and_then(Value::as_bool) == Some(false) {
            r.report(
                "filtering.rewrites",
                domain,
                "a disabled rewrite is not kept",
            );
            continue;
        }
        let rtype = match answer.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => RecordKind::A,
            Ok(IpAddr::V6(_)) => RecordKind::Aaaa,
            Err(_) if answer == "A" || answer == "AAAA" => {
                r.report(
                    "filtering.rewrites",
                    format!("{domain} {answer}"),
                    "the upstream's-answer exception is not supported",
                );
                continue;
            }
            Err(_) => RecordKind::Cname,
        };
        config.records.push(LocalRecord {
            name: domain.to_ascii_lowercase(),
            rtype,
            value: answer.trim_end_matches('.').to_owned(),
            ttl,
            managed_by: None,
        });
    }
}

/// Ward's safe search of an AdGuard Home safe-search map, or of the `safesearch_enabled`
/// of older schemas (every provider). YouTube is moderate, as AdGuard Home enforces it.
fn safe_search(v: Option<&Value>, enabled_bool: Option<bool>) -> Option<SafeSearch> {
    let on: Vec<&str> = match v {
        Some(map) if map.get("enabled").and_then(Value::as_bool) == Some(true) => ADGUARD_PROVIDERS
            .into_iter()
            .filter(|p| map.get(*p).and_then(Value::as_bool).unwrap_or(true))
            .collect(),
        None if enabled_bool == Some(true) => ADGUARD_PROVIDERS.to_vec(),
        _ => Vec::new(),
    };
    let level = |p: &str| {
        if p == "youtube" {
            SafeSearchLevel::Moderate
        } else {
            SafeSearchLevel::Strict
        }
    };
    (!on.is_empty())
        .then(|| SafeSearch::Providers(on.into_iter().map(|p| (p.to_owned(), level(p))).collect()))
}

/// Adds the catalogue list `entry` to `config` (once) and returns its id.
fn catalogue_list(config: &mut Config, entry: &str) -> String {
    if let Some(l) = config
        .lists
        .iter()
        .find(|l| l.catalogue.as_deref() == Some(entry))
    {
        return l.id.clone();
    }
    config.lists.push(ListSource {
        id: entry.to_owned(),
        path: None,
        url: None,
        catalogue: Some(entry.to_owned()),
        refresh: None,
        enabled: true,
        allow: false,
    });
    entry.to_owned()
}

/// Blocked services and their pause schedule (AdGuard Home pauses the blocking while its
/// schedule is open: Ward's `allow_services` windows).
fn services(r: &mut Reader<'_>, v: Option<&Value>, policy: &str) -> (Vec<String>, Vec<Schedule>) {
    let (ids, schedule) = match v {
        Some(Value::Sequence(_)) => (
            v.and_then(Value::as_sequence)
                .map(|s| {
                    s.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            None,
        ),
        Some(map) => (
            map.get("ids")
                .and_then(Value::as_sequence)
                .map(|s| {
                    s.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            map.get("schedule"),
        ),
        None => (Vec::new(), None),
    };
    let mut known = Vec::new();
    for id in ids {
        if crate::services::get(&id).is_some() {
            known.push(id);
        } else {
            r.report(
                "blocked_services",
                &id,
                "a service Ward's catalogue does not have",
            );
        }
    }
    let schedules = match schedule {
        Some(s) if !known.is_empty() => pause_windows(s, policy, &known),
        _ => Vec::new(),
    };
    (known, schedules)
}

/// AdGuard Home's pause schedule of blocked services (`{time_zone, mon: {start, end}, ...}`,
/// ms from midnight) as Ward windows that let `ids` through: one per distinct range, its
/// days grouped, named `<policy>-pause-<n>`. (AdGuard Home blocks the services except while
/// its schedule is open.)
pub fn pause_windows(schedule: &Value, policy: &str, ids: &[String]) -> Vec<Schedule> {
    let s = schedule;
    let known = ids.to_vec();
    let mut schedules: Vec<Schedule> = Vec::new();
    {
        let zone: Option<Zone> = s
            .get("time_zone")
            .and_then(Value::as_str)
            .filter(|z| *z != "Local" && !z.is_empty())
            .and_then(|z| z.parse().ok());
        let mut ranges: Vec<((String, String), Vec<&str>)> = Vec::new();
        for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
            let Some(d) = s.get(day) else { continue };
            let ms = |k: &str| -> Option<u64> {
                d.get(k).and_then(|v| {
                    v.as_u64()
                        .or_else(|| v.as_f64().map(|f| f as u64))
                        .or_else(|| v.as_str().and_then(duration).map(|t| t.as_millis() as u64))
                })
            };
            let (Some(start), Some(end)) = (ms("start"), ms("end")) else {
                continue;
            };
            let hm = |ms: u64| format!("{:02}:{:02}", ms / 3_600_000, ms / 60_000 % 60);
            let key = (hm(start), hm(end));
            match ranges.iter_mut().find(|(k, _)| *k == key) {
                Some((_, days)) => days.push(day),
                None => ranges.push((key, vec![day])),
            }
        }
        for (i, ((from, to), days)) in ranges.into_iter().enumerate() {
            let (Ok(days), Ok(from), Ok(to)) = (
                days.join(",").parse::<Days>(),
                from.parse::<TimeOfDay>(),
                to.parse::<TimeOfDay>(),
            ) else {
                continue;
            };
            schedules.push(Schedule {
                name: Some(format!("{policy}-pause-{}", i + 1)),
                days,
                from,
                to,
                time_zone: zone.clone(),
                block_all: false,
                block_services: Vec::new(),
                allow_services: known.clone(),
                block_lists: Vec::new(),
                pause_lists: Vec::new(),
            });
        }
    }
    schedules
}

/// Ward windows that [`pause_windows`] made, back as AdGuard Home's schedule: the range of
/// each day, and the zone (`Local` without one).
pub fn pause_schedule(windows: &[&Schedule]) -> serde_norway::Mapping {
    let mut out = serde_norway::Mapping::new();
    let zone = windows
        .iter()
        .find_map(|w| w.time_zone.as_ref().map(|z| z.name().to_owned()))
        .unwrap_or_else(|| "Local".to_owned());
    out.insert("time_zone".into(), zone.into());
    for w in windows {
        for day in ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] {
            let Ok(one) = day.parse::<Days>() else {
                continue;
            };
            if w.days.includes(one) {
                let ms = |t: TimeOfDay| u64::from(t.minutes()) * 60_000;
                let mut range = serde_norway::Mapping::new();
                range.insert("start".into(), ms(w.from).into());
                range.insert("end".into(), ms(w.to).into());
                out.insert(day.into(), Value::Mapping(range));
            }
        }
    }
    out
}

fn parental(r: &mut Reader<'_>, config: &mut Config) {
    let safe = if r.schema >= 18 {
        safe_search(r.at(&r.filtering("safe_search")), None)
    } else {
        safe_search(None, r.bool("dns.safesearch_enabled"))
    };
    let mut lists = Vec::new();
    if r.bool(&r.filtering("parental_enabled")) == Some(true) {
        lists.push(catalogue_list(config, "hagezi-nsfw"));
    }
    if r.bool(&r.filtering("safebrowsing_enabled")) == Some(true) {
        lists.push(catalogue_list(config, "urlhaus"));
    }
    let v = r.at(&r.filtering("blocked_services"));
    let (blocked, schedules) = services(r, v, "default");
    let policy = config.policies.entry("default".into()).or_default();
    policy.safe_search = safe;
    policy.lists.extend(lists);
    policy.blocked_services = blocked;
    policy.schedules = schedules;
}

fn clients(r: &mut Reader<'_>, config: &mut Config) {
    let list = if r.schema >= 14 {
        r.at("clients.persistent")
    } else {
        r.at("clients")
    };
    for c in list.and_then(Value::as_sequence).into_iter().flatten() {
        let name = c
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let tags: Vec<String> = c
            .get("tags")
            .and_then(Value::as_sequence)
            .map(|s| {
                s.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let tags: Vec<String> = tags
            .into_iter()
            .filter(|t| crate::CLIENT_TAGS.contains(&t.as_str()))
            .collect();
        let mut subnets = Vec::new();
        let mut client_ids = Vec::new();
        for id in c
            .get("ids")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            match ClientIdentifier::of(id) {
                ClientIdentifier::Subnet(n) => {
                    subnets.push(crate::IpNetwork::new(n.network(), n.prefix()).unwrap_or(n));
                }
                ClientIdentifier::ClientId(id) => {
                    if config.clients.iter().any(|x| x.client_ids.contains(&id)) {
                        r.report(
                            "clients.persistent",
                            format!("{name} {id}"),
                            "another client has it",
                        );
                    } else {
                        client_ids.push(id);
                    }
                }
                ClientIdentifier::Other => r.report(
                    "clients.persistent",
                    format!("{name} {id}"),
                    "a MAC address: Ward knows clients by address, subnet or ClientID",
                ),
            }
        }
        if subnets.is_empty() && client_ids.is_empty() {
            r.report(
                "clients.persistent",
                &name,
                "no address, subnet or ClientID: not imported",
            );
            continue;
        }
        let upstream = client_upstream(r, config, c, &name);
        let policy = file_client_policy(r, config, c, &name, upstream);
        // Each subnet once: another client's, or this one's written twice, is reported.
        let mut kept = Vec::new();
        subnets.retain(|subnet| {
            let taken =
                kept.contains(subnet) || config.clients.iter().any(|x| x.subnet == Some(*subnet));
            kept.push(*subnet);
            if taken {
                r.report(
                    "clients.persistent",
                    format!("{name} {subnet}"),
                    "another client has it",
                );
            }
            !taken
        });
        let like = ClientRule {
            subnet: None,
            client_ids: Vec::new(),
            policy,
            name: (!name.is_empty()).then(|| name.clone()),
            tags,
        };
        config
            .clients
            .extend(client_rules(subnets, client_ids, &like));
    }
}

/// What one of an AdGuard Home client's `ids` is, as Ward can know a client by it.
pub enum ClientIdentifier {
    /// An address or a subnet, as written.
    Subnet(crate::IpNetwork),
    /// A ClientID, lowercase.
    ClientId(String),
    /// Neither: a MAC address, or a name that cannot be a ClientID.
    Other,
}

impl ClientIdentifier {
    /// What `id` (trimmed) is.
    pub fn of(id: &str) -> ClientIdentifier {
        let id = id.trim();
        if let Ok(net) = id.parse() {
            return ClientIdentifier::Subnet(net);
        }
        let lower = id.to_ascii_lowercase();
        match crate::name::check_client_id(&lower) {
            Ok(()) => ClientIdentifier::ClientId(lower),
            Err(_) => ClientIdentifier::Other,
        }
    }
}

/// The rules of one client, each `like` but for its subnet and ClientIDs: one per subnet,
/// its ClientIDs with the first, or in a rule of their own when it has no subnet.
pub fn client_rules(
    subnets: Vec<crate::IpNetwork>,
    mut client_ids: Vec<String>,
    like: &ClientRule,
) -> Vec<ClientRule> {
    let rule = |subnet, client_ids| ClientRule {
        subnet,
        client_ids,
        ..like.clone()
    };
    let mut rules = Vec::new();
    for subnet in subnets {
        rules.push(rule(Some(subnet), std::mem::take(&mut client_ids)));
    }
    if !client_ids.is_empty() {
        rules.push(rule(None, client_ids));
    }
    rules
}

/// A persistent client's own upstreams (plain server lines) as a group of their own, by
/// the group's name.
fn client_upstream(
    r: &mut Reader<'_>,
    config: &mut Config,
    c: &Value,
    name: &str,
) -> Option<String> {
    let lines: Vec<String> = c
        .get("upstreams")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut servers = Vec::new();
    for line in &lines {
        if line.starts_with("[/") {
            r.report(
                "clients.persistent",
                format!("{name} {line}"),
                "a client's [/domain/] upstream: Ward's forward zones are every client's",
            );
            continue;
        }
        match server(line) {
            Ok(s) => servers.push(s),
            Err(why) => r.report("clients.persistent", format!("{name} {line}"), why),
        }
    }
    (!servers.is_empty()).then(|| client_upstream_group(config, name, servers))
}

/// The upstream group of a client's own upstreams: one with the same servers, else a new
/// `client-<name>` with the default group's strategy.
pub fn client_upstream_group(
    config: &mut Config,
    name: &str,
    servers: Vec<UpstreamServer>,
) -> String {
    if let Some((group, _)) = config.upstreams.iter().find(|(_, g)| g.servers == servers) {
        return group.clone();
    }
    let strategy = config
        .upstreams
        .get("default")
        .map_or(crate::Strategy::Parallel, |g| g.strategy);
    let group = unique(&slug(&format!("client-{name}")), |n| {
        config.upstreams.contains_key(n)
    });
    config
        .upstreams
        .insert(group.clone(), UpstreamGroupConfig { servers, strategy });
    group
}

/// The policy of a persistent client read from the file ([`client_policy`]), reporting
/// what differs.
fn file_client_policy(
    r: &mut Reader<'_>,
    config: &mut Config,
    c: &Value,
    name: &str,
    upstream: Option<String>,
) -> String {
    let flag = |key: &str| c.get(key).and_then(Value::as_bool);
    let global = flag("use_global_settings").unwrap_or(true);
    let global_services = flag("use_global_blocked_services").unwrap_or(true);
    let safe_search = if r.schema >= 19 {
        safe_search(c.get("safe_search"), None)
    } else {
        safe_search(None, flag("safesearch_enabled"))
    };
    let (blocked_services, pause) = if global_services {
        (Vec::new(), None)
    } else {
        // Named for the policy in `client_policy`: parsed here for the report.
        let (ids, _) = services(r, c.get("blocked_services"), "");
        let pause = c
            .get("blocked_services")
            .and_then(|b| b.get("schedule"))
            .cloned();
        (ids, pause)
    };
    let settings = ClientSettings {
        use_global_settings: global,
        filtering_enabled: flag("filtering_enabled").unwrap_or(false),
        parental_enabled: flag("parental_enabled").unwrap_or(false),
        safebrowsing_enabled: flag("safebrowsing_enabled").unwrap_or(false),
        safe_search: safe_search.unwrap_or(SafeSearch::All(false)),
        use_global_blocked_services: global_services,
        blocked_services,
        pause,
        upstream,
    };
    let made = client_policy(config, name, &settings);
    if made.filters_while_off {
        r.report(
            "clients.persistent",
            name,
            "filters while filtering is off globally: Ward's switch (dns.filtering_enabled) \
             is every policy's, so it does not filter either",
        );
    }
    if made.copies_rules {
        r.report(
            "clients.persistent",
            name,
            "turns off a global setting, so its policy has its own copy of the user rules \
             (later changes to the global ones do not reach it)",
        );
    }
    made.name
}

/// A persistent client's settings as AdGuard Home keeps them: in its config file, and in
/// the bodies of `/control/clients/add` and `/control/clients/update`.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Off: the next four apply.
    pub use_global_settings: bool,
    /// Its lists and user rules.
    pub filtering_enabled: bool,
    /// The catalogue's `hagezi-nsfw`.
    pub parental_enabled: bool,
    /// The catalogue's `urlhaus`.
    pub safebrowsing_enabled: bool,
    /// Its safe search.
    pub safe_search: SafeSearch,
    /// Off: the next two apply, instead of the global ones.
    pub use_global_blocked_services: bool,
    /// Its blocked services (ids Ward's catalogue has).
    pub blocked_services: Vec<String>,
    /// Their pause schedule, in AdGuard Home's shape ([`pause_windows`]).
    pub pause: Option<Value>,
    /// The upstream group of its own upstreams.
    pub upstream: Option<String>,
}

/// What [`client_policy`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPolicy {
    /// The policy for the client's rules: the default one, or one of its own.
    pub name: String,
    /// Its own policy holds a copy of the default policy's custom rules.
    pub copies_rules: bool,
    /// It filters where filtering is off globally (`dns.filtering_enabled`), which Ward
    /// applies to every policy.
    pub filters_while_off: bool,
}

/// The policy of a persistent client named `name`: the default one when it uses the
/// global settings, the global blocked services and no upstreams of its own; else a new
/// `client-<name>`, which extends the default policy when the client only adds to it, and
/// is built on its own when it turns off something the default policy has on (Ward's
/// policies inherit by adding: a child cannot drop its parent's lists or services).
pub fn client_policy(config: &mut Config, name: &str, s: &ClientSettings) -> ClientPolicy {
    let mut made = ClientPolicy {
        name: config.default_policy.clone(),
        copies_rules: false,
        filters_while_off: false,
    };
    if s.use_global_settings && s.use_global_blocked_services && s.upstream.is_none() {
        return made;
    }
    let Some(default) = config.policies.get(&config.default_policy).cloned() else {
        return made;
    };
    let catalogue_ids = |entry: &str| -> Vec<String> {
        config
            .lists
            .iter()
            .filter(|l| l.catalogue.as_deref() == Some(entry))
            .map(|l| l.id.clone())
            .collect()
    };
    let (nsfw, urlhaus) = (catalogue_ids("hagezi-nsfw"), catalogue_ids("urlhaus"));
    let has = |ids: &[String]| default.lists.iter().any(|l| ids.contains(l));
    let (g_filter, g_parental, g_safe) = (config.dns.filtering_enabled, has(&nsfw), has(&urlhaus));
    let (filter, parental, safe) = if s.use_global_settings {
        (g_filter, g_parental, g_safe)
    } else {
        (
            s.filtering_enabled,
            s.parental_enabled,
            s.safebrowsing_enabled,
        )
    };
    made.filters_while_off = filter && !g_filter && !s.use_global_settings;
    let g_services = !default.blocked_services.is_empty() || !default.schedules.is_empty();
    let additive = (filter || !g_filter)
        && (parental || !g_parental)
        && (safe || !g_safe)
        && (s.use_global_blocked_services || !g_services);
    let pname = unique(&slug(&format!("client-{name}")), |n| {
        config.policies.contains_key(n)
    });
    let mut p = PolicyConfig {
        upstream: s.upstream.clone(),
        ..Default::default()
    };
    if additive {
        p.extends = Some(config.default_policy.clone());
    } else {
        // On its own: the filter lists and a copy of the user rules when it filters, the
        // parental and safe-browsing lists by its own switches.
        if filter {
            p.lists = default
                .lists
                .iter()
                .filter(|l| !nsfw.contains(l) && !urlhaus.contains(l))
                .cloned()
                .collect();
            p.rules = default.rules.clone();
            made.copies_rules = !p.rules.is_empty();
        }
        p.safe_search = default.safe_search.clone();
        if s.use_global_blocked_services {
            p.blocked_services = default.blocked_services.clone();
            let prefix = format!("{}-pause-", config.default_policy);
            p.schedules = default.schedules.clone();
            for w in &mut p.schedules {
                if let Some(n) = w.name.as_deref().and_then(|n| n.strip_prefix(&prefix)) {
                    w.name = Some(format!("{pname}-pause-{n}"));
                }
            }
        }
    }
    if !s.use_global_settings {
        p.safe_search = Some(s.safe_search.clone());
        if parental && !(additive && g_parental) {
            p.lists.push(catalogue_list(config, "hagezi-nsfw"));
        }
        if safe && !(additive && g_safe) {
            p.lists.push(catalogue_list(config, "urlhaus"));
        }
    }
    if !s.use_global_blocked_services {
        p.blocked_services = s.blocked_services.clone();
        p.schedules = match &s.pause {
            Some(pause) if !s.blocked_services.is_empty() => {
                pause_windows(pause, &pname, &s.blocked_services)
            }
            _ => Vec::new(),
        };
    }
    config.policies.insert(pname.clone(), p);
    made.name = pname;
    made
}

#[cfg(test)]
mod tests {
    use super::reverse_zones;

    fn zones(net: &str) -> Vec<String> {
        reverse_zones(net.parse().unwrap())
    }

    #[test]
    fn reverse_zones_follow_octets_and_nibbles() {
        assert_eq!(zones("10.0.0.0/8"), ["10.in-addr.arpa"]);
        assert_eq!(zones("192.168.0.0/16"), ["168.192.in-addr.arpa"]);
        let twelve = zones("172.16.0.0/12");
        assert_eq!(twelve.len(), 16);
        assert_eq!(twelve[0], "16.172.in-addr.arpa");
        assert_eq!(twelve[15], "31.172.in-addr.arpa");
        assert_eq!(zones("192.168.1.7/32"), ["7.1.168.192.in-addr.arpa"]);
        assert_eq!(zones("fd00::/8"), ["d.f.ip6.arpa"]);
        assert_eq!(zones("fc00::/7"), ["c.f.ip6.arpa", "d.f.ip6.arpa"]);
        assert_eq!(zones("2001:db8::/32"), ["8.b.d.0.1.0.0.2.ip6.arpa"]);
        assert_eq!(zones("fe80::/10").len(), 4);
        assert_eq!(zones("10.0.0.0/7"), ["10.in-addr.arpa", "11.in-addr.arpa"]);
        assert_eq!(
            zones("0.0.0.0/1").len(),
            128,
            "at most 128: one octet's spread"
        );
    }
}
