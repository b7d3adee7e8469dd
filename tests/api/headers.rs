//! The security headers every response carries.

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;

    for path in [
        "/",
        "/get-session-data",
        "/static/app.js",
        "/healthz",
        "/missing",
    ] {
        let reply = app.get(path).await;
        let csp = reply
            .header("content-security-policy")
            .expect(path)
            .to_owned();
        let script_src = csp
            .split(';')
            .map(str::trim)
            .find(|directive| directive.starts_with("script-src"))
            .unwrap_or_else(|| panic!("{path}: script-src in {csp}"));
        assert_eq!(script_src, "script-src 'self'", "{path}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            Some("same-origin"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_page_is_not_cacheable() {
    let app = spawn_app().await;

    let page = app.get_page().await;

    assert_eq!(page.header("cache-control"), Some("no-store"));
}
