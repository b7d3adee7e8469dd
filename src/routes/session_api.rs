//! The JSON endpoints that read and change the session. Each answers with
//! the session's state (see [`super::reply`]).

use axum::extract::State;
use axum::response::Response;

use super::reply::session_reply;
use crate::cookies::ReceivedCookies;
use crate::error::AppError;
use crate::instance::ServedBy;
use crate::patch::MergePatch;
use crate::security::VerifiedSession;
use crate::session::AppSession;

/// `GET /get-session-data`: the session's state. A read counts as activity;
/// without a live session nothing is created.
pub async fn get_session_data(
    State(served_by): State<ServedBy>,
    mut session: AppSession,
    cookies: ReceivedCookies,
) -> Result<Response, AppError> {
    session.touch().await?;
    Ok(session_reply(&session, &cookies, &served_by))
}

/// `POST /update-session-data`: merges the JSON body into the data
/// (RFC 7396), creating the session if there is none.
pub async fn update_session_data(
    State(served_by): State<ServedBy>,
    VerifiedSession(mut session): VerifiedSession,
    cookies: ReceivedCookies,
    MergePatch(patch): MergePatch,
) -> Result<Response, AppError> {
    session.apply_patch(patch).await?;
    Ok(session_reply(&session, &cookies, &served_by))
}

/// `POST /regenerate-session`: a new session id (and CSRF token), same data.
pub async fn regenerate_session(
    State(served_by): State<ServedBy>,
    VerifiedSession(mut session): VerifiedSession,
    cookies: ReceivedCookies,
) -> Result<Response, AppError> {
    session.regenerate().await?;
    Ok(session_reply(&session, &cookies, &served_by))
}

/// `POST /clear-session`, and `POST /logout`: deletes the session; the
/// reply expires its cookie.
pub async fn clear_session(
    State(served_by): State<ServedBy>,
    VerifiedSession(mut session): VerifiedSession,
    cookies: ReceivedCookies,
) -> Result<Response, AppError> {
    session.clear().await?;
    Ok(session_reply(&session, &cookies, &served_by))
}
