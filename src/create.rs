//! The pure decision of what container to ask podman for, from validated settings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::envfile::EnvFile;
use crate::limits::{default_shm, effective_ulimits, Ipc, CPU_PERIOD};
use crate::podman::{
    CpuLimit, CreateBody, Device, MemoryLimit, Mount, Namespace, PortMapping, ResourceLimits,
    Rlimit,
};
use crate::project::Project;
use crate::settings::{Home, Settings, LABEL_PROJECT, LABEL_SETTINGS};

/// Keeps the container up without a service of its own. A shell loop rather than
/// `sleep infinity`: as PID 1 it exits at once on SIGTERM, so `mlenv down` takes no 10 s
/// grace period, and busybox's sleep has no `infinity`.
pub const KEEPALIVE: &str = "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done";

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
    /// What its config says about its CUDA.
    pub cuda: crate::gpu::cuda::ImageCuda,
    /// Its size in bytes (all layers), what a keep-id copy copies.
    pub size: u64,
}

/// What the create body needs to know about the host, read by the caller.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// The user's home (HOME): absolute, a directory, not the project (checked by `Config`).
    pub home: String,
    /// The user's login name, for the passwd entry podman writes.
    pub user_name: String,
    /// The user's cache folder (XDG_CACHE_HOME, else ~/.cache), shared into an isolated home.
    pub cache: String,
    /// Those of ~/.gitconfig, ~/.config/git and ~/.ssh that exist, as paths relative to
    /// the home: mounted read-only into an isolated home.
    pub dotfiles: Vec<String>,
    /// The caller's hard memlock and stack limits (`None`: unlimited).
    pub memlock_hard: Option<u64>,
    pub stack_hard: Option<u64>,
    /// The host's memory, which sizes /dev/shm by default.
    pub memory: Option<u64>,
    /// Whether podman is rootless: NVIDIA's limits are added there only. A rootful podman
    /// keeps its own defaults (containers.conf's default_ulimits apply only when a create
    /// names no limit), and root may ask for more with `--ulimit`.
    pub rootless: bool,
}

/// The dotfiles an isolated home borrows from the real one, read-only: git identity and
/// ssh config (keys included: `git push` over ssh must work).
pub const BORROWED_DOTFILES: &[&str] = &[".gitconfig", ".config/git", ".ssh"];

/// The host folder that is HOME inside an isolated-home environment: kept beside its
/// installed packages, so it survives `rm` + `up`.
pub fn isolated_home(project: &Project) -> PathBuf {
    project.data_dir.join("home")
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
    /// Rootless podman: keep-id, so files written inside belong to the caller on the host;
    /// and the caller's uid:gid as the container's user, since podman's API (unlike its
    /// CLI) otherwise takes an image's `USER root` (NGC images run as root).
    KeepId { uid: u32, gid: u32 },
    /// Rootful podman has no keep-id: run as the caller's uid:gid.
    RunAs { uid: u32, gid: u32 },
    /// `--no-user-mapping`: the image's own user.
    Image,
}

