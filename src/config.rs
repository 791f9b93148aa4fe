//! One validated `Config`, built once from the command line and the environment. Every bad
//! value is rejected here, naming the value and what is accepted, before any container work.

use std::path::Path;

use color_eyre::eyre::Result;

use crate::cli::{Cli, Command, GpuCommand, GpuSetupArgs, UpArgs};
use crate::envfile::EnvFile;
use crate::error::invalid;
use crate::podman::{choose_socket, SocketChoice};
use crate::project::Project;
use crate::requirements::Requirements;
use crate::settings::{Given, Settings};
use crate::{gpu, image_ref, limits, ports};

#[derive(Debug)]
pub struct Config {
    pub socket: SocketChoice,
    pub project: Project,
    pub action: Action,
}

#[derive(Debug)]
pub enum Action {
    Up(Box<Up>),
    Down,
    Restart,
    Rm { force: bool },
    Exec { command: Option<String> },
    Status { json: bool },
    Logs { follow: bool, mlenv: bool },
    GpuList { json: bool },
    Unit { for_podman: Option<String> },
    Server(ServerRequest),
    List { json: bool },
    GpuSetup(GpuSetup),
    Init(Box<Init>),
    Doctor(Doctor),
    Clean(Clean),
}

/// `mlenv init`, validated: the file to write and what goes in it.
#[derive(Debug)]
pub struct Init {
    pub force: bool,
}

/// `mlenv doctor`: what the project's configuration asks of the machine.
#[derive(Debug)]
pub struct Doctor {
    pub json: bool,
    /// The image `up` would use (the project's config, else the default).
    pub image: String,
    /// Whether a memory or CPU limit is configured, which needs cgroup v2 delegation.
    pub limits: bool,
    /// The GPUs configured, `None` for the default.
    pub gpus: Option<Vec<cdi::QualifiedName>>,
}

/// `mlenv clean`, validated.
#[derive(Debug)]
pub struct Clean {
    pub volumes: bool,
    pub all: bool,
    pub yes: bool,
}

/// Which server `mlenv jupyter` / `mlenv tensorboard` is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Jupyter,
    TensorBoard,
}

/// `mlenv jupyter` or `mlenv tensorboard`, validated.
#[derive(Debug)]
pub struct ServerRequest {
    pub kind: ServerKind,
    /// The container port it listens on.
    pub port: u16,
    /// TensorBoard's log folder, as a path inside the container (the project's own path).
    pub logdir: Option<String>,
    pub stop: bool,
}

/// `mlenv gpu setup`, validated.
#[derive(Debug)]
pub struct GpuSetup {
    /// Where the driver is looked for ("/" on a real host).
    pub root: std::path::PathBuf,
    /// Where to write the spec, when not where podman reads it by default.
    pub output: Option<std::path::PathBuf>,
    /// Print the spec instead of writing it.
    pub print: bool,
}

/// What `up` was asked for, validated.
#[derive(Debug)]
pub struct Up {
    /// The settings for a new container (defaults where nothing was given).
    pub settings: Settings,
    /// Which of them the user gave on this run.
    pub given: Given,
    pub env: Option<EnvFile>,
    pub recreate: bool,
    /// The CDI names `--gpu` gave; `None` asks for the default (chosen when a container is
    /// made, against the specs podman reads then).
    pub gpus: Option<Vec<cdi::QualifiedName>>,
    /// `gpus` resolved against the specs podman reads, by [`crate::commands::validate`].
    pub gpu_check: Option<crate::gpu::preflight::Resolved>,
    /// `--autostart` (Some(true)) or `--no-autostart` (Some(false)).
    pub autostart: Option<bool>,
    /// What to install with pip after the container runs.
    pub requirements: Option<Requirements>,
}

