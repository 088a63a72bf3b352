//! Upstream addresses and their text form.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use rustls::pki_types::ServerName;

use super::error::{UpstreamError, UpstreamErrorKind};

const DNS_PORT: u16 = 53;
const DOT_PORT: u16 = 853;
const HTTPS_PORT: u16 = 443;

/// One upstream server: where to send queries and over which transport.
///
/// The text form (what [`FromStr`] accepts and [`fmt::Display`] writes back):
///
/// | text | meaning |
/// | --- | --- |
/// | `8.8.8.8`, `8.8.8.8:53`, `2001:db8::1`, `[2001:db8::1]:53`, `udp://8.8.8.8` | plain DNS over UDP (port 53 unless given), retried over TCP when an answer is truncated |
/// | `tcp://8.8.8.8`, `tcp://[2001:db8::1]:5353` | plain DNS over TCP only |
/// | `tls://1.1.1.1`, `tls://1.1.1.1:853` | DNS over TLS (port 853 unless given); the certificate must be valid for the IP address |
/// | `tls://1.1.1.1#one.one.one.one`, `tls://127.0.0.1:8853#localhost` | connect to the address, check the certificate for the name after `#` |
/// | `tls://dns.quad9.net#9.9.9.9`, `tls://dns.quad9.net:853#9.9.9.9` | the same written name first: the address after `#` is the bootstrap address |
/// | `https://dns.quad9.net/dns-query` | DNS over HTTPS (RFC 8484); the host is resolved by the system resolver |
/// | `https://dns.quad9.net/dns-query#9.9.9.9`, `https://127.0.0.1:8443/dns-query` | with a bootstrap address (the URL's port unless given), or an IP address as host |
///
/// A DoT server named only by host name (`tls://dns.quad9.net`) is rejected: the forwarder
/// never resolves names itself, so give the address after `#`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UpstreamAddr {
    /// Plain DNS over UDP, with a TCP retry for truncated answers.
    Udp(SocketAddr),
    /// Plain DNS over TCP (RFC 7766), queries pipelined on one connection.
    Tcp(SocketAddr),
    /// DNS over TLS (RFC 7858).
    Tls {
        /// Where to connect.
        addr: SocketAddr,
        /// The name (or IP address text) the certificate must be valid for; also the SNI.
        server_name: String,
    },
    /// DNS over HTTPS (RFC 8484), POST over HTTP/2.
    Https {
        /// The URL queries are posted to, without the `#address` part.
        url: String,
        /// The address to connect to instead of resolving the URL's host.
        addr: Option<SocketAddr>,
    },
}

impl UpstreamAddr {
    /// Whether `port` is the default of this upstream's scheme (853 for DoT, ...).
    fn is_default_port(&self, port: u16) -> bool {
        match self {
            UpstreamAddr::Udp(_) | UpstreamAddr::Tcp(_) => port == DNS_PORT,
            UpstreamAddr::Tls { .. } => port == DOT_PORT,
            UpstreamAddr::Https { .. } => port == HTTPS_PORT,
        }
    }
}

impl FromStr for UpstreamAddr {
    type Err = UpstreamError;

    fn from_str(input: &str) -> Result<UpstreamAddr, UpstreamError> {
        let invalid = |why: &str| {
            UpstreamError::new(UpstreamErrorKind::InvalidAddress)
                .with_detail(format!("{input:?}: {why}"))
        };
        let s = input.trim();
        let Some((scheme, rest)) = s.split_once("://") else {
            return ward_config::plain_addr(s, DNS_PORT)
                .map(UpstreamAddr::Udp)
                .ok_or_else(|| invalid("plain DNS needs an IP address, with an optional port"));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "udp" => ward_config::plain_addr(rest, DNS_PORT)
                .map(UpstreamAddr::Udp)
                .ok_or_else(|| invalid("udp:// needs an IP address, with an optional port")),
            "tcp" => ward_config::plain_addr(rest, DNS_PORT)
                .map(UpstreamAddr::Tcp)
                .ok_or_else(|| invalid("tcp:// needs an IP address, with an optional port")),
            "tls" => parse_tls(rest).map_err(invalid),
            "https" => parse_https(s).map_err(invalid),
            _ => Err(invalid(
                "unsupported scheme: use udp://, tcp://, tls:// or https://, or a bare IP address",
            )),
        }
    }
}

