//! `scripts/curl-walkthrough.sh` against a live server: every step's check
//! must pass, and the script must fail when there is nothing to talk to.

use std::process::Command;

use crate::helpers::spawn_app;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/curl-walkthrough.sh");

fn curl_available() -> bool {
    let found = Command::new("curl").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").map_or(true, |value| value != "true"),
            "curl is required in CI"
        );
        println!("SKIPPED: curl not found: install curl to run the walkthrough test");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_walkthrough_passes_every_step_against_a_live_server() {
    if !curl_available() {
        return;
    }
    let app = spawn_app().await;

    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash").arg(SCRIPT).arg(&address).output()
    })
    .await
    .expect("join")
    .expect("run the walkthrough");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for step in 1..=9 {
        assert!(
            stdout.contains(&format!("\n{step}. ")),
            "step {step} in:\n{stdout}"
        );
    }
    assert!(stdout.contains("All 9 steps behaved as described."));
    // Ids are shortened in the output; whole ids never appear.
    for line in stdout.lines().filter(|line| line.contains("session_id=")) {
        let id = line
            .split("session_id=")
            .nth(1)
            .unwrap_or_default()
            .split([';', '\'', ' '])
            .next()
            .unwrap_or_default();
        assert!(
            id.is_empty() || id.ends_with('…'),
            "unshortened id in: {line}"
        );
    }
}

#[test]
fn the_walkthrough_fails_without_a_server() {
    if !curl_available() {
        return;
    }
    let output = Command::new("bash")
        .arg(SCRIPT)
        .arg("http://127.0.0.1:9")
        .output()
        .expect("run the walkthrough");

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("FAILED"));
}
