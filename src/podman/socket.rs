//! Which socket to talk to: `--host`/`CONTAINER_HOST`, then the usual places.

use std::path::{Path, PathBuf};

/// Where the socket was looked for, in order, and whether the caller chose it.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketChoice {
    pub path: PathBuf,
    pub explicit: bool,
}

/// Picks the socket: `--host`/`CONTAINER_HOST` (unix:// only), then
/// `$XDG_RUNTIME_DIR/podman/podman.sock`, `/run/user/$UID/podman/podman.sock`,
/// `/tmp/podman-run-$UID/podman/podman.sock` (where podman keeps its runtime files when a
/// user has neither, as after `ssh` to a login node without a systemd session, or `su`),
/// and for root `/run/podman/podman.sock`. The first candidate that exists wins; when none
/// does, the one podman itself would use: the first whose runtime folder exists, so that
/// `mlenv service start` starts the service where podman's CLI finds it too.
pub fn choose_socket(
    host: Option<&str>,
    runtime_dir: Option<&str>,
    uid: u32,
    exists: impl Fn(&Path) -> bool,
) -> Result<SocketChoice, String> {
    choose_socket_trusting(host, runtime_dir, uid, exists, |d| private_dir_of(d, uid))
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
    let tmp_dir = PathBuf::from(format!("/tmp/podman-run-{uid}"));
    candidates.push(tmp_dir.join("podman/podman.sock"));
    if uid == 0 {
        candidates.insert(0, "/run/podman/podman.sock".into());
    }
    candidates.dedup();
    // The runtime folder above `podman/`.
    let runtime = |p: &Path| p.parent().and_then(Path::parent).map(Path::to_path_buf);
    // A /tmp folder counts only when it is the user's own and private.
    let tmp_ok = trusted(&tmp_dir);
    if tmp_ok {
        // nothing to drop
    } else if exists(&tmp_dir) {
        candidates.retain(|c| !c.starts_with(&tmp_dir));
    }
    let path = candidates
        .iter()
        .find(|p| exists(p))
        .or_else(|| {
            candidates
                .iter()
                .find(|p| runtime(p).is_some_and(|r| exists(&r)))
        })
        .unwrap_or(&candidates[candidates.len() - 1])
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
    fn socket_order() {
        let none = |_: &Path| false;
        // Nothing exists at all (ssh without a session): where podman itself would go.
        let c = choose_socket_trusting(None, None, 1000, none, |_| false).unwrap();
        assert_eq!(c.path, Path::new("/tmp/podman-run-1000/podman/podman.sock"));
        // No socket yet, but a runtime folder: that one.
        let c = choose_socket(None, None, 1000, |p: &Path| {
            p == Path::new("/run/user/1000")
        })
        .unwrap();
        assert_eq!(c.path, Path::new("/run/user/1000/podman/podman.sock"));
        let c = choose_socket(None, Some("/run/user/1000"), 1000, |p: &Path| {
            p == Path::new("/run/user/1000")
        })
        .unwrap();
        assert_eq!(c.path, Path::new("/run/user/1000/podman/podman.sock"));
        // A service started without a session is found where it put its socket, when the
        // folder is the user's own and private...
        let tmp_sock = Path::new("/tmp/podman-run-1000/podman/podman.sock");
        let there = |p: &Path| p == tmp_sock || p == Path::new("/tmp/podman-run-1000");
        let c = choose_socket_trusting(None, None, 1000, there, |_| true).unwrap();
        assert_eq!(c.path, tmp_sock);
        // ...and never when someone else made it: then the default is the /run/user one,
        // whose absence the error names.
        let c = choose_socket_trusting(None, None, 1000, there, |_| false).unwrap();
        assert_eq!(c.path, Path::new("/run/user/1000/podman/podman.sock"));
        let c = choose_socket(None, Some("/x"), 1000, |p: &Path| {
            p.starts_with("/run/user")
        })
        .unwrap();
        assert_eq!(c.path, Path::new("/run/user/1000/podman/podman.sock"));
        let c = choose_socket(None, None, 0, |p: &Path| p.starts_with("/run/podman/")).unwrap();
        assert_eq!(c.path, Path::new("/run/podman/podman.sock"));
        let c = choose_socket(Some("unix:///tmp/p.sock"), Some("/x"), 1000, none).unwrap();
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
            let e = choose_socket(Some(bad), None, 1000, none).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