impl Config {
    pub fn from_cli(cli: Cli) -> Result<Config> {
        let host = cli
            .global
            .host
            .clone()
            .or_else(|| std::env::var("CONTAINER_HOST").ok());
        let runtime_dir = std::env::var("XDG_RUNTIME_DIR").ok();
        let socket = choose_socket(
            host.as_deref(),
            runtime_dir.as_deref(),
            nix::unistd::geteuid().as_raw(),
            |p| p.exists(),
        )
        .map_err(invalid)?;
        let project = Project::locate(cli.global.project.as_deref())?;
        let action = match cli.command {
            Command::Up(args) => Action::Up(Box::new(up(args, &project)?)),
            Command::Down => Action::Down,
            Command::Restart => Action::Restart,
            Command::Rm(a) => Action::Rm { force: a.force },
            Command::Exec(a) => {
                if a.command.as_deref().is_some_and(|c| c.trim().is_empty()) {
                    return Err(invalid(
                        "invalid -c \"\": the command is empty; expected a shell command such as -c \"python train.py\"",
                    ));
                }
                Action::Exec { command: a.command }
            }
            Command::Status(a) => Action::Status { json: a.json },
            Command::Logs(a) => Action::Logs {
                follow: a.follow,
                mlenv: a.mlenv,
            },
            Command::List(a) => Action::List { json: a.json },
            Command::Jupyter(a) => Action::Server(ServerRequest {
                kind: ServerKind::Jupyter,
                port: server_port(&a.port)?,
                logdir: None,
                stop: a.stop,
            }),
            Command::Tensorboard(a) => Action::Server(ServerRequest {
                kind: ServerKind::TensorBoard,
                port: server_port(&a.port)?,
                logdir: Some(logdir(&a.logdir, &project)?),
                stop: a.stop,
            }),
            Command::Unit(a) => {
                if let Some(v) = &a.for_podman {
                    if crate::gpu::policy::major_minor(v).is_none() {
                        return Err(invalid(format!(
                            "invalid --for-podman {v:?}: expected a podman version such as 4.3.1 or 5.4.2"
                        )));
                    }
                }
                Action::Unit {
                    for_podman: a.for_podman,
                }
            }
            Command::Gpu(g) => match g {
                GpuCommand::List(a) => Action::GpuList { json: a.json },
                GpuCommand::Setup(a) => Action::GpuSetup(gpu_setup(a)?),
            },
            Command::Init(a) => Action::Init(Box::new(Init { force: a.force })),
            Command::Doctor(a) => Action::Doctor(Doctor {
                json: a.json,
                image: image_ref::DEFAULT_IMAGE.to_string(),
                limits: false,
                gpus: None,
            }),
            Command::Clean(a) => Action::Clean(Clean {
                volumes: a.volumes,
                all: a.all,
                yes: a.yes,
            }),
            Command::Completions(_) | Command::Man(_) => {
                unreachable!("handled before a project is located")
            }
        };
        Ok(Config {
            socket,
            project,
            action,
        })
    }
}

fn up(args: UpArgs, project: &Project) -> Result<Up> {
    let requirements = requirements(
        args.requirements.as_deref(),
        args.force_requirements,
        project,
    )?;
    let env_image = std::env::var("MLENV_IMAGE").ok().filter(|s| !s.is_empty());
    let given = Given {
        image: args.image.is_some() || env_image.is_some(),
        ports: !args.port.is_empty(),
        gpus: args.gpu.is_some(),
        memory: args.memory.is_some(),
        cpus: args.cpus.is_some(),
        user_mapping: args.no_user_mapping,
        env_file: args.env_file.is_some(),
    };
    let image = args
        .image
        .or(env_image)
        .unwrap_or_else(|| image_ref::DEFAULT_IMAGE.to_string());
    image_ref::validate(&image).map_err(invalid)?;

    let ports = ports::parse_list(&args.port).map_err(invalid)?;
    let memory = args
        .memory
        .as_deref()
        .map(limits::parse_memory)
        .transpose()
        .map_err(invalid)?;
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpus = args
        .cpus
        .as_deref()
        .map(|c| limits::parse_cpus(c, online))
        .transpose()
        .map_err(invalid)?;

    // Only the syntax here: whether podman can attach them depends on its version and
    // the spec files, checked by `up` before anything is created or started.
    let gpus = args
        .gpu
        .as_deref()
        .map(gpu::parse)
        .transpose()
        .map_err(invalid)?;

    let env = args
        .env_file
        .as_deref()
        .map(EnvFile::read)
        .transpose()
        .map_err(invalid)?;

    let settings = Settings {
        image,
        ports,
        gpus: gpus.iter().flatten().map(|g| g.to_string()).collect(),
        memory,
        cpus,
        user_mapping: !args.no_user_mapping,
        env_file: env.as_ref().map(|e| e.path.clone()),
        env_keys: env.as_ref().map(EnvFile::keys).unwrap_or_default(),
        // Filled in by `up`, which owns the digest key.
        env_digest: None,
    };
    Ok(Up {
        settings,
        given,
        env,
        recreate: args.recreate,
        gpus,
        gpu_check: None,
        autostart: match (args.autostart, args.no_autostart) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        requirements,
    })
}

