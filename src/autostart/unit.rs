//! The systemd user unit that brings an environment back after a reboot, written from the
//! same create body mlenv sends to the API, so the unit's container is the same container:
//! image, name, keep-id, CDI devices, ports, mounts, limits, workdir and labels (mlenv's
//! settings label included, so `mlenv up` recognises it and sees no drift).
//!
//! Two flavours, by the installed podman's version:
//! * podman 4.4 and later: a quadlet `.container`, using only the keys that version knows
//!   (an unknown key makes quadlet drop the whole unit without a word); the rest go in
//!   `PodmanArgs=`;
//! * before 4.4 (no quadlet): a plain `.service` running `podman run --replace`.
//!
//! Values from the env file never appear here: the unit points at a 0600 copy
//! (`--env-file`), and the copy's keys are left out of `Environment=`.

use std::path::{Path, PathBuf};

use crate::gpu::policy::major_minor;
use crate::podman::CreateBody;

/// Which kind of unit the installed podman gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `~/.config/systemd/user/NAME.service` (podman < 4.4).
    Service,
    /// `~/.config/containers/systemd/NAME.container` (podman >= 4.4).
    Quadlet,
}

impl Flavour {
    pub fn for_podman(version: &str) -> Flavour {
        if major_minor(version).unwrap_or((0, 0)) >= (4, 4) {
            Flavour::Quadlet
        } else {
            Flavour::Service
        }
    }

    /// Where the unit file goes, below `$XDG_CONFIG_HOME`.
    pub fn path(self, config_home: &Path, container: &str) -> PathBuf {
        match self {
            Flavour::Service => config_home
                .join("systemd/user")
                .join(format!("{container}.service")),
            Flavour::Quadlet => config_home
                .join("containers/systemd")
                .join(format!("{container}.container")),
        }
    }
}

/// What goes into a unit besides the create body.
#[derive(Debug, Clone)]
pub struct UnitInput<'a> {
    pub body: &'a CreateBody,
    /// The env file's keys: left to `env_file`, never written as `Environment=`.
    pub env_keys: &'a [String],
    /// The 0600 copy of the env file the unit reads.
    pub env_file: Option<&'a Path>,
    /// Device nodes to wait for at boot (the GPU driver may load after the user manager).
    pub wait_for: &'a [String],
    /// The podman binary the unit runs.
    pub podman_bin: &'a str,
    /// The project folder, for the description.
    pub project_dir: &'a str,
    /// The host runs cgroup v1: podman 5 would fill the unit's journal with its
    /// deprecation warning at every command (`mlenv doctor` says it once instead).
    pub cgroup_v1: bool,
}

/// How long a boot waits for the GPU device nodes before starting anyway (podman then
/// says what is missing). Short enough never to stall a login.
pub const DEVICE_WAIT_SECONDS: u32 = 30;

const HEADER: &str = "\
# Written by mlenv: brings this environment back after a reboot.
# `mlenv down` disables it, `mlenv up` enables it again, `mlenv rm` removes it.
# mlenv rewrites this file; change the environment with `mlenv up --recreate` instead.
";

