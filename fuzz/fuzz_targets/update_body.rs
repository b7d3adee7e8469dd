//! Fuzzes the update path as the endpoint runs it: parse and validate the
//! body, then merge it into existing data. Checks that nothing panics, that
//! refusals are client errors, and that accepted patches give the RFC 7396
//! result within the limits.
#![no_main]

use ajax_sessions::limits;
use ajax_sessions::patch::{apply_patch, parse_patch, serialized_len, Data};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

#[path = "../../tests/api/rfc7396.rs"]
mod rfc7396;
use rfc7396::rfc7396_merge;

fuzz_target!(|body: &[u8]| {
    let existing: Data = match json!({"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": null}) {
        Value::Object(map) => map,
        _ => unreachable!(),
    };
    match parse_patch(body) {
        Err(err) => {
            let status = err.status_and_code().0;
            assert!(status.is_client_error(), "{status}");
        }
        Ok(patch) => {
            let expected = rfc7396_merge(
                &Value::Object(existing.clone()),
                &Value::Object(patch.clone()),
            );
            match apply_patch(&existing, patch) {
                Ok(merged) => {
                    assert!(merged.len() <= limits::MAX_TOP_LEVEL_KEYS);
                    assert!(serialized_len(&merged) <= limits::MAX_DATA_BYTES);
                    assert_eq!(Value::Object(merged), expected);
                }
                Err(err) => {
                    assert!(err.status_and_code().0.is_client_error());
                }
            }
        }
    }
});
