//! YAML text -> [`Config`], one section and one entry at a time.
//!
//! serde stops at the first error. To report every typo at once, the document is first read
//! as a `serde_norway::Value`, then each section, and each entry of a sequence or named
//! mapping, is deserialized on its own. An entry that fails is left out and its error kept;
//! the entries that parse still go through validation, so one bad list entry does not hide
//! a bad subnet further down. The structs themselves (with `deny_unknown_fields`) stay the
//! one definition of the shape.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_norway::{Mapping, Value};

use crate::error::{ErrorKind, FieldError, FieldPath, Location, PathSegment};
use crate::model::{Config, RecordKind};
use crate::name;

/// The top-level keys, in the order of [`Config`].
pub(crate) const SECTIONS: &[&str] = &[
    "dns",
    "admin",
    "upstreams",
    "forward",
    "records",
    "lists",
    "policies",
    "clients",
    "default_policy",
    "cache",
    "data_dir",
    "sync",
    "query_log",
    "list_dirs",
    "external_dns",
    "time_zone",
];

/// A config read from a file, and what validation needs to know about the parts left out.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// The entries that parsed.
    pub(crate) config: Option<Config>,
    /// For each sequence section, the file index of each entry kept.
    pub(crate) origin: Origin,
    /// Sections with an entry left out: references into them are not checked, since the
    /// missing entry may be the one referred to.
    pub(crate) incomplete: Incomplete,
}

/// File indices of the entries of the sequence sections (identity when nothing failed).
#[derive(Debug, Default, Clone)]
pub(crate) struct Origin {
    pub(crate) forward: Option<Vec<usize>>,
    pub(crate) records: Option<Vec<usize>>,
    pub(crate) lists: Option<Vec<usize>>,
    pub(crate) clients: Option<Vec<usize>>,
}

impl Origin {
    /// The file index of entry `i` of a section's kept entries.
    pub(crate) fn of(kept: &Option<Vec<usize>>, i: usize) -> usize {
        kept.as_ref().and_then(|k| k.get(i).copied()).unwrap_or(i)
    }
}

/// Sections with entries left out, so that references to them are not reported as unknown.
#[derive(Debug, Default, Clone)]
pub(crate) struct Incomplete {
    pub(crate) upstreams: Partial,
    pub(crate) lists: Partial,
    pub(crate) policies: Partial,
    /// `default_policy` is missing or not a string.
    pub(crate) default_policy: bool,
}

/// The entries of a section that did not parse.
#[derive(Debug, Default, Clone)]
pub(crate) struct Partial {
    /// Their names, when they could be read.
    pub(crate) names: Vec<String>,
    /// Whether one had no readable name (then any name may be one of them).
    pub(crate) unnamed: bool,
}

impl Partial {
    /// Whether `name` may be an entry that was left out.
    pub(crate) fn covers(&self, name: &str) -> bool {
        self.unnamed || self.names.iter().any(|n| n == name)
    }
}

