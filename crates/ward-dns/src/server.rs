//! Sockets in, answers out: the UDP, TCP, DNS-over-TLS and DNS-over-HTTPS serving loops.
//!
//! The binary binds the sockets and hands them over (so tests bind port 0 and read the
//! port back). Every query runs in its own task, tracked so that a shutdown stops
//! reading new queries and waits, up to a grace period, for those in flight.
//!
//! A loop runs on the runtime it is registered from. The binary gives each UDP worker
//! thread a single-threaded runtime and its own `SO_REUSEPORT` socket, as unbound and
//! Knot do: a datagram is read, decided and answered on one thread, with no hand-over
//! between threads (a work-stealing runtime paid 0.3 to 0.6 context switches a query).
//! Such a runtime must keep running until [`DnsServer::drained`] completes.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use ward_state::AcceptBackoff;

use crate::handler::{Handler, Origin};
use crate::record::{Batch, Event, Protocol, Response, Trace};
use crate::tls::Certificate;

/// The serving loops of one handler.
pub struct DnsServer {
    handler: Arc<Handler>,
    loops: TaskTracker,
    queries: TaskTracker,
    stop: CancellationToken,
    drained: CancellationToken,
}

impl DnsServer {
    /// A server with no sockets yet.
    pub fn new(handler: Arc<Handler>) -> DnsServer {
        DnsServer {
            handler,
            loops: TaskTracker::new(),
            queries: TaskTracker::new(),
            stop: CancellationToken::new(),
            drained: CancellationToken::new(),
        }
    }

