//! `mlenv doctor`: each check against what the machine's own tools say (the podman CLI,
//! /etc/subuid, the mode bits of the helpers, df), a dead socket, and NVIDIA CDI specs in a
//! test spec folder (`MLENV_CDI_SPEC_DIRS`) made from a fake driver tree.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::*;
use crate::nvidia_tree::NvidiaTree;

const DRIVER: &str = "550.54.15";
const NEW_DRIVER: &str = "560.35.03";

/// `mlenv doctor ARGS` with podman's spec folders replaced by `spec_dir`, so specs other
/// tests leave where podman reads them do not change what doctor says here.
fn doctor(p: &Project, spec_dir: &Path, args: &[&str]) -> Output {
    p.mlenv()
        .env("MLENV_CDI_SPEC_DIRS", spec_dir)
        .arg("doctor")
        .args(args)
        .output()
        .expect("run mlenv doctor")
}

/// An empty spec folder of the project's own.
fn empty_spec_dir(p: &Project) -> PathBuf {
    let dir = p.root.path().join("cdi");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn podman_format(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_string()
}

fn user_name() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    text(&out.stdout).trim().to_string()
}

/// The user's one range in FILE, read here rather than by mlenv: (start, count).
fn etc_range(file: &str, user: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(file).unwrap();
    let ranges: Vec<(u64, u64)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 3 && f[0] == user).then(|| (f[1].parse().unwrap(), f[2].parse().unwrap()))
        })
        .collect();
    assert_eq!(ranges.len(), 1, "{file}: {text}");
    ranges[0]
}

