//! `ward`: the DNS filtering server's command line.
//!
//! `main` stays thin: parse the command line, run the command, turn an error into a
//! message and an exit code.

mod cli;
mod config;
mod serve;

use std::process::ExitCode;

use clap::Parser;

/// Downloads catalogue lists from this base URL (`<base>/<id>.txt`) instead of their
/// maintainers' URLs: a network without internet access that mirrors them.
const CATALOGUE_MIRROR_ENV: &str = "WARD_CATALOGUE_MIRROR";

fn main() -> ExitCode {
    let args = cli::Args::parse();
    if let Some(base) = std::env::var(CATALOGUE_MIRROR_ENV)
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        ward_config::catalogue::set_mirror(base.trim());
    }
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ward: {err:#}");
            ExitCode::from(2)
        }
    }
}