    /// Completes when [`DnsServer::shutdown`] has finished: what a runtime that only
    /// serves this server's loops waits for before it stops.
    pub fn drained(&self) -> impl Future<Output = ()> + Send + 'static {
        self.drained.clone().cancelled_owned()
    }

    /// Serves queries arriving on a bound UDP socket.
    pub fn register_udp(&self, socket: UdpSocket) {
        let socket = Arc::new(socket);
        let (handler, queries, stop) = (
            self.handler.clone(),
            self.queries.clone(),
            self.stop.clone(),
        );
        self.loops.spawn(async move {
            let mut buf = vec![0u8; 65_535];
            // The events of the queries answered here, handed to the recorder when the
            // socket has nothing more to read.
            let mut batch = handler.batch();
            // Reads since the last await.
            let mut eager = 0;
            loop {
                // With events held, try a read first: if nothing is waiting, hand them
                // over before waiting. At most `Batch::MAX` reads in a row skip the
                // await, so that the tasks of forwarded queries on this runtime run too.
                let ready = match &mut batch {
                    Some(b) if !b.is_empty() && eager < Batch::MAX => {
                        match socket.try_recv_from(&mut buf) {
                            Ok(r) => {
                                eager += 1;
                                Some(r)
                            }
                            Err(err) => {
                                if err.kind() != std::io::ErrorKind::WouldBlock {
                                    tracing::debug!(%err, "udp receive");
                                }
                                b.flush();
                                None
                            }
                        }
                    }
                    _ => None,
                };
                let (len, src) = match ready {
                    Some(r) => r,
                    None => {
                        eager = 0;
                        tokio::select! {
                        _ = stop.cancelled() => return,
                        r = socket.recv_from(&mut buf) => match r {
                            Ok(r) => r,
                            // ICMP errors of earlier sends surface here on some systems.
                            Err(err) => {
                                tracing::debug!(%err, "udp receive");
                                continue;
                            }
                        },
                        }
                    }
                };
                let received = Instant::now();
                let packet = buf[..len].to_vec();
                let h = handler.clone();
                let mut trace = batch.as_ref().map_or_else(Trace::default, Trace::for_batch);
                let mut answer = Box::pin(async move {
                    let origin = Origin {
                        src,
                        udp: true,
                        client_id: None,
                    };
                    let resp = h.handle_traced(&packet, origin, &mut trace).await;
                    (resp, trace)
                });
                // Most queries (blocked, local, cached) are answered without waiting: poll
                // once here and answer inline; only what must wait (an upstream) becomes a
                // task, which polls the same future again with a real waker.
                let mut cx = Context::from_waker(Waker::noop());
                match answer.as_mut().poll(&mut cx) {
                    Poll::Ready((Some(resp), trace)) => {
                        let sent = Sent {
                            received,
                            src,
                            client_id: None,
                            trace,
                        };
                        reply_udp(&socket, &queries, &handler, resp, sent, batch.as_mut());
                    }
                    Poll::Ready((None, _)) => {}
                    Poll::Pending => {
                        let socket = socket.clone();
                        let tracked = queries.clone();
                        let handler = handler.clone();
                        queries.spawn(async move {
                            if let (Some(resp), trace) = answer.await {
                                let sent = Sent {
                                    received,
                                    src,
                                    client_id: None,
                                    trace,
                                };
                                reply_udp(&socket, &tracked, &handler, resp, sent, None);
                            }
                        });
                    }
                }
            }
        });
    }

    /// Serves queries arriving on a bound TCP listener (RFC 7766: several queries per
    /// connection, answered as they are ready), within the limits of the config's
    /// `dns.tcp` at the time of the call.
    pub fn register_tcp(&self, listener: TcpListener) {
        self.register_stream(listener, Kind::Tcp);
    }

    /// Serves DNS over TLS (RFC 7858) on a bound TCP listener, with `certificate`: the
    /// same framing and limits as DNS over TCP, after the handshake; the TLS server name
    /// may name a ClientID (see [`crate::tls::client_id_of_server_name`]).
    pub fn register_dot(&self, listener: TcpListener, certificate: &Arc<Certificate>) {
        let config = certificate.server_config(&[b"dot"]);
        self.register_stream(listener, Kind::Dot(TlsAcceptor::from(config)));
    }

    /// Serves DNS over HTTPS (RFC 8484, see [`crate::doh`]) on a bound TCP listener, with
    /// `certificate`.
    pub fn register_doh(&self, listener: TcpListener, certificate: &Arc<Certificate>) {
        let config = certificate.server_config(&[b"h2", b"http/1.1"]);
        self.register_stream(listener, Kind::Doh(TlsAcceptor::from(config)));
    }

    fn register_stream(&self, listener: TcpListener, kind: Kind) {
        let dns = &self.handler.snapshot().config.dns;
        let limits = TcpLimits::from(&dns.tcp);
        let trusted = crate::proxy::Trusted::new(&dns.proxy_protocol.trusted);
        let server_name: Option<Arc<str>> = dns.tls.server_name.as_deref().map(Arc::from);
        let (handler, queries, stop) = (
            self.handler.clone(),
            self.queries.clone(),
            self.stop.clone(),
        );
        self.loops.spawn(async move {
            let connections = Arc::new(Connections::default());
            let mut backoff = AcceptBackoff::new(kind.name());
            loop {
                let (stream, src) = tokio::select! {
                    _ = stop.cancelled() => return,
                    r = listener.accept() => match r {
                        Ok(r) => r,
                        Err(err) => {
                            if let Some(pause) = backoff.failed(&err) {
                                tokio::select! {
                                    _ = stop.cancelled() => return,
                                    _ = tokio::time::sleep(pause) => {}
                                }
                            }
                            continue;
                        }
                    },
                };
                backoff.succeeded();
                // A trusted load balancer's connections count against the client its
                // PROXY header names, once it is read; every other against its source.
                let proxied = trusted.contains(src.ip());
                let slot = if proxied {
                    None
                } else if let Some(slot) = Connection::open(&connections, src.ip(), &limits) {
                    Some(slot)
                } else {
                    // Closed at once, so that the backlog never fills with connections
                    // nobody will read.
                    handler.guard_metrics().tcp_refused.inc();
                    drop(stream);
                    continue;
                };
                let mut conn = TcpConn {
                    handler: handler.clone(),
                    queries: queries.clone(),
                    stop: stop.clone(),
                    limits: limits.clone(),
                    src,
                    protocol: kind.protocol(),
                    client_id: None,
                };
                let (trusted, connections) = (trusted.clone(), connections.clone());
                let (kind, server_name) = (kind.clone(), server_name.clone());
                queries.spawn(async move {
                    let mut stream = stream;
                    if !trusted.is_empty() {
                        match crate::proxy::client_of(&mut stream, src, &trusted, conn.limits.idle)
                            .await
                        {
                            Ok(client) => conn.src = client,
                            Err(err) => {
                                tracing::debug!(%err, "connection closed");
                                conn.handler.guard_metrics().tcp_refused.inc();
                                return;
                            }
                        }
                    }
                    let slot = match slot {
                        Some(slot) => slot,
                        None => match Connection::open(&connections, conn.src.ip(), &conn.limits) {
                            Some(slot) => slot,
                            None => {
                                conn.handler.guard_metrics().tcp_refused.inc();
                                return;
                            }
                        },
                    };
                    let acceptor = match &kind {
                        Kind::Tcp => {
                            let (reader, writer) = stream.into_split();
                            conn.serve(reader, writer).await;
                            return;
                        }
                        Kind::Dot(acceptor) | Kind::Doh(acceptor) => acceptor,
                    };
                    let Some(tls) = conn.handshake(acceptor, stream, server_name).await else {
                        return;
                    };
                    if let Kind::Doh(_) = kind {
                        crate::doh::serve(conn, tls).await;
                    } else {
                        let (reader, writer) = tokio::io::split(tls);
                        conn.serve(reader, writer).await;
                    }
                    // The connection's place is freed when it is done.
                    drop(slot);
                });
            }
        });
    }

    /// Stops reading queries and waits up to `grace` for the ones in flight.
    pub async fn shutdown(&self, grace: Duration) {
        self.stop.cancel();
        self.loops.close();
        self.loops.wait().await;
        self.queries.close();
        if tokio::time::timeout(grace, self.queries.wait())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?grace, "queries still in flight at the end of the grace period");
        }
        self.drained.cancel();
    }
}

