//! Checking a spec document against upstream's JSON schema (feature `schema`).
//!
//! The schema (`schema.json`, which refers to `defs.json`) is upstream's
//! `schema/` directory, embedded in the crate. It checks shape only: field
//! types and required fields, not the rules of [`Spec::validate`](crate::Spec::validate)
//! (versions, names, hook points), and it allows unknown fields, which the
//! runtimes reject. So it is a second opinion on the shape of a spec, written
//! independently of this crate's types: tests use it to check the specs that
//! this crate, or a program using it, writes.
//!
//! ```
//! let spec = cdi::Spec::from_json_str(r#"{"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu",
//!     "devices": [{"name": "0", "containerEdits": {"env": ["A=1"]}}]}"#)?;
//! cdi::schema::validate(&serde_json::to_value(&spec)?).unwrap();
//!
//! let errors = cdi::schema::validate(&serde_json::json!({"kind": 1})).unwrap_err();
//! assert!(errors.contains(&"/kind: 1 is not of type \"string\"".to_string()), "{errors:?}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::OnceLock;

use jsonschema::{Registry, Validator};
use serde_json::Value;

/// Upstream's `schema/schema.json`: the schema of a spec document.
///
/// Kept once in the crate, under `tests/fixtures/upstream`, where the tests
/// also read it.
pub const SCHEMA_JSON: &str = include_str!("../tests/fixtures/upstream/schema.json");

/// Upstream's `schema/defs.json`: the definitions `schema.json` refers to as
/// `defs.json#/definitions/...`.
pub const DEFS_JSON: &str = include_str!("../tests/fixtures/upstream/defs.json");

/// Where the schema is taken to live, so that its relative `$ref`s to
/// `defs.json` resolve to the embedded copy. Never fetched.
const BASE: &str = "https://cdi.schema.invalid/schema/";

/// Checks `document` (a whole spec, as JSON) against the schema.
///
/// On failure, every violation, each as `POINTER: MESSAGE`, where `POINTER` is
/// the JSON pointer of the offending value (`/devices/0/containerEdits`), or
/// `(root)` for the document itself.
pub fn validate(document: &Value) -> Result<(), Vec<String>> {
    let errors: Vec<String> = validator()
        .iter_errors(document)
        .map(|error| {
            let pointer = error.instance_path().to_string();
            let pointer = if pointer.is_empty() {
                "(root)".to_string()
            } else {
                pointer
            };
            format!("{pointer}: {error}")
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        // Both documents are fixed at compile time, and the tests build this
        // validator: a failure here is a bug in the crate, not bad input.
        let parse = |text: &str| -> Value {
            serde_json::from_str(text).expect("the embedded CDI schema is JSON")
        };
        let registry = Registry::new()
            .add(format!("{BASE}defs.json"), parse(DEFS_JSON))
            .and_then(|registry| registry.prepare())
            .expect("the embedded defs.json is a schema resource");
        jsonschema::draft7::options()
            .with_base_uri(format!("{BASE}schema.json"))
            .with_registry(&registry)
            .build(&parse(SCHEMA_JSON))
            .expect("the embedded CDI schema compiles")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_spec_is_valid() {
        let spec = json!({"cdiVersion": "0.3.0", "kind": "v.com/c", "devices": []});
        validate(&spec).unwrap();
    }

    #[test]
    fn violations_name_their_pointer() {
        let spec = json!({
            "cdiVersion": 5,
            "kind": "v.com/c",
            "devices": [{"name": "d", "containerEdits": {
                "deviceNodes": [{"path": "/dev/x", "uid": -1}],
                "mounts": [{"hostPath": "/a"}]
            }}]
        });
        let errors = validate(&spec).unwrap_err();
        let want = [
            "/cdiVersion: 5 is not of type \"string\"",
            "/devices/0/containerEdits/deviceNodes/0/uid: -1 is less than the minimum of 0",
            "/devices/0/containerEdits/mounts/0: \"containerPath\" is a required property",
        ];
        for message in want {
            assert!(
                errors.iter().any(|e| e == message),
                "{message:?} not in {errors:#?}"
            );
        }
        assert_eq!(errors.len(), want.len(), "{errors:#?}");

        let errors = validate(&json!({})).unwrap_err();
        assert!(
            errors.contains(&"(root): \"cdiVersion\" is a required property".to_string()),
            "{errors:?}"
        );
    }

    #[test]
    fn defs_are_the_embedded_copy() {
        // A reference into defs.json that exists only there: the annotations
        // map must hold strings.
        let spec = json!({"cdiVersion": "0.6.0", "kind": "v.com/c", "devices": [],
                          "annotations": {"a": 1}});
        let errors = validate(&spec).unwrap_err();
        assert_eq!(errors, ["/annotations/a: 1 is not of type \"string\""]);
    }
}
