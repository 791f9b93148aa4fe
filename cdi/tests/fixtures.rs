//! Loads the spec fixtures under `tests/fixtures`: upstream's examples and
//! schema, and specs written for this crate.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cdi::{Error, QualifiedName, Spec, Version};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The `*.json` files in a fixture directory, sorted; fails if there are none.
fn json_files(dir: &str) -> Vec<PathBuf> {
    let dir = fixtures().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

fn raw(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn good_fixtures_load_validate_and_round_trip() {
    let mut files = json_files("upstream/good");
    files.extend(json_files("good"));
    for path in files {
        let spec = Spec::load(&path).unwrap_or_else(|e| panic!("{e}"));
        spec.validate().unwrap();
        assert!(
            spec.minimum_version() <= spec.cdi_version,
            "{}",
            path.display()
        );

        // Serialising gives back the file's content, field for field.
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            raw(&path),
            "{}",
            path.display()
        );
        let pretty = serde_json::to_string_pretty(&spec).unwrap();
        assert_eq!(Spec::from_json_str(&pretty).unwrap(), spec);
        let compact = serde_json::to_vec(&spec).unwrap();
        assert_eq!(Spec::from_reader(compact.as_slice()).unwrap(), spec);
    }
}

#[test]
fn bad_fixtures_fail_to_load() {
    let mut files = json_files("upstream/bad");
    files.extend(json_files("bad"));
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
    ];
    for &(file, fragment) in cases {
        let err = Spec::load(fixtures().join(file)).unwrap_err();
        assert!(err.to_string().contains(fragment), "{file}: {err}");
    }
    let listed: BTreeSet<&str> = cases.iter().map(|(file, _)| *file).collect();
    for path in json_files("bad")
        .into_iter()
        .chain(json_files("upstream/bad"))
    {
        let relative = path.strip_prefix(fixtures()).unwrap().to_str().unwrap();
        assert!(
            listed.contains(relative),
            "{relative} has no expected reason"
        );
    }
}

#[test]
fn nvidia_ctk_like_spec() {
    let spec = Spec::load(fixtures().join("good/nvidia-ctk.json")).unwrap();
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
fn maximal_spec_needs_latest_version() {
    let spec = Spec::load(fixtures().join("good/maximal.json")).unwrap();
    assert_eq!(spec.minimum_version(), Version::V1_1_0);
    let test_vendor = Spec::load(fixtures().join("good/gpu-like-test-vendor.json")).unwrap();
    assert_eq!(test_vendor.minimum_version(), Version::V0_5_0);
    let upstream = [
        ("upstream/good/minimal.json", Version::V0_3_0),
        ("upstream/good/spec-example.json", Version::V0_5_0),
    ];
    for (file, want) in upstream {
        assert_eq!(
            Spec::load(fixtures().join(file)).unwrap().minimum_version(),
            want
        );
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
