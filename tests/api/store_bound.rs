//! The session store stays bounded under a flood and keeps returning sessions.

use std::time::Duration;

use ajax_sessions::Config;
use futures_util::stream::{self, StreamExt as _};
use serde_json::json;

use crate::helpers::{bare_client, spawn_app_with};

const MAX_SESSIONS: u64 = 200;
const FLOOD: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_new_sessions_stays_bounded_and_spares_returning_sessions() {
    let app = spawn_app_with(Config {
        max_sessions: MAX_SESSIONS,
        ..Config::default()
    })
    .await;
    app.get_page().await;
    app.update(&json!({"regular": true})).await;
    let flooder = bare_client();

    let mut highest = 0;
    let mut chunks = stream::iter(0..FLOOD)
        .map(|_| {
            let request = flooder.get(app.url("/"));
            async move { request.send().await.expect("GET /").status() }
        })
        .buffer_unordered(16)
        .chunks(100);
    while let Some(statuses) = chunks.next().await {
        assert!(statuses.iter().all(|status| *status == 200));
        highest = highest.max(app.store().stats().live);
        // The regular visitor keeps coming back during the flood.
        assert_eq!(app.data().await, json!({"regular": true}));
    }

    let stats = app.store().stats();
    assert!(
        highest <= MAX_SESSIONS as usize,
        "live count reached {highest}"
    );
    assert_eq!(stats.live, MAX_SESSIONS as usize);
    assert!(stats.evictions >= (FLOOD as u64 + 1 - MAX_SESSIONS));
    assert_eq!(app.data().await, json!({"regular": true}));
}

#[tokio::test]
async fn expired_sessions_are_purged_from_the_store() {
    let app = spawn_app_with(Config {
        idle_timeout: 1,
        max_sessions: MAX_SESSIONS,
        ..Config::default()
    })
    .await;
    let flooder = bare_client();
    for _ in 0..50 {
        flooder.get(app.url("/")).send().await.expect("GET /");
    }
    assert_eq!(app.store().stats().live, 50);

    // Idle timeout 1 s; the sweep runs every second. The sessions expire by
    // about 1.1 s and the sweeps at 2 s and 3 s find them; 3.5 s leaves room
    // for a busy machine.
    tokio::time::sleep(Duration::from_millis(3_500)).await;

    let stats = app.store().stats();
    assert_eq!(stats.live, 0, "{stats:?}");
    assert_eq!(stats.expired_purged, 50);
}
