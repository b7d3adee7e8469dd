//! The cross-origin lab over HTTP: its CORS policies header by header, its
//! ledger, its page, and that it never touches a session.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use ajax_sessions::config::LabPort;
use ajax_sessions::{Application, Config};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::{stop_with_sigterm, BINARY};
use crate::helpers::{bare_client, serve_in_background, Reply, TestApp};

/// The main app and the lab, in-process, sharing a store and a ledger.
pub(crate) struct Lab {
    pub app: TestApp,
    /// `http://127.0.0.1:LAB`
    pub lab: String,
    /// The main listener's origin, as the page would send it.
    pub main_origin: String,
}

pub(crate) async fn spawn_with_lab() -> Lab {
    spawn_with_lab_from(Config {
        max_sessions: 1000,
        ..Config::default()
    })
    .await
}

/// The main app and the lab, from `config`, on ephemeral ports.
pub(crate) async fn spawn_with_lab_from(config: Config) -> Lab {
    let config = Config {
        port: 0,
        lab_port: LabPort::Port(0),
        ..config
    };
    let application = Application::build(config).await.expect("the app starts");
    let lab_address = application.lab_address().expect("the lab is on");
    let app = serve_in_background(application);
    Lab {
        lab: format!("http://{lab_address}"),
        main_origin: app.address.clone(),
        app,
    }
}

/// The `Access-Control-*` and `Vary` headers of a response, sorted.
fn cors_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-") || name.as_str() == "vary")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("?").to_owned()))
        .collect();
    found.sort();
    found
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = expected
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

/// One request to `/lab/echo` with this method, policy and `Origin`.
async fn echo(lab: &Lab, method: Method, policy: &str, origin: Option<&str>) -> Reply {
    let url = format!("{}/lab/echo?probe=probe-{policy}-x&cors={policy}", lab.lab);
    let mut request = bare_client().request(method.clone(), url);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    if method == Method::OPTIONS {
        request = request
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type");
    }
    if method == Method::POST {
        request = request
            .header("content-type", "application/json")
            .body("{}");
    }
    Reply::read(request.send().await.expect("a reply")).await
}

#[tokio::test]
async fn the_credentials_policy_allows_exactly_the_main_origins() {
    let lab = spawn_with_lab().await;
    let listed = lab.main_origin.clone();
    let localhost = listed.replace("127.0.0.1", "localhost");

    for origin in [listed.as_str(), localhost.as_str()] {
        let get = echo(&lab, Method::GET, "credentials", Some(origin)).await;
        let post = echo(&lab, Method::POST, "credentials", Some(origin)).await;
        let preflight = echo(&lab, Method::OPTIONS, "credentials", Some(origin)).await;

        let simple = [
            ("access-control-allow-origin", origin),
            ("access-control-allow-credentials", "true"),
            ("vary", "Origin"),
        ];
        assert_eq!(get.status, 200);
        assert_eq!(cors_headers(&get.headers), pairs(&simple));
        assert_eq!(post.status, 200);
        assert_eq!(cors_headers(&post.headers), pairs(&simple));
        assert!([200, 204].contains(&preflight.status.as_u16()));
        let mut allowed = simple.to_vec();
        allowed.push(("access-control-allow-methods", "GET, POST"));
        allowed.push(("access-control-allow-headers", "content-type"));
        assert_eq!(cors_headers(&preflight.headers), pairs(&allowed));
    }

    for origin in [Some("http://evil.example"), Some(lab.lab.as_str()), None] {
        for method in [Method::GET, Method::POST, Method::OPTIONS] {
            let reply = echo(&lab, method.clone(), "credentials", origin).await;
            assert_eq!(
                cors_headers(&reply.headers),
                pairs(&[("vary", "Origin")]),
                "{origin:?} {method}"
            );
        }
    }
}

#[tokio::test]
async fn the_wildcard_policy_allows_anyone_and_never_credentials() {
    let lab = spawn_with_lab().await;

    for origin in [
        Some(lab.main_origin.as_str()),
        Some("http://evil.example"),
        None,
    ] {
        let get = echo(&lab, Method::GET, "wildcard", origin).await;
        let post = echo(&lab, Method::POST, "wildcard", origin).await;
        let preflight = echo(&lab, Method::OPTIONS, "wildcard", origin).await;

        let star = pairs(&[("access-control-allow-origin", "*")]);
        assert_eq!(cors_headers(&get.headers), star, "{origin:?}");
        assert_eq!(cors_headers(&post.headers), star, "{origin:?}");
        assert!([200, 204].contains(&preflight.status.as_u16()));
        assert_eq!(
            cors_headers(&preflight.headers),
            pairs(&[
                ("access-control-allow-origin", "*"),
                ("access-control-allow-methods", "GET,POST"),
                ("access-control-allow-headers", "content-type"),
            ]),
            "{origin:?}"
        );
    }
}

