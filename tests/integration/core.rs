//! `mlenv up` and the container's lifecycle, each effect checked through the podman CLI,
//! the host filesystem, /proc or a TCP client: names, the mount and working directory,
//! file ownership, port forwarding, env files, CDI devices, limits, idempotence, drift,
//! down/restart/rm and a missing image.

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::harness::{
    self, cgroup_v2, code, containers_for, exists, forwarded, free_port, http_get, inspect,
    podman_ok, settings_label, text, unique, wait_until, Project, BUSYBOX,
};

fn state_running(name: &str) -> bool {
    inspect(name)["State"]["Running"].as_bool().unwrap()
}

fn started_at(name: &str) -> String {
    inspect(name)["State"]["StartedAt"]
        .as_str()
        .unwrap()
        .to_string()
}

fn id_of(name: &str) -> String {
    inspect(name)["Id"].as_str().unwrap().to_string()
}

/// podman's container name rule.
fn valid_podman_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `mlenv-<slug>-<8 lower-case hex>`, a slug of lower-case letters, digits and dashes.
fn assert_name_shape(name: &str, folder: &str) {
    let rest = name
        .strip_prefix("mlenv-")
        .unwrap_or_else(|| panic!("{folder:?}: name {name:?} does not start with mlenv-"));
    let (slug, hex) = rest
        .rsplit_once('-')
        .unwrap_or_else(|| panic!("{folder:?}: name {name:?} has no -<hex> suffix"));
    assert!(
        hex.len() == 8
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{folder:?}: name {name:?} does not end in 8 hex digits"
    );
    assert!(
        !slug.is_empty()
            && !slug.starts_with('-')
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "{folder:?}: slug {slug:?} of {name:?} is not lower-case letters, digits and dashes"
    );
    assert!(
        valid_podman_name(name),
        "{folder:?}: {name:?} is not a valid podman name"
    );
}

/// The project folder is bind-mounted at its own path, is the working directory, and files
/// pass both ways.
fn assert_mounted_at_same_path(p: &Project, name: &str) {
    let dir = p.dir.to_str().unwrap();
    let c = inspect(name);
    let mounts = c["Mounts"].as_array().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["Source"] == dir && m["Destination"] == dir && m["RW"] == true),
        "{dir:?} is not mounted read-write at the same path: {mounts:?}"
    );
    assert_eq!(c["Config"]["WorkingDir"], dir, "working dir of {name}");
    let pwd = podman_ok(&["exec", name, "pwd"]);
    assert_eq!(pwd.trim_end_matches('\n'), dir, "pwd inside {name}");

    let content = unique("from-host-");
    std::fs::write(p.dir.join("host-file.txt"), &content).unwrap();
    let seen = podman_ok(&["exec", name, "cat", &format!("{dir}/host-file.txt")]);
    assert_eq!(seen, content, "host file seen inside {name}");

    // And the other way: a relative path resolves in the project folder.
    podman_ok(&["exec", name, "sh", "-c", "echo inside > written-inside.txt"]);
    assert_eq!(
        std::fs::read_to_string(p.dir.join("written-inside.txt")).unwrap(),
        "inside\n",
        "file written inside {name} seen on the host"
    );
}

