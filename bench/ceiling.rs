//! The benchmark's ceiling: a bare axum route that serializes a reply of the
//! same shape and size as `GET /get-session-data`, with no session machinery,
//! no middleware and no logging. Built by `bench/run.sh` as an example.
//!
//! `cargo run --release --example bench_ceiling -- PORT`

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The same allocator as the app, so the ratio measures the session
/// machinery, not the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Serialize)]
struct Reply {
    session: Summary,
    data: Map<String, Value>,
    csrf_token: &'static str,
    cookies_received: Vec<&'static str>,
}

#[derive(Serialize)]
struct Summary {
    active: bool,
    created_at: String,
    expires_at: String,
    page_views: u64,
}

async fn reply() -> impl IntoResponse {
    let data = match json!({"color": "blue"}) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let body = Reply {
        session: Summary {
            active: true,
            created_at: "2026-11-26T09:00:00Z".to_owned(),
            expires_at: "2026-11-26T09:30:00Z".to_owned(),
            page_views: 1,
        },
        data,
        csrf_token: "ZAmzkfoOT4HnoSy0TDJhvkCQWntnYho98XVoB2Hoi2M",
        cookies_received: vec!["session_id"],
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], bytes)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = Router::new()
        .route("/get-session-data", get(reply))
        .route("/update-session-data", axum::routing::post(reply));
    axum::serve(listener, app).await
}
