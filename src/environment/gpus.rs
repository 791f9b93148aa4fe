//! The GPUs an environment names, resolved against the CDI specs podman reads.

use color_eyre::eyre::{eyre, Result};

use crate::error::invalid;
use crate::podman::Podman;
use crate::settings::Settings;
use crate::{gpu, ui};

/// Resolves GPUs against the specs the installed podman reads (see [`gpu::preflight`]),
/// saying what was chosen or healed. Failures are bad input: nothing was created or started.
pub async fn check_gpus(
    podman: &Podman,
    wanted: Option<&[cdi::QualifiedName]>,
) -> Result<gpu::preflight::Resolved> {
    // `--gpu none` needs nothing of podman (not even its version).
    if wanted.is_some_and(|w| w.is_empty()) {
        return Ok(Default::default());
    }
    let rules = gpu::installed(podman).await?;
    let resolved = gpu::preflight::resolve(wanted, &rules, true).map_err(invalid)?;
    for note in &resolved.notes {
        ui::info(note);
    }
    tracing::debug!(names = ?resolved.names, devices = ?resolved.devices, "GPUs resolved");
    Ok(resolved)
}

pub fn names(names: &[cdi::QualifiedName]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// [`check_gpus`] for the CDI names recorded in a container's settings.
pub async fn check_recorded_gpus(
    podman: &Podman,
    settings: &Settings,
) -> Result<gpu::preflight::Resolved> {
    if settings.gpus.is_empty() {
        return Ok(Default::default());
    }
    check_gpus(podman, Some(&parse_names(&settings.gpus)?)).await
}

/// The CDI names recorded in a container's settings.
fn parse_names(recorded: &[String]) -> Result<Vec<cdi::QualifiedName>> {
    recorded
        .iter()
        .map(|n| {
            n.parse()
                .map_err(|e| eyre!("the recorded GPU {n:?} is not a CDI name: {e}"))
        })
        .collect()
}
