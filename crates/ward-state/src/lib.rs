//! Ward's live state: the [`Snapshot`] every query reads, and the [`reload::Reloader`]
//! that builds the next one.
//!
//! A snapshot is everything a query needs, compiled from one [`Config`] and the text of
//! its lists: each enabled list compiled on its own into a [`RuleSet`] (a policy is the
//! lists it uses plus a small rule set of its own custom rules, checked together as
//! layers), the subnet table that picks a policy for a client, the local records and the
//! conditional-forwarding zones. It is immutable; a reload builds a new one, reusing every
//! list whose text has not changed, and swaps it in whole, so a query never sees half of
//! two configurations.

#![deny(missing_docs)]

mod accept;
pub mod download;
pub mod layer;
pub mod list_files;
pub mod metrics;
pub mod parental;
pub mod querylog;
mod records;
pub mod refresh;
pub mod reload;
pub mod stats;
pub mod status;
mod subnets;
pub mod sync;
pub mod watch;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use accept::AcceptBackoff;
pub use list_files::{ConfinedLists, ListDirs};
pub use records::LocalRecords;
use smallvec::SmallVec;
pub use subnets::SubnetTable;
use ward_config::window::{Timestamp, Zone};
use ward_config::{BlockingMode, Config, ListSource};
use ward_rules::{Layer, ListId, ListMask, Reason, Request, RuleSet, Verdict};

use crate::parental::Controls;

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
    /// The lists it uses (inherited through `extends`), as indices into
    /// [`Snapshot::lists`], in config order; allowlists are in `allow_lists` instead.
    pub lists: Vec<usize>,
    /// The allowlists it uses (lists with `allow`), as indices into [`Snapshot::lists`]:
    /// a name any of their rules matches is not filtered.
    pub allow_lists: Vec<usize>,
    /// Its custom rules (the parent's first), compiled on their own.
    pub custom: RuleSet,
    /// The upstream group for names no forward zone covers.
    pub upstream: String,
    /// How blocked names are answered.
    pub blocking: Blocking,
    /// Its blocked services, safe search and schedules.
    pub controls: Controls,
}

/// [`ward_rules::RuleMatch::layer`] of a rule of a policy's own rules in a [`Checked`] verdict.
pub const CUSTOM_LAYER: usize = usize::MAX;
/// [`ward_rules::RuleMatch::layer`] of a blocked service's rule ([`parental::service_rules`]).
pub const SERVICES_LAYER: usize = usize::MAX - 1;

/// A policy's verdict for a query ([`Snapshot::check`]): the verdict, whose rules name
/// their layer as an index into [`Snapshot::lists`] or [`CUSTOM_LAYER`] or
/// [`SERVICES_LAYER`], and the schedule (an index into the policy's) that made it what it
/// is: one that blocks everything, or added the service or list that blocked, or paused
/// the one that would have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The verdict.
    pub verdict: Verdict,
    /// The schedule that decided, if one did.
    pub schedule: Option<usize>,
}

/// One enabled list, compiled on its own, so that a reload whose text for it has not
/// changed reuses it as it is (no parsing, no second copy in memory).
#[derive(Clone, Debug)]
pub struct CompiledList {
    /// The list's id in the config.
    pub id: String,
    /// Its rules: one list, [`ListId`] 0.
    pub rules: RuleSet,
    /// Whether this snapshot took it unchanged from the previous one.
    pub reused: bool,
    /// Where its text came from, when known: the next rebuild does not read it again
    /// while this stays the same.
    pub identity: Option<SourceIdentity>,
    /// Why the text at `identity` was refused, when this is a previous copy kept in its
    /// place.
    pub refused: Option<String>,
    /// SHA-256 of the text, computed when first asked (replica sync), shared by clones.
    sha256: Arc<std::sync::OnceLock<String>>,
}

impl CompiledList {
    /// The list's text, as compiled.
    pub fn text(&self) -> &[u8] {
        self.rules.list_text(ListId(0))
    }

    /// SHA-256 of the text, hex (computed once per compiled list).
    pub fn sha256(&self) -> &str {
        self.sha256.get_or_init(|| {
            use sha2::Digest;
            hex(&sha2::Sha256::digest(self.text()))
        })
    }
}

