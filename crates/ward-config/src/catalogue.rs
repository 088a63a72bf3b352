//! The catalogue of well-known public lists (`blocklists/catalogue.yaml`, shipped inside
//! the binary): a list in the config can name an entry (`{ id: ads, catalogue:
//! adguard-dns }`) instead of a URL, and is downloaded from the entry's URL, refreshed
//! daily unless the config says otherwise.

use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The catalogue's text, as the repository has it.
const TEXT: &str = include_str!("../../../blocklists/catalogue.yaml");

/// How often a catalogue list is downloaded again when its config entry sets no `refresh`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(24 * 3600);

/// The categories an entry may have.
pub const CATEGORIES: [&str; 8] = [
    "ads",
    "trackers",
    "malware",
    "phishing",
    "adult",
    "gambling",
    "social",
    "telemetry",
];

/// The formats an entry may have: what its lines are.
pub const FORMATS: [&str; 3] = ["adblock", "hosts", "domains"];

/// One well-known list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueEntry {
    /// What the config names (`catalogue: adguard-dns`).
    pub id: String,
    /// Its name, as its maintainer gives it.
    pub name: String,
    /// Where it is downloaded from.
    pub url: String,
    /// `adblock`, `hosts` or `domains`.
    pub format: String,
    /// Its licence, as an SPDX identifier.
    pub licence: String,
    /// What it blocks: one of [`CATEGORIES`].
    pub category: String,
    /// Who keeps it.
    pub maintainer: String,
    /// The list the embedded default config uses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    lists: Vec<CatalogueEntry>,
}

static CATALOGUE: LazyLock<Vec<CatalogueEntry>> = LazyLock::new(|| {
    // Checked by the tests below: a catalogue that does not parse fails them, not a start.
    serde_norway::from_str::<File>(TEXT)
        .map(|f| f.lists)
        .unwrap_or_default()
});

/// The entries' URLs on a mirror, when [`set_mirror`] gave one.
static MIRRORED: OnceLock<Vec<String>> = OnceLock::new();

/// Downloads catalogue lists from `base` instead of their maintainers' URLs: entry `id`
/// from `<base>/<id>.txt`. For a network without internet access that mirrors the lists
/// it uses (the binary sets it from `WARD_CATALOGUE_MIRROR`; the tests from a local
/// server). Only the first call counts: the URLs stay the same for the process's life.
pub fn set_mirror(base: &str) {
    let base = base.trim_end_matches('/');
    let _ = MIRRORED.set(
        CATALOGUE
            .iter()
            .map(|e| format!("{base}/{}.txt", e.id))
            .collect(),
    );
}

impl CatalogueEntry {
    /// Where the list is downloaded from: its URL, or its file on the mirror.
    pub fn download_url(&self) -> &str {
        let mirrored = MIRRORED.get().and_then(|urls| {
            let i = CATALOGUE.iter().position(|e| e.id == self.id)?;
            urls.get(i)
        });
        mirrored.map_or(self.url.as_str(), String::as_str)
    }
}

/// Every entry, in the catalogue's order.
pub fn entries() -> &'static [CatalogueEntry] {
    &CATALOGUE
}

/// The entry `id`, if the catalogue has it.
pub fn get(id: &str) -> Option<&'static CatalogueEntry> {
    CATALOGUE.iter().find(|e| e.id == id)
}

/// The ids, for error messages.
pub fn ids() -> Vec<&'static str> {
    CATALOGUE.iter().map(|e| e.id.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_catalogue_parses_and_every_entry_is_well_formed() {
        let parsed: File = serde_norway::from_str(TEXT).expect("blocklists/catalogue.yaml parses");
        assert_eq!(parsed.lists, entries());
        assert!(entries().len() >= 15, "{} entries", entries().len());
        let mut ids = HashSet::new();
        let mut urls = HashSet::new();
        for e in entries() {
            assert!(ids.insert(&e.id), "{}: a second entry with this id", e.id);
            assert!(
                urls.insert(&e.url),
                "{}: a second entry with this url",
                e.id
            );
            assert!(
                !e.id.is_empty()
                    && e.id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}: ids are lowercase words joined by -",
                e.id
            );
            assert!(
                e.url.starts_with("https://"),
                "{}: {} is not https",
                e.id,
                e.url
            );
            assert!(
                FORMATS.contains(&e.format.as_str()),
                "{}: format {}",
                e.id,
                e.format
            );
            assert!(
                CATEGORIES.contains(&e.category.as_str()),
                "{}: category {}",
                e.id,
                e.category
            );
            assert!(
                !e.name.trim().is_empty() && !e.maintainer.trim().is_empty(),
                "{}",
                e.id
            );
            assert!(
                !e.licence.is_empty() && !e.licence.contains(' '),
                "{}: licence {:?} is not an SPDX identifier",
                e.id,
                e.licence
            );
            assert!(
                crate::values::check_list_url(&e.url).is_ok(),
                "{}: {}",
                e.id,
                e.url
            );
        }
        let defaults: Vec<&str> = entries()
            .iter()
            .filter(|e| e.default)
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(defaults, ["adguard-dns"], "exactly one default list");
        // Every category has a list.
        for category in CATEGORIES {
            assert!(
                entries().iter().any(|e| e.category == category),
                "no list for {category}"
            );
        }
        // Sorted by category (in CATEGORIES' order), then id, as the file says.
        let order: Vec<(usize, &str)> = entries()
            .iter()
            .map(|e| {
                (
                    CATEGORIES.iter().position(|c| *c == e.category).unwrap(),
                    e.id.as_str(),
                )
            })
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
    }

    #[test]
    fn a_catalogue_list_downloads_from_its_entry_daily_unless_told() {
        let list = |yaml: &str| serde_norway::from_str::<crate::ListSource>(yaml).unwrap();
        let named = list("{ id: ads, catalogue: adguard-dns }");
        assert_eq!(
            named.download_url(),
            Some(get("adguard-dns").unwrap().url.as_str())
        );
        assert_eq!(named.refresh_every(), Some(DEFAULT_REFRESH));
        let hourly = list("{ id: ads, catalogue: adguard-dns, refresh: 1h }");
        assert_eq!(hourly.refresh_every(), Some(Duration::from_secs(3600)));
        let own = list("{ id: ads, url: \"https://x.example/l.txt\" }");
        assert_eq!(own.download_url(), Some("https://x.example/l.txt"));
        assert_eq!(
            own.refresh_every(),
            Some(DEFAULT_REFRESH),
            "daily, as a catalogue list"
        );
        let file = list("{ id: ads, path: /etc/ward/ads.txt }");
        assert_eq!((file.download_url(), file.refresh_every()), (None, None));
        // As written: the resolved URL is not put into the config.
        assert_eq!(
            serde_norway::to_string(&named).unwrap().trim(),
            "id: ads\ncatalogue: adguard-dns\nenabled: true"
        );
    }
}
