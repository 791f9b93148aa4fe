//! `mlenv gpu list` and `mlenv gpu setup`: what podman can attach, and a CDI spec for this
//! machine's NVIDIA GPUs written without nvidia-ctk, where the installed podman reads it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use color_eyre::eyre::{eyre, Result};
use serde::Serialize;

use crate::config::GpuSetup;
use crate::fsx::write_atomic;
use crate::gpu::policy::{self, PodmanCdi};
use crate::gpu::preflight::{install_command, show_dirs, spec_problems, stage};
use crate::gpu::{self, NVIDIA_KIND};
use crate::podman::Podman;
use crate::{nvidia, ui};

/// One device of `gpu list --json`.
#[derive(Debug, Serialize)]
struct ListedDevice {
    name: String,
    spec: PathBuf,
    cdi_version: String,
    /// Why podman would fail to attach it; empty when it would work.
    problems: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Listed {
    podman: String,
    max_cdi_version: String,
    spec_dirs: Vec<PathBuf>,
    devices: Vec<ListedDevice>,
    /// Spec files podman cannot use at all, and why.
    errors: Vec<(PathBuf, String)>,
    /// Devices defined twice in one directory, which podman drops, with the files.
    conflicts: Vec<(String, Vec<PathBuf>)>,
}

pub async fn list(podman: &Podman, json: bool) -> Result<()> {
    let rules = gpu::installed_or_assumed(podman).await;
    let listed = collect(&rules);
    let text = if json {
        serde_json::to_string_pretty(&listed)? + "\n"
    } else {
        render(&listed)
    };
    let mut out = std::io::stdout().lock();
    crate::ui::write_out(&mut out, text.as_bytes())?;
    out.flush().ok();
    Ok(())
}

fn collect(rules: &PodmanCdi) -> Listed {
    let registry = cdi::Registry::load(&rules.dirs);
    // Once per spec file, however many devices it defines.
    let mut problems: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    let mut devices = Vec::new();
    for (name, dev) in registry.devices() {
        let file = dev.file();
        let problems = problems
            .entry(file.path().to_path_buf())
            .or_insert_with(|| spec_problems(file.path(), file.spec(), rules).1);
        devices.push(ListedDevice {
            name: name.to_string(),
            spec: file.path().to_path_buf(),
            cdi_version: file.spec().cdi_version.to_string(),
            problems: problems.clone(),
        });
    }
    Listed {
        podman: rules.podman.clone(),
        max_cdi_version: rules.max_version.to_string(),
        spec_dirs: rules.dirs.clone(),
        devices,
        errors: registry
            .errors()
            .iter()
            .map(|(p, e)| (p.clone(), e.to_string()))
            .collect(),
        conflicts: registry
            .conflicts()
            .iter()
            .map(|(n, paths)| (n.to_string(), paths.clone()))
            .collect(),
    }
}

fn render(l: &Listed) -> String {
    let mut out = format!(
        "podman {} reads CDI specs (cdiVersion up to {}) from {}\n",
        l.podman,
        l.max_cdi_version,
        show_dirs(&l.spec_dirs).replace(" or ", ", ")
    );
    if l.devices.is_empty() {
        out.push_str("No CDI devices. For NVIDIA GPUs, write a spec with `mlenv gpu setup`.\n");
    } else {
        let width = l
            .devices
            .iter()
            .map(|d| d.name.len())
            .max()
            .unwrap_or(6)
            .max(6);
        out.push_str(&format!("{:<width$}  SPEC\n", "DEVICE"));
        for d in &l.devices {
            out.push_str(&format!("{:<width$}  {}\n", d.name, d.spec.display()));
            for p in &d.problems {
                out.push_str(&format!("{:<width$}    ✖ {p}\n", ""));
            }
        }
    }
    for (name, paths) in &l.conflicts {
        let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        out.push_str(&format!(
            "✖ {name} is defined in {} (one directory): podman drops it\n",
            files.join(" and ")
        ));
    }
    for (path, why) in &l.errors {
        out.push_str(&format!("✖ {}: {why}\n", path.display()));
    }
    out
}

/// Where the spec goes when `--output` is not given, and whether podman needs its
/// containers.conf changed to read it there.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub path: PathBuf,
    /// A containers.conf drop-in to write (podman 5.5+: a user spec dir).
    pub dropin: Option<(PathBuf, String)>,
}