/// `podman run` arguments (after `run`) for the container the body describes; the image last.
pub fn run_args(input: &UnitInput) -> Vec<String> {
    let b = input.body;
    let mut a: Vec<String> = vec!["--name".into(), b.name.clone()];
    a.push(format!(
        "--entrypoint={}",
        serde_json::to_string(&b.entrypoint).expect("strings serialise")
    ));
    for (k, v) in &b.labels {
        a.push("--label".into());
        a.push(format!("{k}={v}"));
    }
    for (k, v) in env_vars(input) {
        a.push("--env".into());
        a.push(format!("{k}={v}"));
    }
    if let Some(f) = input.env_file {
        a.push(format!("--env-file={}", f.display()));
    }
    a.push(format!("--workdir={}", b.work_dir));
    for m in &b.mounts {
        a.push("--volume".into());
        a.push(volume(m));
    }
    if let Some(ns) = &b.userns {
        a.push(format!("--userns={}", ns.nsmode));
    }
    if let Some(u) = &b.user {
        a.push(format!("--user={u}"));
    }
    if let Some(p) = &b.passwd_entry {
        a.push(format!("--passwd-entry={p}"));
    }
    for d in &b.devices {
        a.push(format!("--device={}", d.path));
    }
    for p in &b.portmappings {
        a.push(format!("--publish={}", publish(p)));
    }
    a.extend(limit_args(b));
    for opt in &b.selinux_opts {
        a.push(format!("--security-opt=label={opt}"));
    }
    if let Some(ns) = &b.ipcns {
        a.push(format!("--ipc={}", ns.nsmode));
    }
    if let Some(shm) = b.shm_size {
        a.push(format!("--shm-size={shm}"));
    }
    for r in &b.r_limits {
        a.push(format!("--ulimit={}", ulimit(r)));
    }
    if let Some(t) = b.stop_timeout {
        a.push(format!("--stop-timeout={t}"));
    }
    a.push("--pull=never".into());
    a.push(b.image.clone());
    a
}

/// `memlock=-1:-1` from the body's limit, as `--ulimit` and quadlet's `Ulimit=` take it.
fn ulimit(r: &crate::podman::Rlimit) -> String {
    let name = r.kind.trim_start_matches("RLIMIT_").to_ascii_lowercase();
    let n = |v: u64| {
        if v == u64::MAX {
            "-1".to_string()
        } else {
            v.to_string()
        }
    };
    format!("{name}={}:{}", n(r.soft), n(r.hard))
}

fn env_vars<'a>(input: &'a UnitInput) -> impl Iterator<Item = (&'a String, &'a String)> {
    input
        .body
        .env
        .iter()
        .filter(|(k, _)| !input.env_keys.contains(k))
}

fn volume(m: &crate::podman::Mount) -> String {
    let opts: Vec<&str> = m
        .options
        .iter()
        .map(String::as_str)
        .filter(|o| *o != "bind")
        .collect();
    if opts.is_empty() {
        format!("{}:{}", m.source, m.destination)
    } else {
        format!("{}:{}:{}", m.source, m.destination, opts.join(","))
    }
}

fn publish(p: &crate::podman::PortMapping) -> String {
    let ip = if p.host_ip.is_empty() {
        String::new()
    } else {
        format!("{}:", p.host_ip)
    };
    format!(
        "{ip}{}:{}/{}",
        p.host_port,
        p.container_port,
        if p.protocol.is_empty() {
            "tcp"
        } else {
            &p.protocol
        }
    )
}

fn limit_args(b: &CreateBody) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(l) = &b.resource_limits {
        if let Some(m) = &l.memory {
            a.push(format!("--memory={}", m.limit));
        }
        if let Some(c) = &l.cpu {
            a.push(format!("--cpus={}", c.quota as f64 / c.period as f64));
        }
    }
    a
}

/// One word of an `Exec*=` line: quoted when needed, `$` and `%` escaped so systemd passes
/// them through (it expands `${VAR}` and `%x` specifiers otherwise).
pub fn exec_word(s: &str) -> String {
    let escaped = systemd_escape(s);
    let plain = !escaped.is_empty()
        && escaped
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"'\\;".contains(&b));
    if plain {
        escaped
    } else {
        format!(
            "\"{}\"",
            escaped
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        )
    }
}

/// `%` and `$` doubled: systemd reads `%%` and `$$` as themselves in `Exec*=` lines, which
/// is where quadlet copies every value.
fn systemd_escape(s: &str) -> String {
    s.replace('%', "%%").replace('$', "$$")
}

/// How quadlet reads a key (podman's `pkg/systemd/parser`), which decides how a value must
/// be written for podman to get it back byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// `Lookup`/`LookupAll`: the text after `=` as it stands. Nothing is unquoted or
    /// unescaped (a quoted `Volume="/a b:/a b"` reaches podman with its quotes), except
    /// that `Lookup` strips quotes at either end (older podman: all of them) and
    /// trailing blanks. `Image`, `ContainerName`, `Volume`, `PublishPort`, `WorkingDir`,
    /// `Entrypoint`, `UserNS`, `ShmSize`, `StopTimeout`, `Pull`, `Memory`.
    Raw,
    /// `LookupAllArgs`/`LookupAllKeyVal`: split into words like an `Exec*=` line, quotes
    /// removed and C escapes applied. `PodmanArgs`, `Environment`, `Label`,
    /// `EnvironmentFile`.
    Words,
}

