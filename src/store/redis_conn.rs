//! The batcher's own connection to Redis: one TCP stream, one batch at a
//! time, written and read here.
//!
//! The `redis` crate's multiplexed connection serves many callers at once:
//! each command goes through a channel to the connection's own task, is
//! encoded into a frame buffer, and each reply is parsed by a general
//! parser (combine) before it travels back through another channel. The
//! batcher needs none of that: it is the only caller, with one batch out at
//! a time. Measured under load (POST over 256 sessions), that path cost
//! about 10,000 instructions a request, a seventh of the app's work
//! (BENCHMARKS.md). This connection encodes the batch's commands straight
//! into one buffer, writes it, and reads exactly as many replies, parsed
//! by the small RESP2 reader below; the `redis` crate still builds the
//! commands and gives the reply type ([`Value`]).
//!
//! **Faults.** A broken stream, a reply that cannot be read, or a round
//! trip abandoned half-way (its deadline passed: the batcher dropped it,
//! and replies may still come) drops the stream; the next round trip
//! connects again, so service resumes as soon as Redis answers. Deadlines
//! stay the batcher's. A clone starts unconnected: the batcher's undos use
//! one of their own, never waiting behind a stalled batch.

use std::sync::Arc;

use std::future::Future;

use redis::{ConnectionAddr, ConnectionInfo, ErrorKind, RedisError, RedisResult, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How much is read at once, at least (replies of a batch of small
/// sessions fit in one read).
const READ_CHUNK: usize = 16 * 1024;
/// Replies nest no deeper than this (the store's are one level at most).
const MAX_DEPTH: usize = 8;
/// Redis's own limit on a string (`proto-max-bulk-len`, 512 MB).
const MAX_BULK: usize = 512 * 1024 * 1024;

/// A Redis command, its arguments already in RESP (bulk strings); the
/// array's header, which counts them, is written when it is sent.
#[derive(Clone, Debug, Default)]
pub(super) struct Command {
    args: usize,
    body: Vec<u8>,
}

impl Command {
    /// The command `name`, with room for `args` more arguments of `bytes`
    /// bytes in all.
    pub(super) fn new(name: &str, args: usize, bytes: usize) -> Self {
        let mut command = Self {
            args: 0,
            body: Vec::with_capacity(name.len() + bytes + (args + 1) * 8),
        };
        command.arg(name);
        command
    }

    /// Arguments without a command: a part of another command, added to
    /// it by [`Command::extend`]. Room for `args` of `bytes` in all.
    pub(super) fn part(args: usize, bytes: usize) -> Self {
        Self {
            args: 0,
            body: Vec::with_capacity(bytes + args * 8),
        }
    }

    /// A copy, with room for `args` more arguments of `bytes` bytes in
    /// all: a command's constant first arguments, encoded once.
    pub(super) fn with_room(&self, args: usize, bytes: usize) -> Self {
        let mut body = Vec::with_capacity(self.body.len() + bytes + args * 8);
        body.extend_from_slice(&self.body);
        Self {
            args: self.args,
            body,
        }
    }

    /// Appends the arguments of `part`.
    pub(super) fn extend(&mut self, part: &Command) {
        self.body.extend_from_slice(&part.body);
        self.args += part.args;
    }

    /// How many arguments (the name counts as one).
    pub(super) fn args(&self) -> usize {
        self.args
    }

    /// The arguments' length in RESP.
    pub(super) fn len(&self) -> usize {
        self.body.len()
    }

    /// Keeps room for `bytes` more.
    pub(super) fn reserve(&mut self, bytes: usize) {
        self.body.reserve(bytes);
    }

    /// Appends one argument.
    pub(super) fn arg(&mut self, arg: impl Argument) -> &mut Self {
        arg.append_to(&mut self.body);
        self.args += 1;
        self
    }

    /// Writes the whole command to `out`.
    fn write_to(&self, out: &mut Vec<u8>) {
        out.push(b'*');
        out.extend_from_slice(itoa::Buffer::new().format(self.args).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }

    /// The arguments, the name first (for tests).
    #[cfg(test)]
    pub(super) fn texts(&self) -> Vec<String> {
        let mut rest = &self.body[..];
        let mut args = Vec::new();
        while let Some(Ok(Some((Value::BulkString(bytes), used)))) = Some(parse(rest, 0)) {
            args.push(String::from_utf8_lossy(&bytes).into_owned());
            rest = &rest[used..];
        }
        args
    }
}

/// What a [`Command`] takes as an argument: text, or a number (written in
/// decimal, as Redis reads it).
pub(super) trait Argument {
    fn append_to(&self, body: &mut Vec<u8>);
}

fn append_bulk(body: &mut Vec<u8>, bytes: &[u8]) {
    let mut length = itoa::Buffer::new();
    let length = length.format(bytes.len()).as_bytes();
    body.reserve(length.len() + bytes.len() + 5);
    body.push(b'$');
    body.extend_from_slice(length);
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n");
}

impl Argument for str {
    fn append_to(&self, body: &mut Vec<u8>) {
        append_bulk(body, self.as_bytes());
    }
}

impl Argument for String {
    fn append_to(&self, body: &mut Vec<u8>) {
        append_bulk(body, self.as_bytes());
    }
}

impl<T: Argument + ?Sized> Argument for &T {
    fn append_to(&self, body: &mut Vec<u8>) {
        (**self).append_to(body);
    }
}

macro_rules! number_arguments {
    ($($number:ty),*) => {$(
        impl Argument for $number {
            fn append_to(&self, body: &mut Vec<u8>) {
                append_bulk(body, itoa::Buffer::new().format(*self).as_bytes());
            }
        }
    )*};
}

number_arguments!(i32, i64, u64, usize);

/// What the batcher sends its batches through: a [`Connection`], or a fake
/// in its tests. Clones are independent (an undo must not wait behind a
/// stalled batch).
pub(super) trait Transport: Clone + Send + 'static {
    /// Sends `commands` in one write and returns their replies, one each.
    fn round_trip<'a>(
        &'a mut self,
        commands: &'a [Command],
    ) -> impl Future<Output = RedisResult<Vec<Value>>> + Send + 'a;
}

/// A connection to one Redis server. See the module's comment.
pub(super) struct Connection {
    server: Arc<Server>,
    stream: Option<TcpStream>,
    /// Set while a round trip is under way: still set at the next one, the
    /// last was abandoned, and its replies may still be on their way.
    busy: bool,
    /// The encoded commands of the round trip under way.
    out: Vec<u8>,
    /// Bytes read; `buf[pos..filled]` is not parsed yet.
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
}

/// Where a [`Connection`] connects, and what it sends first.
struct Server {
    host: String,
    port: u16,
    /// `AUTH` and `SELECT` as the URL says, in RESP; none when it says
    /// neither.
    setup: Vec<u8>,
    /// How many commands `setup` holds.
    setup_commands: usize,
}

impl Clone for Connection {
    /// A connection to the same server, unconnected.
    fn clone(&self) -> Self {
        Self::to(self.server.clone())
    }
}

impl Connection {
    /// A connection to the server `info` names, which connects at its
    /// first round trip; `None` unless it is a TCP address
    /// (`redis://HOST:PORT[/DB]`).
    pub(super) fn new(info: &ConnectionInfo) -> Option<Self> {
        let ConnectionAddr::Tcp(host, port) = info.addr() else {
            return None;
        };
        let settings = info.redis_settings();
        let mut setup = Vec::new();
        let mut setup_commands = 0;
        if let Some(password) = settings.password() {
            let mut auth = Command::new("AUTH", 2, password.len());
            if let Some(username) = settings.username() {
                auth.arg(username);
            }
            auth.arg(password).write_to(&mut setup);
            setup_commands += 1;
        }
        if settings.db() != 0 {
            Command::new("SELECT", 1, 8)
                .arg(settings.db())
                .write_to(&mut setup);
            setup_commands += 1;
        }
        Some(Self::to(Arc::new(Server {
            host: host.clone(),
            port: *port,
            setup,
            setup_commands,
        })))
    }

    fn to(server: Arc<Server>) -> Self {
        Self {
            server,
            stream: None,
            busy: false,
            out: Vec::new(),
            buf: Vec::new(),
            pos: 0,
            filled: 0,
        }
    }

    async fn exchange(&mut self, commands: &[Command]) -> RedisResult<Vec<Value>> {
        if self.stream.is_none() {
            self.connect().await?;
        }
        let stream = self.stream.as_mut().ok_or_else(gone)?;
        stream.write_all(&self.out).await?;
        let mut values = Vec::with_capacity(commands.len());
        for _ in commands {
            values.push(self.next_value().await?);
        }
        if self.pos != self.filled {
            return Err(protocol("Redis sent more replies than commands"));
        }
        self.pos = 0;
        self.filled = 0;
        Ok(values)
    }

    /// Connects, then authenticates and selects the database as the URL
    /// says.
    async fn connect(&mut self) -> RedisResult<()> {
        let server = self.server.clone();
        let stream = TcpStream::connect((server.host.as_str(), server.port)).await?;
        stream.set_nodelay(true)?;
        self.disconnect();
        let stream = self.stream.insert(stream);
        if server.setup_commands > 0 {
            stream.write_all(&server.setup).await?;
            for _ in 0..server.setup_commands {
                if let Value::ServerError(err) = self.next_value().await? {
                    self.disconnect();
                    return Err(err.into());
                }
            }
        }
        Ok(())
    }

    /// The next reply, reading as much as it needs.
    async fn next_value(&mut self) -> RedisResult<Value> {
        loop {
            if let Some((value, used)) = parse(&self.buf[self.pos..self.filled], 0)? {
                self.pos += used;
                return Ok(value);
            }
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.filled, 0);
                self.filled -= self.pos;
                self.pos = 0;
            }
            if self.buf.len() - self.filled < READ_CHUNK / 2 {
                let grown = (self.buf.len() * 2).max(READ_CHUNK);
                self.buf.resize(grown, 0);
            }
            let stream = self.stream.as_mut().ok_or_else(gone)?;
            let read = stream.read(&mut self.buf[self.filled..]).await?;
            if read == 0 {
                return Err(RedisError::from(std::io::Error::from(
                    std::io::ErrorKind::UnexpectedEof,
                )));
            }
            self.filled += read;
        }
    }

    fn disconnect(&mut self) {
        self.stream = None;
        self.pos = 0;
        self.filled = 0;
    }
}

