//! The error type of this crate.

use std::path::PathBuf;

use crate::name::QualifiedName;
use crate::version::Version;

/// Everything that can go wrong while parsing names, versions or specs.
///
/// The `Display` text of every variant is written for end users: it names the
/// offending input and, where it helps, says what would have been accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A string is not a fully qualified CDI device name (`VENDOR/CLASS=NAME`).
    #[error(
        "invalid CDI device name {input:?}: {reason}; expected VENDOR/CLASS=NAME such as nvidia.com/gpu=0"
    )]
    InvalidQualifiedName {
        /// The rejected input, verbatim.
        input: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A string is not a valid CDI kind (`VENDOR/CLASS`).
    #[error("invalid CDI kind {input:?}: {reason}; expected VENDOR/CLASS such as nvidia.com/gpu")]
    InvalidKind {
        /// The rejected input, verbatim.
        input: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A string is not a CDI version (`MAJOR.MINOR.PATCH`).
    #[error("invalid CDI version {input:?}: expected MAJOR.MINOR.PATCH such as 0.6.0")]
    InvalidVersion {
        /// The rejected input, verbatim.
        input: String,
    },

    /// A spec declares a `cdiVersion` that no released CDI specification has.
    #[error(
        "unknown cdiVersion {version}: known versions are {}",
        known_versions()
    )]
    UnknownVersion {
        /// The declared version.
        version: Version,
    },

    /// A spec uses a feature that its declared `cdiVersion` does not have.
    #[error(
        "cdiVersion {declared} is too old for this spec: {feature} needs cdiVersion {required} or later"
    )]
    VersionTooLow {
        /// The version the spec declares.
        declared: Version,
        /// The lowest version that has `feature`.
        required: Version,
        /// The feature that needs `required`, in words.
        feature: String,
    },

    /// A spec is well-formed JSON of the right shape but breaks a CDI rule.
    #[error("invalid CDI spec: {reason}")]
    InvalidSpec {
        /// The broken rule, in words.
        reason: String,
    },

    /// A spec is not well-formed JSON, or has a field of the wrong type, or
    /// an unknown field, or lacks a required field.
    #[error("malformed CDI spec: {0}")]
    Json(#[from] serde_json::Error),

    /// A spec is not well-formed YAML, or has a field of the wrong type, or an
    /// unknown field, or lacks a required field.
    #[error("malformed CDI spec: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),

    /// A spec file is in a format this crate does not read.
    ///
    /// No longer returned: YAML specs were once refused with this error and
    /// are now read. Kept so that code matching on it still compiles.
    #[error("cannot read CDI spec {path}: unsupported format")]
    UnsupportedFormat {
        /// The file that was not read.
        path: PathBuf,
    },

    /// Reading a spec from a reader failed.
    #[error("cannot read CDI spec: {0}")]
    Read(#[source] std::io::Error),

    /// Reading a spec file or directory failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Two spec files in one directory define the same device. Runtimes then
    /// use neither definition, nor one from another directory: the device is
    /// unresolvable (see [`Registry`](crate::Registry)).
    #[error(
        "CDI device {name} is defined in both {} and {}, in the same directory, \
         so runtimes ignore it; keep only one definition",
        first.display(),
        second.display()
    )]
    ConflictingDevice {
        /// The device.
        name: QualifiedName,
        /// The file that defined it first (in file name order).
        first: PathBuf,
        /// The file that defined it again.
        second: PathBuf,
    },

    /// A spec loaded from a file is malformed or invalid; `source` says how.
    #[error("CDI spec {path}: {source}")]
    InFile {
        /// The spec file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: Box<Error>,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn known_versions() -> String {
    Version::KNOWN
        .iter()
        .map(Version::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    pub(crate) fn invalid_spec(reason: impl Into<String>) -> Self {
        Error::InvalidSpec {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Errors must cross threads and convert into `eyre::Report` and the like.
    #[test]
    fn errors_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
        check::<crate::ResolveError>();
        check::<crate::Registry>();
    }
}
