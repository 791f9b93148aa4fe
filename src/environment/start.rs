//! Starting an environment's container: the image it needs, the start itself (with a word
//! on the slow first keep-id start), and what the user is told.

use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};

use super::{check_recorded_gpus, recorded_settings};
use crate::podman::{Container, Podman};
use crate::settings::Settings;
use crate::ui;

/// How long a stop (or restart) gives the container's processes before SIGKILL.
pub const STOP_TIMEOUT: u32 = 10;

/// Restarts container `c`: through the systemd unit that runs it when there is one (a stop
/// behind its back would only make it start the container again, or give up), else through
/// podman. A restart is a start: the recorded GPUs must still resolve (a stale spec healed).
pub async fn restart(podman: &Podman, c: &Container) -> Result<()> {
    let name = &c.name;
    if let Ok(settings) = recorded_settings(c) {
        check_recorded_gpus(podman, &settings).await?;
    }
    let pb = ui::spinner(&format!("Restarting {name}"));
    let r = match crate::systemd::managing_unit(c).filter(|_| c.state.running) {
        Some(unit) => crate::systemd::systemctl("restart", &unit),
        None => podman
            .restart(name, STOP_TIMEOUT)
            .await
            .wrap_err_with(|| format!("podman could not restart {name}")),
    };
    pb.finish_and_clear();
    r
}

/// After this long a start gets a word on why it may take minutes (the keep-id copy).
const SLOW_START_HINT: Duration = Duration::from_secs(3);

/// Starts an existing, stopped container. Its CDI names resolve again at this start: a
/// spec that went stale (a driver upgrade) is caught, and healed, here.
pub async fn start_stopped(podman: &Podman, name: &str, settings: &Settings) -> Result<()> {
    check_recorded_gpus(podman, settings).await?;
    start(podman, name).await?;
    ui::success(&format!("Started {name}"));
    show_access(settings);
    Ok(())
}

pub async fn start(podman: &Podman, name: &str) -> Result<()> {
    start_copying(podman, name, None).await
}

/// Starts `name`; with `copy` (the keep-id copy this start makes, `super::keepid`) a byte
/// bar follows the copy as it fills podman's storage.
pub async fn start_copying(
    podman: &Podman,
    name: &str,
    copy: Option<&super::keepid::Copy>,
) -> Result<()> {
    if let Some(copy) = copy {
        let pb = ui::bytes_bar(&format!("Starting {name}: copying the image for your user"));
        pb.set_length(copy.bytes);
        let before = super::keepid::used_bytes(&copy.graph_root);
        let fut = podman.start(name);
        tokio::pin!(fut);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let result = loop {
            tokio::select! {
                r = &mut fut => break r,
                _ = tick.tick() => {
                    if let (Some(b), Some(now)) = (before, super::keepid::used_bytes(&copy.graph_root)) {
                        pb.set_position(now.saturating_sub(b).min(copy.bytes));
                    }
                }
            }
        };
        if let (Some(b), Some(now)) = (before, super::keepid::used_bytes(&copy.graph_root)) {
            tracing::debug!(
                copied = now.saturating_sub(b),
                expected = copy.bytes,
                "keep-id copy"
            );
        }
        pb.finish_and_clear();
        return result.wrap_err_with(|| format!("podman could not start {name}"));
    }
    let pb = ui::spinner(&format!("Starting {name}"));
    let fut = podman.start(name);
    tokio::pin!(fut);
    let result = tokio::select! {
        r = &mut fut => r,
        _ = tokio::time::sleep(SLOW_START_HINT) => {
            pb.set_message(format!(
                "Starting {name}: the first start of an image with your user mapped in makes \
                 an ID-mapped copy of it, which takes minutes for a large image"
            ));
            fut.await
        }
    };
    pb.finish_and_clear();
    result.wrap_err_with(|| format!("podman could not start {name}"))
}

pub async fn ensure_image(podman: &Podman, image: &str) -> Result<()> {
    if podman.image_exists(image).await? {
        return Ok(());
    }
    // A first pull: never onto a network filesystem without a word (the info call is paid
    // only here, before minutes of download).
    if let Some(info) = super::storage::storage_facts(podman).await {
        super::storage::check_pull_target(
            std::path::Path::new(&info.graph_root),
            image,
            std::env::var("MLENV_ALLOW_NETWORK_STORAGE").is_ok_and(|v| v == "1"),
        )?;
    }
    let pb = ui::bytes_bar(&format!("Pulling {image}"));
    let mut last_logged = 0usize;
    let result = podman
        .pull(image, |p| {
            pb.set_length(p.total);
            pb.set_position(p.current);
            if p.layers_done != last_logged {
                last_logged = p.layers_done;
                tracing::debug!(
                    "pull {image}: {}/{} layers, {}/{} bytes",
                    p.layers_done,
                    p.layers,
                    p.current,
                    p.total
                );
            }
        })
        .await;
    pb.finish_and_clear();
    result.wrap_err_with(|| format!("cannot pull {image}"))?;
    ui::success(&format!("Pulled {image}"));
    Ok(())
}

pub fn show_access(settings: &Settings) {
    for p in &settings.ports {
        ui::info(&format!("Forwarding {p}"));
    }
}
