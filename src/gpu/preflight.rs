//! Resolving `--gpu` against the specs the installed podman will read, before a container
//! is created or started. Podman resolves CDI names only at start and then fails with a
//! bare "unresolvable CDI devices"; here every way that happens gets its own error naming
//! the file and the fix: no spec, an unreadable spec, an unknown device, a `cdiVersion` too
//! new for this podman, a stale spec after a driver upgrade. A stale spec that mlenv wrote
//! is regenerated on the spot (where mlenv may write it), so the container starts again
//! without being re-created: its CDI names did not change, only what they resolve to.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use cdi::{QualifiedName, Registry, ResolveError};

use super::policy::PodmanCdi;
use super::NVIDIA_KIND;
use crate::nvidia;

/// The outcome of a successful check.
#[derive(Debug, Default, Clone)]
pub struct Resolved {
    /// What to record and compare: the names asked for (or chosen by default).
    pub names: Vec<QualifiedName>,
    /// What to hand podman: `names` with `VENDOR/CLASS=all` expanded where the spec has no
    /// device called `all`.
    pub devices: Vec<String>,
    /// Things the user should hear: the default's reason, a regenerated spec.
    pub notes: Vec<String>,
    /// The host device nodes those devices inject (what a boot waits for).
    pub nodes: Vec<String>,
    /// Where the driver of the NVIDIA devices is: the root a spec mlenv wrote was made from
    /// (a fixture tree in the tests), else `/`; `None` without NVIDIA devices.
    pub nvidia_root: Option<PathBuf>,
}

/// Checks `wanted` (None: the default, every NVIDIA GPU when podman has a spec for them).
/// With `heal`, stale specs that mlenv wrote are regenerated in place.
pub fn resolve(
    wanted: Option<&[QualifiedName]>,
    podman: &PodmanCdi,
    heal: bool,
) -> Result<Resolved, String> {
    let mut notes = Vec::new();
    let mut healed = false;
    loop {
        let registry = Registry::load(&podman.dirs);
        let names = match wanted {
            Some(w) => w.to_vec(),
            None => {
                let (names, why) = default_selection(&registry, podman)?;
                if !healed {
                    notes.push(why);
                }
                names
            }
        };
        if names.is_empty() {
            return Ok(Resolved {
                names,
                notes,
                ..Resolved::default()
            });
        }
        let devices = registry
            .resolve_all(&names)
            .map_err(|e| explain(&e, podman))?;

        // Every spec file that supplies one of the devices must work for this podman.
        let mut files: Vec<&cdi::SpecFile> = Vec::new();
        for d in &devices {
            if let Some(dev) = registry.device(d) {
                if !files.iter().any(|f| f.path() == dev.path()) {
                    files.push(dev.file());
                }
            }
        }
        let mut problems = Vec::new();
        let mut nvidia_root = None;
        for file in files {
            // Only what podman will inject matters: the spec's shared edits and the devices
            // asked for (a vanished GPU 1 does not stop GPU 0, for podman or for us).
            let mut used = file.spec().clone();
            used.devices.retain(|d| {
                devices
                    .iter()
                    .any(|q| q.name() == d.name && q.kind() == file.spec().kind)
            });
            let (header, reasons) = spec_problems(file.path(), &used, podman);
            if file.spec().kind.vendor() == "nvidia.com" && nvidia_root.is_none() {
                nvidia_root = Some(
                    header
                        .as_ref()
                        .map_or_else(|| PathBuf::from("/"), |h| h.root.clone()),
                );
            }
            if !reasons.is_empty() {
                problems.push(Problem {
                    path: file.path().to_path_buf(),
                    kind: file.spec().kind.to_string(),
                    header,
                    reasons,
                });
            }
        }
        if problems.is_empty() {
            let mut nodes: Vec<String> = Vec::new();
            for d in &devices {
                if let Some(dev) = registry.device(d) {
                    let shared = dev.spec().container_edits.iter();
                    for edits in shared.chain([&dev.device().container_edits]) {
                        for n in &edits.device_nodes {
                            let path = n.host_path.clone().unwrap_or_else(|| n.path.clone());
                            if !nodes.contains(&path) {
                                nodes.push(path);
                            }
                        }
                    }
                }
            }
            return Ok(Resolved {
                names,
                devices: devices.iter().map(|d| d.to_string()).collect(),
                notes,
                nodes,
                nvidia_root,
            });
        }
        let healable = heal && !healed && problems.iter().all(|p| p.header.is_some());
        if !healable {
            return Err(problems
                .iter()
                .map(|p| p.message(podman))
                .collect::<Vec<_>>()
                .join("\n"));
        }
        for p in &problems {
            notes.push(regenerate(p, podman)?);
        }
        healed = true;
    }
}

