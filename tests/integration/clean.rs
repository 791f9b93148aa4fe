//! `mlenv clean`: what goes (the container, the state dir, the autostart unit; the installed
//! packages and pip's cache with `--volumes`) and what never does (the project's files),
//! witnessed by the podman CLI and the file system.
//!
//! `clean --all` acts on every mlenv container of the podman user, which all the tests
//! share: the tests in [`serial`] would remove other tests' environments from under them. So
//! `tests/run` runs them on their own, one at a time (`tests/it --skip serial::`, then
//! `MLENV_TEST_THREADS=1 tests/it serial::`), and within this module (`tests/it clean::`)
//! they take [`EXCLUSIVE`] for writing while the others take it for reading.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::RwLock;

use crate::harness::code;
use crate::harness::wheels;
use crate::harness::*;

/// Held for reading by every test here, for writing by the `--all` tests.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

/// Everything under `dir`, as what a byte-for-byte comparison needs: each entry's relative
/// path, kind and mode, with the bytes of files and the targets of links.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (String, u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(dir).unwrap().to_path_buf();
            let mode = meta.permissions().mode();
            let entry = if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                (
                    "link".into(),
                    mode,
                    target.into_os_string().into_encoded_bytes(),
                )
            } else if meta.is_dir() {
                todo.push(path.clone());
                ("dir".into(), mode, Vec::new())
            } else {
                ("file".into(), mode, std::fs::read(&path).unwrap())
            };
            out.insert(rel, entry);
        }
    }
    out
}

/// A project with files of its own: a requirements file, random bytes, a subfolder, a link.
fn with_own_files(p: &Project, requirements_file: &str, requirements: &str) {
    std::fs::write(p.dir.join(requirements_file), requirements).unwrap();
    let mut random = vec![0u8; 4096];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut random)
        .unwrap();
    std::fs::write(p.dir.join("data.bin"), random).unwrap();
    std::fs::create_dir_all(p.dir.join("sub/deeper")).unwrap();
    std::fs::write(p.dir.join("sub/deeper/notes.txt"), "mine\n").unwrap();
    std::os::unix::fs::symlink("sub/deeper/notes.txt", p.dir.join("link")).unwrap();
}

fn state_dir(p: &Project, name: &str) -> PathBuf {
    p.state.join("mlenv").join(name)
}

fn data_dir(p: &Project, name: &str) -> PathBuf {
    p.root.path().join("data/mlenv").join(name)
}

fn pip_cache(p: &Project) -> PathBuf {
    p.root.path().join("cache/mlenv/pip")
}

/// Whether anything (a dangling link included) is at `path`.
fn present(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// `mlenv ARGS` with `input` on stdin.
fn run_with_input(mut cmd: Command, args: &[&str], input: &str) -> Output {
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mlenv");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn assert_ok(out: &Output, what: &str) -> String {
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {stderr}",
        out.status,
        text(&out.stdout)
    );
    stderr
}

