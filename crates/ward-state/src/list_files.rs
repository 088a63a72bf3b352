//! Reading `path` lists safely: only regular files, only under the allowed directories,
//! never more than a download may bring (AdGuard Home's CVE-2024-36814 let any readable
//! file become a list).
//!
//! A list path comes from the config file, and also from admin API writes, which anyone
//! on the LAN may try. So every read is checked where it happens, not only when the path
//! is written:
//! - the path is canonicalised (symlinks and `..` resolved) and must be under one of the
//!   [`ListDirs`]: `list_dirs` in the config, else the config file's directory and
//!   `<data_dir>/lists` (a replica's copies in `<data_dir>/sync/lists` always are);
//! - it must be a regular file, checked before it is opened, and the file is opened with
//!   `O_NONBLOCK` and checked again, so a FIFO swapped in meanwhile cannot block the one
//!   reloader and a device such as `/dev/zero` is never read;
//! - at most [`MAX_LIST_BYTES`] are read, the limit of a download.
//!
//! A list that fails any of these is that list's error (the other lists serve); the
//! reloader also refuses an API write that adds one ([`check_new_list_files`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use ward_config::{Config, ListSource};

use crate::download::MAX_LIST_BYTES;
use crate::{DiskLists, ListTexts, SourceIdentity};

/// The directories `path` lists may be read from.
#[derive(Clone, Debug)]
pub struct ListDirs {
    /// As configured; canonicalised at each check, so a directory created later counts.
    dirs: Vec<PathBuf>,
}

impl ListDirs {
    /// The directories of `config`, read from `config_path` (if it was read from a file):
    /// its `list_dirs`, else the config file's directory and `<data_dir>/lists`; and
    /// always `<data_dir>/sync/lists`, where a replica keeps the primary's lists.
    pub fn new(config: &Config, config_path: Option<&Path>) -> ListDirs {
        let data_dir = crate::data_dir(config);
        let mut dirs = config.list_dirs.clone();
        if dirs.is_empty() {
            if let Some(path) = config_path {
                // The directory as the user sees it: in a Kubernetes ConfigMap the file is
                // a symlink into a `..data` directory below it, and so are its lists.
                dirs.push(match path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                    _ => PathBuf::from("."),
                });
            }
            dirs.push(data_dir.join("lists"));
        }
        // sync.rs's `list_copy`: `<data_dir>/sync/lists/<sha256>.txt`.
        dirs.push(data_dir.join("sync").join("lists"));
        ListDirs { dirs }
    }

    /// The directories, as configured.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// `path` canonicalised, if it is under one of the directories; a path that does not
    /// exist yet is checked by its directory. The error says why, for the list's status
    /// and the API's answer.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, String> {
        let resolved = match std::fs::canonicalize(path) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let missing = |e: std::io::Error| format!("reading {}: {e}", path.display());
                let name = path
                    .file_name()
                    .ok_or_else(|| format!("{} names no file", path.display()))?;
                let parent = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                std::fs::canonicalize(parent).map_err(missing)?.join(name)
            }
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        let allowed = self
            .dirs
            .iter()
            .filter_map(|d| std::fs::canonicalize(d).ok())
            .any(|d| resolved.starts_with(d));
        if allowed {
            Ok(resolved)
        } else {
            let dirs: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
            Err(format!(
                "{} is outside the directories lists may be read from ({}); put the file \
                 there or add its directory to list_dirs",
                path.display(),
                dirs.join(", ")
            ))
        }
    }
}

/// [`DiskLists`], with every `path` list confined to [`ListDirs`]: what the reloader and
/// `ward serve` read lists with.
#[derive(Clone, Debug)]
pub struct ConfinedLists {
    /// Reads the files.
    pub disk: DiskLists,
    /// Where `path` lists may be.
    pub dirs: ListDirs,
}

impl ConfinedLists {
    /// The lists of `config` (read from `config_path`, if from a file).
    pub fn new(config: &Config, config_path: Option<&Path>) -> ConfinedLists {
        ConfinedLists {
            disk: DiskLists {
                data_dir: crate::data_dir(config),
            },
            dirs: ListDirs::new(config, config_path),
        }
    }
}

