//! The session state's stored text: JSON, written and read without serde's
//! machinery for the one layout this app writes, byte for byte and value
//! for value what serde's derive on [`SessionState`] writes and reads.
//!
//! Every request that carries a session reads its state, and every change
//! writes it; through serde the reading alone was a tenth of a read's
//! instructions. [`SessionState::to_json`] writes the members in the order
//! declared, the optional ones left out as their attributes say, straight
//! into one buffer. [`SessionState::from_json`] reads exactly that layout
//! (integers without leading zeros, strings without escapes) and hands any
//! other text, a state saved by an earlier version say, to serde, so that
//! what it reads is always what serde would.

use serde::Deserialize as _;
use serde_json::value::RawValue;

use super::{DataText, SessionState};
use crate::json::JsonText;

impl SessionState {
    /// The state as it is stored.
    pub(super) fn to_json(&self) -> String {
        let data = self.data.json();
        let mut out = JsonText::with_capacity(224 + data.len());
        out.raw("{\"created_at\":");
        out.integer(self.created_at);
        out.raw(",\"expires_at_ms\":");
        out.integer(self.expires_at_ms);
        out.raw(",\"page_views\":");
        out.number(self.page_views);
        out.raw(",\"csrf_token\":");
        out.string(&self.csrf_token);
        out.raw(",\"data\":");
        out.raw(data);
        out.raw(",\"absolute_expires_at_ms\":");
        out.integer(self.absolute_expires_at_ms);
        if let Some(user) = &self.user {
            out.raw(",\"user\":");
            out.string(user);
        }
        if let Some(at) = self.authenticated_at {
            out.raw(",\"authenticated_at\":");
            out.integer(at);
        }
        if self.browser_session_cookie {
            out.raw(",\"browser_session_cookie\":true");
        }
        if !self.id_fingerprint.is_empty() {
            out.raw(",\"id_fingerprint\":");
            out.string(&self.id_fingerprint);
        }
        out.raw("}");
        out.into_string()
    }

    /// The state stored as `text`.
    pub(super) fn from_json(text: &str) -> serde_json::Result<Self> {
        match Reader::new(text).state() {
            Some(state) => Ok(state),
            None => serde_json::from_str(text),
        }
    }
}

