//! Finding the NVIDIA driver on a host (or under a root prefix) and writing a CDI spec for it,
//! without nvidia-ctk: [`discover`] reads the driver's files, [`generate`] builds the spec,
//! [`render`] writes it with a header marking it as mlenv's, and [`staleness`] says when a
//! spec no longer fits the driver (after an upgrade).
//!
//! Everything reads below a root prefix ("/" on a real host), so tests run it on fixture
//! trees (`tests/support/nvidia_tree.rs`).

mod discover;
mod generate;
mod ldcache;
mod rootfs;
mod spec_file;
mod staleness;

// What `mlenv gpu setup`, `doctor` and the GPU preflight use.
pub use discover::{discover, running_version};
pub use generate::generate;
pub use spec_file::{parse_header, render, Header};
pub use staleness::staleness;

/// The CDI kind of the spec: what nvidia-ctk writes, and what `--gpu` names.
pub const KIND: &str = "nvidia.com/gpu";

#[cfg(test)]
#[path = "../../tests/support/nvidia_tree.rs"]
mod nvidia_tree;

/// Checks a generated spec against upstream's CDI JSON schema.
#[cfg(test)]
fn check_schema(json: &serde_json::Value) {
    if let Err(errors) = cdi::schema::validate(json) {
        panic!("the spec breaks the CDI schema: {errors:#?}\n{json:#}");
    }
}
