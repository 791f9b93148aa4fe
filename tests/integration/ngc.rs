//! NGC images as they are (issue 16), with the NGC-shaped test image `tests/ngc-image.sh`
//! builds: the image's own shell setup before every command, HOME outside the project, the
//! run flags NVIDIA recommends, pip under the image's constraints, and `exec --root`. Every
//! effect is checked from outside: `podman exec`/`inspect`, and the files on the host.

use std::path::Path;

use super::harness::{code, inspect, podman, podman_ok, text, wheels, Project, BUSYBOX};

/// The NGC-shaped image: ENV=/etc/shinit_v2 exporting NGC_SHELL_SETUP=done and putting the
/// compat libraries first on LD_LIBRARY_PATH; a banner-printing entrypoint; USER root;
/// WORKDIR /workspace; PIP_CONSTRAINT pinning ngcpinned==1.0.
const NGC: &str = "localhost/mlenv-test/ngc:latest";

/// What the setup of the test image exports, as `echo "$NGC_SHELL_SETUP:$LD_LIBRARY_PATH"`.
const SET_UP: &str = "done:/usr/local/cuda/compat/lib";

fn home_for(p: &Project) -> std::path::PathBuf {
    let home = p.root.path().join("home dir ü");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::canonicalize(home).unwrap()
}

