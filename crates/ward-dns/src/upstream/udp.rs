//! Plain DNS over UDP: a few connected sockets per upstream, queries multiplexed on them.
//!
//! Each socket has one reader task that hands answers to the waiting queries through the
//! socket's [`Pending`] table. A spoofer off the path must guess a query's id and its
//! source port; so each socket is bound to a port drawn at random from 1024-65535 (almost
//! 16 bits on top of the id's 16, as unbound and dnsmasq do), and is replaced by a fresh
//! one after [`ROTATE_AFTER`] queries or [`MAX_AGE`], whichever comes first, and when it
//! fails. A port that lives at most a second is gone before a side channel that scans for
//! open ports (SAD DNS, about 1,000 ports a second) can find it.
//!
//! Why not a socket per query, as unbound does: the system calls of one socket (socket,
//! bind, connect, the epoll registration, close) cost about 10 µs of CPU on the 2-core VM
//! this was measured on, more than half of what the whole forwarded miss costs (18 µs).
//! Shared by 64 queries they cost 0.16 µs a query, about what the shared sockets' reader
//! saves in empty reads (`strace -c`: 4.0 system calls a forwarded miss, 4.5 before the
//! rotation). A connected socket only accepts datagrams from the upstream's address, and
//! the kernel reports the upstream's ICMP "port unreachable" on it, which fails the
//! queries in flight at once instead of letting them time out.

use std::io::{self, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::task::AbortHandle;

use super::error::UpstreamError;
use super::pending::Pending;
use super::stream::StreamUpstream;
use super::wire::{self, Request};

/// Sockets per upstream: enough to spread the reader work over the runtime's threads.
const POOL_SIZE: usize = 4;
/// Queries one socket carries before it is replaced by one on a fresh source port.
const ROTATE_AFTER: u32 = 64;
/// How long one socket is used for new queries at most.
const MAX_AGE: Duration = Duration::from_secs(1);
/// The source ports drawn from: all but the privileged ones.
const PORTS: std::ops::RangeInclusive<u16> = 1024..=65535;
/// Draws of a port taken by another socket before the kernel is asked to pick one.
const PORT_DRAWS: usize = 8;
/// The largest datagram a reader accepts (more than the advertised EDNS size, which some
/// servers ignore).
const MAX_DATAGRAM: usize = 65_535;

pub(crate) struct UdpUpstream {
    addr: SocketAddr,
    sockets: [ArcSwapOption<PooledSocket>; POOL_SIZE],
    next: AtomicUsize,
    /// Truncated answers are asked again here.
    tcp: StreamUpstream,
}

struct PooledSocket {
    socket: Arc<UdpSocket>,
    pending: Arc<Pending>,
    uses: AtomicU32,
    opened: Instant,
    reader: AbortHandle,
}

impl Drop for PooledSocket {
    fn drop(&mut self) {
        // The last query using a replaced socket is gone: nothing more to read.
        self.reader.abort();
    }
}

impl UdpUpstream {
    pub(crate) fn new(addr: SocketAddr) -> UdpUpstream {
        UdpUpstream {
            addr,
            sockets: Default::default(),
            next: AtomicUsize::new(0),
            tcp: StreamUpstream::tcp(addr),
        }
    }

    /// Sends the query and waits for its answer; a truncated answer is asked again over TCP.
    /// The caller bounds the time.
    pub(crate) async fn exchange(&self, request: &Request) -> Result<Vec<u8>, UpstreamError> {
        let answer = {
            let socket = self.socket()?;
            let mut registration = socket.pending.register(request.question())?;
            let datagram = request.with_id(registration.id());
            socket.socket.send(&datagram).await.map_err(|e| {
                socket.pending.close();
                UpstreamError::io(e)
            })?;
            registration.answer().await?
        };
        if wire::is_truncated(&answer) {
            // Boxed: rare, and a TCP exchange's state would double this future's.
            return Box::pin(self.tcp.exchange(request)).await;
        }
        Ok(answer)
    }

    /// A socket of the pool, opened or replaced as needed.
    fn socket(&self) -> Result<Arc<PooledSocket>, UpstreamError> {
        let slot = &self.sockets[self.next.fetch_add(1, Ordering::Relaxed) % POOL_SIZE];
        if let Some(socket) = slot.load_full() {
            if socket.uses.fetch_add(1, Ordering::Relaxed) < ROTATE_AFTER
                && !socket.pending.is_closed()
                && socket.opened.elapsed() < MAX_AGE
            {
                return Ok(socket);
            }
        }
        // Two queries may both open a replacement; the one stored last stays, the other
        // serves its one query and closes when that ends.
        let socket = Arc::new(PooledSocket::open(self.addr).map_err(UpstreamError::io)?);
        slot.store(Some(Arc::clone(&socket)));
        Ok(socket)
    }
}

impl PooledSocket {
    fn open(upstream: SocketAddr) -> io::Result<PooledSocket> {
        let local: SocketAddr = match upstream {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        // The default receive buffer (208 KiB) holds the answers of the 64 queries a
        // socket carries at most: no system call to enlarge it.
        // Non-blocking from the start on Linux: two fcntl calls fewer per socket.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let socket = Socket::new(
            Domain::for_address(upstream),
            Type::DGRAM.nonblocking(),
            Some(Protocol::UDP),
        )?;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let socket = {
            let socket = Socket::new(
                Domain::for_address(upstream),
                Type::DGRAM,
                Some(Protocol::UDP),
            )?;
            socket.set_nonblocking(true)?;
            socket
        };
        bind_random_port(&socket, local)?;
        socket.connect(&upstream.into())?;
        let socket = Arc::new(UdpSocket::from_std(socket.into())?);
        let pending = Arc::new(Pending::default());
        let reader = tokio::spawn(read_answers(Arc::clone(&socket), Arc::clone(&pending)));
        Ok(PooledSocket {
            socket,
            pending,
            uses: AtomicU32::new(1),
            opened: Instant::now(),
            reader: reader.abort_handle(),
        })
    }
}

/// Binds `socket` to a port drawn from [`PORTS`]; after [`PORT_DRAWS`] ports in use,
/// to one the kernel picks.
fn bind_random_port(socket: &Socket, mut local: SocketAddr) -> io::Result<()> {
    for _ in 0..PORT_DRAWS {
        local.set_port(rand::random_range(PORTS));
        match socket.bind(&local.into()) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {}
            Err(e) => return Err(e),
        }
    }
    local.set_port(0);
    socket.bind(&local.into())
}

