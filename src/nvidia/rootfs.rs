//! Paths under a root prefix: discovery reads a host's files below `root` ("/" on a real
//! host, a fixture tree in tests), so an absolute path or symlink target seen inside the
//! host means `root` + that path.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Linux's limit on symlinks followed while resolving one path (`MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// `path`, absolute as seen inside `root`, as a path on this machine.
pub fn join(root: &Path, path: impl AsRef<Path>) -> PathBuf {
    let path = path.as_ref();
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Resolves `path` (absolute, as seen inside `root`) to the real file on this machine,
/// following symlinks as if `root` were `/`: an absolute target restarts at `root`, and `..`
/// never leaves it. Fails when a component does not exist or there are too many links.
pub fn resolve(root: &Path, path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let mut todo: VecDeque<OsString> = components(path.as_ref()).collect();
    let mut done: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            done.pop();
            continue;
        }
        let at = root.join(done.iter().collect::<PathBuf>()).join(&name);
        let meta = fs::symlink_metadata(&at)?;
        if !meta.file_type().is_symlink() {
            done.push(name);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(io::Error::other(format!(
                "too many levels of symbolic links at {}",
                at.display()
            )));
        }
        let target = fs::read_link(&at)?;
        if target.is_absolute() {
            done.clear();
        }
        for (i, part) in components(&target).enumerate() {
            todo.insert(i, part);
        }
    }
    Ok(root.join(done.iter().collect::<PathBuf>()))
}

/// The names and `..` of a path; `/` and `.` dropped.
fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(name) => Some(name.to_os_string()),
        Component::ParentDir => Some("..".into()),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn resolves_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("usr/lib/x86_64-linux-gnu")).unwrap();
        fs::write(
            root.join("usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"),
            "",
        )
        .unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        symlink(
            "libcuda.so.550.54.15",
            root.join("usr/lib/x86_64-linux-gnu/libcuda.so.1"),
        )
        .unwrap();
        symlink(
            "/lib/x86_64-linux-gnu/libcuda.so.1",
            root.join("usr/lib/x86_64-linux-gnu/libcuda.so"),
        )
        .unwrap();
        symlink("../../../../..", root.join("usr/lib/x86_64-linux-gnu/up")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        let real = root.join("usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15");
        for path in [
            "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
            "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
            "/lib/x86_64-linux-gnu/libcuda.so.1",
            "/lib/x86_64-linux-gnu/libcuda.so",
            "lib/x86_64-linux-gnu/libcuda.so",
            "/usr/lib/x86_64-linux-gnu/up/usr/lib/x86_64-linux-gnu/libcuda.so",
            "/../../lib/./x86_64-linux-gnu/libcuda.so",
        ] {
            assert_eq!(resolve(root, path).unwrap(), real, "{path}");
        }
        assert_eq!(resolve(root, "/").unwrap(), root);
        assert_eq!(
            resolve(root, "/lib/nope").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(resolve(root, "/loop")
            .unwrap_err()
            .to_string()
            .contains("too many levels"));
        assert_eq!(join(root, "/dev/nvidia0"), root.join("dev/nvidia0"));
        assert_eq!(
            join(Path::new("/"), "/dev/nvidia0"),
            Path::new("/dev/nvidia0")
        );
    }
}
