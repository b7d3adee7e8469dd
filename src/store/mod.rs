//! Where sessions live: this process's memory ([`memory::BoundedStore`],
//! the default) or Redis ([`redis::RedisStore`], shared by instances). Both
//! implement tower-sessions' [`SessionStore`]; [`AppStore`] is the one the
//! app holds, chosen at start by `--store`. Handlers and the page never know
//! which it is, beyond the name the replies report.
//!
//! The store also owns the session's turn ([`AppStore::begin`]): a request
//! that carries a session id runs alone on that session from load to save,
//! within a process for the memory store and across processes for Redis
//! (where a read needs no turn of its own: `redis_turn.rs` says why). With
//! Redis, a change that ends while the next request of this instance waits
//! for the same session hands it the lock ([`AppStore::end`];
//! `redis_turn.rs`, "Handover").

pub mod lock;
pub mod memory;
pub mod redis;
mod redis_batch;
mod redis_conn;
pub mod redis_turn;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::MutexGuard;
use tokio::time::Instant;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session};

pub use self::lock::{LocalLocks, QueueGuard};
pub use self::memory::{BoundedStore, StoreStats};
pub use self::redis::{RedisLock, RedisStore, COMMAND_TIMEOUT, COURTESY};
pub use self::redis_turn::{Handover, Pass, RedisTurn, MAX_CHAIN, MAX_HANDOVERS};

/// The session store the app was started with.
#[derive(Clone, Debug)]
pub enum AppStore {
    /// In this process's memory: a restart forgets every session.
    Memory(BoundedStore),
    /// In Redis, shared by every instance that names it.
    Redis(RedisStore),
}

/// The store a request's `Session` talks to when its turn brings no view
/// of its own: the memory store itself, so that each store call costs one
/// boxed future rather than two (this enum's and the memory store's), or
/// the shared store (Redis, for requests without a session id).
#[derive(Clone, Debug)]
pub enum SessionBase {
    /// The memory store.
    Memory(Arc<BoundedStore>),
    /// The app's store, whatever it is.
    Shared(Arc<AppStore>),
}

/// A request's turn on one session: the local stripe it holds, and with
/// Redis the request's own view of the store (its lock, its held-back
/// save). Dropping it ends the turn; [`AppStore::end`] ends it properly.
#[derive(Debug)]
pub struct Turn<'a> {
    local: Option<Local<'a>>,
    redis: Option<Arc<RedisTurn>>,
}

