//! Which socket to talk to: `--host`/`CONTAINER_HOST`, then the usual places.

use std::path::{Path, PathBuf};

/// Where the socket was looked for, in order, and whether the caller chose it.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketChoice {
    pub path: PathBuf,
    pub explicit: bool,
}

/// Picks the socket: `--host`/`CONTAINER_HOST` (unix:// only), then
/// `$XDG_RUNTIME_DIR/podman/podman.sock`, `/run/user/$UID/podman/podman.sock`, then where
/// podman keeps its runtime files when a user has neither (as after `ssh` to a login node
/// without a systemd session, or `su`): `$TMPDIR/podman-run-$UID` for podman 4,
/// `$TMPDIR/storage-run-$UID` for podman 5 (TMPDIR defaults to /tmp), and for root
/// `/run/podman/podman.sock`. The first candidate that exists wins; when none does, the
/// first whose runtime folder exists (the one a podman already run there uses), else
/// podman 5's (root: the system service's).
pub fn choose_socket(
    host: Option<&str>,
    runtime_dir: Option<&str>,
    tmp_dir: Option<&str>,
    uid: u32,
    exists: impl Fn(&Path) -> bool,
) -> Result<SocketChoice, String> {
    choose_socket_trusting(host, runtime_dir, tmp_dir, uid, exists, |d| {
        private_dir_of(d, uid)
    })
}

/// The runtime folders podman uses without XDG_RUNTIME_DIR or /run/user/UID, under
/// `tmp_dir` (`$TMPDIR`, as Go's `os.TempDir`; /tmp when unset or not absolute): podman
/// 4's own (`podman-run-UID`), then podman 5's, which takes containers/storage's
/// (`storage-run-UID`).
fn tmp_runtime_dirs(tmp_dir: Option<&str>, uid: u32) -> [PathBuf; 2] {
    let base = Path::new(tmp_dir.filter(|t| t.starts_with('/')).unwrap_or("/tmp"));
    [
        base.join(format!("podman-run-{uid}")),
        base.join(format!("storage-run-{uid}")),
    ]
}

/// The runtime folder above a socket's `podman/` (`/tmp/storage-run-UID` for
/// `/tmp/storage-run-UID/podman/podman.sock`): where podman keeps its runtime files beside
/// the socket, and the folder to check before trusting a socket in /tmp.
pub fn runtime_dir_for(sock: &Path) -> Option<PathBuf> {
    let podman_dir = sock.parent()?;
    (podman_dir.file_name()? == "podman").then(|| podman_dir.parent().map(Path::to_path_buf))?
}

/// Whether `dir` is a folder (not a link) that `uid` owns and no one else may enter: what
/// a runtime folder in the world-writable /tmp must be before mlenv sends it anything.
/// Another user could make `/tmp/podman-run-UID` first and listen there for the requests,
/// env values and all (podman checks the same before it uses the folder).
pub fn private_dir_of(dir: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
}

