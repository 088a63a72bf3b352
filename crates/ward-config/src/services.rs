//! The blocked-services catalogue (`blocklists/services/<id>.yaml`, shipped inside the
//! binary): for each online service (TikTok, YouTube, Roblox, ...) the rules that block
//! it and its category, with AdGuard Home's ids where it has the service. A policy
//! blocks services by id or by whole category (`blocked_services`).

use std::sync::LazyLock;

use serde::Deserialize;

/// The categories a service may have.
pub const CATEGORIES: [&str; 10] = [
    "social",
    "video",
    "games",
    "messaging",
    "music",
    "shopping",
    "dating",
    "streaming",
    "ai",
    "other",
];

#[derive(rust_embed::Embed)]
#[folder = "../../blocklists/services/"]
#[include = "*.yaml"]
struct Files;

/// One service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// Its id: the file's name (AdGuard Home's where it has one).
    pub id: String,
    /// Its name.
    pub name: String,
    /// One of [`CATEGORIES`].
    pub category: String,
    /// The rules that block it (`||tiktok.com^`).
    pub rules: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    category: String,
    rules: Vec<String>,
}

/// Parses every service file; the error names a file that does not parse (the tests
/// hold them all to it, so a start never meets one).
pub fn load() -> Result<Vec<Service>, String> {
    Ok(crate::embedded::yaml_files::<Files, File>()?
        .into_iter()
        .map(|(id, f)| Service {
            id,
            name: f.name,
            category: f.category,
            rules: f.rules,
        })
        .collect())
}

static SERVICES: LazyLock<Vec<Service>> = LazyLock::new(|| load().unwrap_or_default());

/// Every service, by id.
pub fn all() -> &'static [Service] {
    &SERVICES
}

/// The services that `names` (service ids and categories, as a policy's
/// `blocked_services` gives them) stand for, each once, in catalogue order; unknown names
/// stand for none (validation refuses them).
pub fn expand<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'static Service> {
    let names: Vec<&str> = names.into_iter().collect();
    SERVICES
        .iter()
        .filter(|s| names.iter().any(|n| *n == s.id || *n == s.category))
        .collect()
}

/// The service `id`, if there is one.
pub fn get(id: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.id == id)
}