fn find<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {v:#}"))
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json printed no JSON ({e}):\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

#[test]
fn doctor_passes_on_this_machine_and_agrees_with_podman_and_etc() {
    let p = Project::new("doctor-ok");
    let spec_dir = empty_spec_dir(&p);
    let out = doctor(&p, &spec_dir, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");

    let version = podman_format(&["version", "--format", "{{.Client.Version}}"]);
    assert!(
        err.contains(&format!(
            "✔ podman: podman {version} (rootless) answers at {}",
            socket().display()
        )),
        "{err}"
    );

    let user = user_name();
    for (file, what) in [("/etc/subuid", "UIDs"), ("/etc/subgid", "GIDs")] {
        let (start, count) = etc_range(file, &user);
        let name = file.trim_start_matches("/etc/");
        assert!(
            err.contains(&format!(
                "✔ {name}: {user} has {count} subordinate {what} ({start}-{} in {file})",
                start + count - 1
            )),
            "{err}"
        );
    }
    for helper in ["newuidmap", "newgidmap"] {
        let path = format!("/usr/bin/{helper}");
        let meta = std::fs::metadata(&path).unwrap();
        assert!(
            meta.mode() & 0o4000 != 0 && meta.uid() == 0,
            "{path} is not setuid root here"
        );
        assert!(
            err.contains(&format!("✔ {helper}: {path} (setuid root)")),
            "{err}"
        );
    }
    // The witness: this user can open the device itself.
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .expect("/dev/net/tun opens read-write for the test user");
    assert!(err.contains("✔ /dev/net/tun: opens read-write"), "{err}");

    // No limits configured: cgroup v1 is worth knowing, not a failure.
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        assert!(
            err.contains("ℹ cgroups: cgroup v1") && err.contains("none are configured"),
            "{err}"
        );
    }
    if !Path::new("/proc/driver/nvidia/version").exists() {
        assert!(
            err.contains("ℹ NVIDIA CDI: no NVIDIA GPU on this machine"),
            "{err}"
        );
    }
    if !Path::new("/sys/fs/selinux/enforce").exists() {
        assert!(err.contains("✔ SELinux: not enabled"), "{err}");
    }
    // Warnings (no systemd user manager, no linger here) do not fail it.
    if !Path::new(&std::env::var("XDG_RUNTIME_DIR").unwrap())
        .join("systemd/private")
        .exists()
    {
        assert!(
            err.contains("⚠ systemd user manager: none runs") && err.contains("  fix: "),
            "{err}"
        );
    }
    assert!(err.contains("✔ Nothing blocks `mlenv up`"), "{err}");
    assert!(!err.contains('✖'), "{err}");

    // Doctor writes nothing into the project.
    assert_eq!(std::fs::read_dir(&p.dir).unwrap().count(), 0);
}

#[test]
fn doctor_json_reports_what_podman_info_and_df_say() {
    let p = Project::new("doctor-json");
    let spec_dir = empty_spec_dir(&p);
    let out = doctor(&p, &spec_dir, &["--json", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["ok"], true, "{v:#}");
    let err = text(&out.stderr);
    assert!(
        !err.contains('✔'),
        "--quiet --json prints no ✔ lines: {err}"
    );

    let driver = podman_format(&["info", "--format", "{{.Store.GraphDriverName}}"]);
    let storage = find(&v, "storage driver");
    assert_eq!(storage["facts"]["driver"], driver.as_str(), "{v:#}");
    assert_eq!(
        storage["level"],
        if driver == "vfs" { "warn" } else { "ok" }
    );

    let podman_check = find(&v, "podman");
    assert_eq!(podman_check["level"], "ok");
    assert_eq!(
        podman_check["facts"]["version"],
        podman_format(&["version", "--format", "{{.Client.Version}}"]).as_str()
    );

    // The rootless network program as podman itself reports it: pasta from podman 5,
    // slirp4netns before (podman 4 has no RootlessNetworkCmd).
    let network = find(&v, "network");
    let major: u32 = podman_format(&["version", "--format", "{{.Client.Version}}"])
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (program, executable) = if major >= 5 {
        let cmd = podman_format(&["info", "--format", "{{.Host.RootlessNetworkCmd}}"]);
        let exe = match cmd.as_str() {
            "pasta" => podman_format(&["info", "--format", "{{.Host.Pasta.Executable}}"]),
            _ => podman_format(&["info", "--format", "{{.Host.Slirp4NetNS.Executable}}"]),
        };
        (cmd, exe)
    } else {
        let exe = podman_format(&["info", "--format", "{{.Host.Slirp4NetNS.Executable}}"]);
        ("slirp4netns".to_string(), exe)
    };
    assert_eq!(network["facts"]["program"], program.as_str(), "{network}");
    assert_eq!(
        network["facts"]["executable"],
        executable.as_str(),
        "{network}"
    );
    assert_eq!(network["level"], "ok", "{network}");
    if program == "pasta" {
        assert!(
            network["message"]
                .as_str()
                .unwrap()
                .contains("host.containers.internal"),
            "{network}"
        );
    }
    // Podman 5 on this cgroup-v1 machine: the deprecation, said once, here.
    let cgroup = podman_format(&["info", "--format", "{{.Host.CgroupsVersion}}"]);
    let deprecated = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "cgroup v1");
    assert_eq!(deprecated, major >= 5 && cgroup == "v1", "{v:#}");

    let graph_root = podman_format(&["info", "--format", "{{.Store.GraphRoot}}"]);
    let space = find(&v, "free space");
    assert_eq!(space["facts"]["graph_root"], graph_root.as_str());
    let df = Command::new("df")
        .args(["-B1", "--output=avail", &graph_root])
        .output()
        .unwrap();
    let df: u64 = text(&df.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let reported = space["facts"]["available_bytes"].as_u64().unwrap();
    // Other tests write to the same disk meanwhile.
    assert!(
        reported.abs_diff(df) < 2 << 30,
        "doctor says {reported} bytes free, df says {df}"
    );

    let (_, count) = etc_range("/etc/subuid", &user_name());
    assert_eq!(find(&v, "subuid")["facts"]["total"], count);
    for c in v["checks"].as_array().unwrap() {
        assert!(
            ["ok", "info", "warn", "fail"].contains(&c["level"].as_str().unwrap()),
            "{c}"
        );
        assert!(c["message"].as_str().is_some_and(|m| !m.is_empty()), "{c}");
    }
}

#[test]
fn doctor_without_the_service_fails_with_the_fix_and_still_checks_the_rest() {
    let p = Project::new("doctor-dead");
    let spec_dir = empty_spec_dir(&p);
    let missing = p.root.path().join("nonexistent.sock");
    let host = format!("unix://{}", missing.display());
    let out = doctor(&p, &spec_dir, &["--host", &host]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "✖ podman: no answer from the podman API at {}",
            missing.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "  fix: mlenv service start   (no systemd user manager here: it runs podman system service --time=0 unix://{} in the background",
            missing.display()
        )),
        "{err}"
    );
    assert!(err.contains("ℹ storage driver: not checked"), "{err}");
    assert!(
        err.contains("✔ subuid:"),
        "the other checks still run: {err}"
    );
    assert!(err.contains("✖ 1 problem would block `mlenv up`"), "{err}");

    // A socket file nobody listens on, through CONTAINER_HOST, as JSON. The witness: a
    // connection to it is refused.
    let dead = p.root.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    assert!(std::os::unix::net::UnixStream::connect(&dead).is_err());
    let out = p
        .mlenv()
        .env("MLENV_CDI_SPEC_DIRS", &spec_dir)
        .env("CONTAINER_HOST", format!("unix://{}", dead.display()))
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["ok"], false);
    let c = find(&v, "podman");
    assert_eq!(c["level"], "fail");
    assert!(c["message"].as_str().unwrap().contains("refused"), "{c:#}");
    assert!(c["fix"].as_str().unwrap().contains("podman system service"));
    assert_eq!(find(&v, "free space")["level"], "info");
}

