//! What `GET /api/v1/status` says about the served state: the snapshot's generation and
//! lists, the last reload's outcome, download activity.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use ward_rules::SkipReason;

use crate::download::{CopyInfo, Downloader};
use crate::refresh::{Activity, ListActivity};
use crate::reload::{ReloadCounts, ReloadReport, Reloader};

/// The served state, for the status endpoint.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The generation of the snapshot serving (1 at start, +1 per applied reload).
    pub generation: u64,
    /// The config file reloads read, if any (else the embedded default serves).
    pub config_file: Option<String>,
    /// The revision of the config serving ([`crate::revision`]).
    pub config_revision: String,
    /// Rules compiled from all enabled lists.
    pub rules: u64,
    /// The trigger of the reload compiling now, if one is.
    pub reloading: Option<String>,
    /// The last reload.
    pub last_reload: Option<ReloadReport>,
    /// The last reload that applied a config or refused one (an API write's save is
    /// reloaded once more by the file watcher, which finds nothing new: `last_reload`
    /// then says `unchanged`, this says what the write did).
    pub last_change: Option<ReloadReport>,
    /// Reloads so far, by outcome.
    pub reloads: ReloadCounts,
    /// Every configured list, in config order.
    pub lists: Vec<ListStatus>,
    /// What filters less than the config asks: an enabled list with no copy yet (its
    /// download failed: no network at first start), naming the policies that go without.
    pub warnings: Vec<String>,
}

/// One list's state.
#[derive(Clone, Debug, Serialize)]
pub struct ListStatus {
    /// Its id.
    pub id: String,
    /// `path`, `url` or `catalogue` (downloaded from the catalogue entry's URL, which
    /// `location` gives).
    pub source: &'static str,
    /// The file or URL.
    pub location: String,
    /// Whether policies use it.
    pub enabled: bool,
    /// Whether it is an allowlist (its matches let names through).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow: bool,
    /// Rules compiled from it.
    pub rules: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines skipped (not rules Ward can apply).
    pub skipped: u64,
    /// The skipped lines by reason (`cosmetic`, `unsupported_modifier`, ...), the reasons
    /// with none left out.
    pub skipped_by_reason: BTreeMap<&'static str, u64>,
    /// The last reload's problem with it (its previous copy, if any, still serves).
    pub error: Option<String>,
    /// The last good download on disk (URL lists).
    pub copy: Option<CopyInfo>,
    /// Downloads and refreshes.
    pub activity: Option<ListActivity>,
}

impl Status {
    /// Gathers the status from the reloader, the refresh activity and the copies on disk.
    pub fn gather(reloader: &Reloader, activity: &Activity, downloader: &Downloader) -> Status {
        let snapshot = reloader.current();
        let errors: HashMap<&str, &str> = snapshot
            .list_errors
            .iter()
            .map(|(id, e)| (id.as_str(), e.as_str()))
            .collect();
        let mut active = activity.all();
        let lists = snapshot
            .config
            .lists
            .iter()
            .map(|l| {
                let compiled = snapshot.list(&l.id);
                let stats = compiled
                    .and_then(|c| c.rules.lists().next().map(|(_, _, s)| s.clone()))
                    .unwrap_or_default();
                let (source, location) = match (&l.path, l.download_url()) {
                    (Some(p), _) => ("path", p.display().to_string()),
                    (None, Some(u)) if l.catalogue.is_some() => ("catalogue", u.to_owned()),
                    (None, Some(u)) => ("url", u.to_owned()),
                    (None, None) => ("path", String::new()),
                };
                ListStatus {
                    id: l.id.clone(),
                    source,
                    location,
                    enabled: l.enabled,
                    allow: l.allow,
                    rules: stats.rules,
                    lines: stats.lines,
                    skipped: stats.skipped_total(),
                    skipped_by_reason: SkipReason::ALL
                        .iter()
                        .map(|r| (r.as_str(), stats.skipped(*r)))
                        .filter(|(_, n)| *n > 0)
                        .collect(),
                    error: errors.get(l.id.as_str()).map(|e| (*e).to_owned()),
                    copy: l.download_url().and_then(|_| downloader.copy_info(&l.id)),
                    activity: active.remove(&l.id),
                }
            })
            .collect::<Vec<ListStatus>>();
        let warnings = snapshot
            .config
            .lists
            .iter()
            .filter(|l| {
                l.enabled
                    && snapshot
                        .list(&l.id)
                        .is_none_or(|c| c.rules.rule_count() == 0)
            })
            .filter_map(|l| {
                let error = errors.get(l.id.as_str())?;
                let users: Vec<&str> = snapshot
                    .policies
                    .iter()
                    .filter(|p| {
                        snapshot
                            .config
                            .effective_policy(&p.name)
                            .is_some_and(|e| e.lists.contains(&l.id))
                    })
                    .map(|p| p.name.as_str())
                    .collect();
                let download = lists
                    .iter()
                    .find(|s: &&ListStatus| s.id == l.id)
                    .and_then(|s| s.activity.as_ref()?.last_error.as_deref())
                    .map(|e| format!("; the last download failed: {e}"))
                    .unwrap_or_default();
                let who = match users.as_slice() {
                    [] => "no policy uses it".to_owned(),
                    [one] => format!("policy {one} filters without it"),
                    many => format!("policies {} filter without it", many.join(", ")),
                };
                Some(format!(
                    "list {} has no rules ({error}{download}): {who}",
                    l.id
                ))
            })
            .collect();
        Status {
            generation: snapshot.generation,
            config_file: reloader.config_path().map(|p| p.display().to_string()),
            config_revision: snapshot.revision(),
            rules: snapshot.rule_count(),
            reloading: reloader.running(),
            last_reload: reloader.last(),
            last_change: reloader.last_change(),
            reloads: reloader.counts(),
            lists,
            warnings,
        }
    }
}