impl Transport for Connection {
    async fn round_trip(&mut self, commands: &[Command]) -> RedisResult<Vec<Value>> {
        if self.busy {
            self.disconnect();
        }
        self.busy = true;
        self.out.clear();
        for command in commands {
            command.write_to(&mut self.out);
        }
        let result = self.exchange(commands).await;
        if result.is_err() {
            self.disconnect();
        }
        self.busy = false;
        result
    }
}

fn gone() -> RedisError {
    RedisError::from(std::io::Error::from(std::io::ErrorKind::NotConnected))
}

fn protocol(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::Parse, what))
}

/// One RESP2 reply from the start of `input`, and how many bytes it took;
/// `None` while it is incomplete. Anything that is not RESP2 is an error.
fn parse(input: &[u8], depth: usize) -> RedisResult<Option<(Value, usize)>> {
    let Some(end) = memchr::memmem::find(input, b"\r\n") else {
        return Ok(None);
    };
    let Some((&kind, line)) = input[..end].split_first() else {
        return Err(protocol("an empty line from Redis"));
    };
    let after = end + 2;
    match kind {
        b'+' => {
            let text = std::str::from_utf8(line).map_err(|_| protocol("a status not in UTF-8"))?;
            let value = if text == "OK" {
                Value::Okay
            } else {
                Value::SimpleString(text.to_owned())
            };
            Ok(Some((value, after)))
        }
        // Errors are rare: the crate's own parser gives them their kinds
        // (NOSCRIPT, WRONGTYPE, …).
        b'-' => Ok(Some((redis::parse_redis_value(&input[..after])?, after))),
        b':' => Ok(Some((Value::Int(integer(line)?), after))),
        b'$' => {
            let Ok(len) = usize::try_from(integer(line)?) else {
                return Ok(Some((Value::Nil, after)));
            };
            if len > MAX_BULK {
                return Err(protocol("a bulk string longer than Redis allows"));
            }
            let Some(total) = after.checked_add(len).and_then(|end| end.checked_add(2)) else {
                return Err(protocol("a bulk string too long"));
            };
            if input.len() < total {
                return Ok(None);
            }
            if &input[total - 2..total] != b"\r\n" {
                return Err(protocol("a bulk string without its line end"));
            }
            Ok(Some((
                Value::BulkString(input[after..total - 2].to_vec()),
                total,
            )))
        }
        b'*' => {
            let Ok(len) = usize::try_from(integer(line)?) else {
                return Ok(Some((Value::Nil, after)));
            };
            if depth >= MAX_DEPTH {
                return Err(protocol("replies nested too deep"));
            }
            // Each element takes 3 bytes at least: no more room is kept
            // than the bytes at hand can fill.
            let mut items = Vec::with_capacity(len.min(input.len() / 3));
            let mut used = after;
            for _ in 0..len {
                match parse(&input[used..], depth + 1)? {
                    Some((item, size)) => {
                        items.push(item);
                        used += size;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Value::Array(items), used)))
        }
        _ => Err(protocol("a reply that is not RESP2")),
    }
}

