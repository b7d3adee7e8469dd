//! Serving the app on a listener, with the limits a public demo needs and
//! the manners a reverse proxy expects.
//!
//! axum's own `serve` sets no deadline on a request head, so a client that
//! sends `GET / HTTP/1.1` and then nothing holds its connection (and an open
//! file) forever; enough such clients and no one is served. Here hyper
//! serves each connection, and each connection keeps two clocks
//! ([`clock`]): a request head must be complete within [`HEAD_TIMEOUT`],
//! and an idle keep-alive connection lives for the keep-alive timeout,
//! longer than a proxy keeps its own idle connections, so that the proxy
//! closes first. Whatever a handler does with the request body, the
//! connection stays usable or the response says `Connection: close`
//! ([`service`]).
//!
//! Shutdown stops accepting, lets requests in flight finish, answers every
//! request that still arrives with `Connection: close`, closes idle
//! connections after a short grace, and gives up on the rest after
//! [`SHUTDOWN_LIMIT`].

mod clock;
mod routes;
mod service;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use self::clock::{ClockedIo, ConnectionClock};
use self::service::AppService;

pub use self::routes::{DirectRoute, Routes};

/// How long a client may take to send a complete request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for a connection's requests in flight before it
/// closes the connection anyway: the process exits within 10 s of the
/// signal.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(8);

/// A connection's two clocks.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// A request head must be complete this long after its first byte (the
    /// first head: after the connection's start).
    pub head: Duration,
    /// An idle connection between requests is closed after this long.
    pub keep_alive: Duration,
}

impl Timeouts {
    /// [`HEAD_TIMEOUT`] and the given keep-alive timeout (`--keep-alive-timeout`).
    pub fn new(keep_alive: Duration) -> Self {
        Self {
            head: HEAD_TIMEOUT,
            keep_alive,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains the
/// open connections (at most [`SHUTDOWN_LIMIT`]).
pub async fn serve(
    listener: TcpListener,
    app: Routes,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    // hyper's own head timer would also close idle connections after the
    // head timeout: the connection's clock keeps both instead.
    http.header_read_timeout(None).keep_alive(true);
    // A response's head and body copied into one buffer and sent with one
    // `write`, instead of a vectored write of the two: the replies here are
    // small, and over loopback this was 3.5 % more GETs and 2.4 % more
    // POSTs a second on Redis (BENCHMARKS.md, session 16).
    http.writev(false);
    // Every connection task holds a receiver: when they are all gone, the
    // drain is over.
    let (drain, draining) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of open files, say: wait a moment instead of
                    // spinning, and serve the connections already open.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tokio::spawn(serve_connection(
            &http,
            stream,
            app.clone(),
            timeouts,
            draining.clone(),
        ));
    }
    // New connections are refused from here on: a proxy tries another
    // instance, as it would for one that is down.
    drop(listener);
    drop(draining);
    let _ = drain.send(true);
    drain.closed().await;
}

/// Serves one connection until it closes, or, once `drain` turns true,
/// until its requests in flight are done (at most [`SHUTDOWN_LIMIT`]).
fn serve_connection(
    http: &http1::Builder,
    stream: TcpStream,
    app: Routes,
    timeouts: Timeouts,
    mut drain: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let _ = stream.set_nodelay(true);
    let clock = Arc::new(ConnectionClock::new(timeouts));
    let io = TokioIo::new(ClockedIo::new(stream, clock.clone()));
    let connection = http
        .serve_connection(io, AppService::new(app, clock.clone()))
        .without_shutdown();
    async move {
        let life = async move {
            // A client that vanishes or breaks the protocol ends its own
            // connection; nothing to report.
            if let Ok(parts) = connection.await {
                close_lingering(parts.io.into_inner().into_inner()).await;
            }
        };
        tokio::pin!(life);
        tokio::select! {
            () = life.as_mut() => return,
            _ = drain.wait_for(|draining| *draining) => {}
        }
        clock.begin_drain();
        let _ = tokio::time::timeout(SHUTDOWN_LIMIT, life).await;
    }
}

/// How long, and how many bytes, a closing connection still reads.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

/// Closes a connection so that the client can read the last answer on it.
///
/// A socket closed while the client's bytes are still arriving (the rest
/// of a body too large to read, say, after a `413` with `Connection:
/// close`) answers them with a reset, and a reset can destroy the answer
/// before the client has read it: nginx then reports "Broken pipe while
/// sending request to upstream" and answers 502 instead of the 413. So the
/// server sends its end of stream first and reads and discards what still
/// comes, until the client closes too, for [`LINGER_TIME`] and
/// [`LINGER_BYTES`] at most, as nginx and Apache do ("lingering close").
async fn close_lingering(mut stream: TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    if stream.shutdown().await.is_err() {
        return;
    }
    let mut discard = [0u8; 8192];
    let mut left = LINGER_BYTES;
    let drain = async {
        while left > 0 {
            match stream.read(&mut discard).await {
                Ok(0) | Err(_) => break,
                Ok(read) => left = left.saturating_sub(read),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// Raises the soft limit on open files to the hard limit, so that the
/// process can hold as many connections as the system allows it. Returns
/// the soft limit now in force.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}