impl ListTexts for ConfinedLists {
    fn text(&self, list: &ListSource) -> Result<Vec<u8>, String> {
        match &list.path {
            // The canonical path, not followed again: what was checked is what is read.
            Some(path) => read_list_file(&self.dirs.resolve(path)?, Follow::No),
            None => self.disk.text(list),
        }
    }

    fn identity(&self, list: &ListSource) -> Option<SourceIdentity> {
        // A refused file has no identity: its previous compiled form is not reused as if
        // unchanged (after `list_dirs` is narrowed, say), and the error is reported again.
        if let Some(path) = &list.path {
            self.dirs.resolve(path).ok()?;
        }
        self.disk.identity(list)
    }
}

/// Whether the last component of a path may be a symlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Follow {
    Yes,
    No,
}

/// Reads a list file: a regular file of at most [`MAX_LIST_BYTES`], opened without
/// blocking, so a FIFO or a device named as a list costs an error, never a stuck reload.
pub(crate) fn read_list_file(path: &Path, follow: Follow) -> Result<Vec<u8>, String> {
    let failed = |e: std::io::Error| format!("reading {}: {e}", path.display());
    let meta = match follow {
        Follow::Yes => std::fs::metadata(path),
        Follow::No => std::fs::symlink_metadata(path),
    }
    .map_err(failed)?;
    regular(path, &meta)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if follow == Follow::No {
            libc::O_NOFOLLOW
        } else {
            0
        };
        options.custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | nofollow);
    }
    let file = options.open(path).map_err(failed)?;
    // Checked again on what was opened: the path may have been swapped since.
    let meta = file.metadata().map_err(failed)?;
    regular(path, &meta)?;
    let mut text = Vec::with_capacity(usize::try_from(meta.len().min(MAX_LIST_BYTES)).unwrap_or(0));
    file.take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(failed)?;
    if text.len() as u64 > MAX_LIST_BYTES {
        return Err(too_large(path));
    }
    Ok(text)
}

fn too_large(path: &Path) -> String {
    format!(
        "{}: the list is larger than the limit of {MAX_LIST_BYTES} bytes",
        path.display()
    )
}

