//! Which project we are in, and the names derived from its path.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{eyre, Result, WrapErr};
use sha2::{Digest, Sha256};

use crate::dirs::Base;

/// Longest slug kept from the folder name; podman allows long names, people read short ones.
const MAX_SLUG: usize = 40;

/// The project folder and everything named after it.
#[derive(Debug, Clone)]
pub struct Project {
    /// Canonical absolute path: mounted at the same path inside the container.
    pub dir: PathBuf,
    /// `mlenv-<slug>-<8 hex>`.
    pub container: String,
    /// mlenv's per-project state: lock, debug log. `rm` removes it.
    pub state_dir: PathBuf,
    /// What outlives the container (installed Python packages); `rm` keeps it.
    pub data_dir: PathBuf,
    /// pip's download cache, shared by every project of the user.
    pub pip_cache: PathBuf,
}

impl Project {
    pub fn locate(dir: Option<&Path>) -> Result<Project> {
        let given = match dir {
            Some(d) => d.to_path_buf(),
            None => std::env::current_dir().wrap_err("cannot read the current directory")?,
        };
        let dir = std::fs::canonicalize(&given).map_err(|e| {
            crate::error::invalid(format!(
                "project folder {:?}: {e}; expected an existing directory",
                given
            ))
        })?;
        if !dir.is_dir() {
            return Err(crate::error::invalid(format!(
                "project folder {:?} is not a directory",
                given
            )));
        }
        let container = container_name(&dir);
        let state_dir = state_root()?.join(&container);
        let data_dir = data_root()?.join(&container);
        let pip_cache = xdg_dir(Base::Cache)?.join("pip");
        Ok(Project {
            dir,
            container,
            state_dir,
            data_dir,
            pip_cache,
        })
    }

    /// The project folder as a string for the API; podman paths must be UTF-8.
    pub fn dir_str(&self) -> Result<&str> {
        self.dir
            .to_str()
            .ok_or_else(|| eyre!("project path {:?} is not valid UTF-8", self.dir))
    }
}

/// `mlenv-<slug>-<hex>`: the slug keeps names readable, the hash of the canonical
/// path keeps same-named folders in different places apart.
pub fn container_name(canonical_dir: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let hash = Sha256::digest(canonical_dir.as_os_str().as_bytes());
    let hex: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    let folder = canonical_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("mlenv-{}-{hex}", slug(&folder))
}

/// Lower-case ASCII letters and digits, runs of anything else folded to one `-`,
/// trimmed, at most [`MAX_SLUG`] long; `project` when nothing is left. The result
/// always fits podman's name rule `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn slug(folder: &str) -> String {
    let mut out = String::new();
    for c in folder.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_string();
    if out.len() > MAX_SLUG {
        out.truncate(MAX_SLUG);
        out = out.trim_end_matches('-').to_string();
    }
    if out.is_empty() {
        "project".to_string()
    } else {
        out
    }
}

/// `$XDG_STATE_HOME/mlenv`, else `~/.local/state/mlenv` (see [`crate::dirs`]).
pub fn state_root() -> Result<PathBuf> {
    xdg_dir(Base::State)
}

/// `$XDG_DATA_HOME/mlenv`, else `~/.local/share/mlenv`.
pub fn data_root() -> Result<PathBuf> {
    xdg_dir(Base::Data)
}

fn xdg_dir(which: Base) -> Result<PathBuf> {
    crate::dirs::mlenv_dir(which).map_err(|e| eyre!(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        let long = "a".repeat(200);
        let cases: &[(&str, &str)] = &[
            ("myproject", "myproject"),
            ("My Project", "my-project"),
            ("  spaces  ", "spaces"),
            (".hidden", "hidden"),
            ("..", "project"),
            ("проект", "project"),
            ("données-2024", "donn-es-2024"),
            ("a__b--c", "a-b-c"),
            ("-x-", "x"),
            (&long, &long[..MAX_SLUG]),
            ("", "project"),
        ];
        for (input, want) in cases {
            assert_eq!(slug(input), *want, "slug({input:?})");
        }
    }

    #[test]
    fn names_are_valid_podman_names_and_distinct() {
        let valid = |n: &str| {
            let mut chars = n.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
                && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        };
        let a = container_name(Path::new("/home/u/a/proj"));
        let b = container_name(Path::new("/home/u/b/proj"));
        assert_ne!(a, b);
        assert!(a.starts_with("mlenv-proj-") && a.len() == "mlenv-proj-".len() + 8);
        for dir in ["/x/My Project", "/x/проект", "/x/.dot", "/", "/x/a b/ c "] {
            let n = container_name(Path::new(dir));
            assert!(valid(&n), "{dir:?} -> {n:?}");
        }
        // Stable across runs: the name is how we find the container again.
        assert_eq!(
            container_name(Path::new("/home/u/proj")),
            container_name(Path::new("/home/u/proj"))
        );
    }
}