/// Everything a query reads, from one config.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases by one with every applied reload.
    pub generation: u64,
    /// The config it was built from.
    pub config: Arc<Config>,
    /// The enabled lists, in config order.
    pub lists: Vec<CompiledList>,
    /// The policies, in name order; [`Snapshot::policy_for`] picks one.
    pub policies: Vec<Policy>,
    /// Client subnets to policy indices.
    pub clients: SubnetTable,
    /// The policy of clients in no subnet.
    pub default_policy: usize,
    /// Named client subnets to indices into the config's `clients`.
    pub client_names: SubnetTable,
    /// Client subnets with tags to indices into the config's `clients`.
    pub client_tags: SubnetTable,
    /// ClientIDs to indices into the config's `clients`.
    pub client_ids: HashMap<String, usize>,
    /// The policy index of each of the config's `clients`.
    pub client_policies: Vec<usize>,
    /// Local answers.
    pub records: LocalRecords,
    /// Conditional forwarding: zone -> upstream group, most specific first.
    pub forward: Vec<(String, String)>,
    /// Lists that could not be read or were refused, with the reason. Such a list serves
    /// its previous copy if the previous snapshot had one, else nothing.
    pub list_errors: Vec<(String, String)>,
    /// The time zone of schedules that name none: the config's `time_zone`, else the
    /// system's, else UTC.
    pub zone: Zone,
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

    /// A cheap identity of where `list`'s text comes from (for a file: its path, size,
    /// modification time and inode), taken before reading it: while it stays the same,
    /// the text has not changed and is not read again. `None` when there is none.
    fn identity(&self, list: &ListSource) -> Option<SourceIdentity> {
        let _ = list;
        None
    }
}

/// What [`ListTexts::identity`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceIdentity {
    path: PathBuf,
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl SourceIdentity {
    /// The identity of a file now, following symlinks; `None` if it cannot be read.
    pub fn of_file(path: &Path) -> Option<SourceIdentity> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(SourceIdentity {
            path: path.to_path_buf(),
            len: meta.len(),
            modified: Some(meta.modified().ok()?),
            inode,
        })
    }
}

/// Where list copies and other state live: the config's `data_dir`, else `/var/lib/ward`
/// when it exists, else `./data`.
pub fn data_dir(config: &Config) -> PathBuf {
    if let Some(dir) = &config.data_dir {
        return dir.clone();
    }
    let system = PathBuf::from("/var/lib/ward");
    if system.is_dir() {
        system
    } else {
        PathBuf::from("data")
    }
}

/// Reads `path` lists from disk and `url` lists from their last good copy in
/// `<data_dir>/lists/<id>.txt` (downloading them is the reloader's job). Only regular files
/// within the size limit are read, without blocking; [`ConfinedLists`] also keeps `path`
/// lists to the allowed directories, and is what serves.
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

impl DiskLists {
    fn file(&self, list: &ListSource) -> Option<PathBuf> {
        match (&list.path, list.download_url()) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(_)) => Some(self.cached_copy(&list.id)),
            (None, None) => None,
        }
    }
}

impl ListTexts for DiskLists {
    fn text(&self, list: &ListSource) -> Result<Vec<u8>, String> {
        let file = self.file(list).ok_or("no path or url")?;
        if list.path.is_none() && !file.exists() {
            return Err(format!(
                "not downloaded yet (its copy will be {})",
                file.display()
            ));
        }
        read(&file)
    }

    fn identity(&self, list: &ListSource) -> Option<SourceIdentity> {
        SourceIdentity::of_file(&self.file(list)?)
    }
}

/// A list file as [`list_files`] reads it: a regular file (followed through symlinks),
/// opened without blocking, within the size limit.
fn read(path: &Path) -> Result<Vec<u8>, String> {
    list_files::read_list_file(path, list_files::Follow::Yes)
}

impl Snapshot {
    /// Compiles a validated config and its lists into a snapshot.
    pub fn build(
        config: Config,
        lists: &dyn ListTexts,
        generation: u64,
    ) -> Result<Snapshot, BuildError> {
        Snapshot::rebuild(config, lists, generation, None)
    }

