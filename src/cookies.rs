//! Reading the `Cookie` request header, and echoing `Set-Cookie` for the page.
//! A leaf: what a cookie header says, for every module that reads one.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Serialize, Serializer};
use tower_sessions::session::Id;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "session_id";

/// The theme cookie that the page's JavaScript writes.
pub const THEME_COOKIE: &str = "theme";

/// The response header that repeats `Set-Cookie` for scripts, which may not
/// read `Set-Cookie` itself (a forbidden response header name).
pub static SET_COOKIE_ECHO: HeaderName = HeaderName::from_static("x-set-cookie-echo");

/// Every `name=value` pair of every `Cookie` header, in the order sent.
/// Pairs without `=` or with an empty name are skipped; headers that are
/// not visible ASCII are ignored.
pub fn cookie_pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    pairs_of(headers.get_all(COOKIE).iter())
}

fn pairs_of<'a>(
    cookie_headers: impl Iterator<Item = &'a HeaderValue>,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    cookie_headers
        .filter_map(|value| value.to_str().ok())
        .flat_map(Pairs)
}

/// The `name=value` pairs of one `Cookie` header. memchr finds `;` and `=`
/// several bytes at a time, in fewer instructions than `split`'s search.
struct Pairs<'a>(&'a str);

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.0.is_empty() {
            let end = memchr::memchr(b';', self.0.as_bytes());
            let (pair, rest) = match end {
                Some(at) => (self.0.get(..at)?, self.0.get(at + 1..)?),
                None => (self.0, ""),
            };
            self.0 = rest;
            let Some(equals) = memchr::memchr(b'=', pair.as_bytes()) else {
                continue;
            };
            let name = pair.get(..equals)?.trim_ascii();
            if !name.is_empty() {
                return Some((name, pair.get(equals + 1..)?.trim_ascii()));
            }
        }
        None
    }
}

/// The `Cookie` headers of a request, for handlers. Cloning a header value
/// shares its bytes, so taking them costs no copy; a request has one
/// `Cookie` header or none (HTTP/1.1), so that case takes no allocation.
#[derive(Debug, Default)]
pub struct ReceivedCookies(CookieHeaders);

#[derive(Debug, Default)]
enum CookieHeaders {
    #[default]
    None,
    One(HeaderValue),
    Many(Vec<HeaderValue>),
}

impl CookieHeaders {
    fn iter(&self) -> std::slice::Iter<'_, HeaderValue> {
        match self {
            Self::None => [].iter(),
            Self::One(value) => std::slice::from_ref(value).iter(),
            Self::Many(values) => values.iter(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ReceivedCookies {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Self::of(&parts.headers))
    }
}

impl ReceivedCookies {
    /// The `Cookie` headers of `headers`.
    pub fn of(headers: &HeaderMap) -> Self {
        let all = headers.get_all(COOKIE);
        let mut values = all.iter();
        Self(match (values.next(), values.next()) {
            (None, _) => CookieHeaders::None,
            (Some(one), None) => CookieHeaders::One(one.clone()),
            (Some(_), Some(_)) => CookieHeaders::Many(all.iter().cloned().collect()),
        })
    }

    /// The names of the cookies sent, in order. Values are never exposed
    /// here, so they cannot leak into a reply.
    pub fn names(&self) -> CookieNames<'_> {
        CookieNames(self)
    }

    /// The theme the page's script chose (the `theme` cookie): `dark`, or
    /// `light` for anything else. Both listeners render it into
    /// `<html data-theme>`, so a page has its theme from the first paint.
    pub fn theme(&self) -> &'static str {
        match self.value(THEME_COOKIE) {
            Some("dark") => "dark",
            _ => "light",
        }
    }

    /// The request's `session_id` cookies ([`session_cookie`]'s rule).
    pub fn session_cookie(&self) -> SessionCookie<'_> {
        session_cookie_among(pairs_of(self.0.iter()))
    }

    /// The value of the first cookie with this name.
    pub fn value(&self, name: &str) -> Option<&str> {
        pairs_of(self.0.iter()).find_map(|(n, value)| (n == name).then_some(value))
    }
}

/// The cookie names of a request; serializes as a JSON array of strings.
#[derive(Debug, Clone, Copy)]
pub struct CookieNames<'a>(&'a ReceivedCookies);