/// Devices the container was given, as host paths.
fn devices(name: &str) -> Vec<String> {
    inspect(name)["HostConfig"]["Devices"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| d["PathOnHost"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// PID 1's environment inside the container (CDI env edits reach only PID 1).
fn pid1_env(name: &str) -> Vec<String> {
    podman_ok(&["exec", name, "cat", "/proc/1/environ"])
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Another address of this host than 127.0.0.1: a listener on 127.0.0.1 alone must not
/// answer there, one on 0.0.0.0 must. (Loopback, so the tests send nothing off the machine.)
const OTHER_HOST_ADDRESS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);

/// Starts busybox httpd on container port 8080 serving the project folder, and waits until
/// `127.0.0.1:host_port` answers with `content`.
fn serve_and_fetch(p: &Project, name: &str, host_addr: &str, content: &str) -> String {
    std::fs::write(p.dir.join("index.html"), content).unwrap();
    podman_ok(&[
        "exec",
        "-d",
        name,
        "busybox",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        p.dir.to_str().unwrap(),
    ]);
    let mut last = None;
    let got = wait_until(Duration::from_secs(15), || {
        last = http_get(host_addr, "/index.html");
        last.as_deref().is_some_and(|b| b.contains(content))
    });
    assert!(
        got,
        "GET http://{host_addr}/index.html never returned the file; last answer: {last:?}"
    );
    last.unwrap()
}

fn stderr_lines(out: &std::process::Output) -> String {
    text(&out.stderr)
}

// ---------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------

#[test]
fn up_name_rule_and_same_named_folders_get_different_containers() {
    let a = Project::new("proj");
    let b = Project::new("proj");
    assert_ne!(a.dir, b.dir);
    assert_eq!(a.dir.file_name(), b.dir.file_name());
    a.up(&["--gpu", "none"]);
    b.up(&["--gpu", "none"]);

    // Found through podman's own label filter, not through mlenv.
    let in_a = containers_for(&a.dir);
    let in_b = containers_for(&b.dir);
    assert_eq!(in_a.len(), 1, "containers for {:?}: {in_a:?}", a.dir);
    assert_eq!(in_b.len(), 1, "containers for {:?}: {in_b:?}", b.dir);
    assert_ne!(in_a[0], in_b[0], "same-named folders share a container");
    for (p, n) in [(&a, &in_a[0]), (&b, &in_b[0])] {
        assert_name_shape(n, "proj");
        assert!(n.starts_with("mlenv-proj-"), "{n}");
        assert_eq!(&p.name(), n, "mlenv status names another container");
        assert!(state_running(n), "{n} is not running");
        let mounts = inspect(n)["Mounts"].clone();
        let project = mounts
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Destination"] == p.dir.to_str().unwrap());
        assert_eq!(
            project.map(|m| m["Source"].clone()),
            Some(serde_json::json!(p.dir.to_str().unwrap())),
            "{n} mounts another folder: {mounts}"
        );
    }
    // Stable: a second up finds the same container instead of making another.
    a.up(&[]);
    assert_eq!(containers_for(&a.dir), in_a);
}

#[test]
fn up_odd_folder_names_give_valid_names_and_working_containers() {
    let long: String = "Ab9_".repeat(50); // 200 characters
    let cases = [
        "My Project ü 🚀 données",
        ".hidden",
        "проект",
        long.as_str(),
        "  -- spaced --  ",
        "sh $HOME `id` 'q' \"dq\" co:lon\ttab",
    ];
    for folder in cases {
        let p = Project::new(folder);
        let out = p.up(&["--gpu", "none"]);
        let names = containers_for(&p.dir);
        assert_eq!(
            names.len(),
            1,
            "{folder:?}: containers {names:?}; stderr: {}",
            text(&out.stderr)
        );
        let name = &names[0];
        assert_name_shape(name, folder);
        assert!(
            name.len() <= "mlenv-".len() + 40 + 1 + 8,
            "{folder:?}: name {name:?} is longer than a 40-character slug allows"
        );
        assert!(state_running(name), "{folder:?}: {name} is not running");
        assert_mounted_at_same_path(&p, name);
    }
}

#[test]
fn up_path_with_spaces_and_unicode_works_end_to_end() {
    let p = Project::new("Ünïcode dir/with spaces é");
    p.up(&["--gpu", "none"]);
    let name = p.name();
    assert_mounted_at_same_path(&p, &name);
    // mlenv's own exec lands in the same folder and sees the host's file.
    let out = p.ok(&["exec", "-c", "pwd; cat host-file.txt"]);
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(p.dir.to_str().unwrap()), "{stdout}");
    assert!(
        lines.next().unwrap_or("").starts_with("from-host-"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------------
// Mount, working dir, ownership
// ---------------------------------------------------------------------------------------

#[test]
fn up_mounts_project_at_same_path_and_uses_it_as_workdir() {
    let p = Project::new("mountcheck");
    p.up(&["--gpu", "none"]);
    let name = p.name();
    assert_mounted_at_same_path(&p, &name);
    // Only the project folder is shared: its parent is not mounted.
    let parent = p.dir.parent().unwrap().to_str().unwrap().to_string();
    let mounts = inspect(&name)["Mounts"].clone();
    assert!(
        !mounts
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["Destination"] == parent.as_str()),
        "parent {parent} is mounted too: {mounts}"
    );
}

#[test]
fn up_keep_id_files_created_inside_belong_to_the_caller() {
    let p = Project::new("owner");
    p.up(&["--gpu", "none"]);
    let name = p.name();
    let me = nix::unistd::getuid().as_raw();
    let my_gid = nix::unistd::getgid().as_raw();

    let uid_inside = podman_ok(&["exec", &name, "id", "-u"]);
    assert_eq!(uid_inside.trim(), me.to_string(), "uid inside {name}");
    podman_ok(&["exec", &name, "touch", "made-inside"]);
    podman_ok(&["exec", &name, "mkdir", "dir-inside"]);
    for f in ["made-inside", "dir-inside"] {
        let meta = std::fs::metadata(p.dir.join(f)).unwrap();
        assert_eq!(meta.uid(), me, "{f} owner uid on the host");
        assert_eq!(meta.gid(), my_gid, "{f} owner gid on the host");
    }
    // keep-id: the caller's uid inside maps onto the caller (uid 0 of the user namespace).
    let c = inspect(&name);
    let uidmap = &c["HostConfig"]["IDMappings"]["UidMap"];
    assert!(
        uidmap
            .as_array()
            .is_some_and(|m| m.iter().any(|e| e == &format!("{me}:0:1"))),
        "no keep-id mapping {me}:0:1 in {uidmap}"
    );
}

#[test]
fn up_no_user_mapping_runs_as_the_images_user() {
    let p = Project::new("imageuser");
    p.up(&["--gpu", "none", "--no-user-mapping"]);
    let name = p.name();
    let uid_inside = podman_ok(&["exec", &name, "id", "-u"]);
    assert_eq!(uid_inside.trim(), "0", "the busybox image runs as root");
    let c = inspect(&name);
    let mappings = &c["HostConfig"]["IDMappings"];
    assert!(
        mappings.is_null() || mappings["UidMap"].as_array().is_none_or(|m| m.is_empty()),
        "an ID mapping is set without user mapping: {mappings}"
    );
    assert_ne!(c["HostConfig"]["UsernsMode"], "keep-id");
    assert_eq!(
        c["Config"]["User"].as_str().unwrap_or(""),
        "",
        "User is set"
    );
    // Root in a rootless container is the caller on the host.
    podman_ok(&["exec", &name, "touch", "made-by-root"]);
    let meta = std::fs::metadata(p.dir.join("made-by-root")).unwrap();
    assert_eq!(meta.uid(), nix::unistd::getuid().as_raw());
    assert_eq!(settings_label(&name)["user_mapping"], false);
}

// ---------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------

#[test]
fn up_port_forwarding_binds_loopback_by_default() {
    let p = Project::new("ports");
    let port = harness::free_port();
    let out = p.up(&["--gpu", "none", "--port", &format!("{port}:8080")]);
    let name = p.name();
    assert!(
        text(&out.stderr).contains(&format!("127.0.0.1:{port}->8080/tcp")),
        "stderr does not show the forward: {}",
        text(&out.stderr)
    );
    assert_eq!(
        forwarded(&name, 8080),
        [("127.0.0.1".to_string(), port.to_string())]
    );
    let content = unique("served-");
    let body = serve_and_fetch(&p, &name, &format!("127.0.0.1:{port}"), &content);
    assert!(body.starts_with("HTTP/1."), "{body}");
    // Not reachable on the host's other addresses.
    let addr = std::net::SocketAddr::new(OTHER_HOST_ADDRESS.into(), port);
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "{addr} accepts connections although only 127.0.0.1 was asked for"
    );
}

#[test]
fn up_port_forwarding_with_an_ip_binds_that_ip() {
    let p = Project::new("ports-any");
    let port = harness::free_port();
    p.up(&["--gpu", "none", "--port", &format!("0.0.0.0:{port}:8080")]);
    let name = p.name();
    assert_eq!(
        forwarded(&name, 8080),
        [("0.0.0.0".to_string(), port.to_string())]
    );
    let content = unique("served-any-");
    serve_and_fetch(&p, &name, &format!("127.0.0.1:{port}"), &content);
    let addr = format!("{OTHER_HOST_ADDRESS}:{port}");
    let body = http_get(&addr, "/index.html");
    assert!(
        body.as_deref().is_some_and(|b| b.contains(&content)),
        "{addr} did not serve the file: {body:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Env file
// ---------------------------------------------------------------------------------------

#[test]
fn up_env_file_values_reach_the_container_and_nowhere_else() {
    let p = Project::new("envfile");
    let secret = unique("Sx9q-");
    let secret2 = unique("Zk7w-");
    std::fs::write(
        p.dir.join(".env"),
        format!(
            "# tokens\nMLENV_IT_TOKEN={secret}\nexport MLENV_IT_QUOTED=\"two words {secret2}\"\n"
        ),
    )
    .unwrap();

    let mut child = p
        .mlenv()
        .args(["-v", "up", "--image", BUSYBOX, "--gpu", "none"])
        .args(["--env-file", ".env"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Drain the pipes in the background so mlenv never blocks on them.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        so.read_to_end(&mut v).unwrap();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        se.read_to_end(&mut v).unwrap();
        v
    });

    let needles = [secret.as_bytes(), secret2.as_bytes()];
    // Scans that finished while mlenv was still running: the ones that prove something.
    let mut scans_during = 0u32;
    let mut processes_seen = 0usize;
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        let (n, hits) = scan_cmdlines(&needles);
        assert!(
            hits.is_empty(),
            "the secret is on a command line while `mlenv up` runs: {hits:?}"
        );
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        scans_during += 1;
        processes_seen += n;
        assert!(Instant::now() < deadline, "mlenv up hangs");
    };
    let stdout = t_out.join().unwrap();
    let stderr = t_err.join().unwrap();
    assert!(
        status.success(),
        "mlenv up --env-file failed: {}",
        text(&stderr)
    );
    assert!(
        scans_during >= 1 && processes_seen > 0,
        "/proc was not scanned while mlenv ran ({scans_during} scans, {processes_seen} cmdlines)"
    );
    // And once more now that the container runs (conmon, its init).
    let (_, hits) = scan_cmdlines(&needles);
    assert!(hits.is_empty(), "the secret is on a command line: {hits:?}");

    let name = p.name();
    // Inside: in the container's environment, for PID 1 and for exec sessions.
    let env = podman_ok(&["exec", &name, "env"]);
    assert!(
        env.lines().any(|l| l == format!("MLENV_IT_TOKEN={secret}")),
        "MLENV_IT_TOKEN missing inside: {env}"
    );
    assert!(
        env.lines()
            .any(|l| l == format!("MLENV_IT_QUOTED=two words {secret2}")),
        "MLENV_IT_QUOTED missing inside: {env}"
    );
    assert!(pid1_env(&name).contains(&format!("MLENV_IT_TOKEN={secret}")));

    // Nowhere else: labels, mlenv's output, its debug log, its state dir.
    let labels = inspect(&name)["Config"]["Labels"].to_string();
    for s in [&secret, &secret2] {
        assert!(
            !labels.contains(s.as_str()),
            "a label holds the secret: {labels}"
        );
        assert!(
            !text(&stdout).contains(s.as_str()),
            "stdout holds the secret"
        );
        assert!(
            !text(&stderr).contains(s.as_str()),
            "stderr holds the secret"
        );
    }
    let settings = settings_label(&name);
    assert_eq!(
        settings["env_keys"],
        serde_json::json!(["MLENV_IT_TOKEN", "MLENV_IT_QUOTED"])
    );
    let log = p.state.join("mlenv").join(&name).join("mlenv.log");
    let log_text = std::fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("no debug log at {}: {e}", log.display()));
    assert!(!log_text.is_empty(), "the debug log is empty");
    // One file may hold the values: the copy the autostart unit reads, which only the user
    // can read (issue: EnvironmentFile= pointing at a 0600 copy). No other file may.
    let copy = p.state.join("mlenv").join(&name).join("env");
    for entry in walk(&p.state) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        if entry == copy {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode(&entry),
                0o600,
                "{} is readable by others",
                entry.display()
            );
            assert_eq!(mode(entry.parent().unwrap()), 0o700);
            continue;
        }
        for n in needles {
            assert!(!contains(&bytes, n), "{} holds the secret", entry.display());
        }
    }
    let units = walk(&p.root.path().join("config"));
    assert!(!units.is_empty(), "no autostart unit was written");
    for entry in units {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        for n in needles {
            assert!(
                !contains(&bytes, n),
                "{} (a unit) holds the secret",
                entry.display()
            );
        }
    }
    let status_json = p.ok(&["status", "--json"]);
    assert!(!text(&status_json.stdout).contains(&secret));
}

#[test]
fn up_env_file_change_is_drift_without_showing_values() {
    let p = Project::new("envdrift");
    let env_path = p.dir.join(".env");
    let [s1, s2, s3] = ["Aa1-", "Bb2-", "Cc3-"].map(unique);
    let token = |s: &str| format!("MLENV_IT_TOKEN={s}");
    let inside = |name: &str| podman_ok(&["exec", name, "sh", "-c", "echo \"$MLENV_IT_TOKEN\""]);

    std::fs::write(&env_path, token(&s1) + "\n").unwrap();
    p.up(&["--gpu", "none", "--env-file", ".env"]);
    let name = p.name();
    let id = id_of(&name);
    assert_eq!(inside(&name).trim(), s1);

    // The same file with another value: refused, saying so without either value.
    std::fs::write(&env_path, token(&s2) + "\n").unwrap();
    let out = p.run(&["up", "--image", BUSYBOX, "--env-file", ".env"]);
    let stderr = text(&out.stderr);
    assert_eq!(code(&out), 4, "changed env values: {stderr}");
    assert!(stderr.contains("env values"), "{stderr}");
    assert!(stderr.contains("--recreate"), "{stderr}");
    for s in [&s1, &s2] {
        assert!(
            !stderr.contains(s.as_str()),
            "the drift message shows a value: {stderr}"
        );
    }
    assert_eq!(id_of(&name), id);
    assert_eq!(inside(&name).trim(), s1);
    // Without --env-file the running container is fine as it is.
    p.ok(&["up"]);
    assert_eq!(id_of(&name), id);

    p.ok(&["up", "--env-file", ".env", "--recreate"]);
    let id2 = id_of(&name);
    assert_ne!(id2, id);
    assert_eq!(inside(&name).trim(), s2);

    // A recreate for another reason keeps the env file and reads it again.
    std::fs::write(&env_path, token(&s3) + "\n").unwrap();
    p.ok(&["up", "--recreate", "--memory", "512m"]);
    assert_ne!(id_of(&name), id2);
    assert_eq!(
        inside(&name).trim(),
        s3,
        "the kept env file was not read again"
    );
    let labels = inspect(&name)["Config"]["Labels"].to_string();
    for s in [&s1, &s2, &s3] {
        assert!(
            !labels.contains(s.as_str()),
            "a label holds a value: {labels}"
        );
    }
}

/// Reads every readable `/proc/*/cmdline`; returns how many were read and which hold a needle.
fn scan_cmdlines(needles: &[&[u8]]) -> (usize, Vec<String>) {
    let mut read = 0;
    let mut hits = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return (0, hits);
    };
    for e in entries.flatten() {
        let file_name = e.file_name();
        let pid = file_name.to_string_lossy();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            read += 1;
            if needles.iter().any(|n| contains(&cmd, n)) {
                hits.push(format!("pid {pid}: {}", text(&cmd).replace('\0', " ")));
            }
        }
    }
    (read, hits)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// GPUs through CDI
