//! End-to-end tests of the `ward` binary, one module per area.

mod rules_cli;
