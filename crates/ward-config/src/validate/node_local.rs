//! Checks of the node-local sections, `admin` and `sync`: each node's own, never replicated.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::{Validator, root};
use crate::error::{ErrorKind, FieldPath};
use crate::model::SyncRole;
use crate::values::check_base_url;

/// A replica pulling more often than this would only load the primary.
const MIN_SYNC_INTERVAL: Duration = Duration::from_secs(1);

impl Validator<'_> {
    /// A file named in the config must have a name.
    fn file(&mut self, path: FieldPath, file: Option<&Path>, what: &'static str) {
        if file.is_some_and(|f| f.as_os_str().is_empty()) {
            self.push(path, ErrorKind::Empty { what });
        }
    }

    /// `dns.tls`: a certificate and key for its listeners, a server name that is a name.
    pub(super) fn tls(&mut self) {
        let tls = &self.config.dns.tls;
        let at = root().key("dns").key("tls");
        self.file(at.key("cert_file"), tls.cert_file.as_deref(), "cert_file");
        self.file(at.key("key_file"), tls.key_file.as_deref(), "key_file");
        match (&tls.cert_file, &tls.key_file) {
            (Some(_), Some(_)) => {}
            (None, None) if !tls.serves() => {}
            (None, _) => self.push(
                at.key("cert_file"),
                ErrorKind::InvalidValue {
                    message: "DNS over TLS and over HTTPS need a certificate: cert_file and \
                              key_file (a TLS Secret's tls.crt and tls.key)"
                        .to_owned(),
                },
            ),
            (Some(_), None) => self.push(
                at.key("key_file"),
                ErrorKind::InvalidValue {
                    message: "cert_file needs its private key: key_file".to_owned(),
                },
            ),
        }
        if let Some(name) = &tls.server_name
            && let Err(message) = crate::name::check_host_name(name)
        {
            self.push(at.key("server_name"), ErrorKind::InvalidValue { message });
        }
    }

    /// Every listener on an address of its own: plain DNS, the admin API, the webhook,
    /// DNS over TLS and over HTTPS, each reported against the first one before it that
    /// takes its address (port 0 asks the system for a free port: two never collide).
    pub(super) fn listeners(&mut self) {
        let (config, tls) = (self.config, &self.config.dns.tls);
        let listed = |at: FieldPath, addrs: &[SocketAddr]| -> Vec<(SocketAddr, FieldPath)> {
            (addrs.iter().enumerate())
                .map(|(i, a)| (*a, at.index(i)))
                .collect()
        };
        let mut all = listed(root().key("dns").key("listen"), &config.dns.listen);
        all.push((config.admin.listen, root().key("admin").key("listen")));
        all.extend(
            (config.external_dns.listen).map(|a| (a, root().key("external_dns").key("listen"))),
        );
        let at = root().key("dns").key("tls");
        all.extend(listed(at.key("dot"), &tls.dot));
        all.extend(listed(at.key("doh"), &tls.doh));
        for (n, (addr, path)) in all.iter().enumerate() {
            let first = all[..n].iter().find(|(a, _)| a == addr);
            if let Some((_, first)) = first.filter(|_| addr.port() != 0) {
                self.push(
                    path.clone(),
                    ErrorKind::Duplicate {
                        what: "listen address",
                        name: addr.to_string(),
                        first: first.to_string(),
                    },
                );
            }
        }
    }

    pub(super) fn admin(&mut self) {
        let admin = &self.config.admin;
        let at = root().key("admin");
        self.file(
            at.key("token_file"),
            admin.token_file.as_deref(),
            "token_file",
        );
        self.file(
            at.key("users_file"),
            admin.users_file.as_deref(),
            "users_file",
        );
    }

    pub(super) fn sync(&mut self) {
        let sync = &self.config.sync;
        let role = sync.role;
        let at = root().key("sync");
        if !sync.replicas.is_empty() && role != SyncRole::Primary {
            self.push(
                at.key("replicas"),
                ErrorKind::SyncUnused {
                    role,
                    reason: "only a primary pushes to replicas",
                },
            );
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, url) in sync.replicas.iter().enumerate() {
            if let Err(message) = check_base_url(url) {
                self.push(
                    at.key("replicas").index(i),
                    ErrorKind::InvalidValue { message },
                );
                continue;
            }
            // Host names are case-insensitive, and a base URL's final '/' means nothing.
            let key = url.trim_end_matches('/').to_ascii_lowercase();
            let first = *seen.entry(key).or_insert(i);
            if first != i {
                self.push(
                    at.key("replicas").index(i),
                    ErrorKind::Duplicate {
                        what: "replica",
                        name: url.clone(),
                        first: format!("sync.replicas[{first}]"),
                    },
                );
            }
        }
        match (&sync.primary, role) {
            (None, SyncRole::Replica) => self.push(
                at.key("primary"),
                ErrorKind::SyncMissing {
                    role,
                    what: "the primary's address",
                },
            ),
            (Some(_), SyncRole::Primary | SyncRole::Standalone) => self.push(
                at.key("primary"),
                ErrorKind::SyncUnused {
                    role,
                    reason: "only a replica pulls from a primary",
                },
            ),
            _ => {}
        }
        if let Some(url) = &sync.primary {
            if let Err(message) = check_base_url(url) {
                self.push(at.key("primary"), ErrorKind::InvalidValue { message });
            }
        }
        let token_for = match role {
            SyncRole::Standalone => None,
            SyncRole::Primary => Some(
                "the file holding the shared sync token, to authenticate its pushes to the \
                 replicas",
            ),
            SyncRole::Replica => Some(
                "the file holding the shared sync token, to authenticate its pulls from the \
                 primary",
            ),
        };
        if let (Some(what), None) = (token_for, &sync.token_file) {
            self.push(at.key("token_file"), ErrorKind::SyncMissing { role, what });
        }
        self.file(
            at.key("token_file"),
            sync.token_file.as_deref(),
            "token_file",
        );
        if sync.interval < MIN_SYNC_INTERVAL {
            self.push(
                at.key("interval"),
                ErrorKind::OutOfRange {
                    message: format!(
                        "interval {} is shorter than the minimum, 1s",
                        humantime::format_duration(sync.interval)
                    ),
                },
            );
        }
    }
}
