//! The server's options: one typed struct, read from flags and environment
//! variables by clap. Each field's `///` line is its `--help` text.

use std::net::IpAddr;
use std::time::Duration;

use clap::Parser;

/// ajax-sessions: watch cookies and server-side sessions at work in AJAX requests.
#[derive(Debug, Clone, Parser)]
#[command(name = "ajax-sessions", version, about)]
pub struct Config {
    /// Address to bind.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on; 0 lets the operating system pick a free one.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// Seconds of inactivity after which a session expires.
    #[arg(
        long,
        env = "SESSION_IDLE_TIMEOUT",
        default_value_t = 1800,
        value_parser = clap::value_parser!(u64).range(1..=31_536_000)
    )]
    pub idle_timeout: u64,

    /// Seconds after which a session ends however active it is, counted
    /// from its creation and again from each login.
    #[arg(
        long,
        env = "SESSION_ABSOLUTE_TIMEOUT",
        default_value_t = 28_800,
        value_parser = clap::value_parser!(u64).range(1..=31_536_000)
    )]
    pub absolute_timeout: u64,

    /// Unsafe: login keeps the session id and CSRF token (the fixation
    /// defence off, to watch the attack work); only with a loopback --host.
    #[arg(long, env = "UNSAFE_KEEP_ID_ON_LOGIN")]
    pub unsafe_keep_id_on_login: bool,

    /// Most live sessions kept in memory.
    #[arg(
        long,
        env = "MAX_SESSIONS",
        default_value_t = 100_000,
        value_parser = clap::value_parser!(u64).range(1..=100_000_000)
    )]
    pub max_sessions: u64,

    /// Add the `Secure` attribute to the session cookie (use behind HTTPS).
    #[arg(long, env = "SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Port of the cross-origin lab's second origin; `0` = any free port;
    /// `off` = no lab.
    #[arg(long, env = "LAB_PORT", default_value = "3001", value_parser = parse_lab_port)]
    pub lab_port: LabPort,

    /// Where sessions live: `memory`, or `redis://HOST:PORT[/DB]` for a store
    /// shared by instances.
    #[arg(long = "store", env = "SESSION_STORE", default_value = "memory", value_parser = parse_store)]
    pub store: StoreChoice,

    /// The name this instance answers with (`served_by`, `X-Served-By`);
    /// default: the bound HOST:PORT.
    #[arg(long, env = "INSTANCE_NAME", value_parser = parse_instance)]
    pub instance: Option<String>,

    /// Seconds an idle keep-alive connection stays open between requests;
    /// keep it above the idle timeout of the proxy in front (nginx: 60).
    #[arg(
        long,
        env = "KEEP_ALIVE_TIMEOUT",
        default_value_t = 75,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub keep_alive_timeout: u64,
}

/// The lab's port, or none (`--lab-port off`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabPort {
    /// No lab listener.
    Off,
    /// The lab listens on this port (`0`: any free one).
    Port(u16),
}

/// `off`, or a port number.
fn parse_lab_port(text: &str) -> Result<LabPort, String> {
    if text == "off" {
        return Ok(LabPort::Off);
    }
    text.parse()
        .map(LabPort::Port)
        .map_err(|_| "expected a port number (0 = any free port) or `off`".into())
}

/// The session store chosen with `--store`.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum StoreChoice {
    /// This process's memory (bounded by `--max-sessions`).
    #[default]
    Memory,
    /// A Redis server, by URL (which may hold a password: never printed).
    Redis(String),
}

impl std::fmt::Debug for StoreChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory => f.write_str("Memory"),
            Self::Redis(url) => write!(f, "Redis({})", crate::store::redis::redacted_url(url)),
        }
    }
}

/// `memory`, or a `redis://` (or `rediss://`) URL.
fn parse_store(text: &str) -> Result<StoreChoice, String> {
    if text == "memory" {
        Ok(StoreChoice::Memory)
    } else if text.starts_with("redis://") || text.starts_with("rediss://") {
        Ok(StoreChoice::Redis(text.to_owned()))
    } else {
        Err("expected `memory` or a URL redis://HOST:PORT[/DB]".into())
    }
}

/// 1 to 64 visible ASCII characters: it goes into a response header.
fn parse_instance(text: &str) -> Result<String, String> {
    let fits = (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    if fits {
        Ok(text.to_owned())
    } else {
        Err("expected 1 to 64 visible ASCII characters, no spaces".into())
    }
}

impl Config {
    /// Reads the options from the command line and the environment. `--help`
    /// and `--version` print and exit 0; a bad value prints one line to stderr
    /// and exits 2.
    pub fn from_args_or_exit() -> Self {
        match Self::try_parse() {
            Ok(config) => config,
            Err(err) if !err.use_stderr() => err.exit(),
            Err(err) => {
                let rendered = err.to_string();
                let first_line = rendered.lines().next().unwrap_or("error: bad option");
                eprintln!("{first_line}");
                std::process::exit(2);
            }
        }
    }

    /// The instance's name: `--instance`, or else the address it is bound to.
    pub fn instance_name(&self, bound: std::net::SocketAddr) -> String {
        self.instance.clone().unwrap_or_else(|| bound.to_string())
    }

    /// Refuses combinations that parse but must not run: the fixation
    /// defence may be turned off only on a loopback address, where no one
    /// but this machine's user can be attacked through it.
    pub fn check(&self) -> Result<(), String> {
        if self.unsafe_keep_id_on_login && !self.host.is_loopback() {
            return Err(format!(
                "--unsafe-keep-id-on-login turns the session-fixation defence off; it is refused on {} (use a loopback --host such as 127.0.0.1)",
                self.host
            ));
        }
        Ok(())
    }

    /// The absolute timeout as a `Duration`.
    pub fn absolute_timeout(&self) -> Duration {
        Duration::from_secs(self.absolute_timeout)
    }

    /// The idle timeout as a `Duration`.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout)
    }

    /// The keep-alive timeout as a `Duration`.
    pub fn keep_alive_timeout(&self) -> Duration {
        Duration::from_secs(self.keep_alive_timeout)
    }
}

impl Default for Config {
    /// The defaults of `--help`, as if no flag or variable were given.
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 3000,
            idle_timeout: 1800,
            absolute_timeout: 28_800,
            unsafe_keep_id_on_login: false,
            max_sessions: 100_000,
            secure_cookies: false,
            lab_port: LabPort::Port(3001),
            store: StoreChoice::Memory,
            instance: None,
            keep_alive_timeout: 75,
        }
    }
}
