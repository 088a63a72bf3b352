//! The safe-search providers (`blocklists/safesearch/<id>.yaml`, shipped inside the
//! binary): for each search engine the names to answer with its enforcement host's
//! addresses (as AdGuard Home does), and for YouTube the moderate host beside the strict
//! one. A policy turns them on (`safe_search`).

use std::sync::LazyLock;

use serde::Deserialize;

#[derive(rust_embed::Embed)]
#[folder = "../../blocklists/safesearch/"]
#[include = "*.yaml"]
struct Files;

/// One provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// Its id: the file's name (`google`, `youtube`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The host whose addresses answer its names (strict where it has two levels).
    pub enforce: String,
    /// YouTube's moderate host, for providers that have one.
    pub moderate: Option<String>,
    /// The names answered with the enforcement host's addresses.
    pub names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    enforce: String,
    #[serde(default)]
    moderate: Option<String>,
    names: Vec<String>,
}

/// AdGuard Home's safe-search providers, in its field order: the keys of its
/// `safe_search` objects, which are Ward's provider ids.
pub const ADGUARD_PROVIDERS: [&str; 7] = [
    "bing",
    "duckduckgo",
    "ecosia",
    "google",
    "pixabay",
    "yandex",
    "youtube",
];

/// Parses every provider file; the error names a file that does not parse.
pub fn load() -> Result<Vec<Provider>, String> {
    Ok(crate::embedded::yaml_files::<Files, File>()?
        .into_iter()
        .map(|(id, f)| Provider {
            id,
            name: f.name,
            enforce: f.enforce,
            moderate: f.moderate,
            names: f.names,
        })
        .collect())
}

static PROVIDERS: LazyLock<Vec<Provider>> = LazyLock::new(|| load().unwrap_or_default());

/// Every provider, by id.
pub fn all() -> &'static [Provider] {
    &PROVIDERS
}

/// The provider `id`, if there is one.
pub fn get(id: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn every_provider_file_parses_with_valid_names_and_no_name_twice() {
        let all = load().expect("every safe-search file parses");
        let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ADGUARD_PROVIDERS, "AdGuard Home's providers, no other");
        let mut owner: HashMap<&str, &str> = HashMap::new();
        for p in &all {
            for host in std::iter::once(&p.enforce).chain(p.moderate.as_ref()) {
                assert_eq!(crate::name::normalise(host), *host, "{}: {host}", p.id);
                assert!(host.contains('.'), "{}: {host}", p.id);
            }
            assert!(!p.names.is_empty(), "{}", p.id);
            for name in &p.names {
                assert_eq!(
                    crate::name::normalise(name),
                    *name,
                    "{}: {name} is not a lowercase name",
                    p.id
                );
                assert!(
                    name.contains('.') && !name.starts_with("*."),
                    "{}: {name}",
                    p.id
                );
                assert_ne!(
                    name, &p.enforce,
                    "{}: the enforcement host rewrites to itself",
                    p.id
                );
                if let Some(other) = owner.insert(name.as_str(), p.id.as_str()) {
                    panic!("{name} is in both {other} and {}", p.id);
                }
            }
        }
        let google = get("google").unwrap();
        assert_eq!(google.enforce, "forcesafesearch.google.com");
        for name in [
            "www.google.com",
            "www.google.de",
            "www.google.co.uk",
            "google.com.br",
        ] {
            assert!(google.names.iter().any(|n| n == name), "{name}");
        }
        let youtube = get("youtube").unwrap();
        assert_eq!(youtube.enforce, "restrict.youtube.com");
        assert_eq!(
            youtube.moderate.as_deref(),
            Some("restrictmoderate.youtube.com")
        );
        assert!(
            all.iter()
                .filter(|p| p.id != "youtube")
                .all(|p| p.moderate.is_none())
        );
    }
}
