//! The typed configuration: the YAML shape of `docs/configuration.md`, one struct per section.
//!
//! Every struct denies unknown fields, so a misspelt key is an error instead of a silently
//! ignored setting, and every default is a named function, so the documentation and the code
//! name the same thing.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

use crate::window::{Days, TimeOfDay, Window, Zone};
use crate::{duration, name, size, upstream::UpstreamServer};

/// A whole Ward configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The DNS listeners and how blocked names are answered.
    #[serde(default)]
    pub dns: DnsConfig,
    /// The admin API and web UI listener.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Named groups of upstream resolvers; a policy or a forward rule names one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub upstreams: BTreeMap<String, UpstreamGroupConfig>,
    /// Conditional forwarding: zones answered by a given upstream group (most specific wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward: Vec<ForwardRule>,
    /// Local answers; a wildcard name is the fallback, specific names override it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<LocalRecord>,
    /// Filter lists, each from a file or a URL; policies name them by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<ListSource>,
    /// Named filtering policies.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, PolicyConfig>,
    /// Which subnet gets which policy; the longest matching prefix wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientRule>,
    /// The policy of clients that no `clients` rule matches; must name a policy.
    pub default_policy: String,
    /// The cache of upstream answers.
    #[serde(default)]
    pub cache: CacheConfig,
    /// Where downloaded lists and state are kept; unset means `/var/lib/ward` if writable,
    /// else `./data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Primary/replica replication of the filtering config; unset means a standalone node.
    #[serde(default, skip_serializing_if = "SyncConfig::is_standalone_default")]
    pub sync: SyncConfig,
    /// The query log: what was asked, by whom, and what Ward answered.
    #[serde(default, skip_serializing_if = "QueryLogConfig::is_default")]
    pub query_log: QueryLogConfig,
    /// The directories `path` lists may be read from (AdGuard Home's
    /// `filtering.safe_fs_patterns`); empty means the config file's directory and
    /// `<data_dir>/lists`. A list file elsewhere, or one that is not a regular file, is that
    /// list's error, and the API refuses to add it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list_dirs: Vec<PathBuf>,
    /// external-dns's webhook provider: the local records it manages (off unless
    /// `external_dns.listen` is set; node-local).
    #[serde(default, skip_serializing_if = "ExternalDnsConfig::is_off")]
    pub external_dns: ExternalDnsConfig,
    /// The IANA time zone of schedules that name none (`Europe/Berlin`); unset means the
    /// system's (the `TZ` variable, `/etc/localtime`), else UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<Zone>,
}

/// HAProxy's PROXY protocol (v1 and v2) on DNS over TCP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyProtocolConfig {
    /// The sources (load balancers, an Envoy Gateway) whose PROXY headers are taken: the
    /// client address a header carries is the one policies, the rate limit, `$client`
    /// and the log see. A header from any other source closes the connection. Empty: off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted: Vec<IpNetwork>,
}

impl ProxyProtocolConfig {
    fn is_off(&self) -> bool {
        self.trusted.is_empty()
    }
}

/// Encrypted DNS for clients: DNS over TLS (RFC 7858) and DNS over HTTPS (RFC 8484), from
/// one certificate and key (a Kubernetes TLS Secret mounted as files; the files are read
/// again when they change, so a renewal needs no restart).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM, the server's own certificate first (`tls.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// Its private key, PEM: PKCS#8, PKCS#1 or SEC1 (`tls.key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// The name clients reach Ward by (`dns.home.example.com`). A DoT client that asks
    /// for a name one label below it (`kids-phone.dns.home.example.com`) names its
    /// ClientID by that label, as AdGuard Home's `server_name` does.
    #[serde(
        default,
        deserialize_with = "name::deserialize_optional_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_name: Option<String>,
    /// Addresses to serve DNS over TLS on (port 853).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dot: Vec<SocketAddr>,
    /// Addresses to serve DNS over HTTPS on (`/dns-query`, port 443), HTTP/1.1 and HTTP/2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doh: Vec<SocketAddr>,
}

impl TlsConfig {
    fn is_off(&self) -> bool {
        *self == TlsConfig::default()
    }

    /// Whether any encrypted listener is asked for.
    pub fn serves(&self) -> bool {
        !self.dot.is_empty() || !self.doh.is_empty()
    }
}