// ---------------------------------------------------------------------------------------

#[test]
fn up_cdi_device_reaches_the_container() {
    for dev in ["zero", "full"] {
        let p = Project::new(&format!("cdi-{dev}"));
        let gpu = format!("mlenv.test/dev={dev}");
        p.up(&["--gpu", &gpu]);
        let name = p.name();
        let env = pid1_env(&name);
        assert!(
            env.iter().any(|e| e == "MLENV_TEST_CDI=1"),
            "{gpu}: MLENV_TEST_CDI=1 not in PID 1's env: {env:?}"
        );
        assert!(
            env.iter().any(|e| e == &format!("MLENV_TEST_DEV={dev}")),
            "{gpu}: MLENV_TEST_DEV={dev} not in PID 1's env: {env:?}"
        );
        assert_eq!(devices(&name), [format!("/dev/{dev}")], "{gpu}: devices");
        assert_eq!(settings_label(&name)["gpus"], serde_json::json!([gpu]));
    }
}

#[test]
fn up_gpu_none_and_the_default_without_an_nvidia_spec_attach_nothing() {
    for flags in [&["--gpu", "none"][..], &[][..]] {
        let p = Project::new("nogpu");
        let out = p.up(flags);
        let name = p.name();
        let stderr = text(&out.stderr);
        if flags.is_empty() {
            assert!(
                stderr.contains("GPUs: none"),
                "the default does not say `GPUs: none`: {stderr}"
            );
        }
        assert!(
            devices(&name).is_empty(),
            "{flags:?}: devices {:?}",
            devices(&name)
        );
        let env = pid1_env(&name);
        assert!(
            !env.iter().any(|e| e.starts_with("MLENV_TEST_")),
            "{flags:?}: CDI env in the container: {env:?}"
        );
        assert_eq!(settings_label(&name)["gpus"], serde_json::json!([]));
    }
}

