//! Errors of building an upstream group and of forwarding a query.

use std::error::Error as StdError;
use std::fmt;

/// An error building an [`super::UpstreamGroup`], parsing an [`super::UpstreamAddr`] or
/// forwarding a query. The caller answers SERVFAIL for any forwarding error.
#[derive(Debug)]
pub struct UpstreamError {
    kind: UpstreamErrorKind,
    /// The upstream the error is about, as its address text.
    server: Option<Box<str>>,
    detail: Option<Box<str>>,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UpstreamErrorKind {
    /// An upstream address that does not parse (see [`super::UpstreamAddr`] for the syntax).
    InvalidAddress,
    /// A group that cannot be built: no servers, or a TLS name or URL that cannot be used.
    InvalidGroup,
    /// A query that cannot be forwarded: not exactly one question, or too large.
    InvalidQuery,
    /// No answer within the group's timeout.
    Timeout,
    /// Every server of a group with several servers failed; `source` is the last failure.
    AllFailed,
    /// A socket error, or a connection that closed before the answer came.
    Io,
    /// A TLS handshake or certificate error.
    Tls,
    /// A DNS-over-HTTPS request that did not return `200 application/dns-message`.
    Http,
    /// An answer that is not a DNS message for the question that was asked.
    Protocol,
}

impl UpstreamError {
    pub(crate) fn new(kind: UpstreamErrorKind) -> UpstreamError {
        UpstreamError {
            kind,
            server: None,
            detail: None,
            source: None,
        }
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> UpstreamError {
        self.detail = Some(detail.into().into_boxed_str());
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> UpstreamError {
        self.source = Some(source.into());
        self
    }

    /// Names the server the error came from, unless an inner step already did.
    pub(crate) fn at(mut self, server: &str) -> UpstreamError {
        if self.server.is_none() {
            self.server = Some(server.into());
        }
        self
    }

    pub(crate) fn io(err: std::io::Error) -> UpstreamError {
        UpstreamError::new(UpstreamErrorKind::Io).with_source(err)
    }

    /// A connection that closed (or a socket that failed) while the query waited.
    pub(crate) fn closed() -> UpstreamError {
        UpstreamError::new(UpstreamErrorKind::Io).with_detail("connection closed")
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.kind == UpstreamErrorKind::Io
            && self.source.is_none()
            && self.detail.as_deref() == Some("connection closed")
    }

    /// What went wrong.
    pub fn kind(&self) -> UpstreamErrorKind {
        self.kind
    }

    /// The upstream the error is about (its address text), when it is about one.
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            UpstreamErrorKind::InvalidAddress => "invalid upstream address",
            UpstreamErrorKind::InvalidGroup => "invalid upstream group",
            UpstreamErrorKind::InvalidQuery => "query cannot be forwarded",
            UpstreamErrorKind::Timeout => "upstream timed out",
            UpstreamErrorKind::AllFailed => "all upstreams failed",
            UpstreamErrorKind::Io => "upstream I/O error",
            UpstreamErrorKind::Tls => "upstream TLS error",
            UpstreamErrorKind::Http => "upstream HTTP error",
            UpstreamErrorKind::Protocol => "bad answer from upstream",
        };
        f.write_str(what)?;
        if let Some(server) = &self.server {
            write!(f, " ({server})")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

/// The cause is part of the message (one log line tells the whole story), so `source()` is
/// not repeated.
impl StdError for UpstreamError {}
