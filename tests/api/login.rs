//! Logging in (`POST /login`), out (`POST /logout`) and the protected
//! resource (`GET /me`): the new id and token of a login, the failures
//! that change nothing, the throttle, the cookie's lifetime with and
//! without "remember me", and the absolute limit.

use std::time::{Duration, Instant};

use ajax_sessions::{Config, StoreChoice};
use redis::AsyncCommands as _;
use serde_json::{json, Value};

use ajax_sessions::config::LabPort;
use ajax_sessions::Application;

use crate::helpers::{bare_client, serve_in_background, spawn_app, spawn_app_with, Reply, TestApp};
use crate::redis_server::RedisServer;

/// A live anonymous session with `{"kept": 1}` in its data.
async fn app_with_data() -> TestApp {
    let app = spawn_app().await;
    app.get_page().await;
    assert_eq!(app.update(&json!({"kept": 1})).await.status, 200);
    app
}

/// The session part of `GET /get-session-data`.
async fn session_of(app: &TestApp) -> Value {
    app.get_session_data().await.json()
}

/// The `Max-Age` of a `Set-Cookie`, if it has one.
fn max_age(cookie: &str) -> Option<u64> {
    cookie
        .split("; ")
        .find_map(|attribute| attribute.strip_prefix("Max-Age="))
        .map(|seconds| seconds.parse().expect("a number"))
}

fn has_expires(cookie: &str) -> bool {
    cookie
        .split("; ")
        .any(|attribute| attribute.starts_with("Expires="))
}

fn json_login(username: &str, password: &str) -> Vec<u8> {
    json!({"username": username, "password": password})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn login_gives_the_session_a_new_id_and_token_and_keeps_its_data() {
    let app = app_with_data().await;
    let old_id = app.session_id().expect("a session");
    let before = session_of(&app).await;
    let old_token = before["csrf_token"].as_str().expect("a token").to_owned();

    let reply = app.login("alice", "wonderland", false).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["session"]["user"], "alice");
    assert!(body["session"]["authenticated_at"].is_string());
    assert_eq!(body["data"], json!({"kept": 1}));
    assert_ne!(body["csrf_token"], before["csrf_token"]);
    assert_ne!(
        body["session"]["id_fingerprint"],
        before["session"]["id_fingerprint"]
    );
    assert_eq!(body["fixation_defence"], true);
    let new_id = app.session_id().expect("a session");
    assert_ne!(new_id, old_id);
    assert!(!reply.text.contains(&new_id) && !reply.text.contains(&old_id));
    assert_eq!(body["session"]["id_fingerprint"], fingerprint_of(&new_id));
    assert_eq!(before["session"]["id_fingerprint"], fingerprint_of(&old_id));
    // The old id finds nothing.
    let old = app
        .get_session_data_with_cookie(format!("session_id={old_id}"))
        .await
        .json();
    assert_eq!(
        old["session"],
        json!({"active": false, "reason": "unknown_or_expired"})
    );
    // The old token is refused, and changes nothing.
    let refused = app
        .update_raw(
            "application/json",
            br#"{"x": 1}"#.to_vec(),
            Some(&old_token),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), "csrf_token_invalid");
    assert_eq!(app.data().await, json!({"kept": 1}));
}

#[tokio::test]
async fn id_fingerprint_is_eight_hex_digits_that_follow_the_id() {
    let app = app_with_data().await;
    let first = session_of(&app).await["session"]["id_fingerprint"].clone();
    assert_eq!(first, fingerprint_of(&app.session_id().expect("a session")));

    let again = session_of(&app).await["session"]["id_fingerprint"].clone();
    app.regenerate().await;
    let regenerated = session_of(&app).await["session"]["id_fingerprint"].clone();

    let text = first.as_str().expect("a fingerprint");
    assert_eq!(text.len(), 8);
    assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(first, again);
    assert_ne!(first, regenerated);
    // It is the digest of the id the browser holds now, not of an old one.
    let id = app.session_id().expect("a session cookie");
    assert_eq!(regenerated, fingerprint_of(&id));
}

