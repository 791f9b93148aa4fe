//! The devices a runtime sees in its spec directories, and resolving names to
//! them: [`Registry`].

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::name::{Kind, QualifiedName};
use crate::spec::{Device, Spec};
use crate::spec_dirs::{peek_kind, scan_dir};

/// The specs and devices found in a list of spec directories, as a runtime
/// would see them.
///
/// [`Registry::load`] follows upstream container-device-interface's cache
/// (`pkg/cdi/cache.go`, `refresh`), which Podman uses to resolve `--device
/// VENDOR/CLASS=NAME`:
///
/// * the directories are read in order, and a later one has the higher
///   priority; in each, the `*.json` and `*.yaml` files in file name order
///   ([`scan_dirs`](crate::scan_dirs));
/// * a spec that fails to load is left out whole, its error kept;
/// * each device of a loaded spec is entered under its qualified name. A
///   device already entered from a lower-priority directory is replaced. One
///   already entered from the same directory is a conflict: an error naming
///   both files is kept, and when all files are read every conflicting name is
///   removed, whatever directory its entry came from by then. So a conflict
///   in `/etc/cdi` hides the device even if `/var/run/cdi` defines it too.
///   Only the device is dropped; the rest of both specs stays usable.
///
/// Unlike upstream, a spec directory that exists but cannot be listed is an
/// error here (upstream skips it silently), since it may hold the spec a user
/// is missing.
#[derive(Debug)]
pub struct Registry {
    dirs: Vec<PathBuf>,
    specs: Vec<SpecFile>,
    errors: Vec<(PathBuf, Error)>,
    /// For each entry of `errors`, the kind the file declares, where it can be
    /// told: which failures may matter to a kind.
    error_kinds: Vec<Option<String>>,
    /// Indices into `specs` and into that spec's devices.
    devices: BTreeMap<QualifiedName, (usize, usize)>,
    /// Names dropped for conflicts, with the files that define them.
    conflicts: BTreeMap<QualifiedName, Vec<PathBuf>>,
}

/// A spec that loaded, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecFile {
    path: PathBuf,
    priority: usize,
    spec: Spec,
}

impl SpecFile {
    /// The spec file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The index of its directory in the list given to [`Registry::load`]:
    /// the higher, the higher the priority.
    pub fn priority(&self) -> usize {
        self.priority
    }

    /// The spec.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }
}

/// A device in a [`Registry`], with the spec it comes from: a runtime that
/// injects it applies the device's edits and its spec's `containerEdits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryDevice<'a> {
    file: &'a SpecFile,
    device: &'a Device,
}

impl<'a> RegistryDevice<'a> {
    /// The device.
    pub fn device(&self) -> &'a Device {
        self.device
    }

    /// The spec that defines it.
    pub fn spec(&self) -> &'a Spec {
        &self.file.spec
    }

    /// The spec file that defines it.
    pub fn path(&self) -> &'a Path {
        &self.file.path
    }

    /// The spec file, its priority and spec.
    pub fn file(&self) -> &'a SpecFile {
        self.file
    }
}

/// Why a name does not resolve to devices. The messages are for end users:
/// they name the files involved and what is there instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No spec of the name's kind loaded.
    #[error("{}{}", no_spec(kind, dirs), failed_list(failed))]
    NoSpec {
        /// The kind of the name.
        kind: Kind,
        /// The spec directories searched.
        dirs: Vec<PathBuf>,
        /// Spec files (or directories) that failed to load and are of that
        /// kind or of a kind that cannot be told, with why: one of them may
        /// be the spec wanted.
        failed: Vec<(PathBuf, String)>,
    },

    /// Specs of the kind loaded, but none defines the device.
    #[error(
        "unknown CDI device {name}: {}{}",
        available_list(name, spec_files, available),
        failed_list(failed)
    )]
    UnknownDevice {
        /// The name asked for.
        name: QualifiedName,
        /// The loaded spec files of its kind.
        spec_files: Vec<PathBuf>,
        /// The device names of its kind that do resolve, in
        /// [`Registry::resolve`]'s order.
        available: Vec<String>,
        /// As for [`ResolveError::NoSpec`].
        failed: Vec<(PathBuf, String)>,
    },

    /// Spec files in one directory define the device, so it was dropped.
    #[error(
        "CDI device {name} is defined in more than one spec file of one directory ({}), \
         so runtimes ignore it; keep only one definition",
        paths_list(paths)
    )]
    Conflict {
        /// The name asked for.
        name: QualifiedName,
        /// The files that define it, in the order read.
        paths: Vec<PathBuf>,
    },
}

