//! One request at a time per session, within this process.
//!
//! A request loads the whole record when it first reads the session and the
//! session layer saves the whole record when the handler is done. Two XHR
//! updates of one session that overlap would each save their own copy, and
//! the last save would erase the other's change (a lost update;
//! express-session, Flask-Session and Django share it). So the session layer
//! holds the session's turn from before the load until after the save.
//!
//! Locks are a fixed array of stripes chosen by a keyed hash of the id, so
//! memory stays the same whatever ids arrive; two sessions that share a
//! stripe merely wait for each other now and then. The memory store needs
//! nothing more; the Redis store adds a lock that holds across processes
//! ([`super::redis`]), taken after this one so that requests of one
//! instance queue here instead of polling Redis.

use std::hash::{BuildHasher, RandomState};

use tokio::sync::{Mutex, MutexGuard};
use tower_sessions::session::Id;

/// Number of stripes: enough that unrelated sessions rarely share one.
const STRIPES: usize = 1024;

/// The striped locks, shared by all requests.
#[derive(Debug)]
pub struct LocalLocks {
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
}

impl Default for LocalLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
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
