//! The binary carries its assets: a release build, copied to a fresh
//! folder and started from another working directory, with the source tree
//! hidden from it where the system allows (a private mount namespace with
//! an empty folder over the checkout), serves the page, every script and
//! style the page names, every module those scripts import, and the lab's
//! page and its assets.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cli::stop_with_sigterm;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Builds the release binary (a no-op when `.ci/run` or an earlier run
/// built it) and returns its path, as cargo reports it.
fn release_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--release", "--bin", "ajax-sessions"])
        .args(["--message-format", "json-render-diagnostics", "--quiet"])
        .current_dir(MANIFEST_DIR)
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "the release build failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|message| {
            (message["target"]["name"] == "ajax-sessions")
                .then(|| message["executable"].as_str().map(PathBuf::from))
                .flatten()
        })
        .expect("cargo names the executable")
}

/// A fresh, empty folder under the system's temporary folder.
fn fresh_folder(name: &str) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let folder = std::env::temp_dir().join(format!(
        "ajax-sessions-{name}-{}-{stamp}",
        std::process::id()
    ));
    std::fs::create_dir_all(&folder).expect("a temporary folder");
    folder
}

/// The command that starts `binary` in `cwd`: inside a private mount
/// namespace with an empty file system over the checkout when `unshare`
/// can make one, else as it is. Says which.
fn start_command(binary: &Path, cwd: &Path) -> Command {
    let can_hide = Command::new("unshare")
        .args(["-m", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let mut command = if can_hide {
        println!("the source tree is hidden from the binary (tmpfs over {MANIFEST_DIR})");
        let mut command = Command::new("unshare");
        command.args([
            "-m",
            "sh",
            "-c",
            r#"mount -t tmpfs tmpfs "$1" && shift && exec "$@""#,
        ]);
        command.args(["hide", MANIFEST_DIR]).arg(binary);
        command
    } else {
        println!("NOTE: unshare -m is not allowed here; the binary runs from a copy elsewhere, the source tree still in place");
        Command::new(binary)
    };
    command
        .args(["--port", "0", "--lab-port", "0"])
        .current_dir(cwd)
        .env_remove("CARGO_MANIFEST_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

/// The same-origin assets a page or a script names: `src="/static/…"` and
/// `href="/static/…"` in HTML, `from './x.js'` and `import './x.js'` in a
/// module (relative to `/static/`).
fn assets_named(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in ["src=\"/static/", "href=\"/static/"] {
        for piece in text.split(marker).skip(1) {
            if let Some(end) = piece.find('"') {
                found.push(format!("/static/{}", &piece[..end]));
            }
        }
    }
    for marker in ["from './", "import './"] {
        for piece in text.split(marker).skip(1) {
            if let Some(end) = piece.find('\'') {
                found.push(format!("/static/{}", &piece[..end]));
            }
        }
    }
    found
}

/// Fetches `start` from `base` and every asset it names, recursively;
/// returns the paths fetched, each answered `200` with a body.
async fn fetch_with_assets(base: &str, start: &str) -> BTreeSet<String> {
    let client = reqwest::Client::new();
    let mut fetched = BTreeSet::new();
    let mut queue = vec![start.to_owned()];
    while let Some(path) = queue.pop() {
        if !fetched.insert(path.clone()) {
            continue;
        }
        let response = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("an answer");
        let status = response.status();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("a body");
        assert_eq!(status, 200, "{base}{path}: {text}");
        assert!(!text.is_empty(), "{base}{path} is empty");
        let expected = match path.rsplit_once('.').map(|(_, extension)| extension) {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            _ => "text/html",
        };
        assert!(kind.starts_with(expected), "{path}: {kind}");
        queue.extend(assets_named(&text));
    }
    fetched
}

#[tokio::test]
async fn a_copied_release_binary_serves_the_page_and_every_asset_from_anywhere() {
    let built = release_binary();
    let home = fresh_folder("bin");
    let binary = home.join("ajax-sessions");
    std::fs::copy(&built, &binary).expect("copy the binary");
    let elsewhere = fresh_folder("cwd");

    let mut server = start_command(&binary, &elsewhere)
        .spawn()
        .expect("start the copy");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let mut address = |prefix: &str| {
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix}…, got {line:?}"))
            .to_owned()
    };
    let main = address("listening on ");
    let lab = address("lab origin on ");

    let page = fetch_with_assets(&main, "/").await;
    let lab_page = fetch_with_assets(&lab, "/").await;
    stop_with_sigterm(&mut server);
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&elsewhere);

    println!("served by the copy: {page:?} and on the lab {lab_page:?}");
    for asset in [
        "/static/app.js",
        "/static/style.css",
        "/static/transport.js",
    ] {
        assert!(page.contains(asset), "{asset} not named: {page:?}");
    }
    assert!(lab_page.contains("/static/lab.js"), "{lab_page:?}");
    assert!(page.len() >= 8, "{page:?}");
}
