//! `mlenv up`: create the container if absent, start it if stopped, nothing if it runs.

use std::path::Path;

use color_eyre::eyre::{eyre, Result, WrapErr};

use crate::config::{Config, Up};
use crate::create::{profile_script, python_dir, ImageFacts, PROFILE_SCRIPT};
use crate::envfile::EnvFile;
use crate::environment::{
    body_for, check_gpus, check_recorded_gpus, ensure_image, folder_replaced, keep_settings,
    keepid, kept_settings, names, recorded_settings, restart, run_logged, show_access,
    start_copying, start_stopped,
};
use crate::error::{Exit, EXIT_DRIFT};
use crate::podman::{Container, Podman};
use crate::requirements::{pip_environment, REQUIREMENTS_RECORD};
use crate::settings::{differences, merge, show_ports, Difference, Settings};
use crate::{autostart, state, ui};

pub async fn run(cfg: &Config, up: &Up, podman: &Podman) -> Result<()> {
    if let Some(wanted) = up.autostart {
        autostart::set_wanted(&cfg.project, wanted)?;
    }
    let (image_id, lock) = bring_up(cfg, up, podman).await?;
    // The warm path writes nothing; every other `up` keeps the settings the container now
    // has (a recreate merges them) and (re)writes and enables the unit from them.
    if lock.is_some() || up.autostart == Some(true) {
        if let Some(c) = podman.inspect(&cfg.project.container).await? {
            let settings = recorded_settings(&c)?;
            keep_settings(&cfg.project.state_dir, &settings)?;
            if let Err(e) = autostart::install(
                &cfg.project,
                cfg.unit_flavour,
                podman,
                &settings,
                up.env.as_ref(),
            )
            .await
            {
                ui::warn(&format!("The autostart unit was not written: {e:#}"));
            }
        }
    }
    install_requirements(cfg, up, podman, &image_id, lock).await
}

/// Makes the container run; returns its image's ID, and the project lock when this run had
/// to take it (everything but the warm path does).
async fn bring_up(
    cfg: &Config,
    up: &Up,
    podman: &Podman,
) -> Result<(String, Option<state::ProjectLock>)> {
    let name = &cfg.project.container;
    let mut wanted = up.settings.clone();
    if let Some(env) = &up.env {
        wanted.env_digest = Some(env.digest(&digest_key(cfg)?));
    }

    // GPUs given on this run were checked already (`commands::validate`), unless a running
    // container had them; one that stopped since is checked below, before it is started.
    let checked = up.gpu_check.clone();

    // The warm path: one inspect (the one `commands::validate` made, if it made one), no
    // lock, no writes.
    if !up.recreate {
        let seen = match &up.seen {
            Some(c) => Some(c.clone()),
            None => podman.inspect(name).await?,
        };
        if let Some(c) = seen {
            // Two stats tell whether the project folder is still the one it mounts.
            if c.state.running && folder_replaced(&c, &cfg.project.dir) != Some(true) {
                let current = recorded_settings(&c)?;
                refuse_drift(cfg, &differences(&current, &wanted, up.given))?;
                ui::success(&format!("{name} is running"));
                return Ok((c.image, None));
            }
        }
    }

    let lock = state::lock_project(&cfg.project.state_dir)?;
    state::record_project(&cfg.project.state_dir, &cfg.project.dir)?;
    // Whoever held the lock before us may have done the work already.
    let mut existing = podman.inspect(name).await?;
    if existing.is_none() {
        existing = restore_set_aside(podman, name).await?;
    }
    let image_id = match existing {
        None => match kept_settings(&cfg.project.state_dir)? {
            Some(kept) => {
                // The container went behind mlenv's back: the same environment comes back,
                // with what this run gave laid over it.
                ui::info(&format!(
                    "{name} was removed outside mlenv (by its unit, or podman); bringing it back with the settings it had"
                ));
                // A unit still retrying its failed start would replace what this makes.
                if let Some(f) = crate::systemd::failure(name) {
                    crate::systemd::systemctl("stop", &f.unit)?;
                    crate::systemd::systemctl("reset-failed", &f.unit)?;
                    ui::info(&format!(
                        "Stopped {}, whose start at boot failed: {}",
                        f.unit,
                        f.reason.as_deref().unwrap_or("its journal says why")
                    ));
                }
                let mut merged = merge(&kept, &wanted, up.given);
                let env = env_for(cfg, up, &mut merged)?;
                let gpus = match checked {
                    Some(c) if up.given.gpus => c,
                    _ => check_recorded_gpus(podman, &merged).await?,
                };
                create_and_start(cfg, podman, &merged, &gpus, env.as_ref()).await?
            }
            None => {
                let gpus = match checked {
                    Some(c) => c,
                    None => check_gpus(podman, up.gpus.as_deref()).await?,
                };
                wanted.gpus = names(&gpus.names);
                create_and_start(cfg, podman, &wanted, &gpus, up.env.as_ref()).await?
            }
        },
        Some(c) => {
            let current = recorded_settings(&c)?;
            if up.recreate {
                recreate(cfg, up, podman, &c, &current, &wanted).await?
            } else {
                refuse_drift(cfg, &differences(&current, &wanted, up.given))?;
                if c.state.running && folder_replaced(&c, &cfg.project.dir) == Some(true) {
                    // Its bind mount holds the old, deleted folder: a restart mounts the
                    // folder now at that path.
                    ui::info(&format!(
                        "{} was replaced since {name} started (a new folder at the same path); restarting {name} so that it sees the new one",
                        cfg.project.dir.display()
                    ));
                    restart(podman, &c).await?;
                    ui::success(&format!("Restarted {name}"));
                    show_access(&current);
                } else if c.state.running {
                    ui::success(&format!("{name} is running"));
                } else {
                    start_stopped(podman, name, &current).await?;
                }
                c.image
            }
        }
    };
    Ok((image_id, Some(lock)))
}

