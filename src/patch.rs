//! The update body: checked, parsed and applied to the session's data as a
//! JSON Merge Patch (RFC 7396). The checks are pure functions so that unit
//! tests, property tests and the fuzzer exercise exactly what the endpoint runs.

use std::io;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::AppError;
use crate::limits;

/// The learner's data: a JSON object.
pub type Data = Map<String, Value>;

/// A validated merge patch taken from the request body. Rejections are the
/// app's JSON errors, never axum's plain-text ones.
#[derive(Debug)]
pub struct MergePatch(pub Data);

impl<S: Send + Sync> FromRequest<S> for MergePatch {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(req.headers())?;
        let body = read_body(req, state).await?;
        parse_patch(&body).map(MergePatch)
    }
}

/// `415 unsupported_media_type` unless the headers declare a JSON body.
/// Every endpoint that takes JSON (the update, the login) asks this first.
pub fn require_json(headers: &HeaderMap) -> Result<(), AppError> {
    let declared_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_json_content_type);
    if declared_json {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType)
    }
}

/// The whole request body, within the body limit: `413 payload_too_large`
/// past it, `400 invalid_body` when it cannot be read, never axum's plain
/// text.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                AppError::PayloadTooLarge
            }
            _ => AppError::UnreadableBody,
        })
}

/// True for `application/json` and `application/merge-patch+json`, with or
/// without parameters such as `; charset=utf-8`.
pub fn is_json_content_type(content_type: &str) -> bool {
    // A byte loop: `split`'s search is built for long texts.
    let essence = match content_type.bytes().position(|byte| byte == b';') {
        Some(at) => content_type.get(..at).unwrap_or(""),
        None => content_type,
    }
    .trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("application/merge-patch+json")
}

/// Parses a body into a merge patch: well-formed JSON, an object, every key
/// between 1 and [`limits::MAX_KEY_BYTES`] bytes.
pub fn parse_patch(body: &[u8]) -> Result<Data, AppError> {
    if body.len() > limits::MAX_BODY_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    let value: Value = serde_json::from_slice(body).map_err(AppError::InvalidJson)?;
    let Value::Object(patch) = value else {
        return Err(AppError::NotAnObject);
    };
    if !keys_are_valid(&patch) {
        return Err(AppError::InvalidKey);
    }
    Ok(patch)
}

/// Checks every key of an object and of the objects nested in it. The depth
/// is bounded by serde_json's recursion limit, so the recursion is too.
fn keys_are_valid(object: &Data) -> bool {
    object.iter().all(|(key, value)| {
        (1..=limits::MAX_KEY_BYTES).contains(&key.len()) && values_are_valid(value)
    })
}

fn values_are_valid(value: &Value) -> bool {
    match value {
        Value::Object(object) => keys_are_valid(object),
        Value::Array(items) => items.iter().all(values_are_valid),
        _ => true,
    }
}

/// Applies a patch to a copy of the data and returns the result, or the
/// limit it would break. The data passed in is never changed, so a refused
/// update leaves the session exactly as it was.
pub fn apply_patch(data: &Data, patch: Data) -> Result<Data, AppError> {
    let mut merged = data.clone();
    merge_patch(&mut merged, patch)?;
    Ok(merged)
}

/// Applies a patch to `data` in place, then checks the limits: `Err` names
/// the limit the merged data breaks, and `data` then holds that refused
/// result. For a caller that owns its copy and throws it away on a refusal
/// (a request's session state, which is then never saved): it saves the
/// copy [`apply_patch`] makes.
pub fn merge_patch(data: &mut Data, patch: Data) -> Result<(), AppError> {
    merge_objects(data, patch);
    check_key_count(data)?;
    check_size(serialized_len(data))
}

/// [`merge_patch`] for a caller that keeps the merged data as JSON text
/// (the session): the same merge and limits, the size taken from the text
/// written once rather than counted in a pass of its own.
pub fn merge_patch_to_json(mut data: Data, patch: Data) -> Result<Box<RawValue>, AppError> {
    merge_objects(&mut data, patch);
    check_key_count(&data)?;
    let text = serde_json::value::to_raw_value(&data)
        .map_err(|err| AppError::Internal(format!("session data: {err}")))?;
    check_size(text.get().len())?;
    Ok(text)
}

fn check_key_count(data: &Data) -> Result<(), AppError> {
    if data.len() > limits::MAX_TOP_LEVEL_KEYS {
        return Err(AppError::TooManyKeys(data.len()));
    }
    Ok(())
}

fn check_size(size: usize) -> Result<(), AppError> {
    if size > limits::MAX_DATA_BYTES {
        return Err(AppError::SessionTooLarge(size));
    }
    Ok(())
}

/// RFC 7396 on two objects: a `null` removes its key, an object is merged
/// into the object it meets (into an empty one if it meets anything else),
/// any other value replaces what was there. The patch's values are moved
/// in, not copied. The depth is bounded by serde_json's recursion limit,
/// so the recursion is too.
fn merge_objects(target: &mut Data, patch: Data) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(&key);
            }
            Value::Object(inner) => match target.get_mut(&key) {
                Some(Value::Object(existing)) => merge_objects(existing, inner),
                _ => {
                    let mut fresh = Data::new();
                    merge_objects(&mut fresh, inner);
                    target.insert(key, Value::Object(fresh));
                }
            },
            value => {
                target.insert(key, value);
            }
        }
    }
}

