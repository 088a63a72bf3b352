//! End-to-end tests of the `ward` binary, one module per area.

mod config_cli;
mod rules_cli;
