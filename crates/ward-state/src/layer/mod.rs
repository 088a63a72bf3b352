//! The API's writes as a layer over a config file that Git owns.
//!
//! In Kubernetes the config file is a read-only ConfigMap, yet the primary's API and UI
//! write. With `admin.write_to: data_dir` (or `auto` and a file Ward may not write) the
//! file stays as it is and what the API adds is kept in `<data_dir>/config-layer.json`:
//! entries the file does not define (lists, policies, clients, records, upstream groups,
//! forward rules), custom rules and lists added to the file's policies, and the switches
//! of protection and filtering ([`Switches`]). The config that serves is the file with the
//! layer over it ([`Layer::over`]); it is what replicas are pushed.
//!
//! The file wins:
//! - an entry the file defines cannot be changed or removed through the API (409,
//!   "defined in ward.yaml: change it there"), nor can any setting outside those
//!   collections but the switches ([`Layer::between`] finds the first such difference);
//! - an entry the layer holds that the file comes to define (a ConfigMap update) is
//!   shadowed: the file's serves, the layer's is kept and reported, and comes back if the
//!   file drops its own.
//!
//! An entry's identity: a list's id, a policy's or upstream group's name, a client rule's
//! subnet, a record's name and type (a file that defines `nas A` shadows every API record
//! `nas A`), a forward rule's zones (one zone the file forwards shadows the API's rule).

mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
pub use store::{LayerStatus, LayerStore};
use ward_config::{
    ClientRule, Config, ForwardRule, ListSource, LocalRecord, PolicyConfig, UpstreamGroupConfig,
};

/// The file the layer is kept in, in `data_dir`.
pub const FILE_NAME: &str = "config-layer.json";
/// The version of that file; another is refused with the reason.
const VERSION: u32 = 1;

/// What the API added over the config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Lists the file does not define.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<ListSource>,
    /// Policies the file does not define.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, PolicyConfig>,
    /// Custom rules added after the file's own, by the file's policy they belong to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policy_rules: BTreeMap<String, Vec<String>>,
    /// Lists added after the file's own, by the file's policy that uses them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policy_lists: BTreeMap<String, Vec<String>>,
    /// Client rules whose subnet the file does not name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientRule>,
    /// Local records whose name and type the file does not define.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<LocalRecord>,
    /// Upstream groups the file does not define.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub upstreams: BTreeMap<String, UpstreamGroupConfig>,
    /// Forward rules for zones the file does not forward.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward: Vec<ForwardRule>,
    /// The switches as the API last set them, when they differ from the file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switches: Option<Switches>,
}

/// The switches of `dns` that are the household's, not Git's: protection, its pause and
/// filtering, as Home Assistant flips them through `/control` (and as AdGuard Home, Pi-hole and
/// Blocky keep them, at run time). The API's setting wins over the file's until the API
/// sets them back to the file's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switches {
    /// `dns.protection_enabled`.
    pub protection_enabled: bool,
    /// `dns.protection_disabled_until`.
    #[serde(
        default,
        with = "ward_config::window::instant",
        skip_serializing_if = "Option::is_none"
    )]
    pub protection_disabled_until: Option<ward_config::window::Timestamp>,
    /// `dns.filtering_enabled`.
    pub filtering_enabled: bool,
}

impl Switches {
    fn of(config: &Config) -> Switches {
        Switches {
            protection_enabled: config.dns.protection_enabled,
            protection_disabled_until: config.dns.protection_disabled_until,
            filtering_enabled: config.dns.filtering_enabled,
        }
    }

    fn set(self, config: &mut Config) {
        config.dns.protection_enabled = self.protection_enabled;
        config.dns.protection_disabled_until = self.protection_disabled_until;
        config.dns.filtering_enabled = self.filtering_enabled;
    }
}

/// The layer's file: the layer and its version.
#[derive(Serialize, Deserialize)]
struct LayerFile {
    version: u32,
    #[serde(flatten)]
    layer: Layer,
}

/// What the file defines, by kind, as the API and the UI show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Keys {
    /// List ids.
    pub lists: Vec<String>,
    /// Policy names.
    pub policies: Vec<String>,
    /// Client rule subnets.
    pub clients: Vec<String>,
    /// Records as `name type`.
    pub records: Vec<String>,
    /// Upstream group names.
    pub upstreams: Vec<String>,
    /// Forwarded zones.
    pub forward: Vec<String>,
}

