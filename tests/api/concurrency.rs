//! Parallel updates of one session lose nothing.

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

const PARALLEL: usize = 50;
const TRIALS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_updates_with_distinct_keys_all_survive_every_trial() {
    for trial in 0..TRIALS {
        let app = spawn_app().await;
        app.get_page().await;
        let token = app.csrf_token().await.expect("a token");

        let replies = join_all((0..PARALLEL).map(|i| {
            let request = app
                .client
                .post(app.url("/update-session-data"))
                .header("content-type", "application/json")
                .header("x-csrf-token", &token)
                .body(json!({ format!("key{i}"): i }).to_string());
            async move { request.send().await.expect("POST").status() }
        }))
        .await;

        assert!(
            replies.iter().all(|status| *status == 200),
            "trial {trial}: {replies:?}"
        );
        let data = app.data().await;
        let kept = data.as_object().map_or(0, |object| object.len());
        assert_eq!(kept, PARALLEL, "trial {trial}: kept {kept} of {PARALLEL}");
        for i in 0..PARALLEL {
            assert_eq!(data[format!("key{i}")], Value::from(i));
        }
    }
}
