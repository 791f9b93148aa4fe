//! `mlenv export slurm`: an sbatch script running a command in the environment on a compute
//! node, with rootless podman (the default) or with pyxis (`srun --container-image`).
//!
//! The script holds no env value: it reads the project's env file on the node (the project
//! is on shared storage on a cluster) into the environment of the podman (or srun) process,
//! and podman takes each variable by name (`--env KEY`), so no value is in an argv either.
//! Requirements are installed before the command, into mlenv's own data folder layout
//! (`<data>/<container>/python/<image id>`), with `up`'s key and record: a second job, and
//! `up` on a workstation sharing that folder, skip the install.
//!
//! Ports are not forwarded: a batch job on a compute node serves nobody. Memory and CPUs
//! are Slurm's to enforce (`--mem`, `--cpus-per-task`); rootless podman on a node without
//! cgroup v2 delegation could not.

use super::{install_script, object_name, slurm_cpus, slurm_data_dir, slurm_mem, Environment};
use crate::create::PYTHON_DIR;
use crate::limits::{Ipc, DEFAULT_SHM, NVIDIA_MEMLOCK, NVIDIA_STACK};
use crate::shell::quote;

/// PATH for an image that sets none (as `up` uses).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The batch script. `env.job` is the command (`mlenv export slurm` requires one).
pub fn script(env: &Environment, pyxis: bool) -> String {
    let name = object_name(&env.container);
    let cmd = env.job.as_deref().unwrap_or("true");
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# Written by `mlenv export slurm{}` for {}:\n\
         # runs the job in the environment ({}) on a compute node.\n\
         # Submit with: sbatch THIS-FILE (the output goes to the project folder).\n",
        if pyxis { " --pyxis" } else { "" },
        env.project_dir.replace('\n', " "),
        if pyxis {
            "pyxis: srun --container-image"
        } else {
            "rootless podman"
        }
    ));
    s.push_str(&format!("#SBATCH --job-name={name}\n"));
    s.push_str(&format!(
        "#SBATCH --chdir={}\n",
        sbatch_value(&env.project_dir)
    ));
    s.push_str("#SBATCH --output=%x-%j.out\n");
    s.push_str("#SBATCH --ntasks=1\n");
    if let Some(c) = env.cpus {
        s.push_str(&format!("#SBATCH --cpus-per-task={}\n", slurm_cpus(c)));
    }
    if let Some(m) = env.memory {
        s.push_str(&format!("#SBATCH --mem={}\n", slurm_mem(m)));
    }
    let gpus = env.gpu_total();
    if gpus > 0 {
        s.push_str(&format!("#SBATCH --gres=gpu:{gpus}\n"));
    }
    s.push_str("set -euo pipefail\n\n");
    s.push_str(&format!("PROJECT={}\n", quote(&env.project_dir)));
    s.push_str(&format!(
        "IMAGE={}\n",
        quote(&if pyxis {
            pyxis_image(&env.image)
        } else {
            env.image.clone()
        })
    ));
    s.push_str(&format!("JOB_CMD={}\n", quote(cmd)));
    s.push_str(&format!("DATA={}\n", slurm_data_dir(&env.container)));
    if let Some(f) = &env.env_file {
        s.push_str(&format!(
            "# The env file is read on the node; its values are never written here.\n\
             ENV_FILE={}\n",
            quote(&f.display().to_string())
        ));
    }
    if let Some(req) = &env.requirements {
        s.push_str(&format!("INSTALL={}\n", quote(&install_script(req))));
    }
    s.push('\n');
    if pyxis {
        pyxis_body(env, &mut s);
    } else {
        podman_body(env, &name, &mut s, gpus);
    }
    s
}

/// An `#SBATCH` line is not shell: sbatch splits it on blanks and knows no quotes, so a
/// path with a space would break it; such a path is left to the `cd` in the script.
fn sbatch_value(path: &str) -> String {
    if path.contains(char::is_whitespace) {
        ".".into()
    } else {
        path.into()
    }
}

