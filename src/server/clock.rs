//! Each connection's two clocks, kept on its I/O: a request head must
//! arrive within the head timeout, an idle keep-alive connection lives for
//! the keep-alive timeout.
//!
//! hyper cannot tell these apart: its `header_read_timeout` (hyper 1.12,
//! `proto/h1/conn.rs`, `poll_read_head`) starts when the connection begins
//! waiting for a head, which is also when it goes idle after a response,
//! so the one timer closes idle connections after the head timeout (10 s)
//! while load balancers keep theirs for 60 s and reuse them: 502s. So the
//! server turns hyper's timer off and keeps both clocks here, on the
//! connection's reads: the service says when a head is complete and when a
//! response has ended, and the reads see when the next request's first
//! byte arrives.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::Timeouts;

/// How long an idle connection may still bring a request once shutdown
/// has begun: a proxy that just got an answer on it may already be sending
/// the next request, which is then answered with `Connection: close`.
/// Closing such a connection at once would make that request fail.
pub(super) const SHUTDOWN_IDLE_GRACE: Duration = Duration::from_secs(2);

/// Where a connection stands, and since when.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// A new connection that has sent nothing yet: its first head counts
    /// from the connection's start.
    Opened { since: Instant },
    /// A request head is arriving: the connection's first one counts from
    /// the connection's start, every later one from its first byte.
    Head { since: Instant },
    /// The head is complete and the app has the request: no clock of ours.
    Serving,
    /// The last response has ended and the next request has not begun.
    Idle { since: Instant },
}

struct State {
    phase: Phase,
    /// When shutdown began, if it has.
    draining: Option<Instant>,
    /// The task waiting on a read, woken when shutdown moves its deadline.
    reader: Option<Waker>,
}

/// One connection's clocks, shared by its I/O ([`ClockedIo`]) and its
/// service.
pub(super) struct ConnectionClock {
    timeouts: Timeouts,
    state: Mutex<State>,
}

impl ConnectionClock {
    /// The clock of a connection that has just been accepted.
    pub(super) fn new(timeouts: Timeouts) -> Self {
        Self {
            timeouts,
            state: Mutex::new(State {
                phase: Phase::Opened {
                    since: Instant::now(),
                },
                draining: None,
                reader: None,
            }),
        }
    }

    pub(super) fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The lock is never held across anything that can panic; a
        // poisoned one still holds a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// hyper has a complete head and hands the request to the app. Returns
    /// when the request began (its head's clock).
    pub(super) fn head_complete(&self) -> Instant {
        let mut state = self.state();
        let began = match state.phase {
            Phase::Opened { since } | Phase::Head { since } => since,
            // A request that was already buffered behind the last one.
            Phase::Serving | Phase::Idle { .. } => Instant::now(),
        };
        state.phase = Phase::Serving;
        began
    }

    /// The response's body has been handed to hyper whole: the connection
    /// is idle until the next request's first byte.
    pub(super) fn response_ended(&self) {
        let mut state = self.state();
        state.phase = Phase::Idle {
            since: Instant::now(),
        };
        // Without its own head timer, hyper does not read again when a
        // connection goes idle (it waits for the socket): one more read
        // attempt sets the keep-alive timer.
        if let Some(reader) = &state.reader {
            reader.wake_by_ref();
        }
    }

    /// Shutdown has begun: idle connections close after the grace, and
    /// every response from now on says `Connection: close`.
    pub(super) fn begin_drain(&self) {
        let mut state = self.state();
        state.draining = Some(Instant::now());
        if let Some(reader) = state.reader.take() {
            reader.wake();
        }
    }

    /// True once shutdown has begun.
    pub(super) fn draining(&self) -> bool {
        self.state().draining.is_some()
    }

    /// Bytes arrived: on an idle connection they begin the next head.
    fn bytes_arrived(&self) {
        let mut state = self.state();
        match state.phase {
            Phase::Opened { since } => state.phase = Phase::Head { since },
            Phase::Idle { .. } => {
                state.phase = Phase::Head {
                    since: Instant::now(),
                };
            }
            Phase::Head { .. } | Phase::Serving => {}
        }
    }

    /// When a read that finds nothing should give up, if ever; `waker` is
    /// woken if shutdown moves that moment.
    fn read_deadline(&self, waker: &Waker) -> Option<Instant> {
        let mut state = self.state();
        if !state.reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
            state.reader = Some(waker.clone());
        }
        // A connection waiting for a request with nothing of it yet
        // closes during shutdown once it has waited the grace.
        let waiting = |since: Instant, end: Instant| match state.draining {
            None => end,
            Some(began) => end.min((since + SHUTDOWN_IDLE_GRACE).max(began)),
        };
        match state.phase {
            Phase::Opened { since } => Some(waiting(since, since + self.timeouts.head)),
            Phase::Head { since } => Some(since + self.timeouts.head),
            Phase::Serving => None,
            Phase::Idle { since } => Some(waiting(since, since + self.timeouts.keep_alive)),
        }
    }
}

/// A connection's stream with its clocks: a read that waits past the
/// current deadline ends the stream, and hyper closes the connection
/// (quietly when idle: the client sees an ordinary keep-alive close).
pub(super) struct ClockedIo<T> {
    io: T,
    clock: Arc<ConnectionClock>,
    timer: Option<Pin<Box<Sleep>>>,
    expired: bool,
}

impl<T> ClockedIo<T> {
    pub(super) fn new(io: T, clock: Arc<ConnectionClock>) -> Self {
        Self {
            io,
            clock,
            timer: None,
            expired: false,
        }
    }

    /// The stream, for closing it.
    pub(super) fn into_inner(self) -> T {
        self.io
    }

    /// True when `deadline` has passed; otherwise the timer wakes the task
    /// at `deadline`.
    fn passed(&mut self, deadline: Instant, cx: &mut Context<'_>) -> bool {
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx).is_ready()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ClockedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.expired {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        if let Poll::Ready(read) = Pin::new(&mut this.io).poll_read(cx, buf) {
            if buf.filled().len() > before {
                this.clock.bytes_arrived();
            }
            return Poll::Ready(read);
        }
        match this.clock.read_deadline(cx.waker()) {
            Some(deadline) if this.passed(deadline, cx) => {
                // The end of the stream: hyper closes the connection.
                this.expired = true;
                Poll::Ready(Ok(()))
            }
            _ => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ClockedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