/// The decimal integer of a `:`, `$` or `*` line.
fn integer(line: &[u8]) -> RedisResult<i64> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| protocol("a number that is not one"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(input: &[u8]) -> Value {
        let (value, used) = parse(input, 0).unwrap().unwrap();
        assert_eq!(used, input.len());
        value
    }

    #[test]
    fn reads_each_kind_of_reply() {
        assert_eq!(whole(b"+OK\r\n"), Value::Okay);
        assert_eq!(whole(b"+PONG\r\n"), Value::SimpleString("PONG".into()));
        assert_eq!(whole(b":-42\r\n"), Value::Int(-42));
        assert_eq!(
            whole(b"$5\r\nab\r\nc\r\n"),
            Value::BulkString(b"ab\r\nc".to_vec())
        );
        assert_eq!(whole(b"$0\r\n\r\n"), Value::BulkString(Vec::new()));
        assert_eq!(whole(b"$-1\r\n"), Value::Nil);
        assert_eq!(whole(b"*-1\r\n"), Value::Nil);
        assert_eq!(
            whole(b"*3\r\n$2\r\nOK\r\n$-1\r\n:1\r\n"),
            Value::Array(vec![
                Value::BulkString(b"OK".to_vec()),
                Value::Nil,
                Value::Int(1)
            ])
        );
        let Value::ServerError(err) = whole(b"-NOSCRIPT No matching script.\r\n") else {
            panic!("not a server error");
        };
        assert_eq!(err.kind(), Some(redis::ServerErrorKind::NoScript));
    }

    #[test]
    fn agrees_with_the_redis_crate_on_every_reply_the_store_gets() {
        let replies: [&[u8]; 6] = [
            b"+OK\r\n",
            b"$-1\r\n",
            b"$13\r\n1767225600000\r\n",
            b":2\r\n",
            b"*2\r\n+OK\r\n:0\r\n",
            b"-WRONGTYPE Operation against a key\r\n",
        ];
        for reply in replies {
            assert_eq!(
                whole(reply),
                redis::parse_redis_value(reply).unwrap(),
                "{}",
                String::from_utf8_lossy(reply)
            );
        }
    }

    #[test]
    fn waits_for_the_rest_of_a_reply_cut_anywhere() {
        let reply = b"*2\r\n$3\r\nabc\r\n:7\r\n";
        for cut in 0..reply.len() {
            assert_eq!(parse(&reply[..cut], 0).unwrap(), None, "cut at {cut}");
        }
        assert!(parse(reply, 0).unwrap().is_some());
    }

    #[test]
    fn refuses_what_is_not_resp2_without_panicking() {
        let broken: [&[u8]; 7] = [
            b"?\r\n",
            b"\r\n",
            b":x\r\n",
            b"$3\r\nabcde\r\n",
            b"$99999999999999999999\r\n",
            b"$9223372036854775807\r\n",
            b"*1\r\n!\r\n",
        ];
        for input in broken {
            assert!(
                parse(input, 0).is_err(),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        let deep = b"*1\r\n".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep, 0).is_err());
    }

    #[test]
    fn writes_commands_as_the_redis_crate_does() {
        let mut ours = Command::new("SET", 4, 12);
        ours.arg("key")
            .arg("a\r\nb".to_owned())
            .arg("PX")
            .arg(1500_u64);
        let mut theirs = redis::cmd("SET");
        theirs.arg("key").arg("a\r\nb").arg("PX").arg(1500);
        let mut out = Vec::new();
        ours.write_to(&mut out);
        assert_eq!(out, theirs.get_packed_command());
        assert_eq!(ours.texts(), ["SET", "key", "a\r\nb", "PX", "1500"]);
    }
}