fn podman_body(env: &Environment, name: &str, s: &mut String, gpus: u32) {
    s.push_str(
        "cd \"$PROJECT\"\n\
         # Rootless podman needs its runtime dir; the login node's (sbatch exports it) may not\n\
         # exist here, and a batch job has no login session to make one.\n\
         export XDG_RUNTIME_DIR=/run/user/$(id -u)\n\
         [ -d \"$XDG_RUNTIME_DIR\" ] && [ -w \"$XDG_RUNTIME_DIR\" ] || export XDG_RUNTIME_DIR=$(mktemp -d /tmp/podman-run-$(id -u).XXXXXX)\n\
         # A compute node runs no systemd user manager: cgroupfs, and events in a file.\n\
         podman=(podman --cgroup-manager=cgroupfs --events-backend=file)\n\n\
         \"${podman[@]}\" image exists \"$IMAGE\" || \"${podman[@]}\" pull -q \"$IMAGE\" >/dev/null\n\
         image_id=$(\"${podman[@]}\" image inspect --format '{{.Id}}' \"$IMAGE\")\n\
         image_path=$(\"${podman[@]}\" image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' \"$IMAGE\" | sed -n 's/^PATH=//p')\n\
         # One folder of installed packages per image, as `mlenv up` keeps them.\n\
         PYDIR=$DATA/python/${image_id:0:12}\n\
         mkdir -p \"$PYDIR\" \"$DATA/home\" \"${XDG_CACHE_HOME:-$HOME/.cache}\"\n\
         name=",
    );
    s.push_str(name);
    s.push_str("-${SLURM_JOB_ID:-$$}\n\n");

    // One option (with its value) a line.
    let mut args: Vec<String> = vec![
        "--rm --init".into(),
        "--security-opt label=disable".into(),
        "-v \"$PROJECT:$PROJECT\"".into(),
        format!("-v \"$PYDIR:{PYTHON_DIR}\""),
        "-w \"$PROJECT\"".into(),
    ];
    args.push(match env.ipc {
        Ipc::Host => "--ipc=host".into(),
        Ipc::Private => format!("--shm-size={}", env.shm_size.unwrap_or(DEFAULT_SHM)),
    });
    for u in &env.ulimits {
        args.push(format!("--ulimit {}={}:{}", u.name, u.soft, u.hard));
    }
    for (name, flag, wanted) in [
        ("memlock", "-l", NVIDIA_MEMLOCK),
        ("stack", "-s", NVIDIA_STACK),
    ] {
        if !env.ulimits.iter().any(|u| u.name == name) {
            args.push(format!("--ulimit \"{name}=$(capped {flag} {wanted})\""));
        }
    }
    if env.user_mapping {
        args.push("--userns=keep-id".into());
        // HOME is never the project folder (podman's keep-id default): the node's home, or
        // the environment's own beside its packages, with the user's caches.
        match env.home {
            crate::settings::Home::Host => args.push("-v \"$HOME:$HOME\"".into()),
            crate::settings::Home::Isolated => {
                args.push("-v \"$DATA/home:$HOME\"".into());
                args.push("-v \"${XDG_CACHE_HOME:-$HOME/.cache}:$HOME/.cache\"".into());
            }
        }
        args.push("-e \"HOME=$HOME\"".into());
        args.push("--passwd-entry \"$(id -un):*:$(id -u):$(id -g)::$HOME:/bin/sh\"".into());
    }
    for (k, v) in env.base_vars() {
        if k != "PATH" {
            args.push(format!("-e {}", quote(&format!("{k}={v}"))));
        }
    }
    args.push(format!(
        "-e \"PATH={PYTHON_DIR}/bin:${{image_path:-{DEFAULT_PATH}}}\""
    ));
    for k in env.env_keys() {
        args.push(format!("--env {}", quote(&k)));
    }
    if gpus > 0 {
        // The node's own CDI spec; Slurm's CUDA_VISIBLE_DEVICES picks the GPUs it gave.
        for (kind, n) in &env.gpus {
            if *n > 0 {
                args.push(format!("--device {}", quote(&format!("{kind}=all"))));
            }
        }
        args.push("--env CUDA_VISIBLE_DEVICES".into());
    }
    s.push_str(
        "# NVIDIA's limits for its images (memlock=-1, stack=64 MiB), at most this node's hard\n\
         # limits: rootless podman cannot raise a hard limit, and a container asking for more fails.\n\
         capped() {\n\
         \x20 local hard; hard=$(ulimit -H \"$1\")\n\
         \x20 if [ \"$hard\" = unlimited ]; then echo \"$2\"\n\
         \x20 elif [ \"$2\" = -1 ] || [ \"$2\" -gt $((hard * 1024)) ]; then echo $((hard * 1024))\n\
         \x20 else echo \"$2\"; fi\n\
         }\n",
    );
    s.push_str("args=(\n");
    for line in &args {
        s.push_str(&format!("  {line}\n"));
    }
    s.push_str(")\n");
    if env.env_file.is_some() {
        s.push_str(
            "# The env file's values reach podman through its environment (--env KEY), never argv.\n\
             in_env() { ( set -a; . \"$ENV_FILE\"; set +a; exec \"$@\" ); }\n",
        );
    } else {
        s.push_str("in_env() { \"$@\"; }\n");
    }
    s.push_str(
        "\n# `scancel` signals the job's processes, not its container: conmon runs it outside the job,\n\
         # so it would outlive the podman client. The trap stops and removes it (--rm's cleanup is\n\
         # conmon's, which a stop left half done would skip). The stop runs detached and deaf to\n\
         # signals: Slurm may signal again, and it kills the job's processes KillWait seconds\n\
         # after the first, both of which would cut a stop short and leave the container running.\n\
         # It repeats each second until podman's client has ended, since a stop that comes while\n\
         # podman is still starting the container finds nothing to stop.\n\
         cancelled= stopping= client=\n\
         stop_until_gone() {\n\
         \x20 trap '' TERM INT HUP\n\
         \x20 while :; do\n\
         \x20   \"${podman[@]}\" rm -f --ignore -t 10 \"$name-requirements\" \"$name\" >/dev/null || true\n\
         \x20   [ -n \"$1\" ] && kill -0 \"$1\" 2>/dev/null || break\n\
         \x20   sleep 1\n\
         \x20 done\n\
         \x20 echo \"mlenv: $(date +%T) container $name stopped and removed\" >&2\n\
         }\n\
         stop() {\n\
         \x20 cancelled=1\n\
         \x20 [ -z \"$stopping\" ] || return 0\n\
         \x20 stopping=1\n\
         \x20 echo \"mlenv: $(date +%T) cancelled: stopping container $name\" >&2\n\
         \x20 ( stop_until_gone \"$client\" </dev/null 9>&- & )\n\
         }\n\
         trap stop TERM INT\n\
         run_container() {\n\
         \x20 [ -z \"$cancelled\" ] || return 143\n\
         \x20 in_env \"${podman[@]}\" run \"${args[@]}\" \"$@\" &\n\
         \x20 client=$!\n\
         \x20 local rc=0\n\
         \x20 # A trapped signal ends `wait` early: podman is waited for until it ends.\n\
         \x20 while :; do\n\
         \x20   rc=0; wait $client || rc=$?\n\
         \x20   kill -0 $client 2>/dev/null || break\n\
         \x20 done\n\
         \x20 return $rc\n\
         }\n\n",
    );
    if env.requirements.is_some() {
        s.push_str(
            "# Jobs sharing the folder install one at a time.\n\
             {\n\
             \x20 if command -v flock >/dev/null; then flock 9; fi\n\
             \x20 run_container --name \"$name-requirements\" \"$IMAGE\" sh -c \"$INSTALL\" mlenv-requirements \"$image_id\"\n\
             } 9>\"$PYDIR.lock\"\n",
        );
    }
    s.push_str("run_container --name \"$name\" \"$IMAGE\" sh -c \"$JOB_CMD\"\n");
}

