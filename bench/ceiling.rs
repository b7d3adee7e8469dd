//! The benchmark's reference: a bare axum binary, no middleware, no logging,
//! serving the library's ceiling handler (`GET /bench/ceiling` in the app) as
//! `/get-session-data`. Built by `bench/run.sh`:
//!
//! `cargo run --release --features bench-ceiling --example bench_ceiling -- PORT`

use ajax_sessions::bench_ceiling::ceiling;
use axum::routing::get;
use axum::Router;

/// The same allocator as the app, so the comparison measures the layers,
/// not the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = Router::new().route("/get-session-data", get(ceiling));
    axum::serve(listener, app).await
}