/// `value` written for a key quadlet reads as `read`, or None when no spelling of it
/// survives that reading (the caller then passes it as a `PodmanArgs=` word instead).
fn quadlet_value(read: Read, value: &str) -> Option<String> {
    match read {
        Read::Words => Some(exec_word(value)),
        Read::Raw => raw_survives(value).then(|| systemd_escape(value)),
    }
}

/// Whether quadlet's raw reading gives `value` back: the parser drops blanks after `=`,
/// `Lookup` drops blanks and quotes at the end and quotes at the start, a line that ends
/// in a backslash runs on into the next, and a line break cannot be written at all.
fn raw_survives(value: &str) -> bool {
    let edge = |c: char| c.is_whitespace() || c == '"';
    !value.is_empty()
        && !value.starts_with(edge)
        && !value.ends_with(edge)
        && !value.ends_with('\\')
        && !value.chars().any(char::is_control)
}

fn wait_line(input: &UnitInput) -> Option<String> {
    if input.wait_for.is_empty() {
        return None;
    }
    let tests: Vec<String> = input
        .wait_for
        .iter()
        .map(|p| format!("[ -e {} ]", crate::shell::quote(p)))
        .collect();
    let seconds: Vec<String> = (1..=DEVICE_WAIT_SECONDS).map(|i| i.to_string()).collect();
    let script = format!(
        "for i in {}; do {} && exit 0; sleep 1; done; exit 0",
        seconds.join(" "),
        tests.join(" && ")
    );
    Some(format!(
        "# Waits up to {DEVICE_WAIT_SECONDS} s for the GPU device nodes, then starts anyway.\n\
         ExecStartPre=/bin/sh -c {}\n",
        exec_word(&script)
    ))
}

/// Skips the start when the container already runs (a user manager that starts at login
/// while the environment is up must not replace it under the user's feet).
fn condition_line(input: &UnitInput) -> String {
    format!(
        "ExecCondition=/bin/sh -c {}\n",
        exec_word(&format!(
            "! {} container inspect --format {{{{.State.Running}}}} {} 2>/dev/null | grep -qx true",
            input.podman_bin, input.body.name
        ))
    )
}

/// `[Service]` environment of both flavours.
fn service_env(input: &UnitInput) -> &'static str {
    if input.cgroup_v1 {
        "Environment=PODMAN_IGNORE_CGROUPSV1_WARNING=1\n"
    } else {
        ""
    }
}

fn description(input: &UnitInput) -> String {
    format!(
        "Description=mlenv environment {} for {}\n",
        input.body.name,
        input.project_dir.replace('%', "%%")
    )
}

/// The `.service` of podman before 4.4.
pub fn service_unit(input: &UnitInput, enabled: bool) -> String {
    let mut exec = vec![
        input.podman_bin.to_string(),
        "run".into(),
        "--detach".into(),
        "--replace".into(),
        format!("--restart={}", input.body.restart_policy),
    ];
    exec.extend(run_args(input));
    let exec: Vec<String> = exec.iter().map(|w| exec_word(w)).collect();
    let mut u = String::from(HEADER);
    u.push_str("[Unit]\n");
    u.push_str(&description(input));
    u.push_str(
        "# No wait for network-online: the image is local (--pull=never), and in a user\n\
         # session that target stalls boot (podman#22197).\n",
    );
    u.push_str("\n[Service]\nType=oneshot\nRemainAfterExit=yes\n");
    u.push_str(service_env(input));
    u.push_str(&condition_line(input));
    if let Some(w) = wait_line(input) {
        u.push_str(&w);
    }
    u.push_str(&format!("ExecStart={}\n", exec.join(" ")));
    u.push_str(&format!(
        "ExecStop={} stop --ignore --time=10 {}\n",
        input.podman_bin, input.body.name
    ));
    u.push_str("TimeoutStartSec=300\n");
    if enabled {
        u.push_str("\n[Install]\nWantedBy=default.target\n");
    }
    u
}

