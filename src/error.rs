//! Exit codes and the errors whose kind decides them. Everything else is an `eyre::Report`
//! with context and exits 1. [`exit_of`] is the one place a failure becomes a message and a
//! code, and [`EXIT_CODES`] (shown by `--help` and the man page) lists the same codes.

use std::fmt;

use color_eyre::eyre::Report;

use crate::podman;

/// Exit code for an operation that failed (podman refused, the container is missing, ...).
pub const EXIT_FAILED: u8 = 1;
/// Exit code for bad input (flags, files, config values).
pub const EXIT_INVALID: u8 = 2;
/// Exit code when the Podman API cannot be reached.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit code when `up` finds the environment running with other settings.
pub const EXIT_DRIFT: u8 = 4;
/// Exit code after a Ctrl-C stopped what mlenv was running (128 + SIGINT, as a shell says).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Exit codes, documented in `mlenv help` and the man page: the constants above.
pub const EXIT_CODES: &str = "\
EXIT CODES:
    0    success
    1    an operation failed (podman refused, the container is missing, ...)
    2    bad input: a flag, file or config value was rejected; nothing was changed
    3    the Podman API could not be reached
    4    `up` found the environment running with other settings; nothing was changed
    130  interrupted by Ctrl-C; what mlenv was running in the container was stopped
    N    `exec` exits with the code of the command it ran (126: not executable, 127: not found)";

/// An error that carries its own exit code; its message is already complete.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// A rejected value; the message names the value and what is accepted.
pub fn invalid(message: impl Into<String>) -> Report {
    Report::new(Exit {
        code: EXIT_INVALID,
        message: message.into(),
    })
}

/// The exit status of a command run by `exec`, passed through without a message.
#[derive(Debug)]
pub struct CommandExit(pub u8);

impl fmt::Display for CommandExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "command exited with status {}", self.0)
    }
}

impl std::error::Error for CommandExit {}

/// The exit code a failure ends mlenv with, and the message to show (none for a command's
/// own exit status, which it has already explained).
pub fn exit_of(report: &Report) -> (u8, Option<String>) {
    if let Some(CommandExit(code)) = report.downcast_ref::<CommandExit>() {
        return (*code, None);
    }
    if let Some(exit) = report.downcast_ref::<Exit>() {
        return (exit.code, Some(exit.message.clone()));
    }
    // Anywhere in the chain: "cannot pull x: Cannot reach the Podman API at ...".
    let unreachable = report.chain().any(|e| {
        matches!(
            e.downcast_ref::<podman::Error>(),
            Some(podman::Error::Unreachable { .. })
        )
    });
    let code = if unreachable {
        EXIT_UNREACHABLE
    } else {
        EXIT_FAILED
    };
    (code, Some(format!("{report:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use color_eyre::eyre::{eyre, WrapErr};

    #[test]
    fn codes() {
        let unreachable = || podman::Error::Unreachable {
            socket: "/s".into(),
            reason: "refused".into(),
        };
        let wrapped: Report = Err::<(), _>(unreachable())
            .wrap_err("cannot pull x")
            .unwrap_err();
        let cases: Vec<(Report, u8, bool)> = vec![
            (CommandExit(7).into(), 7, false),
            (invalid("bad --port"), EXIT_INVALID, true),
            (unreachable().into(), EXIT_UNREACHABLE, true),
            (wrapped, EXIT_UNREACHABLE, true),
            (eyre!("podman refused"), EXIT_FAILED, true),
            (
                Exit {
                    code: EXIT_INTERRUPTED,
                    message: "Interrupted".into(),
                }
                .into(),
                EXIT_INTERRUPTED,
                true,
            ),
        ];
        for (report, code, message) in cases {
            let (c, m) = exit_of(&report);
            assert_eq!((c, m.is_some()), (code, message), "{report:#}");
        }
    }

    #[test]
    fn every_named_code_is_documented() {
        for code in [
            EXIT_FAILED,
            EXIT_INVALID,
            EXIT_UNREACHABLE,
            EXIT_DRIFT,
            EXIT_INTERRUPTED,
        ] {
            assert!(
                EXIT_CODES.contains(&format!("\n    {code} ")),
                "exit code {code} is not in EXIT_CODES"
            );
        }
    }
}
