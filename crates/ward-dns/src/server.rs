//! Sockets in, answers out: the UDP and TCP serving loops.
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

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::handler::Handler;
use crate::record::{Batch, Event, Protocol, Response, Trace};

/// How long a TCP connection may stay idle between queries (RFC 7766 suggests seconds).
const TCP_IDLE: Duration = Duration::from_secs(10);

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
                    let resp = h.handle_traced(&packet, src, true, &mut trace).await;
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
    /// connection, answered as they are ready).
    pub fn register_tcp(&self, listener: TcpListener) {
        let (handler, queries, stop) = (
            self.handler.clone(),
            self.queries.clone(),
            self.stop.clone(),
        );
        self.loops.spawn(async move {
            loop {
                let (stream, src) = tokio::select! {
                    _ = stop.cancelled() => return,
                    r = listener.accept() => match r {
                        Ok(r) => r,
                        Err(err) => {
                            tracing::debug!(%err, "tcp accept");
                            continue;
                        }
                    },
                };
                let (handler, queries2, stop) = (handler.clone(), queries.clone(), stop.clone());
                queries.spawn(async move {
                    serve_connection(stream, src, handler, queries2, stop).await;
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
struct Sent {
    received: Instant,
    src: SocketAddr,
    trace: Trace,
}

impl Sent {
    /// The record of the answer just sent, if answered queries are recorded.
    fn event(self, handler: &Handler, protocol: Protocol, response: Vec<u8>) -> Option<Event> {
        handler.records().then(|| Event {
            received: self.received,
            elapsed: self.received.elapsed(),
            client: self.src.ip(),
            protocol,
            response: Response::new(response),
            trace: self.trace,
        })
    }

    /// Hands the answer just sent to the handler's recorder, on its own.
    fn record(self, handler: &Handler, protocol: Protocol, response: Vec<u8>) {
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

async fn serve_connection(
    stream: TcpStream,
    src: SocketAddr,
    handler: Arc<Handler>,
    queries: TaskTracker,
    stop: CancellationToken,
) {
    let (mut reader, writer) = stream.into_split();
    let writer = Arc::new(Mutex::new(writer));
    loop {
        let mut len = [0u8; 2];
        let read = tokio::select! {
            _ = stop.cancelled() => return,
            r = tokio::time::timeout(TCP_IDLE, reader.read_exact(&mut len)) => r,
        };
        if !matches!(read, Ok(Ok(_))) {
            return;
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if !matches!(
            tokio::time::timeout(TCP_IDLE, reader.read_exact(&mut msg)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let (handler, writer) = (handler.clone(), writer.clone());
        let received = Instant::now();
        queries.spawn(async move {
            let mut trace = Trace::default();
            let Some(resp) = handler.handle_traced(&msg, src, false, &mut trace).await else {
                return;
            };
            let Ok(len) = u16::try_from(resp.len()) else {
                return;
            };
            let mut w = writer.lock().await;
            let mut framed = Vec::with_capacity(resp.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&resp);
            if let Err(err) = w.write_all(&framed).await {
                tracing::debug!(%err, %src, "tcp write");
                return;
            }
            drop(w);
            let sent = Sent {
                received,
                src,
                trace,
            };
            sent.record(&handler, Protocol::Tcp, resp);
        });
    }
}
