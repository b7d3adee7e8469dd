//! The per-username throttle on failed logins: after
//! [`MAX_FAILURES`] failed attempts for one username within [`WINDOW`],
//! every attempt for that username (the right password too) is refused
//! until [`WINDOW`] after the last of them. It slows a password guesser
//! down to a handful of guesses a minute per account, and it refuses
//! before the password is checked, so a blocked guesser costs no Argon2
//! time.
//!
//! The counters are bounded: at most [`MAX_TRACKED`] usernames, the least
//! recently seen forgotten first, so a flood of made-up usernames cannot
//! grow the process. (Forgetting a username resets its count; a guesser
//! who floods 10,000 other names to do that has spent far more requests
//! than the guesses it wins back.)

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

/// Failed attempts for one username that start a block.
pub const MAX_FAILURES: usize = 5;
/// How far back failures count, and how long a block lasts after the last.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most usernames whose failures are remembered.
pub const MAX_TRACKED: usize = 10_000;

/// Failed attempts by username (see the module doc).
#[derive(Debug)]
pub struct LoginThrottle {
    attempts: Mutex<LruCache<String, Failures>>,
}

#[derive(Debug, Default)]
struct Failures {
    /// When the recent failures happened, oldest first; at most
    /// [`MAX_FAILURES`].
    at: Vec<Instant>,
    /// Until when every attempt is refused.
    blocked_until: Option<Instant>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::with_capacity(MAX_TRACKED)
    }
}

impl LoginThrottle {
    /// A throttle that remembers at most `capacity` usernames.
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            attempts: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// `Err(wait)` while `username` is blocked: how long until it is not.
    pub fn check(&self, username: &str, now: Instant) -> Result<(), Duration> {
        let mut attempts = self.lock();
        match attempts.get(username).and_then(|f| f.blocked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt; the fifth within the window starts a block.
    pub fn record_failure(&self, username: &str, now: Instant) {
        let mut attempts = self.lock();
        let failures = attempts.get_or_insert_mut(username.to_owned(), Failures::default);
        failures.at.retain(|at| now.duration_since(*at) < WINDOW);
        failures.at.push(now);
        if failures.at.len() >= MAX_FAILURES {
            failures.blocked_until = Some(now + WINDOW);
            failures.at.clear();
        }
    }

    /// Forgets the failures of a username that logged in.
    pub fn record_success(&self, username: &str) {
        self.lock().pop(username);
    }

    /// How many usernames are remembered.
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Failures>> {
        // Every statement leaves the map consistent; a panic cannot
        // leave it half-changed.
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fifth_failure_within_a_minute_blocks_for_a_minute() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for second in 0..4 {
            throttle.record_failure("alice", start + Duration::from_secs(second));
            assert!(throttle
                .check("alice", start + Duration::from_secs(second))
                .is_ok());
        }
        let fifth = start + Duration::from_secs(10);
        throttle.record_failure("alice", fifth);

        assert_eq!(throttle.check("alice", fifth), Err(WINDOW));
        let later = fifth + Duration::from_secs(59);
        assert_eq!(throttle.check("alice", later), Err(Duration::from_secs(1)));
        assert!(throttle.check("alice", fifth + WINDOW).is_ok());
        assert!(throttle.check("bob", fifth).is_ok());
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for minute in 0..10 {
            throttle.record_failure("bob", start + Duration::from_secs(61 * minute));
        }
        assert!(throttle
            .check("bob", start + Duration::from_secs(610))
            .is_ok());
    }

    #[test]
    fn a_success_forgets_the_failures() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..4 {
            throttle.record_failure("alice", now);
        }
        throttle.record_success("alice");
        throttle.record_failure("alice", now);
        assert!(throttle.check("alice", now).is_ok());
    }

    #[test]
    fn the_oldest_usernames_are_forgotten_first() {
        let throttle = LoginThrottle::with_capacity(3);
        let now = Instant::now();
        for _ in 0..5 {
            throttle.record_failure("first", now);
        }
        for name in ["a", "b", "c"] {
            throttle.record_failure(name, now);
        }
        assert_eq!(throttle.tracked(), 3);
        assert!(throttle.check("first", now).is_ok());
    }
}
