//! Sessions in Redis, shared by every instance that names the same server.
//!
//! **Keys.** A session is one string key, `ajax-sessions:{ID}`, whose value
//! is the record: its expiry and the app's state, kept as the text the app
//! already serialized (nothing is re-encoded). The braces are a hash tag:
//! on a Redis Cluster the session key and its lock key (`…{ID}:lock`) share
//! one slot. Every write sets the key's TTL to the session's remaining idle
//! time, so no key is left without one and Redis drops idle sessions by
//! itself; regenerate and clear delete the old key.
//!
//! **The lock.** Two instances updating one session at once would each save
//! their own copy (a lost update), so a request takes a lock that holds
//! across processes: `SET …{ID}:lock TOKEN NX PX LEASE`, retried with a
//! short backoff while another request holds it. The save and the release
//! are one script that writes the session and deletes the lock only if the
//! lock still holds this request's token: a request that outlived its lease
//! must neither overwrite nor free someone else's turn. The lease (5 s)
//! outlasts any request; an instance that dies holding the lock blocks that
//! session for at most the lease.
//!
//! **Handing the lock on.** When another request of this instance waits for
//! the same session, the holder saves with a second script instead
//! (save-and-keep): it writes the session and renews the lease, again only
//! while the lock holds its token, and the lock passes to that request
//! without a round trip (`redis_turn.rs` says when). A request of another
//! instance that finds the lock taken marks the session as awaited
//! (`…{ID}:wait`, 50 ms, renewed at each retry); the save-and-unlock script
//! reports the mark, and the instance that released then lets a moment
//! pass ([`COURTESY`]) before it takes the lock again, so that a chain of
//! handovers cannot starve other instances.
//!
//! **Faults.** Every command has a deadline ([`COMMAND_TIMEOUT`], kept by
//! the batcher): with Redis gone, a request fails as
//! `503 store_unavailable` within two seconds instead of hanging. The
//! batcher's connection ([`super::redis_conn`]) connects again at the next
//! batch after a failed one, so service resumes once Redis is back.
//!
//! **Round trips.** Commands go out through a batcher
//! ([`super::redis_batch`]): the requests ready at one moment share one
//! write to Redis and one read of its replies, and their saves share one
//! call of the save-and-unlock script.
//!
//! Why the `redis` crate: it is the maintained client. Its reply type and
//! error kinds are the store's; its `ConnectionManager` loads the scripts
//! at start and answers the readiness check. The requests' own commands
//! take a shorter road, the batcher's connection, written for the batcher
//! alone (`redis_conn.rs` says why).

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Value as Reply};
use serde_json::Value;
use std::collections::HashMap;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::redis_batch::{is_timeout, timed_out, unknown_script, Batcher, MergedScript, Save};
use super::redis_conn::{Command, Connection};
use crate::cookies::push_session_id;
use crate::token::random_token;
use crate::unix_time;

/// Every key this app writes starts with this.
const PREFIX: &str = "ajax-sessions:";
/// A session's lock is its key plus this.
const LOCK_SUFFIX: &str = ":lock";
/// How long one Redis command may take before the request gives up.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long a lock holds if its holder never releases it.
const LOCK_LEASE: Duration = Duration::from_secs(5);
/// How long a request waits for another request's turn on its session.
const LOCK_WAIT: Duration = Duration::from_secs(6);
/// The longest pause between two tries of a lock another request holds.
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(20);
/// A session's wait mark is its key plus this.
const WAIT_SUFFIX: &str = ":wait";
/// How long a wait mark lasts: more than a retry pause and its round trip,
/// so that it stands while its request still tries.
const WAIT_MARK: Duration = Duration::from_millis(50);
/// How long an instance that released a session another instance awaits
/// lets pass before it takes the lock again: longer than the longest
/// pause between two tries, so that the waiter's next try finds it free.
pub const COURTESY: Duration = Duration::from_millis(30);

/// Sets the session key only while it still holds the text read.
const COMPARE_AND_SET_SCRIPT: &str = r"
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2], 'px', ARGV[3])
  return 1