#[tokio::test]
async fn the_none_policy_sends_no_cors_header_yet_answers() {
    let lab = spawn_with_lab().await;

    for method in [Method::GET, Method::POST, Method::OPTIONS] {
        let reply = echo(&lab, method.clone(), "none", Some(&lab.main_origin)).await;
        assert!(cors_headers(&reply.headers).is_empty(), "{method}");
        assert!(reply.status.is_success(), "{method}");
    }
}

#[tokio::test]
async fn the_echo_says_what_arrived_and_whether_it_names_a_live_session() {
    let lab = spawn_with_lab().await;
    lab.app.get_page().await;
    let id = lab.app.session_id().expect("a session");

    let reply = bare_client()
        .get(format!("{}/lab/echo?probe=probe-echo-1&cors=none", lab.lab))
        .header("cookie", format!("session_id={id}; lab_lax=1"))
        .header("origin", &lab.main_origin)
        .header("sec-fetch-site", "same-site")
        .send()
        .await
        .expect("GET");
    let reply = Reply::read(reply).await;

    assert_eq!(
        reply.json(),
        json!({"probe": "probe-echo-1", "method": "GET", "origin": lab.main_origin,
               "sec_fetch_site": "same-site", "cookies_received": ["session_id", "lab_lax"],
               "session": {"active": true}})
    );
    assert!(!reply.text.contains(&id), "never the value");
    let stranger = Reply::read(
        bare_client()
            .get(format!("{}/lab/echo?probe=probe-echo-2", lab.lab))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(stranger.json()["session"], json!({"active": false}));
    assert_eq!(stranger.json()["origin"], Value::Null);
}

#[tokio::test]
async fn the_lab_never_sets_session_id_nor_creates_a_session() {
    let lab = spawn_with_lab().await;
    lab.app.get_page().await;
    let id = lab.app.session_id().expect("a session");
    let before = lab.app.store().stats().live;

    for path in ["/", "/lab/echo?probe=probe-no-write", "/nothing"] {
        for cookie in [String::new(), format!("session_id={id}")] {
            let mut request = bare_client().get(format!("{}{path}", lab.lab));
            if !cookie.is_empty() {
                request = request.header("cookie", cookie);
            }
            let reply = Reply::read(request.send().await.expect("GET")).await;
            assert!(reply.session_set_cookie().is_none(), "{path}");
        }
    }
    let post = Reply::read(
        bare_client()
            .post(format!("{}/lab/echo?probe=probe-no-write", lab.lab))
            .body("x".repeat(100))
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert!(post.session_set_cookie().is_none());

    assert_eq!(lab.app.store().stats().live, before);
}

#[tokio::test]
async fn the_lab_page_sets_its_two_cookies_and_takes_only_main_targets() {
    let lab = spawn_with_lab().await;

    let page = Reply::read(
        bare_client()
            .get(format!(
                "{}/?probe=probe-page-1&target={}",
                lab.lab, lab.main_origin
            ))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    let foreign = Reply::read(
        bare_client()
            .get(format!(
                "{}/?probe=probe-page-2&target=http://evil.example",
                lab.lab
            ))
            .send()
            .await
            .expect("GET"),
    )
    .await;

    assert_eq!(
        page.set_cookies(),
        [
            "lab_lax=1; SameSite=Lax; Path=/",
            "lab_none=1; SameSite=None; Secure; Path=/"
        ]
    );
    assert!(page
        .text
        .contains(&format!("data-target=\"{}\"", lab.main_origin)));
    assert!(
        page.text
            .contains("Try to change the learner&#x27;s session from here")
            || page
                .text
                .contains("Try to change the learner's session from here")
    );
    assert!(foreign.text.contains("data-target=\"\""));
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("script-src 'self'") && csp.contains(&lab.main_origin),
        "{csp}"
    );
}

/// The lab page's "why was I opened" sentence, its tags dropped and its
/// white space folded, and where its two sections' headings sit.
async fn lab_page_as(lab: &Lab, query: &str) -> (String, usize, usize) {
    let page = Reply::read(
        bare_client()
            .get(format!("{}/{query}", lab.lab))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    let html = page.text.replace("&#x27;", "'");
    let start = html.find("<p id=\"opened\"").unwrap_or(0);
    let end = html[start..]
        .find("</p>")
        .map_or(html.len(), |end| start + end);
    let mut said = String::new();
    let mut in_tag = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => said.push(c),
            _ => {}
        }
    }
    let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
    let attack = html.find("id=\"attack-title\"").unwrap_or(usize::MAX);
    let plant = html.find("id=\"plant-title\"").unwrap_or(usize::MAX);
    (said, attack, plant)
}

#[tokio::test]
async fn the_lab_page_says_what_its_url_holds_and_puts_that_section_first() {
    let lab = spawn_with_lab().await;

    // Opened by panel 5's "Try session fixation": a probe, no target.
    let (said, attack, plant) = lab_page_as(&lab, "?probe=probe-fixation-1").await;
    assert!(
        said.starts_with(
            "Opened for session fixation (probe probe-fixation-1): press Plant a session id below"
        ),
        "{said}"
    );
    assert!(!said.contains("without a probe"), "{said}");
    assert!(plant < attack, "the fixation steps come first");

    // Opened by panel 10 with a target: the attacker's section first.
    let (said, attack, plant) = lab_page_as(
        &lab,
        &format!("?probe=probe-attack-1&target={}", lab.main_origin),
    )
    .await;
    assert!(
        said.contains(&format!(
            "names probe probe-attack-1 and the target {}",
            lab.main_origin
        )),
        "{said}"
    );
    assert!(attack < plant, "the attacker's section comes first");

    // A target this lab does not take: no attack, and it says why.
    let (said, attack, plant) =
        lab_page_as(&lab, "?probe=probe-refused-1&target=http://evil.example").await;
    assert!(
        said.contains("a target that is not one of the learner's page's origins"),
        "{said}"
    );
    assert!(
        !said.contains("evil.example"),
        "the refused target is not echoed"
    );
    assert!(plant < attack);

    // No probe, a bad probe, a target alone: each said as such.
    let (said, ..) = lab_page_as(&lab, "").await;
    assert!(
        said.starts_with("This page's URL names no probe and no target."),
        "{said}"
    );
    let (said, ..) = lab_page_as(&lab, "?probe=bad").await;
    assert!(
        said.starts_with("The probe in this page's URL is not one the lab takes"),
        "{said}"
    );
    let (said, ..) = lab_page_as(&lab, &format!("?target={}", lab.main_origin)).await;
    assert!(
        said.starts_with("This page's URL names a target but no probe"),
        "{said}"
    );
}

#[tokio::test]
async fn the_ledger_keeps_preflight_and_request_in_order_names_not_values() {
    let lab = spawn_with_lab().await;
    let probe = "probe-ledger-order";
    let url = format!("{}/lab/echo?probe={probe}&cors=credentials", lab.lab);
    bare_client()
        .request(Method::OPTIONS, &url)
        .header("origin", &lab.main_origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("OPTIONS");
    bare_client()
        .post(&url)
        .header("origin", &lab.main_origin)
        .header("cookie", "session_id=secret-value; theme=dark")
        .header("sec-fetch-site", "same-site")
        .body("{}")
        .send()
        .await
        .expect("POST");

    let ledger = lab.app.get(&format!("/lab/ledger?probe={probe}")).await;

    assert_eq!(ledger.status, 200);
    let body = ledger.json();
    assert_eq!(body["probe"], probe);
    let requests = body["requests"].as_array().expect("requests");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["method"], "OPTIONS");
    assert_eq!(requests[1]["method"], "POST");
    assert_eq!(
        requests[1]["cookies_received"],
        json!(["session_id", "theme"])
    );
    assert_eq!(requests[1]["origin"], lab.main_origin);
    assert_eq!(requests[1]["sec_fetch_site"], "same-site");
    assert!(requests[1]["at"]
        .as_str()
        .is_some_and(|at| at.ends_with('Z')));
    assert!(!ledger.text.contains("secret-value"));
    let unknown = lab.app.get("/lab/ledger?probe=never-seen-probe").await;
    assert_eq!(
        unknown.json(),
        json!({"probe": "never-seen-probe", "requests": []})
    );
}

#[tokio::test]
async fn a_bad_probe_is_refused_on_both_listeners() {
    let lab = spawn_with_lab().await;

    for probe in ["short", "has%20space", &"x".repeat(65)] {
        let on_main = lab.app.get(&format!("/lab/ledger?probe={probe}")).await;
        assert_eq!(on_main.status, 400, "{probe}");
        assert_eq!(on_main.error_code(), "invalid_probe");
        let on_lab = Reply::read(
            bare_client()
                .get(format!("{}/lab/echo?probe={probe}", lab.lab))
                .send()
                .await
                .expect("GET"),
        )
        .await;
        assert_eq!(on_lab.status, 400, "{probe}");
        assert_eq!(on_lab.error_code(), "invalid_probe");
    }
    assert_eq!(
        lab.app.get("/lab/ledger").await.error_code(),
        "invalid_probe"
    );
}

#[tokio::test]
async fn a_forged_post_to_the_main_listener_is_written_down_with_its_answer() {
    let lab = spawn_with_lab().await;
    lab.app.get_page().await;
    let probe = "probe-forged-post";

    let forged = lab
        .app
        .client
        .post(lab.app.url(&format!("/update-session-data?probe={probe}")))
        .header("origin", &lab.lab)
        .header("content-type", "text/plain")
        .body(r#"{"attacker": "was here"}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(forged.status(), 403);

    let requests = lab
        .app
        .get(&format!("/lab/ledger?probe={probe}"))
        .await
        .json()["requests"]
        .clone();
    assert_eq!(requests[0]["path"], "/update-session-data");
    assert_eq!(requests[0]["status"], 403);
    assert_eq!(requests[0]["code"], "cross_origin_rejected");
    assert_eq!(requests[0]["cookies_received"], json!(["session_id"]));
    assert_eq!(lab.app.data().await, json!({}));
}

#[tokio::test]
async fn the_page_knows_the_lab_and_may_connect_to_it() {
    let lab = spawn_with_lab().await;

    let page = lab.app.get_page().await;

    let port = lab.lab.rsplit(':').next().unwrap_or_default();
    assert!(page
        .text
        .contains(&format!("<meta name=\"lab-port\" content=\"{port}\">")));
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains(&format!(
            "connect-src 'self' http://127.0.0.1:{port} http://localhost:{port}"
        )),
        "{csp}"
    );
}

/// Starts the binary with these options; returns it and its stdout lines.
fn start_binary(
    args: &[&str],
) -> (
    std::process::Child,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let mut child = Command::new(BINARY)
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    (child, lines)
}

#[test]
fn lab_port_zero_prints_the_real_lab_address_and_off_starts_none() {
    let (mut with_lab, mut lines) = start_binary(&["--lab-port", "0"]);
    let first = lines.next().expect("a line").expect("text");
    let second = lines.next().expect("a second line").expect("text");
    stop_with_sigterm(&mut with_lab);
    assert!(
        first.starts_with("listening on http://127.0.0.1:"),
        "{first}"
    );
    let port = second
        .strip_prefix("lab origin on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected: {second}"));
    assert!(port.parse::<u16>().is_ok_and(|port| port != 0), "{second}");

    let (mut without, lines) = start_binary(&["--lab-port", "off"]);
    let mut lines = lines.map_while(Result::ok);
    let first = lines.next().expect("a line");
    assert!(first.starts_with("listening on http://"), "{first}");
    stop_with_sigterm(&mut without);
    let rest: Vec<String> = lines.collect();
    assert!(
        rest.iter().all(|line| !line.contains("lab origin")),
        "{rest:?}"
    );
}

