//! Defences for requests that change a session, and the headers every
//! response carries.
//!
//! Browsers attach cookies to every request to this site, including ones a
//! hostile page triggers (cross-site request forgery). Two checks stop that:
//!
//! 1. **Origin check.** A request whose `Origin` names another origin, or
//!    that the browser marks `Sec-Fetch-Site: cross-site`, is refused before
//!    anything else is read.
//! 2. **Synchronizer token.** A live session has a random CSRF token that only
//!    this site's pages can read (from `<meta name="csrf-token">` or the JSON
//!    replies). A state-changing request must echo it in `X-CSRF-Token`; a
//!    forged request cannot, because the same-origin policy keeps the token
//!    from other sites. The comparison takes constant time so the token
//!    cannot be guessed byte by byte from response timings.

use axum::extract::FromRequestParts;
use axum::http::header::{HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use subtle::ConstantTimeEq as _;

use crate::error::AppError;
use crate::session::AppSession;

/// The request header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

// Header names as constants: looking a header up by `&str` parses and
// hashes the name on every request.
static CSRF_HEADER_NAME: HeaderName = HeaderName::from_static(CSRF_HEADER);
/// The request header in which the browser says where a request comes
/// from (`same-origin`, `same-site`, `cross-site`, `none`).
pub static SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Scripts only from this origin, no inline code, no `eval`; no framing
/// (clickjacking); no plugins; forms only to this origin; XHR and fetch to
/// this origin and the origins named after it (the other listener's, so
/// that the lab can be reached).
fn content_security_policy<'a>(connect_to: impl Iterator<Item = &'a str>) -> String {
    let mut connect = String::from("'self'");
    for origin in connect_to {
        connect.push(' ');
        connect.push_str(origin);
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The policy [`content_security_policy`] gives, as a header value: a
/// handler that names the lab under the host its page was requested under
/// sets it on its own response, and [`ResponseHeaders::apply`] keeps it.
/// Only for origins built from [`host_on_port`] or the listeners' own
/// addresses; anything else falls back to a policy without them.
pub fn content_security_policy_value<'a>(connect_to: impl Iterator<Item = &'a str>) -> HeaderValue {
    HeaderValue::try_from(content_security_policy(connect_to))
        .unwrap_or_else(|_| HeaderValue::from_static(FALLBACK_CSP))
}

/// The policy when the built one is not a valid header value.
const FALLBACK_CSP: &str = "default-src 'self'; frame-ancestors 'none'";

/// The host of a `Host` header (or of an origin's authority), when it is
/// `HOST:PORT` with exactly `port` and `HOST` a valid host name (letters,
/// digits and hyphens in dot-separated labels of 1 to 63 characters, not
/// all digits in the last) or an IP literal (`[…]` for IPv6): lowercased
/// and canonical, so it can be compared with an `Origin` and written into
/// a header without adding anything to it. `None` for anything else.
pub fn host_on_port(authority: &str, port: u16) -> Option<String> {
    let (host, given_port) = authority.rsplit_once(':')?;
    if given_port != port.to_string() {
        return None;
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|v6| format!("[{v6}]"));
    }
    if let Ok(v4) = host.parse::<std::net::Ipv4Addr>() {
        return Some(v4.to_string());
    }
    let valid_label = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let last_is_name = host
        .rsplit('.')
        .next()
        .is_some_and(|last| !last.bytes().all(|b| b.is_ascii_digit()));
    (host.len() <= 253 && host.split('.').all(valid_label) && last_is_name)
        .then(|| host.to_ascii_lowercase())
}

/// A session that passed the origin check and, when live, the CSRF check:
/// the extractor for every handler that changes session state.
pub struct VerifiedSession(pub AppSession);

impl<S: Send + Sync> FromRequestParts<S> for VerifiedSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        reject_cross_site(&parts.headers)?;
        let session = AppSession::from_request_parts(parts, state).await?;
        // Without a live session there is nothing to forge a request
        // against: the update creates a fresh session and token.
        if let Some(expected) = session.csrf_token() {
            verify_csrf_token(&parts.headers, expected)?;
        }
        Ok(Self(session))
    }
}

/// Refuses requests that the browser says come from another site.
pub fn reject_cross_site(headers: &HeaderMap) -> Result<(), AppError> {
    let fetch_site = headers.get(&SEC_FETCH_SITE).map(HeaderValue::as_bytes);
    if fetch_site.is_some_and(|site| site.eq_ignore_ascii_case(b"cross-site")) {
        return Err(AppError::CrossOriginRejected);
    }
    match headers.get(ORIGIN) {
        None => Ok(()),
        Some(origin) if origin_matches_host(origin, headers.get(HOST)) => Ok(()),
        Some(_) => Err(AppError::CrossOriginRejected),
    }
}

/// True when `Origin` (`scheme://host[:port]`) names the host the request
/// was sent to. `Origin: null` (sandboxed frames, some redirects) never matches.
fn origin_matches_host(origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), host.map(HeaderValue::to_str)) else {
        return false;
    };
    match origin.split_once("://") {
        Some((scheme, authority)) => {
            (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
                && authority.eq_ignore_ascii_case(host)
        }
        None => false,
    }
}

/// Compares `X-CSRF-Token` with the session's token in constant time.
pub fn verify_csrf_token(headers: &HeaderMap, expected: &str) -> Result<(), AppError> {
    let Some(sent) = headers.get(&CSRF_HEADER_NAME) else {
        return Err(AppError::CsrfTokenMissing);
    };
    if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(AppError::CsrfTokenInvalid)
    }
}

/// The response header that names the instance that answered.
pub static SERVED_BY_HEADER: HeaderName = HeaderName::from_static("x-served-by");

