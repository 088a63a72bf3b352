//! End-to-end tests of the `ward` binary, one module per area.

mod admin_e2e;
mod config_cli;
mod dns_e2e;
mod dns_hardening_e2e;
mod dns_support;
mod encrypted_dns_e2e;
mod hardening_lists_e2e;
mod layer_e2e;
mod parental_e2e;
mod querylog_e2e;
mod reload_e2e;
mod rules_cli;
mod sync_e2e;
