//! The user's systemd manager, as mlenv asks it: whether one runs, which unit runs a
//! container, `systemctl --user VERB UNIT`, and why a unit's start failed (from systemctl
//! and journalctl). No unit files here: those are [`crate::autostart`]'s.

use std::path::PathBuf;

use color_eyre::eyre::{eyre, Result, WrapErr};

use crate::podman::Container;

/// The systemd unit that runs `c`, when a user manager is there to ask: podman labels a
/// container `podman run` made inside a unit (a quadlet one, at boot) with it. Stopping such
/// a container behind systemd's back fails the unit, whose `--rm` removes the container
/// and whose `Restart=` makes a new one; `down` and `restart` go through systemd instead.
pub fn managing_unit(c: &Container) -> Option<String> {
    let unit = c.label("PODMAN_SYSTEMD_UNIT")?;
    (user_manager() && unit.ends_with(".service")).then(|| unit.to_string())
}

/// `systemctl --user VERB UNIT`, waiting for the job; its own error when it fails.
pub fn systemctl(verb: &str, unit: &str) -> Result<()> {
    let out = std::process::Command::new("systemctl")
        .args(["--user", verb, unit])
        .output()
        .wrap_err("cannot run systemctl")?;
    if out.status.success() {
        return Ok(());
    }
    Err(eyre!(
        "systemctl --user {verb} {unit} failed: {} (journalctl --user -u {unit} says why)",
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// A unit whose start failed (or keeps failing): what `status` shows of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The systemd unit, `mlenv-….service`.
    pub unit: String,
    /// systemd's state of it: `failed`, or `auto-restart` while it retries.
    pub state: String,
    /// The line of its journal that says why, when the journal can be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The autostart unit of `container`, when the user manager says its start failed. Asks
/// systemctl and journalctl: for `status` of an environment that is not running only.
pub fn failure(container: &str) -> Option<Failure> {
    if !user_manager() {
        return None;
    }
    let unit = format!("{container}.service");
    let out = std::process::Command::new("systemctl")
        .args(["--user", "show", "--property=ActiveState,SubState", &unit])
        .output()
        .ok()?;
    let state = failed_state(&String::from_utf8_lossy(&out.stdout))?;
    let journal = std::process::Command::new("journalctl")
        .args([
            "--user",
            "--unit",
            &unit,
            "--lines=40",
            "--output=cat",
            "--no-pager",
            "--quiet",
        ])
        .output()
        .ok();
    let reason = journal.and_then(|j| failure_reason(&String::from_utf8_lossy(&j.stdout)));
    Some(Failure {
        unit,
        state,
        reason,
    })
}

/// From `systemctl show --property=ActiveState,SubState`: `failed`, or `auto-restart`
/// for a unit between two failed tries; None for a unit that is fine.
fn failed_state(show: &str) -> Option<String> {
    let prop = |k: &str| {
        show.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .unwrap_or("")
    };
    match (prop("ActiveState"), prop("SubState")) {
        ("failed", _) => Some("failed".into()),
        (_, "auto-restart") => Some("auto-restart".into()),
        _ => None,
    }
}

/// The journal line that says why a start failed: podman's last `Error:` line, else the
/// last line that speaks of an error or failure, else the last line.
fn failure_reason(journal: &str) -> Option<String> {
    let lines: Vec<&str> = journal
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let last = |f: &dyn Fn(&str) -> bool| lines.iter().rev().find(|l| f(l)).map(|l| l.to_string());
    last(&|l| l.starts_with("Error:"))
        .or_else(|| last(&|l| l.to_lowercase().contains("error")))
        .or_else(|| last(&|l| l.to_lowercase().contains("fail")))
        .or_else(|| lines.last().map(|l| l.to_string()))
}

/// Whether a systemd user manager runs for this user (its private socket exists).
pub fn user_manager() -> bool {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .is_some_and(|d| d.join("systemd/private").exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_states() {
        for (show, want) in [
            ("ActiveState=failed\nSubState=failed\n", Some("failed")),
            (
                "ActiveState=activating\nSubState=auto-restart\n",
                Some("auto-restart"),
            ),
            ("ActiveState=active\nSubState=running\n", None),
            ("ActiveState=inactive\nSubState=dead\n", None),
            ("", None),
        ] {
            assert_eq!(failed_state(show).as_deref(), want, "{show:?}");
        }
    }

    #[test]
    fn failure_reasons() {
        for (journal, want) in [
            (
                "Starting mlenv environment x...\nError: setting up CDI devices: unresolvable CDI devices mlenv.test/dev=zero\nmlenv-x.service: Main process exited, code=exited, status=125/n/a\nmlenv-x.service: Failed with result 'exit-code'.\n",
                Some("Error: setting up CDI devices: unresolvable CDI devices mlenv.test/dev=zero"),
            ),
            (
                "a\ncrun: executable file not found: error\nmlenv-x.service: Failed with result 'exit-code'.\n",
                Some("crun: executable file not found: error"),
            ),
            ("a\nb\n", Some("b")),
            ("", None),
        ] {
            assert_eq!(failure_reason(journal).as_deref(), want, "{journal:?}");
        }
    }
}
