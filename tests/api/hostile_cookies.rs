//! Session cookies the server did not issue, or no longer honours, are never
//! adopted and never cause a 5xx.

use serde_json::json;

use crate::helpers::{bare_client, spawn_app, Reply};

/// A well-formed id (22 URL-safe base64 characters) that was never issued.
const FORGED: &str = "AAAAAAAAAAAAAAAAAAAAAA";

#[tokio::test]
async fn a_forged_id_finds_no_session() {
    let app = spawn_app().await;
    app.get_page().await;

    let reply = app
        .get_session_data_with_cookie(&format!("session_id={FORGED}"))
        .await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["session"]["active"], false);
    assert!(reply.set_cookies().is_empty(), "{:?}", reply.set_cookies());
}

#[tokio::test]
async fn a_session_created_for_a_forged_id_gets_a_fresh_id() {
    let app = spawn_app().await;

    let response = bare_client()
        .post(app.url("/update-session-data"))
        .header("cookie", format!("session_id={FORGED}"))
        .header("content-type", "application/json")
        .body(r#"{"planted": true}"#)
        .send()
        .await
        .expect("POST");
    let reply = Reply::read(response).await;

    assert_eq!(reply.status, 200);
    let cookie = reply.session_set_cookie().expect("a new session cookie");
    assert!(!cookie.contains(FORGED), "{cookie}");
    let forged = app
        .get_session_data_with_cookie(&format!("session_id={FORGED}"))
        .await;
    assert_eq!(forged.json()["session"]["active"], false);
}

#[tokio::test]
async fn malformed_and_oversized_cookies_never_cause_a_5xx() {
    let app = spawn_app().await;
    let long_value = format!("session_id={}", "A".repeat(8_000));
    let many_cookies = (0..500)
        .map(|i| format!("c{i}=v"))
        .collect::<Vec<_>>()
        .join("; ");
    let cases: Vec<Vec<u8>> = vec![
        b"session_id=!!!not-base64!!!".to_vec(),
        b"session_id=".to_vec(),
        b"session_id".to_vec(),
        b"session_id=AAAA".to_vec(),
        b"session_id=\"AAAAAAAAAAAAAAAAAAAAAA\"".to_vec(),
        b"=; ;=;;".to_vec(),
        vec![b's', b'=', 0xff, 0xfe, b';', b' ', b'x', b'=', 0x80],
        long_value.into_bytes(),
        many_cookies.into_bytes(),
    ];

    for cookie in &cases {
        let reply = app.get_session_data_with_cookie(cookie).await;
        assert!(
            reply.status.as_u16() < 500,
            "{:?}: {}",
            String::from_utf8_lossy(cookie),
            reply.status
        );
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["session"]["active"], false);
        assert!(reply.set_cookies().is_empty(), "{:?}", reply.set_cookies());
    }
}

#[tokio::test]
async fn two_session_cookies_are_never_adopted() {
    let app = spawn_app().await;
    app.get_page().await;
    app.update(&json!({"mine": 1})).await;
    let id = app.session_id().expect("a session id");

    for cookie in [
        format!("session_id={id}; session_id={id}"),
        format!("session_id={FORGED}; session_id={id}"),
        format!("session_id={id}; theme=dark; session_id={FORGED}"),
    ] {
        let reply = app.get_session_data_with_cookie(&cookie).await;
        assert_eq!(reply.status, 200);
        let body = reply.json();
        assert_eq!(body["session"]["active"], false, "{cookie}");
        assert_eq!(body["data"], json!({}));
    }
    // The real session is untouched.
    assert_eq!(app.data().await, json!({"mine": 1}));
}
