//! SELinux: the project folder's label.

use std::path::PathBuf;

use serde_json::json;

use super::{Check, Level};

#[derive(Debug, Clone, PartialEq)]
pub struct Selinux {
    /// `/sys/fs/selinux/enforce` ("1" enforcing, "0" permissive); `None` when SELinux is off.
    pub enforce: Option<String>,
    pub project: PathBuf,
    /// The project folder's `security.selinux` label.
    pub label: Option<String>,
    /// The project folder is on NFS, where labels cannot be changed.
    pub nfs: bool,
}

/// mlenv starts containers with `label=disable` (see `create.rs`), as toolbx does: the
/// project folder is used with the label it has, never relabelled, so no label blocks it.
/// The check says so, with the label, so a user who sees an AVC denial knows where to look.
pub fn selinux(s: &Selinux) -> Check {
    const NAME: &str = "SELinux";
    let facts = json!({ "enforce": s.enforce, "label": s.label, "nfs": s.nfs });
    let Some(enforce) = &s.enforce else {
        return Check::new(NAME, Level::Ok, "not enabled: nothing to relabel").facts(facts);
    };
    let mode = if enforce.trim() == "1" {
        "enforcing"
    } else {
        "permissive"
    };
    let label = s.label.as_deref().unwrap_or("no label");
    let nfs = if s.nfs {
        " (it is on NFS, which cannot be relabelled; label=disable is what makes it usable)"
    } else {
        ""
    };
    Check::new(
        NAME,
        Level::Ok,
        format!(
            "{mode}; mlenv starts containers with label=disable, so {} ({label}) is used as it is, without relabelling{nfs}",
            s.project.display()
        ),
    )
    .facts(facts)
}
