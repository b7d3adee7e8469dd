//! Property tests of the update path: whatever the body, a refused update
//! changes nothing and an accepted one gives exactly the RFC 7396 result.

use ajax_sessions::patch::{apply_patch, Data};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::Value;

use crate::helpers::spawn_app;
use crate::rfc7396::rfc7396_merge;

/// JSON with few distinct keys, so patches often meet existing members.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[a-z]{0,4}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-d]", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Data> {
    prop::collection::btree_map("[a-d]", json_value(), 0..5)
        .prop_map(|map| map.into_iter().collect())
}

/// Bodies of every kind: patches, other JSON, bad keys, broken text, bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => json_object().prop_map(|patch| Value::Object(patch).to_string().into_bytes()),
        1 => json_value().prop_map(|value| value.to_string().into_bytes()),
        1 => json_value().prop_map(|value| format!("{{\"\": {value}}}").into_bytes()),
        1 => (json_object(), any::<prop::sample::Index>()).prop_map(|(patch, cut)| {
            let text = Value::Object(patch).to_string().into_bytes();
            let at = cut.index(text.len());
            text[..at].to_vec()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..48),
    ]
}

proptest! {
    #[test]
    fn apply_patch_gives_the_rfc_7396_result(data in json_object(), patch in json_object()) {
        let expected = rfc7396_merge(&Value::Object(data.clone()), &Value::Object(patch.clone()));
        let merged = apply_patch(&data, patch).expect("within the limits");
        prop_assert_eq!(Value::Object(merged), expected);
    }
}

#[test]
fn over_http_a_refused_body_changes_nothing_and_an_accepted_one_merges_exactly() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let app = runtime.block_on(async {
        let app = spawn_app().await;
        app.get_page().await;
        app
    });
    let token = runtime.block_on(app.csrf_token()).expect("a token");

    let mut runner = TestRunner::new(ProptestConfig::with_cases(128));
    let outcome = runner.run(&body(), |body| {
        runtime.block_on(async {
            let before = app.data().await;
            let reply = app
                .update_raw("application/json", body.clone(), Some(&token))
                .await;
            let after = app.data().await;
            if reply.status == 200 {
                let patch: Value = serde_json::from_slice(&body).expect("accepted JSON");
                prop_assert_eq!(&after, &rfc7396_merge(&before, &patch));
                prop_assert_eq!(&reply.json()["data"], &after);
            } else {
                prop_assert!(reply.status.is_client_error(), "{}", reply.status);
                prop_assert!(reply.json()["error"]["code"].is_string());
                prop_assert_eq!(&after, &before);
            }
            Ok(())
        })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