/// The main listener's port, and the lab's, of a lab started for a test.
fn ports(lab: &Lab) -> (String, String) {
    let port = |origin: &str| origin.rsplit(':').next().unwrap_or_default().to_owned();
    (port(&lab.main_origin), port(&lab.lab))
}

/// `GET path` on the main listener with this `Host` header.
async fn main_get_as(lab: &Lab, path: &str, host: &str) -> Reply {
    Reply::read(
        bare_client()
            .get(lab.app.url(path))
            .header("host", host)
            .send()
            .await
            .expect("GET"),
    )
    .await
}

#[tokio::test]
async fn the_page_asked_under_another_host_name_may_connect_to_the_lab_on_it() {
    let lab = spawn_with_lab().await;
    let (main, port) = ports(&lab);
    let own = format!("connect-src 'self' http://127.0.0.1:{port} http://localhost:{port}");

    let page = main_get_as(&lab, "/", &format!("demo.test:{main}")).await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains(&format!("{own} http://demo.test:{port};")),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"));

    // As 127.0.0.1 or localhost: the lab's own origins, named once.
    for host in [format!("127.0.0.1:{main}"), format!("localhost:{main}")] {
        let reply = main_get_as(&lab, "/", &host).await;
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains(&format!("{own};")), "{host}: {csp}");
    }
    // Anything that is not a valid host name with the main port adds
    // nothing, and nothing can add a directive.
    for host in [
        format!("demo.test:{port}"),
        "demo.test".to_owned(),
        format!("demo.test;script-src *:{main}"),
        format!("demo_test:{main}"),
        format!("a b:{main}"),
    ] {
        let reply = main_get_as(&lab, "/", &host).await;
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains(&format!("{own};")), "{host}: {csp}");
        assert_eq!(csp.matches("script-src").count(), 1, "{host}: {csp}");
    }
    // The JSON replies keep the listener's own policy.
    let json = main_get_as(&lab, "/get-session-data", &format!("demo.test:{main}")).await;
    let csp = json.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains(&format!("{own};")), "{csp}");
    assert!(!csp.contains("demo.test"), "{csp}");
}