impl UserMode {
    pub fn choose(user_mapping: bool, rootless: bool, uid: u32, gid: u32) -> UserMode {
        match (user_mapping, rootless) {
            (false, _) => UserMode::Image,
            (true, true) => UserMode::KeepId { uid, gid },
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
    host: &HostFacts,
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
    // HOME is never the project folder (podman's keep-id default, the working directory):
    // caches and dotfiles would land in the user's repository. podman also writes this
    // HOME into the user's /etc/passwd entry, which ssh and getpwuid read.
    if user != UserMode::Image {
        vars.insert("HOME".into(), host.home.clone());
    }
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

    // The user's passwd entry, with HOME as its home: podman's own (for keep-id, or a uid
    // the image lacks) says the working directory, the project, which ssh and every
    // getpwuid() caller would take for home.
    let passwd_entry = match user {
        UserMode::KeepId { uid, gid } | UserMode::RunAs { uid, gid } => Some(format!(
            "{}:*:{uid}:{gid}::{}:/bin/sh",
            host.user_name, host.home
        )),
        UserMode::Image => None,
    };
    let (userns, run_as) = match user {
        UserMode::KeepId { uid, gid } => (
            Some(Namespace {
                nsmode: "keep-id".into(),
                value: None,
            }),
            Some(format!("{uid}:{gid}")),
        ),
        UserMode::RunAs { uid, gid } => (None, Some(format!("{uid}:{gid}"))),
        UserMode::Image => (None, None),
    };

    let mut mounts = home_mounts(project, settings.home, user, host);
    mounts.extend([
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
    ]);

    let hard = |name: &str| match name {
        "memlock" => host.memlock_hard,
        "stack" => host.stack_hard,
        _ => None,
    };
    let limits_wanted = if host.rootless {
        effective_ulimits(&settings.ulimits, hard)
    } else {
        settings.ulimits.clone()
    };
    let r_limits = limits_wanted
        .into_iter()
        .map(|u| Rlimit {
            // podman adds the RLIMIT_ itself.
            kind: u.name,
            // -1 as the API's unsigned field: RLIM_INFINITY.
            hard: u.hard as u64,
            soft: u.soft as u64,
        })
        .collect();

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
        mounts,
        userns,
        user: run_as,
        passwd_entry,
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
        ipcns: (settings.ipc == Ipc::Host).then(|| Namespace {
            nsmode: "host".into(),
            value: None,
        }),
        // The host's /dev/shm has its own size: podman refuses a size with the host's IPC.
        shm_size: (settings.ipc == Ipc::Private)
            .then(|| settings.shm_size.unwrap_or(default_shm(host.memory))),
        r_limits,
        stop_timeout: Some(10),
    }
}

/// The mounts that make HOME: the user's own home at its path, or the environment's own
/// home there with the user's caches and git and ssh settings mounted in. None for the
/// image's own user (`--no-user-mapping`), whose home is the image's.
fn home_mounts(project: &Project, home: Home, user: UserMode, host: &HostFacts) -> Vec<Mount> {
    if user == UserMode::Image {
        return Vec::new();
    }
    match home {
        Home::Host => vec![bind(host.home.clone(), &host.home)],
        Home::Isolated => {
            let at = |rel: &str| format!("{}/{rel}", host.home.trim_end_matches('/'));
            let mut mounts = vec![
                bind(
                    isolated_home(project).to_string_lossy().into_owned(),
                    &host.home,
                ),
                bind(host.cache.clone(), &at(".cache")),
            ];
            for rel in &host.dotfiles {
                mounts.push(Mount {
                    options: vec!["rbind".into(), "ro".into()],
                    ..bind(at(rel), &at(rel))
                });
            }
            mounts
        }
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
            cuda: Default::default(),
            size: 0,
        }
    }

    fn host() -> HostFacts {
        HostFacts {
            home: "/home/u".into(),
            user_name: "u".into(),
            cache: "/home/u/.cache".into(),
            dotfiles: vec![".gitconfig".into(), ".ssh".into()],
            memlock_hard: Some(8 << 20),
            stack_hard: None,
            memory: Some(24 << 30),
            rootless: true,
        }
    }

    /// The body for default settings, keep-id, an image with these facts.
    fn default_body(facts: &ImageFacts) -> CreateBody {
        create_body(
            &project(),
            "/home/u/p",
            &Settings::default(),
            None,
            UserMode::KeepId {
                uid: 1000,
                gid: 1000,
            },
            facts,
            &host(),
        )
    }

    fn mounted(b: &CreateBody) -> Vec<(String, String, bool)> {
        b.mounts
            .iter()
            .map(|m| {
                let ro = m.options.iter().any(|o| o == "ro");
                (m.source.clone(), m.destination.clone(), ro)
            })
            .collect()
    }

