//! `mlenv.toml` and `~/.config/mlenv/config.toml`: precedence (flags > project file > user
//! file > defaults) checked on the container podman made, errors with file and line that
//! create nothing, and `mlenv init` writing a file that `up` then reads.

use std::path::PathBuf;

use super::harness::{cgroup_v2, code, containers_for, forwarded, settings_label};
use super::harness::{exists, free_port, inspect, text, Project, BUSYBOX};

/// The user config file of this project's isolated XDG_CONFIG_HOME.
fn user_config(p: &Project) -> PathBuf {
    let file = p.root.path().join("config/mlenv/config.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    file
}

fn env_of(name: &str) -> Vec<String> {
    inspect(name)["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn config_precedence_is_flags_then_project_then_user_then_defaults() {
    let p = Project::new("config-precedence");
    let (user_port, project_port) = (free_port(), free_port());
    // The user file: image, memory, cpus, ports and GPUs for every project.
    std::fs::write(
        user_config(&p),
        format!(
            "image = \"{BUSYBOX}\"\nmemory = \"64m\"\ncpus = 1\nports = [\"{user_port}:8000\"]\ngpus = \"none\"\n"
        ),
    )
    .unwrap();
    // The project file: its own memory and ports, and an env file (relative to the project).
    std::fs::write(
        p.dir.join("mlenv.toml"),
        format!(
            "# this project\nmemory = \"96m\"\nports = [{project_port}]\nenv-file = \"config.env\"\nautostart = false\n"
        ),
    )
    .unwrap();
    std::fs::write(p.dir.join("config.env"), "FROM_CONFIG_FILE=yes\n").unwrap();

    // A flag beats both files.
    let out = p.ok(&["up", "--cpus", "0.5"]);
    let name = p.name();
    let c = inspect(&name);
    assert!(
        c["ImageName"]
            .as_str()
            .unwrap()
            .contains("mlenv-test/busybox"),
        "image from the user file: {}",
        c["ImageName"]
    );
    let s = settings_label(&name);
    assert_eq!(s["memory"], 96u64 << 20, "project file over user file: {s}");
    assert_eq!(s["cpus"], 0.5, "flag over user file: {s}");
    assert_eq!(
        s["gpus"],
        serde_json::json!([]),
        "user file's gpus = none: {s}"
    );
    if cgroup_v2() {
        assert_eq!(c["HostConfig"]["Memory"], 96u64 << 20);
    }
    // The project's ports replace the user's: lists are not merged.
    assert_eq!(
        forwarded(&name, project_port),
        [("127.0.0.1".to_string(), project_port.to_string())]
    );
    assert!(forwarded(&name, 8000).is_empty(), "user ports leaked in");
    assert!(env_of(&name).contains(&"FROM_CONFIG_FILE=yes".to_string()));
    // autostart = false: no unit was written.
    assert!(
        !text(&out.stderr).contains("autostart unit"),
        "{}",
        text(&out.stderr)
    );
    let units = p.root.path().join("config/containers/systemd");
    let services = p.root.path().join("config/systemd/user");
    for dir in [units, services] {
        let found: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            found.is_empty(),
            "autostart = false, yet {dir:?} has {found:?}"
        );
    }

    // The files are what `up` compares with: the flag was a one-off, so a plain `up` sees
    // that the container's CPUs differ from the config and changes nothing.
    let id = c["Id"].clone();
    let out = p.run(&["up"]);
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cpus"), "{}", text(&out.stderr));
    assert_eq!(inspect(&name)["Id"], id);
    // The same flag again: warm, nothing to do.
    p.ok(&["up", "--cpus", "0.5"]);
    // Editing the project file is drift too, applied by --recreate.
    std::fs::write(
        p.dir.join("mlenv.toml"),
        format!("memory = \"128m\"\nports = [{project_port}]\nenv-file = \"config.env\"\ncpus = 0.5\nautostart = false\n"),
    )
    .unwrap();
    let out = p.run(&["up"]);
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("memory"),
        "{}",
        text(&out.stderr)
    );
    p.ok(&["up", "--recreate"]);
    assert_eq!(settings_label(&name)["memory"], 128u64 << 20);
    assert_ne!(inspect(&name)["Id"], id);
}

