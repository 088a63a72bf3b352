//! The certificate of the DNS-over-TLS and DNS-over-HTTPS listeners, read from the files
//! `dns.tls` names and read again when they change.
//!
//! In Kubernetes the files are a TLS Secret's `tls.crt` and `tls.key`, mounted as a
//! volume: when cert-manager renews the Secret, the kubelet swaps the files (a symlink
//! to a new directory) within a minute or two. [`Certificate::watch`] looks at their
//! contents every [`RELOAD_EVERY`]; a new pair that parses and matches is served from the
//! next handshake on, connections already open keep the one they started with, and a
//! pair that does not (a half-written file, a key of another certificate) is reported and
//! the last good one kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, version};
use tokio_util::sync::CancellationToken;

/// How often the files are looked at.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// Why a certificate and key cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    #[error("{path}: no PEM certificate in it")]
    NoCertificate { path: PathBuf },
    #[error("{path}: not a PEM certificate chain: {err}")]
    BadCertificate {
        path: PathBuf,
        err: rustls::pki_types::pem::Error,
    },
    #[error("{path}: not a PEM private key (PKCS#8, PKCS#1 or SEC1): {err}")]
    BadKey {
        path: PathBuf,
        err: rustls::pki_types::pem::Error,
    },
    #[error("{key} does not go with {cert}: {err}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        err: rustls::Error,
    },
}

/// The served certificate and key, and where they come from.
pub struct Certificate {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: ArcSwap<CertifiedKey>,
    /// The files' contents when last read, to tell a change.
    seen: Mutex<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|err| TlsError::Read {
        path: path.to_owned(),
        err,
    })
}

/// A certificate chain and key from their PEM files' contents, checked to go together.
fn parse(
    cert_file: &Path,
    cert: &[u8],
    key_file: &Path,
    key: &[u8],
) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::BadCertificate {
            path: cert_file.to_owned(),
            err,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert_file.to_owned(),
        });
    }
    let private = PrivateKeyDer::from_pem_slice(key).map_err(|err| TlsError::BadKey {
        path: key_file.to_owned(),
        err,
    })?;
    CertifiedKey::from_der(chain, private, &provider()).map_err(|err| TlsError::Mismatch {
        cert: cert_file.to_owned(),
        key: key_file.to_owned(),
        err,
    })
}

impl Certificate {
    /// Reads and checks the pair of files.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<Certificate>, TlsError> {
        let (cert, key) = (read(cert_file)?, read(key_file)?);
        let certified = parse(cert_file, &cert, key_file, &key)?;
        Ok(Arc::new(Certificate {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            current: ArcSwap::from_pointee(certified),
            seen: Mutex::new((cert, key)),
        }))
    }

    /// Reads the files again and, if they changed and go together, serves them from the
    /// next handshake on. `Ok(true)` when it took a new pair.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let (cert, key) = (read(&self.cert_file)?, read(&self.key_file)?);
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.0 == cert && seen.1 == key {
            return Ok(false);
        }
        // Remembered even when it fails, so that a bad pair is reported once, not
        // every few seconds until it is fixed.
        *seen = (cert, key);
        let certified = parse(&self.cert_file, &seen.0, &self.key_file, &seen.1)?;
        self.current.store(Arc::new(certified));
        Ok(true)
    }

    /// Reloads every [`RELOAD_EVERY`] until `stop`.
    pub async fn watch(self: Arc<Self>, stop: CancellationToken) {
        let mut every = tokio::time::interval(RELOAD_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.reload()).await {
                Ok(Ok(true)) => tracing::info!(
                    cert = %self.cert_file.display(),
                    "TLS certificate changed; serving the new one"
                ),
                Ok(Ok(false)) => {}
                Ok(Err(err)) => {
                    tracing::warn!(%err, "TLS certificate not reloaded; serving the last good one")
                }
                Err(err) => tracing::warn!(%err, "TLS certificate reload"),
            }
        }
    }

    /// A server config for `alpn` (TLS 1.3 and 1.2, no client certificates) that serves
    /// this certificate as it is at each handshake.
    pub fn server_config(self: &Arc<Self>, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&version::TLS13, &version::TLS12])
            .expect("the ring provider supports TLS 1.2 and 1.3");
        let mut config = builder
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The ClientID a TLS server name gives (AdGuard Home's rule): with `server_name`
/// `dns.home.example.com`, the name `kids-phone.dns.home.example.com` names
/// `kids-phone`. `None` for the server name itself, another name, more than one label
/// below it, or a label that is no ClientID. Lowercase, as the config's ClientIDs are.
pub fn client_id_of_server_name(sni: Option<&str>, server_name: Option<&str>) -> Option<String> {
    let (sni, server_name) = (sni?, server_name?);
    let sni = sni.strip_suffix('.').unwrap_or(sni).to_ascii_lowercase();
    let id = sni.strip_suffix(server_name)?.strip_suffix('.')?;
    ward_config::check_client_id(id)
        .is_ok()
        .then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_is_the_one_label_below_the_server_name() {
        let s = Some("dns.home.example.com");
        let id = |sni| client_id_of_server_name(Some(sni), s);
        assert_eq!(
            id("kids-phone.dns.home.example.com").as_deref(),
            Some("kids-phone")
        );
        assert_eq!(
            id("Kids-Phone.DNS.home.example.com.").as_deref(),
            Some("kids-phone")
        );
        assert_eq!(id("dns.home.example.com"), None);
        assert_eq!(id("a.b.dns.home.example.com"), None);
        assert_eq!(id("kids-phonedns.home.example.com"), None);
        assert_eq!(id("kids_phone.dns.home.example.com"), None);
        assert_eq!(id("other.example.com"), None);
        assert_eq!(
            client_id_of_server_name(Some("x.dns.home.example.com"), None),
            None
        );
        assert_eq!(client_id_of_server_name(None, s), None);
    }
}
