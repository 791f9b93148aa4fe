//! Bad input to `mlenv up`: exit 2, an error on stderr naming the offending value, and
//! nothing created or changed, checked through the podman CLI and the state dir.

use super::harness::{all_containers, exists, inspect, text, Project, BUSYBOX};
use super::harness::{code, containers_for};

/// The secret on the malformed `.env` line; no error message may repeat it.
const ENV_SECRET: &str = "hunter2-Qm4Zr8Xv";

struct Case {
    what: &'static str,
    /// Arguments after `up` (`--image BUSYBOX` is added unless they name an image).
    args: Vec<String>,
    /// What stderr must contain: the offending value as the user gave it.
    names: &'static str,
    /// A file to write in the project folder first.
    file: Option<(&'static str, String)>,
    /// What stderr must not contain.
    hidden: Option<&'static str>,
}

fn case(what: &'static str, args: &[&str], names: &'static str) -> Case {
    Case {
        what,
        args: args.iter().map(|s| s.to_string()).collect(),
        names,
        file: None,
        hidden: None,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case("port not a number", &["--port", "8888:abc"], "8888:abc"),
        case("port out of range", &["--port", "70000:1"], "70000"),
        case("port empty", &["--port", ""], "--port \"\""),
        case(
            "port in a list",
            &["--port", "8888:8888,,1"],
            "8888:8888,,1",
        ),
        case("gpu empty item", &["--gpu", "0,,1"], "0,,1"),
        case("gpu word", &["--gpu", "foo"], "foo"),
        case(
            "gpu kind without a CDI spec",
            &["--gpu", "example.com/nothing=0"],
            "example.com/nothing",
        ),
        case("memory unit", &["--memory", "16x"], "16x"),
        case("ipc word", &["--ipc", "shareable"], "shareable"),
        case(
            "shm size too small",
            &["--ipc", "private", "--shm-size", "2"],
            "--shm-size \"2\"",
        ),
        case("ulimit name", &["--ulimit", "mem=1"], "mem=1"),
        case(
            "ulimit soft above hard",
            &["--ulimit", "nofile=10:5"],
            "nofile=10:5",
        ),
        case("home word", &["--home", "elsewhere"], "elsewhere"),
        case(
            "pip constraints word",
            &["--pip-constraints", "maybe"],
            "maybe",
        ),
        case(
            "port auto without a container port",
            &["--port", "auto"],
            "auto",
        ),
        case("cpus negative", &["--cpus=-1"], "-1"),
        case("cpus zero", &["--cpus", "0"], "--cpus \"0\""),
        case("env file missing", &["--env-file", "missing"], "missing"),
        Case {
            what: "env file with a malformed line",
            args: vec!["--env-file".into(), "bad.env".into()],
            names: "bad.env",
            file: Some((
                "bad.env",
                format!("GOOD=1\nBAD LINE {ENV_SECRET}\nLATER=2\n"),
            )),
            hidden: Some(ENV_SECRET),
        },
        case("image with a space", &["--image", "my image"], "my image"),
    ]
}

/// Runs `up [--image BUSYBOX] ARGS` and checks the answer: exit 2, an error line naming the
/// value, no secret. Returns stderr.
fn run_bad(p: &Project, c: &Case) -> String {
    if let Some((file, content)) = &c.file {
        std::fs::write(p.dir.join(file), content).unwrap();
    }
    let mut args: Vec<&str> = vec!["up"];
    // The busybox image unless the case is about the image (clap takes --image once).
    if !c.args.iter().any(|a| a == "--image") {
        args.extend(["--image", BUSYBOX]);
    }
    args.extend(c.args.iter().map(String::as_str));
    let out = p.run(&args);
    let stderr = text(&out.stderr);
    assert_eq!(
        code(&out),
        2,
        "case {:?} ({:?}): exit code; stderr: {stderr}",
        c.what,
        c.args
    );
    let error = stderr
        .lines()
        .find(|l| l.starts_with('✖'))
        .unwrap_or_else(|| panic!("case {:?}: no ✖ error line: {stderr}", c.what));
    assert!(
        stderr.contains(c.names),
        "case {:?}: the error does not name {:?}: {stderr}",
        c.what,
        c.names
    );
    assert!(
        error.contains("invalid") || error.contains("no CDI spec"),
        "case {:?}: not a bad-input error: {stderr}",
        c.what
    );
    if let Some(h) = c.hidden {
        assert!(
            !stderr.contains(h) && !text(&out.stdout).contains(h),
            "case {:?}: the error echoes the secret: {stderr}",
            c.what
        );
    }
    assert!(
        !stderr.contains("Created") && !stderr.contains("Started"),
        "case {:?}: {stderr}",
        c.what
    );
    stderr
}

#[test]
fn bad_input_is_rejected_and_creates_nothing() {
    for c in cases() {
        let p = Project::new(&format!("bad {}", c.what));
        let before = all_containers();
        run_bad(&p, &c);
        // Not even the state dir (lock, log) was written.
        assert!(
            !p.state.exists(),
            "case {:?}: mlenv wrote its state dir {}",
            c.what,
            p.state.display()
        );
        let name = p.name();
        assert!(!exists(&name), "case {:?}: {name} was created", c.what);
        let labelled = containers_for(&p.dir);
        assert!(
            labelled.is_empty(),
            "case {:?}: containers labelled for the project: {labelled:?}",
            c.what
        );
        let new: Vec<String> = all_containers()
            .into_iter()
            .filter(|n| !before.contains(n) && n == &name)
            .collect();
        assert!(new.is_empty(), "case {:?}: new containers {new:?}", c.what);
    }
}

#[test]
fn bad_input_leaves_a_running_container_unchanged() {
    let p = Project::new("bad-existing");
    p.up(&["--gpu", "none"]);
    let name = p.name();
    let before = inspect(&name);
    let id = before["Id"].clone();
    let started = before["State"]["StartedAt"].clone();
    let labels = before["Config"]["Labels"].clone();
    assert_eq!(before["State"]["Running"], true);
    for c in cases() {
        run_bad(&p, &c);
        let now = inspect(&name);
        assert_eq!(
            now["Id"], id,
            "case {:?}: the container was replaced",
            c.what
        );
        assert_eq!(
            now["State"]["Running"], true,
            "case {:?}: the container stopped",
            c.what
        );
        assert_eq!(
            now["State"]["StartedAt"], started,
            "case {:?}: the container was restarted",
            c.what
        );
        assert_eq!(
            now["Config"]["Labels"], labels,
            "case {:?}: the recorded settings changed",
            c.what
        );
        assert_eq!(
            containers_for(&p.dir),
            std::slice::from_ref(&name),
            "case {:?}",
            c.what
        );
    }
    // --recreate with bad input replaces nothing either.
    let c = case(
        "recreate with a bad port",
        &["--recreate", "--port", "1:2:3:4"],
        "1:2:3:4",
    );
    run_bad(&p, &c);
    assert_eq!(
        inspect(&name)["Id"],
        id,
        "a bad --recreate replaced the container"
    );
}
