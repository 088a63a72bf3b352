//! Serving the admin router on a bound listener (the binary binds, this serves), with what
//! `axum::serve` does not bound: how long a client may take to send a request's header,
//! and how many connections are open at once.
//!
//! A client that opens connections and sends half a header (or nothing) would otherwise
//! hold each one for good; enough of them and the API, the probes and `/metrics` stop
//! answering. Here a connection whose request header is not complete within
//! [`ListenerLimits::header_timeout`] is closed, and so is a kept-alive connection idle
//! that long (hyper's header timer runs from the moment it waits for a request). At most
//! [`ListenerLimits::max_connections`] connections are served at once; beyond that, new
//! ones wait in the kernel's accept queue until one closes. A request, once its header is
//! in, has the router's own 30-second limit.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// The bounds of the admin listener.
#[derive(Clone, Copy, Debug)]
pub struct ListenerLimits {
    /// How long a connection may take to send a request's header, and may stay idle
    /// between requests.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    /// 10 seconds and 256 connections: far more than a UI, a Prometheus, the probes and a
    /// few scripts need, and a bound on what a misbehaving client can hold.
    fn default() -> ListenerLimits {
        ListenerLimits {
            header_timeout: Duration::from_secs(10),
            max_connections: 256,
        }
    }
}

/// Serves `app` on `listener` until the task is dropped. Every request carries its peer's
/// `ConnectInfo<SocketAddr>` ([`ConnectInfo`]), as with `into_make_service_with_connect_info`: without
/// credentials the API answers loopback clients only.
pub async fn serve(listener: TcpListener, app: Router, limits: ListenerLimits) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // Out of descriptors, `accept` fails again at once: pause instead of spinning.
    let mut backoff = ward_state::AcceptBackoff::new("admin");
    loop {
        // Take a slot before accepting: when all are taken, connections queue in the
        // kernel instead of being accepted and held.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                if let Some(pause) = backoff.failed(&err) {
                    tokio::time::sleep(pause).await;
                }
                continue;
            }
        };
        backoff.succeeded();
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            // The slot is free again when the connection ends, however it ends.
            let _permit = permit;
            if let Err(err) = connection.await {
                tracing::debug!(%peer, %err, "admin connection ended");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::SocketAddr;

    use std::time::Instant;

    use super::*;

    async fn start(limits: ListenerLimits) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route(
            "/peer",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.to_string()
            }),
        );
        tokio::spawn(serve(listener, app, limits));
        addr
    }

    /// Reads until the server closes the connection (or 30 s pass); what came, and when.
    fn read_to_close(stream: &mut std::net::TcpStream) -> (String, Duration) {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let started = Instant::now();
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        (
            String::from_utf8_lossy(&out).into_owned(),
            started.elapsed(),
        )
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_half_sent_header_is_closed_and_requests_know_their_peer() {
        let limits = ListenerLimits {
            header_timeout: Duration::from_millis(300),
            max_connections: 4,
        };
        let addr = start(limits).await;
        tokio::task::spawn_blocking(move || {
            let mut slow = std::net::TcpStream::connect(addr).unwrap();
            slow.write_all(b"GET /peer HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            let (_, took) = read_to_close(&mut slow);
            assert!(took < Duration::from_secs(5), "closed after {took:?}");

            let mut client = std::net::TcpStream::connect(addr).unwrap();
            let me = client.local_addr().unwrap();
            client
                .write_all(b"GET /peer HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .unwrap();
            let (answer, _) = read_to_close(&mut client);
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            assert!(answer.ends_with(&me.to_string()), "{answer}");
        })
        .await
        .unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn connections_beyond_the_cap_wait_for_a_free_slot() {
        let limits = ListenerLimits {
            header_timeout: Duration::from_millis(500),
            max_connections: 2,
        };
        let addr = start(limits).await;
        tokio::task::spawn_blocking(move || {
            // Two idle connections take both slots.
            let idle: Vec<_> = (0..2)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            std::thread::sleep(Duration::from_millis(100));
            let started = Instant::now();
            let mut third = std::net::TcpStream::connect(addr).unwrap();
            third
                .write_all(b"GET /peer HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .unwrap();
            let (answer, _) = read_to_close(&mut third);
            // Answered only once the idle ones were closed by the header timeout.
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            let waited = started.elapsed();
            assert!(
                waited >= Duration::from_millis(300),
                "answered after {waited:?}, while both slots were taken"
            );
            drop(idle);
        })
        .await
        .unwrap();
    }
}
