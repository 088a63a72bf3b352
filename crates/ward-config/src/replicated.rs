//! The replicated part of a config, and the node-local part.
//!
//! A primary replicates its filtering config (upstreams, forward, records, lists, policies,
//! clients, the blocking and abuse settings of `dns`, cache); each node keeps its own
//! `dns.listen`, `dns.tcp`, `dns.proxy_protocol`, `dns.tls`,
//! `admin`, `sync`, `data_dir`, `query_log`, `list_dirs` and `external_dns`, since those name its sockets,
//! its secrets, its disk and its own queries.
//! Both functions below destructure every struct without `..`, so a new field does not
//! compile until it is put on one side or the other.

use crate::model::{Config, DnsConfig};

impl Config {
    /// Whether `self` and `other` filter alike: equal except for node-local settings
    /// (`dns.listen`, `admin`, `sync`, `data_dir`). A replica compares a pushed config with
    /// its own this way to know whether there is anything to apply.
    pub fn filtering_eq(&self, other: &Config) -> bool {
        let Config {
            dns:
                DnsConfig {
                    listen: _,
                    blocking_mode,
                    blocking_ipv4,
                    blocking_ipv6,
                    blocked_ttl,
                    upstream_timeout,
                    tcp: _,
                    proxy_protocol: _,
                    tls: _,
                    ratelimit,
                    ratelimit_subnet_len_ipv4,
                    ratelimit_subnet_len_ipv6,
                    ratelimit_whitelist,
                    refuse_any,
                    protection_enabled,
                    filtering_enabled,
                    protection_disabled_until,
                    allowed_clients,
                    disallowed_clients,
                },
            admin: _,
            upstreams,
            forward,
            records,
            lists,
            policies,
            clients,
            default_policy,
            cache,
            data_dir: _,
            sync: _,
            query_log: _,
            list_dirs: _,
            external_dns: _,
            time_zone,
        } = self;
        *blocking_mode == other.dns.blocking_mode
            && *blocking_ipv4 == other.dns.blocking_ipv4
            && *blocking_ipv6 == other.dns.blocking_ipv6
            && *blocked_ttl == other.dns.blocked_ttl
            && *upstream_timeout == other.dns.upstream_timeout
            && *ratelimit == other.dns.ratelimit
            && *ratelimit_subnet_len_ipv4 == other.dns.ratelimit_subnet_len_ipv4
            && *ratelimit_subnet_len_ipv6 == other.dns.ratelimit_subnet_len_ipv6
            && *ratelimit_whitelist == other.dns.ratelimit_whitelist
            && *refuse_any == other.dns.refuse_any
            && *protection_enabled == other.dns.protection_enabled
            && *filtering_enabled == other.dns.filtering_enabled
            && *protection_disabled_until == other.dns.protection_disabled_until
            && *allowed_clients == other.dns.allowed_clients
            && *disallowed_clients == other.dns.disallowed_clients
            && *upstreams == other.upstreams
            && *forward == other.forward
            && *records == other.records
            && *lists == other.lists
            && *policies == other.policies
            && *clients == other.clients
            && *default_policy == other.default_policy
            && *cache == other.cache
            && *time_zone == other.time_zone
    }

    /// `self`'s filtering config with `local`'s node-local settings: what a replica serves
    /// when the primary's config arrives (`primary.with_node_local_from(&own)`).
    pub fn with_node_local_from(&self, local: &Config) -> Config {
        let Config {
            dns:
                DnsConfig {
                    listen: _,
                    blocking_mode,
                    blocking_ipv4,
                    blocking_ipv6,
                    blocked_ttl,
                    upstream_timeout,
                    tcp: _,
                    proxy_protocol: _,
                    tls: _,
                    ratelimit,
                    ratelimit_subnet_len_ipv4,
                    ratelimit_subnet_len_ipv6,
                    ratelimit_whitelist,
                    refuse_any,
                    protection_enabled,
                    filtering_enabled,
                    protection_disabled_until,
                    allowed_clients,
                    disallowed_clients,
                },
            admin: _,
            upstreams,
            forward,
            records,
            lists,
            policies,
            clients,
            default_policy,
            cache,
            data_dir: _,
            sync: _,
            query_log: _,
            list_dirs: _,
            external_dns: _,
            time_zone,
        } = self;
        Config {
            dns: DnsConfig {
                listen: local.dns.listen.clone(),
                blocking_mode: *blocking_mode,
                blocking_ipv4: *blocking_ipv4,
                blocking_ipv6: *blocking_ipv6,
                blocked_ttl: *blocked_ttl,
                upstream_timeout: *upstream_timeout,
                tcp: local.dns.tcp.clone(),
                proxy_protocol: local.dns.proxy_protocol.clone(),
                tls: local.dns.tls.clone(),
                ratelimit: *ratelimit,
                ratelimit_subnet_len_ipv4: *ratelimit_subnet_len_ipv4,
                ratelimit_subnet_len_ipv6: *ratelimit_subnet_len_ipv6,
                ratelimit_whitelist: ratelimit_whitelist.clone(),
                refuse_any: *refuse_any,
                protection_enabled: *protection_enabled,
                filtering_enabled: *filtering_enabled,
                protection_disabled_until: *protection_disabled_until,
                allowed_clients: allowed_clients.clone(),
                disallowed_clients: disallowed_clients.clone(),
            },
            admin: local.admin.clone(),
            upstreams: upstreams.clone(),
            forward: forward.clone(),
            records: records.clone(),
            lists: lists.clone(),
            policies: policies.clone(),
            clients: clients.clone(),
            default_policy: default_policy.clone(),
            cache: cache.clone(),
            data_dir: local.data_dir.clone(),
            sync: local.sync.clone(),
            query_log: local.query_log.clone(),
            list_dirs: local.list_dirs.clone(),
            external_dns: local.external_dns.clone(),
            time_zone: time_zone.clone(),
        }
    }
}
