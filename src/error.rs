//! The one error type. Every failure a client can see is answered as JSON,
//! `{"error": {"code": "…", "message": "…"}}`, with a stable `code`; nothing
//! answers in plain text or HTML, and internal details never leave the server.
//!
//! A leaf: it imports nothing of the crate but [`limits`], so every module
//! may answer with it. What a layer knows beyond the error (the session
//! layer: the cookies that came, the instance) it adds with
//! [`add_context_to_error`].

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use tower_sessions::session_store;

use crate::limits;

/// What went wrong, with the HTTP status and `code` each variant answers with.
#[derive(Debug)]
pub enum AppError {
    /// 415 `unsupported_media_type`: the body is not declared as JSON.
    UnsupportedMediaType,
    /// 400 `invalid_json`: the body is not well-formed JSON.
    InvalidJson(serde_json::Error),
    /// 400 `invalid_body`: the body could not be read to its end.
    UnreadableBody,
    /// 422 `not_an_object`: valid JSON, but not an object.
    NotAnObject,
    /// 413 `payload_too_large`: the body is over [`limits::MAX_BODY_BYTES`].
    PayloadTooLarge,
    /// 422 `invalid_key`: a key is empty or over [`limits::MAX_KEY_BYTES`].
    InvalidKey,
    /// 422 `too_many_keys`: the data would hold over [`limits::MAX_TOP_LEVEL_KEYS`] keys.
    TooManyKeys(usize),
    /// 413 `session_too_large`: the data would serialize to over [`limits::MAX_DATA_BYTES`].
    SessionTooLarge(usize),
    /// 403 `csrf_token_missing`: a live session, but no `X-CSRF-Token` header.
    CsrfTokenMissing,
    /// 403 `csrf_token_invalid`: the `X-CSRF-Token` header is not this session's token.
    CsrfTokenInvalid,
    /// 403 `cross_origin_rejected`: the request comes from another site.
    CrossOriginRejected,
    /// 409 `no_session`: the action needs a live session and there is none.
    NoSession,
    /// 422 `invalid_login`: the login body is not `{"username", "password",
    /// "remember"}` with strings (and a boolean) within their limits.
    InvalidLogin,
    /// 401 `invalid_credentials`: unknown user or wrong password (one answer
    /// for both).
    InvalidCredentials,
    /// 429 `too_many_attempts`: too many failed logins for this username;
    /// `Retry-After` says how long to wait.
    TooManyAttempts(std::time::Duration),
    /// 401 `not_logged_in`: the resource needs a logged-in session.
    NotLoggedIn,
    /// 400 `invalid_probe`: a lab probe is not 8 to 64 of `A–Z a–z 0–9 _ -`.
    InvalidProbe,
    /// 400 `invalid_cors_mode`: `cors=` is not `credentials`, `wildcard` or `none`.
    InvalidCorsMode,
    /// 404 `not_found`: no such page or endpoint.
    NotFound,
    /// 405 `method_not_allowed`: the path exists, the method does not (the
    /// router adds the `Allow` header).
    MethodNotAllowed,
    /// 503 `store_unavailable`: the session store (Redis) does not answer;
    /// logged with detail here.
    StoreUnavailable(String),
    /// 500 `internal_error`: logged with detail here, answered opaquely.
    Internal(String),
}