/// An answer on its way out: what the record of it needs besides the answer.
pub(crate) struct Sent {
    pub(crate) received: Instant,
    pub(crate) src: SocketAddr,
    pub(crate) client_id: Option<Arc<str>>,
    pub(crate) trace: Trace,
}

impl Sent {
    /// The record of the answer just sent, if answered queries are recorded.
    fn event(self, handler: &Handler, protocol: Protocol, response: Vec<u8>) -> Option<Event> {
        handler.records().then(|| Event {
            received: self.received,
            elapsed: self.received.elapsed(),
            client: self.src.ip(),
            client_id: self.client_id,
            protocol,
            response: Response::new(response),
            trace: self.trace,
        })
    }

    /// Hands the answer just sent to the handler's recorder, on its own.
    pub(crate) fn record(self, handler: &Handler, protocol: Protocol, response: Vec<u8>) {
        if let Some(event) = self.event(handler, protocol, response) {
            handler.record(event);
        }
    }
}

/// Sends an answer now if the socket takes it, else from a task when it can; then
/// records it (in `batch` if it was sent now and the loop has one).
fn reply_udp(
    socket: &Arc<UdpSocket>,
    queries: &TaskTracker,
    handler: &Arc<Handler>,
    resp: Vec<u8>,
    sent: Sent,
    batch: Option<&mut Batch>,
) {
    let src = sent.src;
    match socket.try_send_to(&resp, src) {
        Ok(_) => match batch {
            Some(batch) => {
                if let Some(event) = sent.event(handler, Protocol::Udp, resp) {
                    batch.push(event);
                }
            }
            None => sent.record(handler, Protocol::Udp, resp),
        },
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
            let mut sent = sent;
            if let Some(batch) = batch {
                // Recorded from the task, outside the batch.
                batch.detach(&mut sent.trace);
            }
            let socket = socket.clone();
            let handler = handler.clone();
            queries.spawn(async move {
                match socket.send_to(&resp, src).await {
                    Ok(_) => sent.record(&handler, Protocol::Udp, resp),
                    Err(err) => tracing::debug!(%err, %src, "udp send"),
                }
            });
        }
        Err(err) => tracing::debug!(%err, %src, "udp send"),
    }
}

