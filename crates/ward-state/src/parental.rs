//! A policy's parental controls, compiled: blocked services, safe search and schedules.
//!
//! The services of `blocklists/services/` compile once per process into one rule set, one
//! list per service, shared by every policy and every snapshot: a policy blocks services
//! with a [`ListMask`] over it, so blocking thirty services costs one lookup, not thirty.
//! Safe search is a table from a provider's names to the provider, and per policy the
//! enforcement host of each provider it enforces. A schedule is a [`Window`] and what it
//! changes while open; which of a policy's schedules are open is worked out once a minute
//! (windows are whole minutes) and kept in one atomic word, so a query pays one clock read
//! and one load.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use ward_config::window::{Timestamp, Window, Zone};
use ward_config::{EffectivePolicy, SafeSearchLevel, safesearch, services};
use ward_rules::{ListId, ListMask, RuleSet};

/// Every service's rules: list `i` of the rule set is service `i` of
/// [`ward_config::services::all`].
pub struct ServiceRules {
    /// The rules, one list per service (named `service <id>`).
    pub rules: RuleSet,
}

static SERVICE_RULES: LazyLock<ServiceRules> = LazyLock::new(|| {
    let mut builder = RuleSet::builder();
    for s in services::all() {
        // At most MAX_LISTS services: a test holds the catalogue to it.
        let _ = builder.add_list(format!("service {}", s.id), s.rules.join("\n"));
    }
    ServiceRules {
        rules: builder.build(),
    }
});

/// The compiled services (compiled on first use).
pub fn service_rules() -> &'static ServiceRules {
    &SERVICE_RULES
}

/// The service a rule of [`service_rules`] blocks.
pub fn service_of(list: ListId) -> Option<&'static services::Service> {
    services::all().get(usize::from(list.0))
}

/// The services `names` (ids and categories) stand for, as a mask over [`service_rules`].
fn service_mask<'a>(names: impl IntoIterator<Item = &'a String>) -> ListMask {
    let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
    let mut mask = ListMask::none();
    for (i, s) in services::all().iter().enumerate() {
        if names.iter().any(|n| *n == s.id || *n == s.category) {
            mask.insert(ListId(i as u16));
        }
    }
    mask
}

/// Every provider's names, to the provider's index in [`safesearch::all`].
static SAFE_SEARCH_NAMES: LazyLock<HashMap<&'static str, usize>> = LazyLock::new(|| {
    let mut names = HashMap::new();
    for (i, p) in safesearch::all().iter().enumerate() {
        for n in &p.names {
            names.insert(n.as_str(), i);
        }
    }
    names
});

/// The index in [`safesearch::all`] of the provider whose names include `name`
/// (lowercase, no trailing dot).
pub fn safe_search_index(name: &str) -> Option<usize> {
    SAFE_SEARCH_NAMES.get(name).copied()
}

/// The safe-search provider whose names include `name` (lowercase, no trailing dot).
pub fn safe_search_provider(name: &str) -> Option<&'static safesearch::Provider> {
    safe_search_index(name).and_then(|i| safesearch::all().get(i))
}

/// One schedule of a policy, compiled.
#[derive(Debug)]
pub struct CompiledSchedule {
    /// Its name (the config's, or `<policy>#<n>`).
    pub name: String,
    window: Window,
    /// Every name is blocked while it is open.
    pub block_all: bool,
    /// Services blocked while it is open.
    pub block_services: ListMask,
    /// Services let through while it is open.
    pub allow_services: ListMask,
    /// Lists (indices into the snapshot's) applied while it is open.
    pub block_lists: Vec<usize>,
    /// Lists (indices into the snapshot's) not applied while it is open.
    pub pause_lists: Vec<usize>,
}

/// A policy's parental controls.
#[derive(Debug)]
pub struct Controls {
    /// The services it always blocks.
    pub services: ListMask,
    /// By provider (the index in [`safesearch::all`]): the host its names are answered
    /// with, when the policy enforces it.
    pub safe_search: Vec<Option<&'static str>>,
    /// Its schedules, the inherited ones first.
    pub schedules: Vec<CompiledSchedule>,
    /// The zone of schedules that name none.
    zone: Zone,
    /// `(minute since the epoch + 1) << 32 | open schedules` of the last minute asked
    /// about; 0 before the first.
    open: AtomicU64,
}

