//! `mlenv jupyter` and `mlenv tensorboard`, for real: JupyterLab and TensorBoard installed
//! offline through mlenv's requirements from the wheelhouse `tests/setup-host.sh` builds,
//! opened in headless Chromium through the forwarded port (a screenshot is kept in
//! target/test-output), and a cell run through Jupyter's REST and WebSocket API.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

/// The wheelhouse tests/setup-host.sh builds (jupyterlab, tensorboard and their dependencies).
const WHEELHOUSE: &str = "/var/cache/mlenv-test/wheels-jupyter";

fn repo() -> PathBuf {
    PathBuf::from(
        std::env::var_os("MLENV_TEST_REPO").expect("MLENV_TEST_REPO: run through tests/it"),
    )
}

fn output_dir() -> PathBuf {
    PathBuf::from(
        std::env::var_os("MLENV_TEST_OUTPUT").expect("MLENV_TEST_OUTPUT: run through tests/it"),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Headless Chromium, as the issue prescribes, with a new empty profile.
fn chromium(extra: &[&str], url: &str) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,800",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium (tests/setup-host.sh installs it)")
}

fn only_line(stdout: &[u8]) -> String {
    let t = text(stdout);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {t}");
    lines[0].to_string()
}

fn count_processes(name: &str, pattern: &str) -> usize {
    let out = podman(&["exec", name, "pgrep", "-fc", pattern]);
    text(&out.stdout).trim().parse().unwrap_or(0)
}

