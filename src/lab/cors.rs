//! The lab's CORS policies, one per `cors=` mode of `/lab/echo`.
//!
//! CORS decides what a script may *read*, not what is *sent*: whatever the
//! policy, the request reached the server (the ledger shows it). The three
//! modes show the three answers a server can give:
//!
//! - `credentials`: an exact-origin allow-list (the main listener's own
//!   origins). For a listed `Origin`: `Access-Control-Allow-Origin: <that
//!   origin>`, `Access-Control-Allow-Credentials: true`, and on a preflight
//!   `Access-Control-Allow-Methods: GET, POST` and
//!   `Access-Control-Allow-Headers: content-type`. For any other origin, no
//!   `Access-Control-*` header at all. Always `Vary: Origin`, since the
//!   answer depends on it.
//! - `wildcard`: `Access-Control-Allow-Origin: *` and never
//!   `Allow-Credentials` (browsers refuse `*` with credentials).
//! - `none`: no `Access-Control-*` header.
//!
//! `wildcard` is tower-http's [`CorsLayer`], which expresses it exactly.
//! `credentials` is written out here, because `CorsLayer` cannot give the
//! answer above: it adds `Allow-Methods` and `Allow-Headers` to every
//! preflight, allowed origin or not, so a foreign origin would still see
//! `Access-Control-*` headers, and the lesson is that it sees none. And the
//! mode itself is chosen per request, by the query, while a `CorsLayer` is
//! fixed when the router is built: the lab picks the policy per request
//! (see `listener.rs`).

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, HOST, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method};
use tower_http::cors::{Any, CorsLayer};

use super::ledger::query_value;
use crate::security::host_on_port;

/// The `cors=` query parameter of `/lab/echo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorsMode {
    /// The exact-origin allow-list, with credentials (the default).
    Credentials,
    /// `Access-Control-Allow-Origin: *`, never with credentials.
    Wildcard,
    /// No CORS headers.
    None,
}

impl CorsMode {
    /// The mode a query names; `credentials` when it names none. `None`
    /// (the Rust one) for an unknown mode.
    pub fn of_query(query: Option<&str>) -> Option<Self> {
        match query_value(query, "cors") {
            None | Some("credentials") => Some(Self::Credentials),
            Some("wildcard") => Some(Self::Wildcard),
            Some("none") => Some(Self::None),
            Some(_) => None,
        }
    }
}

/// The origins the `credentials` mode allows: the main listener's own,
/// and the main listener's origin on the host the lab was asked under
/// (`http://demo.test:MAIN` for a request to `demo.test:LAB`), when that
/// host is a valid host name or IP literal ([`host_on_port`]).
#[derive(Clone, Debug)]
pub struct AllowList {
    origins: Vec<HeaderValue>,
    main_port: u16,
}

impl AllowList {
    /// `http://127.0.0.1:MAIN` and `http://localhost:MAIN` for a loopback
    /// main listener; `http://HOST:MAIN` for one bound to another host.
    pub fn for_main(host: std::net::IpAddr, main_port: u16) -> Self {
        let hosts: Vec<String> = if host.is_loopback() {
            vec![host.to_string(), "localhost".into()]
        } else {
            vec![match host {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                std::net::IpAddr::V4(v4) => v4.to_string(),
            }]
        };
        Self {
            origins: hosts
                .iter()
                .filter_map(|host| HeaderValue::try_from(format!("http://{host}:{main_port}")).ok())
                .collect(),
            main_port,
        }
    }

    /// The main listener's own origins, as text (whatever the host asked).
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.origins
            .iter()
            .filter_map(|origin| origin.to_str().ok())
    }

    /// True when `origin` is one of the main listener's own origins, or
    /// the main listener's origin on the host of `host` (the request's
    /// `Host`, for the lab's port), both valid.
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        if self.origins().any(|allowed| allowed == origin) {
            return true;
        }
        let Some(asked) = host.and_then(host_of) else {
            return false;
        };
        origin
            .strip_prefix("http://")
            .and_then(|authority| host_on_port(authority, self.main_port))
            .is_some_and(|origin_host| origin_host == asked)
    }
}

/// The host of a `Host` header, when it is a valid host name or IP
/// literal with a port ([`host_on_port`]).
fn host_of(host: &str) -> Option<String> {
    let (_, port) = host.rsplit_once(':')?;
    host_on_port(host, port.parse().ok()?)
}