/// Parse `text`; errors go to `errors` with their paths (and the syntax error's location).
pub(crate) fn parse(text: &str, errors: &mut Vec<FieldError>) -> Parsed {
    let mut parsed = Parsed::default();
    let root: Value = match serde_norway::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let location = e.location().map(|l| Location {
                line: l.line(),
                column: l.column(),
            });
            let mut message = e.to_string();
            if let Some(at) = message.rfind(" at line ") {
                message.truncate(at);
            }
            errors.push(
                FieldError::new(FieldPath::root(), ErrorKind::Syntax { message }).at(location),
            );
            return parsed;
        }
    };
    let root = match root {
        Value::Null => Mapping::new(),
        Value::Mapping(m) => m,
        other => {
            errors.push(FieldError::new(
                FieldPath::root(),
                ErrorKind::InvalidValue {
                    message: format!(
                        "a config is a mapping of sections (dns, upstreams, policies, ...), \
                         not {}",
                        describe(&other)
                    ),
                },
            ));
            return parsed;
        }
    };

    let mut config = Config {
        dns: Default::default(),
        admin: Default::default(),
        upstreams: BTreeMap::new(),
        forward: Vec::new(),
        records: Vec::new(),
        lists: Vec::new(),
        policies: BTreeMap::new(),
        clients: Vec::new(),
        default_policy: String::new(),
        cache: Default::default(),
        data_dir: None,
        sync: Default::default(),
        query_log: Default::default(),
        list_dirs: Vec::new(),
        external_dns: Default::default(),
        time_zone: None,
    };
    let mut has_default_policy = false;
    let mut d = Decoder { errors };
    for (key, value) in root {
        let Some(key) = scalar_key(&key) else {
            d.push(
                FieldPath::root(),
                ErrorKind::InvalidValue {
                    message: format!("a section name is a string, not {}", describe(&key)),
                },
            );
            continue;
        };
        let at = FieldPath::root().key(&key);
        let value = if value.is_null()
            && key != "default_policy"
            && key != "data_dir"
            && key != "time_zone"
        {
            // `clients:` with every entry commented out means no clients.
            Value::Mapping(Mapping::new())
        } else {
            value
        };
        match key.as_str() {
            "dns" => {
                d.whole(value, &at, &mut config.dns);
            }
            "admin" => {
                d.whole(value, &at, &mut config.admin);
            }
            "cache" => {
                d.whole(value, &at, &mut config.cache);
            }
            "data_dir" => {
                d.whole(value, &at, &mut config.data_dir);
            }
            "sync" => {
                d.whole(value, &at, &mut config.sync);
            }
            "query_log" => {
                d.whole(value, &at, &mut config.query_log);
            }
            "external_dns" => {
                d.whole(value, &at, &mut config.external_dns);
            }
            "time_zone" => {
                d.whole(value, &at, &mut config.time_zone);
            }
            // `list_dirs:` with every entry commented out means the default directories.
            "list_dirs" if value.as_mapping().is_some_and(Mapping::is_empty) => {}
            "list_dirs" => {
                d.whole(value, &at, &mut config.list_dirs);
            }
            "default_policy" => {
                has_default_policy = d.whole(value, &at, &mut config.default_policy);
            }
            "upstreams" => {
                parsed.incomplete.upstreams = d.named(value, &at, &mut config.upstreams);
            }
            "policies" => {
                parsed.incomplete.policies = d.named(value, &at, &mut config.policies);
            }
            "forward" => parsed.origin.forward = d.sequence(value, &at, &mut config.forward).0,
            "records" => parsed.origin.records = d.sequence(value, &at, &mut config.records).0,
            "clients" => parsed.origin.clients = d.sequence(value, &at, &mut config.clients).0,
            "lists" => {
                let (kept, failed) = d.sequence(value, &at, &mut config.lists);
                parsed.origin.lists = kept;
                parsed.incomplete.lists = failed;
            }
            _ => d.push(
                at,
                ErrorKind::UnknownField {
                    field: key.clone(),
                    expected: expected(SECTIONS),
                },
            ),
        }
    }
    if !has_default_policy {
        parsed.incomplete.default_policy = true;
        let path = FieldPath::root().key("default_policy");
        if !d.errors.iter().any(|e| *e.path() == path) {
            d.push(
                path,
                ErrorKind::MissingField {
                    field: "default_policy".to_owned(),
                },
            );
        }
    }
    config.normalise();
    parsed.config = Some(config);
    parsed
}

struct Decoder<'e> {
    errors: &'e mut Vec<FieldError>,
}

