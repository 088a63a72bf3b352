//! Identical questions in flight upstream, merged: the first cache miss for a question
//! asks the upstream group, and every query for the same question (the same
//! [`CacheKey`]) that arrives before that answer is in joins it instead of sending one
//! more exchange. When a hundred devices wake and ask for the same name at once, the
//! upstream sees one query; and a spoofer racing the answer to a popular name has one
//! exchange to hit, not a hundred (the "birthday" attack on ids and ports).
//!
//! The table is a rendezvous between the queries of one question, as the upstream
//! pending tables are: sharded `std::sync::Mutex`es, each critical section one hash-map
//! operation, no lock held across an `await`, and touched only on cache misses. A
//! query that joins waits on a `tokio::sync::OnceCell`; if the one asking is cancelled,
//! a waiting one asks instead. The entry is removed when its last query is done.

use std::future::Future;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use hashbrown::HashMap;

use tokio::sync::OnceCell;

use crate::cache::{CacheKey, CachedAnswer};

const SHARDS: usize = 16;

/// An upstream answer as the query path uses it: the entry and the server that gave it,
/// or `None` when the group gave nothing usable (SERVFAIL for everyone waiting).
pub(crate) type Fetched = Option<(Arc<CachedAnswer>, Arc<str>)>;

/// foldhash, not std's SipHash: a key is hashed twice a miss (join, leave), and SipHash
/// made leaving cost 1,700 instructions (callgrind).
type Map = HashMap<Box<[u8]>, Arc<Flight>, foldhash::fast::FixedState>;
type Shard = Mutex<Map>;

/// The questions in flight.
pub(crate) struct InFlight {
    shards: Box<[Shard]>,
    hasher: foldhash::fast::FixedState,
}

#[derive(Default)]
struct Flight {
    answer: OnceCell<Fetched>,
}

impl Default for InFlight {
    fn default() -> InFlight {
        InFlight {
            shards: (0..SHARDS).map(|_| Mutex::new(Map::default())).collect(),
            hasher: foldhash::fast::FixedState::default(),
        }
    }
}

impl InFlight {
    /// The answer to the question of `key`: `ask`'s, or that of the identical query
    /// already asking. The flag says whether this query joined another's exchange.
    pub(crate) async fn fetch<F>(&self, key: &CacheKey, ask: F) -> (Fetched, bool)
    where
        F: Future<Output = Fetched>,
    {
        let key = key.as_bytes();
        let shard = &self.shards[self.hasher.hash_one(key) as usize % SHARDS];
        let flight = {
            let mut map = lock(shard);
            match map.get(key) {
                Some(flight) => flight.clone(),
                None => {
                    let flight = Arc::new(Flight::default());
                    map.insert(key.into(), flight.clone());
                    flight
                }
            }
        };
        let participant = Participant { shard, key, flight };
        let mut asked = false;
        let answer = participant
            .flight
            .answer
            .get_or_init(|| {
                asked = true;
                ask
            })
            .await
            .clone();
        (answer, !asked)
    }

    /// Questions in flight (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }
}

fn lock(shard: &Shard) -> std::sync::MutexGuard<'_, Map> {
    // Every critical section is one map operation: a panic cannot leave it half done.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A query's part in a flight; the last one to leave (answered or cancelled) removes the
/// flight from the table.
struct Participant<'a> {
    shard: &'a Shard,
    key: &'a [u8],
    flight: Arc<Flight>,
}

impl Drop for Participant<'_> {
    fn drop(&mut self) {
        let mut map = lock(self.shard);
        // Joining clones the flight under this lock: two references (the table's and
        // this one) mean nobody else is in it.
        if map
            .get(self.key)
            .is_some_and(|f| Arc::ptr_eq(f, &self.flight) && Arc::strong_count(f) == 2)
        {
            map.remove(self.key);
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
                table.fetch(&key(name), ask).await.1
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
                table.fetch(&key("x.example"), ask).await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = {
            let table = table.clone();
            tokio::spawn(async move { table.fetch(&key("x.example"), async { None }).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        first.abort();
        let (answer, joined) = second.await.unwrap();
        assert!(answer.is_none());
        assert!(!joined, "the second query asked once the first was gone");
        assert_eq!(table.len(), 0);
    }
}
