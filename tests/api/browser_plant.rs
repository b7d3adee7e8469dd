//! Session fixation in real headless Chromium: the lab's page on
//! `127.0.0.1:LAB` plants a session id, and the browser sends it to the
//! learner's page on `127.0.0.1:MAIN` (cookies ignore ports); the learner
//! logs in and gets a new id, so the planted one finds nothing, as the lab's
//! page and the learner's page (reading `/lab/planted` with credentials)
//! both see. Planted from `localhost:LAB`, the cookie lands on another host
//! and the learner's session on 127.0.0.1 is untouched. Each sentence the
//! lab's page shows is checked against what the browser did, and the page
//! fits 360 px.

use fantoccini::Client;
use serde_json::Value;

use crate::browser::{click, eval, wait_for, Browser, TestResult};
use crate::lab::{spawn_with_lab, Lab};

/// The learner's session as the main listener reports it, read by the
/// page at `origin` with the browser's cookies.
async fn session_seen_from(
    client: &Client,
    origin: &str,
) -> Result<Value, Box<dyn std::error::Error>> {
    client.goto(&format!("{origin}/")).await?;
    eval(
        client,
        "return fetch('/get-session-data').then(r => r.json());",
    )
    .await
}

/// Presses one of the lab page's fixation buttons and returns the
/// sentence it shows.
async fn press(
    client: &Client,
    button: &str,
    result: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    click(client, button).await?;
    wait_for(
        client,
        button,
        &format!("document.getElementById('{result}').dataset.status"),
    )
    .await?;
    let text = eval(
        client,
        &format!("return document.getElementById('{result}').textContent;"),
    )
    .await?;
    Ok(text.as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_id_reaches_the_learners_port_and_finds_nothing_after_the_login() -> TestResult {
    let Some(browser) = Browser::start_or_skip("plant").await? else {
        return Ok(());
    };
    let lab = spawn_with_lab().await;
    let outcome = drive(&browser.client, &lab).await;
    browser.close().await;
    outcome
}

async fn drive(client: &Client, lab: &Lab) -> TestResult {
    let probe = "probe-browser-plant";
    let own = session_seen_from(client, &lab.main_origin).await?;
    let own_fingerprint = own["session"]["id_fingerprint"].clone();
    assert!(own_fingerprint.is_string(), "{own}");

    // Step 1 on the lab's page at 127.0.0.1:LAB.
    client.goto(&format!("{}/?probe={probe}", lab.lab)).await?;
    let said = press(client, "plant", "plant-result").await?;
    println!("plant from 127.0.0.1: {said}");
    let ledger = lab
        .app
        .get(&format!("/lab/ledger?probe={probe}"))
        .await
        .json();
    let planted = ledger["requests"]
        .as_array()
        .and_then(|requests| requests.iter().find(|r| r["path"] == "/lab/plant"))
        .map(|entry| entry["planted_fingerprint"].clone())
        .unwrap_or_default();
    let planted_text = planted.as_str().unwrap_or_default().to_owned();
    assert!(!planted_text.is_empty(), "{ledger}");
    assert!(
        said.contains(&format!("fingerprint {planted_text}")),
        "{said}"
    );
    assert!(
        said.contains("belongs to the host 127.0.0.1 alone"),
        "{said}"
    );
    assert!(
        said.contains(&format!("page at {} is on the same host", lab.main_origin)),
        "{said}"
    );

    // The lab's page, its longest sentence shown, fits 360 px.
    client.set_window_size(360, 900).await?;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let overflow = eval(
        client,
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
    )
    .await?;
    assert_eq!(overflow, 0, "the lab's page scrolls sideways at 360 px");
    client.set_window_size(1280, 900).await?;

    // The browser sends it to the main listener's port: the learner's
    // page now runs on the planted session.
    let learner = session_seen_from(client, &lab.main_origin).await?;
    assert_eq!(learner["session"]["id_fingerprint"], planted, "{learner}");
    assert_ne!(learner["session"]["id_fingerprint"], own_fingerprint);

    // The learner logs in, as panel 5 would: a new id.
    let login = eval(
        client,
        "return fetch('/get-session-data').then(r => r.json()).then(s => fetch('/login', {method: 'POST', \
         headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token}, \
         body: JSON.stringify({username: 'alice', password: 'wonderland'})})).then(r => r.json());",
    )
    .await?;
    assert_eq!(login["session"]["user"], "alice", "{login}");
    assert_ne!(login["session"]["id_fingerprint"], planted, "{login}");

    // The learner's page may read the attacker's look-up (credentials
    // policy): the planted id finds nothing.
    let read = eval(
        client,
        &format!(
            "return fetch('{}/lab/planted?probe={probe}', {{credentials: 'include'}}).then(r => r.json());",
            lab.lab
        ),
    )
    .await?;
    assert_eq!(read["planted_fingerprint"], planted, "{read}");
    assert_eq!(read["session"]["active"], false, "{read}");

    // Step 2 on the lab's page says the same.
    client.goto(&format!("{}/?probe={probe}", lab.lab)).await?;
    let said = press(client, "planted", "planted-result").await?;
    println!("planted after the login: {said}");
    assert!(said.contains("finds no session any more"), "{said}");

    // From localhost:LAB the cookie lands on another host: the learner on
    // 127.0.0.1 keeps the session it logged in on.
    let lab_port = lab.lab.rsplit(':').next().unwrap_or_default();
    client
        .goto(&format!(
            "http://localhost:{lab_port}/?probe=probe-browser-plant-2"
        ))
        .await?;
    let said = press(client, "plant", "plant-result").await?;
    println!("plant from localhost: {said}");
    assert!(
        said.contains("belongs to the host localhost alone"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "At {} the learner's page is on another host",
            lab.main_origin
        )),
        "{said}"
    );
    let learner = session_seen_from(client, &lab.main_origin).await?;
    assert_eq!(learner["session"]["user"], "alice", "{learner}");
    assert_eq!(
        learner["session"]["id_fingerprint"],
        login["session"]["id_fingerprint"]
    );

    // Opened with no probe in its URL, the page makes one for the tab and
    // keeps it when the tab reloads: the look-up after the reload finds the
    // plant made before it.
    client.goto(&format!("{}/", lab.lab)).await?;
    let said = press(client, "plant", "plant-result").await?;
    println!("plant with the tab's own probe: {said}");
    let planted = fingerprint_in(&said);
    assert!(planted.is_some(), "{said}");
    let probe_shown =
        "return document.querySelector('#plant-title ~ .hint .probe-name').textContent;";
    let before = eval(client, probe_shown).await?;
    assert!(
        before
            .as_str()
            .is_some_and(|probe| probe.starts_with("plant-")),
        "{before}"
    );
    client.refresh().await?;
    wait_for(
        client,
        "the reloaded page's probe",
        "document.querySelector('.probe-name').textContent.startsWith('plant-')",
    )
    .await?;
    assert_eq!(
        eval(client, probe_shown).await?,
        before,
        "the reload kept the probe"
    );
    let said = press(client, "planted", "planted-result").await?;
    println!("look-up after a reload: {said}");
    assert!(said.starts_with("Not yet: the planted id"), "{said}");
    assert_eq!(fingerprint_in(&said), planted, "{said}");
    Ok(())
}

/// The 8 hex digits after "fingerprint " in a sentence.
fn fingerprint_in(said: &str) -> Option<String> {
    let (_, rest) = said.split_once("fingerprint ")?;
    let fingerprint: String = rest.chars().take(8).collect();
    (fingerprint.len() == 8 && fingerprint.chars().all(|c| c.is_ascii_hexdigit()))
        .then_some(fingerprint)
}
