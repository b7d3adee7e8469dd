//! The JSON endpoints that read and change the session. Each answers with
//! the session's state (see [`crate::session::SessionReply`]).

use axum::http::StatusCode;
use axum::response::Response;

use crate::cookies::ReceivedCookies;
use crate::error::{json_response, AppError};
use crate::patch::MergePatch;
use crate::security::VerifiedSession;
use crate::session::AppSession;
use crate::session_layer::SessionCookieExpired;

/// `GET /get-session-data`: the session's state. A read counts as activity;
/// without a live session nothing is created.
pub async fn get_session_data(
    mut session: AppSession,
    cookies: ReceivedCookies,
) -> Result<Response, AppError> {
    session.touch().await?;
    Ok(reply(&session, &cookies))
}

/// `POST /update-session-data`: merges the JSON body into the data
/// (RFC 7396), creating the session if there is none.
pub async fn update_session_data(
    VerifiedSession(mut session): VerifiedSession,
    cookies: ReceivedCookies,
    MergePatch(patch): MergePatch,
) -> Result<Response, AppError> {
    session.apply_patch(patch).await?;
    Ok(reply(&session, &cookies))
}

/// `POST /regenerate-session`: a new session id (and CSRF token), same data.
pub async fn regenerate_session(
    VerifiedSession(mut session): VerifiedSession,
    cookies: ReceivedCookies,
) -> Result<Response, AppError> {
    session.regenerate().await?;
    Ok(reply(&session, &cookies))
}

/// `POST /clear-session`: deletes the session and expires its cookie.
pub async fn clear_session(
    VerifiedSession(mut session): VerifiedSession,
    cookies: ReceivedCookies,
) -> Result<Response, AppError> {
    session.clear().await?;
    let mut response = reply(&session, &cookies);
    response.extensions_mut().insert(SessionCookieExpired);
    Ok(response)
}

fn reply(session: &AppSession, cookies: &ReceivedCookies) -> Response {
    json_response(StatusCode::OK, &session.reply(cookies.names()))
}
