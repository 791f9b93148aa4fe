//! `Registry` over temporary spec directories: precedence, conflicts,
//! unreadable files and resolving names.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cdi::{Error, QualifiedName, Registry, ResolveError};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    fs::read_to_string(path).unwrap()
}

fn q(name: &str) -> QualifiedName {
    name.parse().unwrap()
}

fn names(resolved: &[QualifiedName]) -> Vec<String> {
    resolved.iter().map(ToString::to_string).collect()
}

/// A one-device spec of `kind` whose device `name` uses the node `node`.
fn one_device(kind: &str, name: &str, node: &str) -> String {
    format!(
        r#"{{"cdiVersion": "0.5.0", "kind": "{kind}",
            "devices": [{{"name": "{name}", "containerEdits": {{"deviceNodes": [{{"path": "{node}"}}]}}}}]}}"#
    )
}

/// Two spec directories like `/etc/cdi` (lower priority) and `/var/run/cdi`.
struct Dirs {
    _root: tempfile::TempDir,
    etc: PathBuf,
    run: PathBuf,
}

impl Dirs {
    fn new() -> Dirs {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path().join("etc/cdi");
        let run = root.path().join("var/run/cdi");
        fs::create_dir_all(&etc).unwrap();
        fs::create_dir_all(&run).unwrap();
        Dirs {
            _root: root,
            etc,
            run,
        }
    }

    fn load(&self) -> Registry {
        Registry::load(&[&self.etc, &self.run])
    }
}

fn node_of(registry: &Registry, name: &str) -> String {
    let device = registry
        .device(&q(name))
        .unwrap_or_else(|| panic!("{name}"));
    device.device().container_edits.device_nodes[0].path.clone()
}

#[test]
fn later_dir_wins_and_formats_mix() {
    let dirs = Dirs::new();
    fs::write(
        dirs.etc.join("nvidia.yaml"),
        fixture("good/nvidia-ctk.yaml"),
    )
    .unwrap();
    fs::write(dirs.etc.join("amd.json"), fixture("good/amd-gpu.json")).unwrap();
    fs::write(
        dirs.run.join("nvidia-override.json"),
        one_device("nvidia.com/gpu", "0", "/dev/nvidia1"),
    )
    .unwrap();

    let registry = dirs.load();
    assert!(registry.errors().is_empty(), "{:?}", registry.errors());
    let device = registry.device(&q("nvidia.com/gpu=0")).unwrap();
    assert_eq!(device.path(), dirs.run.join("nvidia-override.json"));
    assert_eq!(device.file().priority(), 1);
    assert_eq!(node_of(&registry, "nvidia.com/gpu=0"), "/dev/nvidia1");
    // The other devices of the lower-priority spec stay, with its edits.
    let all = registry.device(&q("nvidia.com/gpu=all")).unwrap();
    assert_eq!(all.path(), dirs.etc.join("nvidia.yaml"));
    assert_eq!(all.file().priority(), 0);
    assert_eq!(
        all.spec().container_edits.as_ref().unwrap().env,
        ["NVIDIA_VISIBLE_DEVICES=void"]
    );

    let listed: Vec<String> = registry
        .devices()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(
        listed,
        [
            "amd.com/gpu=0",
            "amd.com/gpu=1",
            "amd.com/gpu=all",
            "nvidia.com/gpu=0",
            "nvidia.com/gpu=GPU-4f8ad0b4-6e1e-40ad-9e7c-2f6b6b7f3c11",
            "nvidia.com/gpu=all",
        ]
    );
    let kinds: Vec<String> = registry.kinds().iter().map(ToString::to_string).collect();
    assert_eq!(kinds, ["amd.com/gpu", "nvidia.com/gpu"]);
    let files: Vec<&Path> = registry.specs().iter().map(|s| s.path()).collect();
    assert_eq!(
        files,
        [
            dirs.etc.join("amd.json"),
            dirs.etc.join("nvidia.yaml"),
            dirs.run.join("nvidia-override.json")
        ]
    );
    assert_eq!(registry.dirs(), [dirs.etc.clone(), dirs.run.clone()]);

    // With the order of the directories reversed, the other one wins.
    let reversed = Registry::load(&[&dirs.run, &dirs.etc]);
    assert_eq!(node_of(&reversed, "nvidia.com/gpu=0"), "/dev/nvidia0");
}

