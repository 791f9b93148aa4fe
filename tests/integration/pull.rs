//! Image pulls through the API, from the local registry that tests/setup-host.sh runs on
//! 127.0.0.1:5000 (plain HTTP, marked insecure in the test user's registries.conf).

use crate::harness::*;

const REGISTRY_IMAGE: &str = "127.0.0.1:5000/mlenv-test/busybox:pull";

/// Runs `python3 -c SCRIPT` that starts mlenv under a pseudo-terminal and prints what the
/// terminal showed; the pty makes mlenv draw its progress display.
fn under_pty(p: &Project, args: &[&str]) -> (String, i32) {
    let script = r#"
import os, pty, sys, select
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while True:
    r, _, _ = select.select([fd], [], [], 30)
    if not r:
        break
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    // The same clean environment mlenv gets in every test, less NO_COLOR, plus a TERM.
    let base = p.mlenv();
    let env: Vec<_> = base
        .get_envs()
        .filter(|(k, _)| *k != "NO_COLOR")
        .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
        .collect();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(mlenv_bin())
        .args(args)
        .current_dir(&p.dir)
        .env_clear()
        .envs(env)
        .env("TERM", "xterm")
        .output()
        .expect("python3 pty");
    (text(&out.stdout), out.status.code().unwrap_or(-1))
}

#[test]
fn pull_missing_image_then_create() {
    let p = Project::new("pulls");
    let _ = podman(&["rmi", "-f", REGISTRY_IMAGE]);
    assert!(!podman(&["image", "exists", REGISTRY_IMAGE])
        .status
        .success());

    let out = p.ok(&["up", "--image", REGISTRY_IMAGE]);
    let err = text(&out.stderr);
    assert!(err.contains(&format!("Pulling {REGISTRY_IMAGE}")), "{err}");
    assert!(err.contains(&format!("Pulled {REGISTRY_IMAGE}")), "{err}");
    assert!(podman(&["image", "exists", REGISTRY_IMAGE])
        .status
        .success());
    let c = p.inspect();
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["ImageName"], REGISTRY_IMAGE);
}

#[test]
fn pull_failure_names_the_image_and_creates_nothing() {
    let p = Project::new("pull fails");
    let image = "127.0.0.1:5000/mlenv-test/absent:1";
    let out = p.run(&["up", "--image", image]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("cannot pull {image}")), "{err}");
    assert!(err.contains("manifest unknown"), "{err}");
    assert!(!exists(&p.name()), "a container was left behind");
}

#[test]
fn progress_shows_on_a_terminal_and_quiet_silences_it() {
    let p = Project::new("pull tty");
    // A tag of its own: `podman rmi -f` of a tag another test runs would remove its container.
    let image = "127.0.0.1:5000/mlenv-test/busybox:pull-tty";
    let _ = podman(&["rmi", "-f", image]);
    let (screen, code) = under_pty(&p, &["up", "--image", image]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Pulled"), "{screen}");
    assert!(screen.contains("Created and started"), "{screen}");
    // On a terminal the symbols are coloured (and steps get spinners or bars).
    assert!(screen.contains("\x1b[32m✔"), "{screen:?}");

    p.ok(&["rm", "-f"]);
    let _ = podman(&["rmi", "-f", image]);
    let (screen, code) = under_pty(&p, &["-q", "up", "--image", image]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.trim().is_empty(), "--quiet printed: {screen:?}");
    assert!(podman(&["image", "exists", image]).status.success());
}
