//! What exists to clean: one project's container, state, units and data, or every
//! environment of the user (`--all`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use color_eyre::eyre::{eyre, Result, WrapErr};

use crate::config::Config;
use crate::podman::Podman;
use crate::settings::LABEL_PROJECT;
use crate::{autostart, project, state};

use super::plan::{Found, Roots, SET_ASIDE};

pub(super) fn roots(cfg: &Config, projects: Vec<PathBuf>) -> Result<Roots> {
    let mut trees = vec![project::state_root()?, project::data_root()?];
    trees.extend(cfg.project.pip_cache.parent().map(Path::to_path_buf));
    Ok(Roots {
        trees,
        unit_dirs: autostart::unit_dirs(),
        projects,
    })
}

pub(super) fn present_dir(path: PathBuf) -> Option<PathBuf> {
    std::fs::symlink_metadata(&path)
        .is_ok_and(|m| m.is_dir())
        .then_some(path)
}

fn present_units(name: &str) -> Vec<PathBuf> {
    autostart::unit_files(name)
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .collect()
}

/// What exists of this project's environment.
pub(super) async fn find_one(cfg: &Config, podman: &Podman) -> Result<Found> {
    let name = &cfg.project.container;
    let mut containers = Vec::new();
    for n in [name.clone(), format!("{name}{SET_ASIDE}")] {
        if let Some(c) = podman.inspect(&n).await? {
            if c.label(LABEL_PROJECT).is_none() {
                return Err(eyre!(
                    "a container named {n} exists but was not created by mlenv; clean leaves it alone \
                     (remove it with `podman rm -f {n}` if it is yours to remove); nothing was removed"
                ));
            }
            containers.push((n, c.state.running));
        }
    }
    Ok(Found {
        name: name.clone(),
        project: Some(cfg.project.dir.display().to_string()),
        containers,
        state_dir: present_dir(cfg.project.state_dir.clone()),
        units: present_units(name),
        data_dir: present_dir(cfg.project.data_dir.clone()),
    })
}

/// What exists of every environment of this user: the containers with mlenv's label (one
/// list call), and the state dirs, data dirs and units left under mlenv's roots, whose
/// container may be gone. Returns them with the project folders the containers name.
pub(super) async fn find_all(podman: &Podman) -> Result<(Vec<Found>, Vec<PathBuf>)> {
    let mut by_name: BTreeMap<String, Found> = BTreeMap::new();
    fn entry<'a>(map: &'a mut BTreeMap<String, Found>, name: &str) -> &'a mut Found {
        map.entry(name.to_string()).or_insert_with(|| Found {
            name: name.to_string(),
            ..Found::default()
        })
    }
    let mut projects = Vec::new();
    for c in podman.list_labelled(LABEL_PROJECT).await? {
        let Some(name) = c.names.first() else {
            continue;
        };
        let project = c
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_PROJECT))
            .cloned();
        let f = entry(&mut by_name, name.strip_suffix(SET_ASIDE).unwrap_or(name));
        f.containers.push((name.clone(), c.state == "running"));
        f.containers.sort();
        if let Some(p) = project {
            projects.push(PathBuf::from(&p));
            if !name.ends_with(SET_ASIDE) || f.project.is_none() {
                f.project = Some(p);
            }
        }
    }
    for (root, data) in [
        (project::state_root()?, false),
        (project::data_root()?, true),
    ] {
        for dir in environment_dirs(&root)? {
            let name = dir.file_name().unwrap_or_default().to_string_lossy();
            let f = entry(&mut by_name, &name);
            if data {
                f.data_dir = Some(dir);
            } else {
                f.state_dir = Some(dir);
            }
        }
    }
    for name in autostart::containers_with_units() {
        entry(&mut by_name, &name).units = present_units(&name);
    }
    // A container that is gone leaves its project folder only in the state dir.
    for f in by_name.values_mut() {
        if f.project.is_none() {
            f.project = f.state_dir.as_deref().and_then(state::recorded_project);
            if let Some(p) = &f.project {
                projects.push(PathBuf::from(p));
            }
        }
    }
    Ok((by_name.into_values().collect(), projects))
}

/// The per-environment folders (`mlenv-*`) directly in `root`.
fn environment_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).wrap_err_with(|| format!("cannot read {}", root.display())),
    };
    let mut dirs = Vec::new();
    for e in entries {
        let e = e.wrap_err_with(|| format!("cannot read {}", root.display()))?;
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && e.file_name().to_string_lossy().starts_with("mlenv-") {
            dirs.push(e.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}
