//! Upstream resolver addresses: the strings of `upstreams.<group>.servers`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::name;

/// The default port of plain DNS.
pub const DNS_PORT: u16 = 53;
/// The default port of DNS over TLS.
pub const DOT_PORT: u16 = 853;

/// One upstream resolver.
///
/// Written as a string in the config: `8.8.8.8`, `8.8.8.8:53`, `udp://8.8.8.8`,
/// `[2001:db8::1]:53` (plain DNS), `tcp://1.1.1.1`, `tls://1.1.1.1`, `tls://dns.quad9.net:853`,
/// `https://dns.quad9.net/dns-query`. It serializes back to a string that parses to the same
/// value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UpstreamServer {
    /// Plain DNS: UDP, retried over TCP when the answer is truncated.
    Udp(SocketAddr),
    /// Plain DNS over TCP only.
    Tcp(SocketAddr),
    /// DNS over TLS. `addr` is set when `host` is an IP address; otherwise `host` must be
    /// resolved (bootstrapped) first. `host` is also the name the certificate is checked for.
    Tls {
        /// The address to connect to, when known without a lookup.
        addr: Option<SocketAddr>,
        /// The host name (or IP address text) of the server.
        host: String,
        /// The TCP port (853 unless given).
        port: u16,
    },
    /// DNS over HTTPS (RFC 8484).
    Https {
        /// The full `https://` URL, path included.
        url: String,
    },
}

/// Why an upstream string is not a resolver address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid upstream {input:?}: {reason}")]
pub struct UpstreamParseError {
    input: String,
    reason: String,
}

impl UpstreamParseError {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        UpstreamParseError {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// Why the string was rejected.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl FromStr for UpstreamServer {
    type Err = UpstreamParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        if s.is_empty() {
            return Err(UpstreamParseError::new(input, "empty"));
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return plain_addr(s, DNS_PORT)
                .map(UpstreamServer::Udp)
                .ok_or_else(|| {
                    UpstreamParseError::new(
                        input,
                        "plain DNS needs an IP address (with an optional port); \
                         use tls:// or https:// for a host name",
                    )
                });
        };
        match scheme.to_ascii_lowercase().as_str() {
            "udp" => plain_addr(rest, DNS_PORT)
                .map(UpstreamServer::Udp)
                .ok_or_else(|| UpstreamParseError::new(input, "udp:// needs an IP address")),
            "tcp" => plain_addr(rest, DNS_PORT)
                .map(UpstreamServer::Tcp)
                .ok_or_else(|| UpstreamParseError::new(input, "tcp:// needs an IP address")),
            "tls" => {
                let (host, port) = host_port(rest, DOT_PORT)
                    .map_err(|reason| UpstreamParseError::new(input, reason))?;
                let addr = host
                    .parse::<IpAddr>()
                    .ok()
                    .map(|ip| SocketAddr::new(ip, port));
                Ok(UpstreamServer::Tls { addr, host, port })
            }
            "https" => {
                let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                host_port(authority, 443)
                    .map_err(|reason| UpstreamParseError::new(input, reason))?;
                if s.chars().any(char::is_whitespace) {
                    return Err(UpstreamParseError::new(input, "a URL has no spaces"));
                }
                Ok(UpstreamServer::Https { url: s.to_owned() })
            }
            other => Err(UpstreamParseError::new(
                input,
                format!(
                    "unsupported scheme {other}://; use udp://, tcp://, tls:// or https://, \
                     or a bare IP address"
                ),
            )),
        }
    }
}

/// `1.2.3.4`, `1.2.3.4:53`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:53`: an
/// address with an optional port, as upstream servers are written.
pub fn plain_addr(s: &str, default_port: u16) -> Option<SocketAddr> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Some(addr);
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, default_port))
}

/// `host`, `host:port`, `1.2.3.4:port`, `[v6]:port`, `[v6]`: the host (an IP address's text
/// or a normalised host name) and the port.
fn host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    if s.is_empty() {
        return Err("no host".to_owned());
    }
    if let Some(addr) = plain_addr(s, default_port) {
        return Ok((addr.ip().to_string(), addr.port()));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port number"))?,
        ),
        None => (s, default_port),
    };
    if port == 0 {
        return Err("port 0".to_owned());
    }
    let host = name::normalise(host);
    name::check_host_name(&host).map_err(|reason| format!("host {host:?}: {reason}"))?;
    Ok((host, port))
}

impl fmt::Display for UpstreamServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamServer::Udp(addr) => write!(f, "{addr}"),
            UpstreamServer::Tcp(addr) => write!(f, "tcp://{addr}"),
            UpstreamServer::Tls { host, port, .. } => {
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host.clone()
                };
                if *port == DOT_PORT {
                    write!(f, "tls://{host}")
                } else {
                    write!(f, "tls://{host}:{port}")
                }
            }
            UpstreamServer::Https { url } => f.write_str(url),
        }
    }
}

impl Serialize for UpstreamServer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UpstreamServer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
