//! `GET /static/{*file}`: the page's scripts and style, from the binary.

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::assets::file_response;

/// An embedded file, `304` when the browser's copy is current, or the JSON
/// `404`; other methods get the router's JSON `405`.
pub async fn static_file(Path(file): Path<String>, request_headers: HeaderMap) -> Response {
    file_response(&file, &request_headers)
}
