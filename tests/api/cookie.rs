//! The session cookie: when it is set and with which attributes.

use ajax_sessions::Config;

use crate::helpers::{spawn_app, spawn_app_with};

fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|attribute| attribute.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn the_first_page_visit_sets_the_session_cookie_with_the_documented_attributes() {
    let app = spawn_app().await;

    let page = app.get_page().await;

    assert_eq!(page.status, 200);
    let cookie = page.session_set_cookie().expect("a session cookie");
    let attributes = attributes(&cookie);
    for expected in ["httponly", "samesite=lax", "path=/", "max-age=1800"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected} in {cookie}"
        );
    }
    assert!(
        !attributes.iter().any(|a| a == "secure"),
        "no Secure by default: {cookie}"
    );
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "no Domain: {cookie}"
    );
}

#[tokio::test]
async fn the_session_id_is_opaque_with_at_least_128_random_bits() {
    let app = spawn_app().await;

    app.get_page().await;
    let first = app.session_id().expect("a session id");
    let other = spawn_app().await;
    other.get_page().await;
    let second = other.session_id().expect("a session id");

    // 22 URL-safe base64 characters = 132 bits, of which 128 are random.
    assert!(first.len() >= 22, "{first}");
    assert!(first
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert_ne!(first, second);
}

#[tokio::test]
async fn secure_cookies_adds_the_secure_attribute() {
    let app = spawn_app_with(Config {
        secure_cookies: true,
        ..Config::default()
    })
    .await;

    let cookie = app.get_page().await.session_set_cookie().expect("a cookie");

    assert!(
        attributes(&cookie).iter().any(|a| a == "secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn the_cookie_lifetime_follows_the_idle_timeout() {
    let app = spawn_app_with(Config {
        idle_timeout: 60,
        ..Config::default()
    })
    .await;

    let cookie = app.get_page().await.session_set_cookie().expect("a cookie");

    assert!(
        attributes(&cookie).iter().any(|a| a == "max-age=60"),
        "{cookie}"
    );
}

#[tokio::test]
async fn a_get_without_a_session_creates_nothing() {
    let app = spawn_app().await;

    let reply = app.get_session_data().await;

    assert_eq!(reply.status, 200);
    assert!(reply.set_cookies().is_empty(), "{:?}", reply.set_cookies());
    let body = reply.json();
    assert_eq!(body["session"], serde_json::json!({"active": false}));
    assert_eq!(body["data"], serde_json::json!({}));
    assert!(body.get("csrf_token").is_none());
    assert_eq!(app.store().stats().live, 0);
}

#[tokio::test]
async fn each_page_visit_counts_a_view_in_the_same_session() {
    let app = spawn_app().await;

    app.get_page().await;
    let id = app.session_id();
    app.get_page().await;
    let body = app.get_session_data().await.json();

    assert_eq!(body["session"]["page_views"], 2);
    assert_eq!(app.session_id(), id);
    assert_eq!(app.store().stats().live, 1);
}

#[tokio::test]
async fn the_session_id_never_appears_in_a_response_body() {
    let app = spawn_app().await;

    let page = app.get_page().await;
    let id = app.session_id().expect("a session id");
    let data = app.get_session_data().await;
    let update = app.update(&serde_json::json!({"k": "v"})).await;
    let echo = page
        .header("x-set-cookie-echo")
        .unwrap_or_default()
        .to_owned();

    for body in [&page.text, &data.text, &update.text] {
        assert!(!body.contains(&id));
    }
    assert!(echo.starts_with("session_id=<redacted>;"), "{echo}");
    assert!(!echo.contains(&id));
}
