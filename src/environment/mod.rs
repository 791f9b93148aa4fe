//! The environment: what a project's container is, beyond one command. Its settings as
//! recorded on the container and kept beside it, the body it is created from, the GPUs it
//! names, how it is started, the installs run in it and the servers started in it. Commands
//! build on this; autostart and export use it too. Nothing here reads the command line.

mod body;
mod gpus;
mod install;
pub mod servers;
mod start;

use std::path::Path;

use color_eyre::eyre::{eyre, Report, Result, WrapErr};

pub use body::body_for;
pub use gpus::{check_gpus, check_recorded_gpus, names};
pub use install::run_logged;
pub use start::{ensure_image, show_access, start, start_stopped};

use crate::podman::Container;
use crate::project::Project;
use crate::settings::{Settings, LABEL_SETTINGS};

/// The error for a command that needs a container when there is none.
pub fn not_created(project: &Project) -> Report {
    eyre!(
        "{} does not exist; create it with `mlenv up` in {}",
        project.container,
        project.dir.display()
    )
}

/// The settings an existing container was created with, from its label.
pub fn recorded_settings(c: &Container) -> Result<Settings> {
    let raw = c.label(LABEL_SETTINGS).ok_or_else(|| {
        eyre!(
            "a container named {} exists but was not created by mlenv; remove it with `podman rm -f {}` or run mlenv from another folder",
            c.name,
            c.name
        )
    })?;
    serde_json::from_str(raw)
        .wrap_err_with(|| format!("cannot read the {LABEL_SETTINGS} label of {}", c.name))
}

/// In the project's state dir: the settings of the environment's container, kept beside
/// its label. Whatever removes the container behind mlenv's back (an autostart unit whose
/// `podman run --replace` fails at boot, quadlet's `--rm` after a stop, a `podman rm`),
/// `up` brings the same environment back from here; `mlenv rm` removes it.
const KEPT_SETTINGS: &str = "settings.json";

pub fn keep_settings(state_dir: &Path, settings: &Settings) -> Result<()> {
    let path = state_dir.join(KEPT_SETTINGS);
    let json = serde_json::to_vec(settings).expect("settings serialise");
    if std::fs::read(&path).ok().as_deref() == Some(json.as_slice()) {
        return Ok(());
    }
    Ok(crate::fsx::write_atomic(&path, &json, 0o600)?)
}

/// The settings [`keep_settings`] kept, if any.
pub fn kept_settings(state_dir: &Path) -> Result<Option<Settings>> {
    let path = state_dir.join(KEPT_SETTINGS);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .wrap_err_with(|| format!("cannot read {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).wrap_err_with(|| format!("cannot read {}", path.display())),
    }
}
