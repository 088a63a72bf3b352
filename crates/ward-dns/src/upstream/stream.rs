//! DNS over TCP and over TLS: one pipelined connection per upstream (RFC 7766 6.2.1).
//!
//! Queries go out back to back on the same connection, each behind its 2-byte length, and
//! answers come back in any order, matched by id through the connection's [`Pending`]
//! table. A writer task drains a queue of framed queries, so concurrent queries coalesce
//! into one write (one TLS record, one syscall). When the server closes the connection
//! (idle timeout, query limit) or it fails, the queries in flight fail with "closed", each
//! is retried once on a new connection, and the next query reconnects.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_rustls::TlsConnector;

use super::error::{UpstreamError, UpstreamErrorKind};
use super::pending::Pending;
use super::wire::Request;

/// How many bytes of queued queries one write carries at most.
const WRITE_BATCH: usize = 16 * 1024;

pub(crate) struct StreamUpstream {
    addr: SocketAddr,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    current: ArcSwapOption<Connection>,
    /// Held while connecting, so a burst of queries opens one connection, not one each.
    connecting: tokio::sync::Mutex<()>,
}

struct Connection {
    pending: Arc<Pending>,
    frames: mpsc::UnboundedSender<Vec<u8>>,
    reader: AbortHandle,
    writer: AbortHandle,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

impl StreamUpstream {
    /// Plain DNS over TCP to `addr`.
    pub(crate) fn tcp(addr: SocketAddr) -> StreamUpstream {
        StreamUpstream {
            addr,
            tls: None,
            current: ArcSwapOption::empty(),
            connecting: tokio::sync::Mutex::new(()),
        }
    }

    /// DNS over TLS to `addr`, checking the certificate for `server_name`.
    pub(crate) fn tls(
        addr: SocketAddr,
        config: Arc<rustls::ClientConfig>,
        server_name: ServerName<'static>,
    ) -> StreamUpstream {
        StreamUpstream {
            tls: Some((TlsConnector::from(config), server_name)),
            ..StreamUpstream::tcp(addr)
        }
    }

    /// Sends the query on the shared connection and waits for its answer. The caller bounds
    /// the time.
    pub(crate) async fn exchange(&self, request: &Request) -> Result<Vec<u8>, UpstreamError> {
        let connection = self.connection().await?;
        match connection.exchange(request).await {
            // The server closed the connection under us (often an idle close racing our
            // query): once more on a fresh one.
            Err(e) if e.is_closed() => self.connection().await?.exchange(request).await,
            result => result,
        }
    }

    async fn connection(&self) -> Result<Arc<Connection>, UpstreamError> {
        if let Some(connection) = self.usable() {
            return Ok(connection);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(connection) = self.usable() {
            return Ok(connection);
        }
        let connection = Arc::new(self.connect().await?);
        self.current.store(Some(Arc::clone(&connection)));
        Ok(connection)
    }

    fn usable(&self) -> Option<Arc<Connection>> {
        self.current.load_full().filter(|c| !c.pending.is_closed())
    }

    async fn connect(&self) -> Result<Connection, UpstreamError> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(UpstreamError::io)?;
        // Queries are small and latency-bound: do not wait to fill segments.
        tcp.set_nodelay(true).map_err(UpstreamError::io)?;
        match &self.tls {
            None => {
                let (read, write) = tcp.into_split();
                Ok(Connection::start(read, write))
            }
            Some((connector, server_name)) => {
                let tls = connector
                    .connect(server_name.clone(), tcp)
                    .await
                    .map_err(|e| UpstreamError::new(UpstreamErrorKind::Tls).with_source(e))?;
                let (read, write) = tokio::io::split(tls);
                Ok(Connection::start(read, write))
            }
        }
    }
}

impl Connection {
    fn start<R, W>(read: R, write: W) -> Connection
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let pending = Arc::new(Pending::default());
        let (frames, queue) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_answers(read, Arc::clone(&pending)));
        let writer = tokio::spawn(write_queries(write, queue, Arc::clone(&pending)));
        Connection {
            pending,
            frames,
            reader: reader.abort_handle(),
            writer: writer.abort_handle(),
        }
    }

    async fn exchange(&self, request: &Request) -> Result<Vec<u8>, UpstreamError> {
        let mut registration = self.pending.register(request.question())?;
        self.frames
            .send(request.framed_with_id(registration.id()))
            .map_err(|_| UpstreamError::closed())?;
        registration.answer().await
    }
}

async fn read_answers<R: AsyncRead + Unpin>(read: R, pending: Arc<Pending>) {
    let mut read = BufReader::with_capacity(WRITE_BATCH, read);
    let mut message = Vec::new();
    loop {
        let mut len = [0u8; 2];
        if read.read_exact(&mut len).await.is_err() {
            break;
        }
        message.resize(usize::from(u16::from_be_bytes(len)), 0);
        if read.read_exact(&mut message).await.is_err() {
            break;
        }
        if !pending.complete(&message) {
            tracing::debug!("dropped a TCP answer that matches no query in flight");
        }
    }
    // End of stream or error: whatever is still in flight will not be answered here.
    pending.close();
}

async fn write_queries<W: AsyncWrite + Unpin>(
    mut write: W,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    pending: Arc<Pending>,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while let Some(frame) = queue.recv().await {
        batch.clear();
        batch.extend_from_slice(&frame);
        while batch.len() < WRITE_BATCH {
            match queue.try_recv() {
                Ok(frame) => batch.extend_from_slice(&frame),
                Err(_) => break,
            }
        }
        let written = async {
            write.write_all(&batch).await?;
            write.flush().await
        };
        if let Err(e) = written.await {
            tracing::debug!(error = %e, "upstream connection failed while writing");
            pending.close();
            return;
        }
    }
}