impl Registry {
    /// Loads every spec in `dirs`, given lowest priority first (as
    /// [`DEFAULT_SPEC_DIRS`](crate::DEFAULT_SPEC_DIRS) is). Never fails:
    /// problems are kept in [`Registry::errors`].
    pub fn load<P: AsRef<Path>>(dirs: &[P]) -> Registry {
        let mut registry = Registry {
            dirs: dirs.iter().map(|dir| dir.as_ref().to_path_buf()).collect(),
            specs: Vec::new(),
            errors: Vec::new(),
            error_kinds: Vec::new(),
            devices: BTreeMap::new(),
            conflicts: BTreeMap::new(),
        };
        for (priority, dir) in dirs.iter().enumerate() {
            for (path, loaded) in scan_dir(dir.as_ref()) {
                match loaded {
                    Ok(spec) => registry.add(SpecFile {
                        path,
                        priority,
                        spec,
                    }),
                    Err(error) => {
                        let kind = peek_kind(&path);
                        registry.push_error(path, error, kind);
                    }
                }
            }
        }
        let conflicts: Vec<QualifiedName> = registry.conflicts.keys().cloned().collect();
        for name in conflicts {
            registry.devices.remove(&name);
        }
        registry
    }

    /// Enters a loaded spec and its devices (upstream `resolveConflict`).
    fn add(&mut self, file: SpecFile) {
        let index = self.specs.len();
        for (device_index, name) in file.spec.qualified_names().into_iter().enumerate() {
            match self.devices.get(&name) {
                Some(&(other, _)) if self.specs[other].priority == file.priority => {
                    let first = self.specs[other].path.clone();
                    let paths = self.conflicts.entry(name.clone()).or_default();
                    for path in [&first, &file.path] {
                        if !paths.contains(path) {
                            paths.push(path.clone());
                        }
                    }
                    let kind = Some(name.kind().to_string());
                    let error = Error::ConflictingDevice {
                        name,
                        first,
                        second: file.path.clone(),
                    };
                    self.push_error(file.path.clone(), error, kind);
                }
                // Directories are read in priority order, so an entry is
                // never of a higher priority than a later spec.
                _ => {
                    self.devices.insert(name, (index, device_index));
                }
            }
        }
        self.specs.push(file);
    }

    fn push_error(&mut self, path: PathBuf, error: Error, kind: Option<String>) {
        self.errors.push((path, error));
        self.error_kinds.push(kind);
    }

    /// The spec directories, as given.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The specs that loaded, in the order read.
    pub fn specs(&self) -> &[SpecFile] {
        &self.specs
    }

    /// Every problem, in the order met: each spec file that failed to load
    /// ([`Error::Io`] if it could not be read, say for permissions), each
    /// spec directory that could not be listed, and each conflict
    /// ([`Error::ConflictingDevice`], under the second file). Errors are not
    /// wrapped in [`Error::InFile`]: the path comes with them.
    pub fn errors(&self) -> &[(PathBuf, Error)] {
        &self.errors
    }

    /// The devices that resolve, by qualified name, in name order.
    pub fn devices(&self) -> impl Iterator<Item = (&QualifiedName, RegistryDevice<'_>)> {
        self.devices
            .iter()
            .map(|(name, &(spec, device))| (name, self.entry(spec, device)))
    }

