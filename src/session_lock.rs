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

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use tokio::sync::Mutex;
use tower::{Layer, Service};

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

fn plan_for(locks: &SessionLocks, req: &Request) -> Plan {
    let mut ids = cookie_pairs(req.headers())
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value);
    match (ids.next(), ids.next()) {
        (None, _) => Plan::NoSession,
        (Some(id), None) => Plan::Lock(locks.stripe_for(id)),
        (Some(_), Some(_)) => Plan::DropDuplicates,
    }
}

/// The layer that serializes the requests of one session (see the module
/// doc). A plain tower layer rather than `from_fn`, which would box the
/// inner service again on every request.
#[derive(Clone, Debug, Default)]
pub struct SessionLockLayer {
    locks: Arc<SessionLocks>,
}

impl<S> Layer<S> for SessionLockLayer {
    type Service = SessionLock<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionLock {
            inner,
            locks: self.locks.clone(),
        }
    }
}

/// The service of [`SessionLockLayer`].
#[derive(Clone, Debug)]
pub struct SessionLock<S> {
    inner: S,
    locks: Arc<SessionLocks>,
}

impl<S> Service<Request> for SessionLock<S>
where
    S: Service<Request> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // Call the instance that was polled ready; leave a fresh clone behind.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        match plan_for(&self.locks, &req) {
            Plan::NoSession => Box::pin(inner.call(req)),
            Plan::Lock(stripe) => {
                let locks = self.locks.clone();
                Box::pin(async move {
                    let _guard = locks.stripes[stripe].lock().await;
                    inner.call(req).await
                })
            }
            Plan::DropDuplicates => {
                tracing::warn!("request with several session cookies; treated as having none");
                remove_cookie(req.headers_mut(), SESSION_COOKIE);
                Box::pin(inner.call(req))
            }
        }
    }
}