impl Decoder<'_> {
    fn push(&mut self, path: FieldPath, kind: ErrorKind) {
        self.errors.push(FieldError::new(path, kind));
    }

    /// One value; `false` (and `out` unchanged) if it does not parse.
    fn whole<T: DeserializeOwned>(&mut self, value: Value, at: &FieldPath, out: &mut T) -> bool {
        match decode(value, at) {
            Ok(v) => {
                *out = v;
                true
            }
            Err(e) => {
                self.errors.extend(e);
                false
            }
        }
    }

    /// A mapping of named entries, each parsed alone; returns the entries left out.
    fn named<T: DeserializeOwned>(
        &mut self,
        value: Value,
        at: &FieldPath,
        out: &mut BTreeMap<String, T>,
    ) -> Partial {
        let mut failed = Partial::default();
        let Value::Mapping(map) = value else {
            self.push(
                at.clone(),
                ErrorKind::InvalidValue {
                    message: format!("expected a mapping of names, found {}", describe(&value)),
                },
            );
            failed.unnamed = true;
            return failed;
        };
        for (k, v) in map {
            let Some(k) = scalar_key(&k) else {
                self.push(
                    at.clone(),
                    ErrorKind::InvalidValue {
                        message: format!("a name is a string, not {}", describe(&k)),
                    },
                );
                failed.unnamed = true;
                continue;
            };
            let v = if v.is_null() {
                Value::Mapping(Mapping::new())
            } else {
                v
            };
            match decode(v, &at.key(&k)) {
                Ok(v) => {
                    out.insert(k, v);
                }
                Err(e) => {
                    self.errors.extend(e);
                    failed.names.push(k);
                }
            }
        }
        failed
    }

    /// A sequence, each entry parsed alone. Returns the file indices of the entries kept
    /// when some were left out (`None` when all were kept), and the `id`s of those left out.
    fn sequence<T: DeserializeOwned>(
        &mut self,
        value: Value,
        at: &FieldPath,
        out: &mut Vec<T>,
    ) -> (Option<Vec<usize>>, Partial) {
        let mut failed = Partial::default();
        let items = match value {
            Value::Sequence(items) => items,
            Value::Mapping(m) if m.is_empty() => Vec::new(),
            other => {
                self.push(
                    at.clone(),
                    ErrorKind::InvalidValue {
                        message: format!("expected a sequence, found {}", describe(&other)),
                    },
                );
                failed.unnamed = true;
                return (Some(Vec::new()), failed);
            }
        };
        let mut kept = Vec::with_capacity(items.len());
        let total = items.len();
        for (i, item) in items.into_iter().enumerate() {
            let id = item.get("id").and_then(scalar_key);
            match decode(item, &at.index(i)) {
                Ok(v) => {
                    out.push(v);
                    kept.push(i);
                }
                Err(e) => {
                    self.errors.extend(e);
                    match id {
                        Some(id) => failed.names.push(id),
                        None => failed.unnamed = true,
                    }
                }
            }
        }
        ((kept.len() != total).then_some(kept), failed)
    }
}

/// Deserialize `value` found at `at`. serde stops at the first error, so after each error
/// the offending field is taken out and the rest tried again: a struct's unknown key and its
/// bad address are both reported. A field taken out falls back to its default; a required
/// one taken out is not reported again as missing.
fn decode<T: DeserializeOwned>(mut value: Value, at: &FieldPath) -> Result<T, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut removed: Vec<Vec<PathSegment>> = Vec::new();
    // Each round removes a node, so this ends; the bound is a guard against surprises.
    for _ in 0..64 {
        let e = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(v) if errors.is_empty() => return Ok(v),
            Ok(_) => return Err(errors),
            Err(e) => e,
        };
        let rel = relative_path(e.path());
        let message = e.into_inner().to_string();
        let err = serde_error(at, &rel, &message, &value);
        // The node to take out before trying again.
        let cut = match err.kind() {
            ErrorKind::UnknownField { .. } => err.path().segments()[at.segments().len()..].to_vec(),
            ErrorKind::MissingField { .. } => {
                let missing = err.path().segments()[at.segments().len()..].to_vec();
                if !removed.contains(&missing) {
                    errors.push(err);
                }
                return Err(errors);
            }
            _ => rel,
        };
        errors.push(err);
        // A bad sequence item goes with its whole sequence, so that later items keep their
        // indices; the field then takes its default.
        let key_len = cut
            .iter()
            .rposition(|s| matches!(s, PathSegment::Key(_)))
            .map_or(0, |i| i + 1);
        let cut = &cut[..key_len];
        if cut.is_empty() || !remove(&mut value, cut) {
            return Err(errors);
        }
        removed.push(cut.to_vec());
    }
    Err(errors)
}

