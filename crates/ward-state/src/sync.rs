//! Primary and replicas: every pod serves the primary's filtering config and lists.
//!
//! What travels is a [`SyncState`]: the primary's config (its filtering part counts; each
//! replica keeps its own `dns.listen`, `admin`, `sync` and `data_dir`) and, for every
//! enabled list, the SHA-256 of the text the primary serves. List texts travel by hash
//! (`GET /api/v1/sync/lists/<sha256>` on the primary), so replicas never download lists
//! from the internet and serve exactly the primary's rules. The state's revision is a hash
//! of both: the same state is the same revision on every pod, and accepting it twice
//! changes nothing.
//!
//! The primary pushes each new state to every replica address (a name that resolves to
//! several pods, as a Kubernetes headless Service does, reaches each of them); a replica
//! also pulls at start and every `sync.interval`. A replica keeps what it accepted in
//! `<data_dir>/sync/` (`state.json` and `lists/<sha256>.txt`) and serves it at start, in
//! preference to the filtering part of its own file, also when the primary is gone.
//!
//! A replica trusts nothing in a state it is handed ([`SyncState::check`]): each list's
//! `sha256` names a file under `<data_dir>/sync/lists/`, so it must be 64 lowercase hex
//! digits and nothing else (`/tmp/x` or `../../x` would name a file outside it); the
//! revision must be the one its content hashes to; a list fetched by hash must hash to it.
//! Whatever fails is refused with the reason, and the state serving stays.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::Digest;
use ward_config::Config;

use crate::reload::{Outcome, Reloader, Trigger};
use crate::{Snapshot, hex, write_atomically};

/// One list of a [`SyncState`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListContent {
    /// The list's id.
    pub id: String,
    /// SHA-256 of its text, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What a primary hands its replicas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    /// A hash of the filtering config and the list hashes.
    pub revision: String,
    /// The primary's config; replicas take its filtering part.
    pub config: Config,
    /// The enabled lists the primary serves.
    pub lists: Vec<ListContent>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl SyncState {
    /// The state of a snapshot (on the primary).
    pub fn of(snapshot: &Snapshot) -> SyncState {
        let lists: Vec<ListContent> = snapshot
            .lists
            .iter()
            .map(|l| ListContent {
                id: l.id.clone(),
                sha256: l.sha256().to_owned(),
                bytes: l.text().len() as u64,
            })
            .collect();
        SyncState {
            revision: state_revision(&snapshot.config, &lists),
            config: (*snapshot.config).clone(),
            lists,
        }
    }

    /// Refuses a state that a replica must not take as it is: a list `sha256` that is not
    /// 64 lowercase hex digits (it becomes a file name under `<data_dir>/sync/lists/`), a
    /// list id twice, or a revision that is not the hash of the state's own content (the
    /// revision decides whether a replica already has a state, so a wrong one would make
    /// it skip or keep the wrong content). The error says which.
    pub fn check(&self) -> Result<(), SyncError> {
        let mut ids = std::collections::HashSet::new();
        for list in &self.lists {
            if !is_sha256(&list.sha256) {
                return Err(SyncError::invalid(format!(
                    "list {:?}: sha256 {:?} is not 64 lowercase hex digits",
                    list.id, list.sha256
                )));
            }
            if !ids.insert(list.id.as_str()) {
                return Err(SyncError::invalid(format!(
                    "list {:?} is in the state twice",
                    list.id
                )));
            }
        }
        let expected = state_revision(&self.config, &self.lists);
        if self.revision != expected {
            return Err(SyncError::invalid(format!(
                "revision {:?} does not match the state's content, whose revision is {expected}",
                self.revision
            )));
        }
        Ok(())
    }

    /// The text of the list with this hash, if the snapshot serves one.
    pub fn list_text<'s>(snapshot: &'s Snapshot, sha256: &str) -> Option<&'s [u8]> {
        snapshot
            .lists
            .iter()
            .find(|l| l.sha256() == sha256)
            .map(|l| l.text())
    }
}