// ---------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------

#[test]
fn up_limits_are_passed_and_podmans_warning_is_shown() {
    let p = Project::new("limits");
    let out = p.up(&["--gpu", "none", "--memory", "1g", "--cpus", "1"]);
    let name = p.name();
    assert!(state_running(&name));
    let stderr = text(&out.stderr);
    if cgroup_v2() {
        let hc = inspect(&name)["HostConfig"].clone();
        assert_eq!(hc["Memory"], 1u64 << 30, "{hc}");
        assert_eq!(hc["CpuQuota"], 100_000, "{hc}");
    } else {
        let warning =
            "Resource limits are not supported and ignored on cgroups V1 rootless systems";
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with('⚠') && l.contains(warning)),
            "no ⚠ line with podman's warning: {stderr}"
        );
    }
    let s = settings_label(&name);
    assert_eq!(s["memory"], 1u64 << 30);
    assert_eq!(s["cpus"], 1.0);
}

// ---------------------------------------------------------------------------------------
// Idempotence and drift
// ---------------------------------------------------------------------------------------

#[test]
fn up_twice_changes_nothing_and_up_starts_a_stopped_container() {
    let p = Project::new("idem");
    p.up(&["--gpu", "none"]);
    let name = p.name();
    let id = id_of(&name);
    let started = started_at(&name);

    let out = p.up(&["--gpu", "none"]);
    assert!(
        text(&out.stderr).contains("running"),
        "second up does not say running: {}",
        text(&out.stderr)
    );
    assert_eq!(id_of(&name), id, "second up replaced the container");
    assert_eq!(
        started_at(&name),
        started,
        "second up restarted the container"
    );
    assert!(state_running(&name));

    podman_ok(&["stop", "-t", "0", &name]);
    assert!(!state_running(&name), "podman stop did not stop {name}");
    let out = p.up(&[]);
    assert!(
        text(&out.stderr).contains("Started"),
        "up of a stopped container: {}",
        text(&out.stderr)
    );
    assert!(
        state_running(&name),
        "up did not start the stopped container"
    );
    assert_eq!(id_of(&name), id, "up recreated a stopped container");
    assert_ne!(started_at(&name), started, "StartedAt did not move");
    assert_eq!(containers_for(&p.dir), [name]);
}

