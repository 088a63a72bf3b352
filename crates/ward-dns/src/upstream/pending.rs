//! The queries in flight on one socket or connection, keyed by their 16-bit id.
//!
//! Ids are random (an off-path spoofer must guess one of 65536 per in-flight query) and
//! unique among the queries in flight on the socket. The table sits behind a plain
//! `std::sync::Mutex`: it is not live state but a per-socket rendezvous between the querying
//! task and the socket's reader task, every critical section is one hash-map operation, and
//! no lock is held across an `await`. A channel to a socket-owning task would cost one more
//! task wake-up per query.
//!
//! The table also notices a socket that went silent (a half-open TCP connection, a source
//! port a middlebox stopped forwarding): when [`STALL_LIMIT`] queries in a row waited at
//! least [`STALL_WAIT`] and gave up without the socket receiving anything meanwhile, it
//! closes itself, and the next query opens a new socket or connection. Waits cut short by a
//! faster server (the parallel strategy) are too short to count.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::error::{UpstreamError, UpstreamErrorKind};
use super::wire;

/// Most queries in flight on one socket: the id space is 16 bits, and random ids need room.
const MAX_IN_FLIGHT: usize = 32 * 1024;
/// Unanswered waits in a row, with nothing received, that mark a socket as dead.
const STALL_LIMIT: u32 = 3;
/// How long an unanswered wait must have been to count towards [`STALL_LIMIT`].
const STALL_WAIT: Duration = Duration::from_millis(500);

#[derive(Default)]
pub(crate) struct Pending {
    table: Mutex<Table>,
    /// `Table::closed`, readable without the lock.
    closed: AtomicBool,
}

#[derive(Default)]
struct Table {
    waiters: HashMap<u16, Waiter>,
    /// Tells registrations apart when an id is reused, so a late cancel cannot remove its
    /// successor.
    next_serial: u64,
    /// Set when the socket or connection is gone: nothing can be answered any more.
    closed: bool,
    /// When the socket last received a message, answer to a query in flight or not.
    last_heard: Option<Instant>,
    /// Queries in a row that gave up after [`STALL_WAIT`] while nothing was received.
    silent_waits: u32,
}

struct Waiter {
    question: Arc<[u8]>,
    serial: u64,
    answer: oneshot::Sender<Vec<u8>>,
}

/// A query's place in a [`Pending`] table; dropping it (answer taken, timeout or
/// cancellation) frees the id.
pub(crate) struct Registration<'a> {
    pending: &'a Pending,
    id: u16,
    serial: u64,
    sent: Instant,
    answer: oneshot::Receiver<Vec<u8>>,
}

impl Pending {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic elsewhere cannot leave the map half-updated: recover the table.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves a fresh random id for a query whose answer must repeat `question`.
    pub(crate) fn register(&self, question: &Arc<[u8]>) -> Result<Registration<'_>, UpstreamError> {
        let (tx, rx) = oneshot::channel();
        let sent = Instant::now();
        let mut table = self.lock();
        if table.closed {
            return Err(UpstreamError::closed());
        }
        if table.waiters.len() >= MAX_IN_FLIGHT {
            return Err(UpstreamError::new(UpstreamErrorKind::Io)
                .with_detail("too many queries in flight on one socket"));
        }
        let id = loop {
            let id: u16 = rand::random();
            if !table.waiters.contains_key(&id) {
                break id;
            }
        };
        table.next_serial += 1;
        let serial = table.next_serial;
        table.waiters.insert(
            id,
            Waiter {
                question: Arc::clone(question),
                serial,
                answer: tx,
            },
        );
        Ok(Registration {
            pending: self,
            id,
            serial,
            sent,
            answer: rx,
        })
    }

    /// Hands `message` to the query it answers, copying it; returns false (and drops it) when
    /// no query in flight has its id and question.
    pub(crate) fn complete(&self, message: &[u8]) -> bool {
        let Some(id) = wire::message_id(message) else {
            return false;
        };
        let heard = Instant::now();
        let waiter = {
            let mut table = self.lock();
            table.last_heard = Some(heard);
            table.silent_waits = 0;
            match table.waiters.get(&id) {
                Some(w) if wire::answers(message, &w.question) => table.waiters.remove(&id),
                _ => None,
            }
        };
        match waiter {
            // The querying task may have given up just now; then nobody wants it.
            Some(w) => w.answer.send(message.to_vec()).is_ok(),
            None => false,
        }
    }

    /// Fails every query in flight and refuses new ones: the socket or connection is gone.
    pub(crate) fn close(&self) {
        let waiters = self.close_locked(&mut self.lock());
        // Dropping the senders (outside the lock) wakes the waiting tasks with "closed".
        drop(waiters);
    }

    fn close_locked(&self, table: &mut Table) -> HashMap<u16, Waiter> {
        table.closed = true;
        self.closed.store(true, Ordering::Release);
        std::mem::take(&mut table.waiters)
    }

    /// Whether [`Pending::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().waiters.len()
    }
}

