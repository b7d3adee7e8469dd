//! The cross-origin lab in real headless Chromium: every combination run
//! from the page at `http://127.0.0.1:PORT`, a preflighted JSON POST, and
//! the other site playing the attacker. Asserts what browsers guarantee and
//! records (without asserting) what this browser does with `lab_none`.
//! Every row's claims are held against what Chromium did and the ledger
//! recorded (`claims_lab.rs`), and at 360 px the rows are cards that keep
//! the page from scrolling sideways.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::browser::{
    click, console_errors, eval, screenshot, sideways_scroll, wait_for, wait_for_within, Browser,
    TestResult,
};
use crate::claims_lab::check_lab_rows;
use crate::lab::{spawn_with_lab, Lab};

/// The lab table's rows, as data.
async fn rows(client: &Client) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
    let rows = eval(
        client,
        "return Array.from(document.querySelectorAll('#lab-rows tr')).map(r => ({...r.dataset, \
         cells: Array.from(r.cells).map(c => c.textContent), why: r.querySelector('td.why p').textContent}));",
    )
    .await?;
    Ok(rows.as_array().cloned().unwrap_or_default())
}

fn cookies(row: &Value) -> Vec<&str> {
    row["cookies"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .filter(|name| !name.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_shows_what_browsers_send_and_let_scripts_read() -> TestResult {
    let Some(browser) = Browser::start_or_skip("lab").await? else {
        return Ok(());
    };
    let lab = spawn_with_lab().await;
    let outcome = drive(&browser.client, &lab, &browser.shots).await;
    browser.close().await;
    outcome
}

async fn drive(client: &Client, lab: &Lab, shots: &std::path::Path) -> TestResult {
    let lab_port = lab.lab.rsplit(':').next().unwrap_or_default().to_owned();
    let other_site = format!("http://localhost:{lab_port}");
    // The lab's page on this host sets its cookies first-party; the other
    // site's page is opened as the learner would, by the panel's link, so
    // the page knows its cookies are set.
    client.goto(&format!("{}/", lab.lab)).await?;
    client.goto(&format!("{}/", lab.main_origin)).await?;
    wait_for(
        client,
        "the first request",
        "Number(document.getElementById('log').dataset.answered || 0) >= 1",
    )
    .await?;
    let main_window = client.window().await?;
    click(client, "lab-open-site").await?;
    let opened = wait_for_new_window(client, &main_window).await?;
    client.switch_to_window(opened).await?;
    wait_for(
        client,
        "the other site's lab page",
        "document.readyState === 'complete' && document.cookie.includes('lab_lax=1')",
    )
    .await?;
    assert!(client
        .current_url()
        .await?
        .as_str()
        .starts_with(&other_site));
    client.close_window().await?;
    client.switch_to_window(main_window).await?;

    // Panel 1: the lab's page on 127.0.0.1:LAB set its cookies for the
    // host, so this page's document.cookie holds them, and the note says
    // where they came from.
    let seen = eval(
        client,
        "return {cookies: document.cookie, hidden: document.getElementById('js-cookies-lab').hidden, \
         note: document.getElementById('js-cookies-lab').textContent};",
    )
    .await?;
    println!("panel 1 from 127.0.0.1: {seen}");
    let cookie_text = seen["cookies"].as_str().unwrap_or_default();
    assert!(
        cookie_text.split("; ").any(|pair| pair == "lab_lax=1"),
        "{seen}"
    );
    assert_eq!(seen["hidden"], false, "{seen}");
    assert!(
        seen["note"]
            .as_str()
            .is_some_and(|note| note.contains(&format!(
                "what the lab's page on {} sets for the host 127.0.0.1",
                lab.lab
            ))),
        "{seen}"
    );

    click(client, "lab-run-all").await?;
    wait_for_within(
        client,
        "every combination",
        "document.getElementById('lab-rows').dataset.complete === '24'",
        Duration::from_secs(60),
    )
    .await?;
    let table = rows(client).await?;
    assert_eq!(table.len(), 24);
    // Every row's claims against Chromium and the ledger.
    assert_eq!(check_lab_rows(client, &lab.app).await?, 24);
    let counts = crate::claims::checked_counts(client).await?;
    println!("lab claims checked: {counts:?}");
    for (kind, least) in [
        ("preflight", 48),
        ("sent", 48),
        ("cookies_sent", 48),
        ("sec_fetch_site", 24),
        ("readable", 48),
        ("allow_origin", 48),
        ("hidden_because", 12),
        // Credentialed cross-site rows: session_id belongs to 127.0.0.1,
        // lab_lax is SameSite=Lax, lab_none a blocked third-party cookie.
        ("kept_back_another_host", 6),
        ("kept_back_samesite", 6),
        ("kept_back_third_party", 6),
        ("lab_cookies_set", 6),
    ] {
        assert!(
            counts.get(kind).copied().unwrap_or(0) >= least,
            "{kind} checked too rarely: {counts:?}"
        );
    }
    // The rows read in the order they ran: targets, then APIs, then
    // credentials on before off, then the policies.
    let order: Vec<String> = table
        .iter()
        .map(|row| {
            format!(
                "{} {} {} {}",
                row["target"].as_str().unwrap_or_default(),
                row["api"].as_str().unwrap_or_default(),
                row["credentials"].as_str().unwrap_or_default(),
                row["policy"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(order[0], "port xhr true credentials", "{order:?}");
    assert_eq!(order[1], "port xhr true wildcard", "{order:?}");
    assert_eq!(order[23], "site fetch false none", "{order:?}");
    println!("the lab table in this Chromium:");
    for row in &table {
        println!(
            "  {:<5} {:<6} credentials={:<5} {:<12} status={:<3} arrived={} cookies=[{}] sec-fetch-site={}",
            row["target"].as_str().unwrap_or_default(),
            row["api"].as_str().unwrap_or_default(),
            row["credentials"].as_str().unwrap_or_default(),
            row["policy"].as_str().unwrap_or_default(),
            row["status"].as_str().unwrap_or_default(),
            row["arrived"].as_str().unwrap_or_default(),
            cookies(row).join(","),
            row["secFetchSite"].as_str().unwrap_or_default(),
        );
    }
    for row in &table {
        let (target, policy) = (row["target"].as_str(), row["policy"].as_str());
        let credentials = row["credentials"] == "true";
        let status = row["status"].as_str().unwrap_or_default();
        let sent = cookies(row);
        // Every request reached the server, whatever the script was shown.
        assert_eq!(row["arrived"], "true", "{row}");
        if !credentials {
            assert!(sent.is_empty(), "no cookies without credentials: {row}");
        }
        if target == Some("site") {
            assert!(
                !sent.contains(&"session_id") && !sent.contains(&"lab_lax"),
                "{row}"
            );
            assert_eq!(row["secFetchSite"], "cross-site", "{row}");
        } else {
            assert_eq!(row["secFetchSite"], "same-site", "{row}");
        }
        match (target, policy, credentials) {
            (Some("port"), Some("credentials"), true) => {
                assert_eq!(status, "200", "{row}");
                assert!(sent.contains(&"session_id"), "{row}");
            }
            (Some("port"), Some("none"), true) => {
                assert_eq!(status, "0", "{row}");
                assert!(sent.contains(&"session_id"), "sent though hidden: {row}");
            }
            (_, Some("none"), _) => assert_eq!(status, "0", "{row}"),
            (_, Some("wildcard"), true) => assert_eq!(status, "0", "{row}"),
            (_, Some("wildcard"), false) => assert_eq!(status, "200", "{row}"),
            _ => {}
        }
    }
    // Cross-site rows: the page's session_id was never a candidate for the
    // other host, and the row does not claim cookies it cannot know of.
    for row in table.iter().filter(|row| row["target"] == "site") {
        let why = row["why"].as_str().unwrap_or_default();
        assert!(!why.contains("(session_id, lab_lax)"), "{row}");
        if row["credentials"] == "true" {
            assert!(
                why.contains("session_id belongs to 127.0.0.1, not to localhost"),
                "{row}"
            );
        }
    }
    let lab_none_cross_site: Vec<bool> = table
        .iter()
        .filter(|row| row["target"] == "site" && row["credentials"] == "true")
        .map(|row| cookies(row).contains(&"lab_none"))
        .collect();
    println!("lab_none rode along on credentialed cross-site requests: {lab_none_cross_site:?}");

    screenshot(client, shots, "lab-1280.png", 1280).await?;
    lab_panel_screenshot(client, shots, 1280).await?;
    // At 1280 px the whole table fits its panel, no sideways scroll inside.
    let inside = eval(
        client,
        "const w = document.querySelector('.table-wrap'); return w.scrollWidth - w.clientWidth;",
    )
    .await?;
    assert!(
        inside.as_i64().is_some_and(|px| px <= 0),
        "the table scrolls {inside} px at 1280 px"
    );
    // At 360 px each row is a card, the verdict first and the why folded,
    // and nothing makes the page scroll sideways.
    assert_eq!(sideways_scroll(client, 360).await?, 0, "at 360 px");
    let card = eval(
        client,
        "const r = document.querySelector('#lab-rows tr'); \
         const got = r.cells[5].getBoundingClientRect(), target = r.cells[0].getBoundingClientRect(); \
         return {verdictFirst: got.top < target.top, whyOpen: r.querySelector('td.why details').open, \
         height: r.getBoundingClientRect().height};",
    )
    .await?;
    // Each control stays inside the panel with its option texts whole (the
    // text measured in the select's font, against its width less the arrow's).
    let clipped = eval(
        client,
        "const c = document.createElement('canvas').getContext('2d'); \
         const panel = document.getElementById('lab-panel').getBoundingClientRect(); \
         return Array.from(document.querySelectorAll('#lab-form select')).flatMap(sel => { \
           const cs = getComputedStyle(sel); c.font = cs.fontSize + ' ' + cs.fontFamily; \
           const room = sel.clientWidth - 24; \
           const out = sel.getBoundingClientRect().right > panel.right ? [sel.id + ' leaves the panel'] : []; \
           return out.concat(Array.from(sel.options).filter(o => c.measureText(o.textContent).width > room) \
             .map(o => sel.id + ': ' + o.textContent)); });",
    )
    .await?;
    assert_eq!(clipped, json!([]), "clipped at 360 px");
    assert_eq!(card["verdictFirst"], true, "{card}");
    assert_eq!(card["whyOpen"], false, "{card}");
    assert!(card["height"].as_f64().is_some_and(|h| h < 200.0), "{card}");
    screenshot(client, shots, "lab-360.png", 360).await?;
    lab_panel_screenshot(client, shots, 360).await?;
    client.set_window_size(1280, 2000).await?;
    let open = eval(
        client,
        "return document.querySelector('#lab-rows tr td.why details').open;",
    )
    .await?;
    assert_eq!(open, true, "the why unfolds again in the wide table");

    // A JSON POST to another port, allowed by the credentials policy: its
    // preflight comes first.
    client
        .find(Locator::Css("#lab-method option[value='POST']"))
        .await?
        .click()
        .await?;
    client
        .find(Locator::Css("#lab-policy option[value='credentials']"))
        .await?
        .click()
        .await?;
    client
        .find(Locator::Css("#lab-target option[value='port']"))
        .await?
        .click()
        .await?;
    for api in ["xhr", "fetch"] {
        client
            .find(Locator::Css(&format!("#lab-api option[value='{api}']")))
            .await?
            .click()
            .await?;
        click(client, "lab-send").await?;
        wait_for(
            client,
            "the POST's row",
            &format!("document.querySelectorAll('#lab-rows tr[data-method=\"POST\"][data-api=\"{api}\"]').length === 1"),
        )
        .await?;
    }
    assert_eq!(check_lab_rows(client, &lab.app).await?, 2);
    for row in rows(client)
        .await?
        .iter()
        .filter(|row| row["method"] == "POST")
    {
        assert_eq!(row["preflighted"], "true", "{row}");
        assert_eq!(row["arrived"], "true", "{row}");
        assert_eq!(row["status"], "200", "{row}");
    }

    // A JSON POST under the none policy: its preflight is refused, so the
    // POST never leaves the browser. The row says so, and the ledger (read
    // here, not through the page) holds only the OPTIONS.
    client
        .find(Locator::Css("#lab-policy option[value='none']"))
        .await?
        .click()
        .await?;
    click(client, "lab-send").await?;
    wait_for(
        client,
        "the refused POST's row",
        "document.querySelectorAll('#lab-rows tr[data-method=\"POST\"][data-policy=\"none\"]').length === 1",
    )
    .await?;
    let refused = rows(client)
        .await?
        .into_iter()
        .find(|row| row["method"] == "POST" && row["policy"] == "none")
        .ok_or("the refused POST's row")?;
    assert_eq!(refused["arrived"], "false", "{refused}");
    assert_eq!(refused["preflighted"], "true", "{refused}");
    assert_eq!(
        refused["cells"][5], "no reply: the preflight was refused",
        "{refused}"
    );
    assert_eq!(check_lab_rows(client, &lab.app).await?, 1);
    let probe = refused["probe"].as_str().unwrap_or_default();
    let ledger = lab
        .app
        .get(&format!("/lab/ledger?probe={probe}"))
        .await
        .json();
    let methods: Vec<&str> = ledger["requests"]
        .as_array()
        .map(|requests| {
            requests
                .iter()
                .filter_map(|r| r["method"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(methods, ["OPTIONS"], "{ledger}");

    // The other site plays the attacker, from each lab target.
    let before = lab.app.data().await;
    let main_window = client.window().await?;
    for target in ["port", "site"] {
        click(client, &format!("attack-{target}")).await?;
        let opened = wait_for_new_window(client, &main_window).await?;
        client.switch_to_window(opened).await?;
        wait_for(
            client,
            "the attacker page",
            "document.getElementById('attack')",
        )
        .await?;
        click(client, "attack").await?;
        wait_for(
            client,
            "the forged request",
            "document.getElementById('attack-result').dataset.sent",
        )
        .await?;
        client.close_window().await?;
        client.switch_to_window(main_window.clone()).await?;
        wait_for(
            client,
            "the ledger's answer",
            &format!("document.querySelector('#attack-results li[data-target=\"{target}\"][data-status]')"),
        )
        .await?;
        let outcome = eval(
            client,
            &format!("return {{...document.querySelector('#attack-results li[data-target=\"{target}\"]').dataset}};"),
        )
        .await?;
        println!("attacker from {target}: {outcome}");
        assert_eq!(outcome["status"], "403", "{outcome}");
        assert_eq!(outcome["code"], "cross_origin_rejected", "{outcome}");
        let carried = outcome["cookies"]
            .as_str()
            .unwrap_or_default()
            .split(',')
            .any(|c| c == "session_id");
        assert_eq!(
            carried,
            target == "port",
            "session_id rides along only from the same site: {outcome}"
        );
    }
    assert_eq!(lab.app.data().await, before);
    let shown = eval(
        client,
        "return JSON.parse(document.getElementById('session-json').textContent).data;",
    )
    .await?;
    assert!(shown.get("attacker").is_none(), "{shown}");
    assert_eq!(before, json!({}));

    let errors = console_errors(client).await?;
    // Expected: the browser's own CORS refusals of the blocked rows, and the
    // 403s of the forged updates.
    let unexpected: Vec<&String> = errors
        .iter()
        .filter(|message| !message.contains("CORS") && !message.contains("lab/echo"))
        .filter(|message| !(message.contains("update-session-data") && message.contains("403")))
        .collect();
    assert!(unexpected.is_empty(), "console errors: {unexpected:#?}");
    Ok(())
}

/// A picture of the lab panel alone at `width`, for looking at the table
/// or the cards: the window is made as tall as the panel, with the panel
/// scrolled to its top.
async fn lab_panel_screenshot(client: &Client, dir: &std::path::Path, width: u32) -> TestResult {
    let height = eval(
        client,
        "return Math.ceil(document.getElementById('lab-panel').getBoundingClientRect().height);",
    )
    .await?
    .as_u64()
    .unwrap_or(4000)
    .clamp(600, 12000);
    client
        .set_window_size(width, u32::try_from(height).unwrap_or(12000) + 200)
        .await?;
    eval(
        client,
        "document.getElementById('lab-panel').scrollIntoView(); return true;",
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = client
        .find(Locator::Id("lab-panel"))
        .await?
        .screenshot()
        .await?;
    std::fs::write(dir.join(format!("lab-panel-{width}.png")), png)?;
    Ok(())
}

/// The handle of a window other than `main`, once one opens.
pub(crate) async fn wait_for_new_window(
    client: &Client,
    main: &fantoccini::wd::WindowHandle,
) -> Result<fantoccini::wd::WindowHandle, Box<dyn std::error::Error>> {
    for _ in 0..100 {
        if let Some(handle) = client
            .windows()
            .await?
            .into_iter()
            .find(|handle| handle != main)
        {
            return Ok(handle);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("no new window opened".into())
}

/// The page opened under another host name, `demo.test` (mapped to
/// 127.0.0.1 inside Chromium): "another port" is `http://demo.test:LAB` and
/// works, since the page's policy names it and the lab allows the page's
/// origin on that host; the cross-site target is unavailable, with the
/// reason; the attacker page on that host takes the page as its target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_works_from_another_host_name() -> TestResult {
    let Some(browser) = Browser::start_with_or_skip(
        "lab-alias",
        &["--host-resolver-rules=MAP demo.test 127.0.0.1"],
    )
    .await?
    else {
        return Ok(());
    };
    let lab = spawn_with_lab().await;
    let outcome = drive_alias(&browser.client, &lab).await;
    browser.close().await;
    outcome
}

async fn drive_alias(client: &Client, lab: &Lab) -> TestResult {
    let main = lab.main_origin.replace("127.0.0.1", "demo.test");
    let lab_origin = lab.lab.replace("127.0.0.1", "demo.test");
    client.goto(&format!("{main}/")).await?;
    wait_for(
        client,
        "the first request",
        "Number(document.getElementById('log').dataset.answered || 0) >= 1",
    )
    .await?;
    let status = eval(
        client,
        "return document.getElementById('lab-status').textContent;",
    )
    .await?;
    assert!(
        status
            .as_str()
            .is_some_and(|text| text.contains("Another site is not available from demo.test")),
        "{status}"
    );

    // Another port, GET, credentials asked for, the credentials policy.
    click(client, "lab-send").await?;
    wait_for(
        client,
        "the row",
        "document.querySelectorAll('#lab-rows tr').length === 1",
    )
    .await?;
    let row = rows(client).await?.remove(0);
    println!("from demo.test: {row}");
    assert_eq!(check_lab_rows(client, &lab.app).await?, 1);
    assert_eq!(row["target"], "port", "{row}");
    assert_eq!(row["arrived"], "true", "{row}");
    assert_eq!(row["status"], "200", "{row}");
    // Chromium sends Sec-Fetch-* only to potentially trustworthy URLs,
    // which http://demo.test is not: the row says "(none)", never cross-site.
    assert_ne!(row["secFetchSite"], "cross-site", "{row}");
    assert!(cookies(&row).contains(&"session_id"), "{row}");
    assert!(
        row["cells"][0]
            .as_str()
            .is_some_and(|cell| cell.contains(&lab_origin)),
        "{row}"
    );
    // What the server itself recorded under the row's probe.
    let probe = row["probe"].as_str().unwrap_or_default();
    let ledger = lab
        .app
        .get(&format!("/lab/ledger?probe={probe}"))
        .await
        .json();
    assert_eq!(ledger["requests"][0]["origin"], main, "{ledger}");
    assert!(
        ledger["requests"][0]["cookies_received"]
            .as_array()
            .is_some_and(|names| names.iter().any(|name| name == "session_id")),
        "{ledger}"
    );

    // The cross-site target is unavailable, and says why.
    client
        .find(Locator::Css("#lab-target option[value='site']"))
        .await?
        .click()
        .await?;
    click(client, "lab-send").await?;
    let progress = eval(
        client,
        "return document.getElementById('lab-progress').textContent;",
    )
    .await?;
    assert!(
        progress
            .as_str()
            .is_some_and(|text| text.contains("not available from demo.test")),
        "{progress}"
    );

    // The attacker page on demo.test:LAB aims at this page's origin.
    let main_window = client.window().await?;
    click(client, "attack-port").await?;
    let opened = wait_for_new_window(client, &main_window).await?;
    client.switch_to_window(opened).await?;
    wait_for(
        client,
        "the attacker page",
        "document.getElementById('attack')",
    )
    .await?;
    let target = eval(
        client,
        "return document.getElementById('main').dataset.target;",
    )
    .await?;
    assert_eq!(target, main.as_str());
    click(client, "attack").await?;
    wait_for(
        client,
        "the forged request",
        "document.getElementById('attack-result').dataset.sent",
    )
    .await?;
    client.close_window().await?;
    client.switch_to_window(main_window).await?;
    wait_for(
        client,
        "the ledger's answer",
        "document.querySelector('#attack-results li[data-target=\"port\"][data-status]')",
    )
    .await?;
    let outcome = eval(
        client,
        "return {...document.querySelector('#attack-results li[data-target=\"port\"]').dataset};",
    )
    .await?;
    assert_eq!(outcome["code"], "cross_origin_rejected", "{outcome}");
    Ok(())
}
