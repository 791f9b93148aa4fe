//! `exec`, `status` and `logs`: exit codes and streams passed through, pipes and TTYs,
//! what `status` reports next to what podman reports, and both kinds of logs.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{
    code, exists, finish_within, inspect, podman, text, Project, BUSYBOX, PYTHON,
};

/// The last 2000 bytes, for messages about large outputs.
/// `mlenv ARGS` with piped stdout/stderr, finished within a minute.
fn run_piped(p: &Project, args: &[&str], stdin: Option<Vec<u8>>) -> Output {
    let mut cmd = p.mlenv();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("spawn mlenv");
    let writer = stdin.map(|data| {
        let mut w = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let r = w.write_all(&data);
            drop(w);
            r
        })
    });
    let out = finish_within(child, Duration::from_secs(60), &format!("mlenv {args:?}"));
    if let Some(w) = writer {
        w.join().unwrap().expect("write mlenv's stdin");
    }
    out
}

/// Deterministic pseudo-random bytes (xorshift), so a byte lost or reordered shows.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn assert_no_panic(out: &Output) {
    let err = text(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "mlenv panicked:\n{err}"
    );
}

/// The uid this test runs as (the owner of files it creates).
fn my_uid() -> u32 {
    std::fs::metadata("/proc/self").unwrap().uid()
}

#[test]
fn exec_exit_codes_and_streams_are_passed_through() {
    let p = Project::new("exec-codes");
    p.up(&[]);
    let out = p.run(&["exec", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(code(&out), 3, "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "out\n",
        "stdout must hold exactly the command's stdout"
    );
    assert!(
        text(&out.stderr).contains("err"),
        "stderr: {}",
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("err"));
    // The command's own exit code is all: mlenv adds no message of its own.
    assert!(
        !text(&out.stderr).contains('✖'),
        "stderr: {}",
        text(&out.stderr)
    );

    for want in [0, 1, 42] {
        let out = p.run(&["exec", "-c", &format!("exit {want}")]);
        assert_eq!(
            code(&out),
            want,
            "exit {want}: stderr {}",
            text(&out.stderr)
        );
    }
    let out = p.run(&["exec", "-c", "no-such-command-mlenv-test"]);
    assert_eq!(code(&out), 127, "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not found"),
        "stderr: {}",
        text(&out.stderr)
    );

    // It ran in this project's container: the hostname podman gave it, and a file it wrote
    // appears in the project folder on the host.
    let c = p.inspect();
    let out = p.ok(&["exec", "-c", "hostname; echo inside > from-exec.txt"]);
    assert_eq!(
        text(&out.stdout).trim(),
        c["Config"]["Hostname"].as_str().unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(p.dir.join("from-exec.txt")).unwrap(),
        "inside\n"
    );
}

#[test]
fn exec_runs_in_the_project_folder() {
    let p = Project::new("my prøject 日本 x");
    p.up(&[]);
    let out = p.ok(&["exec", "-c", "pwd"]);
    assert_eq!(text(&out.stdout), format!("{}\n", p.dir.display()));
    // The same folder, not a copy: written inside, owned by us on the host (keep-id).
    p.ok(&["exec", "-c", "mkdir -p 'sub dir' && echo ü > 'sub dir/f'"]);
    let f = p.dir.join("sub dir/f");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "ü\n");
    assert_eq!(std::fs::metadata(&f).unwrap().uid(), my_uid());
    // A shell: pipes, variables and quoting work.
    let out = p.ok(&["exec", "-c", "x='a b'; echo \"$x\" | tr ab AB"]);
    assert_eq!(text(&out.stdout), "A B\n");
}

