//! `mlenv up --requirements`: pip installs into a persistent per-image folder, once per set
//! of inputs. Everything runs offline against tiny wheels built here at test time; every
//! effect is checked through the podman CLI (`podman exec`, which leaves no exec session
//! behind, and `podman inspect`), the host filesystem and /proc.
//!
//! Whether pip ran is read from the container's exec sessions: an exec made through the API
//! (which is how mlenv runs pip) stays listed in `podman inspect`'s `ExecIDs` for minutes
//! after it ends, a CLI `podman exec` is not listed at all, and a (re)start clears the list.
//! (Checked by hand against podman 4.3.1.)

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use super::harness::{code, containers_for, podman_ok, unique, wheels};
use super::harness::{exists, free_port, inspect, podman, text, wait_until, Project, PYTHON};

// ---------------------------------------------------------------------------------------
// Wheels, requirements files, and what to look at
// ---------------------------------------------------------------------------------------

/// Files in the slow wheel: pip takes seconds to install it.
const SLOW_FILES: usize = 4000;

/// A project with a wheelhouse inside it; returns the project and the wheelhouse.
fn project_with_wheels(folder: &str, specs: &[(&str, &str, usize)]) -> (Project, PathBuf) {
    let p = Project::new(folder);
    let wh = p.dir.join("wheelhouse");
    wheels(&wh, specs);
    (p, wh)
}

/// The start of an offline requirements file: no index, the project's wheelhouse.
fn offline(wh: &Path) -> String {
    format!("--no-index\n--find-links {}\n", wh.display())
}

fn write(path: &Path, content: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

/// `mlenv up --image PYTHON --gpu none EXTRA...` (no assertion).
fn up_run(p: &Project, extra: &[&str]) -> Output {
    let mut args = vec!["up", "--image", PYTHON, "--gpu", "none"];
    args.extend_from_slice(extra);
    p.run(&args)
}

/// The same, asserting success; returns stderr.
fn up_ok(p: &Project, extra: &[&str]) -> String {
    let out = up_run(p, extra);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "mlenv up {extra:?} failed ({}):\nstdout: {}\nstderr: {stderr}",
        out.status,
        text(&out.stdout),
    );
    stderr
}

/// The 8 hex digits of `ℹ requirements unchanged (sha256 XXXXXXXX), skipping`, if stderr
/// has that line.
fn skipped(stderr: &str) -> Option<String> {
    stderr.lines().find_map(|l| {
        let h = l
            .trim_end()
            .strip_prefix("ℹ requirements unchanged (sha256 ")?
            .strip_suffix("), skipping")?;
        (h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit())).then(|| h.to_string())
    })
}

fn installed(stderr: &str) -> bool {
    stderr.contains("Installed requirements")
}

/// Asserts this `up` installed (pip ran and succeeded) and did not claim to skip.
fn assert_installed(stderr: &str, what: &str) {
    assert!(
        installed(stderr),
        "{what}: no \"Installed requirements\": {stderr}"
    );
    assert!(skipped(stderr).is_none(), "{what}: skipped: {stderr}");
}

/// Asserts this `up` skipped the install; returns the short hash it showed.
fn assert_skipped(stderr: &str, what: &str) -> String {
    let h = skipped(stderr).unwrap_or_else(|| {
        panic!("{what}: no `ℹ requirements unchanged (sha256 XXXXXXXX), skipping` line: {stderr}")
    });
    assert!(!installed(stderr), "{what}: installed anyway: {stderr}");
    h
}

/// How many exec sessions podman lists for the container (API execs linger for minutes).
fn exec_ids(name: &str) -> usize {
    inspect(name)["ExecIDs"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0)
}

/// The container's image ID.
fn image_id(name: &str) -> String {
    inspect(name)["Image"].as_str().unwrap().to_string()
}

/// The host folder of the packages installed for `image_id` in this project.
fn python_dir(p: &Project, name: &str, image_id: &str) -> PathBuf {
    p.root
        .path()
        .join("data/mlenv")
        .join(name)
        .join("python")
        .join(&image_id[..12])
}

fn record(p: &Project, name: &str) -> PathBuf {
    python_dir(p, name, &image_id(name)).join(".mlenv-requirements")
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .modified()
        .unwrap()
}

/// `pkg.VERSION` as `python3` in the container sees it, through the podman CLI (as the
/// container's user, with the container's environment); None when the import fails.
fn version(name: &str, pkg: &str) -> Option<String> {
    let out = podman(&[
        "exec",
        name,
        "python3",
        "-c",
        &format!("import {pkg}; print({pkg}.VERSION)"),
    ]);
    if !out.status.success() {
        // Shown with the test's failure: why the import failed.
        eprintln!(
            "podman exec {name} python3 (import {pkg}): {}",
            text(&out.stderr)
        );
    }
    out.status
        .success()
        .then(|| text(&out.stdout).trim().to_string())
}

fn assert_version(name: &str, pkg: &str, want: &str, what: &str) {
    let got = version(name, pkg);
    assert_eq!(
        got.as_deref(),
        Some(want),
        "{what}: `import {pkg}` in {name} gives {got:?}"
    );
}

fn my_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// Every path under `dir`, folders included.
fn walk_all(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            out.push(path.clone());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk_all(&path));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// Watching pip from the host
// ---------------------------------------------------------------------------------------

