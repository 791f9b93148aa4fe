//! The command line as clap sees it: raw strings, parsed but not yet validated.
//!
//! Everything here is turned into a validated [`crate::config::Config`] before any
//! container work starts, so values are kept as the user typed them and checked there,
//! where the error can name the value and what would be accepted.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::EXIT_CODES;

#[derive(Debug, Parser)]
#[command(
    name = "mlenv",
    version,
    about = "Per-project GPU development containers on rootless Podman",
    long_about = "Per-project GPU development containers on rootless Podman.\n\n\
        Run `mlenv up` in a project folder to get a container with the project mounted at the \
        same path, running as you, with your GPUs attached through CDI.",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Explain every step, and log at debug level.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,

    /// Print only errors (and the output of `exec`, `logs`, `status --json`).
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]
    #[arg(long, global = true, value_name = "URL")]
    pub host: Option<String>,

    /// Project folder [default: the current directory]
    #[arg(short = 'C', long, global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the project's container if absent, start it if stopped, do nothing if it runs.
    ///
    /// Each setting comes from its flag, else the project's mlenv.toml, else
    /// ~/.config/mlenv/config.toml, else its default (`mlenv init` writes a commented
    /// mlenv.toml). On an existing container, `up` compares the settings given (by flag or
    /// file) with the ones it was made with, and changes nothing when they differ unless
    /// --recreate is passed.
    Up(UpArgs),
    /// Stop the project's container (files and installs are kept).
    Down,
    /// Restart the project's container.
    Restart,
    /// Remove the project's container and mlenv's state for the project.
    Rm(RmArgs),
    /// Open a login shell in the container, or run a command with -c.
    Exec(ExecArgs),
    /// Show the container's state, image, ports, uptime and GPUs.
    Status(StatusArgs),
    /// Show the container's logs, or mlenv's own debug log with --mlenv.
    Logs(LogsArgs),
    /// List every mlenv environment of this user: project, state, image, ports, GPUs.
    List(ListArgs),
    /// Start JupyterLab in the environment (detached) and print its URL; --stop stops it.
    Jupyter(JupyterArgs),
    /// Start TensorBoard in the environment (detached) and print its URL; --stop stops it.
    Tensorboard(TensorboardArgs),
    /// Print the systemd user unit that brings the environment back after a reboot.
    Unit(UnitArgs),
    /// Write a commented mlenv.toml for the project from the given `up` flags.
    Init(InitArgs),
    /// Check that this machine can run mlenv environments, each problem with its fix.
    Doctor(DoctorArgs),
    /// Remove mlenv's own files for the project (state, logs, units); never the project's files.
    Clean(CleanArgs),
    /// List the GPUs podman can attach, or write the CDI spec for this machine's NVIDIA GPUs.
    #[command(subcommand)]
    Gpu(GpuCommand),
    /// Podman's API service for you, in the background, where systemd cannot start it
    /// (a login node over ssh or su: no user manager, no XDG_RUNTIME_DIR); its log is in
    /// mlenv's state folder.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Write a Kubernetes manifest or a Slurm batch script that runs the environment on a cluster.
    ///
    /// The environment is what `mlenv up` makes from the project's mlenv.toml and your
    /// ~/.config/mlenv/config.toml, overlaid by the settings the project's container was
    /// created with when it exists. Export takes no `up` flags: change the environment with
    /// `up` (or the files) first.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (roff) of mlenv, or of one subcommand.
    #[command(hide = true)]
    Man(ManArgs),
}

#[derive(Debug, Args, Default, Clone)]
pub struct UpArgs {
    /// Container image [env: MLENV_IMAGE] [default: the current NGC PyTorch image]
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,

    /// Ports to forward: HOST:CONTAINER, IP:HOST:CONTAINER or PORT, with an optional /udp;
    /// comma separated or repeated. Binds 127.0.0.1 unless an IP is given. HOST may be
    /// `auto` (auto:8888): a free port, picked when the container is made and kept.
    #[arg(short, long, value_name = "LIST")]
    pub port: Vec<String>,

    /// Load environment variables from this file (KEY=VALUE lines, read as Docker Compose reads .env files).
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,

