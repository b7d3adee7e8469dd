//! Sessions: the middleware that gives each request its session ([`layer`])
//! and the typed view handlers use ([`AppSession`]). Handlers ask for what
//! they mean (`record_page_view`, `apply_patch`, `regenerate`, `clear`, …)
//! and never spell a store key or unwrap a session call. What a reply says
//! is built by the routes from what this view exposes.
//!
//! **Two limits.** A session ends after the idle timeout without a
//! request, and at the latest at its absolute limit
//! (`--absolute-timeout` after its creation or its last login), however
//! active. Every save caps the expiry at the absolute limit, so the store
//! (a Redis key's TTL included) drops the session then by itself, and the
//! cookie's `Max-Age` is the time left, never more.
//!
//! **The cookie's lifetime rides on tower-sessions' `Expiry`.** The session
//! layer renders the cookie and must know, per session, whether it gets a
//! `Max-Age`. `write` says so through the one thing the layer already
//! reads, the session's expiry: `OnInactivity(left)` for a cookie with
//! `Max-Age=left`, `AtDateTime(end)` for a browser-session cookie (a login
//! without "remember me"). Either way the store keeps the record until
//! the same moment. No extra lookup on the anonymous path.
//!
//! Everything the app keeps lives in one `SessionState`, stored as one
//! JSON string under one key of the tower-sessions record: a request reads
//! and writes it in one step, and the store keeps it without re-encoding.
//! The learner's data stays JSON text inside it ([`DataText`]): a request
//! that does not change the data neither builds it as a tree nor writes it
//! out again, and one that does writes it once, for the store and the
//! reply alike.

pub mod layer;
mod text;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::{Expiry, Session, SessionStore};

use crate::cookies::{cookie_pairs, SESSION_COOKIE};
use crate::error::AppError;
use crate::patch::{self, Data};
use crate::token::random_token;
use crate::unix_time::now_millis;

pub use self::layer::SessionLayer;

/// How sessions live, the same for every session of an app: the layer
/// hands it to the typed view with each request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionRules {
    /// A session ends this long after its last request.
    pub idle_timeout: Duration,
    /// A session ends this long after its creation or its last login.
    pub absolute_timeout: Duration,
    /// `--unsafe-keep-id-on-login`: a login keeps the id and the token
    /// (the fixation defence off).
    pub keep_id_on_login: bool,
}

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
    data: DataText,
    /// Unix time, milliseconds: when the session ends however active
    /// (creation or last login plus the absolute timeout). 0 in a state
    /// saved before there was a limit: then counted from `created_at`.
    #[serde(default)]
    absolute_expires_at_ms: i64,
    /// Who logged in on this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    /// When they logged in, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authenticated_at: Option<i64>,
    /// The login asked not to be remembered: the cookie gets no `Max-Age`
    /// (a browser-session cookie) until the session ends.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    browser_session_cookie: bool,
    /// The fingerprint of the id this state was last saved under, computed
    /// once when the id is new (a SHA-256 on every reply cost a read over
    /// 3,000 instructions). Empty in a state saved before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    id_fingerprint: String,
}

/// The learner's data: the JSON text of an object, as serde_json wrote it
/// (`None`: `{}`).
#[derive(Debug, Clone, Default)]
pub struct DataText(Option<Box<RawValue>>);

impl DataText {
    /// `data` written as JSON text.
    #[cfg(test)]
    fn of(data: &Data) -> Result<Self, AppError> {
        serde_json::value::to_raw_value(data)
            .map(|raw| Self(Some(raw)))
            .map_err(|err| AppError::Internal(format!("session data: {err}")))
    }

    /// The data as a tree, to change it.
    fn parse(&self) -> Result<Data, AppError> {
        serde_json::from_str(self.json())
            .map_err(|err| AppError::Internal(format!("stored session data: {err}")))
    }

    /// The JSON text: an object, exactly as serde_json writes the data.
    pub fn json(&self) -> &str {
        self.0.as_deref().map_or("{}", RawValue::get)
    }
}

impl Serialize for DataText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(raw) => raw.serialize(serializer),
            None => Data::new().serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for DataText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        // Kept as text, but still only an object: what was always stored.
        if !raw.get().starts_with('{') {
            return Err(serde::de::Error::custom("session data is not an object"));
        }
        Ok(Self(Some(raw)))
    }
}

