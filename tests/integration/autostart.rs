//! Back after a reboot. These machines have no systemd user manager, so the boot is played
//! the way systemd would play it: the unit's ExecCondition, ExecStartPre and ExecStart, split
//! as systemd splits them, run as the test user with the container removed first. Podman
//! 4.3.1 (the host's) gets a plain `.service`; podman 4.4+ (5.x in the rootfs of
//! tests/setup-podman5.sh) a quadlet `.container`, whose service is what the real quadlet
//! generator of podman 5.4 makes of it (`tests/setup-host.sh` fetches it; in the rootfs it
//! is podman's own). Every service goes through `systemd-analyze --user verify`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::core::http_get;
use crate::harness::*;
use crate::requirements::wheels;
use crate::systemd_exec::split_exec;

/// The quadlet generator of podman 5.4, from Debian 13's package.
const QUADLET: &str = "/opt/mlenv-test/quadlet/quadlet";

/// The values of `key=` lines of a unit file.
fn values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

/// The lines of section `[name]` of a unit file (a generated service has `Environment=`
/// lines of the container too, in `[X-Container]`).
fn section(unit: &str, name: &str) -> String {
    let head = format!("[{name}]");
    let mut inside = false;
    let mut out = String::new();
    for line in unit.lines() {
        if line.starts_with('[') {
            inside = line == head;
        } else if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// How systemd runs a service's commands here: the specifiers it would expand (mlenv's
/// `.service` uses none; quadlet's generated ExecStart uses `%t`, `%N`, `%n`) and the
/// `[Service]` `Environment=` it would set.
struct Boot {
    specifiers: Vec<(char, String)>,
    env: Vec<(String, String)>,
}

impl Boot {
    fn new(service: &str, unit_name: &str) -> Boot {
        let specifiers = if quadlet_podman() {
            vec![
                ('t', std::env::var("XDG_RUNTIME_DIR").unwrap()),
                ('n', unit_name.to_string()),
                ('N', unit_name.trim_end_matches(".service").to_string()),
            ]
        } else {
            Vec::new()
        };
        let mut boot = Boot {
            specifiers,
            env: Vec::new(),
        };
        if quadlet_podman() {
            // Quadlet's `--cidfile=%t/%N.cid`: podman refuses to overwrite one.
            let _ = std::fs::remove_file(boot.cid_file());
        }
        for line in values(&section(service, "Service"), "Environment") {
            for word in split_exec(&boot.expand(&line)) {
                let (k, v) = word.split_once('=').expect("Environment=K=V");
                boot.env.push((k.to_string(), v.to_string()));
            }
        }
        boot
    }

    /// `line` with the known specifiers expanded; any other one fails the test.
    fn expand(&self, line: &str) -> String {
        let specifiers: Vec<(char, &str)> = self
            .specifiers
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        fill_specifiers(line, &specifiers)
    }

    /// Where quadlet's ExecStart writes the container's id (ExecStopPost would remove it).
    fn cid_file(&self) -> PathBuf {
        PathBuf::from(self.expand("%t/%N.cid"))
    }

    /// Runs one `Exec*=` command as systemd would (the `-` prefix ignores failure).
    fn run(&self, line: &str) -> Output {
        let line = line.strip_prefix('-').unwrap_or(line);
        assert!(!line.contains("${"), "unexpected variable: {line}");
        let mut words = split_exec(&self.expand(line));
        // Quadlet asks for podman's split cgroup mode, which needs a cgroup systemd
        // delegated to the service (cgroup v2): rootless on these cgroup v1 hosts, with no
        // user manager, it fails before anything else ("could not find cgroup mount").
        // Everything else of its command is run as written.
        words.retain(|w| w != "--cgroups=split");
        Command::new(&words[0])
            .args(&words[1..])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {words:?}: {e}"))
    }
}

impl Drop for Boot {
    fn drop(&mut self) {
        if quadlet_podman() {
            let _ = std::fs::remove_file(self.cid_file());
        }
    }
}

/// What the quadlet generator (`QUADLET`) makes of the quadlet file `unit` of container
/// `name`: the text of `NAME.service`, asserting it made one without complaint. `tag` names
/// the folder (under the project's temp dir) the file is put in for it.
fn generate(p: &Project, name: &str, unit: &str, tag: &str) -> String {
    assert!(
        Path::new(QUADLET).exists(),
        "{QUADLET} is missing: run tests/setup-host.sh"
    );
    let dir = p.root.path().join(format!("quadlet-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.container")), unit).unwrap();
    let gen = Command::new(QUADLET)
        .args(["-dryrun", "-user"])
        .env("QUADLET_UNIT_DIRS", &dir)
        .output()
        .unwrap();
    let generated = text(&gen.stdout);
    let err = text(&gen.stderr);
    assert!(gen.status.success(), "quadlet {tag}: {err}");
    assert!(
        generated.contains(&format!("---{name}.service---")),
        "quadlet {tag} dropped the unit: {err}\n{unit}"
    );
    assert!(!err.contains("unsupported key"), "quadlet {tag}: {err}");
    generated
        .split(&format!("---{name}.service---\n"))
        .nth(1)
        .unwrap()
        .to_string()
}

/// The service systemd would run for the installed unit file at `path` (the `.service`
/// itself, or what quadlet generates from a `.container`), written to a file of its own
/// when generated, with that file's path.
fn installed_service(p: &Project, name: &str, path: &Path) -> (String, PathBuf) {
    let unit = std::fs::read_to_string(path).unwrap();
    if !quadlet_podman() {
        return (unit, path.to_path_buf());
    }
    let service = generate(p, name, &unit, "installed");
    let service_path = p
        .root
        .path()
        .join(format!("quadlet-installed/{name}.service"));
    std::fs::write(&service_path, &service).unwrap();
    (service, service_path)
}

/// `systemd-analyze --user verify` of a unit file, asserting it passes.
fn verify(unit: &Path) {
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(unit)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify {}: {err}",
        unit.display()
    );
    // Warnings about the unit itself (unknown keys, bad quoting) fail the test too.
    let name = unit.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        !err.contains(&name),
        "systemd-analyze verify {}: {err}",
        unit.display()
    );
}

