//! The benchmark's ceiling inside the app (built only with the
//! `bench-ceiling` feature): `GET /bench/ceiling` answers a reply of the same
//! shape and size as `GET /get-session-data`, written by the same code
//! (`routes/reply.rs`), through the same outer layers (request log, security
//! headers) but with no session machinery. The ratio of the two is what the
//! session handling costs. `bench/ceiling.rs` serves the same handler from a
//! bare axum binary, for reference.

use axum::response::Response;

use crate::routes::reply::{reply_response, SessionReply, SessionSummary};

/// 2026-11-26T09:00:00Z.
const CREATED_AT: i64 = 1_795_683_600;

/// `GET /bench/ceiling`.
pub async fn ceiling() -> Response {
    reply_response(SessionReply {
        session: SessionSummary {
            active: true,
            created_at: Some(CREATED_AT),
            expires_at: Some(CREATED_AT + 1800),
            absolute_expires_at: Some(CREATED_AT + 8 * 3600),
            id_fingerprint: Some("3f9a0c1d"),
            page_views: Some(1),
            idle_timeout_seconds: Some(1800),
            ..SessionSummary::default()
        },
        data: r#"{"color":"blue"}"#,
        csrf_token: Some("ZAmzkfoOT4HnoSy0TDJhvk"),
        cookies_received: ["session_id"],
        served_by: "127.0.0.1:40000",
        store: "memory",
        fixation_defence: true,
    })
}