/// external-dns's webhook provider (its API: `api/webhook.yaml` in kubernetes-sigs/external-dns):
/// external-dns creates, updates and deletes local records through it, marked
/// `managed_by: external-dns`. It calls without credentials, so the listener is its own
/// port, which a NetworkPolicy can keep to external-dns, behind an optional secret path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalDnsConfig {
    /// Where the webhook is served (external-dns's default is `localhost:8888`); unset:
    /// off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// The domain filter external-dns is given at negotiation: names it may manage (a
    /// domain and the names below it). Empty: any name.
    #[serde(
        default,
        deserialize_with = "name::deserialize_names",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub domains: Vec<String>,
    /// A path every call must start with (`/6f1c...`), a shared secret for a listener
    /// other pods can reach: external-dns's `--webhook-provider-url` ends with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
}

impl ExternalDnsConfig {
    fn is_off(&self) -> bool {
        *self == ExternalDnsConfig::default()
    }
}

/// The query log (each node logs its own queries: a node-local setting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryLogConfig {
    /// Whether queries are logged at all.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Entries kept in memory for `GET /api/v1/querylog` (about 260 bytes each).
    #[serde(default = "default_query_log_memory")]
    pub memory_entries: usize,
    /// Whether the log is also written to JSON-lines files in `<data_dir>/querylog/`.
    #[serde(default = "default_true")]
    pub files: bool,
    /// How long rotated files are kept.
    #[serde(default = "default_query_log_retention", with = "duration")]
    pub retention: Duration,
    /// Client addresses logged without their last octet (IPv4) or last 80 bits (IPv6).
    #[serde(default)]
    pub anonymize_clients: bool,
    /// Names never logged: exact names or `*.suffix`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Answered queries waiting for the recorder thread (which feeds the log, the
    /// statistics and the query metrics); beyond this they are dropped and counted, never
    /// waited for.
    #[serde(default = "default_query_log_queue")]
    pub queue: usize,
    /// The most disk the files may take together (`512MiB`, `1GiB`, or bytes): past it the
    /// oldest rotated files are deleted, whatever their age.
    #[serde(
        default = "default_query_log_max_disk",
        with = "size",
        skip_serializing_if = "is_default_query_log_max_disk"
    )]
    pub max_disk: u64,
}

/// The default most disk the query log files take together: 1 GiB, a day of a busy home
/// network's queries several times over.
pub fn default_query_log_max_disk() -> u64 {
    1 << 30
}

fn is_default_query_log_max_disk(bytes: &u64) -> bool {
    *bytes == default_query_log_max_disk()
}

/// The default room for answered queries waiting to be recorded: the recorder takes them
/// every 25 ms, so room for 650,000 queries a second.
pub fn default_query_log_queue() -> usize {
    16_384
}

fn default_true() -> bool {
    true
}

/// The default number of query log entries held in memory.
pub fn default_query_log_memory() -> usize {
    100_000
}

/// The default retention of query log files.
pub fn default_query_log_retention() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl Default for QueryLogConfig {
    fn default() -> Self {
        QueryLogConfig {
            enabled: true,
            memory_entries: default_query_log_memory(),
            files: true,
            retention: default_query_log_retention(),
            anonymize_clients: false,
            ignore: Vec::new(),
            queue: default_query_log_queue(),
            max_disk: default_query_log_max_disk(),
        }
    }
}

impl QueryLogConfig {
    fn is_default(&self) -> bool {
        *self == QueryLogConfig::default()
    }
}

