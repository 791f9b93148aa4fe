//! `mlenv export kube|slurm`: the manifest and the batch script are played for real.
//!
//! * Kubernetes: the manifest is validated against the Kubernetes schema
//!   (kubernetes-validate --strict, installed by tests/setup-host.sh), then played with
//!   rootless `podman kube play --userns=keep-id`: on podman 5 as it stands, Secret and Job
//!   included; on podman 4.3 a Job's template is played as a Pod and the Secret is created
//!   with `podman secret create`. Both drop the cpu/memory resources, which rootless runc on
//!   this cgroup v1 host cannot set. The pod's env, uid,
//!   port, mounts and installed packages are checked through the podman CLI and a TCP
//!   connection.
//! * Slurm: the script is submitted with `sbatch` to the single-node cluster that
//!   tests/setup-slurm.sh runs on this machine, and the job's output file, the files it
//!   wrote and the install record are checked.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::harness::wheels;
use super::harness::{code, podman_ok, unique};
use super::harness::{
    free_port, inspect, podman, podman_version, skip_on_podman, text, wait_until, Project, PYTHON,
};

const KUBERNETES_VALIDATE: &str = "/opt/mlenv-test/kv/bin/kubernetes-validate";

fn write(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A project with a wheel `pkg` 1.0 in a wheelhouse, an offline requirements file for it,
/// an env file holding `secret` (quoted, as dotenv allows) and an mlenv.toml with `extra`.
fn project(folder: &str, pkg: &str, secret: &str, extra: &str) -> Project {
    let p = Project::new(folder);
    let wh = p.dir.join("wheelhouse");
    wheels(&wh, &[(pkg, "1.0", 0)]);
    write(
        &p.dir.join("requirements.txt"),
        &format!("--no-index\n--find-links {}\n{pkg}\n", wh.display()),
    );
    write(
        &p.dir.join(".env"),
        &format!("# secrets\nAPI_TOKEN=\"{secret}\"\nexport MODE=test\n"),
    );
    write(
        &p.dir.join("mlenv.toml"),
        &format!("image = \"{PYTHON}\"\nenv-file = \".env\"\n{extra}"),
    );
    p
}

fn export(p: &Project, args: &[&str]) -> String {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    p.ok(&all);
    let out = args
        .iter()
        .position(|a| *a == "-o")
        .map(|i| PathBuf::from(args[i + 1]))
        .expect("-o FILE");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", out.display());
    std::fs::read_to_string(&out).unwrap()
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).expect("YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

/// kubernetes-validate --strict: every document must pass (an unknown kind only warns and
/// exits 0, so the "passed" lines are counted).
fn validate(file: &Path, docs: usize) {
    assert!(
        Path::new(KUBERNETES_VALIDATE).exists(),
        "{KUBERNETES_VALIDATE} is missing: run tests/setup-host.sh (as root) first"
    );
    let out = Command::new(KUBERNETES_VALIDATE)
        .arg("--strict")
        .arg(file)
        .output()
        .expect("run kubernetes-validate");
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    let passed = all.lines().filter(|l| l.contains(" passed ")).count();
    assert!(
        out.status.success() && passed == docs,
        "kubernetes-validate --strict {}: {passed} of {docs} documents passed ({}):\n{all}",
        file.display(),
        out.status
    );
}

/// What a played manifest left behind, removed on drop (also when a check fails).
struct Played {
    yaml: PathBuf,
    pod: String,
    secret: Option<String>,
}

impl Drop for Played {
    fn drop(&mut self) {
        let _ = podman(&["kube", "down", self.yaml.to_str().unwrap()]);
        let _ = podman(&["pod", "rm", "-f", "-t", "0", &self.pod]);
        if let Some(s) = &self.secret {
            let _ = podman(&["secret", "rm", s]);
        }
        let _ = podman(&["volume", "rm", "-f", &format!("{}-shm", self.pod)]);
    }
}

/// Plays the manifest. Podman 5 reads it as a cluster would, its `Secret` and `Job`
/// (from 5.3) included; podman 4.3 gets the changes the module comment names. Both lose
/// the cpu/memory resources, which rootless runc on this cgroup v1 host cannot set.
fn play(docs: &[Value], dir: &Path) -> Played {
    let native = podman_version() >= (5, 3);
    let mut keep = Vec::new();
    let mut secret = None;
    for d in docs {
        match d["kind"].as_str().unwrap() {
            "Secret" if native => {
                secret = Some(d["metadata"]["name"].as_str().unwrap().to_string());
                keep.push(d.clone());
            }
            "Job" if native => {
                let mut job = d.clone();
                strip_limits(&mut job["spec"]["template"]);
                keep.push(job);
            }
            "Secret" => {
                let name = d["metadata"]["name"].as_str().unwrap().to_string();
                // Only a JSON map of base64 values works with 4.3's secretRef.
                let json = dir.join("secret.json");
                write(&json, &serde_json::to_string(&d["data"]).unwrap());
                podman_ok(&["secret", "create", &name, json.to_str().unwrap()]);
                secret = Some(name);
            }
            "PersistentVolumeClaim" => keep.push(d.clone()),
            "Job" => {
                let t = &d["spec"]["template"];
                let mut pod = serde_json::json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": d["metadata"].clone(),
                    "spec": t["spec"].clone(),
                });
                strip_limits(&mut pod);
                keep.push(pod);
            }
            "Pod" => {
                let mut pod = d.clone();
                strip_limits(&mut pod);
                keep.push(pod);
            }
            other => panic!("unexpected kind {other}"),
        }
    }
    let last = keep.last().unwrap();
    let mut pod = last["metadata"]["name"].as_str().unwrap().to_string();
    if last["kind"] == "Job" {
        // Podman's pod for a Job (pkg/domain/infra/abi/play.go).
        pod.push_str("-pod");
    }
    let yaml = dir.join("play.yaml");
    let text_out: Vec<String> = keep
        .iter()
        .map(|d| serde_yaml_ng::to_string(d).unwrap())
        .collect();
    write(&yaml, &text_out.join("---\n"));
    let played = Played { yaml, pod, secret };
    podman_ok(&[
        "kube",
        "play",
        "--userns=keep-id",
        played.yaml.to_str().unwrap(),
    ]);
    played
}

