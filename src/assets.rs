//! The page's scripts and style, carried inside the binary.
//!
//! `static/` is embedded at build time (rust-embed, in debug builds too), so
//! the binary serves the page's assets from any working directory and from
//! any machine it is copied to, with the source tree gone. Each file is
//! answered with its `Content-Type`, an `ETag` (the file's SHA-256, computed
//! at build time) and `Cache-Control: no-cache`: the browser keeps the file
//! but asks again each time, and a file that has not changed costs a `304`
//! with no body. A page that teaches must never run yesterday's script.

use std::fmt::Write as _;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};
use rust_embed::Embed;

use crate::error::AppError;

/// Everything under `static/`.
#[derive(Embed)]
#[folder = "static/"]
struct Static;

/// The embedded file `name` (a path below `static/`) as a response to a
/// request with `request_headers`: `200` with the file, `304` when the
/// request's `If-None-Match` names its `ETag`, the JSON `404` when there is
/// no such file.
pub fn file_response(name: &str, request_headers: &HeaderMap) -> Response {
    let Some(file) = Static::get(name) else {
        return AppError::NotFound.into_response();
    };
    let etag = etag_of(&file.metadata.sha256_hash());
    let headers = [
        (ETAG, etag.clone()),
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if request_headers
        .get(IF_NONE_MATCH)
        .is_some_and(|sent| names_etag(sent, &etag))
    {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let content_type = HeaderValue::from_static(content_type_of(name));
    (headers, [(CONTENT_TYPE, content_type)], file.data).into_response()
}

/// The names of the embedded files, for tests and the architecture notes.
pub fn names() -> impl Iterator<Item = String> {
    Static::iter().map(|name| name.into_owned())
}

/// A strong validator from the first 128 bits of the file's SHA-256.
fn etag_of(sha256: &[u8; 32]) -> HeaderValue {
    let mut text = String::with_capacity(34);
    text.push('"');
    for byte in &sha256[..16] {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text.push('"');
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// True when an `If-None-Match` value (`*`, or a list of tags, weak or
/// strong) names `etag` (RFC 9110 §13.1.2: weak comparison).
fn names_etag(sent: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(sent) = sent.to_str() else {
        return false;
    };
    let etag = etag.as_bytes();
    sent.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == etag)
}

/// The `Content-Type` of the file types the page uses.
fn content_type_of(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_assets_are_embedded() {
        let names: Vec<String> = names().collect();

        for expected in ["app.js", "style.css", "lab.js"] {
            assert!(names.iter().any(|name| name == expected), "{names:?}");
        }
    }

    #[test]
    fn a_matching_if_none_match_gets_304() {
        let first = file_response("style.css", &HeaderMap::new());
        let etag = first.headers()[ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(IF_NONE_MATCH, etag.clone());
        let mut weak = HeaderMap::new();
        let weak_tag = format!("\"other\", W/{}", etag.to_str().unwrap());
        weak.insert(IF_NONE_MATCH, weak_tag.parse().unwrap());

        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(file_response("style.css", &again).status(), 304);
        assert_eq!(file_response("style.css", &weak).status(), 304);
        assert_eq!(file_response("nope.css", &again).status(), 404);
    }
}
