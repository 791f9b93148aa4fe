//! The pure decision of what container to ask podman for, from validated settings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::envfile::EnvFile;
use crate::limits::CPU_PERIOD;
use crate::podman::{
    CpuLimit, CreateBody, Device, MemoryLimit, Mount, Namespace, PortMapping, ResourceLimits,
};
use crate::project::Project;
use crate::settings::{Settings, LABEL_PROJECT, LABEL_SETTINGS};

/// Keeps the container up without a service of its own. A shell loop rather than
/// `sleep infinity`: as PID 1 it exits at once on SIGTERM, so `mlenv down` takes no 10 s
/// grace period, and busybox's sleep has no `infinity`.
pub const KEEPALIVE: &str = "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done";

/// Shared memory for PyTorch DataLoader workers; podman's 64 MiB default makes them die
/// with "bus error" on real batches.
pub const SHM_SIZE: u64 = 2 << 30;

/// Inside the container: pip's user base (`pip install --user`, and every plain
/// `pip install`, since PIP_USER is set), bind-mounted from the project's data dir so
/// installs outlive the container.
pub const PYTHON_DIR: &str = "/opt/mlenv/python";
/// Inside the container: pip's download cache, shared by the user's projects.
pub const PIP_CACHE_DIR: &str = "/opt/mlenv/pip-cache";
/// PATH for an image that sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Inside the container: a login-shell snippet that puts back the PATH the shell was
/// started with. Debian's /etc/profile resets PATH for login shells, which would drop the
/// image's own PATH and the installed packages' commands.
pub const PROFILE_SCRIPT_PATH: &str = "/etc/profile.d/zz-mlenv.sh";

/// The snippet's text; `mlenv exec` sets MLENV_PATH before it starts the login shell.
pub const PROFILE_SCRIPT: &str = "\
# Written by mlenv: Debian's /etc/profile resets PATH for login shells; keep the environment's.
if [ -n \"${MLENV_PATH:-}\" ]; then PATH=\"$MLENV_PATH\"; export PATH; fi
";

/// The host file mounted at [`PROFILE_SCRIPT_PATH`].
pub fn profile_script(project: &Project) -> PathBuf {
    project.data_dir.join("profile.sh")
}

/// What the create body needs to know about the image.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    pub id: String,
    /// The image's own PATH, which ours is prepended to.
    pub path: Option<String>,
}

/// The host folder holding the packages installed for this image. One per image: a new
/// image (perhaps another Python ABI) starts from an empty one.
pub fn python_dir(project: &Project, image_id: &str) -> PathBuf {
    let short: String = image_id.chars().take(12).collect();
    project.data_dir.join("python").join(short)
}

fn bind(source: String, destination: &str) -> Mount {
    Mount {
        kind: "bind".into(),
        source,
        destination: destination.into(),
        options: vec!["rbind".into(), "rw".into()],
    }
}

/// How the caller's user is mapped into the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserMode {
    /// Rootless podman: keep-id, so files written inside belong to the caller on the host.
    KeepId,
    /// Rootful podman has no keep-id: run as the caller's uid:gid.
    RunAs { uid: u32, gid: u32 },
    /// `--no-user-mapping`: the image's own user.
    Image,
}

impl UserMode {
    pub fn choose(user_mapping: bool, rootless: bool, uid: u32, gid: u32) -> UserMode {
        match (user_mapping, rootless) {
            (false, _) => UserMode::Image,
            (true, true) => UserMode::KeepId,
            (true, false) => UserMode::RunAs { uid, gid },
        }
    }
}

