//! Checks that need more than one field: references, duplicates, per-type values, ranges.
//!
//! Every check pushes an error and carries on, so a file's problems are all reported at
//! once. Errors carry paths only; the caller adds lines.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::error::{ErrorKind, FieldError, FieldPath, Target};
use crate::load::{Incomplete, Origin, Partial};
use crate::model::{
    BlockingMode, CLIENT_TAGS, Config, RecordKind, SafeSearch, SafeSearchLevel, Schedule,
};
use crate::name;
use crate::policy::DEFAULT_UPSTREAM;
use crate::values::{check_id, check_list_url, check_record_value, hint};

mod node_local;

/// The largest TTL DNS allows (RFC 2181 section 8).
const MAX_TTL: u32 = i32::MAX as u32;
/// Lists are re-downloaded at most this often, out of courtesy to their hosts.
const MIN_REFRESH: Duration = Duration::from_secs(60);
/// Less room than this for the query log files would hold minutes of a busy network.
const MIN_QUERY_LOG_DISK: u64 = 1 << 20;
/// No entry left out: the services and providers are the binary's own.
const NO_PARTIAL: &Partial = &Partial {
    names: Vec::new(),
    unnamed: false,
};
/// Schedules of one policy, its inherited ones included, at most: each is a bit of the
/// mask the query path keeps of the open ones.
pub const MAX_SCHEDULES: usize = 32;
/// An upstream that has not answered in a minute never will.
const MAX_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn validate(
    config: &Config,
    origin: &Origin,
    incomplete: &Incomplete,
    errors: &mut Vec<FieldError>,
) {
    let mut v = Validator {
        config,
        origin,
        incomplete,
        errors,
    };
    v.dns();
    v.admin();
    v.sync();
    v.upstreams();
    v.forward();
    v.records();
    v.lists();
    v.list_dirs();
    v.policies();
    v.clients();
    v.cache();
    v.query_log();
}

struct Validator<'a> {
    config: &'a Config,
    origin: &'a Origin,
    incomplete: &'a Incomplete,
    errors: &'a mut Vec<FieldError>,
}

fn root() -> FieldPath {
    FieldPath::root()
}