#[test]
fn config_errors_name_the_file_and_line_and_create_nothing() {
    // (file, content, what stderr must contain)
    let cases: &[(&str, &str, &str)] = &[
        (
            "project",
            "image = \"x\"\n\nmemroy = \"1g\"\n",
            "mlenv.toml:3: unknown field `memroy`",
        ),
        ("project", "port = [8888]\n", "did you mean `ports`?"),
        (
            "project",
            "\nmemory = \"16x\"\n",
            "mlenv.toml:2: invalid memory = \"16x\"",
        ),
        (
            "project",
            "cpus = -1\n",
            "mlenv.toml:1: invalid cpus = \"-1\"",
        ),
        (
            "project",
            "ports = [\"8888:abc\"]\n",
            "mlenv.toml:1: invalid ports",
        ),
        (
            "project",
            "gpus = \"foo\"\n",
            "mlenv.toml:1: invalid gpus = \"foo\"",
        ),
        (
            "project",
            "user-mapping = \"no\"\n",
            "mlenv.toml:1: invalid user-mapping = \"no\": expected true or false",
        ),
        (
            "project",
            "env-file = \"missing.env\"\n",
            "mlenv.toml:1: invalid env-file",
        ),
        (
            "project",
            "requirements = \"missing.txt\"\n",
            "mlenv.toml:1: Requirements file not found",
        ),
        ("project", "memory = 16g\n", "mlenv.toml:1:"),
        (
            "project",
            "image = \"my image\"\n",
            "mlenv.toml:1: invalid image \"my image\"",
        ),
        (
            "user",
            "\n\ncpus = \"many\"\n",
            "config.toml:3: invalid cpus = \"many\"",
        ),
        ("user", "gpu = 0\n", "config.toml:1: unknown field `gpu`"),
    ];
    for (which, content, wanted) in cases {
        let p = Project::new("config-bad");
        let file = match *which {
            "project" => p.dir.join("mlenv.toml"),
            _ => user_config(&p),
        };
        std::fs::write(&file, content).unwrap();
        let out = p.run(&["up", "--gpu", "none"]);
        let stderr = text(&out.stderr);
        assert_eq!(code(&out), 2, "{content:?}: {stderr}");
        let error = stderr.lines().find(|l| l.starts_with('✖')).unwrap_or("");
        assert!(
            error.contains(wanted) && error.contains(file.to_str().unwrap()),
            "{content:?}: wanted {wanted:?} and the path {file:?} in the error, got: {stderr}"
        );
        // Nothing was made: no container, not even mlenv's state dir.
        assert!(!p.state.exists(), "{content:?}: state dir written");
        assert!(!exists(&p.name()), "{content:?}: container created");
        assert!(containers_for(&p.dir).is_empty());
        // A flag does not excuse a bad file: the file is always checked whole.
        if *which == "project" && content.contains("memory") {
            let out = p.run(&["up", "--gpu", "none", "--memory", "1g"]);
            assert_eq!(code(&out), 2, "{content:?}: {}", text(&out.stderr));
        }
    }
}

#[test]
fn config_init_writes_a_commented_file_that_up_reads() {
    let p = Project::new("config-init");
    let port = free_port();
    std::fs::write(p.dir.join("dev.env"), "INIT_VAR=from-init\n").unwrap();
    let port_arg = format!("{port}:8000");
    let out = p.ok(&[
        "init",
        "--image",
        BUSYBOX,
        "--port",
        &port_arg,
        "--env-file",
        "dev.env",
        "--gpu",
        "none",
        "--memory",
        "80m",
        "--requirements",
        "none",
        "--no-autostart",
    ]);
    assert!(text(&out.stderr).contains("mlenv.toml"));
    let file = p.dir.join("mlenv.toml");
    let written = std::fs::read_to_string(&file).unwrap();
    for line in [
        format!("image = \"{BUSYBOX}\""),
        format!("ports = [\"{port}:8000\"]"),
        "env-file = \"dev.env\"".to_string(),
        "gpus = \"none\"".to_string(),
        "memory = \"80m\"".to_string(),
        "requirements = \"none\"".to_string(),
        "autostart = false".to_string(),
        // Not given: commented out, with an example.
        "# cpus = 4".to_string(),
        "# user-mapping = true".to_string(),
    ] {
        assert!(
            written.lines().any(|l| l == line),
            "{line:?} not in:\n{written}"
        );
    }
    // Nothing secret: the file names the env file, never its values.
    assert!(!written.contains("from-init"));
    // Bad flags write nothing; an existing file is kept without --force.
    let out = p.run(&["init", "--memory", "lots"]);
    assert_eq!(code(&out), 2);
    let out = p.run(&["init", "--memory", "1g"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
    assert!(!exists(&p.name()), "init created a container");

    // `up` with no flags gets it all from the file.
    p.ok(&["up"]);
    let name = p.name();
    assert!(inspect(&name)["ImageName"]
        .as_str()
        .unwrap()
        .contains("mlenv-test/busybox"));
    assert_eq!(
        forwarded(&name, 8000),
        [("127.0.0.1".to_string(), port.to_string())]
    );
    assert!(env_of(&name).contains(&"INIT_VAR=from-init".to_string()));
    assert_eq!(settings_label(&name)["memory"], 80u64 << 20);
    // Warm: same config, nothing to do.
    p.ok(&["up"]);

    // --force replaces it.
    p.ok(&["init", "--force", "--cpus", "1"]);
    let replaced = std::fs::read_to_string(&file).unwrap();
    assert!(replaced.lines().any(|l| l == "cpus = 1"), "{replaced}");
    assert!(replaced.lines().any(|l| l.starts_with("# image = ")));
}
