//! The page in real headless Chromium, driven over WebDriver (chromedriver).
//!
//! Without Chromium the test prints `SKIPPED: chromium not found` and passes,
//! except under `CI=true`, where it fails: CI installs Debian's `chromium`
//! and `chromium-driver`.

use std::error::Error;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::Method;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Url;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

pub(crate) type TestResult = Result<(), Box<dyn Error>>;

const CHROMIUM_PATHS: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const CHROMEDRIVER_PATH: &str = "/usr/bin/chromedriver";

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One of chromedriver's logs (`browser`: the console; `performance`: the
/// DevTools protocol's events), read through its log endpoint: each read
/// returns the entries since the last one.
#[derive(Debug)]
pub(crate) struct BrowserLog(pub &'static str);

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &Url, session: Option<&str>) -> Result<Url, url_error::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _url: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({"type": self.0}).to_string()))
    }
}

mod url_error {
    pub use reqwest::Url;
    pub type ParseError = <Url as std::str::FromStr>::Err;
}

fn find_chromium() -> Option<(&'static str, &'static str)> {
    let chromium = CHROMIUM_PATHS
        .into_iter()
        .find(|path| Path::new(path).exists())?;
    Path::new(CHROMEDRIVER_PATH)
        .exists()
        .then_some((chromium, CHROMEDRIVER_PATH))
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

async fn start_driver(chromedriver: &str) -> Result<Driver, Box<dyn Error>> {
    let port = free_port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}/"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = reqwest::get(format!("{}status", driver.url)).await {
            if response.status().is_success() {
                return Ok(driver);
            }
        }
        if Instant::now() > deadline {
            return Err("chromedriver did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect(
    driver: &Driver,
    chromium: &str,
    profile: &Path,
    extra_args: &[&str],
) -> Result<Client, Box<dyn Error>> {
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--no-first-run".to_owned(),
        format!("--user-data-dir={}", profile.display()),
        "--window-size=1280,2000".to_owned(),
    ];
    args.extend(extra_args.iter().map(|arg| (*arg).to_owned()));
    let mut capabilities = Capabilities::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": args,
        }),
    );
    // The performance log carries the DevTools protocol's Network events:
    // the headers Chromium really sent and received, for the claims check.
    capabilities.insert(
        "goog:loggingPrefs".into(),
        json!({"browser": "ALL", "performance": "ALL"}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    Ok(ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await?)
}

/// Runs a script that returns a value.
pub(crate) async fn eval(client: &Client, script: &str) -> Result<Value, Box<dyn Error>> {
    Ok(client.execute(script, vec![]).await?)
}

/// Waits until a script returns `true`, or fails after ten seconds.
pub(crate) async fn wait_for(client: &Client, what: &str, condition: &str) -> TestResult {
    wait_for_within(client, what, condition, Duration::from_secs(10)).await
}

/// [`wait_for`] with a deadline of its own.
pub(crate) async fn wait_for_within(
    client: &Client,
    what: &str,
    condition: &str,
    within: Duration,
) -> TestResult {
    let deadline = Instant::now() + within;
    let script = format!("return Boolean({condition});");
    loop {
        if eval(client, &script).await? == Value::Bool(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let log = eval(
                client,
                "return document.getElementById('explain').innerText;",
            )
            .await?;
            return Err(format!("timed out waiting for {what}; the page says: {log}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn click(client: &Client, id: &str) -> TestResult {
    client.find(Locator::Id(id)).await?.click().await?;
    Ok(())
}

pub(crate) async fn fill(client: &Client, id: &str, text: &str) -> TestResult {
    let input = client.find(Locator::Id(id)).await?;
    input.clear().await?;
    input.send_keys(text).await?;
    Ok(())
}

/// The number of requests answered since the page loaded (the log itself
/// keeps only the newest 50).
async fn log_count(client: &Client) -> Result<u64, Box<dyn Error>> {
    let count = eval(
        client,
        "return Number(document.getElementById('log').dataset.answered || 0);",
    )
    .await?;
    Ok(count.as_u64().unwrap_or(0))
}

/// Clicks a button and waits for `requests` more entries in the log; then
/// checks the claims of the explanation it brought, if any, against what
/// Chromium sent and received.
pub(crate) async fn click_and_wait(client: &Client, id: &str, requests: u64) -> TestResult {
    let before = log_count(client).await?;
    click(client, id).await?;
    wait_for(
        client,
        &format!("{requests} request(s) after #{id}"),
        &format!(
            "Number(document.getElementById('log').dataset.answered || 0) >= {}",
            before + requests
        ),
    )
    .await?;
    crate::claims::check_newest_claims(client).await?;
    no_sideways_scroll(client, &format!("#{id}")).await
}

/// How far the page scrolls sideways with the window `width` px wide (and
/// 2000 tall): 0 when it fits. Resizes the window it is given, once the
/// page has taken the new width.
pub(crate) async fn sideways_scroll(client: &Client, width: u32) -> Result<i64, Box<dyn Error>> {
    client.set_window_size(width, 2000).await?;
    wait_for(
        client,
        &format!("the page at {width} px"),
        &format!("window.innerWidth === {width}"),
    )
    .await?;
    let overflow = eval(
        client,
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
    )
    .await?;
    Ok(overflow.as_i64().unwrap_or(i64::MAX))
}

/// Fails when the page scrolls sideways at 360 or at 1280 px; leaves the
/// window 1280 px wide.
async fn no_sideways_scroll(client: &Client, after: &str) -> TestResult {
    for width in [360, 1280] {
        let px = sideways_scroll(client, width).await?;
        assert!(
            px <= 0,
            "after {after} the page scrolls {px} px sideways at {width} px"
        );
    }
    Ok(())
}

/// The JSON the session panel shows.
pub(crate) async fn shown_session(client: &Client) -> Result<Value, Box<dyn Error>> {
    let text = eval(
        client,
        "return document.getElementById('session-json').textContent;",
    )
    .await?;
    Ok(serde_json::from_str(text.as_str().unwrap_or("null"))?)
}

/// The newest explanation in "What just happened".
pub(crate) async fn newest_explanation(client: &Client) -> Result<String, Box<dyn Error>> {
    let text = eval(
        client,
        "return document.querySelector('#explain li').textContent;",
    )
    .await?;
    Ok(text.as_str().unwrap_or_default().to_owned())
}

pub(crate) async fn newest_status(client: &Client) -> Result<String, Box<dyn Error>> {
    let status = eval(
        client,
        "return document.querySelector('#log > li').dataset.status;",
    )
    .await?;
    Ok(status.as_str().unwrap_or_default().to_owned())
}

/// The session cookie as the browser holds it (WebDriver sees HttpOnly cookies).
pub(crate) async fn session_cookie(
    client: &Client,
) -> Result<Option<fantoccini::cookies::Cookie<'static>>, Box<dyn Error>> {
    Ok(client
        .get_all_cookies()
        .await?
        .into_iter()
        .find(|cookie| cookie.name() == "session_id"))
}

/// A screenshot of the whole page at `width`: the window is made as tall as
/// the page, so every panel is in the picture.
pub(crate) async fn screenshot(client: &Client, dir: &Path, name: &str, width: u32) -> TestResult {
    client.set_window_size(width, 1000).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let height = eval(client, "return document.documentElement.scrollHeight;")
        .await?
        .as_u64()
        .unwrap_or(2000)
        .clamp(600, 8000);
    client
        .set_window_size(width, u32::try_from(height).unwrap_or(8000) + 120)
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = client.screenshot().await?;
    std::fs::write(dir.join(name), png)?;
    Ok(())
}

/// Console messages of level SEVERE: script errors, failed loads, CSP violations.
pub(crate) async fn console_errors(client: &Client) -> Result<Vec<String>, Box<dyn Error>> {
    let entries = client.issue_cmd(BrowserLog("browser")).await?;
    Ok(entries
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| {
            entry["level"] == "SEVERE"
                || entry["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("Content Security Policy"))
        })
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
        .collect())
}

/// A headless Chromium, its chromedriver and a fresh profile; the profile
/// is removed when this is dropped.
pub(crate) struct Browser {
    pub client: Client,
    /// Where the screenshots go.
    pub shots: PathBuf,
    profile: PathBuf,
    _driver: Driver,
}

impl Browser {
    /// Starts one for the test `name`, or says SKIPPED and returns `None`
    /// without Chromium (a failure under `CI=true`).
    pub(crate) async fn start_or_skip(name: &str) -> Result<Option<Self>, Box<dyn Error>> {
        Self::start_with_or_skip(name, &[]).await
    }

    /// [`Browser::start_or_skip`] with more Chromium switches (say
    /// `--host-resolver-rules=…`).
    pub(crate) async fn start_with_or_skip(
        name: &str,
        extra_args: &[&str],
    ) -> Result<Option<Self>, Box<dyn Error>> {
        let Some((chromium, chromedriver)) = find_chromium() else {
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!("chromium and chromedriver are required in CI (apt-get install chromium chromium-driver)");
            }
            println!("SKIPPED {name}: chromium not found: install chromium and chromium-driver");
            eprintln!("SKIPPED {name}: chromium not found: install chromium and chromium-driver");
            return Ok(None);
        };
        let driver = start_driver(chromedriver).await?;
        let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
        let profile = work.join(format!("profile-{name}-{}", std::process::id()));
        let shots = work.join("screenshots");
        std::fs::create_dir_all(&shots)?;
        let client = connect(&driver, chromium, &profile, extra_args).await?;
        Ok(Some(Self {
            client,
            shots,
            profile,
            _driver: driver,
        }))
    }

    /// Closes the browser session and removes the profile.
    pub(crate) async fn close(self) {
        let _ = self.client.clone().close().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_tells_the_whole_story_in_a_real_browser() -> TestResult {
    let Some(browser) = Browser::start_or_skip("page").await? else {
        return Ok(());
    };
    let app = spawn_app().await;
    let outcome = drive(&browser.client, &app.address, &browser.shots, Api::Xhr).await;
    browser.close().await;
    outcome
}

/// The same tour with "Send with: fetch()" chosen right after the page's
/// first read: every claim holds for fetch() as for XMLHttpRequest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_story_holds_when_fetch_sends_the_requests() -> TestResult {
    let Some(browser) = Browser::start_or_skip("page-fetch").await? else {
        return Ok(());
    };
    let app = spawn_app().await;
    let outcome = drive(&browser.client, &app.address, &browser.shots, Api::Fetch).await;
    browser.close().await;
    outcome
}

/// Panel 4's curl command, run as shown (a shell reads it as a learner
/// pastes it): the server refuses it for its Origin, as the page says.
async fn the_curl_command_shown_is_refused_for_its_origin(
    client: &Client,
    address: &str,
) -> TestResult {
    let command = eval(
        client,
        "return document.getElementById('origin-curl').textContent;",
    )
    .await?;
    let command = command.as_str().unwrap_or_default().to_owned();
    assert!(command.contains(address), "aimed elsewhere: {command}");
    let shown = command.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .args(["-c", &command])
            .output()
    })
    .await??;
    let reply = String::from_utf8_lossy(&output.stdout);
    assert!(
        reply.starts_with("HTTP/1.1 403"),
        "{shown}\n{reply}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(reply.contains("\"cross_origin_rejected\""), "{reply}");
    Ok(())
}

/// Which API the tour's panels send with.
#[derive(Clone, Copy, PartialEq)]
enum Api {
    Xhr,
    Fetch,
}

async fn drive(client: &Client, address: &str, shots: &Path, api: Api) -> TestResult {
    // Load: the page asks for the session right away.
    client.goto(&format!("{address}/")).await?;
    wait_for(
        client,
        "the first request",
        "Number(document.getElementById('log').dataset.answered || 0) >= 1",
    )
    .await?;
    assert_eq!(newest_status(client).await?, "200");
    assert_eq!(shown_session(client).await?["session"]["page_views"], 1);
    let checked = crate::claims::check_newest_claims(client).await?;
    for kind in [
        "cookies_sent",
        "status",
        "cookie_lifetime",
        "page_views",
        "page_set_cookie",
    ] {
        assert!(
            checked.contains(&kind),
            "the page load's claims: {checked:?}"
        );
    }
    no_sideways_scroll(client, "the page load").await?;
    if api == Api::Fetch {
        client
            .find(Locator::Css("input[name='api'][value='fetch']"))
            .await?
            .click()
            .await?;
        wait_for(
            client,
            "fetch() chosen",
            "document.documentElement.dataset.api === 'fetch'",
        )
        .await?;
    }
    let shot = |name: &str| match api {
        Api::Xhr => name.to_owned(),
        Api::Fetch => format!("fetch-{name}"),
    };

    // Where the session lives, and which instance answered.
    let instance = address.trim_start_matches("http://");
    let store = eval(
        client,
        "return document.getElementById('store-where').dataset.store;",
    )
    .await?;
    assert_eq!(store, "memory");
    let said = eval(
        client,
        "return document.getElementById('store-where').textContent;",
    )
    .await?;
    assert!(
        said.as_str()
            .unwrap_or_default()
            .contains("a restart forgets it"),
        "{said}"
    );
    if api == Api::Xhr {
        the_curl_command_shown_is_refused_for_its_origin(client, address).await?;
    }
    let logged = eval(
        client,
        "return document.querySelector('#log > li summary').textContent;",
    )
    .await?;
    assert!(
        logged.as_str().unwrap_or_default().contains(instance),
        "{logged}"
    );

    // HttpOnly: invisible to document.cookie, present in the browser's jar.
    let visible = eval(client, "return document.cookie;").await?;
    assert!(
        !visible.as_str().unwrap_or_default().contains("session_id"),
        "{visible}"
    );
    let cookie = session_cookie(client).await?.ok_or("no session cookie")?;
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Lax)");
    let first_id = cookie.value().to_owned();

    // Only same-origin assets, and nothing went wrong loading them.
    let foreign = eval(
        client,
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin));",
    )
    .await?;
    assert_eq!(foreign, json!([]));

    // Refresh twice within a second: a read that moves the expiry by less
    // than a tenth of the idle timeout writes nothing, and the page says so.
    click_and_wait(client, "refresh", 1).await?;
    assert_eq!(newest_status(client).await?, "200");
    click_and_wait(client, "refresh", 1).await?;
    let said = newest_explanation(client).await?;
    assert!(said.contains("did not move"), "{said}");
    assert!(said.contains("a tenth of the idle timeout"), "{said}");
    assert!(!said.contains("moved the expiry"), "{said}");
    let countdown = eval(
        client,
        "return document.getElementById('countdown').dataset.seconds;",
    )
    .await?;
    let seconds: u64 = countdown.as_str().unwrap_or_default().parse()?;
    assert!((1700..=1800).contains(&seconds), "countdown {seconds}");

    // Update a key with a JSON value, then delete it.
    fill(client, "data-key", "color").await?;
    fill(client, "data-value", "\"blue\"").await?;
    click_and_wait(client, "update", 1).await?;
    assert_eq!(shown_session(client).await?["data"]["color"], "blue");
    fill(client, "data-key", "answer").await?;
    fill(client, "data-value", "42").await?;
    click_and_wait(client, "update", 1).await?;
    assert_eq!(shown_session(client).await?["data"]["answer"], 42);
    fill(client, "data-key", "color").await?;
    click_and_wait(client, "delete-key", 1).await?;
    assert_eq!(shown_session(client).await?["data"], json!({"answer": 42}));

    // A cookie set by JavaScript reaches the server on the next request.
    fill(client, "cookie-name", "favourite").await?;
    fill(client, "cookie-value", "oatmeal").await?;
    click_and_wait(client, "set-cookie", 1).await?;
    let visible = eval(client, "return document.cookie;").await?;
    assert!(
        visible
            .as_str()
            .unwrap_or_default()
            .contains("favourite=oatmeal"),
        "{visible}"
    );
    let received = &shown_session(client).await?["cookies_received"];
    assert!(
        received
            .as_array()
            .is_some_and(|names| names.contains(&json!("favourite"))),
        "{received}"
    );
    assert!(
        received
            .as_array()
            .is_some_and(|names| names.contains(&json!("session_id"))),
        "{received}"
    );
    let shown_cookies = eval(
        client,
        "return document.getElementById('js-cookies').textContent;",
    )
    .await?;
    assert!(shown_cookies
        .as_str()
        .unwrap_or_default()
        .contains("favourite=oatmeal"));
    let said = newest_explanation(client).await?;
    assert!(said.contains("carried it"), "{said}");

    // A script cannot overwrite the HttpOnly session cookie, and the page
    // says the browser refused rather than that the write happened.
    fill(client, "cookie-name", "session_id").await?;
    fill(client, "cookie-value", "planted").await?;
    click_and_wait(client, "set-cookie", 1).await?;
    let said = newest_explanation(client).await?;
    assert!(said.contains("refused the write"), "{said}");
    assert!(said.contains("HttpOnly"), "{said}");
    let visible = eval(client, "return document.cookie;").await?;
    assert!(
        !visible.as_str().unwrap_or_default().contains("session_id"),
        "{visible}"
    );
    assert_eq!(
        session_cookie(client).await?.map(|c| c.value().to_owned()),
        Some(first_id.clone())
    );

    // Delete cookie sends a request that shows the cookie gone.
    fill(client, "cookie-name", "favourite").await?;
    click_and_wait(client, "delete-cookie", 1).await?;
    let received = &shown_session(client).await?["cookies_received"];
    assert!(
        received
            .as_array()
            .is_some_and(|names| !names.contains(&json!("favourite"))),
        "{received}"
    );
    let said = newest_explanation(client).await?;
    assert!(said.contains("did not carry it"), "{said}");

    // A request without the token is refused, and the page says so.
    click_and_wait(client, "no-token", 1).await?;
    assert_eq!(newest_status(client).await?, "403");
    let said = newest_explanation(client).await?;
    for words in [
        "403 csrf_token_missing",
        "no X-CSRF-Token",
        "SameSite=Lax",
        "Origin check",
    ] {
        assert!(said.contains(words), "{words} in: {said}");
    }
    assert!(
        said.contains("received it"),
        "the cookie rode along: {said}"
    );
    let note = eval(
        client,
        "return document.getElementById('csrf-note').textContent;",
    )
    .await?;
    for words in [
        "CSRF token",
        "SameSite=Lax",
        "Origin check",
        "cross_origin_rejected",
    ] {
        assert!(note.as_str().unwrap_or_default().contains(words), "{words}");
    }
    assert!(shown_session(client).await?["data"].get("forged").is_none());

    // Twenty parallel updates all arrive, burst after burst: the burst's
    // own keys are overwritten, so it never nears the key limit.
    for burst in 1..=6 {
        click(client, "burst").await?;
        wait_for(
            client,
            "the burst result",
            "document.getElementById('burst-result').dataset.kept",
        )
        .await?;
        let kept = eval(
            client,
            "return document.getElementById('burst-result').dataset.kept;",
        )
        .await?;
        assert_eq!(kept, "20", "burst {burst}");
        let outcomes = eval(
            client,
            "return document.querySelectorAll('#burst-outcomes li').length;",
        )
        .await?;
        assert_eq!(outcomes, 20);
        let said = newest_explanation(client).await?;
        assert!(said.contains("20 of 20"), "{said}");
        let checked = crate::claims::check_newest_claims(client).await?;
        assert!(checked.contains(&"burst"), "{checked:?}");
        no_sideways_scroll(client, &format!("burst {burst}")).await?;
    }
    let keys = shown_session(client).await?["data"]
        .as_object()
        .map_or(0, |data| data.len());
    assert_eq!(keys, 21, "answer plus 20 burst keys");

    // Panel 5: log in as alice (a new id, a browser-session cookie), ask
    // who am I, and fail with a wrong password (nothing changes).
    crate::browser_login::log_in_in_the_tour(client).await?;

    screenshot(client, shots, &shot("page-1280.png"), 1280).await?;
    screenshot(client, shots, &shot("page-360.png"), 360).await?;
    client.set_window_size(1280, 2000).await?;

    // Regenerate: a new id, the same data.
    click_and_wait(client, "regenerate", 1).await?;
    let regenerated = session_cookie(client)
        .await?
        .ok_or("no cookie after regenerate")?;
    assert_ne!(regenerated.value(), first_id);
    assert_eq!(shown_session(client).await?["data"]["answer"], 42);

    // Clear: inactive, and the cookie is gone.
    click_and_wait(client, "clear", 1).await?;
    let active = eval(
        client,
        "return document.getElementById('session-summary').dataset.active;",
    )
    .await?;
    assert_eq!(active, "false");
    assert_eq!(
        shown_session(client).await?["session"],
        json!({"active": false})
    );
    assert!(session_cookie(client).await?.is_none());

    // Without a live session, a token-less update is accepted: there is no
    // token to check, and it starts a session of its own. The note and the
    // explanation both say so.
    click_and_wait(client, "no-token", 1).await?;
    assert_eq!(newest_status(client).await?, "200");
    let said = newest_explanation(client).await?;
    assert!(said.contains("no token was needed"), "{said}");
    assert!(said.contains("created a new session"), "{said}");
    assert_eq!(
        shown_session(client).await?["data"],
        json!({"forged": true})
    );
    let note = eval(
        client,
        "return document.getElementById('csrf-note').textContent;",
    )
    .await?;
    assert!(
        note.as_str()
            .unwrap_or_default()
            .contains("With no live session"),
        "{note}"
    );
    click_and_wait(client, "clear", 1).await?;

    // Panel 5 again: bob, remembered (a persistent cookie), then Log out,
    // and the protected resource refuses.
    crate::browser_login::log_out_in_the_tour(client).await?;

    // An update after Clear: no cookie went out, so a new session was made.
    fill(client, "data-key", "after").await?;
    fill(client, "data-value", "1").await?;
    click_and_wait(client, "update", 1).await?;
    let said = newest_explanation(client).await?;
    assert!(said.contains("No session_id cookie came"), "{said}");
    assert!(said.contains("created a new session"), "{said}");
    assert!(!said.contains("attached the session_id"), "{said}");
    assert_eq!(shown_session(client).await?["data"], json!({"after": 1}));
    let explanations_before_reload = eval(
        client,
        "return document.querySelectorAll('#explain li').length;",
    )
    .await?;

    // The theme cookie: toggled by JavaScript, rendered by the server.
    click(client, "theme-toggle").await?;
    wait_for(
        client,
        "the dark theme",
        "document.documentElement.dataset.theme === 'dark'",
    )
    .await?;
    client.refresh().await?;
    wait_for(
        client,
        "the reloaded page",
        "Number(document.getElementById('log').dataset.answered || 0) >= 1",
    )
    .await?;
    let source = client.source().await?;
    assert!(
        source.contains("data-theme=\"dark\""),
        "server-rendered theme"
    );
    // The log and the explanations survived the reload.
    let kept = eval(
        client,
        "return document.querySelectorAll('#log > li').length;",
    )
    .await?;
    assert!(kept.as_u64() > Some(20), "the log was kept: {kept}");
    let explanations = eval(
        client,
        "return document.querySelectorAll('#explain li').length;",
    )
    .await?;
    assert!(
        explanations.as_u64() >= explanations_before_reload.as_u64(),
        "{explanations} explanations after the reload"
    );
    let said = newest_explanation(client).await?;
    assert!(said.contains("same session this tab saw before"), "{said}");
    let checked = crate::claims::check_newest_claims(client).await?;
    assert!(
        checked.contains(&"page_set_cookie"),
        "the reload's claims: {checked:?}"
    );
    no_sideways_scroll(client, "the reload").await?;
    let background = eval(
        client,
        "return getComputedStyle(document.body).backgroundColor;",
    )
    .await?;
    assert_ne!(background, "rgb(246, 247, 249)", "the dark theme applies");
    screenshot(client, shots, &shot("page-dark-1280.png"), 1280).await?;
    screenshot(client, shots, &shot("page-dark-360.png"), 360).await?;

    let errors = console_errors(client).await?;
    // The expected refusals: the 403 of "Send without CSRF token", the
    // refused logins (401, 422, 429) and "Who am I?" after the logout (401).
    let unexpected: Vec<&String> = errors
        .iter()
        .filter(|message| !message.contains("update-session-data") || !message.contains("403"))
        .filter(|message| {
            !(message.contains("/login")
                && ["401", "422", "429"].iter().any(|s| message.contains(s)))
        })
        .filter(|message| !message.contains("/me") || !message.contains("401"))
        .collect();
    assert!(unexpected.is_empty(), "console errors: {unexpected:#?}");

    // Every request after the choice went out with the chosen API (the
    // log names it on each line; the first read, before it, used XHR).
    if api == Api::Fetch {
        let apis = eval(
            client,
            "return Array.from(document.querySelectorAll('#log > li')).map(li => li.textContent.includes('fetch()'));",
        )
        .await?;
        let apis: Vec<bool> = serde_json::from_value(apis)?;
        assert!(apis.len() > 20, "{apis:?}");
        assert!(
            apis.iter().filter(|fetch| !**fetch).count() <= 1,
            "requests not sent with fetch(): {apis:?}"
        );
    }

    // Every step above that explained a session exchange had its claims
    // held against what Chromium sent and received (claims.rs).
    let counts = crate::claims::checked_counts(client).await?;
    println!("claims checked against Chromium: {counts:?}");
    for kind in [
        "cookies_sent",
        "token_sent",
        "set_cookie",
        "status",
        "active",
        "code",
        "cookie_lifetime",
    ] {
        assert!(
            counts.get(kind).copied().unwrap_or(0) >= 8,
            "{kind} checked too rarely: {counts:?}"
        );
    }
    for kind in [
        "id_changed",
        "expires_at",
        "changes",
        "keys",
        "page_views",
        "page_set_cookie",
        "cookie_write",
    ] {
        assert!(
            counts.get(kind).copied().unwrap_or(0) >= 2,
            "{kind} checked too rarely: {counts:?}"
        );
    }
    Ok(())
}
