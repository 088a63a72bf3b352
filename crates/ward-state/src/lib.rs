//! Ward's live state: the [`Snapshot`] every query reads.
//!
//! A snapshot is everything a query needs, compiled from one [`Config`] and the text of
//! its lists: one [`RuleSet`] over all enabled lists (a policy is a [`ListMask`] over
//! it, plus a small rule set of its own custom rules), the subnet table that picks a
//! policy for a client, the local records and the conditional-forwarding zones. It is
//! immutable; a reload builds a new one and swaps it in whole, so a query never sees
//! half of two configurations.

#![deny(missing_docs)]

pub mod download;
mod records;
mod subnets;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use records::LocalRecords;
pub use subnets::SubnetTable;
use ward_config::{BlockingMode, Config, ListSource};
use ward_rules::{ListId, ListMask, RuleSet};

/// How one policy answers a blocked name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// The mode.
    pub mode: BlockingMode,
    /// The A answer in `custom_ip` mode.
    pub ipv4: Ipv4Addr,
    /// The AAAA answer in `custom_ip` mode.
    pub ipv6: Ipv6Addr,
    /// TTL of blocked and rewritten answers.
    pub ttl: u32,
}

/// A policy, compiled: which lists apply, its own rules, where it forwards.
#[derive(Debug)]
pub struct Policy {
    /// The policy's name in the config.
    pub name: String,
    /// The lists of [`Snapshot::rules`] it uses (inherited through `extends`).
    pub mask: ListMask,
    /// Its custom rules (the parent's first), compiled on their own.
    pub custom: RuleSet,
    /// The upstream group for names no forward zone covers.
    pub upstream: String,
    /// How blocked names are answered.
    pub blocking: Blocking,
}

/// Everything a query reads, from one config.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases by one with every applied reload.
    pub generation: u64,
    /// The config it was built from.
    pub config: Arc<Config>,
    /// All enabled lists, compiled together, in config order.
    pub rules: RuleSet,
    /// The policies, in name order; [`Snapshot::policy_for`] picks one.
    pub policies: Vec<Policy>,
    /// Client subnets to policy indices.
    pub clients: SubnetTable,
    /// The policy of clients in no subnet.
    pub default_policy: usize,
    /// Local answers.
    pub records: LocalRecords,
    /// Conditional forwarding: zone -> upstream group, most specific first.
    pub forward: Vec<(String, String)>,
    /// Lists that could not be read, with the reason (they count as empty).
    pub list_errors: Vec<(String, String)>,
}

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// More lists than one rule set holds.
    #[error("lists: {0}")]
    Rules(#[from] ward_rules::Error),
    /// A reference the config validation should have caught.
    #[error("{0}")]
    Inconsistent(String),
}

/// Where a list's text comes from when the snapshot is built.
pub trait ListTexts {
    /// The text of `list`, or why it has none.
    fn text(&self, list: &ListSource) -> Result<Vec<u8>, String>;
}

/// Reads `path` lists from disk and `url` lists from their last good copy in
/// `<data_dir>/lists/<id>.txt` (downloading them is the reloader's job).
#[derive(Clone, Debug)]
pub struct DiskLists {
    /// The data directory.
    pub data_dir: PathBuf,
}

impl DiskLists {
    /// The file a URL list's last good copy lives in.
    pub fn cached_copy(&self, id: &str) -> PathBuf {
        self.data_dir.join("lists").join(format!("{id}.txt"))
    }
}

impl ListTexts for DiskLists {
    fn text(&self, list: &ListSource) -> Result<Vec<u8>, String> {
        let path = match (&list.path, &list.url) {
            (Some(path), _) => path.clone(),
            (None, Some(_)) => self.cached_copy(&list.id),
            (None, None) => return Err("no path or url".into()),
        };
        read(&path)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

impl Snapshot {
    /// Compiles a validated config and its lists into a snapshot.
    pub fn build(
        config: Config,
        lists: &dyn ListTexts,
        generation: u64,
    ) -> Result<Snapshot, BuildError> {
        let mut builder = RuleSet::builder();
        let mut ids: HashMap<&str, ListId> = HashMap::new();
        let mut list_errors = Vec::new();
        for list in config.lists.iter().filter(|l| l.enabled) {
            let text = lists.text(list).unwrap_or_else(|err| {
                list_errors.push((list.id.clone(), err));
                Vec::new()
            });
            ids.insert(&list.id, builder.add_list(list.id.clone(), text)?);
        }
        let rules = builder.build();

        let mut policies = Vec::new();
        let mut index = HashMap::new();
        for p in config.effective_policies() {
            let mask: ListMask = p
                .lists
                .iter()
                .filter_map(|l| ids.get(l.as_str()).copied())
                .collect();
            let custom =
                RuleSet::from_rules(&format!("policy {} rules", p.name), &p.rules.join("\n"));
            let blocking = Blocking {
                mode: p.blocking_mode,
                ipv4: config.dns.blocking_ipv4.unwrap_or(Ipv4Addr::UNSPECIFIED),
                ipv6: config.dns.blocking_ipv6.unwrap_or(Ipv6Addr::UNSPECIFIED),
                ttl: config.dns.blocked_ttl,
            };
            index.insert(p.name.clone(), policies.len());
            policies.push(Policy {
                name: p.name,
                mask,
                custom,
                upstream: p.upstream,
                blocking,
            });
        }
        let policy = |name: &str| {
            index
                .get(name)
                .copied()
                .ok_or_else(|| BuildError::Inconsistent(format!("unknown policy {name:?}")))
        };
        let default_policy = policy(&config.default_policy)?;
        let mut clients = SubnetTable::default();
        for c in &config.clients {
            clients.insert(c.subnet.ip(), c.subnet.prefix(), policy(&c.policy)?);
        }
        let mut forward: Vec<(String, String)> = config
            .forward
            .iter()
            .flat_map(|f| f.zones.iter().map(|z| (z.clone(), f.upstream.clone())))
            .collect();
        // Most specific zone first: more labels, then longer.
        forward.sort_by_key(|(z, _)| std::cmp::Reverse((z.split('.').count(), z.len())));
        let records = LocalRecords::new(&config.records);
        drop(ids);
        Ok(Snapshot {
            generation,
            config: Arc::new(config),
            rules,
            policies,
            clients,
            default_policy,
            records,
            forward,
            list_errors,
        })
    }

    /// The policy for a client address (longest prefix wins, IPv4-mapped IPv6 counts as
    /// IPv4), or the default policy.
    pub fn policy_for(&self, client: IpAddr) -> &Policy {
        let i = self
            .clients
            .lookup(client.to_canonical())
            .unwrap_or(self.default_policy);
        &self.policies[i]
    }

    /// The upstream group a conditional-forwarding zone sends `name` to, if any.
    pub fn forward_zone(&self, name: &str) -> Option<&str> {
        self.forward
            .iter()
            .find(|(zone, _)| is_same_or_subdomain(name, zone))
            .map(|(_, upstream)| upstream.as_str())
    }
}

/// Whether `name` is `zone` or below it (both lowercase, no trailing dot).
pub fn is_same_or_subdomain(name: &str, zone: &str) -> bool {
    zone.is_empty()
        || name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}