/// `mlenv ARGS` with HOME set to `home`.
fn mlenv_home(p: &Project, home: &Path, args: &[&str]) -> std::process::Output {
    let out = p
        .mlenv()
        .env("HOME", home)
        .args(args)
        .output()
        .expect("run mlenv");
    assert!(
        out.status.success(),
        "mlenv {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path.clone());
            }
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn ngc_image_setup_runs_before_every_command_mlenv_starts() {
    let p = Project::new("ngc setup ü");
    p.ok(&["up", "--image", NGC, "--gpu", "none"]);
    let name = p.name();

    // The witness: podman's own exec of sh -c reads no setup file at all.
    let bare = podman_ok(&[
        "exec",
        &name,
        "sh",
        "-c",
        "echo \"${NGC_SHELL_SETUP:-}:${LD_LIBRARY_PATH:-}\"",
    ]);
    assert_eq!(bare.trim(), ":", "podman exec sh -c should see no setup");

    // exec -c: the setup ran, and the output is the command's alone (no banner).
    let out = p.ok(&["exec", "-c", "echo \"$NGC_SHELL_SETUP:$LD_LIBRARY_PATH\""]);
    assert_eq!(text(&out.stdout), format!("{SET_UP}\n"));
    assert!(!text(&out.stdout).contains("PyTorch"), "banner on stdout");
    // A process the command starts inherits it: python sees the compat path first.
    let out = p.ok(&[
        "exec",
        "-c",
        "python3 -c 'import os; print(os.environ[\"LD_LIBRARY_PATH\"].split(\":\")[0])'",
    ]);
    assert_eq!(text(&out.stdout).trim(), "/usr/local/cuda/compat/lib");
    // The exit code and a syntax error still belong to the user's command.
    let out = p.run(&["exec", "-c", "exit 7"]);
    assert_eq!(code(&out), 7);

    // The login shell (no TTY here: the same login script, fed on stdin).
    let out = p
        .mlenv()
        .args(["exec"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"echo \"login:$NGC_SHELL_SETUP\"\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        text(&out.stdout).contains("login:done"),
        "login shell: {}",
        text(&out.stdout)
    );

    // An image without ENV behaves as before.
    let plain = Project::new("ngc plain");
    plain.up(&["--gpu", "none"]);
    let out = plain.ok(&["exec", "-c", "echo \"[${NGC_SHELL_SETUP:-}]\""]);
    assert_eq!(text(&out.stdout), "[]\n");
}

#[test]
fn ngc_image_runs_as_the_user_with_home_outside_the_project() {
    let p = Project::new("ngc home");
    let home = home_for(&p);
    std::fs::write(home.join(".gitconfig"), "[user]\n\tname = Ada Host\n").unwrap();
    mlenv_home(&p, &home, &["up", "--image", NGC, "--gpu", "none"]);
    let name = p.name();
    let home_s = home.to_str().unwrap();

    // The image says USER root; the environment runs as the caller all the same.
    let id = podman_ok(&["exec", &name, "id", "-u"]);
    assert_eq!(id.trim(), nix::unistd::getuid().as_raw().to_string());
    // HOME is the user's home, in the env and in the passwd entry ssh reads.
    let env_home = podman_ok(&["exec", &name, "sh", "-c", "echo $HOME"]);
    assert_eq!(env_home.trim(), home_s);
    let passwd = podman_ok(&["exec", &name, "sh", "-c", "getent passwd $(id -u)"]);
    assert_eq!(passwd.trim().split(':').nth(5), Some(home_s), "{passwd}");
    assert_eq!(
        inspect(&name)["Config"]["WorkingDir"],
        p.dir.to_str().unwrap()
    );

    // Caches and dotfiles land in the real home; git reads the user's identity there.
    mlenv_home(
        &p,
        &home,
        &[
            "exec",
            "-c",
            "mkdir -p ~/.cache/huggingface && echo model > ~/.cache/huggingface/w.bin && echo ls >> ~/.bash_history",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(home.join(".cache/huggingface/w.bin")).unwrap(),
        "model\n"
    );
    let git = mlenv_home(
        &p,
        &home,
        &[
            "exec",
            "-c",
            "python3 -c 'import os; print(open(os.path.expanduser(\"~/.gitconfig\")).read())'",
        ],
    );
    assert!(text(&git.stdout).contains("Ada Host"));
    // Nothing was written into the project.
    assert_eq!(files_under(&p.dir), Vec::<String>::new());
}

#[test]
fn isolated_home_is_kept_across_rm_and_borrows_caches_and_git_identity() {
    let p = Project::new("ngc isolated");
    let home = home_for(&p);
    std::fs::write(home.join(".gitconfig"), "[user]\n\tname = Ada Host\n").unwrap();
    std::fs::write(p.dir.join("mlenv.toml"), "home = \"isolated\"\n").unwrap();
    mlenv_home(&p, &home, &["up", "--image", NGC, "--gpu", "none"]);
    let name = p.name();
    let home_s = home.to_str().unwrap();
    let env_home = podman_ok(&["exec", &name, "sh", "-c", "echo $HOME"]);
    assert_eq!(env_home.trim(), home_s);

    mlenv_home(
        &p,
        &home,
        &[
            "exec",
            "-c",
            "echo kept > ~/.python_history; mkdir -p ~/.cache/torch && echo w > ~/.cache/torch/k",
        ],
    );
    // The history is the environment's own, not the host home's...
    assert!(!home.join(".python_history").exists());
    let own = p.root.path().join("data/mlenv").join(&name).join("home");
    assert_eq!(
        std::fs::read_to_string(own.join(".python_history")).unwrap(),
        "kept\n"
    );
    // ...the cache is the user's (XDG_CACHE_HOME), shared by every project...
    assert_eq!(
        std::fs::read_to_string(p.root.path().join("cache/torch/k")).unwrap(),
        "w\n"
    );
    // ...and git identity is borrowed read-only.
    let out = mlenv_home(&p, &home, &["exec", "-c", "cat ~/.gitconfig"]);
    assert!(text(&out.stdout).contains("Ada Host"));
    let write = p
        .mlenv()
        .env("HOME", &home)
        .args(["exec", "-c", "echo x >> ~/.gitconfig"])
        .output()
        .unwrap();
    assert_ne!(code(&write), 0, "the borrowed .gitconfig is writable");

    // rm + up: the home is still there.
    mlenv_home(&p, &home, &["rm", "-f"]);
    mlenv_home(&p, &home, &["up", "--image", NGC, "--gpu", "none"]);
    let out = mlenv_home(&p, &home, &["exec", "-c", "cat ~/.python_history"]);
    assert_eq!(text(&out.stdout), "kept\n");
    assert_eq!(files_under(&p.dir), ["mlenv.toml"]);
}

/// The caller's own hard limit in bytes (`None`: unlimited), as `ulimit -H` reports it.
fn hard_limit(flag: &str) -> Option<u64> {
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("ulimit -H {flag}")])
        .output()
        .unwrap();
    let v = text(&out.stdout).trim().to_string();
    (v != "unlimited").then(|| v.parse::<u64>().unwrap() * 1024)
}

#[test]
fn nvidia_limits_and_shm_by_default_and_as_set() {
    let p = Project::new("ngc limits");
    p.ok(&["up", "--image", NGC, "--gpu", "none"]);
    let name = p.name();
    // memlock=-1 and stack=64 MiB, each at most the hard limit (rootless cannot raise one).
    let want = |flag: &str, wanted: Option<u64>| -> String {
        match (wanted, hard_limit(flag)) {
            (None, None) => "unlimited".into(),
            (None, Some(h)) => (h / 1024).to_string(),
            (Some(w), Some(h)) => (w.min(h) / 1024).to_string(),
            (Some(w), None) => (w / 1024).to_string(),
        }
    };
    let got = podman_ok(&["exec", &name, "sh", "-c", "ulimit -s; ulimit -l"]);
    assert_eq!(
        got.lines().collect::<Vec<_>>(),
        [want("-s", Some(64 << 20)), want("-l", None)],
        "ulimit -s, -l inside"
    );
    let host = inspect(&name)["HostConfig"].clone();
    assert_ne!(host["IpcMode"], "host", "{host}");
    // /dev/shm: half the host's memory, at least 2 GiB.
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: u64 = meminfo
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        host["ShmSize"].as_u64(),
        Some((kib * 1024 / 2).max(2 << 30))
    );

    // As set: a private /dev/shm of 1 GiB, nofile lowered, memlock within the hard limit.
    let q = Project::new("ngc limits set");
    std::fs::write(
        q.dir.join("mlenv.toml"),
        "ipc = \"private\"\nshm-size = \"1g\"\nulimits = [\"nofile=1024:2048\", \"stack=16777216\"]\n",
    )
    .unwrap();
    q.ok(&["up", "--image", BUSYBOX, "--gpu", "none"]);
    let qname = q.name();
    // The container's own process has both limits; podman's exec sessions get the hard
    // limit as their soft one (podman's doing, on both versions), so ask PID 1.
    let limits = podman_ok(&["exec", &qname, "cat", "/proc/1/limits"]);
    let open_files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(open_files[3..5], ["1024", "2048"], "{limits}");
    let got = podman_ok(&[
        "exec",
        &qname,
        "sh",
        "-c",
        "ulimit -Hn; ulimit -s; df -k /dev/shm | tail -1",
    ]);
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[..2], ["2048", "16384"], "{got}");
    assert!(
        lines[2].split_whitespace().nth(1) == Some("1048576"),
        "{got}"
    );

    // More than the hard limit: refused before anything is created, naming the limit.
    if let Some(hard) = hard_limit("-l") {
        let r = Project::new("ngc limits over");
        let out = r.run(&[
            "up",
            "--image",
            BUSYBOX,
            "--gpu",
            "none",
            "--ulimit",
            "memlock=-1",
        ]);
        assert_eq!(code(&out), 2, "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains("memlock=-1")
                && err.contains(&format!("hard limit for memlock is {hard}")),
            "{err}"
        );
        assert!(super::harness::containers_for(&r.dir).is_empty());
    }
    // A size with the host's IPC is refused as bad input.
    let out = p.run(&["up", "--ipc", "host", "--shm-size", "1g"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("--shm-size with --ipc host"));
}

