//! `mlenv unit`: the systemd user unit `up` writes, printed.

use std::io::Write;

use color_eyre::eyre::{eyre, Result};

use crate::config::Config;
use crate::environment::not_created;
use crate::environment::recorded_settings;
use crate::podman::Podman;

pub async fn run(cfg: &Config, podman: &Podman, for_podman: Option<&str>) -> Result<()> {
    let c = podman
        .inspect(&cfg.project.container)
        .await?
        .ok_or_else(|| not_created(&cfg.project))?;
    let settings = recorded_settings(&c)?;
    let text = crate::autostart::render(
        &cfg.project,
        cfg.unit_flavour,
        podman,
        &settings,
        None,
        for_podman,
        false,
    )
    .await?
    .ok_or_else(|| eyre!("this environment gets no autostart unit (see the message above)"))?
    .text;
    let mut out = std::io::stdout().lock();
    crate::ui::write_out(&mut out, text.as_bytes())?;
    out.flush().ok();
    Ok(())
}