/// The DNS listeners and how blocked names are answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// Addresses to serve DNS on; each serves both UDP and TCP.
    #[serde(default = "default_dns_listen")]
    pub listen: Vec<SocketAddr>,
    /// How a blocked name is answered, unless the client's policy says otherwise.
    #[serde(default = "default_blocking_mode")]
    pub blocking_mode: BlockingMode,
    /// The A answer of a blocked name in `custom_ip` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocking_ipv4: Option<Ipv4Addr>,
    /// The AAAA answer of a blocked name in `custom_ip` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocking_ipv6: Option<Ipv6Addr>,
    /// TTL, in seconds, of blocking answers.
    #[serde(default = "default_blocked_ttl")]
    pub blocked_ttl: u32,
    /// How long to wait for an upstream answer before the group's strategy gives up on it.
    #[serde(default = "default_upstream_timeout", with = "duration")]
    pub upstream_timeout: Duration,
    /// Limits of DNS over TCP: connections, queries in flight, timeouts (node-local,
    /// applied at the next start, like `listen`).
    #[serde(default, skip_serializing_if = "TcpConfig::is_default")]
    pub tcp: TcpConfig,
    /// The PROXY protocol on TCP (node-local, applied at the next start): the load
    /// balancers whose headers say whose connection they pass on.
    #[serde(default, skip_serializing_if = "ProxyProtocolConfig::is_off")]
    pub proxy_protocol: ProxyProtocolConfig,
    /// DNS over TLS and over HTTPS (node-local, applied at the next start; the
    /// certificate files are read again whenever they change).
    #[serde(default, skip_serializing_if = "TlsConfig::is_off")]
    pub tls: TlsConfig,
    /// Queries a second that one client prefix may send over UDP (AdGuard Home's
    /// `ratelimit`); what goes beyond is dropped and counted. 0 turns the limit off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ratelimit: u32,
    /// The prefix length of IPv4 clients that share one rate-limit budget (32: each
    /// address its own).
    #[serde(
        default = "default_ratelimit_subnet_len_ipv4",
        skip_serializing_if = "is_default_ratelimit_subnet_len_ipv4"
    )]
    pub ratelimit_subnet_len_ipv4: u8,
    /// The prefix length of IPv6 clients that share one rate-limit budget (64: a host's
    /// privacy addresses share one).
    #[serde(
        default = "default_ratelimit_subnet_len_ipv6",
        skip_serializing_if = "is_default_ratelimit_subnet_len_ipv6"
    )]
    pub ratelimit_subnet_len_ipv6: u8,
    /// Addresses and subnets that the rate limit never applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ratelimit_whitelist: Vec<IpNetwork>,
    /// Answer `ANY` queries with the short answer RFC 8482 allows (one HINFO record,
    /// "RFC8482") instead of forwarding them: an `ANY` answer is an amplifier's best tool.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub refuse_any: bool,
    /// Filtering at all (AdGuard Home's protection): off, every policy answers as if it
    /// had no lists, rules, services, safe search or schedules; local records and
    /// conditional forwarding stay.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub protection_enabled: bool,
    /// The lists and custom rules of every policy (AdGuard Home's filtering switch): off,
    /// they are not applied; blocked services, safe search and schedules still are.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub filtering_enabled: bool,
    /// With protection off, when it turns back on by itself (RFC 3339; AdGuard Home's
    /// pause); unset, it stays off until turned on.
    #[serde(
        default,
        with = "crate::window::instant",
        skip_serializing_if = "Option::is_none"
    )]
    pub protection_disabled_until: Option<crate::window::Timestamp>,
    /// If not empty, only these addresses and subnets are answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_clients: Vec<IpNetwork>,
    /// Addresses and subnets never answered: their UDP queries are dropped, their TCP
    /// queries REFUSED (as AdGuard Home does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disallowed_clients: Vec<IpNetwork>,
}

/// Limits of DNS over TCP (RFC 7766 leaves them to the server). Together they bound what
/// TCP clients can make Ward hold: at most `max_connections` connections, each with at
/// most `max_queries_in_flight` queries read and not yet answered (reading pauses there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpConfig {
    /// Open connections at most; a connection beyond is closed at once.
    #[serde(default = "default_tcp_max_connections")]
    pub max_connections: usize,
    /// Open connections from one client address at most.
    #[serde(default = "default_tcp_max_connections_per_client")]
    pub max_connections_per_client: usize,
    /// Queries of one connection being answered or waiting to be written; reading the
    /// connection pauses while there are this many.
    #[serde(default = "default_tcp_max_queries_in_flight")]
    pub max_queries_in_flight: usize,
    /// A connection with no query in flight and none arriving for this long is closed.
    #[serde(default = "default_tcp_idle_timeout", with = "duration")]
    pub idle_timeout: Duration,
    /// A connection whose client does not take an answer within this long is closed.
    #[serde(default = "default_tcp_write_timeout", with = "duration")]
    pub write_timeout: Duration,
}

/// `dns.tcp.max_connections` when unset: 512.
pub fn default_tcp_max_connections() -> usize {
    512
}

/// `dns.tcp.max_connections_per_client` when unset: 32.
pub fn default_tcp_max_connections_per_client() -> usize {
    32
}