    /// Compiles a validated config and its lists, reusing the compiled form of every list
    /// of `previous` whose text is unchanged (byte for byte). A list that cannot be read,
    /// or whose new text has lines but not one rule (an error page, a binary file), keeps
    /// its previous compiled form and is reported in [`Snapshot::list_errors`]: an update
    /// never empties a policy. Changed lists compile one after the other, so that the
    /// peak is the previous snapshot, the new lists and one list's compile buffers.
    pub fn rebuild(
        config: Config,
        texts: &dyn ListTexts,
        generation: u64,
        previous: Option<&Snapshot>,
    ) -> Result<Snapshot, BuildError> {
        Snapshot::rebuild_within(config, texts, generation, previous, usize::MAX).map(|(s, _)| s)
    }

    /// [`Snapshot::rebuild`] that compiles at most one list `previous` already had in
    /// another version; the other changed lists keep their previous version for now.
    /// Returns whether such lists are left, for the next step. New lists are compiled at
    /// once (they replace nothing). Step by step, a reload that changes every list holds
    /// the previous snapshot plus one new list at a time, not two of everything.
    pub fn rebuild_step(
        config: Config,
        texts: &dyn ListTexts,
        generation: u64,
        previous: Option<&Snapshot>,
    ) -> Result<(Snapshot, bool), BuildError> {
        Snapshot::rebuild_within(config, texts, generation, previous, 1)
    }

