//! Shared helpers: a throwaway project folder, the mlenv binary with a clean environment,
//! and the podman CLI as the independent witness.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
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
    let run = || {
        Command::new("podman")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run podman")
    };
    let out = run();
    // runc can fail to start an exec's process on a loaded machine ("waiting for init
    // preliminary setup: read init-p: connection reset by peer": its init was gone before
    // it reported). That is the witness failing, not what it checks: one more try, said.
    if args.first() == Some(&"exec")
        && !out.status.success()
        && text(&out.stderr).contains("read init-p: connection reset by peer")
    {
        eprintln!("harness: podman {args:?} hit runc's init-p reset; trying once more");
        return run();
    }
    out
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

/// The version of the podman under test, `(major, minor)`, from the podman CLI that runs
/// beside the service (the same installation). `tests/it` picks the podman with
/// `MLENV_TEST_PODMAN` (4: the host's 4.3.1; 5: the rootfs of tests/setup-podman5.sh): when
/// that is set, the two must agree, so that a test never adapts to the wrong podman.
pub fn podman_version() -> (u32, u32) {
    static VERSION: OnceLock<(u32, u32)> = OnceLock::new();
    *VERSION.get_or_init(|| {
        let out = podman(&["version", "--format", "{{.Client.Version}}"]);
        let v = text(&out.stdout);
        assert!(
            out.status.success(),
            "podman version: {}",
            text(&out.stderr)
        );
        let mut parts = v.trim().split('.').map(|n| n.parse::<u32>().ok());
        let (Some(Some(major)), Some(Some(minor))) = (parts.next(), parts.next()) else {
            panic!("cannot read the podman version from {v:?}");
        };
        if let Ok(want) = std::env::var("MLENV_TEST_PODMAN") {
            assert_eq!(
                want.parse::<u32>().ok(),
                Some(major),
                "MLENV_TEST_PODMAN={want}, but the podman here is {}",
                v.trim()
            );
        }
        (major, minor)
    })
}

/// The major version of the podman under test (see [`podman_version`]).
pub fn podman_major() -> u32 {
    podman_version().0
}

/// True when the podman under test has major version `major`, after saying on stderr why
/// the test does not apply there: the test then returns, having checked nothing.
pub fn skip_on_podman(major: u32, why: &str) -> bool {
    let skip = podman_major() == major;
    if skip {
        eprintln!("skipped on podman {major}: {why}");
    }
    skip
}

/// Whether `up` writes a quadlet file (podman 4.4 and later) rather than a `.service`.
pub fn quadlet_podman() -> bool {
    podman_version() >= (4, 4)
}

/// The autostart unit file `up` writes for container `name` under the project's own
/// XDG_CONFIG_HOME: [`service_unit`] before podman 4.4, [`quadlet_unit`] from 4.4.
pub fn unit_file(p: &Project, name: &str) -> PathBuf {
    if quadlet_podman() {
        quadlet_unit(p, name)
    } else {
        service_unit(p, name)
    }
}

/// Whether that unit is enabled, as mlenv enables one without a user manager: the
/// `default.target.wants` link of a `.service`; the `[Install]` section of a quadlet file
/// (whose generated unit cannot be linked), with no link.
pub fn unit_enabled(p: &Project, name: &str) -> bool {
    if quadlet_podman() {
        let text = std::fs::read_to_string(quadlet_unit(p, name)).unwrap_or_default();
        text.contains("\n[Install]\nWantedBy=default.target") && !wants_link(p, name).exists()
    } else {
        wants_link(p, name).exists()
    }
}

/// The quadlet file `up` writes for container `name` (podman 4.4 and later).
pub fn quadlet_unit(p: &Project, name: &str) -> PathBuf {
    p.root
        .path()
        .join(format!("config/containers/systemd/{name}.container"))
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

// ---------------------------------------------------------------------------------------
// Helpers several test files use (they import them from here, never from each other)
// ---------------------------------------------------------------------------------------

/// `podman ARGS`, asserting success; returns stdout.
pub fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Names of the containers labelled as belonging to `dir`, per the podman CLI. Filtered
/// here rather than with `--filter label=...`, which the CLI parses as CSV (commas, quotes).
pub fn containers_for(dir: &Path) -> Vec<String> {
    let json = podman_ok(&["ps", "-a", "--format", "json"]);
    let all: serde_json::Value = serde_json::from_str(&json).unwrap();
    let dir = dir.to_str().unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["Labels"]["io.mlenv.project"] == dir)
        .map(|c| c["Names"][0].as_str().unwrap().to_string())
        .collect()
}

