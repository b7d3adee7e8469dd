//! Logs: the subscriber (filter from `RUST_LOG`, default
//! `ajax_sessions=info`) and the one-line-per-request layer.
//!
//! Both are on every request's path, so both are kept cheap: one
//! preformatted message instead of structured fields, a line written piece
//! by piece rather than through the formatting machinery, the message whole
//! when it has nothing to escape ([`format`]), colours only on a terminal,
//! and a timestamp whose date and time of day are formatted once per second
//! per thread.

mod format;
mod stderr;

use std::future::Future;
use std::io::IsTerminal as _;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::http::{Method, Request, StatusCode, Uri};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};
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

/// The layer that writes one log line per request with method, path (never
/// the query or headers, so never a cookie), status and time taken.
///
/// A hand-written service rather than `axum::middleware::from_fn`: that
/// one boxes a future and clones a boxed service for every request, and
/// this layer is on every request's path.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogRequestsLayer;

impl<S> Layer<S> for LogRequestsLayer {
    type Service = LogRequests<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LogRequests { inner }
    }
}

/// See [`LogRequestsLayer`].
#[derive(Clone, Debug)]
pub struct LogRequests<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for LogRequests<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Logged<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let started = tracing::enabled!(tracing::Level::INFO).then(|| Started {
            method: request.method().clone(),
            uri: request.uri().clone(),
            at: Instant::now(),
        });
        Logged {
            answer: self.inner.call(request),
            started,
        }
    }
}

/// What the line needs from the request.
struct Started {
    method: Method,
    uri: Uri,
    at: Instant,
}

impl Started {
    fn log(self, status: StatusCode) {
        // Microseconds as u64: formatting a u128 costs several times more.
        let micros = u64::try_from(self.at.elapsed().as_micros()).unwrap_or(u64::MAX);
        let path = self.uri.path();
        let mut line = String::with_capacity(self.method.as_str().len() + path.len() + 32);
        for part in [
            self.method.as_str(),
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
    }
}

pin_project! {
    /// The response on its way, logged when it is ready (not when a
    /// request is dropped before it has an answer: there is no status).
    pub struct Logged<F> {
        #[pin]
        answer: F,
        started: Option<Started>,
    }
}

impl<F, E> Future for Logged<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = ready!(this.answer.poll(cx));
        if let (Ok(response), Some(started)) = (&answer, this.started.take()) {
            started.log(response.status());
        }
        Poll::Ready(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::body::Body;
    use futures_util::FutureExt as _;
    use tower::ServiceExt as _;

    use super::format::tests::Captured;
    use super::*;

    /// What the request log writes for `uri` answered with `status`, and
    /// whether the answer came: `answered` false drops the request before
    /// its response is ready.
    fn logged(uri: &str, status: StatusCode, answered: bool) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let app = tower::service_fn(move |_: Request<Body>| async move {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = status;
                Ok::<_, Infallible>(response)
            });
            let request = Request::get(uri).body(Body::empty()).unwrap();
            let answer = LogRequestsLayer.layer(app).oneshot(request);
            if answered {
                assert!(answer.now_or_never().is_some(), "the answer was ready");
            }
        });
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_request_gets_one_line_with_method_path_status_and_time_but_never_its_query() {
        let log = logged(
            "/get-session-data?probe=p-secret",
            StatusCode::NOT_FOUND,
            true,
        );
        assert_eq!(log.lines().count(), 1, "{log}");
        let (_, line) = log.split_once(" GET ").expect("the method");
        let time = line
            .strip_prefix("/get-session-data 404 ")
            .and_then(|rest| rest.trim_end().strip_suffix("µs"))
            .unwrap_or_else(|| panic!("path, status and time: {log}"));
        assert!(time.parse::<u64>().is_ok(), "{log}");
        assert!(!log.contains("secret"), "{log}");
    }

    #[test]
    fn a_request_dropped_before_its_answer_writes_no_line() {
        assert_eq!(logged("/get-session-data", StatusCode::OK, false), "");
    }
}
