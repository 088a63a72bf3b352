//! DNS over HTTPS (RFC 8484): POST `application/dns-message` over HTTP/2.
//!
//! reqwest keeps one HTTP/2 connection per server and multiplexes the queries on it as
//! streams, reconnecting when the server goes away; the query id is 0 (RFC 8484 4.1) so that
//! identical questions make identical, cacheable requests. TLS is rustls on the ring
//! provider, with the group's client configuration and ALPN `h2`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};

use super::error::{UpstreamError, UpstreamErrorKind};
use super::wire::{self, Request};

const DNS_MESSAGE: &str = "application/dns-message";

pub(crate) struct HttpsUpstream {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl HttpsUpstream {
    /// A DoH upstream posting to `url`, connecting to `addr` instead of resolving the URL's
    /// host when it is given.
    pub(crate) fn new(
        url: &str,
        addr: Option<SocketAddr>,
        tls: &rustls::ClientConfig,
        timeout: Duration,
    ) -> Result<HttpsUpstream, UpstreamError> {
        let invalid = || UpstreamError::new(UpstreamErrorKind::InvalidGroup);
        let url = reqwest::Url::parse(url).map_err(|e| invalid().with_source(e))?;
        let mut tls = tls.clone();
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            // A DNS server must not send its users' questions through an HTTP proxy from
            // its environment.
            .no_proxy()
            // HTTP/2 from the start: concurrent first queries then share one connection
            // instead of each opening its own while ALPN is still unknown.
            .http2_prior_knowledge()
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .http2_keep_alive_while_idle(false)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(addr) = addr {
            let host = url
                .host_str()
                .ok_or_else(|| invalid().with_detail("URL without a host"))?;
            builder = builder.resolve(host, addr);
        }
        let client = builder.build().map_err(|e| invalid().with_source(e))?;
        Ok(HttpsUpstream { url, client })
    }

    /// Posts the query and returns the answer. The caller bounds the time.
    pub(crate) async fn exchange(&self, request: &Request) -> Result<Vec<u8>, UpstreamError> {
        let http = |e: reqwest::Error| {
            UpstreamError::new(UpstreamErrorKind::Http).with_source(without_url(e))
        };
        let response = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(DNS_MESSAGE))
            .header(ACCEPT, HeaderValue::from_static(DNS_MESSAGE))
            .body(request.with_id(0))
            .send()
            .await
            .map_err(http)?;
        let status = response.status();
        if !status.is_success() {
            return Err(
                UpstreamError::new(UpstreamErrorKind::Http).with_detail(format!("status {status}"))
            );
        }
        if response
            .content_length()
            .is_some_and(|n| n > u64::from(u16::MAX))
        {
            return Err(UpstreamError::new(UpstreamErrorKind::Protocol)
                .with_detail("answer larger than a DNS message can be"));
        }
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        if content_type.as_ref().and_then(|v| v.to_str().ok()) != Some(DNS_MESSAGE) {
            return Err(UpstreamError::new(UpstreamErrorKind::Http)
                .with_detail(format!("content type {content_type:?}, not {DNS_MESSAGE}")));
        }
        let body = response.bytes().await.map_err(http)?;
        if !wire::answers(&body, request.question()) {
            return Err(UpstreamError::new(UpstreamErrorKind::Protocol)
                .with_detail("answer for another question"));
        }
        Ok(body.to_vec())
    }
}

/// The group's error already names the server; reqwest's message would repeat the URL.
fn without_url(e: reqwest::Error) -> reqwest::Error {
    e.without_url()
}

/// The client configuration for DoT and DoH when the caller injects none: the Mozilla root
/// store (webpki-roots) and the ring provider, TLS 1.2 and 1.3.
pub(crate) fn default_tls_config() -> Result<Arc<rustls::ClientConfig>, UpstreamError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamError::new(UpstreamErrorKind::InvalidGroup).with_source(e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