#[test]
fn autostart_up_writes_an_enabled_unit_down_disables_it_rm_removes_it() {
    let p = Project::new("autostart-life");
    std::fs::write(p.dir.join(".env"), "SECRET_TOKEN=s3cr3t-autostart-value\n").unwrap();
    let out = p.up(&["--gpu", "none", "--env-file", ".env"]);
    let name = p.name();
    let err = text(&out.stderr);
    assert!(
        err.contains("No systemd user manager here"),
        "said once: {err}"
    );

    let unit_path = unit_file(&p, &name);
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    if quadlet_podman() {
        // Enabled by its [Install] section: a generated unit cannot be linked.
        assert!(unit_enabled(&p, &name), "{unit}");
        assert!(!wants_link(&p, &name).exists() && !service_unit(&p, &name).exists());
    } else {
        assert_eq!(
            std::fs::read_link(wants_link(&p, &name)).unwrap(),
            PathBuf::from(format!("../{name}.service"))
        );
    }
    assert!(
        !unit.contains("s3cr3t-autostart-value") && !unit.contains("SECRET_TOKEN="),
        "{unit}"
    );
    // The env file is referenced: a copy only the user can read.
    let copy = p.state.join(format!("mlenv/{name}/env"));
    let reference = if quadlet_podman() {
        format!("\nEnvironmentFile={}\n", copy.display())
    } else {
        format!("--env-file={}", copy.display())
    };
    assert!(unit.contains(&reference), "{unit}");
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(std::fs::read_to_string(&copy)
        .unwrap()
        .contains("SECRET_TOKEN=s3cr3t-autostart-value"));
    let (service, service_path) = installed_service(&p, &name, &unit_path);
    verify(&service_path);
    if quadlet_podman() {
        // What podman is told: the copy, not the project's file.
        assert!(
            service.contains(&format!("--env-file {}", copy.display())),
            "{service}"
        );
        assert!(!service.contains("s3cr3t-autostart-value"), "{service}");
    }

    // `mlenv unit` prints what is installed.
    assert_eq!(text(&p.ok(&["unit"]).stdout), unit);
    let v: serde_json::Value = serde_json::from_slice(&p.ok(&["status", "--json"]).stdout).unwrap();
    assert_eq!(v["autostart"]["enabled"], true, "{v}");

    // down: stopped on purpose stays stopped after a reboot.
    let err = text(&p.ok(&["down"]).stderr);
    assert!(err.contains("Autostart disabled"), "{err}");
    assert!(!wants_link(&p, &name).exists());
    assert!(unit_path.exists());
    assert!(!unit_enabled(&p, &name));
    if quadlet_podman() {
        let (service, _) = installed_service(&p, &name, &unit_path);
        assert!(!service.contains("[Install]"), "still enabled:\n{service}");
    }
    let v: serde_json::Value = serde_json::from_slice(&p.ok(&["status", "--json"]).stdout).unwrap();
    assert_eq!(v["autostart"]["enabled"], false, "{v}");

    // up: enabled again, and the note is not repeated.
    let err = text(&p.up(&["--gpu", "none"]).stderr);
    assert!(unit_enabled(&p, &name));
    assert!(
        !err.contains("No systemd user manager"),
        "said twice: {err}"
    );

    // rm: the unit goes with the container.
    let err = text(&p.ok(&["rm", "-f"]).stderr);
    assert!(err.contains("Removed its autostart unit"), "{err}");
    assert!(!unit_path.exists() && !wants_link(&p, &name).exists());
    assert!(!service_unit(&p, &name).exists() && !quadlet_unit(&p, &name).exists());
}

