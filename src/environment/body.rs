//! The body a container is created from, as `up` sends it and the autostart unit
//! reproduces it.

use color_eyre::eyre::Result;

use crate::create::{
    create_body, isolated_home, HostFacts, ImageFacts, UserMode, BORROWED_DOTFILES,
};
use crate::envfile::EnvFile;
use crate::podman::{CreateBody, Device, Podman};
use crate::project::Project;
use crate::settings::{Home, Settings};

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
        cuda: crate::gpu::cuda::ImageCuda::from_env(|k| image.env(k).map(str::to_string)),
        size: image.size,
        id: image.id,
    };
    let user = UserMode::choose(
        settings.user_mapping,
        rootless,
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    if settings.ipc == crate::limits::Ipc::Host && !mqueue_mounted() {
        return Err(crate::error::invalid(
            "ipc = host needs /dev/mqueue mounted on this host (podman binds it into the \
             container), and it is not; mount it (`mount -t mqueue mqueue /dev/mqueue`, as \
             root) or use --ipc private (ipc = \"private\" in mlenv.toml) with --shm-size",
        ));
    }
    let host = host_facts(
        project,
        settings.home,
        settings.user_mapping,
        rootless,
        podman.socket(),
    )?;
    if rootless {
        // The service's limits, which Config's check of this process's could not see.
        crate::limits::check_rootless_ulimits(&settings.ulimits, |n| match n {
            "memlock" => host.memlock_hard,
            "stack" => host.stack_hard,
            other => crate::limits::own_hard_limit(other),
        })
        .map_err(crate::error::invalid)?;
    }
    let mut body = create_body(
        project,
        project.dir_str()?,
        settings,
        env,
        user,
        &facts,
        &host,
    );
    // The label records the names asked for; podman gets them resolved (`amd.com/gpu=all`
    // expanded where the spec has no `all` device).
    body.devices = devices.iter().map(|d| Device { path: d.clone() }).collect();
    Ok((body, facts))
}

/// The host side of HOME and the limits, with an isolated home's folders made (podman
/// refuses a bind mount whose source is missing).
/// The lower of this process's hard limit and the podman service's (whose containers
/// inherit its limits; at boot the user manager's, which is the listener when socket
/// activation runs the service): no container must ask for more than either allows.
fn hard_limit(socket: &std::path::Path, name: &str) -> Option<u64> {
    let own = crate::limits::own_hard_limit(name);
    let service = crate::podman::listener_hard_limit(socket, name).unwrap_or(own);
    match (own, service) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn host_facts(
    project: &Project,
    home: Home,
    user_mapping: bool,
    rootless: bool,
    socket: &std::path::Path,
) -> Result<HostFacts> {
    // The image's own user (--no-user-mapping) keeps the image's home: HOME need not be
    // usable on the host then.
    let home_dir = if user_mapping {
        crate::dirs::home_dir().map_err(crate::error::invalid)?
    } else {
        std::path::PathBuf::from("/")
    };
    let cache =
        crate::dirs::base(crate::dirs::Base::Cache).unwrap_or_else(|| home_dir.join(".cache"));
    if user_mapping && home == Home::Isolated {
        crate::fsx::create_private_dir(&isolated_home(project))?;
        crate::fsx::create_private_dir(&cache)?;
    }
    let dotfiles = BORROWED_DOTFILES
        .iter()
        .filter(|rel| home_dir.join(rel).exists())
        .map(|rel| rel.to_string())
        .collect();
    let text = |p: &std::path::Path| {
        p.to_str()
            .map(str::to_string)
            .ok_or_else(|| color_eyre::eyre::eyre!("{} is not valid UTF-8", p.display()))
    };
    let user_name = crate::dirs::user_name();
    Ok(HostFacts {
        home: text(&home_dir)?,
        user_name,
        cache: text(&cache)?,
        dotfiles,
        memlock_hard: hard_limit(socket, "memlock"),
        stack_hard: hard_limit(socket, "stack"),
        memory: crate::limits::host_memory(),
        rootless,
    })
}

/// Whether /dev/mqueue is the POSIX message queue filesystem (statfs magic 0x19800202).
// The cast: f_type's type differs between targets (i64 on x86-64 glibc).
#[allow(clippy::unnecessary_cast)]
fn mqueue_mounted() -> bool {
    nix::sys::statfs::statfs("/dev/mqueue")
        .map(|s| s.filesystem_type().0 as i64 == 0x1980_0202)
        .unwrap_or(false)
}
