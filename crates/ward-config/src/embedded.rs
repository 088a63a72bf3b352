//! Data folders shipped inside the binary (`blocklists/services/`, `blocklists/safesearch/`):
//! one YAML file per entry, its id the file's name.

use serde::de::DeserializeOwned;

/// Every `<id>.yaml` of the embedded folder `E`, parsed, by id; the error names a file
/// that does not parse.
pub(crate) fn yaml_files<E: rust_embed::RustEmbed, T: DeserializeOwned>()
-> Result<Vec<(String, T)>, String> {
    let mut entries = Vec::new();
    for path in E::iter() {
        let Some(id) = path.strip_suffix(".yaml") else {
            continue;
        };
        let file = E::get(&path).ok_or_else(|| format!("{path}: missing"))?;
        let text = std::str::from_utf8(&file.data).map_err(|e| format!("{path}: {e}"))?;
        let parsed = serde_norway::from_str(text).map_err(|e| format!("{path}: {e}"))?;
        entries.push((id.to_owned(), parsed));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}
