//! The JSON shape of `GET /get-session-data` and of the endpoints that
//! change the session: the session's state as the typed session exposes
//! it, the cookie names that came, and the instance that answered.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cookies::{CookieNames, ReceivedCookies};
use crate::error::{json_response, AppError};
use crate::instance::ServedBy;
use crate::patch::Data;
use crate::session::AppSession;

/// `session.reason` when a `session_id` cookie found no live session.
const UNKNOWN_OR_EXPIRED: &str = "unknown_or_expired";

/// The reply of every session endpoint.
#[derive(Debug, Serialize)]
struct SessionReply<'a> {
    session: SessionSummary,
    data: Cow<'a, Data>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<&'a str>,
    cookies_received: CookieNames<'a>,
    /// The instance that answered (`--instance`).
    served_by: &'a str,
    /// `memory` or `redis`.
    store: &'static str,
    /// False when the server runs with `--unsafe-keep-id-on-login`.
    fixation_defence: bool,
}

#[derive(Debug, Default, Serialize)]
struct SessionSummary {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    absolute_expires_at: Option<String>,
    /// A digest of the id: changes whenever the id does, never shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    id_fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_views: Option<u64>,
    /// The idle timeout, so the page can explain when a read moves the expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_timeout_seconds: Option<u64>,
    /// Who logged in on this session.
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authenticated_at: Option<String>,
    /// Why there is no session although a `session_id` cookie came.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// `200` with the session's state after the handler's work.
pub fn session_reply(
    session: &AppSession,
    cookies: &ReceivedCookies,
    served_by: &ServedBy,
) -> Response {
    let (summary, data, csrf_token) = match session.state() {
        Some(state) => (
            SessionSummary {
                active: true,
                created_at: format_time(state.created_at() * 1000),
                expires_at: format_time(state.expires_at_ms()),
                absolute_expires_at: format_time(state.absolute_expires_at_ms()),
                id_fingerprint: session.id_fingerprint(),
                page_views: Some(state.page_views()),
                idle_timeout_seconds: Some(session.idle_timeout().as_secs()),
                user: state.user().map(str::to_owned),
                authenticated_at: state
                    .authenticated_at()
                    .and_then(|at| format_time(at.saturating_mul(1000))),
                reason: None,
            },
            Cow::Borrowed(state.data()),
            Some(state.csrf_token()),
        ),
        None => (
            SessionSummary {
                reason: session
                    .came_with_stale_cookie()
                    .then_some(UNKNOWN_OR_EXPIRED),
                ..SessionSummary::default()
            },
            Cow::Owned(Data::new()),
            None,
        ),
    };
    let reply = SessionReply {
        session: summary,
        data,
        csrf_token,
        cookies_received: cookies.names(),
        served_by: &served_by.name,
        store: served_by.store,
        fixation_defence: session.fixation_defence(),
    };
    json_response(StatusCode::OK, &reply)
}

/// `GET /me`'s reply: who is logged in, since when, until when at most.
#[derive(Debug, Serialize)]
struct MeReply<'a> {
    user: &'a str,
    authenticated_at: Option<String>,
    /// The expiry after this request, which counts as activity: the page's
    /// countdown follows it.
    expires_at: Option<String>,
    absolute_expires_at: Option<String>,
    cookies_received: CookieNames<'a>,
    served_by: &'a str,
    store: &'static str,
}

/// `200` with the logged-in user, or `401 not_logged_in`.
pub fn me_reply(
    session: &AppSession,
    cookies: &ReceivedCookies,
    served_by: &ServedBy,
) -> Result<Response, AppError> {
    let state = session.state().ok_or(AppError::NotLoggedIn)?;
    let user = state.user().ok_or(AppError::NotLoggedIn)?;
    let reply = MeReply {
        user,
        authenticated_at: state
            .authenticated_at()
            .and_then(|at| format_time(at.saturating_mul(1000))),
        expires_at: format_time(state.expires_at_ms()),
        absolute_expires_at: format_time(state.absolute_expires_at_ms()),
        cookies_received: cookies.names(),
        served_by: &served_by.name,
        store: served_by.store,
    };
    Ok(json_response(StatusCode::OK, &reply))
}

/// Unix milliseconds as RFC 3339 in UTC, to the second.
fn format_time(unix_ms: i64) -> Option<String> {
    let time = OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000)).ok()?;
    time.format(&Rfc3339).ok()
}
