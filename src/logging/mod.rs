//! Logs: the subscriber (filter from `RUST_LOG`, default
//! `ajax_sessions=info`) and the one-line-per-request middleware.
//!
//! Both are on every request's path, so both are kept cheap: one
//! preformatted message instead of structured fields, a line written piece
//! by piece rather than through the formatting machinery, the message whole
//! when it has nothing to escape ([`format`]), colours only on a terminal,
//! and a timestamp whose date and time of day are formatted once per second
//! per thread.

mod format;
mod stderr;

use std::io::IsTerminal as _;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing_subscriber::EnvFilter;

pub use self::format::{Fields, Lines, UtcMillis};
pub use self::stderr::{flush, on_park, Stderr};

/// The filter used when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "ajax_sessions=info";

/// Installs the global subscriber: `RUST_LOG` or the default filter, to
/// stderr, gathered on runtime threads that call [`on_park`]; and a panic
/// hook that writes the lines gathered before the panic's message.
pub fn init() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flush();
        report(info);
    }));
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER)),
        )
        .with_writer(Stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .fmt_fields(Fields)
        .event_format(Lines::new(UtcMillis))
        .init();
}

/// Middleware: one log line per request with method, path (never the query
/// or headers, so never a cookie), status and time taken.
pub async fn log_request(req: Request, next: Next) -> Response {
    if !tracing::enabled!(tracing::Level::INFO) {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let uri = req.uri().clone();
    let started = Instant::now();
    let response = next.run(req).await;
    // Microseconds as u64: formatting a u128 costs several times more.
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let path = uri.path();
    let status = response.status();
    let mut line = String::with_capacity(method.as_str().len() + path.len() + 32);
    for part in [
        method.as_str(),
        " ",
        path,
        " ",
        status.as_str(),
        " ",
        itoa::Buffer::new().format(micros),
        "µs",
    ] {
        line.push_str(part);
    }
    // A string, not format arguments: [`Fields`] writes it in one piece.
    tracing::info!(message = line.as_str());
    response
}