/// The length of a value's JSON, counted without building the string.
pub fn serialized_len(data: &Data) -> usize {
    struct Counter(usize);
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Map<String, Value>` cannot fail: keys are strings.
    let _ = serde_json::to_writer(&mut counter, data);
    counter.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Data {
        match value {
            Value::Object(map) => map,
            _ => panic!("test data must be an object"),
        }
    }

    /// `merge_patch`'s outcome as `merge_patch_to_json` gives it.
    fn as_text(data: &Data, patch: Data) -> Result<String, u16> {
        let mut merged = data.clone();
        match merge_patch(&mut merged, patch) {
            Ok(()) => Ok(serde_json::to_string(&merged).unwrap()),
            Err(err) => Err(err.status_and_code().0.as_u16()),
        }
    }

    fn through_text(data: &Data, patch: Data) -> Result<String, u16> {
        merge_patch_to_json(data.clone(), patch)
            .map(|text| text.get().to_owned())
            .map_err(|err| err.status_and_code().0.as_u16())
    }

    #[test]
    fn merging_to_text_merges_and_limits_as_merge_patch_does() {
        let data = object(json!({"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": null}));
        let big = "x".repeat(limits::MAX_DATA_BYTES);
        let many: Data = (0..=limits::MAX_TOP_LEVEL_KEYS)
            .map(|at| (format!("k{at}"), json!(at)))
            .collect();
        for patch in [
            json!({}),
            json!({"a": null, "b": {"c": null, "f": {"g": null, "h": 2}}, "i": [null]}),
            json!({"e": {"x": null}}),
            json!({"big": big}),
            Value::Object(many),
        ] {
            let patch = object(patch);
            assert_eq!(
                through_text(&data, patch.clone()),
                as_text(&data, patch.clone()),
                "{patch:?}"
            );
        }
        assert_eq!(through_text(&data, object(json!({"big": big}))), Err(413));
    }

    #[test]
    fn json_content_types_are_recognised_with_parameters() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/merge-patch+json"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("application/x-www-form-urlencoded"));
        assert!(!is_json_content_type("application/jsonx"));
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        let err = parse_patch(b"{\n  \"a\": }").unwrap_err();
        let message = err.message();
        assert_eq!(err.status_and_code().1, "invalid_json");
        assert!(message.contains("line 2, column 8"), "{message}");
    }

    #[test]
    fn only_objects_are_patches() {
        for body in ["[]", "1", "\"x\"", "null", "true"] {
            let err = parse_patch(body.as_bytes()).unwrap_err();
            assert_eq!(err.status_and_code().1, "not_an_object", "{body}");
        }
    }

    #[test]
    fn empty_and_long_keys_are_refused_at_any_depth() {
        let long = "k".repeat(limits::MAX_KEY_BYTES + 1);
        for body in [
            json!({"": 1}),
            json!({ long.clone(): 1 }),
            json!({"a": {"": 1}}),
            json!({"a": [{ long.clone(): 1 }]}),
        ] {
            let err = parse_patch(body.to_string().as_bytes()).unwrap_err();
            assert_eq!(err.status_and_code().1, "invalid_key", "{body}");
        }
        let fits = "k".repeat(limits::MAX_KEY_BYTES);
        assert!(parse_patch(json!({ fits: 1 }).to_string().as_bytes()).is_ok());
    }

    #[test]
    fn merge_sets_deletes_and_merges_nested_objects() {
        let data = object(json!({"a": 1, "b": {"x": 1, "y": 2}, "c": 3}));
        let patch = object(json!({"a": 2, "b": {"y": null, "z": 3}, "c": null, "d": [1]}));
        let merged = apply_patch(&data, patch).unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({"a": 2, "b": {"x": 1, "z": 3}, "d": [1]})
        );
    }

    #[test]
    fn the_hundred_and_first_key_is_refused() {
        let data: Data = (0..limits::MAX_TOP_LEVEL_KEYS)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        let err = apply_patch(&data, object(json!({"one-more": 1}))).unwrap_err();
        assert_eq!(err.status_and_code().1, "too_many_keys");
        // Replacing a key keeps the count.
        assert!(apply_patch(&data, object(json!({"k0": "x"}))).is_ok());
    }

    #[test]
    fn data_over_the_size_limit_is_refused() {
        let chunk = "x".repeat(10_000);
        let data: Data = (0..6).map(|i| (format!("k{i}"), json!(chunk))).collect();
        let err = apply_patch(&data, object(json!({"k6": chunk}))).unwrap_err();
        assert_eq!(err.status_and_code().1, "session_too_large");
    }

    #[test]
    fn serialized_len_matches_serde_json() {
        let data = object(json!({"a": [1, 2, {"b": "é\n"}], "c": null}));
        assert_eq!(
            serialized_len(&data),
            serde_json::to_vec(&data).unwrap().len()
        );
    }
}
