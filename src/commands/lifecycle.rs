//! `down`, `restart` and `rm`: the container's lifecycle after `up`.

use color_eyre::eyre::{Result, WrapErr};

use crate::config::Config;
use crate::environment::{not_created, STOP_TIMEOUT};
use crate::podman::Podman;
use crate::{state, ui};

pub async fn down(cfg: &Config, podman: &Podman) -> Result<()> {
    let name = &cfg.project.container;
    match podman.inspect(name).await? {
        None => ui::info(&format!("{name} does not exist; nothing to stop")),
        Some(c) if !c.state.running => ui::info(&format!("{name} is already stopped")),
        Some(c) => match crate::systemd::managing_unit(&c) {
            // Its unit's `--rm` removes the container; the kept settings bring it back.
            Some(unit) => {
                let pb = ui::spinner(&format!("Stopping {name} ({unit})"));
                let r = crate::systemd::systemctl("stop", &unit);
                pb.finish_and_clear();
                r?;
                ui::success(&format!(
                    "Stopped {name}; its unit {unit} removed the container, and `mlenv up` brings it back with the same settings"
                ));
            }
            None => {
                let pb = ui::spinner(&format!("Stopping {name}"));
                let r = podman.stop(name, STOP_TIMEOUT).await;
                pb.finish_and_clear();
                r.wrap_err_with(|| format!("podman could not stop {name}"))?;
                ui::success(&format!("Stopped {name} (start it again with `mlenv up`)"));
            }
        },
    }
    // Stopped on purpose stays stopped after a reboot.
    if crate::autostart::disable(&cfg.project)? {
        ui::info("Autostart disabled until the next `mlenv up`");
    }
    Ok(())
}

pub async fn restart(cfg: &Config, podman: &Podman) -> Result<()> {
    let name = &cfg.project.container;
    let Some(c) = podman.inspect(name).await? else {
        return Err(not_created(&cfg.project));
    };
    crate::environment::restart(podman, &c).await?;
    ui::success(&format!("Restarted {name}"));
    Ok(())
}

pub async fn rm(cfg: &Config, podman: &Podman, force: bool) -> Result<()> {
    let name = &cfg.project.container;
    let lock = state::lock_project(&cfg.project.state_dir)?;
    match podman.inspect(name).await? {
        Some(c) if c.state.running && !force => {
            return Err(crate::error::invalid(format!(
                "{name} is running; stop it first with `mlenv down`, or remove it anyway with `mlenv rm -f`"
            )));
        }
        Some(_) => {
            podman
                .remove(name, true)
                .await
                .wrap_err_with(|| format!("podman could not remove {name}"))?;
            ui::success(&format!(
                "Removed {name} (files in {} are kept)",
                cfg.project.dir.display()
            ));
        }
        None => ui::info(&format!("{name} does not exist")),
    }
    if crate::autostart::remove(&cfg.project)? {
        ui::info("Removed its autostart unit");
    }
    drop(lock);
    match std::fs::remove_dir_all(&cfg.project.state_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).wrap_err_with(|| {
                format!(
                    "cannot remove state dir {}",
                    cfg.project.state_dir.display()
                )
            })
        }
    }
    Ok(())
}
