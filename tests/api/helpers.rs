//! A fresh app per test, started as `main` starts it
//! ([`Application::build`]) on an ephemeral port, served over real HTTP,
//! with a cookie-aware client and one helper per endpoint.

use std::sync::Arc;

use ajax_sessions::config::LabPort;
use ajax_sessions::{AppStore, Application, BoundedStore, Config};
use reqwest::cookie::{CookieStore as _, Jar};
use reqwest::header::{HeaderMap, HeaderValue, SET_COOKIE};
use reqwest::{Response, StatusCode, Url};
use serde_json::Value;

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// Keeps cookies like a browser does.
    pub client: reqwest::Client,
    /// The client's cookie jar.
    pub jar: Arc<Jar>,
    /// The app's memory store, to watch its counters (`None` with Redis).
    pub memory: Option<BoundedStore>,
}

/// A reply, read once: status, headers and the JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    /// Reads a response to the end.
    pub async fn read(response: Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        Self {
            status,
            headers,
            text,
        }
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text))
    }

    /// The `error.code` of a JSON error body.
    pub fn error_code(&self) -> String {
        let body = self.json();
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "an error has a message: {body}"
        );
        body["error"]["code"]
            .as_str()
            .expect("error.code")
            .to_owned()
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|value| value.to_str().expect("ASCII").to_owned())
            .collect()
    }

    /// The `Set-Cookie` for `session_id`, if any.
    pub fn session_set_cookie(&self) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|cookie| cookie.starts_with("session_id="))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Config::default()).await
}

/// The real application with `config` (its store included: memory or
/// Redis) on an ephemeral port, without the lab.
pub async fn spawn_app_with(config: Config) -> TestApp {
    let config = Config {
        port: 0,
        lab_port: LabPort::Off,
        ..config
    };
    let application = Application::build(config).await.expect("the app starts");
    serve_in_background(application)
}

/// Serves a built application until the test ends; a client for its main
/// listener.
pub fn serve_in_background(application: Application) -> TestApp {
    let address = format!("http://{}", application.address());
    let memory = match application.store() {
        AppStore::Memory(store) => Some(store.clone()),
        AppStore::Redis(_) => None,
    };
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    let jar = Arc::new(Jar::default());
    TestApp {
        address,
        client: cookie_client(jar.clone()),
        jar,
        memory,
    }
}

/// A client that keeps cookies in `jar`.
pub fn cookie_client(jar: Arc<Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

/// A client without a cookie jar: it sends only the headers a test sets.
pub fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

impl TestApp {
    /// The memory store; panics for an app on Redis.
    pub fn store(&self) -> &BoundedStore {
        self.memory.as_ref().expect("an app on the memory store")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The value of the `session_id` cookie in the jar.
    pub fn session_id(&self) -> Option<String> {
        let url: Url = self.address.parse().expect("a URL");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix("session_id="))
            .map(str::to_owned)
    }

    /// Puts a cookie in the jar, as `document.cookie` would.
    pub fn set_cookie(&self, pair: &str) {
        let url: Url = self.address.parse().expect("a URL");
        self.jar.add_cookie_str(&format!("{pair}; Path=/"), &url);
    }

    pub async fn get(&self, path: &str) -> Reply {
        Reply::read(self.client.get(self.url(path)).send().await.expect("GET")).await
    }

    pub async fn get_page(&self) -> Reply {
        self.get("/").await
    }

    pub async fn get_session_data(&self) -> Reply {
        self.get("/get-session-data").await
    }

    /// The live session's CSRF token, read like the page reads it.
    pub async fn csrf_token(&self) -> Option<String> {
        let body = self.get_session_data().await.json();
        body["csrf_token"].as_str().map(str::to_owned)
    }

    /// The learner's data, as the server has it.
    pub async fn data(&self) -> Value {
        self.get_session_data().await.json()["data"].clone()
    }

    /// `POST /update-session-data` with the session's own token.
    pub async fn update(&self, patch: &Value) -> Reply {
        let token = self.csrf_token().await;
        self.update_raw(
            "application/json",
            patch.to_string().into_bytes(),
            token.as_deref(),
        )
        .await
    }

    /// `POST /update-session-data` with exactly this content type, body and token.
    pub async fn update_raw(
        &self,
        content_type: &str,
        body: Vec<u8>,
        token: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .post(self.url("/update-session-data"))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        Reply::read(request.send().await.expect("POST")).await
    }

    /// `count` updates sent at once with `token`, the i-th adding a key of
    /// its own (`key{i}`), in the order sent.
    pub async fn updates_at_once(&self, count: usize, token: &str) -> Vec<Reply> {
        let requests = (0..count).map(|i| {
            let body = format!(r#"{{"key{i}": {i}}}"#).into_bytes();
            self.update_raw("application/json", body, Some(token))
        });
        futures_util::future::join_all(requests).await
    }

    /// A POST with the session's own token to one of the action endpoints.
    pub async fn post_action(&self, path: &str) -> Reply {
        let token = self.csrf_token().await;
        let mut request = self.client.post(self.url(path));
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        Reply::read(request.send().await.expect("POST")).await
    }

    pub async fn regenerate(&self) -> Reply {
        self.post_action("/regenerate-session").await
    }

    pub async fn clear(&self) -> Reply {
        self.post_action("/clear-session").await
    }

    /// `POST /login` as the page sends it: JSON, with the session's own
    /// token when there is a live session.
    pub async fn login(&self, username: &str, password: &str, remember: bool) -> Reply {
        let body = serde_json::json!({
            "username": username,
            "password": password,
            "remember": remember,
        });
        let token = self.csrf_token().await;
        self.login_raw(
            "application/json",
            body.to_string().into_bytes(),
            token.as_deref(),
        )
        .await
    }

    /// `POST /login` with exactly this content type, body and token.
    pub async fn login_raw(&self, content_type: &str, body: Vec<u8>, token: Option<&str>) -> Reply {
        let mut request = self
            .client
            .post(self.url("/login"))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        Reply::read(request.send().await.expect("POST")).await
    }

    /// `POST /logout` with the session's own token.
    pub async fn logout(&self) -> Reply {
        self.post_action("/logout").await
    }

    /// `GET /me`.
    pub async fn me(&self) -> Reply {
        self.get("/me").await
    }

    /// `GET /get-session-data` as a client that sends only `cookie`, as
    /// text or as raw bytes (which need not be valid UTF-8).
    pub async fn get_session_data_with_cookie(&self, cookie: impl AsRef<[u8]>) -> Reply {
        let cookie = HeaderValue::from_bytes(cookie.as_ref()).expect("a header value");
        let response = bare_client()
            .get(self.url("/get-session-data"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("GET");
        Reply::read(response).await
    }
}