#[test]
fn exec_root_is_root_inside_and_the_user_outside() {
    let p = Project::new("ngc root");
    p.ok(&["up", "--image", NGC, "--gpu", "none"]);
    let name = p.name();
    let out = p.ok(&[
        "exec",
        "--root",
        "-c",
        "id -u; echo $HOME; touch /etc/mlenv-root-was-here; echo \"$NGC_SHELL_SETUP\"",
    ]);
    assert_eq!(text(&out.stdout), "0\n/root\ndone\n");
    // The witness: the file exists in the container, root-owned inside.
    let owner = podman_ok(&[
        "exec",
        &name,
        "stat",
        "-c",
        "%u",
        "/etc/mlenv-root-was-here",
    ]);
    assert_eq!(owner.trim(), "0");
    // Without --root the user cannot write there.
    let out = p.run(&["exec", "-c", "touch /etc/mlenv-user"]);
    assert_ne!(code(&out), 0);
    // Root inside is no one outside: with keep-id it maps to a subordinate uid, never to
    // host root (and a file it writes in the project is that uid's).
    p.ok(&["exec", "--root", "-c", "touch by-root"]);
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(p.dir.join("by-root")).unwrap();
    assert_ne!(meta.uid(), 0);
    assert_ne!(meta.uid(), nix::unistd::getuid().as_raw());
    p.ok(&["exec", "--root", "-c", "rm by-root"]);
}

