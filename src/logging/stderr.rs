//! Log lines to stderr, gathered while the runtime is busy.
//!
//! A line written straight away costs a `write` system call, one a request
//! for the request log: under load about a tenth of a `GET`'s time on one
//! CPU (BENCHMARKS.md). On a runtime thread that has parked at least once,
//! lines are kept in a buffer of that thread and written together when it
//! next parks, that is when it has nothing left to do, or once the buffer
//! holds [`FLUSH_AT`] bytes. A learner watching the terminal sees each line
//! as soon as the server is idle, which, for one click, is at once.
//!
//! Every other thread (tokio's blocking pool, a test's runtime without the
//! hook, `main` before the runtime) writes each line at once. What is still
//! buffered is written when its thread ends, when `main` calls [`flush`]
//! after the runtime, and before a panic's message.

use std::cell::RefCell;
use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// A thread's buffer is written once it holds this many bytes.
pub const FLUSH_AT: usize = 16 * 1024;

/// The buffer of one thread; `None` until the thread first parks.
struct Pending(Option<Vec<u8>>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(bytes) = &mut self.0 {
            write_out(bytes);
        }
    }
}

thread_local! {
    static PENDING: RefCell<Pending> = const { RefCell::new(Pending(None)) };
}

/// Writes and empties `bytes`; a log line that stderr refuses is dropped, as
/// tracing-subscriber drops it.
fn write_out(bytes: &mut Vec<u8>) {
    if !bytes.is_empty() {
        let _ = io::stderr().lock().write_all(bytes);
        bytes.clear();
    }
}

/// Runs `f` on this thread's buffer; `None` while the buffer is in use
/// further up this thread's stack or already dropped (the thread ending).
fn with_pending<R>(f: impl FnOnce(&mut Option<Vec<u8>>) -> R) -> Option<R> {
    PENDING
        .try_with(|pending| {
            let mut pending = pending.try_borrow_mut().ok()?;
            Some(f(&mut pending.0))
        })
        .ok()
        .flatten()
}

/// For tokio's `on_thread_park`: writes what this thread gathered, and from
/// now on gathers its lines until it parks again.
pub fn on_park() {
    with_pending(|bytes| match bytes {
        Some(bytes) => write_out(bytes),
        None => *bytes = Some(Vec::with_capacity(FLUSH_AT)),
    });
}

/// Writes what this thread gathered.
pub fn flush() {
    with_pending(|bytes| {
        if let Some(bytes) = bytes {
            write_out(bytes);
        }
    });
}

/// tracing-subscriber's writer: each event's line arrives whole in one
/// `write`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stderr;

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Self::Writer {
        Stderr
    }
}

impl Write for Stderr {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let kept = with_pending(|bytes| {
            let Some(bytes) = bytes else {
                return false;
            };
            bytes.extend_from_slice(line);
            if bytes.len() >= FLUSH_AT {
                write_out(bytes);
            }
            true
        });
        if kept == Some(true) {
            Ok(line.len())
        } else {
            io::stderr().lock().write_all(line).map(|()| line.len())
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
