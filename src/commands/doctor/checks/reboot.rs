//! Coming back after a reboot: the user manager and lingering.

use std::path::Path;

use super::{Check, Level};

/// A systemd user manager starts the environments' units at boot (or login).
pub fn user_manager(present: bool, runtime_dir: Option<&Path>, user: &str, euid: u32) -> Check {
    const NAME: &str = "systemd user manager";
    if euid == 0 {
        return Check::new(
            NAME,
            Level::Info,
            "running as root: the system manager is used",
        );
    }
    if present {
        return Check::new(NAME, Level::Ok, "running");
    }
    let socket = runtime_dir.map_or_else(
        || "$XDG_RUNTIME_DIR/systemd/private (XDG_RUNTIME_DIR is not set)".to_string(),
        |d| d.join("systemd/private").display().to_string(),
    );
    Check::new(
        NAME,
        Level::Warn,
        format!("none runs for {user} ({socket} is missing): environments are not started again after a reboot; run `mlenv up` then"),
    )
    .fix(format!("log in through a systemd (logind) session; loginctl enable-linger {user} starts the manager at boot"))
}

/// Linger keeps the user manager running without a login, so units start at boot.
pub fn linger(lingering: bool, user: &str, euid: u32) -> Check {
    const NAME: &str = "linger";
    if euid == 0 {
        return Check::new(NAME, Level::Info, "running as root: not needed");
    }
    if lingering {
        return Check::new(
            NAME,
            Level::Ok,
            format!("enabled for {user}: environments start at boot"),
        );
    }
    Check::new(
        NAME,
        Level::Warn,
        format!("off for {user} (no /var/lib/systemd/linger/{user}): environments come back only when you log in after a reboot"),
    )
    .fix(format!("loginctl enable-linger {user}"))
}
