//! Back after a reboot: the systemd user unit of an environment ([`unit`] writes it), enabled
//! by `up`, disabled by `down` (an environment stopped on purpose stays stopped after a
//! reboot), removed by `rm`.
//!
//! Enabling is done in files, as `systemctl enable` would: the `default.target.wants`
//! symlink of a `.service`, the `[Install]` section of a quadlet file (whose generated unit
//! cannot be `enable`d). So it works, and is testable, without a running user manager; when
//! there is one, mlenv asks it to reload. Without one (HPC nodes, containers) the container
//! keeps podman's restart policy and mlenv says once that a reboot needs an `mlenv up`.

pub mod unit;

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr};

use self::unit::{Flavour, UnitInput};
use crate::envfile::EnvFile;
use crate::gpu::policy::config_home;
use crate::podman::Podman;
use crate::project::Project;
use crate::settings::Settings;
use crate::ui;

/// In the project's state dir: present when the user opted out with `--no-autostart`.
const OPT_OUT: &str = "autostart-off";
/// In the project's state dir: the env file copy the unit reads (mode 0600).
const ENV_COPY: &str = "env";

/// Both places a unit of this project may be.
fn unit_paths(container: &str) -> [(Flavour, PathBuf); 2] {
    let home = config_home();
    [Flavour::Service, Flavour::Quadlet].map(|f| (f, f.path(&home, container)))
}

fn wants_link(container: &str) -> PathBuf {
    config_home()
        .join("systemd/user/default.target.wants")
        .join(format!("{container}.service"))
}

pub fn env_copy(project: &Project) -> PathBuf {
    project.state_dir.join(ENV_COPY)
}

/// `--no-autostart` (Some(false)) and `--autostart` (Some(true)): remembered for the project.
pub fn set_wanted(project: &Project, wanted: bool) -> Result<()> {
    let marker = project.state_dir.join(OPT_OUT);
    if wanted {
        crate::fsx::remove_if_exists(&marker)?;
    } else {
        crate::state::create_private_dir(&project.state_dir)?;
        std::fs::write(&marker, "")?;
        if remove(project)? {
            ui::info("Autostart off: removed the environment's systemd unit");
        }
    }
    Ok(())
}

fn wanted(project: &Project) -> bool {
    !project.state_dir.join(OPT_OUT).exists()
}

/// What `up` does once the container runs: write the unit for its settings, enabled.
pub async fn install(
    project: &Project,
    chosen: Option<Flavour>,
    podman: &Podman,
    settings: &Settings,
    env: Option<&EnvFile>,
) -> Result<()> {
    if !wanted(project) {
        return Ok(());
    }
    let Some(Rendered { text, flavour }) =
        render(project, chosen, podman, settings, env, None, true).await?
    else {
        return Ok(());
    };
    let path = flavour.path(&config_home(), &project.container);
    // A podman upgrade across 4.4 changes the flavour: the other file goes.
    for (other, p) in unit_paths(&project.container) {
        if other != flavour {
            crate::fsx::remove_if_exists(&p)?;
        }
    }
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::fsx::write_atomic(&path, text.as_bytes(), 0o644)?;
        tracing::debug!(unit = %path.display(), "wrote the autostart unit");
    }
    if flavour == Flavour::Service {
        link_wants(&project.container)?;
    } else {
        crate::fsx::remove_if_exists(&wants_link(&project.container))?;
    }
    reload_and_explain(project);
    Ok(())
}

/// A unit's text and its flavour.
pub struct Rendered {
    pub text: String,
    pub flavour: Flavour,
}

/// The unit for `settings` (None when this podman gets no unit: rootful, or values that
/// cannot be put in a podman env file).
pub async fn render(
    project: &Project,
    chosen: Option<Flavour>,
    podman: &Podman,
    settings: &Settings,
    env: Option<&EnvFile>,
    for_podman: Option<&str>,
    write_env: bool,
) -> Result<Option<Rendered>> {
    let rootless = podman.rootless().await?;
    if !rootless && for_podman.is_none() {
        note_once(
            project,
            "rootful",
            "Autostart units are for rootless podman; with rootful podman use a system unit (podman generate systemd)",
        );
        return Ok(None);
    }
    let version = match for_podman {
        Some(v) => v.to_string(),
        None => podman.version().await?,
    };
    let gpus = crate::environment::check_recorded_gpus(podman, settings).await?;
    let (body, _) =
        crate::environment::body_for(project, podman, rootless, settings, &gpus.devices, None)
            .await?;

    let env_path = env_copy(project);
    if let Some(recorded) = &settings.env_file {
        let env = match env {
            Some(e) => e.clone(),
            None => crate::environment::reread_env(recorded)?,
        };
        if let Some((k, _)) = env.vars.iter().find(|(_, v)| v.contains('\n')) {
            ui::warn(&format!(
                "No autostart unit: {k} in {} holds a line break, which a podman env file cannot carry",
                recorded.display()
            ));
            return Ok(None);
        }
        if write_env {
            write_env_copy(&env_path, &env)?;
        }
    }
    let podman_bin = find_podman();
    let input = UnitInput {
        body: &body,
        env_keys: &settings.env_keys,
        env_file: settings.env_file.as_ref().map(|_| env_path.as_path()),
        wait_for: &gpus.nodes,
        podman_bin: &podman_bin,
        project_dir: project.dir_str()?,
        cgroup_v1: !crate::podman::host_cgroup_v2(),
    };
    let flavour = match (for_podman, chosen) {
        (None, Some(chosen)) => chosen,
        _ => Flavour::for_podman(&version),
    };
    let text = match flavour {
        Flavour::Service => unit::service_unit(&input, true),
        Flavour::Quadlet => unit::quadlet_unit(&input, &version, true),
    };
    Ok(Some(Rendered { text, flavour }))
}