/// `dns.tcp.max_queries_in_flight` when unset: 16.
pub fn default_tcp_max_queries_in_flight() -> usize {
    16
}

/// `dns.tcp.idle_timeout` when unset: 10 seconds (RFC 7766 suggests seconds).
pub fn default_tcp_idle_timeout() -> Duration {
    Duration::from_secs(10)
}

/// `dns.tcp.write_timeout` when unset: 5 seconds.
pub fn default_tcp_write_timeout() -> Duration {
    Duration::from_secs(5)
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            max_connections: default_tcp_max_connections(),
            max_connections_per_client: default_tcp_max_connections_per_client(),
            max_queries_in_flight: default_tcp_max_queries_in_flight(),
            idle_timeout: default_tcp_idle_timeout(),
            write_timeout: default_tcp_write_timeout(),
        }
    }
}

impl TcpConfig {
    fn is_default(&self) -> bool {
        *self == TcpConfig::default()
    }
}

/// `dns.ratelimit_subnet_len_ipv4` when unset: 32.
pub fn default_ratelimit_subnet_len_ipv4() -> u8 {
    32
}

/// `dns.ratelimit_subnet_len_ipv6` when unset: 64.
pub fn default_ratelimit_subnet_len_ipv6() -> u8 {
    64
}

fn is_default_ratelimit_subnet_len_ipv4(len: &u8) -> bool {
    *len == default_ratelimit_subnet_len_ipv4()
}

fn is_default_ratelimit_subnet_len_ipv6(len: &u8) -> bool {
    *len == default_ratelimit_subnet_len_ipv6()
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_true(b: &bool) -> bool {
    *b
}

/// How a blocked name is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockingMode {
    /// `0.0.0.0` for A, `::` for AAAA, no data for other types (the default).
    NullIp,
    /// NXDOMAIN with an SOA record.
    Nxdomain,
    /// REFUSED.
    Refused,
    /// `dns.blocking_ipv4` for A, `dns.blocking_ipv6` for AAAA.
    CustomIp,
}

/// The admin API and web UI listener, and who may change the config through it.
///
/// Secrets are never in the config itself (it is kept in Git and ConfigMaps): the token and
/// the users are read from the files named here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of the admin HTTP server (API, UI, `/livez`, `/readyz`, `/metrics`).
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
    /// A file holding the Bearer token the API accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// A file of HTTP Basic users, one `name:password` per line (blank lines and `#`
    /// comments allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_file: Option<PathBuf>,
    /// GitOps mode: the API refuses every write, the config file is the only source.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Puts `/metrics` behind the API's credentials (it is open by default, for a
    /// Prometheus without a secret). Left out of the file when false, so a config that does
    /// not use it keeps its revision.
    #[serde(default, skip_serializing_if = "is_false")]
    pub metrics_auth: bool,
    /// Where the API's writes go: `config_file` (saved over the file), `data_dir` (a layer
    /// over a file Git owns: `<data_dir>/config-layer.json`), or `auto` (the file when Ward
    /// may write it, the layer when it is read-only, as a Kubernetes ConfigMap is).
    #[serde(default, skip_serializing_if = "WriteTo::is_auto")]
    pub write_to: WriteTo,
}

/// See [`AdminConfig::write_to`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteTo {
    /// The config file when it is writable, else the layer in `data_dir`.
    #[default]
    Auto,
    /// Saved over the config file.
    ConfigFile,
    /// A layer in `data_dir` over the config file, which stays as Git has it.
    DataDir,
}

impl WriteTo {
    fn is_auto(&self) -> bool {
        *self == WriteTo::Auto
    }
}

/// Primary/replica replication: a primary pushes its filtering config to its replicas, a
/// replica pulls it from the primary; node-local settings (`dns.listen`, `admin`, `sync`,
/// `data_dir`) are never replicated (see [`Config::filtering_eq`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// What this node is in replication.
    #[serde(default = "default_sync_role")]
    pub role: SyncRole,
    /// A primary's replicas, as `http(s)://host[:port]` base URLs; it pushes each new config
    /// to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<String>,
    /// A replica's primary, as an `http(s)://host[:port]` base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// A file holding the token shared by the primary and its replicas: the primary
    /// authenticates its pushes with it, a replica its pulls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// How often a replica pulls the primary's config (besides the primary's pushes).
    #[serde(default = "default_sync_interval", with = "duration")]
    pub interval: Duration,
}

