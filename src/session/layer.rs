//! The session middleware: gives each request tower-sessions' [`Session`],
//! runs the requests of one session one at a time, saves what changed and
//! writes the `session_id` cookie.
//!
//! What stays tower-sessions': the `Session` handle and its lazy load,
//! `save`, `cycle_id` and `flush`, ids, records, expiry, and the
//! [`SessionStore`](tower_sessions::SessionStore) trait that
//! the app's stores implement. What this layer does instead of
//! tower-sessions' `SessionManagerLayer`, and why:
//!
//! - **No cookie without a live session.** `SessionManagerLayer` expires the
//!   cookie of any id it cannot find (forged, expired, replaced); the demo
//!   handles such a request as one without a session, which gets no
//!   `Set-Cookie` at all. Here the cookie is expired only when a handler
//!   deleted the session on purpose (`Session::flush`, which leaves it
//!   modified and empty: tower-sessions' own sign for "remove the cookie").
//! - **The lock spans load and save** (below), which a layer outside
//!   `SessionManagerLayer` could do only by parsing the cookie a second time.
//! - **One look at the `Cookie` header, one string for `Set-Cookie`.**
//!   `SessionManagerLayer` parses every cookie of the request into a jar and
//!   renders `Set-Cookie` through the `cookie` crate on every save; here the
//!   attributes are rendered once at start-up. That, with the lock in the
//!   same layer, took over a third of the session machinery's cost off a
//!   read and a quarter off an update (BENCHMARKS.md).
//! - **The page can see `Set-Cookie`.** Scripts may not read that header, so
//!   it is repeated, id redacted, in `X-Set-Cookie-Echo`.
//!
//! # One request at a time per session
//!
//! The layer holds the session's turn ([`AppStore::begin`]) from before the
//! load until after the save, so the requests of one session run one after
//! another (`store/lock.rs` says why; with Redis the turn holds across
//! instances, and a read takes none: `store/redis_turn.rs`). A lock inside
//! the handler would not do: the save comes after the handler returns.
//! Requests without a session id take no lock. Whether a route only reads
//! is declared where the route is: it gets [`SessionLayer::read_only`].
//!
//! A request with two `session_id` cookies (a cookie-tossing attempt, or a
//! stale cookie from another path) is treated as carrying none: its session
//! cookies are removed before the handler sees them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::header::SET_COOKIE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse as _, Response};
use serde::Serialize;
use tower::{Layer, Service};
use tower_sessions::session::Id;
use tower_sessions::{Expiry, Session};

use crate::cookies::{
    push_session_id, remove_cookie, CookieNames, ReceivedCookies, SessionCookie, SESSION_COOKIE,
    SET_COOKIE_ECHO,
};
use crate::error::{add_context_to_error, AppError};
use crate::instance::ServedBy;
use crate::store::{AppStore, LocalLocks, SessionBase};

use super::SessionRules;

/// What the layer puts in a request's extensions for the typed view:
/// tower-sessions' handle and the app's rules (one insert for both).
#[derive(Clone, Debug)]
pub(super) struct RequestSession {
    pub(super) session: Session,
    pub(super) rules: SessionRules,
}

/// What a route does with its session, declared with the route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// May change the session: waits for the session's turn.
    ReadWrite,
    /// Changes nothing but, now and then, the expiry: with Redis, takes no
    /// lock across instances (`store/redis_turn.rs`).
    ReadOnly,
}

/// The session middleware (see the module doc).
#[derive(Clone, Debug)]
pub struct SessionLayer {
    shared: Arc<Shared>,
    access: Access,
}

#[derive(Debug)]
struct Shared {
    store: Arc<AppStore>,
    /// What sessions are built over (the memory store, without the
    /// enum's dispatch, or the shared store).
    base: SessionBase,
    expiry: Expiry,
    rules: SessionRules,
    locks: LocalLocks,
    cookie: CookieText,
    served_by: ServedBy,
}

