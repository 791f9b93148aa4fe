//! cgroups: the version, delegated controllers, and what that means for --memory/--cpus.

use serde_json::json;

use super::{Check, Level};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cgroups {
    /// cgroup v1; `hybrid` when a v2 hierarchy is mounted beside it (systemd's hybrid mode).
    V1 {
        hybrid: bool,
    },
    V2,
}

const DELEGATE_FIX: &str = "delegate them to users: sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload, then log in again";

/// Memory and CPU limits: rootless podman applies them only on cgroup v2 with the `cpu`
/// and `memory` controllers delegated to the user. `delegated` is the user's controllers
/// when known; `limits` whether the project configures any.
pub fn cgroups(version: Cgroups, delegated: Option<&[String]>, limits: bool, euid: u32) -> Check {
    const NAME: &str = "cgroups";
    if euid == 0 {
        return Check::new(
            NAME,
            Level::Ok,
            "running as root: rootful podman applies memory and CPU limits",
        );
    }
    let facts = json!({
        "version": if version == Cgroups::V2 { "v2" } else { "v1" },
        "delegated": delegated,
        "limits": limits,
    });
    match version {
        Cgroups::V1 { hybrid } => {
            let what = if hybrid {
                "cgroup v1 (hybrid: v2 is mounted only beside it)"
            } else {
                "cgroup v1"
            };
            if limits {
                Check::new(
                    NAME,
                    Level::Fail,
                    format!("{what}: rootless podman cannot apply the memory and CPU limits the project configures (they would be dropped)"),
                )
                .fix(format!(
                    "boot with cgroup v2 (add systemd.unified_cgroup_hierarchy=1 to the kernel command line, e.g. GRUB_CMDLINE_LINUX in /etc/default/grub, then sudo update-grub and reboot) and {DELEGATE_FIX}; or remove the limits from the project's configuration"
                ))
                .facts(facts)
            } else {
                Check::new(
                    NAME,
                    Level::Info,
                    format!("{what}: rootless podman cannot apply memory or CPU limits (none are configured)"),
                )
                .facts(facts)
            }
        }
        Cgroups::V2 => {
            let Some(list) = delegated else {
                let level = if limits { Level::Warn } else { Level::Info };
                return Check::new(
                    NAME,
                    level,
                    "cgroup v2, but which controllers are delegated to you is unknown (no systemd user slice to read)",
                )
                .fix(DELEGATE_FIX)
                .facts(facts);
            };
            let missing: Vec<&str> = ["cpu", "memory"]
                .into_iter()
                .filter(|c| !list.iter().any(|d| d == c))
                .collect();
            if missing.is_empty() {
                return Check::new(
                    NAME,
                    Level::Ok,
                    "cgroup v2 with cpu and memory delegated to you",
                )
                .facts(facts);
            }
            let what = format!(
                "cgroup v2, but {} not delegated to you (delegated: {})",
                missing.join(" and "),
                if list.is_empty() {
                    "none".to_string()
                } else {
                    list.join(" ")
                }
            );
            if limits {
                Check::new(
                    NAME,
                    Level::Fail,
                    format!("{what}: the project's limits cannot be applied"),
                )
                .fix(DELEGATE_FIX)
                .facts(facts)
            } else {
                Check::new(
                    NAME,
                    Level::Info,
                    format!("{what}: limits would not work (none are configured)"),
                )
                .fix(DELEGATE_FIX)
                .facts(facts)
            }
        }
    }
}
