//! Regenerate, clear and idle expiry, and the cookies they leave behind.

use std::time::Duration;

use ajax_sessions::Config;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn regenerate_issues_a_new_id_keeps_the_data_and_retires_the_old_id() {
    let app = spawn_app().await;
    app.get_page().await;
    app.update(&json!({"kept": "yes"})).await;
    let old_id = app.session_id().expect("a session id");
    let old_token = app.csrf_token().await.expect("a token");

    let reply = app.regenerate().await;

    assert_eq!(reply.status, 200);
    let cookie = reply.session_set_cookie().expect("a new cookie");
    let new_id = app.session_id().expect("a session id");
    assert_ne!(new_id, old_id);
    assert!(
        cookie.starts_with(&format!("session_id={new_id};")),
        "{cookie}"
    );
    let body = reply.json();
    assert_eq!(body["data"], json!({"kept": "yes"}));
    assert_eq!(body["session"]["active"], true);
    assert_ne!(body["csrf_token"].as_str(), Some(old_token.as_str()));
    assert_eq!(app.data().await, json!({"kept": "yes"}));
    let old = app
        .get_session_data_with_cookie(&format!("session_id={old_id}"))
        .await;
    assert_eq!(old.json()["session"]["active"], false);
    assert!(old.set_cookies().is_empty(), "{:?}", old.set_cookies());
    assert_eq!(app.store().stats().live, 1);
}

#[tokio::test]
async fn clear_deletes_the_session_and_expires_the_cookie() {
    let app = spawn_app().await;
    app.get_page().await;
    app.update(&json!({"gone": "soon"})).await;
    let old_id = app.session_id().expect("a session id");

    let reply = app.clear().await;

    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["session"], json!({"active": false}));
    assert_eq!(body["data"], json!({}));
    let cookie = reply.session_set_cookie().expect("an expiring cookie");
    let lower = cookie.to_ascii_lowercase();
    assert!(lower.starts_with("session_id=;"), "{cookie}");
    assert!(
        lower.contains("max-age=0") || lower.contains("expires="),
        "{cookie}"
    );
    assert_eq!(app.session_id(), None, "the client dropped the cookie");
    assert_eq!(app.store().stats().live, 0);
    let old = app
        .get_session_data_with_cookie(&format!("session_id={old_id}"))
        .await;
    assert_eq!(old.json()["session"]["active"], false);

    let again = app.update(&json!({"fresh": true})).await;

    assert_eq!(again.status, 200);
    let new_id = app.session_id().expect("a new session id");
    assert_ne!(new_id, old_id);
    assert_eq!(app.data().await, json!({"fresh": true}));
}

#[tokio::test]
async fn regenerate_and_clear_need_a_live_session_and_its_token() {
    let app = spawn_app().await;

    for path in ["/regenerate-session", "/clear-session"] {
        let reply = app.post_action(path).await;
        assert_eq!(reply.status, 409, "{path}");
        assert_eq!(reply.error_code(), "no_session");
    }

    app.get_page().await;
    for path in ["/regenerate-session", "/clear-session"] {
        let response = app.client.post(app.url(path)).send().await.expect("POST");
        let reply = crate::helpers::Reply::read(response).await;
        assert_eq!(reply.status, 403, "{path}");
        assert_eq!(reply.error_code(), "csrf_token_missing");
    }
    assert_eq!(
        app.get_session_data().await.json()["session"]["active"],
        true
    );
}

#[tokio::test]
async fn an_idle_session_expires_after_the_timeout() {
    let app = spawn_app_with(Config {
        idle_timeout: 2,
        ..Config::default()
    })
    .await;
    app.get_page().await;
    let id = app.session_id().expect("a session id");

    tokio::time::sleep(Duration::from_secs(3)).await;
    let reply = app
        .get_session_data_with_cookie(&format!("session_id={id}"))
        .await;

    assert_eq!(reply.json()["session"]["active"], false);
}

#[tokio::test]
async fn reads_keep_a_session_alive() {
    let app = spawn_app_with(Config {
        idle_timeout: 2,
        ..Config::default()
    })
    .await;
    app.get_page().await;
    app.update(&json!({"still": "here"})).await;

    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let body = app.get_session_data().await.json();
        assert_eq!(body["session"]["active"], true);
    }

    assert_eq!(app.data().await, json!({"still": "here"}));
}
