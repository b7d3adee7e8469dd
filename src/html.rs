//! Turning a template into an HTML response, for both listeners' pages.

use askama::Template;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse as _, Response};

use crate::error::AppError;

/// Renders `template` as an HTML response that no cache may keep: the
/// learner's page embeds the session's CSRF token, and the lab's page is
/// made for one probe.
pub fn render_html(template: &impl Template) -> Result<Response, AppError> {
    let html = template
        .render()
        .map_err(|err| AppError::Internal(format!("template: {err}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        html,
    )
        .into_response())
}