/// `IP[:port][#name]` or `name[:port]#IP`.
fn parse_tls(rest: &str) -> Result<UpstreamAddr, &'static str> {
    let (authority, fragment) = match rest.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (rest, None),
    };
    if let Some(addr) = ward_config::plain_addr(authority, DOT_PORT) {
        let server_name = match fragment {
            Some(name) => name.to_owned(),
            None => addr.ip().to_string(),
        };
        check_server_name(&server_name)?;
        return Ok(UpstreamAddr::Tls { addr, server_name });
    }
    let (name, port) = host_port(authority, DOT_PORT)?;
    check_server_name(name)?;
    let ip = fragment.and_then(|f| f.parse::<IpAddr>().ok()).ok_or(
        "tls://NAME needs the server's address after '#', e.g. tls://dns.quad9.net#9.9.9.9",
    )?;
    Ok(UpstreamAddr::Tls {
        addr: SocketAddr::new(ip, port),
        server_name: name.to_owned(),
    })
}

/// `https://host[:port]/path[?query][#IP[:port]]`.
fn parse_https(s: &str) -> Result<UpstreamAddr, &'static str> {
    let (url, fragment) = match s.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (s, None),
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| "not a valid https:// URL")?;
    if parsed.scheme() != "https" || parsed.host_str().is_none_or(str::is_empty) {
        return Err("not a valid https:// URL");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a DoH URL carries no user name or password");
    }
    let port = parsed.port().unwrap_or(HTTPS_PORT);
    let addr = match fragment {
        None => None,
        Some(f) => Some(
            ward_config::plain_addr(f, port).ok_or("the part after '#' must be an IP address")?,
        ),
    };
    Ok(UpstreamAddr::Https {
        url: url.to_owned(),
        addr,
    })
}

fn check_server_name(name: &str) -> Result<(), &'static str> {
    ServerName::try_from(name)
        .map(|_| ())
        .map_err(|_| "not a valid TLS server name")
}

/// `name` or `name:port`, for a host name (IP addresses are handled by [`socket_addr`]).
fn host_port(s: &str, default_port: u16) -> Result<(&str, u16), &'static str> {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| "not a port number")?),
        None => (s, default_port),
    };
    if host.is_empty() {
        return Err("no host");
    }
    if port == 0 {
        return Err("port 0");
    }
    Ok((host, port))
}

impl fmt::Display for UpstreamAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamAddr::Udp(addr) if self.is_default_port(addr.port()) => {
                write!(f, "{}", addr.ip())
            }
            UpstreamAddr::Udp(addr) => write!(f, "{addr}"),
            UpstreamAddr::Tcp(addr) if self.is_default_port(addr.port()) => {
                write!(f, "tcp://{}", addr.ip())
            }
            UpstreamAddr::Tcp(addr) => write!(f, "tcp://{addr}"),
            UpstreamAddr::Tls { addr, server_name } => {
                if self.is_default_port(addr.port()) {
                    write!(f, "tls://{}", HostIp(addr.ip()))?;
                } else {
                    write!(f, "tls://{addr}")?;
                }
                if server_name.parse::<IpAddr>().ok() != Some(addr.ip()) {
                    write!(f, "#{server_name}")?;
                }
                Ok(())
            }
            UpstreamAddr::Https { url, addr: None } => f.write_str(url),
            UpstreamAddr::Https {
                url,
                addr: Some(addr),
            } => write!(f, "{url}#{addr}"),
        }
    }
}

impl UpstreamAddr {
    /// The server as `/metrics` names it: scheme and host only. `/metrics` may be open,
    /// and the rest can be a secret: the path of a DoH URL and the server name of a DoT
    /// server often carry a profile id (`https://dns.nextdns.io/abc123`,
    /// `tls://1.2.3.4#abc123.dns.nextdns.io`), and a URL may carry credentials.
    pub fn metrics_label(&self) -> String {
        match self {
            UpstreamAddr::Udp(_) | UpstreamAddr::Tcp(_) => self.to_string(),
            UpstreamAddr::Tls { addr, .. } if self.is_default_port(addr.port()) => {
                format!("tls://{}", HostIp(addr.ip()))
            }
            UpstreamAddr::Tls { addr, .. } => format!("tls://{addr}"),
            UpstreamAddr::Https { url, .. } => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
                let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                let host = authority.rsplit('@').next().unwrap_or_default();
                format!("{scheme}://{host}")
            }
        }
    }
}

/// An IP address as a URL host: IPv6 in brackets.
struct HostIp(IpAddr);