/// Installs the requirements unless the record beside the installed packages says these
/// exact inputs were installed for this image. The check reads host files only: a warm
/// `up` costs no exec into the container.
async fn install_requirements(
    cfg: &Config,
    up: &Up,
    podman: &Podman,
    image_id: &str,
    lock: Option<state::ProjectLock>,
) -> Result<()> {
    let Some(req) = &up.requirements else {
        return Ok(());
    };
    let key = req.key(image_id);
    let short = &key[..8];
    let dir = python_dir(&cfg.project, image_id);
    let record = dir.join(REQUIREMENTS_RECORD);
    let file = req.file.display();
    let installed =
        || std::fs::read_to_string(&record).is_ok_and(|r| r.lines().next() == Some(key.as_str()));
    let skip = || {
        ui::info(&format!(
            "requirements unchanged (sha256 {short}), skipping"
        ))
    };
    if !req.force && installed() {
        skip();
        return Ok(());
    }
    // One install at a time per project; a concurrent `up` may have just done this one.
    let _lock = match lock {
        Some(lock) => lock,
        None => state::lock_project(&cfg.project.state_dir)?,
    };
    if !req.force && installed() {
        skip();
        return Ok(());
    }
    // The record goes first: a failed or interrupted install must be retried next time.
    match std::fs::remove_file(&record) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).wrap_err_with(|| format!("cannot remove {}", record.display()))
        }
        _ => {}
    }
    ui::info(&format!(
        "Installing requirements from {file} (sha256 {short})"
    ));
    let argv: Vec<String> = ["python3", "-m", "pip", "install", "--user", "-r"]
        .iter()
        .map(|s| s.to_string())
        .chain([req.file.to_string_lossy().into_owned()])
        .collect();
    let mut env = pip_environment(|k| std::env::var(k).ok());
    if !req.image_constraints {
        // An empty PIP_CONSTRAINT is no constraint file at all.
        env.push(("PIP_CONSTRAINT".into(), String::new()));
    }
    tracing::debug!(passed = ?env.iter().map(|(k, _)| k).collect::<Vec<_>>(), "pip environment");
    let (code, output) = run_logged(
        podman,
        &cfg.project.container,
        &argv,
        &env,
        cfg.project.dir_str()?,
        !ui::is_quiet(),
    )
    .await?;
    if code != 0 {
        let conflicts = crate::requirements::pin_conflicts(&output);
        // The image's pins are to blame only when they were on and the image has some
        // (a `-c` file of the project's own is the project's).
        let image_pins = if req.image_constraints && !conflicts.is_empty() {
            podman
                .image(image_id)
                .await
                .ok()
                .and_then(|i| i.env("PIP_CONSTRAINT").map(str::to_string))
                .filter(|p| !p.trim().is_empty())
        } else {
            None
        };
        if let Some(pins) = image_pins {
            let each: Vec<String> = conflicts
                .iter()
                .map(|c| {
                    format!(
                        "{} asks for {}, and {pins} pins {}",
                        file, c.requested, c.pinned
                    )
                })
                .collect();
            return Err(eyre!(
                "Failed to install requirements: {}. The image's pins keep its own framework builds (PIP_CONSTRAINT={pins}); keep the pinned version (relax the requirement), or install without the image's pins: pip-constraints = \"none\" in mlenv.toml, or --pip-constraints none",
                each.join("; ")
            ));
        }
        return Err(eyre!(
            "Failed to install requirements (pip exit {code}). Check logs: mlenv logs --mlenv"
        ));
    }
    write_record(&record, &key, &req.file)?;
    ui::success(&format!("Installed requirements from {file}"));
    Ok(())
}

