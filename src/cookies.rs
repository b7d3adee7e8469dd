//! Reading the `Cookie` request header, and echoing `Set-Cookie` for the page.
//! A leaf: what a cookie header says, for every module that reads one.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
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
            Self::One(value) => value.parse().ok(),
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

/// Appends `id` as the cookie carries it: what `Id`'s `Display` writes
/// (its 16 bytes in URL-safe base64), without the formatting machinery.
pub fn push_session_id(text: &mut String, id: Id) {
    // Into a buffer of the exact size: `encode_string` goes through a
    // chunked writer.
    let mut encoded = [0u8; 22];
    match URL_SAFE_NO_PAD.encode_slice(id.0.to_le_bytes(), &mut encoded) {
        Ok(22) => text.push_str(std::str::from_utf8(&encoded).unwrap_or_default()),
        _ => URL_SAFE_NO_PAD.encode_string(id.0.to_le_bytes(), text),
    }
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