/// The first 8 hex digits of the SHA-256 of a cookie value.
fn fingerprint_of(id: &str) -> String {
    use sha2::{Digest as _, Sha256};
    Sha256::digest(id.as_bytes())[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[tokio::test]
async fn another_users_login_on_the_session_starts_with_empty_data() {
    let app = app_with_data().await;
    assert_eq!(app.login("alice", "wonderland", true).await.status, 200);
    assert_eq!(app.update(&json!({"alice": true})).await.status, 200);

    let same_user = app.login("alice", "wonderland", true).await;
    assert_eq!(same_user.json()["data"], json!({"kept": 1, "alice": true}));
    let switched = app.login("bob", "builder", true).await;

    assert_eq!(switched.status, 200);
    assert_eq!(switched.json()["session"]["user"], "bob");
    assert_eq!(switched.json()["data"], json!({}));
    assert_eq!(app.data().await, json!({}));
}

#[tokio::test]
async fn login_without_a_session_creates_one_logged_in() {
    let app = spawn_app().await;

    let reply = app.login("bob", "builder", true).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.session_set_cookie().is_some());
    let body = session_of(&app).await;
    assert_eq!(body["session"]["active"], true);
    assert_eq!(body["session"]["user"], "bob");
    assert_eq!(body["data"], json!({}));
}

/// Content type, body, token, then the status and code expected.
type RefusedLogin<'a> = (&'a str, Vec<u8>, Option<&'a str>, u16, &'a str);

#[tokio::test]
async fn every_refused_login_changes_nothing() {
    let app = app_with_data().await;
    let id = app.session_id().expect("a session");
    let token = app.csrf_token().await.expect("a token");
    let long_name = "a".repeat(65);
    let long_password = "p".repeat(1025);
    let json = "application/json";
    let cases: Vec<RefusedLogin> = vec![
        (
            json,
            json_login("alice", "nope"),
            Some(&token),
            401,
            "invalid_credentials",
        ),
        (
            json,
            json_login("mallory", "x"),
            Some(&token),
            401,
            "invalid_credentials",
        ),
        (
            json,
            br#"{"password":"wonderland"}"#.to_vec(),
            Some(&token),
            422,
            "invalid_login",
        ),
        (
            json,
            br#"{"username":"alice"}"#.to_vec(),
            Some(&token),
            422,
            "invalid_login",
        ),
        (
            json,
            br#"{"username":7,"password":"w"}"#.to_vec(),
            Some(&token),
            422,
            "invalid_login",
        ),
        (
            json,
            json_login(&long_name, "x"),
            Some(&token),
            422,
            "invalid_login",
        ),
        (
            json,
            json_login("bob", &long_password),
            Some(&token),
            422,
            "invalid_login",
        ),
        (
            json,
            br#"{"username":"alice","password":"wonderland","admin":true}"#.to_vec(),
            Some(&token),
            422,
            "invalid_login",
        ),
        (
            json,
            b"{\"username\":".to_vec(),
            Some(&token),
            400,
            "invalid_json",
        ),
        (
            "text/plain",
            json_login("alice", "wonderland"),
            Some(&token),
            415,
            "unsupported_media_type",
        ),
        (
            json,
            json_login("alice", "wonderland"),
            None,
            403,
            "csrf_token_missing",
        ),
        (
            json,
            json_login("alice", "wonderland"),
            Some("wrong"),
            403,
            "csrf_token_invalid",
        ),
    ];

    for (content_type, body, sent_token, status, code) in cases {
        let reply = app.login_raw(content_type, body, sent_token).await;

        assert_eq!(reply.status, status, "{code}: {}", reply.text);
        assert_eq!(reply.error_code(), code);
        assert!(reply.json()["cookies_received"].is_array(), "{code}");
        assert_eq!(reply.session_set_cookie(), None, "{code}");
        assert_eq!(app.session_id().as_deref(), Some(id.as_str()), "{code}");
    }
    let after = session_of(&app).await;
    assert_eq!(after["data"], json!({"kept": 1}));
    assert_eq!(after["csrf_token"], token.as_str());
    assert!(after["session"].get("user").is_none());
}