    /// GPUs: all, none, indices (0,1), or CDI names (nvidia.com/gpu=0)
    /// [default: all when an NVIDIA CDI spec exists, else none]
    #[arg(long, value_name = "LIST")]
    pub gpu: Option<String>,

    /// Memory limit, e.g. 16g, 512m.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,

    /// CPU limit, e.g. 4 or 2.5.
    #[arg(long, value_name = "N")]
    pub cpus: Option<String>,

    /// Run as the image's own user instead of mapping your user into the container.
    #[arg(long)]
    pub no_user_mapping: bool,

    /// IPC namespace: private (a /dev/shm of --shm-size) or host (the host's IPC and
    /// /dev/shm, as NVIDIA's examples run) [default: private]
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<String>,

    /// Size of /dev/shm with --ipc private, e.g. 16g [default: half the host's memory, at least 2g]
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,

    /// Process limits, NAME=SOFT[:HARD] (-1 for unlimited); comma separated or repeated
    /// [default: memlock=-1 and stack=67108864 as NVIDIA recommends, capped at your hard limits]
    #[arg(long, value_name = "LIST")]
    pub ulimit: Vec<String>,

    /// HOME inside: host (your home, at its own path) or isolated (the environment's own,
    /// with your ~/.cache, git identity and ssh config) [default: host]
    #[arg(long, value_name = "MODE")]
    pub home: Option<String>,

    /// Replace an existing container that has other settings (project files are kept).
    #[arg(long)]
    pub recreate: bool,

    /// Install this requirements file with pip (a file inside the project), or `none`
    /// [default: the project's requirements.txt when it has one]
    #[arg(long, value_name = "FILE")]
    pub requirements: Option<PathBuf>,

    /// Reinstall the requirements even when nothing changed.
    #[arg(long)]
    pub force_requirements: bool,

    /// Whether pip keeps the image's own pins (its PIP_CONSTRAINT, as NGC images set):
    /// image, or none to install without them [default: image]
    #[arg(long, value_name = "WHICH")]
    pub pip_constraints: Option<String>,

    /// Do not bring the environment back after a reboot (no systemd user unit); remembered.
    #[arg(long, conflicts_with = "autostart")]
    pub no_autostart: bool,

    /// Bring the environment back after a reboot again, after --no-autostart.
    #[arg(long)]
    pub autostart: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove the container even if it is running.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Run this command through `sh -c` in the project folder instead of a login shell.
    #[arg(short = 'c', long = "command", value_name = "CMD")]
    pub command: Option<String>,

    /// As root inside, e.g. to apt-get install a system package. Rootless, root inside is
    /// an unprivileged subordinate uid outside; files it writes in the project are that uid's.
    #[arg(long)]
    pub root: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print machine-readable JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new log lines.
    #[arg(short, long)]
    pub follow: bool,

    /// Show mlenv's own timestamped debug log for this project instead.
    #[arg(long)]
    pub mlenv: bool,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Start podman's API service on the socket mlenv uses, unless something answers there.
    Start,
    /// Stop the service `mlenv service start` started (containers keep running).
    Stop,
    /// Whether the service answers, and whether mlenv started it; exit 3 when it does not answer.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum GpuCommand {
    /// The CDI devices podman can attach (their names for --gpu), with their spec files
    /// and anything that would stop podman from using them.
    List(GpuListArgs),
    /// Find the NVIDIA driver and GPUs (no nvidia-ctk needed) and write a CDI spec where the
    /// installed podman reads it; regenerates one mlenv wrote after a driver upgrade.
    Setup(GpuSetupArgs),
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// A Pod (interactive; `kubectl exec -it NAME -- bash`) or with --job a Job: the image,
    /// the env file as a Secret (values only there), GPUs as `nvidia.com/gpu` limits,
    /// memory and CPU requests and limits, ports, the project mounted at its own path,
    /// the requirements installed by an init container, running as your uid and gid.
    Kube(ExportKubeArgs),
    /// An sbatch script running CMD in the environment on a compute node with rootless
    /// podman (--gres=gpu:N, the same image, env file, mounts and requirements), or with
    /// pyxis (`srun --container-image`).
    Slurm(ExportSlurmArgs),
}