#[test]
fn same_dir_definitions_conflict_and_drop_the_device() {
    let dirs = Dirs::new();
    fs::write(dirs.etc.join("a.json"), fixture("good/nvidia-ctk.json")).unwrap();
    fs::write(
        dirs.etc.join("b.yaml"),
        "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n\
         - name: \"0\"\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia1\n\
         - name: extra\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia2\n",
    )
    .unwrap();

    let registry = dirs.load();
    let a = dirs.etc.join("a.json");
    let b = dirs.etc.join("b.yaml");
    // Only the device is dropped: the rest of both specs stays.
    assert!(registry.device(&q("nvidia.com/gpu=0")).is_none());
    assert_eq!(node_of(&registry, "nvidia.com/gpu=all"), "/dev/nvidia0");
    assert_eq!(node_of(&registry, "nvidia.com/gpu=extra"), "/dev/nvidia2");
    assert_eq!(registry.specs().len(), 2);

    assert_eq!(registry.errors().len(), 1, "{:?}", registry.errors());
    let (path, err) = &registry.errors()[0];
    assert_eq!(path, &b);
    assert!(
        matches!(err, Error::ConflictingDevice { first, second, .. } if *first == a && *second == b),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "CDI device nvidia.com/gpu=0 is defined in both {} and {}, in the same directory, \
             so runtimes ignore it; keep only one definition",
            a.display(),
            b.display()
        )
    );
    assert_eq!(
        registry.conflicts().get(&q("nvidia.com/gpu=0")),
        Some(&vec![a.clone(), b.clone()])
    );

    let err = registry.resolve(&q("nvidia.com/gpu=0")).unwrap_err();
    assert_eq!(
        err,
        ResolveError::Conflict {
            name: q("nvidia.com/gpu=0"),
            paths: vec![a.clone(), b.clone()]
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "CDI device nvidia.com/gpu=0 is defined in more than one spec file of one directory \
             ({}, {}), so runtimes ignore it; keep only one definition",
            a.display(),
            b.display()
        )
    );

    // As upstream: the conflict hides the device even though a
    // higher-priority directory defines it too.
    fs::write(
        dirs.run.join("c.json"),
        one_device("nvidia.com/gpu", "0", "/dev/nvidia3"),
    )
    .unwrap();
    let registry = dirs.load();
    assert!(registry.device(&q("nvidia.com/gpu=0")).is_none());
    assert!(registry.resolve(&q("nvidia.com/gpu=0")).is_err());

    // A conflict in the higher-priority directory hides the lower one's.
    let dirs = Dirs::new();
    fs::write(dirs.etc.join("a.json"), fixture("good/nvidia-ctk.json")).unwrap();
    for file in ["x.json", "y.json"] {
        fs::write(
            dirs.run.join(file),
            one_device("nvidia.com/gpu", "0", "/dev/nvidia1"),
        )
        .unwrap();
    }
    let registry = dirs.load();
    assert!(registry.device(&q("nvidia.com/gpu=0")).is_none());
    assert_eq!(
        registry.conflicts()[&q("nvidia.com/gpu=0")],
        [dirs.run.join("x.json"), dirs.run.join("y.json")]
    );
}

#[test]
fn resolving_all() {
    let dirs = Dirs::new();
    // nvidia.com/gpu defines `all`; vendor.com/dev does not.
    fs::write(
        dirs.etc.join("nvidia.json"),
        fixture("good/nvidia-ctk.json"),
    )
    .unwrap();
    fs::write(
        dirs.etc.join("vendor.yaml"),
        "cdiVersion: 0.5.0\nkind: vendor.com/dev\ndevices:\n\
         - {name: card, containerEdits: {env: [A=1]}}\n\
         - {name: \"10\", containerEdits: {env: [A=1]}}\n\
         - {name: \"2\", containerEdits: {env: [A=1]}}\n",
    )
    .unwrap();
    fs::write(
        dirs.run.join("vendor-more.json"),
        one_device("vendor.com/dev", "1", "/dev/null"),
    )
    .unwrap();
    let registry = dirs.load();

    let all = registry.resolve(&q("nvidia.com/gpu=all")).unwrap();
    assert_eq!(names(&all), ["nvidia.com/gpu=all"]);
    let all = registry.resolve(&q("vendor.com/dev=all")).unwrap();
    assert_eq!(
        names(&all),
        [
            "vendor.com/dev=1",
            "vendor.com/dev=2",
            "vendor.com/dev=10",
            "vendor.com/dev=card"
        ]
    );
    assert_eq!(
        names(&registry.resolve(&q("vendor.com/dev=10")).unwrap()),
        ["vendor.com/dev=10"]
    );

    let resolved = registry
        .resolve_all(&[
            q("vendor.com/dev=2"),
            q("vendor.com/dev=all"),
            q("nvidia.com/gpu=0"),
        ])
        .unwrap();
    assert_eq!(
        names(&resolved),
        [
            "vendor.com/dev=2",
            "vendor.com/dev=1",
            "vendor.com/dev=10",
            "vendor.com/dev=card",
            "nvidia.com/gpu=0"
        ]
    );
    let err = registry
        .resolve_all(&[q("nvidia.com/gpu=0"), q("intel.com/gpu=0")])
        .unwrap_err();
    assert!(matches!(err, ResolveError::NoSpec { .. }), "{err:?}");
}

