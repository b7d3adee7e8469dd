//! Logs: the subscriber (filter from `RUST_LOG`, default
//! `ajax_sessions=info`) and the one-line-per-request middleware.
//!
//! Both are on every request's path, so both are kept cheap: one
//! preformatted message instead of structured fields, colours only on a
//! terminal, and a timestamp whose date and time of day are formatted once
//! per second per thread.

use std::cell::RefCell;
use std::fmt;
use std::io::IsTerminal as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "ajax_sessions=info";

/// Installs the global subscriber: `RUST_LOG` or the default filter, to
/// stderr.
pub fn init() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_timer(UtcMillis)
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
    tracing::info!(
        "{method} {} {} {micros}µs",
        uri.path(),
        response.status().as_u16(),
    );
    response
}

/// `2026-11-26T09:00:00.123Z`: UTC with milliseconds.
struct UtcMillis;

thread_local! {
    /// The last second formatted on this thread, and its text without `Z`.
    static LAST_SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl FormatTime for UtcMillis {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seconds = since_epoch.as_secs();
        LAST_SECOND.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != seconds {
                let text = i64::try_from(seconds)
                    .ok()
                    .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                    .and_then(|time| time.format(&Rfc3339).ok())
                    .unwrap_or_default();
                *cache = (seconds, text.trim_end_matches('Z').to_owned());
            }
            write!(w, "{}.{:03}Z", cache.1, since_epoch.subsec_millis())
        })
    }
}
