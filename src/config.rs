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

    /// The idle timeout as a `Duration`.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout)
    }
}

impl Default for Config {
    /// The defaults of `--help`, as if no flag or variable were given.
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 3000,
            idle_timeout: 1800,
            max_sessions: 100_000,
            secure_cookies: false,
        }
    }
}
