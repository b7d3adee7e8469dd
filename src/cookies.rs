//! Reading the `Cookie` request header, and echoing `Set-Cookie` for the page.

use axum::extract::Request;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

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
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let name = name.trim();
            (!name.is_empty()).then(|| (name, value.trim()))
        })
}

/// The names of the cookies sent, in order. Values are never collected, so
/// they cannot leak into a reply.
pub fn cookie_names(headers: &HeaderMap) -> Vec<&str> {
    cookie_pairs(headers).map(|(name, _)| name).collect()
}

/// The value of the first cookie with this name.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_pairs(headers).find_map(|(n, value)| (n == name).then_some(value))
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

/// Middleware: repeats each `Set-Cookie` in `X-Set-Cookie-Echo`, with the
/// session id's value redacted, so the page's request log can show what the
/// server told the browser to store.
pub async fn echo_set_cookie(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let echoes: Vec<HeaderValue> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| HeaderValue::from_str(&redact_session_id(value)).ok())
        .collect();
    for echo in echoes {
        response.headers_mut().append(SET_COOKIE_ECHO.clone(), echo);
    }
    response
}

/// `session_id=abc; HttpOnly` becomes `session_id=<redacted>; HttpOnly`;
/// an empty value (a removal) stays empty so the page can show it.
pub fn redact_session_id(set_cookie: &str) -> String {
    let (pair, attributes) = set_cookie.split_once(';').unwrap_or((set_cookie, ""));
    match pair.split_once('=') {
        Some((name, value)) if name.trim() == SESSION_COOKIE && !value.trim().is_empty() => {
            let separator = if attributes.is_empty() { "" } else { ";" };
            format!("{SESSION_COOKIE}=<redacted>{separator}{attributes}")
        }
        _ => set_cookie.to_owned(),
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

    #[test]
    fn names_come_in_the_order_sent_across_headers() {
        let map = headers(&["b=1; a=2", "c=3;;=x; noequals; d="]);
        assert_eq!(cookie_names(&map), ["b", "a", "c", "d"]);
    }

    #[test]
    fn values_are_found_by_name() {
        let map = headers(&["theme=dark; session_id=abc"]);
        assert_eq!(cookie_value(&map, "session_id"), Some("abc"));
        assert_eq!(cookie_value(&map, "theme"), Some("dark"));
        assert_eq!(cookie_value(&map, "other"), None);
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

    #[test]
    fn the_session_id_is_redacted_in_the_echo() {
        assert_eq!(
            redact_session_id("session_id=secret; HttpOnly; Path=/"),
            "session_id=<redacted>; HttpOnly; Path=/"
        );
        assert_eq!(
            redact_session_id("session_id=; Max-Age=0"),
            "session_id=; Max-Age=0"
        );
        assert_eq!(redact_session_id("theme=dark"), "theme=dark");
    }
}