/// Why podman would fail to use `spec` (a spec file's content, or the part of it a container
/// needs): a `cdiVersion` this podman does not read, or staleness. Also the header of the
/// file at `path` when mlenv wrote it (it then knows the root the spec was made from).
pub fn spec_problems(
    path: &Path,
    spec: &cdi::Spec,
    podman: &PodmanCdi,
) -> (Option<nvidia::Header>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let header = nvidia::parse_header(&text);
    let mut reasons = Vec::new();
    if spec.cdi_version > podman.max_version {
        reasons.push(format!(
            "it declares cdiVersion {}, but podman {} reads at most {} and ignores the whole file",
            spec.cdi_version, podman.podman, podman.max_version
        ));
    }
    let root = header
        .as_ref()
        .map_or_else(|| PathBuf::from("/"), |h| h.root.clone());
    reasons.extend(nvidia::staleness(spec, &root));
    (header, reasons)
}

/// The default when `--gpu` is not given: all NVIDIA GPUs when podman has a spec for them,
/// else none. A spec that may be the NVIDIA one but cannot be read is an error rather than a
/// silent "none": the user has GPUs and would not get them.
fn default_selection(
    registry: &Registry,
    podman: &PodmanCdi,
) -> Result<(Vec<QualifiedName>, String), String> {
    let all: QualifiedName = format!("{NVIDIA_KIND}=all")
        .parse()
        .expect("constant name is valid");
    if let Some(file) = registry
        .specs()
        .iter()
        .find(|f| f.spec().kind.to_string() == NVIDIA_KIND)
    {
        let why = format!("GPUs: all (NVIDIA CDI spec {})", file.path().display());
        return Ok((vec![all], why));
    }
    let maybe_nvidia: Vec<String> = registry
        .errors()
        .iter()
        .filter(|(path, _)| may_be_nvidia(path))
        .map(|(path, e)| failure_with_fix(path, &e.to_string()))
        .collect();
    if !maybe_nvidia.is_empty() {
        return Err(format!(
            "cannot use the NVIDIA CDI spec: {}; or pass --gpu none",
            maybe_nvidia.join("; ")
        ));
    }
    Ok((
        vec![],
        format!(
            "GPUs: none (no NVIDIA CDI spec in {}; write one with `mlenv gpu setup`, or pass --gpu)",
            show_dirs(&podman.dirs)
        ),
    ))
}

struct Problem {
    path: PathBuf,
    kind: String,
    header: Option<nvidia::Header>,
    reasons: Vec<String>,
}

impl Problem {
    fn message(&self, podman: &PodmanCdi) -> String {
        let fix = if self.header.is_some() {
            "regenerate it with `mlenv gpu setup`".to_string()
        } else if self.kind == NVIDIA_KIND {
            format!(
                "regenerate it with `sudo nvidia-ctk cdi generate --output={}`, or remove it and run `mlenv gpu setup`",
                self.path.display()
            )
        } else {
            "update it (the vendor's tools regenerate it) or remove it".to_string()
        };
        let _ = podman;
        format!(
            "the CDI spec {} cannot be used: {}; {fix}",
            self.path.display(),
            self.reasons.join("; ")
        )
    }
}