fn relative_path(path: &serde_path_to_error::Path) -> Vec<PathSegment> {
    path.iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Seq { index } => Some(PathSegment::Index(*index)),
            serde_path_to_error::Segment::Map { key } => Some(PathSegment::Key(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => {
                Some(PathSegment::Key(variant.clone()))
            }
            serde_path_to_error::Segment::Unknown => None,
        })
        .collect()
}

/// The node at `path` below `value`.
fn node<'v>(value: &'v Value, path: &[PathSegment]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, seg| match (seg, v) {
        (PathSegment::Key(k), Value::Mapping(m)) => m
            .iter()
            .find(|(mk, _)| scalar_key(mk).as_deref() == Some(k))
            .map(|(_, v)| v),
        (PathSegment::Index(i), Value::Sequence(s)) => s.get(*i),
        _ => None,
    })
}

/// Take the entry at `path` (ending with a key) out of its mapping.
fn remove(value: &mut Value, path: &[PathSegment]) -> bool {
    let Some((PathSegment::Key(last), parent)) = path.split_last() else {
        return false;
    };
    let mut v = value;
    for seg in parent {
        let next = match (seg, v) {
            (PathSegment::Key(k), Value::Mapping(m)) => m
                .iter_mut()
                .find(|(mk, _)| scalar_key(mk).as_deref() == Some(k))
                .map(|(_, v)| v),
            (PathSegment::Index(i), Value::Sequence(s)) => s.get_mut(*i),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => return false,
        }
    }
    let Value::Mapping(m) = v else { return false };
    let before = m.len();
    m.retain(|k, _| scalar_key(k).as_deref() != Some(last));
    m.len() != before
}

/// Classify serde's message: unknown and missing fields get their own kinds (and the
/// missing field its own path); a bad value is quoted when serde's message does not.
fn serde_error(at: &FieldPath, rel: &[PathSegment], message: &str, value: &Value) -> FieldError {
    let mut path = at.clone();
    for seg in rel {
        path.push(seg.clone());
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            if path.segments().last() != Some(&PathSegment::Key(field.to_owned())) {
                path.push(PathSegment::Key(field.to_owned()));
            }
            return FieldError::new(
                path,
                ErrorKind::UnknownField {
                    field: field.to_owned(),
                    expected: expected.to_owned(),
                },
            );
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some((field, _)) = rest.split_once('`') {
            path.push(PathSegment::Key(field.to_owned()));
            return FieldError::new(
                path,
                ErrorKind::MissingField {
                    field: field.to_owned(),
                },
            );
        }
    }
    let mut message = message.to_owned();
    if let Some(Value::String(bad)) = node(value, rel) {
        if !message.contains(bad.as_str()) {
            message = format!("{message}: {bad:?}");
        }
    }
    FieldError::new(path, ErrorKind::InvalidValue { message })
}

/// `, expected one of `a`, `b`` as serde words it.
fn expected(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!(", expected one of {}", names.join(", "))
}

fn scalar_key(key: &Value) -> Option<String> {
    match key {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a sequence",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

impl Config {
    /// Writes names as the loader does (lowercase ASCII, punycode, no trailing dot) where
    /// serde alone cannot: the value of CNAME and PTR records, whose meaning depends on
    /// the record's type. A config built other than by [`Config::from_yaml`] (an API
    /// write of one record, say) must be normalised before it is validated and served,
    /// so that what serves is what its saved file loads as.
    pub fn normalise(&mut self) {
        for r in &mut self.records {
            match r.rtype {
                RecordKind::Cname | RecordKind::Ptr | RecordKind::Ns => {
                    r.value = name::normalise(&r.value);
                }
                // The numbers as written, one space apart; the host normalised.
                RecordKind::Mx | RecordKind::Srv => {
                    let mut fields: Vec<String> =
                        r.value.split_whitespace().map(str::to_owned).collect();
                    if let Some(host) = fields.last_mut().filter(|h| *h != ".") {
                        *host = name::normalise(host);
                    }
                    r.value = fields.join(" ");
                }
                RecordKind::A | RecordKind::Aaaa | RecordKind::Txt => {}
            }
        }
    }
}
