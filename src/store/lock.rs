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
//! The Redis store's turns last up to two round trips to Redis, and there a
//! shared stripe is costly: with 32 busy sessions, two share one of 1,024
//! stripes in about one process in three, and the benchmark's POST p99 went
//! from 3 ms to 18 ms in such a process. So requests of one instance queue
//! per session ([`SessionQueues`]), exactly, and then take the lock that
//! holds across processes ([`super::redis`]), so that they wait here
//! instead of polling Redis.
//!
//! A session's queue also carries what one request leaves for the next
//! (a slot, [`QueueGuard::pass`]): with Redis, the cross-process lock
//! itself and the state just saved, so that the next request of this
//! instance need not take the lock again (`redis_turn.rs`, "Handover").
//! Whatever is left in the slot when the queue empties is dropped, which
//! for a Redis lock means it is released.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, PoisonError};

use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};
use tower_sessions::session::Id;

/// Number of stripes: enough that unrelated sessions rarely share one.
const STRIPES: usize = 1024;

/// The striped locks, shared by all requests.
#[derive(Debug)]
pub struct LocalLocks {
    stripes: Box<[Mutex<()>]>,
    /// Keyed with a random seed per process, like the store's own maps
    /// (`lru`'s hasher, hashbrown's default): a stripe cannot be aimed at,
    /// at a fraction of SipHash's cost.
    hasher: lru::DefaultHasher,
    /// Per-session queues, for the Redis store, with what a turn passes
    /// to the next.
    pub queues: SessionQueues<super::redis_turn::Pass>,
}

impl Default for LocalLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: lru::DefaultHasher::default(),
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
/// the requests in flight. Each queue has a slot of `T`: what a turn
/// leaves for the next one.
#[derive(Debug)]
pub struct SessionQueues<T> {
    /// Hashed like the stripes, with a random seed per process: the ids
    /// come from cookies, so a client must not be able to aim them at one
    /// bucket, and SipHash, four hashes a change, is no safer for that.
    queues: std::sync::Mutex<HashMap<Id, Queue<T>, lru::DefaultHasher>>,
}

/// One session's queue: its turn, and the slot a turn leaves for the next.
type Queue<T> = Arc<Mutex<Option<T>>>;

impl<T> Default for SessionQueues<T> {
    fn default() -> Self {
        Self {
            queues: std::sync::Mutex::default(),
        }
    }
}

/// A session's turn in this process; dropping it lets the next request of
/// the session go.
#[derive(Debug)]
pub struct QueueGuard<'a, T> {
    queues: &'a SessionQueues<T>,
    id: Id,
    turn: Option<OwnedMutexGuard<Option<T>>>,
}

impl<T> QueueGuard<'_, T> {
    /// What the previous turn left in the slot, if anything.
    pub fn take_passed(&mut self) -> Option<T> {
        self.turn.as_mut().and_then(|turn| turn.take())
    }

    /// Leaves `value` for the next turn. Should no request take it (the
    /// waiters gave up), it is dropped with the queue.
    pub fn pass(&mut self, value: T) {
        if let Some(turn) = self.turn.as_mut() {
            **turn = Some(value);
        }
    }

    /// Whether another request of this process waits for this session's
    /// turn now. A hint: a waiter may still give up before its turn.
    pub fn others_waiting(&self) -> bool {
        // This turn is one of those in line; any more are waiters.
        self.queues.in_line(self.id) > 1
    }
}

impl<T> SessionQueues<T> {
    /// How many requests of this process hold or await the turn of the
    /// session `id` now.
    pub fn in_line(&self, id: Id) -> usize {
        self.queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .map_or(0, |queue| Arc::strong_count(queue) - 1)
    }

    /// Waits for the turn of the session `id` in this process.
    pub async fn lock(&self, id: Id) -> QueueGuard<'_, T> {
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

impl<T> Drop for QueueGuard<'_, T> {
    fn drop(&mut self) {
        let mut queues = self
            .queues
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        drop(self.turn.take());
        // Waiters hold the queue too; the last one out removes it, and
        // with it anything left in its slot.
        let removed = if queues
            .get(&self.id)
            .is_some_and(|queue| Arc::strong_count(queue) == 1)
        {
            queues.remove(&self.id)
        } else {
            None
        };
        drop(queues);
        drop(removed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_session_waits_its_turn_and_others_do_not() {
        let queues = SessionQueues::<()>::default();
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
    fn queued_sessions<T>(queues: &SessionQueues<T>) -> usize {
        queues.queues.lock().unwrap().len()
    }

    /// A task that waits for session 1's turn and lets it go at once;
    /// returns once it is waiting.
    async fn waiter_on_session_1(queues: &Arc<SessionQueues<()>>) -> tokio::task::JoinHandle<()> {
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
        let queues = Arc::new(SessionQueues::<()>::default());
        let first = queues.lock(Id(1)).await;
        let waiter = waiter_on_session_1(&queues).await;
        assert_eq!(queued_sessions(&queues), 1);

        drop(first);
        waiter.await.unwrap();

        assert_eq!(queued_sessions(&queues), 0);
    }

    #[tokio::test]
    async fn what_a_turn_passes_reaches_the_next_one_and_only_it() {
        let queues = Arc::new(SessionQueues::<u32>::default());
        let mut first = queues.lock(Id(1)).await;
        assert!(!first.others_waiting());
        let next = tokio::spawn({
            let queues = queues.clone();
            async move { queues.lock(Id(1)).await.take_passed() }
        });
        while !first.others_waiting() {
            tokio::task::yield_now().await;
        }

        first.pass(7);
        drop(first);

        assert_eq!(next.await.unwrap(), Some(7));
        let mut later = queues.lock(Id(1)).await;
        assert_eq!(later.take_passed(), None, "taken once");
    }

    #[tokio::test]
    async fn what_no_turn_takes_is_dropped_with_the_queue() {
        let queues = Arc::new(SessionQueues::<Arc<()>>::default());
        let passed = Arc::new(());
        let mut first = queues.lock(Id(1)).await;
        let waiter = tokio::spawn({
            let queues = queues.clone();
            async move { drop(queues.lock(Id(1)).await) }
        });
        while !first.others_waiting() {
            tokio::task::yield_now().await;
        }
        waiter.abort();
        let _ = waiter.await;

        first.pass(passed.clone());
        drop(first);

        assert_eq!(queued_sessions(&queues), 0);
        assert_eq!(Arc::strong_count(&passed), 1, "dropped, not kept");
    }

    #[tokio::test]
    async fn a_wait_given_up_leaves_no_queue_behind() {
        let queues = Arc::new(SessionQueues::<()>::default());
        let first = queues.lock(Id(1)).await;
        let waiter = waiter_on_session_1(&queues).await;

        // The turn passes to the waiter, which gives up before it runs.
        drop(first);
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());

        assert_eq!(queued_sessions(&queues), 0);
    }
}
