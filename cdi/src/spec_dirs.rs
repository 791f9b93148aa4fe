//! Finding the spec files in CDI spec directories.
//!
//! Runtimes read every `*.json` and `*.yaml` file directly inside each spec
//! directory (upstream `pkg/cdi/spec-dirs.go`: subdirectories are skipped, a
//! missing directory is no error). This crate reads only JSON; YAML files are
//! reported, not read.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::name::Kind;
use crate::spec::{is_yaml, Spec};

/// The directories Podman (up to 5.4) and upstream read specs from, in
/// priority order: a device defined in both is taken from the later one.
pub const DEFAULT_SPEC_DIRS: [&str; 2] = ["/etc/cdi", "/var/run/cdi"];

/// Loads every spec file in `dirs`: directory by directory, file names sorted.
///
/// Each entry is a file (or directory) and its result:
///
/// * a `*.json` file: [`Spec::load`]'s result, but errors are not wrapped in
///   [`Error::InFile`], since the path is at hand;
/// * a `*.yaml` file: [`Error::UnsupportedFormat`], so that a caller can tell
///   that a spec exists which this crate cannot read;
/// * a directory that exists but cannot be listed: [`Error::Io`].
///
/// Other files, subdirectories and missing directories are skipped.
pub fn scan_dirs<P: AsRef<Path>>(dirs: &[P]) -> Vec<(PathBuf, Result<Spec>)> {
    let mut found = Vec::new();
    for dir in dirs {
        let dir = dir.as_ref();
        match spec_files(dir) {
            Ok(files) => found.extend(files.into_iter().map(|path| {
                let spec = load_unwrapped(&path);
                (path, spec)
            })),
            Err(source) if source.kind() == ErrorKind::NotFound => {}
            Err(source) => found.push((
                dir.to_path_buf(),
                Err(Error::Io {
                    path: dir.to_path_buf(),
                    source,
                }),
            )),
        }
    }
    found
}

/// The entries of [`scan_dirs`] that are, or may be, for `kind`: "is there a
/// spec for `nvidia.com/gpu`?"
///
/// That is every loaded spec of that kind, plus every failed entry whose kind
/// is `kind` or cannot be told. The kind of a failed JSON spec is read from its
/// `kind` field when the file is readable JSON; that of a YAML spec from a
/// top-level `kind: VALUE` line (a line-based look, not a YAML parser). An
/// entry of another kind is left out even if it failed.
pub fn find_kind<P: AsRef<Path>>(dirs: &[P], kind: &Kind) -> Vec<(PathBuf, Result<Spec>)> {
    let wanted = kind.to_string();
    scan_dirs(dirs)
        .into_iter()
        .filter(|(path, spec)| match spec {
            Ok(spec) => spec.kind == *kind,
            Err(_) => !matches!(peek_kind(path), Some(found) if found != wanted),
        })
        .collect()
}

/// The `*.json` and `*.yaml` files directly in `dir`, sorted.
fn spec_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let spec_like = matches!(
            path.extension().and_then(|ext| ext.to_str()),
            Some("json" | "yaml")
        );
        // Follows symbolic links; an entry that cannot be stat'ed is kept so
        // that loading it reports why.
        if spec_like && !path.is_dir() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn load_unwrapped(path: &Path) -> Result<Spec> {
    match Spec::load(path) {
        Err(Error::InFile { source, .. }) => Err(*source),
        other => other,
    }
}

/// The `kind` a spec file declares, if it can be told, without validating the
/// spec: the `kind` field of a JSON file, or a top-level `kind:` line of a YAML
/// file (which this crate cannot otherwise read).
pub fn peek_kind(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    if is_yaml(path) {
        return yaml_kind(&String::from_utf8_lossy(&bytes));
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("kind")?.as_str().map(str::to_string)
}

/// The value of the first top-level `kind:` line of a YAML document.
fn yaml_kind(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix("kind:")?;
        let value = value.split(" #").next()?.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        (!value.is_empty()).then(|| value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_kind_table() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n",
                Some("nvidia.com/gpu"),
            ),
            ("kind: \"nvidia.com/gpu\"\n", Some("nvidia.com/gpu")),
            ("kind: 'amd.com/gpu'  # comment\n", Some("amd.com/gpu")),
            ("---\nkind:   nvidia.com/gpu   \r\n", Some("nvidia.com/gpu")),
            ("devices:\n  - name: x\n    kind: inner/kind\n", None),
            ("kind:\n", None),
            ("", None),
        ];
        for &(text, want) in cases {
            assert_eq!(yaml_kind(text).as_deref(), want, "{text:?}");
        }
    }
}