fn pyxis_body(env: &Environment, s: &mut String) {
    // Slurm hands the GPUs of `--gres` to the container itself.
    s.push_str("cd \"$PROJECT\"\n");
    s.push_str(
        "# No image ID before pyxis imports the image: the key uses the reference.\n\
         PYDIR=$DATA/python/pyxis\n\
         mkdir -p \"$PYDIR\"\n",
    );
    if env.env_file.is_some() {
        s.push_str(
            "# The env file's values go to the tasks through the job's environment, never argv.\n\
             set -a; . \"$ENV_FILE\"; set +a\n",
        );
    }
    let mut names: Vec<String> = env.env_keys();
    let mut exports = Vec::new();
    for (k, v) in env.base_vars() {
        if k == "PATH" {
            continue; // the image's own; the user base's scripts run with `python -m`
        }
        exports.push(format!("{k}={}", quote(&v)));
        names.push(k);
    }
    s.push_str(&format!("export {}\n", exports.join(" ")));
    s.push_str(&format!(
        "srun_args=(--ntasks=1 --export=ALL --container-image=\"$IMAGE\"\n\
         \x20 --container-mounts=\"$PROJECT:$PROJECT,$PYDIR:{PYTHON_DIR}\" --container-workdir=\"$PROJECT\"\n\
         \x20 --container-env={})\n",
        quote(&names.join(","))
    ));
    if env.requirements.is_some() {
        s.push_str(&format!(
            "srun \"${{srun_args[@]}}\" sh -c \"$INSTALL\" mlenv-requirements {}\n",
            quote(&env.image)
        ));
    }
    s.push_str("srun \"${srun_args[@]}\" sh -c \"$JOB_CMD\"\n");
}