/// The request's session: tower-sessions' handle plus the app's state, loaded
/// once. `state` is `None` when the request carries no live session.
pub struct AppSession {
    session: Session,
    state: Option<SessionState>,
    rules: SessionRules,
    /// The request carried a `session_id` cookie that named no live session
    /// (expired, cleared, replaced or never issued): the reply says so.
    stale_cookie: bool,
}

impl SessionState {
    /// A new anonymous session's state, created at `now_ms` (Unix
    /// milliseconds) under `rules`, not yet saved.
    fn new(now_ms: i64, rules: SessionRules) -> Self {
        Self {
            created_at: now_ms.div_euclid(1000),
            expires_at_ms: 0,
            page_views: 0,
            csrf_token: new_csrf_token(),
            data: DataText::default(),
            absolute_expires_at_ms: now_ms.saturating_add(millis(rules.absolute_timeout)),
            user: None,
            authenticated_at: None,
            browser_session_cookie: false,
            id_fingerprint: String::new(),
        }
    }

    /// The state as stored; a state saved before there was an absolute
    /// limit gets one counted from its creation.
    fn parse(text: &str, rules: SessionRules) -> Result<Self, AppError> {
        let mut state = Self::from_json(text)
            .map_err(|err| AppError::Internal(format!("stored session state: {err}")))?;
        if state.absolute_expires_at_ms == 0 {
            state.absolute_expires_at_ms = (state.created_at.saturating_mul(1000))
                .saturating_add(millis(rules.absolute_timeout));
        }
        Ok(state)
    }

    /// True once the absolute limit has passed.
    fn has_ended(&self) -> bool {
        self.absolute_expires_at_ms <= now_millis()
    }

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
    pub fn data(&self) -> &DataText {
        &self.data
    }

    /// When the session ends however active, Unix milliseconds.
    pub fn absolute_expires_at_ms(&self) -> i64 {
        self.absolute_expires_at_ms
    }

