//! A request's turn on a session kept in Redis, in as few round trips as
//! correctness allows. It stands between tower-sessions' `Session` and the
//! [`RedisStore`] for that one request.
//!
//! - **A request that may change the session** takes the cross-process
//!   lock and loads the record in one pipeline; its save is held back and
//!   sent with the unlock in a second one. Two round trips, where lock,
//!   load, save and unlock one by one would take four; one when the lock
//!   is handed over (below).
//! - **A read** (`GET /get-session-data`) takes no lock: a read changes
//!   nothing but, now and then, the expiry, and a lock would make every
//!   read of a busy session wait for the others. That one write is a
//!   compare-and-set against the text the read loaded: if another request
//!   changed the session in between, that request's write already moved
//!   the expiry, and the read's write is dropped instead of undoing it.
//!
//! # Handover
//!
//! Requests of one instance on one session already queue here
//! (`SessionQueues`). When a change ends and the next request of the queue
//! is waiting, the change does not release the lock: it saves with the
//! save-and-keep script (write, and renew the lease, only while the lock
//! holds its token) and leaves the lock and the text it just saved in the
//! queue's slot ([`Pass::Lock`]). The next request takes both as its own
//! lock and load, without a round trip, so a burst of N changes costs
//! N + 1 round trips instead of 2N. The rules:
//!
//! - **Only what is known is handed on**: a save that was made (the text
//!   in Redis is then exactly the text passed). A turn that saved nothing,
//!   deleted, or failed releases as before.
//! - **Fair to other instances**: a chain hands on at most
//!   [`MAX_HANDOVERS`] times and for [`MAX_CHAIN`] from its lock, then
//!   releases for real. If another instance has marked the session as
//!   awaited, the release says so and the next request of this instance
//!   waits [`COURTESY`](super::redis::COURTESY) before it tries the lock ([`Pass::Yield`]), which
//!   lets the other instance in.
//! - **Never a lease it no longer holds**: the script checks the token and
//!   renews in one step; the lock is passed only while at least four fifths
//!   of its lease are left ([`RedisLock::fresh_at`]), and otherwise released
//!   and taken anew.
//! - **Anything uncertain falls back** to today's path: an error or a lost
//!   reply releases the lock (token checked) and hands nothing on; a waiter
//!   that gave up leaves the lock in a slot that is dropped with the queue,
//!   which releases it; the next request then takes the lock itself.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::redis::{decode, encode, ttl_ms, RedisLock, RedisStore};

/// At most this many handovers in a row before a real release.
pub const MAX_HANDOVERS: u32 = 32;
/// A chain of handovers releases once its lock was taken this long ago.
pub const MAX_CHAIN: Duration = Duration::from_millis(20);

/// What a change leaves for the next request of its session in this
/// instance.
#[derive(Debug)]
pub enum Pass {
    /// The lock, still held, and the text saved under it.
    Lock(Handover),
    /// The lock was released while another instance awaits the session:
    /// let [`COURTESY`](super::redis::COURTESY) pass before taking it again.
    Yield,
}

/// A held lock handed from one request to the next.
#[derive(Debug)]
pub struct Handover {
    lock: RedisLock,
    /// The session's text in Redis, as the last save wrote it.
    saved: String,
    chain: Chain,
}

impl Handover {
    /// Whether the lock may still be used at `now` (see
    /// [`RedisLock::fresh_at`]).
    pub fn fresh_at(&self, now: Instant) -> bool {
        self.lock.fresh_at(now)
    }

    /// The lock alone, to release it.
    pub(super) fn into_lock(self) -> RedisLock {
        self.lock
    }
}

/// A run of turns on one lock: when it was taken and how often handed on.
#[derive(Clone, Copy, Debug)]
struct Chain {
    since: Instant,
    handovers: u32,
}

impl Chain {
    /// Whether the lock may be handed on once more at `now`.
    fn may_hand_on(self, now: Instant) -> bool {
        self.handovers < MAX_HANDOVERS && now.saturating_duration_since(self.since) < MAX_CHAIN
    }
}

/// One request's view of the Redis store.
#[derive(Debug)]
pub struct RedisTurn {
    store: RedisStore,
    /// The session the request's cookie named.
    id: Id,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// No lock; remembers the text loaded, for the compare-and-set.
    Read { loaded: Mutex<Option<String>> },
    /// The lock, the text loaded with it, and the save held back.
    Write {
        lock: Mutex<Option<RedisLock>>,
        preloaded: Mutex<Option<Option<String>>>,
        pending: Mutex<Option<(String, u64)>>,
        chain: Chain,
    },
}

/// Locks a mutex whose data is always consistent between statements.
fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

fn put<T>(slot: &Mutex<Option<T>>, value: T) {
    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
}

impl RedisTurn {
    /// A read's turn: nothing to wait for.
    pub fn read(store: RedisStore, id: Id) -> Self {
        Self {
            store,
            id,
            kind: Kind::Read {
                loaded: Mutex::new(None),
            },
        }
    }

