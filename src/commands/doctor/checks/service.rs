//! The podman service: does it answer, rootless or not, which version.

use std::path::Path;

use serde_json::json;

use super::{Check, Level};

/// What the service said about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub version: String,
    pub rootless: bool,
}

/// The oldest podman mlenv supports (keep-id with `uid=`/`gid=`, CDI names in `devices`).
const OLDEST_PODMAN: (u64, u64) = (4, 3);

/// The socket answering, and a podman mlenv supports. `answer` is the service or why it
/// did not answer; `user_manager` picks the fix that starts it.
pub fn podman_service(
    socket: &Path,
    answer: &Result<Service, String>,
    euid: u32,
    user_manager: bool,
) -> Check {
    let service = match answer {
        Ok(s) => s,
        Err(why) => {
            let fix = if euid == 0 {
                "systemctl enable --now podman.socket".to_string()
            } else if user_manager {
                "systemctl --user enable --now podman.socket".to_string()
            } else {
                format!(
                    "mlenv service start   (no systemd user manager here: it runs podman system service --time=0 unix://{} in the background, its log in mlenv's state folder; with a manager: systemctl --user enable --now podman.socket)",
                    socket.display()
                )
            };
            return Check::new(
                "podman",
                Level::Fail,
                format!(
                    "no answer from the podman API at {} ({why})",
                    socket.display()
                ),
            )
            .fix(fix)
            .facts(json!({ "socket": socket }));
        }
    };
    let facts = json!({
        "socket": socket,
        "version": service.version,
        "rootless": service.rootless,
    });
    let mode = if service.rootless {
        "rootless"
    } else {
        "rootful"
    };
    match crate::gpu::policy::major_minor(&service.version) {
        Some(v) if v >= OLDEST_PODMAN => Check::new(
            "podman",
            Level::Ok,
            format!(
                "podman {} ({mode}) answers at {}",
                service.version,
                socket.display()
            ),
        )
        .facts(facts),
        Some(_) => Check::new(
            "podman",
            Level::Fail,
            format!(
                "podman {} is older than {}.{}, the oldest mlenv supports",
                service.version, OLDEST_PODMAN.0, OLDEST_PODMAN.1
            ),
        )
        .fix("upgrade podman (your distribution's podman package)")
        .facts(facts),
        None => Check::new(
            "podman",
            Level::Warn,
            format!(
                "podman answers at {} but reports an unreadable version {:?}",
                socket.display(),
                service.version
            ),
        )
        .facts(facts),
    }
}
