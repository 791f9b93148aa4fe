//! Loads the spec fixtures under `tests/fixtures`: upstream's examples and
//! schema, and specs written for this crate.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cdi::{Error, QualifiedName, Spec, Version};
use serde_json::Value;

mod common;
use common::{fixtures, spec_files};

fn good_files() -> Vec<PathBuf> {
    let mut files = spec_files("upstream/good");
    files.extend(spec_files("good"));
    files
}

fn bad_files() -> Vec<PathBuf> {
    let mut files = spec_files("upstream/bad");
    files.extend(spec_files("bad"));
    files
}

/// A fixture's content as a JSON value, whatever its format.
fn raw(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|ext| ext == "yaml") {
        serde_yaml_ng::from_slice(&bytes).unwrap()
    } else {
        serde_json::from_slice(&bytes).unwrap()
    }
}

fn relative(path: &Path) -> &str {
    path.strip_prefix(fixtures()).unwrap().to_str().unwrap()
}

#[test]
fn good_fixtures_load_validate_and_round_trip() {
    for path in good_files() {
        let at = relative(&path);
        let spec = Spec::load(&path).unwrap_or_else(|e| panic!("{e}"));
        spec.validate().unwrap();
        assert!(spec.minimum_version() <= spec.cdi_version, "{at}");

        // Serialising gives back the file's content, field for field.
        assert_eq!(serde_json::to_value(&spec).unwrap(), raw(&path), "{at}");

        // JSON and YAML, written and read back in either order, give the
        // same spec.
        let json = spec.to_json_string_pretty().unwrap();
        let yaml = spec.to_yaml_string().unwrap();
        assert_eq!(Spec::from_json_str(&json).unwrap(), spec, "{at}");
        assert_eq!(Spec::from_yaml_str(&yaml).unwrap(), spec, "{at}\n{yaml}");
        let json_then_yaml = Spec::from_json_str(&json)
            .unwrap()
            .to_yaml_string()
            .unwrap();
        assert_eq!(json_then_yaml, yaml, "{at}");
        let yaml_then_json = Spec::from_yaml_str(&yaml)
            .unwrap()
            .to_json_string_pretty()
            .unwrap();
        assert_eq!(yaml_then_json, json, "{at}");
        // JSON is YAML too.
        assert_eq!(Spec::from_yaml_str(&json).unwrap(), spec, "{at}");
        // The YAML keeps the fields in the order of the types, like the JSON.
        assert!(yaml.starts_with("cdiVersion: "), "{at}\n{yaml}");

        let compact = serde_json::to_vec(&spec).unwrap();
        assert_eq!(Spec::from_reader(compact.as_slice()).unwrap(), spec);
    }
}

#[test]
fn bad_fixtures_fail_to_load() {
    let files = bad_files();
    for path in files {
        let err = Spec::load(&path).expect_err(&path.display().to_string());
        let Error::InFile { path: ref at, .. } = err else {
            panic!("{}: expected Error::InFile, got {err:?}", path.display());
        };
        assert_eq!(at, &path);
        assert!(
            err.to_string()
                .starts_with(&format!("CDI spec {}: ", path.display())),
            "{err}"
        );
    }
}

#[test]
fn bad_fixture_reasons() {
    let cases: &[(&str, &str)] = &[
        (
            "upstream/bad/empty.json",
            "invalid CDI spec: the spec is empty",
        ),
        (
            "upstream/bad/explicit-empty.json",
            "malformed CDI spec: missing field `cdiVersion`",
        ),
        ("bad/unknown-field.json", "unknown field `hostpath`"),
        (
            "bad/annotations-need-0.6.0.json",
            "cdiVersion 0.5.0 is too old for this spec: spec annotations needs cdiVersion 0.6.0",
        ),
        (
            "bad/digit-name-needs-0.5.0.json",
            "device name \"0\" (starts with a digit) needs cdiVersion 0.5.0",
        ),
        (
            "bad/duplicate-device.json",
            "device \"0\" is defined more than once",
        ),
        ("bad/no-devices.json", "invalid CDI spec: no devices"),
        ("bad/bad-kind.json", "invalid CDI kind \"nvidia.com\""),
        (
            "bad/empty-device-edits.json",
            "device \"0\": containerEdits is empty",
        ),
        ("bad/unknown-version.json", "unknown cdiVersion 0.9.0"),
        ("bad/bad-hook-name.json", "hookName \"preStart\""),
        (
            "bad/unknown-field.yaml",
            "unknown field `hostpath`, expected one of `path`, `hostPath`",
        ),
        (
            "bad/duplicate-annotation.yaml",
            "annotation \"vendor.com/owner\" is given more than once",
        ),
        (
            "bad/quoted-number.yaml",
            "devices[0].containerEdits.deviceNodes[0].major: invalid type: string \"240\", expected i64",
        ),
    ];
    for &(file, fragment) in cases {
        let err = Spec::load(fixtures().join(file)).unwrap_err();
        assert!(err.to_string().contains(fragment), "{file}: {err}");
    }
    let listed: BTreeSet<&str> = cases.iter().map(|(file, _)| *file).collect();
    for path in bad_files() {
        let at = relative(&path);
        assert!(listed.contains(at), "{at} has no expected reason");
    }
}

