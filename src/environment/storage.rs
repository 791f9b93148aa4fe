//! podman's storage on the machines mlenv runs on: a network filesystem under it (a home
//! on NFS, Lustre or GPFS, as on many clusters) breaks rootless storage, and the fix is a
//! local folder.

use std::path::Path;

use color_eyre::eyre::{eyre, Result};

use crate::fsx::{fs_kind, fs_magic, FsKind};

/// Folders that are usually on a local disk, in the order to suggest them.
const LOCAL_CANDIDATES: &[&str] = &["/var/tmp", "/tmp", "/local", "/scratch/local"];

/// Where rootless storage could go instead: the first candidate on a local filesystem
/// (`magic` says what is under each), with the user's name in it.
pub fn local_dir(user: &str, magic: impl Fn(&Path) -> Option<i64>) -> String {
    let base = LOCAL_CANDIDATES
        .iter()
        .find(|c| matches!(magic(Path::new(c)).map(fs_kind), Some(FsKind::Local(_))))
        .unwrap_or(&"/var/tmp");
    format!("{base}/{user}/containers/storage")
}

/// The storage.conf lines that move rootless storage to `local_dir`.
pub fn local_storage_snippet(local_dir: &str) -> String {
    format!(
        "in ~/.config/containers/storage.conf:\n[storage]\ndriver = \"overlay\"\ngraphroot = \"{local_dir}\"\n\
         (or, for every user, rootless_storage_path = \"{local_dir}\" under [storage] in \
         /etc/containers/storage.conf, with $USER in the path), then `podman system reset`"
    )
}

/// Before the first pull of `image` into podman's storage at `graph_root`: refused on a
/// network filesystem, saying why and what to do, unless MLENV_ALLOW_NETWORK_STORAGE=1 says
/// the site's filesystem is known to work.
pub fn check_pull_target(graph_root: &Path, image: &str, allow: bool) -> Result<()> {
    let Some(FsKind::Network(fs)) = fs_magic(graph_root).map(fs_kind) else {
        return Ok(());
    };
    if allow {
        crate::ui::warn(&format!(
            "podman's storage {} is on {fs}; pulling {image} there as MLENV_ALLOW_NETWORK_STORAGE asks",
            graph_root.display()
        ));
        return Ok(());
    }
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| nix::unistd::getuid().to_string(), |u| u.name);
    Err(eyre!(
        "not pulling {image}: podman's storage {} is on {fs}, where rootless image storage fails in odd ways and an NGC image (about 20 GB) fills a home quota; move it to a local disk, {}; or set MLENV_ALLOW_NETWORK_STORAGE=1 if this filesystem is known to work here",
        graph_root.display(),
        local_storage_snippet(&local_dir(&user, fs_magic))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dirs() {
        let nfs_var_tmp = |p: &Path| {
            Some(if p == Path::new("/var/tmp") {
                0x6969
            } else {
                0xEF53
            })
        };
        assert_eq!(local_dir("ada", nfs_var_tmp), "/tmp/ada/containers/storage");
        assert_eq!(
            local_dir("ada", |_| Some(0xEF53)),
            "/var/tmp/ada/containers/storage"
        );
        assert_eq!(
            local_dir("ada", |_| None),
            "/var/tmp/ada/containers/storage"
        );
    }
}