fn write_record(record: &Path, key: &str, file: &Path) -> Result<()> {
    let text = format!("{key}\n{}\n", file.display());
    Ok(crate::fsx::write_atomic(record, text.as_bytes(), 0o644)?)
}

/// Replaces the container with one made from the merged settings. The old one is stopped
/// and set aside under another name until the new one runs, so a new container that cannot
/// start (a port taken, a device gone) leaves the project with its old one, as it was.
async fn recreate(
    cfg: &Config,
    up: &Up,
    podman: &Podman,
    old: &Container,
    current: &Settings,
    wanted: &Settings,
) -> Result<String> {
    let name = &cfg.project.container;
    let mut merged = merge(current, wanted, up.given);
    let env = env_for(cfg, up, &mut merged)?;
    // Before anything is touched: GPUs podman cannot attach and an image that cannot be
    // had change nothing.
    let gpus = check_recorded_gpus(podman, &merged).await?;
    ensure_image(podman, &merged.image).await?;
    ui::info(&format!(
        "Replacing {name} (files in {} and installed Python packages are kept; other changes inside the container are not)",
        cfg.project.dir.display()
    ));
    let aside = set_aside_name(name);
    remove_leftover(podman, &aside).await?;
    if old.state.running {
        podman
            .stop(name, 10)
            .await
            .wrap_err_with(|| format!("cannot stop {name}"))?;
    }
    podman
        .rename(name, &aside)
        .await
        .wrap_err_with(|| format!("cannot set {name} aside"))?;
    match create_and_start(cfg, podman, &merged, &gpus, env.as_ref()).await {
        Ok(image_id) => {
            podman
                .remove(&aside, true)
                .await
                .wrap_err_with(|| format!("cannot remove the replaced container {aside}"))?;
            Ok(image_id)
        }
        Err(err) => {
            podman
                .rename(&aside, name)
                .await
                .wrap_err_with(|| format!("cannot restore {name} from {aside}"))?;
            if old.state.running {
                podman.start(name).await?;
            }
            ui::warn(&format!("{name} was kept as it was"));
            Err(err)
        }
    }
}

/// The env file of `merged` settings. A kept one is read again: its values were never
/// stored anywhere. (An env file given on this run is already in `merged`, digest and all.)
fn env_for(cfg: &Config, up: &Up, merged: &mut Settings) -> Result<Option<EnvFile>> {
    Ok(match (&up.env, &merged.env_file) {
        (Some(e), _) => Some(e.clone()),
        (None, Some(path)) => {
            let e = crate::environment::reread_env(path)?;
            merged.env_keys = e.keys();
            merged.env_digest = Some(e.digest(&digest_key(cfg)?));
            Some(e)
        }
        (None, None) => None,
    })
}