#[derive(Debug, Args)]
pub struct ExportKubeArgs {
    /// Write a batch Job running CMD (through `sh -c`) instead of an interactive Pod.
    #[arg(long, value_name = "CMD")]
    pub job: Option<String>,

    /// Mount this existing PersistentVolumeClaim as the project instead of a new claim
    /// NAME-project.
    #[arg(long, value_name = "NAME", conflicts_with = "host_path")]
    pub pvc: Option<String>,

    /// Mount the project folder (and a packages folder in mlenv's data dir) from the node
    /// with hostPath volumes instead of claims: for a single node that has the project.
    #[arg(long)]
    pub host_path: bool,

    /// Write the manifest to FILE (mode 0600: it holds the env file's values) instead of
    /// stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportSlurmArgs {
    /// The command the job runs in the environment (through `sh -c`).
    #[arg(long, value_name = "CMD", required = true)]
    pub job: String,

    /// Run the container with pyxis (`srun --container-image`) instead of rootless podman.
    #[arg(long)]
    pub pyxis: bool,

    /// Write the script to FILE (mode 0600) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GpuListArgs {
    /// Print machine-readable JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Default)]
pub struct GpuSetupArgs {
    /// Write the spec to this file (*.yaml) instead of where podman reads it by default.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print the spec on stdout and write nothing.
    #[arg(long, conflicts_with = "output")]
    pub print: bool,

    /// Look for the driver below this folder instead of / (a mounted system image).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print machine-readable JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JupyterArgs {
    /// The container port JupyterLab listens on; the environment must forward it.
    #[arg(long, value_name = "PORT", default_value = "8888")]
    pub port: String,

    /// Stop the JupyterLab mlenv started.
    #[arg(long)]
    pub stop: bool,
}

#[derive(Debug, Args)]
pub struct TensorboardArgs {
    /// The log folder, inside the project.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub logdir: PathBuf,

    /// The container port TensorBoard listens on; the environment must forward it.
    #[arg(long, value_name = "PORT", default_value = "6006")]
    pub port: String,

    /// Stop the TensorBoard mlenv started.
    #[arg(long)]
    pub stop: bool,
}

#[derive(Debug, Args)]
pub struct UnitArgs {
    /// Print the unit for this podman version instead of the installed one (a quadlet
    /// `.container` from 4.4, a `.service` before).
    #[arg(long, value_name = "VERSION")]
    pub for_podman: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing mlenv.toml.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub up: UpArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print machine-readable JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Also remove the project's volumes (installed packages, pip cache).
    #[arg(long)]
    pub volumes: bool,

    /// Clean every mlenv project of this user, after listing what will go.
    #[arg(long)]
    pub all: bool,

    /// Do not ask before cleaning with --all.
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print completions for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The subcommand whose page to print (mlenv-SUBCOMMAND(1)).
    pub subcommand: Option<String>,

    /// Print the command reference in Markdown instead (the README's section).
    #[arg(long, conflicts_with = "subcommand")]
    pub markdown: bool,
}

/// The clap command, for completions and the man page.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// The command reference in Markdown: every visible command's `--help`, nested ones
/// included, so the README's reference is generated and cannot drift from the binary.
pub fn reference_markdown() -> String {
    fn walk(cmd: &mut clap::Command, path: &str, out: &mut String) {
        let help = cmd.render_long_help().to_string();
        out.push_str(&format!(
            "#### `{path}`\n\n```text\n{}\n```\n\n",
            help.trim_end()
        ));
        for sub in cmd.get_subcommands_mut() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            // The global flags are documented once, with `mlenv` itself.
            let mut sub = sub.clone();
            for id in ["verbose", "quiet", "host", "project", "help", "version"] {
                if sub.get_arguments().any(|a| a.get_id() == id) {
                    sub = sub.mut_arg(id, |a| a.hide(true));
                }
            }
            let name = format!("{path} {}", sub.get_name());
            walk(&mut sub, &name, out);
        }
    }
    let mut cmd = command();
    cmd.build();
    let mut out = String::new();
    walk(&mut cmd, "mlenv", &mut out);
    out
}