/// The revision of a state: a hash of the config's filtering part and of each list's id and
/// hash, so the same state has the same revision on every pod. Primary and replicas must
/// run versions of Ward that write the config alike (the same release) for it to match.
fn state_revision(config: &Config, lists: &[ListContent]) -> String {
    // Only the filtering part counts: node-local settings differ from pod to pod.
    let mut hasher = sha2::Sha256::new();
    hasher.update(crate::revision(config).as_bytes());
    for l in lists {
        hasher.update(l.id.as_bytes());
        hasher.update(b"\0");
        hasher.update(l.sha256.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize()[..8])
}

/// Whether `text` is a SHA-256 as Ward writes it: 64 lowercase hex digits.
fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Why a replica did not take a state.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SyncError {
    kind: SyncErrorKind,
    message: String,
}

/// What kind of failure a [`SyncError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncErrorKind {
    /// The state itself is wrong (a bad list hash, a revision that does not match its
    /// content, JSON that does not parse): refused as it is, whoever sent it.
    Invalid,
    /// The primary did not answer, or answered something else than what was asked (a
    /// list whose text does not hash to its name).
    Primary,
    /// The reloader refused the state's config.
    Rejected,
    /// Keeping the state in `<data_dir>/sync/` failed.
    Storage,
}

impl SyncError {
    /// A state that is wrong in itself: `message` says what.
    pub fn invalid(message: impl Into<String>) -> SyncError {
        SyncError::new(SyncErrorKind::Invalid, message)
    }

    fn new(kind: SyncErrorKind, message: impl Into<String>) -> SyncError {
        SyncError {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> SyncErrorKind {
        self.kind
    }
}

/// Where a replica keeps what it accepted.
fn sync_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("sync")
}

fn list_copy(data_dir: &Path, sha256: &str) -> PathBuf {
    sync_dir(data_dir)
        .join("lists")
        .join(format!("{sha256}.txt"))
}

/// The config a replica serves for `state`: the state's filtering part, each list read
/// from its synced copy, and the replica's own node-local settings from `local`.
pub fn replica_config(state: &SyncState, data_dir: &Path, local: &Config) -> Config {
    let mut config = state.config.with_node_local_from(local);
    let by_id: HashMap<&str, &str> = state
        .lists
        .iter()
        .map(|l| (l.id.as_str(), l.sha256.as_str()))
        .collect();
    for list in &mut config.lists {
        let sha = by_id.get(list.id.as_str()).copied().unwrap_or("missing");
        list.path = Some(list_copy(data_dir, sha));
        list.url = None;
        list.catalogue = None;
        list.refresh = None;
    }
    config
}

/// The state a replica accepted last, from `<data_dir>/sync/state.json`; `None` without
/// one, or when it does not pass [`SyncState::check`] (a file edited by hand, or written by
/// a Ward that did not check what it took).
pub fn stored_state(data_dir: &Path) -> Option<SyncState> {
    let path = sync_dir(data_dir).join("state.json");
    let text = std::fs::read(&path).ok()?;
    let state: SyncState = serde_json::from_slice(&text).ok()?;
    match state.check() {
        Ok(()) => Some(state),
        Err(err) => {
            tracing::warn!(path = %path.display(), %err, "ignoring the stored sync state");
            None
        }
    }
}

/// How the replica side stands, for the status page.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReplicaStatus {
    /// The primary's address.
    pub primary: String,
    /// The revision this replica serves.
    pub revision: Option<String>,
    /// The last exchange with the primary that worked, Unix ms.
    pub last_sync_ms: Option<u64>,
    /// The last failure, if it came after the last success.
    pub last_error: Option<String>,
}

/// The replica side: accepts states (pushed or pulled) and applies them.
pub struct Replica {
    primary: String,
    token: String,
    data_dir: PathBuf,
    /// The node's own config file's settings (node-local part used).
    local: Mutex<Config>,
    client: reqwest::Client,
    status: Mutex<ReplicaStatus>,
    /// One state at a time.
    serial: tokio::sync::Mutex<()>,
}

