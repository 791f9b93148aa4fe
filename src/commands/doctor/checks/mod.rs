//! The decisions of `mlenv doctor`: each check is a pure function from facts the caller
//! gathered (file texts, mode bits, the API's answers, filesystem numbers) to one [`Check`]
//! with its fix, so every verdict is table-tested without the machine it describes.

mod cgroups;
mod nvidia;
mod reboot;
mod rootless;
mod selinux;
mod service;
mod storage;

use serde::Serialize;

pub use cgroups::*;
pub use nvidia::*;
pub use reboot::*;
pub use rootless::*;
pub use selinux::*;
pub use service::*;
pub use storage::*;

/// How bad a finding is. Only `Fail` blocks `mlenv up` (and makes doctor exit non-zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    /// Nothing to fix: a fact worth knowing, or a check that does not apply.
    Info,
    /// `up` works, but something the user expects will not (GPUs, a reboot, disk use).
    Warn,
    /// `up` would fail, or would not do what the configuration asks.
    Fail,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub level: Level,
    pub message: String,
    pub fix: Option<String>,
    /// What was found, for scripts (`--json`); null when there is nothing beyond the message.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub facts: serde_json::Value,
}

impl Check {
    pub(super) fn new(name: &'static str, level: Level, message: impl Into<String>) -> Check {
        Check {
            name,
            level,
            message: message.into(),
            fix: None,
            facts: serde_json::Value::Null,
        }
    }

    pub(super) fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    pub(super) fn facts(mut self, facts: serde_json::Value) -> Check {
        self.facts = facts;
        self
    }

    /// A check that needs the podman service, when it does not answer.
    pub fn skipped(name: &'static str) -> Check {
        Check::new(
            name,
            Level::Info,
            "not checked: the podman service does not answer",
        )
    }
}

pub(super) const GIB: u64 = 1 << 30;

pub(super) fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / GIB as f64)
}

#[cfg(test)]
mod tests;
