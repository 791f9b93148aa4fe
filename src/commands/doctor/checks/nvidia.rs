//! NVIDIA CDI: the specs podman reads, and the GPUs the configuration names.

use std::path::PathBuf;

use serde_json::json;

use super::{Check, Level};

/// One NVIDIA spec podman reads.
#[derive(Debug, Clone, PartialEq)]
pub struct NvidiaSpec {
    pub path: PathBuf,
    pub cdi_version: String,
    pub devices: Vec<String>,
    /// Why podman cannot use it ([`crate::gpu::preflight::spec_problems`]); empty when it can.
    pub problems: Vec<String>,
    /// mlenv wrote it (its header), so `up` regenerates it when stale...
    pub mlenv: bool,
    /// ...where it may write its folder.
    pub writable: bool,
}

/// What podman's spec folders hold for NVIDIA, and the loaded driver.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CdiFacts {
    pub podman: String,
    pub dirs: Vec<PathBuf>,
    /// The loaded driver's version (`/proc/driver/nvidia/version`); `None` without one.
    pub driver: Option<String>,
    /// The driver of the root a spec mlenv wrote was made from, when that is not `/` (a
    /// fixture tree in the tests): what the CUDA check compares.
    pub spec_driver: Option<String>,
    pub specs: Vec<NvidiaSpec>,
    /// Spec files that may be NVIDIA's and cannot be read or parsed, with why.
    pub broken: Vec<(PathBuf, String)>,
    /// NVIDIA devices defined twice in one folder, which podman drops.
    pub conflicts: Vec<(String, Vec<PathBuf>)>,
}