    /// The device of that name, if it resolves as is (without `all`'s
    /// expansion).
    pub fn device(&self, name: &QualifiedName) -> Option<RegistryDevice<'_>> {
        self.devices
            .get(name)
            .map(|&(spec, device)| self.entry(spec, device))
    }

    fn entry(&self, spec: usize, device: usize) -> RegistryDevice<'_> {
        let file = &self.specs[spec];
        RegistryDevice {
            file,
            device: &file.spec.devices[device],
        }
    }

    /// The names dropped because spec files of one directory both define
    /// them, each with those files in the order read.
    pub fn conflicts(&self) -> &BTreeMap<QualifiedName, Vec<PathBuf>> {
        &self.conflicts
    }

    /// The kinds of the loaded specs, sorted, each once.
    pub fn kinds(&self) -> Vec<&Kind> {
        let mut kinds: Vec<&Kind> = self.specs.iter().map(|file| &file.spec.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// The devices `name` stands for:
    ///
    /// * a device that resolves: itself;
    /// * `VENDOR/CLASS=all` when the kind has no device named `all`: every
    ///   device of the kind that resolves, names made only of digits first in
    ///   numeric order, then the others in string order. This is an extension
    ///   for mlenv's convenience: upstream and the runtimes give `all` no
    ///   meaning, so pass them the expanded names. Every device is included,
    ///   so one GPU known by index and by UUID appears twice;
    /// * anything else: an error saying why, naming the files to look at.
    // A ResolveError is large (names and file lists, for the message), but
    // it ends a command: boxing it would only make matching on it clumsier.
    #[allow(clippy::result_large_err)]
    pub fn resolve(&self, name: &QualifiedName) -> Result<Vec<QualifiedName>, ResolveError> {
        if self.devices.contains_key(name) {
            return Ok(vec![name.clone()]);
        }
        if let Some(paths) = self.conflicts.get(name) {
            return Err(ResolveError::Conflict {
                name: name.clone(),
                paths: paths.clone(),
            });
        }
        let kind = name.kind();
        let spec_files: Vec<PathBuf> = self
            .specs
            .iter()
            .filter(|file| file.spec.kind == kind)
            .map(|file| file.path.clone())
            .collect();
        if spec_files.is_empty() {
            return Err(ResolveError::NoSpec {
                failed: self.failed_for(&kind),
                kind,
                dirs: self.dirs.clone(),
            });
        }
        let mut of_kind: Vec<&QualifiedName> = self
            .devices
            .keys()
            .filter(|other| other.vendor() == name.vendor() && other.class() == name.class())
            .collect();
        of_kind.sort_by(|a, b| device_order(a.name(), b.name()));
        if name.name() == "all" && !of_kind.is_empty() {
            return Ok(of_kind.into_iter().cloned().collect());
        }
        Err(ResolveError::UnknownDevice {
            name: name.clone(),
            spec_files,
            available: of_kind.iter().map(|q| q.name().to_string()).collect(),
            failed: self.failed_for(&kind),
        })
    }

    /// [`Registry::resolve`] for each name, in order, each device once (its
    /// first place kept). Stops at the first name that does not resolve.
    #[allow(clippy::result_large_err)]
    pub fn resolve_all(&self, names: &[QualifiedName]) -> Result<Vec<QualifiedName>, ResolveError> {
        let mut resolved: Vec<QualifiedName> = Vec::new();
        for name in names {
            for device in self.resolve(name)? {
                if !resolved.contains(&device) {
                    resolved.push(device);
                }
            }
        }
        Ok(resolved)
    }

    /// The errors that may concern `kind`: of files declaring it or whose
    /// kind cannot be told, and of unlistable directories. Conflicts are left
    /// out: [`ResolveError::Conflict`] reports those.
    fn failed_for(&self, kind: &Kind) -> Vec<(PathBuf, String)> {
        let wanted = kind.to_string();
        self.errors
            .iter()
            .zip(&self.error_kinds)
            .filter(|((_, error), _)| !matches!(error, Error::ConflictingDevice { .. }))
            .filter(|(_, found)| found.as_deref().is_none_or(|found| found == wanted))
            .map(|((path, error), _)| (path.clone(), error.to_string()))
            .collect()
    }
}

/// Names of digits only first, by value; then the rest, as strings.
fn device_order(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    match (numeric(a), numeric(b)) {
        (true, true) => {
            // By value without parsing, so that no length overflows.
            let (ta, tb) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
            ta.len().cmp(&tb.len()).then(ta.cmp(tb)).then(a.cmp(b))
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

fn paths_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn no_spec(kind: &Kind, dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        format!("no CDI spec for {kind}: no spec directories to look in")
    } else {
        format!("no CDI spec for {kind} in {}", paths_list(dirs))
    }
}

fn available_list(name: &QualifiedName, spec_files: &[PathBuf], available: &[String]) -> String {
    let kind = name.kind();
    let (spec, define) = if spec_files.len() == 1 {
        ("spec", "defines")
    } else {
        ("specs", "define")
    };
    let files = paths_list(spec_files);
    if available.is_empty() {
        format!("the {kind} {spec} ({files}) {define} no device that resolves")
    } else {
        format!(
            "the {kind} {spec} ({files}) {define} {}",
            available.join(", ")
        )
    }
}

fn failed_list(failed: &[(PathBuf, String)]) -> Failed<'_> {
    Failed(failed)
}

/// The failed files of a [`ResolveError`], as a sentence to append.
struct Failed<'a>(&'a [(PathBuf, String)]);

impl fmt::Display for Failed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        let failed: Vec<String> = self
            .0
            .iter()
            .map(|(path, why)| format!("{} ({why})", path.display()))
            .collect();
        write!(
            f,
            "; failed to load, and may be what is missing: {}",
            failed.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_order_table() {
        let mut names = vec![
            "all",
            "10",
            "2",
            "GPU-b",
            "0",
            "GPU-a",
            "02",
            "1",
            "a10",
            "a2",
            "99999999999999999999999",
        ];
        names.sort_by(|a, b| device_order(a, b));
        assert_eq!(
            names,
            [
                "0",
                "1",
                "02",
                "2",
                "10",
                "99999999999999999999999",
                "GPU-a",
                "GPU-b",
                "a10",
                "a2",
                "all"
            ]
        );
    }

    #[test]
    fn messages() {
        let name: QualifiedName = "nvidia.com/gpu=3".parse().unwrap();
        let err = ResolveError::UnknownDevice {
            name: name.clone(),
            spec_files: vec!["/etc/cdi/nvidia.yaml".into()],
            available: vec!["0".into(), "all".into()],
            failed: vec![],
        };
        assert_eq!(
            err.to_string(),
            "unknown CDI device nvidia.com/gpu=3: the nvidia.com/gpu spec (/etc/cdi/nvidia.yaml) \
             defines 0, all"
        );
        let err = ResolveError::UnknownDevice {
            name: name.clone(),
            spec_files: vec!["/etc/cdi/a.json".into(), "/var/run/cdi/b.json".into()],
            available: vec![],
            failed: vec![("/etc/cdi/c.json".into(), "why".into())],
        };
        assert_eq!(
            err.to_string(),
            "unknown CDI device nvidia.com/gpu=3: the nvidia.com/gpu specs (/etc/cdi/a.json, \
             /var/run/cdi/b.json) define no device that resolves; failed to load, and may be \
             what is missing: /etc/cdi/c.json (why)"
        );
        let err = ResolveError::NoSpec {
            kind: name.kind(),
            dirs: vec![],
            failed: vec![],
        };
        assert_eq!(
            err.to_string(),
            "no CDI spec for nvidia.com/gpu: no spec directories to look in"
        );
    }
}