/// `--requirements FILE|none`, else the project's `requirements.txt` when it has one.
fn requirements(
    flag: Option<&Path>,
    force: bool,
    project: &Project,
) -> Result<Option<Requirements>> {
    let file = match flag {
        Some(p) if p == Path::new("none") => {
            if force {
                return Err(invalid(
                    "invalid --force-requirements with --requirements none: there is nothing to install",
                ));
            }
            return Ok(None);
        }
        Some(p) => p.to_path_buf(),
        None => {
            let default = project.dir.join("requirements.txt");
            if !default.exists() {
                if force {
                    return Err(invalid(format!(
                        "Requirements file not found: {} (--force-requirements needs one; pass --requirements FILE)",
                        default.display()
                    )));
                }
                return Ok(None);
            }
            default
        }
    };
    Requirements::read(&file, &project.dir, force)
        .map(Some)
        .map_err(invalid)
}

fn server_port(value: &str) -> Result<u16> {
    value
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            invalid(format!(
                "invalid --port {value:?}: expected a container port number from 1 to 65535"
            ))
        })
}

/// TensorBoard's log folder must be inside the project: nothing else is mounted.
fn logdir(dir: &Path, project: &Project) -> Result<String> {
    let full = project.dir.join(dir);
    let mut normal = std::path::PathBuf::new();
    for part in full.components() {
        match part {
            std::path::Component::ParentDir => {
                normal.pop();
            }
            std::path::Component::CurDir => {}
            other => normal.push(other),
        }
    }
    if !normal.starts_with(&project.dir) {
        return Err(invalid(format!(
            "invalid --logdir {}: it is outside the project {}, which is all the container sees; expected a folder inside it",
            dir.display(),
            project.dir.display()
        )));
    }
    normal
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| invalid(format!("invalid --logdir {}: not UTF-8", dir.display())))
}

fn gpu_setup(a: GpuSetupArgs) -> Result<GpuSetup> {
    let root = a.root.unwrap_or_else(|| "/".into());
    if !root.is_dir() {
        return Err(invalid(format!(
            "invalid --root {}: not a folder; expected the root of a system to look for the NVIDIA driver in (default /)",
            root.display()
        )));
    }
    let root = root
        .canonicalize()
        .map_err(|e| invalid(format!("invalid --root {}: {e}", root.display())))?;
    if let Some(out) = &a.output {
        if out.extension().is_none_or(|e| e != "yaml") {
            return Err(invalid(format!(
                "invalid --output {}: expected a file name ending in .yaml (mlenv writes YAML, whose header comment marks the spec as mlenv's; podman reads *.yaml and *.json)",
                out.display()
            )));
        }
        let dir = out
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(invalid(format!(
                "invalid --output {}: the folder {} does not exist",
                out.display(),
                dir.display()
            )));
        }
    }
    Ok(GpuSetup {
        root,
        output: a.output,
        print: a.print,
    })
}

/// Re-reads the env file a container was created with, for a recreate that keeps it.
pub fn reread_env(path: &Path) -> Result<EnvFile> {
    EnvFile::read(path).map_err(invalid)
}
