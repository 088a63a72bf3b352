//! The JSON-lines files: `querylog.json`, rotated to `querylog.<unix-ms>.json`.
//!
//! Entries are encoded straight into one buffer, which goes to the file in a single
//! `write(2)` once it holds 256 KiB, and at least once a second. (Each `write(2)` to
//! ext4 costs several µs besides the copy: `benches/querylog.rs` wrote 20 % slower with
//! 32 KiB writes, and no faster with 1 MiB.) A failing disk never stops
//! the in-memory log: the error is logged, the file is closed, and it is opened again
//! 30 seconds later.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Entry;
use super::json::LineEncoder;

const CURRENT: &str = "querylog.json";
/// The longest a non-empty `querylog.json` goes unrotated, so that the entries of a quiet
/// server expire too (at most this long after `retention`).
const MAX_FILE_AGE: Duration = Duration::from_secs(3600);
/// How often rotated files are checked for expiry, besides at each rotation (or every
/// quarter of the retention, if that is shorter).
const EXPIRE_EVERY: Duration = Duration::from_secs(60);
const RETRY: Duration = Duration::from_secs(30);
/// How much is buffered before it is written.
const WRITE_AT: usize = 256 << 10;

struct Open {
    file: File,
    /// The file's size with what is buffered.
    bytes: u64,
    opened: Instant,
}

pub(super) struct Files {
    dir: PathBuf,
    rotate_bytes: u64,
    retention: Duration,
    /// What the rotated files may take together: `max_disk` less the room `querylog.json`
    /// grows into before it rotates.
    rotated_budget: u64,
    /// The name of the last rotated file: the next is later, so names sort by age even
    /// when rotations come faster than a millisecond (and an older one was deleted).
    last_rotated_ms: u64,
    max_age: Duration,
    current: Option<Open>,
    /// When to try opening the file again after an error.
    retry_at: Option<Instant>,
    expired_at: Instant,
    encoder: LineEncoder,
    /// The lines not written yet (to `current`, which is `Some` while this is not empty).
    pending: Vec<u8>,
}

impl Files {
    /// Files in `dir`, rotated at `rotate_bytes` (or a quarter of `max_disk`, if less),
    /// kept for `retention` and while all of them together stay within `max_disk`.
    pub(super) fn new(
        dir: PathBuf,
        rotate_bytes: u64,
        retention: Duration,
        max_disk: u64,
    ) -> Files {
        // A quarter: a small `max_disk` still keeps some history besides the open file.
        let rotate_bytes = rotate_bytes.min(max_disk / 4).max(1);
        let mut files = Files {
            dir,
            rotate_bytes,
            retention,
            rotated_budget: max_disk.saturating_sub(rotate_bytes),
            last_rotated_ms: 0,
            max_age: MAX_FILE_AGE
                .min(retention / 2)
                .max(Duration::from_millis(1)),
            current: None,
            retry_at: None,
            expired_at: Instant::now(),
            encoder: LineEncoder::new(),
            pending: Vec::with_capacity(WRITE_AT + 1024),
        };
        files.expire();
        files.open();
        files
    }

    fn open(&mut self) {
        let path = self.dir.join(CURRENT);
        let opened = std::fs::create_dir_all(&self.dir).and_then(|()| {
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            let bytes = file.metadata()?.len();
            Ok((file, bytes))
        });
        match opened {
            Ok((file, bytes)) => {
                self.current = Some(Open {
                    file,
                    bytes,
                    opened: Instant::now(),
                });
                self.retry_at = None;
            }
            Err(err) => self.failed("opening", &path, err),
        }
    }

    fn failed(&mut self, doing: &str, path: &Path, err: std::io::Error) {
        tracing::warn!(
            path = %path.display(),
            %err,
            retry_s = RETRY.as_secs(),
            "query log: {doing} the file failed; entries stay in memory only until it works"
        );
        self.current = None;
        self.pending.clear();
        self.retry_at = Some(Instant::now() + RETRY);
    }

