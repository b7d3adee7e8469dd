//! The benchmark's ceiling inside the app (built only with the
//! `bench-ceiling` feature): `GET /bench/ceiling` answers a reply of the same
//! shape and size as `GET /get-session-data`, through the same outer layers
//! (request log, security headers) but with no session machinery. The ratio
//! of the two is what the session handling costs. `bench/ceiling.rs` serves
//! the same handler from a bare axum binary, for reference.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::json_response;

#[derive(Serialize)]
struct Reply {
    session: Summary,
    data: Map<String, Value>,
    csrf_token: &'static str,
    cookies_received: [&'static str; 1],
    served_by: &'static str,
    store: &'static str,
    fixation_defence: bool,
}

#[derive(Serialize)]
struct Summary {
    active: bool,
    created_at: String,
    expires_at: String,
    absolute_expires_at: String,
    id_fingerprint: String,
    page_views: u64,
    idle_timeout_seconds: u64,
}

/// `GET /bench/ceiling`.
pub async fn ceiling() -> Response {
    let data = match json!({"color": "blue"}) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let reply = Reply {
        session: Summary {
            active: true,
            created_at: "2026-11-26T09:00:00Z".to_owned(),
            expires_at: "2026-11-26T09:30:00Z".to_owned(),
            absolute_expires_at: "2026-11-26T17:00:00Z".to_owned(),
            id_fingerprint: "3f9a0c1d".to_owned(),
            page_views: 1,
            idle_timeout_seconds: 1800,
        },
        data,
        csrf_token: "ZAmzkfoOT4HnoSy0TDJhvkCQWntnYho98XVoB2Hoi2M",
        cookies_received: ["session_id"],
        served_by: "127.0.0.1:40000",
        store: "memory",
        fixation_defence: true,
    };
    json_response(StatusCode::OK, &reply)
}
