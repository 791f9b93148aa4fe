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
    let user = crate::dirs::user_name();
    Err(eyre!(
        "not pulling {image}: podman's storage {} is on {fs}, where rootless image storage fails in odd ways and an NGC image (about 20 GB) fills a home quota; move it to a local disk, {}; or set MLENV_ALLOW_NETWORK_STORAGE=1 if this filesystem is known to work here",
        graph_root.display(),
        local_storage_snippet(&local_dir(&user, fs_magic))
    ))
}

/// The first folder on the way to `path` (from `/` down, `path` itself included) that other
/// users may not enter (no `o+x`), with its mode. With keep-id the container's root is a
/// subordinate uid, an "other user" to the owner: some OCI runtimes (crun) must enter the
/// storage's folders as that uid and fail with "Permission denied" (podman#25189, #24704).
pub fn untraversable_ancestor(
    path: &Path,
    mode_of: impl Fn(&Path) -> Option<u32>,
) -> Option<(std::path::PathBuf, u32)> {
    let mut ancestors: Vec<&Path> = path.ancestors().collect();
    ancestors.reverse();
    ancestors.into_iter().find_map(|a| {
        mode_of(a)
            .filter(|m| m & 0o001 == 0)
            .map(|m| (a.to_path_buf(), m & 0o7777))
    })
}

/// The mode of `path` as the filesystem has it.
pub fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
}

/// What to add to a keep-id start that failed with "permission denied", when the storage's
/// path has a folder other users may not enter: the cause, and moving storage as the fix
/// (not opening the home folder to everyone).
pub fn permission_hint(graph_root: &Path, user: &str, ancestor: &Path, mode: u32) -> String {
    format!(
        "{} (mode {mode:04o}) on the way to podman's storage {} cannot be entered by the container's root, which keep-id maps to a subordinate uid; move the storage to a folder it can reach, {}",
        ancestor.display(),
        graph_root.display(),
        local_storage_snippet(&local_dir(user, crate::fsx::fs_magic))
    )
}

/// What mlenv needs to know of podman's storage on the cold path (where it is, whether it
/// maps IDs itself), kept between runs: `/libpod/info` costs podman 4.3 a quarter of a
/// second or more (it runs conmon and the OCI runtime), and these facts change only with the
/// storage configuration. Asked again when the socket, podman's version or the folder changes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StorageFacts {
    pub graph_root: String,
    pub graph_driver: String,
    pub supports_shifting: bool,
    pub mount_program: Option<String>,
    pub storage_conf: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    socket: String,
    version: String,
    /// The storage.conf files podman reads, each with its modification time: moving storage
    /// (as doctor advises) edits one of them, which makes the record stale.
    configs: Vec<(String, Option<u64>)>,
    facts: StorageFacts,
}

/// The storage.conf files that can change where podman's storage is, with their mtimes.
fn storage_configs() -> Vec<(String, Option<u64>)> {
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    if let Some(f) = std::env::var_os("CONTAINERS_STORAGE_CONF") {
        files.push(f.into());
    }
    if let Some(config) = crate::dirs::base(crate::dirs::Base::Config) {
        files.push(config.join("containers/storage.conf"));
    }
    files.push("/etc/containers/storage.conf".into());
    files.push("/usr/share/containers/storage.conf".into());
    files
        .into_iter()
        .map(|f| {
            let mtime = std::fs::metadata(&f)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as u64);
            (f.display().to_string(), mtime)
        })
        .collect()
}

impl From<&crate::podman::ServiceInfo> for StorageFacts {
    fn from(i: &crate::podman::ServiceInfo) -> StorageFacts {
        StorageFacts {
            graph_root: i.graph_root.clone(),
            graph_driver: i.graph_driver.clone(),
            supports_shifting: i.supports_shifting,
            mount_program: i.mount_program.clone(),
            storage_conf: i.storage_conf.clone(),
        }
    }
}

/// podman's storage facts: from mlenv's record when it is for this socket, this podman and
/// a storage folder that still exists, else from `/libpod/info` (and recorded).
pub async fn storage_facts(podman: &crate::podman::Podman) -> Option<StorageFacts> {
    let file = crate::project::state_root().ok()?.join("storage.json");
    let socket = podman.socket().display().to_string();
    let version = podman.version().await.ok()?;
    let configs = storage_configs();
    if let Ok(bytes) = std::fs::read(&file) {
        if let Ok(k) = serde_json::from_slice::<Kept>(&bytes) {
            if k.socket == socket
                && k.version == version
                && k.configs == configs
                && Path::new(&k.facts.graph_root).is_dir()
            {
                return Some(k.facts);
            }
        }
    }
    let facts = StorageFacts::from(&podman.info().await.ok()?);
    if let Some(dir) = file.parent() {
        let _ = crate::fsx::create_private_dir(dir);
    }
    let kept = Kept {
        socket,
        version,
        configs,
        facts: facts.clone(),
    };
    if let Ok(text) = serde_json::to_vec(&kept) {
        let _ = crate::fsx::write_atomic(&file, &text, 0o600);
    }
    Some(facts)
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

    #[test]
    fn untraversable_folders() {
        let modes = |p: &Path| {
            Some(match p.to_str().unwrap() {
                "/home/u" => 0o40700,
                "/home/u/.local" => 0o40700,
                _ => 0o40755,
            })
        };
        assert_eq!(
            untraversable_ancestor(Path::new("/home/u/.local/share/containers/storage"), modes),
            Some(("/home/u".into(), 0o700))
        );
        assert_eq!(
            untraversable_ancestor(Path::new("/var/tmp/u/storage"), modes),
            None
        );
        let hint = permission_hint(Path::new("/home/u/s"), "u", Path::new("/home/u"), 0o700);
        assert!(
            hint.starts_with("/home/u (mode 0700) on the way to podman's storage /home/u/s"),
            "{hint}"
        );
        assert!(
            hint.contains("graphroot = ") && !hint.contains("chmod"),
            "{hint}"
        );
    }
}
