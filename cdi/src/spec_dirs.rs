//! Finding the spec files in CDI spec directories.
//!
//! Runtimes read every `*.json` and `*.yaml` file directly inside each spec
//! directory (upstream `pkg/cdi/spec-dirs.go`: subdirectories are skipped, a
//! missing directory is no error; the extensions are matched exactly, so
//! `*.yml` and `*.JSON` files are not specs). [`crate::Registry`] builds on
//! this the device table a runtime would see.

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
/// * a `*.json` or `*.yaml` file: [`Spec::load`]'s result (JSON or YAML by
///   the extension), but errors are not wrapped in [`Error::InFile`], since
///   the path is at hand;
/// * a directory that exists but cannot be listed: [`Error::Io`]. (Upstream
///   skips such a directory silently; knowing why a spec is not seen is the
///   point here.)
///
/// Other files, subdirectories and missing directories are skipped.
pub fn scan_dirs<P: AsRef<Path>>(dirs: &[P]) -> Vec<(PathBuf, Result<Spec>)> {
    dirs.iter().flat_map(|dir| scan_dir(dir.as_ref())).collect()
}

/// [`scan_dirs`] for one directory.
pub(crate) fn scan_dir(dir: &Path) -> Vec<(PathBuf, Result<Spec>)> {
    match spec_files(dir) {
        Ok(files) => files
            .into_iter()
            .map(|path| {
                let spec = load_unwrapped(&path);
                (path, spec)
            })
            .collect(),
        Err(source) if source.kind() == ErrorKind::NotFound => Vec::new(),
        Err(source) => vec![(
            dir.to_path_buf(),
            Err(Error::Io {
                path: dir.to_path_buf(),
                source,
            }),
        )],
    }
}

/// The entries of [`scan_dirs`] that are, or may be, for `kind`: "is there a
/// spec for `nvidia.com/gpu`?"
///
/// That is every loaded spec of that kind, plus every failed entry whose kind
/// is `kind` or cannot be told ([`peek_kind`]). An entry of another kind is
/// left out even if it failed.
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
/// spec: the top-level `kind` string of a readable JSON or YAML file (by the
/// extension, as [`Spec::load`] chooses). For YAML that does not parse, the
/// value of a top-level `kind: VALUE` line, a line-based look.
pub fn peek_kind(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    if is_yaml(path) {
        let text = String::from_utf8_lossy(&bytes);
        return match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) {
            Ok(value) => value.get("kind")?.as_str().map(str::to_string),
            Err(_) => yaml_kind(&text),
        };
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