/// Where `--recreate` keeps the old container while the new one starts.
fn set_aside_name(name: &str) -> String {
    format!("{name}-replaced")
}

/// A `--recreate` interrupted after setting the old container aside and before its new one
/// was made: put the old one back, so the project keeps its environment.
async fn restore_set_aside(podman: &Podman, name: &str) -> Result<Option<Container>> {
    let aside = set_aside_name(name);
    if podman.inspect(&aside).await?.is_none() {
        return Ok(None);
    }
    ui::info(&format!(
        "Restoring {name} from {aside}, left by an interrupted --recreate"
    ));
    podman.rename(&aside, name).await?;
    Ok(podman.inspect(name).await?)
}

/// A set-aside container left by a `--recreate` that was interrupted.
async fn remove_leftover(podman: &Podman, aside: &str) -> Result<()> {
    if podman.inspect(aside).await?.is_some() {
        tracing::debug!("removing {aside}, left by an interrupted --recreate");
        podman.remove(aside, true).await?;
    }
    Ok(())
}

fn digest_key(cfg: &Config) -> Result<Vec<u8>> {
    let root = cfg
        .project
        .state_dir
        .parent()
        .ok_or_else(|| eyre!("state dir has no parent"))?;
    state::digest_key(root)
}

fn refuse_drift(cfg: &Config, diffs: &[Difference]) -> Result<()> {
    if diffs.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "{} was created with other settings; nothing was changed:",
        cfg.project.container
    );
    for d in diffs {
        message.push_str(&format!("\n    {d}"));
    }
    message.push_str(&format!(
        "\n  Apply them with: {} --recreate (the container is replaced; files in {} are kept)",
        rerun_command(),
        cfg.project.dir.display()
    ));
    Err(Exit {
        code: EXIT_DRIFT,
        message,
    }
    .into())
}

/// This run's own command line, to show the user what to run again.
fn rerun_command() -> String {
    let mut shown = vec!["mlenv".to_string()];
    shown.extend(std::env::args().skip(1).map(|a| crate::shell::quote(&a)));
    shown.join(" ")
}