pub fn create_body(
    project: &Project,
    project_dir: &str,
    settings: &Settings,
    env: Option<&EnvFile>,
    user: UserMode,
    image: &ImageFacts,
) -> CreateBody {
    let mut labels = BTreeMap::new();
    labels.insert(LABEL_PROJECT.to_string(), project_dir.to_string());
    labels.insert(
        LABEL_SETTINGS.to_string(),
        serde_json::to_string(settings).expect("settings serialise"),
    );
    labels.insert(
        "io.mlenv.version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );

    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    // Python's user site is the project's own persistent folder, never the host's ~/.local;
    // every pip install goes there, as the caller, whatever owns the image's site-packages.
    vars.insert("PYTHONUSERBASE".into(), PYTHON_DIR.into());
    vars.insert("PIP_USER".into(), "1".into());
    // A user-site install leaves the image's packages alone, which is what PEP 668's
    // marker (Debian, Ubuntu images) protects.
    vars.insert("PIP_BREAK_SYSTEM_PACKAGES".into(), "1".into());
    vars.insert("PIP_CACHE_DIR".into(), PIP_CACHE_DIR.into());
    vars.insert(
        "PATH".into(),
        format!(
            "{PYTHON_DIR}/bin:{}",
            image.path.as_deref().unwrap_or(DEFAULT_PATH)
        ),
    );
    vars.insert("MLENV_PROJECT".into(), project_dir.to_string());
    vars.insert("MLENV_CONTAINER".into(), project.container.clone());
    if let Some(env) = env {
        for (k, v) in &env.vars {
            vars.insert(k.clone(), v.clone());
        }
    }

    let limits = (settings.memory.is_some() || settings.cpus.is_some()).then(|| ResourceLimits {
        memory: settings.memory.map(|m| MemoryLimit { limit: m as i64 }),
        cpu: settings.cpus.map(|c| CpuLimit {
            period: CPU_PERIOD,
            quota: (c * CPU_PERIOD as f64).round() as i64,
        }),
    });

    let (userns, run_as) = match user {
        UserMode::KeepId => (
            Some(Namespace {
                nsmode: "keep-id".into(),
                value: None,
            }),
            None,
        ),
        UserMode::RunAs { uid, gid } => (None, Some(format!("{uid}:{gid}"))),
        UserMode::Image => (None, None),
    };

    CreateBody {
        name: project.container.clone(),
        image: settings.image.clone(),
        // Our own entrypoint: an image's (a Python REPL, a server) must not decide whether
        // the environment stays up. Exec sessions never run the entrypoint anyway.
        entrypoint: vec!["/bin/sh".into(), "-c".into(), KEEPALIVE.into()],
        command: vec![],
        labels,
        env: vars,
        work_dir: project_dir.to_string(),
        mounts: vec![
            bind(project_dir.to_string(), project_dir),
            bind(
                python_dir(project, &image.id)
                    .to_string_lossy()
                    .into_owned(),
                PYTHON_DIR,
            ),
            bind(
                project.pip_cache.to_string_lossy().into_owned(),
                PIP_CACHE_DIR,
            ),
            Mount {
                options: vec!["bind".into(), "ro".into()],
                ..bind(
                    profile_script(project).to_string_lossy().into_owned(),
                    PROFILE_SCRIPT_PATH,
                )
            },
        ],
        userns,
        user: run_as,
        devices: settings
            .gpus
            .iter()
            .map(|g| Device { path: g.clone() })
            .collect(),
        portmappings: settings
            .ports
            .iter()
            .map(|p| PortMapping {
                host_ip: p.host_ip.clone(),
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: p.protocol.clone(),
                range: 1,
            })
            .collect(),
        resource_limits: limits,
        restart_policy: "on-failure".into(),
        restart_tries: Some(5),
        // Like toolbx: relabelling a home directory for SELinux is slow and changes the
        // user's files; disabling separation for this one container does neither.
        selinux_opts: vec!["disable".into()],
        shm_size: Some(SHM_SIZE),
        stop_timeout: Some(10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        Project {
            dir: "/home/u/p".into(),
            container: "mlenv-p-01234567".into(),
            state_dir: "/tmp/s".into(),
            data_dir: "/data/mlenv-p-01234567".into(),
            pip_cache: "/cache/pip".into(),
        }
    }

    fn image() -> ImageFacts {
        ImageFacts {
            id: "0123456789abcdef0123".into(),
            path: Some("/usr/bin:/bin".into()),
        }
    }

    /// The body for default settings, keep-id, an image with these facts.
    fn default_body(facts: &ImageFacts) -> CreateBody {
        create_body(
            &project(),
            "/home/u/p",
            &Settings::default(),
            None,
            UserMode::KeepId,
            facts,
        )
    }

    #[test]
    fn python_lives_outside_the_container() {
        let b = default_body(&image());
        let python = b
            .mounts
            .iter()
            .find(|m| m.destination == PYTHON_DIR)
            .unwrap();
        assert_eq!(python.source, "/data/mlenv-p-01234567/python/0123456789ab");
        assert!(b
            .mounts
            .iter()
            .any(|m| m.destination == PIP_CACHE_DIR && m.source == "/cache/pip"));
        assert_eq!(b.env["PYTHONUSERBASE"], PYTHON_DIR);
        assert_eq!(b.env["PATH"], "/opt/mlenv/python/bin:/usr/bin:/bin");
        let bare = ImageFacts {
            id: "x".into(),
            path: None,
        };
        let b = default_body(&bare);
        assert_eq!(
            b.env["PATH"],
            format!("/opt/mlenv/python/bin:{DEFAULT_PATH}")
        );
    }

    #[test]
    fn user_modes() {
        assert_eq!(UserMode::choose(true, true, 1000, 1000), UserMode::KeepId);
        assert_eq!(
            UserMode::choose(true, false, 1000, 100),
            UserMode::RunAs {
                uid: 1000,
                gid: 100
            }
        );
        assert_eq!(UserMode::choose(false, true, 1000, 1000), UserMode::Image);
        assert_eq!(UserMode::choose(false, false, 0, 0), UserMode::Image);
    }

    #[test]
    fn body_from_settings() {
        let settings = Settings {
            image: "img".into(),
            ports: crate::ports::parse_list(&["8888".into(), "0.0.0.0:1:2/udp".into()]).unwrap(),
            gpus: vec!["nvidia.com/gpu=0".into()],
            memory: Some(1 << 30),
            cpus: Some(2.5),
            user_mapping: true,
            ..Default::default()
        };
        let env = EnvFile {
            path: "/home/u/p/.env".into(),
            vars: vec![("TOKEN".into(), "s3cret".into())],
        };
        let b = create_body(
            &project(),
            "/home/u/p",
            &settings,
            Some(&env),
            UserMode::KeepId,
            &image(),
        );
        assert_eq!(b.name, "mlenv-p-01234567");
        assert_eq!(b.work_dir, "/home/u/p");
        assert_eq!(b.mounts[0].source, "/home/u/p");
        assert_eq!(b.mounts[0].source, b.mounts[0].destination);
        assert_eq!(b.userns.as_ref().unwrap().nsmode, "keep-id");
        assert_eq!(b.user, None);
        assert_eq!(
            b.devices,
            [Device {
                path: "nvidia.com/gpu=0".into()
            }]
        );
        assert_eq!(b.portmappings.len(), 2);
        assert_eq!(b.portmappings[1].host_ip, "0.0.0.0");
        assert_eq!(b.portmappings[1].protocol, "udp");
        let limits = b.resource_limits.as_ref().unwrap();
        assert_eq!(limits.cpu.as_ref().unwrap().quota, 250_000);
        assert_eq!(limits.memory.as_ref().unwrap().limit, 1 << 30);
        assert_eq!(b.env["TOKEN"], "s3cret");
        // The secret is in the env, never in a label.
        assert!(b.labels.values().all(|v| !v.contains("s3cret")));
        let recorded: Settings = serde_json::from_str(&b.labels[LABEL_SETTINGS]).unwrap();
        assert_eq!(recorded, settings);
    }

    #[test]
    fn no_limits_no_devices() {
        let settings = Settings {
            image: "img".into(),
            ..Default::default()
        };
        let b = create_body(
            &project(),
            "/home/u/p",
            &settings,
            None,
            UserMode::RunAs { uid: 5, gid: 6 },
            &image(),
        );
        assert!(b.resource_limits.is_none());
        assert!(b.devices.is_empty());
        assert_eq!(b.user.as_deref(), Some("5:6"));
        assert!(b.userns.is_none());
    }
}
