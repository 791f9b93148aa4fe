//! One validated `Config`, built once from the command line and the environment. Every bad
//! value is rejected here, naming the value and what is accepted, before any container work.

use std::path::{Path, PathBuf};

use color_eyre::eyre::Result;

use crate::autostart::unit::Flavour;
use crate::cli::{
    Cli, Command, ExportCommand, GpuCommand, GpuSetupArgs, InitArgs, ServiceCommand, UpArgs,
};
use crate::envfile::EnvFile;
use crate::error::invalid;
use crate::file_config::{At, FileSettings};
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
    /// `MLENV_AUTOSTART_FLAVOUR`: the kind of autostart unit to write whatever the podman
    /// version (a `.service` where quadlet misbehaves; the tests' way to boot both).
    pub unit_flavour: Option<Flavour>,
}

#[derive(Debug)]
pub enum Action {
    Up(Box<Up>),
    Down,
    Restart,
    Rm { force: bool },
    Exec { command: Option<String>, root: bool },
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
    Export(Box<Export>),
    Service(ServiceAction),
}

/// `mlenv service ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    Start,
    Stop,
    Status,
}

/// `mlenv export`, validated.
#[derive(Debug)]
pub struct Export {
    pub target: ExportTarget,
    /// Where to write (0600), else stdout.
    pub output: Option<PathBuf>,
    /// What `up` would make from the config files (the container's own settings, when it
    /// exists, are laid over it by the command).
    pub up: Up,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExportTarget {
    Kube {
        job: Option<String>,
        /// An existing claim for the project.
        pvc: Option<String>,
        host_path: bool,
    },
    Slurm {
        job: String,
        pyxis: bool,
    },
}

/// `mlenv init`, validated: the file to write and what goes in it.
#[derive(Debug)]
pub struct Init {
    pub force: bool,
    /// The project's `mlenv.toml`.
    pub path: PathBuf,
    /// The commented file, the given flags set.
    pub text: String,
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
    /// The container as [`crate::commands::validate`] found it (when `--gpu` made it look),
    /// so that the warm path asks podman once.
    pub seen: Option<crate::podman::Container>,
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
        let tmp_dir = std::env::var("TMPDIR").ok();
        let socket = choose_socket(
            host.as_deref(),
            runtime_dir.as_deref(),
            tmp_dir.as_deref(),
            nix::unistd::geteuid().as_raw(),
            |p| p.exists(),
        )
        .map_err(invalid)?;
        let project = Project::locate(cli.global.project.as_deref())?;
        let action = match cli.command {
            Command::Up(args) => Action::Up(Box::new(up(args, &project, files(&project)?)?)),
            Command::Down => Action::Down,
            Command::Restart => Action::Restart,
            Command::Rm(a) => Action::Rm { force: a.force },
            Command::Exec(a) => {
                if a.command.as_deref().is_some_and(|c| c.trim().is_empty()) {
                    return Err(invalid(
                        "invalid -c \"\": the command is empty; expected a shell command such as -c \"python train.py\"",
                    ));
                }
                Action::Exec {
                    command: a.command,
                    root: a.root,
                }
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
            Command::Init(a) => Action::Init(Box::new(init(a, &project)?)),
            Command::Doctor(a) => {
                // What `up` would ask of the machine, from the config files.
                let up = up(UpArgs::default(), &project, files(&project)?)?;
                Action::Doctor(Doctor {
                    json: a.json,
                    image: up.settings.image,
                    limits: up.settings.memory.is_some() || up.settings.cpus.is_some(),
                    gpus: up.gpus,
                })
            }
            Command::Clean(a) => Action::Clean(Clean {
                volumes: a.volumes,
                all: a.all,
                yes: a.yes,
            }),
            Command::Export(e) => Action::Export(Box::new(export(e, &project)?)),
            Command::Service(s) => Action::Service(match s {
                ServiceCommand::Start => ServiceAction::Start,
                ServiceCommand::Stop => ServiceAction::Stop,
                ServiceCommand::Status => ServiceAction::Status,
            }),
            Command::Completions(_) | Command::Man(_) => {
                unreachable!("handled before a project is located")
            }
        };
        Ok(Config {
            socket,
            project,
            action,
            unit_flavour: unit_flavour(std::env::var("MLENV_AUTOSTART_FLAVOUR").ok().as_deref())?,
        })
    }
}

/// The value of `MLENV_AUTOSTART_FLAVOUR` (unset or empty: by the podman version).
fn unit_flavour(value: Option<&str>) -> Result<Option<Flavour>> {
    match value.unwrap_or("") {
        "" => Ok(None),
        "service" => Ok(Some(Flavour::Service)),
        "quadlet" => Ok(Some(Flavour::Quadlet)),
        other => Err(invalid(format!(
            "invalid MLENV_AUTOSTART_FLAVOUR={other:?}: expected service (a systemd .service \
             running podman run) or quadlet (a .container file, podman 4.4 and later), or unset"
        ))),
    }
}

/// `mlenv.toml` over the user config, as an input error naming the file and line.
fn files(project: &Project) -> Result<FileSettings> {
    crate::file_config::load(&project.dir).map_err(invalid)
}

/// `mlenv init`: the flags are checked as `up` checks them (config files aside: the file
/// written holds the flags only), then written as keys.
fn init(args: InitArgs, project: &Project) -> Result<Init> {
    use crate::file_config::quote;
    let checked = up(args.up.clone(), project, FileSettings::default())?;
    let a = &args.up;
    // A path inside the project is written relative to it, so the project can move.
    let relative = |p: &Path| {
        let shown = p.strip_prefix(&project.dir).unwrap_or(p);
        quote(&shown.display().to_string())
    };
    let list = |items: Vec<String>| format!("[{}]", items.join(", "));
    let split = |values: &[String]| -> Vec<String> {
        values
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    };
    let gpus = a.gpu.as_deref().map(|g| match g.trim() {
        "all" | "none" => quote(g.trim()),
        _ => list(
            split(&[g.to_string()])
                .into_iter()
                .map(|item| match item.parse::<u32>() {
                    Ok(index) => index.to_string(),
                    Err(_) => quote(&item),
                })
                .collect(),
        ),
    });
    let requirements = match (&a.requirements, &checked.requirements) {
        (Some(p), _) if p == Path::new("none") => Some(quote("none")),
        (Some(_), Some(r)) => Some(relative(&r.file)),
        _ => None,
    };
    let values = [
        ("image", a.image.as_deref().map(quote)),
        (
            "ports",
            (!a.port.is_empty()).then(|| list(split(&a.port).iter().map(|p| quote(p)).collect())),
        ),
        ("env-file", checked.env.as_ref().map(|e| relative(&e.path))),
        ("gpus", gpus),
        ("memory", a.memory.as_deref().map(|m| quote(m.trim()))),
        ("cpus", checked.settings.cpus.map(|c| c.to_string())),
        (
            "user-mapping",
            a.no_user_mapping.then(|| "false".to_string()),
        ),
        ("ipc", a.ipc.as_deref().map(|i| quote(i.trim()))),
        ("shm-size", a.shm_size.as_deref().map(|m| quote(m.trim()))),
        (
            "ulimits",
            (!a.ulimit.is_empty())
                .then(|| list(split(&a.ulimit).iter().map(|u| quote(u)).collect())),
        ),
        ("home", a.home.as_deref().map(|h| quote(h.trim()))),
        ("requirements", requirements),
        (
            "pip-constraints",
            a.pip_constraints.as_deref().map(|v| quote(v.trim())),
        ),
        ("autostart", checked.autostart.map(|b| b.to_string())),
    ];
    Ok(Init {
        force: args.force,
        path: project.dir.join(crate::file_config::PROJECT_FILE),
        text: crate::file_config::render(&values),
    })
}

/// A setting's value: its flag when given, else the config files'. The files' value is
/// validated even when a flag overrides it, so that a bad line cannot lie in wait for the
/// first run without that flag; its error names the file and line, with the validator's
/// wording restated for the key.
fn setting<T, U>(
    flag: Option<T>,
    file: Option<At<T>>,
    flag_name: &str,
    key: &str,
    validate: impl Fn(T) -> Result<U, String>,
) -> Result<Option<U>> {
    let from_file = match file {
        Some(At { value, file, line }) => {
            let at = At {
                value: (),
                file,
                line,
            };
            Some(validate(value).map_err(|msg| invalid(at.error(&msg, flag_name, key)))?)
        }
        None => None,
    };
    match flag {
        Some(value) => validate(value).map(Some).map_err(invalid),
        None => Ok(from_file),
    }
}

/// `up`'s settings: each from its flag, else `mlenv.toml` over the user config, else its
/// default; each validated.
fn up(args: UpArgs, project: &Project, files: FileSettings) -> Result<Up> {
    let env_image = std::env::var("MLENV_IMAGE").ok().filter(|s| !s.is_empty());
    let ports_flag = (!args.port.is_empty()).then_some(args.port);
    let given = Given {
        image: args.image.is_some() || env_image.is_some() || files.image.is_some(),
        ports: ports_flag.is_some() || files.ports.is_some(),
        gpus: args.gpu.is_some() || files.gpus.is_some(),
        memory: args.memory.is_some() || files.memory.is_some(),
        cpus: args.cpus.is_some() || files.cpus.is_some(),
        user_mapping: args.no_user_mapping || files.user_mapping.is_some(),
        env_file: args.env_file.is_some() || files.env_file.is_some(),
        shm_size: args.shm_size.is_some() || files.shm_size.is_some(),
        ipc: args.ipc.is_some() || files.ipc.is_some(),
        ulimits: !args.ulimit.is_empty() || files.ulimits.is_some(),
        home: args.home.is_some() || files.home.is_some(),
    };

    let mut requirements = requirements(
        args.requirements,
        files.requirements,
        args.force_requirements,
        project,
    )?;
    let image_constraints = setting(
        args.pip_constraints,
        files.pip_constraints,
        "pip-constraints",
        "pip-constraints",
        |v| match v.trim() {
            "image" => Ok(true),
            "none" => Ok(false),
            _ => Err(format!(
                "invalid --pip-constraints {v:?}: expected image (pip keeps the image's own \
                 pins, its PIP_CONSTRAINT) or none (install without them)"
            )),
        },
    )?
    .unwrap_or(true);
    if let Some(r) = requirements.as_mut() {
        r.image_constraints = image_constraints;
    }
    let image = setting(
        args.image.or(env_image),
        files.image,
        "image",
        "image",
        |image| image_ref::validate(&image).map(|()| image),
    )?
    .unwrap_or_else(|| image_ref::DEFAULT_IMAGE.to_string());
    let ports = setting(ports_flag, files.ports, "port", "ports", |p| {
        ports::parse_list(&p)
    })?
    .unwrap_or_default();
    let memory = setting(args.memory, files.memory, "memory", "memory", |m| {
        limits::parse_memory(&m)
    })?;
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpus = setting(args.cpus, files.cpus, "cpus", "cpus", |c| {
        limits::parse_cpus(&c, online)
    })?;
    // Only the syntax here: whether podman can attach them depends on its version and
    // the spec files, checked by `up` before anything is created or started.
    let gpus = setting(args.gpu, files.gpus, "gpu", "gpus", |g| gpu::parse(&g))?;
    let env = setting(args.env_file, files.env_file, "env-file", "env-file", |f| {
        EnvFile::read(&f)
    })?;
    let user_mapping = !args.no_user_mapping && files.user_mapping.is_none_or(|m| m.value);
    let ipc = setting(args.ipc, files.ipc, "ipc", "ipc", |i| {
        limits::Ipc::parse(&i)
    })?
    .unwrap_or_default();
    let shm_size = setting(args.shm_size, files.shm_size, "shm-size", "shm-size", |s| {
        limits::parse_shm(&s)
    })?;
    if shm_size.is_some() && ipc == limits::Ipc::Host {
        return Err(invalid(
            "invalid --shm-size with --ipc host: the host's /dev/shm has the host's size; \
             add --ipc private (ipc = \"private\" in mlenv.toml) to give the container its own",
        ));
    }
    let home = setting(args.home, files.home, "home", "home", |h| {
        crate::settings::Home::parse(&h)
    })?
    .unwrap_or_default();
    if user_mapping {
        let home_dir = crate::dirs::home_dir().map_err(invalid)?;
        if home == crate::settings::Home::Host && home_dir == project.dir {
            return Err(invalid(format!(
                "HOME ({}) is the project folder, and HOME inside must not be (caches and \
                 dotfiles would land in the project); use --home isolated (home = \"isolated\" \
                 in mlenv.toml), or a project in a folder of its own",
                home_dir.display()
            )));
        }
    }
    let ulimit_flag = (!args.ulimit.is_empty()).then_some(args.ulimit);
    let ulimits = setting(ulimit_flag, files.ulimits, "ulimit", "ulimits", |u| {
        limits::parse_ulimits(&u)
    })?
    .unwrap_or_default();
    // Before any container work. A user other than root runs a rootless podman (root's
    // service is root's); root may raise its own limits.
    if !nix::unistd::geteuid().is_root() {
        limits::check_rootless_ulimits(&ulimits, limits::own_hard_limit).map_err(invalid)?;
    }

    let settings = Settings {
        image,
        ports,
        gpus: gpus.iter().flatten().map(|g| g.to_string()).collect(),
        memory,
        cpus,
        user_mapping,
        env_file: env.as_ref().map(|e| e.path.clone()),
        env_keys: env.as_ref().map(EnvFile::keys).unwrap_or_default(),
        // Filled in by `up`, which owns the digest key.
        env_digest: None,
        shm_size,
        ipc,
        ulimits,
        home,
    };
    let autostart_flag = match (args.autostart, args.no_autostart) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    Ok(Up {
        settings,
        given,
        env,
        recreate: args.recreate,
        gpus,
        gpu_check: None,
        seen: None,
        autostart: autostart_flag.or(files.autostart.map(|a| a.value)),
        requirements,
    })
}

/// `--requirements FILE|none` (or the config files' `requirements`), else the project's
/// `requirements.txt` when it has one.
fn requirements(
    flag: Option<PathBuf>,
    file: Option<At<PathBuf>>,
    force: bool,
    project: &Project,
) -> Result<Option<Requirements>> {
    // `Some(None)`: `none` was asked for.
    let chosen = setting(flag, file, "requirements", "requirements", |f| {
        if f == Path::new("none") {
            return Ok(None);
        }
        Requirements::read(&f, &project.dir, force).map(Some)
    })?;
    match chosen {
        Some(Some(r)) => Ok(Some(r)),
        Some(None) if force => Err(invalid(
            "invalid --force-requirements with --requirements none: there is nothing to install",
        )),
        Some(None) => Ok(None),
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
            Requirements::read(&default, &project.dir, force)
                .map(Some)
                .map_err(invalid)
        }
    }
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

/// `mlenv export`: the flags checked, and what `up` would make from the config files.
fn export(command: ExportCommand, project: &Project) -> Result<Export> {
    let job = |job: Option<String>| -> Result<Option<String>> {
        match job {
            Some(j) if j.trim().is_empty() => Err(invalid(
                "invalid --job \"\": the command is empty; expected a shell command such as --job \"python train.py\"",
            )),
            j => Ok(j),
        }
    };
    let (target, output) = match command {
        ExportCommand::Kube(a) => {
            if let Some(pvc) = &a.pvc {
                if !crate::export::is_dns_subdomain(pvc) {
                    return Err(invalid(format!(
                        "invalid --pvc {pvc:?}: expected the name of a PersistentVolumeClaim (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)"
                    )));
                }
            }
            (
                ExportTarget::Kube {
                    job: job(a.job)?,
                    pvc: a.pvc,
                    host_path: a.host_path,
                },
                a.output,
            )
        }
        ExportCommand::Slurm(a) => (
            ExportTarget::Slurm {
                job: job(Some(a.job))?.unwrap_or_default(),
                pyxis: a.pyxis,
            },
            a.output,
        ),
    };
    if let Some(out) = &output {
        output_file(out)?;
    }
    Ok(Export {
        target,
        output,
        up: up(UpArgs::default(), project, files(project)?)?,
    })
}

/// `--output FILE`: a file name in a folder that exists.
fn output_file(out: &Path) -> Result<()> {
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
    if out.is_dir() {
        return Err(invalid(format!(
            "invalid --output {}: it is a folder; expected a file name",
            out.display()
        )));
    }
    Ok(())
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
        output_file(out)?;
    }
    Ok(GpuSetup {
        root,
        output: a.output,
        print: a.print,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_flavours() {
        for (value, want) in [
            (None, Some(None)),
            (Some(""), Some(None)),
            (Some("service"), Some(Some(Flavour::Service))),
            (Some("quadlet"), Some(Some(Flavour::Quadlet))),
            (Some("Service"), None),
            (Some("container"), None),
        ] {
            let got = unit_flavour(value);
            match want {
                Some(w) => assert_eq!(got.unwrap(), w, "{value:?}"),
                None => {
                    let e = format!("{:#}", got.unwrap_err());
                    assert!(
                        e.contains("MLENV_AUTOSTART_FLAVOUR") && e.contains("service"),
                        "{e}"
                    );
                }
            }
        }
    }

    /// A project in a temp folder, its state elsewhere: `up()` reads only its dir.
    fn project(dir: &Path) -> Project {
        Project {
            dir: dir.to_path_buf(),
            container: "mlenv-t-00000000".into(),
            state_dir: dir.join(".state"),
            data_dir: dir.join(".data"),
            pip_cache: dir.join(".pip"),
        }
    }

    fn at<T>(value: T, line: usize) -> Option<At<T>> {
        Some(At {
            value,
            file: PathBuf::from("/p/mlenv.toml"),
            line,
        })
    }

    fn msg(r: Result<impl std::fmt::Debug>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn setting_precedence() {
        let memory = |m: String| limits::parse_memory(&m);
        let s = |v: &str| v.to_string();
        // (flag, file) -> value
        let cases = [
            (None, None, None),
            (Some(s("1g")), None, Some(1 << 30)),
            (None, at(s("2g"), 3), Some(2 << 30)),
            (Some(s("1g")), at(s("2g"), 3), Some(1 << 30)),
        ];
        for (flag, file, want) in cases {
            let got = setting(flag.clone(), file, "memory", "memory", memory).unwrap();
            assert_eq!(got, want, "{flag:?}");
        }
        // A bad file value fails even when the flag overrides it, named by file and line,
        // in the key's words.
        let e = msg(setting(
            Some(s("1g")),
            at(s("lots"), 7),
            "memory",
            "memory",
            memory,
        ));
        assert!(
            e.starts_with("/p/mlenv.toml:7: invalid memory = \"lots\""),
            "{e}"
        );
        // A bad flag is named as the flag.
        let e = msg(setting(Some(s("lots")), None, "memory", "memory", memory));
        assert!(e.starts_with("invalid --memory \"lots\""), "{e}");
    }

    #[test]
    fn up_defaults_flags_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = project(dir.path());
        let plain = up(UpArgs::default(), &p, FileSettings::default()).unwrap();
        assert_eq!(plain.given, Given::default());
        assert!(plain.settings.user_mapping);
        assert!(plain.settings.ports.is_empty() && plain.settings.gpus.is_empty());
        assert_eq!((plain.settings.memory, plain.settings.cpus), (None, None));
        assert!(plain.requirements.is_none() && plain.env.is_none());
        assert_eq!(plain.autostart, None);

        let files = FileSettings {
            ports: at(vec!["8888".to_string()], 2),
            memory: at("4g".to_string(), 3),
            user_mapping: at(false, 4),
            autostart: at(false, 5),
            ..FileSettings::default()
        };
        let args = UpArgs {
            port: vec!["9000:9000".into()],
            cpus: Some("1".into()),
            autostart: true,
            ..UpArgs::default()
        };
        let u = up(args, &p, files).unwrap();
        // The flag's ports over the file's; the file's memory; the flag's autostart.
        assert_eq!(u.settings.ports.len(), 1);
        assert_eq!(u.settings.ports[0].host_port, 9000);
        assert_eq!(u.settings.memory, Some(4 << 30));
        assert_eq!(u.settings.cpus, Some(1.0));
        assert!(!u.settings.user_mapping);
        assert_eq!(u.autostart, Some(true));
        let want = Given {
            ports: true,
            memory: true,
            cpus: true,
            user_mapping: true,
            ..Given::default()
        };
        assert_eq!(u.given, want);
    }

    #[test]
    fn up_rejects_bad_values_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = project(dir.path());
        let bad = |args: UpArgs, files: FileSettings, want: &str| {
            let e = msg(up(args, &p, files));
            assert!(e.contains(want), "{e} lacks {want}");
        };
        let none = FileSettings::default;
        bad(
            UpArgs {
                port: vec!["99999".into()],
                ..UpArgs::default()
            },
            none(),
            "99999",
        );
        bad(
            UpArgs {
                gpu: Some("nvidia.com/gpu=".into()),
                ..UpArgs::default()
            },
            none(),
            "--gpu",
        );
        bad(
            UpArgs {
                env_file: Some(dir.path().join("missing.env")),
                ..UpArgs::default()
            },
            none(),
            "missing.env",
        );
        bad(
            UpArgs::default(),
            FileSettings {
                image: at("UPPER/Case".to_string(), 9),
                ..FileSettings::default()
            },
            "/p/mlenv.toml:9:",
        );
        bad(
            UpArgs {
                force_requirements: true,
                ..UpArgs::default()
            },
            none(),
            "--force-requirements needs one",
        );
    }

    #[test]
    fn requirements_default_file_and_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = project(dir.path());
        assert!(requirements(None, None, false, &p).unwrap().is_none());
        std::fs::write(dir.path().join("requirements.txt"), "numpy\n").unwrap();
        let r = requirements(None, None, false, &p).unwrap().unwrap();
        assert_eq!(r.file, dir.path().join("requirements.txt"));
        assert!(requirements(Some("none".into()), None, false, &p)
            .unwrap()
            .is_none());
        let e = msg(requirements(Some("none".into()), None, true, &p));
        assert!(e.contains("nothing to install"), "{e}");
    }

    #[test]
    fn server_ports_and_logdirs() {
        for (value, want) in [
            ("8888", Some(8888)),
            (" 80 ", Some(80)),
            ("0", None),
            ("x", None),
        ] {
            assert_eq!(server_port(value).ok(), want, "{value:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let p = project(dir.path());
        let inside = logdir(Path::new("runs/../logs"), &p).unwrap();
        assert_eq!(inside, dir.path().join("logs").to_str().unwrap());
        let e = msg(logdir(Path::new("../elsewhere"), &p));
        assert!(e.contains("outside the project"), "{e}");
    }

    #[test]
    fn output_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(output_file(&dir.path().join("spec.yaml")).is_ok());
        let e = msg(output_file(&dir.path().join("no/spec.yaml")));
        assert!(e.contains("does not exist"), "{e}");
        let e = msg(output_file(dir.path()));
        assert!(e.contains("it is a folder"), "{e}");
        let e = msg(gpu_setup(GpuSetupArgs {
            output: Some(dir.path().join("spec.json")),
            ..GpuSetupArgs::default()
        }));
        assert!(e.contains("ending in .yaml"), "{e}");
    }
}
