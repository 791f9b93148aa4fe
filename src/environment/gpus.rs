//! The GPUs an environment names, resolved against the CDI specs podman reads.

use std::path::Path;

use color_eyre::eyre::{eyre, Result};

use crate::error::invalid;
use crate::gpu::cuda::ImageCuda;
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

/// The host driver against what the image's CUDA needs (`gpu::cuda`): a note when forward
/// or minor-version compatibility is used, an input error when nothing can work.
pub fn check_cuda(root: &Path, cuda: &ImageCuda, image: &str) -> Result<()> {
    let host = match crate::nvidia::running_version(root) {
        Ok(Some(v)) => v,
        // No driver loaded, or unreadable: the GPU checks say so where it matters.
        Ok(None) | Err(_) => return Ok(()),
    };
    let verdict = crate::gpu::cuda::decide(cuda, &host);
    tracing::debug!(?verdict, host = %host, "CUDA driver check");
    match crate::gpu::cuda::explain(&verdict, image).map_err(invalid)? {
        Some(note) if matches!(verdict, crate::gpu::cuda::Verdict::MinorVersion { .. }) => {
            ui::warn(&note)
        }
        Some(note) => ui::info(&note),
        None => {}
    }
    Ok(())
}