impl Keys {
    /// The keys of the entries `config` defines.
    pub fn of(config: &Config) -> Keys {
        Keys {
            lists: config.lists.iter().map(|l| l.id.clone()).collect(),
            policies: config.policies.keys().cloned().collect(),
            clients: config.clients.iter().map(|c| c.key().to_string()).collect(),
            records: config.records.iter().map(record_key).collect(),
            upstreams: config.upstreams.keys().cloned().collect(),
            forward: config
                .forward
                .iter()
                .flat_map(|f| f.zones.clone())
                .collect(),
        }
    }
}

fn record_key(r: &LocalRecord) -> String {
    format!("{} {}", r.name, r.rtype)
}

/// The message of a change the file's entries refuse.
fn defined_in_file(what: &str) -> String {
    format!(
        "{what} is defined in the config file: change it there (the API may add entries, not change the file's)"
    )
}

impl Layer {
    /// Whether the layer adds nothing.
    pub fn is_empty(&self) -> bool {
        *self == Layer::default()
    }

    /// The config that serves: `file` with this layer over it, and what of the layer the
    /// file shadows (each as `kind key`, for the status).
    pub fn over(&self, file: &Config) -> (Config, Vec<String>) {
        let (applies, shadowed) = self.split(file);
        let mut config = file.clone();
        config.lists.extend(applies.lists);
        config.policies.extend(applies.policies);
        for (name, rules) in applies.policy_rules {
            if let Some(policy) = config.policies.get_mut(&name) {
                policy.rules.extend(rules);
            }
        }
        for (name, lists) in applies.policy_lists {
            if let Some(policy) = config.policies.get_mut(&name) {
                policy.lists.extend(lists);
            }
        }
        if let Some(switches) = applies.switches {
            switches.set(&mut config);
        }
        config.clients.extend(applies.clients);
        config.records.extend(applies.records);
        config.upstreams.extend(applies.upstreams);
        config.forward.extend(applies.forward);
        (config, shadowed.describe())
    }

    /// This layer's entries in two: those `file` leaves room for, and those it shadows
    /// (an entry of the same identity, or custom rules of a policy it no longer defines).
    /// The one place that says what an entry's identity is against the file.
    fn split(&self, file: &Config) -> (Layer, Layer) {
        let (mut applies, mut shadowed) = (Layer::default(), Layer::default());
        let lists: BTreeSet<&str> = file.lists.iter().map(|l| l.id.as_str()).collect();
        let (l_in, l_out) = self
            .lists
            .iter()
            .cloned()
            .partition(|l| !lists.contains(l.id.as_str()));
        (applies.lists, shadowed.lists) = (l_in, l_out);
        for (name, policy) in &self.policies {
            let side = if file.policies.contains_key(name) {
                &mut shadowed
            } else {
                &mut applies
            };
            side.policies.insert(name.clone(), policy.clone());
        }
        for (name, rules) in &self.policy_rules {
            let side = if file.policies.contains_key(name) {
                &mut applies
            } else {
                &mut shadowed
            };
            side.policy_rules.insert(name.clone(), rules.clone());
        }
        // Lists added to a policy of the file, while both the policy and the list are
        // there (a list the layer adds counts).
        for (name, lists) in &self.policy_lists {
            let known = |id: &String| {
                file.lists.iter().chain(&applies.lists).any(|l| l.id == *id)
                    && !file
                        .policies
                        .get(name)
                        .is_some_and(|p| p.lists.contains(id))
            };
            let (l_in, l_out): (Vec<String>, Vec<String>) = if file.policies.contains_key(name) {
                lists.iter().cloned().partition(known)
            } else {
                (Vec::new(), lists.clone())
            };
            if !l_in.is_empty() {
                applies.policy_lists.insert(name.clone(), l_in);
            }
            if !l_out.is_empty() {
                shadowed.policy_lists.insert(name.clone(), l_out);
            }
        }
        applies.switches = self.switches;
        let keys: BTreeSet<_> = file.clients.iter().map(ClientRule::key).collect();
        (applies.clients, shadowed.clients) = self
            .clients
            .iter()
            .cloned()
            .partition(|c| !keys.contains(&c.key()));
        let records: BTreeSet<String> = file.records.iter().map(record_key).collect();
        (applies.records, shadowed.records) = self
            .records
            .iter()
            .cloned()
            .partition(|r| !records.contains(&record_key(r)));
        for (name, group) in &self.upstreams {
            let side = if file.upstreams.contains_key(name) {
                &mut shadowed
            } else {
                &mut applies
            };
            side.upstreams.insert(name.clone(), group.clone());
        }
        let zones: BTreeSet<&str> = file
            .forward
            .iter()
            .flat_map(|f| f.zones.iter().map(String::as_str))
            .collect();
        (applies.forward, shadowed.forward) = self
            .forward
            .iter()
            .cloned()
            .partition(|r| !r.zones.iter().any(|z| zones.contains(z.as_str())));
        (applies, shadowed)
    }

