//! The JSON shape of `GET /get-session-data` and of the endpoints that
//! change the session: the session's state as the typed session exposes
//! it, the cookie names that came, and the instance that answered.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use crate::cookies::{CookieNames, ReceivedCookies};
use crate::error::{json_response, json_text_response, AppError};
use crate::instance::ServedBy;
use crate::json::{JsonText, Rfc3339};
use crate::session::AppSession;

/// `session.reason` when a `session_id` cookie found no live session.
const UNKNOWN_OR_EXPIRED: &str = "unknown_or_expired";

/// The reply of every session endpoint, written by [`SessionReply::to_json`]
/// (members in this order; a `None` is left out).
#[derive(Debug)]
pub struct SessionReply<'a, N> {
    pub session: SessionSummary<'a>,
    /// The learner's data: the JSON text of an object.
    pub data: &'a str,
    pub csrf_token: Option<&'a str>,
    /// The names of the cookies that came, in order.
    pub cookies_received: N,
    /// The instance that answered (`--instance`).
    pub served_by: &'a str,
    /// `memory` or `redis`.
    pub store: &'static str,
    /// False when the server runs with `--unsafe-keep-id-on-login`.
    pub fixation_defence: bool,
}

/// `session` in [`SessionReply`]. Times are Unix seconds, written as
/// RFC 3339 (left out, as a `None` is, outside the years 0 to 9999).
#[derive(Debug, Default)]
pub struct SessionSummary<'a> {
    pub active: bool,
    pub created_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub absolute_expires_at: Option<i64>,
    /// A digest of the id: changes whenever the id does, never shows it.
    pub id_fingerprint: Option<&'a str>,
    pub page_views: Option<u64>,
    /// The idle timeout, so the page can explain when a read moves the expiry.
    pub idle_timeout_seconds: Option<u64>,
    /// Who logged in on this session.
    pub user: Option<&'a str>,
    pub authenticated_at: Option<i64>,
    /// Why there is no session although a `session_id` cookie came.
    pub reason: Option<&'static str>,
}

impl<'a, N: IntoIterator<Item = &'a str>> SessionReply<'a, N> {
    /// The reply as JSON text: the members in order, written straight
    /// into one buffer (`json.rs` says why).
    pub fn to_json(self) -> Vec<u8> {
        let mut out = JsonText::with_capacity(512);
        self.session.write(&mut out);
        out.raw(",\"data\":");
        out.raw(self.data);
        if let Some(token) = self.csrf_token {
            out.raw(",\"csrf_token\":");
            out.string(token);
        }
        out.raw(",\"cookies_received\":[");
        for (at, name) in self.cookies_received.into_iter().enumerate() {
            if at > 0 {
                out.raw(",");
            }
            out.string(name);
        }
        out.raw("],\"served_by\":");
        out.string(self.served_by);
        out.raw(",\"store\":");
        out.string(self.store);
        out.raw(",\"fixation_defence\":");
        out.boolean(self.fixation_defence);
        out.raw("}");
        out.into_bytes()
    }
}

impl SessionSummary<'_> {
    /// `{"session":{…}`: the reply's opening and this member.
    fn write(&self, out: &mut JsonText) {
        let time = |out: &mut JsonText, key: &str, unix_seconds: Option<i64>| {
            if let Some(text) = unix_seconds.and_then(Rfc3339::of) {
                out.raw(key);
                out.time(&text);
            }
        };
        out.raw("{\"session\":{\"active\":");
        out.boolean(self.active);
        time(out, ",\"created_at\":", self.created_at);
        time(out, ",\"expires_at\":", self.expires_at);
        time(out, ",\"absolute_expires_at\":", self.absolute_expires_at);
        if let Some(fingerprint) = self.id_fingerprint {
            out.raw(",\"id_fingerprint\":");
            out.string(fingerprint);
        }
        if let Some(views) = self.page_views {
            out.raw(",\"page_views\":");
            out.number(views);
        }
        if let Some(seconds) = self.idle_timeout_seconds {
            out.raw(",\"idle_timeout_seconds\":");
            out.number(seconds);
        }
        if let Some(user) = self.user {
            out.raw(",\"user\":");
            out.string(user);
        }
        time(out, ",\"authenticated_at\":", self.authenticated_at);
        if let Some(reason) = self.reason {
            out.raw(",\"reason\":");
            out.string(reason);
        }
        out.raw("}");
    }
}

/// `200` with `reply`.
pub fn reply_response<'a, N: IntoIterator<Item = &'a str>>(reply: SessionReply<'a, N>) -> Response {
    json_text_response(StatusCode::OK, reply.to_json())
}

