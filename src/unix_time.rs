//! Now, as Unix time from the system clock: what the session's state and
//! both stores compare expiries with. Read directly, not through
//! `time::OffsetDateTime::now_utc`, whose calendar date is most of its
//! cost. A clock set before 1970 gives negative times.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, Unix milliseconds.
pub fn now_millis() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// Now, Unix nanoseconds.
pub fn now_nanos() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i128::try_from(since.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => i128::try_from(before.duration().as_nanos()).map_or(i128::MIN, |ns| -ns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_readings_are_the_same_time() {
        let millis = now_millis();
        let nanos = now_nanos();
        let later = now_millis();
        let nanos_as_millis = i64::try_from(nanos / 1_000_000).unwrap();
        assert!(millis <= nanos_as_millis && nanos_as_millis <= later);
        // After 2020, before 2100: read from the system clock, in these units.
        assert!((1_577_836_800_000..4_102_444_800_000).contains(&millis));
    }
}