impl SessionLayer {
    /// Sessions kept in `store` that live by `rules` (idle and absolute
    /// limits, the fixation defence); the cookie gets `Secure` when
    /// `secure` is set; error replies name `served_by`. For routes that
    /// may change the session.
    pub fn new(store: AppStore, rules: SessionRules, secure: bool, served_by: ServedBy) -> Self {
        let idle = time::Duration::try_from(rules.idle_timeout).unwrap_or(time::Duration::MAX);
        let store = Arc::new(store);
        Self {
            shared: Arc::new(Shared {
                base: store.base(),
                store,
                expiry: Expiry::OnInactivity(idle),
                rules,
                locks: LocalLocks::default(),
                cookie: CookieText::new(rules.idle_timeout, secure),
                served_by,
            }),
            access: Access::ReadWrite,
        }
    }

    /// The same sessions (store, locks, cookie), for a route that changes
    /// nothing but the expiry.
    pub fn read_only(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            access: Access::ReadOnly,
        }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            shared: self.shared.clone(),
            access: self.access,
        }
    }
}

/// The service of [`SessionLayer`].
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
    access: Access,
}

impl<S> Service<Request> for SessionService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // Call the instance that was polled ready; leave a fresh clone behind.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let shared = self.shared.clone();
        // Kept for error replies, which list the cookie names that came
        // (cloning a header value shares its bytes).
        let mut cookies = ReceivedCookies::of(req.headers());
        let id = session_id_of(&mut req, &mut cookies);
        let read_only = self.access == Access::ReadOnly;
        let detach = id.is_some() && shared.store.turn_outlives_requests(read_only);
        let work = async move {
            let turn = match id {
                Some(id) => match shared.store.begin(&shared.locks, id, read_only).await {
                    Ok(turn) => Some(turn),
                    Err(err) => {
                        let mut response = AppError::from(err).into_response();
                        shared.add_context(&mut response, cookies.names());
                        return Ok(response);
                    }
                },
                None => None,
            };
            let session = AppStore::session(&shared.base, id, turn.as_ref(), shared.expiry);
            req.extensions_mut().insert(RequestSession {
                session: session.clone(),
                rules: shared.rules,
            });
            let mut response = inner.call(req).await?;
            shared.finish(&session, &mut response).await;
            if let Some(turn) = turn {
                if let Err(err) = AppStore::end(turn).await {
                    // The held-back save failed: the reply must not claim it.
                    response = AppError::from(err).into_response();
                }
            }
            shared.add_context(&mut response, cookies.names());
            Ok(response)
        };
        if !detach {
            return Box::pin(work);
        }
        // A request whose client goes away is dropped mid-way. A change on
        // Redis must still end its turn: release the lock, and write the
        // changes of earlier requests it carries (group commit), whose
        // replies wait for that write.
        Box::pin(SeeThrough {
            work: Some(Box::pin(work)),
        })
    }
}

/// Work that runs to its end even when the request awaiting it is dropped
/// (its client went away): dropped unfinished, it goes on as a task of its
/// own. While the request lives, which is nearly always, it runs in the
/// request's task, without a task, a copy of the work into it or a
/// hand-off between the two.
struct SeeThrough<F: Future + Send + 'static>
where
    F::Output: Send + 'static,
{
    /// The work, until it is done.
    work: Option<Pin<Box<F>>>,
}

impl<F> Future for SeeThrough<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(work) = self.work.as_mut() else {
            // Polled again after its end: nothing more will come.
            return Poll::Pending;
        };
        let output = std::task::ready!(work.as_mut().poll(cx));
        self.work = None;
        Poll::Ready(output)
    }
}

impl<F> Drop for SeeThrough<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn drop(&mut self) {
        if let Some(work) = self.work.take() {
            // Without a runtime (the process is ending) nothing can run it.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(work);
            }
        }
    }
}

/// The id named by the request's one `session_id` cookie, among
/// `cookies` (the request's). Two such cookies count as none and are
/// removed, from the request and from `cookies`; a value that is not an id
/// this server could have issued counts as none.
fn session_id_of(req: &mut Request, cookies: &mut ReceivedCookies) -> Option<Id> {
    let cookie = cookies.session_cookie();
    if cookie == SessionCookie::Several {
        tracing::warn!("request with several session cookies; treated as having none");
        remove_cookie(req.headers_mut(), SESSION_COOKIE);
        *cookies = ReceivedCookies::of(req.headers());
        return None;
    }
    let id = cookie.id();
    if id.is_none() && cookie != SessionCookie::Absent {
        tracing::debug!("a session cookie that is not a session id; treated as none");
    }
    id
}

