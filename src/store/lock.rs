//! One request at a time per session, within this process.
//!
//! A request loads the whole record when it first reads the session and the
//! session layer saves the whole record when the handler is done. Two XHR
//! updates of one session that overlap would each save their own copy, and
//! the last save would erase the other's change (a lost update;
//! express-session, Flask-Session and Django share it). So the session layer
//! holds the session's turn from before the load until after the save.
//!
//! For the memory store, whose turns last microseconds, locks are a fixed
//! array of stripes chosen by a keyed hash of the id, so memory stays the
//! same whatever ids arrive; two sessions that share a stripe merely wait
//! for each other now and then.
//!
//! The Redis store's turns last two round trips to Redis, and there a
//! shared stripe is costly: with 32 busy sessions, two share one of 1,024
//! stripes in about one process in three, and the benchmark's POST p99 went
//! from 3 ms to 18 ms in such a process. So requests of one instance queue
//! per session ([`SessionQueues`]), exactly, and then take the lock that
//! holds across processes ([`super::redis`]), so that they wait here
//! instead of polling Redis.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, PoisonError};

use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};
use tower_sessions::session::Id;

/// Number of stripes: enough that unrelated sessions rarely share one.
const STRIPES: usize = 1024;

/// The striped locks, shared by all requests.
#[derive(Debug)]
pub struct LocalLocks {
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
    /// Per-session queues, for the Redis store.
    pub queues: SessionQueues,
}

impl Default for LocalLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
            queues: SessionQueues::default(),
        }
    }
}

impl LocalLocks {
    /// Waits for the turn of the session `id` in this process.
    pub async fn lock(&self, id: Id) -> MutexGuard<'_, ()> {
        // The modulo keeps the index in range; truncation is intended.
        let stripe = (self.hasher.hash_one(id.0) as usize) % self.stripes.len();
        self.stripes[stripe].lock().await
    }
}

/// One queue per session that has a request in progress: an entry lives
/// while a request holds or awaits that session's turn, so memory follows
/// the requests in flight.
#[derive(Debug, Default)]
pub struct SessionQueues {
    queues: std::sync::Mutex<HashMap<Id, Arc<Mutex<()>>>>,
}

/// A session's turn in this process; dropping it lets the next request of
/// the session go.
#[derive(Debug)]
pub struct QueueGuard<'a> {
    queues: &'a SessionQueues,
    id: Id,
    turn: Option<OwnedMutexGuard<()>>,
}

impl SessionQueues {
    /// Waits for the turn of the session `id` in this process.
    pub async fn lock(&self, id: Id) -> QueueGuard<'_> {
        let queue = self
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_default()
            .clone();
        // Made before the wait, so that a wait given up also tidies up.
        let mut guard = QueueGuard {
            queues: self,
            id,
            turn: None,
        };
        guard.turn = Some(queue.lock_owned().await);
        guard
    }
}

impl Drop for QueueGuard<'_> {
    fn drop(&mut self) {
        let mut queues = self
            .queues
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        drop(self.turn.take());
        // Waiters hold the queue too; the last one out removes it.
        if queues
            .get(&self.id)
            .is_some_and(|queue| Arc::strong_count(queue) == 1)
        {
            queues.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_session_waits_its_turn_and_others_do_not() {
        let queues = SessionQueues::default();
        let first = queues.lock(Id(1)).await;

        let other = tokio::time::timeout(Duration::from_millis(50), queues.lock(Id(2))).await;
        assert!(other.is_ok(), "another session must not wait");
        drop(other);
        let same = tokio::time::timeout(Duration::from_millis(50), queues.lock(Id(1))).await;
        assert!(same.is_err(), "the same session must wait");

        drop(first);
        let next = tokio::time::timeout(Duration::from_millis(50), queues.lock(Id(1))).await;
        assert!(next.is_ok(), "the turn passes on");
    }

    /// How many sessions have a queue now.
    fn queued_sessions(queues: &SessionQueues) -> usize {
        queues.queues.lock().unwrap().len()
    }

    /// A task that waits for session 1's turn and lets it go at once;
    /// returns once it is waiting.
    async fn waiter_on_session_1(queues: &Arc<SessionQueues>) -> tokio::task::JoinHandle<()> {
        let waiter = tokio::spawn({
            let queues = queues.clone();
            async move {
                drop(queues.lock(Id(1)).await);
            }
        });
        tokio::task::yield_now().await;
        waiter
    }

    #[tokio::test]
    async fn queues_are_removed_once_no_request_needs_them() {
        let queues = Arc::new(SessionQueues::default());
        let first = queues.lock(Id(1)).await;
        let waiter = waiter_on_session_1(&queues).await;
        assert_eq!(queued_sessions(&queues), 1);

        drop(first);
        waiter.await.unwrap();

        assert_eq!(queued_sessions(&queues), 0);
    }

    #[tokio::test]
    async fn a_wait_given_up_leaves_no_queue_behind() {
        let queues = Arc::new(SessionQueues::default());
        let first = queues.lock(Id(1)).await;
        let waiter = waiter_on_session_1(&queues).await;

        // The turn passes to the waiter, which gives up before it runs.
        drop(first);
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());

        assert_eq!(queued_sessions(&queues), 0);
    }
}