/// The `[Container]` lines of a quadlet file, each value spelt for the way quadlet reads
/// its key; a value its key cannot carry goes to `PodmanArgs=` as a flag instead.
#[derive(Default)]
struct Keys {
    text: String,
    /// `podman run` flags for `PodmanArgs=`, in order.
    args: Vec<String>,
}

impl Keys {
    /// A key quadlet reads raw; `flag` is the `podman run` flag that carries it otherwise.
    fn raw(&mut self, key: &str, value: &str, flag: &str) {
        match quadlet_value(Read::Raw, value) {
            Some(v) => self.line(key, &v),
            None => self.args.push(format!("{flag}={value}")),
        }
    }

    /// A key quadlet splits into words (`Environment=`, `Label=`, `EnvironmentFile=`).
    fn words(&mut self, key: &str, value: &str) {
        let v = quadlet_value(Read::Words, value).expect("any value can be quoted");
        self.line(key, &v);
    }

    fn line(&mut self, key: &str, value: &str) {
        self.text.push_str(&format!("{key}={value}\n"));
    }

    /// The lines, `PodmanArgs=` last.
    fn finish(mut self) -> String {
        for a in std::mem::take(&mut self.args) {
            self.words("PodmanArgs", &a);
        }
        self.text
    }
}

/// The quadlet `.container` of podman 4.4 and later, with keys gated by `version`.
pub fn quadlet_unit(input: &UnitInput, version: &str, enabled: bool) -> String {
    let v = major_minor(version).unwrap_or((4, 4));
    let b = input.body;
    let mut c = Keys::default();
    // Both are mlenv's own checked names: nothing in them needs spelling out.
    c.line("Image", &b.image);
    c.line("ContainerName", &b.name);
    if v >= (4, 6) {
        c.raw("Pull", "never", "--pull");
    } else {
        c.args.push("--pull=never".into());
    }
    for d in &b.devices {
        c.raw("AddDevice", &d.path, "--device");
    }
    for p in &b.portmappings {
        c.raw("PublishPort", &publish(p), "--publish");
    }
    for (k, val) in env_vars(input) {
        c.words("Environment", &format!("{k}={val}"));
    }
    if let Some(f) = input.env_file {
        c.words("EnvironmentFile", &f.display().to_string());
    }
    for m in &b.mounts {
        c.raw("Volume", &volume(m), "--volume");
    }
    for (k, val) in &b.labels {
        c.words("Label", &format!("{k}={val}"));
    }
    if let Some(ns) = &b.userns {
        if v >= (4, 5) {
            c.raw("UserNS", &ns.nsmode, "--userns");
        } else {
            c.raw("RemapUsers", &ns.nsmode, "--userns");
        }
    }
    if let Some(u) = &b.user {
        c.args.push(format!("--user={u}"));
    }
    // No quadlet key for it in any version.
    if let Some(p) = &b.passwd_entry {
        c.args.push(format!("--passwd-entry={p}"));
    }
    if !b.selinux_opts.is_empty() {
        if v >= (4, 5) && b.selinux_opts.iter().all(|o| o == "disable") {
            c.raw(
                "SecurityLabelDisable",
                "true",
                "--security-opt=label=disable",
            );
        } else {
            c.args.extend(
                b.selinux_opts
                    .iter()
                    .map(|o| format!("--security-opt=label={o}")),
            );
        }
    }
    if v >= (4, 6) {
        c.raw("WorkingDir", &b.work_dir, "--workdir");
    } else {
        c.args.push(format!("--workdir={}", b.work_dir));
    }
    if let Some(shm) = b.shm_size {
        if v >= (4, 7) {
            c.raw("ShmSize", &shm.to_string(), "--shm-size");
        } else {
            c.args.push(format!("--shm-size={shm}"));
        }
    }
    // Quadlet has no key for the IPC namespace in any version mlenv supports.
    if let Some(ns) = &b.ipcns {
        c.args.push(format!("--ipc={}", ns.nsmode));
    }
    for r in &b.r_limits {
        if v >= (4, 7) {
            c.raw("Ulimit", &ulimit(r), "--ulimit");
        } else {
            c.args.push(format!("--ulimit={}", ulimit(r)));
        }
    }
    // JSON, so that podman takes it as the exec form; written raw, since quadlet passes
    // `Entrypoint=` on as it stands (quoted, it reached podman with its backslashes).
    let entrypoint = serde_json::to_string(&b.entrypoint).expect("strings serialise");
    if v >= (5, 0) {
        c.raw("Entrypoint", &entrypoint, "--entrypoint");
    } else {
        c.args.push(format!("--entrypoint={entrypoint}"));
    }
    if let Some(t) = b.stop_timeout {
        if v >= (5, 0) {
            c.raw("StopTimeout", &t.to_string(), "--stop-timeout");
        } else {
            c.args.push(format!("--stop-timeout={t}"));
        }
    }
    let mut limits = limit_args(b);
    if v >= (5, 5) {
        if let Some(pos) = limits.iter().position(|l| l.starts_with("--memory=")) {
            let m = limits.remove(pos);
            c.raw("Memory", m.trim_start_matches("--memory="), "--memory");
        }
    }
    c.args.extend(limits);
    let c = c.finish();

    let mut u = String::from(HEADER);
    u.push_str("[Unit]\n");
    u.push_str(&description(input));
    u.push_str(
        "# A start that keeps failing gives up after five tries (`mlenv status` names it);\n\
         # the environment's settings are kept by mlenv, so `mlenv up` brings it back.\n\
         StartLimitIntervalSec=300\nStartLimitBurst=5\n",
    );
    u.push_str("\n[Container]\n");
    u.push_str(&c);
    u.push_str("\n[Service]\n");
    u.push_str(service_env(input));
    u.push_str(&condition_line(input));
    if let Some(w) = wait_line(input) {
        u.push_str(&w);
    }
    u.push_str("TimeoutStartSec=300\nRestart=on-failure\nRestartSec=10\n");
    if v >= (5, 4) {
        u.push_str(
            "\n[Quadlet]\n\
             # No wait for network-online (podman#24588): the image is local, and a start\n\
             # that fails early is retried.\n\
             DefaultDependencies=false\n",
        );
    }
    if enabled {
        u.push_str("\n[Install]\nWantedBy=default.target\n");
    }
    u
}

