//! Shared helpers: a throwaway project folder, the mlenv binary with a clean environment,
//! and the podman CLI as the independent witness.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The busybox test image (`tests/setup-host.sh` builds it offline).
pub const BUSYBOX: &str = "localhost/mlenv-test/busybox:latest";
/// The Debian image with python3, pip, bash and procps.
pub const PYTHON: &str = "localhost/mlenv-test/python:latest";
/// The made-up CDI vendor spec installed as /etc/cdi/mlenv-test.json.
pub const TEST_CDI_DEVICE: &str = "mlenv.test/dev=zero";

/// The mlenv binary: `MLENV_BIN` when the runner copied it somewhere the test user can
/// read, else cargo's own.
pub fn mlenv_bin() -> PathBuf {
    std::env::var_os("MLENV_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mlenv")))
}

/// The user's rootless API socket, which must answer: these tests never skip themselves.
pub fn socket() -> PathBuf {
    let dir = std::env::var("XDG_RUNTIME_DIR").expect(
        "XDG_RUNTIME_DIR is not set: run the integration tests through tests/run as the test user",
    );
    let sock = Path::new(&dir).join("podman/podman.sock");
    assert!(
        sock.exists(),
        "no podman API socket at {}: run tests/setup-host.sh (as root) first",
        sock.display()
    );
    sock
}

/// A project folder of its own, with its own mlenv state dir; removes its container on drop.
pub struct Project {
    pub root: tempfile::TempDir,
    pub dir: PathBuf,
    pub state: PathBuf,
}

impl Project {
    /// A project in a folder named `name` (any characters) inside a fresh temp dir.
    pub fn new(name: &str) -> Project {
        socket();
        let root = tempfile::Builder::new()
            .prefix("mlenv-it-")
            .tempdir()
            .expect("temp dir");
        let dir = root.path().join(name);
        std::fs::create_dir_all(&dir).expect("project dir");
        let dir = std::fs::canonicalize(&dir).unwrap();
        let state = root.path().join("state");
        Project { root, dir, state }
    }

    /// `mlenv ARGS` in the project folder with a clean environment.
    pub fn mlenv(&self) -> Command {
        let mut cmd = Command::new(mlenv_bin());
        cmd.current_dir(&self.dir)
            .env_clear()
            .env(
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
            )
            .env(
                "HOME",
                std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()),
            )
            .env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap())
            .env("XDG_STATE_HOME", &self.state)
            .env("XDG_DATA_HOME", self.root.path().join("data"))
            .env("XDG_CACHE_HOME", self.root.path().join("cache"))
            .env("XDG_CONFIG_HOME", self.root.path().join("config"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `mlenv ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.mlenv().args(args).output().expect("run mlenv")
    }

    /// Runs `mlenv ARGS`, asserting success.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mlenv {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    /// `mlenv up --image BUSYBOX EXTRA...`, asserting success.
    pub fn up(&self, extra: &[&str]) -> Output {
        let mut args = vec!["up", "--image", BUSYBOX];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    /// The container name mlenv uses, read from `status --json`.
    pub fn name(&self) -> String {
        let out = self.ok(&["status", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status json");
        v["name"].as_str().unwrap().to_string()
    }

    /// `podman inspect` of this project's container, through the CLI.
    pub fn inspect(&self) -> serde_json::Value {
        inspect(&self.name())
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if let Ok(out) = self.mlenv().args(["status", "--json"]).output() {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
                if let Some(name) = v["name"].as_str() {
                    let _ = podman(&["rm", "-f", "-t", "0", name]);
                }
            }
        }
    }
}

/// The podman CLI, the independent witness.
pub fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run podman")
}

/// `podman inspect NAME` as JSON (the first element), panicking when it fails.
pub fn inspect(name: &str) -> serde_json::Value {
    let out = podman(&["inspect", name]);
    assert!(
        out.status.success(),
        "podman inspect {name}: {}",
        text(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0].clone()
}

/// Whether a container of that name exists, per the podman CLI.
pub fn exists(name: &str) -> bool {
    podman(&["container", "exists", name]).status.success()
}

/// Names of all containers, per the podman CLI.
pub fn all_containers() -> Vec<String> {
    let out = podman(&["ps", "-a", "--format", "{{.Names}}"]);
    text(&out.stdout).lines().map(str::to_string).collect()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// A TCP port that nothing listens on now, for port-forwarding tests.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The `.service` unit `up` writes for container `name` (podman before 4.4), under the
/// project's own XDG_CONFIG_HOME.
pub fn service_unit(p: &Project, name: &str) -> PathBuf {
    p.root
        .path()
        .join(format!("config/systemd/user/{name}.service"))
}

/// The symlink that enables that unit.
pub fn wants_link(p: &Project, name: &str) -> PathBuf {
    p.root.path().join(format!(
        "config/systemd/user/default.target.wants/{name}.service"
    ))
}