/// An image reference as pyxis (enroot) takes it: `REGISTRY#IMAGE[:TAG]`, Docker Hub's
/// without a registry.
pub fn pyxis_image(image: &str) -> String {
    let Some((first, rest)) = image.split_once('/') else {
        return image.to_string();
    };
    let registry = first.contains('.') || first.contains(':') || first == "localhost";
    match (registry, first) {
        (true, "docker.io") => rest.strip_prefix("library/").unwrap_or(rest).to_string(),
        (true, _) => format!("{first}#{rest}"),
        (false, _) => image.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::RequirementsPlan;

    fn environment() -> Environment {
        Environment {
            container: "mlenv-proj-0123abcd".into(),
            project_dir: "/home/u/proj".into(),
            image: "nvcr.io/nvidia/pytorch:24.01-py3".into(),
            image_path: None,
            gpus: vec![("nvidia.com/gpu".into(), 2)],
            memory: Some(16 << 30),
            cpus: Some(2.5),
            ports: crate::ports::parse_list(&["8888".into()]).unwrap(),
            user_mapping: true,
            uid: 1234,
            gid: 567,
            env_file: Some("/home/u/proj/.env".into()),
            env: vec![("API_TOKEN".into(), "s3cr3t-value".into())],
            requirements: Some(RequirementsPlan {
                image_constraints: true,
                file: "/home/u/proj/requirements.txt".into(),
                inputs: vec!["/home/u/proj/requirements.txt".into()],
            }),
            job: Some("python train.py --lr 'a b'".into()),
            ipc: crate::limits::Ipc::Private,
            shm_size: None,
            ulimits: Vec::new(),
            home: crate::settings::Home::Host,
        }
    }

    fn bash_n(script: &str) {
        let out = std::process::Command::new("bash")
            .arg("-n")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bash -n: {}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn podman_script_key_parts() {
        let s = script(&environment(), false);
        bash_n(&s);
        // NVIDIA's run flags, capped on the node; HOME the node's own, never the project.
        for needle in [
            "--shm-size=2147483648",
            "--ulimit \"memlock=$(capped -l -1)\"",
            "--ulimit \"stack=$(capped -s 67108864)\"",
            "-v \"$HOME:$HOME\"",
            "-e \"HOME=$HOME\"",
            "--passwd-entry",
        ] {
            assert!(s.contains(needle), "{needle} missing:\n{s}");
        }
        let mut isolated = environment();
        isolated.home = crate::settings::Home::Isolated;
        isolated.ipc = crate::limits::Ipc::Host;
        isolated.ulimits = crate::limits::parse_ulimits(&["memlock=1024".into()]).unwrap();
        let s = script(&isolated, false);
        bash_n(&s);
        assert!(
            s.contains("-v \"$DATA/home:$HOME\"") && s.contains("--ipc=host"),
            "{s}"
        );
        assert!(
            s.contains("--ulimit memlock=1024:1024") && !s.contains("capped -l"),
            "{s}"
        );
        for line in [
            "#SBATCH --job-name=mlenv-proj-0123abcd\n",
            "#SBATCH --chdir=/home/u/proj\n",
            "#SBATCH --cpus-per-task=3\n",
            "#SBATCH --mem=16384M\n",
            "#SBATCH --gres=gpu:2\n",
            "ENV_FILE=/home/u/proj/.env\n",
            "JOB_CMD='python train.py --lr '\\''a b'\\'''\n",
            "  --device nvidia.com/gpu=all\n",
            "  --env API_TOKEN\n",
            "  --userns=keep-id\n",
            "  -e PYTHONUSERBASE=/opt/mlenv/python\n",
            "  -v \"$PROJECT:$PROJECT\"\n",
            "run_container --name \"$name-requirements\" \"$IMAGE\" sh -c \"$INSTALL\" mlenv-requirements \"$image_id\"\n",
            "run_container --name \"$name\" \"$IMAGE\" sh -c \"$JOB_CMD\"\n",
            "trap stop TERM INT\n",
        ] {
            assert!(s.contains(line), "missing {line:?} in:\n{s}");
        }
        assert!(s.contains("--cgroup-manager=cgroupfs --events-backend=file"));
        // Batch jobs forward no ports, and no value is in the script.
        assert!(!s.contains("8888") && !s.contains("--publish"));
        assert!(!s.contains("s3cr3t"));
    }

    #[test]
    fn no_gpus_no_limits_no_requirements_no_env() {
        let mut env = environment();
        env.gpus.clear();
        env.memory = None;
        env.cpus = None;
        env.requirements = None;
        env.env_file = None;
        env.env.clear();
        env.user_mapping = false;
        let s = script(&env, false);
        bash_n(&s);
        for absent in [
            "--gres",
            "--mem",
            "--cpus-per-task",
            "--device",
            "INSTALL",
            "ENV_FILE",
            "keep-id",
            "CUDA_VISIBLE_DEVICES",
        ] {
            assert!(!s.contains(absent), "{absent} in:\n{s}");
        }
    }

    #[test]
    fn pyxis_script_key_parts() {
        let s = script(&environment(), true);
        bash_n(&s);
        for part in [
            "IMAGE='nvcr.io#nvidia/pytorch:24.01-py3'\n",
            "set -a; . \"$ENV_FILE\"; set +a\n",
            "--container-image=\"$IMAGE\"",
            "--container-mounts=\"$PROJECT:$PROJECT,$PYDIR:/opt/mlenv/python\"",
            "--container-workdir=\"$PROJECT\"",
            "--container-env=API_TOKEN,PYTHONUSERBASE,",
            "srun \"${srun_args[@]}\" sh -c \"$INSTALL\" mlenv-requirements nvcr.io/nvidia/pytorch:24.01-py3\n",
            "srun \"${srun_args[@]}\" sh -c \"$JOB_CMD\"\n",
            "#SBATCH --gres=gpu:2\n",
        ] {
            assert!(s.contains(part), "missing {part:?} in:\n{s}");
        }
        assert!(!s.contains("podman") && !s.contains("s3cr3t"));
    }

    #[test]
    fn pyxis_image_names() {
        for (i, o) in [
            (
                "nvcr.io/nvidia/pytorch:24.01-py3",
                "nvcr.io#nvidia/pytorch:24.01-py3",
            ),
            ("python:3.11", "python:3.11"),
            ("docker.io/library/python:3.11", "python:3.11"),
            ("pytorch/pytorch:2.1", "pytorch/pytorch:2.1"),
            ("localhost:5000/x/y", "localhost:5000#x/y"),
            (
                "localhost/mlenv-test/python:latest",
                "localhost#mlenv-test/python:latest",
            ),
        ] {
            assert_eq!(pyxis_image(i), o, "{i}");
        }
    }

    #[test]
    fn a_project_path_with_a_space_is_left_to_cd() {
        let mut env = environment();
        env.project_dir = "/home/u/my proj".into();
        let s = script(&env, false);
        bash_n(&s);
        assert!(s.contains("#SBATCH --chdir=.\n"), "{s}");
        assert!(s.contains("PROJECT='/home/u/my proj'\n"));
    }
}
