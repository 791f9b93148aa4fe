//! The environment: what a project's container is, beyond one command. Its settings as
//! recorded on the container and kept beside it, the body it is created from, the GPUs it
//! names, how it is started, the installs run in it and the servers started in it. Commands
//! build on this; autostart and export use it too. Nothing here reads the command line.

mod body;
mod gpus;
mod install;
pub mod keepid;
pub mod servers;
mod start;
pub mod storage;

use std::path::Path;

use color_eyre::eyre::{eyre, Report, Result, WrapErr};

pub use body::body_for;
pub use gpus::{check_cuda, check_gpus, check_recorded_gpus, names};
pub use install::run_logged;
pub use start::{ensure_image, restart, show_access, start_copying, start_stopped, STOP_TIMEOUT};

use crate::envfile::EnvFile;
use crate::podman::Container;
use crate::project::Project;
use crate::settings::{Settings, LABEL_SETTINGS};

/// Whether the project folder was replaced under the running container `c` (`rm -rf proj
/// && git clone ... proj`): its bind mount still holds the old, deleted folder, where every
/// exec fails ("current working directory is outside of container mount namespace root").
/// Two stats, no API call: the folder at its path on the host, and what the container sees
/// at that path (through `/proc/PID/root`, which the user may read for a rootless
/// container: its user namespace is theirs). `None` when either cannot be looked at
/// (a rootful container, a container that just stopped).
pub fn folder_replaced(c: &Container, dir: &Path) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    if !c.state.running || c.state.pid <= 0 {
        return None;
    }
    let here = std::fs::metadata(dir).ok()?;
    let inside =
        Path::new(&format!("/proc/{}/root", c.state.pid)).join(dir.strip_prefix("/").ok()?);
    let there = std::fs::metadata(inside).ok()?;
    Some((here.dev(), here.ino()) != (there.dev(), there.ino()))
}

/// Re-reads the env file a container was created with, for a recreate or a unit that keeps it;
/// a file that no longer reads is bad input.
pub fn reread_env(path: &Path) -> Result<EnvFile> {
    EnvFile::read(path).map_err(crate::error::invalid)
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::podman::ContainerState;

    fn running(pid: i64) -> Container {
        Container {
            state: ContainerState {
                running: pid > 0,
                pid,
                ..ContainerState::default()
            },
            ..Container::default()
        }
    }

    #[test]
    fn folder_replaced_compares_what_both_sides_see() {
        let dir = tempfile::tempdir().unwrap();
        // This process sees the folder as the host does: the same folder.
        let me = running(std::process::id() as i64);
        assert_eq!(folder_replaced(&me, dir.path()), Some(false));
        // Not running, no pid, no folder: nothing to compare.
        assert_eq!(folder_replaced(&running(0), dir.path()), None);
        assert_eq!(folder_replaced(&me, &dir.path().join("gone")), None);
        // A process that is gone.
        assert_eq!(folder_replaced(&running(i32::MAX as i64), dir.path()), None);
    }
}