#[test]
fn autostart_can_be_turned_off_and_on() {
    let p = Project::new("autostart-off");
    p.up(&["--gpu", "none", "--no-autostart"]);
    let name = p.name();
    let no_unit = || {
        !service_unit(&p, &name).exists()
            && !quadlet_unit(&p, &name).exists()
            && !wants_link(&p, &name).exists()
    };
    assert!(no_unit());
    p.ok(&["down"]);
    p.up(&["--gpu", "none"]);
    assert!(no_unit(), "--no-autostart was forgotten");
    p.up(&["--gpu", "none", "--autostart"]);
    assert!(unit_file(&p, &name).exists() && unit_enabled(&p, &name));
    let err = text(&p.up(&["--gpu", "none", "--no-autostart"]).stderr);
    assert!(err.contains("Autostart off"), "{err}");
    assert!(no_unit());
}

#[test]
fn autostart_boot_brings_the_same_environment_back() {
    let p = Project::new("autostart-boot");
    let wh = p.dir.join("wheelhouse");
    wheels(&wh, &[("bootpkg", "1.0", 0)]);
    std::fs::write(
        p.dir.join("requirements.txt"),
        format!("--no-index\n--find-links {}\nbootpkg==1.0\n", wh.display()),
    )
    .unwrap();
    std::fs::write(p.dir.join(".env"), "BOOT_SECRET=b00t-value\n").unwrap();
    std::fs::write(p.dir.join("index.html"), "back after reboot").unwrap();
    let port = free_port();
    let publish = format!("{port}:8080");
    let args = [
        "up",
        "--image",
        PYTHON,
        "--gpu",
        TEST_CDI_DEVICE,
        "--port",
        &publish,
        "--env-file",
        ".env",
    ];
    p.ok(&args);
    let name = p.name();
    let before = inspect(&name);
    let (unit, _) = installed_service(&p, &name, &unit_file(&p, &name));
    let boot = Boot::new(&unit, &format!("{name}.service"));

    // The reboot: the container is gone (as `podman run --replace` would find it, or not).
    podman(&["rm", "-f", "-t", "0", &name]);
    assert!(!exists(&name));

    // systemd: ExecCondition (must let the start happen), ExecStartPre, ExecStart.
    for line in values(&unit, "ExecCondition") {
        let out = boot.run(&line);
        assert!(
            out.status.success(),
            "ExecCondition skipped the start: {}",
            text(&out.stderr)
        );
    }
    for key in ["ExecStartPre", "ExecStart"] {
        for line in values(&unit, key) {
            let out = boot.run(&line);
            assert!(
                out.status.success(),
                "{key}={line}\nfailed: {}",
                text(&out.stderr)
            );
        }
    }

    // The same environment: name, image, labels, mounts, ports, CDI device, env, packages.
    let after = inspect(&name);
    assert_eq!(after["State"]["Running"], true);
    assert_eq!(after["ImageName"], before["ImageName"]);
    let mut labels = after["Config"]["Labels"].clone();
    if quadlet_podman() {
        // Podman labels a container started by a unit with the unit's name (from the
        // PODMAN_SYSTEMD_UNIT the generated service sets): that one is new.
        let unit_label = labels
            .as_object_mut()
            .unwrap()
            .remove("PODMAN_SYSTEMD_UNIT");
        assert_eq!(
            unit_label,
            Some(format!("{name}.service").into()),
            "{}",
            after["Config"]["Labels"]
        );
    }
    assert_eq!(labels, before["Config"]["Labels"]);
    assert_eq!(
        after["HostConfig"]["Devices"],
        before["HostConfig"]["Devices"]
    );
    assert_eq!(
        after["Config"]["WorkingDir"],
        before["Config"]["WorkingDir"]
    );
    let mounts = |c: &serde_json::Value| {
        let mut m: Vec<(String, String)> = c["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["Source"].as_str().unwrap().to_string(),
                    m["Destination"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        m.sort();
        m
    };
    assert_eq!(mounts(&after), mounts(&before));
    let environ = text(&podman(&["exec", &name, "cat", "/proc/1/environ"]).stdout);
    assert!(
        environ.contains("MLENV_TEST_CDI=1"),
        "CDI env missing: {environ}"
    );
    let secret = text(&podman(&["exec", &name, "printenv", "BOOT_SECRET"]).stdout);
    assert_eq!(secret.trim(), "b00t-value");
    let id = text(&podman(&["exec", &name, "id", "-u"]).stdout);
    assert_eq!(id.trim(), nix_uid().to_string(), "keep-id");
    let import = podman(&[
        "exec",
        &name,
        "python3",
        "-c",
        "import bootpkg; print(bootpkg.VERSION)",
    ]);
    assert_eq!(
        text(&import.stdout).trim(),
        "1.0",
        "{}",
        text(&import.stderr)
    );
    podman(&[
        "exec",
        "-d",
        &name,
        "python3",
        "-m",
        "http.server",
        "8080",
        "--directory",
        p.dir.to_str().unwrap(),
    ]);
    let addr = format!("127.0.0.1:{port}");
    let mut last = None;
    let served = wait_until(Duration::from_secs(15), || {
        last = http_get(&addr, "/index.html");
        last.as_deref()
            .is_some_and(|b| b.contains("back after reboot"))
    });
    assert!(served, "port {port} not forwarded after the boot: {last:?}");

    // mlenv knows it: no drift, nothing reinstalled; and the condition now skips a start.
    let out = p.ok(&args);
    let err = text(&out.stderr);
    assert!(
        err.contains("is running") && err.contains("requirements unchanged"),
        "{err}"
    );
    for line in values(&unit, "ExecCondition") {
        assert!(
            !boot.run(&line).status.success(),
            "a running environment would be replaced"
        );
    }
}

/// The test user's uid (what keep-id maps in).
fn nix_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

#[test]
fn autostart_quadlet_units_pass_the_quadlet_generator_and_systemd() {
    assert!(
        Path::new(QUADLET).exists(),
        "{QUADLET} is missing: run tests/setup-host.sh"
    );
    let p = Project::new("autostart-quadlet");
    std::fs::write(p.dir.join(".env"), "Q_SECRET=qu4dlet-value\n").unwrap();
    let port = free_port();
    p.up(&[
        "--gpu",
        TEST_CDI_DEVICE,
        "--port",
        &format!("{port}:80"),
        "--env-file",
        ".env",
        "--memory",
        "1g",
        "--cpus",
        "1",
    ]);
    let name = p.name();
    // The generator is 5.4's: it knows every key up to 5.4 (and rejects 5.5's `Memory=`,
    // which is why keys are gated by version: the unit table tests cover 5.5).
    for version in ["4.4.0", "5.4.2"] {
        let out = p.ok(&["unit", "--for-podman", version]);
        let unit = text(&out.stdout);
        assert!(
            !unit.contains("qu4dlet-value") && !unit.contains("Q_SECRET="),
            "{unit}"
        );
        let service = generate(&p, &name, &unit, version);
        for want in [
            format!("--name {name}"),
            "--device mlenv.test/dev=zero".to_string(),
            format!("--publish 127.0.0.1:{port}:80"),
            "--userns keep-id".to_string(),
            "--env-file".to_string(),
            "--memory".to_string(),
        ] {
            assert!(
                service.contains(&want),
                "quadlet {version}: {want:?} missing:\n{service}"
            );
        }
        let service_path = p
            .root
            .path()
            .join(format!("quadlet-{version}/{name}.service"));
        std::fs::write(&service_path, &service).unwrap();
        verify(&service_path);
    }
}

#[test]
fn autostart_bad_flags_are_refused_and_create_nothing() {
    let p = Project::new("autostart-bad");
    let name = p.name();
    for (args, want) in [
        (
            vec!["up", "--image", BUSYBOX, "--autostart", "--no-autostart"],
            "--no-autostart",
        ),
        (
            vec!["unit", "--for-podman", "junk"],
            "invalid --for-podman \"junk\"",
        ),
    ] {
        let out = p.run(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert!(!exists(&name));
    assert!(!service_unit(&p, &name).exists() && !quadlet_unit(&p, &name).exists());
}

/// The command a unit starts at boot, as systemd would run it: the `.service`'s own
/// ExecStart, or the one quadlet (podman 5.4's real generator) makes of the `.container`.
/// `--cgroups=split`, which quadlet adds, needs systemd's delegated cgroup (none here;
/// the reboot test of tests/reboot.sh runs it under systemd), so it is left out.
fn boot_command(p: &Project, name: &str, version: &str) -> Vec<String> {
    let unit = text(&p.ok(&["unit", "--for-podman", version]).stdout);
    let line = if version.starts_with("4.3") {
        values(&unit, "ExecStart").remove(0)
    } else {
        let dir = p.root.path().join(format!("gen-{version}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.container")), &unit).unwrap();
        let gen = Command::new(QUADLET)
            .args(["-dryrun", "-user"])
            .env("QUADLET_UNIT_DIRS", &dir)
            .output()
            .unwrap();
        let generated = text(&gen.stdout);
        assert!(
            generated.contains(&format!("---{name}.service---")),
            "quadlet dropped the unit: {}\n{unit}",
            text(&gen.stderr)
        );
        let line = values(&generated, "ExecStart").remove(0);
        // The specifiers quadlet uses (`--cidfile=%t/%N.cid`), as systemd fills them in.
        let runtime = std::env::var("XDG_RUNTIME_DIR").unwrap();
        let _ = std::fs::remove_file(format!("{runtime}/{name}.cid"));
        fill_specifiers(
            &line,
            &[
                ('t', &runtime),
                ('N', name),
                ('n', &format!("{name}.service")),
            ],
        )
    };
    split_exec(&line)
        .into_iter()
        .filter(|w| w != "--cgroups=split")
        .collect()
}

/// `%x` specifiers of a unit line replaced by their values; `%%` is left to
/// [`split_exec`], and an unknown specifier fails the test.
fn fill_specifiers(line: &str, values: &[(char, &str)]) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push_str("%%"),
            Some(s) => match values.iter().find(|(k, _)| *k == s) {
                Some((_, v)) => out.push_str(v),
                None => panic!("unexpected specifier %{s} in {line}"),
            },
            None => panic!("a lone % ends {line}"),
        }
    }
    out
}