/// How a stream listener's connections are served.
#[derive(Clone)]
enum Kind {
    /// Plain DNS over TCP.
    Tcp,
    /// DNS over TLS.
    Dot(TlsAcceptor),
    /// DNS over HTTPS.
    Doh(TlsAcceptor),
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Tcp => "DNS over TCP",
            Kind::Dot(_) => "DNS over TLS",
            Kind::Doh(_) => "DNS over HTTPS",
        }
    }

    fn protocol(&self) -> Protocol {
        match self {
            Kind::Tcp => Protocol::Tcp,
            Kind::Dot(_) => Protocol::Dot,
            Kind::Doh(_) => Protocol::Doh,
        }
    }
}

/// The limits of DNS over TCP (`dns.tcp`), over TLS and HTTPS too.
#[derive(Clone, Debug)]
pub(crate) struct TcpLimits {
    max_connections: usize,
    per_client: usize,
    pub(crate) in_flight: usize,
    pub(crate) idle: Duration,
    pub(crate) write: Duration,
}

impl From<&ward_config::TcpConfig> for TcpLimits {
    fn from(c: &ward_config::TcpConfig) -> TcpLimits {
        TcpLimits {
            max_connections: c.max_connections.max(1),
            per_client: c.max_connections_per_client.max(1),
            in_flight: c.max_queries_in_flight.max(1),
            idle: c.idle_timeout,
            write: c.write_timeout,
        }
    }
}

/// The open connections of one listener, in all and per client address. Touched once
/// when a connection opens and once when it closes, never per query: a plain mutex.
#[derive(Default)]
struct Connections {
    open: std::sync::Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// A connection's place in [`Connections`]; dropping it frees the place.
struct Connection {
    connections: Arc<Connections>,
    client: IpAddr,
}

impl Connection {
    /// A place for a connection from `client`, if the limits leave one.
    fn open(connections: &Arc<Connections>, client: IpAddr, limits: &TcpLimits) -> Option<Self> {
        let mut open = connections
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (total, per_client) = &mut *open;
        let mine = per_client.entry(client).or_default();
        if *total >= limits.max_connections || *mine >= limits.per_client {
            if *mine == 0 {
                per_client.remove(&client);
            }
            return None;
        }
        *total += 1;
        *mine += 1;
        Some(Connection {
            connections: connections.clone(),
            client,
        })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (total, per_client) = &mut *open;
        *total -= 1;
        if let Some(mine) = per_client.get_mut(&self.client) {
            *mine -= 1;
            if *mine == 0 {
                per_client.remove(&self.client);
            }
        }
    }
}

/// An answer waiting for the connection's writer, with the place it holds among the
/// connection's queries in flight.
struct Outgoing {
    framed: Vec<u8>,
    sent: Sent,
    _in_flight: OwnedSemaphorePermit,
}

/// One TCP or TLS connection's reader: it reads framed queries, answers each in a task of
/// its own, and hands the answers to the connection's writer. (A DNS-over-HTTPS
/// connection uses it for what it knows of the client, see [`crate::doh`].)
///
/// What a client can make Ward hold is bounded: a query takes a permit of
/// `max_queries_in_flight` before it is read and gives it back once its answer is
/// written, so a client that sends and never reads stops being read; the writer gives up
/// after `write_timeout` on one answer, and the connection closes.
pub(crate) struct TcpConn {
    pub(crate) handler: Arc<Handler>,
    queries: TaskTracker,
    pub(crate) stop: CancellationToken,
    pub(crate) limits: TcpLimits,
    pub(crate) src: SocketAddr,
    protocol: Protocol,
    /// The ClientID the TLS server name gave.
    pub(crate) client_id: Option<Arc<str>>,
}

impl TcpConn {
    /// The TLS handshake, within the idle timeout; notes the ClientID the server name
    /// gives. `None` when it fails (counted).
    async fn handshake(
        &mut self,
        acceptor: &TlsAcceptor,
        stream: TcpStream,
        server_name: Option<Arc<str>>,
    ) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
        let err = match tokio::time::timeout(self.limits.idle, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                let sni = tls.get_ref().1.server_name();
                self.client_id = crate::tls::client_id_of_server_name(sni, server_name.as_deref())
                    .map(Arc::from);
                return Some(tls);
            }
            Ok(Err(err)) => err.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        tracing::debug!(%err, src = %self.src, "tls handshake");
        self.handler.guard_metrics().tls_handshake_failures.inc();
        None
    }