/// Before podman 5.5 only `/etc/cdi` and `/var/run/cdi` are read, so the spec goes to
/// `/etc/cdi` (it survives reboots; `/var/run/cdi` does not). From 5.5 a user's own spec dir
/// works through `cdi_spec_dirs`, and needs no root.
pub fn default_target(rules: &PodmanCdi, euid: u32, config_home: &Path) -> Target {
    if !rules.reads_config || euid == 0 {
        return Target {
            path: PathBuf::from("/etc/cdi/nvidia.yaml"),
            dropin: None,
        };
    }
    let dir = config_home.join("cdi");
    let dropin = (!rules.dirs.contains(&dir)).then(|| {
        (
            config_home.join("containers/containers.conf.d/50-mlenv-cdi.conf"),
            policy::dropin_adding(&rules.dirs, &dir),
        )
    });
    Target {
        path: dir.join("nvidia.yaml"),
        dropin,
    }
}

pub async fn setup(podman: &Podman, args: &GpuSetup) -> Result<()> {
    let rules = gpu::installed_or_assumed(podman).await;
    let driver = nvidia::discover(&args.root).map_err(|e| eyre!("{e}"))?;
    ui::info(&format!(
        "NVIDIA driver {} with {} GPU{}{}",
        driver.version,
        driver.gpus.len(),
        if driver.gpus.len() == 1 { "" } else { "s" },
        if args.root == Path::new("/") {
            String::new()
        } else {
            format!(" (under {})", args.root.display())
        }
    ));
    for g in &driver.gpus {
        ui::info(&format!("  {}: {} ({})", g.index, g.model, g.uuid));
    }
    ui::info(&format!(
        "  {} driver libraries, {} utilities, {} firmware files",
        driver.libraries.len(),
        driver.binaries.len(),
        driver.firmware.len()
    ));
    for note in &driver.notes {
        ui::warn(note);
    }
    let generated = nvidia::generate(&driver, rules.max_version).map_err(|e| eyre!("{e}"))?;
    for note in &generated.notes {
        ui::warn(note);
    }
    let text = nvidia::render(
        &generated.spec,
        &nvidia::Header {
            root: args.root.clone(),
            driver_version: driver.version.clone(),
        },
    );
    if args.print {
        let mut out = std::io::stdout().lock();
        crate::ui::write_out(&mut out, text.as_bytes())?;
        return Ok(());
    }

    let target = match &args.output {
        Some(path) => Target {
            path: std::path::absolute(path)?,
            dropin: None,
        },
        None => default_target(
            &rules,
            nix::unistd::geteuid().as_raw(),
            &policy::config_home(),
        ),
    };
    refuse_foreign(&target.path)?;
    refuse_conflicts(&rules, &target)?;
    let devices: Vec<String> = generated
        .spec
        .devices
        .iter()
        .map(|d| format!("{NVIDIA_KIND}={}", d.name))
        .collect();
    let summary = format!(
        "cdiVersion {}; devices {}",
        generated.spec.cdi_version,
        devices.join(", ")
    );

    if std::fs::read_to_string(&target.path).is_ok_and(|old| old == text) {
        ui::success(&format!(
            "{} is up to date ({summary})",
            target.path.display()
        ));
    } else {
        if let Some(dir) = target.path.parent() {
            // /etc/cdi may not exist yet; a user cannot make it, which the write reports.
            let _ = std::fs::create_dir_all(dir);
        }
        match write_atomic(&target.path, text.as_bytes(), 0o644) {
            Ok(()) => ui::success(&format!("Wrote {} ({summary})", target.path.display())),
            Err(e)
                if args.output.is_none()
                    && (matches!(
                        e.kind(),
                        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::NotFound
                    ) || e.raw_os_error() == Some(nix::libc::EROFS)) =>
            {
                let staged = stage(&target.path, &text).map_err(|e| eyre!("{e}"))?;
                ui::warn(&format!(
                    "podman {} reads specs only from {}, where you may not write. The spec is ready in {}; install it with:\n    {}",
                    rules.podman,
                    show_dirs(&rules.dirs),
                    staged.display(),
                    install_command(&staged, &target.path)
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some((path, content)) = &target.dropin {
        if std::fs::read_to_string(path).ok().as_deref() != Some(content) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            write_atomic(path, content.as_bytes(), 0o644)?;
            ui::info(&format!(
                "Wrote {} so podman reads {}; restart the podman service to load it (systemctl --user restart podman.socket podman.service)",
                path.display(),
                target.path.parent().unwrap_or(Path::new("/")).display()
            ));
        }
    }
    let dir = target.path.parent().unwrap_or(Path::new("/"));
    if target.dropin.is_none() && !rules.dirs.iter().any(|d| d == dir) {
        ui::warn(&format!(
            "podman {} does not read {}: it reads {}",
            rules.podman,
            dir.display(),
            show_dirs(&rules.dirs)
        ));
    }
    ui::info(&generated.describe());
    Ok(())
}

/// mlenv never overwrites a spec it did not write: an admin's or nvidia-ctk's is theirs.
fn refuse_foreign(path: &Path) -> Result<()> {
    match std::fs::read_to_string(path) {
        Ok(text) if nvidia::parse_header(&text).is_none() => Err(eyre!(
            "{} exists and was not written by mlenv, so mlenv leaves it alone; remove it (or regenerate it with `sudo nvidia-ctk cdi generate --output={}`), or write elsewhere with --output",
            path.display(),
            path.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(eyre!(
            "{} exists but cannot be read (permission denied), so mlenv cannot tell who wrote it; fix with `sudo chmod a+r {}`",
            path.display(),
            path.display()
        )),
        _ => Ok(()),
    }
}

/// Another NVIDIA spec podman reads would conflict with the new one (same directory: the
/// devices are dropped) or hide it (a later directory wins).
fn refuse_conflicts(rules: &PodmanCdi, target: &Target) -> Result<()> {
    let dir = target.path.parent().unwrap_or(Path::new("/"));
    let Some(rank) = rules.dirs.iter().position(|d| d == dir) else {
        return Ok(());
    };
    let registry = cdi::Registry::load(&rules.dirs);
    for file in registry.specs() {
        if file.spec().kind.to_string() != NVIDIA_KIND || file.path() == target.path {
            continue;
        }
        let other = file.path().parent().unwrap_or(Path::new("/"));
        let other_rank = rules.dirs.iter().position(|d| d == other).unwrap_or(0);
        if other_rank >= rank {
            let why = if other_rank == rank {
                "in the same directory, podman would drop the GPUs both define"
            } else {
                "it is in a directory podman prefers, so it would hide the new one"
            };
            return Err(eyre!(
                "{} also defines {NVIDIA_KIND} devices: {why}. Remove it first (or use it: `mlenv gpu list` shows whether it works)",
                file.path().display()
            ));
        }
        ui::warn(&format!(
            "{} also defines {NVIDIA_KIND} devices; the new spec takes precedence",
            file.path().display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let home = Path::new("/home/u/.config");
        let old = policy::podman_cdi("4.3.1", None);
        assert_eq!(
            default_target(&old, 1000, home),
            Target {
                path: "/etc/cdi/nvidia.yaml".into(),
                dropin: None
            }
        );
        let new = policy::podman_cdi("5.6.0", None);
        let t = default_target(&new, 1000, home);
        assert_eq!(t.path, Path::new("/home/u/.config/cdi/nvidia.yaml"));
        let (file, text) = t.dropin.unwrap();
        assert_eq!(
            file,
            Path::new("/home/u/.config/containers/containers.conf.d/50-mlenv-cdi.conf")
        );
        assert!(text.contains("\"/etc/cdi\", \"/var/run/cdi\", \"/home/u/.config/cdi\""));
        let configured = policy::podman_cdi(
            "5.6.0",
            Some(vec!["/etc/cdi".into(), "/home/u/.config/cdi".into()]),
        );
        assert_eq!(default_target(&configured, 1000, home).dropin, None);
        assert_eq!(
            default_target(&new, 0, home).path,
            Path::new("/etc/cdi/nvidia.yaml")
        );
    }
}
