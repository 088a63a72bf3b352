//! Ward's configuration: the YAML file as typed structs, and its validation.
//!
//! [`Config::from_yaml`] parses and validates a file and reports *every* problem at once,
//! each with the path of the field (`policies.kids.extends`, `clients[1].subnet`) and its line,
//! because a config is usually edited by hand, over SSH, in a ConfigMap: one round trip per
//! typo is too many. Parsing is done section by section (each list entry, policy and client
//! on its own) so that one bad entry does not hide the others; positions come from a
//! span-aware YAML event parser, since serde loses them once a value is deserialized.
//!
//! The crate is pure: it reads no files and no clock. The binary reads the file and hands
//! the text over; the embedded default ([`Config::default_config`]) is what `ward serve`
//! runs with when there is no file.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod catalogue;
mod duration;
mod embedded;
mod error;
pub mod import;
mod load;
mod model;
mod name;
mod policy;
mod replicated;
pub mod safesearch;
pub mod services;
mod size;
mod spans;
mod upstream;
mod validate;
mod values;
pub mod window;

pub use error::{ConfigError, ErrorKind, FieldError, FieldPath, Location, PathSegment, Target};
pub use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};
pub use model::*;
pub use name::check_client_id;
pub use policy::{DEFAULT_UPSTREAM, EffectivePolicy};
pub use upstream::{DNS_PORT, DOT_PORT, UpstreamParseError, UpstreamServer, plain_addr};
pub use validate::MAX_SCHEDULES;

/// A name as the config keeps it: lowercase, no trailing dot, IDN as punycode, a leading
/// `*.` kept (what the loader does to record names and zones).
pub fn normalise_name(name: &str) -> String {
    name::normalise(name)
}

/// The text of the embedded default configuration.
pub const DEFAULT_CONFIG_YAML: &str = include_str!("default.yaml");

impl Config {
    /// The embedded default: DNS on 127.0.0.1:5353, admin on 127.0.0.1:8080, one upstream
    /// group `default`, one policy `default` with the catalogue's default list.
    pub fn default_config() -> Config {
        Config::from_yaml(DEFAULT_CONFIG_YAML).expect("the embedded default config is valid")
    }

    /// Parse and validate a YAML config; the error lists every problem with its path and line.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let spans = spans::Spans::of(text).map_err(|e| ConfigError::new(vec![e]))?;
        let mut errors = Vec::new();
        let parsed = load::parse(text, &mut errors);
        if let Some(config) = &parsed.config {
            validate::validate(config, &parsed.origin, &parsed.incomplete, &mut errors);
        }
        match parsed.config {
            Some(config) if errors.is_empty() => Ok(config),
            _ => {
                let errors = errors
                    .into_iter()
                    .map(|e| {
                        if e.line().is_some() {
                            e
                        } else {
                            let at = spans.locate(e.path());
                            e.at(at)
                        }
                    })
                    .collect();
                Err(ConfigError::new(errors))
            }
        }
    }

    /// Check a config built or changed in code (the admin API, a replica push); the errors
    /// have paths but no lines.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        validate::validate(
            self,
            &load::Origin::default(),
            &load::Incomplete::default(),
            &mut errors,
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::new(errors))
        }
    }

    /// The config as YAML; [`Config::from_yaml`] reads it back to an equal config.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).expect("a Config always serializes")
    }
}
