//! The page keeps its width whatever the learner types: a 5,000-character
//! cookie and a long session value wrap inside their panels instead of
//! making the page scroll sideways, at 1280 and at 360 px, and a sentence
//! quotes a long value by its start and its length.

use std::time::Duration;

use fantoccini::Client;

use ajax_sessions::Config;

use crate::browser::{
    click, eval, screenshot, sideways_scroll, wait_for, wait_for_within, Browser, TestResult,
};
use crate::claims::check_newest_claims;
use crate::helpers::{spawn_app, spawn_app_with};

/// Opens the page and waits for the explanation of its first read.
async fn open_page(client: &Client, address: &str) -> TestResult {
    client.goto(address).await?;
    wait_for(
        client,
        "the first read",
        "document.querySelector('#explain li')",
    )
    .await
}

/// How many requests the page has had answered since it loaded.
async fn answered(client: &Client) -> Result<u64, Box<dyn std::error::Error>> {
    let count = eval(
        client,
        "return Number(document.getElementById('log').dataset.answered || 0);",
    )
    .await?;
    Ok(count.as_u64().unwrap_or(0))
}

/// Sets an input's value as a paste would, then presses `button` and waits
/// for the request it sends to be answered.
async fn enter_and_send(client: &Client, input: &str, value_js: &str, button: &str) -> TestResult {
    let before = answered(client).await?;
    eval(
        client,
        &format!("document.getElementById('{input}').value = {value_js}; return true;"),
    )
    .await?;
    click(client, button).await?;
    wait_for(
        client,
        &format!("the request of #{button}"),
        &format!("Number(document.getElementById('log').dataset.answered || 0) > {before}"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_values_wrap_instead_of_widening_the_page() -> TestResult {
    let Some(browser) = Browser::start_or_skip("layout").await? else {
        return Ok(());
    };
    let app = spawn_app().await;
    let client = &browser.client;
    let outcome = async {
        open_page(client, &app.address).await?;

        enter_and_send(client, "cookie-name", "'big'", "set-cookie").await?;
        enter_and_send(client, "cookie-value", "'x'.repeat(5000)", "set-cookie").await?;
        enter_and_send(
            client,
            "data-value",
            "JSON.stringify('y'.repeat(300))",
            "update",
        )
        .await?;

        let told = eval(
            client,
            "return document.getElementById('explain').innerText;",
        )
        .await?;
        let told = told.as_str().unwrap_or_default();
        assert!(
            !told.contains(&"x".repeat(200)) && told.contains("5,000 characters"),
            "a sentence quotes the long value whole, or not at all: {}",
            &told[..told.len().min(600)]
        );
        for width in [1280, 360] {
            let overflow = sideways_scroll(client, width).await?;
            screenshot(
                client,
                &browser.shots,
                &format!("long-values-{width}.png"),
                width,
            )
            .await?;
            assert!(
                overflow <= 0,
                "the page scrolls {overflow} px sideways at {width} px"
            );
        }
        Ok(())
    }
    .await;
    browser.close().await;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_expiry_is_told_as_the_cookie_dropped_when_the_countdown_ended() -> TestResult {
    let Some(browser) = Browser::start_or_skip("idle").await? else {
        return Ok(());
    };
    // Long enough for the page's first read to find the session the page
    // load created, on a busy machine too (the page loads its modules
    // first); short enough to wait out.
    let app = spawn_app_with(Config {
        idle_timeout: 5,
        ..Config::default()
    })
    .await;
    let client = &browser.client;
    let outcome = async {
        open_page(client, &app.address).await?;
        // The countdown reaches zero; the browser drops the cookie then.
        wait_for_within(
            client,
            "the countdown's end",
            "document.getElementById('countdown').dataset.seconds === '0'",
            Duration::from_secs(10),
        )
        .await?;
        // The countdown shows whole seconds of an expiry given to the
        // second, so "0" can come up to two seconds before the real end:
        // wait those out (the cookie's Max-Age has run out by then
        // whatever the rounding).
        tokio::time::sleep(Duration::from_millis(2500)).await;
        // The summary shows the last reply; it says that reply's expiry
        // has passed rather than "Active yes ... unless used again".
        let summary = eval(
            client,
            "return document.getElementById('session-summary').textContent;",
        )
        .await?;
        let summary = summary.as_str().unwrap_or_default();
        assert!(summary.contains("expired since"), "{summary}");
        assert!(!summary.contains("unless used again"), "{summary}");
        let before = answered(client).await?;
        click(client, "refresh").await?;
        wait_for(
            client,
            "the read after expiry",
            &format!("Number(document.getElementById('log').dataset.answered || 0) > {before}"),
        )
        .await?;
        let checked = check_newest_claims(client).await?;
        for kind in [
            "cookies_sent",
            "set_cookie",
            "cookie_lifetime",
            "active",
            "expired_at",
        ] {
            assert!(checked.contains(&kind), "{checked:?}");
        }
        let said = eval(
            client,
            "return document.querySelector('#explain li').textContent;",
        )
        .await?;
        let said = said.as_str().unwrap_or_default();
        assert!(said.contains("No session_id cookie came"), "{said}");
        assert!(said.contains("The browser dropped it around"), "{said}");
        assert!(said.contains("countdown reached zero"), "{said}");
        Ok(())
    }
    .await;
    browser.close().await;
    outcome
}