impl Replica {
    /// A replica of `primary` (a base URL), authenticating with `token`.
    pub fn new(
        primary: &str,
        token: &str,
        data_dir: PathBuf,
        local: Config,
    ) -> Result<Replica, String> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::download::tls_config().map_err(|e| e.to_string())?)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("sync client: {e}"))?;
        let revision = stored_state(&data_dir).map(|s| s.revision);
        Ok(Replica {
            primary: primary.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            data_dir,
            local: Mutex::new(local),
            client,
            status: Mutex::new(ReplicaStatus {
                primary: primary.to_owned(),
                revision,
                ..ReplicaStatus::default()
            }),
            serial: tokio::sync::Mutex::new(()),
        })
    }

    /// The status page's view.
    pub fn status(&self) -> ReplicaStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The config to serve for `local` (the node's own file): the accepted state's, if
    /// there is one, else `local` as it is.
    pub fn effective(&self, local: Config) -> Config {
        *self.local.lock().unwrap_or_else(|e| e.into_inner()) = local.clone();
        match stored_state(&self.data_dir) {
            Some(state) => replica_config(&state, &self.data_dir, &local),
            None => local,
        }
    }

    /// Pulls the primary's state and accepts it.
    pub async fn pull(&self, reloader: &Reloader) -> Result<Outcome, SyncError> {
        let url = format!("{}/api/v1/sync/state", self.primary);
        let result =
            async {
                let body =
                    self.get(&url).await?.bytes().await.map_err(|e| {
                        SyncError::new(SyncErrorKind::Primary, format!("{url}: {e}"))
                    })?;
                serde_json::from_slice::<SyncState>(&body)
                    .map_err(|e| SyncError::invalid(format!("{url}: {e}")))
            }
            .await;
        match result {
            Ok(state) => self.accept(state, reloader).await,
            Err(e) => {
                self.failed(&e.to_string());
                Err(e)
            }
        }
    }

    /// Accepts a state: checks it ([`SyncState::check`]), fetches the lists it does not
    /// have (by hash, from the primary), keeps them and the state in `<data_dir>/sync/`,
    /// and applies it. The same revision again changes nothing. A refused state leaves
    /// what serves as it was, and its reason is the replica's last error.
    pub async fn accept(
        &self,
        state: SyncState,
        reloader: &Reloader,
    ) -> Result<Outcome, SyncError> {
        if let Err(e) = state.check() {
            self.failed(&e.to_string());
            return Err(e);
        }
        let _turn = self.serial.lock().await;
        let current = self.status().revision;
        if current.as_deref() == Some(state.revision.as_str()) {
            self.succeeded(&state.revision);
            return Ok(Outcome::Unchanged {
                generation: reloader.current().generation,
            });
        }
        if let Err(e) = self.fetch_lists(&state).await {
            self.failed(&e.to_string());
            return Err(e);
        }
        let local = self.local.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let config = replica_config(&state, &self.data_dir, &local);
        let report = reloader
            .reload_config(Trigger::Sync(state.revision.clone()), config)
            .await;
        if let Outcome::Rejected { reason } = &report.outcome {
            let e = format!("revision {} refused: {reason}", state.revision);
            self.failed(&e);
            return Err(SyncError::new(SyncErrorKind::Rejected, e));
        }
        let json = serde_json::to_vec_pretty(&state)
            .map_err(|e| SyncError::new(SyncErrorKind::Storage, e.to_string()))?;
        if let Err(e) = write_atomically(&sync_dir(&self.data_dir).join("state.json"), &json) {
            let e = format!("keeping revision {}: {e}", state.revision);
            self.failed(&e);
            return Err(SyncError::new(SyncErrorKind::Storage, e));
        }
        self.succeeded(&state.revision);
        tracing::info!(revision = %state.revision, "replica: revision applied");
        Ok(report.outcome)
    }

    /// A GET to the primary with the sync token; an error for anything but 2xx.
    async fn get(&self, url: &str) -> Result<reqwest::Response, SyncError> {
        let primary = |message: String| SyncError::new(SyncErrorKind::Primary, message);
        let resp = self
            .client
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| primary(format!("{url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(primary(format!("{url}: HTTP {}", resp.status())));
        }
        Ok(resp)
    }

    /// Fetches each list of `state` that has no copy yet. The hashes were checked
    /// ([`SyncState::check`]), so each copy's path is inside `<data_dir>/sync/lists/`; a
    /// body is kept only if it hashes to its name.
    async fn fetch_lists(&self, state: &SyncState) -> Result<(), SyncError> {
        let primary = |message: String| SyncError::new(SyncErrorKind::Primary, message);
        for list in &state.lists {
            debug_assert!(is_sha256(&list.sha256));
            let path = list_copy(&self.data_dir, &list.sha256);
            if path.is_file() {
                continue;
            }
            let url = format!("{}/api/v1/sync/lists/{}", self.primary, list.sha256);
            let body = self
                .get(&url)
                .await?
                .bytes()
                .await
                .map_err(|e| primary(format!("{url}: {e}")))?;
            let got = hex(&sha2::Sha256::digest(&body));
            if got != list.sha256 {
                return Err(primary(format!(
                    "{url}: the body's SHA-256 is {got}, not the one asked for"
                )));
            }
            write_atomically(&path, &body).map_err(|e| {
                SyncError::new(SyncErrorKind::Storage, format!("{}: {e}", path.display()))
            })?;
        }
        Ok(())
    }

    fn succeeded(&self, revision: &str) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        s.revision = Some(revision.to_owned());
        s.last_sync_ms = Some(unix_ms());
        s.last_error = None;
    }

    fn failed(&self, error: &str) {
        tracing::warn!(%error, "replica: sync failed; the last accepted config keeps serving");
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_error = Some(error.to_owned());
    }
}