    /// Who logged in on this session, if anyone.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// When they logged in, Unix seconds.
    pub fn authenticated_at(&self) -> Option<i64> {
        self.authenticated_at
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AppSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let layer::RequestSession { session, rules } = parts
            .extensions
            .get::<layer::RequestSession>()
            .cloned()
            .ok_or_else(|| AppError::Internal("the session layer is missing".into()))?;
        // Loading the record also tells whether the cookie named a live
        // session: tower-sessions forgets an id the store does not know.
        let text = session.get::<String>(STATE_KEY).await?;
        let mut state = match text.filter(|_| session.id().is_some()) {
            Some(text) => Some(SessionState::parse(&text, rules)?),
            None => None,
        };
        // The store drops a session at its absolute limit by itself
        // (every save caps the record's expiry there); this catches the
        // last milliseconds between the two clocks, and a state saved with
        // a longer limit. Flushed, so that a session this request creates
        // gets a new id.
        if state.as_ref().is_some_and(SessionState::has_ended) {
            session.flush().await?;
            state = None;
        }
        // Only worth a second look at the cookies when nothing was found.
        let stale_cookie =
            state.is_none() && cookie_pairs(&parts.headers).any(|(name, _)| name == SESSION_COOKIE);
        Ok(Self {
            session,
            state,
            rules,
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
        self.rules.idle_timeout
    }

    /// False when the server runs with `--unsafe-keep-id-on-login`.
    pub fn fixation_defence(&self) -> bool {
        !self.rules.keep_id_on_login
    }

    /// A short digest of the session id, to tell ids apart without
    /// showing them: the first 8 hex digits of the SHA-256 of the cookie's
    /// value. `None` without a live session.
    pub fn id_fingerprint(&self) -> Option<Cow<'_, str>> {
        let state = self.state.as_ref()?;
        let id = self.session.id()?;
        if state.id_fingerprint.is_empty() {
            return Some(Cow::Owned(fingerprint(id)));
        }
        Some(Cow::Borrowed(&state.id_fingerprint))
    }

    /// The user logged in on this session, if any.
    pub fn user(&self) -> Option<&str> {
        self.state.as_ref().and_then(SessionState::user)
    }

    /// Logs `user` in, whose credentials were checked: a privilege
    /// change. The session (created if there is none) gets a new id and a
    /// new CSRF token, so an id or token known before the login (planted,
    /// say, by another port of this host: cookies ignore ports) is worth
    /// nothing after it (session fixation). With `--unsafe-keep-id-on-login`
    /// both are kept. The data stays, unless another user was logged in on
    /// this session; the absolute limit counts again from now.
    pub async fn log_in(&mut self, user: &str, remember: bool) -> Result<(), AppError> {
        let rotate = self.is_live() && !self.rules.keep_id_on_login;
        if rotate {
            self.session.cycle_id().await?;
        }
        let now = now_millis();
        let absolute = millis(self.rules.absolute_timeout);
        let state = self.state_or_new();
        if rotate {
            state.csrf_token = new_csrf_token();
        }
        if state
            .user
            .as_deref()
            .is_some_and(|previous| previous != user)
        {
            state.data = DataText::default();
        }
        state.user = Some(user.to_owned());
        state.authenticated_at = Some(now.div_euclid(1000));
        state.absolute_expires_at_ms = now.saturating_add(absolute);
        state.browser_session_cookie = !remember;
        self.write().await
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
        let moved_ms = self.fresh_expiry_ms(state, now_millis()) - state.expires_at_ms;
        let threshold_ms = millis(self.rules.idle_timeout / REFRESH_DIVISOR);
        if moved_ms > threshold_ms {
            self.write().await?;
        }
        Ok(())
    }

    /// Applies a merge patch to the data, creating the session if there is
    /// none. A patch that would break a limit changes nothing.
    pub async fn apply_patch(&mut self, patch: Data) -> Result<(), AppError> {
        // A refused patch returns before `write`: the stored session stays
        // exactly as it was.
        let data = match &self.state {
            Some(state) => state.data.parse()?,
            None => Data::new(),
        };
        let merged = patch::merge_patch_to_json(data, patch)?;
        self.state_or_new().data = DataText(Some(merged));
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
        let rules = self.rules;
        self.state
            .get_or_insert_with(|| SessionState::new(now_millis(), rules))
    }

    /// When the session would expire if it were saved now: after the idle
    /// timeout, but never after its absolute limit.
    fn fresh_expiry_ms(&self, state: &SessionState, now_ms: i64) -> i64 {
        now_ms
            .saturating_add(millis(self.rules.idle_timeout))
            .min(state.absolute_expires_at_ms)
    }

    /// Saves the state into the session record, with its expiry (see the
    /// module doc for what the `Expiry` variant tells the layer). A session
    /// without an id yet (new, or just given a new one) is saved to the
    /// store here, so that the reply can show its id's fingerprint; the
    /// layer's save afterwards writes the same record again.
    async fn write(&mut self) -> Result<(), AppError> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        let now = now_millis();
        let expires_at_ms = self.fresh_expiry_ms(state, now);
        let Some(state) = &mut self.state else {
            return Ok(());
        };
        state.expires_at_ms = expires_at_ms;
        let expiry = if state.browser_session_cookie {
            let end =
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_at_ms) * 1_000_000)
                    .map_err(|err| AppError::Internal(format!("session expiry: {err}")))?;
            Expiry::AtDateTime(end)
        } else {
            let left = u64::try_from(expires_at_ms.saturating_sub(now)).unwrap_or(0);
            Expiry::OnInactivity(time::Duration::milliseconds(
                i64::try_from(left).unwrap_or(i64::MAX),
            ))
        };
        let text = state.to_json();
        self.session.set_expiry(Some(expiry));
        self.session
            .insert_value(STATE_KEY, serde_json::Value::String(text))
            .await?;
        if self.session.id().is_none() {
            self.session.save().await?;
            // A new id (a new session, a regenerate, a login): its
            // fingerprint is computed here, once, and kept in the state
            // that the layer's save then writes.
            if let (Some(id), Some(state)) = (self.session.id(), &mut self.state) {
                state.id_fingerprint = fingerprint(id);
                let text = state.to_json();
                self.session
                    .insert_value(STATE_KEY, serde_json::Value::String(text))
                    .await?;
            }
        }
        Ok(())
    }
}

/// A session created outside a request's session layer: its id (for the
/// creator's `Set-Cookie` only, never a body or a log) and the id's
/// fingerprint, as the session's replies show it.
#[derive(Clone, Debug)]
pub struct CreatedSession {
    /// The new session's id.
    pub id: Id,
    /// The first 8 hex digits of the SHA-256 of the id.
    pub fingerprint: String,
}

