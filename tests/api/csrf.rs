//! Cross-site request forgery defences on the state-changing endpoints.

use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

/// A session with `{"kept": 1}` in its data.
async fn app_with_data() -> TestApp {
    let app = spawn_app().await;
    app.get_page().await;
    assert_eq!(app.update(&json!({"kept": 1})).await.status, 200);
    app
}

async fn post_update(
    app: &TestApp,
    extra_headers: &[(&str, &str)],
    token: Option<&str>,
) -> crate::helpers::Reply {
    let mut request = app
        .client
        .post(app.url("/update-session-data"))
        .header("content-type", "application/json")
        .body(r#"{"forged": true}"#);
    if let Some(token) = token {
        request = request.header("x-csrf-token", token);
    }
    for (name, value) in extra_headers {
        request = request.header(*name, *value);
    }
    crate::helpers::Reply::read(request.send().await.expect("POST")).await
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused() {
    let app = app_with_data().await;

    let reply = post_update(&app, &[], None).await;

    assert_eq!(reply.status, 403);
    assert_eq!(reply.error_code(), "csrf_token_missing");
    assert_eq!(app.data().await, json!({"kept": 1}));
}

#[tokio::test]
async fn a_post_with_a_wrong_csrf_token_is_refused() {
    let app = app_with_data().await;
    let token = app.csrf_token().await.expect("a token");
    let wrong = format!("{}x", &token[..token.len() - 1]);

    for sent in [wrong.as_str(), "", "not-even-close"] {
        let reply = post_update(&app, &[], Some(sent)).await;
        assert_eq!(reply.status, 403, "{sent}");
        assert_eq!(reply.error_code(), "csrf_token_invalid");
    }
    assert_eq!(app.data().await, json!({"kept": 1}));
}

#[tokio::test]
async fn another_sessions_token_is_refused() {
    let app = app_with_data().await;
    let other = spawn_app().await;
    other.get_page().await;
    let other_token = other.csrf_token().await.expect("a token");

    let reply = post_update(&app, &[], Some(&other_token)).await;

    assert_eq!(reply.status, 403);
    assert_eq!(reply.error_code(), "csrf_token_invalid");
}

#[tokio::test]
async fn a_cross_origin_post_is_refused_even_with_the_token() {
    let app = app_with_data().await;
    let token = app.csrf_token().await.expect("a token");

    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        let reply = post_update(&app, &[("origin", origin)], Some(&token)).await;
        assert_eq!(reply.status, 403, "{origin}");
        assert_eq!(reply.error_code(), "cross_origin_rejected");
    }
    assert_eq!(app.data().await, json!({"kept": 1}));
}

#[tokio::test]
async fn a_post_the_browser_marks_cross_site_is_refused() {
    let app = app_with_data().await;
    let token = app.csrf_token().await.expect("a token");

    let reply = post_update(&app, &[("sec-fetch-site", "cross-site")], Some(&token)).await;

    assert_eq!(reply.status, 403);
    assert_eq!(reply.error_code(), "cross_origin_rejected");
    assert_eq!(app.data().await, json!({"kept": 1}));
}

#[tokio::test]
async fn a_same_origin_post_with_the_token_is_accepted() {
    let app = app_with_data().await;
    let token = app.csrf_token().await.expect("a token");
    let origin = app.address.clone();

    let reply = post_update(
        &app,
        &[("origin", &origin), ("sec-fetch-site", "same-origin")],
        Some(&token),
    )
    .await;

    assert_eq!(reply.status, 200);
    assert_eq!(app.data().await, json!({"kept": 1, "forged": true}));
}

#[tokio::test]
async fn a_cross_origin_post_without_a_session_creates_nothing() {
    let app = spawn_app().await;

    let reply = post_update(&app, &[("origin", "http://evil.example")], None).await;

    assert_eq!(reply.status, 403);
    assert!(reply.session_set_cookie().is_none());
    assert_eq!(app.store().stats().live, 0);
}