impl Registration<'_> {
    /// The id to send the query with.
    pub(crate) fn id(&self) -> u16 {
        self.id
    }

    /// Waits for the answer; fails when the socket or connection closes first.
    pub(crate) async fn answer(&mut self) -> Result<Vec<u8>, UpstreamError> {
        (&mut self.answer)
            .await
            .map_err(|_| UpstreamError::closed())
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut table = self.pending.lock();
        let unanswered = table
            .waiters
            .get(&self.id)
            .is_some_and(|w| w.serial == self.serial);
        if !unanswered {
            return;
        }
        table.waiters.remove(&self.id);
        let silent = table.last_heard.is_none_or(|heard| heard < self.sent);
        if silent && self.sent.elapsed() >= STALL_WAIT {
            table.silent_waits += 1;
            if table.silent_waits >= STALL_LIMIT {
                tracing::debug!("upstream socket silent for {STALL_LIMIT} queries: closing it");
                let waiters = self.pending.close_locked(&mut table);
                drop(table);
                drop(waiters);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_bytes(id: u16, question: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 12];
        m[..2].copy_from_slice(&id.to_be_bytes());
        m[2] = 0x80;
        m[5] = 1;
        m.extend_from_slice(question);
        m
    }

    #[test]
    fn ids_are_unique_and_freed_on_drop() {
        let pending = Pending::default();
        let q: Arc<[u8]> = Arc::from(&b"\x01a\x00\x00\x01\x00\x01"[..]);
        let regs: Vec<_> = (0..1000).map(|_| pending.register(&q).unwrap()).collect();
        let mut ids: Vec<u16> = regs.iter().map(Registration::id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 1000);
        drop(regs);
        assert_eq!(pending.len(), 0);
    }

    #[tokio::test]
    async fn only_a_matching_id_and_question_complete() {
        let pending = Pending::default();
        let q: Arc<[u8]> = Arc::from(&b"\x01a\x00\x00\x01\x00\x01"[..]);
        let mut reg = pending.register(&q).unwrap();
        let id = reg.id();
        assert!(!pending.complete(&answer_bytes(id.wrapping_add(1), &q)));
        assert!(!pending.complete(&answer_bytes(id, b"\x01b\x00\x00\x01\x00\x01")));
        assert!(pending.complete(&answer_bytes(id, b"\x01A\x00\x00\x01\x00\x01")));
        assert_eq!(reg.answer().await.unwrap()[..2], id.to_be_bytes());
        assert!(!pending.complete(&answer_bytes(id, &q)), "answered twice");
    }

    #[tokio::test]
    async fn close_fails_waiters_and_refuses_new_ones() {
        let pending = Pending::default();
        let q: Arc<[u8]> = Arc::from(&b"\x00\x00\x01\x00\x01"[..]);
        let mut reg = pending.register(&q).unwrap();
        pending.close();
        assert!(reg.answer().await.unwrap_err().is_closed());
        assert!(pending.register(&q).err().is_some_and(|e| e.is_closed()));
    }

    #[test]
    fn a_silent_socket_closes_itself_after_long_unanswered_waits() {
        let pending = Pending::default();
        let q: Arc<[u8]> = Arc::from(&b"\x00\x00\x01\x00\x01"[..]);
        // Short waits (a parallel race lost) do not count.
        for _ in 0..10 {
            drop(pending.register(&q).unwrap());
        }
        assert!(!pending.is_closed());
        let long_wait = || {
            let mut r = pending.register(&q).unwrap();
            r.sent -= STALL_WAIT;
            r
        };
        drop(long_wait());
        drop(long_wait());
        // Anything received in between proves the socket alive.
        let heard = long_wait();
        assert!(!pending.complete(b"\x00\x00\x80\x00\x00\x00"));
        drop(heard);
        // (Back-date that message, since the waits below are back-dated too.)
        pending.lock().last_heard = Some(Instant::now() - 2 * STALL_WAIT);
        for _ in 0..STALL_LIMIT - 1 {
            drop(long_wait());
        }
        assert!(!pending.is_closed());
        drop(long_wait());
        assert!(pending.is_closed());
    }

    #[test]
    fn a_stale_registration_does_not_free_its_successor() {
        let pending = Pending::default();
        let q: Arc<[u8]> = Arc::from(&b"\x00\x00\x01\x00\x01"[..]);
        let first = pending.register(&q).unwrap();
        let id = first.id();
        assert!(pending.complete(&answer_bytes(id, &q)));
        // Force the successor onto the same id.
        let successor = loop {
            let r = pending.register(&q).unwrap();
            if r.id() == id {
                break r;
            }
        };
        drop(first);
        assert_eq!(pending.len(), 1);
        drop(successor);
        assert_eq!(pending.len(), 0);
    }
}
