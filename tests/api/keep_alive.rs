//! Keep-alive connections, as a proxy or a browser reuses them: never closed
//! without notice after an answer given before the body was read, idle ones
//! kept for `--keep-alive-timeout` while request heads stay on their own
//! 10 s clock, and a shutdown that tells clients before closing. Each test
//! runs the real binary and speaks HTTP over a raw socket, so that the
//! timing of every byte is the test's.

use std::io;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::cli::Server;

/// How long a test waits for an answer that should come at once.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// A client's connection, spoken to byte by byte.
pub struct RawConnection {
    stream: TcpStream,
    /// Bytes read and not yet taken as a response.
    buffer: Vec<u8>,
    host: String,
}

/// One response, read whole.
pub struct RawResponse {
    pub status: u16,
    headers: Vec<(String, String)>,
}

impl RawResponse {
    /// The value of header `name`, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// True when the response announces that the server closes the
    /// connection after it.
    pub fn says_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }
}

impl RawConnection {
    pub async fn open(address: &str) -> Self {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            buffer: Vec::new(),
            host: address.to_owned(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// `GET /healthz` and its answer.
    pub async fn get_healthz(&mut self) -> io::Result<RawResponse> {
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.send(request.as_bytes()).await?;
        match tokio::time::timeout(ANSWER_WITHIN, self.read_response()).await {
            Ok(read) => read,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in 5 s")),
        }
    }

    /// Reads one response (with a `Content-Length` body). Cancel-safe: what
    /// was read stays in the buffer for the next call.
    pub async fn read_response(&mut self) -> io::Result<RawResponse> {
        loop {
            if let Some(response) = self.take_response()? {
                return Ok(response);
            }
            let mut chunk = [0u8; 4096];
            let read = self.stream.read(&mut chunk).await?;
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed before a whole response",
                ));
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }

    /// Takes a whole response off the front of the buffer, if one is there.
    fn take_response(&mut self) -> io::Result<Option<RawResponse>> {
        let Some(head_end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Ok(None);
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| io::Error::other(format!("not a status line: {head}")))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        let response = RawResponse { status, headers };
        let length: usize = response
            .header("content-length")
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no Content-Length: {head}")))?;
        let end = head_end + 4 + length;
        if self.buffer.len() < end {
            return Ok(None);
        }
        self.buffer.drain(..end);
        Ok(Some(response))
    }

    /// Waits at most `limit` for the server to close the connection;
    /// returns how long that took, or `None` if it sent data or stayed open.
    pub async fn closed_within(&mut self, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout(limit, self.stream.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => Some(started.elapsed()),
            Ok(Ok(_)) | Err(_) => None,
        }
    }
}

/// A request whose body the test sends 150 ms after its head.
struct LateBody {
    route: &'static str,
    /// The request line and headers, `Content-Length` included, without
    /// the blank line.
    head: String,
    body: Vec<u8>,
    /// The status of an answer given from the head alone.
    expected_status: u16,
}

/// What became of the connection after the answer.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// A second request on it was answered.
    KeptOpen,
    /// The answer said `Connection: close`.
    ClosedWithNotice,
    /// No `Connection: close`, and the next request failed: what a proxy
    /// would turn into a 502.
    ClosedSilently(String),
}

/// Sends `case`'s head, its body 150 ms later, and then a second request.
async fn run_late_body(address: &str, case: &LateBody) -> (u16, bool, Outcome) {
    let mut connection = RawConnection::open(address).await;
    let head = format!("{}\r\nHost: {address}\r\n\r\n", case.head);
    connection.send(head.as_bytes()).await.expect("send head");
    let early = tokio::time::timeout(Duration::from_millis(150), connection.read_response()).await;
    // A server that has closed may refuse the body: the answer, if any, is
    // already in the buffer.
    let _ = connection.send(&case.body).await;
    let answered_before_body = early.is_ok();
    let first = match early {
        Ok(read) => read,
        Err(_) => tokio::time::timeout(ANSWER_WITHIN, connection.read_response())
            .await
            .unwrap_or_else(|_| Err(io::Error::other("no answer"))),
    };
    let first = match first {
        Ok(first) => first,
        Err(err) => {
            return (
                0,
                answered_before_body,
                Outcome::ClosedSilently(err.to_string()),
            )
        }
    };
    if first.says_close() {
        return (
            first.status,
            answered_before_body,
            Outcome::ClosedWithNotice,
        );
    }
    let outcome = match connection.get_healthz().await {
        Ok(second) if second.status == 200 => Outcome::KeptOpen,
        Ok(second) => Outcome::ClosedSilently(format!("second answer {}", second.status)),
        Err(err) => Outcome::ClosedSilently(format!("second request: {err}")),
    };
    (first.status, answered_before_body, outcome)
}