fn strip_limits(pod: &mut Value) {
    // Keep the init container after it ran (podman removes a "once" one), so that its
    // logs show what it did.
    pod["metadata"]["annotations"]["io.podman.annotations.init.container.type"] =
        Value::String("always".into());
    let spec = &mut pod["spec"];
    for list in ["initContainers", "containers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                if let Some(r) = c.get_mut("resources").and_then(Value::as_object_mut) {
                    for part in ["requests", "limits"] {
                        if let Some(m) = r.get_mut(part).and_then(Value::as_object_mut) {
                            m.remove("cpu");
                            m.remove("memory");
                        }
                    }
                }
            }
        }
    }
}

fn exec(container: &str, args: &[&str]) -> String {
    let mut all = vec!["exec", container];
    all.extend_from_slice(args);
    podman_ok(&all).trim().to_string()
}

/// Standard base64, as a Secret's `data` holds values.
fn b64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= u32::from(*b) << (16 - 8 * i);
        }
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ABC[(n >> (18 - 6 * i)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    out
}

fn my_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// The key `mlenv up` records, computed here independently: sha256 over a version tag,
/// the image key and every input file's path, length and bytes.
fn expected_key(image_key: &str, files: &[&Path]) -> String {
    let mut h = Sha256::new();
    h.update(b"mlenv-requirements-v1\0");
    h.update(image_key.as_bytes());
    h.update([0]);
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        h.update(f.to_str().unwrap().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn first_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn wait_running(container: &str) {
    let ok = wait_until(Duration::from_secs(60), || {
        podman(&["inspect", "--format", "{{.State.Running}}", container])
            .stdout
            .starts_with(b"true")
    });
    assert!(
        ok,
        "{container} is not running: {}",
        text(&podman(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]).stdout)
    );
}

/// An HTTP GET through the forwarded port, answered by `python -m http.server` in the pod.
fn http_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    if s.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.0 200")
}

#[test]
fn export_kube_pod_plays_with_env_port_mounts_uid_and_requirements() {
    let secret = unique("tok-");
    let port = free_port();
    let p = project(
        "export-kube-pod",
        "kubepkg",
        &secret,
        &format!(
            "ports = [\"{port}:8000\"]\nmemory = \"512m\"\ncpus = \"1\"\ngpus = [\"mlenv.test/dev=zero\"]\n"
        ),
    );
    let file = p.root.path().join("pod.yaml");
    let manifest = export(&p, &["kube", "--host-path", "-o", file.to_str().unwrap()]);
    let docs = documents(&manifest);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Secret", "Pod"], "{manifest}");
    validate(&file, 2);

    // The value is in the Secret only, and there base64-encoded.
    assert!(!manifest.contains(&secret), "{manifest}");
    let data = &docs[0]["data"];
    assert_eq!(data["API_TOKEN"], b64(secret.as_bytes()), "{manifest}");
    let pod_text = serde_json::to_string(&docs[1]).unwrap();
    assert!(!pod_text.contains(data["API_TOKEN"].as_str().unwrap()));

    let pod = &docs[1];
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();
    let main = &pod["spec"]["containers"][0];
    assert_eq!(
        main["resources"]["limits"]["mlenv.test/dev"], 1,
        "{manifest}"
    );
    assert_eq!(main["resources"]["limits"]["memory"], "512Mi");
    assert_eq!(main["resources"]["requests"]["cpu"], "1");
    assert_eq!(pod["spec"]["securityContext"]["runAsUser"], my_uid());

    let played = play(&docs, p.root.path());
    let c = format!("{name}-main");
    wait_running(&c);
    let dir = p.dir.to_str().unwrap();

    // Env from the Secret (quotes parsed as mlenv parses the env file), uid, workdir.
    assert_eq!(exec(&c, &["printenv", "API_TOKEN"]), secret);
    assert_eq!(exec(&c, &["printenv", "MODE"]), "test");
    assert_eq!(exec(&c, &["id", "-u"]), my_uid().to_string());
    assert_eq!(exec(&c, &["pwd"]), dir);
    // The project at its own path: the container writes a file the user owns on the host.
    let mounts = inspect(&c)["Mounts"].clone();
    assert!(
        mounts
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["Source"] == dir && m["Destination"] == dir),
        "{mounts}"
    );
    exec(&c, &["sh", "-c", "echo hi > written-in-pod"]);
    let meta = std::fs::metadata(p.dir.join("written-in-pod")).unwrap();
    assert_eq!(meta.uid(), my_uid());
    // The requirements, installed by the init container into the user base.
    let imported = exec(
        &c,
        &[
            "python3",
            "-c",
            "import kubepkg; print(kubepkg.VERSION, kubepkg.__file__)",
        ],
    );
    assert!(imported.starts_with("1.0 /opt/mlenv/python/"), "{imported}");
    let init = podman(&["logs", &format!("{name}-requirements")]);
    let init = format!("{}{}", text(&init.stdout), text(&init.stderr));
    assert!(
        init.contains("mlenv: installing requirements from"),
        "the init container did not install:\n{init}"
    );
    let record = p
        .root
        .path()
        .join("data/mlenv")
        .join(&name)
        .join("python/kube/.mlenv-requirements");
    let req = p.dir.join("requirements.txt");
    assert_eq!(first_line(&record), expected_key(PYTHON, &[&req]));
    // The port, forwarded as mlenv forwarded it.
    podman_ok(&["exec", "-d", &c, "python3", "-m", "http.server", "8000"]);
    assert!(
        wait_until(Duration::from_secs(20), || http_ok(port)),
        "nothing answers on 127.0.0.1:{port}"
    );

    // A second play finds the record and installs nothing: the record is untouched.
    let before = std::fs::metadata(&record).unwrap();
    podman_ok(&["kube", "down", played.yaml.to_str().unwrap()]);
    podman_ok(&[
        "kube",
        "play",
        "--userns=keep-id",
        played.yaml.to_str().unwrap(),
    ]);
    wait_running(&c);
    let init = podman(&["logs", &format!("{name}-requirements")]);
    let init = format!("{}{}", text(&init.stdout), text(&init.stderr));
    assert!(
        init.contains("mlenv: requirements unchanged") && !init.contains("installing"),
        "the init container of the second play did not skip the install:\n{init}"
    );
    let after = std::fs::metadata(&record).unwrap();
    assert_eq!(
        (before.ino(), before.mtime(), before.mtime_nsec()),
        (after.ino(), after.mtime(), after.mtime_nsec()),
        "the second play rewrote the install record"
    );
    let imported = exec(
        &c,
        &["python3", "-c", "import kubepkg; print(kubepkg.VERSION)"],
    );
    assert_eq!(imported, "1.0");
}