/// Regenerates a stale spec mlenv wrote, from the root it was made from, in place. Where
/// mlenv may not write (`/etc/cdi` for a user), the fresh spec is left beside mlenv's data
/// and the error gives the one command that installs it.
fn regenerate(p: &Problem, podman: &PodmanCdi) -> Result<String, String> {
    let header = p
        .header
        .as_ref()
        .expect("only mlenv's specs are regenerated");
    let stale = || {
        format!(
            "the CDI spec {} is stale: {}",
            p.path.display(),
            p.reasons.join("; ")
        )
    };
    let driver = nvidia::discover(&header.root).map_err(|e| format!("{}; {e}", stale()))?;
    let generated =
        nvidia::generate(&driver, podman.max_version).map_err(|e| format!("{}; {e}", stale()))?;
    let text = nvidia::render(
        &generated.spec,
        &nvidia::Header {
            root: header.root.clone(),
            driver_version: driver.version.clone(),
        },
    );
    match crate::fsx::write_atomic(&p.path, text.as_bytes(), 0o644) {
        Ok(()) => Ok(format!(
            "Regenerated the stale CDI spec {} (driver {} -> {})",
            p.path.display(),
            header.driver_version,
            driver.version
        )),
        Err(e)
            if e.kind() == ErrorKind::PermissionDenied
                || e.raw_os_error() == Some(nix::libc::EROFS) =>
        {
            let staged = stage(&p.path, &text)?;
            Err(format!(
                "{}. A fresh spec for driver {} is ready; install it with:\n    {}\n  then run mlenv again",
                stale(),
                driver.version,
                install_command(&staged, &p.path)
            ))
        }
        Err(e) => Err(format!("{}; the fresh one failed: {e}", stale())),
    }
}

/// Where a spec mlenv may not install itself waits for `sudo install`.
fn staging_path(target: &Path) -> Result<PathBuf, String> {
    let data = crate::project::data_root().map_err(|e| e.to_string())?;
    Ok(data
        .join("cdi")
        .join(target.file_name().unwrap_or("nvidia.yaml".as_ref())))
}

/// Writes `text` to the staging path for `target`; returns that path.
pub fn stage(target: &Path, text: &str) -> Result<PathBuf, String> {
    let staged = staging_path(target)?;
    if let Some(dir) = staged.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    crate::fsx::write_atomic(&staged, text.as_bytes(), 0o644).map_err(|e| e.to_string())?;
    Ok(staged)
}

/// The one command that puts a staged spec where podman reads it.
pub fn install_command(staged: &Path, target: &Path) -> String {
    format!(
        "sudo install -D -m 0644 {} {}",
        crate::shell::quote(&staged.to_string_lossy()),
        crate::shell::quote(&target.to_string_lossy())
    )
}

/// Whether a spec file podman could not load may be the NVIDIA one: its `kind` when that much
/// can be read, else its name.
pub fn may_be_nvidia(path: &Path) -> bool {
    cdi::peek_kind(path).map_or_else(
        || path.to_string_lossy().contains("nvidia"),
        |k| k == NVIDIA_KIND,
    )
}