#[test]
fn servers_jupyter_and_tensorboard_in_a_real_browser() {
    let p = Project::new("servers");
    let wh = p.dir.join("wheelhouse");
    copy_dir(Path::new(WHEELHOUSE), &wh);
    let pins = std::fs::read_to_string(repo().join("tests/support/jupyter-wheels.txt")).unwrap();
    std::fs::write(
        p.dir.join("requirements.txt"),
        format!("--no-index\n--find-links {}\n{pins}", wh.display()),
    )
    .unwrap();
    let (jp, tp) = (free_port(), free_port());
    let (jmap, tmap) = (format!("{jp}:8888"), format!("{tp}:6006"));
    p.ok(&[
        "up", "--image", PYTHON, "--gpu", "none", "--port", &jmap, "--port", &tmap,
    ]);
    let name = p.name();

    // jupyter: a URL with a token on 127.0.0.1 and the forwarded port.
    let out = p.ok(&["jupyter"]);
    let url = only_line(&out.stdout);
    let prefix = format!("http://127.0.0.1:{jp}/lab?token=");
    assert!(url.starts_with(&prefix), "{url}");
    let token = url[prefix.len()..].to_string();
    assert_eq!(token.len(), 48, "{url}");
    // How to reach it from a laptop: the tunnel to this machine.
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!("ssh -N -L {jp}:127.0.0.1:{jp} ")),
        "{said}"
    );
    assert!(!said.contains("has no login"), "{said}");
    // The token never shows in a process's arguments, in the container or on the host.
    let ps = text(
        &podman(&[
            "exec",
            &name,
            "sh",
            "-c",
            "cat /proc/[0-9]*/cmdline | tr '\\0' ' '",
        ])
        .stdout,
    );
    assert!(!ps.contains(&token), "the token is in argv: {ps}");
    // JupyterLab runs as the user, in the project folder.
    let owner = text(
        &podman(&[
            "exec",
            &name,
            "sh",
            "-c",
            "ps -o user= -C jupyter-lab || ps -eo user=,args= | grep jupyter-lab",
        ])
        .stdout,
    );
    assert!(!owner.contains("root"), "runs as root: {owner}");

    // A real browser: the launcher renders; the screenshot is kept.
    let shot = output_dir().join("jupyterlab-launcher.png");
    let out = chromium(&[&format!("--screenshot={}", shot.display())], &url);
    assert!(shot.exists(), "no screenshot: {}", text(&out.stderr));
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "an empty screenshot"
    );
    let dom = text(&chromium(&["--dump-dom"], &url).stdout);
    assert!(
        dom.contains("jp-Launcher-body"),
        "JupyterLab's launcher is not in the page:\n{}",
        &dom[..dom.len().min(2000)]
    );

    // A cell, through the REST and WebSocket API: a file in the project, owned by the user.
    let cell = format!(
        "import os\nopen({:?}, 'w').write('from the kernel')\nprint('cwd', os.getcwd())",
        p.dir.join("from-kernel.txt").display().to_string()
    );
    let run = Command::new("/usr/bin/python3")
        .arg(repo().join("tests/support/jupyter_run_cell.py"))
        .args([&format!("http://127.0.0.1:{jp}"), &token, &cell])
        .output()
        .unwrap();
    assert!(run.status.success(), "cell: {}", text(&run.stderr));
    assert_eq!(text(&run.stdout).trim(), format!("cwd {}", p.dir.display()));
    let made = p.dir.join("from-kernel.txt");
    assert_eq!(std::fs::read_to_string(&made).unwrap(), "from the kernel");
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(
        std::fs::metadata(&made).unwrap().uid(),
        me,
        "the file is not the user's"
    );

    // A second call finds the server: same URL, still one server.
    let again = only_line(&p.ok(&["jupyter"]).stdout);
    assert_eq!(again, url);
    assert_eq!(count_processes(&name, "bin/jupyter-lab"), 1);

    // TensorBoard, the same way, showing a scalar written in the project's runs/ folder
    // (with TensorBoard's own event writer: there is no TensorFlow or PyTorch here).
    let write_events = "import time\n\
from tensorboard.summary.writer.event_file_writer import EventFileWriter\n\
from tensorboard.compat.proto.event_pb2 import Event\n\
from tensorboard.compat.proto.summary_pb2 import Summary\n\
w = EventFileWriter('runs/exp1')\n\
for step in range(5): w.add_event(Event(wall_time=time.time(), step=step, summary=Summary(value=[Summary.Value(tag='mlenv_test_loss', simple_value=1.0 / (step + 1))])))\n\
w.close()\n";
    let wrote = podman(&[
        "exec",
        "-w",
        p.dir.to_str().unwrap(),
        &name,
        "python3",
        "-c",
        write_events,
    ]);
    assert!(wrote.status.success(), "{}", text(&wrote.stderr));
    let started = p.ok(&["tensorboard"]);
    let tb = only_line(&started.stdout);
    assert_eq!(tb, format!("http://127.0.0.1:{tp}/"));
    // No login on a loopback every user of the machine shares: said, with the tunnel.
    let said = text(&started.stderr);
    assert!(
        said.contains(&format!("TensorBoard has no login: anyone on this machine who can reach 127.0.0.1:{tp} can read it")),
        "{said}"
    );
    assert!(
        said.contains(&format!("ssh -N -L {tp}:127.0.0.1:{tp} ")),
        "{said}"
    );
    let tb_shot = output_dir().join("tensorboard.png");
    let out = chromium(&[&format!("--screenshot={}", tb_shot.display())], &tb);
    assert!(
        tb_shot.exists(),
        "no TensorBoard screenshot: {}",
        text(&out.stderr)
    );
    let page = text(&chromium(&["--dump-dom"], &tb).stdout);
    assert!(
        page.contains("mlenv_test_loss"),
        "the scalar is not on TensorBoard's page:\n{}",
        &page[..page.len().min(3000)]
    );
    assert_eq!(only_line(&p.ok(&["tensorboard"]).stdout), tb);
    assert_eq!(count_processes(&name, "bin/tensorboard --logdir"), 1);

    // status lists both.
    let status = text(&p.ok(&["status"]).stdout);
    assert!(status.contains(&url) && status.contains(&tb), "{status}");
    let v: serde_json::Value = serde_json::from_slice(&p.ok(&["status", "--json"]).stdout).unwrap();
    assert_eq!(v["servers"].as_array().unwrap().len(), 2, "{v}");

    // --stop stops them.
    let err = text(&p.ok(&["jupyter", "--stop"]).stderr);
    assert!(err.contains("Stopped JupyterLab"), "{err}");
    assert!(wait_until(
        std::time::Duration::from_secs(10),
        || count_processes(&name, "bin/jupyter-lab") == 0
    ));
    p.ok(&["tensorboard", "--stop"]);
    let v: serde_json::Value = serde_json::from_slice(&p.ok(&["status", "--json"]).stdout).unwrap();
    assert_eq!(v["servers"], serde_json::json!([]), "{v}");

    // A stopped environment is started first.
    p.ok(&["down"]);
    let out = p.ok(&["jupyter"]);
    assert!(
        text(&out.stderr).contains("Started"),
        "{}",
        text(&out.stderr)
    );
    let url = only_line(&out.stdout);
    assert!(url.starts_with(&prefix), "{url}");
    assert!(http_ok(
        &format!("127.0.0.1:{jp}"),
        &format!("/api/status?token={}", &url[prefix.len()..])
    ));
    p.ok(&["jupyter", "--stop"]);
}

/// Whether GET `path` answers 200.
fn http_ok(addr: &str, path: &str) -> bool {
    crate::harness::http_get(addr, path)
        .is_some_and(|r| r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200"))
}

#[test]
fn servers_say_which_flag_applies_and_what_is_missing() {
    let p = Project::new("servers-errors");
    p.up(&["--gpu", "none", "--port", &format!("{}:8888", free_port())]);
    // Not forwarded: exit 2 and the exact flag.
    let out = p.run(&["jupyter", "--port", "9999"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("mlenv up --port 9999:9999 --recreate"),
        "{err}"
    );
    // No JupyterLab in the image (busybox): say what to add.
    let out = p.run(&["jupyter"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("add `jupyterlab` to the project's requirements.txt"),
        "{err}"
    );
    // Bad values: exit 2, before any container work.
    for (args, want) in [
        (vec!["jupyter", "--port", "0"], "invalid --port"),
        (vec!["tensorboard", "--port", "http"], "invalid --port"),
        (
            vec!["tensorboard", "--logdir", "../elsewhere"],
            "outside the project",
        ),
    ] {
        let out = p.run(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // No container: the command to make one.
    let q = Project::new("servers-none");
    let out = q.run(&["jupyter"]);
    assert!(text(&out.stderr).contains("mlenv up --port 8888:8888"));
}
