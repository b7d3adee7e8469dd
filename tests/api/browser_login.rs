//! Panel 5, "Log in", in real headless Chromium. What the page says of a
//! login, a refused login, "Who am I?" and a logout is held against the
//! `session_id` cookie Chromium holds (read through WebDriver, which sees
//! `HttpOnly` cookies; the page cannot) and, through the claims check,
//! against the headers Chromium sent and received. "Try session fixation"
//! runs through the lab: a plant from another port of this host replaces
//! this site's cookie and the login voids it; a plant from another host
//! leaves this site's cookie alone; without the defence the planted id
//! finds the learner logged in.

use std::time::Duration;

use ajax_sessions::config::LabPort;
use ajax_sessions::{Application, Config};
use fantoccini::Client;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::browser::{
    click, click_and_wait, console_errors, eval, fill, newest_explanation, newest_status,
    session_cookie, wait_for, wait_for_within, Browser, TestResult,
};
use crate::browser_lab::wait_for_new_window;
use crate::claims::{check_newest_claims, check_newest_claims_about};
use crate::helpers::serve_in_background;
use crate::lab::Lab;

/// The id's fingerprint as the server shows it: the first 8 hex digits of
/// its SHA-256.
fn fingerprint_of(id: &str) -> String {
    Sha256::digest(id.as_bytes())[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// An element's `data-*` attributes.
async fn dataset(client: &Client, selector: &str) -> Result<Value, Box<dyn std::error::Error>> {
    eval(
        client,
        &format!(
            "const node = document.querySelector({}); return node ? {{...node.dataset}} : null;",
            Value::String(selector.to_owned())
        ),
    )
    .await
}

/// An element's text.
async fn text_of(client: &Client, id: &str) -> Result<String, Box<dyn std::error::Error>> {
    let text = eval(
        client,
        &format!("return document.getElementById('{id}').textContent;"),
    )
    .await?;
    Ok(text.as_str().unwrap_or_default().to_owned())
}

/// Ticks or unticks "Remember me" by clicking it, as a learner would.
async fn remember(client: &Client, on: bool) -> TestResult {
    let checked = eval(
        client,
        "return document.getElementById('login-remember').checked;",
    )
    .await?;
    if checked != Value::Bool(on) {
        click(client, "login-remember").await?;
    }
    Ok(())
}

/// Fills the login form.
async fn credentials(
    client: &Client,
    username: &str,
    password: &str,
    remembered: bool,
) -> TestResult {
    fill(client, "login-username", username).await?;
    fill(client, "login-password", password).await?;
    remember(client, remembered).await
}

/// The tour's first login steps (`browser.rs`): alice logs in without
/// "remember me", asks who she is, then fails with a wrong password.
pub(crate) async fn log_in_in_the_tour(client: &Client) -> TestResult {
    let before = session_cookie(client)
        .await?
        .ok_or("no session cookie before the login")?;

    credentials(client, "alice", "wonderland", false).await?;
    click_and_wait(client, "login", 1).await?;

    assert_eq!(newest_status(client).await?, "200");
    let after = session_cookie(client)
        .await?
        .ok_or("no session cookie after the login")?;
    assert_ne!(after.value(), before.value(), "the login keeps the old id");
    assert!(
        after.expires_datetime().is_none(),
        "without Remember me, Chromium holds a browser-session cookie: {:?}",
        after.expires()
    );
    // The page shows the user and the fingerprints of the ids Chromium
    // held before and holds now.
    let (was, is) = (
        fingerprint_of(before.value()),
        fingerprint_of(after.value()),
    );
    let summary = dataset(client, "#login-summary").await?;
    assert_eq!(summary["outcome"], "logged-in", "{summary}");
    assert_eq!(summary["before"], was.as_str(), "{summary}");
    assert_eq!(summary["after"], is.as_str(), "{summary}");
    assert_eq!(summary["lifetime"], "browser-session", "{summary}");
    assert_eq!(summary["tokenChanged"], "true", "{summary}");
    let shown = text_of(client, "login-summary").await?;
    assert!(
        shown.contains(&format!("{was} → {is}")),
        "both fingerprints shown: {shown}"
    );
    assert_eq!(dataset(client, "#login-who").await?["user"], "alice");
    assert!(text_of(client, "login-who")
        .await?
        .starts_with("Logged in as alice"));
    let said = newest_explanation(client).await?;
    for words in [
        "logged you in as alice",
        &format!("from {was} to {is}"),
        "new CSRF token",
        "a browser-session cookie",
    ] {
        assert!(said.contains(words), "{words} in: {said}");
    }
    // The password never reaches the log, on screen or in sessionStorage.
    let logged = eval(
        client,
        "return [document.querySelector('#log li').textContent, sessionStorage.getItem('ajax-sessions:page') || ''];",
    )
    .await?;
    for kept in logged.as_array().ok_or("no log text")? {
        let kept = kept.as_str().unwrap_or_default();
        assert!(
            !kept.contains("wonderland"),
            "the password was kept: {kept}"
        );
        assert!(kept.contains("••••••••"), "no masked password in: {kept}");
    }
    // Panel 6 counts down to the absolute limit, counted again from the login.
    let absolute = dataset(client, "#absolute-countdown").await?;
    let seconds: u64 = absolute["seconds"].as_str().unwrap_or_default().parse()?;
    assert!((28_790..=28_800).contains(&seconds), "{absolute}");
    assert!(text_of(client, "absolute-countdown")
        .await?
        .contains("counted from the login of alice"));

    // Who am I?: the cookie alone authenticates.
    click_and_wait(client, "who-am-i", 1).await?;
    assert_eq!(newest_status(client).await?, "200");
    let said = newest_explanation(client).await?;
    assert!(said.contains("logged in as alice"), "{said}");
    assert!(said.contains("GET /me counts as activity"), "{said}");

    // A wrong password: refused, and the cookie is the one it was.
    credentials(client, "alice", "not-the-password", false).await?;
    click_and_wait(client, "login", 1).await?;
    assert_eq!(newest_status(client).await?, "401");
    let said = newest_explanation(client).await?;
    assert!(
        said.contains("refused the login: 401 invalid_credentials"),
        "{said}"
    );
    assert!(said.contains("The session did not change"), "{said}");
    assert!(
        said.contains("Failures count toward the limit: 5 per username within 60 s"),
        "{said}"
    );
    assert!(!said.starts_with("Unexpected"), "{said}");
    let still = session_cookie(client)
        .await?
        .ok_or("no session cookie after the refusal")?;
    assert_eq!(
        still.value(),
        after.value(),
        "a refused login changed the id"
    );
    let summary = dataset(client, "#login-summary").await?;
    assert_eq!(summary["outcome"], "refused", "{summary}");
    assert_eq!(summary["after"], is.as_str(), "{summary}");
    assert_eq!(dataset(client, "#login-who").await?["user"], "alice");
    Ok(())
}

/// The tour's later login steps, with no live session: bob logs in with
/// "remember me" (a persistent cookie), logs out, and the protected
/// resource then refuses; a malformed login and a throttled one are
/// refused without a cookie.
pub(crate) async fn log_out_in_the_tour(client: &Client) -> TestResult {
    credentials(client, "bob", "builder", true).await?;
    click_and_wait(client, "login", 1).await?;
    assert_eq!(newest_status(client).await?, "200");
    let cookie = session_cookie(client)
        .await?
        .ok_or("no session cookie after bob's login")?;
    assert!(
        cookie.expires_datetime().is_some(),
        "Remember me: a persistent cookie"
    );
    assert_eq!(
        dataset(client, "#login-summary").await?["lifetime"],
        "persistent"
    );
    let said = newest_explanation(client).await?;
    assert!(said.contains("a persistent cookie"), "{said}");
    assert!(said.contains("created one, already logged in"), "{said}");

    click_and_wait(client, "logout", 1).await?;
    assert_eq!(newest_status(client).await?, "200");
    assert!(
        session_cookie(client).await?.is_none(),
        "the cookie is gone"
    );
    let said = newest_explanation(client).await?;
    assert!(said.contains("You were logged in as bob"), "{said}");
    assert!(text_of(client, "login-who")
        .await?
        .contains("nobody is logged in"));

    click_and_wait(client, "who-am-i", 1).await?;
    assert_eq!(newest_status(client).await?, "401");
    let said = newest_explanation(client).await?;
    assert!(said.contains("401 not_logged_in"), "{said}");
    let who = text_of(client, "login-who").await?;
    assert!(
        who.starts_with("Not logged in: GET /me answered 401"),
        "{who}"
    );
    remember(client, false).await?;

    // A username over 64 bytes is no login at all: 422, nothing checked.
    credentials(client, &"x".repeat(65), "whatever", false).await?;
    click_and_wait(client, "login", 1).await?;
    assert_eq!(newest_status(client).await?, "422");
    let said = newest_explanation(client).await?;
    assert!(said.contains("422 invalid_login"), "{said}");
    assert!(said.contains("no password was checked"), "{said}");
    // Five failures for one username, then every attempt is refused for a
    // while, with Retry-After; none of it sets a cookie.
    credentials(client, "carol", "guess", false).await?;
    for _ in 0..5 {
        click_and_wait(client, "login", 1).await?;
        assert_eq!(newest_status(client).await?, "401");
    }
    click_and_wait(client, "login", 1).await?;
    assert_eq!(newest_status(client).await?, "429");
    let said = newest_explanation(client).await?;
    assert!(said.contains("429 too_many_attempts"), "{said}");
    assert!(said.contains("Retry-After says to wait"), "{said}");
    assert!(said.contains("The session did not change"), "{said}");
    let summary = text_of(client, "login-summary").await?;
    assert!(summary.contains("Retry-After"), "{summary}");
    assert!(
        session_cookie(client).await?.is_none(),
        "a refusal set a cookie"
    );
    Ok(())
}

/// The main and lab listeners under `config` (the lab on a free port).
async fn spawn_lab_with(config: Config) -> Lab {
    let application = Application::build(Config {
        port: 0,
        lab_port: LabPort::Port(0),
        max_sessions: 1000,
        ..config
    })
    .await
    .expect("the app starts");
    let lab_address = application.lab_address().expect("the lab is on");
    let app = serve_in_background(application);
    Lab {
        lab: format!("http://{lab_address}"),
        main_origin: app.address.clone(),
        app,
    }
}

/// Opens the page and waits for its first read.
async fn open_page(client: &Client, lab: &Lab) -> TestResult {
    client.goto(&format!("{}/", lab.main_origin)).await?;
    wait_for(
        client,
        "the first request",
        "Number(document.getElementById('log').dataset.answered || 0) >= 1",
    )
    .await
}

/// Presses "Try session fixation" for `target`, plants in the lab's page
/// it opens, comes back and waits for the page's read after the plant;
/// returns the run's `data-*` attributes.
async fn plant_from(client: &Client, target: &str) -> Result<Value, Box<dyn std::error::Error>> {
    let main_window = client.window().await?;
    click(client, &format!("fixation-{target}")).await?;
    let opened = wait_for_new_window(client, &main_window).await?;
    client.switch_to_window(opened).await?;
    wait_for(
        client,
        "the lab's plant button",
        "document.getElementById('plant')",
    )
    .await?;
    click(client, "plant").await?;
    wait_for(
        client,
        "the plant's reply",
        "document.getElementById('plant-result').dataset.status",
    )
    .await?;
    let status = eval(
        client,
        "return document.getElementById('plant-result').dataset.status;",
    )
    .await?;
    assert_eq!(status, "200", "the lab planted");
    client.close_window().await?;
    client.switch_to_window(main_window).await?;
    let run = format!("#fixation-runs li[data-target=\"{target}\"]");
    wait_for(
        client,
        "the read after the plant",
        &format!("document.querySelector('{run}').dataset.state === 'planted'"),
    )
    .await?;
    // The read's claims, against what Chromium sent: the cookie the page
    // says it now sends is the one Chromium sent.
    let checked = check_newest_claims(client).await?;
    for kind in [
        "cookies_sent",
        "set_cookie",
        "status",
        "cookie_lifetime",
        "active",
    ] {
        assert!(checked.contains(&kind), "{checked:?}");
    }
    dataset(client, &run).await
}

/// Logs in as alice while a fixation run waits, and returns the run's
/// `data-*` attributes once the page has asked the lab what the planted id
/// finds.
async fn log_in_after_the_plant(
    client: &Client,
    target: &str,
) -> Result<Value, Box<dyn std::error::Error>> {
    credentials(client, "alice", "wonderland", false).await?;
    click(client, "login").await?;
    let run = format!("#fixation-runs li[data-target=\"{target}\"]");
    wait_for_within(
        client,
        "what the planted id finds",
        &format!(
            "['failed', 'worked', 'missed', 'other', 'unknown'].includes(document.querySelector('{run}').dataset.state)"
        ),
        Duration::from_secs(15),
    )
    .await?;
    let checked = check_newest_claims_about(client, "/login").await?;
    assert!(checked.contains(&"id_changed"), "{checked:?}");
    dataset(client, &run).await
}

/// What the lab says the id planted under `probe` finds, asked as the
/// attacker would: no cookie, just the probe.
async fn attacker_looks_up(lab: &Lab, probe: &str) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(
        reqwest::get(format!("{}/lab/planted?probe={probe}", lab.lab))
            .await?
            .json()
            .await?,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_fixation_is_voided_by_the_login_and_another_host_cannot_plant_here() -> TestResult
{
    let Some(browser) = Browser::start_or_skip("fixation").await? else {
        return Ok(());
    };
    let lab = spawn_lab_with(Config::default()).await;
    let outcome = fixation_with_the_defence(&browser.client, &lab).await;
    browser.close().await;
    outcome
}

async fn fixation_with_the_defence(client: &Client, lab: &Lab) -> TestResult {
    open_page(client, lab).await?;
    let mine = session_cookie(client)
        .await?
        .ok_or("no session cookie on load")?;

    // From another port of this host: the planted cookie replaces this
    // site's own, since cookies ignore ports.
    let run = plant_from(client, "port").await?;
    println!("planted from another port: {run}");
    assert_eq!(run["cookieReplaced"], "true", "{run}");
    let planted = run["plantedFingerprint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let held = session_cookie(client)
        .await?
        .ok_or("no session cookie after the plant")?;
    assert_ne!(held.value(), mine.value());
    assert_eq!(
        fingerprint_of(held.value()),
        planted,
        "Chromium now holds the planted id for this site"
    );
    // The login replaces it, and the planted id finds nothing.
    let run = log_in_after_the_plant(client, "port").await?;
    println!("after the login: {run}");
    assert_eq!(run["state"], "failed", "{run}");
    assert_eq!(run["plantedActive"], "false", "{run}");
    let after = session_cookie(client)
        .await?
        .ok_or("no session cookie after the login")?;
    assert_ne!(after.value(), held.value(), "the login kept the planted id");
    assert_eq!(
        dataset(client, "#login-summary").await?["before"],
        planted.as_str()
    );
    let probe = run["probe"].as_str().unwrap_or_default();
    let found = attacker_looks_up(lab, probe).await?;
    assert_eq!(found["planted_fingerprint"], planted.as_str(), "{found}");
    assert_eq!(found["session"]["active"], false, "{found}");
    let said = text_of(client, "fixation-runs").await?;
    assert!(said.contains("Session fixation failed"), "{said}");

    // From another host: the plant lands on localhost; this site's cookie
    // is untouched, and the login happens on the learner's own session.
    let run = plant_from(client, "site").await?;
    println!("planted from another host: {run}");
    assert_eq!(run["cookieReplaced"], "false", "{run}");
    let still = session_cookie(client)
        .await?
        .ok_or("no session cookie after the other host's plant")?;
    assert_eq!(
        still.value(),
        after.value(),
        "another host's plant reached this site"
    );
    assert_ne!(
        run["plantedFingerprint"].as_str(),
        Some(fingerprint_of(still.value()).as_str())
    );
    let run = log_in_after_the_plant(client, "site").await?;
    assert_eq!(run["state"], "missed", "{run}");
    assert_eq!(run["plantedActive"], "true", "{run}");
    assert_eq!(run["plantedUser"], "", "{run}");
    let found = attacker_looks_up(lab, run["probe"].as_str().unwrap_or_default()).await?;
    assert_eq!(found["session"]["active"], true, "{found}");
    assert_eq!(found["session"]["user"], Value::Null, "{found}");

    let errors = console_errors(client).await?;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_defence_the_planted_id_finds_the_learner_logged_in() -> TestResult {
    let Some(browser) = Browser::start_or_skip("fixation-unsafe").await? else {
        return Ok(());
    };
    let lab = spawn_lab_with(Config {
        unsafe_keep_id_on_login: true,
        ..Config::default()
    })
    .await;
    let outcome = fixation_without_the_defence(&browser.client, &lab).await;
    browser.close().await;
    outcome
}

async fn fixation_without_the_defence(client: &Client, lab: &Lab) -> TestResult {
    open_page(client, lab).await?;
    let run = plant_from(client, "port").await?;
    assert_eq!(run["cookieReplaced"], "true", "{run}");
    let held = session_cookie(client)
        .await?
        .ok_or("no session cookie after the plant")?;

    let run = log_in_after_the_plant(client, "port").await?;
    println!("after the login, defence off: {run}");
    assert_eq!(run["state"], "worked", "{run}");
    assert_eq!(run["plantedUser"], "alice", "{run}");
    let after = session_cookie(client)
        .await?
        .ok_or("no session cookie after the login")?;
    assert_eq!(after.value(), held.value(), "the login kept the planted id");
    let found = attacker_looks_up(lab, run["probe"].as_str().unwrap_or_default()).await?;
    assert_eq!(found["session"]["user"], "alice", "{found}");
    let said = text_of(client, "fixation-runs").await?;
    assert!(said.contains("Session fixation worked"), "{said}");
    Ok(())
}
