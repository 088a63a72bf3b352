//! Downloading URL lists to their last good copy on disk.
//!
//! A list with a `url` is served from `<data_dir>/lists/<id>.txt`, the last copy that
//! downloaded completely and passed the caller's check; [`DiskLists`](crate::DiskLists)
//! reads it when a snapshot is built. A download never damages that copy: the body is held
//! in memory (bounded by [`DownloadLimits::max_bytes`]), checked, and only then written to
//! a temporary file that is synced and renamed over the copy, so a failed, truncated,
//! oversized or rejected download, or a crash half way, leaves the previous copy serving.
//!
//! Public lists are large and change a few times a day, so requests are conditional: the
//! ETag and Last-Modified of the last copy are kept beside it in `<id>.meta.json` and sent
//! back, and a `304 Not Modified` costs no body at all. Transient failures (timeouts,
//! connection errors, 5xx, 408, 429) are retried with exponential backoff; a client error
//! such as 404 is not, since asking again gets the same answer.
//!
//! The HTTP client is reqwest on rustls with the ring provider and the Mozilla root store
//! (webpki-roots), as for DNS over HTTPS upstreams. It honours the `HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` environment variables, which is how clusters
//! without direct internet access reach the lists.
//!
//! Two fetches of the same list must not run at once: they share `<id>.txt.tmp`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::{
    ETAG, HeaderMap, HeaderName, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};

/// `ward/<version>`, so list hosts can tell who is asking.
const USER_AGENT: &str = concat!("ward/", env!("CARGO_PKG_VERSION"));

/// How often, in bytes, a download reports its progress.
const PROGRESS_STEP: u64 = 1 << 20;

/// The longest list id: with `.meta.json.tmp` appended it stays well inside the 255-byte
/// file name limit of common file systems.
const MAX_ID_LEN: usize = 128;

/// The largest list Ward reads, downloaded or from a file: the biggest public lists are a
/// few MiB, and a list is held in memory whole while it compiles.
pub const MAX_LIST_BYTES: u64 = 64 << 20;

/// Bounds of one download.
#[derive(Clone, Debug)]
pub struct DownloadLimits {
    /// The largest body accepted; a bigger one fails with [`DownloadError::TooLarge`] and
    /// nothing is written. Default [`MAX_LIST_BYTES`].
    pub max_bytes: u64,
    /// The time one attempt may take, from connecting to the end of the body. Default 60 s.
    pub timeout: Duration,
    /// Attempts in all, the first included (0 counts as 1). Default 3.
    pub attempts: u32,
    /// The pause before the second attempt, doubled before each further one. Default 1 s.
    pub backoff: Duration,
}

impl Default for DownloadLimits {
    fn default() -> DownloadLimits {
        DownloadLimits {
            max_bytes: MAX_LIST_BYTES,
            timeout: Duration::from_secs(60),
            attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

/// What a successful fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A new copy was written to [`Downloader::copy_path`]; its size in bytes.
    Changed {
        /// The size of the new copy.
        bytes: u64,
    },
    /// The server said 304 Not Modified, or sent the same bytes again: the copy on disk
    /// stays (its metadata is refreshed).
    NotModified,
}

/// The metadata of a list's last good copy, kept in `<data_dir>/lists/<id>.meta.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct CopyInfo {
    /// The URL the copy came from.
    pub url: String,
    /// The server's ETag for it, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// The server's Last-Modified for it, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// When the server last confirmed the copy (200 or 304), in seconds since the Unix epoch.
    pub fetched_at: u64,
    /// The size of the copy in bytes.
    pub bytes: u64,
}

/// Why a download failed. The previous copy, if any, is unchanged whatever the error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The list id cannot be used as a file name.
    #[error(
        "list id {id:?} cannot name a file: use ASCII letters, digits, '-', '_' and '.', \
         at most {MAX_ID_LEN} characters, not starting with '.'"
    )]
    InvalidId {
        /// The refused id.
        id: String,
    },
    /// The URL is not an `http://` or `https://` URL.
    #[error("{url:?} is not an http:// or https:// URL")]
    InvalidUrl {
        /// The refused URL.
        url: String,
    },
    /// The server answered with a status other than 200 (or 304 to a conditional request).
    #[error("{url}: the server answered HTTP {status}")]
    Http {
        /// The requested URL.
        url: String,
        /// The HTTP status code of the last attempt.
        status: u16,
    },
    /// The attempt did not finish within [`DownloadLimits::timeout`].
    #[error("{url}: no complete answer within {timeout:?}")]
    Timeout {
        /// The requested URL.
        url: String,
        /// The limit that was reached.
        timeout: Duration,
    },
    /// The body is larger than [`DownloadLimits::max_bytes`].
    #[error("{url}: the list is larger than the limit of {max} bytes")]
    TooLarge {
        /// The requested URL.
        url: String,
        /// The limit.
        max: u64,
    },
    /// The caller's check refused the body.
    #[error("{url}: list rejected: {reason}")]
    Rejected {
        /// The requested URL.
        url: String,
        /// What the check said.
        reason: String,
    },
    /// The request failed: DNS, connection, TLS, redirects or a broken body.
    #[error("{url}: {reason}")]
    Request {
        /// The requested URL.
        url: String,
        /// What went wrong, with its causes.
        reason: String,
    },
    /// Reading or writing the copy or its metadata failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("writing", "renaming", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("setting up the HTTP client: {0}")]
    Client(String),
}