fn show(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `up` gets the machine's NVIDIA GPUs: a spec podman reads, readable and fresh.
pub fn nvidia_cdi(f: &CdiFacts) -> Check {
    const NAME: &str = "NVIDIA CDI";
    let facts = json!({
        "podman": f.podman,
        "spec_dirs": f.dirs,
        "driver": f.driver,
        "specs": f.specs.iter().map(|s| json!({
            "path": s.path, "cdi_version": s.cdi_version, "devices": s.devices,
            "problems": s.problems, "mlenv": s.mlenv,
        })).collect::<Vec<_>>(),
        "broken": f.broken,
    });
    if let Some((path, why)) = f.broken.first() {
        let quoted = crate::shell::quote(&path.to_string_lossy());
        let fix = if why.contains("ermission denied") {
            format!("sudo chmod a+r {quoted} (rootless podman reads specs as you)")
        } else {
            format!("regenerate it: remove {quoted} and run `mlenv gpu setup` (or sudo nvidia-ctk cdi generate --output={quoted})")
        };
        return Check::new(
            NAME,
            Level::Fail,
            format!(
                "{} cannot be used: {why}; `up` would fail (or pass --gpu none)",
                path.display()
            ),
        )
        .fix(fix)
        .facts(facts);
    }
    if let Some((name, files)) = f.conflicts.first() {
        return Check::new(
            NAME,
            Level::Fail,
            format!(
                "{name} is defined in {} (one folder): podman drops it, so `up` would fail",
                show(files).replace(", ", " and ")
            ),
        )
        .fix("remove one of the files")
        .facts(facts);
    }
    if let Some(s) = f.specs.iter().find(|s| !s.problems.is_empty()) {
        let why = format!(
            "{} cannot be used: {}",
            s.path.display(),
            s.problems.join("; ")
        );
        if s.mlenv && s.writable {
            return Check::new(
                NAME,
                Level::Warn,
                format!("{why}; mlenv wrote it, and `up` regenerates it"),
            )
            .fix("mlenv gpu setup (regenerates it now)")
            .facts(facts);
        }
        let fix = if s.mlenv {
            "mlenv gpu setup (it prints the sudo command that installs the fresh spec)".to_string()
        } else {
            format!(
                "sudo nvidia-ctk cdi generate --output={}, or remove it and run `mlenv gpu setup`",
                s.path.display()
            )
        };
        return Check::new(
            NAME,
            Level::Fail,
            format!("{why}; `up` would fail (or pass --gpu none)"),
        )
        .fix(fix)
        .facts(facts);
    }
    if let Some(s) = f.specs.first() {
        let driver = f
            .driver
            .as_deref()
            .map_or(String::new(), |d| format!(", driver {d}"));
        return Check::new(
            NAME,
            Level::Ok,
            format!(
                "{} (cdiVersion {}{driver}) is current: devices {}",
                s.path.display(),
                s.cdi_version,
                s.devices.join(", ")
            ),
        )
        .facts(facts);
    }
    match &f.driver {
        Some(v) => Check::new(
            NAME,
            Level::Warn,
            format!(
                "NVIDIA driver {v} is loaded, but podman {} has no NVIDIA CDI spec in {}: `up` gives no GPUs",
                f.podman,
                show(&f.dirs)
            ),
        )
        .fix("mlenv gpu setup")
        .facts(facts),
        None => Check::new(
            NAME,
            Level::Info,
            "no NVIDIA GPU on this machine (no NVIDIA driver loaded, no NVIDIA CDI spec): environments get no GPUs",
        )
        .facts(facts),
    }
}

/// The GPUs the project configures, resolved as `up` resolves them (`outcome`: the devices
/// podman would get, or why it would fail). `regenerable` are stale specs mlenv wrote and may
/// rewrite: `up` regenerates those before it resolves, so they do not block it.
pub fn configured_gpus(
    names: &[String],
    outcome: &Result<Vec<String>, String>,
    regenerable: &[PathBuf],
) -> Check {
    const NAME: &str = "GPUs";
    let facts = json!({ "configured": names });
    if names.is_empty() {
        return Check::new(NAME, Level::Ok, "none configured").facts(facts);
    }
    match outcome {
        Ok(devices) => Check::new(
            NAME,
            Level::Ok,
            format!("{} resolve to {}", names.join(", "), devices.join(", ")),
        )
        .facts(facts),
        Err(why)
            if why.lines().all(|l| {
                regenerable
                    .iter()
                    .any(|p| l.contains(&p.display().to_string()))
            }) =>
        {
            Check::new(
                NAME,
                Level::Warn,
                format!("{why} (`up` regenerates the spec first)"),
            )
            .fix("mlenv gpu setup (regenerates it now)")
            .facts(facts)
        }
        Err(why) => Check::new(NAME, Level::Fail, why.clone())
            .fix(
                "`mlenv gpu list` shows what podman can attach; change the project's GPUs to match",
            )
            .facts(facts),
    }
}

/// The loaded driver against what the configured image's CUDA needs (`gpu::cuda`): what
/// `up` will say, or refuse, before it creates anything. `cuda` is `None` when the image
/// is not on this machine yet.
pub fn cuda_driver(
    image: &str,
    driver: Option<&str>,
    cuda: Option<&crate::gpu::cuda::ImageCuda>,
) -> Check {
    use crate::gpu::cuda::{decide, explain, Verdict};
    const NAME: &str = "cuda driver";
    let Some(driver) = driver else {
        return Check::new(
            NAME,
            Level::Info,
            "no NVIDIA driver loaded: nothing to check",
        );
    };
    let Some(cuda) = cuda else {
        return Check::new(
            NAME,
            Level::Info,
            format!("{image} is not on this machine yet; `up` checks driver {driver} against it before creating"),
        );
    };
    let verdict = decide(cuda, driver);
    let facts =
        json!({"driver": driver, "image": image, "needs": cuda.driver, "cuda": cuda.version});
    match (&verdict, explain(&verdict, image)) {
        (Verdict::Unknown, _) => Check::new(
            NAME,
            Level::Info,
            format!(
                "{image} names no CUDA driver it needs (no CUDA_DRIVER_VERSION or CUDA_VERSION)"
            ),
        ),
        (Verdict::Native, _) => Check::new(
            NAME,
            Level::Ok,
            format!("driver {driver} runs the CUDA of {image} natively"),
        ),
        (Verdict::ForwardCompat { .. }, Ok(Some(note))) => Check::new(NAME, Level::Info, note),
        (_, Ok(note)) => Check::new(NAME, Level::Warn, note.unwrap_or_default())
            .fix("upgrade the NVIDIA driver, or use an older image"),
        (_, Err(e)) => {
            let (what, fit) = e.split_once("; ").unwrap_or((e.as_str(), ""));
            Check::new(NAME, Level::Fail, what.to_string()).fix(fit.to_string())
        }
    }
    .facts(facts)
}