end
return 0";

/// Saves and unlocks sessions, many in one call (the batcher merges the
/// saves of a batch: `redis_batch.rs`, "Merged saves"). For each save in
/// turn (`KEYS`: the session, its lock, its wait mark; `ARGV`: the lock's
/// token, the record, its TTL in ms): writes the session and deletes the
/// lock, only while the lock still holds this save's token. A request that
/// outlived its lease (another request may have taken the session since)
/// must not overwrite that request's save. One result per save: 0 when
/// refused; when written, 1, or 2 if another instance awaits the session
/// (its wait mark stands); a failed write is that save's error alone, and
/// leaves its lock to its lease.
///
/// Every lock and wait mark is read by one `MGET` and the written saves'
/// locks deleted by one `DEL`: each `redis.call` costs more in Lua than the
/// command itself (BENCHMARKS.md), and the script runs whole, so reading
/// first and deleting last is the same as doing both save by save.
pub const SAVE_AND_UNLOCK_SCRIPT: &str = r"
local n = #KEYS / 3
local marks = {}
for i = 1, n do
  marks[2 * i - 1] = KEYS[3 * i - 1]
  marks[2 * i] = KEYS[3 * i]
end
local held = redis.call('mget', unpack(marks))
local out, unlock = {}, {}
for i = 1, n do
  local k = 3 * i - 2
  if held[2 * i - 1] ~= ARGV[k] then
    out[i] = 0
  else
    local set = redis.pcall('set', KEYS[k], ARGV[k + 1], 'px', ARGV[k + 2])
    if type(set) == 'table' and set.err then
      out[i] = set
    else
      unlock[#unlock + 1] = KEYS[k + 1]
      out[i] = held[2 * i] and 2 or 1
    end
  end
end
if #unlock > 0 then
  redis.call('del', unpack(unlock))
end
return out";

/// Writes the session and renews the lock's lease (`ARGV[4]` ms), only
/// while the lock still holds this request's token, in one script: a lease
/// that lapsed is never extended, whoever holds the lock now. 1 when
/// written and renewed, 0 when refused (nothing written).
const SAVE_AND_KEEP_SCRIPT: &str = r"
if redis.call('get', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('set', KEYS[1], ARGV[2], 'px', ARGV[3])
redis.call('pexpire', KEYS[2], ARGV[4])
return 1";

/// The scripts a change runs, sent by their SHA1 (`EVALSHA`): Redis then
/// neither reads nor hashes the body each time.
#[derive(Clone, Copy)]
enum Script {
    SaveAndUnlock,
    SaveAndKeep,
    CompareAndSet,
}

impl Script {
    const ALL: [Self; 3] = [Self::SaveAndUnlock, Self::SaveAndKeep, Self::CompareAndSet];

    fn body(self) -> &'static str {
        match self {
            Self::SaveAndUnlock => SAVE_AND_UNLOCK_SCRIPT,
            Self::SaveAndKeep => SAVE_AND_KEEP_SCRIPT,
            Self::CompareAndSet => COMPARE_AND_SET_SCRIPT,
        }
    }
}

/// Deletes the lock only while it still holds this request's token. Sent
/// by its body: it is the undo of a request that gave up, which must not
/// depend on Redis still knowing a script.
const UNLOCK_SCRIPT: &str = r"
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0";

/// The Redis session store. Clones share one connection.
#[derive(Clone)]
pub struct RedisStore {
    /// For the readiness check, which must not wait behind a batch.
    conn: ConnectionManager,
    batch: Batcher,
    /// How long a lock holds if its holder never releases it.
    lease: Duration,
    /// The lock's last arguments, `NX PX <lease>`, encoded once.
    lock_tail: Arc<Command>,
    /// Each [`Script`]'s SHA1, as `SCRIPT LOAD` returned it at start-up;
    /// none if that failed (the body then goes out each time).
    shas: Arc<[Option<String>; Script::ALL.len()]>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the connection details: the URL may hold a password.
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

/// A held cross-process lock. Dropped before its release was sent (a
/// request cancelled mid-way), it is released in the background.
pub struct RedisLock {
    /// The lock's key.
    key: String,
    /// The key of the session it guards.
    session: String,
    token: String,
    batch: Option<Batcher>,
    /// When the command that set the lease last was handed over to be sent:
    /// Redis started the lease at that moment or later.
    renewed: Instant,
    /// The lease then set.
    lease: Duration,
}

impl RedisLock {
    /// Whether the lock may still be handed to another request at `now`:
    /// while at least four fifths of its lease are left, as good as a lock
    /// just taken, so that the request that gets it never holds a lease
    /// shorter than one it would have taken itself, less one round trip.
    pub(super) fn fresh_at(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.renewed) < self.lease / 5
    }
}

impl fmt::Debug for RedisLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLock").finish_non_exhaustive()
    }
}