#[test]
fn up_with_other_settings_is_refused_until_recreate() {
    let p = Project::new("drift");
    let a = harness::free_port();
    let mut b = harness::free_port();
    while b == a {
        b = harness::free_port();
    }
    p.up(&[
        "--gpu",
        "none",
        "--port",
        &format!("{a}:80"),
        "--memory",
        "1g",
    ]);
    let name = p.name();
    let id = id_of(&name);
    let started = started_at(&name);

    // Other ports: refused with exit 4, naming the setting, both values and --recreate.
    let out = p.run(&["up", "--image", BUSYBOX, "--port", &format!("{b}:80")]);
    let stderr = stderr_lines(&out);
    assert_eq!(code(&out), 4, "drift exit code; stderr: {stderr}");
    for want in [
        "ports".to_string(),
        format!("127.0.0.1:{a}->80/tcp"),
        format!("127.0.0.1:{b}->80/tcp"),
        "--recreate".to_string(),
    ] {
        assert!(
            stderr.contains(&want),
            "drift message lacks {want:?}: {stderr}"
        );
    }
    assert_eq!(id_of(&name), id, "a refused up replaced the container");
    assert_eq!(started_at(&name), started, "a refused up restarted it");
    assert_eq!(
        forwarded(&name, 80),
        [("127.0.0.1".to_string(), a.to_string())]
    );

    // The same settings again, or none at all: no drift.
    p.ok(&["up", "--image", BUSYBOX, "--port", &format!("{a}:80")]);
    let out = p.ok(&["up"]);
    assert!(
        text(&out.stderr).contains("running"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(id_of(&name), id);
    assert_eq!(started_at(&name), started);

    // --recreate applies the new ports and keeps what was not given (image, memory).
    let out = p.ok(&["up", "--port", &format!("{b}:80"), "--recreate"]);
    let new_id = id_of(&name);
    assert_ne!(
        new_id,
        id,
        "--recreate kept the old container: {}",
        text(&out.stderr)
    );
    assert!(state_running(&name));
    assert_eq!(
        forwarded(&name, 80),
        [("127.0.0.1".to_string(), b.to_string())]
    );
    let s = settings_label(&name);
    assert_eq!(s["memory"], 1u64 << 30, "memory not kept: {s}");
    assert_eq!(inspect(&name)["ImageName"], BUSYBOX, "image not kept");
    assert_eq!(containers_for(&p.dir), std::slice::from_ref(&name));
    // The old port is free again.
    assert!(
        wait_until(Duration::from_secs(5), || {
            std::net::TcpListener::bind(("127.0.0.1", a)).is_ok()
        }),
        "port {a} is still bound after the recreate"
    );
}

#[test]
fn up_same_settings_in_another_order_are_no_drift() {
    let p = Project::new("order");
    let a = harness::free_port();
    let mut b = harness::free_port();
    while b == a {
        b = harness::free_port();
    }
    std::fs::write(p.dir.join(".env"), "FIRST=1\nSECOND=2\n").unwrap();
    p.up(&[
        "--port",
        &format!("{a}:80,{b}:81"),
        "--gpu",
        "mlenv.test/dev=zero,mlenv.test/dev=full",
        "--env-file",
        ".env",
    ]);
    let name = p.name();
    let id = id_of(&name);
    let started = started_at(&name);

    std::fs::write(p.dir.join(".env"), "SECOND=2\nFIRST=1\n").unwrap();
    let out = p.run(&[
        "up",
        "--port",
        &format!("{b}:81"),
        "--port",
        &format!("{a}:80"),
        "--gpu",
        "mlenv.test/dev=full,mlenv.test/dev=zero",
        "--env-file",
        ".env",
    ]);
    assert_eq!(
        code(&out),
        0,
        "the same settings in another order are refused: {}",
        text(&out.stderr)
    );
    assert_eq!(id_of(&name), id);
    assert_eq!(started_at(&name), started);
    let mut fwd = forwarded(&name, 80);
    fwd.extend(forwarded(&name, 81));
    assert_eq!(
        fwd,
        [
            ("127.0.0.1".to_string(), a.to_string()),
            ("127.0.0.1".to_string(), b.to_string())
        ]
    );
}

// ---------------------------------------------------------------------------------------
// down, restart, rm
// ---------------------------------------------------------------------------------------

#[test]
fn up_then_down_restart_and_rm() {
    let p = Project::new("lifecycle");
    p.up(&["--gpu", "none"]);
    let name = p.name();
    let state_dir = p.state.join("mlenv").join(&name);
    assert!(state_dir.is_dir(), "no state dir {}", state_dir.display());

    let started = started_at(&name);
    p.ok(&["restart"]);
    assert!(state_running(&name), "not running after restart");
    assert_ne!(started_at(&name), started, "restart did not restart");

    let t = Instant::now();
    p.ok(&["down"]);
    assert!(!state_running(&name), "down did not stop {name}");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "down took {:?}: the container ignores SIGTERM",
        t.elapsed()
    );
    assert!(exists(&name), "down removed the container");
    p.ok(&["down"]); // already stopped: fine

    p.up(&[]);
    assert!(state_running(&name));
    let id = id_of(&name);
    let out = p.run(&["rm"]);
    assert_ne!(code(&out), 0, "rm of a running container succeeded");
    assert!(
        text(&out.stderr).contains("-f"),
        "rm refusal does not mention -f: {}",
        text(&out.stderr)
    );
    assert!(exists(&name), "rm without -f removed a running container");
    assert!(state_running(&name));
    assert_eq!(id_of(&name), id);

    p.ok(&["rm", "-f"]);
    assert!(!exists(&name), "rm -f left {name}");
    assert!(containers_for(&p.dir).is_empty());
    assert!(
        !state_dir.exists(),
        "rm -f left the state dir {}",
        state_dir.display()
    );
}

// ---------------------------------------------------------------------------------------
// Missing image
// ---------------------------------------------------------------------------------------

#[test]
fn up_recreate_with_a_missing_image_keeps_the_old_container() {
    let p = Project::new("recreate-noimage");
    p.up(&["--gpu", "none"]);
    let name = p.name();
    let id = id_of(&name);
    let image = "localhost/does-not-exist:2";
    let out = p.run(&["up", "--image", image, "--recreate"]);
    let stderr = text(&out.stderr);
    assert_ne!(
        code(&out),
        0,
        "recreate with a missing image succeeded: {stderr}"
    );
    assert!(
        stderr.contains(image),
        "error does not name the image: {stderr}"
    );
    assert!(exists(&name), "the old container was removed: {stderr}");
    assert_eq!(id_of(&name), id, "the old container was replaced");
    assert!(state_running(&name));
}

#[test]
fn up_with_a_missing_image_fails_and_creates_nothing() {
    let p = Project::new("noimage");
    let image = "localhost/does-not-exist:1";
    let out = p.run(&["up", "--image", image, "--gpu", "none"]);
    let stderr = text(&out.stderr);
    assert_ne!(code(&out), 0, "up with a missing image succeeded: {stderr}");
    assert!(
        stderr.contains(image),
        "error does not name the image: {stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.starts_with('✖')),
        "no error line: {stderr}"
    );
    let name = p.name();
    assert!(!exists(&name), "{name} was created");
    assert!(containers_for(&p.dir).is_empty());
    assert!(!harness::all_containers().contains(&name));
}

#[test]
fn up_recreate_that_cannot_start_keeps_the_old_container() {
    let p = Project::new("recreate-port-taken");
    let (a, b) = (free_port(), free_port());
    p.up(&["--gpu", "none", "--port", &format!("{a}:8080")]);
    let name = p.name();
    let id = id_of(&name);
    // Something else holds port b on the host, so the new container cannot start.
    let _holder = std::net::TcpListener::bind(("127.0.0.1", b)).unwrap();
    let out = p.run(&["up", "--port", &format!("{b}:8080"), "--recreate"]);
    let stderr = text(&out.stderr);
    assert_ne!(
        code(&out),
        0,
        "recreate onto a taken port succeeded: {stderr}"
    );
    assert!(stderr.contains("kept as it was"), "{stderr}");
    assert_eq!(id_of(&name), id, "the old container was replaced: {stderr}");
    assert!(state_running(&name), "the old container was left stopped");
    assert_eq!(
        forwarded(&name, 8080),
        [("127.0.0.1".to_string(), a.to_string())]
    );
    assert!(
        !exists(&format!("{name}-replaced")),
        "the set-aside copy was left behind"
    );

    // With the port free again the same command replaces it.
    drop(_holder);
    p.ok(&["up", "--port", &format!("{b}:8080"), "--recreate"]);
    assert_ne!(id_of(&name), id);
    assert_eq!(
        forwarded(&name, 8080),
        [("127.0.0.1".to_string(), b.to_string())]
    );
    assert!(!exists(&format!("{name}-replaced")));
}

#[test]
fn up_restores_a_container_set_aside_by_an_interrupted_recreate() {
    let p = Project::new("recreate-interrupted");
    p.up(&["--gpu", "none"]);
    let name = p.name();
    let id = id_of(&name);
    // What a --recreate killed between setting the old container aside and making the new
    // one leaves behind.
    podman_ok(&["stop", "-t", "0", &name]);
    podman_ok(&["rename", &name, &format!("{name}-replaced")]);
    p.up(&[]);
    assert_eq!(id_of(&name), id, "the old container was not restored");
    assert!(state_running(&name));
    assert!(!exists(&format!("{name}-replaced")));
}

#[test]
fn up_restarts_an_environment_whose_project_folder_was_replaced() {
    let p = Project::new("replaced folder ✓");
    p.up(&[]);
    let name = p.name();
    let dir = p.dir.to_str().unwrap().to_string();
    let started = started_at(&name);
    // What `rm -rf proj && git clone ... proj` does to the path the container mounts.
    std::fs::remove_dir_all(&p.dir).unwrap();
    std::fs::create_dir(&p.dir).unwrap();
    std::fs::write(p.dir.join("new.txt"), "the new folder\n").unwrap();
    // The container still has the old, deleted folder: the podman CLI does not see the file.
    let seen = harness::podman(&["exec", &name, "cat", &format!("{dir}/new.txt")]);
    assert!(!seen.status.success(), "the old mount shows the new file?");

    let status = p.ok(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["project_replaced"], true, "{v:#}");
    let shown = text(&p.ok(&["status"]).stdout);
    assert!(
        shown.contains("replaced since the container started"),
        "{shown}"
    );
    let exec = p.run(&["exec", "-c", "true"]);
    assert_ne!(code(&exec), 0);
    let err = text(&exec.stderr);
    assert!(
        err.contains("was replaced since") && err.contains("`mlenv up` restarts it"),
        "{err}"
    );

    let out = p.up(&[]);
    let err = text(&out.stderr);
    assert!(
        err.contains("was replaced since") && err.contains(&format!("Restarted {name}")),
        "{err}"
    );
    assert_ne!(started_at(&name), started, "not restarted");
    // The independent client now sees the new folder through the container.
    assert_eq!(
        podman_ok(&["exec", &name, "cat", &format!("{dir}/new.txt")]),
        "the new folder\n"
    );
    assert_eq!(
        text(&p.ok(&["exec", "-c", "cat new.txt"]).stdout),
        "the new folder\n"
    );
    let v: serde_json::Value = serde_json::from_slice(&p.ok(&["status", "--json"]).stdout).unwrap();
    assert_eq!(v["project_replaced"], false);

    // Unchanged from here on: the warm path again, no restart.
    let again = started_at(&name);
    let out = p.up(&[]);
    assert!(text(&out.stderr).contains("is running"));
    assert_eq!(
        started_at(&name),
        again,
        "restarted an unchanged environment"
    );
}

#[test]
fn up_reads_env_files_as_docker_compose_does() {
    let p = Project::new("compose env");
    // What Compose accepts and dotenvy did not: an unquoted value with spaces, inline
    // comments, interpolation; and the quoting rules.
    std::fs::write(
        p.dir.join(".env"),
        "# Compose-style\n\
         export A=1\n\
         PLAIN=hello world\n\
         INLINE=value # a comment\n\
         HASH=b#c\n\
         DOUBLE=\"tab\\there\"\n\
         SINGLE='$PLAIN stays'\n\
         MULTI=\"first\n\
         second\"\n\
         REF=${PLAIN}!\n\
         DEFAULT=${MLENV_IT_UNSET_VAR:-fallback}\n\
         EMPTY=\n",
    )
    .unwrap();
    p.up(&["--gpu", "none", "--env-file", ".env"]);
    let name = p.name();
    let env_of =
        |k: &str| podman_ok(&["exec", &name, "sh", "-c", &format!("printf '%s' \"${k}\"")]);
    let want = [
        ("A", "1"),
        ("PLAIN", "hello world"),
        ("INLINE", "value"),
        ("HASH", "b#c"),
        ("DOUBLE", "tab\there"),
        ("SINGLE", "$PLAIN stays"),
        ("MULTI", "first\nsecond"),
        ("REF", "hello world!"),
        ("DEFAULT", "fallback"),
        ("EMPTY", ""),
    ];
    for (k, v) in want {
        assert_eq!(env_of(k), v, "{k}");
    }

    // What Compose rejects is bad input: the line is named, the value never, nothing made.
    let q = Project::new("compose env bad");
    std::fs::write(
        q.dir.join(".env"),
        "GOOD=1\nMULTI=\"a\nb\"\nOPEN=\"s3cr3t-value\nMORE=2\n",
    )
    .unwrap();
    let out = q.run(&[
        "up",
        "--image",
        BUSYBOX,
        "--gpu",
        "none",
        "--env-file",
        ".env",
    ]);
    let err = text(&out.stderr);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(!err.contains("s3cr3t"), "{err}");
    assert!(containers_for(&q.dir).is_empty());
    assert!(!q.state.exists(), "mlenv wrote its state dir");
}

#[test]
fn up_onto_a_host_port_someone_else_holds_names_it_and_creates_nothing() {
    let p = Project::new("port-held-elsewhere");
    // Another program (on a login node: another user's) holds the port. Bound on port 0
    // and held from the start: a port found free and bound again later can be taken in
    // between by a test running beside this one.
    let _holder = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = _holder.local_addr().unwrap().port();
    let mapping = format!("{port}:80");
    let up = [
        "up", "--image", BUSYBOX, "--gpu", "none", "--port", &mapping,
    ];
    let out = p.run(&up);
    let stderr = text(&out.stderr);
    assert_eq!(code(&out), 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "host port 127.0.0.1:{port} is already in use on this machine"
        )) && stderr.contains("pick e.g. --port "),
        "{stderr}"
    );
    assert!(containers_for(&p.dir).is_empty(), "a container was made");
    // The port it suggests is one podman can forward.
    let suggested = stderr
        .split("pick e.g. --port ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    let host_port: u16 = suggested.split(':').next().unwrap().parse().unwrap();
    assert!(host_port > port, "{suggested}");
    assert_eq!(suggested, format!("{host_port}:80"));
    // With the port given back, the same `up` works. (Not an `up` with the suggested port:
    // tests in parallel take free ports too, and could race it.)
    drop(_holder);
    p.ok(&up);
    assert_eq!(
        forwarded(&p.name(), 80),
        [("127.0.0.1".to_string(), port.to_string())]
    );
}

#[test]
fn up_port_auto_picks_a_free_port_and_keeps_it() {
    let p = Project::new("port-auto");
    p.up(&["--gpu", "none", "--port", "auto:80"]);
    let name = p.name();
    let bound = forwarded(&name, 80);
    assert_eq!(bound.len(), 1, "{bound:?}");
    let (ip, port) = bound[0].clone();
    assert_eq!(ip, "127.0.0.1");
    assert_ne!(port, "0");
    // Asked again: the same setting, nothing to recreate.
    let out = p.up(&["--port", "auto:80"]);
    assert!(
        text(&out.stderr).contains("is running"),
        "{}",
        text(&out.stderr)
    );
    // status shows the port it got.
    let status: serde_json::Value =
        serde_json::from_slice(&p.ok(&["status", "--json"]).stdout).unwrap();
    assert!(status.to_string().contains(&port), "{status}");
    // A recreate for another setting keeps the port.
    p.ok(&["up", "--port", "auto:80", "--cpus", "1", "--recreate"]);
    assert_eq!(forwarded(&name, 80), [(ip, port)]);
}