/// `Ok` for a regular file within the size limit, else what it is instead.
fn regular(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    if meta.is_file() {
        return if meta.len() > MAX_LIST_BYTES {
            Err(too_large(path))
        } else {
            Ok(())
        };
    }
    let what = file_kind(meta);
    Err(format!(
        "{} is {what}, not a regular file: a list must be a file",
        path.display()
    ))
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    if t.is_symlink() {
        return "a symlink";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

/// The `path` lists of `config` that `current` does not have (same id and path), each
/// checked as a read would check it: under the allowed directories of `current`, and a
/// regular file if it exists (one that does not exist yet is the list's error until it
/// does). `list_dirs` and `data_dir` cannot change this way: they are what keeps API writes in
/// bounds (AdGuard Home's `safe_fs_patterns` is not writable through its API either).
/// What the reloader refuses an admin API write for, naming the list.
pub fn check_new_list_files(
    config: &Config,
    current: &Config,
    config_path: Option<&Path>,
) -> Result<(), String> {
    if config.list_dirs != current.list_dirs {
        return Err(
            "list_dirs: cannot be changed through the API; edit the config file".to_owned(),
        );
    }
    // `<data_dir>/lists` is an allowed directory: moving data_dir would widen what a later
    // write may name, so it is the file's to change, as list_dirs is.
    if config.data_dir != current.data_dir {
        return Err("data_dir: cannot be changed through the API; edit the config file".to_owned());
    }
    let dirs = ListDirs::new(current, config_path);
    let mut errors = Vec::new();
    for (i, list) in config.lists.iter().enumerate() {
        let Some(path) = &list.path else { continue };
        let known = current
            .lists
            .iter()
            .any(|l| l.id == list.id && l.path.as_ref() == Some(path));
        if known {
            continue;
        }
        let checked =
            dirs.resolve(path)
                .and_then(|resolved| match std::fs::symlink_metadata(&resolved) {
                    Ok(meta) => regular(path, &meta),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(format!("reading {}: {e}", path.display())),
                });
        if let Err(e) = checked {
            errors.push(format!("lists[{i}].path (list {}): {e}", list.id));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        Config::from_yaml(&format!(
            "upstreams: {{ default: {{ servers: [9.9.9.9] }} }}\n\
             policies: {{ main: {{}} }}\ndefault_policy: main\n{yaml}"
        ))
        .unwrap()
    }

    fn temp(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ward-list-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        dir
    }

    #[test]
    fn only_regular_files_under_the_allowed_directories_are_read() {
        let dir = temp("dirs");
        let conf = dir.join("conf");
        std::fs::write(conf.join("ok.txt"), "||ok.example^\n").unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        std::fs::write(dir.join("outside/secret.txt"), "secret\n").unwrap();
        std::os::unix::fs::symlink(dir.join("outside/secret.txt"), conf.join("link.txt")).unwrap();
        std::fs::create_dir_all(conf.join("sub")).unwrap();
        let c = config(&format!("data_dir: {}\n", dir.join("data").display()));
        let dirs = ListDirs::new(&c, Some(&conf.join("ward.yaml")));

        assert!(dirs.resolve(&conf.join("ok.txt")).is_ok());
        assert!(dirs.resolve(&conf.join("sub/../ok.txt")).is_ok());
        assert!(dirs.resolve(&conf.join("not-yet.txt")).is_ok());
        for escape in [
            conf.join("link.txt"),
            conf.join("../outside/secret.txt"),
            PathBuf::from("/etc/passwd"),
            PathBuf::from("/dev/zero"),
        ] {
            let err = dirs.resolve(&escape).unwrap_err();
            assert!(err.contains("outside the directories"), "{err}");
        }
        let err = read_list_file(&conf.join("sub"), Follow::Yes).unwrap_err();
        assert!(err.contains("a directory, not a regular file"), "{err}");
        let err = read_list_file(Path::new("/dev/zero"), Follow::Yes).unwrap_err();
        assert!(err.contains("a character device"), "{err}");
        let err = read_list_file(&conf.join("link.txt"), Follow::No).unwrap_err();
        assert!(err.contains("a symlink"), "{err}");

        // `list_dirs` replaces the defaults.
        let c = config(&format!(
            "list_dirs: [\"{}\"]\n",
            dir.join("outside").display()
        ));
        let dirs = ListDirs::new(&c, Some(&conf.join("ward.yaml")));
        assert!(dirs.resolve(&conf.join("link.txt")).is_ok());
        assert!(dirs.resolve(&conf.join("ok.txt")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = temp("fifo");
        let fifo = dir.join("conf/fifo.txt");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let started = std::time::Instant::now();
        let err = read_list_file(&fifo, Follow::Yes).unwrap_err();
        assert!(err.contains("a FIFO"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_larger_than_a_download_may_be_is_refused() {
        let dir = temp("large");
        let big = dir.join("conf/big.txt");
        let file = std::fs::File::create(&big).unwrap();
        // Sparse: no disk used.
        file.set_len(MAX_LIST_BYTES + 1).unwrap();
        let err = read_list_file(&big, Follow::Yes).unwrap_err();
        assert!(err.contains("larger than the limit"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_api_write_is_checked_for_the_list_files_it_adds_only() {
        let dir = temp("api");
        let conf = dir.join("conf");
        std::fs::write(conf.join("ok.txt"), "||ok.example^\n").unwrap();
        let path = conf.join("ward.yaml");
        let current = config(&format!(
            "lists: [{{ id: old, path: /etc/hostname }}]\ndata_dir: {}\n",
            dir.join("data").display()
        ));
        let next = config(&format!(
            "lists:\n  - {{ id: old, path: /etc/hostname }}\n  - {{ id: ok, path: {} }}\n  - {{ id: zero, path: /dev/zero }}\n  - {{ id: dir, path: {} }}\ndata_dir: {}\n",
            conf.join("ok.txt").display(),
            conf.display(),
            dir.join("data").display()
        ));
        let err = check_new_list_files(&next, &current, Some(&path)).unwrap_err();
        assert!(
            !err.contains("list old") && !err.contains("list ok"),
            "{err}"
        );
        assert!(
            err.contains("lists[2].path (list zero): /dev/zero is outside"),
            "{err}"
        );
        assert!(err.contains("lists[3].path (list dir)"), "{err}");
        assert!(err.contains("a directory"), "{err}");

        // Widening the directories is not an API write's to make.
        let mut wider = current.clone();
        wider.list_dirs.push(PathBuf::from("/"));
        let err = check_new_list_files(&wider, &current, Some(&path)).unwrap_err();
        assert!(err.starts_with("list_dirs: cannot be changed"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