/// What a node is in replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncRole {
    /// No replication (the default).
    Standalone,
    /// The node whose filtering config is replicated: changes are made here.
    Primary,
    /// A node that serves the primary's filtering config.
    Replica,
}

/// A named group of upstream resolvers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamGroupConfig {
    /// The resolvers, as strings: `8.8.8.8`, `tcp://1.1.1.1`, `tls://dns.quad9.net`,
    /// `https://dns.quad9.net/dns-query`.
    pub servers: Vec<UpstreamServer>,
    /// How queries are spread over the servers.
    #[serde(default = "default_strategy")]
    pub strategy: Strategy,
}

/// How an upstream group spreads a query over its servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Ask every server at once; the first good answer wins (the default).
    Parallel,
    /// Ask one server per query, taking turns.
    RoundRobin,
    /// Ask the first server; move down the list only when it fails.
    Failover,
}

/// Conditional forwarding: names in these zones go to this upstream group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardRule {
    /// Zones, normalised to lowercase ASCII (punycode) without the trailing dot.
    #[serde(deserialize_with = "name::deserialize_names")]
    pub zones: Vec<String>,
    /// The upstream group that answers them.
    pub upstream: String,
}

/// A local answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalRecord {
    /// The owner name, normalised like zones; `*.example.com` is a fallback for every name
    /// below `example.com` that has no record of its own.
    #[serde(deserialize_with = "name::deserialize_name")]
    pub name: String,
    /// The record type (YAML key `type`).
    #[serde(rename = "type")]
    pub rtype: RecordKind,
    /// The answer: an IPv4 address (A), an IPv6 address (AAAA), a host name (CNAME, PTR,
    /// NS), `preference host` (MX), `priority weight port target` (SRV) or any text (TXT).
    pub value: String,
    /// TTL of the answer, in seconds.
    #[serde(default = "default_record_ttl")]
    pub ttl: u32,
    /// Who keeps the record, when not the config's author: `external-dns` for those its
    /// webhook writes (it changes no other record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

/// The types of local records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordKind {
    /// IPv4 address.
    #[serde(alias = "a")]
    A,
    /// IPv6 address.
    #[serde(rename = "AAAA", alias = "aaaa")]
    Aaaa,
    /// Alias to another name.
    #[serde(rename = "CNAME", alias = "cname")]
    Cname,
    /// Text.
    #[serde(rename = "TXT", alias = "txt")]
    Txt,
    /// Reverse pointer.
    #[serde(rename = "PTR", alias = "ptr")]
    Ptr,
    /// Mail exchanger: `preference host` (`10 mail.example.com`).
    #[serde(rename = "MX", alias = "mx")]
    Mx,
    /// Service: `priority weight port target` (`10 5 5060 sip.example.com`).
    #[serde(rename = "SRV", alias = "srv")]
    Srv,
    /// Name server of a delegated zone: a host name.
    #[serde(rename = "NS", alias = "ns")]
    Ns,
}

/// A filter list: exactly one of `path`, `url` and `catalogue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSource {
    /// The name policies use for the list.
    pub id: String,
    /// A local file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// An `http://` or `https://` URL to download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A list of the catalogue (`blocklists/catalogue.yaml`) by its id: downloaded from the
    /// entry's URL, daily unless `refresh` says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<String>,
    /// How often to download or re-read the list (`24h`, `30m`); unset means never.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh: Option<Duration>,
    /// A disabled list is kept in the config but not loaded.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// An allowlist (AdGuard Home's `whitelist_filters`): a name any of its rules matches,
    /// blocking or not, is answered unfiltered by the policies that use it, whatever their
    /// other lists, rules and blocked services say.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow: bool,
}

impl ListSource {
    /// The URL the list is downloaded from: its own, or its catalogue entry's.
    pub fn download_url(&self) -> Option<&str> {
        self.url.as_deref().or_else(|| {
            self.catalogue
                .as_deref()
                .and_then(crate::catalogue::get)
                .map(crate::catalogue::CatalogueEntry::download_url)
        })
    }

    /// How often it is downloaded or read again: its `refresh`, else daily for a `url`
    /// or `catalogue` list, else never (a `path` list is read when it changes).
    pub fn refresh_every(&self) -> Option<Duration> {
        self.refresh.or_else(|| {
            (self.url.is_some() || self.catalogue.is_some())
                .then_some(crate::catalogue::DEFAULT_REFRESH)
        })
    }
}