/// Podman's env-file format: `KEY=VALUE` lines, taken literally.
fn write_env_copy(path: &Path, env: &EnvFile) -> Result<()> {
    let mut text =
        String::from("# Written by mlenv from the project's env file, for its autostart unit.\n");
    for (k, v) in &env.vars {
        text.push_str(&format!("{k}={v}\n"));
    }
    if std::fs::read_to_string(path).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    // The values are secrets: only the user may read them.
    Ok(crate::fsx::write_atomic(path, text.as_bytes(), 0o600)?)
}

/// `down`: the environment stays stopped after a reboot.
pub fn disable(project: &Project) -> Result<bool> {
    let name = &project.container;
    let mut changed = crate::fsx::remove_if_exists(&wants_link(name))?;
    for (flavour, path) in unit_paths(name) {
        if flavour != Flavour::Quadlet {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Some(at) = text.find("\n[Install]\n") {
                crate::fsx::write_atomic(&path, &text.as_bytes()[..=at], 0o644)?;
                changed = true;
            }
        }
    }
    if changed {
        reload(project);
    }
    Ok(changed)
}

/// `rm`: the unit goes with the container. Returns whether there was one.
pub fn remove(project: &Project) -> Result<bool> {
    remove_units_of(project, &project.container)
}

/// Removes the unit files of the environment `container` (any project's: `clean --all`),
/// exactly the paths [`unit_files`] names. Returns whether there was one.
pub fn remove_units_of(project: &Project, container: &str) -> Result<bool> {
    let mut removed = false;
    for path in unit_files(container) {
        removed |= crate::fsx::remove_if_exists(&path)?;
    }
    if removed {
        reload(project);
    }
    Ok(removed)
}

/// Every file the autostart of `container` may have written, present or not: the
/// `default.target.wants` link and the unit of either flavour.
pub fn unit_files(container: &str) -> Vec<PathBuf> {
    std::iter::once(wants_link(container))
        .chain(unit_paths(container).into_iter().map(|(_, p)| p))
        .collect()
}

/// The folders [`unit_files`] are in: where `clean` may remove `mlenv-*` units.
pub fn unit_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = unit_files("mlenv-x")
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    dirs.dedup();
    dirs
}

/// The environments (container names) that have a unit file or link in [`unit_dirs`]:
/// what `clean --all` finds of environments whose container and state are gone.
pub fn containers_with_units() -> Vec<String> {
    let mut names: Vec<String> = unit_dirs()
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| {
            let stem = f
                .strip_suffix(".service")
                .or_else(|| f.strip_suffix(".container"))?;
            stem.starts_with("mlenv-").then(|| stem.to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The unit file of this project, if any, and whether it is enabled.
pub fn installed(project: &Project) -> Option<(PathBuf, bool)> {
    let name = &project.container;
    unit_paths(name).into_iter().find_map(|(flavour, path)| {
        let enabled = match flavour {
            Flavour::Service => wants_link(name).exists(),
            Flavour::Quadlet => std::fs::read_to_string(&path)
                .ok()?
                .contains("\n[Install]\n"),
        };
        path.exists().then_some((path, enabled))
    })
}

fn link_wants(container: &str) -> Result<()> {
    let link = wants_link(container);
    let target = PathBuf::from(format!("../{container}.service"));
    if std::fs::read_link(&link).ok().as_deref() == Some(target.as_path()) {
        return Ok(());
    }
    if let Some(dir) = link.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::fsx::remove_if_exists(&link)?;
    std::os::unix::fs::symlink(&target, &link)
        .wrap_err_with(|| format!("cannot enable {}", link.display()))
}

fn find_podman() -> String {
    crate::fsx::which("podman").map_or_else(
        || "/usr/bin/podman".to_string(),
        |p| p.display().to_string(),
    )
}

fn reload(project: &Project) {
    if !crate::systemd::user_manager() {
        return;
    }
    match std::process::Command::new("systemctl")
        .args(["--user", "daemon-reload"])
        .status()
    {
        Ok(s) if s.success() => {}
        other => {
            tracing::debug!("systemctl --user daemon-reload: {other:?}");
            note_once(
                project,
                "reload",
                "systemctl --user daemon-reload failed: the unit takes effect after the next login",
            );
        }
    }
}

/// After `up` enabled the unit: reload, and say once what would keep it from running.
fn reload_and_explain(project: &Project) {
    if !crate::systemd::user_manager() {
        note_once(
            project,
            "no-systemd",
            "No systemd user manager here, so the environment is not started after a reboot \
             (run `mlenv up` then); podman still restarts it if it fails",
        );
        return;
    }
    reload(project);
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name);
    if let Some(user) = user {
        if !Path::new("/var/lib/systemd/linger").join(&user).exists() {
            note_once(
                project,
                "linger",
                &format!(
                    "The environment comes back when you log in after a reboot; to start it at boot, run `loginctl enable-linger {user}`"
                ),
            );
        }
    }
}

/// Says `message` the first time only (per user), with a marker in mlenv's state root.
fn note_once(project: &Project, key: &str, message: &str) {
    let Some(root) = project.state_dir.parent() else {
        return;
    };
    let marker = root.join(format!(".noted-{key}"));
    if marker.exists() {
        tracing::debug!("{message}");
        return;
    }
    ui::info(message);
    let _ = std::fs::create_dir_all(root);
    let _ = std::fs::write(&marker, "");
}