/// The headers every response of a listener carries: the security headers
/// and `X-Served-By`. Built once; cloning a value shares its bytes.
#[derive(Clone, Debug)]
pub struct ResponseHeaders {
    csp: HeaderValue,
    served_by: HeaderValue,
}

impl ResponseHeaders {
    /// For the instance `instance`, whose pages may also connect to
    /// `connect_to` (origins).
    pub fn new<'a>(instance: &str, connect_to: impl Iterator<Item = &'a str>) -> Self {
        let csp = content_security_policy(connect_to);
        Self {
            // Origins and the instance name are visible ASCII (checked by
            // the option parser); anything else falls back to a safe value.
            csp: HeaderValue::try_from(csp)
                .unwrap_or_else(|_| HeaderValue::from_static(FALLBACK_CSP)),
            served_by: HeaderValue::from_str(instance)
                .unwrap_or_else(|_| HeaderValue::from_static("unnamed")),
        }
    }

    /// Adds the headers to a response (a `MapResponse` layer around the
    /// whole app). A `Content-Security-Policy` the handler set (a page that
    /// names the lab on the host it was requested under, built by
    /// [`content_security_policy_value`]) is kept; every other response
    /// gets the listener's own.
    pub fn apply(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        headers.reserve(5);
        headers.insert(SERVED_BY_HEADER.clone(), self.served_by.clone());
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert_with(|| self.csp.clone());
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        response
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header map of static names and values (the lab's tests use it too).
    pub(crate) fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn same_origin_and_no_origin_pass() {
        let same = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(reject_cross_site(&same).is_ok());
        assert!(reject_cross_site(&headers(&[("host", "127.0.0.1:3000")])).is_ok());
        let same_site = headers(&[("host", "a.test"), ("sec-fetch-site", "same-origin")]);
        assert!(reject_cross_site(&same_site).is_ok());
    }

    #[test]
    fn other_origins_are_refused() {
        for origin in [
            "http://evil.test",
            "null",
            "http://127.0.0.1:3001",
            "ftp://127.0.0.1:3000",
        ] {
            let map: HeaderMap = [
                (HOST, HeaderValue::from_static("127.0.0.1:3000")),
                (ORIGIN, HeaderValue::from_static(origin)),
            ]
            .into_iter()
            .collect();
            assert!(reject_cross_site(&map).is_err(), "{origin}");
        }
        let cross = headers(&[("host", "a.test"), ("sec-fetch-site", "cross-site")]);
        assert!(reject_cross_site(&cross).is_err());
    }

    #[test]
    fn a_host_counts_only_as_a_valid_name_or_ip_literal_on_the_port() {
        for (authority, host) in [
            ("demo.test:3000", "demo.test"),
            ("Demo.TEST:3000", "demo.test"),
            ("localhost:3000", "localhost"),
            ("127.0.0.1:3000", "127.0.0.1"),
            ("[::1]:3000", "[::1]"),
            ("[0:0:0:0:0:0:0:1]:3000", "[::1]"),
            ("a-b.c1.example:3000", "a-b.c1.example"),
        ] {
            assert_eq!(
                host_on_port(authority, 3000).as_deref(),
                Some(host),
                "{authority}"
            );
        }
        for authority in [
            "demo.test",
            "demo.test:3001",
            "demo.test:03000",
            "demo.test:+3000",
            ":3000",
            "demo..test:3000",
            ".demo.test:3000",
            "demo.test.:3000",
            "-demo.test:3000",
            "demo_test:3000",
            "127.1:3000",
            "1.2.3.4.5:3000",
            "[::1:3000",
            "[nope]:3000",
            "::1:3000",
            "demo.test; script-src *:3000",
            "demo.test'none':3000",
            "user@demo.test:3000",
            "demo.test:3000:3000",
            "d\u{e9}mo.test:3000",
        ] {
            assert_eq!(host_on_port(authority, 3000), None, "{authority}");
        }
        let long = format!("{}.test:3000", "a".repeat(64));
        assert_eq!(host_on_port(&long, 3000), None);
    }

    #[test]
    fn a_handlers_own_policy_is_kept_and_every_other_response_gets_the_listeners() {
        let headers = ResponseHeaders::new("unnamed", ["http://127.0.0.1:4001"].into_iter());
        let plain = headers.apply(Response::new(axum::body::Body::empty()));
        assert!(plain.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .is_ok_and(|csp| csp.contains("connect-src 'self' http://127.0.0.1:4001;")));
        let mut own = Response::new(axum::body::Body::empty());
        own.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            content_security_policy_value(["http://demo.test:4001"].into_iter()),
        );
        let own = headers.apply(own);
        assert!(own.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .is_ok_and(
                |csp| csp.contains("connect-src 'self' http://demo.test:4001;")
                    && csp.contains("script-src 'self';")
                    && csp.contains("frame-ancestors 'none'")
            ));
    }

    #[test]
    fn the_token_must_match_exactly() {
        assert!(matches!(
            verify_csrf_token(&HeaderMap::new(), "abc"),
            Err(AppError::CsrfTokenMissing)
        ));
        for sent in ["abd", "ab", "abcd", ""] {
            let map: HeaderMap = [(
                HeaderName::from_static(CSRF_HEADER),
                HeaderValue::from_static(sent),
            )]
            .into_iter()
            .collect();
            assert!(matches!(
                verify_csrf_token(&map, "abc"),
                Err(AppError::CsrfTokenInvalid)
            ));
        }
        let good = headers(&[(CSRF_HEADER, "abc")]);
        assert!(verify_csrf_token(&good, "abc").is_ok());
    }
}
