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
use crate::error::json_response;
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
}

#[derive(Debug, Default, Serialize)]
struct SessionSummary {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_views: Option<u64>,
    /// The idle timeout, so the page can explain when a read moves the expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_timeout_seconds: Option<u64>,
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
                page_views: Some(state.page_views()),
                idle_timeout_seconds: Some(session.idle_timeout().as_secs()),
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
    };
    json_response(StatusCode::OK, &reply)
}

/// Unix milliseconds as RFC 3339 in UTC, to the second.
fn format_time(unix_ms: i64) -> Option<String> {
    let time = OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000)).ok()?;
    time.format(&Rfc3339).ok()
}
