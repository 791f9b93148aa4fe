//! Where mlenv keeps things: the XDG base directories, resolved one way for every caller.
//!
//! The order, as the XDG base directory spec gives it: the variable (`XDG_CONFIG_HOME`,
//! `XDG_STATE_HOME`, `XDG_DATA_HOME`, `XDG_CACHE_HOME`) when it is set and not empty, else
//! `$HOME` joined with the spec's default, else nothing. What nothing means is the caller's
//! to say: an error for a dir mlenv must write, a skip for a file it only reads.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Config,
    State,
    Data,
    Cache,
}

impl Base {
    /// The variable and the default below `$HOME`.
    pub fn var_and_default(self) -> (&'static str, &'static str) {
        match self {
            Base::Config => ("XDG_CONFIG_HOME", ".config"),
            Base::State => ("XDG_STATE_HOME", ".local/state"),
            Base::Data => ("XDG_DATA_HOME", ".local/share"),
            Base::Cache => ("XDG_CACHE_HOME", ".cache"),
        }
    }
}

/// The base directory from the process environment.
pub fn base(which: Base) -> Option<PathBuf> {
    resolve(which, |k| std::env::var_os(k))
}

/// The base directory `which` given the environment `get`: the pure rule.
pub fn resolve(which: Base, get: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let (var, default) = which.var_and_default();
    let set = |k: &str| get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    set(var).or_else(|| Some(set("HOME")?.join(default)))
}

/// mlenv's own dir below base `which`, or an error naming what to set.
pub fn mlenv_dir(which: Base) -> Result<PathBuf, String> {
    let (var, _) = which.var_and_default();
    base(which)
        .map(|b| b.join("mlenv"))
        .ok_or_else(|| format!("neither {var} nor HOME is set; set one of them"))
}

/// The user's home, where HOME inside points (at the same path): it must name an existing
/// folder other than `/`, or there is nothing to mount there.
pub fn home_dir() -> Result<PathBuf, String> {
    let value = std::env::var_os("HOME").unwrap_or_default();
    let path = PathBuf::from(&value);
    if path.as_os_str().is_empty() || !path.is_absolute() || path == Path::new("/") {
        return Err(format!(
            "HOME={:?} cannot be HOME inside the environment; expected the absolute path of \
             your home folder",
            value
        ));
    }
    let canonical = std::fs::canonicalize(&path).map_err(|e| {
        format!(
            "HOME={}: {e}; expected your home folder, which must exist",
            path.display()
        )
    })?;
    if !canonical.is_dir() {
        return Err(format!(
            "HOME={} is not a folder; expected your home folder",
            path.display()
        ));
    }
    // It becomes a field of the passwd entry inside.
    if canonical.to_str().is_none_or(|h| h.contains([':', '\n'])) {
        return Err(format!(
            "HOME={} cannot be a home inside the environment: a passwd entry cannot hold it \
             (':' or a newline, or not UTF-8); expected a plain path",
            canonical.display()
        ));
    }
    Ok(canonical)
}

/// The caller's login name, or the uid as text when the passwd database has none.
pub fn user_name() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        type Env = &'static [(&'static str, &'static str)];
        let cases: [(Base, Env, Option<&str>); 6] = [
            (
                Base::Config,
                &[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")],
                Some("/x"),
            ),
            (
                Base::Config,
                &[("XDG_CONFIG_HOME", ""), ("HOME", "/h")],
                Some("/h/.config"),
            ),
            (Base::State, &[("HOME", "/h")], Some("/h/.local/state")),
            (Base::Data, &[("HOME", "/h")], Some("/h/.local/share")),
            (Base::Cache, &[("XDG_CACHE_HOME", "/c")], Some("/c")),
            (Base::Cache, &[("HOME", "")], None),
        ];
        for (which, pairs, want) in cases {
            assert_eq!(
                resolve(which, env(pairs)),
                want.map(PathBuf::from),
                "{which:?} {pairs:?}"
            );
        }
    }
}
