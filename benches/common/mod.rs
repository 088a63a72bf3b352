//! Inputs shared by the rule-engine benches: the real lists of `shared/corpus` and the
//! synthetic corpora of `shared/bench/gen_corpus.py`.
//!
//! Both live outside this repository, so every input is optional: a bench that cannot
//! find or make one says so and measures the others. Synthetic corpora are generated
//! once into `target/bench-corpus/nN` with a fixed seed, so every run (and every
//! machine) measures byte-identical lists.

#![allow(dead_code)] // Each bench uses a different part of this module.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The generator's seed: the same files on every machine.
const SEED: u32 = 1;

/// One filter list, as `RuleSetBuilder::add_list` takes it.
#[derive(Clone)]
pub struct List {
    pub name: String,
    pub text: Vec<u8>,
}

/// Whether this is a real `cargo bench` run rather than `cargo test --benches`, which
/// runs each bench once to see that it works and must not spend minutes making corpora.
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn shared_dir(var: &str, sub: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("shared")
            .join(sub),
    }
}

/// `$WARD_CORPUS_DIR`, else `../shared/corpus` beside the workspace.
pub fn corpus_dir() -> PathBuf {
    shared_dir("WARD_CORPUS_DIR", "corpus")
}

/// The real lists, one list per `*.txt` file, in file-name order; `None` (and a message)
/// when the folder is missing.
pub fn real_lists() -> Option<Vec<List>> {
    let dir = corpus_dir();
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect(),
        Err(err) => {
            skip(&format!(
                "real corpus: cannot read {} ({err}); set WARD_CORPUS_DIR",
                dir.display()
            ));
            return None;
        }
    };
    paths.sort();
    if paths.is_empty() {
        skip(&format!("real corpus: no *.txt in {}", dir.display()));
        return None;
    }
    let mut lists = Vec::with_capacity(paths.len());
    for path in paths {
        match std::fs::read(&path) {
            Ok(text) => lists.push(List {
                name: file_name(&path),
                text,
            }),
            Err(err) => {
                skip(&format!("real corpus: reading {}: {err}", path.display()));
                return None;
            }
        }
    }
    Some(lists)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// The synthetic corpus of `n` names, generated on first use; `None` (and a message)
/// when it is missing and cannot be made.
pub fn synthetic(n: u32) -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let dir = target.join("bench-corpus").join(format!("n{n}"));
    // The generator writes manifest.json last: its presence means a complete corpus.
    if dir.join("manifest.json").is_file() {
        return Some(dir);
    }
    if !bench_mode() {
        skip(&format!(
            "synthetic corpus n={n}: not generated yet (`cargo bench` makes it in {})",
            dir.display()
        ));
        return None;
    }
    let script = shared_dir("WARD_BENCH_DIR", "bench").join("gen_corpus.py");
    if !script.is_file() {
        skip(&format!(
            "synthetic corpus n={n}: no generator at {}; set WARD_BENCH_DIR",
            script.display()
        ));
        return None;
    }
    // Generate beside the final folder and rename, so an interrupted or concurrent run
    // never leaves a half-written corpus where the next run would trust it.
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    eprintln!(
        "generating synthetic corpus n={n} into {} ...",
        dir.display()
    );
    let status = Command::new("python3")
        .arg(&script)
        .args(["-n", &n.to_string(), "--seed", &SEED.to_string(), "--out"])
        .arg(&tmp)
        .args(["--miss-queries", "1000"])
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            skip(&format!(
                "synthetic corpus n={n}: gen_corpus.py failed ({s})"
            ));
            let _ = std::fs::remove_dir_all(&tmp);
            return None;
        }
        Err(err) => {
            skip(&format!(
                "synthetic corpus n={n}: cannot run python3 ({err})"
            ));
            return None;
        }
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another run finished first: keep its copy.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    dir.join("manifest.json").is_file().then_some(dir)
}

/// One file of a synthetic corpus as a list named after the file.
pub fn synthetic_list(n: u32, file: &str) -> Option<List> {
    read_list(&synthetic(n)?, file)
}

/// `dir/file` as a list named after the file.
pub fn read_list(dir: &Path, file: &str) -> Option<List> {
    let path = dir.join(file);
    match std::fs::read(&path) {
        Ok(text) => Some(List {
            name: file.to_owned(),
            text,
        }),
        Err(err) => {
            skip(&format!("{}: {err}", path.display()));
            None
        }
    }
}

/// The names of a dnsperf query file (`name TYPE` lines).
pub fn query_names(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| {
        skip(&format!("{}: {err}", path.display()));
        String::new()
    });
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

pub fn skip(what: &str) {
    eprintln!("ward bench: skipping {what}");
}

/// A small deterministic generator (SplitMix64), so the benches need no `rand`.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}
