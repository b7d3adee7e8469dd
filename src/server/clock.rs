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
    /// When the reader's timer goes off, if it is set: at the read's
    /// deadline or before it.
    alarm: Option<Instant>,
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
                alarm: None,
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
        let now = Instant::now();
        let mut state = self.state();
        state.phase = Phase::Idle { since: now };
        // Without its own head timer, hyper does not read again when a
        // connection goes idle (it waits for the socket). A reader's timer
        // that is still to go off, no later than the idle deadline, keeps
        // the clock: the read it brings sets the timer anew. Otherwise one
        // more read attempt sets it now.
        let deadline = now + self.timeouts.keep_alive;
        let alarm_will_do = state
            .alarm
            .is_some_and(|alarm| alarm > now && alarm <= deadline);
        if !alarm_will_do {
            if let Some(reader) = &state.reader {
                reader.wake_by_ref();
            }
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

    /// A read found nothing: true when the current deadline has passed;
    /// otherwise `timer` wakes the task at the deadline or before it (the
    /// read then looks again), and shutdown does if it moves the deadline.
    ///
    /// A timer set for before the deadline is left as it is: moving a
    /// timer costs more than one more read attempt, and the idle deadline
    /// moves with every request.
    fn read_waits(&self, timer: &mut Option<Pin<Box<Sleep>>>, cx: &mut Context<'_>) -> bool {
        let mut state = self.state();
        if !state
            .reader
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.reader = Some(cx.waker().clone());
        }
        let Some(deadline) = self.read_deadline(&state) else {
            return false;
        };
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() > deadline || timer.is_elapsed() {
            timer.as_mut().reset(deadline);
        }
        state.alarm = Some(timer.deadline());
        drop(state);
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        // Gone off: at the deadline, or before it.
        if Instant::now() >= deadline {
            return true;
        }
        timer.as_mut().reset(deadline);
        self.state().alarm = Some(deadline);
        timer.as_mut().poll(cx).is_ready()
    }

    /// When a read that finds nothing should give up, if ever.
    fn read_deadline(&self, state: &State) -> Option<Instant> {
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
        if this.clock.read_waits(&mut this.timer, cx) {
            // The end of the stream: hyper closes the connection.
            this.expired = true;
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
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