    /// A writing request's turn: waits for the lock, loading the record
    /// with it.
    pub async fn write(store: RedisStore, id: Id) -> session_store::Result<Self> {
        let (lock, value) = store.lock_and_load(&id).await?;
        // Held from now on (the wait for the lock does not count).
        let chain = Chain {
            since: Instant::now(),
            handovers: 0,
        };
        Ok(Self::holding(store, id, lock, value, chain))
    }

    /// A writing request's turn on a lock handed over by the previous
    /// request of this instance: no round trip. The caller has checked
    /// that it is fresh.
    pub fn handed(store: RedisStore, id: Id, handover: Handover) -> Self {
        let Handover { lock, saved, chain } = handover;
        let chain = Chain {
            handovers: chain.handovers.saturating_add(1),
            ..chain
        };
        Self::holding(store, id, lock, Some(saved), chain)
    }

    fn holding(
        store: RedisStore,
        id: Id,
        lock: RedisLock,
        value: Option<String>,
        chain: Chain,
    ) -> Self {
        Self {
            store,
            id,
            kind: Kind::Write {
                lock: Mutex::new(Some(lock)),
                preloaded: Mutex::new(Some(value)),
                pending: Mutex::new(None),
                chain,
            },
        }
    }

    /// Ends the turn: sends the held-back save with the unlock.
    pub async fn finish(&self) -> session_store::Result<()> {
        self.finish_and_pass(false).await.map(drop)
    }

    /// Ends the turn. With `next_waits` (another request of this instance
    /// waits for the session), a turn that saved and whose chain is within
    /// its bounds saves and keeps the lock, and returns it for that request
    /// ([`Pass::Lock`]). Otherwise it saves and unlocks as
    /// [`RedisTurn::finish`], and returns [`Pass::Yield`] when another
    /// instance awaits the session.
    pub async fn finish_and_pass(&self, next_waits: bool) -> session_store::Result<Option<Pass>> {
        let Kind::Write {
            lock,
            pending,
            chain,
            ..
        } = &self.kind
        else {
            return Ok(None);
        };
        let Some(lock) = take(lock) else {
            return Ok(None);
        };
        match take(pending) {
            Some((saved, ttl)) if next_waits && chain.may_hand_on(Instant::now()) => {
                let lock = self.store.save_and_keep(lock, &saved, ttl).await?;
                Ok(Some(Pass::Lock(Handover {
                    lock,
                    saved,
                    chain: *chain,
                })))
            }
            pending => {
                let awaited = self.store.save_and_unlock(lock, pending).await?;
                Ok(awaited.then_some(Pass::Yield))
            }
        }
    }
}

#[async_trait]
impl SessionStore for RedisTurn {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.store.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        if record.id != self.id {
            return self.store.save(record).await;
        }
        match &self.kind {
            Kind::Write { pending, .. } => {
                let value = encode(record)?;
                put(pending, (value, ttl_ms(record.expiry_date)));
                Ok(())
            }
            Kind::Read { loaded } => match take(loaded) {
                Some(expected) => {
                    let value = encode(record)?;
                    let ttl = ttl_ms(record.expiry_date);
                    // False: another request wrote first, and its write
                    // moved the expiry already.
                    self.store
                        .compare_and_set(&record.id, &expected, &value, ttl)
                        .await
                        .map(|_| ())
                }
                None => self.store.save(record).await,
            },
        }
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        if *session_id != self.id {
            return self.store.load(session_id).await;
        }
        match &self.kind {
            Kind::Write { preloaded, .. } => match take(preloaded) {
                Some(Some(value)) => decode(session_id, &value),
                Some(None) => Ok(None),
                None => self.store.load(session_id).await,
            },
            Kind::Read { loaded } => {
                let value = self.store.load_raw(session_id).await?;
                match value {
                    Some(value) => {
                        let record = decode(session_id, &value)?;
                        put(loaded, value);
                        Ok(record)
                    }
                    None => Ok(None),
                }
            }
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        if let (true, Kind::Write { pending, .. }) = (*session_id == self.id, &self.kind) {
            take(pending);
        }
        self.store.delete(session_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(age: Duration, handovers: u32) -> (Chain, Instant) {
        let now = Instant::now();
        let since = now.checked_sub(age).unwrap_or(now);
        (Chain { since, handovers }, since + age)
    }

    #[test]
    fn a_chain_hands_on_only_within_its_bounds() {
        let (young, now) = chain(Duration::ZERO, 0);
        assert!(young.may_hand_on(now));
        let (long, now) = chain(Duration::from_millis(1), MAX_HANDOVERS - 1);
        assert!(long.may_hand_on(now));
        let (too_long, now) = chain(Duration::from_millis(1), MAX_HANDOVERS);
        assert!(!too_long.may_hand_on(now), "at most MAX_HANDOVERS");
        let (old, now) = chain(MAX_CHAIN, 1);
        assert!(!old.may_hand_on(now), "at most MAX_CHAIN");
    }
}