impl Controls {
    /// Compiles a policy's controls; `list_index` finds a list's index in the snapshot
    /// (lists that are disabled or failed have none and are left out).
    pub fn new(
        policy: &EffectivePolicy,
        zone: Zone,
        list_index: impl Fn(&str) -> Option<usize>,
    ) -> Controls {
        let safe_search = safesearch::all()
            .iter()
            .map(|p| match policy.safe_search.level(&p.id) {
                SafeSearchLevel::Off => None,
                SafeSearchLevel::Strict => Some(p.enforce.as_str()),
                SafeSearchLevel::Moderate => {
                    Some(p.moderate.as_deref().unwrap_or(p.enforce.as_str()))
                }
            })
            .collect();
        let lists = |ids: &[String]| -> Vec<usize> {
            let mut v: Vec<usize> = ids.iter().filter_map(|id| list_index(id)).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let schedules = policy
            .schedules
            .iter()
            .map(|s| CompiledSchedule {
                name: s.name.clone().unwrap_or_default(),
                window: s.window(),
                block_all: s.block_all,
                block_services: service_mask(&s.block_services),
                allow_services: service_mask(&s.allow_services),
                block_lists: lists(&s.block_lists),
                pause_lists: lists(&s.pause_lists),
            })
            .collect();
        Controls {
            services: service_mask(&policy.blocked_services),
            safe_search,
            schedules,
            zone,
            open: AtomicU64::new(0),
        }
    }

    /// Whether the policy enforces any safe search.
    pub fn has_safe_search(&self) -> bool {
        self.safe_search.iter().any(Option::is_some)
    }

    /// The schedules open at `at`, as a bit mask (bit `i`: schedule `i`).
    pub fn open_at(&self, at: Timestamp) -> u32 {
        self.schedules
            .iter()
            .enumerate()
            .filter(|(_, s)| s.window.contains(at, &self.zone))
            .fold(0, |mask, (i, _)| mask | 1 << i)
    }

    /// The schedules open now: worked out once a minute, else one atomic load.
    pub fn open_now(&self) -> u32 {
        if self.schedules.is_empty() {
            return 0;
        }
        let now = Timestamp::now();
        let minute = now.as_second().div_euclid(60) as u64 + 1;
        let seen = self.open.load(Ordering::Relaxed);
        if seen >> 32 == minute {
            return seen as u32;
        }
        let open = self.open_at(now);
        self.open
            .store(minute << 32 | u64::from(open), Ordering::Relaxed);
        open
    }

    /// `open` without the schedules that block every name.
    pub fn without_block_all(&self, open: u32) -> u32 {
        self.schedules
            .iter()
            .enumerate()
            .filter(|(_, s)| s.block_all)
            .fold(open, |open, (i, _)| open & !(1 << i))
    }

    /// The services blocked while the schedules of `open` are: the policy's, those the
    /// open schedules add, less those they let through.
    pub fn services_while(&self, open: u32) -> ListMask {
        let mut mask = self.services;
        for s in self.open_schedules(open) {
            mask.union_with(&s.block_services);
        }
        for s in self.open_schedules(open) {
            mask.difference_with(&s.allow_services);
        }
        mask
    }

    /// The schedules of `open`, with their indices.
    pub fn open_schedules(&self, open: u32) -> impl Iterator<Item = &CompiledSchedule> {
        self.schedules
            .iter()
            .enumerate()
            .filter(move |(i, _)| open & (1 << i) != 0)
            .map(|(_, s)| s)
    }

    /// The index of the first schedule of `open` for which `pick` holds.
    pub fn first_open(&self, open: u32, pick: impl Fn(&CompiledSchedule) -> bool) -> Option<usize> {
        self.schedules
            .iter()
            .enumerate()
            .find(|(i, s)| open & (1 << i) != 0 && pick(s))
            .map(|(i, _)| i)
    }
}
