//! Sends the Redis commands of many requests in one write.
//!
//! Without it, the `redis` crate's connection manager (which carried the
//! commands then) wrote each request's commands as soon as they were handed
//! over: tokio runs a task just woken (there, the connection's writer)
//! before the other ready tasks, so under load every request paid for its
//! own write, its own read in Redis and a switch between the two processes. Measured with
//! Redis on the app's CPU, that capped reads at about half of what
//! batching gives (12,000 against 23,000 req/s; BENCHMARKS.md).
//!
//! The batcher is one task between the requests and the connection. It
//! wakes at the first command, yields once so that every request ready at
//! that moment adds its commands too, then sends them all as one pipeline
//! and hands each request its own replies. Commands of one request stay
//! together and in order. A request that gave up before its commands went
//! out (its client went away) is dropped from the batch, so a lock is never
//! taken for a request that is no longer there; one that gave up while its
//! commands were out, or whose batch failed, never learns whether it got
//! the lock, so its undo (the lock's release) is sent for it.
//!
//! **Deadlines.** Every request has one: its replies within `timeout` of
//! handing its commands over, or an error. The batcher keeps them with one
//! timer per batch instead of one per request (a timer armed and disarmed
//! is about 800 instructions a round trip). A request whose deadline
//! passed while it queued behind a stalled batch fails without being sent;
//! a batch that gets no answer by the earliest deadline among its requests
//! fails as a whole. A request never waits past its own deadline; behind a
//! stalled Redis one may fail sooner, as its batch shares the deadline of
//! the batch's oldest request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::{ErrorKind, RedisError, RedisResult, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::redis_conn::{Command, Transport};

/// At most this many requests share one write; more wait for the next.
const MAX_REQUESTS_PER_BATCH: usize = 256;

/// A handle to the batcher. Clones share one batcher and one connection.
#[derive(Clone)]
pub(super) struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
    /// Requests' round trips so far: one per `send`.
    sent: Arc<AtomicU64>,
    /// How long a request may wait for its replies.
    timeout: Duration,
}

/// One request's commands and where their replies go.
struct Job {
    commands: Vec<Command>,
    /// Sent when the request cannot learn what its commands did.
    undo: Option<Command>,
    reply: oneshot::Sender<RedisResult<Vec<Value>>>,
    /// When the request stops waiting for its replies.
    deadline: Instant,
}

impl Batcher {
    /// Starts the batcher's task on the current runtime, over `conn` (a
    /// [`super::redis_conn::Connection`]; a fake in the tests). Each request gets its
    /// replies within `timeout`, or an error.
    pub(super) fn start(conn: impl Transport, timeout: Duration) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(conn, queue, timeout));
        Self {
            jobs,
            sent: Arc::default(),
            timeout,
        }
    }

    /// How many round trips requests have asked for (one per `send`,
    /// whatever the number of its commands).
    pub(super) fn round_trips(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends `commands` (in order, with no other request's in between) and
    /// returns their replies, one per command; a server error comes back
    /// as that command's `Value::ServerError`. No answer within the
    /// batcher's timeout is an error ([`is_timeout`]).
    pub(super) async fn send(&self, commands: Vec<Command>) -> RedisResult<Vec<Value>> {
        self.send_with_undo(commands, None).await
    }

    /// As [`Batcher::send`]; `undo` is sent after the commands if their
    /// replies cannot reach the request (it gave up waiting) or the batch
    /// failed, so that the request leaves nothing behind that it does not
    /// know of (a lock it took).
    pub(super) async fn send_with_undo(
        &self,
        commands: Vec<Command>,
        undo: Option<Command>,
    ) -> RedisResult<Vec<Value>> {
        let (reply, answer) = oneshot::channel();
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.jobs
            .send(Job {
                commands,
                undo,
                reply,
                deadline: Instant::now() + self.timeout,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> RedisError {
    RedisError::from((ErrorKind::Io, "the Redis batcher has stopped"))
}

/// The error of a request that got no answer within its deadline.
pub(super) fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut))
}

/// Whether `err` says that Redis did not answer in time.
pub(super) fn is_timeout(err: &RedisError) -> bool {
    err.is_timeout()
}

/// The batcher's task: one batch at a time, until every handle is gone.
async fn run(mut conn: impl Transport, mut queue: mpsc::UnboundedReceiver<Job>, timeout: Duration) {
    let mut jobs: Vec<Job> = Vec::new();
    let mut batch: Vec<Command> = Vec::new();
    let mut sizes: Vec<usize> = Vec::new();
    let mut undos: Vec<Command> = Vec::new();
    while let Some(first) = queue.recv().await {
        // Let the requests that are ready now add their commands first.
        tokio::task::yield_now().await;
        jobs.push(first);
        while jobs.len() < MAX_REQUESTS_PER_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // Gone, or out of time while they queued: nothing of theirs goes
        // out, so nothing needs undoing.
        let now = Instant::now();
        for job in jobs.extract_if(.., |job| job.reply.is_closed() || job.deadline <= now) {
            let _ = job.reply.send(Err(timed_out()));
        }
        let Some(deadline) = jobs.iter().map(|job| job.deadline).min() else {
            continue;
        };

        // Each request reads its own errors from its replies.
        for job in &mut jobs {
            sizes.push(job.commands.len());
            batch.append(&mut job.commands);
        }
        let count = batch.len();
        let result = tokio::time::timeout_at(deadline, conn.round_trip(&batch))
            .await
            .unwrap_or_else(|_| Err(timed_out()));
        batch.clear();

        match result {
            Ok(values) if values.len() == count => {
                let mut values = values.into_iter();
                for (job, size) in jobs.drain(..).zip(sizes.drain(..)) {
                    let replies = values.by_ref().take(size).collect();
                    if job.reply.send(Ok(replies)).is_err() {
                        undos.extend(job.undo);
                    }
                }
            }
            Ok(_) => {
                let err = RedisError::from((
                    ErrorKind::Client,
                    "Redis answered a batch with the wrong number of replies",
                ));
                fail(&mut jobs, &err, &mut undos);
            }
            Err(err) => fail(&mut jobs, &err, &mut undos),
        }
        sizes.clear();

        if !undos.is_empty() {
            let undos = std::mem::take(&mut undos);
            // Best effort, and on a connection of its own: the requests
            // queued now must not wait for it (Redis may be stalled). A
            // lock not released here ends with its lease.
            let mut conn = conn.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(timeout, conn.round_trip(&undos)).await;
            });
        }
    }
}