/// The container's PID namespace, as `/proc/PID/ns/pid` links read.
fn container_pidns(name: &str) -> PathBuf {
    let pid = inspect(name)["State"]["Pid"].as_i64().unwrap();
    assert!(pid > 0, "{name} has no PID 1");
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap()
}

/// Processes in that namespace whose command line runs `pip install`.
fn pip_pids(ns: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if !(contains(&cmd, b"pip") && contains(&cmd, b"install")) {
            continue;
        }
        if std::fs::read_link(e.path().join("ns/pid")).is_ok_and(|n| n == ns) {
            out.push(pid);
        }
    }
    out
}

/// Spawns `mlenv ARGS` with piped output, drained by threads; lines of stderr also arrive
/// on the returned channel as they are written.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    out: Option<std::thread::JoinHandle<Vec<u8>>>,
    err: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mlenv");
        let mut so = child.stdout.take().unwrap();
        let se = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let out = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = so.read_to_end(&mut v);
            v
        });
        let err = std::thread::spawn(move || {
            let mut v = Vec::new();
            let mut r = BufReader::new(se);
            let mut line = Vec::new();
            while r.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                v.extend_from_slice(&line);
                let _ = tx.send(text(&line));
                line.clear();
            }
            v
        });
        Running {
            child,
            lines,
            out: Some(out),
            err: Some(err),
        }
    }

    fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// Waits for the exit (at most `limit`); returns the status and stderr.
    fn finish(mut self, limit: Duration) -> (std::process::ExitStatus, String) {
        let end = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let err = self.err.take().unwrap().join().unwrap();
                panic!(
                    "mlenv did not exit within {limit:?}; stderr: {}",
                    text(&err)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = self.out.take().unwrap().join();
        let err = self.err.take().unwrap().join().unwrap();
        (status, text(&err))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Spawns `mlenv up --image PYTHON --gpu none EXTRA...`.
fn spawn_up(p: &Project, global: &[&str], extra: &[&str], env: &[(&str, &str)]) -> Running {
    let mut cmd = p.mlenv();
    cmd.args(global)
        .args(["up", "--image", PYTHON, "--gpu", "none"])
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Running::spawn(cmd)
}

/// Polls until pip runs in the namespace; panics (with mlenv's stderr) when mlenv exits
/// first or nothing shows up within a minute.
fn wait_for_pip(run: &mut Running, ns: &Path) -> Vec<String> {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let pids = pip_pids(ns);
        if !pids.is_empty() {
            return pids;
        }
        if let Some(st) = run.child.try_wait().unwrap() {
            let err = run.err.take().unwrap().join().unwrap();
            panic!(
                "mlenv exited ({st}) before pip was seen running: {}",
                text(&err)
            );
        }
        assert!(Instant::now() < end, "pip never ran in the container");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for every pip in the namespace to end (one orphaned by a killed mlenv goes on).
fn wait_pip_gone(ns: &Path) {
    assert!(
        wait_until(Duration::from_secs(120), || pip_pids(ns).is_empty()),
        "pip still runs in the container two minutes later"
    );
}

// ---------------------------------------------------------------------------------------
// First install, and the skip
// ---------------------------------------------------------------------------------------

#[test]
fn requirements_first_install_runs_as_the_user_and_is_importable_everywhere() {
    let (p, wh) = project_with_wheels("req-first", &[("reqfirst", "1.0", 0)]);
    write(&p.dir.join("reqs.txt"), &(offline(&wh) + "reqfirst==1.0\n"));
    let stderr = up_ok(&p, &["--requirements", "reqs.txt"]);
    assert_installed(&stderr, "first up");
    // pip's own output is shown (on stderr) without --quiet.
    assert!(
        stderr.contains("Installing collected packages") && stderr.contains("reqfirst"),
        "pip's output is not on stderr: {stderr}"
    );
    let name = p.name();

    // Importable by python3 as the container's user, through the podman CLI...
    assert_version(&name, "reqfirst", "1.0", "podman exec");
    // ...and through mlenv exec -c.
    let out = p.ok(&[
        "exec",
        "-c",
        "python3 -c 'import reqfirst; print(reqfirst.VERSION)'",
    ]);
    assert_eq!(text(&out.stdout).trim(), "1.0", "mlenv exec -c");
    // Installed as the caller (keep-id), into the user base, not the image's site-packages.
    let whoami = podman_ok(&["exec", &name, "id", "-u"]);
    assert_eq!(whoami.trim(), my_uid().to_string());
    let file = podman_ok(&[
        "exec",
        &name,
        "python3",
        "-c",
        "import reqfirst; print(reqfirst.__file__)",
    ]);
    assert!(
        file.trim().starts_with("/opt/mlenv/python/"),
        "reqfirst was imported from {file}"
    );

    // On the host: the data dir for this image holds the package and the record, all the
    // caller's.
    let image = image_id(&name);
    let dir = python_dir(&p, &name, &image);
    assert!(dir.is_dir(), "no python dir {}", dir.display());
    let entries = walk_all(&dir);
    assert!(
        entries.iter().any(|e| e.ends_with("reqfirst/__init__.py")),
        "reqfirst is not under {}: {entries:?}",
        dir.display()
    );
    assert!(
        dir.join(".mlenv-requirements").is_file(),
        "no record in {}",
        dir.display()
    );
    for e in &entries {
        let meta = std::fs::symlink_metadata(e).unwrap();
        assert_eq!(meta.uid(), my_uid(), "{} owner", e.display());
    }
    // The mounts the design promises: the user base and the shared pip cache.
    let mounts = inspect(&name)["Mounts"].clone();
    let source_of = |dest: &str| -> Option<String> {
        mounts.as_array().unwrap().iter().find_map(|m| {
            (m["Destination"] == dest).then(|| m["Source"].as_str().unwrap().to_string())
        })
    };
    assert_eq!(
        source_of("/opt/mlenv/python").map(PathBuf::from),
        Some(dir.clone()),
        "mounts: {mounts}"
    );
    assert_eq!(
        source_of("/opt/mlenv/pip-cache").map(PathBuf::from),
        Some(p.root.path().join("cache/mlenv/pip")),
        "mounts: {mounts}"
    );
    assert!(p.root.path().join("cache/mlenv/pip").is_dir());
}

#[test]
fn requirements_unchanged_up_skips_without_any_exec() {
    let (p, wh) = project_with_wheels("req-skip", &[("reqskip", "1.0", 0)]);
    write(&p.dir.join("reqs.txt"), &(offline(&wh) + "reqskip\n"));
    let first = up_ok(&p, &["--requirements", "reqs.txt"]);
    assert_installed(&first, "first up");
    let name = p.name();
    let rec = record(&p, &name);
    let when = mtime(&rec);
    let execs = exec_ids(&name);
    assert!(execs >= 1, "the install made no exec session ({execs})");

    let second = up_ok(&p, &["--requirements", "reqs.txt"]);
    let h1 = assert_skipped(&second, "second up");
    assert!(
        !second.contains("Installing collected packages"),
        "pip ran: {second}"
    );
    assert_eq!(exec_ids(&name), execs, "the skipping up made an exec");
    assert_eq!(mtime(&rec), when, "the record was rewritten");
    // The record holds the hash the message shows.
    let recorded = std::fs::read_to_string(&rec).unwrap();
    assert!(
        recorded.contains(&h1),
        "the record {recorded:?} does not hold {h1}"
    );

    // Again, with the path given another way: same inputs, same hash, still no exec.
    let abs = p.dir.join("reqs.txt");
    let third = up_ok(&p, &["--requirements", abs.to_str().unwrap()]);
    assert_eq!(assert_skipped(&third, "third up"), h1);
    assert_eq!(exec_ids(&name), execs, "the third up made an exec");
    assert_eq!(mtime(&rec), when);
    assert_version(&name, "reqskip", "1.0", "after the skips");
}

// ---------------------------------------------------------------------------------------
// What reinstalls
// ---------------------------------------------------------------------------------------

#[test]
fn requirements_changed_file_reinstalls() {
    let (p, wh) = project_with_wheels("req-changed", &[("reqchg", "1.0", 0), ("reqchg", "2.0", 0)]);
    let file = p.dir.join("reqs.txt");
    write(&file, &(offline(&wh) + "reqchg==1.0\n"));
    assert_installed(&up_ok(&p, &["--requirements", "reqs.txt"]), "v1");
    let name = p.name();
    assert_version(&name, "reqchg", "1.0", "v1");
    let h1 = assert_skipped(&up_ok(&p, &["--requirements", "reqs.txt"]), "v1 again");

    write(&file, &(offline(&wh) + "reqchg==2.0\n"));
    let before = exec_ids(&name);
    assert_installed(&up_ok(&p, &["--requirements", "reqs.txt"]), "v2");
    assert!(exec_ids(&name) > before, "no exec for the changed file");
    assert_version(&name, "reqchg", "2.0", "v2");
    let h2 = assert_skipped(&up_ok(&p, &["--requirements", "reqs.txt"]), "v2 again");
    assert_ne!(h1, h2, "another file, the same hash");

    // A change that pip would not care about (a comment) is still a change of the bytes.
    write(&file, &(offline(&wh) + "# pinned\nreqchg==2.0\n"));
    let before = exec_ids(&name);
    assert_installed(&up_ok(&p, &["--requirements", "reqs.txt"]), "comment");
    assert!(exec_ids(&name) > before);
}

#[test]
fn requirements_changed_referenced_file_reinstalls_and_force_reinstalls() {
    let (p, wh) = project_with_wheels("req-refs", &[("reqref", "1.0", 0), ("reqref", "2.0", 0)]);
    // reqs.txt -> -r sub/base.txt -> --constraint cons.txt (relative to sub/).
    write(
        &p.dir.join("reqs.txt"),
        &(offline(&wh) + "-r sub/base.txt\n"),
    );
    write(
        &p.dir.join("sub/base.txt"),
        "--constraint cons.txt\nreqref\n",
    );
    let cons = p.dir.join("sub/cons.txt");
    write(&cons, "reqref==1.0\n");
    // A decoy next to reqs.txt: references are relative to the referencing file's folder.
    write(&p.dir.join("cons.txt"), "reqref==2.0\n");

    assert_installed(&up_ok(&p, &["--requirements", "reqs.txt"]), "first");
    let name = p.name();
    assert_version(&name, "reqref", "1.0", "first");
    let h1 = assert_skipped(&up_ok(&p, &["--requirements", "reqs.txt"]), "first again");

    // The decoy is no input.
    write(&p.dir.join("cons.txt"), "reqref==1.0\n");
    assert_eq!(
        assert_skipped(&up_ok(&p, &["--requirements", "reqs.txt"]), "decoy changed"),
        h1
    );

    // The constraints file, two levels down, changes: reinstall.
    write(&cons, "reqref==2.0\n");
    let before = exec_ids(&name);
    assert_installed(&up_ok(&p, &["--requirements", "reqs.txt"]), "constraint");
    assert!(
        exec_ids(&name) > before,
        "no exec for the changed constraint"
    );
    assert_version(&name, "reqref", "2.0", "constraint changed");
    let h2 = assert_skipped(&up_ok(&p, &["--requirements", "reqs.txt"]), "again");
    assert_ne!(h1, h2);

    // The middle file changes (long option names this time): reinstall.
    write(
        &p.dir.join("reqs.txt"),
        &(offline(&wh) + "--requirement sub/base.txt\n"),
    );
    write(
        &p.dir.join("sub/base.txt"),
        "-c cons.txt\nreqref\n# edited\n",
    );
    let before = exec_ids(&name);
    assert_installed(&up_ok(&p, &["--requirements", "reqs.txt"]), "base");
    assert!(exec_ids(&name) > before);
    let h3 = assert_skipped(&up_ok(&p, &["--requirements", "reqs.txt"]), "base again");
    assert_ne!(h3, h2);

    // --force-requirements: pip runs though nothing changed.
    let rec = record(&p, &name);
    let before = exec_ids(&name);
    let forced = up_ok(&p, &["--requirements", "reqs.txt", "--force-requirements"]);
    assert_installed(&forced, "--force-requirements");
    assert!(
        exec_ids(&name) > before,
        "--force-requirements made no exec"
    );
    assert!(rec.is_file(), "no record after the forced install");
    assert_version(&name, "reqref", "2.0", "forced");
    // And the next plain up skips again, with the same hash.
    assert_eq!(
        assert_skipped(&up_ok(&p, &["--requirements", "reqs.txt"]), "after force"),
        h3
    );
}

#[test]
fn requirements_console_scripts_are_on_path_in_exec_and_the_login_shell() {
    let (p, wh) = project_with_wheels("req-scripts", &[("reqcli", "1.0", 0)]);
    write(&p.dir.join("reqs.txt"), &(offline(&wh) + "reqcli\n"));
    assert_installed(&up_ok(&p, &["--requirements", "reqs.txt"]), "install");
    let name = p.name();
    let script = python_dir(&p, &name, &image_id(&name)).join("bin/reqcli-tool");
    assert!(
        script.is_file(),
        "no console script at {}",
        script.display()
    );

    // The container's own environment (podman exec), and `mlenv exec -c` (sh -c).
    assert_eq!(
        podman_ok(&["exec", &name, "reqcli-tool"]).trim(),
        "tool 1.0"
    );
    let out = p.ok(&["exec", "-c", "reqcli-tool"]);
    assert_eq!(text(&out.stdout).trim(), "tool 1.0", "mlenv exec -c");

    // `mlenv exec` without -c: the login shell (commands from stdin here, no TTY). A login
    // shell reads /etc/profile, which on Debian and Ubuntu images sets PATH afresh.
    let mut child = p
        .mlenv()
        .arg("exec")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"echo \"PATH=$PATH\"; reqcli-tool; python3 -c 'import reqcli; print(reqcli.VERSION)'\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().any(|l| l == "tool 1.0"),
        "the login shell of `mlenv exec` does not find the console script: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(stdout.lines().any(|l| l == "1.0"), "{stdout}");
}

#[test]
fn requirements_two_concurrent_ups_install_once() {
    let (p, wh) = project_with_wheels("req-concurrent", &[("reqconc", "1.0", SLOW_FILES)]);
    write(&p.dir.join("reqs.txt"), &(offline(&wh) + "reqconc\n"));
    // The container first: both `up`s then find it running.
    assert!(!installed(&up_ok(&p, &["--requirements", "none"])));
    let name = p.name();
    let before = exec_ids(&name);
    let a = spawn_up(&p, &[], &["--requirements", "reqs.txt"], &[]);
    let b = spawn_up(&p, &[], &["--requirements", "reqs.txt"], &[]);
    let (sa, ea) = a.finish(Duration::from_secs(180));
    let (sb, eb) = b.finish(Duration::from_secs(180));
    assert!(sa.success() && sb.success(), "a: {ea}\nb: {eb}");
    assert_version(&name, "reqconc", "1.0", "after both");
    let pip_runs = exec_ids(&name) - before;
    assert_eq!(
        (pip_runs, [&ea, &eb].iter().filter(|e| installed(e)).count()),
        (1, 1),
        "two `up`s at once: pip should run once, the other `up` skip; a: {ea}\nb: {eb}"
    );
    assert!(
        skipped(&ea).is_some() || skipped(&eb).is_some(),
        "neither `up` skipped: a: {ea}\nb: {eb}"
    );
}

// ---------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------

#[test]
fn requirements_pip_failure_is_reported_recorded_nowhere_and_retried() {
    let (p, wh) = project_with_wheels("req-fail", &[("reqok", "1.0", 0)]);
    let file = p.dir.join("reqs.txt");
    write(&file, &(offline(&wh) + "reqok\nnonexistent-pkg==1\n"));

    let check_failure = |out: &Output, what: &str| {
        let stderr = text(&out.stderr);
        assert_eq!(code(out), 1, "{what}: exit code; stderr: {stderr}");
        assert!(
            stderr.lines().any(|l| l.starts_with('✖')
                && l.contains("Failed to install requirements (pip exit 1)")
                && l.contains("mlenv logs --mlenv")),
            "{what}: no failure line: {stderr}"
        );
        assert!(!installed(&stderr), "{what}: {stderr}");
        assert!(skipped(&stderr).is_none(), "{what}: {stderr}");
    };

    let out = up_run(&p, &["--requirements", "reqs.txt"]);
    check_failure(&out, "first up");
    let name = p.name();
    assert!(exists(&name), "the container was removed after pip failed");
    assert_eq!(
        inspect(&name)["State"]["Running"],
        true,
        "the container is not running after pip failed"
    );
    let rec = record(&p, &name);
    assert!(!rec.exists(), "a failed install was recorded");
    // The log the message points at says why.
    let log = p.ok(&["logs", "--mlenv"]);
    assert!(
        text(&log.stdout).contains("nonexistent-pkg"),
        "mlenv logs --mlenv does not show pip's error: {}",
        text(&log.stdout)
    );

    // The next up runs pip again (and fails again).
    let before = exec_ids(&name);
    let out = up_run(&p, &["--requirements", "reqs.txt"]);
    check_failure(&out, "second up");
    assert!(exec_ids(&name) > before, "the second up did not run pip");
    assert!(!rec.exists());

    // Fixed: installs, records, then skips.
    write(&file, &(offline(&wh) + "reqok\n"));
    assert_installed(&up_ok(&p, &["--requirements", "reqs.txt"]), "fixed");
    assert!(rec.is_file());
    assert_version(&name, "reqok", "1.0", "fixed");
    assert_skipped(&up_ok(&p, &["--requirements", "reqs.txt"]), "fixed again");
}

#[test]
fn requirements_install_interrupted_by_sigkill_or_sigint_is_retried() {
    let (p, wh) = project_with_wheels(
        "req-killed",
        &[
            ("reqslow", "1.0", SLOW_FILES),
            ("reqslow", "2.0", SLOW_FILES),
        ],
    );
    let file = p.dir.join("reqs.txt");
    write(&file, &(offline(&wh) + "reqslow==1.0\n"));
    // The container first, so that its PID namespace is known before pip starts.
    let out = up_ok(&p, &["--requirements", "none"]);
    assert!(!installed(&out));
    let name = p.name();
    let ns = container_pidns(&name);
    let rec = record(&p, &name);

    // SIGKILL while pip runs.
    let mut run = spawn_up(&p, &[], &["--requirements", "reqs.txt"], &[]);
    wait_for_pip(&mut run, &ns);
    nix::sys::signal::kill(run.pid(), nix::sys::signal::Signal::SIGKILL).unwrap();
    let (status, stderr) = run.finish(Duration::from_secs(10));
    assert!(!status.success(), "mlenv survived SIGKILL: {stderr}");
    assert!(!installed(&stderr), "{stderr}");
    wait_pip_gone(&ns);
    assert!(
        !rec.exists(),
        "an install whose mlenv was killed was recorded"
    );

    let retried = up_ok(&p, &["--requirements", "reqs.txt"]);
    assert_installed(&retried, "after SIGKILL");
    assert!(rec.is_file());
    assert_version(&name, "reqslow", "1.0", "after SIGKILL");

    // SIGINT (Ctrl-C) while pip installs a changed file.
    write(&file, &(offline(&wh) + "reqslow==2.0\n"));
    let mut run = spawn_up(&p, &[], &["--requirements", "reqs.txt"], &[]);
    wait_for_pip(&mut run, &ns);
    nix::sys::signal::kill(run.pid(), nix::sys::signal::Signal::SIGINT).unwrap();
    let (status, stderr) = run.finish(Duration::from_secs(60));
    assert!(
        !status.success(),
        "mlenv up succeeded though interrupted: {stderr}"
    );
    assert!(!installed(&stderr), "{stderr}");
    // Ctrl-C is passed on to pip: it stops with mlenv rather than racing the next `up`.
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("Interrupted"), "{stderr}");
    assert!(
        wait_until(Duration::from_secs(5), || pip_pids(&ns).is_empty()),
        "pip still runs in the container after Ctrl-C"
    );

    let retried = up_ok(&p, &["--requirements", "reqs.txt"]);
    assert_installed(&retried, "after SIGINT");
    assert_version(&name, "reqslow", "2.0", "after SIGINT");
    assert_skipped(
        &up_ok(&p, &["--requirements", "reqs.txt"]),
        "after the retry",
    );
}

// ---------------------------------------------------------------------------------------
// What keeps the packages, and what starts afresh
// ---------------------------------------------------------------------------------------

/// A genuinely different image (another ID) made from the python image; removed on drop.
struct TempImage(String);

impl TempImage {
    fn new() -> TempImage {
        let tag = format!("localhost/mlenv-test/python-req:{}", unique("t"));
        let ctr = unique("mlenv-req-commit-");
        podman_ok(&["run", "--name", &ctr, PYTHON, "touch", "/mlenv-req-marker"]);
        let committed = podman(&["commit", "-q", &ctr, &tag]);
        let _ = podman(&["rm", "-f", &ctr]);
        assert!(
            committed.status.success(),
            "podman commit: {}",
            text(&committed.stderr)
        );
        TempImage(tag)
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = podman(&["rmi", "-f", &self.0]);
    }
}

#[test]
fn requirements_new_image_installs_into_a_fresh_folder() {
    // Declared first, so dropped after the project (and its container).
    let other = TempImage::new();
    let (p, wh) = project_with_wheels("req-image", &[("reqimg", "1.0", 0)]);
    write(&p.dir.join("reqs.txt"), &(offline(&wh) + "reqimg\n"));
    assert_installed(&up_ok(&p, &["--requirements", "reqs.txt"]), "first image");
    let name = p.name();
    let first_id = image_id(&name);
    let first_dir = python_dir(&p, &name, &first_id);
    let first_record = first_dir.join(".mlenv-requirements");
    let first_when = mtime(&first_record);
    let h1 = assert_skipped(&up_ok(&p, &["--requirements", "reqs.txt"]), "first again");

    let other_id = inspect(&other.0)["Id"].as_str().unwrap().to_string();
    assert_ne!(
        other_id[..12],
        first_id[..12],
        "the new image has the same ID"
    );
    let other_dir = python_dir(&p, &name, &other_id);
    assert!(
        !other_dir.exists(),
        "{} exists already",
        other_dir.display()
    );

    let out = p.run(&[
        "up",
        "--image",
        &other.0,
        "--gpu",
        "none",
        "--recreate",
        "--requirements",
        "reqs.txt",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "recreate onto {}: {stderr}", other.0);
    assert_installed(&stderr, "new image");
    assert_eq!(image_id(&name), other_id);
    assert!(
        other_dir.join(".mlenv-requirements").is_file(),
        "no record in the new image's folder {}",
        other_dir.display()
    );
    assert!(
        walk_all(&other_dir)
            .iter()
            .any(|e| e.ends_with("reqimg/__init__.py")),
        "reqimg is not in the new image's folder"
    );
    assert_version(&name, "reqimg", "1.0", "new image");
    // The old image's folder is left as it was.
    assert_eq!(mtime(&first_record), first_when);

    // Back to the first image: its folder is still there, so nothing to install.
    let out = p.run(&[
        "up",
        "--image",
        PYTHON,
        "--gpu",
        "none",
        "--recreate",
        "--requirements",
        "reqs.txt",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "recreate back: {stderr}");
    assert_eq!(assert_skipped(&stderr, "back to the first image"), h1);
    assert_eq!(exec_ids(&name), 0, "pip ran for the first image again");
    assert_version(&name, "reqimg", "1.0", "first image again");
}

#[test]
fn requirements_survive_rm_and_come_back_without_pip() {
    let (p, wh) = project_with_wheels("req-rm", &[("reqrm", "1.0", 0)]);
    write(&p.dir.join("reqs.txt"), &(offline(&wh) + "reqrm\n"));
    assert_installed(&up_ok(&p, &["--requirements", "reqs.txt"]), "first");
    let name = p.name();
    let rec = record(&p, &name);
    let when = mtime(&rec);

    p.ok(&["rm", "-f"]);
    assert!(!exists(&name));
    assert!(
        !p.state.join("mlenv").join(&name).exists(),
        "rm left the state dir"
    );
    assert!(rec.is_file(), "rm removed the installed packages");

    let stderr = up_ok(&p, &["--requirements", "reqs.txt"]);
    assert_skipped(&stderr, "up after rm");
    assert_eq!(exec_ids(&name), 0, "the new container ran pip");
    assert_eq!(mtime(&rec), when);
    assert_version(&name, "reqrm", "1.0", "after rm + up");
}

#[test]
fn requirements_survive_down_up_restart_and_recreate_without_pip() {
    let (p, wh) = project_with_wheels("req-keep", &[("reqkeep", "1.0", 0)]);
    write(&p.dir.join("reqs.txt"), &(offline(&wh) + "reqkeep\n"));
    assert_installed(&up_ok(&p, &["--requirements", "reqs.txt"]), "first");
    let name = p.name();
    let rec = record(&p, &name);
    let when = mtime(&rec);

    // A (re)start clears podman's list of exec sessions, so 0 afterwards means pip did not run.
    p.ok(&["down"]);
    assert_skipped(&up_ok(&p, &["--requirements", "reqs.txt"]), "down + up");
    assert_eq!(exec_ids(&name), 0, "down + up ran pip");
    assert_version(&name, "reqkeep", "1.0", "down + up");

    p.ok(&["restart"]);
    assert_eq!(inspect(&name)["State"]["Running"], true);
    assert_eq!(exec_ids(&name), 0, "restart ran something in the container");
    assert_version(&name, "reqkeep", "1.0", "restart");

    let id = inspect(&name)["Id"].clone();
    let port = free_port().to_string();
    let stderr = up_ok(
        &p,
        &["--recreate", "--port", &port, "--requirements", "reqs.txt"],
    );
    assert_ne!(inspect(&name)["Id"], id, "--recreate kept the container");
    assert_skipped(&stderr, "--recreate");
    assert_eq!(exec_ids(&name), 0, "--recreate ran pip");
    assert_version(&name, "reqkeep", "1.0", "--recreate");
    assert_eq!(mtime(&rec), when, "the record was rewritten");
}

// ---------------------------------------------------------------------------------------
// Which file
// ---------------------------------------------------------------------------------------

#[test]
fn requirements_path_with_spaces_works() {
    let (p, wh) = project_with_wheels("req-spaces", &[("reqspace", "1.0", 0)]);
    write(
        &p.dir.join("my reqs/req s.txt"),
        &(offline(&wh) + "reqspace\n"),
    );
    assert_installed(
        &up_ok(&p, &["--requirements", "my reqs/req s.txt"]),
        "path with spaces",
    );
    let name = p.name();
    assert_version(&name, "reqspace", "1.0", "path with spaces");
    assert_skipped(
        &up_ok(&p, &["--requirements", "my reqs/req s.txt"]),
        "path with spaces again",
    );
}

#[test]
fn requirements_default_file_and_none() {
    let (p, wh) = project_with_wheels("req-default", &[("reqdef", "1.0", 0)]);
    write(
        &p.dir.join("requirements.txt"),
        &(offline(&wh) + "reqdef\n"),
    );

    // `none` skips, requirements.txt or not, and says nothing about installing.
    let stderr = up_ok(&p, &["--requirements", "none"]);
    assert!(
        !stderr.contains("nstall") && skipped(&stderr).is_none(),
        "--requirements none talked about installing: {stderr}"
    );
    let name = p.name();
    assert_eq!(exec_ids(&name), 0, "--requirements none ran something");
    assert_eq!(version(&name, "reqdef"), None, "reqdef was installed");
    assert!(!record(&p, &name).exists());

    // No flag: the project's requirements.txt.
    let stderr = up_ok(&p, &[]);
    assert_installed(&stderr, "default requirements.txt");
    assert_version(&name, "reqdef", "1.0", "default requirements.txt");
    assert_skipped(&up_ok(&p, &[]), "default again");
    // `none` with an installed file: still quiet about it, no exec.
    let before = exec_ids(&name);
    let stderr = up_ok(&p, &["--requirements", "none"]);
    assert!(
        !stderr.contains("nstall") && skipped(&stderr).is_none(),
        "{stderr}"
    );
    assert_eq!(exec_ids(&name), before);
}

#[test]
fn requirements_missing_or_outside_files_are_bad_input_and_create_nothing() {
    let p = Project::new("req-missing");
    let check = |args: &[&str], names: &str, what: &str| {
        let out = up_run(&p, args);
        let stderr = text(&out.stderr);
        assert_eq!(code(&out), 2, "{what}: exit code; stderr: {stderr}");
        assert!(
            stderr.lines().any(|l| l.starts_with('✖')),
            "{what}: no ✖ line: {stderr}"
        );
        assert!(
            stderr.contains(names),
            "{what}: does not name {names}: {stderr}"
        );
        assert!(
            containers_for(&p.dir).is_empty(),
            "{what}: a container was created"
        );
        assert!(
            !p.root.path().join("data").exists(),
            "{what}: a data dir was created"
        );
        stderr
    };

    let stderr = check(&["--requirements", "nope.txt"], "nope.txt", "missing file");
    // Not even the state dir (lock, log) was written.
    assert!(
        !p.state.exists(),
        "mlenv wrote its state dir {}",
        p.state.display()
    );
    assert!(
        stderr.contains("Requirements file not found: nope.txt")
            || stderr.contains(&format!(
                "Requirements file not found: {}",
                p.dir.join("nope.txt").display()
            )),
        "{stderr}"
    );

    // A referenced file that is missing.
    write(&p.dir.join("reqs.txt"), "-r base.txt\nsomething\n");
    let stderr = check(&["--requirements", "reqs.txt"], "base.txt", "missing -r");
    assert!(stderr.contains("not found"), "{stderr}");

    // A file outside the project folder (the container would not see it).
    let outside = p.root.path().join("outside.txt");
    write(&outside, "something\n");
    check(
        &["--requirements", outside.to_str().unwrap()],
        "outside.txt",
        "outside the project",
    );
    assert!(!p.state.join("mlenv").join(p.name()).join("lock").exists());
    assert!(!exists(&p.name()), "the container exists");
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

#[test]
fn requirements_quiet_hides_pip_and_otherwise_pip_streams_live() {
    let (p, wh) = project_with_wheels(
        "req-quiet",
        &[("reqquiet", "1.0", 0), ("reqquiet", "2.0", SLOW_FILES)],
    );
    let file = p.dir.join("reqs.txt");
    write(&file, &(offline(&wh) + "reqquiet==1.0\n"));
    let out = p.run(&[
        "--quiet",
        "up",
        "--image",
        PYTHON,
        "--gpu",
        "none",
        "--requirements",
        "reqs.txt",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "quiet up: {stderr}");
    for pip_line in [
        "Processing",
        "Installing collected packages",
        "Successfully installed",
        "Looking in links",
    ] {
        assert!(
            !stderr.contains(pip_line),
            "--quiet shows pip's {pip_line:?}: {stderr}"
        );
    }
    let name = p.name();
    assert_version(&name, "reqquiet", "1.0", "quiet install");
    assert!(record(&p, &name).is_file());

    // Without --quiet pip's lines arrive while pip still runs (it then takes seconds to
    // unpack the slow wheel), not when it is done.
    write(&file, &(offline(&wh) + "reqquiet==2.0\n"));
    let ns = container_pidns(&name);
    let run = spawn_up(&p, &[], &["--requirements", "reqs.txt"], &[]);
    let end = Instant::now() + Duration::from_secs(120);
    let mut live = false;
    while Instant::now() < end {
        match run.lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.contains("Installing collected packages") => {
                live = !pip_pids(&ns).is_empty();
                break;
            }
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let (status, stderr) = run.finish(Duration::from_secs(120));
    assert!(status.success(), "up: {stderr}");
    assert!(
        stderr.contains("Installing collected packages"),
        "no pip output without --quiet: {stderr}"
    );
    assert!(live, "pip's output came only after pip was done: {stderr}");
    assert_installed(&stderr, "v2");
    assert_version(&name, "reqquiet", "2.0", "v2");
}

// ---------------------------------------------------------------------------------------
// Proxy and index settings
// ---------------------------------------------------------------------------------------

#[test]
fn requirements_proxy_and_index_settings_reach_pip_but_no_log_or_command_line() {
    let (p, wh) = project_with_wheels("req-proxy", &[("reqproxy", "1.0", SLOW_FILES)]);
    let [s1, s2, s3] = ["Ix7p-", "Ex3q-", "Px5r-"].map(unique);
    let index = format!("http://user:{s1}@127.0.0.1:9/simple");
    let extra = format!("http://user:{s2}@127.0.0.1:9/extra");
    let proxy = format!("http://proxyuser:{s3}@127.0.0.1:9");
    let set: [(&str, &str); 5] = [
        ("PIP_INDEX_URL", &index),
        ("PIP_EXTRA_INDEX_URL", &extra),
        ("PIP_TRUSTED_HOST", "127.0.0.1"),
        ("HTTPS_PROXY", &proxy),
        ("no_proxy", "localhost,.example.internal"),
    ];
    // The wheel by path: pip needs no index for it, and still shows the indexes it was
    // given (with the password masked), which proves the settings reached it.
    write(
        &p.dir.join("reqs.txt"),
        &format!("{}\n", wh.join("reqproxy-1.0-py3-none-any.whl").display()),
    );
    assert!(!installed(&up_ok(&p, &["--requirements", "none"])));
    let name = p.name();
    let ns = container_pidns(&name);

    let mut env: Vec<(&str, &str)> = set.to_vec();
    env.push(("MLENV_IT_NOT_PASSED", "1"));
    let mut run = spawn_up(&p, &["-v"], &["--requirements", "reqs.txt"], &env);
    let needles = [s1.as_bytes(), s2.as_bytes(), s3.as_bytes()];
    let mut environs: Vec<(String, Vec<String>)> = Vec::new();
    let end = Instant::now() + Duration::from_secs(120);
    while run.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "mlenv up hangs");
        // No command line on the host (the container's processes included) holds a secret.
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
                for n in needles {
                    assert!(
                        !contains(&cmd, n),
                        "a secret is on a command line: {}",
                        text(&cmd).replace('\0', " ")
                    );
                }
            }
        }
        for pid in pip_pids(&ns) {
            if environs.iter().any(|(p, _)| p == &pid) {
                continue;
            }
            if let Ok(raw) = std::fs::read(format!("/proc/{pid}/environ")) {
                let vars = raw
                    .split(|b| *b == 0)
                    .filter(|v| !v.is_empty())
                    .map(text)
                    .collect();
                environs.push((pid, vars));
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (status, stderr) = run.finish(Duration::from_secs(10));
    assert!(status.success(), "up with proxy settings: {stderr}");
    assert_installed(&stderr, "with proxy settings");
    assert_version(&name, "reqproxy", "1.0", "with proxy settings");

    // pip got them: it lists the indexes, password masked.
    assert!(
        stderr.contains("user:****@127.0.0.1:9/simple")
            && stderr.contains("user:****@127.0.0.1:9/extra"),
        "pip did not show PIP_INDEX_URL / PIP_EXTRA_INDEX_URL: {stderr}"
    );
    assert!(!environs.is_empty(), "pip was never seen running");
    for (pid, vars) in &environs {
        for (k, v) in set {
            assert!(
                vars.iter().any(|e| *e == format!("{k}={v}")),
                "pip (pid {pid}) lacks {k}: {vars:?}"
            );
        }
        for k in ["HTTP_PROXY", "http_proxy", "MLENV_IT_NOT_PASSED"] {
            assert!(
                !vars.iter().any(|e| e.starts_with(&format!("{k}="))),
                "pip (pid {pid}) got {k}, which was not set or is not for pip: {vars:?}"
            );
        }
    }

    // No secret in mlenv's output, its debug log or any file it keeps.
    for n in needles {
        assert!(
            !contains(stderr.as_bytes(), n),
            "stderr holds a secret: {stderr}"
        );
    }
    let log = p.state.join("mlenv").join(&name).join("mlenv.log");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("Looking in indexes"),
        "pip's output is not in the debug log: {log_text}"
    );
    for dir in [
        p.state.clone(),
        p.root.path().join("data"),
        p.root.path().join("cache"),
    ] {
        for f in walk_all(&dir) {
            if f.is_file() {
                let bytes = std::fs::read(&f).unwrap_or_default();
                for n in needles {
                    assert!(!contains(&bytes, n), "{} holds a secret", f.display());
                }
            }
        }
    }
}