/// A named filtering policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// A policy whose lists, rules, upstream and blocking mode this one inherits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// Ids of lists, added to the inherited ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<String>,
    /// Custom rules in AdGuard syntax, after the inherited ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// The upstream group; unset means the parent's, else the group named `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// Overrides `dns.blocking_mode` (and the parent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocking_mode: Option<BlockingMode>,
    /// Safe search: `true` for every provider (YouTube strict), or a map of the providers
    /// to enforce (`{ google: true, youtube: moderate }`); unset means the parent's, else
    /// off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_search: Option<SafeSearch>,
    /// Services to block (`tiktok`, `roblox`) or whole categories of them (`social`,
    /// `games`), from `blocklists/services/`; added to the inherited ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_services: Vec<String>,
    /// Weekly time windows that change the policy's blocking while they are open; after
    /// the inherited ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
}

/// A policy's safe search: every provider, or some.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SafeSearch {
    /// `true`: every provider, YouTube strict; `false`: none.
    All(bool),
    /// The providers named (by id: `google`, `youtube`, ...); the others are off.
    Providers(BTreeMap<String, SafeSearchLevel>),
}

impl SafeSearch {
    /// The level of `provider` under this setting.
    pub fn level(&self, provider: &str) -> SafeSearchLevel {
        match self {
            SafeSearch::All(true) => SafeSearchLevel::Strict,
            SafeSearch::All(false) => SafeSearchLevel::Off,
            SafeSearch::Providers(map) => map.get(provider).copied().unwrap_or_default(),
        }
    }
}

/// How strictly one provider's safe search is enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SafeSearchLevel {
    /// Not enforced (`false`).
    #[default]
    Off,
    /// Enforced (`true`, `strict`).
    Strict,
    /// YouTube's moderate restricted mode (`moderate`).
    Moderate,
}

impl Serialize for SafeSearchLevel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SafeSearchLevel::Off => s.serialize_bool(false),
            SafeSearchLevel::Strict => s.serialize_bool(true),
            SafeSearchLevel::Moderate => s.serialize_str("moderate"),
        }
    }
}

impl<'de> Deserialize<'de> for SafeSearchLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SafeSearchLevel, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Bool(bool),
            Word(String),
        }
        match Form::deserialize(d)? {
            Form::Bool(true) => Ok(SafeSearchLevel::Strict),
            Form::Bool(false) => Ok(SafeSearchLevel::Off),
            Form::Word(w) => match w.as_str() {
                "strict" | "on" => Ok(SafeSearchLevel::Strict),
                "moderate" => Ok(SafeSearchLevel::Moderate),
                "off" => Ok(SafeSearchLevel::Off),
                _ => Err(serde::de::Error::custom(format!(
                    "{w:?}: expected true, false, strict or moderate"
                ))),
            },
        }
    }
}

/// A weekly window of a policy and what it changes while it is open: it blocks every
/// name, blocks more services or lists, or lets some of the policy's services or lists
/// through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// What the query log and `/api/v1/check` call it (`bedtime`); unset, `<policy>#<n>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The days it starts on: `weekdays`, `weekends`, `all`, `mon,wed`, or a list.
    pub days: Days,
    /// When it opens, `hh:mm`.
    pub from: TimeOfDay,
    /// When it closes, `hh:mm`; at or before `from`, on the next day.
    pub to: TimeOfDay,
    /// Its IANA time zone; unset means the config's `time_zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<Zone>,
    /// Block every name but local records and conditional-forwarding zones.
    #[serde(default, skip_serializing_if = "is_false")]
    pub block_all: bool,
    /// Services or categories blocked while it is open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_services: Vec<String>,
    /// Services or categories the policy blocks that are let through while it is open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_services: Vec<String>,
    /// Lists (by id) applied while it is open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_lists: Vec<String>,
    /// Lists of the policy that do not apply while it is open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pause_lists: Vec<String>,
}

impl Schedule {
    /// Its time window.
    pub fn window(&self) -> Window {
        Window {
            days: self.days,
            from: self.from,
            to: self.to,
            time_zone: self.time_zone.clone(),
        }
    }

    /// Whether it changes anything at all.
    pub fn has_action(&self) -> bool {
        self.block_all
            || !self.block_services.is_empty()
            || !self.allow_services.is_empty()
            || !self.block_lists.is_empty()
            || !self.pause_lists.is_empty()
    }
}