#[test]
fn nvidia_ctk_yaml_is_the_json_fixture() {
    let json = Spec::load(fixtures().join("good/nvidia-ctk.json")).unwrap();
    let yaml = Spec::load(fixtures().join("good/nvidia-ctk.yaml")).unwrap();
    assert_eq!(yaml, json);
}

#[test]
fn nvidia_ctk_like_spec() {
    for file in ["good/nvidia-ctk.json", "good/nvidia-ctk.yaml"] {
        check_nvidia_ctk_like(&Spec::load(fixtures().join(file)).unwrap());
    }
}

fn check_nvidia_ctk_like(spec: &Spec) {
    assert_eq!(spec.cdi_version, Version::V0_5_0);
    assert_eq!(spec.minimum_version(), Version::V0_5_0);
    assert_eq!(spec.kind.to_string(), "nvidia.com/gpu");

    let names: Vec<String> = spec
        .qualified_names()
        .iter()
        .map(QualifiedName::to_string)
        .collect();
    assert_eq!(
        names,
        [
            "nvidia.com/gpu=0",
            "nvidia.com/gpu=GPU-4f8ad0b4-6e1e-40ad-9e7c-2f6b6b7f3c11",
            "nvidia.com/gpu=all",
        ]
    );
    for name in &names {
        assert!(cdi::is_qualified_name(name));
    }

    let all = spec.device("all").unwrap();
    assert_eq!(all.container_edits.device_nodes[0].path, "/dev/nvidia0");
    assert!(spec.device("1").is_none());

    let shared = spec.container_edits.as_ref().unwrap();
    assert_eq!(shared.env, ["NVIDIA_VISIBLE_DEVICES=void"]);
    let nodes: Vec<&str> = shared
        .device_nodes
        .iter()
        .map(|n| n.path.as_str())
        .collect();
    assert_eq!(
        nodes,
        [
            "/dev/nvidiactl",
            "/dev/nvidia-uvm",
            "/dev/nvidia-uvm-tools",
            "/dev/nvidia-modeset"
        ]
    );
    let libcuda = shared
        .mounts
        .iter()
        .find(|m| m.host_path.contains("libcuda.so."))
        .unwrap();
    assert_eq!(libcuda.host_path, libcuda.container_path);
    assert!(libcuda.host_path.ends_with("libcuda.so.550.54.15"));
    assert_eq!(
        libcuda.options.as_deref().unwrap(),
        ["ro", "nosuid", "nodev", "rbind", "rprivate"]
    );
    assert!(shared
        .hooks
        .iter()
        .all(|h| h.hook_name == "createContainer" && h.path == "/usr/bin/nvidia-cdi-hook"));
}

#[test]
fn amd_like_spec() {
    let spec = Spec::load(fixtures().join("good/amd-gpu.json")).unwrap();
    assert_eq!(spec.kind.to_string(), "amd.com/gpu");
    let names: Vec<&str> = spec.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["0", "1", "all"]);
    let shared = spec.container_edits.as_ref().unwrap();
    assert_eq!(shared.device_nodes[0].path, "/dev/kfd");
    let all = spec.device("all").unwrap();
    let render: Vec<&str> = all
        .container_edits
        .device_nodes
        .iter()
        .map(|n| n.path.as_str())
        .filter(|p| p.starts_with("/dev/dri/renderD"))
        .collect();
    assert_eq!(render, ["/dev/dri/renderD128", "/dev/dri/renderD129"]);
}