    /// Appends each entry as a line; rotates at the size (right after the line that
    /// reaches it).
    pub(super) fn write_all<'a>(&mut self, entries: impl IntoIterator<Item = &'a Entry>) {
        for entry in entries {
            let Some(open) = &mut self.current else {
                return;
            };
            let start = self.pending.len();
            self.encoder.encode(entry, &mut self.pending);
            self.pending.push(b'\n');
            open.bytes += (self.pending.len() - start) as u64;
            if open.bytes >= self.rotate_bytes {
                self.rotate();
            } else if self.pending.len() >= WRITE_AT {
                self.flush();
            }
        }
    }

    /// Once a second: flush, retry a failed file, rotate by age, expire old files.
    pub(super) fn tick(&mut self) {
        self.flush();
        let now = Instant::now();
        if self.current.is_none() && self.retry_at.is_some_and(|at| at <= now) {
            self.open();
        }
        if self
            .current
            .as_ref()
            .is_some_and(|o| o.bytes > 0 && now.duration_since(o.opened) >= self.max_age)
        {
            self.rotate();
        } else if now.duration_since(self.expired_at) >= EXPIRE_EVERY.min(self.retention / 4) {
            self.expire();
        }
    }

    /// Writes what is buffered.
    pub(super) fn flush(&mut self) {
        let Some(open) = &mut self.current else {
            return;
        };
        if self.pending.is_empty() {
            return;
        }
        match open.file.write_all(&self.pending) {
            Ok(()) => self.pending.clear(),
            Err(err) => self.failed("writing", &self.dir.join(CURRENT), err),
        }
    }

    /// Renames `querylog.json` to `querylog.<unix-ms>.json` and starts a new one.
    fn rotate(&mut self) {
        self.flush();
        // Closes the file (a failed write closed it already).
        if self.current.take().is_none() {
            return;
        }
        let current = self.dir.join(CURRENT);
        let mut ms = unix_ms(SystemTime::now()).max(self.last_rotated_ms + 1);
        let mut rotated = self.dir.join(format!("querylog.{ms}.json"));
        while rotated.exists() {
            ms += 1;
            rotated = self.dir.join(format!("querylog.{ms}.json"));
        }
        if let Err(err) = std::fs::rename(&current, &rotated) {
            return self.failed("rotating", &current, err);
        }
        self.last_rotated_ms = ms;
        self.expire();
        self.open();
    }

    /// Deletes the rotated files whose newest entry (the rotation time in the name) is
    /// older than the retention, then the oldest while those left take more than
    /// `max_disk` allows.
    fn expire(&mut self) {
        self.expired_at = Instant::now();
        let cutoff = unix_ms(SystemTime::now()).saturating_sub(self.retention.as_millis() as u64);
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut kept: Vec<(u64, u64, PathBuf)> = Vec::new();
        for item in dir.flatten() {
            let name = item.file_name();
            let Some(ms) = name.to_str().and_then(rotated_ms) else {
                continue;
            };
            if ms < cutoff {
                remove(&item.path(), "an expired");
            } else {
                let bytes = item.metadata().map_or(0, |m| m.len());
                kept.push((ms, bytes, item.path()));
            }
        }
        // Newest first: the newest files that fit stay.
        kept.sort_unstable_by_key(|k| std::cmp::Reverse(k.0));
        let mut total = 0u64;
        for (_, bytes, path) in kept {
            total = total.saturating_add(bytes);
            if total > self.rotated_budget {
                remove(&path, "an old");
            }
        }
    }
}

fn remove(path: &Path, what: &str) {
    if let Err(err) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), %err, "query log: deleting {what} file failed");
    }
}

/// The rotation time of `querylog.<unix-ms>.json`.
fn rotated_ms(name: &str) -> Option<u64> {
    let ms = name.strip_prefix("querylog.")?.strip_suffix(".json")?;
    if ms.is_empty() || !ms.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    ms.parse().ok()
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What [`read_back`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ReadBack {
    /// Entries read and handed on.
    pub(super) entries: usize,
    /// Lines that were not an entry (a line cut short by a crash, a hand edit): skipped.
    pub(super) bad_lines: usize,
    /// Files read.
    pub(super) files: usize,
}

/// Reads the newest `capacity` entries of the files in `dir` back, oldest first, and
/// hands each to `push`: the in-memory log refilled at start, so a restart does not empty
/// it. The files are counted newest first (a `memchr` pass), and only the lines that fit
/// are parsed, so the work and the memory are bounded by `capacity`, not by the disk.
pub(super) fn read_back(dir: &Path, capacity: usize, mut push: impl FnMut(Entry)) -> ReadBack {
    let mut read = ReadBack::default();
    if capacity == 0 {
        return read;
    }
    // Newest first: `querylog.json`, then the rotated files by their time, descending.
    let mut files: Vec<(u64, PathBuf)> = match std::fs::read_dir(dir) {
        Ok(items) => items
            .flatten()
            .filter_map(|item| {
                let name = item.file_name();
                let name = name.to_str()?;
                let ms = if name == CURRENT {
                    u64::MAX
                } else {
                    rotated_ms(name)?
                };
                Some((ms, item.path()))
            })
            .collect(),
        Err(_) => return read,
    };
    files.sort_unstable_by_key(|f| std::cmp::Reverse(f.0));
    // Counted one file at a time and parsed one at a time: one file's text is held at
    // once, whatever the capacity.
    let mut needed: Vec<(PathBuf, usize)> = Vec::new();
    let mut lines = 0usize;
    for (_, path) in files {
        if lines >= capacity {
            break;
        }
        match read_file(&path) {
            Ok(text) => {
                let count = count_lines(&text);
                lines += count;
                needed.push((path, count));
            }
            Err(err) => {
                tracing::warn!(path = %path.display(), %err, "query log: reading a file back failed");
            }
        }
    }
    let mut skip = lines.saturating_sub(capacity);
    for (path, count) in needed.iter().rev() {
        if skip >= *count {
            skip -= count;
            continue;
        }
        let text = match read_file(path) {
            Ok(text) => text,
            Err(err) => {
                tracing::warn!(path = %path.display(), %err, "query log: reading a file back failed");
                continue;
            }
        };
        read.files += 1;
        for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            match super::json::parse_line(line) {
                Some(entry) => {
                    push(entry);
                    read.entries += 1;
                }
                None => read.bad_lines += 1,
            }
        }
    }
    read
}

/// The non-empty lines of a file's text.
fn count_lines(text: &[u8]) -> usize {
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
}

/// A log file's text: a regular file only (a device such as `/dev/full` reads forever),
/// and no more than its size when it was opened.
fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut text = Vec::with_capacity(meta.len() as usize);
    file.take(meta.len()).read_to_end(&mut text)?;
    Ok(text)
}
