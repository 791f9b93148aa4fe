//! Container Device Interface (CDI) specs and device names.
//!
//! [CDI](https://github.com/cncf-tags/container-device-interface) describes
//! devices (GPUs and the like) to container runtimes in JSON or YAML spec files
//! under `/etc/cdi` and `/var/run/cdi`. A container asks for a device by its
//! fully qualified name, `VENDOR/CLASS=NAME`, for example `nvidia.com/gpu=0`.
//!
//! This crate reads, checks and writes JSON and YAML specs, parses qualified
//! names and resolves them as a runtime would, following upstream
//! container-device-interface (the Go implementation that Podman, containerd
//! and CRI-O use):
//!
//! * [`QualifiedName`] and [`Kind`]: validated names, with [`is_qualified_name`];
//! * [`Spec`] and its parts: serde types that reject unknown fields, as the
//!   runtimes do, for `cdiVersion` 0.3.0 to 1.1.0, with [`Spec::load`] (JSON
//!   or YAML by the extension), [`Spec::validate`] (including which fields
//!   need which version), [`Spec::minimum_version`],
//!   [`Spec::to_json_string_pretty`] and [`Spec::to_yaml_string`];
//! * [`Version`]: `cdiVersion` values and the released versions;
//! * [`scan_dirs`] and [`find_kind`]: which spec files a runtime would read;
//! * [`Registry`]: the devices a runtime would see in its spec directories,
//!   with Podman's precedence and conflict rules, and
//!   [`Registry::resolve`] to turn a name (`all` included) into devices, or
//!   into a [`ResolveError`] that says which files to look at;
//! * `schema` (feature `schema`): upstream's JSON schema, to check the shape
//!   of a spec document independently of this crate's types.
//!
//! ```
//! let spec = cdi::Spec::from_json_str(r#"{
//!     "cdiVersion": "0.5.0",
//!     "kind": "nvidia.com/gpu",
//!     "devices": [{"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0"}]}}]
//! }"#)?;
//! let gpu0: cdi::QualifiedName = "nvidia.com/gpu=0".parse()?;
//! assert_eq!(spec.qualified_names(), [gpu0.clone()]);
//! assert_eq!(spec.minimum_version(), cdi::Version::V0_5_0);
//! assert_eq!(cdi::Spec::from_yaml_str(&spec.to_yaml_string()?)?, spec);
//!
//! let registry = cdi::Registry::load(&cdi::DEFAULT_SPEC_DIRS);
//! match registry.resolve(&gpu0) {
//!     Ok(devices) => println!("podman run --device {}", devices[0]),
//!     Err(why) => eprintln!("{why}"),
//! }
//! # Ok::<(), cdi::Error>(())
//! ```

#![deny(missing_docs)]

mod error;
mod name;
mod registry;
#[cfg(feature = "schema")]
pub mod schema;
mod spec;
mod spec_dirs;
mod version;
mod yaml;

pub use error::{Error, Result};
pub use name::{is_qualified_name, Kind, QualifiedName};
pub use registry::{Registry, RegistryDevice, ResolveError, SpecFile};
pub use spec::{
    ContainerEdits, Device, DeviceNode, Hook, IntelRdt, Mount, NetDevice, Spec, HOOK_NAMES,
};
pub use spec_dirs::{find_kind, peek_kind, scan_dirs, DEFAULT_SPEC_DIRS};
pub use version::Version;
