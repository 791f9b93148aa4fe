//! mlenv's per-project state dir: the `up` lock, the debug log, the env digest key.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr};
use nix::fcntl::{Flock, FlockArg};

pub fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .wrap_err_with(|| format!("cannot create state dir {}", dir.display()))
}

/// Writes a file whole or not at all, with `mode` whatever the umask: readers (podman
/// reading a CDI spec, systemd a unit) may look at any moment. Through a temporary file in
/// the same folder, renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.mlenv-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let result = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        // The umask may have narrowed the mode.
        .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub fn log_path(state_dir: &Path) -> PathBuf {
    state_dir.join("mlenv.log")
}

/// Holds the project's lock until dropped. Two `mlenv up` in one folder then create one
/// container: the second waits, and finds the first one's container.
pub struct ProjectLock {
    _lock: Flock<File>,
}

/// Takes the project's exclusive lock, waiting (and saying so) while another mlenv holds it.
/// Rust opens files close-on-exec, so the lock never leaks into conmon or other children,
/// which would otherwise keep it held long after mlenv exits.
pub fn lock_project(state_dir: &Path) -> Result<ProjectLock> {
    create_private_dir(state_dir)?;
    let path = state_dir.join("lock");
    let open = || {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .wrap_err_with(|| format!("cannot open lock file {}", path.display()))
    };
    match Flock::lock(open()?, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(ProjectLock { _lock: lock }),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            crate::ui::info("Another mlenv is working on this project; waiting for it to finish");
            let lock = Flock::lock(open()?, FlockArg::LockExclusive)
                .map_err(|(_, e)| e)
                .wrap_err_with(|| format!("cannot lock {}", path.display()))?;
            Ok(ProjectLock { _lock: lock })
        }
        Err((_, e)) => Err(e).wrap_err_with(|| format!("cannot lock {}", path.display())),
    }
}

/// The file in a state dir naming its project folder, so `clean --all` can say whose
/// leftovers a state dir holds once the container (and its label) is gone.
const PROJECT_FILE: &str = "project";

/// Records the project folder in its state dir (on the cold path of `up` only).
pub fn record_project(state_dir: &Path, project_dir: &Path) -> Result<()> {
    let path = state_dir.join(PROJECT_FILE);
    write_atomic(&path, project_dir.as_os_str().as_encoded_bytes(), 0o600)
        .wrap_err_with(|| format!("cannot write {}", path.display()))
}

/// The project folder a state dir was recorded for, if any.
pub fn recorded_project(state_dir: &Path) -> Option<String> {
    std::fs::read_to_string(state_dir.join(PROJECT_FILE))
        .ok()
        .filter(|p| !p.is_empty())
}

/// A random per-user key for digests of env-file values; readable only by the user.
pub fn digest_key(state_root: &Path) -> Result<Vec<u8>> {
    create_private_dir(state_root)?;
    let path = state_root.join("digest.key");
    if let Ok(mut f) = File::open(&path) {
        let mut key = Vec::new();
        f.read_to_end(&mut key)
            .wrap_err_with(|| format!("cannot read {}", path.display()))?;
        if key.len() >= 32 {
            return Ok(key);
        }
    }
    let mut key = vec![0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut r| r.read_exact(&mut key))
        .wrap_err("cannot read /dev/urandom")?;
    let tmp = state_root.join(format!("digest.key.{}", std::process::id()));
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .wrap_err_with(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(&key)?;
    // Rename is atomic: two first runs at once both end up with one key.
    std::fs::rename(&tmp, &path).wrap_err_with(|| format!("cannot write {}", path.display()))?;
    let mut key = Vec::new();
    File::open(&path)?.read_to_end(&mut key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_is_whole_and_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nvidia.yaml");
        write_atomic(&path, b"a", 0o644).unwrap();
        write_atomic(&path, b"b", 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
