//! The body a container is created from, as `up` sends it and the autostart unit
//! reproduces it.

use color_eyre::eyre::Result;

use crate::create::{create_body, ImageFacts, UserMode};
use crate::envfile::EnvFile;
use crate::podman::{CreateBody, Device, Podman};
use crate::project::Project;
use crate::settings::Settings;

/// The create body for `settings`, as `up` sends it and as the autostart unit reproduces it.
pub async fn body_for(
    project: &Project,
    podman: &Podman,
    rootless: bool,
    settings: &Settings,
    devices: &[String],
    env: Option<&EnvFile>,
) -> Result<(CreateBody, ImageFacts)> {
    let image = podman.image(&settings.image).await?;
    let facts = ImageFacts {
        path: image.env("PATH").map(str::to_string),
        id: image.id,
    };
    let user = UserMode::choose(
        settings.user_mapping,
        rootless,
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    let mut body = create_body(project, project.dir_str()?, settings, env, user, &facts);
    // The label records the names asked for; podman gets them resolved (`amd.com/gpu=all`
    // expanded where the spec has no `all` device).
    body.devices = devices.iter().map(|d| Device { path: d.clone() }).collect();
    Ok((body, facts))
}
