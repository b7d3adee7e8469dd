//! Logging in, and the demo's protected resource: `POST /login` and
//! `GET /me` (`POST /logout` is `session_api::clear_session`). The credentials are checked by
//! [`crate::auth`]; what a login does to the session (new id, new token)
//! is the typed session's `log_in`.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::response::Response;

use super::reply::{me_reply, session_reply};
use crate::auth::{Authenticator, Credentials};
use crate::cookies::ReceivedCookies;
use crate::error::AppError;
use crate::instance::ServedBy;
use crate::patch::{read_body, require_json};
use crate::security::{reject_cross_site, verify_csrf_token};
use crate::session::AppSession;

/// A login request that passed, in this order, the origin check, the
/// content type, the CSRF token (when it comes with a live session) and the
/// body's shape: each refusal comes before anything later is read.
pub struct LoginAttempt {
    session: AppSession,
    credentials: Credentials,
}

impl<S: Send + Sync> FromRequest<S> for LoginAttempt {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        reject_cross_site(&parts.headers)?;
        require_json(&parts.headers)?;
        let session = AppSession::from_request_parts(&mut parts, state).await?;
        // Without a live session there is nothing to forge a login
        // against: it creates a session, logged in.
        if let Some(expected) = session.csrf_token() {
            verify_csrf_token(&parts.headers, expected)?;
        }
        let body = read_body(Request::from_parts(parts, body), state).await?;
        let credentials = Credentials::parse(&body)?;
        Ok(Self {
            session,
            credentials,
        })
    }
}

/// `POST /login`: checks the credentials, then logs the user in on a
/// session with a new id and a new CSRF token. A refusal changes nothing.
pub async fn login(
    State(served_by): State<ServedBy>,
    State(auth): State<Arc<Authenticator>>,
    cookies: ReceivedCookies,
    LoginAttempt {
        mut session,
        credentials,
    }: LoginAttempt,
) -> Result<Response, AppError> {
    auth.check(&credentials).await?;
    session
        .log_in(&credentials.username, credentials.remember)
        .await?;
    Ok(session_reply(&session, &cookies, &served_by))
}

/// `GET /me`: who is logged in on this session, or `401 not_logged_in`.
/// Counts as activity, like a read.
pub async fn me(
    State(served_by): State<ServedBy>,
    mut session: AppSession,
    cookies: ReceivedCookies,
) -> Result<Response, AppError> {
    session.touch().await?;
    me_reply(&session, &cookies, &served_by)
}
