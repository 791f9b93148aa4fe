//! Container Device Interface (CDI) specs and device names.
//!
//! [CDI](https://github.com/cncf-tags/container-device-interface) describes
//! devices (GPUs and the like) to container runtimes in JSON or YAML spec files
//! under `/etc/cdi` and `/var/run/cdi`. A container asks for a device by its
//! fully qualified name, `VENDOR/CLASS=NAME`, for example `nvidia.com/gpu=0`.
//!
//! This crate reads, checks and writes JSON specs and parses qualified names,
//! following upstream container-device-interface (the Go implementation that
//! Podman, containerd and CRI-O use):
//!
//! * [`QualifiedName`] and [`Kind`]: validated names, with [`is_qualified_name`];
//! * [`Spec`] and its parts: serde types that reject unknown fields, as the
//!   runtimes do, with [`Spec::load`], [`Spec::validate`] and
//!   [`Spec::minimum_version`];
//! * [`Version`]: `cdiVersion` values and the released versions;
//! * [`scan_dirs`] and [`find_kind`]: which specs a runtime would see.
//!
//! ```
//! let spec = cdi::Spec::from_json_str(r#"{
//!     "cdiVersion": "0.5.0",
//!     "kind": "nvidia.com/gpu",
//!     "devices": [{"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0"}]}}]
//! }"#)?;
//! let gpu0: cdi::QualifiedName = "nvidia.com/gpu=0".parse()?;
//! assert_eq!(spec.qualified_names(), [gpu0]);
//! assert_eq!(spec.minimum_version(), cdi::Version::V0_5_0);
//! # Ok::<(), cdi::Error>(())
//! ```

#![deny(missing_docs)]

mod error;
mod name;
mod spec;
mod spec_dirs;
mod version;

pub use error::{Error, Result};
pub use name::{is_qualified_name, Kind, QualifiedName};
pub use spec::{
    ContainerEdits, Device, DeviceNode, Hook, IntelRdt, Mount, NetDevice, Spec, HOOK_NAMES,
};
pub use spec_dirs::{find_kind, peek_kind, scan_dirs, DEFAULT_SPEC_DIRS};
pub use version::Version;
