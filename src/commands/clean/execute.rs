//! The removals of a checked plan, in order: containers, units, then folders.

use std::path::Path;

use color_eyre::eyre::{eyre, Result, WrapErr};

use crate::config::Config;
use crate::podman::Podman;
use crate::{autostart, state, ui};

use super::plan::Item;

/// Removes `items` in order, saying each. The project lock, when held, is let go just
/// before the state dir it lives in goes, as `rm` does.
pub(super) async fn execute(
    cfg: &Config,
    podman: &Podman,
    items: &[Item],
    mut lock: Option<state::ProjectLock>,
) -> Result<()> {
    for item in items {
        match item {
            Item::Container { name, running } => {
                if let Err(e) = podman.remove(name, true).await {
                    // Gone meanwhile is what was wanted.
                    if podman.inspect(name).await?.is_some() {
                        return Err(e).wrap_err_with(|| format!("podman could not remove {name}"));
                    }
                }
                if *running {
                    ui::success(&format!(
                        "Stopped and removed container {name} (it was running)"
                    ));
                } else {
                    ui::success(&format!("Removed container {name}"));
                }
            }
            Item::Unit(path) => {
                let name = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .ok_or_else(|| eyre!("unit file {} has no name", path.display()))?;
                // One call removes the environment's unit files together (and reloads once).
                autostart::remove_units_of(&cfg.project, name)?;
                ui::success(&format!("Removed {}", item.describe()));
            }
            Item::StateDir(path) => {
                drop(lock.take());
                remove_dir(path)?;
                ui::success(&format!("Removed {}", item.describe()));
            }
            Item::Packages(path) | Item::PipCache(path) => {
                remove_dir(path)?;
                ui::success(&format!("Removed {}", item.describe()));
            }
        }
    }
    Ok(())
}

fn remove_dir(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(eyre!(
            "cannot remove {}: {e}; files a container wrote as another user belong to one of your \
             subordinate uids: remove them with `podman unshare rm -rf {}`",
            path.display(),
            path.display()
        )),
        Err(e) => Err(eyre!("cannot remove {}: {e}", path.display())),
    }
}
