//! A request's turn on a session kept in Redis, in as few round trips as
//! correctness allows. It stands between tower-sessions' `Session` and the
//! [`RedisStore`] for that one request.
//!
//! - **A request that may change the session** takes the cross-process
//!   lock and loads the record in one pipeline; its save is held back and
//!   sent with the unlock in a second one. Two round trips, where lock,
//!   load, save and unlock one by one would take four.
//! - **A read** (`GET /get-session-data`) takes no lock: a read changes
//!   nothing but, now and then, the expiry, and a lock would make every
//!   read of a busy session wait for the others. That one write is a
//!   compare-and-set against the text the read loaded: if another request
//!   changed the session in between, that request's write already moved
//!   the expiry, and the read's write is dropped instead of undoing it.

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::redis::{decode, encode, ttl_ms, RedisLock, RedisStore};

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
        Ok(Self {
            store,
            id,
            kind: Kind::Write {
                lock: Mutex::new(Some(lock)),
                preloaded: Mutex::new(Some(value)),
                pending: Mutex::new(None),
            },
        })
    }

    /// Ends the turn: sends the held-back save with the unlock.
    pub async fn finish(&self) -> session_store::Result<()> {
        let Kind::Write { lock, pending, .. } = &self.kind else {
            return Ok(());
        };
        match take(lock) {
            Some(lock) => self.store.save_and_unlock(lock, take(pending)).await,
            None => Ok(()),
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