    /// Each entry as the status names it (`record tv.home.example A 10.0.0.9`).
    fn describe(&self) -> Vec<String> {
        let mut named = Vec::new();
        named.extend(self.lists.iter().map(|l| format!("list {}", l.id)));
        named.extend(self.policies.keys().map(|name| format!("policy {name}")));
        named.extend(
            self.policy_rules
                .keys()
                .map(|name| format!("rules of policy {name} (the file no longer defines it)")),
        );
        named.extend(self.policy_lists.iter().flat_map(|(name, lists)| {
            lists.iter().map(move |l| {
                format!("list {l} of policy {name} (the file no longer defines one of them, or uses it itself)")
            })
        }));
        named.extend(self.clients.iter().map(|c| format!("client {}", c.key())));
        named.extend(
            self.records
                .iter()
                .map(|r| format!("record {} {} {}", r.name, r.rtype, r.value)),
        );
        named.extend(self.upstreams.keys().map(|name| format!("upstream {name}")));
        named.extend(
            self.forward
                .iter()
                .map(|f| format!("forward {}", f.zones.join(", "))),
        );
        named
    }

    /// The layer that makes `file` into `config`, the config an API write wants to serve;
    /// `Err` with the 409 message when `config` changes or removes what the file defines.
    /// What `previous` held that the file shadows is kept (it comes back if the file drops
    /// its own).
    pub fn between(file: &Config, config: &Config, previous: &Layer) -> Result<Layer, String> {
        let mut layer = Layer::default();
        unchanged_settings(file, config)?;
        let switches = Switches::of(config);
        layer.switches = (switches != Switches::of(file)).then_some(switches);

        for list in &file.lists {
            match config.lists.iter().find(|l| l.id == list.id) {
                Some(l) if l == list => {}
                _ => return Err(defined_in_file(&format!("list {:?}", list.id))),
            }
        }
        layer.lists = config
            .lists
            .iter()
            .filter(|l| !file.lists.iter().any(|f| f.id == l.id))
            .cloned()
            .collect();

        for (name, policy) in &file.policies {
            let Some(now) = config.policies.get(name) else {
                return Err(defined_in_file(&format!("policy {name:?}")));
            };
            let same_settings = PolicyConfig {
                rules: policy.rules.clone(),
                lists: policy.lists.clone(),
                ..now.clone()
            } == *policy;
            if !same_settings
                || !now.rules.starts_with(&policy.rules)
                || !now.lists.starts_with(&policy.lists)
            {
                return Err(defined_in_file(&format!(
                    "policy {name:?} (its settings, and its lists and rules from the file)"
                )));
            }
            let added = &now.rules[policy.rules.len()..];
            if !added.is_empty() {
                layer.policy_rules.insert(name.clone(), added.to_vec());
            }
            let added = &now.lists[policy.lists.len()..];
            if !added.is_empty() {
                layer.policy_lists.insert(name.clone(), added.to_vec());
            }
        }
        layer.policies = config
            .policies
            .iter()
            .filter(|(name, _)| !file.policies.contains_key(*name))
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect();

        for client in &file.clients {
            if !config.clients.contains(client) {
                return Err(defined_in_file(&format!("client {}", client.key())));
            }
        }
        layer.clients = config
            .clients
            .iter()
            .filter(|c| !file.clients.iter().any(|f| f.key() == c.key()))
            .cloned()
            .collect();

        for record in &file.records {
            if !config.records.contains(record) {
                return Err(defined_in_file(&format!(
                    "record {} {} {}",
                    record.name, record.rtype, record.value
                )));
            }
        }
        let file_records: BTreeSet<String> = file.records.iter().map(record_key).collect();
        layer.records = config
            .records
            .iter()
            .filter(|r| !file_records.contains(&record_key(r)))
            .cloned()
            .collect();
        if let Some(r) = config
            .records
            .iter()
            .find(|r| file_records.contains(&record_key(r)) && !file.records.contains(r))
        {
            return Err(defined_in_file(&format!("records {} {}", r.name, r.rtype)));
        }

        for (name, group) in &file.upstreams {
            if config.upstreams.get(name) != Some(group) {
                return Err(defined_in_file(&format!("upstream group {name:?}")));
            }
        }
        layer.upstreams = config
            .upstreams
            .iter()
            .filter(|(name, _)| !file.upstreams.contains_key(*name))
            .map(|(n, g)| (n.clone(), g.clone()))
            .collect();

        for rule in &file.forward {
            if !config.forward.contains(rule) {
                return Err(defined_in_file(&format!(
                    "forward {}",
                    rule.zones.join(", ")
                )));
            }
        }
        layer.forward = config
            .forward
            .iter()
            .filter(|r| !file.forward.contains(r))
            .cloned()
            .collect();
        let file_zones: BTreeSet<&String> = file.forward.iter().flat_map(|f| &f.zones).collect();
        if let Some(r) = layer
            .forward
            .iter()
            .find(|r| r.zones.iter().any(|z| file_zones.contains(z)))
        {
            return Err(defined_in_file(&format!(
                "forwarding of {}",
                r.zones.join(", ")
            )));
        }

        layer.keep_shadowed(previous, file);
        Ok(layer)
    }

