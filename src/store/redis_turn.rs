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
//! N + 1 round trips instead of 2N, and fewer with group commit (below).
//! The rules:
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
//!
//! # Group commit
//!
//! While the lock is fresh, a change handed on is not even written first:
//! the next request gets the text with the change in it, applies its own,
//! and either hands the lot on again or writes it, with every change
//! before it, in one round trip. The requests whose changes rode along
//! wait for that write ([`Ended::outcome`]) and answer only when it is
//! made, with its error if it failed: no reply claims a change that Redis
//! does not hold, and a burst of N changes that queue behind one another
//! costs about one write per chain instead of one per change. What holds
//! the chain to its bounds above holds the group too; in addition:
//!
//! - A request that only carries earlier changes (it made none, or was
//!   refused) writes them as its own.
//! - A deletion supersedes the changes it carries; its outcome is theirs.
//! - A handover that arrives too late to be used ([`Handover::release`])
//!   is written and released, and the next request takes the lock anew.
//! - Changes whose carrier died unwritten are never written: each of their
//!   requests answers with an error, and the lock is released.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
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
    /// Taking the lock failed at this moment (Redis did not answer in
    /// time, or the lock stayed taken): the requests queued behind fail at
    /// once for [`COMMAND_TIMEOUT`](super::redis::COMMAND_TIMEOUT) after
    /// it instead of each waiting that long again, one after another.
    Failed(Instant),
}

/// A held lock handed from one request to the next.
#[derive(Debug)]
pub struct Handover {
    lock: RedisLock,
    /// The session's text under the lock: as the last save wrote it, or,
    /// with `unsaved`, with changes not yet written.
    text: String,
    unsaved: Option<Box<Unsaved>>,
    chain: Chain,
}

impl Handover {
    /// Whether the lock may still be used at `now` (see
    /// [`RedisLock::fresh_at`]).
    pub fn fresh_at(&self, now: Instant) -> bool {
        self.lock.fresh_at(now)
    }

    /// Ends a handover that came too late to be used: writes the changes
    /// it carries, if any, and releases the lock (token checked), so that
    /// the next request takes the lock anew. An error here is the carried
    /// changes' (their requests are told); the lock ends with its lease at
    /// worst.
    pub(super) async fn release(self, store: &RedisStore) {
        let Self { lock, unsaved, .. } = self;
        match unsaved {
            Some(mut unsaved) => {
                let text = std::mem::take(&mut unsaved.text);
                let written = store.save_and_unlock(lock, Some((text, unsaved.ttl))).await;
                unsaved.tell(&written);
            }
            None => {
                let _ = store.release(lock).await;
            }
        }
    }
}

/// Changes made under a lock and handed on before they were written
/// (group commit): the next write of the session carries them. Their
/// requests wait, each on its receiver, for that write's outcome, and
/// answer only then; dropped unwritten (a request task that died), the
/// senders go with it and each of them answers with an error.
#[derive(Debug)]
struct Unsaved {
    /// The session's text with every change handed on so far.
    text: String,
    /// The TTL (ms) it is to be written with.
    ttl: u64,
    waiters: Vec<oneshot::Sender<session_store::Result<()>>>,
}

impl Unsaved {
    /// Tells every waiter the outcome of the write that carried its change.
    fn tell<T>(self, outcome: &session_store::Result<T>) {
        for waiter in self.waiters {
            // A waiter whose task ended has nobody left to tell.
            let _ = waiter.send(outcome.as_ref().map(|_| ()).map_err(copy));
        }
    }
}

/// How a change ends: what it leaves for the next request, and, when it
/// handed its change on unwritten, where the write's outcome will come.
#[derive(Debug, Default)]
pub struct Ended {
    /// What to leave in the session's queue for the next request.
    pub pass: Option<Pass>,
    /// The outcome of the later write that carries this request's change.
    pub outcome: Option<oneshot::Receiver<session_store::Result<()>>>,
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

// A turn lives in one `Arc` per request, whichever kind it is: boxing the
// larger kind would add an allocation and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Kind {
    /// No lock; remembers the text loaded, for the compare-and-set.
    Read { loaded: Mutex<Option<String>> },
    /// The lock, the text loaded with it, and the save held back.
    Write {
        lock: Mutex<Option<RedisLock>>,
        preloaded: Mutex<Option<Option<String>>>,
        pending: Mutex<Option<(String, u64)>>,
        /// Earlier requests' changes handed over unwritten, with their
        /// waiters: this turn's write carries them.
        unsaved: Mutex<Option<Box<Unsaved>>>,
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
        Ok(Self::holding(store, id, lock, value, None, chain))
    }

