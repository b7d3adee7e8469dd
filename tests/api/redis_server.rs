//! A private `redis-server` per test: a free port on 127.0.0.1, no
//! persistence, stopped by PID when dropped.
//!
//! Without `redis-server` a test prints `SKIPPED` and passes, except under
//! `CI=true`, where it fails: `.ci/run` installs Debian's `redis-server`.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REDIS_SERVER: &str = "redis-server";

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    /// `--requirepass`, when the server asks for one.
    password: Option<String>,
}

impl RedisServer {
    /// Starts a private server, or says SKIPPED and returns `None` when
    /// there is no `redis-server` (a failure under `CI=true`).
    pub fn start_or_skip(test: &str) -> Option<Self> {
        Self::start_with_or_skip(test, None)
    }

    /// Starts a private server that asks every client for `password`
    /// (`--requirepass`); `url` and `connection` give it.
    pub fn start_with_password_or_skip(test: &str, password: &str) -> Option<Self> {
        Self::start_with_or_skip(test, Some(password.to_owned()))
    }

    fn start_with_or_skip(test: &str, password: Option<String>) -> Option<Self> {
        let found = Command::new(REDIS_SERVER)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok();
        if !found {
            assert!(
                std::env::var("CI").map_or(true, |value| value != "true"),
                "redis-server is required in CI (apt-get install redis-server)"
            );
            println!("SKIPPED {test}: redis-server not found: install redis-server to run it");
            eprintln!("SKIPPED {test}: redis-server not found: install redis-server to run it");
            return None;
        }
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free port");
        let mut server = Self {
            child: None,
            port,
            password,
        };
        server.restart();
        Some(server)
    }

    /// `redis://127.0.0.1:PORT`, or `redis://:PASSWORD@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Stops the server (SIGKILL by PID, as a crash would) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty, and waits until it
    /// accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        let mut command = Command::new(REDIS_SERVER);
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Freezes the server (SIGSTOP by PID): connections stay open and
    /// nothing is answered, as with a Redis stalled by a long command.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("a running server").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// A connection for looking at keys.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        self.connection_to(0).await
    }

    /// A connection for looking at the keys of database `index`.
    pub async fn connection_to(&self, index: u8) -> redis::aio::MultiplexedConnection {
        redis::Client::open(format!("{}/{index}", self.url()))
            .expect("a URL")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to redis")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            // A paused server does not die of SIGKILL until it runs again.
            self.resume();
        }
        self.stop();
    }
}
