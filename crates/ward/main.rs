//! `ward`: the DNS filtering server's command line.
//!
//! `main` stays thin: parse the command line, run the command, turn an error into a
//! message and an exit code.

mod cli;
mod config;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ward: {err:#}");
            ExitCode::from(2)
        }
    }
}
