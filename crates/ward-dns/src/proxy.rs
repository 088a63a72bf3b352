//! The PROXY protocol (HAProxy's, versions 1 and 2) on TCP: a load balancer or an Envoy
//! Gateway in front of Ward says, before the DNS messages, whose connection it passes on.
//! Only from the sources of `dns.proxy_protocol.trusted`: there the address it carries is
//! the client's, for policies, the rate limit, `$client` and the log. A header from any
//! other source, or a malformed one, closes the connection.
//!
//! The header is read with `peek` and then consumed to its exact length, so the DNS reader
//! starts at the first length prefix with nothing read ahead.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ppp::{HeaderResult, PartialResult, v1, v2};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use ward_config::IpNetwork;

/// The longest header taken: a v1 header is at most 107 bytes; a v2 one with a few TLVs
/// (Envoy's, AWS's) well under this.
const MAX_HEADER: usize = 1024;
/// How often a header that came in part is looked at again.
const RETRY: Duration = Duration::from_millis(5);

/// Why a connection is closed before its first query.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    /// A header from a source not in `trusted`.
    #[error("a PROXY header from {0}, which dns.proxy_protocol.trusted does not name")]
    Untrusted(IpAddr),
    /// A header that does not parse.
    #[error("a malformed PROXY header from {peer}: {why}")]
    Malformed { peer: IpAddr, why: String },
    /// Not all of it within the idle timeout, or the connection closed first.
    #[error("no complete PROXY header from {0} in time")]
    Incomplete(IpAddr),
}

/// The sources whose PROXY headers are taken.
#[derive(Clone, Debug, Default)]
pub struct Trusted(Vec<IpNetwork>);

impl Trusted {
    pub fn new(networks: &[IpNetwork]) -> Trusted {
        Trusted(networks.to_vec())
    }

    /// Whether any source is trusted (else headers are not looked for at all).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(ip))
    }
}

/// Whether `bytes` (the start of a connection) is, or could still become, a PROXY header.
fn looks_like_header(bytes: &[u8]) -> bool {
    const V1: &[u8] = b"PROXY ";
    const V2: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
    // The bytes so far and the signature agree as far as both go.
    let agrees = |signature: &[u8]| bytes.iter().zip(signature).all(|(a, b)| a == b);
    !bytes.is_empty() && (agrees(V1) || agrees(V2))
}

/// The client a connection from `peer` stands for: the address a trusted peer's header
/// carries (its own for a `LOCAL` or `UNKNOWN` header, or none), `peer` for an untrusted
/// peer that sends none. The header is consumed; the DNS messages follow.
pub async fn client_of(
    stream: &mut TcpStream,
    peer: SocketAddr,
    trusted: &Trusted,
    timeout: Duration,
) -> Result<SocketAddr, ProxyError> {
    let ip = peer.ip();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = vec![0u8; MAX_HEADER];
    loop {
        let seen = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Err(ProxyError::Incomplete(ip)),
            Ok(Ok(n)) => n,
        };
        let bytes = &buf[..seen];
        if !looks_like_header(bytes) {
            // A plain DNS connection.
            return Ok(peer);
        }
        if !trusted.contains(ip) {
            return Err(ProxyError::Untrusted(ip));
        }
        let parsed = HeaderResult::parse(bytes);
        if parsed.is_incomplete() {
            if seen == MAX_HEADER {
                return Err(ProxyError::Malformed {
                    peer: ip,
                    why: format!("longer than {MAX_HEADER} bytes"),
                });
            }
            if tokio::time::Instant::now() + RETRY > deadline {
                return Err(ProxyError::Incomplete(ip));
            }
            tokio::time::sleep(RETRY).await;
            continue;
        }
        let (len, client) = match parsed {
            HeaderResult::V1(Ok(h)) => (h.header.len(), v1_client(&h.addresses)),
            HeaderResult::V2(Ok(h)) => (h.len(), v2_client(&h)),
            HeaderResult::V1(Err(e)) => {
                return Err(ProxyError::Malformed {
                    peer: ip,
                    why: e.to_string(),
                });
            }
            HeaderResult::V2(Err(e)) => {
                return Err(ProxyError::Malformed {
                    peer: ip,
                    why: e.to_string(),
                });
            }
        };
        let mut header = vec![0u8; len];
        if stream.read_exact(&mut header).await.is_err() {
            return Err(ProxyError::Incomplete(ip));
        }
        return Ok(client.unwrap_or(peer));
    }
}

fn v1_client(addresses: &v1::Addresses) -> Option<SocketAddr> {
    match addresses {
        v1::Addresses::Tcp4(a) => Some(SocketAddr::new(a.source_address.into(), a.source_port)),
        v1::Addresses::Tcp6(a) => Some(SocketAddr::new(a.source_address.into(), a.source_port)),
        v1::Addresses::Unknown => None,
    }
}

fn v2_client(header: &v2::Header<'_>) -> Option<SocketAddr> {
    if header.command == v2::Command::Local {
        return None;
    }
    match header.addresses {
        v2::Addresses::IPv4(a) => Some(SocketAddr::new(a.source_address.into(), a.source_port)),
        v2::Addresses::IPv6(a) => Some(SocketAddr::new(a.source_address.into(), a.source_port)),
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_recognised_from_their_first_byte() {
        assert!(looks_like_header(b"PRO"));
        assert!(looks_like_header(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"));
        assert!(looks_like_header(b"\r\n\r\n\0\r\nQUIT\n\x21\x11"));
        assert!(
            !looks_like_header(b"\x00\x1d\x12\x34"),
            "a DNS length prefix"
        );
        assert!(!looks_like_header(b"PROXX"));
        assert!(!looks_like_header(b""));
    }

    #[test]
    fn trusted_sources_match_mapped_addresses_too() {
        let t = Trusted::new(&["10.0.0.0/8".parse().unwrap()]);
        assert!(t.contains("10.1.2.3".parse().unwrap()));
        assert!(t.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!t.contains("192.168.1.1".parse().unwrap()));
    }
}
