//! Sends the Redis commands of many requests in one write.
//!
//! Without it, the `redis` crate's connection manager (which carried the
//! commands then) wrote each request's commands as soon as they were handed
//! over: tokio runs a task just woken (there, the connection's writer)
//! before the other ready tasks, so under load every request paid for its
//! own write, its own read in Redis and a switch between the two processes.
//! Measured with Redis on the app's CPU, that capped reads at about half of
//! what batching gives (12,000 against 23,000 req/s; BENCHMARKS.md).
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
//!
//! **Merged saves.** A change ends with one script call that saves its
//! session and releases the lock. Each call has a cost of its own in Redis
//! (the script's arguments set up, its run begun and ended), and the write
//! carries the script's SHA1 once per call. Saves handed over as a
//! [`Save`] are therefore merged: the saves of one batch become one call
//! of a script that makes each in turn, with the same checks and writes
//! as a call of its own, and one result each, at most
//! [`MAX_SAVES_PER_CALL`] to a call. The calls go first in the write, so
//! a lock released there is free for a request of the same batch that
//! tries it. Should Redis answer that it does not know the script
//! (restarted, or its scripts flushed), the calls are sent again at once
//! with the script's body, which teaches it again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::{ErrorKind, RedisError, RedisResult, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::redis_conn::{Command, Transport};

/// At most this many requests share one write; more wait for the next.
const MAX_REQUESTS_PER_BATCH: usize = 256;
/// At most this many saves share one script call. Redis runs nothing else
/// while a script runs; measured under load, a save takes it about 9 µs,
/// so 32 of them about 0.3 ms.
pub(super) const MAX_SAVES_PER_CALL: usize = 32;

/// The script that makes many saves in one call: its body, and its SHA1
/// if Redis was taught it at start. It takes, for each save in turn, the
/// save's keys among `KEYS` and its arguments among `ARGV` (the same
/// number of each for every save), and returns one result per save.
pub(super) struct MergedScript {
    pub(super) body: &'static str,
    pub(super) sha: Option<String>,
}

/// One request's save, to be merged with others into a call of the
/// [`MergedScript`]: its keys and its arguments.
pub(super) struct Save {
    pub(super) keys: Command,
    pub(super) args: Command,
}

/// A handle to the batcher. Clones share one batcher and one connection.
#[derive(Clone)]
pub(super) struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
    /// Requests' round trips so far: one per `send`.
    sent: Arc<AtomicU64>,
    /// How long a request may wait for its replies.
    timeout: Duration,
}

/// One request's commands, or its save, and where their replies go.
struct Job {
    commands: Vec<Command>,
    save: Option<Save>,
    /// Sent when the request cannot learn what its commands did.
    undo: Option<Command>,
    reply: oneshot::Sender<RedisResult<Vec<Value>>>,
    /// When the request stops waiting for its replies.
    deadline: Instant,
}