pub fn show_dirs(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A failed spec file, with the fix when it is one mlenv can name.
fn failure_with_fix(path: &Path, why: &str) -> String {
    let mut s = format!("{}: {why}", path.display());
    if why.contains("ermission denied") {
        s.push_str(&format!(
            " (rootless podman reads specs as you and cannot read it either; fix: sudo chmod a+r {})",
            crate::shell::quote(&path.to_string_lossy())
        ));
    }
    s
}

/// The resolve error, with the fix for the common cases.
fn explain(e: &ResolveError, podman: &PodmanCdi) -> String {
    let mut msg = format!("invalid --gpu: {e}");
    match e {
        ResolveError::NoSpec { kind, failed, .. } => {
            for (path, why) in failed {
                if why.contains("ermission denied") {
                    msg.push_str(&format!(
                        "; rootless podman reads specs as you and cannot read {} either: fix with sudo chmod a+r {}",
                        path.display(),
                        crate::shell::quote(&path.to_string_lossy())
                    ));
                }
            }
            if kind.to_string() == NVIDIA_KIND {
                msg.push_str(&format!(
                    "; write one with `mlenv gpu setup` (podman {} reads {})",
                    podman.podman,
                    show_dirs(&podman.dirs)
                ));
            }
        }
        ResolveError::UnknownDevice { .. } => {
            msg.push_str("; `mlenv gpu list` shows the devices podman can attach");
        }
        _ => {}
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_commands() {
        assert_eq!(
            install_command(
                Path::new("/h/.local/share/mlenv/cdi/nvidia.yaml"),
                Path::new("/etc/cdi/nvidia.yaml")
            ),
            "sudo install -D -m 0644 /h/.local/share/mlenv/cdi/nvidia.yaml /etc/cdi/nvidia.yaml"
        );
    }

    fn rules(dir: &Path, podman: &str) -> PodmanCdi {
        let mut r = super::super::policy::podman_cdi(podman, None);
        r.dirs = vec![dir.to_path_buf()];
        r
    }

    fn names(list: &[&str]) -> Vec<QualifiedName> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn resolves_against_what_podman_reads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.json"),
            r#"{"cdiVersion": "0.5.0", "kind": "mlenv.test/gpu", "devices": [
                {"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/null"}]}},
                {"name": "1", "containerEdits": {"deviceNodes": [{"path": "/nonexistent/gpu1"}]}}]}"#,
        )
        .unwrap();
        let r = rules(dir.path(), "4.3.1");

        // A vanished GPU 1 does not stop GPU 0; asking for GPU 1 names the missing node.
        let ok = resolve(Some(&names(&["mlenv.test/gpu=0"])), &r, true).unwrap();
        assert_eq!(ok.devices, ["mlenv.test/gpu=0"]);
        let err = resolve(Some(&names(&["mlenv.test/gpu=1"])), &r, true).unwrap_err();
        assert!(
            err.contains("/nonexistent/gpu1") && err.contains("t.json"),
            "{err}"
        );
        assert!(
            err.contains("update it"),
            "the fix for a vendor's spec: {err}"
        );

        // `all` without an `all` device: every device, so GPU 1's node is checked too.
        let err = resolve(Some(&names(&["mlenv.test/gpu=all"])), &r, true).unwrap_err();
        assert!(err.contains("/nonexistent/gpu1"), "{err}");

        // Unknown device and missing kind.
        let err = resolve(Some(&names(&["mlenv.test/gpu=7"])), &r, true).unwrap_err();
        assert!(
            err.starts_with("invalid --gpu") && err.contains("gpu list"),
            "{err}"
        );
        let err = resolve(Some(&names(&["nvidia.com/gpu=0"])), &r, true).unwrap_err();
        assert!(err.contains("mlenv gpu setup"), "{err}");

        // The default without an NVIDIA spec: none, and why.
        let none = resolve(None, &r, true).unwrap();
        assert!(none.devices.is_empty() && none.notes[0].starts_with("GPUs: none"));
    }

    #[test]
    fn cdi_version_is_checked_against_the_podman_version() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("new.json"),
            r#"{"cdiVersion": "0.6.0", "kind": "mlenv.test/gpu", "annotations": {"a": "b"},
                "devices": [{"name": "x", "containerEdits": {"deviceNodes": [{"path": "/dev/null"}]}}]}"#,
        )
        .unwrap();
        let want = names(&["mlenv.test/gpu=x"]);
        let err = resolve(Some(&want), &rules(dir.path(), "4.3.1"), true).unwrap_err();
        assert!(
            err.contains("cdiVersion 0.6.0") && err.contains("podman 4.3.1 reads at most 0.5.0"),
            "{err}"
        );
        assert!(resolve(Some(&want), &rules(dir.path(), "4.7.0"), true).is_ok());
    }
}