/// What an error reply of a session route adds after `error`: which
/// cookies rode along, and which instance and store refused.
#[derive(Serialize)]
struct ErrorContext<'a> {
    cookies_received: CookieNames<'a>,
    served_by: &'a str,
    store: &'static str,
}

impl Shared {
    /// After the handler: saves a changed session and sets its cookie, or
    /// expires the cookie of a session the handler deleted (flushed: modified
    /// and now empty).
    async fn finish(&self, session: &Session, response: &mut Response) {
        if !session.is_modified() {
            return;
        }
        // Only a session without an id can be empty (tower-sessions'
        // `is_empty`), and asking costs a wait for the record's lock.
        let flushed = session.id().is_none() && session.is_empty().await;
        let (cookie, echo) = if flushed {
            // The echo of a removal is the removal itself: it carries no id.
            (self.cookie.removal.clone(), self.cookie.removal.clone())
        } else if response.status().is_server_error() {
            return;
        } else {
            match self.save(session).await {
                Ok(pair) => pair,
                Err(err) => {
                    *response = err.into_response();
                    return;
                }
            }
        };
        let headers = response.headers_mut();
        headers.append(SET_COOKIE, cookie);
        headers.append(SET_COOKIE_ECHO.clone(), echo);
    }

    /// Adds the request's cookie names and this instance to an error reply.
    fn add_context(&self, response: &mut Response, cookies: CookieNames<'_>) {
        let context = ErrorContext {
            cookies_received: cookies,
            served_by: &self.served_by.name,
            store: self.served_by.store,
        };
        add_context_to_error(response, &context);
    }

    /// Saves the session and returns its `Set-Cookie` value and echo. The
    /// session's expiry says whether the cookie gets a `Max-Age` (see
    /// `session/mod.rs`): `OnInactivity(left)` gives `Max-Age=left`, an
    /// `AtDateTime` a browser-session cookie.
    async fn save(&self, session: &Session) -> Result<(HeaderValue, HeaderValue), AppError> {
        session.save().await?;
        let id = session
            .id()
            .ok_or_else(|| AppError::Internal("a saved session has no id".into()))?;
        let max_age = match session.expiry() {
            Some(Expiry::OnInactivity(left)) => {
                Some(u64::try_from(left.whole_seconds()).unwrap_or(0))
            }
            Some(Expiry::AtDateTime(_) | Expiry::OnSessionEnd) | None => None,
        };
        self.cookie.set(id, max_age)
    }
}

/// The `session_id` cookie's text. The usual cookie (`Max-Age` = the idle
/// timeout) is rendered once but for the id; a shorter `Max-Age` (the
/// absolute limit is near) or none (a browser-session cookie) is rendered
/// when it comes.
#[derive(Debug)]
struct CookieText {
    /// `; HttpOnly; SameSite=Lax; Path=/`, with `Secure` if set.
    base: String,
    /// The idle timeout, seconds.
    idle_seconds: u64,
    /// `base` plus `; Max-Age=` the idle timeout.
    attributes: String,
    /// The cookie that tells the browser to drop the session cookie.
    removal: HeaderValue,
    /// What `X-Set-Cookie-Echo` shows for a cookie that carries an id: the
    /// cookie with the id redacted.
    redacted: HeaderValue,
}

