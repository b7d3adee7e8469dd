//! Every bad-input row of the update endpoint: status, code, JSON shape,
//! and the session's data left as it was.

use ajax_sessions::limits;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp};

/// A session holding `{"kept": 1}`, and its token.
async fn session_with_data() -> (TestApp, String) {
    let app = spawn_app().await;
    app.get_page().await;
    assert_eq!(app.update(&json!({"kept": 1})).await.status, 200);
    let token = app.csrf_token().await.expect("a token");
    (app, token)
}

async fn assert_refused(app: &TestApp, reply: Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{code}: {}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.error_code(), code);
    assert_eq!(
        app.data().await,
        json!({"kept": 1}),
        "data unchanged after {code}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let (app, token) = session_with_data().await;

    for content_type in [
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ] {
        let reply = app
            .update_raw(content_type, br#"{"a": 1}"#.to_vec(), Some(&token))
            .await;
        assert_refused(&app, reply, 415, "unsupported_media_type").await;
    }
    // No Content-Type header at all.
    let response = app
        .client
        .post(app.url("/update-session-data"))
        .header("x-csrf-token", &token)
        .body(r#"{"a": 1}"#)
        .send()
        .await
        .expect("POST");
    assert_refused(
        &app,
        Reply::read(response).await,
        415,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn json_with_a_charset_and_merge_patch_json_are_accepted() {
    let (app, token) = session_with_data().await;

    for content_type in [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ] {
        let reply = app
            .update_raw(content_type, br#"{"b": 2}"#.to_vec(), Some(&token))
            .await;
        assert_eq!(reply.status, 200, "{content_type}");
    }
    assert_eq!(app.data().await, json!({"kept": 1, "b": 2}));
}

#[tokio::test]
async fn malformed_json_is_400_with_line_and_column() {
    let (app, token) = session_with_data().await;

    let reply = app
        .update_raw(
            "application/json",
            b"{\n  \"a\": tru".to_vec(),
            Some(&token),
        )
        .await;

    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("column"), "{message}");
    assert_refused(&app, reply, 400, "invalid_json").await;
    for body in ["", "{", "{\"a\" 1}", "\u{feff}{}"] {
        let reply = app
            .update_raw("application/json", body.as_bytes().to_vec(), Some(&token))
            .await;
        assert_refused(&app, reply, 400, "invalid_json").await;
    }
}

#[tokio::test]
async fn json_that_is_not_an_object_is_422() {
    let (app, token) = session_with_data().await;

    for body in ["[1, 2]", "\"text\"", "42", "null", "true"] {
        let reply = app
            .update_raw("application/json", body.as_bytes().to_vec(), Some(&token))
            .await;
        assert_refused(&app, reply, 422, "not_an_object").await;
    }
}

#[tokio::test]
async fn a_body_over_16_kib_is_413() {
    let (app, token) = session_with_data().await;
    let big = json!({"big": "x".repeat(limits::MAX_BODY_BYTES)}).to_string();

    let reply = app
        .update_raw("application/json", big.into_bytes(), Some(&token))
        .await;

    assert_refused(&app, reply, 413, "payload_too_large").await;
}

#[tokio::test]
async fn an_empty_or_overlong_key_is_422() {
    let (app, token) = session_with_data().await;
    let long_key = "k".repeat(limits::MAX_KEY_BYTES + 1);

    for patch in [
        json!({"": 1}),
        json!({ long_key: 1 }),
        json!({"ok": {"": 1}}),
    ] {
        let reply = app
            .update_raw(
                "application/json",
                patch.to_string().into_bytes(),
                Some(&token),
            )
            .await;
        assert_refused(&app, reply, 422, "invalid_key").await;
    }
}

#[tokio::test]
async fn more_than_100_top_level_keys_is_422() {
    let (app, token) = session_with_data().await;
    let patch: serde_json::Map<String, Value> = (0..limits::MAX_TOP_LEVEL_KEYS)
        .map(|i| (format!("k{i}"), json!(i)))
        .collect();

    let reply = app
        .update_raw(
            "application/json",
            Value::Object(patch).to_string().into_bytes(),
            Some(&token),
        )
        .await;

    assert_refused(&app, reply, 422, "too_many_keys").await;
}

#[tokio::test]
async fn data_that_would_pass_64_kib_is_413() {
    let (app, _) = session_with_data().await;
    let chunk = "x".repeat(15_000);
    for i in 0..4 {
        let reply = app.update(&json!({ format!("chunk{i}"): chunk })).await;
        assert_eq!(reply.status, 200);
    }
    let before = app.data().await;

    let reply = app.update(&json!({"chunk4": chunk})).await;

    assert_eq!(reply.status, 413);
    assert_eq!(reply.error_code(), "session_too_large");
    assert_eq!(app.data().await, before);
}

#[tokio::test]
async fn bad_input_without_a_session_creates_none() {
    let app = spawn_app().await;

    let reply = app
        .update_raw("application/json", b"[1]".to_vec(), None)
        .await;

    assert_eq!(reply.status, 422);
    assert!(reply.session_set_cookie().is_none());
    assert_eq!(app.store().stats().live, 0);
}
