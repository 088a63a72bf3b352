//! Errors of building a rule set. Bad rule lines are not errors: they are counted.

use std::fmt;

/// An error building a [`crate::RuleSet`].
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// More lists than a [`crate::ListMask`] can name.
    TooManyLists {
        /// The limit.
        max: usize,
    },
    /// A list larger than 4 GiB: rule offsets are 32-bit.
    ListTooLarge {
        /// The list's name.
        name: String,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::TooManyLists { max } => write!(f, "a rule set holds at most {max} lists"),
            ErrorKind::ListTooLarge { name } => write!(f, "list {name} is larger than 4 GiB"),
        }
    }
}

impl std::error::Error for Error {}
