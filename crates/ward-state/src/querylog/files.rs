//! The JSON-lines files: `querylog.json`, rotated to `querylog.<unix-ms>.json`.
//!
//! Writes go through a 64 KiB buffer that is flushed every second, so the writer task
//! makes one `write(2)` per buffer, not one per entry. A failing disk never stops the
//! in-memory log: the error is logged, the file is closed, and it is opened again
//! 30 seconds later.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
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

struct Open {
    out: BufWriter<File>,
    bytes: u64,
    opened: Instant,
}

pub(super) struct Files {
    dir: PathBuf,
    rotate_bytes: u64,
    retention: Duration,
    max_age: Duration,
    current: Option<Open>,
    /// When to try opening the file again after an error.
    retry_at: Option<Instant>,
    expired_at: Instant,
    encoder: LineEncoder,
    /// The lines of the entries being written, handed to the file in one piece.
    lines: Vec<u8>,
}

impl Files {
    pub(super) fn new(dir: PathBuf, rotate_bytes: u64, retention: Duration) -> Files {
        let mut files = Files {
            dir,
            rotate_bytes: rotate_bytes.max(1),
            retention,
            max_age: MAX_FILE_AGE
                .min(retention / 2)
                .max(Duration::from_millis(1)),
            current: None,
            retry_at: None,
            expired_at: Instant::now(),
            encoder: LineEncoder::new(),
            lines: Vec::with_capacity(64 << 10),
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
                    out: BufWriter::with_capacity(64 << 10, file),
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
        self.retry_at = Some(Instant::now() + RETRY);
    }

    /// Appends each entry as a line; rotates at the size (right after the line that
    /// reaches it, as if the lines were written one by one).
    pub(super) fn write_all<'a>(&mut self, entries: impl IntoIterator<Item = &'a Entry>) {
        let mut entries = entries.into_iter().peekable();
        while entries.peek().is_some() {
            let Some(open) = &self.current else {
                return;
            };
            // The lines up to the one that reaches the size go to the file in one piece.
            let room = self.rotate_bytes.saturating_sub(open.bytes);
            self.lines.clear();
            for entry in entries.by_ref() {
                self.encoder.encode(entry, &mut self.lines);
                self.lines.push(b'\n');
                if self.lines.len() as u64 >= room {
                    break;
                }
            }
            let Some(open) = &mut self.current else {
                return;
            };
            match open.out.write_all(&self.lines) {
                Ok(()) => open.bytes += self.lines.len() as u64,
                Err(err) => return self.failed("writing", &self.dir.join(CURRENT), err),
            }
            if open.bytes >= self.rotate_bytes {
                self.rotate();
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

    pub(super) fn flush(&mut self) {
        if let Some(open) = &mut self.current {
            if let Err(err) = open.out.flush() {
                self.failed("writing", &self.dir.join(CURRENT), err);
            }
        }
    }

    /// Renames `querylog.json` to `querylog.<unix-ms>.json` and starts a new one.
    fn rotate(&mut self) {
        let Some(mut open) = self.current.take() else {
            return;
        };
        let current = self.dir.join(CURRENT);
        if let Err(err) = open.out.flush() {
            return self.failed("writing", &current, err);
        }
        drop(open);
        let mut ms = unix_ms(SystemTime::now());
        let mut rotated = self.dir.join(format!("querylog.{ms}.json"));
        while rotated.exists() {
            ms += 1;
            rotated = self.dir.join(format!("querylog.{ms}.json"));
        }
        if let Err(err) = std::fs::rename(&current, &rotated) {
            return self.failed("rotating", &current, err);
        }
        self.expire();
        self.open();
    }

    /// Deletes the rotated files whose newest entry (the rotation time in the name) is
    /// older than the retention.
    fn expire(&mut self) {
        self.expired_at = Instant::now();
        let cutoff = unix_ms(SystemTime::now()).saturating_sub(self.retention.as_millis() as u64);
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for item in dir.flatten() {
            let name = item.file_name();
            let Some(ms) = name.to_str().and_then(rotated_ms) else {
                continue;
            };
            if ms < cutoff {
                if let Err(err) = std::fs::remove_file(item.path()) {
                    tracing::warn!(path = %item.path().display(), %err, "query log: deleting an expired file failed");
                }
            }
        }
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