/// A fake driver tree whose device nodes are real host devices.
fn tree(p: &Project) -> NvidiaTree {
    NvidiaTree::new(&p.root.path().join("host"), 1, DRIVER)
        .with_host_nodes(&["/dev/zero"], "/dev/full")
}

#[test]
fn doctor_names_a_stale_or_unreadable_nvidia_spec_and_its_fix() {
    let p = Project::new("doctor-cdi");
    let dir = empty_spec_dir(&p);
    let spec = dir.join("nvidia.yaml");
    let mut t = tree(&p);
    p.ok(&[
        "gpu",
        "setup",
        "--root",
        t.root().to_str().unwrap(),
        "--output",
        spec.to_str().unwrap(),
    ]);

    let out = doctor(&p, &dir, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "✔ NVIDIA CDI: {} (cdiVersion 0.5.0) is current: devices nvidia.com/gpu=0",
            spec.display()
        )),
        "{err}"
    );

    // After a driver upgrade the spec names the old library, which is gone.
    let old_lib = t.lib("libcuda");
    t.upgrade(NEW_DRIVER);
    assert!(!old_lib.exists());
    let written = std::fs::read_to_string(&spec).unwrap();
    assert!(written.contains(old_lib.to_str().unwrap()));

    // mlenv's own spec in a folder it may write: `up` regenerates it, so only a warning.
    let out = doctor(&p, &dir, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("⚠ NVIDIA CDI: {} cannot be used:", spec.display()))
            && err.contains(&format!("{} (mounted at", old_lib.display()))
            && err.contains("`up` regenerates it"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&spec).unwrap(),
        written,
        "doctor changed the spec"
    );

    // Where mlenv may not write, `up` would fail: so does doctor, with the fix.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let out = doctor(&p, &dir, &[]);
    let up = up_gpu0_with_specs_in(&p, &dir);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("✖ NVIDIA CDI: {} cannot be used:", spec.display()))
            && err.contains("`up` would fail"),
        "{err}"
    );
    assert!(
        err.contains("  fix: mlenv gpu setup (it prints the sudo command"),
        "{err}"
    );
    assert!(!up.status.success(), "up started with the stale spec");
    let name = p.name();
    assert!(!exists(&name), "up created {name}");

    // A stale spec mlenv did not write: nvidia-ctk's fix.
    let foreign: String = written
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&spec, foreign).unwrap();
    let out = doctor(&p, &dir, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "  fix: sudo nvidia-ctk cdi generate --output={}",
            spec.display()
        )),
        "{err}"
    );

    // Unreadable: the witness is this user's own read failing.
    std::fs::set_permissions(&spec, std::fs::Permissions::from_mode(0o000)).unwrap();
    let denied = std::fs::read(&spec).unwrap_err().kind();
    let out = doctor(&p, &dir, &["--json"]);
    std::fs::set_permissions(&spec, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(denied, std::io::ErrorKind::PermissionDenied);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v = json(&out);
    let c = find(&v, "NVIDIA CDI");
    assert_eq!(c["level"], "fail", "{c:#}");
    assert!(
        c["message"].as_str().unwrap().contains("ermission denied"),
        "{c:#}"
    );
    assert_eq!(
        c["fix"].as_str().unwrap(),
        format!(
            "sudo chmod a+r {} (rootless podman reads specs as you)",
            spec.display()
        )
    );
}

/// Limits configured in mlenv.toml need cgroup v2 with cpu and memory delegated; doctor
/// reads the project's config, and on this machine's kind of cgroups says whether `up`'s
/// limits would be honoured.
#[test]
fn doctor_checks_cgroups_for_limits_configured_in_mlenv_toml() {
    let p = Project::new("doctor-limits");
    let spec_dir = empty_spec_dir(&p);
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let without = json(&doctor(&p, &spec_dir, &["--json"]));
    let level = find(&without, "cgroups")["level"].clone();
    assert_ne!(level, "fail", "no limits configured, yet: {without:#}");

    std::fs::write(p.dir.join("mlenv.toml"), "memory = \"1g\"\n").unwrap();
    let out = doctor(&p, &spec_dir, &["--json"]);
    let with = json(&out);
    let check = find(&with, "cgroups");
    if v2 {
        // Delegation decides: what the user's cgroup offers, read here independently.
        let uid = nix_uid();
        let delegated = std::fs::read_to_string(format!(
            "/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service/cgroup.controllers"
        ))
        .unwrap_or_default();
        let ok = ["cpu", "memory"]
            .iter()
            .all(|c| delegated.split_whitespace().any(|d| d == *c));
        if ok {
            assert_eq!(check["level"], "ok", "{check:#}");
        }
    } else {
        // cgroup v1 (or hybrid): rootless limits are ignored, so `up` would not do what the
        // file asks.
        assert_eq!(check["level"], "fail", "{check:#}");
        assert!(
            check["fix"].as_str().unwrap_or("").contains("Delegate="),
            "{check:#}"
        );
        assert_eq!(with["ok"], false);
        assert_eq!(out.status.code(), Some(1));
    }
}