#[test]
fn clean_removes_mlenv_files_and_keeps_project_files_and_packages() {
    let _shared = EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner());
    let p = Project::new("clean-keep");
    let wh = p.dir.join("wheelhouse");
    wheels(&wh, &[("cleanpkg", "1.0", 0)]);
    with_own_files(
        &p,
        "requirements.txt",
        &format!("--no-index\n--find-links {}\ncleanpkg==1.0\n", wh.display()),
    );
    let up = p.ok(&["up", "--image", PYTHON, "--gpu", "none"]);
    assert!(
        text(&up.stderr).contains("Installing requirements"),
        "{}",
        text(&up.stderr)
    );
    let name = p.name();
    let before = snapshot(&p.dir);
    // What clean must remove, and what it must keep, is all there before it runs.
    assert!(exists(&name));
    assert!(state_dir(&p, &name).join("mlenv.log").is_file());
    assert!(present(&unit_file(&p, &name)) && unit_enabled(&p, &name));
    let packages = data_dir(&p, &name);
    assert!(packages.is_dir() && pip_cache(&p).is_dir());

    let stderr = assert_ok(&p.run(&["clean"]), "mlenv clean");
    assert!(
        stderr.contains(&format!(
            "✔ Stopped and removed container {name} (it was running)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("Kept installed packages {}", packages.display()))
            && stderr.contains("mlenv clean --volumes"),
        "{stderr}"
    );
    assert!(!exists(&name), "the container is still there");
    assert!(
        !present(&state_dir(&p, &name)),
        "the state dir is still there"
    );
    assert!(!present(&unit_file(&p, &name)), "the unit is still there");
    assert!(
        !present(&wants_link(&p, &name)),
        "the wants link is still there"
    );
    assert_eq!(snapshot(&p.dir), before, "the project's files changed");
    let installed = std::fs::read_dir(&packages).unwrap().count();
    assert!(
        installed > 0,
        "the installed packages went without --volumes"
    );
    assert!(pip_cache(&p).is_dir());

    // Again: nothing to do, and nothing created on the way (no state dir, no log).
    let stderr = assert_ok(&p.run(&["clean"]), "second mlenv clean");
    assert!(
        stderr.contains(&format!("ℹ nothing to clean for {}", p.dir.display())),
        "{stderr}"
    );
    assert!(!present(&state_dir(&p, &name)), "clean made a state dir");

    // --volumes: the packages go; pip's cache, shared with other projects, stays.
    let stderr = assert_ok(&p.run(&["clean", "--volumes"]), "mlenv clean --volumes");
    assert!(
        stderr.contains(&format!(
            "✔ Removed installed packages {}",
            packages.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("mlenv clean --all --volumes"),
        "the kept pip cache is not explained: {stderr}"
    );
    assert!(!present(&packages), "the packages are still there");
    assert!(pip_cache(&p).is_dir(), "the shared pip cache went");
    assert!(!present(&state_dir(&p, &name)));
    assert_eq!(snapshot(&p.dir), before, "the project's files changed");

    // The next `up` starts from nothing: the requirements are installed again.
    let up = p.ok(&["up", "--image", PYTHON, "--gpu", "none"]);
    assert!(
        text(&up.stderr).contains("Installing requirements"),
        "{}",
        text(&up.stderr)
    );
}

#[test]
fn clean_removes_a_stopped_container_and_a_set_aside_one() {
    let _shared = EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner());
    let p = Project::new("clean-stopped");
    p.up(&["--gpu", "none"]);
    p.ok(&["down"]);
    let name = p.name();
    // What an interrupted `up --recreate` leaves: the old container under another name.
    let aside = format!("{name}-replaced");
    let label = format!("io.mlenv.project={}", p.dir.display());
    let out = podman(&[
        "create", "--name", &aside, "--label", &label, BUSYBOX, "true",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let stderr = assert_ok(&p.run(&["clean"]), "mlenv clean");
    assert!(
        stderr.contains(&format!("✔ Removed container {name}\n"))
            && stderr.contains(&format!("✔ Removed container {aside}\n")),
        "{stderr}"
    );
    assert!(!exists(&name) && !exists(&aside));
    assert!(!present(&state_dir(&p, &name)));
    assert!(!present(&unit_file(&p, &name)));
    assert!(data_dir(&p, &name).is_dir(), "kept without --volumes");
}

#[test]
fn clean_refuses_before_removing_anything() {
    let _shared = EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner());
    let p = Project::new("clean-refuse");
    let name = p.name();
    let state = state_dir(&p, &name);
    assert!(state.join("mlenv.log").is_file(), "status wrote no log");

    // The service cannot be reached: exit 3, and the state dir is untouched.
    let out = p
        .mlenv()
        .env("CONTAINER_HOST", "unix:///nonexistent/podman.sock")
        .args(["clean", "--volumes"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    assert!(
        state.join("mlenv.log").is_file(),
        "removed without the service"
    );

    // A container with the project's name that mlenv did not make: left alone, and so is
    // everything else.
    let out = podman(&["create", "--name", &name, BUSYBOX, "true"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = p.run(&["clean"]);
    let stderr = text(&out.stderr);
    assert_eq!(code(&out), 1, "{stderr}");
    assert!(
        stderr.contains("was not created by mlenv") && stderr.contains("nothing was removed"),
        "{stderr}"
    );
    assert!(exists(&name), "another program's container was removed");
    assert!(state.join("mlenv.log").is_file(), "the state dir went");
    podman(&["rm", "-f", &name]);
}

/// The `--all` tests: each removes every mlenv environment of the podman user.
mod serial {
    use super::*;

    /// Two projects of one user (one set of XDG folders): `a` in its own folder, `b` beside
    /// it, run with `-C`. Removes `b`'s container on drop (`a` removes its own).
    struct Two {
        a: Project,
        b: PathBuf,
    }

    impl Two {
        fn new(tag: &str) -> Two {
            let a = Project::new(&format!("{tag}-a"));
            let b = a.root.path().join(format!("{tag}-b"));
            std::fs::create_dir_all(&b).unwrap();
            let b = std::fs::canonicalize(b).unwrap();
            Two { a, b }
        }

        fn b(&self, args: &[&str]) -> Output {
            let mut all = vec!["-C", self.b.to_str().unwrap()];
            all.extend_from_slice(args);
            let out = self.a.run(&all);
            assert_ok(&out, &format!("mlenv {all:?}"));
            out
        }

        fn b_name(&self) -> String {
            let out = self.b(&["status", "--json"]);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            v["name"].as_str().unwrap().to_string()
        }
    }

    impl Drop for Two {
        fn drop(&mut self) {
            if let Ok(out) = self
                .a
                .mlenv()
                .args(["-C", self.b.to_str().unwrap(), "status", "--json"])
                .output()
            {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
                    if let Some(name) = v["name"].as_str() {
                        let _ = podman(&["rm", "-f", "-t", "0", name]);
                    }
                }
            }
        }
    }

    /// `a` running, `b` stopped, and the state dir of an environment whose container is gone.
    fn three_environments(t: &Two) -> (String, String, PathBuf) {
        t.a.up(&["--gpu", "none"]);
        t.b(&["up", "--image", BUSYBOX, "--gpu", "none"]);
        t.b(&["down"]);
        let orphan = t.a.state.join("mlenv/mlenv-gone-0123abcd");
        std::fs::create_dir_all(&orphan).unwrap();
        std::fs::write(orphan.join("mlenv.log"), "old\n").unwrap();
        (t.a.name(), t.b_name(), orphan)
    }

    #[test]
    fn serial_clean_all_lists_everything_and_removes_nothing_unless_told() {
        let _alone = EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner());
        let t = Two::new("clean-no");
        let (a, b, orphan) = three_environments(&t);
        // A project whose container podman removed behind mlenv's back: `up` recorded the
        // folder in the state dir, so the listing still names it.
        let c_dir = std::fs::canonicalize(t.a.root.path())
            .unwrap()
            .join("clean-no-c");
        std::fs::create_dir_all(&c_dir).unwrap();
        let c_arg = c_dir.to_str().unwrap();
        assert_ok(
            &t.a.run(&["-C", c_arg, "up", "--image", BUSYBOX, "--gpu", "none"]),
            "up in c",
        );
        let status = t.a.run(&["-C", c_arg, "status", "--json"]);
        let c: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        let c = c["name"].as_str().unwrap().to_string();
        assert!(podman(&["rm", "-f", "-t", "0", &c]).status.success());

        for (input, what) in [("n\n", "answered n"), ("", "end of input")] {
            let out = run_with_input(t.a.mlenv(), &["clean", "--all"], input);
            let stderr = text(&out.stderr);
            assert_eq!(code(&out), 1, "{what}: {stderr}");
            assert!(stderr.contains("✖ nothing removed"), "{what}: {stderr}");
            for line in [
                format!(
                    "  {} ({a})\n    container {a} (running: it is stopped first)\n",
                    t.a.dir.display()
                ),
                format!("  {} ({b})\n    container {b}\n", t.b.display()),
                "  mlenv-gone-0123abcd (project folder unknown: its container is gone and its state dir does not say)\n".into(),
                format!("  {} ({c})\n", c_dir.display()),
                format!("    state and logs {}\n", state_dir(&t.a, &c).display()),
                format!("    state and logs {}\n", orphan.display()),
                format!("    autostart unit {}\n", unit_file(&t.a, &b).display()),
                "Remove all of this? [y/N] ".into(),
            ] {
                assert!(stderr.contains(&line), "{what}: no {line:?} in:\n{stderr}");
            }
            assert!(exists(&a) && exists(&b), "{what}: a container went");
            assert!(inspect(&a)["State"]["Running"].as_bool().unwrap());
            assert!(present(&orphan) && present(&state_dir(&t.a, &b)), "{what}");
            assert!(present(&unit_file(&t.a, &a)), "{what}");
        }
    }

    #[test]
    fn serial_clean_all_removes_every_environment_after_a_yes() {
        let _alone = EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner());
        let t = Two::new("clean-yes");
        // Not requirements.txt: busybox has no pip.
        with_own_files(&t.a, "requirements.in", "numpy\n");
        std::fs::write(t.b.join("requirements.in"), "torch\n").unwrap();
        let (a, b, orphan) = three_environments(&t);
        // User-wide, not any project's: what an `up --env-file` writes.
        let key = t.a.state.join("mlenv/digest.key");
        std::fs::write(&key, [7u8; 32]).unwrap();
        let (before_a, before_b) = (snapshot(&t.a.dir), snapshot(&t.b));

        let out = run_with_input(t.a.mlenv(), &["clean", "--all"], "y\n");
        let stderr = assert_ok(&out, "mlenv clean --all, answered y");
        assert!(
            stderr.contains(&format!("✔ Stopped and removed container {a}")),
            "{stderr}"
        );
        assert!(!exists(&a) && !exists(&b), "a container is still there");
        for gone in [
            state_dir(&t.a, &a),
            state_dir(&t.a, &b),
            orphan,
            unit_file(&t.a, &a),
            wants_link(&t.a, &a),
            unit_file(&t.a, &b),
        ] {
            assert!(
                !present(&gone),
                "{} is still there:\n{stderr}",
                gone.display()
            );
        }
        // Volumes stay without --volumes; the user-wide digest key is not a project's.
        assert!(data_dir(&t.a, &a).is_dir() && data_dir(&t.a, &b).is_dir());
        assert!(pip_cache(&t.a).is_dir());
        assert!(key.is_file(), "the user-wide digest key went");
        assert_eq!(snapshot(&t.a.dir), before_a, "a's files changed");
        assert_eq!(snapshot(&t.b), before_b, "b's files changed");

        // --volumes --yes: no question; the packages and the shared pip cache go.
        let out = t.a.run(&["clean", "--all", "--volumes", "--yes"]);
        let stderr = assert_ok(&out, "mlenv clean --all --volumes --yes");
        assert!(!stderr.contains("[y/N]"), "asked despite --yes: {stderr}");
        assert!(!present(&data_dir(&t.a, &a)) && !present(&data_dir(&t.a, &b)));
        assert!(!present(&pip_cache(&t.a)), "{stderr}");
        assert_eq!(snapshot(&t.a.dir), before_a, "a's files changed");
        assert_eq!(snapshot(&t.b), before_b, "b's files changed");

        let out = t.a.run(&["clean", "--all", "--volumes", "--yes"]);
        let stderr = assert_ok(&out, "a third mlenv clean --all");
        assert!(stderr.contains("ℹ nothing to clean\n"), "{stderr}");
    }
}