    /// Keeps what `previous` held that `file` shadows: the file's entry serves, the API's
    /// waits.
    fn keep_shadowed(&mut self, previous: &Layer, file: &Config) {
        let (_, shadowed) = previous.split(file);
        self.lists.extend(shadowed.lists);
        self.policies.extend(shadowed.policies);
        self.policy_rules.extend(shadowed.policy_rules);
        for (name, lists) in shadowed.policy_lists {
            self.policy_lists.entry(name).or_default().extend(lists);
        }
        self.clients.extend(shadowed.clients);
        self.records.extend(shadowed.records);
        self.upstreams.extend(shadowed.upstreams);
        self.forward.extend(shadowed.forward);
    }

    /// Reads `<dir>/config-layer.json`; none is an empty layer. A file that does not parse,
    /// or of another version, is an error naming it (the caller sets it aside).
    pub fn load(dir: &Path) -> Result<Layer, String> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Layer::default()),
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        let file: LayerFile =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if file.version != VERSION {
            return Err(format!(
                "{}: version {} (this Ward reads {VERSION})",
                path.display(),
                file.version
            ));
        }
        Ok(file.layer)
    }

    /// Writes the layer to `<dir>/config-layer.json` atomically.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let file = LayerFile {
            version: VERSION,
            layer: self.clone(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        crate::write_atomically(&dir.join(FILE_NAME), &text)
    }
}

/// Refuses a change outside the collections and switches the layer holds: the rest of
/// `dns`, `cache`, the query log, `default_policy` and the node's own settings are the
/// file's.
fn unchanged_settings(file: &Config, config: &Config) -> Result<(), String> {
    let strip = |c: &Config| {
        let mut c = c.clone();
        Switches::default().set(&mut c);
        c.lists.clear();
        c.policies.clear();
        c.clients.clear();
        c.records.clear();
        c.upstreams.clear();
        c.forward.clear();
        c
    };
    let (file, config) = (strip(file), strip(config));
    if file == config {
        return Ok(());
    }
    let (a, b) = (
        serde_json::to_value(&file).unwrap_or_default(),
        serde_json::to_value(&config).unwrap_or_default(),
    );
    let key = a
        .as_object()
        .and_then(|a| {
            let b = b.as_object()?;
            a.keys()
                .chain(b.keys())
                .find(|k| a.get(*k) != b.get(*k))
                .cloned()
        })
        .unwrap_or_else(|| "a setting".to_owned());
    Err(defined_in_file(&format!("`{key}`")))
}

