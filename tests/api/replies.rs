//! What the replies tell the page about the exchange itself: the cookie
//! names that rode along (on refusals too), why a cookie found no session,
//! and the idle timeout that governs the expiry.

use std::time::Duration;

use ajax_sessions::Config;
use serde_json::json;

use crate::helpers::{bare_client, spawn_app, spawn_app_with, Reply};

#[tokio::test]
async fn a_refused_update_lists_the_cookies_that_rode_along() {
    let app = spawn_app().await;
    app.get_page().await;
    app.set_cookie("theme=dark");

    let reply = app
        .update_raw("application/json", br#"{"forged": true}"#.to_vec(), None)
        .await;

    assert_eq!(reply.status, 403);
    assert_eq!(reply.error_code(), "csrf_token_missing");
    let mut names: Vec<String> =
        serde_json::from_value(reply.json()["cookies_received"].clone()).expect("names");
    names.sort();
    assert_eq!(names, ["session_id", "theme"]);
    assert_eq!(app.data().await, json!({}));
}

#[tokio::test]
async fn every_kind_of_refusal_on_a_session_endpoint_lists_the_cookies() {
    let app = spawn_app().await;
    app.get_page().await;
    let token = app.csrf_token().await.expect("a token");

    let refusals = [
        app.update_raw("text/plain", b"{}".to_vec(), Some(&token))
            .await,
        app.update_raw("application/json", b"{".to_vec(), Some(&token))
            .await,
        app.update_raw("application/json", b"[]".to_vec(), Some(&token))
            .await,
        app.update_raw("application/json", b"{}".to_vec(), Some("wrong"))
            .await,
    ];

    for reply in refusals {
        assert!(reply.status.is_client_error(), "{}", reply.status);
        let body = reply.json();
        assert!(body["error"]["code"].is_string(), "{body}");
        assert_eq!(body["cookies_received"], json!(["session_id"]), "{body}");
    }
}

#[tokio::test]
async fn a_refusal_without_cookies_says_none_came() {
    let app = spawn_app().await;

    let response = bare_client()
        .post(app.url("/clear-session"))
        .send()
        .await
        .expect("POST");
    let reply = Reply::read(response).await;

    assert_eq!(reply.status, 409);
    assert_eq!(reply.error_code(), "no_session");
    assert_eq!(reply.json()["cookies_received"], json!([]));
}

#[tokio::test]
async fn a_cookie_that_names_no_session_gets_a_reason() {
    let app = spawn_app().await;

    let forged = app
        .get_session_data_with_cookie("session_id=AAAAAAAAAAAAAAAAAAAAAA")
        .await;
    let malformed = app.get_session_data_with_cookie("session_id=%%%").await;

    for reply in [forged, malformed] {
        assert_eq!(
            reply.json()["session"],
            json!({"active": false, "reason": "unknown_or_expired"})
        );
        assert!(reply.session_set_cookie().is_none());
    }
}

#[tokio::test]
async fn no_cookie_means_no_reason() {
    let app = spawn_app().await;

    let reply = app.get_session_data_with_cookie("theme=dark").await;

    assert_eq!(reply.json()["session"], json!({"active": false}));
}

#[tokio::test]
async fn an_expired_session_gets_a_reason_and_a_cleared_one_too() {
    let app = spawn_app_with(Config {
        idle_timeout: 1,
        ..Config::default()
    })
    .await;
    app.get_page().await;
    let id = app.session_id().expect("a session id");

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let expired = app
        .get_session_data_with_cookie(format!("session_id={id}"))
        .await;

    assert_eq!(
        expired.json()["session"],
        json!({"active": false, "reason": "unknown_or_expired"})
    );

    let fresh = spawn_app().await;
    fresh.get_page().await;
    let cleared_id = fresh.session_id().expect("a session id");
    let cleared = fresh.clear().await;
    assert_eq!(cleared.json()["session"], json!({"active": false}));
    let after = fresh
        .get_session_data_with_cookie(format!("session_id={cleared_id}"))
        .await;
    assert_eq!(after.json()["session"]["reason"], "unknown_or_expired");
}

#[tokio::test]
async fn a_live_session_reports_its_idle_timeout_and_no_reason() {
    let app = spawn_app_with(Config {
        idle_timeout: 600,
        ..Config::default()
    })
    .await;
    app.get_page().await;

    let session = app.get_session_data().await.json()["session"].clone();

    assert_eq!(session["active"], true);
    assert_eq!(session["idle_timeout_seconds"], 600);
    assert!(session.get("reason").is_none(), "{session}");
}
