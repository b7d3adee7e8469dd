//! The page's explanations are pure functions of the exchange
//! (`static/explain.js`, `static/explain-panels.js`, `static/lab-row.js`,
//! `static/lab-explain.js`, `static/login-explain.js`,
//! `static/fixation-explain.js`, `static/plant-explain.js`, with the helpers
//! of `static/format.js`); their unit tests run under Node's own test runner.
//!
//! Without `node` the test prints `SKIPPED` and passes, except under
//! `CI=true`, where it fails: `.ci/run` installs Node.js where it is missing.

use std::process::Command;

const TESTS: [&str; 5] = [
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/explain.test.mjs"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/login.test.mjs"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/lab.test.mjs"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/format.test.mjs"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/plant.test.mjs"),
];

#[test]
fn the_explanation_function_passes_its_unit_tests() {
    let Ok(output) = Command::new("node").arg("--test").args(TESTS).output() else {
        assert!(
            std::env::var("CI").map_or(true, |value| value != "true"),
            "node is required in CI (apt-get install nodejs)"
        );
        println!("SKIPPED: node not found: install Node.js to run the page's unit tests");
        eprintln!("SKIPPED: node not found: install Node.js to run the page's unit tests");
        return;
    };

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node --test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("# fail 0"), "{stdout}");
    assert!(!stdout.contains("# pass 0"), "no test ran:\n{stdout}");
}