#[tokio::test]
async fn the_lab_allows_the_page_on_the_host_it_was_asked_under() {
    let lab = spawn_with_lab().await;
    let (main, port) = ports(&lab);
    let page_origin = format!("http://demo.test:{main}");
    let asked = |method: Method, host: String, origin: String| {
        let url = format!("{}/lab/echo?probe=probe-alias-1&cors=credentials", lab.lab);
        let mut request = bare_client()
            .request(method.clone(), url)
            .header("host", host)
            .header("origin", origin);
        if method == Method::OPTIONS {
            request = request
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type");
        }
        async move { Reply::read(request.send().await.expect("a reply")).await }
    };

    for method in [Method::GET, Method::OPTIONS] {
        let reply = asked(
            method.clone(),
            format!("demo.test:{port}"),
            page_origin.clone(),
        )
        .await;
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some(page_origin.as_str()),
            "{method}"
        );
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            Some("true")
        );
    }
    // The same origin asked under another host, or on another port: no.
    for (host, origin) in [
        (format!("127.0.0.1:{port}"), page_origin.clone()),
        (format!("other.test:{port}"), page_origin.clone()),
        (
            format!("demo.test:{port}"),
            format!("http://demo.test:{port}"),
        ),
        (
            format!("demo_test:{port}"),
            format!("http://demo_test:{main}"),
        ),
    ] {
        let reply = asked(Method::GET, host.clone(), origin.clone()).await;
        assert!(
            reply.header("access-control-allow-origin").is_none(),
            "{host} {origin}"
        );
    }

    // The lab's page takes that origin as its target, and may send to it.
    let page = Reply::read(
        bare_client()
            .get(format!(
                "{}/?probe=probe-alias-2&target={page_origin}",
                lab.lab
            ))
            .header("host", format!("demo.test:{port}"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert!(
        page.text
            .contains(&format!("data-target=\"{page_origin}\"")),
        "{}",
        page.text
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains(&format!(" {page_origin};")), "{csp}");
    let elsewhere = Reply::read(
        bare_client()
            .get(format!(
                "{}/?probe=probe-alias-3&target={page_origin}",
                lab.lab
            ))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert!(elsewhere.text.contains("data-target=\"\""));
    // Each page load is in the ledger, with whether it took its target:
    // the learner's page stops waiting for a button that is not there.
    for (probe, accepted) in [("probe-alias-2", true), ("probe-alias-3", false)] {
        let ledger = lab
            .app
            .get(&format!("/lab/ledger?probe={probe}"))
            .await
            .json();
        let entry = &ledger["requests"][0];
        assert_eq!(entry["method"], "GET", "{ledger}");
        assert_eq!(entry["path"], "/", "{ledger}");
        assert_eq!(entry["target_accepted"], accepted, "{ledger}");
    }
}

#[tokio::test]
async fn the_lab_page_follows_the_learners_theme_on_the_same_host() {
    let lab = spawn_with_lab().await;

    let page = |cookie: Option<&'static str>| {
        let mut request = bare_client().get(format!("{}/", lab.lab));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move { Reply::read(request.send().await.expect("GET")).await }
    };
    let dark = page(Some("theme=dark")).await;
    let none = page(None).await;

    assert!(dark.text.contains(r#"data-theme="dark""#), "{}", dark.text);
    assert!(none.text.contains(r#"data-theme="light""#), "{}", none.text);
}
