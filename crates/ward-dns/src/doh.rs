//! DNS over HTTPS (RFC 8484): `GET /dns-query?dns=<base64url>` and `POST /dns-query` with
//! an `application/dns-message` body, over HTTP/1.1 and HTTP/2 (ALPN chooses).
//!
//! A path `/dns-query/<ClientID>` names the client, as AdGuard Home's does; without one,
//! the TLS server name may. The answer comes from the same query path as plain DNS, with
//! `Cache-Control: max-age` from its TTLs.
//!
//! What a client can make Ward hold is bounded as on DNS over TCP: the connection limits
//! of `dns.tcp` (checked before the handshake), at most `max_queries_in_flight` HTTP/2
//! streams at once, request headers and bodies within the idle timeout and their sizes,
//! and a connection with no request for `idle_timeout` is closed.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::handler::Origin;
use crate::record::{Protocol, Trace};
use crate::server::{Sent, TcpConn};

/// The media type of DNS messages (RFC 8484 section 6).
const DNS_MESSAGE: &str = "application/dns-message";
/// The path queries are sent to.
const PATH: &str = "/dns-query";
/// A DNS message is at most this long (its TCP length prefix is 16 bits).
const MAX_MESSAGE: usize = 65_535;
/// Request headers, all together, at most this long (HTTP/2's list, HTTP/1.1's buffer,
/// which hyper wants at least 8 KiB).
const MAX_HEADERS: usize = 16 * 1024;

/// Serves one connection, its TLS handshake done.
pub(crate) async fn serve<S>(conn: TcpConn, stream: S)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let activity = Arc::new(Activity::new());
    let service = Arc::new(Service {
        conn,
        activity: activity.clone(),
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(service.conn.limits.idle)
        .max_buf_size(MAX_HEADERS)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(u32::try_from(service.conn.limits.in_flight).unwrap_or(u32::MAX))
        .max_header_list_size(MAX_HEADERS as u32)
        .keep_alive_interval(None);
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let handle = service.clone();
    let http = hyper::service::service_fn(move |req| {
        let service = handle.clone();
        async move { Ok::<_, Infallible>(service.answer(req).await) }
    });
    let connection = builder.serve_connection(io, http);
    tokio::pin!(connection);
    let (idle, stop) = (service.conn.limits.idle, service.conn.stop.clone());
    let mut closing: Option<tokio::time::Instant> = None;
    loop {
        let check = match closing {
            // A closing connection gets the write timeout to finish its answers.
            Some(deadline) => deadline,
            None => activity.last() + idle,
        };
        tokio::select! {
            r = connection.as_mut() => {
                if let Err(err) = r {
                    tracing::debug!(%err, src = %service.conn.src, "doh connection");
                }
                return;
            }
            _ = stop.cancelled(), if closing.is_none() => {
                connection.as_mut().graceful_shutdown();
                closing = Some(tokio::time::Instant::now() + service.conn.limits.write);
            }
            _ = tokio::time::sleep_until(check) => {
                if closing.is_some() {
                    return;
                }
                if activity.in_flight() == 0 && activity.last() + idle <= tokio::time::Instant::now() {
                    connection.as_mut().graceful_shutdown();
                    closing = Some(tokio::time::Instant::now() + service.conn.limits.write);
                }
            }
        }
    }
}

/// When a connection last read or wrote, and how many of its requests are being answered.
struct Activity {
    start: tokio::time::Instant,
    /// Milliseconds from `start` to the last read or write.
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: tokio::time::Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> tokio::time::Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// A request being answered, counted in [`Activity::in_flight`] until dropped.
struct Busy<'a>(&'a Activity);

impl<'a> Busy<'a> {
    fn new(activity: &'a Activity) -> Busy<'a> {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        Busy(activity)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A stream that notes in its [`Activity`] when bytes move.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

struct Service {
    conn: TcpConn,
    activity: Arc<Activity>,
}

/// Why a request gets no answer: the status and a line saying why.
#[derive(Debug)]
struct Refusal(StatusCode, String);

impl Refusal {
    fn new(status: StatusCode, why: impl Into<String>) -> Refusal {
        Refusal(status, why.into())
    }

    fn response(&self) -> Response<Full<Bytes>> {
        refuse(self.0, &self.1)
    }
}

/// A response that is not an answer: a status and a line saying why.
fn refuse(status: StatusCode, why: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(format!("{why}\n"))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The ClientID a request's path names: `Ok(None)` for `/dns-query` itself, an error
/// response for another path or a ClientID that cannot be one.
fn client_id_of_path(path: &str) -> Result<Option<String>, Refusal> {
    let not_found = || Refusal::new(StatusCode::NOT_FOUND, "DNS queries go to /dns-query");
    let rest = path.strip_prefix(PATH).ok_or_else(not_found)?;
    let id = match rest.strip_prefix('/') {
        None if rest.is_empty() => return Ok(None),
        None => return Err(not_found()),
        Some(id) => id.strip_suffix('/').unwrap_or(id),
    };
    if id.is_empty() {
        return Ok(None);
    }
    let id = id.to_ascii_lowercase();
    match ward_config::check_client_id(&id) {
        Ok(()) => Ok(Some(id)),
        Err(why) => Err(Refusal::new(StatusCode::BAD_REQUEST, why)),
    }
}

/// The `dns` parameter of a GET request's query, decoded (base64url, with or without
/// padding).
fn message_of_query(query: Option<&str>) -> Result<Vec<u8>, Refusal> {
    let value = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("dns="))
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "a GET query needs ?dns=<the message in base64url>",
            )
        })?;
    let value = value.trim_end_matches('=');
    // Padding, had a client sent it, is percent-encoded in a URL.
    let value = value
        .strip_suffix("%3D%3D")
        .or_else(|| value.strip_suffix("%3D"))
        .unwrap_or(value);
    if value.len() > MAX_MESSAGE.div_ceil(3) * 4 {
        return Err(Refusal::new(
            StatusCode::URI_TOO_LONG,
            "a DNS message is at most 65535 bytes",
        ));
    }
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("dns: not base64url: {e}")))
}