#[test]
fn unknown_device_and_missing_spec_messages() {
    let dirs = Dirs::new();
    fs::write(
        dirs.etc.join("nvidia.yaml"),
        fixture("good/nvidia-ctk.yaml"),
    )
    .unwrap();
    fs::write(
        dirs.etc.join("broken.json"),
        fixture("bad/duplicate-device.json"),
    )
    .unwrap();
    fs::write(dirs.etc.join("garbage.json"), "{ not json").unwrap();
    fs::write(dirs.run.join("amd.json"), fixture("good/amd-gpu.json")).unwrap();
    let registry = dirs.load();
    let broken = dirs.etc.join("broken.json");
    let garbage = dirs.etc.join("garbage.json");
    assert_eq!(registry.errors().len(), 2);

    let err = registry.resolve(&q("nvidia.com/gpu=3")).unwrap_err();
    // broken.json is a nvidia.com/gpu spec; garbage.json's kind cannot be told.
    assert_eq!(
        err.to_string(),
        format!(
            "unknown CDI device nvidia.com/gpu=3: the nvidia.com/gpu spec ({}) defines 0, \
             GPU-4f8ad0b4-6e1e-40ad-9e7c-2f6b6b7f3c11, all; failed to load, and may be what is \
             missing: {} (invalid CDI spec: device \"0\" is defined more than once); {} \
             (malformed CDI spec: key must be a string at line 1 column 3)",
            dirs.etc.join("nvidia.yaml").display(),
            broken.display(),
            garbage.display(),
        )
    );
    let ResolveError::UnknownDevice {
        spec_files,
        available,
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert_eq!(spec_files, [dirs.etc.join("nvidia.yaml")]);
    assert_eq!(available.len(), 3);

    // amd.com/gpu has a spec, and no failure can be its.
    let err = registry.resolve(&q("amd.com/gpu=7")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "unknown CDI device amd.com/gpu=7: the amd.com/gpu spec ({}) defines 0, 1, all; \
             failed to load, and may be what is missing: {} (malformed CDI spec: key must be a \
             string at line 1 column 3)",
            dirs.run.join("amd.json").display(),
            garbage.display(),
        )
    );

    let err = registry.resolve(&q("intel.com/gpu=0")).unwrap_err();
    let ResolveError::NoSpec { ref failed, .. } = err else {
        panic!("{err:?}");
    };
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, garbage);
    assert!(
        err.to_string().starts_with(&format!(
            "no CDI spec for intel.com/gpu in {}, {}; failed to load, and may be what is \
             missing: {} (",
            dirs.etc.display(),
            dirs.run.display(),
            garbage.display()
        )),
        "{err}"
    );

    let none: [&str; 0] = [];
    let empty = Registry::load(&none);
    assert_eq!(
        empty
            .resolve(&q("nvidia.com/gpu=0"))
            .unwrap_err()
            .to_string(),
        "no CDI spec for nvidia.com/gpu: no spec directories to look in"
    );
}

/// Whether `path` can still be opened after its permissions were removed:
/// when the tests run as root, or on a file system that ignores modes.
fn still_readable(path: &Path) -> bool {
    if path.is_dir() {
        fs::read_dir(path).is_ok()
    } else {
        fs::File::open(path).is_ok()
    }
}

#[test]
fn unreadable_files_and_dirs_are_errors() {
    let dirs = Dirs::new();
    let secret = dirs.etc.join("nvidia.json");
    fs::write(&secret, fixture("good/nvidia-ctk.json")).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    let locked = dirs.run.join("locked");
    fs::create_dir(&locked).unwrap();
    fs::write(locked.join("amd.json"), fixture("good/amd-gpu.json")).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();

    let registry = Registry::load(&[&dirs.etc, &dirs.run, &locked]);
    let file_readable = still_readable(&secret);
    let dir_readable = still_readable(&locked);
    // Restore the modes so that the temporary directory can be removed.
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).unwrap();

    if file_readable {
        eprintln!("running as root or similar: an unreadable file cannot be made; skipped");
    } else {
        let (path, err) = &registry.errors()[0];
        assert_eq!(path, &secret);
        let Error::Io { source, .. } = err else {
            panic!("{err:?}");
        };
        assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied);
        let err = registry.resolve(&q("nvidia.com/gpu=0")).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!(
                "failed to load, and may be what is missing: {} (cannot read {}: ",
                secret.display(),
                secret.display()
            )),
            "{message}"
        );
        assert!(message.contains("ermission denied"), "{message}");
    }
    if dir_readable {
        eprintln!("running as root or similar: an unreadable directory cannot be made; skipped");
    } else {
        let (path, err) = registry.errors().last().unwrap();
        assert_eq!(path, &locked);
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        let err = registry.resolve(&q("amd.com/gpu=0")).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("{} (cannot read", locked.display())),
            "{err}"
        );
    }
    let expected_errors = usize::from(!file_readable) + usize::from(!dir_readable);
    assert_eq!(
        registry.errors().len(),
        expected_errors,
        "{:?}",
        registry.errors()
    );
}

#[test]
fn missing_dirs_are_skipped() {
    let dirs = Dirs::new();
    fs::write(dirs.run.join("amd.json"), fixture("good/amd-gpu.json")).unwrap();
    let registry = Registry::load(&[dirs.etc.join("missing"), dirs.run.clone()]);
    assert!(registry.errors().is_empty());
    assert_eq!(registry.devices().count(), 3);
    assert_eq!(registry.specs()[0].priority(), 1);
}
