//! File helpers whose errors name the path: atomic writes with a mode, private dirs,
//! removing what may be gone already.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An I/O failure on a path: "cannot write /x: Permission denied (os error 13)".
#[derive(Debug)]
pub struct PathError {
    pub action: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl PathError {
    pub fn kind(&self) -> std::io::ErrorKind {
        self.source.kind()
    }

    pub fn raw_os_error(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.action,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for PathError {}

fn at(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PathError {
    let path = path.to_path_buf();
    move |source| PathError {
        action,
        path,
        source,
    }
}

/// Creates `dir` and its parents, mode 0700 (for what it creates).
pub fn create_private_dir(dir: &Path) -> Result<(), PathError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(at("create", dir))
}

/// Writes a file whole or not at all, with `mode` whatever the umask: readers (podman
/// reading a CDI spec, systemd a unit) may look at any moment. Through a temporary file in
/// the same folder, renamed over the target (two writers at once: one of them wins whole).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PathError> {
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
    result.map_err(at("write", path))
}

/// Removes a file; `false` when it was not there.
pub fn remove_if_exists(path: &Path) -> Result<bool, PathError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(at("remove", path)(e)),
    }
}

/// The first file named `program` in the directories of `$PATH`, in order (as a shell and
/// podman's storage library look it up).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A filesystem, from its statfs magic number, as far as rootless podman's storage cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    /// Local and fine (ext4, xfs, btrfs, zfs, ...).
    Local(&'static str),
    /// In memory: fine, but gone at reboot.
    Memory(&'static str),
    /// A network or FUSE filesystem: rootless storage there breaks (no overlay upper dir,
    /// no xattrs or user namespace chowns, root squash, locks), and quotas are small.
    Network(&'static str),
    Unknown(i64),
}

/// The filesystem statfs's `f_type` names (linux/magic.h and the vendors' headers).
pub fn fs_kind(magic: i64) -> FsKind {
    // f_type is signed on some targets: compare the low 32 bits.
    match magic as u32 {
        0xEF53 => FsKind::Local("ext4"),
        0x5846_5342 => FsKind::Local("xfs"),
        0x9123_683E => FsKind::Local("btrfs"),
        0x2FC1_2FC1 => FsKind::Local("zfs"),
        0xF2F5_2010 => FsKind::Local("f2fs"),
        0x794C_7630 => FsKind::Local("overlay"),
        0x0102_1994 => FsKind::Memory("tmpfs"),
        0x6969 => FsKind::Network("NFS"),
        0x0BD0_0BD0 => FsKind::Network("Lustre"),
        0x4750_4653 => FsKind::Network("GPFS (Spectrum Scale)"),
        0x1983_0326 => FsKind::Network("BeeGFS"),
        0x6573_5546 => FsKind::Network("a FUSE filesystem"),
        0xFF53_4D42 => FsKind::Network("CIFS/SMB"),
        0xFE53_4D42 => FsKind::Network("SMB2"),
        0x00C3_6400 => FsKind::Network("CephFS"),
        0x5346_414F | 0x6B41_4653 => FsKind::Network("AFS"),
        0xAAD7_AAEA => FsKind::Network("PanFS"),
        other => FsKind::Unknown(other as i64),
    }
}

/// The filesystem holding `path`, or its nearest existing ancestor (storage that has never
/// held anything may not exist yet); `None` when even that cannot be looked at.
// f_type's type differs between targets (i64 on x86-64 glibc).
#[allow(clippy::unnecessary_cast)]
pub fn fs_magic(path: &std::path::Path) -> Option<i64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    nix::sys::statfs::statfs(existing)
        .ok()
        .map(|s| s.filesystem_type().0 as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_is_whole_and_keeps_its_mode() {
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

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/file");
        let e = write_atomic(&missing, b"x", 0o600).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        assert!(e
            .to_string()
            .starts_with(&format!("cannot write {}: ", missing.display())));
        assert!(!remove_if_exists(&missing).unwrap());
        let f = dir.path().join("f");
        std::fs::write(&f, "").unwrap();
        assert!(remove_if_exists(&f).unwrap());
    }

    #[test]
    fn which_finds_files_in_path() {
        assert_eq!(which("sh").map(|p| p.is_file()), Some(true));
        assert_eq!(which("mlenv-no-such-program"), None);
    }
}