/// A session cookie (`session_id=…`) from a first update.
async fn a_session_cookie(base: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{base}/update-session-data"))
        .header("content-type", "application/json")
        .body(r#"{"a":1}"#)
        .send()
        .await
        .expect("POST");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .expect("a session cookie");
    cookie.to_owned()
}

/// Every route that can answer from the request head alone, each with a
/// body the handler never reads.
fn head_only_answers(cookie: &str) -> Vec<LateBody> {
    let json = br#"{"key":"v"}"#.to_vec();
    let post = |route: &'static str, headers: &str, body: &[u8], status: u16| LateBody {
        route,
        head: format!(
            "POST {route} HTTP/1.1\r\nContent-Length: {}{headers}",
            body.len()
        ),
        body: body.to_vec(),
        expected_status: status,
    };
    let mut cases = vec![
        post("/regenerate-session", "", &json, 409),
        post("/clear-session", "", &json, 409),
        post(
            "/update-session-data",
            "\r\nContent-Type: application/json\r\nOrigin: http://evil.example",
            &json,
            403,
        ),
        post(
            "/update-session-data",
            "\r\nContent-Type: text/plain",
            &json,
            415,
        ),
        post(
            "/update-session-data",
            &format!("\r\nContent-Type: application/json\r\nCookie: {cookie}"),
            &json,
            403,
        ),
        post("/get-session-data", "", &json, 405),
        post("/", "", &json, 405),
        post("/healthz", "", &json, 405),
        post("/static/app.js", "", &json, 405),
        post("/no-such-page", "", &json, 404),
        post(
            "/update-session-data",
            "\r\nContent-Type: application/json",
            &vec![b' '; 20 * 1024],
            413,
        ),
        // Far over the limit: not worth reading, so the answer must say
        // `Connection: close`.
        post(
            "/update-session-data",
            "\r\nContent-Type: application/json",
            &vec![b' '; 256 * 1024],
            413,
        ),
    ];
    cases.push(LateBody {
        route: "/get-session-data",
        head: format!(
            "GET /get-session-data HTTP/1.1\r\nContent-Length: {}",
            json.len()
        ),
        body: json,
        expected_status: 200,
    });
    cases
}

#[tokio::test]
async fn an_answer_given_before_the_body_arrived_never_leaves_the_connection_silently_closed() {
    let server = Server::start(&[]);
    let cookie = a_session_cookie(&server.base()).await;
    let cases = head_only_answers(&cookie);

    let results = join_all(
        cases
            .iter()
            .map(|case| run_late_body(&server.address, case)),
    )
    .await;

    let mut silent = Vec::new();
    for (case, (status, before_body, outcome)) in cases.iter().zip(results) {
        let first_line = case.head.lines().next().unwrap_or_default();
        let when = if before_body { "before" } else { "after" };
        println!("{first_line:<40} {status} (answered {when} the body): {outcome:?}");
        assert_eq!(status, case.expected_status, "{first_line}");
        if let Outcome::ClosedSilently(why) = outcome {
            silent.push(format!("{} ({first_line}): {why}", case.route));
        }
    }
    assert!(silent.is_empty(), "closed without notice: {silent:#?}");
}

#[tokio::test]
async fn an_idle_connection_lives_for_the_keep_alive_timeout() {
    let server = Server::start(&["--keep-alive-timeout", "3"]);
    let mut connection = RawConnection::open(&server.address).await;
    assert_eq!(connection.get_healthz().await.expect("first").status, 200);

    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_two_seconds = connection.get_healthz().await.expect("after 2 s idle");
    let closed_after = connection.closed_within(Duration::from_secs(6)).await;

    assert_eq!(after_two_seconds.status, 200);
    assert!(!after_two_seconds.says_close());
    let closed_after = closed_after.expect("closed once idle for 3 s");
    println!("idle for 2 s: served; then closed after {closed_after:?} idle");
    assert!(
        (Duration::from_millis(2500)..=Duration::from_secs(4)).contains(&closed_after),
        "{closed_after:?}"
    );
}