#[test]
fn exec_stdin_is_forwarded() {
    let p = Project::new("exec-stdin");
    p.up(&[]);
    let out = run_piped(&p, &["exec", "-c", "cat"], Some(b"hello".to_vec()));
    assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello");

    // 5 MB through stdin into a file, compared on the host.
    let data = noise(5 * 1024 * 1024 + 7, 0x5eed);
    let out = run_piped(
        &p,
        &["exec", "-c", "cat > from-stdin.bin"],
        Some(data.clone()),
    );
    assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
    let got = std::fs::read(p.dir.join("from-stdin.bin")).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the file written from stdin differs");

    // No stdin at all (/dev/null): a reader sees end of file at once instead of hanging.
    let out = run_piped(&p, &["exec", "-c", "wc -c"], None);
    assert_eq!(text(&out.stdout).trim(), "0");
}

#[test]
fn exec_large_output_is_byte_exact() {
    let p = Project::new("exec-big");
    p.up(&[]);
    let data = noise(5 * 1024 * 1024 + 3, 0xb16);
    std::fs::write(p.dir.join("big.bin"), &data).unwrap();
    let out = run_piped(&p, &["exec", "-c", "cat big.bin; echo done >&2"], None);
    assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data, "stdout differs from the file");
    assert_eq!(text(&out.stderr), "done\n");
}