/// Creates a new anonymous session in `store`, as a first visit would:
/// no data, no user, a fresh CSRF token, the idle and absolute limits of
/// `rules`. Nobody else can know the new id yet, so no turn is needed.
/// The lab's attacker plants such a session (lesson 10); a request's own
/// sessions are created by the session layer.
pub async fn create_anonymous(
    store: &impl SessionStore,
    rules: SessionRules,
) -> Result<CreatedSession, AppError> {
    let now = now_millis();
    let mut state = SessionState::new(now, rules);
    state.expires_at_ms = now
        .saturating_add(millis(rules.idle_timeout))
        .min(state.absolute_expires_at_ms);
    let expiry_date =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(state.expires_at_ms) * 1_000_000)
            .map_err(|err| AppError::Internal(format!("session expiry: {err}")))?;
    let mut record = Record {
        id: Id::default(),
        data: HashMap::new(),
        expiry_date,
    };
    let first_id = record.id;
    state.id_fingerprint = fingerprint(first_id);
    record
        .data
        .insert(STATE_KEY.to_owned(), state_value(&state));
    store.create(&mut record).await.map_err(AppError::from)?;
    // The store picks another id when the first one is taken.
    if record.id != first_id {
        state.id_fingerprint = fingerprint(record.id);
        record
            .data
            .insert(STATE_KEY.to_owned(), state_value(&state));
        store.save(&record).await.map_err(AppError::from)?;
    }
    Ok(CreatedSession {
        id: record.id,
        fingerprint: state.id_fingerprint,
    })
}

/// What a session id finds in `store`, read without counting as activity
/// and without writing anything: `None` when it names no live session
/// (never issued, expired, cleared, or replaced by a new id).
pub async fn peek(
    store: &impl SessionStore,
    id: &Id,
    rules: SessionRules,
) -> Result<Option<SessionState>, AppError> {
    let Some(record) = store.load(id).await.map_err(AppError::from)? else {
        return Ok(None);
    };
    let Some(serde_json::Value::String(text)) = record.data.get(STATE_KEY) else {
        return Ok(None);
    };
    let state = SessionState::parse(text, rules)?;
    Ok((!state.has_ended()).then_some(state))
}

/// The state as the record keeps it: one JSON string.
fn state_value(state: &SessionState) -> serde_json::Value {
    serde_json::Value::String(state.to_json())
}

/// The first 8 hex digits of the SHA-256 of the id as the cookie carries it.
fn fingerprint(id: Id) -> String {
    let digest = Sha256::digest(id.to_string().as_bytes());
    let mut hex = String::with_capacity(8);
    for byte in &digest[..4] {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// 128 random bits, as many as the session id's: unguessable (2^128
/// tries), and safe in a header and an HTML attribute. More would not
/// make the session safer, since the id itself, the stronger secret, has
/// 128; and the shorter token puts a session with a little data in a
/// smaller Redis allocation (BENCHMARKS.md, "The CSRF token at 128
/// bits").
fn new_csrf_token() -> String {
    random_token::<16>()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    #[test]
    fn data_stays_text_and_reads_as_it_was_written() {
        let stored = json!({
            "created_at": 1, "expires_at_ms": 2, "page_views": 3, "csrf_token": "t",
            "data": {"b": [1, 2.5, null], "a": "\u{1}é\"", "c": {"d": true}},
        })
        .to_string();

        let state = SessionState::from_json(&stored).unwrap();

        assert_eq!(
            state.data().json(),
            r#"{"a":"\u0001é\"","b":[1,2.5,null],"c":{"d":true}}"#
        );
        assert_eq!(state.data().parse().unwrap(), stored_data(&stored));
        assert_eq!(DataText::default().json(), "{}");
        let mut not_an_object: Value = serde_json::from_str(&stored).unwrap();
        not_an_object["data"] = json!([{"a": 1}]);
        let not_an_object = not_an_object.to_string();
        let mut an_object: Value = serde_json::from_str(&not_an_object).unwrap();
        an_object["data"] = json!({"a": 1});
        assert!(SessionState::from_json(&not_an_object).is_err());
        assert!(SessionState::from_json(&an_object.to_string()).is_ok());
    }

    fn stored_data(stored: &str) -> Data {
        let value: Value = serde_json::from_str(stored).unwrap();
        value["data"].as_object().unwrap().clone()
    }
}
