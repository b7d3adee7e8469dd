//! `scripts/curl-walkthrough.sh` and `scripts/curl-expiry.sh` against a live
//! server: every step's check must pass, the printed commands must run as
//! printed, and the scripts must fail when there is nothing to talk to.

use std::process::{Command, Output};

use ajax_sessions::Config;

use crate::helpers::{spawn_app, spawn_app_with};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/curl-walkthrough.sh");
const EXPIRY_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/curl-expiry.sh");
const SHARED_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scripts/shared-store-walkthrough.sh"
);

/// Runs `bash SCRIPT ARGS…` off the async runtime.
async fn run_script(script: &'static str, args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || Command::new("bash").arg(script).args(args).output())
        .await
        .expect("join")
        .expect("run the script")
}

/// The commands a transcript printed (its `$ ` lines), in order.
fn printed_commands(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("$ "))
        .map(str::to_owned)
        .collect()
}

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

    let output = run_script(SCRIPT, vec![app.address.clone()]).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for step in 1..=10 {
        assert!(
            stdout.contains(&format!("\n{step}. ")),
            "step {step} in:\n{stdout}"
        );
    }
    assert!(stdout.contains("All 10 steps behaved as described."));
    // Ids are shortened in the output or held in shell variables; whole ids
    // never appear.
    for line in stdout.lines().filter(|line| line.contains("session_id=")) {
        let id = line
            .split("session_id=")
            .nth(1)
            .unwrap_or_default()
            .split([';', '\'', ' '])
            .next()
            .unwrap_or_default();
        assert!(
            id.is_empty() || id.ends_with('…') || id.starts_with('$'),
            "unshortened id in: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_commands_run_as_printed() {
    if !curl_available() {
        return;
    }
    let app = spawn_app().await;
    let output = run_script(SCRIPT, vec![app.address.clone()]).await;
    assert!(output.status.success());
    let commands = printed_commands(&String::from_utf8_lossy(&output.stdout));
    assert!(commands.len() > 15, "{commands:#?}");
    assert!(
        commands
            .iter()
            .all(|command| !command.contains("session_id=") || command.contains("session_id=$")),
        "ids are in variables: {commands:#?}"
    );

    // Pasted in order into a shell in an empty folder, they tell the story
    // again: a fresh session, refused without the token, regenerated, cleared.
    let folder = std::env::temp_dir().join(format!("walkthrough-replay-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("a folder");
    let mut script = String::from("set -u\n");
    for command in &commands {
        script.push_str(command);
        script.push_str("\necho\n");
    }
    let replay = tokio::task::spawn_blocking(move || {
        let output = Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(&folder)
            .output();
        let _ = std::fs::remove_dir_all(&folder);
        output
    })
    .await
    .expect("join")
    .expect("replay");

    let stdout = String::from_utf8_lossy(&replay.stdout);
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert!(replay.status.success(), "{stdout}\n{stderr}");
    for expected in [
        r#""color":"blue""#,
        r#""code":"csrf_token_missing""#,
        r#""code":"cross_origin_rejected""#,
        r#""color":"red""#,
        r#""reason":"unknown_or_expired""#,
    ] {
        assert!(stdout.contains(expected), "{expected} in:\n{stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_script_shows_an_idle_id_finding_nothing() {
    if !curl_available() {
        return;
    }
    let app = spawn_app_with(Config {
        idle_timeout: 1,
        ..Config::default()
    })
    .await;

    let output = run_script(EXPIRY_SCRIPT, vec![app.address.clone()]).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(r#""reason":"unknown_or_expired""#),
        "{stdout}"
    );
    assert!(stdout.contains("All 4 steps behaved as described."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_script_asks_for_a_short_timeout() {
    if !curl_available() {
        return;
    }
    let app = spawn_app().await;

    let output = run_script(EXPIRY_SCRIPT, vec![app.address.clone()]).await;

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--idle-timeout 5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_store_walkthrough_passes_every_step() {
    if !curl_available() {
        return;
    }
    let Some(redis) = crate::redis_server::RedisServer::start_or_skip("shared-store walkthrough")
    else {
        return;
    };
    // The script starts its own redis-server; this one only proved that
    // the tool is there.
    drop(redis);

    let output = tokio::task::spawn_blocking(|| {
        Command::new("bash")
            .arg(SHARED_SCRIPT)
            .env("AJAX_SESSIONS_BIN", env!("CARGO_BIN_EXE_ajax-sessions"))
            .output()
    })
    .await
    .expect("join")
    .expect("run the script");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for step in 1..=5 {
        assert!(stdout.contains(&format!("\n{step}. ")), "step {step}");
    }
    assert!(stdout.contains("All 5 steps behaved as described."));
    assert!(stdout.contains("x-served-by: A") && stdout.contains("x-served-by: B"));
}

#[test]
fn every_script_prints_its_usage_with_help() {
    for script in [SCRIPT, EXPIRY_SCRIPT, SHARED_SCRIPT] {
        let output = Command::new("bash")
            .arg(script)
            .arg("--help")
            .output()
            .expect("run");
        assert!(output.status.success(), "{script}");
        assert!(String::from_utf8_lossy(&output.stdout).starts_with("Usage: scripts/"));
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