/// A string no other test and no earlier run uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{:x}{:x}", nanos, std::process::id())
}

/// mlenv's exit code, with the output in the panic message when it was killed by a signal.
pub fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or_else(|| {
        panic!(
            "mlenv died from a signal: {}\nstderr: {}",
            out.status,
            text(&out.stderr)
        )
    })
}

/// `(HostIp, HostPort)` pairs podman forwards to container port `cport`/tcp.
pub fn forwarded(name: &str, cport: u16) -> Vec<(String, String)> {
    let c = inspect(name);
    c["NetworkSettings"]["Ports"][format!("{cport}/tcp")]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|b| {
                    (
                        b["HostIp"].as_str().unwrap_or("").to_string(),
                        b["HostPort"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The settings mlenv recorded on the container, read through `podman inspect`.
pub fn settings_label(name: &str) -> serde_json::Value {
    let c = inspect(name);
    let raw = c["Config"]["Labels"]["io.mlenv.settings"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} has no io.mlenv.settings label"));
    serde_json::from_str(raw).unwrap()
}

/// One HTTP/1.0 GET; `None` when the connection fails or says nothing.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    (!body.is_empty()).then_some(body)
}

/// Whether /sys/fs/cgroup is the unified (v2) hierarchy, as podman checks it.
pub fn cgroup_v2() -> bool {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 2 && f[1] == "/sys/fs/cgroup" && f[2] == "cgroup2"
        })
}

/// Writes wheels `(name, version, extra modules)` into `dir`.
pub fn wheels(dir: &Path, specs: &[(&str, &str, usize)]) {
    let json = serde_json::to_string(
        &specs
            .iter()
            .map(|(n, v, k)| serde_json::json!([n, v, k]))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(WHEEL_PY)
        .arg(dir)
        .arg(json)
        .output()
        .expect("run /usr/bin/python3");
    assert!(
        out.status.success(),
        "building wheels failed: {}",
        text(&out.stderr)
    );
}

/// Builds `NAME-VER-py3-none-any.whl` files: `NAME/__init__.py` with `VERSION`, a console
/// script `NAME-tool` printing `tool VERSION`, and `NFILES` more modules (to make pip slow
/// enough to catch in the act).
const WHEEL_PY: &str = r#"
import json, os, sys, zipfile
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, ver, nfiles in json.loads(sys.argv[2]):
    info = f"{name}-{ver}.dist-info"
    files = {f"{name}/__init__.py": f'VERSION = "{ver}"\ndef main():\n    print("tool", VERSION)\n'}
    for i in range(nfiles):
        files[f"{name}/m{i}.py"] = "x = 1\n"
    files[f"{info}/entry_points.txt"] = f"[console_scripts]\n{name}-tool = {name}:main\n"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: mlenv-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{p},,\n" for p in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(os.path.join(out, f"{name}-{ver}-py3-none-any.whl"), "w") as z:
        for p, b in files.items():
            z.writestr(p, b)
        z.writestr(f"{info}/RECORD", record)
"#;

/// Waits for `child` (stdout and stderr piped) at most `timeout`, reading both streams;
/// kills it and panics with what it printed when it takes longer.
pub fn finish_within(mut child: Child, timeout: Duration, what: &str) -> Output {
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut v);
        }
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut v);
        }
        v
    });
    let end = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = out_t.join().unwrap();
            let stderr = err_t.join().unwrap();
            panic!(
                "{what} did not finish within {timeout:?}:\nstdout: {}\nstderr: {}",
                tail(&stdout),
                text(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// The last 2000 bytes of an output, as text: enough to see why, short enough to read.
pub fn tail(b: &[u8]) -> String {
    text(&b[b.len().saturating_sub(2000)..])
}

/// `mlenv up --image BUSYBOX --gpu 0` with podman's CDI spec dirs pointed at `dir`
/// (`MLENV_CDI_SPEC_DIRS`), for the GPU tests whose specs live in a test folder.
pub fn up_gpu0_with_specs_in(p: &Project, dir: &Path) -> Output {
    p.mlenv()
        .env("MLENV_CDI_SPEC_DIRS", dir)
        .args(["up", "--image", BUSYBOX, "--gpu", "0"])
        .output()
        .unwrap()
}