async fn create_and_start(
    cfg: &Config,
    podman: &Podman,
    settings: &Settings,
    gpus: &crate::gpu::preflight::Resolved,
    env: Option<&EnvFile>,
) -> Result<String> {
    let name = &cfg.project.container;
    // `auto` host ports are picked now and recorded with the container, so they stay.
    let mut settings = settings.clone();
    // A port the container being replaced held is free moments after its stop (podman 5's
    // pasta outlives the container briefly): give it that moment before calling it taken.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while settings.ports.iter().any(crate::ports::in_use) && std::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // A kept `auto` port someone took since is picked afresh: that is what `auto` is for.
    for p in settings.ports.iter_mut() {
        if p.auto && p.host_port != 0 && crate::ports::in_use(p) {
            p.host_port = 0;
        }
    }
    crate::ports::assign_auto(&mut settings.ports).map_err(|e| eyre!(e))?;
    let settings = &settings;
    ensure_image(podman, &settings.image).await?;
    let rootless = podman.rootless().await?;
    tracing::debug!(rootless, "podman service");
    let (body, facts) =
        body_for(&cfg.project, podman, rootless, settings, &gpus.devices, env).await?;
    // Before anything is made: a driver too old for the image's CUDA fails only at the
    // first CUDA call otherwise.
    if let Some(root) = &gpus.nvidia_root {
        crate::environment::check_cuda(root, &facts.cuda, &settings.image)?;
    }
    let copy = keepid_copy(podman, rootless, settings, &facts).await?;
    // Before the create: podman binds host ports only at the start, and says so in words
    // of its own (rootlessport: bind: address already in use).
    if let Some(p) = settings.ports.iter().find(|p| crate::ports::in_use(p)) {
        let suggestion = crate::ports::next_free(p, |q| !crate::ports::in_use(q));
        return Err(crate::error::invalid(crate::ports::taken_message(
            p, suggestion,
        )));
    }
    // Bind-mount sources must exist; they are the caller's, so keep-id can write them.
    for dir in [
        python_dir(&cfg.project, &facts.id),
        cfg.project.pip_cache.clone(),
    ] {
        state::create_private_dir(&dir)?;
    }
    let profile = profile_script(&cfg.project);
    std::fs::write(&profile, PROFILE_SCRIPT)
        .wrap_err_with(|| format!("cannot write {}", profile.display()))?;
    tracing::debug!(
        name = %body.name,
        image = %body.image,
        user = ?body.userns.as_ref().map(|n| &n.nsmode).or(body.user.as_ref()),
        devices = ?body.devices,
        ports = %show_ports(&settings.ports),
        env_keys = ?body.env.keys().collect::<Vec<_>>(),
        "creating container"
    );
    let created = podman
        .create(&body)
        .await
        .wrap_err_with(|| format!("podman could not create {name}"))?;
    if created.removed_leftover {
        ui::info(&format!(
            "Removed a leftover of {name} that podman never finished creating"
        ));
    }
    tracing::debug!(id = %created.id, "created");
    for w in created.warnings.iter().flatten() {
        ui::warn(&format!("podman: {w}"));
    }
    if let Err(err) = start_copying(podman, name, copy.as_ref()).await {
        // A container that cannot start (a CDI device that does not resolve, a port in use)
        // would only fail again on the next `up`: remove it so nothing is left half-made.
        if podman.remove(name, true).await.is_ok() {
            tracing::debug!("removed {name} after its first start failed");
        }
        // keep-id's root cannot reach the storage: say which folder, and the way out.
        let denied = format!("{err:#}")
            .to_ascii_lowercase()
            .contains("permission denied");
        if denied && rootless && settings.user_mapping {
            if let Some(info) = crate::environment::storage::storage_facts(podman).await {
                let root = std::path::Path::new(&info.graph_root);
                let canonical = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
                if let Some((folder, mode)) = crate::environment::storage::untraversable_ancestor(
                    &canonical,
                    crate::environment::storage::mode_of,
                ) {
                    let user = crate::dirs::user_name();
                    return Err(err.wrap_err(crate::environment::storage::permission_hint(
                        &canonical, &user, &folder, mode,
                    )));
                }
            }
        }
        return Err(err);
    }
    ui::success(&format!("Created and started {name}"));
    show_access(settings);
    Ok(facts.id)
}

/// The keep-id copy this container's first start will make (`environment::keepid`), said
/// before it is paid; refused when the disk cannot hold it. Asked of podman only for an
/// image big enough to matter: the cold path of a small image costs no `/libpod/info`.
async fn keepid_copy(
    podman: &Podman,
    rootless: bool,
    settings: &Settings,
    facts: &ImageFacts,
) -> Result<Option<keepid::Copy>> {
    if !(rootless && settings.user_mapping && facts.size >= keepid::NOTICE_BYTES) {
        return Ok(None);
    }
    let Some(info) = crate::environment::storage::storage_facts(podman).await else {
        return Ok(None);
    };
    let Some(copy) = keepid::planned(&info, &facts.id, facts.size) else {
        return Ok(None);
    };
    let size = crate::limits::format_memory(copy.bytes);
    if let Some(free) = keepid::available_bytes(&copy.graph_root) {
        if free < copy.bytes {
            return Err(eyre!(
                "the first start of {} with your user mapped in copies the image ({size}) into {}, which has {} free; free space there, or move podman's storage (rootless_storage_path in {})",
                settings.image,
                copy.graph_root.display(),
                crate::limits::format_memory(free),
                info.storage_conf
            ));
        }
    }
    ui::info(&format!(
        "First start of {} with your user mapped in (keep-id): podman copies the image for your ID mapping, {size} more disk and {}; storage that maps IDs itself makes no copy (`mlenv doctor` says how)",
        settings.image,
        keepid::estimate(copy.bytes)
    ));
    Ok(Some(copy))
}