    fn rebuild_within(
        config: Config,
        texts: &dyn ListTexts,
        generation: u64,
        previous: Option<&Snapshot>,
        mut replacements: usize,
    ) -> Result<(Snapshot, bool), BuildError> {
        let mut pending = false;
        let enabled: Vec<&ListSource> = config.lists.iter().filter(|l| l.enabled).collect();
        let mut lists: Vec<Option<CompiledList>> = Vec::with_capacity(enabled.len());
        let mut list_errors = Vec::new();
        let mut jobs = Vec::new();
        let mut identities = HashMap::new();
        for (i, list) in enabled.iter().enumerate() {
            let before = previous.and_then(|p| p.list(&list.id));
            // Taken before the text is read: a change after this shows at the next rebuild.
            let identity = texts.identity(list);
            if let Some(b) = before.filter(|b| b.identity.is_some() && b.identity == identity) {
                if let Some(err) = &b.refused {
                    list_errors.push((list.id.clone(), err.clone()));
                }
                lists.push(Some(CompiledList {
                    reused: true,
                    ..b.clone()
                }));
                continue;
            }
            let text = texts
                .text(list)
                .and_then(|t| check_list_text(&t).map(|()| t));
            match text {
                Ok(text) => match before {
                    Some(b) if b.text() == text.as_slice() => lists.push(Some(CompiledList {
                        reused: true,
                        identity,
                        refused: None,
                        ..b.clone()
                    })),
                    // Changed, but this step has replaced its list: the next one will.
                    Some(b) if replacements == 0 => {
                        pending = true;
                        lists.push(Some(CompiledList {
                            reused: true,
                            ..b.clone()
                        }));
                    }
                    _ => {
                        if before.is_some() {
                            replacements -= 1;
                        }
                        lists.push(None);
                        identities.insert(i, identity);
                        jobs.push((i, list.id.clone(), text));
                    }
                },
                Err(err) => match before {
                    Some(b) => {
                        list_errors
                            .push((list.id.clone(), format!("{err}; serving the previous copy")));
                        lists.push(Some(CompiledList {
                            reused: true,
                            ..b.clone()
                        }));
                    }
                    None => {
                        list_errors.push((list.id.clone(), err));
                        lists.push(None);
                        jobs.push((i, list.id.clone(), Vec::new()));
                    }
                },
            }
        }
        // A first build compiles in parallel (nothing serves yet: time to ready counts); a
        // rebuild one list at a time, since the previous snapshot still holds its lists
        // and every list compiling at once would add its transient memory to the peak.
        let parallel = previous.is_none();
        for (i, compiled) in compile_lists(jobs, parallel) {
            let rules = compiled?;
            let id = enabled[i].id.clone();
            let stats = rules
                .lists()
                .next()
                .map(|(_, _, s)| s.clone())
                .unwrap_or_default();
            let before = previous.and_then(|p| p.list(&id));
            if stats.rules == 0 && stats.skipped_total() > 0 {
                let err = format!(
                    "not a filter list: none of its {} lines is a rule",
                    stats.lines
                );
                if let Some(b) = before {
                    let err = format!("{err}; serving the previous copy");
                    list_errors.push((id, err.clone()));
                    // Its file is known to be refused until it changes again: the next
                    // rebuilds reuse the previous copy without reading it, and say why.
                    lists[i] = Some(CompiledList {
                        reused: true,
                        identity: identities.remove(&i).flatten(),
                        refused: Some(err),
                        ..b.clone()
                    });
                    continue;
                }
                list_errors.push((id.clone(), err));
            }
            lists[i] = Some(CompiledList {
                id,
                rules,
                reused: false,
                identity: identities.remove(&i).flatten(),
                refused: None,
                sha256: Arc::default(),
            });
        }
        let lists: Vec<CompiledList> = lists.into_iter().flatten().collect();
        let ids: HashMap<&str, usize> = lists
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id.as_str(), i))
            .collect();

        let allow: HashSet<usize> = enabled
            .iter()
            .filter(|l| l.allow)
            .filter_map(|l| ids.get(l.id.as_str()).copied())
            .collect();
        let mut policies = Vec::new();
        let mut index = HashMap::new();
        let zone = config.time_zone.clone().unwrap_or_else(system_zone);
        for p in config.effective_policies() {
            let mut used: Vec<usize> = p
                .lists
                .iter()
                .filter_map(|l| ids.get(l.as_str()).copied())
                .collect();
            // Config order, each list once (a policy and its parent may name the same list).
            used.sort_unstable();
            used.dedup();
            let (allow_lists, used) = used.into_iter().partition(|&i| allow.contains(&i));
            let custom =
                RuleSet::from_rules(&format!("policy {} rules", p.name), &p.rules.join("\n"));
            let blocking = Blocking {
                mode: p.blocking_mode,
                ipv4: config.dns.blocking_ipv4.unwrap_or(Ipv4Addr::UNSPECIFIED),
                ipv6: config.dns.blocking_ipv6.unwrap_or(Ipv6Addr::UNSPECIFIED),
                ttl: config.dns.blocked_ttl,
            };
            let controls = Controls::new(&p, zone.clone(), |id| ids.get(id).copied());
            index.insert(p.name.clone(), policies.len());
            policies.push(Policy {
                name: p.name,
                lists: used,
                allow_lists,
                custom,
                upstream: p.upstream,
                blocking,
                controls,
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
        let mut client_names = SubnetTable::default();
        let mut client_tags = SubnetTable::default();
        let mut client_ids = HashMap::new();
        let mut client_policies = Vec::with_capacity(config.clients.len());
        for (i, c) in config.clients.iter().enumerate() {
            let p = policy(&c.policy)?;
            client_policies.push(p);
            for id in &c.client_ids {
                client_ids.insert(id.clone(), i);
            }
            let Some(subnet) = c.subnet else { continue };
            clients.insert(subnet.ip(), subnet.prefix(), p);
            if c.name.is_some() {
                client_names.insert(subnet.ip(), subnet.prefix(), i);
            }
            if !c.tags.is_empty() {
                client_tags.insert(subnet.ip(), subnet.prefix(), i);
            }
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
        let snapshot = Snapshot {
            generation,
            config: Arc::new(config),
            lists,
            policies,
            clients,
            default_policy,
            client_names,
            client_tags,
            client_ids,
            client_policies,
            records,
            forward,
            list_errors,
            zone,
        };
        Ok((snapshot, pending))
    }

    /// Whether the policies filter now: protection on (`dns.protection_enabled`), or its
    /// pause over. Off, queries are answered as if no policy had a list, rule, service,
    /// safe search or schedule. One clock read only while protection is paused.
    pub fn protection_now(&self) -> bool {
        let dns = &self.config.dns;
        dns.protection_enabled || dns.protection_at(Timestamp::now())
    }

    /// A compiled list by id.
    pub fn list(&self, id: &str) -> Option<&CompiledList> {
        self.lists.iter().find(|l| l.id == id)
    }

    /// Rules compiled from all enabled lists.
    pub fn rule_count(&self) -> u64 {
        self.lists.iter().map(|l| l.rules.rule_count()).sum()
    }

    /// Whether `other` would answer every query as this one does: the same config and
    /// every list reused unchanged (a reload that finds this changes nothing).
    pub fn same_as(&self, other: &Snapshot) -> bool {
        self.config == other.config
            && self.lists.len() == other.lists.len()
            && self
                .lists
                .iter()
                .zip(&other.lists)
                .all(|(a, b)| a.id == b.id && a.rules.ptr_eq(&b.rules))
            && self.list_errors == other.list_errors
    }

    /// Where a rule of a verdict from [`Snapshot::check`] with `policy` comes from: its
    /// list (or `policy <name> rules`), its text and its 1-based line.
    pub fn cite(&self, policy: &Policy, rule: &ward_rules::RuleMatch) -> Citation {
        let rules = self.layer(policy, rule);
        Citation {
            list: rules.list_name(rule.rule.list).to_owned(),
            text: rules.rule_text(rule.rule).to_owned(),
            line: rules.rule_line(rule.rule),
        }
    }

    /// The list and the text of a rule, as [`Snapshot::cite`] without the line number
    /// (which costs a count of the lines before the rule): what the query log records.
    pub fn rule_text<'a>(
        &'a self,
        policy: &'a Policy,
        rule: &ward_rules::RuleMatch,
    ) -> (&'a str, &'a str) {
        let rules = self.layer(policy, rule);
        (rules.list_name(rule.rule.list), rules.rule_text(rule.rule))
    }

    /// The rule set of a verdict's layer: one of the lists, the services, or the
    /// policy's own rules.
    fn layer<'a>(&'a self, policy: &'a Policy, rule: &ward_rules::RuleMatch) -> &'a RuleSet {
        match rule.layer {
            CUSTOM_LAYER => &policy.custom,
            SERVICES_LAYER => &parental::service_rules().rules,
            i => self.lists.get(i).map_or(&policy.custom, |l| &l.rules),
        }
    }

    /// A short, stable identity of the config's content: the same config has the same
    /// revision on every pod and after every restart.
    pub fn revision(&self) -> String {
        revision(&self.config)
    }

    /// The policy's verdict for a query now (see [`Snapshot::check_open`]).
    pub fn check(&self, policy: &Policy, request: &Request<'_>) -> Checked {
        self.check_open(policy, request, policy.controls.open_now())
    }

    /// The policy's verdict now for a name or an address an answer points at (CNAME
    /// cloaking): as [`Snapshot::check`], but for schedules that block every name, which
    /// decide the question, not the names of its answer.
    pub fn check_answer(&self, policy: &Policy, request: &Request<'_>) -> Checked {
        let open = policy
            .controls
            .without_block_all(policy.controls.open_now());
        self.check_open(policy, request, open)
    }

    /// The policy's verdict for a query at `at`: "would YouTube be blocked at 21:30?".
    pub fn check_at(&self, policy: &Policy, request: &Request<'_>, at: Timestamp) -> Checked {
        self.check_open(policy, request, policy.controls.open_at(at))
    }

    /// The policy's verdict while the schedules of `open` are open, in AdGuard Home's
    /// order: a schedule that blocks everything (but conditional-forwarding zones); then
    /// the policy's lists and its own rules, decided together (a custom `@@` rule
    /// overrides a list's block, `$badfilter` works across lists), so that a rule that
    /// matches, allow rules included, decides; then blocked services; then safe search.
    pub fn check_open(&self, policy: &Policy, request: &Request<'_>, open: u32) -> Checked {
        let controls = &policy.controls;
        let decided = |verdict, schedule| Checked { verdict, schedule };
        if open != 0 {
            if let Some(i) = controls.first_open(open, |s| s.block_all) {
                if self.forward_zone(&lowercase(request.name)).is_none() {
                    return decided(filtered(Reason::FilteredSchedule, None), Some(i));
                }
            }
        }
        // Allowlists first, as AdGuard Home's: any rule of theirs that matches, blocking or
        // not, lets the name through whatever the lists, rules and services say.
        if self.config.dns.filtering_enabled && !policy.allow_lists.is_empty() {
            let layers: SmallVec<[Layer<'_>; 2]> = policy
                .allow_lists
                .iter()
                .map(|&i| Layer {
                    rules: &self.lists[i].rules,
                    mask: &ListMask::ALL,
                })
                .collect();
            let matched = ward_rules::check(&layers, request);
            if matched.reason != Reason::NotFilteredNotFound {
                let mut verdict = Verdict::not_found();
                verdict.reason = Reason::NotFilteredAllowList;
                verdict.rules = matched.rules;
                for m in &mut verdict.rules {
                    m.layer = policy.allow_lists[m.layer];
                }
                return decided(verdict, None);
            }
        }
        // The lists that apply now: the policy's, less paused ones, plus added ones.
        let mut sources: SmallVec<[usize; 8]> = SmallVec::new();
        if open == 0 {
            sources.extend(policy.lists.iter().copied());
        } else {
            let paused = |i: usize| {
                controls
                    .open_schedules(open)
                    .any(|s| s.pause_lists.contains(&i))
            };
            sources.extend(policy.lists.iter().copied().filter(|&i| !paused(i)));
            for s in controls.open_schedules(open) {
                for &i in &s.block_lists {
                    if !sources.contains(&i) && !paused(i) {
                        sources.push(i);
                    }
                }
            }
        }
        let mut layers: SmallVec<[Layer<'_>; 8]> = sources
            .iter()
            .map(|&i| Layer {
                rules: &self.lists[i].rules,
                mask: &ListMask::ALL,
            })
            .collect();
        layers.push(Layer {
            rules: &policy.custom,
            mask: &ListMask::ALL,
        });
        sources.push(CUSTOM_LAYER);
        // AdGuard Home's filtering switch: no list or custom rule, the rest as usual.
        if !self.config.dns.filtering_enabled {
            layers.clear();
            sources.clear();
        }
        let mut verdict = ward_rules::check(&layers, request);
        for m in &mut verdict.rules {
            m.layer = sources[m.layer];
        }
        if verdict.reason != Reason::NotFilteredNotFound {
            // A list a schedule added decided.
            let schedule = verdict.rules.first().and_then(|m| {
                let added = !policy.lists.contains(&m.layer);
                added
                    .then(|| controls.first_open(open, |s| s.block_lists.contains(&m.layer)))
                    .flatten()
            });
            return decided(verdict, schedule);
        }
        let services = if open == 0 {
            controls.services
        } else {
            controls.services_while(open)
        };
        if !services.is_empty() {
            let mut v = parental::service_rules().rules.check(request, &services);
            if v.reason == Reason::FilteredBlockList {
                v.reason = Reason::FilteredBlockedService;
                for m in &mut v.rules {
                    m.layer = SERVICES_LAYER;
                }
                let list = v.rules.first().map(|m| m.rule.list);
                let schedule = list
                    .filter(|l| !controls.services.contains(*l))
                    .and_then(|l| controls.first_open(open, |s| s.block_services.contains(l)));
                return decided(v, schedule);
            }
        }
        if controls.has_safe_search() {
            let name = lowercase(request.name);
            let host = parental::safe_search_index(&name).and_then(|i| controls.safe_search[i]);
            if let Some(host) = host {
                return decided(filtered(Reason::FilteredSafeSearch, Some(host)), None);
            }
        }
        // Nothing blocks: say so if a schedule paused what would have.
        let schedule = if open == 0 {
            None
        } else {
            self.paused_by(policy, request, open)
        };
        decided(verdict, schedule)
    }

    /// The first open schedule that paused a list or let through a service that would
    /// block `request`.
    fn paused_by(&self, policy: &Policy, request: &Request<'_>, open: u32) -> Option<usize> {
        let controls = &policy.controls;
        let blocks = |i: usize| {
            self.lists
                .get(i)
                .is_some_and(|l| l.rules.check(request, &ListMask::ALL).reason.is_blocked())
        };
        let lists = controls.first_open(open, |s| s.pause_lists.iter().any(|&i| blocks(i)));
        let allows = controls
            .open_schedules(open)
            .any(|s| !s.allow_services.is_empty());
        lists.or_else(|| {
            if !allows {
                return None;
            }
            let mut allowed = controls.services;
            for s in controls.open_schedules(open) {
                allowed.union_with(&s.block_services);
            }
            let v = parental::service_rules().rules.check(request, &allowed);
            let list = v.rules.first().map(|m| m.rule.list)?;
            (v.reason == Reason::FilteredBlockList)
                .then(|| controls.first_open(open, |s| s.allow_services.contains(list)))
                .flatten()
        })
    }

    /// Who asked, as this snapshot knows them: the source address, and the client rule
    /// `client_id` names, if one does.
    pub fn asker(&self, ip: IpAddr, client_id: Option<&str>) -> Asker {
        Asker {
            ip,
            rule: client_id.and_then(|id| self.client_ids.get(id).copied()),
        }
    }

    /// The policy for a client: its ClientID's rule's, else its address's (longest prefix
    /// wins, IPv4-mapped IPv6 counts as IPv4), else the default policy.
    pub fn policy_for(&self, client: impl Into<Asker>) -> &Policy {
        &self.policies[self.policy_index(client)]
    }

    /// [`Snapshot::policy_for`] as an index into [`Snapshot::policies`].
    pub fn policy_index(&self, client: impl Into<Asker>) -> usize {
        let client = client.into();
        if let Some(&p) = client.rule.and_then(|r| self.client_policies.get(r)) {
            return p;
        }
        self.clients
            .lookup(client.ip.to_canonical())
            .unwrap_or(self.default_policy)
    }

    /// The client's name: its ClientID's rule's, else that of the most specific named
    /// client subnet containing its address, if any.
    pub fn client_name(&self, client: impl Into<Asker>) -> Option<&str> {
        let client = client.into();
        if let Some(rule) = client.rule.and_then(|r| self.config.clients.get(r)) {
            return rule.name.as_deref();
        }
        let i = self.client_names.lookup(client.ip.to_canonical())?;
        self.config.clients.get(i)?.name.as_deref()
    }

    /// What `$client` names and `$ctag` rules know of a client: its ClientID's rule's name
    /// and tags, or else the name of the most specific named client subnet containing its
    /// address (as the query log names it) and the tags of the most specific one with
    /// tags (usually the same entry). Borrowed from the snapshot: no allocation, two
    /// scans of a handful of subnets.
    pub fn client(&self, client: impl Into<Asker>) -> ClientInfo<'_> {
        let client = client.into();
        if let Some(rule) = client.rule.and_then(|r| self.config.clients.get(r)) {
            return ClientInfo {
                name: rule.name.as_deref(),
                tags: &rule.tags,
            };
        }
        let ip = client.ip.to_canonical();
        let tags = self
            .client_tags
            .lookup(ip)
            .and_then(|i| self.config.clients.get(i))
            .map_or(&[][..], |c| c.tags.as_slice());
        ClientInfo {
            name: self.client_name(ip),
            tags,
        }
    }

    /// The upstream group a conditional-forwarding zone sends `name` to, if any.
    pub fn forward_zone(&self, name: &str) -> Option<&str> {
        self.forward
            .iter()
            .find(|(zone, _)| is_same_or_subdomain(name, zone))
            .map(|(_, upstream)| upstream.as_str())
    }
}

/// The zone of schedules when the config names none: the system's (`TZ`,
/// `/etc/localtime`), else UTC (a `FROM scratch` container has neither).
fn system_zone() -> Zone {
    Zone::of(
        ward_config::window::TimeZone::try_system().unwrap_or(ward_config::window::TimeZone::UTC),
    )
}

/// `name` lowercase, without its trailing dot (the query path's names already are).
fn lowercase(name: &str) -> std::borrow::Cow<'_, str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// A verdict that no rule made: a schedule's block, or safe search's CNAME to `host`.
fn filtered(reason: Reason, cname: Option<&str>) -> Verdict {
    Verdict {
        reason,
        rules: SmallVec::new(),
        ip_addrs: Vec::new(),
        rewrite: cname.map(|host| ward_rules::Rewrite {
            rcode: ward_rules::ResponseCode::NoError,
            cname: Some(host.to_owned()),
            records: Vec::new(),
        }),
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

/// Who asked a query: the source address (the one a trusted PROXY header gave), and the
/// client rule its ClientID named in the snapshot that answers it ([`Snapshot::asker`]),
/// which wins over the subnets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asker {
    /// The client's address.
    pub ip: IpAddr,
    /// The index, in the config's `clients`, of the rule its ClientID names.
    pub rule: Option<usize>,
}

impl From<IpAddr> for Asker {
    fn from(ip: IpAddr) -> Asker {
        Asker { ip, rule: None }
    }
}

/// A client as the rules see it ([`Snapshot::client`]): its name and tags from the
/// config's `clients`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo<'a> {
    /// The name `$client='name'` rules match.
    pub name: Option<&'a str>,
    /// The tags `$ctag` rules match (empty when it has none).
    pub tags: &'a [String],
}

impl<'a> ClientInfo<'a> {
    /// `request` with this client's name and tags:
    /// `snapshot.client(ip).apply(Request::new(name, qtype).client_ip(ip))`.
    pub fn apply<'r>(&self, request: Request<'r>) -> Request<'r>
    where
        'a: 'r,
    {
        let request = request.client_tags(self.tags);
        match self.name {
            Some(name) => request.client_name(name),
            None => request,
        }
    }
}

/// A rule of a verdict, for people: see [`Snapshot::cite`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Citation {
    /// The list's id, or `policy <name> rules` for a policy's custom rules.
    pub list: String,
    /// The rule as written.
    pub text: String,
    /// Its 1-based line in the list.
    pub line: usize,
}

/// Bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The revision of a config: the first 16 hex digits of the SHA-256 of the YAML form of
/// its filtering part (node-local settings, which differ from pod to pod, left out).
pub fn revision(config: &Config) -> String {
    use sha2::Digest;
    let filtering = config.with_node_local_from(&Config::default_config());
    let digest = sha2::Sha256::digest(filtering.to_yaml().as_bytes());
    hex(&digest[..8])
}

/// Writes `bytes` to `path` so that `path` is always either the old file or the whole new
/// one: `<path>.tmp` in the same directory (created if missing), synced, renamed over
/// `path`, then the directory synced so that the rename survives a crash. The temporary
/// file is removed on failure.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let written = std::fs::File::create(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // Best effort: the error being returned is the one that matters.
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Refuses text that is no filter list although it may parse as one, as AdGuard Home
/// does: an HTML page (its first line that is not blank or a comment starts with `<html`
/// or `<!doctype`), or a binary file (a control character other than tab, CR, LF).
pub fn check_list_text(text: &[u8]) -> Result<(), String> {
    if let Some(at) = text
        .iter()
        .position(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f)
    {
        let line = memchr_count(b'\n', &text[..at]) + 1;
        return Err(format!(
            "not a filter list: line {line} has a binary character (0x{:02x})",
            text[at]
        ));
    }
    let first = text
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .find(|l| !l.is_empty() && !l.starts_with(b"!") && !l.starts_with(b"#"));
    if let Some(line) = first {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with(b"<html") || lower.starts_with(b"<!doctype") {
            return Err("not a filter list: it is an HTML page".into());
        }
    }
    Ok(())
}