#[test]
fn exec_reader_closing_early_does_not_hang() {
    let p = Project::new("exec-pipe");
    p.up(&[]);
    for lines in ["5000", "3000000"] {
        let started = Instant::now();
        let mut child = p
            .mlenv()
            .args(["exec", "-c", &format!("seq 1 {lines}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1];
        while got.iter().filter(|b| **b == b'\n').count() < 2 {
            assert_eq!(stdout.read(&mut buf).unwrap(), 1, "stdout ended early");
            got.push(buf[0]);
        }
        assert_eq!(got, b"1\n2\n");
        drop(stdout);
        let out = finish_within(
            child,
            Duration::from_secs(60),
            &format!("mlenv exec -c 'seq 1 {lines}' with its reader gone"),
        );
        assert_no_panic(&out);
        // Like `seq | head`: a closed pipe ends the output quietly.
        assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}

/// Drives `mlenv exec` (a login shell) on a pseudo-terminal, from python3 on the host.
/// Prints one JSON object: what the session saw, and how mlenv exited.
const PTY_DRIVER: &str = r#"
import fcntl, json, os, re, select, signal, struct, subprocess, sys, termios, time

def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

master, slave = os.openpty()
set_size(slave, 31, 97)
before = termios.tcgetattr(slave)

def make_ctty():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)

proc = subprocess.Popen([sys.argv[1], "exec"], stdin=slave, stdout=slave, stderr=slave,
                        preexec_fn=make_ctty, close_fds=True)
buf = b""
result = {}

def read_for(pattern, timeout):
    global buf
    end = time.time() + timeout
    rx = re.compile(pattern)
    while True:
        m = rx.search(buf)
        if m:
            return m
        left = end - time.time()
        if left <= 0:
            return None
        r, _, _ = select.select([master], [], [], min(left, 0.2))
        if r:
            try:
                d = os.read(master, 65536)
            except OSError:
                return None
            buf += d

def send(s):
    os.write(master, s.encode())

def finish(code):
    result["transcript"] = buf.decode("utf-8", "replace")
    print(json.dumps(result))
    sys.exit(code)

try:
    # printf's format never matches its own output, so the echoed command line is no hit.
    send("printf 'TTY<%s>\\n' \"$(tty)\"\n")
    m = read_for(rb"TTY<(/dev/[^>]*)>", 60)
    if not m:
        finish(1)
    result["tty"] = m.group(1).decode()
    send("printf 'PWD<%s>\\n' \"$(pwd)\"\n")
    m = read_for(rb"PWD<(/[^>]*)>", 20)
    if not m:
        finish(1)
    result["pwd"] = m.group(1).decode()
    send("printf 'SIZE<%s>\\n' \"$(stty size)\"\n")
    m = read_for(rb"SIZE<([0-9 ]*)>", 20)
    if not m:
        finish(1)
    result["size"] = m.group(1).decode()
    # The window changes: the kernel signals our foreground group, and we signal mlenv too.
    set_size(master, 44, 120)
    os.kill(proc.pid, signal.SIGWINCH)
    result["resized"] = None
    for i in range(40):
        send("printf 'RS%d<%%s>\\n' \"$(stty size)\"\n" % i)
        m = read_for(rb"RS%d<([0-9 ]*)>" % i, 10)
        if m and m.group(1) == b"44 120":
            result["resized"] = m.group(1).decode()
            result["resize_tries"] = i + 1
            break
        time.sleep(0.25)
    send("exit 5\n")
    try:
        result["code"] = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        result["code"] = "timeout"
        finish(1)
    read_for(rb"$^", 0.3)
    after = termios.tcgetattr(slave)
    result["restored"] = after[:4] == before[:4]
    finish(0)
finally:
    if proc.poll() is None:
        proc.kill()
"#;

#[test]
fn exec_tty_session_follows_the_terminal() {
    let p = Project::new("exec-tty");
    p.ok(&["up", "--image", PYTHON]);
    let driver = p.root.path().join("pty_driver.py");
    std::fs::write(&driver, PTY_DRIVER).unwrap();
    let base = p.mlenv();
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.env_clear();
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.current_dir(&p.dir)
        .arg(&driver)
        .arg(crate::harness::mlenv_bin())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = finish_within(
        cmd.spawn().unwrap(),
        Duration::from_secs(120),
        "the pty driver",
    );
    let report = text(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(report.trim()).unwrap_or_else(|e| {
        panic!(
            "pty driver printed no JSON ({e}):\nstdout: {report}\nstderr: {}",
            text(&out.stderr)
        )
    });
    let transcript = v["transcript"].as_str().unwrap_or("").to_string();
    assert!(out.status.success(), "pty driver failed: {v:#}");
    assert!(
        v["tty"].as_str().unwrap().starts_with("/dev/pts/"),
        "tty: {v:#}"
    );
    assert_eq!(v["size"], "31 97", "the first size: {transcript}");
    assert_eq!(
        v["resized"], "44 120",
        "the size after a resize: {transcript}"
    );
    assert_eq!(v["code"], 5, "mlenv's exit code: {transcript}");
    assert_eq!(v["restored"], true, "terminal settings not restored");
    // The session was a shell in the project folder.
    assert_eq!(v["pwd"].as_str(), p.dir.to_str(), "{transcript}");
    assert!(!transcript.contains("panicked"), "transcript: {transcript}");
    assert!(exists(&p.name()));
}

#[test]
fn exec_needs_a_running_container() {
    // None at all.
    let p = Project::new("exec-absent");
    let name = p.name();
    let out = p.run(&["exec", "-c", "true"]);
    assert_ne!(code(&out), 0);
    let err = text(&out.stderr);
    assert!(
        err.contains("mlenv up") && err.contains(&name),
        "stderr: {err}"
    );
    assert!(out.stdout.is_empty());
    assert!(!exists(&name), "exec must not create a container");

    // Stopped behind mlenv's back.
    let p = Project::new("exec-stopped");
    p.up(&[]);
    let name = p.name();
    let stop = podman(&["stop", "-t", "2", &name]);
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    let out = p.run(&["exec", "-c", "true"]);
    assert_ne!(code(&out), 0);
    let err = text(&out.stderr);
    assert!(err.contains("mlenv up"), "stderr: {err}");
    assert!(
        err.contains("exited") || err.contains("stopped"),
        "stderr: {err}"
    );
    assert_no_panic(&out);
    assert_eq!(
        inspect(&name)["State"]["Running"],
        false,
        "exec must not start it"
    );
}

fn status_json(p: &Project, extra: &[&str]) -> (Output, serde_json::Value) {
    let mut args = vec!["status", "--json"];
    args.extend_from_slice(extra);
    let out = p.ok(&args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json stdout is not JSON ({e}):\n{}",
            text(&out.stdout)
        )
    });
    (out, v)
}

#[test]
fn status_json_matches_podman() {
    let p = Project::new("status json");
    let port = crate::harness::free_port();
    p.up(&["--port", &format!("{port}:80")]);
    let (_, v) = status_json(&p, &[]);
    let c = inspect(v["name"].as_str().unwrap());
    assert_eq!(c["Name"], v["name"]);
    let id = v["id"].as_str().unwrap();
    assert!(
        id.len() >= 12 && c["Id"].as_str().unwrap().starts_with(id),
        "{v:#}"
    );
    assert_eq!(v["state"], "running");
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(v["running"], true);
    assert_eq!(v["image"], c["ImageName"]);
    assert_eq!(v["image"], BUSYBOX);
    assert_eq!(v["workdir"].as_str().unwrap(), p.dir.to_str().unwrap());
    assert_eq!(c["Config"]["WorkingDir"], v["workdir"]);
    assert_eq!(v["project"].as_str().unwrap(), p.dir.to_str().unwrap());
    let ports: Vec<&str> = v["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(ports, [format!("127.0.0.1:{port}->80/tcp")], "{v:#}");
    let pp = text(&podman(&["port", v["name"].as_str().unwrap()]).stdout);
    assert!(
        pp.contains(&format!("80/tcp -> 127.0.0.1:{port}")),
        "podman port: {pp}"
    );
    let up = v["uptime_seconds"].as_u64().expect("uptime_seconds");
    assert!(up < 600, "uptime {up}");
    assert!(v["gpus"].is_array());
    assert!(v["started_at"].as_str().unwrap().starts_with("20"));

    // With -v the debug lines go to stderr; stdout is still nothing but the JSON.
    let (out, v2) = status_json(&p, &["-v"]);
    assert_eq!(v2["name"], v["name"]);
    assert!(text(&out.stdout).trim_start().starts_with('{'));
    assert!(text(&out.stdout).trim_end().ends_with('}'));
    assert!(
        !text(&out.stderr).is_empty(),
        "-v printed nothing on stderr"
    );

    // Stopped behind mlenv's back: status follows podman.
    assert!(podman(&["stop", "-t", "2", v["name"].as_str().unwrap()])
        .status
        .success());
    let (_, v3) = status_json(&p, &[]);
    let c = inspect(v["name"].as_str().unwrap());
    assert_eq!(v3["state"], c["State"]["Status"]);
    assert_eq!(v3["running"], false);
    assert!(v3.get("uptime_seconds").is_none() || v3["uptime_seconds"].is_null());
}

#[test]
fn status_json_absent() {
    let p = Project::new("status-absent");
    let (out, v) = status_json(&p, &[]);
    assert_eq!(v["state"], "absent");
    assert_eq!(v["running"], false);
    assert!(v["name"]
        .as_str()
        .unwrap()
        .starts_with("mlenv-status-absent-"));
    assert!(!exists(v["name"].as_str().unwrap()));
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));
    // Human: says how to create it, exit 0.
    let out = p.ok(&["status"]);
    assert!(
        text(&out.stdout).contains("mlenv up"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn status_human_readable() {
    let p = Project::new("status-human");
    let port = crate::harness::free_port();
    p.up(&["--port", &format!("{port}:80")]);
    let name = p.name();
    let c = inspect(&name);
    let out = p.ok(&["status"]);
    let s = text(&out.stdout);
    let row = |k: &str| -> String {
        s.lines()
            .find(|l| l.starts_with(k))
            .unwrap_or_else(|| panic!("no {k} line in:\n{s}"))[k.len()..]
            .trim()
            .to_string()
    };
    assert_eq!(row("Container:"), name);
    assert!(row("State:").starts_with("running (up "), "{s}");
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(row("Image:"), c["ImageName"].as_str().unwrap());
    assert_eq!(row("Ports:"), format!("127.0.0.1:{port}->80/tcp"));
    assert_eq!(row("Project:"), p.dir.to_str().unwrap());
    assert!(serde_json::from_slice::<serde_json::Value>(&out.stdout).is_err());
}

#[test]
fn logs_show_container_output() {
    let p = Project::new("logs-out");
    p.up(&[]);
    let name = p.name();
    let w = podman(&[
        "exec",
        &name,
        "sh",
        "-c",
        "echo hi-from-pid1 > /proc/1/fd/1; echo oops-from-pid1 > /proc/1/fd/2",
    ]);
    assert!(w.status.success(), "{}", text(&w.stderr));
    // podman's own view, then mlenv's.
    let pl = podman(&["logs", &name]);
    assert!(text(&pl.stdout).contains("hi-from-pid1"));
    let out = p.ok(&["logs"]);
    assert!(
        text(&out.stdout).contains("hi-from-pid1"),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("oops-from-pid1"));
    assert!(
        text(&out.stderr).contains("oops-from-pid1"),
        "stderr: {}",
        text(&out.stderr)
    );

    // No container: an error that says what to do.
    let q = Project::new("logs-absent");
    let out = q.run(&["logs"]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("mlenv up"),
        "{}",
        text(&out.stderr)
    );
}

/// `2026-11-29T01:53:10.342240Z` at the start of a line.
fn starts_with_rfc3339(line: &str) -> bool {
    let b = line.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        r.into_iter()
            .all(|i| b.get(i).is_some_and(u8::is_ascii_digit))
    };
    digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19)
        && line
            .split_whitespace()
            .next()
            .is_some_and(|t| t.ends_with('Z') || t.contains('+'))
}

#[test]
fn logs_mlenv_shows_the_debug_log() {
    let p = Project::new("logs-mlenv");
    p.up(&[]);
    let id = p.inspect()["Id"].as_str().unwrap().to_string();
    let out = p.ok(&["logs", "--mlenv"]);
    let log = text(&out.stdout);
    assert!(!log.trim().is_empty());
    for line in log.lines().filter(|l| !l.is_empty()) {
        assert!(starts_with_rfc3339(line), "not timestamped: {line:?}");
    }
    assert!(log.contains("creating container"), "{log}");
    // The id podman gave the container it created.
    assert!(log.contains(&id), "log does not name {id}:\n{log}");
    // It is the file in the state dir, on the host.
    let name = p.name();
    let file = p.state.join("mlenv").join(&name).join("mlenv.log");
    let on_disk = std::fs::read_to_string(&file).unwrap();
    assert!(
        on_disk.starts_with(&log),
        "stdout is not the log file's content"
    );
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
}

#[test]
fn status_quiet_and_verbose_flags() {
    let p = Project::new("quiet-verbose");
    // A cold `up -q` prints nothing but does the work.
    let out = p.ok(&["-q", "up", "--image", BUSYBOX]);
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    let name = p.name();
    assert_eq!(inspect(&name)["State"]["Running"], true);
    // Warm, quiet: still nothing.
    let out = p.ok(&["up", "-q", "--image", BUSYBOX]);
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));
    // Warm, normal: one ✔ line.
    let out = p.ok(&["up", "--image", BUSYBOX]);
    let normal = text(&out.stderr);
    assert!(normal.contains('✔') && normal.contains(&name), "{normal}");
    // Warm, verbose: more than that, with debug lines.
    let out = p.ok(&["up", "-v", "--image", BUSYBOX]);
    let verbose = text(&out.stderr);
    assert!(verbose.contains("DEBUG"), "{verbose}");
    assert!(
        verbose.lines().count() > normal.lines().count(),
        "{verbose}"
    );
    // Errors still show with -q.
    let q = Project::new("quiet-err");
    let out = q.run(&["-q", "exec", "-c", "true"]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("mlenv up"),
        "{}",
        text(&out.stderr)
    );
    // -q does not touch a command's own output.
    let out = p.ok(&["-q", "exec", "-c", "echo x; echo y >&2"]);
    assert_eq!(text(&out.stdout), "x\n");
    assert_eq!(text(&out.stderr), "y\n");
}
