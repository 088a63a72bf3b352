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
