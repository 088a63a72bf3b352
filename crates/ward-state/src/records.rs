//! Local records: specific names override a wildcard, the most specific wildcard wins.

use std::collections::HashMap;

use ward_config::LocalRecord;

/// The config's `records`, indexed by name.
#[derive(Clone, Debug, Default)]
pub struct LocalRecords {
    /// Exact names.
    exact: HashMap<String, Vec<LocalRecord>>,
    /// `*.zone` records, keyed by `zone`.
    wildcard: HashMap<String, Vec<LocalRecord>>,
}

impl LocalRecords {
    /// Indexes the records (names lowercase, without the trailing dot).
    pub fn new(records: &[LocalRecord]) -> LocalRecords {
        let mut out = LocalRecords::default();
        for r in records {
            let name = r.name.trim_end_matches('.').to_ascii_lowercase();
            match name.strip_prefix("*.") {
                Some(zone) => out
                    .wildcard
                    .entry(zone.to_owned())
                    .or_default()
                    .push(r.clone()),
                None => out.exact.entry(name).or_default().push(r.clone()),
            }
        }
        out
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.wildcard.is_empty()
    }

    /// The records for `name`: its own if it has any, else those of the closest
    /// wildcard above it (`*.home.example.com` covers `nas.home.example.com` and
    /// `a.b.home.example.com`, not `home.example.com`).
    pub fn lookup(&self, name: &str) -> Option<&[LocalRecord]> {
        if let Some(own) = self.exact.get(name) {
            return Some(own);
        }
        let mut rest = name;
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(wild) = self.wildcard.get(parent) {
                return Some(wild);
            }
            rest = parent;
        }
        None
    }
}