impl Service {
    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let _busy = Busy::new(&self.activity);
        let received = Instant::now();
        let resp = self.answer_inner(req, received).await;
        if !resp.status().is_success() {
            self.conn.handler.guard_metrics().doh_refused.inc();
        }
        resp
    }

    async fn answer_inner(
        &self,
        req: Request<Incoming>,
        received: Instant,
    ) -> Response<Full<Bytes>> {
        let client_id = match client_id_of_path(req.uri().path()) {
            Ok(Some(id)) => Some(Arc::from(id)),
            Ok(None) => self.conn.client_id.clone(),
            Err(refusal) => return refusal.response(),
        };
        let message = match *req.method() {
            Method::GET => match message_of_query(req.uri().query()) {
                Ok(m) => m,
                Err(refusal) => return refusal.response(),
            },
            Method::POST => {
                let media = req
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(';').next())
                    .map(str::trim);
                if !media.is_some_and(|m| m.eq_ignore_ascii_case(DNS_MESSAGE)) {
                    return refuse(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "a POST body must be Content-Type: application/dns-message",
                    );
                }
                let body = Limited::new(req.into_body(), MAX_MESSAGE).collect();
                match tokio::time::timeout(self.conn.limits.idle, body).await {
                    Ok(Ok(body)) => body.to_bytes().to_vec(),
                    Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => {
                        return refuse(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "a DNS message is at most 65535 bytes",
                        );
                    }
                    Ok(Err(_)) => return refuse(StatusCode::BAD_REQUEST, "the body ended early"),
                    Err(_) => {
                        return refuse(StatusCode::REQUEST_TIMEOUT, "the body came too slowly");
                    }
                }
            }
            _ => {
                let mut resp = refuse(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "DNS over HTTPS takes GET and POST",
                );
                resp.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, POST"));
                return resp;
            }
        };
        if message.len() < 12 {
            return refuse(
                StatusCode::BAD_REQUEST,
                "not a DNS message: shorter than its header",
            );
        }
        let origin = Origin {
            src: self.conn.src,
            udp: false,
            client_id: client_id.as_deref(),
        };
        let handler = &self.conn.handler;
        let mut trace = Trace::default();
        let Some(answer) = handler.handle_traced(&message, origin, &mut trace).await else {
            return refuse(StatusCode::BAD_REQUEST, "not a DNS query");
        };
        let max_age = crate::cache::freshness(&answer);
        let body = Bytes::from(answer);
        Sent {
            received,
            src: self.conn.src,
            client_id,
            trace,
        }
        .record(handler, Protocol::Doh, body.to_vec());
        let mut resp = Response::new(Full::new(body));
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(DNS_MESSAGE));
        if let Some(value) =
            max_age.and_then(|age| HeaderValue::try_from(format!("max-age={age}")).ok())
        {
            headers.insert(CACHE_CONTROL, value);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_client_ids() {
        assert_eq!(client_id_of_path("/dns-query").unwrap(), None);
        assert_eq!(client_id_of_path("/dns-query/").unwrap(), None);
        assert_eq!(
            client_id_of_path("/dns-query/Kids-Phone")
                .unwrap()
                .as_deref(),
            Some("kids-phone")
        );
        assert_eq!(
            client_id_of_path("/dns-query/kids-phone/")
                .unwrap()
                .as_deref(),
            Some("kids-phone")
        );
        let status = |p| client_id_of_path(p).unwrap_err().0;
        assert_eq!(status("/"), StatusCode::NOT_FOUND);
        assert_eq!(status("/dns-queryx"), StatusCode::NOT_FOUND);
        assert_eq!(status("/dns-query/a/b"), StatusCode::BAD_REQUEST);
        assert_eq!(status("/dns-query/a_b"), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn get_queries_are_base64url_with_or_without_padding() {
        let msg = vec![0u8, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xfb];
        let text = URL_SAFE_NO_PAD.encode(&msg);
        assert_eq!(message_of_query(Some(&format!("dns={text}"))).unwrap(), msg);
        assert_eq!(
            message_of_query(Some(&format!("ct=x&dns={text}%3D%3D"))).unwrap(),
            msg
        );
        let status = |q| message_of_query(q).unwrap_err().0;
        assert_eq!(status(None), StatusCode::BAD_REQUEST);
        assert_eq!(status(Some("dns=!!!")), StatusCode::BAD_REQUEST);
        let long = format!("dns={}", "A".repeat(100_000));
        assert_eq!(status(Some(&long)), StatusCode::URI_TOO_LONG);
    }
}
