//! Sessions: the middleware that gives each request its session ([`layer`])
//! and the typed view handlers use ([`AppSession`]). Handlers ask for what
//! they mean (`record_page_view`, `apply_patch`, `regenerate`, `clear`, …)
//! and never spell a store key or unwrap a session call. What a reply says
//! is built by the routes from what this view exposes.
//!
//! Everything the app keeps lives in one `SessionState`, stored as one
//! JSON string under one key of the tower-sessions record: a request reads
//! and writes it in one step, and the store keeps it without re-encoding.

pub mod layer;

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::{Expiry, Session};

use crate::cookies::{cookie_pairs, SESSION_COOKIE};
use crate::error::AppError;
use crate::patch::{self, Data};
use crate::token::random_token;

pub use self::layer::SessionLayer;

/// The record key that holds [`SessionState`].
const STATE_KEY: &str = "state";

/// A read moves the stored expiry (and re-sends the cookie) only once it
/// would move by more than this share of the idle timeout. Reads in quick
/// succession then cost no store write; the session still expires between
/// 90 % and 100 % of the idle timeout after the last request.
const REFRESH_DIVISOR: u32 = 10;

/// What the app keeps in a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionState {
    /// Unix time, seconds.
    created_at: i64,
    /// Unix time, milliseconds: when the session expires unless used again.
    expires_at_ms: i64,
    page_views: u64,
    csrf_token: String,
    data: Data,
}

/// The request's session: tower-sessions' handle plus the app's state, loaded
/// once. `state` is `None` when the request carries no live session.
pub struct AppSession {
    session: Session,
    state: Option<SessionState>,
    idle_timeout: Duration,
    /// The request carried a `session_id` cookie that named no live session
    /// (expired, cleared, replaced or never issued): the reply says so.
    stale_cookie: bool,
}

impl SessionState {
    /// When the session was created, Unix seconds.
    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// When the session expires unless used again, Unix milliseconds.
    pub fn expires_at_ms(&self) -> i64 {
        self.expires_at_ms
    }

    /// How many times the page was loaded in this session.
    pub fn page_views(&self) -> u64 {
        self.page_views
    }

    /// The session's CSRF token.
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// The learner's data.
    pub fn data(&self) -> &Data {
        &self.data
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AppSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| AppError::Internal("the session layer is missing".into()))?;
        let idle_timeout = match session.expiry() {
            Some(Expiry::OnInactivity(timeout)) => timeout.try_into().unwrap_or(Duration::ZERO),
            _ => {
                return Err(AppError::Internal(
                    "the session expiry is not idle-based".into(),
                ))
            }
        };
        // Loading the record also tells whether the cookie named a live
        // session: tower-sessions forgets an id the store does not know.
        let text = session.get::<String>(STATE_KEY).await?;
        let state = match text.filter(|_| session.id().is_some()) {
            Some(text) => Some(
                serde_json::from_str::<SessionState>(&text)
                    .map_err(|err| AppError::Internal(format!("stored session state: {err}")))?,
            ),
            None => None,
        };
        // Only worth a second look at the cookies when nothing was found.
        let stale_cookie =
            state.is_none() && cookie_pairs(&parts.headers).any(|(name, _)| name == SESSION_COOKIE);
        Ok(Self {
            session,
            state,
            idle_timeout,
            stale_cookie,
        })
    }
}

impl AppSession {
    /// True when the request carried the cookie of a live session.
    pub fn is_live(&self) -> bool {
        self.state.is_some()
    }

    /// What the live session holds; `None` without one.
    pub fn state(&self) -> Option<&SessionState> {
        self.state.as_ref()
    }

    /// The session's CSRF token, when there is a live session.
    pub fn csrf_token(&self) -> Option<&str> {
        self.state.as_ref().map(SessionState::csrf_token)
    }

    /// True when the request carried a `session_id` cookie that named no
    /// live session (expired, cleared, replaced or never issued).
    pub fn came_with_stale_cookie(&self) -> bool {
        self.stale_cookie
    }

    /// The idle timeout: how long the session lives without a request.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// Fails with `no_session` unless there is a live session.
    pub fn require_live(&self) -> Result<(), AppError> {
        if self.is_live() {
            Ok(())
        } else {
            Err(AppError::NoSession)
        }
    }

    /// Counts a page view, creating the session on the first visit (the
    /// write is what makes tower-sessions send the cookie).
    pub async fn record_page_view(&mut self) -> Result<(), AppError> {
        let state = self.state_or_new();
        state.page_views += 1;
        self.write().await
    }

    /// Counts a read as activity: extends the idle expiry, but writes only
    /// once the expiry would move by more than a tenth of the timeout.
    pub async fn touch(&mut self) -> Result<(), AppError> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        let moved_ms = self.fresh_expiry_ms() - state.expires_at_ms;
        let threshold_ms = millis(self.idle_timeout / REFRESH_DIVISOR);
        if moved_ms > threshold_ms {
            self.write().await?;
        }
        Ok(())
    }

    /// Applies a merge patch to the data, creating the session if there is
    /// none. A patch that would break a limit changes nothing.
    pub async fn apply_patch(&mut self, patch: Data) -> Result<(), AppError> {
        // Merged in place, without a copy: this state is the request's own,
        // and a refused patch returns before `write`, so the stored session
        // stays exactly as it was (its data here is then left taken).
        let mut data = self
            .state
            .as_mut()
            .map(|state| std::mem::take(&mut state.data))
            .unwrap_or_default();
        patch::merge_patch(&mut data, patch)?;
        self.state_or_new().data = data;
        self.write().await
    }

    /// Gives the session a new id and a new CSRF token, keeping its data.
    /// The old id is deleted from the store, so it finds nothing afterwards.
    pub async fn regenerate(&mut self) -> Result<(), AppError> {
        self.require_live()?;
        self.session.cycle_id().await?;
        if let Some(state) = &mut self.state {
            state.csrf_token = new_csrf_token();
        }
        self.write().await
    }

    /// Deletes the session from the store, and with it the cookie: the
    /// session layer expires the cookie of a flushed session. (`flush`, not
    /// `delete`: after `delete` the layer would save the still-loaded record
    /// again.)
    pub async fn clear(&mut self) -> Result<(), AppError> {
        self.require_live()?;
        self.session.flush().await?;
        self.state = None;
        // The cookie named a live session until a moment ago.
        self.stale_cookie = false;
        Ok(())
    }

    fn state_or_new(&mut self) -> &mut SessionState {
        self.state.get_or_insert_with(|| SessionState {
            created_at: OffsetDateTime::now_utc().unix_timestamp(),
            expires_at_ms: 0,
            page_views: 0,
            csrf_token: new_csrf_token(),
            data: Data::new(),
        })
    }

    /// When the session would expire if it were saved now.
    fn fresh_expiry_ms(&self) -> i64 {
        let now_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        i64::try_from(now_ms)
            .unwrap_or(i64::MAX)
            .saturating_add(millis(self.idle_timeout))
    }

    async fn write(&mut self) -> Result<(), AppError> {
        let expires_at_ms = self.fresh_expiry_ms();
        let Some(state) = &mut self.state else {
            return Ok(());
        };
        state.expires_at_ms = expires_at_ms;
        let text = serde_json::to_string(state)
            .map_err(|err| AppError::Internal(format!("session state: {err}")))?;
        self.session
            .insert_value(STATE_KEY, serde_json::Value::String(text))
            .await?;
        Ok(())
    }
}

/// 256 random bits: unguessable, and safe in a header and an HTML attribute.
fn new_csrf_token() -> String {
    random_token::<32>()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