/// GPUs named in mlenv.toml must be ones podman can attach: the made-up test vendor's device
/// resolves, an unknown one of the same vendor does not.
#[test]
fn doctor_checks_the_gpus_configured_in_mlenv_toml() {
    let p = Project::new("doctor-gpus");
    // /etc/cdi holds the test vendor's spec (tests/setup-host.sh); other tests write only
    // to /var/run/cdi.
    let etc_cdi = Path::new("/etc/cdi");
    std::fs::write(
        p.dir.join("mlenv.toml"),
        format!("gpus = [\"{TEST_CDI_DEVICE}\"]\n"),
    )
    .unwrap();
    let out = doctor(&p, etc_cdi, &["--json"]);
    let v = json(&out);
    assert_eq!(find(&v, "GPUs")["level"], "ok", "{v:#}");

    std::fs::write(
        p.dir.join("mlenv.toml"),
        "gpus = [\"mlenv.test/dev=nope\"]\n",
    )
    .unwrap();
    let out = doctor(&p, etc_cdi, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("✖ GPUs") && l.contains("mlenv.test/dev=nope")),
        "{stderr}"
    );
    // And `up` agrees: the same config is refused, nothing created.
    let out = p.run(&["up", "--image", BUSYBOX]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!exists(&p.name()));
}

fn nix_uid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    text(&out.stdout).trim().parse().unwrap()
}

/// A FUSE mount (fuse-overlayfs, as the test user) stands in for a network filesystem: a
/// project there works, but doctor says its free space does not show the quota; podman's own
/// storage is named with its filesystem.
#[test]
fn doctor_names_the_filesystems_and_warns_of_a_project_on_fuse() {
    let p = Project::new("doctor-fs");
    let base = p.root.path().join("fuse");
    for d in ["lower", "upper", "work", "mnt"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    let mounted = std::process::Command::new("fuse-overlayfs")
        .arg("-o")
        .arg(format!(
            "lowerdir={},upperdir={},workdir={}",
            base.join("lower").display(),
            base.join("upper").display(),
            base.join("work").display()
        ))
        .arg(base.join("mnt"))
        .status()
        .unwrap();
    assert!(mounted.success(), "fuse-overlayfs did not mount");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("fusermount3")
                .arg("-u")
                .arg(&self.0)
                .status();
        }
    }
    let _unmount = Unmount(base.join("mnt"));
    let project = base.join("mnt/proj on fuse");
    std::fs::create_dir_all(&project).unwrap();

    let out = p
        .mlenv()
        .args(["--project", project.to_str().unwrap(), "doctor", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fs = find(&v, "filesystems");
    assert_eq!(fs["level"], "warn", "{fs:#}");
    let message = fs["message"].as_str().unwrap();
    assert!(
        message.contains("a FUSE filesystem works for the project, but free space there does not show your quota"),
        "{message}"
    );
    // The witness: podman's own idea of its storage, and statfs's of its filesystem.
    let graph = podman_format(&["info", "--format", "{{.Store.GraphRoot}}"]);
    assert_eq!(fs["facts"]["graph_root"], graph.as_str(), "{fs:#}");
    let stat = std::process::Command::new("stat")
        .args(["-f", "-c", "%T", &graph])
        .output()
        .unwrap();
    let kind = text(&stat.stdout).trim().to_string();
    if kind == "ext2/ext3" {
        assert_eq!(fs["facts"]["graph_fs"], "ext4", "{fs:#}");
    }

    // The folders on the way to the storage, as the filesystem has their modes: the first
    // one other users may not enter is named (keep-id's root is another user).
    let canonical = std::fs::canonicalize(&graph).unwrap();
    let mut ancestors: Vec<&Path> = canonical.ancestors().collect();
    ancestors.reverse();
    let closed = ancestors
        .into_iter()
        .find(|a| std::fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 == 0));
    let modes = find(&v, "storage path");
    match closed {
        Some(folder) => {
            assert_eq!(modes["level"], "info", "{modes:#}");
            assert_eq!(
                modes["facts"]["blocked"],
                folder.to_str().unwrap(),
                "{modes:#}"
            );
            assert!(
                modes["fix"].as_str().unwrap().contains("graphroot = "),
                "{modes:#}"
            );
        }
        None => assert_eq!(modes["level"], "ok", "{modes:#}"),
    }
}
