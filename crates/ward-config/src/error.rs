//! Configuration errors: every problem of a file at once, each with the path of the field
//! and its line, so a user fixes them all in one pass.

use std::fmt;

use crate::model::{RecordKind, SyncRole};

/// Everything wrong with a configuration, in file order. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    errors: Vec<FieldError>,
}

impl ConfigError {
    pub(crate) fn new(mut errors: Vec<FieldError>) -> Self {
        debug_assert!(!errors.is_empty());
        // File order; errors without a line (built from a Config, not a file) keep their order.
        errors.sort_by_key(|e| e.location.map_or((usize::MAX, 0), |l| (l.line, l.column)));
        ConfigError { errors }
    }

    /// The problems, in file order.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }
}

impl fmt::Display for ConfigError {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// One problem: what is wrong, with which field, and where it is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    kind: ErrorKind,
    path: FieldPath,
    location: Option<Location>,
}

impl FieldError {
    pub(crate) fn new(path: FieldPath, kind: ErrorKind) -> Self {
        FieldError {
            kind,
            path,
            location: None,
        }
    }

    pub(crate) fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    /// What is wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The field, e.g. `policies.kids.extends` or `clients[1].subnet`; empty for the whole
    /// file.
    pub fn path(&self) -> &FieldPath {
        &self.path
    }

    /// The 1-based line of the field in the file, when the config came from a file.
    pub fn line(&self) -> Option<usize> {
        self.location.map(|l| l.line)
    }

    /// The 1-based column of the field in the file, when the config came from a file.
    pub fn column(&self) -> Option<usize> {
        self.location.map(|l| l.column)
    }
}

impl fmt::Display for FieldError {
    /// `line 14: policies.kids.extends: unknown policy "mian"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = self.location {
            write!(f, "line {}: ", l.line)?;
        }
        if !self.path.is_root() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for FieldError {}

/// A 1-based position in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// What kind of thing a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// An entry of `lists`, by id.
    List,
    /// An entry of `policies`.
    Policy,
    /// An entry of `upstreams`.
    UpstreamGroup,
    /// A service of `blocklists/services/`, or a category of them.
    Service,
    /// A safe-search provider of `blocklists/safesearch/`.
    SafeSearchProvider,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::List => "list",
            Target::Policy => "policy",
            Target::UpstreamGroup => "upstream group",
            Target::Service => "service or category",
            Target::SafeSearchProvider => "safe-search provider",
        })
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file is not YAML.
    #[error("YAML syntax error: {message}")]
    Syntax {
        /// The parser's description.
        message: String,
    },
    /// A key that Ward does not know (often a typo).
    #[error("unknown field `{field}`{expected}")]
    UnknownField {
        /// The unknown key.
        field: String,
        /// The keys allowed there, as `, expected one of ...` (may be empty).
        expected: String,
    },
    /// A required key is missing.
    #[error("missing field `{field}`")]
    MissingField {
        /// The missing key.
        field: String,
    },
    /// A value of the wrong type or format (a string where a number goes, a bad address).
    #[error("{message}")]
    InvalidValue {
        /// What was expected.
        message: String,
    },
    /// A name that refers to a list, policy or upstream group that does not exist.
    #[error("unknown {target} {name:?}{hint}")]
    UnknownReference {
        /// What it should name.
        target: Target,
        /// The name given.
        name: String,
        /// `; did you mean "main"?` or `; known: ...` (may be empty).
        hint: String,
    },
    /// The same name, id, address or zone twice.
    #[error("duplicate {what} {name:?}, first given at {first}")]
    Duplicate {
        /// What is duplicated (`list id`, `subnet`, ...).
        what: &'static str,
        /// The duplicated value.
        name: String,
        /// Where it was first given.
        first: String,
    },
    /// Policies that extend each other in a loop.
    #[error("policy inheritance cycle: {}", .cycle.join(" -> "))]
    ExtendsCycle {
        /// The policies of the loop, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// A zone, record name, or host name that is not a valid domain name.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A local record whose value does not fit its type.
    #[error("{rtype} record value {value:?}: {reason}")]
    InvalidRecordValue {
        /// The record's type.
        rtype: RecordKind,
        /// The value given.
        value: String,
        /// What the type needs.
        reason: String,
    },
    /// A subnet with bits set after its prefix.
    #[error("subnet {subnet} has host bits set; did you mean {network}?")]
    SubnetHostBits {
        /// The subnet given.
        subnet: String,
        /// The subnet with the host bits cleared.
        network: String,
    },
    /// A list with more or fewer than one of `path`, `url` and `catalogue`.
    #[error("a list needs exactly one of `path`, `url` and `catalogue`")]
    ListSource,
    /// Something that must not be empty is.
    #[error("{what} must not be empty")]
    Empty {
        /// What is empty.
        what: &'static str,
    },
    /// `custom_ip` blocking without the address to answer with.
    #[error("blocking mode custom_ip needs dns.{field}")]
    MissingBlockingIp {
        /// `blocking_ipv4` or `blocking_ipv6`.
        field: &'static str,
    },
    /// A value outside its allowed range, or inconsistent with another.
    #[error("{message}")]
    OutOfRange {
        /// The constraint that is broken.
        message: String,
    },
    /// A policy that inherits no upstream group when there is no group named `default`.
    #[error("no upstream group: set `upstream` here or define an upstream group named \"default\"")]
    NoUpstream,
    /// A `sync` setting that the node's `sync.role` needs is unset.
    #[error("a {role} needs {what}")]
    SyncMissing {
        /// The node's role.
        role: SyncRole,
        /// What it needs, and why.
        what: &'static str,
    },
    /// A `sync` setting given to a role that does not use it (often a forgotten `role`).
    #[error("{reason} (sync.role is {role})")]
    SyncUnused {
        /// The node's role.
        role: SyncRole,
        /// Which role uses the setting.
        reason: &'static str,
    },
    /// A name that has a CNAME record and another record.
    #[error("{name:?} has a CNAME record and other records; a CNAME must be alone")]
    CnameConflict {
        /// The record name.
        name: String,
    },
}

/// The path of a field: `policies.kids.extends`, `clients[1].subnet`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(Vec<PathSegment>);

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathSegment {
    /// A mapping key.
    Key(String),
    /// A sequence index, from 0.
    Index(usize),
}

impl FieldPath {
    /// The whole file.
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// Whether this is the whole file.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The steps of the path.
    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    /// This path and then a key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.0.push(PathSegment::Key(key.into()));
        p
    }

    /// This path and then an index.
    pub fn index(&self, index: usize) -> Self {
        let mut p = self.clone();
        p.0.push(PathSegment::Index(index));
        p
    }

    /// The path without its last step (the root stays the root).
    pub fn parent(&self) -> Self {
        let mut p = self.clone();
        p.0.pop();
        p
    }

    pub(crate) fn push(&mut self, seg: PathSegment) {
        self.0.push(seg);
    }

    pub(crate) fn pop(&mut self) {
        self.0.pop();
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSegment::Key(k) if i == 0 => f.write_str(k)?,
                PathSegment::Key(k) => write!(f, ".{k}")?,
                PathSegment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}
