//! One module per subcommand, each `run(&Config, ...)`.

pub mod clean;
pub mod doctor;
pub mod exec;
pub mod export;
pub mod gpu;
pub mod init;
pub mod lifecycle;
pub mod list;
pub mod logs;
pub mod server;
pub mod service;
pub mod status;
pub mod unit;
pub mod up;

use color_eyre::eyre::Result;

use crate::config::{Action, Config};
use crate::podman::Podman;

/// Input checks that need the service, run before mlenv writes anything (its log included),
/// so that bad input leaves nothing behind: the GPUs `up --gpu` names must be ones podman
/// can attach. Not on the warm path: a running container that has these GPUs has them, and
/// `up` finds it running without resolving anything (or asking podman its version).
pub async fn validate(cfg: &mut Config, podman: &Podman) -> Result<()> {
    if let Action::Up(up) = &mut cfg.action {
        if let Some(wanted) = &up.gpus {
            up.seen = podman.inspect(&cfg.project.container).await?;
            let running_with_them = !up.recreate
                && up.seen.as_ref().is_some_and(|c| {
                    c.state.running
                        && crate::environment::recorded_settings(c)
                            .is_ok_and(|s| s.gpus == crate::environment::names(wanted))
                });
            if !running_with_them {
                up.gpu_check = Some(crate::environment::check_gpus(podman, Some(wanted)).await?);
            }
        }
    }
    Ok(())
}

pub async fn run(cfg: &Config, podman: &Podman) -> Result<()> {
    tracing::debug!(socket = %cfg.socket.path.display(), container = %cfg.project.container, "mlenv {}", env!("CARGO_PKG_VERSION"));
    match &cfg.action {
        Action::Up(up) => up::run(cfg, up, podman).await,
        Action::Down => lifecycle::down(cfg, podman).await,
        Action::Restart => lifecycle::restart(cfg, podman).await,
        Action::Rm { force } => lifecycle::rm(cfg, podman, *force).await,
        Action::Exec { command, root } => exec::run(cfg, podman, command.as_deref(), *root).await,
        Action::Status { json } => status::run(cfg, podman, *json).await,
        Action::Logs { follow, mlenv } => logs::run(cfg, podman, *follow, *mlenv).await,
        Action::List { json } => list::run(podman, *json).await,
        Action::Server(req) => server::run(cfg, podman, req).await,
        Action::Unit { for_podman } => unit::run(cfg, podman, for_podman.as_deref()).await,
        Action::GpuList { json } => gpu::list(podman, *json).await,
        Action::GpuSetup(args) => gpu::setup(podman, args).await,
        Action::Init(init) => init::run(cfg, init),
        Action::Doctor(doctor) => doctor::run(cfg, podman, doctor).await,
        Action::Clean(clean) => clean::run(cfg, podman, clean).await,
        Action::Export(export) => export::run(cfg, podman, export).await,
        Action::Service(action) => service::run(cfg, podman, *action).await,
    }
}