/// Clients in a subnet, or naming a ClientID, get a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRule {
    /// An IPv4 or IPv6 subnet (`192.168.20.0/24`, `fd00:20::/64`); a bare address is a /32
    /// or /128. A rule has a subnet, ClientIDs, or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<IpNetwork>,
    /// ClientIDs (AdGuard Home's): the names an encrypted connection gives itself, as
    /// the path of DNS over HTTPS (`/dns-query/kids-phone`) or the first label of the
    /// DNS-over-TLS server name (`kids-phone.dns.home.example.com`). A query naming one
    /// gets this rule's policy, name and tags, whatever its source address.
    #[serde(
        default,
        deserialize_with = "name::deserialize_client_ids",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub client_ids: Vec<String>,
    /// The policy of clients in it.
    pub policy: String,
    /// A name for the clients in it (`kids-tablet` for a /32), shown in the query log and
    /// the statistics; the most specific named subnet names a client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tags for `$ctag` rules, from AdGuard Home's set ([`CLIENT_TAGS`]): `user_child`,
    /// `device_phone`, `os_android`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl ClientRule {
    /// What tells this rule from the others: its subnet, or, without one, its first
    /// ClientID.
    pub fn key(&self) -> ClientKey {
        match (&self.subnet, self.client_ids.first()) {
            (Some(s), _) => ClientKey::Subnet(s.network(), s.prefix()),
            (None, Some(id)) => ClientKey::ClientId(id.clone()),
            (None, None) => ClientKey::ClientId(String::new()),
        }
    }
}

/// What tells one client rule from another (the admin API, the layers and the check of
/// duplicates key rules by it): the subnet, however it was written (`10.0.0.1` and
/// `10.0.0.1/32` are one), or the first ClientID of a rule without one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientKey {
    /// A subnet's network address and prefix length.
    Subnet(std::net::IpAddr, u8),
    /// A ClientID.
    ClientId(String),
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientKey::Subnet(ip, prefix) => write!(f, "{ip}/{prefix}"),
            ClientKey::ClientId(id) => write!(f, "ClientID {id}"),
        }
    }
}

/// The client tags `$ctag` rules can name: AdGuard Home's (`internal/home/clientstags.go`),
/// so that its lists and its clients' tags carry over.
pub const CLIENT_TAGS: &[&str] = &[
    "device_audio",
    "device_camera",
    "device_gameconsole",
    "device_laptop",
    "device_nas",
    "device_other",
    "device_pc",
    "device_phone",
    "device_printer",
    "device_securityalarm",
    "device_tablet",
    "device_tv",
    "os_android",
    "os_ios",
    "os_linux",
    "os_macos",
    "os_other",
    "os_windows",
    "user_admin",
    "user_child",
    "user_regular",
];

/// The cache of upstream answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Maximum number of cached answers; 0 disables the cache.
    #[serde(default = "default_cache_size")]
    pub size: u64,
    /// TTLs below this (seconds) are raised to it.
    #[serde(default = "default_min_ttl")]
    pub min_ttl: u32,
    /// TTLs above this (seconds) are lowered to it.
    #[serde(default = "default_max_ttl")]
    pub max_ttl: u32,
    /// How long (seconds) NXDOMAIN and no-data answers are cached when they carry no SOA.
    #[serde(default = "default_negative_ttl")]
    pub negative_ttl: u32,
}

/// `dns.listen` when unset: `127.0.0.1:5353`.
pub fn default_dns_listen() -> Vec<SocketAddr> {
    vec![SocketAddr::from(([127, 0, 0, 1], 5353))]
}

/// `dns.blocking_mode` when unset: `null_ip`.
pub fn default_blocking_mode() -> BlockingMode {
    BlockingMode::NullIp
}

/// `dns.blocked_ttl` when unset: 10 seconds.
pub fn default_blocked_ttl() -> u32 {
    10
}

/// `dns.upstream_timeout` when unset: 2 seconds.
pub fn default_upstream_timeout() -> Duration {
    Duration::from_secs(2)
}

/// `admin.listen` when unset: `127.0.0.1:8080`.
pub fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

/// `sync.role` when unset: `standalone`.
pub fn default_sync_role() -> SyncRole {
    SyncRole::Standalone
}