#[test]
fn autostart_boot_command_keeps_awkward_paths_and_values() {
    // Spaces, both quotes, `$`, `%`, a backslash and unicode in the project's path, in a
    // label-bound setting and in an env value.
    let p = Project::new(r#"my "odd" proj's $HOME ${X} 100%n back\slash ünïcødé ☃"#);
    std::fs::write(p.dir.join(".env"), "AWK_SECRET='v4lue with $pace%'\n").unwrap();
    let port = free_port();
    p.up(&[
        "--gpu",
        TEST_CDI_DEVICE,
        "--port",
        &format!("{port}:80"),
        "--env-file",
        ".env",
    ]);
    let name = p.name();
    let before = inspect(&name);
    let dir = p.dir.to_str().unwrap().to_string();
    for version in ["4.3.1", "5.4.2"] {
        let words = boot_command(&p, &name, version);
        podman(&["rm", "-f", "-t", "0", &name]);
        let out = Command::new(&words[0]).args(&words[1..]).output().unwrap();
        assert!(
            out.status.success(),
            "{version}: {words:?}\nfailed: {}",
            text(&out.stderr)
        );
        let after = inspect(&name);
        assert_eq!(after["State"]["Running"], true, "{version}");
        for field in [
            &["Config", "Labels"][..],
            &["Config", "WorkingDir"],
            &["Config", "Entrypoint"],
            &["HostConfig", "Devices"],
            &["HostConfig", "PortBindings"],
            &["ImageName"],
        ] {
            let get = |v: &serde_json::Value| field.iter().fold(v.clone(), |v, k| v[*k].clone());
            assert_eq!(get(&after), get(&before), "{version}: {field:?}");
        }
        let mount = after["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Destination"] == dir.as_str())
            .unwrap_or_else(|| panic!("{version}: project not mounted: {}", after["Mounts"]));
        assert_eq!(mount["Source"], dir.as_str(), "{version}");
        let pwd = podman(&["exec", &name, "sh", "-c", "pwd"]);
        assert_eq!(text(&pwd.stdout).trim_end(), dir, "{version}");
        let secret = podman(&["exec", &name, "sh", "-c", "echo \"$AWK_SECRET\""]);
        assert_eq!(
            text(&secret.stdout).trim_end(),
            "v4lue with $pace%",
            "{version}"
        );
        // mlenv sees its own environment: no drift.
        let err = text(
            &p.up(&["--gpu", TEST_CDI_DEVICE, "--port", &format!("{port}:80")])
                .stderr,
        );
        assert!(err.contains("is running"), "{version}: {err}");
    }
}