#[cfg(test)]
#[path = "../../tests/support/systemd_exec.rs"]
mod systemd_exec;

#[cfg(test)]
mod tests {
    use super::systemd_exec::split_exec;
    use super::*;
    use crate::podman::{Device, Mount, Namespace, PortMapping};
    use std::collections::BTreeMap;

    fn body() -> CreateBody {
        let mut labels = BTreeMap::new();
        labels.insert(
            "io.mlenv.settings".to_string(),
            r#"{"image":"x","ports":["127.0.0.1:8888:8888/tcp"],"cost":"100%$"}"#.to_string(),
        );
        let mut env = BTreeMap::new();
        env.insert("PIP_USER".to_string(), "1".to_string());
        env.insert("SECRET_TOKEN".to_string(), "hunter2".to_string());
        CreateBody {
            name: "mlenv-p-12345678".into(),
            image: "localhost/img:1".into(),
            entrypoint: vec![
                "/bin/sh".into(),
                "-c".into(),
                "trap 'exit 0' TERM; wait".into(),
            ],
            labels,
            env,
            work_dir: "/home/u/my project".into(),
            mounts: vec![Mount {
                kind: "bind".into(),
                source: "/home/u/my project".into(),
                destination: "/home/u/my project".into(),
                options: vec!["rbind".into(), "rw".into()],
            }],
            userns: Some(Namespace {
                nsmode: "keep-id".into(),
                value: None,
            }),
            devices: vec![Device {
                path: "nvidia.com/gpu=0".into(),
            }],
            portmappings: vec![PortMapping {
                host_ip: "127.0.0.1".into(),
                host_port: 8888,
                container_port: 8888,
                protocol: "tcp".into(),
                range: 0,
            }],
            restart_policy: "on-failure".into(),
            selinux_opts: vec!["disable".into()],
            shm_size: Some(2 << 30),
            ..Default::default()
        }
    }

