//! The few errors whose kind decides the exit code; everything else is an
//! `eyre::Report` with context and exits 1.

use std::fmt;

use color_eyre::eyre::Report;

/// Exit code for bad input (flags, files, config values).
pub const EXIT_INVALID: u8 = 2;
/// Exit code when the Podman API cannot be reached.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit code when `up` finds the environment running with other settings.
pub const EXIT_DRIFT: u8 = 4;

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
