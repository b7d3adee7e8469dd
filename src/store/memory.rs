//! The session store: bounded, in memory, with a segmented LRU.
//!
//! tower-sessions' stock `MemoryStore` keeps every record forever, so each
//! cookie-less visitor (or bot) would add one for good. This store holds at
//! most `max_sessions` records, drops expired ones on load and in a
//! background sweep, and when full chooses what to evict with a *segmented
//! LRU*:
//!
//! - a new session enters the **probation** segment;
//! - when its cookie comes back (the store loads it), it moves to the
//!   **protected** segment, which may take up to 80 % of the capacity; when
//!   protected is over its share, its least recently used record goes back to
//!   probation;
//! - when the store is full, the least recently used record of *probation* is
//!   evicted; protected records are only evicted when probation is empty.
//!
//! The trade-off: a plain LRU cap lets a flood of new cookie-less sessions
//! log everyone out (the reason express-session never added one), while no
//! cap lets the same flood exhaust memory. Here a flood only churns probation,
//! so sessions whose browsers come back survive it; the price is that a
//! brand-new session whose second request arrives after a flood of more than
//! 20 % of the capacity has pushed it out starts over with a fresh session.
//!
//! Records are kept compact, a few hundred bytes per session, rather than as
//! `serde_json` trees, which take several times that: a record whose data is
//! a single string (the app keeps its whole state as one JSON string) is kept
//! as that string, so loading it builds no tree and parses nothing; any other
//! record is kept as its JSON bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use lru::LruCache;
use serde_json::Value;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::unix_time;

/// Share of the capacity the protected segment may hold, in percent.
const PROTECTED_PERCENT: usize = 80;

/// A handle to the store; clones share the same records.
#[derive(Clone, Debug)]
pub struct BoundedStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    capacity: usize,
    protected_capacity: usize,
    segments: Mutex<Segments>,
    evictions: AtomicU64,
    expired_purged: AtomicU64,
}

#[derive(Debug)]
struct Segments {
    probation: LruCache<Id, Entry>,
    protected: LruCache<Id, Entry>,
}

#[derive(Debug)]
struct Entry {
    expires_at: OffsetDateTime,
    data: Payload,
}

/// `Record::data`, compacted.
#[derive(Debug)]
enum Payload {
    /// One key whose value is a string: kept as is.
    Text { key: Box<str>, value: Box<str> },
    /// Anything else, as JSON.
    Json(Box<[u8]>),
}

/// Counters for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreStats {
    /// Records held now (expired ones not yet swept included).
    pub live: usize,
    /// Records in the protected segment.
    pub protected: usize,
    /// Records evicted because the store was full.
    pub evictions: u64,
    /// Expired records removed.
    pub expired_purged: u64,
}