/// The turn held within this process.
#[derive(Debug)]
enum Local<'a> {
    /// The memory store's stripe.
    Stripe { _held: MutexGuard<'a, ()> },
    /// The Redis store's per-session queue.
    Queue { held: QueueGuard<'a, Pass> },
}

impl AppStore {
    /// `memory` or `redis`, as the replies report it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Redis(_) => "redis",
        }
    }

    /// Waits for the session's turn. The memory store: the local stripe,
    /// reads included (cheap, and no read can then race a write). Redis: a
    /// read takes no lock at all (see `redis_turn.rs`); any other request
    /// the session's queue in this process, then the lock across instances.
    pub async fn begin<'a>(
        &self,
        local: &'a LocalLocks,
        id: Id,
        read_only: bool,
    ) -> session_store::Result<Turn<'a>> {
        match self {
            Self::Memory(_) => Ok(Turn {
                local: Some(Local::Stripe {
                    _held: local.lock(id).await,
                }),
                redis: None,
            }),
            Self::Redis(store) if read_only => Ok(Turn {
                local: None,
                redis: Some(Arc::new(RedisTurn::read(store.clone(), id))),
            }),
            Self::Redis(store) => {
                let mut held = local.queues.lock(id).await;
                let taken = match held.take_passed() {
                    Some(Pass::Lock(handover)) if handover.fresh_at(Instant::now()) => {
                        Ok(RedisTurn::handed(store.clone(), id, handover))
                    }
                    Some(Pass::Lock(stale)) => {
                        // Too little of its lease is left to trust it:
                        // write what it carries, release it and take the
                        // lock anew. A failed release ends with the lease.
                        stale.release(store).await;
                        RedisTurn::write(store.clone(), id).await
                    }
                    Some(Pass::Yield) => {
                        tokio::time::sleep(COURTESY).await;
                        RedisTurn::write(store.clone(), id).await
                    }
                    Some(Pass::Failed(at)) if at.elapsed() < COMMAND_TIMEOUT => {
                        // The request before this one could not take the
                        // session just now: fail as it did, without
                        // waiting as long again, and tell the next.
                        held.pass(Pass::Failed(at));
                        return Err(session_store::Error::Backend(format!(
                            "redis: the session's previous request could not take it {} ms ago",
                            at.elapsed().as_millis()
                        )));
                    }
                    Some(Pass::Failed(_)) | None => RedisTurn::write(store.clone(), id).await,
                };
                match taken {
                    Ok(turn) => Ok(Turn {
                        local: Some(Local::Queue { held }),
                        redis: Some(Arc::new(turn)),
                    }),
                    Err(err) => {
                        held.pass(Pass::Failed(Instant::now()));
                        Err(err)
                    }
                }
            }
        }
    }

    /// What sessions are built over when a turn brings no view of its own
    /// (see [`SessionBase`]).
    pub fn base(self: &Arc<Self>) -> SessionBase {
        match &**self {
            Self::Memory(store) => SessionBase::Memory(Arc::new(store.clone())),
            Self::Redis(_) => SessionBase::Shared(self.clone()),
        }
    }

    /// tower-sessions' `Session` for a request: over the turn's view of
    /// the store when it has one, else over `base`.
    pub fn session(
        base: &SessionBase,
        id: Option<Id>,
        turn: Option<&Turn<'_>>,
        expiry: Expiry,
    ) -> Session {
        if let Some(view) = turn.and_then(|turn| turn.redis.clone()) {
            return Session::new(id, view, Some(expiry));
        }
        match base {
            SessionBase::Memory(store) => Session::new(id, store.clone(), Some(expiry)),
            SessionBase::Shared(store) => Session::new(id, store.clone(), Some(expiry)),
        }
    }

    /// Ends a turn: with Redis, sends the held-back save and the unlock,
    /// or, when the next request of this instance already waits for the
    /// session, the save that keeps the lock, which is then passed to that
    /// request through the session's queue (`redis_turn.rs`, "Handover").
    ///
    /// A change handed on unwritten (`redis_turn.rs`, "Group commit")
    /// lets the next request go first, then waits for the write that
    /// carries it: its reply must not claim a change Redis does not hold.
    pub async fn end(turn: Turn<'_>) -> session_store::Result<()> {
        let Turn { local, redis } = turn;
        let Some(view) = redis else {
            return Ok(());
        };
        let Some(Local::Queue { mut held }) = local else {
            return view.finish().await;
        };
        let ended = view.finish_and_pass(held.others_waiting()).await?;
        if let Some(pass) = ended.pass {
            held.pass(pass);
        }
        drop(held);
        match ended.outcome {
            Some(outcome) => outcome.await.unwrap_or_else(|_| {
                Err(session_store::Error::Backend(
                    "redis: the write that was to carry this change was never made".into(),
                ))
            }),
            None => Ok(()),
        }
    }

    /// Whether a session's turn must be seen through even when its request
    /// is dropped: true for a change on Redis, whose lock lives outside the
    /// process. A read takes no lock, and its one possible write (the
    /// expiry's compare-and-set) is whole or not made at all.
    pub fn turn_outlives_requests(&self, read_only: bool) -> bool {
        matches!(self, Self::Redis(_)) && !read_only
    }

    /// Whether the store answers (for `/readyz`).
    pub async fn is_ready(&self) -> bool {
        match self {
            Self::Memory(_) => true,
            Self::Redis(store) => store.ping().await,
        }
    }

    /// Starts the store's background work: the memory store's expiry sweep
    /// (Redis expires keys by itself). Needs a Tokio runtime.
    pub fn spawn_maintenance(&self, idle_timeout: Duration) {
        if let Self::Memory(store) = self {
            store.spawn_purger(sweep_interval(idle_timeout));
        }
    }
}

/// Expired sessions are swept twice per idle timeout, between once a second
/// and once a minute.
fn sweep_interval(idle_timeout: Duration) -> Duration {
    (idle_timeout / 2).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

#[async_trait]
impl SessionStore for AppStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Memory(store) => store.create(record).await,
            Self::Redis(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Memory(store) => store.save(record).await,
            Self::Redis(store) => store.save(record).await,
        }
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Memory(store) => store.load(session_id).await,
            Self::Redis(store) => store.load(session_id).await,
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        match self {
            Self::Memory(store) => store.delete(session_id).await,
            Self::Redis(store) => store.delete(session_id).await,
        }
    }
}

/// A store behind an `Arc`, as the session layer shares it.
pub type SharedStore = Arc<AppStore>;