/// `200` with the session's state after the handler's work.
pub fn session_reply(
    session: &AppSession,
    cookies: &ReceivedCookies,
    served_by: &ServedBy,
) -> Response {
    let fingerprint = session.id_fingerprint();
    let (summary, data, csrf_token) = match session.state() {
        Some(state) => (
            SessionSummary {
                active: true,
                created_at: Some(state.created_at()),
                expires_at: Some(state.expires_at_ms().div_euclid(1000)),
                absolute_expires_at: Some(state.absolute_expires_at_ms().div_euclid(1000)),
                id_fingerprint: fingerprint.as_deref(),
                page_views: Some(state.page_views()),
                idle_timeout_seconds: Some(session.idle_timeout().as_secs()),
                user: state.user(),
                authenticated_at: state.authenticated_at(),
                reason: None,
            },
            state.data().json(),
            Some(state.csrf_token()),
        ),
        None => (
            SessionSummary {
                reason: session
                    .came_with_stale_cookie()
                    .then_some(UNKNOWN_OR_EXPIRED),
                ..SessionSummary::default()
            },
            "{}",
            None,
        ),
    };
    reply_response(SessionReply {
        session: summary,
        data,
        csrf_token,
        cookies_received: cookies.names().iter(),
        served_by: &served_by.name,
        store: served_by.store,
        fixation_defence: session.fixation_defence(),
    })
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
    Rfc3339::of(unix_ms.div_euclid(1000)).map(|time| time.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::patch::Data;

    /// The reply as serde's derive wrote it before `to_json`: the reference.
    #[derive(Serialize)]
    struct Reference<'a> {
        session: ReferenceSummary<'a>,
        data: &'a Data,
        #[serde(skip_serializing_if = "Option::is_none")]
        csrf_token: Option<&'a str>,
        cookies_received: Vec<&'a str>,
        served_by: &'a str,
        store: &'static str,
        fixation_defence: bool,
    }

    #[derive(Serialize)]
    struct ReferenceSummary<'a> {
        active: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        created_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        absolute_expires_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        id_fingerprint: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        page_views: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        idle_timeout_seconds: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        user: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        authenticated_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'static str>,
    }

    fn time_text(unix_seconds: Option<i64>) -> Option<String> {
        use time::format_description::well_known::Rfc3339 as Format;
        let time = time::OffsetDateTime::from_unix_timestamp(unix_seconds?).ok()?;
        time.format(&Format).ok()
    }

    /// Now and then out of range, now and then absent.
    fn a_time() -> impl Strategy<Value = Option<i64>> {
        prop_oneof![
            Just(None),
            (0_i64..4_102_444_800).prop_map(Some),
            any::<i64>().prop_map(Some),
        ]
    }

    fn some_text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z0-9:._]{1,20}", any::<String>()]
    }

    proptest! {
        #[test]
        fn the_reply_is_what_serde_wrote(
            active in any::<bool>(),
            times in (a_time(), a_time(), a_time(), a_time()),
            texts in (some_text(), some_text(), some_text(), some_text()),
            numbers in (any::<Option<u64>>(), any::<Option<u64>>()),
            optional in (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
            names in proptest::collection::vec(some_text(), 0..4),
            data in proptest::collection::btree_map(some_text(), some_text(), 0..4),
        ) {
            let (created, expires, absolute, authenticated) = times;
            let (fingerprint, user, token, served_by) = texts;
            let (views, idle) = numbers;
            let (with_fingerprint, with_user, with_token, with_reason) = optional;
            let data: Data = data.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let data_text = serde_json::to_string(&data).unwrap();
            let reason = with_reason.then_some(UNKNOWN_OR_EXPIRED);
            let reference = Reference {
                session: ReferenceSummary {
                    active,
                    created_at: time_text(created),
                    expires_at: time_text(expires),
                    absolute_expires_at: time_text(absolute),
                    id_fingerprint: with_fingerprint.then_some(fingerprint.as_str()),
                    page_views: views,
                    idle_timeout_seconds: idle,
                    user: with_user.then_some(user.as_str()),
                    authenticated_at: time_text(authenticated),
                    reason,
                },
                data: &data,
                csrf_token: with_token.then_some(token.as_str()),
                cookies_received: names.iter().map(String::as_str).collect(),
                served_by: &served_by,
                store: "memory",
                fixation_defence: active,
            };
            let ours = SessionReply {
                session: SessionSummary {
                    active,
                    created_at: created,
                    expires_at: expires,
                    absolute_expires_at: absolute,
                    id_fingerprint: with_fingerprint.then_some(fingerprint.as_str()),
                    page_views: views,
                    idle_timeout_seconds: idle,
                    user: with_user.then_some(user.as_str()),
                    authenticated_at: authenticated,
                    reason,
                },
                data: &data_text,
                csrf_token: with_token.then_some(token.as_str()),
                cookies_received: names.iter().map(String::as_str),
                served_by: &served_by,
                store: "memory",
                fixation_defence: active,
            };

            let ours = String::from_utf8(ours.to_json()).unwrap();

            prop_assert_eq!(ours, serde_json::to_string(&reference).unwrap());
        }
    }
}