/// The headers the `credentials` mode adds to a response (or a preflight)
/// for a request with these headers.
pub fn credentials_headers(request: &HeaderMap, method: &Method, allow: &AllowList) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(VARY, HeaderValue::from_static("Origin"));
    let host = request.get(HOST).and_then(|host| host.to_str().ok());
    let Some(origin) = request.get(ORIGIN).filter(|origin| {
        origin
            .to_str()
            .is_ok_and(|origin| allow.allows(origin, host))
    }) else {
        return headers;
    };
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(
        ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    if method == Method::OPTIONS {
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
    }
    headers
}

/// The `wildcard` mode: tower-http's layer, which never sends
/// `Allow-Credentials` and answers preflights itself (`200`).
pub fn wildcard_layer() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([CONTENT_TYPE])
        .vary([])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    #[test]
    fn the_allow_list_is_the_main_listeners_own_origins() {
        let allow = AllowList::for_main([127, 0, 0, 1].into(), 3000);
        assert_eq!(
            allow.origins().collect::<Vec<_>>(),
            ["http://127.0.0.1:3000", "http://localhost:3000"]
        );
        let other = AllowList::for_main([10, 1, 2, 3].into(), 8080);
        assert_eq!(
            other.origins().collect::<Vec<_>>(),
            ["http://10.1.2.3:8080"]
        );
    }

    #[test]
    fn a_listed_origin_gets_itself_and_credentials() {
        let allow = AllowList::for_main([127, 0, 0, 1].into(), 3000);

        let plain = credentials_headers(
            &request(Some("http://localhost:3000")),
            &Method::GET,
            &allow,
        );
        let preflight = credentials_headers(
            &request(Some("http://localhost:3000")),
            &Method::OPTIONS,
            &allow,
        );

        assert_eq!(plain[ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:3000");
        assert_eq!(plain[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(plain[VARY], "Origin");
        assert!(plain.get(ACCESS_CONTROL_ALLOW_METHODS).is_none());
        assert_eq!(preflight[ACCESS_CONTROL_ALLOW_METHODS], "GET, POST");
        assert_eq!(preflight[ACCESS_CONTROL_ALLOW_HEADERS], "content-type");
    }

    #[test]
    fn a_foreign_or_missing_origin_gets_no_access_control_header() {
        let allow = AllowList::for_main([127, 0, 0, 1].into(), 3000);
        for origin in [
            Some("http://evil.example"),
            Some("http://127.0.0.1:3001"),
            None,
        ] {
            for method in [Method::GET, Method::OPTIONS] {
                let headers = credentials_headers(&request(origin), &method, &allow);
                assert_eq!(headers.len(), 1, "{origin:?} {method}: {headers:?}");
                assert_eq!(headers[VARY], "Origin");
            }
        }
    }

    #[test]
    fn the_main_origin_on_the_host_asked_is_allowed_when_valid() {
        let allow = AllowList::for_main([127, 0, 0, 1].into(), 3000);
        let asked = |origin: &'static str, host: &'static str| {
            let mut headers = request(Some(origin));
            headers.insert(HOST, HeaderValue::from_static(host));
            credentials_headers(&headers, &Method::GET, &allow)
                .get(ACCESS_CONTROL_ALLOW_ORIGIN)
                .cloned()
        };
        assert_eq!(
            asked("http://demo.test:3000", "demo.test:4001")
                .as_ref()
                .map(|v| v.as_bytes()),
            Some(&b"http://demo.test:3000"[..])
        );
        for (origin, host) in [
            ("http://demo.test:3000", "other.test:4001"),
            ("http://demo.test:3001", "demo.test:4001"),
            ("http://demo.test:4001", "demo.test:4001"),
            ("https://demo.test:3000", "demo.test:4001"),
            ("http://demo.test:3000", "demo.test"),
            ("http://demo_test:3000", "demo_test:4001"),
            ("http://evil.example", "evil.example:4001"),
        ] {
            assert_eq!(asked(origin, host), None, "{origin} {host}");
        }
    }

    #[test]
    fn the_mode_comes_from_the_query() {
        assert_eq!(CorsMode::of_query(None), Some(CorsMode::Credentials));
        assert_eq!(
            CorsMode::of_query(Some("probe=x&cors=none")),
            Some(CorsMode::None)
        );
        assert_eq!(
            CorsMode::of_query(Some("cors=wildcard")),
            Some(CorsMode::Wildcard)
        );
        assert_eq!(CorsMode::of_query(Some("cors=everything")), None);
    }
}