    async fn serve<R, W>(self, mut reader: R, writer: W)
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let in_flight = Arc::new(Semaphore::new(self.limits.in_flight));
        let (tx, rx) = mpsc::channel::<Outgoing>(self.limits.in_flight);
        let closed = CancellationToken::new();
        let writing = tokio::spawn(write_answers(
            writer,
            rx,
            self.handler.clone(),
            self.limits.write,
            self.protocol,
            closed.clone(),
        ));
        loop {
            let permit = tokio::select! {
                _ = self.stop.cancelled() => break,
                _ = closed.cancelled() => break,
                p = in_flight.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let Some(msg) = self.read_query(&mut reader, &in_flight, &closed).await else {
                break;
            };
            let (handler, tx, src) = (self.handler.clone(), tx.clone(), self.src);
            let client_id = self.client_id.clone();
            let received = Instant::now();
            self.queries.spawn(async move {
                let mut trace = Trace::default();
                let origin = Origin {
                    src,
                    udp: false,
                    client_id: client_id.as_deref(),
                };
                let Some(resp) = handler.handle_traced(&msg, origin, &mut trace).await else {
                    return;
                };
                let Ok(len) = u16::try_from(resp.len()) else {
                    return;
                };
                let mut framed = Vec::with_capacity(resp.len() + 2);
                framed.extend_from_slice(&len.to_be_bytes());
                framed.extend_from_slice(&resp);
                let sent = Sent {
                    received,
                    src,
                    client_id,
                    trace,
                };
                // Fails only when the writer gave up on the connection.
                let _ = tx
                    .send(Outgoing {
                        framed,
                        sent,
                        _in_flight: permit,
                    })
                    .await;
            });
        }
        // The writer ends once the answers of the queries read so far are written (their
        // tasks hold the other senders), or at once if the connection failed.
        drop(tx);
        if self.stop.is_cancelled() || closed.is_cancelled() {
            closed.cancel();
        }
        let _ = writing.await;
    }

    /// Reads one framed query. `None` when the connection ends: closed by the client, a
    /// query not sent in full within the idle timeout, or nothing sent for that long while
    /// no query is in flight.
    async fn read_query<R: AsyncRead + Unpin>(
        &self,
        reader: &mut R,
        in_flight: &Semaphore,
        closed: &CancellationToken,
    ) -> Option<Vec<u8>> {
        let mut len = [0u8; 2];
        loop {
            let read = tokio::select! {
                _ = self.stop.cancelled() => return None,
                _ = closed.cancelled() => return None,
                r = tokio::time::timeout(self.limits.idle, reader.read_exact(&mut len)) => r,
            };
            match read {
                Ok(Ok(_)) => break,
                Ok(Err(_)) => return None,
                // Idle, unless answers are still being worked on: the permit this read
                // holds is one of them.
                Err(_) if in_flight.available_permits() + 1 >= self.limits.in_flight => {
                    return None;
                }
                Err(_) => {}
            }
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        match tokio::time::timeout(self.limits.idle, reader.read_exact(&mut msg)).await {
            Ok(Ok(_)) => Some(msg),
            _ => None,
        }
    }
}

/// The connection's writer: writes answers in the order they are ready, each within
/// `timeout`, then records them. A write that fails or times out closes the connection.
async fn write_answers<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut answers: mpsc::Receiver<Outgoing>,
    handler: Arc<Handler>,
    timeout: Duration,
    protocol: Protocol,
    closed: CancellationToken,
) {
    loop {
        let out = tokio::select! {
            _ = closed.cancelled() => return,
            out = answers.recv() => match out {
                Some(out) => out,
                None => return,
            },
        };
        let src = out.sent.src;
        // TLS holds what is written until a flush (plain TCP's flush does nothing).
        let write = async {
            writer.write_all(&out.framed).await?;
            writer.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::debug!(%err, %src, "tcp write");
                closed.cancel();
                return;
            }
            Err(_) => {
                tracing::debug!(%src, ?timeout, "tcp client takes no answers; closing");
                handler.guard_metrics().tcp_write_timeouts.inc();
                closed.cancel();
                return;
            }
        }
        let Outgoing {
            mut framed, sent, ..
        } = out;
        framed.drain(..2);
        sent.record(&handler, protocol, framed);
    }
}