    fn input<'a>(b: &'a CreateBody, keys: &'a [String], wait: &'a [String]) -> UnitInput<'a> {
        UnitInput {
            body: b,
            env_keys: keys,
            env_file: Some(Path::new("/home/u/.local/state/mlenv/p/env")),
            wait_for: wait,
            podman_bin: "/usr/bin/podman",
            project_dir: "/home/u/my project",
            cgroup_v1: false,
        }
    }

    #[test]
    fn flavours() {
        for (v, want) in [
            ("4.3.1", Flavour::Service),
            ("4.4.0", Flavour::Quadlet),
            ("5.4.2", Flavour::Quadlet),
            ("junk", Flavour::Service),
        ] {
            assert_eq!(Flavour::for_podman(v), want, "{v}");
        }
    }

    #[test]
    fn secrets_stay_in_the_env_file() {
        let b = body();
        let keys = vec!["SECRET_TOKEN".to_string()];
        let i = input(&b, &keys, &[]);
        for text in [
            service_unit(&i, true),
            quadlet_unit(&i, "4.4.0", true),
            quadlet_unit(&i, "5.5.0", true),
        ] {
            assert!(
                !text.contains("hunter2") && !text.contains("SECRET_TOKEN"),
                "{text}"
            );
            assert!(text.contains("/home/u/.local/state/mlenv/p/env"), "{text}");
            assert!(text.contains("PIP_USER=1"), "{text}");
        }
    }

    #[test]
    fn exec_line_round_trips_through_systemd_splitting() {
        let b = body();
        let i = input(&b, &[], &[]);
        let unit = service_unit(&i, true);
        let line = unit
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap();
        let words = split_exec(line);
        let mut want = vec![
            "/usr/bin/podman".to_string(),
            "run".into(),
            "--detach".into(),
            "--replace".into(),
            "--restart=on-failure".into(),
        ];
        want.extend(run_args(&i));
        assert_eq!(words, want);
        assert!(
            line.contains("100%%$$"),
            "specifiers and variables escaped: {line}"
        );
    }

    /// Keys quadlet knows, by the podman version that added them (podman-facts).
    const KEYS: &[((u64, u64), &[&str])] = &[
        (
            (4, 4),
            &[
                "Image",
                "ContainerName",
                "AddDevice",
                "PublishPort",
                "Environment",
                "EnvironmentFile",
                "Volume",
                "PodmanArgs",
                "Label",
                "RemapUsers",
            ],
        ),
        ((4, 5), &["UserNS", "SecurityLabelDisable"]),
        ((4, 6), &["WorkingDir", "Pull"]),
        ((4, 7), &["ShmSize", "Ulimit"]),
        ((5, 0), &["Entrypoint", "StopTimeout"]),
        ((5, 5), &["Memory"]),
    ];

    #[test]
    fn quadlet_uses_only_keys_the_version_knows() {
        let mut b = body();
        b.stop_timeout = Some(10);
        b.resource_limits = Some(crate::podman::ResourceLimits {
            memory: Some(crate::podman::MemoryLimit { limit: 1 << 30 }),
            cpu: None,
        });
        b.r_limits = vec![crate::podman::Rlimit {
            kind: "memlock".into(),
            hard: u64::MAX,
            soft: u64::MAX,
        }];
        b.ipcns = Some(Namespace {
            nsmode: "host".into(),
            value: None,
        });
        let wait = vec!["/dev/nvidiactl".to_string()];
        let i = input(&b, &[], &wait);
        for version in [
            "4.4.0", "4.5.0", "4.6.0", "4.7.0", "5.0.0", "5.4.2", "5.5.0",
        ] {
            let v = major_minor(version).unwrap();
            let unit = quadlet_unit(&i, version, true);
            let section = unit
                .split("[Container]\n")
                .nth(1)
                .unwrap()
                .split("\n[")
                .next()
                .unwrap();
            for line in section.lines() {
                let k = line.split('=').next().unwrap();
                let known = KEYS
                    .iter()
                    .any(|(since, keys)| *since <= v && keys.contains(&k));
                assert!(known, "podman {version} does not know {k}:\n{unit}");
            }
            // Everything still gets there, as a key or a PodmanArgs.
            for needle in [
                "--memory=1073741824",
                "--shm-size",
                "--entrypoint",
                "--stop-timeout",
                "--workdir",
                "--ulimit=memlock=-1:-1",
                "--ipc=host",
            ] {
                let by_key = match needle {
                    "--memory=1073741824" => "Memory=1073741824",
                    "--ulimit=memlock=-1:-1" => "Ulimit=memlock=-1:-1",
                    "--ipc=host" => "--ipc=host",
                    "--shm-size" => "ShmSize=",
                    "--entrypoint" => "Entrypoint=",
                    "--stop-timeout" => "StopTimeout=",
                    _ => "WorkingDir=",
                };
                assert!(
                    unit.contains(needle) || unit.contains(by_key),
                    "{version}: {needle} lost:\n{unit}"
                );
            }
            assert_eq!(
                unit.contains("DefaultDependencies=false"),
                v >= (5, 4),
                "{version}"
            );
            assert!(unit.contains("ExecStartPre=/bin/sh -c"), "GPU wait: {unit}");
        }
    }

    /// What podman is given for a quadlet file: each `[Container]` line read the way quadlet
    /// reads its key (see [`Read`]), then split and unescaped by systemd from the ExecStart
    /// quadlet writes, as `--flag=value` words and the image.
    fn podman_args_of(unit: &str) -> Vec<String> {
        let section = unit.split("[Container]\n").nth(1).unwrap();
        let section = section.split("\n[").next().unwrap();
        let mut args = Vec::new();
        for line in section.lines() {
            let (k, v) = line.split_once('=').unwrap();
            let raw = || {
                // The parser drops blanks after `=`. `LookupAll` (Volume, PublishPort)
                // keeps the rest as it is; `Lookup` drops blanks at the end and quotes at
                // either end (older podman: all of them). systemd then reads `$$`, `%%`.
                let v = v.trim_start();
                let v = if ["Volume", "PublishPort"].contains(&k) {
                    v
                } else {
                    v.trim_end().trim_matches('"')
                };
                v.replace("$$", "$").replace("%%", "%")
            };
            let flag = match k {
                "Image" => {
                    args.push(raw());
                    continue;
                }
                "PodmanArgs" => {
                    args.extend(split_exec(v));
                    continue;
                }
                "SecurityLabelDisable" => {
                    args.push("--security-opt=label=disable".into());
                    continue;
                }
                "Environment" | "Label" | "EnvironmentFile" => {
                    let flag = match k {
                        "Environment" => "--env",
                        "Label" => "--label",
                        _ => "--env-file",
                    };
                    args.extend(split_exec(v).into_iter().map(|w| format!("{flag}={w}")));
                    continue;
                }
                "ContainerName" => "--name",
                "Pull" => "--pull",
                "AddDevice" => "--device",
                "PublishPort" => "--publish",
                "Volume" => "--volume",
                "UserNS" | "RemapUsers" => "--userns",
                "WorkingDir" => "--workdir",
                "ShmSize" => "--shm-size",
                "Entrypoint" => "--entrypoint",
                "StopTimeout" => "--stop-timeout",
                "Memory" => "--memory",
                other => panic!("key {other} has no reading in this test"),
            };
            args.push(format!("{flag}={}", raw()));
        }
        args.sort();
        args
    }

    /// [`run_args`] as `--flag=value` words, sorted.
    fn joined(mut words: Vec<String>) -> Vec<String> {
        let mut out = Vec::new();
        words.reverse();
        while let Some(w) = words.pop() {
            if ["--name", "--label", "--env", "--volume"].contains(&w.as_str()) {
                out.push(format!("{w}={}", words.pop().unwrap()));
            } else {
                out.push(w);
            }
        }
        out.sort();
        out
    }

    #[test]
    fn quadlet_values_reach_podman_as_written() {
        // Paths users have: spaces, quotes, `$`, `%`, backslashes, unicode; and the two
        // shapes no raw value survives (a quote or a blank at an end).
        for dir in [
            "/home/u/my project",
            r#"/home/u/say "hi""#,
            "/home/u/it's mine",
            "/home/u/$HOME ${HOME} $$",
            "/home/u/100% done %n",
            r"/home/u/back\slash\",
            "/home/u/ünïcødé ☃ proj",
            r#""/quoted/at/start"#,
            "/home/u/ends with a blank ",
        ] {
            let mut b = body();
            b.work_dir = dir.into();
            b.mounts[0].source = dir.into();
            b.mounts[0].destination = dir.into();
            b.labels
                .insert("io.mlenv.project".into(), format!("{dir} \"q\" 100%"));
            b.env.insert("PROJECT".into(), dir.into());
            b.stop_timeout = Some(10);
            b.entrypoint[2] = format!("cd {dir:?} && trap 'exit 0' TERM; wait $!");
            let i = input(&b, &[], &[]);
            let want = joined(run_args(&i));
            for version in ["4.4.0", "4.7.0", "5.0.0", "5.4.2", "5.8.0"] {
                let unit = quadlet_unit(&i, version, true);
                assert_eq!(podman_args_of(&unit), want, "{version}, {dir:?}:\n{unit}");
            }
        }
    }

    #[test]
    fn raw_values_that_cannot_survive_go_to_podman_args() {
        for (value, survives) in [
            ("/a b", true),
            ("[\"/bin/sh\",\"-c\",\"x\"]", true),
            ("\"/a\"", false),
            ("/a\"", false),
            (" /a", false),
            ("/a ", false),
            ("/a\\", false),
            ("/a\nb", false),
            ("", false),
        ] {
            assert_eq!(raw_survives(value), survives, "{value:?}");
        }
        let mut b = body();
        b.work_dir = "/home/u/trailing ".into();
        let unit = quadlet_unit(&input(&b, &[], &[]), "5.4.2", true);
        assert!(!unit.contains("WorkingDir="), "{unit}");
        assert!(
            unit.contains("PodmanArgs=\"--workdir=/home/u/trailing \""),
            "{unit}"
        );
    }

    #[test]
    fn cgroup_v1_warning_is_silenced_in_the_service_only_there() {
        let b = body();
        let mut i = input(&b, &[], &[]);
        for v1 in [true, false] {
            i.cgroup_v1 = v1;
            for unit in [service_unit(&i, true), quadlet_unit(&i, "5.4.2", true)] {
                let service = unit.split("\n[Service]\n").nth(1).unwrap();
                assert_eq!(
                    service.contains("Environment=PODMAN_IGNORE_CGROUPSV1_WARNING=1\n"),
                    v1,
                    "{unit}"
                );
            }
        }
    }

    #[test]
    fn enabled_is_the_install_section() {
        let b = body();
        let i = input(&b, &[], &[]);
        assert!(service_unit(&i, true).contains("[Install]\nWantedBy=default.target"));
        assert!(!service_unit(&i, false).contains("[Install]"));
        assert!(!quadlet_unit(&i, "5.0.0", false).contains("[Install]"));
    }

    #[test]
    fn exec_words() {
        let cases = [
            ("plain", "plain"),
            ("a b", "\"a b\""),
            ("100%", "100%%"),
            ("$HOME", "$$HOME"),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("it's", "\"it's\""),
            ("", "\"\""),
        ];
        for (input, want) in cases {
            assert_eq!(exec_word(input), want, "{input}");
            assert_eq!(split_exec(&exec_word(input)), [input], "{input}");
        }
    }
}