impl Validator<'_> {
    fn push(&mut self, path: FieldPath, kind: ErrorKind) {
        self.errors.push(FieldError::new(path, kind));
    }

    fn ttl(&mut self, path: FieldPath, ttl: u32) {
        if ttl > MAX_TTL {
            self.push(
                path,
                ErrorKind::OutOfRange {
                    message: format!("TTL {ttl} is above the DNS maximum {MAX_TTL}"),
                },
            );
        }
    }

    /// Report `name` at `path` unless it names an entry of `target`.
    fn reference(&mut self, path: FieldPath, target: Target, name: &str) {
        let (known, left_out): (Vec<&str>, _) = match target {
            Target::List => (
                self.config.lists.iter().map(|l| l.id.as_str()).collect(),
                &self.incomplete.lists,
            ),
            Target::Policy => (
                self.config.policies.keys().map(String::as_str).collect(),
                &self.incomplete.policies,
            ),
            Target::UpstreamGroup => (
                self.config.upstreams.keys().map(String::as_str).collect(),
                &self.incomplete.upstreams,
            ),
            Target::Service => {
                let mut known: Vec<&str> = crate::services::CATEGORIES.to_vec();
                known.extend(crate::services::all().iter().map(|s| s.id.as_str()));
                (known, NO_PARTIAL)
            }
            Target::SafeSearchProvider => (
                crate::safesearch::all()
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect(),
                NO_PARTIAL,
            ),
        };
        if known.contains(&name) || left_out.covers(name) {
            return;
        }
        let mut known = known;
        known.extend(left_out.names.iter().map(String::as_str));
        known.sort_unstable();
        known.dedup();
        self.push(
            path,
            ErrorKind::UnknownReference {
                target,
                name: name.to_owned(),
                hint: hint(name, &known),
            },
        );
    }

    fn id(&mut self, path: FieldPath, id: &str) {
        if let Err(reason) = check_id(id) {
            self.push(
                path,
                ErrorKind::InvalidName {
                    name: id.to_owned(),
                    reason,
                },
            );
        }
    }

    fn dns(&mut self) {
        let dns = &self.config.dns;
        let at = root().key("dns");
        if dns.listen.is_empty() {
            self.push(at.key("listen"), ErrorKind::Empty { what: "dns.listen" });
        }
        self.listeners();
        self.external_dns();
        self.tls();
        if dns.blocking_mode == BlockingMode::CustomIp {
            self.blocking_ips(at.key("blocking_mode"));
        }
        self.ttl(at.key("blocked_ttl"), dns.blocked_ttl);
        if dns.upstream_timeout.is_zero() || dns.upstream_timeout > MAX_UPSTREAM_TIMEOUT {
            self.push(
                at.key("upstream_timeout"),
                ErrorKind::OutOfRange {
                    message: format!(
                        "upstream_timeout {} must be above 0 and at most 60s",
                        humantime::format_duration(dns.upstream_timeout)
                    ),
                },
            );
        }
        self.dns_limits();
    }

    /// The webhook's path prefix is a plain path.
    fn external_dns(&mut self) {
        let hook = &self.config.external_dns;
        let at = root().key("external_dns");
        if let Some(prefix) = &hook.path_prefix {
            let plain = prefix.len() > 1
                && prefix.starts_with('/')
                && !prefix.ends_with('/')
                && prefix[1..].split('/').all(|s| {
                    !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
                });
            if !plain {
                self.push(
                    at.key("path_prefix"),
                    ErrorKind::InvalidValue {
                        message: format!(
                            "path_prefix {prefix:?} must be a path like \"/6f1c0e9a\": a leading /, no trailing /, letters, digits and -_.~"
                        ),
                    },
                );
            }
        }
    }

    /// The limits of `dns.tcp` and the rate limit's prefix lengths.
    fn dns_limits(&mut self) {
        let dns = &self.config.dns;
        let at = root().key("dns");
        let tcp = &dns.tcp;
        for (field, value) in [
            ("max_connections", tcp.max_connections),
            ("max_connections_per_client", tcp.max_connections_per_client),
            ("max_queries_in_flight", tcp.max_queries_in_flight),
        ] {
            if value == 0 {
                self.push(
                    at.key("tcp").key(field),
                    ErrorKind::OutOfRange {
                        message: format!("{field} must be at least 1"),
                    },
                );
            }
        }
        for (field, value) in [
            ("idle_timeout", tcp.idle_timeout),
            ("write_timeout", tcp.write_timeout),
        ] {
            if value.is_zero() {
                self.push(
                    at.key("tcp").key(field),
                    ErrorKind::OutOfRange {
                        message: format!("{field} must be above 0"),
                    },
                );
            }
        }
        for (field, value, max) in [
            (
                "ratelimit_subnet_len_ipv4",
                dns.ratelimit_subnet_len_ipv4,
                32,
            ),
            (
                "ratelimit_subnet_len_ipv6",
                dns.ratelimit_subnet_len_ipv6,
                128,
            ),
        ] {
            if value > max {
                self.push(
                    at.key(field),
                    ErrorKind::OutOfRange {
                        message: format!("{field} {value} must be at most {max}"),
                    },
                );
            }
        }
    }

    /// `custom_ip` set at `path` needs both blocking addresses.
    fn blocking_ips(&mut self, path: FieldPath) {
        if self.config.dns.blocking_ipv4.is_none() {
            self.push(
                path.clone(),
                ErrorKind::MissingBlockingIp {
                    field: "blocking_ipv4",
                },
            );
        }
        if self.config.dns.blocking_ipv6.is_none() {
            self.push(
                path,
                ErrorKind::MissingBlockingIp {
                    field: "blocking_ipv6",
                },
            );
        }
    }

    fn upstreams(&mut self) {
        for (name, group) in &self.config.upstreams {
            let at = root().key("upstreams").key(name);
            self.id(at.clone(), name);
            if group.servers.is_empty() {
                self.push(
                    at.key("servers"),
                    ErrorKind::Empty {
                        what: "an upstream group's servers",
                    },
                );
            }
            for (i, s) in group.servers.iter().enumerate() {
                if let Some(first) = group.servers[..i].iter().position(|o| o == s) {
                    self.push(
                        at.key("servers").index(i),
                        ErrorKind::Duplicate {
                            what: "server",
                            name: s.to_string(),
                            first: at.key("servers").index(first).to_string(),
                        },
                    );
                }
            }
        }
    }

    fn forward(&mut self) {
        let mut zones: HashMap<&str, FieldPath> = HashMap::new();
        for (i, rule) in self.config.forward.iter().enumerate() {
            let at = root()
                .key("forward")
                .index(Origin::of(&self.origin.forward, i));
            if rule.zones.is_empty() {
                self.push(at.key("zones"), ErrorKind::Empty { what: "zones" });
            }
            for (j, zone) in rule.zones.iter().enumerate() {
                let zat = at.key("zones").index(j);
                if let Err(reason) = name::check_host_name(zone) {
                    self.push(
                        zat.clone(),
                        ErrorKind::InvalidName {
                            name: zone.clone(),
                            reason,
                        },
                    );
                }
                if let Some(first) = zones.get(zone.as_str()) {
                    let first = first.to_string();
                    self.push(
                        zat,
                        ErrorKind::Duplicate {
                            what: "forward zone",
                            name: zone.clone(),
                            first,
                        },
                    );
                } else {
                    zones.insert(zone, zat);
                }
            }
            self.reference(at.key("upstream"), Target::UpstreamGroup, &rule.upstream);
        }
    }

    fn records(&mut self) {
        // name -> (has a CNAME, has another type, path of the first record)
        let mut by_name: BTreeMap<&str, (bool, bool, FieldPath)> = BTreeMap::new();
        let mut seen: HashMap<(&str, RecordKind, &str), FieldPath> = HashMap::new();
        for (i, r) in self.config.records.iter().enumerate() {
            let at = root()
                .key("records")
                .index(Origin::of(&self.origin.records, i));
            if let Err(reason) = name::check_record_name(&r.name) {
                self.push(
                    at.key("name"),
                    ErrorKind::InvalidName {
                        name: r.name.clone(),
                        reason,
                    },
                );
            }
            if let Err(reason) = check_record_value(r.rtype, &r.value) {
                self.push(
                    at.key("value"),
                    ErrorKind::InvalidRecordValue {
                        rtype: r.rtype,
                        value: r.value.clone(),
                        reason,
                    },
                );
            }
            self.ttl(at.key("ttl"), r.ttl);
            let key = (r.name.as_str(), r.rtype, r.value.as_str());
            if let Some(first) = seen.get(&key) {
                let first = first.to_string();
                self.push(
                    at.clone(),
                    ErrorKind::Duplicate {
                        what: "record",
                        name: format!("{} {} {}", r.name, r.rtype, r.value),
                        first,
                    },
                );
            } else {
                seen.insert(key, at.clone());
            }
            let entry = by_name
                .entry(r.name.as_str())
                .or_insert((false, false, at.clone()));
            if r.rtype == RecordKind::Cname {
                // Two CNAMEs for one name are as wrong as a CNAME and an A.
                entry.1 |= entry.0;
                entry.0 = true;
            } else {
                entry.1 = true;
            }
            if entry.0 && entry.1 {
                entry.0 = false; // report each name once
                self.push(
                    at.key("name"),
                    ErrorKind::CnameConflict {
                        name: r.name.clone(),
                    },
                );
            }
        }
    }

    fn lists(&mut self) {
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, list) in self.config.lists.iter().enumerate() {
            let file_index = Origin::of(&self.origin.lists, i);
            let at = root().key("lists").index(file_index);
            self.id(at.key("id"), &list.id);
            if let Some(first) = ids.insert(&list.id, file_index) {
                self.push(
                    at.key("id"),
                    ErrorKind::Duplicate {
                        what: "list id",
                        name: list.id.clone(),
                        first: format!("lists[{first}]"),
                    },
                );
            }
            let sources = [
                list.path.is_some(),
                list.url.is_some(),
                list.catalogue.is_some(),
            ];
            if sources.iter().filter(|s| **s).count() != 1 {
                self.push(at.clone(), ErrorKind::ListSource);
            }
            if let Some(id) = &list.catalogue {
                if crate::catalogue::get(id).is_none() {
                    self.push(
                        at.key("catalogue"),
                        ErrorKind::InvalidValue {
                            message: format!(
                                "{id:?} is not in the catalogue; it has {}",
                                crate::catalogue::ids().join(", ")
                            ),
                        },
                    );
                }
            }
            if let Some(path) = &list.path {
                if path.as_os_str().is_empty() {
                    self.push(at.key("path"), ErrorKind::Empty { what: "path" });
                }
            }
            if let Some(url) = &list.url {
                if let Err(message) = check_list_url(url) {
                    self.push(at.key("url"), ErrorKind::InvalidValue { message });
                }
            }
            if let Some(refresh) = list.refresh {
                if refresh < MIN_REFRESH {
                    self.push(
                        at.key("refresh"),
                        ErrorKind::OutOfRange {
                            message: format!(
                                "refresh {} is shorter than the minimum, 1m",
                                humantime::format_duration(refresh)
                            ),
                        },
                    );
                }
            }
        }
    }

    fn list_dirs(&mut self) {
        for (i, dir) in self.config.list_dirs.iter().enumerate() {
            if dir.as_os_str().is_empty() {
                self.push(
                    root().key("list_dirs").index(i),
                    ErrorKind::Empty {
                        what: "a list directory",
                    },
                );
            }
        }
    }

    fn schedule(&mut self, at: FieldPath, schedule: &Schedule) {
        if let Some(name) = &schedule.name {
            self.id(at.key("name"), name);
        }
        if !schedule.has_action() {
            self.push(
                at.clone(),
                ErrorKind::InvalidValue {
                    message: "a schedule changes nothing: give it block_all, block_services, \
                              allow_services, block_lists or pause_lists"
                        .to_owned(),
                },
            );
        }
        for (key, services) in [
            ("block_services", &schedule.block_services),
            ("allow_services", &schedule.allow_services),
        ] {
            for (k, service) in services.iter().enumerate() {
                self.reference(at.key(key).index(k), Target::Service, service);
            }
        }
        for (key, lists) in [
            ("block_lists", &schedule.block_lists),
            ("pause_lists", &schedule.pause_lists),
        ] {
            for (k, list) in lists.iter().enumerate() {
                self.reference(at.key(key).index(k), Target::List, list);
                if self.config.lists.iter().any(|l| l.allow && l.id == *list) {
                    self.push(
                        at.key(key).index(k),
                        ErrorKind::InvalidValue {
                            message: format!(
                                "list {list:?} is an allowlist: schedules block and pause block lists"
                            ),
                        },
                    );
                }
            }
        }
    }

    fn policies(&mut self) {
        let policies = &self.config.policies;
        for (name, p) in policies {
            let at = root().key("policies").key(name);
            self.id(at.clone(), name);
            if let Some(parent) = &p.extends {
                self.reference(at.key("extends"), Target::Policy, parent);
            }
            for (j, list) in p.lists.iter().enumerate() {
                self.reference(at.key("lists").index(j), Target::List, list);
            }
            if let Some(group) = &p.upstream {
                self.reference(at.key("upstream"), Target::UpstreamGroup, group);
            }
            if p.blocking_mode == Some(BlockingMode::CustomIp)
                && self.config.dns.blocking_mode != BlockingMode::CustomIp
            {
                self.blocking_ips(at.key("blocking_mode"));
            }
            if let Some(SafeSearch::Providers(providers)) = &p.safe_search {
                for (id, level) in providers {
                    let path = at.key("safe_search").key(id);
                    match crate::safesearch::get(id) {
                        None => self.reference(path, Target::SafeSearchProvider, id),
                        Some(provider)
                            if *level == SafeSearchLevel::Moderate
                                && provider.moderate.is_none() =>
                        {
                            self.push(
                                path,
                                ErrorKind::InvalidValue {
                                    message: format!("{id} has no moderate level: true or false"),
                                },
                            );
                        }
                        Some(_) => {}
                    }
                }
            }
            for (j, service) in p.blocked_services.iter().enumerate() {
                self.reference(
                    at.key("blocked_services").index(j),
                    Target::Service,
                    service,
                );
            }
            for (j, schedule) in p.schedules.iter().enumerate() {
                self.schedule(at.key("schedules").index(j), schedule);
            }
        }
        for name in policies.keys() {
            let count = self
                .config
                .effective_policy(name)
                .map_or(0, |e| e.schedules.len());
            if count > MAX_SCHEDULES {
                self.push(
                    root().key("policies").key(name).key("schedules"),
                    ErrorKind::InvalidValue {
                        message: format!(
                            "{count} schedules with the inherited ones; a policy has at most \
                             {MAX_SCHEDULES}"
                        ),
                    },
                );
            }
        }

        // Cycles: follow `extends` from each policy; a walk that comes back to a policy it
        // passed is a cycle, reported once, at its alphabetically first member.
        let mut reported: Vec<String> = Vec::new();
        for start in policies.keys() {
            let mut chain: Vec<&str> = vec![start];
            let mut cycle = None;
            while let Some(next) = policies
                .get(*chain.last().unwrap_or(&""))
                .and_then(|p| p.extends.as_deref())
            {
                if let Some(pos) = chain.iter().position(|n| *n == next) {
                    cycle = Some(chain[pos..].to_vec());
                    break;
                }
                chain.push(next);
            }
            let Some(members) = cycle else {
                // No cycle: the chain ends at a policy without `extends` or at an unknown one.
                let ends_known = chain
                    .last()
                    .and_then(|n| policies.get(*n))
                    .is_some_and(|p| p.extends.is_none());
                let names_upstream = chain
                    .iter()
                    .any(|n| policies.get(*n).is_some_and(|p| p.upstream.is_some()));
                if ends_known
                    && !names_upstream
                    && !self.incomplete.upstreams.covers(DEFAULT_UPSTREAM)
                    && !self.config.upstreams.contains_key(DEFAULT_UPSTREAM)
                {
                    self.push(root().key("policies").key(start), ErrorKind::NoUpstream);
                }
                continue;
            };
            let first = members.iter().min().copied().unwrap_or_default();
            if first != start || reported.iter().any(|r| r == first) {
                continue;
            }
            reported.push(first.to_owned());
            let pos = members.iter().position(|n| *n == first).unwrap_or(0);
            let mut cycle: Vec<String> = members[pos..]
                .iter()
                .chain(&members[..pos])
                .map(|s| (*s).to_owned())
                .collect();
            cycle.push(first.to_owned());
            self.push(
                root().key("policies").key(first).key("extends"),
                ErrorKind::ExtendsCycle { cycle },
            );
        }

        if !self.incomplete.default_policy {
            let name = self.config.default_policy.clone();
            self.reference(root().key("default_policy"), Target::Policy, &name);
        }
    }

    fn clients(&mut self) {
        let mut seen = HashMap::new();
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, c) in self.config.clients.iter().enumerate() {
            let file_index = Origin::of(&self.origin.clients, i);
            let at = root().key("clients").index(file_index);
            if let Some(subnet) = c.subnet {
                if subnet.ip() != subnet.network() {
                    self.push(
                        at.key("subnet"),
                        ErrorKind::SubnetHostBits {
                            subnet: subnet.to_string(),
                            network: format!("{}/{}", subnet.network(), subnet.prefix()),
                        },
                    );
                }
                let key = (subnet.network(), subnet.prefix());
                if let Some(first) = seen.insert(key, file_index) {
                    self.push(
                        at.key("subnet"),
                        ErrorKind::Duplicate {
                            what: "subnet",
                            name: format!("{}/{}", key.0, key.1),
                            first: format!("clients[{first}]"),
                        },
                    );
                }
            } else if c.client_ids.is_empty() {
                self.push(
                    at.clone(),
                    ErrorKind::InvalidValue {
                        message: "a client rule needs a subnet, client_ids, or both".to_owned(),
                    },
                );
            }
            for (j, id) in c.client_ids.iter().enumerate() {
                if let Err(message) = crate::name::check_client_id(id) {
                    self.push(
                        at.key("client_ids").index(j),
                        ErrorKind::InvalidValue { message },
                    );
                } else if let Some(first) = ids.insert(id, file_index) {
                    self.push(
                        at.key("client_ids").index(j),
                        ErrorKind::Duplicate {
                            what: "ClientID",
                            name: id.clone(),
                            first: format!("clients[{first}]"),
                        },
                    );
                }
            }
            self.reference(at.key("policy"), Target::Policy, &c.policy);
            if c.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                self.push(
                    at.key("name"),
                    ErrorKind::Empty {
                        what: "a client name",
                    },
                );
            }
            for (j, tag) in c.tags.iter().enumerate() {
                // `$ctag` rules name AdGuard Home's tags; any other would never match.
                if !CLIENT_TAGS.contains(&tag.as_str()) {
                    self.push(
                        at.key("tags").index(j),
                        ErrorKind::InvalidValue {
                            message: format!(
                                "unknown client tag {tag:?}{}",
                                tag_hint(tag, CLIENT_TAGS)
                            ),
                        },
                    );
                }
            }
        }
    }

    fn cache(&mut self) {
        let c = &self.config.cache;
        let at = root().key("cache");
        if c.min_ttl > c.max_ttl {
            self.push(
                at.key("min_ttl"),
                ErrorKind::OutOfRange {
                    message: format!("min_ttl {} is above max_ttl {}", c.min_ttl, c.max_ttl),
                },
            );
        }
        self.ttl(at.key("max_ttl"), c.max_ttl);
        self.ttl(at.key("negative_ttl"), c.negative_ttl);
    }

    fn query_log(&mut self) {
        let q = &self.config.query_log;
        let at = root().key("query_log");
        if q.enabled && q.memory_entries == 0 {
            self.push(
                at.key("memory_entries"),
                ErrorKind::OutOfRange {
                    message: "at least 1 (set enabled: false to log nothing)".into(),
                },
            );
        }
        if q.queue == 0 {
            self.push(
                at.key("queue"),
                ErrorKind::OutOfRange {
                    message: "at least 1".into(),
                },
            );
        }
        if q.retention < std::time::Duration::from_secs(60) {
            self.push(
                at.key("retention"),
                ErrorKind::OutOfRange {
                    message: "at least 1m".into(),
                },
            );
        }
        if q.max_disk < MIN_QUERY_LOG_DISK {
            self.push(
                at.key("max_disk"),
                ErrorKind::OutOfRange {
                    message: "at least 1MiB (set files: false to write no files)".into(),
                },
            );
        }
        for (i, name) in q.ignore.iter().enumerate() {
            let bare = name.strip_prefix("*.").unwrap_or(name);
            if bare.is_empty() || bare.contains(char::is_whitespace) {
                self.push(
                    at.key("ignore").index(i),
                    ErrorKind::InvalidValue {
                        message: format!("{name:?}: a name or *.suffix"),
                    },
                );
            }
        }
    }
}

/// `; did you mean "user_child"?` for a near miss, else every tag: there are few enough.
fn tag_hint(tag: &str, known: &[&str]) -> String {
    match hint(tag, known) {
        near if near.starts_with("; did you mean") => near,
        _ => format!("; use one of {}", known.join(", ")),
    }
}
