//! `mlenv export kube|slurm`: gathers the environment (the container's recorded settings
//! when it exists, else what `up` would make from the config files), then prints or writes
//! what [`crate::export`] makes of it.

use color_eyre::eyre::{Result, WrapErr};

use crate::config::{Config, Export, ExportTarget};
use crate::envfile::EnvFile;
use crate::environment::recorded_settings;
use crate::export::{kube, slurm, Environment, RequirementsPlan};
use crate::podman::Podman;
use crate::{gpu, ui};

pub async fn run(cfg: &Config, podman: &Podman, export: &Export) -> Result<()> {
    let env = environment(cfg, podman, export).await?;
    let target = match export.target {
        ExportTarget::Kube { .. } => "kube",
        ExportTarget::Slurm { .. } => "slurm",
    };
    tracing::debug!(?env, target, "export");
    let text = match &export.target {
        ExportTarget::Kube { pvc, host_path, .. } => {
            let storage = if *host_path {
                kube::Storage::HostPath {
                    python_dir: cfg
                        .project
                        .data_dir
                        .join("python/kube")
                        .to_string_lossy()
                        .into_owned(),
                }
            } else {
                kube::Storage::Claims {
                    project: pvc.clone(),
                }
            };
            kube::manifest(&env, &storage)
        }
        ExportTarget::Slurm { pyxis, .. } => slurm::script(&env, *pyxis),
    };
    match &export.output {
        Some(path) => {
            crate::fsx::write_atomic(path, text.as_bytes(), 0o600)?;
            ui::success(&format!("Wrote {}", path.display()));
        }
        None => {
            let mut out = std::io::stdout().lock();
            crate::ui::write_out(&mut out, text.as_bytes())?;
        }
    }
    Ok(())
}

/// The environment to reproduce: the container's settings as created when it exists (that
/// is the environment the user works in), else the config files'; the requirements are the
/// config's either way (a container does not record them).
async fn environment(cfg: &Config, podman: &Podman, export: &Export) -> Result<Environment> {
    let up = &export.up;
    let name = &cfg.project.container;
    let existing = match podman.inspect(name).await {
        Ok(c) => c,
        Err(e) => {
            ui::warn(&format!(
                "cannot ask podman about {name} ({}); exporting the project's configuration",
                first_line(&e)
            ));
            None
        }
    };
    let (settings, env, gpu_names) = match &existing {
        Some(c) => {
            let s = recorded_settings(c)?;
            ui::info(&format!("Exporting {name} as it was created"));
            let env = match &s.env_file {
                Some(p) => Some(crate::environment::reread_env(p)?),
                None => None,
            };
            let names = s
                .gpus
                .iter()
                .map(|n| n.parse())
                .collect::<Result<Vec<cdi::QualifiedName>, _>>()
                .wrap_err("cannot read the recorded GPUs")?;
            (s, env, Some(names))
        }
        None => {
            ui::info(&format!(
                "{name} does not exist: exporting what `mlenv up` would create"
            ));
            (up.settings.clone(), up.env.clone(), up.gpus.clone())
        }
    };
    let gpus = gpu_counts(podman, gpu_names).await;
    // One request: an image not on this machine (or no answer) leaves its PATH unknown.
    let image_path = podman
        .image(&settings.image)
        .await
        .ok()
        .and_then(|i| i.env("PATH").map(str::to_string));
    let job = match &export.target {
        ExportTarget::Kube { job, .. } => job.clone(),
        ExportTarget::Slurm { job, .. } => Some(job.clone()),
    };
    let requirements = up.requirements.as_ref().map(|r| RequirementsPlan {
        file: r.file.to_string_lossy().into_owned(),
        inputs: r
            .inputs
            .iter()
            .map(|(p, _)| p.to_string_lossy().into_owned())
            .collect(),
        image_constraints: r.image_constraints,
    });
    Ok(Environment {
        container: name.clone(),
        project_dir: cfg.project.dir_str()?.to_string(),
        image: settings.image.clone(),
        image_path,
        gpus,
        memory: settings.memory,
        cpus: settings.cpus,
        ports: settings.ports.clone(),
        user_mapping: settings.user_mapping,
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        env_file: env.as_ref().map(|e| e.path.clone()),
        env: env.map(|e: EnvFile| e.vars).unwrap_or_default(),
        requirements,
        job,
        ipc: settings.ipc,
        shm_size: settings.shm_size,
        ulimits: settings.ulimits.clone(),
        home: settings.home,
    })
}

/// How many devices of each CDI kind the environment has: a named device counts one, a
/// kind's `all` counts the devices its specs define (their own `all` aside). `None` is the
/// default, every NVIDIA GPU when a spec for them exists.
async fn gpu_counts(podman: &Podman, names: Option<Vec<cdi::QualifiedName>>) -> Vec<(String, u32)> {
    if names.as_ref().is_some_and(Vec::is_empty) {
        return Vec::new();
    }
    let rules = gpu::installed_or_assumed(podman).await;
    let names = match names {
        Some(n) => n,
        None => gpu::preflight::resolve(None, &rules, false)
            .map(|r| r.names)
            .unwrap_or_default(),
    };
    let registry = cdi::Registry::load(&rules.dirs);
    let mut counts: Vec<(String, u32)> = Vec::new();
    for n in &names {
        let kind = n.kind().to_string();
        let count = if n.name() == "all" {
            let c = registry
                .devices()
                .filter(|(q, _)| q.kind() == n.kind() && q.name() != "all")
                .count() as u32;
            if c == 0 {
                ui::warn(&format!(
                    "{n}: no {kind} device is defined in the CDI specs here; the export asks for none"
                ));
            }
            c
        } else {
            1
        };
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, total)) => *total += count,
            None if count > 0 => counts.push((kind, count)),
            None => {}
        }
    }
    counts
}

fn first_line(e: &dyn std::fmt::Display) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
