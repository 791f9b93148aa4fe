//! Finding the NVIDIA driver on a host (or under a root prefix) and writing a CDI spec for it,
//! without nvidia-ctk: [`discover`] reads the driver's files, [`generate`] builds the spec,
//! [`render`] writes it with a header marking it as mlenv's, and [`staleness`] says when a
//! spec no longer fits the driver (after an upgrade).
//!
//! Everything reads below a root prefix ("/" on a real host), so tests run it on fixture
//! trees (`tests/support/nvidia_tree.rs`).
#![allow(dead_code)]

mod discover;
mod generate;
mod ldcache;
mod rootfs;
mod spec_file;
mod staleness;

// The command layer (`mlenv gpu setup`) uses these.
#[allow(unused_imports)]
pub use discover::{
    discover, running_version, DiscoverError, Driver, Gpu, HostFile, Library, Node, BINARIES,
    CONTROL_NODES,
};
#[allow(unused_imports)]
pub use generate::{generate, Generated, LibraryMode, LIB_DIR, MOUNT_OPTIONS};
#[allow(unused_imports)]
pub use spec_file::{parse, parse_header, render, Header};
#[allow(unused_imports)]
pub use staleness::{spec_driver_version, staleness};

/// The CDI kind of the spec: what nvidia-ctk writes, and what `--gpu` names.
pub const KIND: &str = crate::gpu::NVIDIA_KIND;

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