impl DownloadError {
    /// Whether asking again could give another answer.
    fn is_retryable(&self) -> bool {
        match self {
            DownloadError::Http { status, .. } => {
                !(400..500).contains(status) || *status == 408 || *status == 429
            }
            DownloadError::Timeout { .. } | DownloadError::Request { .. } => true,
            _ => false,
        }
    }
}

/// Refuses a list id that is empty, hidden, too long, or has anything but ASCII letters,
/// digits, `-`, `_` and `.`, so that `<data_dir>/lists/<id>.txt` stays inside that directory.
pub fn check_list_id(id: &str) -> Result<(), DownloadError> {
    let valid = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(DownloadError::InvalidId { id: id.to_owned() })
    }
}

/// Downloads URL lists into `<data_dir>/lists/`.
#[derive(Clone, Debug)]
pub struct Downloader {
    client: reqwest::Client,
    data_dir: PathBuf,
    limits: DownloadLimits,
}

/// What one attempt brought back.
enum Answer {
    /// 304 to a conditional request, with the validators it carried.
    NotModified(Validators),
    /// 200 with its whole body.
    Body(Vec<u8>, Validators),
}

/// ETag and Last-Modified of a response.
struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Downloader {
    /// A downloader writing under `data_dir`, with its own HTTP client (connections are
    /// pooled between fetches).
    pub fn new(data_dir: PathBuf, limits: DownloadLimits) -> Result<Downloader, DownloadError> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(|e| DownloadError::Client(error_chain(&e)))?;
        Ok(Downloader {
            client,
            data_dir,
            limits,
        })
    }

    /// `<data_dir>/lists/<id>.txt`: the last good copy of list `id` (the file
    /// [`DiskLists::cached_copy`](crate::DiskLists::cached_copy) reads). `id` must pass
    /// [`check_list_id`].
    pub fn copy_path(&self, id: &str) -> PathBuf {
        self.lists_dir().join(format!("{id}.txt"))
    }

    /// The metadata of list `id`'s last good copy, if it has one (for status pages).
    pub fn copy_info(&self, id: &str) -> Option<CopyInfo> {
        check_list_id(id).ok()?;
        if !self.copy_path(id).is_file() {
            return None;
        }
        let text = std::fs::read(self.meta_path(id)).ok()?;
        // Unreadable metadata only costs an unconditional download.
        serde_json::from_slice(&text).ok()
    }

    /// Downloads `url` as the new copy of list `id`, conditionally on the copy it has.
    ///
    /// `accept` checks a complete body before it replaces the copy (it runs on the async
    /// thread, so keep it cheap); `progress` is told the bytes received so far, about every
    /// MiB and once at the end. The previous copy is left as it was on any error.
    pub async fn fetch(
        &self,
        id: &str,
        url: &str,
        accept: &(dyn Fn(&[u8]) -> Result<(), String> + Sync),
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Fetched, DownloadError> {
        check_list_id(id)?;
        let parsed = reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| DownloadError::InvalidUrl {
                url: url.to_owned(),
            })?;
        // Validators only describe the copy they came with, and only for the same URL.
        let previous = self.copy_info(id).filter(|info| info.url == url);

        let attempts = self.limits.attempts.max(1);
        let mut pause = self.limits.backoff;
        let mut attempt = 1;
        let answer = loop {
            let once = self.attempt(url, parsed.clone(), previous.as_ref(), progress);
            let result = match tokio::time::timeout(self.limits.timeout, once).await {
                Ok(result) => result,
                Err(_) => Err(DownloadError::Timeout {
                    url: url.to_owned(),
                    timeout: self.limits.timeout,
                }),
            };
            match result {
                Ok(answer) => break answer,
                Err(e) if attempt < attempts && e.is_retryable() => {
                    tokio::time::sleep(pause).await;
                    pause = pause.saturating_mul(2);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };

        let (body, validators) = match answer {
            Answer::Body(body, validators) => (Some(body), validators),
            Answer::NotModified(validators) => (None, validators),
        };
        if let Some(body) = &body {
            accept(body).map_err(|reason| DownloadError::Rejected {
                url: url.to_owned(),
                reason,
            })?;
        }
        let store = Store {
            copy: self.copy_path(id),
            meta: self.meta_path(id),
            url: url.to_owned(),
            validators,
            previous,
        };
        // Comparing and writing up to max_bytes is blocking file work.
        tokio::task::spawn_blocking(move || store.save(body))
            .await
            .map_err(|e| DownloadError::Io {
                action: "saving",
                path: self.copy_path(id),
                source: std::io::Error::other(e.to_string()),
            })?
    }

    /// One request: the response's body, or 304.
    async fn attempt(
        &self,
        url: &str,
        parsed: reqwest::Url,
        previous: Option<&CopyInfo>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Answer, DownloadError> {
        let failed = |e: reqwest::Error| request_error(url, e);
        let mut request = self.client.get(parsed);
        if let Some(info) = previous {
            let conditions = [
                (IF_NONE_MATCH, &info.etag),
                (IF_MODIFIED_SINCE, &info.last_modified),
            ];
            for (name, value) in conditions {
                // A value that is no longer a valid header only costs a full download.
                if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                    request = request.header(name, value);
                }
            }
        }
        let mut response = request.send().await.map_err(failed)?;
        let status = response.status();
        let validators = Validators::of(response.headers());
        // A 304 to an unconditional request would leave no copy at all.
        if status == StatusCode::NOT_MODIFIED && previous.is_some() {
            return Ok(Answer::NotModified(validators));
        }
        if status != StatusCode::OK {
            return Err(DownloadError::Http {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        let max = self.limits.max_bytes;
        let too_large = || DownloadError::TooLarge {
            url: url.to_owned(),
            max,
        };
        let announced = response.content_length().unwrap_or(0);
        if announced > max {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
        let mut next_report = PROGRESS_STEP;
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            let received = body.len() as u64 + chunk.len() as u64;
            if received > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
            if received >= next_report {
                progress(received);
                next_report = received.saturating_add(PROGRESS_STEP);
            }
        }
        progress(body.len() as u64);
        Ok(Answer::Body(body, validators))
    }

    fn lists_dir(&self) -> PathBuf {
        self.data_dir.join("lists")
    }

    fn meta_path(&self, id: &str) -> PathBuf {
        self.lists_dir().join(format!("{id}.meta.json"))
    }
}

impl Validators {
    fn of(headers: &HeaderMap) -> Validators {
        let text = |name: HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Validators {
            etag: text(ETAG),
            last_modified: text(LAST_MODIFIED),
        }
    }
}

/// Everything the blocking half of a fetch needs.
struct Store {
    copy: PathBuf,
    meta: PathBuf,
    url: String,
    validators: Validators,
    previous: Option<CopyInfo>,
}

impl Store {
    /// Writes `body` as the new copy unless it equals the old one (`None`: 304), then the
    /// metadata. The copy goes first: a crash between the two leaves old validators beside a
    /// new copy, which costs one full download next time, never a wrong 304.
    fn save(self, body: Option<Vec<u8>>) -> Result<Fetched, DownloadError> {
        let Store {
            copy,
            meta,
            url,
            validators,
            previous,
        } = self;
        let (outcome, bytes, etag, last_modified) = match (body, previous) {
            // A 304 may leave out validators that still hold.
            (None, Some(previous)) => (
                Fetched::NotModified,
                previous.bytes,
                validators.etag.or(previous.etag),
                validators.last_modified.or(previous.last_modified),
            ),
            (None, None) => unreachable_304(&url)?,
            (Some(body), _) => {
                let bytes = body.len() as u64;
                let outcome = if same_as_copy(&copy, &body)? {
                    Fetched::NotModified
                } else {
                    write_atomically(&copy, &body)?;
                    Fetched::Changed { bytes }
                };
                (outcome, bytes, validators.etag, validators.last_modified)
            }
        };
        let info = CopyInfo {
            url,
            etag,
            last_modified,
            fetched_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            bytes,
        };
        let json = serde_json::to_vec_pretty(&info).map_err(|e| DownloadError::Io {
            action: "encoding",
            path: meta.clone(),
            source: e.into(),
        })?;
        write_atomically(&meta, &json)?;
        Ok(outcome)
    }
}

/// Whether `body` is byte for byte the copy at `path`.
fn same_as_copy(path: &Path, body: &[u8]) -> Result<bool, DownloadError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == body.len() as u64 => {}
        _ => return Ok(false),
    }
    std::fs::read(path)
        .map(|old| old == body)
        .map_err(|source| DownloadError::Io {
            action: "reading",
            path: path.to_owned(),
            source,
        })
}

/// [`Downloader::attempt`] only reports a 304 when it sent validators, which come with a
/// previous copy; this keeps that promise checked without a panic.
fn unreachable_304<T>(url: &str) -> Result<T, DownloadError> {
    Err(DownloadError::Http {
        url: url.to_owned(),
        status: 304,
    })
}
/// [`crate::write_atomically`], its error naming the file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DownloadError> {
    crate::write_atomically(path, bytes).map_err(|source| DownloadError::Io {
        action: "writing",
        path: path.to_owned(),
        source,
    })
}

/// A request error naming its causes.
fn request_error(url: &str, e: reqwest::Error) -> DownloadError {
    DownloadError::Request {
        url: url.to_owned(),
        // The error would name the URL again.
        reason: error_chain(&e.without_url()),
    }
}

/// An error and its sources, "a: b: c" (reqwest's own message is only the outermost, such as
/// "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

/// The Mozilla root store (webpki-roots) on the ring provider, TLS 1.2 and 1.3, HTTP/2 or
/// HTTP/1.1 by ALPN: the same trust as DNS over HTTPS upstreams.
pub(crate) fn tls_config() -> Result<rustls::ClientConfig, DownloadError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DownloadError::Client(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
