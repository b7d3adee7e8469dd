//! The page and the JSON endpoints: shapes, merge semantics, routing.

use serde_json::json;

use crate::helpers::{bare_client, spawn_app};

#[tokio::test]
async fn the_page_carries_the_csrf_token_and_the_default_theme() {
    let app = spawn_app().await;

    let page = app.get_page().await;
    let token = app.csrf_token().await.expect("a token");

    assert!(page
        .text
        .contains(&format!("<meta name=\"csrf-token\" content=\"{token}\">")));
    assert!(page.text.contains("data-theme=\"light\""));
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
}

#[tokio::test]
async fn the_page_renders_the_theme_from_the_theme_cookie() {
    let app = spawn_app().await;
    app.set_cookie("theme=dark");

    let page = app.get_page().await;

    assert!(page.text.contains("data-theme=\"dark\""));
}

#[tokio::test]
async fn data_round_trips_through_the_session() {
    let app = spawn_app().await;
    app.get_page().await;

    let update = app.update(&json!({"color": "blue", "n": 3})).await;
    let body = app.get_session_data().await.json();

    assert_eq!(update.status, 200);
    assert_eq!(update.json()["data"], json!({"color": "blue", "n": 3}));
    assert_eq!(body["data"], json!({"color": "blue", "n": 3}));
    assert_eq!(body["session"]["active"], true);
    for member in ["created_at", "expires_at"] {
        let text = body["session"][member].as_str().expect(member);
        assert!(
            text.ends_with('Z') && text.contains('T'),
            "{member}: {text}"
        );
    }
}

#[tokio::test]
async fn merge_patch_sets_deletes_and_merges_nested_objects() {
    let app = spawn_app().await;
    app.get_page().await;
    app.update(&json!({"a": 1, "b": {"x": 1, "y": 2}, "c": 3}))
        .await;

    let reply = app
        .update(&json!({"a": 2, "b": {"y": null, "z": 3}, "c": null}))
        .await;

    assert_eq!(reply.status, 200);
    assert_eq!(app.data().await, json!({"a": 2, "b": {"x": 1, "z": 3}}));
}

#[tokio::test]
async fn an_update_without_a_session_creates_one_and_returns_its_token() {
    let app = spawn_app().await;

    let reply = app.update(&json!({"first": true})).await;

    assert_eq!(reply.status, 200);
    assert!(reply.session_set_cookie().is_some());
    let body = reply.json();
    assert_eq!(body["data"], json!({"first": true}));
    assert_eq!(body["session"]["page_views"], 0);
    let token = body["csrf_token"].as_str().expect("a token");
    assert_eq!(app.csrf_token().await.as_deref(), Some(token));
}

#[tokio::test]
async fn cookies_received_lists_names_in_the_order_sent_never_values() {
    let app = spawn_app().await;

    let reply = bare_client()
        .get(app.url("/get-session-data"))
        .header("cookie", "zeta=secret-1; theme=dark; alpha=secret-2")
        .send()
        .await
        .expect("GET");
    let text = reply.text().await.expect("body");
    let body: serde_json::Value = serde_json::from_str(&text).expect("JSON");

    assert_eq!(body["cookies_received"], json!(["zeta", "theme", "alpha"]));
    assert!(!text.contains("secret-"));
}

#[tokio::test]
async fn a_cookie_set_by_the_client_is_received_on_the_next_request() {
    let app = spawn_app().await;
    app.get_page().await;
    app.set_cookie("favourite=oatmeal");

    let body = app.get_session_data().await.json();

    // The jar chooses the order; the names are what the server received.
    let mut names: Vec<&str> = body["cookies_received"]
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|name| name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["favourite", "session_id"]);
}

#[tokio::test]
async fn json_replies_are_marked_json_and_not_cacheable() {
    let app = spawn_app().await;

    for reply in [
        app.get_session_data().await,
        app.update(&json!({"k": 1})).await,
        app.get("/missing").await,
    ] {
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
}

#[tokio::test]
async fn unknown_paths_are_404_as_json() {
    let app = spawn_app().await;

    for path in ["/nope", "/static/nope.js", "/get-session-data/extra"] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.error_code(), "not_found");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let app = spawn_app().await;

    let cases = [
        (reqwest::Method::DELETE, "/get-session-data", "GET"),
        (reqwest::Method::GET, "/update-session-data", "POST"),
        (reqwest::Method::PUT, "/", "GET"),
        (reqwest::Method::POST, "/static/app.js", "GET"),
    ];
    for (method, path, allowed) in cases {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 405, "{method} {path}");
        let allow = response.headers()["allow"]
            .to_str()
            .expect("ASCII")
            .to_owned();
        assert!(allow.contains(allowed), "{method} {path}: {allow}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }
}

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;

    let reply = app.get("/healthz").await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.text, "ok");
}

#[tokio::test]
async fn static_assets_are_served() {
    let app = spawn_app().await;

    let script = app.get("/static/app.js").await;
    let style = app.get("/static/style.css").await;

    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .unwrap_or_default()
        .contains("javascript"));
    assert_eq!(style.status, 200);
    assert!(style
        .header("content-type")
        .unwrap_or_default()
        .contains("text/css"));
}

#[tokio::test]
async fn static_assets_are_gzipped_for_clients_that_ask_and_the_page_is_not() {
    let app = spawn_app().await;
    let asked = |path: &'static str| {
        bare_client()
            .get(app.url(path))
            .header("accept-encoding", "gzip")
            .send()
    };

    let script = asked("/static/explain.js").await.expect("GET");
    let page = asked("/").await.expect("GET");
    let plain = app.get("/static/explain.js").await;

    assert_eq!(script.status(), 200);
    assert_eq!(script.headers()["content-encoding"], "gzip");
    assert!(script.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .contains("script-src 'self'"));
    let gzipped = script.bytes().await.expect("a body").len();
    assert!(
        gzipped * 2 < plain.text.len(),
        "{gzipped} vs {}",
        plain.text.len()
    );
    assert!(plain.header("content-encoding").is_none());
    assert!(
        page.headers().get("content-encoding").is_none(),
        "the page carries the CSRF token"
    );
}
