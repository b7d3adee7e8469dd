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

use serde::Serialize;
use time::OffsetDateTime;

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
        // Without stopping early, so that the compiler checks many bytes
        // at once.
        let plain = text.bytes().fold(true, |plain, byte| {
            plain & (byte >= 0x20) & (byte != b'"') & (byte != b'\\')
        });
        if plain {
            self.0.reserve(text.len() + 2);
            self.0.push(b'"');
            self.0.extend_from_slice(text.as_bytes());
            self.0.push(b'"');
        } else {
            // Writing a string into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.0, text);
        }
    }

    /// Appends `number`.
    pub fn number(&mut self, number: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = number;
        loop {
            start -= 1;
            digits[start] = b"0123456789"[(rest % 10) as usize];
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.0.extend_from_slice(&digits[start..]);
    }

    /// Appends `number`.
    pub fn integer(&mut self, number: i64) {
        if number < 0 {
            self.0.push(b'-');
        }
        self.number(number.unsigned_abs());
    }

    /// Appends `time` as a JSON string.
    pub fn time(&mut self, time: &Rfc3339) {
        self.0.reserve(time.0.len() + 2);
        self.0.push(b'"');
        self.0.extend_from_slice(&time.0);
        self.0.push(b'"');
    }

    /// Appends `true` or `false`.
    pub fn boolean(&mut self, value: bool) {
        self.raw(if value { "true" } else { "false" });
    }

    /// Appends any serializable value, through serde_json.
    pub fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> serde_json::Result<()> {
        serde_json::to_writer(&mut self.0, value)
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

/// A moment as RFC 3339 in UTC to the second (`2026-11-26T09:00:00Z`),
/// as the `time` crate's `Rfc3339` writes it.
#[derive(Clone, Copy, Debug)]
pub struct Rfc3339([u8; 20]);

impl Rfc3339 {
    /// Unix seconds; `None` outside the years 0 to 9999, which RFC 3339
    /// cannot write.
    pub fn of(unix_seconds: i64) -> Option<Self> {
        let time = OffsetDateTime::from_unix_timestamp(unix_seconds).ok()?;
        let (year, month, day) = time.to_calendar_date();
        let year = u16::try_from(year).ok().filter(|year| *year < 10_000)?;
        let (hour, minute, second) = time.to_hms();
        let mut text = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, value: u16, width: usize| {
            let mut rest = value;
            for place in (at..at + width).rev() {
                text[place] = b"0123456789"[usize::from(rest % 10)];
                rest /= 10;
            }
        };
        put(0, year, 4);
        put(5, u16::from(u8::from(month)), 2);
        put(8, u16::from(day), 2);
        put(11, u16::from(hour), 2);
        put(14, u16::from(minute), 2);
        put(17, u16::from(second), 2);
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