#[test]
fn export_kube_job_template_runs_the_command_as_a_pod() {
    let secret = unique("jobtok-");
    let p = project("export-kube-job", "jobpkg", &secret, "");
    let file = p.root.path().join("job.yaml");
    let cmd = "python3 -c 'import os, jobpkg; print(\"job-out\", os.environ[\"API_TOKEN\"], os.getuid(), os.getcwd(), jobpkg.VERSION)'";
    let manifest = export(
        &p,
        &[
            "kube",
            "--job",
            cmd,
            "--host-path",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert!(!manifest.contains(&secret));
    let docs = documents(&manifest);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Secret", "Job"], "{manifest}");
    assert_eq!(docs[1]["spec"]["backoffLimit"], 0);
    validate(&file, 2);

    let played = play(&docs, p.root.path());
    let c = format!("{}-main", played.pod);
    let done = wait_until(Duration::from_secs(90), || {
        podman(&["inspect", "--format", "{{.State.Status}}", &c])
            .stdout
            .starts_with(b"exited")
    });
    let logs = podman(&["logs", &c]);
    let logs = format!("{}{}", text(&logs.stdout), text(&logs.stderr));
    assert!(done, "the job did not finish: {logs}");
    let state = inspect(&c)["State"].clone();
    assert_eq!(state["ExitCode"], 0, "{logs}");
    let want = format!(
        "job-out {secret} {} {} 1.0",
        my_uid(),
        p.dir.to_str().unwrap()
    );
    assert!(logs.lines().any(|l| l == want), "want {want:?} in:\n{logs}");
}

// ---------------------------------------------------------------------------------------
// Slurm
// ---------------------------------------------------------------------------------------

/// Why the Slurm tests do not apply to podman 5: the job runs on the Slurm node.
const SLURM_PODMAN: &str = "the Slurm node of tests/setup-slurm.sh runs its jobs with the host's podman 4.3.1 (slurmd starts them outside the podman 5 rootfs), so a job never meets the podman under test";

fn sbatch_path() -> PathBuf {
    ["/usr/bin/sbatch", "/usr/local/bin/sbatch"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("sbatch is not installed: run tests/setup-host.sh (as root; it runs tests/setup-slurm.sh) first")
        })
}

/// Submits `script` from the project folder as this user, with `data` as the packages root.
fn submit(p: &Project, script: &Path, data: &Path) -> String {
    let out = Command::new(sbatch_path())
        .arg("--parsable")
        .arg(script)
        .current_dir(&p.dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", std::env::var("HOME").unwrap())
        .env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap())
        .env("MLENV_SLURM_DATA", data)
        .stdin(Stdio::null())
        .output()
        .expect("run sbatch");
    assert!(
        out.status.success(),
        "sbatch failed ({}): {}\n(is slurmctld running? run tests/setup-slurm.sh as root)",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Polls `scontrol show job` until the job ends; returns its state and exit code.
fn wait_job(id: &str) -> (String, String) {
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        let out = Command::new("scontrol")
            .args(["show", "job", "-o", id])
            .output()
            .expect("run scontrol");
        let line = text(&out.stdout);
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .unwrap_or_default()
                .to_string()
        };
        let state = field("JobState=");
        if [
            "COMPLETED",
            "FAILED",
            "CANCELLED",
            "TIMEOUT",
            "NODE_FAIL",
            "OUT_OF_MEMORY",
        ]
        .contains(&state.as_str())
        {
            return (state, field("ExitCode="));
        }
        if Instant::now() > end {
            let _ = Command::new("scancel").arg(id).output();
            panic!("job {id} did not end in 120 s: {line}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn job_output(p: &Project, name: &str, id: &str) -> String {
    let path = p.dir.join(format!("{name}-{id}.out"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn export_slurm_job_runs_on_the_cluster_and_skips_the_install_the_second_time() {
    if skip_on_podman(5, SLURM_PODMAN) {
        return;
    }
    let secret = unique("slurmtok-");
    let p = project(
        "export-slurm",
        "slurmpkg",
        &secret,
        "cpus = \"1\"\nmemory = \"256m\"\n",
    );
    let file = p.root.path().join("job.sh");
    let cmd = "python3 -c 'import os, slurmpkg; print(\"slurm-out\", os.environ[\"API_TOKEN\"], os.environ[\"MODE\"], os.getuid(), os.getcwd(), slurmpkg.VERSION); open(\"written-by-job\", \"w\").write(\"x\")'";
    let script = export(&p, &["slurm", "--job", cmd, "-o", file.to_str().unwrap()]);
    assert!(!script.contains(&secret), "{script}");
    assert!(script.contains("#SBATCH --cpus-per-task=1\n"), "{script}");
    assert!(script.contains("#SBATCH --mem=256M\n"), "{script}");
    assert!(!script.contains("--gres"), "{script}");
    let bash_n = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(bash_n.status.success(), "{}", text(&bash_n.stderr));
    let name = script
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --job-name="))
        .unwrap()
        .to_string();
    let data = p.root.path().join("slurm-data");

    let id = submit(&p, &file, &data);
    let (state, exit) = wait_job(&id);
    let out = job_output(&p, &name, &id);
    assert_eq!(
        (state.as_str(), exit.as_str()),
        ("COMPLETED", "0:0"),
        "{out}"
    );
    let want = format!(
        "slurm-out {secret} test {} {} 1.0",
        my_uid(),
        p.dir.to_str().unwrap()
    );
    assert!(out.lines().any(|l| l == want), "want {want:?} in:\n{out}");
    assert!(out.contains("mlenv: installing requirements"), "{out}");
    let meta = std::fs::metadata(p.dir.join("written-by-job")).unwrap();
    assert_eq!(meta.uid(), my_uid());
    // `up`'s own key, with the image's ID: the record is what `up` would write.
    let image_id = podman_ok(&["image", "inspect", "--format", "{{.Id}}", PYTHON])
        .trim()
        .to_string();
    let record = data
        .join(&name)
        .join("python")
        .join(&image_id[..12])
        .join(".mlenv-requirements");
    let req = p.dir.join("requirements.txt");
    assert_eq!(first_line(&record), expected_key(&image_id, &[&req]));

    let id2 = submit(&p, &file, &data);
    let (state, exit) = wait_job(&id2);
    let out = job_output(&p, &name, &id2);
    assert_eq!(
        (state.as_str(), exit.as_str()),
        ("COMPLETED", "0:0"),
        "{out}"
    );
    assert!(out.contains("requirements unchanged"), "{out}");
    assert!(!out.contains("installing requirements"), "{out}");
    assert!(out.lines().any(|l| l == want), "want {want:?} in:\n{out}");
}

#[test]
fn export_slurm_pyxis_script_uses_srun_container_image_and_holds_no_value() {
    let secret = unique("pyxistok-");
    let p = project("export-pyxis", "pyxispkg", &secret, "");
    let file = p.root.path().join("pyxis.sh");
    let script = export(
        &p,
        &[
            "slurm",
            "--pyxis",
            "--job",
            "python3 train.py",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    let bash_n = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(bash_n.status.success(), "{}", text(&bash_n.stderr));
    assert!(!script.contains(&secret), "{script}");
    for part in [
        "IMAGE='localhost#mlenv-test/python:latest'",
        "srun \"${srun_args[@]}\" sh -c \"$JOB_CMD\"",
        "--container-image=\"$IMAGE\"",
        "--container-env=API_TOKEN,MODE,",
        &format!("ENV_FILE={}", p.dir.join(".env").display()),
    ] {
        assert!(script.contains(part), "missing {part:?} in:\n{script}");
    }
    assert!(!script.contains("podman"), "{script}");
}

#[test]
fn export_bad_input_is_rejected_with_exit_2_and_writes_nothing() {
    let p = project("export-bad", "badpkg", "x", "");
    let missing = p.root.path().join("no-such-dir/out.yaml");
    let cases: Vec<Vec<String>> = vec![
        vec!["export".into(), "kube".into(), "--job".into(), " ".into()],
        vec!["export".into(), "slurm".into()],
        vec!["export".into(), "slurm".into(), "--job".into(), "".into()],
        vec![
            "export".into(),
            "kube".into(),
            "--pvc".into(),
            "Bad_Name".into(),
        ],
        vec![
            "export".into(),
            "kube".into(),
            "--pvc".into(),
            "a".into(),
            "--host-path".into(),
        ],
        vec![
            "export".into(),
            "kube".into(),
            "-o".into(),
            missing.to_str().unwrap().into(),
        ],
        vec![
            "export".into(),
            "kube".into(),
            "-o".into(),
            p.root.path().to_str().unwrap().into(),
        ],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out: Output = p.run(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    }
    assert!(!missing.parent().unwrap().exists());
}

#[test]
fn export_takes_an_existing_containers_settings_over_the_config_files() {
    let p = Project::new("export-existing");
    write(
        &p.dir.join("mlenv.toml"),
        "image = \"localhost/mlenv-test/busybox:latest\"\n",
    );
    let port = free_port();
    // Created with other settings than the file's, by flags: those are the environment.
    p.ok(&[
        "up",
        "--image",
        PYTHON,
        "--gpu",
        "none",
        "-p",
        &format!("{port}:8000"),
        "--memory",
        "300m",
    ]);
    let file = p.root.path().join("pod.yaml");
    let out = p.ok(&["export", "kube", "-o", file.to_str().unwrap()]);
    assert!(
        text(&out.stderr).contains("as it was created"),
        "{}",
        text(&out.stderr)
    );
    let docs = documents(&std::fs::read_to_string(&file).unwrap());
    let pod = docs.last().unwrap();
    let main = &pod["spec"]["containers"][0];
    assert_eq!(main["image"], PYTHON);
    assert_eq!(main["ports"][0]["hostPort"], port);
    assert_eq!(main["ports"][0]["containerPort"], 8000);
    assert_eq!(main["resources"]["limits"]["memory"], "300Mi");
    // The image is here: its PATH follows the user base's bin, as in the container.
    let path = main["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "PATH")
        .map(|v| v["value"].as_str().unwrap().to_string());
    let want = super::harness::inspect(&p.name())["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|v| {
            v.as_str()
                .unwrap()
                .strip_prefix("PATH=")
                .map(str::to_string)
        });
    assert_eq!(path, want);
    validate(&file, 3);
}

#[test]
fn export_slurm_scancel_stops_the_container() {
    if skip_on_podman(5, SLURM_PODMAN) {
        return;
    }
    let p = project(
        "export-scancel",
        "cancelpkg",
        "x",
        "requirements = \"none\"\n",
    );
    let file = p.root.path().join("job.sh");
    let script = export(
        &p,
        &["slurm", "--job", "sleep 300", "-o", file.to_str().unwrap()],
    );
    assert!(!script.contains("INSTALL="), "{script}");
    let name = script
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --job-name="))
        .unwrap()
        .to_string();
    let id = submit(&p, &file, &p.root.path().join("slurm-data"));
    let container = format!("{name}-{id}");
    let running = wait_until(Duration::from_secs(60), || {
        podman(&["inspect", "--format", "{{.State.Running}}", &container])
            .stdout
            .starts_with(b"true")
    });
    if !running {
        let _ = Command::new("scancel").arg(&id).output();
        panic!("{container} never ran: {}", job_output(&p, &name, &id));
    }
    let out = Command::new("scancel")
        .arg(&id)
        .output()
        .expect("run scancel");
    assert!(out.status.success(), "scancel: {}", text(&out.stderr));
    let (state, _) = wait_job(&id);
    assert_eq!(state, "CANCELLED");
    // The trap stopped the container, which --rm then removed; podman's client alone
    // would have left it running.
    // KillWait (30 s) plus a stop's 10 s grace, and then some: podman's CLI is slow while
    // the other tests run beside this one.
    let gone = wait_until(Duration::from_secs(90), || {
        !podman(&["container", "exists", &container])
            .status
            .success()
    });
    if !gone {
        let state = text(&podman(&["inspect", "--format", "{{.State.Status}}", &container]).stdout);
        let _ = podman(&["rm", "-f", "-t", "0", &container]);
        panic!(
            "{container} outlived scancel (state {}); the job's output:\n{}",
            state.trim(),
            job_output(&p, &name, &id)
        );
    }
    // The trap's stop did it, detached from the job (whose processes Slurm kills), and it
    // says so in the job's output once the container is gone.
    let said = wait_until(Duration::from_secs(30), || {
        job_output(&p, &name, &id).contains(&format!("container {container} stopped and removed"))
    });
    let out = job_output(&p, &name, &id);
    assert!(said, "no word of the stop in the job's output:\n{out}");
    assert!(
        out.contains(&format!("cancelled: stopping container {container}")),
        "{out}"
    );
}
