//! RFC 7396, section 2, transcribed: the oracle the update path is held to,
//! shared by the property tests and the fuzz target.

use serde_json::{Map, Value};

/// MergePatch(Target, Patch), as the RFC's pseudo-code defines it.
pub fn rfc7396_merge(target: &Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut result = match target {
        Value::Object(target) => target.clone(),
        _ => Map::new(),
    };
    for (name, value) in patch {
        if value.is_null() {
            result.remove(name);
        } else {
            let merged = rfc7396_merge(result.get(name).unwrap_or(&Value::Null), value);
            result.insert(name.clone(), merged);
        }
    }
    Value::Object(result)
}
