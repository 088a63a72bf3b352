//! Upstream server strings: what each form means, and that it is written back the same way.

use std::net::SocketAddr;

use ward_config::UpstreamServer;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn upstream_forms() {
    let tls = |a: Option<&str>, host: &str, port| UpstreamServer::Tls {
        addr: a.map(addr),
        host: host.to_owned(),
        port,
    };
    // (input, meaning, canonical string)
    let rows = [
        (
            "8.8.8.8",
            UpstreamServer::Udp(addr("8.8.8.8:53")),
            "8.8.8.8:53",
        ),
        (
            "8.8.8.8:53",
            UpstreamServer::Udp(addr("8.8.8.8:53")),
            "8.8.8.8:53",
        ),
        (
            "192.168.1.1:5353",
            UpstreamServer::Udp(addr("192.168.1.1:5353")),
            "192.168.1.1:5353",
        ),
        (
            "udp://8.8.8.8",
            UpstreamServer::Udp(addr("8.8.8.8:53")),
            "8.8.8.8:53",
        ),
        (
            "[2001:db8::1]:53",
            UpstreamServer::Udp(addr("[2001:db8::1]:53")),
            "[2001:db8::1]:53",
        ),
        (
            "2001:db8::1",
            UpstreamServer::Udp(addr("[2001:db8::1]:53")),
            "[2001:db8::1]:53",
        ),
        (
            "tcp://1.1.1.1",
            UpstreamServer::Tcp(addr("1.1.1.1:53")),
            "tcp://1.1.1.1:53",
        ),
        (
            "tcp://[::1]:5300",
            UpstreamServer::Tcp(addr("[::1]:5300")),
            "tcp://[::1]:5300",
        ),
        (
            "tls://1.1.1.1",
            tls(Some("1.1.1.1:853"), "1.1.1.1", 853),
            "tls://1.1.1.1",
        ),
        (
            "tls://dns.quad9.net",
            tls(None, "dns.quad9.net", 853),
            "tls://dns.quad9.net",
        ),
        (
            "tls://dns.quad9.net:853",
            tls(None, "dns.quad9.net", 853),
            "tls://dns.quad9.net",
        ),
        (
            "tls://Dns.Google.:8853",
            tls(None, "dns.google", 8853),
            "tls://dns.google:8853",
        ),
        (
            "tls://[2606:4700:4700::1111]",
            tls(
                Some("[2606:4700:4700::1111]:853"),
                "2606:4700:4700::1111",
                853,
            ),
            "tls://[2606:4700:4700::1111]",
        ),
        (
            "https://dns.quad9.net/dns-query",
            UpstreamServer::Https {
                url: "https://dns.quad9.net/dns-query".to_owned(),
            },
            "https://dns.quad9.net/dns-query",
        ),
        (
            "https://1.1.1.1:443/dns-query",
            UpstreamServer::Https {
                url: "https://1.1.1.1:443/dns-query".to_owned(),
            },
            "https://1.1.1.1:443/dns-query",
        ),
    ];
    for (input, want, canonical) in rows {
        let got: UpstreamServer = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(got, want, "{input}");
        assert_eq!(got.to_string(), canonical, "{input}");
        assert_eq!(
            canonical.parse::<UpstreamServer>().unwrap(),
            want,
            "{canonical}"
        );
    }
}

#[test]
fn upstream_errors() {
    for input in [
        "",
        "dns.google",
        "dns.google:53",
        "udp://dns.google",
        "tcp://",
        "tls://",
        "tls://dns.quad9.net:port",
        "tls://bad..name",
        "https://",
        "https:///dns-query",
        "quic://dns.adguard.com",
        "sdns://AgcAAAAAAAAABzEuMC4wLjEAEmRucy5jbG91ZGZsYXJlLmNvbQovZG5zLXF1ZXJ5",
        "8.8.8.8:99999",
    ] {
        assert!(
            input.parse::<UpstreamServer>().is_err(),
            "{input:?} should be rejected"
        );
    }
}
