//! `mlenv unit`: the systemd user unit `up` writes, printed.

use std::io::Write;

use color_eyre::eyre::{eyre, Result};

use super::not_created;
use super::up::recorded_settings;
use crate::config::Config;
use crate::podman::Podman;

pub async fn run(cfg: &Config, podman: &Podman, for_podman: Option<&str>) -> Result<()> {
    let c = podman
        .inspect(&cfg.project.container)
        .await?
        .ok_or_else(|| not_created(cfg))?;
    let settings = recorded_settings(&c)?;
    let text = crate::autostart::render(cfg, podman, &settings, None, for_podman, false)
        .await?
        .ok_or_else(|| eyre!("this environment gets no autostart unit (see the message above)"))?
        .text;
    let mut out = std::io::stdout().lock();
    super::logs::write_out(&mut out, text.as_bytes())?;
    out.flush().ok();
    Ok(())
}