impl fmt::Display for HostIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(ip) => write!(f, "{ip}"),
            IpAddr::V6(ip) => write!(f, "[{ip}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn metrics_labels_keep_scheme_and_host_only() {
        for (server, label) in [
            ("8.8.8.8", "8.8.8.8"),
            ("tcp://9.9.9.9:5300", "tcp://9.9.9.9:5300"),
            ("tls://45.90.28.0#abc123.dns.nextdns.io", "tls://45.90.28.0"),
            (
                "tls://[2001:db8::1]:8853#x.example",
                "tls://[2001:db8::1]:8853",
            ),
            ("https://dns.nextdns.io/abc123", "https://dns.nextdns.io"),
            (
                "https://d.adguard-dns.com/dns-query/abc123#94.140.14.49",
                "https://d.adguard-dns.com",
            ),
            ("https://doh.example:8443/q?x=1", "https://doh.example:8443"),
        ] {
            let addr: UpstreamAddr = server.parse().unwrap();
            assert_eq!(addr.metrics_label(), label, "{server}");
        }
    }

    #[test]
    fn parses_the_documented_forms() {
        let table: &[(&str, UpstreamAddr)] = &[
            ("8.8.8.8", UpstreamAddr::Udp(sa("8.8.8.8:53"))),
            ("8.8.8.8:5353", UpstreamAddr::Udp(sa("8.8.8.8:5353"))),
            ("2001:db8::1", UpstreamAddr::Udp(sa("[2001:db8::1]:53"))),
            ("[2001:db8::1]", UpstreamAddr::Udp(sa("[2001:db8::1]:53"))),
            (
                "[2001:db8::1]:54",
                UpstreamAddr::Udp(sa("[2001:db8::1]:54")),
            ),
            ("udp://9.9.9.9", UpstreamAddr::Udp(sa("9.9.9.9:53"))),
            ("tcp://9.9.9.9", UpstreamAddr::Tcp(sa("9.9.9.9:53"))),
            ("TCP://[::1]:5300", UpstreamAddr::Tcp(sa("[::1]:5300"))),
            (
                "tls://1.1.1.1",
                UpstreamAddr::Tls {
                    addr: sa("1.1.1.1:853"),
                    server_name: "1.1.1.1".into(),
                },
            ),
            (
                "tls://1.1.1.1:853#dns.example",
                UpstreamAddr::Tls {
                    addr: sa("1.1.1.1:853"),
                    server_name: "dns.example".into(),
                },
            ),
            (
                "tls://127.0.0.1:8853#localhost",
                UpstreamAddr::Tls {
                    addr: sa("127.0.0.1:8853"),
                    server_name: "localhost".into(),
                },
            ),
            (
                "tls://dns.quad9.net#9.9.9.9",
                UpstreamAddr::Tls {
                    addr: sa("9.9.9.9:853"),
                    server_name: "dns.quad9.net".into(),
                },
            ),
            (
                "tls://dns.quad9.net:8853#2620:fe::fe",
                UpstreamAddr::Tls {
                    addr: sa("[2620:fe::fe]:8853"),
                    server_name: "dns.quad9.net".into(),
                },
            ),
            (
                "https://127.0.0.1:8443/dns-query",
                UpstreamAddr::Https {
                    url: "https://127.0.0.1:8443/dns-query".into(),
                    addr: None,
                },
            ),
            (
                "https://dns.quad9.net/dns-query#9.9.9.9",
                UpstreamAddr::Https {
                    url: "https://dns.quad9.net/dns-query".into(),
                    addr: Some(sa("9.9.9.9:443")),
                },
            ),
            (
                "https://localhost:8443/dns-query#127.0.0.1",
                UpstreamAddr::Https {
                    url: "https://localhost:8443/dns-query".into(),
                    addr: Some(sa("127.0.0.1:8443")),
                },
            ),
        ];
        for (text, want) in table {
            let got: UpstreamAddr = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(&got, want, "{text}");
            let again: UpstreamAddr = got.to_string().parse().unwrap();
            assert_eq!(&again, want, "{text} -> {got} does not round-trip");
        }
    }

    #[test]
    fn rejects_what_it_cannot_use() {
        for text in [
            "",
            "dns.google",
            "udp://dns.google",
            "tcp://",
            "tls://dns.google",
            "tls://dns.google:x#8.8.8.8",
            "quic://1.1.1.1",
            "https://",
            "https://dns.google/dns-query#dns.google",
            "https://user:pw@dns.google/dns-query",
            "http://dns.google/dns-query",
            "8.8.8.8:99999",
        ] {
            let err = text.parse::<UpstreamAddr>().unwrap_err();
            assert_eq!(err.kind(), UpstreamErrorKind::InvalidAddress, "{text}");
        }
    }
}
