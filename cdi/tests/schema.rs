//! The fixtures against upstream's JSON schema, and this crate's output too.
//! Needs the `schema` feature: `cargo test -p cdi --features schema`.

#![cfg(feature = "schema")]

use std::path::Path;

use cdi::Spec;
use serde_json::Value;

mod common;
use common::{fixtures, spec_files};

/// A fixture as a JSON value; `None` if it is not JSON (or YAML) at all.
fn document(path: &Path) -> Option<Value> {
    let bytes = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|ext| ext == "yaml") {
        serde_yaml_ng::from_slice(&bytes).ok()
    } else {
        serde_json::from_slice(&bytes).ok()
    }
}

fn name(path: &Path) -> String {
    path.strip_prefix(fixtures()).unwrap().display().to_string()
}

#[test]
fn good_fixtures_and_their_rewrites_match_the_schema() {
    let mut files = spec_files("upstream/good");
    files.extend(spec_files("good"));
    for path in files {
        let at = name(&path);
        let doc = document(&path).unwrap();
        cdi::schema::validate(&doc).unwrap_or_else(|e| panic!("{at}: {e:#?}"));

        let spec = Spec::load(&path).unwrap();
        let json: Value = serde_json::from_str(&spec.to_json_string_pretty().unwrap()).unwrap();
        cdi::schema::validate(&json).unwrap_or_else(|e| panic!("{at} as JSON: {e:#?}"));
        let yaml: Value = serde_yaml_ng::from_str(&spec.to_yaml_string().unwrap()).unwrap();
        cdi::schema::validate(&yaml).unwrap_or_else(|e| panic!("{at} as YAML: {e:#?}"));
        assert_eq!(yaml, json, "{at}");
    }
}

#[test]
fn upstream_bad_fixtures_do_not() {
    for path in spec_files("upstream/bad") {
        let at = name(&path);
        if let Some(doc) = document(&path) {
            let errors = cdi::schema::validate(&doc).expect_err(&at);
            assert!(!errors.is_empty(), "{at}");
        }
    }
}

/// The schema checks shape, not CDI's rules: of this crate's bad fixtures it
/// catches only those whose shape is wrong. (All of them fail `Spec::load`.)
#[test]
fn what_the_schema_catches_of_our_bad_fixtures() {
    let caught: &[(&str, Option<&str>)] = &[
        ("bad/annotations-need-0.6.0.json", None),
        ("bad/bad-hook-name.json", None),
        ("bad/bad-kind.json", None),
        ("bad/digit-name-needs-0.5.0.json", None),
        ("bad/duplicate-annotation.yaml", None),
        ("bad/duplicate-device.json", None),
        ("bad/empty-device-edits.json", None),
        ("bad/no-devices.json", None),
        (
            "bad/quoted-number.yaml",
            Some(
                "/devices/0/containerEdits/deviceNodes/0/major: \"240\" is not of type \"integer\"",
            ),
        ),
        // The schema allows unknown fields; the runtimes do not.
        ("bad/unknown-field.json", None),
        ("bad/unknown-field.yaml", None),
        ("bad/unknown-version.json", None),
    ];
    let files: Vec<String> = spec_files("bad").iter().map(|p| name(p)).collect();
    let listed: Vec<&str> = caught.iter().map(|(file, _)| *file).collect();
    assert_eq!(files, listed);
    for &(file, want) in caught {
        let doc = document(&fixtures().join(file)).unwrap();
        let got = cdi::schema::validate(&doc).err();
        assert_eq!(got, want.map(|m| vec![m.to_string()]), "{file}");
    }
}