    #[test]
    fn home_is_never_the_project() {
        let with = |home: Home, user: UserMode| {
            let settings = Settings {
                home,
                ..Default::default()
            };
            create_body(
                &project(),
                "/home/u/p",
                &settings,
                None,
                user,
                &image(),
                &host(),
            )
        };
        let b = with(
            Home::Host,
            UserMode::KeepId {
                uid: 1000,
                gid: 1000,
            },
        );
        assert_eq!(b.env["HOME"], "/home/u");
        assert_eq!(
            b.passwd_entry.as_deref(),
            Some("u:*:1000:1000::/home/u:/bin/sh")
        );
        assert_eq!(mounted(&b)[0], ("/home/u".into(), "/home/u".into(), false));
        let b = with(Home::Isolated, UserMode::RunAs { uid: 1, gid: 1 });
        assert_eq!(b.env["HOME"], "/home/u");
        assert_eq!(
            mounted(&b)[..4],
            [
                (
                    "/data/mlenv-p-01234567/home".into(),
                    "/home/u".into(),
                    false
                ),
                ("/home/u/.cache".into(), "/home/u/.cache".into(), false),
                (
                    "/home/u/.gitconfig".into(),
                    "/home/u/.gitconfig".into(),
                    true
                ),
                ("/home/u/.ssh".into(), "/home/u/.ssh".into(), true),
            ]
        );
        // The image's own user keeps the image's own home.
        let b = with(Home::Host, UserMode::Image);
        assert!(!b.env.contains_key("HOME"));
        assert!(b.passwd_entry.is_none());
        assert!(b.mounts.iter().all(|m| m.destination != "/home/u"));
    }

    #[test]
    fn nvidia_run_flags() {
        let b = default_body(&image());
        // A private /dev/shm of half the host's memory.
        assert!(b.ipcns.is_none());
        assert_eq!(b.shm_size, Some(12 << 30));
        let limits: Vec<(String, u64, u64)> = b
            .r_limits
            .iter()
            .map(|r| (r.kind.clone(), r.soft, r.hard))
            .collect();
        assert_eq!(
            limits,
            [
                ("memlock".into(), 8 << 20, 8 << 20),
                ("stack".into(), 64 << 20, 64 << 20),
            ]
        );
        // --ipc=host, and no shm size (podman refuses one with the host's IPC).
        let host_ipc = Settings {
            ipc: Ipc::Host,
            ..Default::default()
        };
        let b = create_body(
            &project(),
            "/home/u/p",
            &host_ipc,
            None,
            UserMode::KeepId {
                uid: 1000,
                gid: 1000,
            },
            &image(),
            &host(),
        );
        assert_eq!(b.ipcns.as_ref().unwrap().nsmode, "host");
        assert_eq!(b.shm_size, None);
        let settings = Settings {
            ipc: Ipc::Private,
            shm_size: Some(16 << 30),
            ulimits: crate::limits::parse_ulimits(&[
                "memlock=-1".into(),
                "nofile=1024:4096".into(),
            ])
            .unwrap(),
            ..Default::default()
        };
        let b = create_body(
            &project(),
            "/home/u/p",
            &settings,
            None,
            UserMode::KeepId {
                uid: 1000,
                gid: 1000,
            },
            &image(),
            &host(),
        );
        assert!(b.ipcns.is_none());
        assert_eq!(b.shm_size, Some(16 << 30));
        let limits: Vec<(String, u64, u64)> = b
            .r_limits
            .iter()
            .map(|r| (r.kind.clone(), r.soft, r.hard))
            .collect();
        assert_eq!(
            limits,
            [
                ("memlock".into(), u64::MAX, u64::MAX),
                ("nofile".into(), 1024, 4096),
                ("stack".into(), 64 << 20, 64 << 20),
            ]
        );
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
            cuda: Default::default(),
            size: 0,
        };
        let b = default_body(&bare);
        assert_eq!(
            b.env["PATH"],
            format!("/opt/mlenv/python/bin:{DEFAULT_PATH}")
        );
    }

    #[test]
    fn user_modes() {
        assert_eq!(
            UserMode::choose(true, true, 1000, 1000),
            UserMode::KeepId {
                uid: 1000,
                gid: 1000
            }
        );
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
            UserMode::KeepId {
                uid: 1000,
                gid: 1000,
            },
            &image(),
            &host(),
        );
        assert_eq!(b.name, "mlenv-p-01234567");
        assert_eq!(b.work_dir, "/home/u/p");
        let project_mount = &b.mounts[1];
        assert_eq!(project_mount.source, "/home/u/p");
        assert_eq!(project_mount.source, project_mount.destination);
        assert_eq!(b.userns.as_ref().unwrap().nsmode, "keep-id");
        assert_eq!(b.user.as_deref(), Some("1000:1000"));
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
            &host(),
        );
        assert!(b.resource_limits.is_none());
        assert!(b.devices.is_empty());
        assert_eq!(b.user.as_deref(), Some("5:6"));
        assert!(b.userns.is_none());
    }
}