/// Reads the layout [`SessionState::to_json`] writes; `None` at the first
/// byte that differs from it.
struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, at: 0 }
    }

    fn state(mut self) -> Option<SessionState> {
        self.expect("{\"created_at\":")?;
        let created_at = self.integer()?;
        self.expect(",\"expires_at_ms\":")?;
        let expires_at_ms = self.integer()?;
        self.expect(",\"page_views\":")?;
        let page_views = self.unsigned()?;
        self.expect(",\"csrf_token\":")?;
        let csrf_token = self.string()?.to_owned();
        self.expect(",\"data\":")?;
        let data = self.data()?;
        self.expect(",\"absolute_expires_at_ms\":")?;
        let absolute_expires_at_ms = self.integer()?;
        let user = match self.next_is(",\"user\":") {
            true => Some(self.string()?.to_owned()),
            false => None,
        };
        let authenticated_at = match self.next_is(",\"authenticated_at\":") {
            true => Some(self.integer()?),
            false => None,
        };
        let browser_session_cookie = self.next_is(",\"browser_session_cookie\":true");
        let id_fingerprint = match self.next_is(",\"id_fingerprint\":") {
            true => self.string()?.to_owned(),
            false => String::new(),
        };
        self.expect("}")?;
        (self.at == self.text.len()).then_some(SessionState {
            created_at,
            expires_at_ms,
            page_views,
            csrf_token,
            data,
            absolute_expires_at_ms,
            user,
            authenticated_at,
            browser_session_cookie,
            id_fingerprint,
        })
    }

    fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.at..).unwrap_or_default()
    }

    /// Whether `literal` comes next; if so, reads past it.
    fn next_is(&mut self, literal: &str) -> bool {
        let found = self.rest().starts_with(literal.as_bytes());
        if found {
            self.at += literal.len();
        }
        found
    }

    fn expect(&mut self, literal: &str) -> Option<()> {
        self.next_is(literal).then_some(())
    }

    /// A JSON integer without sign: digits, no leading zero.
    fn unsigned(&mut self) -> Option<u64> {
        let rest = self.rest();
        let mut value: u64 = 0;
        let mut digits = 0;
        for &byte in rest {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            // Nineteen digits always fit; a twentieth may not.
            value = if digits < 19 {
                value * 10 + u64::from(digit)
            } else {
                value.checked_mul(10)?.checked_add(u64::from(digit))?
            };
            digits += 1;
        }
        if digits == 0 || (digits > 1 && rest.first() == Some(&b'0')) {
            return None;
        }
        self.at += digits;
        Some(value)
    }

    /// A JSON integer that fits an `i64` (`-0` is left to serde).
    fn integer(&mut self) -> Option<i64> {
        if self.next_is("-") {
            let magnitude = self.unsigned().filter(|magnitude| *magnitude != 0)?;
            i64::try_from(-i128::from(magnitude)).ok()
        } else {
            i64::try_from(self.unsigned()?).ok()
        }
    }

    /// A JSON string with nothing escaped in it.
    fn string(&mut self) -> Option<&'a str> {
        self.expect("\"")?;
        let rest = self.text.get(self.at..)?;
        let text = rest.get(..memchr::memchr(b'"', rest.as_bytes())?)?;
        // Every byte, without stopping early (see `JsonText::string`).
        let escaped = text.bytes().fold(0u8, |escaped, byte| {
            escaped | u8::from(byte < 0x20) | u8::from(byte == b'\\')
        });
        if escaped != 0 {
            return None;
        }
        self.at += text.len() + 1;
        Some(text)
    }

    /// The learner's data, kept as text, read by serde_json (which checks
    /// it is JSON) as [`DataText`] reads it.
    fn data(&mut self) -> Option<DataText> {
        let rest = self.text.get(self.at..)?;
        if !rest.starts_with('{') {
            return None;
        }
        let mut deserializer = serde_json::Deserializer::from_str(rest);
        let raw = Box::<RawValue>::deserialize(&mut deserializer).ok()?;
        self.at += raw.get().len();
        Some(DataText(Some(raw)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::patch::Data;

    fn some_text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[A-Za-z0-9_-]{1,43}", any::<String>()]
    }

    fn an_integer() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            Just(0),
            Just(i64::MIN),
            Just(i64::MAX),
            1_700_000_000_000_i64..1_900_000_000_000
        ]
    }

    fn a_state() -> impl Strategy<Value = SessionState> {
        let numbers = (an_integer(), an_integer(), any::<u64>(), an_integer());
        let texts = (some_text(), proptest::option::of(some_text()), some_text());
        let data = proptest::collection::btree_map(some_text(), any::<Option<i64>>(), 0..4);
        let login = (proptest::option::of(an_integer()), any::<bool>());
        (numbers, texts, data, login).prop_map(|(numbers, texts, data, login)| {
            let (created_at, expires_at_ms, page_views, absolute_expires_at_ms) = numbers;
            let (csrf_token, user, id_fingerprint) = texts;
            let data: Data = data
                .into_iter()
                .map(|(key, value)| (key, value.map_or(Value::Null, Value::from)))
                .collect();
            SessionState {
                created_at,
                expires_at_ms,
                page_views,
                csrf_token,
                data: DataText::of(&data).unwrap(),
                absolute_expires_at_ms,
                user,
                authenticated_at: login.0,
                browser_session_cookie: login.1,
                id_fingerprint,
            }
        })
    }

    /// What serde reads, written back: states compare by their text.
    fn serde_reads(text: &str) -> Option<String> {
        serde_json::from_str::<SessionState>(text)
            .ok()
            .map(|state| serde_json::to_string(&state).unwrap())
    }

    proptest! {
        #[test]
        fn the_text_is_what_serde_writes_and_reads_back_as_serde_reads_it(state in a_state()) {
            let text = state.to_json();

            prop_assert_eq!(&text, &serde_json::to_string(&state).unwrap());
            let through = SessionState::from_json(&text).ok().map(|state| state.to_json());
            prop_assert_eq!(through, serde_reads(&text));
            // Read without serde unless a string needs an escape.
            let plain = |text: &str| !text.contains(|c: char| c == '"' || c == '\\' || c < ' ');
            let strings = [Some(&state.csrf_token), state.user.as_ref(), Some(&state.id_fingerprint)];
            if strings.into_iter().flatten().all(|text| plain(text)) {
                let read = Reader::new(&text).state().map(|state| state.to_json());
                prop_assert_eq!(read, Some(text));
            }
        }

        #[test]
        fn any_other_text_reads_as_serde_reads_it_or_goes_to_serde(
            state in a_state(),
            cut in any::<prop::sample::Index>(),
            insert in prop_oneof![
                Just(" "), Just("0"), Just("-"), Just("\\\\"), Just("\""), Just(","),
                Just("1.5"), Just("null"), Just("false"), Just("}"), Just("{"), Just("é"),
            ],
        ) {
            let text = state.to_json();
            let mut at = cut.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let changed = format!("{}{insert}{}", &text[..at], &text[at..]);

            let read = Reader::new(&changed).state().map(|state| state.to_json());
            let through = SessionState::from_json(&changed).ok().map(|state| state.to_json());

            prop_assert_eq!(&through, &serde_reads(&changed), "{}", changed);
            if read.is_some() {
                prop_assert_eq!(read, serde_reads(&changed), "{}", changed);
            }
        }
    }

    #[test]
    fn integers_at_the_edges_and_states_of_earlier_versions() {
        let layout = |created: &str| {
            format!(
                r#"{{"created_at":{created},"expires_at_ms":2,"page_views":3,"csrf_token":"t","data":{{}},"absolute_expires_at_ms":4}}"#
            )
        };
        for (created, expected) in [
            ("0", Some(0)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775807", Some(i64::MAX)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("-0", None),
            ("01", None),
            ("1.0", None),
            ("1e3", None),
        ] {
            let text = layout(created);
            let read = Reader::new(&text).state().map(|state| state.created_at);
            assert_eq!(read, expected, "{created}");
            let through = SessionState::from_json(&text).ok().map(|s| s.created_at);
            let serde = serde_json::from_str::<SessionState>(&text)
                .ok()
                .map(|s| s.created_at);
            assert_eq!(through, serde, "{created}");
        }
        // Before the absolute limit, the fingerprint and the login, with
        // members in another order and an escape: read by serde.
        let earlier = r#"{"page_views":3,"created_at":1,"expires_at_ms":2,"csrf_token":"t\u0041","data":{"a":1}}"#;
        assert!(Reader::new(earlier).state().is_none());
        let state = SessionState::from_json(earlier).unwrap();
        assert_eq!(
            (state.csrf_token.as_str(), state.absolute_expires_at_ms),
            ("tA", 0)
        );
        assert_eq!(state.data.json(), r#"{"a":1}"#);
    }
}