impl AppError {
    /// The status and stable code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            Self::UnreadableBody => (StatusCode::BAD_REQUEST, "invalid_body"),
            Self::NotAnObject => (StatusCode::UNPROCESSABLE_ENTITY, "not_an_object"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::InvalidKey => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_key"),
            Self::TooManyKeys(_) => (StatusCode::UNPROCESSABLE_ENTITY, "too_many_keys"),
            Self::SessionTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "session_too_large"),
            Self::CsrfTokenMissing => (StatusCode::FORBIDDEN, "csrf_token_missing"),
            Self::CsrfTokenInvalid => (StatusCode::FORBIDDEN, "csrf_token_invalid"),
            Self::CrossOriginRejected => (StatusCode::FORBIDDEN, "cross_origin_rejected"),
            Self::NoSession => (StatusCode::CONFLICT, "no_session"),
            Self::InvalidLogin => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_login"),
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Self::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            Self::NotLoggedIn => (StatusCode::UNAUTHORIZED, "not_logged_in"),
            Self::InvalidProbe => (StatusCode::BAD_REQUEST, "invalid_probe"),
            Self::InvalidCorsMode => (StatusCode::BAD_REQUEST, "invalid_cors_mode"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::StoreUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    /// A sentence that says what went wrong and what to do about it.
    pub fn message(&self) -> String {
        match self {
            Self::UnsupportedMediaType => {
                "Send the body as JSON with the header Content-Type: application/json.".into()
            }
            Self::InvalidJson(err) => format!(
                "The body is not valid JSON: {} at line {}, column {}. Send a JSON object such as {{\"key\": \"value\"}}.",
                json_error_kind(err),
                err.line(),
                err.column()
            ),
            Self::UnreadableBody => "The request body could not be read; send it again.".into(),
            Self::NotAnObject => {
                "The body must be a JSON object such as {\"key\": \"value\"}, not an array, string, number or null.".into()
            }
            Self::PayloadTooLarge => format!(
                "The body is larger than {} bytes; send a smaller update.",
                limits::MAX_BODY_BYTES
            ),
            Self::InvalidKey => format!(
                "Every key must be between 1 and {} bytes long; rename the offending key.",
                limits::MAX_KEY_BYTES
            ),
            Self::TooManyKeys(count) => format!(
                "The session data would hold {count} keys, more than the {} allowed; delete some keys first (send null for a key to delete it).",
                limits::MAX_TOP_LEVEL_KEYS
            ),
            Self::SessionTooLarge(bytes) => format!(
                "The session data would take {bytes} bytes as JSON, more than the {} allowed; store less or delete some keys first.",
                limits::MAX_DATA_BYTES
            ),
            Self::CsrfTokenMissing => {
                "This session needs its CSRF token in the X-CSRF-Token header; read it from <meta name=\"csrf-token\"> or from csrf_token in GET /get-session-data.".into()
            }
            Self::CsrfTokenInvalid => {
                "The X-CSRF-Token header does not match this session's token; reload the token from GET /get-session-data.".into()
            }
            Self::CrossOriginRejected => {
                "Requests that change the session must come from this server's own pages (its own origin), not from another origin, even one on the same site.".into()
            }
            Self::NoSession => {
                "There is no live session to act on; load the page or send POST /update-session-data first.".into()
            }
            Self::InvalidLogin => format!(
                "Send {{\"username\": \"…\", \"password\": \"…\"}} (and optionally \"remember\": true or false), nothing else; a username of at most {} bytes and a password of at most {} bytes.",
                limits::MAX_USERNAME_BYTES,
                limits::MAX_PASSWORD_BYTES
            ),
            Self::InvalidCredentials => {
                "The username or the password is wrong; the demo accounts are alice / wonderland and bob / builder.".into()
            }
            Self::TooManyAttempts(wait) => format!(
                "Too many failed logins for this username; try again in {} seconds.",
                retry_after_seconds(*wait)
            ),
            Self::NotLoggedIn => {
                "This needs a logged-in session; log in with POST /login first.".into()
            }
            Self::InvalidProbe => {
                "The probe must be 8 to 64 characters of A-Z, a-z, 0-9, _ and -; the page makes a fresh one for each request.".into()
            }
            Self::InvalidCorsMode => {
                "cors= must be credentials, wildcard or none.".into()
            }
            Self::NotFound => "There is nothing at this address; the page is at /.".into(),
            Self::MethodNotAllowed => {
                "This address does not take that method; the Allow header lists the ones it takes.".into()
            }
            Self::StoreUnavailable(_) => {
                "The session store does not answer right now, so no session can be read or changed; try again in a few seconds.".into()
            }
            Self::Internal(_) => "Something went wrong on the server; try again.".into(),
        }
    }
}

/// Whole seconds to wait, rounded up (`Retry-After` takes an integer, and
/// an answer that rounds down would invite one refused retry).
fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// serde_json's description of a parse error, without its own position suffix.
fn json_error_kind(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a ErrorDetail,
}

/// The `error` member of an error reply. It also travels in the response's
/// extensions, so a layer that knows more about the request (the session
/// layer knows its cookies) can answer with a fuller body.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorDetail {
    code: &'static str,
    message: String,
}

impl ErrorDetail {
    /// The stable code, as in the reply.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            Self::Internal(detail) => tracing::error!(%detail, "request failed"),
            Self::StoreUnavailable(detail) => tracing::warn!(%detail, "session store unavailable"),
            _ => {}
        }
        let detail = ErrorDetail {
            code,
            message: self.message(),
        };
        let mut response = json_response(status, &ErrorBody { error: &detail });
        if let Self::TooManyAttempts(wait) = self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_seconds(wait)),
            );
        }
        response.extensions_mut().insert(detail);
        response
    }
}

/// Rewrites an error reply's body to carry `context`'s members after
/// `error` (the session routes add the cookie names the request carried and
/// the instance and store that answered); any other response is left as it
/// is. Status and headers (an `Allow`, say) stay.
pub fn add_context_to_error<C: Serialize>(response: &mut Response, context: &C) {
    #[derive(Serialize)]
    struct Fuller<'a, C> {
        error: &'a ErrorDetail,
        #[serde(flatten)]
        context: &'a C,
    }
    // The detail stays in the extensions, for the ledger.
    let Some(detail) = response.extensions().get::<ErrorDetail>().cloned() else {
        return;
    };
    let body = Fuller {
        error: &detail,
        context,
    };
    let fuller = json_response(response.status(), &body);
    *response.body_mut() = fuller.into_body();
    response.headers_mut().remove(header::CONTENT_LENGTH);
}

/// A JSON response with `Cache-Control: no-store`: session state must never
/// be kept by a shared cache or replayed from the browser's cache.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut bytes = Vec::with_capacity(512);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => json_text_response(status, bytes),
        Err(err) => {
            tracing::error!(%err, "could not serialize a response");
            (StatusCode::INTERNAL_SERVER_ERROR, "").into_response()
        }
    }
}

/// [`json_response`] for a body already written as JSON text.
pub fn json_text_response(status: StatusCode, json: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(json));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    // Room for what the reply gets on its way out (`Content-Length`, the
    // security headers, a cookie and its echo), so that the map is not
    // grown and its entries moved on the way.
    headers.reserve(12);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Answers any path that matches no route.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

/// Answers a known path asked with a method it does not take.
pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(err: tower_sessions::session::Error) -> Self {
        match err {
            tower_sessions::session::Error::Store(err) => err.into(),
            err => Self::Internal(format!("session: {err}")),
        }
    }
}

/// A store that does not answer (a backend error) is unavailable; a record
/// that does not encode or decode is an internal error.
impl From<session_store::Error> for AppError {
    fn from(err: session_store::Error) -> Self {
        match err {
            session_store::Error::Backend(detail) => Self::StoreUnavailable(detail),
            err => Self::Internal(format!("session store: {err}")),
        }
    }
}