impl BoundedStore {
    /// A store that holds at most `capacity` sessions (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            inner: Arc::new(Inner {
                capacity,
                protected_capacity: (capacity * PROTECTED_PERCENT / 100).max(1),
                segments: Mutex::new(Segments {
                    probation: LruCache::unbounded(),
                    protected: LruCache::unbounded(),
                }),
                evictions: AtomicU64::new(0),
                expired_purged: AtomicU64::new(0),
            }),
        }
    }

    /// The current counters.
    pub fn stats(&self) -> StoreStats {
        let segments = self.inner.lock();
        StoreStats {
            live: segments.probation.len() + segments.protected.len(),
            protected: segments.protected.len(),
            evictions: self.inner.evictions.load(Ordering::Relaxed),
            expired_purged: self.inner.expired_purged.load(Ordering::Relaxed),
        }
    }

    /// Removes every expired record and returns how many there were.
    pub fn purge_expired(&self) -> usize {
        let now = OffsetDateTime::now_utc();
        let mut guard = self.inner.lock();
        let segments = &mut *guard;
        let mut removed = 0;
        for segment in [&mut segments.probation, &mut segments.protected] {
            let expired: Vec<Id> = segment
                .iter()
                .filter(|(_, entry)| entry.expires_at <= now)
                .map(|(id, _)| *id)
                .collect();
            for id in &expired {
                segment.pop(id);
            }
            removed += expired.len();
        }
        drop(guard);
        self.inner
            .expired_purged
            .fetch_add(removed as u64, Ordering::Relaxed);
        removed
    }

    /// Sweeps expired records every `every` until the store is dropped. Needs
    /// a Tokio runtime. The task holds only a weak reference, so it ends with
    /// the last handle to the store.
    pub fn spawn_purger(&self, every: Duration) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let store = BoundedStore { inner };
                let removed = store.purge_expired();
                let stats = store.stats();
                tracing::debug!(
                    removed,
                    live = stats.live,
                    evictions = stats.evictions,
                    "swept expired sessions"
                );
            }
        });
    }

    fn entry_for(record: &Record) -> session_store::Result<Entry> {
        let mut fields = record.data.iter();
        let data = match (fields.next(), fields.next()) {
            (Some((key, Value::String(value))), None) => Payload::Text {
                key: key.as_str().into(),
                value: value.as_str().into(),
            },
            _ => Payload::Json(
                serde_json::to_vec(&record.data)
                    .map_err(|err| session_store::Error::Encode(err.to_string()))?
                    .into_boxed_slice(),
            ),
        };
        Ok(Entry {
            expires_at: record.expiry_date,
            data,
        })
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Segments> {
        // The segments are consistent after every statement that changes
        // them, so a panic elsewhere cannot leave them half-updated.
        self.segments.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes room for one more record: evicts from probation first.
    fn make_room(&self, segments: &mut Segments) {
        while segments.probation.len() + segments.protected.len() >= self.capacity {
            let evicted = segments
                .probation
                .pop_lru()
                .or_else(|| segments.protected.pop_lru());
            if evicted.is_none() {
                break;
            }
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Moves a record whose cookie came back into the protected segment,
    /// demoting protected's least recently used record if over its share.
    fn promote(&self, segments: &mut Segments, id: Id, entry: Entry) {
        segments.protected.push(id, entry);
        while segments.protected.len() > self.protected_capacity {
            match segments.protected.pop_lru() {
                Some((old_id, old_entry)) => {
                    segments.probation.push(old_id, old_entry);
                }
                None => break,
            }
        }
    }
}

#[async_trait]
impl SessionStore for BoundedStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let entry = Self::entry_for(record)?;
        let mut segments = self.inner.lock();
        while segments.probation.contains(&record.id) || segments.protected.contains(&record.id) {
            record.id = Id::default();
        }
        self.inner.make_room(&mut segments);
        segments.probation.push(record.id, entry);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let entry = Self::entry_for(record)?;
        let mut segments = self.inner.lock();
        if let Some(slot) = segments.protected.get_mut(&record.id) {
            *slot = entry;
        } else if let Some(slot) = segments.probation.get_mut(&record.id) {
            *slot = entry;
        } else {
            // Evicted while the request ran: keep the learner's session.
            self.inner.make_room(&mut segments);
            segments.probation.push(record.id, entry);
        }
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let now = unix_time::now_nanos();
        let mut segments = self.inner.lock();
        let entry = if let Some(entry) = segments.protected.get(session_id) {
            if entry.expires_at.unix_timestamp_nanos() > now {
                Some(decode(session_id, entry)?)
            } else {
                segments.protected.pop(session_id);
                None
            }
        } else if let Some(entry) = segments.probation.pop(session_id) {
            if entry.expires_at.unix_timestamp_nanos() > now {
                let record = decode(session_id, &entry)?;
                self.inner.promote(&mut segments, *session_id, entry);
                Some(record)
            } else {
                None
            }
        } else {
            None
        };
        Ok(entry)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let mut segments = self.inner.lock();
        segments.probation.pop(session_id);
        segments.protected.pop(session_id);
        Ok(())
    }
}

fn decode(id: &Id, entry: &Entry) -> session_store::Result<Record> {
    let data = match &entry.data {
        Payload::Text { key, value } => {
            // `String::from`, not `to_string`: a `Box<str>`'s goes through
            // the formatting machinery.
            let mut data = HashMap::with_capacity(1);
            data.insert(String::from(&**key), Value::String(String::from(&**value)));
            data
        }
        Payload::Json(bytes) => serde_json::from_slice(bytes)
            .map_err(|err| session_store::Error::Decode(err.to_string()))?,
    };
    Ok(Record {
        id: *id,
        data,
        expiry_date: entry.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(expires_in: time::Duration) -> Record {
        Record {
            id: Id::default(),
            data: [("k".to_owned(), json!("v"))].into_iter().collect(),
            expiry_date: OffsetDateTime::now_utc() + expires_in,
        }
    }

    async fn create(store: &BoundedStore) -> Id {
        let mut record = record(time::Duration::minutes(5));
        store.create(&mut record).await.unwrap();
        record.id
    }

    #[tokio::test]
    async fn a_record_round_trips() {
        let store = BoundedStore::new(10);
        let mut original = record(time::Duration::minutes(5));
        store.create(&mut original).await.unwrap();
        let loaded = store.load(&original.id).await.unwrap().unwrap();
        assert_eq!(loaded, original);
    }

    #[tokio::test]
    async fn single_string_and_general_records_both_round_trip() {
        let store = BoundedStore::new(10);
        let mut text = record(time::Duration::minutes(5));
        text.data = [("state".to_owned(), json!("{\"a\":1}"))]
            .into_iter()
            .collect();
        let mut general = record(time::Duration::minutes(5));
        general.data = [
            ("a".to_owned(), json!({"b": [1, null]})),
            ("c".to_owned(), json!("d")),
        ]
        .into_iter()
        .collect();
        for original in [&mut text, &mut general] {
            store.create(original).await.unwrap();
            assert_eq!(
                &store.load(&original.id).await.unwrap().unwrap(),
                &*original
            );
        }
    }

    #[tokio::test]
    async fn expired_records_are_not_loaded_and_are_purged() {
        let store = BoundedStore::new(10);
        let mut old = record(time::Duration::seconds(-1));
        store.create(&mut old).await.unwrap();
        create(&store).await;
        assert_eq!(store.purge_expired(), 1);
        assert_eq!(store.stats().live, 1);
        assert!(store.load(&old.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_store_never_holds_more_than_its_capacity() {
        let store = BoundedStore::new(50);
        for _ in 0..500 {
            create(&store).await;
            assert!(store.stats().live <= 50);
        }
        assert_eq!(store.stats().evictions, 450);
    }

    #[tokio::test]
    async fn a_flood_of_new_sessions_does_not_evict_returning_ones() {
        let store = BoundedStore::new(100);
        let returning: Vec<Id> = {
            let mut ids = Vec::new();
            for _ in 0..60 {
                let id = create(&store).await;
                store.load(&id).await.unwrap().unwrap();
                ids.push(id);
            }
            ids
        };
        for _ in 0..10_000 {
            create(&store).await;
        }
        for id in &returning {
            assert!(store.load(id).await.unwrap().is_some());
        }
        assert_eq!(store.stats().live, 100);
    }

    #[tokio::test]
    async fn protected_is_capped_and_demotes_to_probation() {
        let store = BoundedStore::new(10);
        for _ in 0..10 {
            let id = create(&store).await;
            store.load(&id).await.unwrap();
        }
        let stats = store.stats();
        assert_eq!(stats.protected, 8);
        assert_eq!(stats.live, 10);
    }

    #[tokio::test]
    async fn deleted_records_are_gone() {
        let store = BoundedStore::new(10);
        let id = create(&store).await;
        store.delete(&id).await.unwrap();
        assert!(store.load(&id).await.unwrap().is_none());
        assert_eq!(store.stats().live, 0);
    }
}