/// `sync.interval` when unset: 30 seconds.
pub fn default_sync_interval() -> Duration {
    Duration::from_secs(30)
}

/// An upstream group's `strategy` when unset: `parallel`.
pub fn default_strategy() -> Strategy {
    Strategy::Parallel
}

/// A record's `ttl` when unset: 300 seconds.
pub fn default_record_ttl() -> u32 {
    300
}

/// A list's `enabled` when unset: true.
pub fn default_enabled() -> bool {
    true
}

/// `cache.size` when unset: 100000 answers.
pub fn default_cache_size() -> u64 {
    100_000
}

/// `cache.min_ttl` when unset: 0.
pub fn default_min_ttl() -> u32 {
    0
}

/// `cache.max_ttl` when unset: 86400 seconds (one day).
pub fn default_max_ttl() -> u32 {
    86_400
}

/// `cache.negative_ttl` when unset: 300 seconds.
pub fn default_negative_ttl() -> u32 {
    300
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            listen: default_dns_listen(),
            blocking_mode: default_blocking_mode(),
            blocking_ipv4: None,
            blocking_ipv6: None,
            blocked_ttl: default_blocked_ttl(),
            upstream_timeout: default_upstream_timeout(),
            tcp: TcpConfig::default(),
            proxy_protocol: ProxyProtocolConfig::default(),
            tls: TlsConfig::default(),
            ratelimit: 0,
            ratelimit_subnet_len_ipv4: default_ratelimit_subnet_len_ipv4(),
            ratelimit_subnet_len_ipv6: default_ratelimit_subnet_len_ipv6(),
            ratelimit_whitelist: Vec::new(),
            refuse_any: true,
            protection_enabled: true,
            filtering_enabled: true,
            protection_disabled_until: None,
            allowed_clients: Vec::new(),
            disallowed_clients: Vec::new(),
        }
    }
}

impl DnsConfig {
    /// Whether filtering is on at `now`: protection on, or its pause over.
    pub fn protection_at(&self, now: crate::window::Timestamp) -> bool {
        self.protection_enabled
            || self
                .protection_disabled_until
                .is_some_and(|until| now >= until)
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: default_admin_listen(),
            token_file: None,
            users_file: None,
            read_only: false,
            write_to: WriteTo::Auto,
            metrics_auth: false,
        }
    }
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            role: default_sync_role(),
            replicas: Vec::new(),
            primary: None,
            token_file: None,
            interval: default_sync_interval(),
        }
    }
}

/// Unset settings are not written out, so that the YAML (and the revision hashed from it)
/// of a config that does not use them is what it was before they existed.
fn is_false(b: &bool) -> bool {
    !*b
}

impl SyncConfig {
    /// Whether this is the default (standalone, nothing set): such a section is not written
    /// out (see [`is_false`]).
    fn is_standalone_default(&self) -> bool {
        *self == SyncConfig::default()
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            size: default_cache_size(),
            min_ttl: default_min_ttl(),
            max_ttl: default_max_ttl(),
            negative_ttl: default_negative_ttl(),
        }
    }
}

impl std::str::FromStr for RecordKind {
    type Err = ();

    /// A type as the config spells it, in any case (`aaaa`, `Cname`).
    fn from_str(text: &str) -> Result<RecordKind, ()> {
        use serde::de::IntoDeserializer;
        let upper = text.to_ascii_uppercase();
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            upper.as_str().into_deserializer();
        RecordKind::deserialize(de).map_err(drop)
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordKind::A => "A",
            RecordKind::Aaaa => "AAAA",
            RecordKind::Cname => "CNAME",
            RecordKind::Txt => "TXT",
            RecordKind::Ptr => "PTR",
            RecordKind::Mx => "MX",
            RecordKind::Srv => "SRV",
            RecordKind::Ns => "NS",
        })
    }
}

impl std::fmt::Display for BlockingMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BlockingMode::NullIp => "null_ip",
            BlockingMode::Nxdomain => "nxdomain",
            BlockingMode::Refused => "refused",
            BlockingMode::CustomIp => "custom_ip",
        })
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Strategy::Parallel => "parallel",
            Strategy::RoundRobin => "round_robin",
            Strategy::Failover => "failover",
        })
    }
}

impl std::fmt::Display for SyncRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SyncRole::Standalone => "standalone",
            SyncRole::Primary => "primary",
            SyncRole::Replica => "replica",
        })
    }
}