/// The lowest `cdiVersion` of every good fixture, and whether each released
/// version from 0.3.0 on accepts it: those from the minimum on do (but 1.1.0
/// dropped nothing these fixtures use), those below do not.
#[test]
fn minimum_version_of_each_fixture() {
    let cases: &[(&str, Version)] = &[
        ("upstream/good/minimal.json", Version::V0_3_0),
        ("upstream/good/spec-example.json", Version::V0_5_0),
        ("good/amd-gpu.json", Version::V0_5_0),
        ("good/gpu-like-test-vendor.json", Version::V0_5_0),
        ("good/maximal.json", Version::V1_1_0),
        ("good/nvidia-ctk.json", Version::V0_5_0),
        ("good/nvidia-ctk.yaml", Version::V0_5_0),
    ];
    for &(file, want) in cases {
        let spec = Spec::load(fixtures().join(file)).unwrap();
        assert_eq!(spec.minimum_version(), want, "{file}");
        for version in Version::KNOWN {
            let mut redeclared = spec.clone();
            redeclared.cdi_version = version;
            let result = redeclared.validate();
            if version >= want {
                result.unwrap_or_else(|e| panic!("{file} at {version}: {e}"));
            } else {
                let err = result.expect_err(&format!("{file} at {version}"));
                assert!(
                    matches!(err, Error::VersionTooLow { required, .. } if required == want),
                    "{file} at {version}: {err:?}"
                );
            }
        }
    }
    let listed: BTreeSet<&str> = cases.iter().map(|(file, _)| *file).collect();
    for path in good_files() {
        let at = relative(&path);
        assert!(listed.contains(at), "{at} has no expected minimum version");
    }
}

fn keys(object: &Value) -> BTreeSet<String> {
    object
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {object}"))
        .keys()
        .cloned()
        .collect()
}

/// `good/maximal.json` uses every property that `schema.json` and `defs.json`
/// define, and nothing else but Go's `fileMode`; so the field names of this
/// crate's types are the schema's.
#[test]
fn every_schema_property_is_accepted() {
    let schema = raw(&fixtures().join("upstream/schema.json"));
    let defs = &raw(&fixtures().join("upstream/defs.json"))["definitions"];
    let max = raw(&fixtures().join("good/maximal.json"));
    let device = &max["devices"][0];
    let edits = &device["containerEdits"];

    let pairs: [(&str, &Value, &Value); 8] = [
        ("spec", &schema["properties"], &max),
        (
            "device",
            &schema["properties"]["devices"]["items"]["properties"],
            device,
        ),
        (
            "containerEdits",
            &defs["containerEdits"]["properties"],
            edits,
        ),
        (
            "intelRdt",
            &defs["containerEdits"]["properties"]["intelRdt"]["properties"],
            &edits["intelRdt"],
        ),
        (
            "DeviceNode",
            &defs["DeviceNode"]["properties"],
            &edits["deviceNodes"][0],
        ),
        ("Mount", &defs["Mount"]["properties"], &edits["mounts"][0]),
        ("Hook", &defs["Hook"]["properties"], &edits["hooks"][0]),
        (
            "LinuxNetDevice",
            &defs["LinuxNetDevice"]["properties"],
            &edits["netDevices"][0],
        ),
    ];
    for (what, schema_props, used) in pairs {
        let mut want = keys(schema_props);
        if what == "DeviceNode" {
            want.insert("fileMode".to_string());
        }
        assert_eq!(keys(used), want, "{what}");
    }
    Spec::load(fixtures().join("good/maximal.json")).unwrap();
}

/// Removing a field the schema requires fails to parse; removing any other
/// field parses.
#[test]
fn schema_required_fields_are_required() {
    let schema = raw(&fixtures().join("upstream/schema.json"));
    let defs = raw(&fixtures().join("upstream/defs.json"));
    let defs = &defs["definitions"];
    let max = raw(&fixtures().join("good/maximal.json"));

    // (JSON pointer to an object in maximal.json, its schema definition)
    let objects: [(&str, &Value); 6] = [
        ("", &schema),
        ("/devices/0", &schema["properties"]["devices"]["items"]),
        (
            "/devices/0/containerEdits/deviceNodes/0",
            &defs["DeviceNode"],
        ),
        ("/devices/0/containerEdits/mounts/0", &defs["Mount"]),
        ("/devices/0/containerEdits/hooks/0", &defs["Hook"]),
        (
            "/devices/0/containerEdits/netDevices/0",
            &defs["LinuxNetDevice"],
        ),
    ];
    for (pointer, definition) in objects {
        let required: BTreeSet<String> = definition["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        for field in keys(max.pointer(pointer).unwrap()) {
            let mut doc = max.clone();
            doc.pointer_mut(pointer)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(&field);
            let parsed = serde_json::from_value::<Spec>(doc);
            if required.contains(&field) {
                let err = parsed.expect_err(&format!("{pointer}/{field} is required"));
                assert!(
                    err.to_string()
                        .contains(&format!("missing field `{field}`")),
                    "{err}"
                );
            } else {
                parsed.unwrap_or_else(|e| panic!("{pointer}/{field} is optional: {e}"));
            }
        }
    }
}