/// Pulls at once, then every `interval`, until the task is dropped.
pub async fn pull_loop(replica: Arc<Replica>, reloader: Arc<Reloader>, interval: Duration) {
    loop {
        let _ = replica.pull(&reloader).await;
        tokio::time::sleep(interval).await;
    }
}

/// One replica address's last push, for the primary's status page.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PushStatus {
    /// The replica address as configured.
    pub replica: String,
    /// The pod it resolved to.
    pub address: String,
    /// The revision pushed last.
    pub revision: Option<String>,
    /// Whether it was accepted.
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
    /// When, Unix ms.
    pub at_ms: u64,
}

/// The primary side: pushes every new state to every replica pod.
pub struct Primary {
    replicas: Vec<String>,
    token: String,
    client: reqwest::Client,
    status: Mutex<Vec<PushStatus>>,
    /// The revision pushed last and since when it has been the primary's, Unix ms: how
    /// long a replica on another one has been behind.
    revision_since: Mutex<Option<(String, u64)>>,
}

impl Primary {
    /// A primary pushing to `replicas` (base URLs) with `token`.
    pub fn new(replicas: Vec<String>, token: &str) -> Result<Primary, String> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::download::tls_config().map_err(|e| e.to_string())?)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("sync client: {e}"))?;
        Ok(Primary {
            replicas,
            token: token.to_owned(),
            client,
            status: Mutex::new(Vec::new()),
            revision_since: Mutex::new(None),
        })
    }

    /// The last push to each replica pod.
    pub fn status(&self) -> Vec<PushStatus> {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The primary's revision and since when it has been so, Unix ms (once one was pushed).
    pub fn revision_since(&self) -> Option<(String, u64)> {
        self.revision_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Pushes `state` to every pod of every replica address; true if all accepted it.
    pub async fn push(&self, state: &SyncState) -> bool {
        {
            let mut since = self
                .revision_since
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if since.as_ref().is_none_or(|(r, _)| *r != state.revision) {
                *since = Some((state.revision.clone(), unix_ms()));
            }
        }
        let mut all = Vec::new();
        for replica in &self.replicas {
            let targets = match resolve(replica).await {
                Ok(t) => t,
                Err(e) => {
                    all.push(PushStatus {
                        replica: replica.clone(),
                        error: Some(e),
                        at_ms: unix_ms(),
                        ..PushStatus::default()
                    });
                    continue;
                }
            };
            for (url, host, addr) in targets {
                let result = self
                    .client
                    .post(format!("{url}/api/v1/sync/push"))
                    .header(reqwest::header::HOST, &host)
                    .bearer_auth(&self.token)
                    .json(state)
                    .send()
                    .await;
                let error = match result {
                    Ok(r) if r.status().is_success() => None,
                    // The replica says why (`{"error": ...}`): the primary's status shows it.
                    Ok(r) => {
                        let status = r.status();
                        let reason = r.text().await.unwrap_or_default();
                        Some(format!("HTTP {status}: {}", reason.trim()))
                    }
                    Err(e) => Some(e.to_string()),
                };
                all.push(PushStatus {
                    replica: replica.clone(),
                    address: addr.to_string(),
                    revision: Some(state.revision.clone()),
                    ok: error.is_none(),
                    error,
                    at_ms: unix_ms(),
                });
            }
        }
        let ok = all.iter().all(|s| s.ok);
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = all;
        ok
    }
}

/// One replica pod's answer to [`Primary::get_each`].
#[derive(Clone, Debug)]
pub struct PeerReply {
    /// The replica address as configured.
    pub replica: String,
    /// The pod it resolved to (empty when the name did not resolve).
    pub address: String,
    /// Its JSON answer, or why there is none.
    pub result: Result<serde_json::Value, String>,
}

/// How long the primary waits for a replica's answer to a read.
const PEER_TIMEOUT: Duration = Duration::from_secs(3);

impl Primary {
    /// `GET path` (with its query) on every pod of every replica address at once, with
    /// the sync token: the primary's merged views of the query log and the statistics,
    /// and its nodes page. A pod that does not answer within 3 s, or answers an error, is
    /// a reply with the reason, never a failure of the whole.
    pub async fn get_each(&self, path: &str) -> Vec<PeerReply> {
        self.get_each_with(|_| Some(path.to_owned())).await
    }

    /// [`Primary::get_each`] with a path of each pod's own (`path_for` its address, as
    /// [`PeerReply::address`] gives it); a pod it gives `None` is not asked.
    pub async fn get_each_with(&self, path_for: impl Fn(&str) -> Option<String>) -> Vec<PeerReply> {
        let mut tasks = tokio::task::JoinSet::new();
        let mut replies = Vec::new();
        for replica in &self.replicas {
            let targets = match resolve(replica).await {
                Ok(t) => t,
                Err(e) => {
                    replies.push(PeerReply {
                        replica: replica.clone(),
                        address: String::new(),
                        result: Err(e),
                    });
                    continue;
                }
            };
            for (url, host, addr) in targets {
                let Some(path) = path_for(&addr.to_string()) else {
                    continue;
                };
                let request = self
                    .client
                    .get(format!("{url}{path}"))
                    .header(reqwest::header::HOST, host)
                    .bearer_auth(&self.token)
                    .timeout(PEER_TIMEOUT);
                let replica = replica.clone();
                tasks.spawn(async move {
                    let result = match request.send().await {
                        Ok(r) if r.status().is_success() => r
                            .json::<serde_json::Value>()
                            .await
                            .map_err(|e| format!("the answer is not JSON: {e}")),
                        Ok(r) => {
                            let status = r.status();
                            let reason = r.text().await.unwrap_or_default();
                            Err(format!("HTTP {status}: {}", reason.trim()))
                        }
                        Err(e) if e.is_timeout() => {
                            Err(format!("no answer within {} s", PEER_TIMEOUT.as_secs()))
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    (
                        addr,
                        PeerReply {
                            replica,
                            address: addr.to_string(),
                            result,
                        },
                    )
                });
            }
        }
        // In address order, whichever answered first.
        let mut answered: Vec<(SocketAddr, PeerReply)> = tasks.join_all().await;
        answered.sort_by_key(|(addr, _)| *addr);
        replies.extend(answered.into_iter().map(|(_, r)| r));
        replies
    }
}

/// Every pod behind a replica address: (base URL with the pod's address, the Host header,
/// the pod's socket address).
async fn resolve(base: &str) -> Result<Vec<(String, String, SocketAddr)>, String> {
    let url = reqwest::Url::parse(base).map_err(|e| format!("{base}: {e}"))?;
    let host = url
        .host_str()
        .ok_or_else(|| format!("{base}: no host"))?
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("{base}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{base}: the name has no addresses"));
    }
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    Ok(addrs
        .into_iter()
        .map(|a| (format!("{}://{a}", url.scheme()), host_header.clone(), a))
        .collect())
}

/// Pushes the reloader's state whenever it changes (and again every `retry` while a pod
/// has not taken it), until the task is dropped.
pub async fn push_loop(primary: Arc<Primary>, reloader: Arc<Reloader>, retry: Duration) {
    let mut changes = reloader.subscribe();
    let mut pushed: Option<String> = None;
    loop {
        let state = SyncState::of(&reloader.current());
        if pushed.as_deref() != Some(state.revision.as_str()) && primary.push(&state).await {
            pushed = Some(state.revision);
        }
        let _ = tokio::time::timeout(retry, changes.changed()).await;
    }
}

#[cfg(test)]
mod tests;