/// Whether this process may write the config file at `path` (opened for writing, nothing
/// written: a ConfigMap's read-only mount, or a file owned by another user, says no). Ask
/// before the file watcher starts: closing a file opened for writing is an inotify event.
pub fn writable(path: &Path) -> bool {
    std::fs::OpenOptions::new().write(true).open(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        Config::from_yaml(&format!(
            r#"upstreams: {{ default: {{ servers: ["9.9.9.9"] }}, router: {{ servers: ["10.0.0.1"] }} }}
forward: [ {{ zones: [home.example], upstream: router }} ]
policies:
  main: {{ rules: ["||file.example^"] }}
records:
  - {{ name: nas.home.example, type: A, value: 10.0.0.5 }}
default_policy: main
{extra}"#
        ))
        .unwrap()
    }

    #[test]
    fn a_layer_holds_what_the_api_added_and_nothing_of_the_file() {
        let file = config("");
        let mut wanted = file.clone();
        wanted
            .policies
            .get_mut("main")
            .unwrap()
            .rules
            .push("||api.example^".into());
        wanted.records.push(LocalRecord {
            name: "tv.home.example".into(),
            ..file.records[0].clone()
        });
        wanted.forward.push(ForwardRule {
            zones: vec!["corp.example".into()],
            upstream: "router".into(),
        });
        let layer = Layer::between(&file, &wanted, &Layer::default()).unwrap();
        assert_eq!(layer.policy_rules["main"], ["||api.example^"]);
        assert_eq!(layer.records.len(), 1);
        assert_eq!(layer.forward[0].zones, ["corp.example"]);
        assert!(layer.lists.is_empty() && layer.policies.is_empty());
        // Laid over the file again, it is the config wanted.
        let (config, shadowed) = layer.over(&file);
        assert_eq!(config, wanted);
        assert!(shadowed.is_empty());
    }

    #[test]
    fn what_the_file_defines_refuses_changes() {
        let file = config("");
        let refused = |change: &dyn Fn(&mut Config)| {
            let mut c = file.clone();
            change(&mut c);
            Layer::between(&file, &c, &Layer::default()).unwrap_err()
        };
        assert!(refused(&|c| c.dns.blocked_ttl = 1).contains("`dns`"));
        assert!(refused(&|c| c.default_policy = "other".into()).contains("`default_policy`"));
        assert!(
            refused(&|c| c.policies.get_mut("main").unwrap().rules.clear())
                .contains("policy \"main\"")
        );
        assert!(
            refused(&|c| {
                c.policies.get_mut("main").unwrap().upstream = Some("router".into());
            })
            .contains("policy \"main\"")
        );
        assert!(
            refused(&|c| c.records[0].value = "10.0.0.6".into())
                .contains("record nas.home.example A")
        );
        assert!(
            refused(&|c| {
                c.forward.push(ForwardRule {
                    zones: vec!["home.example".into(), "x.example".into()],
                    upstream: "default".into(),
                });
            })
            .contains("home.example")
        );
        assert!(
            refused(&|c| {
                c.upstreams.remove("router");
            })
            .contains("upstream group \"router\"")
        );
        // A new record with a name and type of the file's is a change of the file's.
        assert!(
            refused(&|c| {
                let mut r = c.records[0].clone();
                r.value = "10.0.0.7".into();
                c.records.push(r);
            })
            .contains("nas.home.example")
        );
    }

    #[test]
    fn the_file_shadows_the_layer_which_keeps_what_it_shadows() {
        let file = config("");
        let mut wanted = file.clone();
        let tv = LocalRecord {
            name: "tv.home.example".into(),
            ..file.records[0].clone()
        };
        wanted.records.push(tv.clone());
        let layer = Layer::between(&file, &wanted, &Layer::default()).unwrap();
        // The file comes to define tv A: it serves, the layer's is reported.
        let mut newer = file.clone();
        newer.records.push(LocalRecord {
            value: "10.0.0.50".into(),
            ..tv.clone()
        });
        let (config, shadowed) = layer.over(&newer);
        assert_eq!(config.records, newer.records);
        assert_eq!(shadowed, ["record tv.home.example A 10.0.0.5"]);
        // A write meanwhile keeps the shadowed record for when the file drops its own.
        let mut more = config.clone();
        more.records.push(LocalRecord {
            name: "pc.home.example".into(),
            ..tv.clone()
        });
        let next = Layer::between(&newer, &more, &layer).unwrap();
        assert_eq!(next.records.len(), 2);
        assert_eq!(next.over(&file).0.records.len(), 3);
    }

    #[test]
    fn the_switches_are_the_apis_until_set_back() {
        let file = config("");
        let mut paused = file.clone();
        paused.dns.protection_enabled = false;
        paused.dns.protection_disabled_until = Some("2026-12-02T12:00:00Z".parse().unwrap());
        paused.dns.filtering_enabled = false;
        let layer = Layer::between(&file, &paused, &Layer::default()).unwrap();
        let switches = layer.switches.expect("held");
        assert!(!switches.protection_enabled && !switches.filtering_enabled);
        assert_eq!(layer.over(&file).0, paused);
        // Written and read back, as the layer's file keeps it.
        let text = serde_json::to_string(&layer).unwrap();
        assert_eq!(serde_json::from_str::<Layer>(&text).unwrap(), layer);
        // Set back to the file's, nothing is held.
        let back = Layer::between(&file, &file, &layer).unwrap();
        assert!(back.is_empty(), "{back:?}");
        // Another setting of `dns` stays the file's.
        let mut other = paused.clone();
        other.dns.blocked_ttl = 1;
        assert!(
            Layer::between(&file, &other, &layer)
                .unwrap_err()
                .contains("`dns`")
        );
    }

    #[test]
    fn lists_are_added_to_a_policy_of_the_file_not_taken_from_it() {
        let file = config(
            "lists: [ { id: ads, path: /nonexistent/ads.txt }, { id: adult, path: /nonexistent/adult.txt } ]",
        );
        let mut file = file;
        file.policies.get_mut("main").unwrap().lists = vec!["ads".into()];
        let mut wanted = file.clone();
        wanted.lists.push(ListSource {
            id: "extra".into(),
            ..file.lists[0].clone()
        });
        let main = wanted.policies.get_mut("main").unwrap();
        main.lists.extend(["adult".into(), "extra".into()]);
        let layer = Layer::between(&file, &wanted, &Layer::default()).unwrap();
        assert_eq!(layer.policy_lists["main"], ["adult", "extra"]);
        assert_eq!(layer.over(&file).0, wanted);
        // Taking the file's own list out of its policy is the file's to do.
        let mut fewer = wanted.clone();
        fewer.policies.get_mut("main").unwrap().lists.remove(0);
        assert!(
            Layer::between(&file, &fewer, &layer)
                .unwrap_err()
                .contains("policy \"main\"")
        );
        // The file comes to use `adult` itself: the layer's is shadowed, kept, reported.
        let mut newer = file.clone();
        newer
            .policies
            .get_mut("main")
            .unwrap()
            .lists
            .push("adult".into());
        let (served, shadowed) = layer.over(&newer);
        assert_eq!(served.policies["main"].lists, ["ads", "adult", "extra"]);
        assert_eq!(shadowed.len(), 1, "{shadowed:?}");
        assert!(
            shadowed[0].contains("list adult of policy main"),
            "{shadowed:?}"
        );
        let next = Layer::between(&newer, &served, &layer).unwrap();
        assert_eq!(
            next.over(&file).0.policies["main"].lists,
            ["ads", "extra", "adult"]
        );
    }

    #[test]
    fn a_layer_file_round_trips_and_a_bad_one_is_set_aside() {
        let dir = std::env::temp_dir().join(format!("ward-layer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let layer = Layer {
            policy_rules: BTreeMap::from([("main".into(), vec!["||x^".into()])]),
            ..Layer::default()
        };
        layer.save(&dir).unwrap();
        assert_eq!(Layer::load(&dir).unwrap(), layer);
        std::fs::write(dir.join(FILE_NAME), "{\"version\": 2}").unwrap();
        assert!(Layer::load(&dir).unwrap_err().contains("version 2"));
        let store = LayerStore::open(&dir);
        assert!(store.layer().is_empty());
        assert!(store.status().set_aside.unwrap().contains("set aside"));
        assert!(dir.join(format!("{FILE_NAME}.bad")).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