fn memchr_count(needle: u8, haystack: &[u8]) -> usize {
    haystack.iter().filter(|&&b| b == needle).count()
}

/// Compiles lists, on up to one thread per core if `parallel`; results by position.
fn compile_lists(
    jobs: Vec<(usize, String, Vec<u8>)>,
    parallel: bool,
) -> Vec<(usize, Result<RuleSet, ward_rules::Error>)> {
    if !jobs.is_empty() {
        let bytes: usize = jobs.iter().map(|(_, _, t)| t.len()).sum();
        tracing::info!(lists = jobs.len(), bytes, "compiling lists");
    }
    let compile = |(i, id, text): (usize, String, Vec<u8>)| {
        let started = std::time::Instant::now();
        let mut builder = RuleSet::builder();
        let built = builder.add_list(id.clone(), text).map(|_| builder.build());
        if let Ok(rules) = &built {
            tracing::info!(
                list = %id,
                rules = rules.rule_count(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "list compiled"
            );
        }
        (i, built)
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    if threads <= 1 || !parallel {
        return jobs.into_iter().map(compile).collect();
    }
    let queue = Mutex::new(jobs);
    let done = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    let Some(job) = job else { return };
                    let result = compile(job);
                    done.lock().unwrap_or_else(|e| e.into_inner()).push(result);
                }
            });
        }
    });
    done.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// The process's memory as the kernel counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessMemory {
    /// Resident set size (`VmRSS`), bytes.
    pub resident: u64,
    /// Its peak so far (`VmHWM`), bytes.
    pub peak: u64,
}

/// The process's memory from `/proc/self/status` (Linux; `None` elsewhere): for the
/// metrics and for `ward compile`'s report.
pub fn process_memory() -> Option<ProcessMemory> {
    parse_process_memory(&std::fs::read_to_string("/proc/self/status").ok()?)
}

fn parse_process_memory(status: &str) -> Option<ProcessMemory> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let mut fields = line[name.len()..].split_whitespace();
        let kib: u64 = fields.next()?.parse().ok()?;
        (fields.next() == Some("kB")).then_some(kib * 1024)
    };
    Some(ProcessMemory {
        resident: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}
