//! Identical questions in flight upstream, merged: the first cache miss for a question
//! asks the upstream group, and every query for the same question (the same
//! [`CacheKey`]) that arrives before that answer is in joins it instead of sending one
//! more exchange. When a hundred devices wake and ask for the same name at once, the
//! upstream sees one query; and a spoofer racing the answer to a popular name has one
//! exchange to hit, not a hundred (the "birthday" attack on ids and ports).
//!
//! The table is a rendezvous between the queries of one question, as the upstream
//! pending tables are: sharded `std::sync::Mutex`es, each critical section one hash-table
//! operation, no lock held across an `await`, and touched only on cache misses. The query
//! that asks holds the flight's entry and awaits the exchange in its own future; a query
//! that joins leaves a `oneshot` sender in the entry and waits on its receiver. When the
//! answer is in, the asker removes the entry and sends it to every joiner. If the asker is
//! cancelled, its entry is removed with the senders in it, and each joiner starts again:
//! one of them asks, the others join it.
//!
//! A lone miss (nearly every one) costs one hash, two short locks and one allocation (the
//! key), which keeps merging within the forwarded miss's budget (callgrind,
//! benches/dnsperf/instructions.sh).

use std::future::Future;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use hashbrown::HashTable;
use tokio::sync::oneshot;

use crate::cache::{CacheKey, CachedAnswer};

const SHARDS: usize = 16;

/// An upstream answer as the query path uses it: the entry and the server that gave it,
/// or `None` when the group gave nothing usable (SERVFAIL for everyone waiting).
pub(crate) type Fetched = Option<(Arc<CachedAnswer>, Arc<str>)>;

/// A question in flight: its key, and the queries waiting for its answer.
struct Flight {
    key: Box<[u8]>,
    hash: u64,
    joined: Vec<oneshot::Sender<Fetched>>,
}

type Shard = Mutex<HashTable<Flight>>;

/// The questions in flight.
pub(crate) struct InFlight {
    shards: Box<[Shard]>,
    /// foldhash, not std's SipHash: SipHash made a lookup cost 1,700 instructions.
    hasher: foldhash::fast::FixedState,
}

impl Default for InFlight {
    fn default() -> InFlight {
        InFlight {
            shards: (0..SHARDS).map(|_| Mutex::new(HashTable::new())).collect(),
            hasher: foldhash::fast::FixedState::default(),
        }
    }
}

impl InFlight {
    /// The answer to the question of `key`: from the future `ask` makes, or from the
    /// identical query already asking. The flag says whether this query joined another's
    /// exchange.
    pub(crate) async fn fetch<A, F>(&self, key: &CacheKey, ask: A) -> (Fetched, bool)
    where
        A: FnOnce() -> F,
        F: Future<Output = Fetched>,
    {
        let key = key.as_bytes();
        let hash = self.hasher.hash_one(key);
        // Not the low bits: the shard's table places entries by those.
        let shard = &self.shards[(hash >> 32) as usize % SHARDS];
        loop {
            let joined = {
                let mut flights = lock(shard);
                match flights.find_mut(hash, |f| *f.key == *key) {
                    Some(flight) => {
                        let (tx, rx) = oneshot::channel();
                        flight.joined.push(tx);
                        Some(rx)
                    }
                    None => {
                        let flight = Flight {
                            key: key.into(),
                            hash,
                            joined: Vec::new(),
                        };
                        flights.insert_unique(hash, flight, |f| f.hash);
                        None
                    }
                }
            };
            match joined {
                Some(rx) => match rx.await {
                    Ok(answer) => return (answer, true),
                    // The asker was cancelled: ask, or join whoever asks now.
                    Err(_) => continue,
                },
                None => {
                    let asking = Asking {
                        shard,
                        key,
                        hash,
                        done: false,
                    };
                    let answer = ask().await;
                    for tx in asking.finish() {
                        // A joiner that went away has dropped its receiver: nothing to do.
                        let _ = tx.send(answer.clone());
                    }
                    return (answer, false);
                }
            }
        }
    }

    /// Questions in flight (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }
}

fn lock(shard: &Shard) -> std::sync::MutexGuard<'_, HashTable<Flight>> {
    // Every critical section is one table operation: a panic cannot leave it half done.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The asking query's hold on its flight: the entry goes when the answer is in
/// ([`Asking::finish`]) or when the asker is dropped unanswered (its joiners start again).
struct Asking<'a> {
    shard: &'a Shard,
    key: &'a [u8],
    hash: u64,
    done: bool,
}

impl Asking<'_> {
    /// Removes the flight; its joiners, to send the answer to.
    fn finish(mut self) -> Vec<oneshot::Sender<Fetched>> {
        self.done = true;
        self.remove()
    }

    fn remove(&self) -> Vec<oneshot::Sender<Fetched>> {
        let mut flights = lock(self.shard);
        match flights.find_entry(self.hash, |f| *f.key == *self.key) {
            Ok(entry) => entry.remove().0.joined,
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Dropping the senders wakes the joiners with an error: they start again.
            drop(self.remove());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use hickory_proto::rr::RecordType;

    use super::*;

    fn key(name: &str) -> CacheKey {
        CacheKey::of("default", name, RecordType::A, 1, false, false).unwrap()
    }

    #[tokio::test]
    async fn identical_questions_share_one_exchange() {
        let table = Arc::new(InFlight::default());
        let asked = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let (table, asked) = (table.clone(), asked.clone());
            let name = if i % 10 == 9 {
                "other.example"
            } else {
                "same.example"
            };
            tasks.push(tokio::spawn(async move {
                let ask = async {
                    asked.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    None
                };
                table.fetch(&key(name), || ask).await.1
            }));
        }
        let mut joined = 0;
        for t in tasks {
            joined += usize::from(t.await.unwrap());
        }
        assert_eq!(asked.load(Ordering::SeqCst), 2);
        assert_eq!(joined, 48);
        assert_eq!(table.len(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_asker_hands_over() {
        let table = Arc::new(InFlight::default());
        let first = {
            let table = table.clone();
            tokio::spawn(async move {
                let ask = std::future::pending::<Fetched>();
                table.fetch(&key("x.example"), || ask).await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = {
            let table = table.clone();
            tokio::spawn(async move { table.fetch(&key("x.example"), || async { None }).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        first.abort();
        let (answer, joined) = second.await.unwrap();
        assert!(answer.is_none());
        assert!(!joined, "the second query asked once the first was gone");
        assert_eq!(table.len(), 0);
    }

    #[tokio::test]
    async fn the_joiners_of_a_cancelled_asker_ask_once_more() {
        let table = Arc::new(InFlight::default());
        let asked = Arc::new(AtomicUsize::new(0));
        let first = {
            let table = table.clone();
            tokio::spawn(async move {
                table
                    .fetch(&key("y.example"), std::future::pending::<Fetched>)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut joiners = Vec::new();
        for _ in 0..10 {
            let (table, asked) = (table.clone(), asked.clone());
            joiners.push(tokio::spawn(async move {
                let ask = || async {
                    asked.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    None
                };
                table.fetch(&key("y.example"), ask).await.1
            }));
        }
        // one joiner leaves early: the others are not disturbed
        tokio::time::sleep(Duration::from_millis(20)).await;
        joiners.pop().unwrap().abort();
        first.abort();
        let mut joined = 0;
        for j in joiners {
            joined += usize::from(j.await.unwrap());
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1, "one of them asked again");
        assert_eq!(joined, 8);
        assert_eq!(table.len(), 0);
    }
}