impl<'a> CookieNames<'a> {
    /// The names, in the order sent.
    pub fn iter(self) -> impl Iterator<Item = &'a str> {
        pairs_of(self.0 .0.iter()).map(|(name, _)| name)
    }
}

impl Serialize for CookieNames<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// What a request's `session_id` cookies name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionCookie<'a> {
    /// No `session_id` cookie came.
    Absent,
    /// Exactly one, with this value.
    One(&'a str),
    /// Two or more (a cookie-tossing attempt, or a stale cookie from
    /// another path): they count as none, since the server cannot know
    /// which one the browser meant.
    Several,
}

impl SessionCookie<'_> {
    /// The id the one cookie names, if it is one this server could have
    /// issued; `None` for no cookie, several, or a value that is no id.
    pub fn id(self) -> Option<Id> {
        match self {
            Self::One(value) => decode_id(value),
            Self::Absent | Self::Several => None,
        }
    }
}

/// The request's `session_id` cookies: none, one, or several. The one rule
/// both listeners follow.
pub fn session_cookie(headers: &HeaderMap) -> SessionCookie<'_> {
    session_cookie_among(cookie_pairs(headers))
}

fn session_cookie_among<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> SessionCookie<'a> {
    let mut values = pairs
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value);
    match (values.next(), values.next()) {
        (None, _) => SessionCookie::Absent,
        (Some(value), None) => SessionCookie::One(value),
        (Some(_), Some(_)) => SessionCookie::Several,
    }
}

/// Appends `id` as the cookie carries it: what `Id`'s `Display` writes,
/// without the formatting machinery.
pub fn push_session_id(text: &mut String, id: Id) {
    let encoded = encode_id(id);
    // The alphabet is ASCII.
    text.push_str(std::str::from_utf8(&encoded).unwrap_or_default());
}

/// URL-safe base64's alphabet.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Each byte's value in [`ALPHABET`], or [`NOT_BASE64`].
const DECODE: [u8; 256] = {
    let mut table = [NOT_BASE64; 256];
    let mut value = 0;
    while value < 64 {
        table[ALPHABET[value] as usize] = value as u8;
        value += 1;
    }
    table
};
const NOT_BASE64: u8 = 0xff;

/// An id as the cookie carries it: its 16 bytes, little-endian, in
/// URL-safe base64 without padding, 22 characters. What `Id`'s `Display`
/// writes (through the base64 crate), written directly: 16 bytes need
/// none of a general encoder's bookkeeping.
fn encode_id(id: Id) -> [u8; 22] {
    let bytes = id.0.to_le_bytes();
    let mut text = [0u8; 22];
    for (group, chunk) in bytes.chunks_exact(3).enumerate() {
        let bits = u32::from_be_bytes([0, chunk[0], chunk[1], chunk[2]]);
        for (place, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            text[group * 4 + place] = ALPHABET[((bits >> shift) & 63) as usize];
        }
    }
    // The sixteenth byte: two characters, the second padded with zero bits.
    let last = bytes[15];
    text[20] = ALPHABET[usize::from(last >> 2)];
    text[21] = ALPHABET[usize::from((last & 3) << 4)];
    text
}

/// The id a cookie value names: what `Id`'s `FromStr` accepts (22
/// characters of the alphabet, the unused low bits of the last one zero),
/// read directly.
fn decode_id(text: &str) -> Option<Id> {
    let text: &[u8; 22] = text.as_bytes().try_into().ok()?;
    let values = text.map(|byte| DECODE[usize::from(byte)]);
    // A value of the alphabet has its two high bits clear; NOT_BASE64 not.
    let high_bits = values.iter().fold(0, |bits, value| bits | value) & 0xc0;
    if high_bits != 0 || values[21] & 0x0f != 0 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (group, chunk) in values[..20].chunks_exact(4).enumerate() {
        let bits = chunk
            .iter()
            .fold(0u32, |bits, value| (bits << 6) | u32::from(*value));
        let [_, first, second, third] = bits.to_be_bytes();
        bytes[group * 3..group * 3 + 3].copy_from_slice(&[first, second, third]);
    }
    bytes[15] = (values[20] << 2) | (values[21] >> 4);
    Some(Id(i128::from_le_bytes(bytes)))
}