#[tokio::test]
async fn the_origin_check_comes_first_then_the_content_type_then_the_token() {
    let app = app_with_data().await;

    let cross = app
        .client
        .post(app.url("/login"))
        .header("origin", "http://evil.test")
        .header("content-type", "text/plain")
        .body(json_login("alice", "wonderland"))
        .send()
        .await
        .expect("POST");
    let cross = Reply::read(cross).await;
    let untyped = app
        .login_raw("text/plain", json_login("alice", "wonderland"), None)
        .await;

    assert_eq!(cross.status, 403);
    assert_eq!(cross.error_code(), "cross_origin_rejected");
    assert_eq!(untyped.status, 415);
    assert_eq!(untyped.error_code(), "unsupported_media_type");
}

#[tokio::test]
async fn five_failures_block_the_username_for_a_minute_even_with_the_right_password() {
    let app = spawn_app().await;
    for attempt in 1..=5 {
        let reply = app.login("alice", &format!("guess{attempt}"), false).await;
        assert_eq!(reply.status, 401, "attempt {attempt}");
    }

    let blocked = app.login("alice", "wonderland", false).await;
    let other_user = app.login("bob", "builder", false).await;

    assert_eq!(blocked.status, 429);
    assert_eq!(blocked.error_code(), "too_many_attempts");
    assert_eq!(blocked.session_set_cookie(), None);
    let retry_after: u64 = blocked
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((55..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(other_user.status, 200, "the throttle is per username");
}

/// The median time of `tries` logins.
async fn median_login_time(app: &TestApp, tries: &[(&str, &str)]) -> Duration {
    let mut times = Vec::new();
    for (username, password) in tries {
        let started = Instant::now();
        let reply = app.login(username, password, false).await;
        times.push(started.elapsed());
        assert_eq!(reply.status, 401, "{username}");
    }
    times.sort();
    times[times.len() / 2]
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_one_answer_in_about_one_time() {
    let app = spawn_app().await;
    let unknown = app.login("mallory", "wonderland", false).await;
    let wrong = app.login("alice", "not-it", false).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.text, wrong.text, "one body for both");

    // Fewer than five failures per username, so the throttle stays out.
    let wrong_password = [
        ("alice", "a"),
        ("bob", "b"),
        ("alice", "c"),
        ("bob", "d"),
        ("bob", "e"),
    ];
    let unknown_users = [
        ("carol", "a"),
        ("dave", "b"),
        ("erin", "c"),
        ("frank", "d"),
        ("grace", "e"),
    ];
    let wrong_time = median_login_time(&app, &wrong_password).await;
    let unknown_time = median_login_time(&app, &unknown_users).await;

    assert!(
        unknown_time * 3 > wrong_time,
        "unknown user {unknown_time:?}, wrong password {wrong_time:?}"
    );
}

#[tokio::test]
async fn me_answers_who_is_logged_in_or_401() {
    let app = spawn_app().await;
    let nobody = app.me().await;
    app.get_page().await;
    let anonymous = app.me().await;

    app.login("alice", "wonderland", false).await;
    let alice = app.me().await;

    for reply in [&nobody, &anonymous] {
        assert_eq!(reply.status, 401);
        assert_eq!(reply.error_code(), "not_logged_in");
        assert!(reply.json()["cookies_received"].is_array());
    }
    assert_eq!(anonymous.json()["cookies_received"], json!(["session_id"]));
    assert_eq!(alice.status, 200, "{}", alice.text);
    let body = alice.json();
    assert_eq!(body["user"], "alice");
    for member in [
        "authenticated_at",
        "expires_at",
        "absolute_expires_at",
        "served_by",
        "store",
    ] {
        assert!(body[member].is_string(), "{member}: {body}");
    }
    assert_eq!(body["cookies_received"], json!(["session_id"]));
}

#[tokio::test]
async fn logout_deletes_the_session_and_expires_the_cookie() {
    let app = spawn_app().await;
    app.login("alice", "wonderland", true).await;
    let id = app.session_id().expect("a session");

    let without_token = app
        .client
        .post(app.url("/logout"))
        .send()
        .await
        .expect("POST");
    let without_token = Reply::read(without_token).await;
    let reply = app.logout().await;

    assert_eq!(without_token.status, 403);
    assert_eq!(without_token.error_code(), "csrf_token_missing");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["session"], json!({"active": false}));
    let cookie = reply.session_set_cookie().expect("an expiring cookie");
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    assert_eq!(app.me().await.status, 401);
    let old = app
        .get_session_data_with_cookie(format!("session_id={id}"))
        .await;
    assert_eq!(old.json()["session"]["active"], false);
    assert_eq!(app.logout().await.error_code(), "no_session");
}

#[tokio::test]
async fn without_remember_me_the_cookie_is_a_browser_session_cookie_refreshes_included() {
    // A 10 s idle timeout: a read a little over 1 s later moves the expiry
    // by more than a tenth of it, so it re-sends the cookie.
    let app = spawn_app_with(Config {
        idle_timeout: 10,
        ..Config::default()
    })
    .await;

    let login = app.login("alice", "wonderland", false).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let refresh = app.get_session_data().await;

    for (what, reply) in [("login", &login), ("refresh", &refresh)] {
        let cookie = reply
            .session_set_cookie()
            .unwrap_or_else(|| panic!("{what}"));
        assert_eq!(max_age(&cookie), None, "{what}: {cookie}");
        assert!(!has_expires(&cookie), "{what}: {cookie}");
        let echo = reply.header("x-set-cookie-echo").expect("an echo");
        assert!(!echo.contains("Max-Age"), "{what}: {echo}");
    }
    // The server still ends it: its expiry is the idle timeout.
    assert!(refresh.json()["session"]["expires_at"].is_string());
}

#[tokio::test]
async fn with_remember_me_the_cookie_keeps_its_max_age_refreshes_included() {
    let app = spawn_app_with(Config {
        idle_timeout: 10,
        ..Config::default()
    })
    .await;

    let login = app.login("alice", "wonderland", true).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let refresh = app.get_session_data().await;

    for (what, reply) in [("login", &login), ("refresh", &refresh)] {
        let cookie = reply
            .session_set_cookie()
            .unwrap_or_else(|| panic!("{what}"));
        assert_eq!(max_age(&cookie), Some(10), "{what}: {cookie}");
    }
}

#[tokio::test]
async fn the_absolute_limit_ends_a_session_however_active() {
    let app = spawn_app_with(Config {
        absolute_timeout: 2,
        ..Config::default()
    })
    .await;
    let first = app.update(&json!({"a": 1})).await;
    // The server created the session before this moment: every read
    // asked more than 2 s after it must find the session ended, however
    // slowly the replies come.
    let created = Instant::now();

    let cookie = first.session_set_cookie().expect("a cookie");
    assert!(
        max_age(&cookie).is_some_and(|seconds| seconds <= 2),
        "{cookie}"
    );
    let session = first.json()["session"].clone();
    assert!(session["expires_at"].as_str() <= session["absolute_expires_at"].as_str());
    // Read as a client that keeps sending the cookie (the jar would drop
    // it at its Max-Age): the server, not the browser, ends the session.
    let cookie = format!("session_id={}", app.session_id().expect("a session"));
    let mut last_active = None;
    while created.elapsed() < Duration::from_millis(3500) {
        let asked = created.elapsed();
        let body = app.get_session_data_with_cookie(&cookie).await.json();
        if body["session"]["active"] == true {
            last_active = Some(asked);
        } else {
            assert_eq!(body["session"]["reason"], "unknown_or_expired");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let last_active = last_active.expect("active at first");
    assert!(
        last_active >= Duration::from_millis(1000),
        "{last_active:?}"
    );
    assert!(
        last_active <= Duration::from_millis(2050),
        "{last_active:?}"
    );
    assert_eq!(session_of(&app).await["session"]["active"], false);
    assert!(
        app.session_id().is_none(),
        "the jar dropped the cookie at its Max-Age"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_the_keys_ttl_follows_the_absolute_limit() {
    let Some(redis) = RedisServer::start_or_skip("the absolute limit in Redis") else {
        return;
    };
    let app = spawn_app_with(Config {
        store: StoreChoice::Redis(redis.url()),
        absolute_timeout: 5,
        ..Config::default()
    })
    .await;

    assert_eq!(app.login("alice", "wonderland", true).await.status, 200);
    assert_eq!(app.update(&json!({"a": 1})).await.status, 200);

    let mut conn = redis.connection().await;
    let keys: Vec<String> = conn.keys("ajax-sessions:*").await.expect("KEYS");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl: i64 = conn.pttl(&keys[0]).await.expect("PTTL");
    assert!((1..=5000).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn login_counts_the_absolute_limit_again_from_now() {
    let app = spawn_app_with(Config {
        absolute_timeout: 4,
        ..Config::default()
    })
    .await;
    app.get_page().await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let login = app.login("alice", "wonderland", true).await;
    assert_eq!(login.status, 200);
    // The cookie's Max-Age is the time left in whole seconds, rounded
    // down: 3 when a millisecond passed between the login and its save.
    let cookie = login.session_set_cookie().expect("a cookie");
    assert!(
        max_age(&cookie).is_some_and(|seconds| (3..=4).contains(&seconds)),
        "{cookie}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Past the 4 s counted from creation, 1.5 s after login (well inside
    // the cookie's Max-Age): alive.
    let alive = session_of(&app).await;
    assert_eq!(alive["session"]["user"], "alice");
}

#[tokio::test]
async fn with_the_unsafe_flag_login_keeps_the_id_and_token() {
    let app = spawn_app_with(Config {
        unsafe_keep_id_on_login: true,
        ..Config::default()
    })
    .await;
    app.get_page().await;
    let id = app.session_id().expect("a session");
    let before = session_of(&app).await;

    let reply = app.login("alice", "wonderland", false).await;

    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(app.session_id(), Some(id));
    assert_eq!(body["csrf_token"], before["csrf_token"]);
    assert_eq!(
        body["session"]["id_fingerprint"],
        before["session"]["id_fingerprint"]
    );
    assert_eq!(body["fixation_defence"], false);
    assert_eq!(body["session"]["user"], "alice");
    let page = app.get_page().await;
    assert!(page.text.contains("unsafe-banner"));
}

#[tokio::test]
async fn the_page_has_no_unsafe_banner_by_default() {
    let app = spawn_app().await;

    let page = app.get_page().await;

    assert!(!page.text.contains("unsafe-banner"));
    assert_eq!(session_of(&app).await["fixation_defence"], true);
}

#[tokio::test]
async fn with_the_unsafe_flag_both_pages_show_the_red_banner() {
    let config = Config {
        port: 0,
        lab_port: LabPort::Port(0),
        unsafe_keep_id_on_login: true,
        ..Config::default()
    };
    let application = Application::build(config).await.expect("the app starts");
    let lab = format!("http://{}/", application.lab_address().expect("a lab"));
    let app = serve_in_background(application);

    let page = app.get_page().await;
    let lab_page = bare_client().get(lab).send().await.expect("GET");
    let lab_page = Reply::read(lab_page).await;

    for (what, reply) in [("page", &page), ("lab page", &lab_page)] {
        assert_eq!(reply.status, 200, "{what}");
        assert!(
            reply.text.contains(r#"class="unsafe-banner" role="alert""#),
            "{what}"
        );
        assert!(reply.text.contains("--unsafe-keep-id-on-login"), "{what}");
    }
}