    /// A writing request's turn on a lock handed over by the previous
    /// request of this instance: no round trip. The caller has checked
    /// that it is fresh.
    pub fn handed(store: RedisStore, id: Id, handover: Handover) -> Self {
        let Handover {
            lock,
            text,
            unsaved,
            chain,
        } = handover;
        let chain = Chain {
            handovers: chain.handovers.saturating_add(1),
            ..chain
        };
        Self::holding(store, id, lock, Some(text), unsaved, chain)
    }

    fn holding(
        store: RedisStore,
        id: Id,
        lock: RedisLock,
        value: Option<String>,
        unsaved: Option<Box<Unsaved>>,
        chain: Chain,
    ) -> Self {
        Self {
            store,
            id,
            kind: Kind::Write {
                lock: Mutex::new(Some(lock)),
                preloaded: Mutex::new(Some(value)),
                pending: Mutex::new(None),
                unsaved: Mutex::new(unsaved),
                chain,
            },
        }
    }

    /// Ends the turn: sends the held-back save with the unlock.
    pub async fn finish(&self) -> session_store::Result<()> {
        self.finish_and_pass(false).await.map(drop)
    }

    /// Ends the turn. With `next_waits` (another request of this instance
    /// waits for the session) and a chain within its bounds, the turn
    /// keeps the lock for that request ([`Pass::Lock`]): while the lock is
    /// fresh, it hands its text on unwritten, and [`Ended::outcome`] then
    /// brings the outcome of the later write that carries it; otherwise it
    /// saves and keeps the lock. Without, it saves (its own change, else
    /// the ones it carries) and unlocks as [`RedisTurn::finish`], and
    /// passes [`Pass::Yield`] when another instance awaits the session.
    pub async fn finish_and_pass(&self, next_waits: bool) -> session_store::Result<Ended> {
        let Kind::Write {
            lock,
            pending,
            unsaved,
            chain,
            ..
        } = &self.kind
        else {
            return Ok(Ended::default());
        };
        let Some(lock) = take(lock) else {
            return Ok(Ended::default());
        };
        let mut carried = take(unsaved);
        // The text to write: this turn's, which holds every change it
        // carries, else the carried changes' own.
        let text = take(pending).or_else(|| {
            carried
                .as_mut()
                .map(|unsaved| (std::mem::take(&mut unsaved.text), unsaved.ttl))
        });
        let now = Instant::now();
        let hand_on = next_waits && chain.may_hand_on(now);
        match text {
            Some((text, ttl)) if hand_on && lock.fresh_at(now) => {
                let (waiter, outcome) = oneshot::channel();
                let mut waiters = carried.map(|unsaved| unsaved.waiters).unwrap_or_default();
                waiters.push(waiter);
                Ok(Ended {
                    pass: Some(Pass::Lock(Handover {
                        lock,
                        text: text.clone(),
                        unsaved: Some(Box::new(Unsaved { text, ttl, waiters })),
                        chain: *chain,
                    })),
                    outcome: Some(outcome),
                })
            }
            Some((text, ttl)) if hand_on => {
                let kept = self.store.save_and_keep(lock, &text, ttl).await;
                if let Some(carried) = carried {
                    carried.tell(&kept);
                }
                Ok(Ended {
                    pass: Some(Pass::Lock(Handover {
                        lock: kept?,
                        text,
                        unsaved: None,
                        chain: *chain,
                    })),
                    outcome: None,
                })
            }
            text => {
                let released = self.store.save_and_unlock(lock, text).await;
                if let Some(carried) = carried {
                    carried.tell(&released);
                }
                Ok(Ended {
                    pass: released?.then_some(Pass::Yield),
                    outcome: None,
                })
            }
        }
    }
}

/// An error to tell a second party: the same words, as a store failure.
fn copy(err: &session_store::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
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
        let Kind::Write {
            pending, unsaved, ..
        } = &self.kind
        else {
            return self.store.delete(session_id).await;
        };
        if *session_id != self.id {
            return self.store.delete(session_id).await;
        }
        take(pending);
        // Changes handed on unwritten end here too: they came before the
        // deletion, which supersedes them, so its outcome is theirs.
        let carried = take(unsaved);
        let deleted = self.store.delete(session_id).await;
        if let Some(carried) = carried {
            carried.tell(&deleted);
        }
        deleted
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