impl Drop for RedisLock {
    fn drop(&mut self) {
        if let Some(batch) = self.batch.take() {
            let unlock = unlock_command(&self.key, &self.token);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = batch.send(vec![unlock]).await;
                });
            }
        }
    }
}

/// Why the store could not start.
#[derive(Debug)]
pub struct ConnectError(String);

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://HOST:PORT[/DB]`) and checks that Redis
    /// answers, within `within`. The error names the host, never a password.
    pub async fn connect(url: &str, within: Duration) -> Result<Self, ConnectError> {
        let client = redis::Client::open(url)
            .map_err(|err| ConnectError(format!("bad Redis URL: {:?}", err.kind())))?;
        let shown = redacted_url(url);
        let Some(connection) = Connection::new(client.get_connection_info()) else {
            return Err(ConnectError(format!(
                "bad Redis URL: {shown} is not redis://HOST:PORT[/DB]"
            )));
        };
        // The batcher keeps each request's deadline, one timer per batch;
        // a response timeout here would add a second.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(None)
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_millis(500));
        let connecting = async {
            let mut conn = ConnectionManager::new_with_config(client, config).await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await?;
            // A Redis that refuses SCRIPT LOAD still runs EVAL.
            let mut load = redis::pipe();
            for script in Script::ALL {
                load.cmd("SCRIPT").arg("LOAD").arg(script.body());
            }
            let shas = load.query_async::<Vec<String>>(&mut conn).await.ok();
            Ok::<_, redis::RedisError>((conn, shas))
        };
        match tokio::time::timeout(within, connecting).await {
            Ok(Ok((conn, loaded))) => {
                let shas: [Option<String>; Script::ALL.len()] =
                    std::array::from_fn(|i| loaded.as_ref().and_then(|shas| shas.get(i).cloned()));
                let merged = MergedScript {
                    body: SAVE_AND_UNLOCK_SCRIPT,
                    sha: shas[Script::SaveAndUnlock as usize].clone(),
                };
                Ok(Self {
                    batch: Batcher::start(connection, COMMAND_TIMEOUT, merged),
                    conn,
                    lease: LOCK_LEASE,
                    lock_tail: lock_tail(LOCK_LEASE),
                    shas: Arc::new(shas),
                })
            }
            Ok(Err(err)) => Err(ConnectError(format!(
                "cannot reach Redis at {shown}: {err}"
            ))),
            Err(_) => Err(ConnectError(format!(
                "cannot reach Redis at {shown}: no answer within {} s",
                within.as_secs()
            ))),
        }
    }

    /// The same store with another lease for its locks (5 s unless set):
    /// for tests that race a lease's end, which should not wait 5 s.
    #[must_use]
    pub fn with_lock_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(1));
        self.lock_tail = lock_tail(self.lease);
        self
    }

    /// How many round trips the requests of this store (and its clones)
    /// have sent to Redis: one per batch a request took part in, whatever
    /// the number of commands in it. For tests and measurements.
    pub fn round_trips(&self) -> u64 {
        self.batch.round_trips()
    }

    /// Whether Redis answers a PING in time.
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        with_deadline(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .is_ok()
    }

    /// Takes the session's cross-process lock, waiting while another
    /// request holds it, and loads the stored record in the same round
    /// trip (a pipeline: `SET …:lock NX PX`, `GET …`; the value read counts
    /// only once the lock is taken). Each try after the first also sets the
    /// session's wait mark, so that an instance handing the lock on among
    /// its own requests knows to let go.
    pub(super) async fn lock_and_load(
        &self,
        id: &Id,
    ) -> session_store::Result<(RedisLock, Option<String>)> {
        let key = session_key(id);
        let lock_key = suffixed(&key, LOCK_SUFFIX);
        // 128 random bits: the lock's owner.
        let token = random_token::<16>();
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        let mut pause = Duration::from_millis(1);
        let mut waited = false;
        loop {
            let mut commands = Vec::with_capacity(3);
            if waited {
                let wait_key = suffixed(&key, WAIT_SUFFIX);
                let mut mark = Command::new("SET", 4, wait_key.len() + 3 + 2 * NUMBER);
                mark.arg(wait_key).arg(1).arg("PX").arg(millis(WAIT_MARK));
                commands.push(mark);
            }
            commands.push(lock_command(&lock_key, &token, &self.lock_tail));
            let mut get = Command::new("GET", 1, key.len());
            get.arg(&key);
            commands.push(get);
            // Should the request give up before it learns the outcome,
            // the batcher releases the lock it may have taken.
            let release = unlock_command(&lock_key, &token);
            let sent = Instant::now();
            let mut values = self
                .batch
                .send_with_undo(commands, Some(release))
                .await
                .map_err(backend)?;
            // The mark's reply, if any, is of no interest.
            let values = values.split_off(values.len().saturating_sub(2));
            let (taken, value): (Option<String>, Option<String>) = parse(Reply::Array(values))?;
            if taken.is_some() {
                let lock = RedisLock {
                    key: lock_key,
                    session: key,
                    token,
                    batch: Some(self.batch.clone()),
                    renewed: sent,
                    lease: self.lease,
                };
                return Ok((lock, value));
            }
            waited = true;
            if tokio::time::Instant::now() + pause > deadline {
                return Err(session_store::Error::Backend(
                    "redis: the session stayed locked by another request".into(),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
    }

    /// Writes a held-back record of the locked session, if any, and
    /// releases the lock, in one round trip and one script: the write
    /// happens only while the lock is still this request's. The lock is
    /// released (by its lease, at worst) even when the write fails. True
    /// when another instance awaits the session (its wait mark stands).
    pub(super) async fn save_and_unlock(
        &self,
        mut lock: RedisLock,
        pending: Option<(String, u64)>,
    ) -> session_store::Result<bool> {
        if lock.batch.take().is_none() {
            return Ok(false);
        }
        let Some((value, ttl)) = pending else {
            return self
                .query_one::<Reply>(unlock_command(&lock.key, &lock.token))
                .await
                .map(|_| false);
        };
        let wait_key = suffixed(&lock.session, WAIT_SUFFIX);
        let mut keys = Command::part(3, lock.session.len() + lock.key.len() + wait_key.len());
        keys.arg(&lock.session).arg(&lock.key).arg(&wait_key);
        let mut args = Command::part(3, lock.token.len() + value.len() + NUMBER);
        args.arg(&lock.token).arg(&value).arg(ttl);
        let reply = self
            .batch
            .save(Save { keys, args })
            .await
            .map_err(backend)?;
        match parse::<i64>(reply)? {
            1 => Ok(false),
            2 => Ok(true),
            _ => Err(lapsed()),
        }
    }

    /// Writes the locked session's record and renews the lock's lease, in
    /// one round trip and one script, only while the lock is still this
    /// request's; returns the lock, to be handed to the next request. On
    /// any failure the lock is released (in the background, token checked;
    /// by its lease at worst), never kept.
    pub(super) async fn save_and_keep(
        &self,
        mut lock: RedisLock,
        value: &str,
        ttl: u64,
    ) -> session_store::Result<RedisLock> {
        let keys = lock.session.len() + lock.key.len();
        let bytes = keys + lock.token.len() + value.len() + 3 * NUMBER;
        let lease = millis(self.lease);
        let add = |eval: &mut Command| {
            eval.arg(2)
                .arg(&lock.session)
                .arg(&lock.key)
                .arg(&lock.token)
                .arg(value)
                .arg(ttl)
                .arg(lease);
        };
        // A reply that never comes leaves the lock renewed, perhaps: the
        // batcher then releases it.
        let undo = || Some(unlock_command(&lock.key, &lock.token));
        let sent = Instant::now();
        let reply = self
            .run_script(Script::SaveAndKeep, 7, bytes, add, undo)
            .await?;
        match parse::<i64>(reply)? {
            1 => {
                lock.renewed = sent;
                lock.lease = self.lease;
                Ok(lock)
            }
            _ => {
                // Not this request's any more: nothing to release.
                lock.batch = None;
                Err(lapsed())
            }
        }
    }

    /// Releases a lock now (token checked), waiting for Redis's answer.
    pub(super) async fn release(&self, mut lock: RedisLock) -> session_store::Result<()> {
        if lock.batch.take().is_none() {
            return Ok(());
        }
        self.query_one::<Reply>(unlock_command(&lock.key, &lock.token))
            .await
            .map(drop)
    }

    /// The stored text of a session, as it is.
    pub(super) async fn load_raw(&self, id: &Id) -> session_store::Result<Option<String>> {
        let key = session_key(id);
        let mut get = Command::new("GET", 1, key.len());
        get.arg(key);
        self.query_one(get).await
    }

    /// Writes `value` only if the stored text is still `expected`; false
    /// when another request changed it first.
    pub(super) async fn compare_and_set(
        &self,
        id: &Id,
        expected: &str,
        value: &str,
        ttl: u64,
    ) -> session_store::Result<bool> {
        let key = session_key(id);
        let bytes = key.len() + expected.len() + value.len() + 2 * NUMBER;
        let add = |eval: &mut Command| {
            eval.arg(1).arg(&key).arg(expected).arg(value).arg(ttl);
        };
        let reply = self
            .run_script(Script::CompareAndSet, 5, bytes, add, || None)
            .await?;
        Ok(parse::<i64>(reply)? == 1)
    }

    /// Runs `script` with the arguments `add` writes (the key count first,
    /// `args` of them, `bytes` in all): by its SHA1, and by its body if
    /// Redis answers that it does not know it (restarted, or its scripts
    /// flushed; nothing ran), which also teaches Redis the script again.
    /// `undo` gives the undo for [`Batcher::send_with_undo`].
    async fn run_script(
        &self,
        script: Script,
        args: usize,
        bytes: usize,
        add: impl Fn(&mut Command),
        undo: impl Fn() -> Option<Command>,
    ) -> session_store::Result<Reply> {
        let mut sha = self.shas[script as usize].as_deref();
        loop {
            let mut eval = match sha {
                Some(sha) => Command::new("EVALSHA", args + 1, sha.len() + bytes),
                None => Command::new("EVAL", args + 1, script.body().len() + bytes),
            };
            eval.arg(sha.unwrap_or(script.body()));
            add(&mut eval);
            let replies = self
                .batch
                .send_with_undo(vec![eval], undo())
                .await
                .map_err(backend)?;
            let reply = replies.into_iter().next().unwrap_or(Reply::Nil);
            if sha.is_none() || !unknown_script(&reply) {
                return Ok(reply);
            }
            sha = None;
        }
    }

    /// Sends one command through the batcher, within the deadline.
    async fn query_one<T: FromRedisValue>(&self, command: Command) -> session_store::Result<T> {
        let values = self.batch.send(vec![command]).await.map_err(backend)?;
        parse(values.into_iter().next().unwrap_or(Reply::Nil))
    }
}

/// The error of a save whose lock was no longer the request's.
fn lapsed() -> session_store::Error {
    session_store::Error::Backend("redis: the session's lock lapsed before its save".into())
}

/// A reply as `T`; a server error among it is an error.
fn parse<T: FromRedisValue>(value: Reply) -> session_store::Result<T> {
    let value = value
        .extract_error()
        .map_err(|err| session_store::Error::Backend(format!("redis: {err}")))?;
    redis::from_redis_value(value)
        .map_err(|err| session_store::Error::Backend(format!("redis: {err}")))
}

/// `SET KEY VALUE PX TTL`, with `NX` when `only_new`.
fn set_command(key: &str, value: String, ttl: u64, only_new: bool) -> Command {
    let mut set = Command::new("SET", 5, key.len() + value.len() + 4 + NUMBER);
    set.arg(key).arg(value).arg("PX").arg(ttl);
    if only_new {
        set.arg("NX");
    }
    set
}

/// `EVAL <the unlock script> 1`, encoded once: every change builds an
/// unlock command, its undo should it give up.
static UNLOCK_HEAD: LazyLock<Command> = LazyLock::new(|| {
    let mut eval = Command::new("EVAL", 2, UNLOCK_SCRIPT.len() + 1);
    eval.arg(UNLOCK_SCRIPT).arg(1);
    eval
});

/// Releases a lock if it still holds `token`.
fn unlock_command(key: &str, token: &str) -> Command {
    let mut eval = UNLOCK_HEAD.with_room(2, key.len() + token.len());
    eval.arg(key).arg(token);
    eval
}

/// Takes the lock `key` for `token` unless another holds it: `SET key
/// token` and `tail` ([`lock_tail`]).
fn lock_command(key: &str, token: &str, tail: &Command) -> Command {
    let mut lock = Command::new("SET", 2 + tail.args(), key.len() + token.len() + tail.len());
    lock.arg(key).arg(token).extend(tail);
    lock
}

/// `NX PX <lease>`: the lock's last arguments.
fn lock_tail(lease: Duration) -> Arc<Command> {
    let mut tail = Command::part(3, 4 + NUMBER);
    tail.arg("NX").arg("PX").arg(millis(lease));
    Arc::new(tail)
}

/// At most this many bytes for a number among a command's arguments.
const NUMBER: usize = 20;

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let value = encode(record)?;
        loop {
            let set = set_command(
                &session_key(&record.id),
                value.clone(),
                ttl_ms(record.expiry_date),
                true,
            );
            let created: Option<String> = self.query_one(set).await?;
            if created.is_some() {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let value = encode(record)?;
        let set = set_command(
            &session_key(&record.id),
            value,
            ttl_ms(record.expiry_date),
            false,
        );
        self.query_one::<Reply>(set).await.map(drop)
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let value = self.load_raw(session_id).await?;
        match value {
            Some(value) => decode(session_id, &value),
            None => Ok(None),
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let key = session_key(session_id);
        let mut del = Command::new("DEL", 1, key.len());
        del.arg(key);
        self.query_one::<Reply>(del).await.map(drop)
    }
}

/// `ajax-sessions:{ID}`.
pub(super) fn session_key(id: &Id) -> String {
    // Written piece by piece: `format!` with the id's `Display` cost a
    // change about 2.7k instructions over its three keys.
    let mut key = String::with_capacity(PREFIX.len() + 24);
    key.push_str(PREFIX);
    key.push('{');
    push_session_id(&mut key, *id);
    key.push('}');
    key
}

/// The key of a session's lock or wait mark: its key and `suffix`.
fn suffixed(key: &str, suffix: &str) -> String {
    let mut text = String::with_capacity(key.len() + suffix.len());
    text.push_str(key);
    text.push_str(suffix);
    text
}

/// A failure of the batcher's (Redis did not answer in time, or the
/// connection failed) as the store error that the app answers with
/// `503 store_unavailable`.
fn backend(err: redis::RedisError) -> session_store::Error {
    if is_timeout(&err) {
        session_store::Error::Backend("redis: timed out".into())
    } else {
        session_store::Error::Backend(format!("redis: {err}"))
    }
}

/// Runs a Redis command outside the batcher with the deadline; both
/// failures become the store error.
async fn with_deadline<T>(
    command: impl Future<Output = redis::RedisResult<T>>,
) -> session_store::Result<T> {
    tokio::time::timeout(COMMAND_TIMEOUT, command)
        .await
        .unwrap_or_else(|_| Err(timed_out()))
        .map_err(backend)
}

/// The record as stored: `EXPIRY_MS` newline, then either `s KEY` newline
/// and the key's string value as is (the app's one state string), or `j`
/// and the record's data as JSON.
pub(super) fn encode(record: &Record) -> session_store::Result<String> {
    let expires_ms = record.expiry_date.unix_timestamp_nanos() / 1_000_000;
    let mut digits = itoa::Buffer::new();
    let expires_ms = digits.format(expires_ms);
    let mut fields = record.data.iter();
    // Built with `push_str`: `format!` and the i128's `Display` cost about
    // 1.3k instructions a save.
    let mut value;
    match (fields.next(), fields.next()) {
        (Some((key, Value::String(text))), None) if !key.contains('\n') => {
            value = String::with_capacity(expires_ms.len() + key.len() + text.len() + 3);
            value.push_str(expires_ms);
            value.push_str("\ns");
            value.push_str(key);
            value.push('\n');
            value.push_str(text);
        }
        _ => {
            let json = serde_json::to_string(&record.data)
                .map_err(|err| session_store::Error::Encode(err.to_string()))?;
            value = String::with_capacity(expires_ms.len() + json.len() + 2);
            value.push_str(expires_ms);
            value.push_str("\nj");
            value.push_str(&json);
        }
    }
    Ok(value)
}

/// The record of a stored value; `None` once its expiry has passed (Redis
/// drops the key at the same moment, give or take its expiry sampling).
pub(super) fn decode(id: &Id, value: &str) -> session_store::Result<Option<Record>> {
    let broken =
        || session_store::Error::Decode("a stored session is not in the expected form".into());
    let (expires, rest) = value.split_once('\n').ok_or_else(broken)?;
    let expires_ns = expires
        .parse::<i64>()
        .map(|ms| i128::from(ms) * 1_000_000)
        .map_err(|_| broken())?;
    // The system clock, not `OffsetDateTime::now_utc`'s calendar date.
    if expires_ns <= unix_time::now_nanos() {
        return Ok(None);
    }
    let expiry_date =
        OffsetDateTime::from_unix_timestamp_nanos(expires_ns).map_err(|_| broken())?;
    let data = if let Some(rest) = rest.strip_prefix('s') {
        let (key, text) = rest.split_once('\n').ok_or_else(broken)?;
        HashMap::from([(key.to_owned(), Value::String(text.to_owned()))])
    } else if let Some(json) = rest.strip_prefix('j') {
        serde_json::from_str(json).map_err(|err| session_store::Error::Decode(err.to_string()))?
    } else {
        return Err(broken());
    };
    Ok(Some(Record {
        id: *id,
        data,
        expiry_date,
    }))
}

/// Milliseconds left until `expiry`, at least 1 (Redis refuses 0).
pub(super) fn ttl_ms(expiry: OffsetDateTime) -> u64 {
    let left = (expiry - OffsetDateTime::now_utc()).whole_milliseconds();
    u64::try_from(left).unwrap_or(0).max(1)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The URL with any password replaced, for messages.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the given URL".into();
    };
    let host = match rest.rsplit_once('@') {
        Some((_, host)) => host,
        None => rest,
    };
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(data: HashMap<String, Value>) -> Record {
        Record {
            id: Id(7),
            data,
            expiry_date: OffsetDateTime::now_utc() + time::Duration::minutes(5),
        }
    }

    #[test]
    fn a_state_string_is_stored_as_is_and_round_trips() {
        let state = r#"{"data":{"a":"line\nbreak"}}"#;
        let original = record(HashMap::from([(
            "state".into(),
            Value::String(state.into()),
        )]));

        let stored = encode(&original).unwrap();
        let back = decode(&original.id, &stored).unwrap().unwrap();

        let expires_ms = original.expiry_date.unix_timestamp_nanos() / 1_000_000;
        assert_eq!(stored, format!("{expires_ms}\nsstate\n{state}"));
        assert_eq!(back.data, original.data);
        assert_eq!(
            back.expiry_date.unix_timestamp(),
            original.expiry_date.unix_timestamp()
        );
    }

    #[test]
    fn other_records_round_trip_as_json() {
        let original = record(HashMap::from([
            ("a".into(), Value::from(1)),
            ("b".into(), Value::String("x".into())),
        ]));

        let stored = encode(&original).unwrap();
        let back = decode(&original.id, &stored).unwrap().unwrap();

        let expires_ms = original.expiry_date.unix_timestamp_nanos() / 1_000_000;
        let json = serde_json::to_string(&original.data).unwrap();
        assert_eq!(stored, format!("{expires_ms}\nj{json}"));
        assert_eq!(back.data, original.data);
    }

    #[test]
    fn an_expired_value_loads_as_nothing() {
        let mut old = record(HashMap::new());
        old.expiry_date = OffsetDateTime::now_utc() - time::Duration::seconds(1);

        assert!(decode(&old.id, &encode(&old).unwrap()).unwrap().is_none());
    }

    fn lock_renewed(at: Instant, lease: Duration) -> RedisLock {
        RedisLock {
            key: "k:lock".into(),
            session: "k".into(),
            token: "t".into(),
            batch: None,
            renewed: at,
            lease,
        }
    }

    #[test]
    fn a_lock_is_handed_on_only_while_four_fifths_of_its_lease_are_left() {
        let renewed = Instant::now();
        let lock = lock_renewed(renewed, Duration::from_millis(500));

        assert!(lock.fresh_at(renewed));
        assert!(lock.fresh_at(renewed + Duration::from_millis(99)));
        assert!(!lock.fresh_at(renewed + Duration::from_millis(100)));
        assert!(
            !lock.fresh_at(renewed + Duration::from_millis(600)),
            "lapsed"
        );
        // A clock read before the renewal counts as no time passed.
        let later = lock_renewed(renewed + Duration::from_millis(5), Duration::from_secs(5));
        assert!(later.fresh_at(renewed));
    }

    #[test]
    fn the_default_lease_is_unchanged_and_outlasts_the_chain_bound() {
        assert_eq!(LOCK_LEASE, Duration::from_secs(5));
        assert!(
            COURTESY > MAX_RETRY_PAUSE,
            "a waiter tries within the courtesy"
        );
        assert!(
            WAIT_MARK > MAX_RETRY_PAUSE,
            "a mark stands between two tries"
        );
    }

    #[test]
    fn the_lock_and_its_undo_are_built_from_parts_encoded_once() {
        let tail = lock_tail(Duration::from_millis(5000));
        let lock = lock_command("k:lock", "token", &tail);
        assert_eq!(lock.texts(), ["SET", "k:lock", "token", "NX", "PX", "5000"]);
        assert_eq!(lock.args(), 6);
        let again = lock_command("other:lock", "t2", &tail);
        assert_eq!(
            again.texts(),
            ["SET", "other:lock", "t2", "NX", "PX", "5000"]
        );
        let unlock = unlock_command("k:lock", "token");
        assert_eq!(
            unlock.texts(),
            ["EVAL", UNLOCK_SCRIPT, "1", "k:lock", "token"]
        );
        assert_eq!(unlock.args(), 5);
        assert_eq!(unlock_command("b", "c").texts()[3..], ["b", "c"]);
    }

    #[test]
    fn keys_put_the_id_in_a_hash_tag() {
        for id in [
            Id(42),
            Id(0),
            Id(-1),
            Id(i128::MAX),
            Id(i128::MIN),
            Id::default(),
        ] {
            assert_eq!(session_key(&id), format!("ajax-sessions:{{{id}}}"));
            assert_eq!(
                suffixed(&session_key(&id), LOCK_SUFFIX),
                format!("ajax-sessions:{{{id}}}:lock")
            );
        }
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redacted_url("redis://user:s3cret@10.0.0.1:6379/2"),
            "redis://10.0.0.1:6379/2"
        );
        assert_eq!(
            redacted_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