/// Hands `err` to every job of a failed batch and keeps their undos.
fn fail(jobs: &mut Vec<Job>, err: &RedisError, undos: &mut Vec<Command>) {
    for job in jobs.drain(..) {
        undos.extend(job.undo);
        let _ = job.reply.send(Err(err.clone()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    /// A connection that answers each command with its first argument
    /// (`ERR` as a server error) and records the first arguments of the
    /// commands of each write; a gated one holds every write until the
    /// test lets it through.
    #[derive(Clone, Default)]
    struct Fake {
        writes: Arc<Mutex<Vec<Vec<String>>>>,
        gate: Option<Arc<tokio::sync::Notify>>,
    }

    impl Fake {
        fn gated() -> Self {
            Self {
                gate: Some(Arc::default()),
                ..Self::default()
            }
        }

        fn writes(&self) -> Vec<Vec<String>> {
            self.writes.lock().unwrap().clone()
        }

        /// How many commands each write carried.
        fn write_sizes(&self) -> Vec<usize> {
            self.writes().iter().map(Vec::len).collect()
        }

        fn open(&self) {
            if let Some(gate) = &self.gate {
                gate.notify_one();
            }
        }
    }

    fn first_arg(command: &Command) -> Option<String> {
        command.args().into_iter().nth(1)
    }

    fn answer(command: &Command) -> Value {
        match first_arg(command).as_deref() {
            Some("ERR") => redis::parse_redis_value(b"-ERR refused\r\n").unwrap_or(Value::Nil),
            Some(text) => Value::SimpleString(text.to_owned()),
            None => Value::Nil,
        }
    }

    impl Transport for Fake {
        async fn round_trip(&mut self, commands: &[Command]) -> RedisResult<Vec<Value>> {
            let args = commands
                .iter()
                .map(first_arg)
                .map(Option::unwrap_or_default);
            self.writes.lock().unwrap().push(args.collect());
            if let Some(gate) = &self.gate {
                gate.notified().await;
            }
            Ok(commands.iter().map(answer).collect())
        }
    }

    fn echo(text: &str) -> Command {
        let mut command = Command::new("ECHO", 1, text.len());
        command.arg(text);
        command
    }

    /// Waits (5 s at most) for the fake's second write, then asserts that
    /// the writes were the lock and, after it, its undo.
    async fn assert_undo_followed_the_lock(conn: &Fake) {
        let undo_sent = async {
            while conn.writes.lock().unwrap().len() < 2 {
                tokio::task::yield_now().await;
            }
        };
        let waited = tokio::time::timeout(Duration::from_secs(5), undo_sent).await;
        assert!(waited.is_ok(), "no undo was sent");
        assert_eq!(
            conn.writes(),
            vec![vec!["lock".to_owned()], vec!["unlock".to_owned()]]
        );
    }

    #[tokio::test]
    async fn requests_ready_together_share_one_write_and_get_their_own_replies() {
        let conn = Fake::default();
        let batcher = Batcher::start(conn.clone(), TIMEOUT);

        let requests: Vec<_> = (0..50)
            .map(|n| {
                let batcher = batcher.clone();
                tokio::spawn(async move {
                    let commands = vec![echo(&format!("{n}a")), echo(&format!("{n}b"))];
                    (n, batcher.send(commands).await)
                })
            })
            .collect();
        for request in requests {
            let (n, replies) = request.await.unwrap();
            let expected = vec![
                Value::SimpleString(format!("{n}a")),
                Value::SimpleString(format!("{n}b")),
            ];
            assert_eq!(replies.unwrap(), expected);
        }

        assert_eq!(conn.write_sizes(), vec![100]);
    }

    #[tokio::test]
    async fn an_error_reaches_only_the_request_whose_command_failed() {
        let batcher = Batcher::start(Fake::default(), TIMEOUT);

        let (failed, fine) = tokio::join!(
            batcher.send(vec![echo("ERR")]),
            batcher.send(vec![echo("ok")]),
        );

        assert!(matches!(failed.unwrap()[..], [Value::ServerError(_)]));
        assert_eq!(fine.unwrap(), vec![Value::SimpleString("ok".into())]);
    }

    #[tokio::test]
    async fn a_request_that_gave_up_before_the_write_sends_nothing() {
        let conn = Fake::default();
        let batcher = Batcher::start(conn.clone(), TIMEOUT);

        // Handed over, then dropped before the batcher ran.
        let mut abandoned = Box::pin(batcher.send(vec![echo("late")]));
        assert!(futures_poll_once(abandoned.as_mut()).await.is_none());
        drop(abandoned);
        let kept = batcher.send(vec![echo("kept")]).await.unwrap();

        assert_eq!(kept, vec![Value::SimpleString("kept".into())]);
        assert_eq!(conn.write_sizes(), vec![1]);
    }

    #[tokio::test]
    async fn a_request_that_gave_up_while_its_commands_were_out_gets_its_undo_sent() {
        let conn = Fake::gated();
        let batcher = Batcher::start(conn.clone(), TIMEOUT);
        let request = tokio::spawn({
            let batcher = batcher.clone();
            async move {
                batcher
                    .send_with_undo(vec![echo("lock")], Some(echo("unlock")))
                    .await
            }
        });
        while conn.writes.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }

        request.abort();
        assert!(request.await.unwrap_err().is_cancelled());
        conn.open();

        assert_undo_followed_the_lock(&conn).await;
        conn.open();
    }

    #[tokio::test]
    async fn a_request_that_got_its_replies_gets_no_undo_sent() {
        let conn = Fake::default();
        let batcher = Batcher::start(conn.clone(), TIMEOUT);

        let replies = batcher
            .send_with_undo(vec![echo("lock")], Some(echo("unlock")))
            .await
            .unwrap();
        // Anything queued after it goes out after any undo would have.
        batcher.send(vec![echo("next")]).await.unwrap();

        assert_eq!(replies, vec![Value::SimpleString("lock".into())]);
        assert_eq!(conn.write_sizes(), vec![1, 1]);
    }

    #[tokio::test]
    async fn a_batch_without_an_answer_fails_at_its_deadline_and_sends_its_undo() {
        let conn = Fake::gated();
        let timeout = Duration::from_millis(200);
        let batcher = Batcher::start(conn.clone(), timeout);

        let started = Instant::now();
        let err = batcher
            .send_with_undo(vec![echo("lock")], Some(echo("unlock")))
            .await
            .unwrap_err();
        let took = started.elapsed();

        assert!(is_timeout(&err), "{err}");
        assert!(took >= timeout, "failed after {took:?}");
        assert!(took < timeout * 3, "failed after {took:?}");
        assert_undo_followed_the_lock(&conn).await;
    }

    #[tokio::test]
    async fn a_request_queued_behind_a_stalled_batch_waits_no_longer_than_its_own_deadline() {
        let conn = Fake::gated();
        let timeout = Duration::from_millis(300);
        let batcher = Batcher::start(conn.clone(), timeout);
        let first = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.send(vec![echo("first")]).await }
        });
        while conn.writes.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(timeout / 2).await;

        // Queued while the first batch is out and unanswered.
        let started = Instant::now();
        let second = batcher.send(vec![echo("second")]).await;
        let took = started.elapsed();

        assert!(is_timeout(&first.await.unwrap().unwrap_err()));
        assert!(is_timeout(&second.unwrap_err()));
        assert!(took <= timeout + timeout / 2, "waited {took:?}");
    }

    /// Polls a future once, without waiting.
    async fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        let mut future = future;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
                std::task::Poll::Ready(out) => Some(out),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