/// Removes every cookie called `name` from the request, keeping the others.
pub fn remove_cookie(headers: &mut HeaderMap, name: &str) {
    let kept: Vec<String> = cookie_pairs(headers)
        .filter(|(n, _)| *n != name)
        .map(|(n, value)| format!("{n}={value}"))
        .collect();
    headers.remove(COOKIE);
    if let Ok(value) = HeaderValue::from_str(&kept.join("; ")) {
        if !kept.is_empty() {
            headers.insert(COOKIE, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(COOKIE, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn received(values: &[&str]) -> ReceivedCookies {
        ReceivedCookies::of(&headers(values))
    }

    #[test]
    fn names_come_in_the_order_sent_across_headers() {
        let cookies = received(&["b=1; a=2", "c=3;;=x; noequals; d="]);
        let names: Vec<&str> = cookies.names().iter().collect();
        assert_eq!(names, ["b", "a", "c", "d"]);
        assert_eq!(
            serde_json::to_string(&cookies.names()).unwrap(),
            r#"["b","a","c","d"]"#
        );
    }

    #[test]
    fn values_are_found_by_name() {
        let cookies = received(&["theme=dark; session_id=abc"]);
        assert_eq!(cookies.value("session_id"), Some("abc"));
        assert_eq!(cookies.value("theme"), Some("dark"));
        assert_eq!(cookies.value("other"), None);
    }

    #[test]
    fn one_session_cookie_names_an_id_and_two_name_none() {
        let id = Id(42).to_string();
        let one = headers(&[&format!("theme=dark; session_id={id}")]);
        let two = headers(&[&format!("session_id={id}"), &format!("session_id={id}")]);
        let junk = headers(&["session_id=not-an-id"]);

        assert_eq!(session_cookie(&one), SessionCookie::One(&id));
        assert_eq!(session_cookie(&one).id(), Some(Id(42)));
        assert_eq!(session_cookie(&two), SessionCookie::Several);
        assert_eq!(session_cookie(&two).id(), None);
        assert_eq!(session_cookie(&junk).id(), None);
        assert_eq!(session_cookie(&HeaderMap::new()), SessionCookie::Absent);
        for map in [&one, &two, &junk, &HeaderMap::new()] {
            let kept = ReceivedCookies::of(map);
            assert_eq!(kept.session_cookie(), session_cookie(map));
        }
    }

    proptest::proptest! {
        #[test]
        fn pairs_are_those_split_finds(header in "[a-c =;\t]{0,24}") {
            let split: Vec<(&str, &str)> = header
                .split(';')
                .filter_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    let name = name.trim_ascii();
                    (!name.is_empty()).then(|| (name, value.trim_ascii()))
                })
                .collect();
            proptest::prop_assert_eq!(Pairs(&header).collect::<Vec<_>>(), split);
        }
    }

    proptest::proptest! {
        #[test]
        fn ids_are_written_and_read_as_tower_sessions_does(raw in proptest::prelude::any::<i128>()) {
            let id = Id(raw);
            let written = encode_id(id);
            proptest::prop_assert_eq!(std::str::from_utf8(&written).unwrap(), id.to_string());
            proptest::prop_assert_eq!(decode_id(&id.to_string()), Some(id));
        }

        #[test]
        fn any_value_reads_as_tower_sessions_reads_it(
            value in "[A-Za-z0-9_=+/.-]{20,24}|[A-Za-z0-9_-]{21}[A-Za-z0-9_-]",
        ) {
            proptest::prop_assert_eq!(decode_id(&value), value.parse::<Id>().ok());
        }
    }

    #[test]
    fn ids_are_written_as_their_display_writes_them() {
        for raw in [0, 1, -1, 42, i128::MAX, i128::MIN, 0x0123_4567_89ab_cdef] {
            let mut text = String::from("x");
            push_session_id(&mut text, Id(raw));
            assert_eq!(text, format!("x{}", Id(raw)));
        }
    }

    #[test]
    fn removing_a_cookie_keeps_the_others() {
        let mut map = headers(&["session_id=a; theme=dark; session_id=b"]);
        remove_cookie(&mut map, "session_id");
        assert_eq!(map.get(COOKIE).unwrap(), "theme=dark");
        let mut only = headers(&["session_id=a"]);
        remove_cookie(&mut only, "session_id");
        assert!(only.get(COOKIE).is_none());
    }
}
