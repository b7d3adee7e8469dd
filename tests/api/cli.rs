//! The binary's options, start-up line and shutdown, as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::cookie::Jar;

use crate::helpers::{cookie_client, TestApp};

pub const BINARY: &str = env!("CARGO_BIN_EXE_ajax-sessions");

/// Starts the binary on a free port with this `RUST_LOG`; returns the child
/// (stderr piped) and the base URL its `listening on` line announced.
fn start_server(rust_log: &str) -> (Child, String) {
    start_server_with(&[], rust_log)
}

/// [`start_server`] with more options. Without `--port`, the OS picks one.
pub fn start_server_with(args: &[&str], rust_log: &str) -> (Child, String) {
    start_command(Command::new(BINARY), args, rust_log)
}

/// [`start_server_with`] through `command`: the binary, or a program that
/// runs it (`taskset`).
fn start_command(mut command: Command, args: &[&str], rust_log: &str) -> (Child, String) {
    // Every test server names its lab port: the default (3001) is fixed,
    // and tests run side by side.
    let lab = if args.contains(&"--lab-port") {
        &[][..]
    } else {
        &["--lab-port", "off"][..]
    };
    let port = if args.contains(&"--port") {
        &[][..]
    } else {
        &["--port", "0"][..]
    };
    let mut child = command
        .args(port)
        .args(lab)
        .args(args)
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a line");
    let Some(base) = line.trim().strip_prefix("listening on ").map(str::to_owned) else {
        // The server stopped before listening: its error is on stderr.
        let _ = child.kill();
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        panic!("unexpected first line: {line:?}; stderr: {stderr}");
    };
    (child, base)
}

/// The binary, running; killed (SIGKILL) if the test ends without stopping it.
pub struct Server {
    child: Option<Child>,
    /// `127.0.0.1:PORT`, as the `listening on` line gave it.
    pub address: String,
}