async fn read_answers(socket: Arc<UdpSocket>, pending: Arc<Pending>) {
    // ERROR as well as READABLE: an ICMP "port unreachable" raises only that (EPOLLERR),
    // and the read it wakes reports it. `async_io` also yields to the thread's other tasks
    // when this socket is flooded (tokio's cooperative budget).
    let read_one = || DATAGRAM.with_borrow_mut(|buf| receive(&socket, &pending, buf));
    loop {
        if let Err(e) = socket
            .async_io(Interest::READABLE | Interest::ERROR, read_one)
            .await
        {
            // Port unreachable (ECONNREFUSED) or a dead socket: fail the queries now so
            // the group can try another server, and let the next query open a new socket.
            tracing::debug!(error = %e, "upstream UDP socket failed");
            pending.close();
            return;
        }
    }
}

thread_local! {
    /// One receive buffer per thread for every socket's answers: a socket carries 64
    /// queries, and a 64 KiB buffer of its own cost an allocation and a heap trim each.
    static DATAGRAM: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; MAX_DATAGRAM].into_boxed_slice());
}

/// Reads one datagram from `socket` into `buf` (WouldBlock when none waits) and hands it
/// to the query in flight it answers.
fn receive(socket: &UdpSocket, pending: &Pending, buf: &mut [u8]) -> io::Result<()> {
    // The plain recv(2): tokio's own methods would touch the readiness `async_io` manages.
    let len = (&*SockRef::from(socket)).read(buf)?;
    if !pending.complete(&buf[..len]) {
        tracing::debug!(
            upstream = ?socket.peer_addr().ok(),
            "dropped a UDP answer that matches no query in flight"
        );
    }
    Ok(())
}
