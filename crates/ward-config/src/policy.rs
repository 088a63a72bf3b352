//! A policy as the query path sees it: `extends` resolved.

use crate::model::{BlockingMode, Config, SafeSearch, Schedule};

/// A policy with everything it inherits through `extends` folded in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    /// The policy's name.
    pub name: String,
    /// List ids: the ancestors' first, then the policy's own; each once, in that order.
    pub lists: Vec<String>,
    /// Custom rules: the ancestors' first, then the policy's own.
    pub rules: Vec<String>,
    /// The upstream group: the nearest one set along `extends`, else `default`.
    pub upstream: String,
    /// The blocking mode: the nearest one set along `extends`, else `dns.blocking_mode`.
    pub blocking_mode: BlockingMode,
    /// Safe search: the nearest one set along `extends`, else off.
    pub safe_search: SafeSearch,
    /// Blocked services and categories: the ancestors' first, then the policy's own;
    /// each once.
    pub blocked_services: Vec<String>,
    /// Schedules: the ancestors' first, then the policy's own, each with its name set
    /// (`<policy>#<n>`, 1-based, when the config gives none).
    pub schedules: Vec<Schedule>,
}

/// The upstream group used when no policy along `extends` names one.
pub const DEFAULT_UPSTREAM: &str = "default";

impl Config {
    /// The policy `name` with its ancestors folded in; `None` if there is no such policy.
    ///
    /// On a validated config the upstream group exists. On an unvalidated one a cycle in
    /// `extends` is cut where it closes and an unknown parent ends the chain.
    pub fn effective_policy(&self, name: &str) -> Option<EffectivePolicy> {
        self.policies.get(name)?;
        // Root first: walk up, then fold down.
        let mut chain = Vec::new();
        let mut next = Some(name);
        while let Some(n) = next {
            if chain.contains(&n) {
                break;
            }
            let Some(p) = self.policies.get(n) else { break };
            chain.push(n);
            next = p.extends.as_deref();
        }
        let mut lists: Vec<String> = Vec::new();
        let mut rules = Vec::new();
        let mut upstream = None;
        let mut blocking_mode = None;
        let mut safe_search = None;
        let mut blocked_services: Vec<String> = Vec::new();
        let mut schedules = Vec::new();
        for n in chain.iter().rev() {
            let p = &self.policies[*n];
            for l in &p.lists {
                if !lists.contains(l) {
                    lists.push(l.clone());
                }
            }
            rules.extend(p.rules.iter().cloned());
            upstream = p.upstream.clone().or(upstream);
            blocking_mode = p.blocking_mode.or(blocking_mode);
            safe_search = p.safe_search.clone().or(safe_search);
            for s in &p.blocked_services {
                if !blocked_services.contains(s) {
                    blocked_services.push(s.clone());
                }
            }
            for (i, s) in p.schedules.iter().enumerate() {
                let mut s = s.clone();
                s.name.get_or_insert_with(|| format!("{n}#{}", i + 1));
                schedules.push(s);
            }
        }
        Some(EffectivePolicy {
            name: name.to_owned(),
            lists,
            rules,
            upstream: upstream.unwrap_or_else(|| DEFAULT_UPSTREAM.to_owned()),
            blocking_mode: blocking_mode.unwrap_or(self.dns.blocking_mode),
            safe_search: safe_search.unwrap_or(SafeSearch::All(false)),
            blocked_services,
            schedules,
        })
    }

    /// Every policy, resolved, by name.
    pub fn effective_policies(&self) -> Vec<EffectivePolicy> {
        self.policies
            .keys()
            .filter_map(|n| self.effective_policy(n))
            .collect()
    }
}