impl Batcher {
    /// Starts the batcher's task on the current runtime, over `conn` (a
    /// [`super::redis_conn::Connection`]; a fake in the tests). Each
    /// request gets its replies within `timeout`, or an error. Saves go by
    /// calls of `script`.
    pub(super) fn start(conn: impl Transport, timeout: Duration, script: MergedScript) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(conn, queue, timeout, script));
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

    /// Makes `save` in a call of the merged script, with the other saves
    /// of its batch, and returns its own result: the script's result for
    /// it, or the server error the call met (`NOSCRIPT` after a retry with
    /// the body included).
    pub(super) async fn save(&self, save: Save) -> RedisResult<Value> {
        let replies = self.hand_over(Vec::new(), Some(save), None).await?;
        Ok(replies.into_iter().next().unwrap_or(Value::Nil))
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
        self.hand_over(commands, None, undo).await
    }

    async fn hand_over(
        &self,
        commands: Vec<Command>,
        save: Option<Save>,
        undo: Option<Command>,
    ) -> RedisResult<Vec<Value>> {
        let (reply, answer) = oneshot::channel();
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.jobs
            .send(Job {
                commands,
                save,
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
async fn run(
    mut conn: impl Transport,
    mut queue: mpsc::UnboundedReceiver<Job>,
    timeout: Duration,
    script: MergedScript,
) {
    let mut jobs: Vec<Job> = Vec::new();
    let mut batch: Vec<Command> = Vec::new();
    let mut saves: Vec<Save> = Vec::new();
    // How many commands each job sent; `None` for a save.
    let mut sizes: Vec<Option<usize>> = Vec::new();
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

        // The merged saves first, then each request's own commands. Each
        // request reads its own errors from its replies.
        for job in &mut jobs {
            match job.save.take() {
                Some(save) => {
                    saves.push(save);
                    sizes.push(None);
                }
                None => {
                    sizes.push(Some(job.commands.len()));
                }
            }
        }
        let calls = merge(&mut batch, &saves, &script, false);
        for job in &mut jobs {
            batch.append(&mut job.commands);
        }
        let count = batch.len();
        let mut result = round_trip_by(&mut conn, &batch, deadline).await;
        if let Ok(values) = &mut result {
            if values.len() == count && values[..calls].iter().any(unknown_script) {
                batch.clear();
                merge(&mut batch, &saves, &script, true);
                let again = round_trip_by(&mut conn, &batch, deadline).await;
                match again {
                    Ok(replies) if replies.len() == calls => {
                        values.splice(..calls, replies);
                    }
                    Ok(_) => result = Err(wrong_count()),
                    Err(err) => result = Err(err),
                }
            }
        }
        batch.clear();

        match result {
            Ok(values) if values.len() == count => {
                let mut values = values.into_iter();
                let mut results = Vec::with_capacity(saves.len());
                // The chunks first: `zip` takes from its first iterator
                // before it learns that the second has ended.
                for (chunk, call) in saves.chunks(MAX_SAVES_PER_CALL).zip(values.by_ref()) {
                    match call {
                        Value::Array(items) if items.len() == chunk.len() => results.extend(items),
                        // An error of the whole call is each save's.
                        other => results.extend(std::iter::repeat_n(other, chunk.len())),
                    }
                }
                let mut results = results.into_iter();
                for (job, size) in jobs.drain(..).zip(sizes.drain(..)) {
                    let replies = match size {
                        Some(size) => values.by_ref().take(size).collect(),
                        None => results.next().into_iter().collect(),
                    };
                    if job.reply.send(Ok(replies)).is_err() {
                        undos.extend(job.undo);
                    }
                }
            }
            Ok(_) => fail(&mut jobs, &wrong_count(), &mut undos),
            Err(err) => fail(&mut jobs, &err, &mut undos),
        }
        sizes.clear();
        saves.clear();

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

/// Sends `batch` through `conn`; no answer by `deadline` is a timeout.
async fn round_trip_by(
    conn: &mut impl Transport,
    batch: &[Command],
    deadline: Instant,
) -> RedisResult<Vec<Value>> {
    tokio::time::timeout_at(deadline, conn.round_trip(batch))
        .await
        .unwrap_or_else(|_| Err(timed_out()))
}

/// Appends to `batch` the calls of `script` that make `saves`, at most
/// [`MAX_SAVES_PER_CALL`] to a call, by the script's SHA1 unless
/// `by_body` (or Redis was not taught it); returns how many calls.
fn merge(batch: &mut Vec<Command>, saves: &[Save], script: &MergedScript, by_body: bool) -> usize {
    let (name, first) = match (&script.sha, by_body) {
        (Some(sha), false) => ("EVALSHA", sha.as_str()),
        _ => ("EVAL", script.body),
    };
    for chunk in saves.chunks(MAX_SAVES_PER_CALL) {
        let keys: usize = chunk.iter().map(|save| save.keys.args()).sum();
        let bytes: usize = chunk
            .iter()
            .map(|save| save.keys.len() + save.args.len())
            .sum();
        let mut call = Command::new(name, 2, first.len() + 8);
        call.reserve(bytes);
        call.arg(first).arg(keys);
        for save in chunk {
            call.extend(&save.keys);
        }
        for save in chunk {
            call.extend(&save.args);
        }
        batch.push(call);
    }
    saves.len().div_ceil(MAX_SAVES_PER_CALL)
}

/// Whether `reply` says that Redis does not know the script called.
pub(super) fn unknown_script(reply: &Value) -> bool {
    matches!(reply, Value::ServerError(err) if err.kind() == Some(redis::ServerErrorKind::NoScript))
}

fn wrong_count() -> RedisError {
    RedisError::from((
        ErrorKind::Client,
        "Redis answered a batch with the wrong number of replies",
    ))
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
        /// Every command sent, in full.
        commands: Arc<Mutex<Vec<Vec<String>>>>,
        /// Answers every `EVALSHA` with `NOSCRIPT`.
        forgot_scripts: bool,
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
        command.texts().into_iter().nth(1)
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
            let texts = commands.iter().map(Command::texts);
            self.commands.lock().unwrap().extend(texts);
            if let Some(gate) = &self.gate {
                gate.notified().await;
            }
            let unknown = |command: &Command| {
                self.forgot_scripts
                    && command
                        .texts()
                        .first()
                        .is_some_and(|name| name == "EVALSHA")
            };
            Ok(commands
                .iter()
                .map(|command| match unknown(command) {
                    true => redis::parse_redis_value(b"-NOSCRIPT No matching script\r\n")
                        .unwrap_or(Value::Nil),
                    false => answer(command),
                })
                .collect())
        }
    }

    /// A merged script the fake answers by its first argument, the SHA1.
    fn script() -> MergedScript {
        MergedScript {
            body: "body",
            sha: Some("sha".to_owned()),
        }
    }

    fn save(n: usize) -> Save {
        let mut keys = Command::part(1, 8);
        keys.arg(format!("key{n}"));
        let mut args = Command::part(2, 8);
        args.arg(format!("token{n}")).arg(n);
        Save { keys, args }
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
        let batcher = Batcher::start(conn.clone(), TIMEOUT, script());

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
    async fn the_saves_of_a_batch_go_first_in_one_call_with_their_keys_then_their_arguments() {
        let conn = Fake::default();
        let batcher = Batcher::start(conn.clone(), TIMEOUT, script());

        let (first, other, second) = tokio::join!(
            batcher.save(save(1)),
            batcher.send(vec![echo("other")]),
            batcher.save(save(2)),
        );

        // The fake answers the call with its first argument: each save
        // gets the call's one reply.
        assert_eq!(first.unwrap(), Value::SimpleString("sha".into()));
        assert_eq!(second.unwrap(), Value::SimpleString("sha".into()));
        assert_eq!(other.unwrap(), vec![Value::SimpleString("other".into())]);
        assert_eq!(conn.write_sizes(), vec![2]);
        let call = conn.commands.lock().unwrap()[0].clone();
        assert_eq!(
            call,
            ["EVALSHA", "sha", "2", "key1", "key2", "token1", "1", "token2", "2"]
        );
    }

    #[tokio::test]
    async fn more_saves_than_a_call_takes_share_several_calls() {
        let conn = Fake::default();
        let batcher = Batcher::start(conn.clone(), TIMEOUT, script());

        let saves = (0..MAX_SAVES_PER_CALL + 1).map(|n| batcher.save(save(n)));
        let results = futures_util::future::join_all(saves).await;

        assert!(results.iter().all(Result::is_ok));
        assert_eq!(conn.write_sizes(), vec![2]);
    }

    #[tokio::test]
    async fn saves_that_meet_an_unknown_script_are_sent_again_with_its_body() {
        let conn = Fake {
            forgot_scripts: true,
            ..Fake::default()
        };
        let batcher = Batcher::start(conn.clone(), TIMEOUT, script());

        let (first, other, second) = tokio::join!(
            batcher.save(save(1)),
            batcher.send(vec![echo("other")]),
            batcher.save(save(2)),
        );

        assert_eq!(first.unwrap(), Value::SimpleString("body".into()));
        assert_eq!(second.unwrap(), Value::SimpleString("body".into()));
        assert_eq!(other.unwrap(), vec![Value::SimpleString("other".into())]);
        let calls = conn.commands.lock().unwrap().clone();
        let names: Vec<&str> = calls.iter().map(|call| call[0].as_str()).collect();
        assert_eq!(names, ["EVALSHA", "ECHO", "EVAL"]);
        assert_eq!(
            calls[2][1..],
            ["body", "2", "key1", "key2", "token1", "1", "token2", "2"]
        );
    }

    #[tokio::test]
    async fn an_error_reaches_only_the_request_whose_command_failed() {
        let batcher = Batcher::start(Fake::default(), TIMEOUT, script());

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
        let batcher = Batcher::start(conn.clone(), TIMEOUT, script());

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
        let batcher = Batcher::start(conn.clone(), TIMEOUT, script());
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
        let batcher = Batcher::start(conn.clone(), TIMEOUT, script());

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
        let batcher = Batcher::start(conn.clone(), timeout, script());

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
        let batcher = Batcher::start(conn.clone(), timeout, script());
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