#[test]
fn up_brings_a_container_removed_behind_its_back_back_with_its_settings() {
    let p = Project::new("kept-settings");
    std::fs::write(p.dir.join(".env"), "KEPT=yes\n").unwrap();
    let port = free_port();
    p.up(&[
        "--gpu",
        TEST_CDI_DEVICE,
        "--port",
        &format!("{port}:80"),
        "--env-file",
        ".env",
        "--no-user-mapping",
    ]);
    let name = p.name();
    let before = inspect(&name);
    // What a unit's failed `podman run --replace` at boot leaves: no container.
    podman(&["rm", "-f", "-t", "0", &name]);
    let v: serde_json::Value = serde_json::from_slice(&p.ok(&["status", "--json"]).stdout).unwrap();
    assert_eq!(v["state"], "absent");
    assert_eq!(v["autostart"]["settings_kept"], true, "{v}");
    assert!(text(&p.ok(&["status"]).stdout).contains("brings it back with the settings it had"));

    // A plain `up`, no flags: the same environment.
    let err = text(&p.up(&[]).stderr);
    assert!(
        err.contains("bringing it back with the settings it had"),
        "{err}"
    );
    let after = inspect(&name);
    assert_eq!(after["Config"]["Labels"], before["Config"]["Labels"]);
    assert_eq!(
        after["HostConfig"]["Devices"],
        before["HostConfig"]["Devices"]
    );
    assert_eq!(
        after["HostConfig"]["PortBindings"],
        before["HostConfig"]["PortBindings"]
    );
    let kept = podman(&["exec", &name, "sh", "-c", "echo \"$KEPT\""]);
    assert_eq!(text(&kept.stdout).trim(), "yes");
    // A flag given now is laid over the kept settings, the rest kept.
    podman(&["rm", "-f", "-t", "0", &name]);
    let port2 = free_port();
    p.up(&["--port", &format!("{port2}:80")]);
    let again = inspect(&name);
    assert_eq!(
        again["HostConfig"]["Devices"],
        before["HostConfig"]["Devices"]
    );
    assert_eq!(
        again["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
        port2.to_string()
    );
    // `rm` forgets: the next `up` starts from the defaults.
    p.ok(&["rm", "-f"]);
    let v: serde_json::Value = serde_json::from_slice(&p.ok(&["status", "--json"]).stdout).unwrap();
    assert_eq!(v["autostart"]["settings_kept"], false, "{v}");
    p.up(&[]);
    let fresh = inspect(&name);
    assert_ne!(
        fresh["HostConfig"]["Devices"],
        before["HostConfig"]["Devices"]
    );
}