/// Connects, sends a first request, stays idle for `idle` and asks again.
async fn served_after_idle(address: &str, idle: Duration) -> u16 {
    let mut connection = RawConnection::open(address).await;
    assert_eq!(connection.get_healthz().await.expect("first").status, 200);
    tokio::time::sleep(idle).await;
    let again = connection.get_healthz().await.expect("after the idle time");
    again.status
}

/// Connects, waits `before`, sends a request head without its blank line;
/// returns how long after the connection's start, and after the head's
/// first byte, the server closed it.
async fn half_sent_head_closed(
    address: &str,
    first_request: bool,
    before: Duration,
) -> (Duration, Duration) {
    let connected = Instant::now();
    let mut connection = RawConnection::open(address).await;
    if !first_request {
        assert_eq!(connection.get_healthz().await.expect("first").status, 200);
    }
    tokio::time::sleep(before).await;
    let first_byte = Instant::now();
    connection
        .send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("half a head");
    connection
        .closed_within(Duration::from_secs(20))
        .await
        .expect("closed within 20 s");
    (connected.elapsed(), first_byte.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_idle_connections_outlive_a_balancers_sixty_seconds_and_heads_keep_ten() {
    let server = Server::start(&[]);
    let address = server.address.as_str();

    let (after_62_s, first_head, later_head) = tokio::join!(
        served_after_idle(address, Duration::from_secs(62)),
        half_sent_head_closed(address, true, Duration::from_secs(5)),
        half_sent_head_closed(address, false, Duration::from_secs(20)),
    );

    println!("idle for 62 s: answered {after_62_s}");
    println!(
        "a first head begun 5 s after connecting: closed {:?} after the connection's start",
        first_head.0
    );
    println!(
        "a later head begun after 20 s idle: closed {:?} after its first byte",
        later_head.1
    );
    assert_eq!(after_62_s, 200);
    let ten_seconds = Duration::from_millis(9500)..=Duration::from_millis(11500);
    assert!(ten_seconds.contains(&first_head.0), "{first_head:?}");
    assert!(ten_seconds.contains(&later_head.1), "{later_head:?}");
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_and_tells_late_ones_the_connection_closes() {
    let mut server = Server::start(&[]);
    let address = server.address.clone();
    let mut idle = RawConnection::open(&address).await;
    assert_eq!(idle.get_healthz().await.expect("first").status, 200);
    // An update whose body is half sent: in flight when the signal comes.
    let mut busy = RawConnection::open(&address).await;
    let body = br#"{"during":"shutdown"}"#;
    let head = format!(
        "POST /update-session-data HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    busy.send(head.as_bytes()).await.expect("head");
    busy.send(&body[..5]).await.expect("half the body");
    // A connection opened and never used, as a browser's preconnect.
    let mut unused = RawConnection::open(&address).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let signalled = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let new_connection = TcpStream::connect(&address).await;
    let late = idle.get_healthz().await;
    busy.send(&body[5..]).await.expect("the rest of the body");
    let finished = busy.read_response().await;
    let unused_closed = unused.closed_within(Duration::from_secs(5)).await;
    let unused_closed_after = signalled.elapsed();
    let exited = server.wait_for_exit(Duration::from_secs(10).saturating_sub(signalled.elapsed()));

    assert!(new_connection.is_err(), "no longer accepting");
    let late = late.expect("a request arriving during the drain is answered");
    assert_eq!(late.status, 200);
    assert!(late.says_close(), "the late answer says Connection: close");
    let finished = finished.expect("the update in flight finishes");
    assert_eq!(finished.status, 200);
    assert!(finished.says_close());
    assert!(unused_closed.is_some(), "an unused connection is closed");
    assert!(
        unused_closed_after < Duration::from_secs(3),
        "{unused_closed_after:?}"
    );
    let exited = exited.expect("exit within 10 s of SIGTERM");
    assert!(exited.success(), "{exited:?}");
    println!("exited {:?} after SIGTERM", signalled.elapsed());
}
