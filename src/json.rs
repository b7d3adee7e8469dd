//! JSON text written straight into a buffer, for the replies that every
//! request builds. A leaf.
//!
//! serde_json's serializer writes each key, colon, comma and quote with a
//! call of its own and escapes every string a byte at a time; for the
//! session endpoints' reply that was a sixth of a read's instructions. Here
//! the fixed parts of a reply (keys, punctuation) are written as one piece
//! of text each, a string with nothing to escape (the common case: times,
//! tokens, names) is copied whole, and anything else goes through
//! serde_json, so the text is byte for byte what serde_json writes.

/// A JSON text being written.
#[derive(Debug)]
pub struct JsonText(Vec<u8>);

impl JsonText {
    /// An empty text with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    /// Appends `json`, which must already be JSON text (keys with their
    /// quotes, punctuation, literals).
    pub fn raw(&mut self, json: &str) {
        self.0.extend_from_slice(json.as_bytes());
    }

    /// Appends `text` as a JSON string.
    pub fn string(&mut self, text: &str) {
        // Every byte, without stopping early: the compiler then checks
        // many bytes at once.
        let escape = text.bytes().fold(0u8, |escape, byte| {
            escape | u8::from(byte < 0x20) | u8::from(byte == b'"') | u8::from(byte == b'\\')
        });
        if escape == 0 {
            self.quoted(text.as_bytes());
        } else {
            // Writing a string into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.0, text);
        }
    }

    /// Appends `bytes`, which need no escaping, in quotes.
    fn quoted(&mut self, bytes: &[u8]) {
        self.0.reserve(bytes.len() + 2);
        self.0.push(b'"');
        self.0.extend_from_slice(bytes);
        self.0.push(b'"');
    }

    /// Appends `number`.
    pub fn number(&mut self, number: u64) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(number).as_bytes());
    }

    /// Appends `number`.
    pub fn integer(&mut self, number: i64) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(number).as_bytes());
    }

    /// Appends `time` as a JSON string.
    pub fn time(&mut self, time: &Rfc3339) {
        self.quoted(&time.0);
    }

    /// Appends `true` or `false`.
    pub fn boolean(&mut self, value: bool) {
        self.raw(if value { "true" } else { "false" });
    }

    /// The text's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The text.
    pub fn into_string(self) -> String {
        // Only ever `str`s were appended.
        String::from_utf8(self.0)
            .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
    }
}

/// `00` to `99`.
const TWO_DIGITS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// A moment as RFC 3339 in UTC to the second (`2026-11-26T09:00:00Z`),
/// as the `time` crate's `Rfc3339` writes it.
#[derive(Clone, Copy, Debug)]
pub struct Rfc3339([u8; 20]);

impl Rfc3339 {
    /// Unix seconds; `None` outside the years 0 to 9999, which RFC 3339
    /// cannot write.
    pub fn of(unix_seconds: i64) -> Option<Self> {
        const DAY: i64 = 86_400;
        let days = unix_seconds.div_euclid(DAY);
        let second_of_day = u32::try_from(unix_seconds.rem_euclid(DAY)).ok()?;
        // The civil calendar from a day count: Howard Hinnant's
        // `civil_from_days`, in 400-year eras counted from 0000-03-01.
        let shifted = days.checked_add(719_468)?;
        let era = shifted.div_euclid(146_097);
        let day_of_era = u32::try_from(shifted.rem_euclid(146_097)).ok()?;
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = era
            .checked_mul(400)?
            .checked_add(i64::from(year_of_era) + i64::from(month <= 2))?;
        let year = u32::try_from(year).ok().filter(|year| *year < 10_000)?;
        let mut text = *b"0000-00-00T00:00:00Z";
        for (at, value) in [
            (0, year / 100),
            (2, year % 100),
            (5, month),
            (8, day),
            (11, second_of_day / 3600),
            (14, second_of_day / 60 % 60),
            (17, second_of_day % 60),
        ] {
            let pair = usize::try_from(value * 2).unwrap_or(0);
            text[at..at + 2].copy_from_slice(&TWO_DIGITS[pair..pair + 2]);
        }
        Some(Self(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Digits and ASCII punctuation only.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::format_description::well_known;
    use time::OffsetDateTime;

    use super::*;

    fn as_string(text: JsonText) -> String {
        String::from_utf8(text.into_bytes()).unwrap()
    }

    proptest! {
        #[test]
        fn strings_are_written_as_serde_json_writes_them(text in any::<String>()) {
            let mut ours = JsonText::with_capacity(0);
            ours.string(&text);
            prop_assert_eq!(as_string(ours), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn numbers_are_written_as_serde_json_writes_them(number in any::<u64>()) {
            let mut ours = JsonText::with_capacity(0);
            ours.number(number);
            prop_assert_eq!(as_string(ours), serde_json::to_string(&number).unwrap());
        }

        #[test]
        fn integers_are_written_as_serde_json_writes_them(number in any::<i64>()) {
            let mut ours = JsonText::with_capacity(0);
            ours.integer(number);
            prop_assert_eq!(ours.into_string(), serde_json::to_string(&number).unwrap());
        }

        #[test]
        fn times_are_written_as_the_time_crate_writes_them(seconds in any::<i64>()) {
            let theirs = OffsetDateTime::from_unix_timestamp(seconds)
                .ok()
                .and_then(|time| time.format(&well_known::Rfc3339).ok());
            let ours = Rfc3339::of(seconds).map(|time| time.as_str().to_owned());
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn strings_that_need_escaping_are_escaped() {
        let mut text = JsonText::with_capacity(0);
        for piece in ["a\"b", "c\\d", "e\nf\u{1}", "é\u{7f}", ""] {
            text.string(piece);
            text.raw(",");
        }
        assert_eq!(
            as_string(text),
            r#""a\"b","c\\d","e\nf\u0001","é\u{7f}","","#.replace("\\u{7f}", "\u{7f}")
        );
    }

    #[test]
    fn times_at_the_edges() {
        let cases = [
            (0, Some("1970-01-01T00:00:00Z")),
            (1_795_683_600, Some("2026-11-26T09:00:00Z")),
            (-62_167_219_200, Some("0000-01-01T00:00:00Z")),
            (-62_167_219_201, None),
            (253_402_300_799, Some("9999-12-31T23:59:59Z")),
            (253_402_300_800, None),
            (i64::MAX, None),
        ];
        for (seconds, expected) in cases {
            let text = Rfc3339::of(seconds);
            assert_eq!(text.as_ref().map(Rfc3339::as_str), expected, "{seconds}");
        }
    }
}