/// [`choose_socket`], with the test for a /tmp runtime folder given (`trusted`).
pub fn choose_socket_trusting(
    host: Option<&str>,
    runtime_dir: Option<&str>,
    tmp_dir: Option<&str>,
    uid: u32,
    exists: impl Fn(&Path) -> bool,
    trusted: impl Fn(&Path) -> bool,
) -> Result<SocketChoice, String> {
    if let Some(host) = host.filter(|h| !h.is_empty()) {
        let path = host.strip_prefix("unix://").ok_or_else(|| {
            format!("invalid --host/CONTAINER_HOST {host:?}: only unix:// sockets are supported, e.g. unix:///run/user/{uid}/podman/podman.sock")
        })?;
        if !path.starts_with('/') {
            return Err(format!(
                "invalid --host/CONTAINER_HOST {host:?}: expected an absolute path after unix://"
            ));
        }
        return Ok(SocketChoice {
            path: path.into(),
            explicit: true,
        });
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = runtime_dir.filter(|d| !d.is_empty()) {
        candidates.push(Path::new(dir).join("podman/podman.sock"));
    }
    candidates.push(format!("/run/user/{uid}/podman/podman.sock").into());
    let tmp_dirs = tmp_runtime_dirs(tmp_dir, uid);
    for dir in &tmp_dirs {
        candidates.push(dir.join("podman/podman.sock"));
    }
    if uid == 0 {
        candidates.insert(0, "/run/podman/podman.sock".into());
    }
    candidates.dedup();
    // A folder in the world-writable TMPDIR counts only when it is the user's own and
    // private; one that does not exist yet may still be named, as where podman would go.
    for dir in &tmp_dirs {
        if exists(dir) && !trusted(dir) {
            candidates.retain(|c| !c.starts_with(dir));
        }
    }
    let path = candidates
        .iter()
        .find(|p| exists(p))
        .or_else(|| {
            candidates
                .iter()
                .find(|p| runtime_dir_for(p).is_some_and(|r| exists(&r)))
        })
        // Root's is the system service's; a user's, podman 5's (what Fedora and RHEL run).
        .unwrap_or(&candidates[if uid == 0 { 0 } else { candidates.len() - 1 }])
        .clone();
    Ok(SocketChoice {
        path,
        explicit: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_dirs() {
        assert_eq!(
            runtime_dir_for(Path::new("/tmp/podman-run-1000/podman/podman.sock")),
            Some(PathBuf::from("/tmp/podman-run-1000"))
        );
        assert_eq!(
            runtime_dir_for(Path::new("/run/user/1000/podman/podman.sock")),
            Some(PathBuf::from("/run/user/1000"))
        );
        assert_eq!(runtime_dir_for(Path::new("/srv/p.sock")), None);
    }

    #[test]
    fn socket_order() {
        let none = |_: &Path| false;
        // Nothing exists at all (ssh without a session): where podman 5 would go.
        let c = choose_socket_trusting(None, None, None, 1000, none, |_| false).unwrap();
        assert_eq!(
            c.path,
            Path::new("/tmp/storage-run-1000/podman/podman.sock")
        );
        // A podman already run without a session made its runtime folder: that one's.
        for (dir, tmp, want) in [
            (
                "/tmp/podman-run-1000",
                None,
                "/tmp/podman-run-1000/podman/podman.sock",
            ),
            (
                "/tmp/storage-run-1000",
                None,
                "/tmp/storage-run-1000/podman/podman.sock",
            ),
            // TMPDIR, as podman's os.TempDir() reads it; a relative one is ignored.
            (
                "/scratch/u/storage-run-1000",
                Some("/scratch/u"),
                "/scratch/u/storage-run-1000/podman/podman.sock",
            ),
            (
                "/tmp/podman-run-1000",
                Some("rel"),
                "/tmp/podman-run-1000/podman/podman.sock",
            ),
        ] {
            let c =
                choose_socket_trusting(None, None, tmp, 1000, |p| p == Path::new(dir), |_| true)
                    .unwrap();
            assert_eq!(c.path, Path::new(want), "{dir} {tmp:?}");
        }
        // Both, with podman 5's socket live: the socket wins over the folder order.
        let live = |p: &Path| {
            p == Path::new("/tmp/podman-run-1000") || p.starts_with("/tmp/storage-run-1000")
        };
        let c = choose_socket_trusting(None, None, None, 1000, live, |_| true).unwrap();
        assert_eq!(
            c.path,
            Path::new("/tmp/storage-run-1000/podman/podman.sock")
        );
        // Root with nothing running: the system service's socket.
        let c = choose_socket_trusting(None, None, None, 0, none, |_| false).unwrap();
        assert_eq!(c.path, Path::new("/run/podman/podman.sock"));
        // No socket yet, but a runtime folder: that one.
        let c = choose_socket(None, None, None, 1000, |p: &Path| {
            p == Path::new("/run/user/1000")
        })
        .unwrap();
        assert_eq!(c.path, Path::new("/run/user/1000/podman/podman.sock"));
        let c = choose_socket(None, Some("/run/user/1000"), None, 1000, |p: &Path| {
            p == Path::new("/run/user/1000")
        })
        .unwrap();
        assert_eq!(c.path, Path::new("/run/user/1000/podman/podman.sock"));
        // A service started without a session is found where it put its socket, when the
        // folder is the user's own and private...
        let tmp_sock = Path::new("/tmp/podman-run-1000/podman/podman.sock");
        let there = |p: &Path| p == tmp_sock || p == Path::new("/tmp/podman-run-1000");
        let c = choose_socket_trusting(None, None, None, 1000, there, |_| true).unwrap();
        assert_eq!(c.path, tmp_sock);
        // ...and never when someone else made it: then podman 5's folder, or /run/user
        // when someone made that one too, whose absence the error names.
        let c = choose_socket_trusting(None, None, None, 1000, there, |_| false).unwrap();
        assert_eq!(
            c.path,
            Path::new("/tmp/storage-run-1000/podman/podman.sock")
        );
        let both = |p: &Path| there(p) || p == Path::new("/tmp/storage-run-1000");
        let c = choose_socket_trusting(None, None, None, 1000, both, |_| false).unwrap();
        assert_eq!(c.path, Path::new("/run/user/1000/podman/podman.sock"));
        let c = choose_socket(None, Some("/x"), None, 1000, |p: &Path| {
            p.starts_with("/run/user")
        })
        .unwrap();
        assert_eq!(c.path, Path::new("/run/user/1000/podman/podman.sock"));
        let c = choose_socket(None, None, None, 0, |p: &Path| {
            p.starts_with("/run/podman/")
        })
        .unwrap();
        assert_eq!(c.path, Path::new("/run/podman/podman.sock"));
        let c = choose_socket(Some("unix:///tmp/p.sock"), Some("/x"), None, 1000, none).unwrap();
        assert_eq!(
            c,
            SocketChoice {
                path: "/tmp/p.sock".into(),
                explicit: true
            }
        );
        for bad in [
            "tcp://1.2.3.4:8080",
            "ssh://u@h/run/p.sock",
            "unix://rel.sock",
        ] {
            let e = choose_socket(Some(bad), None, None, 1000, none).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
