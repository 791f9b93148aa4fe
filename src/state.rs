//! mlenv's per-project state dir: the `up` lock, the debug log, the env digest key.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr};
use nix::fcntl::{Flock, FlockArg};

pub use crate::fsx::create_private_dir;

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
    Ok(crate::fsx::write_atomic(
        &path,
        project_dir.as_os_str().as_encoded_bytes(),
        0o600,
    )?)
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
    // Atomic: two first runs at once both end up with one key (the last rename's).
    crate::fsx::write_atomic(&path, &key, 0o600)?;
    let mut key = Vec::new();
    File::open(&path)?.read_to_end(&mut key)?;
    Ok(key)
}
