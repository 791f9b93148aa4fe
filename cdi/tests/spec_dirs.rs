//! `scan_dirs` and `find_kind` over temporary spec directories.

use std::fs;
use std::path::{Path, PathBuf};

use cdi::{find_kind, scan_dirs, Error, Kind, Spec, DEFAULT_SPEC_DIRS};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    fs::read(path).unwrap()
}

const NVIDIA_YAML: &str =
    "---\ncdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n  - name: \"0\"\n";

/// Two spec directories:
///
/// `etc/`: nvidia.json (valid), amd.json (valid, amd.com/gpu), broken.json
/// (invalid, nvidia.com/gpu), garbage.json (not JSON), other.json (invalid,
/// vendor.com/device), nvidia.yaml, notes.txt, sub.json/ (a directory),
/// sub/ (a directory holding a spec).
/// `run/`: test.json (valid, mlenv.test/gpu).
fn spec_dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc");
    let run = root.path().join("run");
    fs::create_dir_all(etc.join("sub.json")).unwrap();
    fs::create_dir_all(etc.join("sub")).unwrap();
    fs::create_dir_all(&run).unwrap();
    fs::write(etc.join("nvidia.json"), fixture("good/nvidia-ctk.json")).unwrap();
    let amd = String::from_utf8(fixture("good/nvidia-ctk.json"))
        .unwrap()
        .replace("nvidia.com/gpu", "amd.com/gpu");
    fs::write(etc.join("amd.json"), amd).unwrap();
    fs::write(
        etc.join("broken.json"),
        fixture("bad/duplicate-device.json"),
    )
    .unwrap();
    fs::write(etc.join("garbage.json"), "{ not json").unwrap();
    fs::write(etc.join("other.json"), fixture("bad/unknown-field.json")).unwrap();
    fs::write(etc.join("nvidia.yaml"), NVIDIA_YAML).unwrap();
    fs::write(etc.join("notes.txt"), "not a spec").unwrap();
    fs::write(etc.join("sub/nested.json"), fixture("good/nvidia-ctk.json")).unwrap();
    fs::write(
        run.join("test.json"),
        fixture("good/gpu-like-test-vendor.json"),
    )
    .unwrap();
    (root, etc, run)
}

fn file_names(entries: &[(PathBuf, cdi::Result<Spec>)]) -> Vec<(String, bool)> {
    entries
        .iter()
        .map(|(path, spec)| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, spec.is_ok())
        })
        .collect()
}

#[test]
fn scan_lists_json_and_yaml_sorted_per_dir() {
    let (_root, etc, run) = spec_dirs();
    let missing = etc.join("missing");
    let found = scan_dirs(&[&etc, &missing, &run]);
    let names = file_names(&found);
    let want = [
        ("amd.json", true),
        ("broken.json", false),
        ("garbage.json", false),
        ("nvidia.json", true),
        ("nvidia.yaml", false),
        ("other.json", false),
        ("test.json", true),
    ];
    let want: Vec<(String, bool)> = want.iter().map(|(n, ok)| (n.to_string(), *ok)).collect();
    assert_eq!(names, want);
    assert_eq!(found[0].0, etc.join("amd.json"));
    assert_eq!(found[6].0, run.join("test.json"));

    for (path, spec) in &found {
        let Err(err) = spec else { continue };
        // Errors do not repeat the path that comes with them.
        assert!(
            !matches!(err, Error::InFile { .. }),
            "{}: {err:?}",
            path.display()
        );
    }
    let err = |name: &str| {
        let (_, spec) = found.iter().find(|(p, _)| p.ends_with(name)).unwrap();
        spec.as_ref().unwrap_err().to_string()
    };
    // YAML is read, as strictly as JSON.
    assert!(
        err("nvidia.yaml").contains("missing field `containerEdits`"),
        "{}",
        err("nvidia.yaml")
    );
    assert!(err("broken.json").contains("defined more than once"));
    assert!(err("garbage.json").starts_with("malformed CDI spec"));
    assert!(err("other.json").contains("unknown field"));
}

#[test]
fn scan_reports_unlistable_dirs_and_skips_missing_ones() {
    let (_root, etc, _run) = spec_dirs();
    let not_a_dir = etc.join("notes.txt");
    let found = scan_dirs(&[not_a_dir.clone(), etc.join("missing")]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, not_a_dir);
    let err = found[0].1.as_ref().unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err
        .to_string()
        .starts_with(&format!("cannot read {}: ", not_a_dir.display())));

    let none: [&str; 0] = [];
    assert!(scan_dirs(&none).is_empty());
}

#[test]
fn find_kind_returns_matching_and_undecidable_entries() {
    let (_root, etc, run) = spec_dirs();
    let dirs = [etc, run];
    let nvidia: Kind = "nvidia.com/gpu".parse().unwrap();
    let names = file_names(&find_kind(&dirs, &nvidia));
    let want: Vec<(String, bool)> = [
        ("broken.json", false),
        ("garbage.json", false),
        ("nvidia.json", true),
        ("nvidia.yaml", false),
    ]
    .iter()
    .map(|(n, ok)| (n.to_string(), *ok))
    .collect();
    assert_eq!(names, want);

    let test: Kind = "mlenv.test/gpu".parse().unwrap();
    let names = file_names(&find_kind(&dirs, &test));
    assert_eq!(
        names,
        [
            ("garbage.json".to_string(), false),
            ("test.json".to_string(), true)
        ]
    );

    let intel: Kind = "intel.com/gpu".parse().unwrap();
    let names = file_names(&find_kind(&dirs, &intel));
    assert_eq!(names, [("garbage.json".to_string(), false)]);
}

#[test]
fn peek_kind_reads_json_and_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "a.json",
            r#"{"kind": "nvidia.com/gpu", "extra": 1}"#,
            Some("nvidia.com/gpu"),
        ),
        ("b.json", r#"{"kind": 3}"#, None),
        ("c.json", "kind: nvidia.com/gpu", None),
        ("d.yaml", NVIDIA_YAML, Some("nvidia.com/gpu")),
        (
            "e.yaml",
            "{kind: amd.com/gpu, devices: []}",
            Some("amd.com/gpu"),
        ),
        (
            "f.yml",
            "devices:\n  - name: x\nkind: 'amd.com/gpu'\n",
            Some("amd.com/gpu"),
        ),
        // Not YAML at all; the line-based look still finds the kind.
        (
            "g.yaml",
            "kind: amd.com/gpu\ndevices: [\n",
            Some("amd.com/gpu"),
        ),
        ("h.yaml", "devices: []\n", None),
    ];
    for &(name, text, want) in cases {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        assert_eq!(cdi::peek_kind(&path).as_deref(), want, "{name}");
    }
    assert_eq!(cdi::peek_kind(&dir.path().join("missing.json")), None);
}

#[test]
fn default_dirs() {
    assert_eq!(DEFAULT_SPEC_DIRS, ["/etc/cdi", "/var/run/cdi"]);
    // Must not panic whatever the host has there.
    let _ = scan_dirs(&DEFAULT_SPEC_DIRS);
}