impl Server {
    /// Starts the binary with `args` (logging off: nobody reads its stderr,
    /// and a full pipe would block it).
    pub fn start(args: &[&str]) -> Self {
        let (child, base) = start_server_with(args, "off");
        let address = base.trim_start_matches("http://").to_owned();
        Self {
            child: Some(child),
            address,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Waits, at most `limit`, for an exit that a signal already asked for.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut()?;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends SIGTERM and waits, at most ten seconds, for the exit.
pub fn stop_with_sigterm(child: &mut Child) -> ExitStatus {
    stop_with_signal(child, "TERM")
}

/// Sends `signal` (`TERM`, `INT`) and waits, at most ten seconds, for the
/// exit.
fn stop_with_signal(child: &mut Child, signal: &str) -> ExitStatus {
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "no exit after SIG{signal}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn help_names_every_option_and_its_variable() {
    let output = Command::new(BINARY)
        .arg("--help")
        .output()
        .expect("run --help");

    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for word in [
        "--host",
        "HOST",
        "--port",
        "PORT",
        "--idle-timeout",
        "SESSION_IDLE_TIMEOUT",
        "--max-sessions",
        "MAX_SESSIONS",
        "--secure-cookies",
        "SECURE_COOKIES",
        "--store",
        "SESSION_STORE",
        "--instance",
        "INSTANCE_NAME",
        "--lab-port",
        "LAB_PORT",
        "--keep-alive-timeout",
        "KEEP_ALIVE_TIMEOUT",
        "--absolute-timeout",
        "SESSION_ABSOLUTE_TIMEOUT",
        "--unsafe-keep-id-on-login",
        "UNSAFE_KEEP_ID_ON_LOGIN",
    ] {
        assert!(help.contains(word), "{word} in:\n{help}");
    }
}

#[test]
fn a_bad_option_value_exits_non_zero_with_one_line() {
    for args in [
        &["--port", "seventy"][..],
        &["--idle-timeout", "0"][..],
        &["--max-sessions", "-5"][..],
        &["--host", "not an address"][..],
        &["--store", "postgres://x"][..],
        &["--instance", "has space"][..],
        &["--lab-port", "on"][..],
        &["--keep-alive-timeout", "0"][..],
        &["--keep-alive-timeout", "-5"][..],
        &["--keep-alive-timeout", "1.5"][..],
        &["--keep-alive-timeout", "soon"][..],
        &["--absolute-timeout", "0"][..],
        &["--absolute-timeout", "-5"][..],
        &["--absolute-timeout", "1.5"][..],
        &["--absolute-timeout", "a day"][..],
        &["--no-such-flag"][..],
    ] {
        let output = Command::new(BINARY).args(args).output().expect("run");
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error:"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_bad_environment_value_exits_non_zero() {
    for (variable, value) in [
        ("PORT", "http"),
        ("KEEP_ALIVE_TIMEOUT", "0"),
        ("SESSION_ABSOLUTE_TIMEOUT", "0"),
    ] {
        let output = Command::new(BINARY)
            .env(variable, value)
            .output()
            .expect("run");

        assert!(!output.status.success(), "{variable}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn the_unsafe_login_flag_is_refused_unless_the_host_is_loopback() {
    for (host, by_env) in [("0.0.0.0", false), ("::", false), ("0.0.0.0", true)] {
        let mut command = Command::new(BINARY);
        command.args(["--host", host, "--port", "0", "--lab-port", "off"]);
        if by_env {
            command.env("UNSAFE_KEEP_ID_ON_LOGIN", "true");
        } else {
            command.arg("--unsafe-keep-id-on-login");
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run");
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{host}: still running with the flag on a public address");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
            .expect("stderr");

        assert!(!status.success(), "{host}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{host}: {stderr}");
        assert!(stderr.contains("--unsafe-keep-id-on-login"), "{stderr}");
    }
}

#[tokio::test]
async fn the_unsafe_login_flag_runs_on_loopback() {
    let server = Server::start(&["--unsafe-keep-id-on-login"]);

    let body: serde_json::Value = reqwest::get(format!("{}/get-session-data", server.base()))
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");

    assert_eq!(body["fixation_defence"], false);
}

#[tokio::test]
async fn port_zero_prints_the_real_address_and_sigterm_stops_cleanly() {
    let (mut child, base) = start_server("off");

    let port: u16 = base
        .strip_prefix("http://")
        .and_then(|address| address.rsplit(':').next())
        .and_then(|port| port.parse().ok())
        .expect("http:// and a port");
    assert_ne!(port, 0);
    let health = reqwest::get(format!("{base}/healthz"))
        .await
        .expect("GET /healthz");
    assert_eq!(health.text().await.expect("body"), "ok");

    let status = stop_with_sigterm(&mut child);
    assert!(status.success(), "{status:?}");
}

#[test]
fn ctrl_c_right_after_the_listening_line_stops_cleanly() {
    // As a learner's Ctrl-C, or a script that stops the server as soon as
    // it has its address: nothing in between gives the server time to
    // finish starting up.
    for _ in 0..5 {
        let (mut child, _) = start_server("off");

        let status = stop_with_signal(&mut child, "INT");

        assert!(status.success(), "{status:?}");
    }
}

/// The names of a process's threads.
fn thread_names(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/PID/task");
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

/// The binary under `taskset -c 0`: tokio's single-threaded scheduler. None,
/// with SKIPPED said, without taskset (a failure under `CI=true`).
fn pinned_to_one_cpu() -> Option<Command> {
    // taskset comes with util-linux, in every Debian system.
    if Command::new("taskset").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").map_or(true, |value| value != "true"),
            "taskset is required in CI (apt-get install util-linux)"
        );
        eprintln!("SKIPPED: taskset is not installed (apt-get install util-linux)");
        return None;
    }
    let mut pinned = Command::new("taskset");
    pinned.args(["-c", "0", BINARY]);
    Some(pinned)
}

#[tokio::test]
async fn on_one_cpu_one_thread_serves_a_login_and_stops_cleanly() {
    let Some(pinned) = pinned_to_one_cpu() else {
        return;
    };
    let (mut child, base) = start_command(pinned, &[], "off");
    let before_login = thread_names(child.id());
    let jar = Arc::new(Jar::default());
    let app = TestApp {
        address: base,
        client: cookie_client(jar.clone()),
        jar,
        memory: None,
    };

    let login = app.login("alice", "wonderland", false).await;
    let update = app.update(&serde_json::json!({"color": "blue"})).await;
    let data = app.data().await;
    let status = stop_with_sigterm(&mut child);

    // One CPU: tokio's single-threaded scheduler, no worker threads.
    assert!(
        !before_login.iter().any(|name| name.starts_with("tokio-")),
        "{before_login:?}"
    );
    // The password is still checked off the serving thread, and answered.
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(update.status, 200, "{}", update.text);
    assert_eq!(data["color"], "blue");
    assert!(status.success(), "{status:?}");
}

/// The session id a response's `Set-Cookie` gives.
fn session_id_set_by(response: &reqwest::Response) -> Option<String> {
    let header = response.headers().get("set-cookie")?.to_str().ok()?;
    let value = header.strip_prefix("session_id=")?.split(';').next()?;
    Some(value.to_owned())
}

#[tokio::test]
async fn no_log_line_carries_a_session_id_or_token_even_at_trace_level() {
    let (mut child, base) = start_server("trace");
    let stderr = child.stderr.take().expect("stderr");
    let log_reader = std::thread::spawn(move || {
        let mut log = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut log).expect("log");
        log
    });

    // A whole session: create, read, update, regenerate, replay the old id, clear.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let page = client.get(format!("{base}/")).send().await.expect("GET /");
    let first_id = session_id_set_by(&page).expect("a session cookie");
    let data: serde_json::Value = client
        .get(format!("{base}/get-session-data"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let token = data["csrf_token"].as_str().expect("token").to_owned();
    let regenerated = client
        .post(format!("{base}/regenerate-session"))
        .header("x-csrf-token", &token)
        .send()
        .await
        .expect("POST");
    let second_id = session_id_set_by(&regenerated).expect("a new session cookie");
    let new_token = regenerated.json::<serde_json::Value>().await.expect("JSON")["csrf_token"]
        .as_str()
        .expect("token")
        .to_owned();
    reqwest::Client::new()
        .get(format!("{base}/get-session-data"))
        .header("cookie", format!("session_id={first_id}"))
        .send()
        .await
        .expect("GET with the old id");
    client
        .post(format!("{base}/clear-session"))
        .header("x-csrf-token", &new_token)
        .send()
        .await
        .expect("POST");

    stop_with_sigterm(&mut child);
    let log = log_reader.join().expect("log thread");
    assert!(
        log.contains("/regenerate-session"),
        "the log has the requests:\n{log}"
    );
    for secret in [&first_id, &second_id, &token, &new_token] {
        assert!(
            !log.contains(secret.as_str()),
            "a secret appears in the log:\n{log}"
        );
    }
}

/// Reads a child's stderr line by line on a thread of its own.
fn log_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    received
}

/// How many of the request log's lines for `path` arrive within `wait`,
/// counting up to `want`.
fn request_lines(
    log: &std::sync::mpsc::Receiver<String>,
    path: &str,
    want: usize,
    wait: Duration,
) -> usize {
    let deadline = Instant::now() + wait;
    let mut found = 0;
    while found < want {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        match log.recv_timeout(left) {
            Ok(line) if line.contains(&format!(" {path} 200 ")) => found += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    found
}

/// Log lines are gathered while the runtime is busy: each must still reach
/// stderr as soon as the server is idle, and none may be lost at shutdown.
async fn request_log_lines_arrive_when_idle_and_all_by_exit(command: Command) {
    let (mut child, base) = start_command(command, &[], "ajax_sessions=info");
    let log = log_lines(&mut child);
    let client = reqwest::Client::new();

    // One click: its line appears while the server keeps running.
    let one = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("GET");
    assert_eq!(one.status(), 200);
    assert_eq!(
        request_lines(&log, "/healthz", 1, Duration::from_secs(2)),
        1,
        "the line of one request, within 2 s, with the server still up"
    );

    // A burst: every line, whether written while serving or at exit.
    let burst = (0..200).map(|_| client.get(format!("{base}/healthz")).send());
    for reply in futures_util::future::join_all(burst).await {
        assert_eq!(reply.expect("GET").status(), 200);
    }
    let status = stop_with_sigterm(&mut child);
    assert!(status.success(), "{status:?}");
    assert_eq!(
        request_lines(&log, "/healthz", 200, Duration::from_secs(5)),
        200,
        "a line for every request of the burst"
    );
    let rest: Vec<String> = log.iter().collect();
    assert!(
        rest.iter().any(|line| line.ends_with("shutting down")),
        "the shutdown's own line: {rest:?}"
    );
}

#[tokio::test]
async fn request_log_lines_arrive_when_idle_and_all_by_exit_on_several_threads() {
    request_log_lines_arrive_when_idle_and_all_by_exit(Command::new(BINARY)).await;
}

#[tokio::test]
async fn request_log_lines_arrive_when_idle_and_all_by_exit_on_one_thread() {
    let Some(pinned) = pinned_to_one_cpu() else {
        return;
    };
    request_log_lines_arrive_when_idle_and_all_by_exit(pinned).await;
}
