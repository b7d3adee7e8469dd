//! `scripts/curl-walkthrough.sh`, `scripts/curl-expiry.sh` and
//! `scripts/curl-fixation.sh` against live servers: every step's check must
//! pass, the printed commands must run as printed, and the scripts must
//! fail when there is nothing to talk to.

use std::process::{Command, Output};

use ajax_sessions::Config;

use crate::helpers::{spawn_app, spawn_app_with};
use crate::lab::spawn_with_lab_from;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/curl-walkthrough.sh");
const EXPIRY_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/curl-expiry.sh");
const FIXATION_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/curl-fixation.sh");
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
    for step in 1..=14 {
        assert!(
            stdout.contains(&format!("\n{step}. ")),
            "step {step} in:\n{stdout}"
        );
    }
    assert!(stdout.contains("All 14 steps behaved as described."));
    assert_ids_are_never_whole(&stdout);
}

/// Ids are shortened in a transcript or held in shell variables; whole ids
/// never appear.
fn assert_ids_are_never_whole(stdout: &str) {
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
    // again: a fresh session, refused without the token, regenerated,
    // cleared, a refused and a good login, a logout.
    let stdout = replay(commands, "walkthrough").await;

    for expected in [
        r#""color":"blue""#,
        r#""code":"csrf_token_missing""#,
        r#""code":"cross_origin_rejected""#,
        r#""color":"red""#,
        r#""reason":"unknown_or_expired""#,
        r#""code":"invalid_credentials""#,
        r#""user":"alice""#,
        r#""code":"not_logged_in""#,
    ] {
        assert!(stdout.contains(expected), "{expected} in:\n{stdout}");
    }
}

/// Runs `commands` in order in one shell, in an empty folder; its stdout.
async fn replay(commands: Vec<String>, name: &str) -> String {
    let folder = std::env::temp_dir().join(format!("{name}-replay-{}", std::process::id()));
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
    let stdout = String::from_utf8_lossy(&replay.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert!(replay.status.success(), "{stdout}\n{stderr}");
    stdout
}

/// Runs `scripts/curl-fixation.sh` against a fresh server and its lab,
/// with or without the fixation defence; its output.
async fn run_fixation(keep_id_on_login: bool) -> (Output, String) {
    let lab = spawn_with_lab_from(Config {
        unsafe_keep_id_on_login: keep_id_on_login,
        ..Config::default()
    })
    .await;
    let output = run_script(
        FIXATION_SCRIPT,
        vec![lab.main_origin.clone(), lab.lab.clone()],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixation_script_shows_the_planted_id_finding_nothing_by_default() {
    if !curl_available() {
        return;
    }

    let (output, stdout) = run_fixation(false).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("This server's fixation_defence is true."),
        "{stdout}"
    );
    assert!(
        stdout.contains("The login gave the session a new id"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Session fixation failed: the planted id finds nothing (401)"),
        "{stdout}"
    );
    assert!(stdout.contains("All 8 steps behaved as the server's fixation_defence (true) says."));
    assert_ids_are_never_whole(&stdout);

    // Its printed commands, pasted into a shell, play it again.
    let again = replay(printed_commands(&stdout), "fixation").await;
    assert!(again.contains(r#""planted_fingerprint":"#), "{again}");
    assert!(again.contains(r#""active":false"#), "{again}");
    assert!(again.contains(r#""code":"not_logged_in""#), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixation_script_shows_the_attack_work_under_the_unsafe_flag() {
    if !curl_available() {
        return;
    }

    let (output, stdout) = run_fixation(true).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("This server's fixation_defence is false."),
        "{stdout}"
    );
    assert!(
        stdout.contains("The login kept the session's id"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "Session fixation WORKED: the attacker, with the id it planted, is logged in as alice."
        ),
        "{stdout}"
    );
    assert!(stdout.contains("--unsafe-keep-id-on-login"));
    assert!(stdout.contains("All 8 steps behaved as the server's fixation_defence (false) says."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixation_script_refuses_a_lab_on_another_host_or_none() {
    if !curl_available() {
        return;
    }
    let lab = spawn_with_lab_from(Config::default()).await;
    let other_host = lab.lab.replace("127.0.0.1", "localhost");

    let elsewhere = run_script(FIXATION_SCRIPT, vec![lab.main_origin.clone(), other_host]).await;
    let without = run_script(
        FIXATION_SCRIPT,
        vec![lab.main_origin.clone(), "http://127.0.0.1:9".into()],
    )
    .await;

    assert!(!elsewhere.status.success());
    assert!(
        String::from_utf8_lossy(&elsewhere.stderr).contains("the lab must be on the same host"),
        "{}",
        String::from_utf8_lossy(&elsewhere.stderr)
    );
    assert!(!without.status.success());
    assert!(String::from_utf8_lossy(&without.stderr).contains("no lab at"));
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
    for script in [SCRIPT, EXPIRY_SCRIPT, SHARED_SCRIPT, FIXATION_SCRIPT] {
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