#[test]
fn pip_keeps_the_image_pins_and_names_them_on_a_conflict() {
    // No space in this folder: pip's requirements files cannot quote a --find-links path.
    let p = Project::new("ngc-pins");
    let wh = p.dir.join("wheelhouse");
    wheels(&wh, &[("ngcpinned", "1.0", 0), ("ngcpinned", "2.0", 0)]);
    let offline = format!("--no-index\n--find-links {}\n", wh.display());
    std::fs::write(
        p.dir.join("requirements.txt"),
        format!("{offline}ngcpinned\n"),
    )
    .unwrap();
    p.ok(&["up", "--image", NGC, "--gpu", "none"]);
    let name = p.name();
    let version = || {
        let out = podman(&[
            "exec",
            &name,
            "python3",
            "-c",
            "import ngcpinned; print(ngcpinned.VERSION)",
        ]);
        text(&out.stdout).trim().to_string()
    };
    // Unpinned in the requirements: the image's pin decides.
    assert_eq!(version(), "1.0");

    // Asking for another version than the pin: the error names both and the way out.
    std::fs::write(
        p.dir.join("requirements.txt"),
        format!("{offline}ngcpinned==2.0\n"),
    )
    .unwrap();
    let out = p.run(&["up", "--image", NGC, "--gpu", "none"]);
    assert_ne!(code(&out), 0);
    let err = text(&out.stderr);
    assert!(
        err.contains("asks for ngcpinned==2.0, and /etc/pip/constraint.txt pins ngcpinned==1.0")
            && err.contains("pip-constraints = \"none\""),
        "{err}"
    );
    assert_eq!(version(), "1.0");

    // Without the image's pins, for this project.
    std::fs::write(p.dir.join("mlenv.toml"), "pip-constraints = \"none\"\n").unwrap();
    p.ok(&["up", "--image", NGC, "--gpu", "none"]);
    assert_eq!(version(), "2.0");
}

#[test]
fn first_keepid_start_of_a_big_image_is_announced_once() {
    // An image no keep-id container has used: the python image with one file more.
    let tag = format!(
        "localhost/mlenv-test/keepid-{}",
        super::harness::unique("copy")
    );
    let builder = format!("{}-b", tag.rsplit('/').next().unwrap());
    podman_ok(&["create", "--name", &builder, super::harness::PYTHON, "true"]);
    let marker = std::env::temp_dir().join(format!("{builder}.txt"));
    std::fs::write(&marker, "unique\n").unwrap();
    podman_ok(&[
        "cp",
        marker.to_str().unwrap(),
        &format!("{builder}:/unique.txt"),
    ]);
    podman_ok(&["commit", "-q", &builder, &tag]);
    podman_ok(&["rm", &builder]);
    let _ = std::fs::remove_file(&marker);
    struct RemoveImage(String);
    impl Drop for RemoveImage {
        fn drop(&mut self) {
            let _ = podman(&["rmi", "-f", &self.0]);
        }
    }
    let _image = RemoveImage(tag.clone());

    let p = Project::new("keepid copy");
    let out = p.ok(&["up", "--image", &tag, "--gpu", "none"]);
    let err = text(&out.stderr);
    // Storage that maps IDs itself copies nothing: then nothing is said.
    let info = podman_ok(&["info", "--format", "{{json .Store}}"]);
    let store: serde_json::Value = serde_json::from_str(&info).unwrap();
    let shifts = store["graphStatus"]["Supports shifting"] == "true"
        || store["graphOptions"]["overlay.mount_program"].is_object();
    if shifts {
        assert!(!err.contains("First start of"), "{err}");
        return;
    }
    assert!(
        err.contains(&format!(
            "First start of {tag} with your user mapped in (keep-id): podman copies the image for your ID mapping"
        )) && err.contains("more disk and about"),
        "{err}"
    );
    // What podman's storage is, kept for the next cold start (no /libpod/info then).
    let kept: serde_json::Value = serde_json::from_slice(
        &std::fs::read(p.state.join("mlenv/storage.json")).expect("storage facts kept"),
    )
    .unwrap();
    assert_eq!(kept["facts"]["graph_root"], store["graphRoot"], "{kept}");
    // doctor knows the copy is made now.
    let doctor = p
        .mlenv()
        .env("MLENV_IMAGE", &tag)
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "keep-id copy")
        .unwrap()
        .clone();
    assert_eq!(check["facts"]["copied"], true, "{check}");
    // A new container of the same image: the copy is there, nothing to announce.
    p.ok(&["rm", "-f"]);
    let out = p.ok(&["up", "--image", &tag, "--gpu", "none"]);
    assert!(
        !text(&out.stderr).contains("First start of"),
        "{}",
        text(&out.stderr)
    );
    p.ok(&["rm", "-f"]);
}