impl CookieText {
    fn new(idle_timeout: Duration, secure: bool) -> Self {
        let secure = if secure { "; Secure" } else { "" };
        let base = format!("; HttpOnly; SameSite=Lax{secure}; Path=/");
        let attributes = format!("{base}; Max-Age={}", idle_timeout.as_secs());
        let removal =
            format!("{SESSION_COOKIE}={base}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        let redacted = format!("{SESSION_COOKIE}=<redacted>{attributes}");
        // Fixed text and a number: always a valid header value.
        let header = |text: String| HeaderValue::try_from(text).expect("visible ASCII");
        Self {
            base,
            idle_seconds: idle_timeout.as_secs(),
            attributes,
            removal: header(removal),
            redacted: header(redacted),
        }
    }

    /// `session_id=<id>; HttpOnly; …`, with `Max-Age=max_age` or, for
    /// `None`, none; and its echo with the id redacted.
    fn set(&self, id: Id, max_age: Option<u64>) -> Result<(HeaderValue, HeaderValue), AppError> {
        let header = |text: String| {
            HeaderValue::try_from(text)
                .map_err(|err| AppError::Internal(format!("session cookie: {err}")))
        };
        let attributes = match max_age {
            Some(seconds) if seconds == self.idle_seconds => {
                let mut text =
                    String::with_capacity(SESSION_COOKIE.len() + 23 + self.attributes.len());
                text.push_str(SESSION_COOKIE);
                text.push('=');
                push_session_id(&mut text, id);
                text.push_str(&self.attributes);
                return Ok((header(text)?, self.redacted.clone()));
            }
            Some(seconds) => format!("{}; Max-Age={seconds}", self.base),
            None => self.base.clone(),
        };
        let cookie = header(format!("{SESSION_COOKIE}={id}{attributes}"))?;
        let echo = header(format!("{SESSION_COOKIE}=<redacted>{attributes}"))?;
        Ok((cookie, echo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_dropped_unfinished_runs_to_its_end_as_a_task() {
        let (go, gate) = tokio::sync::oneshot::channel::<()>();
        let (done, finished) = tokio::sync::oneshot::channel();
        let work = SeeThrough {
            work: Some(Box::pin(async move {
                let _ = gate.await;
                let _ = done.send("finished");
            })),
        };
        let mut work = Box::pin(work);
        let waker = std::task::Waker::noop();
        assert!(work
            .as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_pending());

        drop(work);
        let _ = go.send(());

        let outcome = tokio::time::timeout(Duration::from_secs(5), finished).await;
        assert_eq!(outcome.ok().and_then(Result::ok), Some("finished"));
    }

    #[tokio::test]
    async fn work_that_ends_in_its_request_is_not_run_again() {
        let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = runs.clone();
        let work = SeeThrough {
            work: Some(Box::pin(async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                7
            })),
        };

        assert_eq!(work.await, 7);
        tokio::task::yield_now().await;

        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_shorter_max_age_or_none_is_rendered_when_it_comes() {
        let text = CookieText::new(Duration::from_secs(1800), false);

        let (near_the_end, echo) = text.set(Id(9), Some(42)).unwrap();
        let (browser_session, _) = text.set(Id(9), None).unwrap();

        assert!(near_the_end
            .to_str()
            .unwrap()
            .ends_with("; Path=/; Max-Age=42"));
        assert_eq!(
            echo,
            "session_id=<redacted>; HttpOnly; SameSite=Lax; Path=/; Max-Age=42"
        );
        let browser_session = browser_session.to_str().unwrap();
        assert!(browser_session.ends_with("; HttpOnly; SameSite=Lax; Path=/"));
        assert!(!browser_session.contains("Max-Age") && !browser_session.contains("Expires"));
    }

    #[test]
    fn cookies_carry_the_documented_attributes() {
        let text = CookieText::new(Duration::from_secs(1800), false);
        let id = Id(42);

        let (set, echo) = text.set(id, Some(1800)).unwrap();

        assert_eq!(echo, text.redacted);
        assert_eq!(
            set,
            format!("session_id={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age=1800").as_str()
        );
        assert_eq!(
            text.redacted,
            "session_id=<redacted>; HttpOnly; SameSite=Lax; Path=/; Max-Age=1800"
        );
        assert_eq!(
            text.removal,
            "session_id=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; \
             Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn secure_cookies_say_so() {
        let text = CookieText::new(Duration::from_secs(60), true);

        let (set, _) = text.set(Id(7), Some(60)).unwrap();

        assert!(set
            .to_str()
            .unwrap()
            .ends_with("; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60"));
    }
}
