//! One request at a time per session.
//!
//! tower-sessions loads the whole record when a request starts and saves the
//! whole record when it ends. Two XHR updates of one session that overlap
//! would each save their own copy, and the last save would erase the
//! other's change (a lost update; express-session, Flask-Session and Django
//! share it). This middleware sits *outside* the session layer and holds a
//! lock from before the load until after the save, so the requests of one
//! session run one after another and every change survives. A lock inside
//! the handler would not do: the layer saves its copy after the handler
//! returns.
//!
//! Cost: requests of the same session wait for each other (they would race
//! otherwise); requests without a session cookie take no lock. Locks are a
//! fixed array of stripes chosen by a keyed hash of the cookie value, so
//! memory stays the same whatever cookie values arrive; two sessions that
//! share a stripe merely wait for each other now and then.
//!
//! A request with two `session_id` cookies (a cookie-tossing attempt, or a
//! stale cookie from another path) is treated as carrying none: the
//! session cookies are removed before the session layer sees them.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Mutex;

use crate::cookies::{cookie_pairs, remove_cookie, SESSION_COOKIE};

/// Number of lock stripes: enough that unrelated sessions rarely share one.
const STRIPES: usize = 1024;

/// The striped locks, shared by all requests.
#[derive(Debug)]
pub struct SessionLocks {
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
}

impl Default for SessionLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl SessionLocks {
    fn stripe_for(&self, session_id: &str) -> usize {
        // The modulo keeps the index in range; truncation is intended.
        (self.hasher.hash_one(session_id) as usize) % self.stripes.len()
    }
}

/// What a request's session cookies call for.
enum Plan {
    NoSession,
    Lock(usize),
    DropDuplicates,
}

/// Middleware: serializes the requests of one session (see the module doc).
pub async fn serialize_per_session(
    State(locks): State<Arc<SessionLocks>>,
    mut req: Request,
    next: Next,
) -> Response {
    let plan = {
        let mut ids = cookie_pairs(req.headers())
            .filter(|(name, _)| *name == SESSION_COOKIE)
            .map(|(_, value)| value);
        match (ids.next(), ids.next()) {
            (None, _) => Plan::NoSession,
            (Some(id), None) => Plan::Lock(locks.stripe_for(id)),
            (Some(_), Some(_)) => Plan::DropDuplicates,
        }
    };
    match plan {
        Plan::NoSession => next.run(req).await,
        Plan::Lock(stripe) => {
            let _guard = locks.stripes[stripe].lock().await;
            next.run(req).await
        }
        Plan::DropDuplicates => {
            tracing::warn!("request with several session cookies; treated as having none");
            remove_cookie(req.headers_mut(), SESSION_COOKIE);
            next.run(req).await
        }
    }
}
