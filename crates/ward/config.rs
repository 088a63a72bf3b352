//! `ward validate`: check a config file without starting anything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use ward_config::{Config, ConfigError};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The YAML config file to check.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

fn read(path: &Path) -> Result<Result<Config, ConfigError>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Config::from_yaml(&text))
}

/// Prints `config OK: N lists, M policies, K clients` (exit 0) or every error, one per line,
/// on stderr (exit 1). A file that cannot be read is exit 2, like every other command.
pub fn validate(args: ValidateArgs) -> Result<ExitCode> {
    match read(&args.config)? {
        Ok(config) => {
            println!(
                "config OK: {} lists, {} policies, {} clients",
                config.lists.len(),
                config.policies.len(),
                config.clients.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{errors}");
            Ok(ExitCode::from(1))
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The AdGuardHome.yaml to read (schema versions of v0.107.x).
    #[arg(value_name = "ADGUARDHOME_YAML")]
    file: PathBuf,
    /// Where to write the Ward config (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Where to write AdGuard Home's users, their bcrypt hashes kept (default: `ward-users`
    /// beside the output, or in the current directory).
    #[arg(long, value_name = "FILE")]
    users_file: Option<PathBuf>,
}

/// Writes a Ward config from an AdGuardHome.yaml and a users file of its users; prints
/// what could not be mapped, one line each, on stderr. The config passes `ward validate`.
pub fn import_adguard(args: ImportArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    // AdGuard Home reads the files its config names by a relative path from its working
    // directory, which is where AdGuardHome.yaml lives in every install it makes.
    let dir = args.file.parent().filter(|d| !d.as_os_str().is_empty());
    let mut imported = ward_config::import::import_adguard_in(&text, dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let source = args.file.display().to_string();
    if !imported.users.is_empty() {
        let users_path = match (&args.users_file, &args.output) {
            (Some(p), _) => p.clone(),
            (None, Some(out)) => out.with_file_name("ward-users"),
            (None, None) => PathBuf::from("ward-users"),
        };
        let mut lines = format!("# AdGuard Home's users, from {source}: name:bcrypt-hash\n");
        for (name, hash) in &imported.users {
            lines.push_str(&format!("{name}:{hash}\n"));
        }
        write_private(&users_path, lines.as_bytes())?;
        let absolute = std::path::absolute(&users_path).unwrap_or(users_path.clone());
        imported.config.admin.users_file = Some(absolute);
        eprintln!(
            "ward: {} users written to {}",
            imported.users.len(),
            users_path.display()
        );
    }
    let yaml = format!(
        "# Imported by `ward import-adguard` from {source}.\n# docs/configuration.md explains every field.\n{}",
        imported.config.to_yaml()
    );
    match &args.output {
        Some(path) => {
            std::fs::write(path, yaml).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{yaml}"),
    }
    for line in &imported.unmapped {
        eprintln!("ward: {source}: not mapped: {line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A file only its owner may read (it holds password hashes).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
