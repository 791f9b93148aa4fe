//! CDI spec files: types, parsing, validation and version requirements.
//!
//! Field names follow the CDI JSON schema (`schema/schema.json` and
//! `schema/defs.json` of container-device-interface) and upstream's Go types
//! (`specs-go/config.go`). Every struct rejects unknown fields, as Podman does:
//! a spec with one unknown field is dropped whole.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::name::{check_device_name, Kind, QualifiedName};
use crate::version::Version;

/// A CDI spec: a set of devices of one [`Kind`] and the edits a runtime makes
/// to a container to give it one of them.
///
/// Deserialising checks only the shape (field names and types, required
/// fields, a valid `kind` and `cdiVersion` syntax). [`Spec::from_json_str`],
/// [`Spec::from_yaml_str`], [`Spec::from_reader`] and [`Spec::load`] also run
/// [`Spec::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// The CDI version the spec is written for (`cdiVersion`).
    pub cdi_version: Version,
    /// The vendor and class of every device in the spec (`kind`).
    pub kind: Kind,
    /// Spec annotations: metadata for CDI consumers, not passed to containers.
    /// Needs `cdiVersion` 0.6.0. A key given twice is an error.
    #[serde(
        default,
        deserialize_with = "unique_keys",
        skip_serializing_if = "Option::is_none"
    )]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The devices; at least one.
    pub devices: Vec<Device>,
    /// Edits applied whenever any device of this spec is injected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_edits: Option<ContainerEdits>,
}

/// One device of a [`Spec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Device {
    /// The device name within the spec's kind, e.g. `0` (the `NAME` of
    /// `VENDOR/CLASS=NAME`). Names starting with a digit need `cdiVersion` 0.5.0.
    pub name: String,
    /// Device annotations. Needs `cdiVersion` 0.6.0. A key given twice is an error.
    #[serde(
        default,
        deserialize_with = "unique_keys",
        skip_serializing_if = "Option::is_none"
    )]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The edits that inject this device; required and not empty.
    pub container_edits: ContainerEdits,
}

/// Changes a runtime makes to a container's OCI spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerEdits {
    /// Environment variables, `NAME=VALUE`.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    /// Device nodes to create in the container.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub device_nodes: Vec<DeviceNode>,
    /// Host network interfaces to move into the container. Needs `cdiVersion` 1.1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_devices: Option<Vec<NetDevice>>,
    /// OCI hooks to add.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub hooks: Vec<Hook>,
    /// Mounts to add.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mounts: Vec<Mount>,
    /// Intel RDT settings. Needs `cdiVersion` 0.7.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_rdt: Option<IntelRdt>,
    /// Supplementary group IDs for the container process. Needs `cdiVersion` 0.7.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_gids: Option<Vec<u32>>,
}

/// A device node to create in the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceNode {
    /// The path in the container (and on the host, unless `host_path` is set).
    pub path: String,
    /// The path on the host, if it differs. Needs `cdiVersion` 0.5.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    /// The node type: `b`, `c`, `u` or `p`; looked up on the host when absent.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// The major device number; looked up on the host when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<i64>,
    /// The minor device number; looked up on the host when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<i64>,
    /// The file mode, as Go's `os.FileMode` bits (upstream `specs-go`; not in the JSON schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<u32>,
    /// Cgroup permissions: any of `r`, `w`, `m`, or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
    /// The owner's user ID in the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// The owner's group ID in the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

/// A mount to add to the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mount {
    /// The source on the host.
    pub host_path: String,
    /// The destination in the container.
    pub container_path: String,
    /// The mount type, e.g. `bind`. Needs `cdiVersion` 0.4.0.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Mount options, e.g. `ro`, `nosuid`, `nodev`, `bind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

/// An OCI hook to add to the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hook {
    /// The OCI hook point: one of [`HOOK_NAMES`].
    pub hook_name: String,
    /// The executable on the host.
    pub path: String,
    /// Its arguments, including `argv[0]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Its environment, `NAME=VALUE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Its timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
}

/// The OCI hook points a [`Hook::hook_name`] may name (upstream `validHookNames`).
pub const HOOK_NAMES: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Intel RDT (Resource Director Technology) settings. Needs `cdiVersion` 0.7.0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntelRdt {
    /// The RDT class of service (a resctrl group name, or `/` for the root group).
    #[serde(rename = "closID", default, skip_serializing_if = "Option::is_none")]
    pub clos_id: Option<String>,
    /// The L3 cache schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l3_cache_schema: Option<String>,
    /// The memory bandwidth schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_bw_schema: Option<String>,
    /// Schemata lines. Needs `cdiVersion` 1.1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schemata: Option<Vec<String>>,
    /// Enables RDT monitoring. Needs `cdiVersion` 1.1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_monitoring: Option<bool>,
    /// Enables cache monitoring; only in `cdiVersion` 0.7.0 to 1.0.0 (removed in 1.1.0).
    #[serde(rename = "enableCMT", default, skip_serializing_if = "Option::is_none")]
    pub enable_cmt: Option<bool>,
    /// Enables memory bandwidth monitoring; only in `cdiVersion` 0.7.0 to 1.0.0
    /// (removed in 1.1.0).
    #[serde(rename = "enableMBM", default, skip_serializing_if = "Option::is_none")]
    pub enable_mbm: Option<bool>,
}

/// A host network interface to move into the container. Needs `cdiVersion` 1.1.0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetDevice {
    /// The interface's name on the host.
    pub host_interface_name: String,
    /// The interface's name in the container.
    pub name: String,
}

/// Go's encoding/json reads `null` as an empty list; so do we.
fn null_as_empty<'de, D, T>(deserializer: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Annotations whose keys are unique. Upstream reads every spec with a strict
/// YAML reader, which refuses a mapping with a key given twice (in JSON too);
/// serde's maps would silently keep the last value.
fn unique_keys<'de, D>(
    deserializer: D,
) -> std::result::Result<Option<BTreeMap<String, String>>, D::Error>
where
    D: Deserializer<'de>,
{
    struct UniqueKeys;

    impl<'de> serde::de::Visitor<'de> for UniqueKeys {
        type Value = Option<BTreeMap<String, String>>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of strings to strings")
        }

        fn visit_none<E>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> std::result::Result<Self::Value, D::Error> {
            deserializer.deserialize_map(self)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut access: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut map = BTreeMap::new();
            while let Some((key, value)) = access.next_entry::<String, String>()? {
                if map.contains_key(&key) {
                    return Err(serde::de::Error::custom(format_args!(
                        "annotation {key:?} is given more than once"
                    )));
                }
                map.insert(key, value);
            }
            Ok(Some(map))
        }
    }

    deserializer.deserialize_option(UniqueKeys)
}

impl Spec {
    /// Parses a JSON spec and [validates](Spec::validate) it.
    pub fn from_json_str(json: &str) -> Result<Spec> {
        Spec::from_json_slice(json.as_bytes())
    }

    /// Parses a YAML spec and [validates](Spec::validate) it.
    ///
    /// As strict as JSON, and as upstream (which reads YAML with
    /// `sigs.k8s.io/yaml`'s `UnmarshalStrict`): unknown and duplicate fields
    /// are rejected. A scalar is read as the type of its field, as upstream
    /// does, so `name: 0` is the device name `"0"`; a quoted `major: "195"` is
    /// not a number. The text must be a single YAML document.
    pub fn from_yaml_str(yaml: &str) -> Result<Spec> {
        check_not_empty(yaml.as_bytes())?;
        let spec: Spec = serde_yaml_ng::from_str(yaml)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Reads a JSON spec and [validates](Spec::validate) it.
    pub fn from_reader(mut reader: impl Read) -> Result<Spec> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(Error::Read)?;
        Spec::from_json_slice(&bytes)
    }

    /// Loads a spec file and [validates](Spec::validate) it.
    ///
    /// A `.yaml` or `.yml` file (any case) is read as YAML
    /// ([`Spec::from_yaml_str`]), any other as JSON. Upstream parses every
    /// file with its YAML reader, so a `*.json` file holding YAML that is not
    /// JSON loads in Podman but not here. Errors other than [`Error::Io`] come
    /// wrapped in [`Error::InFile`], which names the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Spec> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let parsed = if is_yaml(path) {
            std::str::from_utf8(&bytes)
                .map_err(|e| Error::invalid_spec(format!("the YAML is not UTF-8: {e}")))
                .and_then(Spec::from_yaml_str)
        } else {
            Spec::from_json_slice(&bytes)
        };
        parsed.map_err(|source| Error::InFile {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    }

    fn from_json_slice(bytes: &[u8]) -> Result<Spec> {
        check_not_empty(bytes)?;
        let spec: Spec = serde_json::from_slice(bytes)?;
        spec.validate()?;
        Ok(spec)
    }

    /// The spec as indented JSON, without a trailing newline, with absent
    /// optional fields left out. It does not [validate](Spec::validate)
    /// first: call that before writing a spec for a runtime to read.
    pub fn to_json_string_pretty(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// The spec as a YAML document in block style, ending with a newline,
    /// with absent optional fields left out. It does not
    /// [validate](Spec::validate) first: call that before writing a spec for a
    /// runtime to read.
    ///
    /// Strings are quoted unless they are plainly strings to YAML 1.1 as well
    /// as 1.2: the runtimes read YAML with Go's `yaml.v2` (YAML 1.1), which
    /// would read a plain `yes`, `on` or `0755` as a boolean or a number.
    pub fn to_yaml_string(&self) -> Result<String> {
        Ok(crate::yaml::to_yaml_string(self)?)
    }

    /// Checks the rules of upstream's default validator
    /// (`api/producer/validator-default.go`, `pkg/cdi/container-edits.go`,
    /// `specs-go/version.go`):
    ///
    /// * `cdiVersion` is a released version ([`Version::is_known`]) and at least
    ///   [`Spec::minimum_version`], so never 0.1.0 or 0.2.0 (upstream accepts
    ///   those names but requires at least 0.3.0 of every spec);
    ///   `intelRdt.enableCMT`/`enableMBM` appear only before 1.1.0;
    /// * there is at least one device, and device names are valid and unique;
    /// * every device has non-empty `containerEdits`;
    /// * in all edits: `env` entries are `NAME=VALUE`; device nodes have a path,
    ///   a type among `b`, `c`, `u`, `p` (major and minor numbers are not checked) and
    ///   permissions made of `r`, `w`, `m` (or `none`); hooks name an OCI hook
    ///   point ([`HOOK_NAMES`]) and a path; mounts have both paths;
    ///   `intelRdt.closID` is a file name (or `/`); net devices have both names,
    ///   each unique within their edits.
    ///
    /// The kind needs no check: a [`Kind`] is always valid. Annotations are not
    /// checked, as upstream in effect does not check them either.
    pub fn validate(&self) -> Result<()> {
        if !self.cdi_version.is_known() {
            return Err(Error::UnknownVersion {
                version: self.cdi_version,
            });
        }
        let required = self.minimum_version();
        if required > self.cdi_version {
            let feature = self
                .requirements(Presence::NonEmpty)
                .into_iter()
                .filter(|r| r.0 == required)
                .map(|r| r.1)
                .next_back()
                // Upstream's earliest version, 0.3.0, is the floor for all.
                .unwrap_or_else(|| "any spec".to_string());
            return Err(Error::VersionTooLow {
                declared: self.cdi_version,
                required,
                feature,
            });
        }
        if self.cdi_version >= Version::V1_1_0 {
            for (scope, edits) in self.all_edits() {
                if let Some(rdt) = &edits.intel_rdt {
                    for (field, set) in [
                        ("enableCMT", &rdt.enable_cmt),
                        ("enableMBM", &rdt.enable_mbm),
                    ] {
                        if set.is_some() {
                            return Err(Error::invalid_spec(format!(
                                "{scope}intelRdt.{field} was removed in cdiVersion 1.1.0; \
                                 use enableMonitoring"
                            )));
                        }
                    }
                }
            }
        }
        if self.devices.is_empty() {
            return Err(Error::invalid_spec("no devices"));
        }
        if let Some(edits) = &self.container_edits {
            edits
                .validate()
                .map_err(|reason| Error::invalid_spec(format!("containerEdits: {reason}")))?;
        }
        let mut seen = HashSet::new();
        for device in &self.devices {
            check_device_name(&device.name).map_err(Error::invalid_spec)?;
            if !seen.insert(device.name.as_str()) {
                return Err(Error::invalid_spec(format!(
                    "device {:?} is defined more than once",
                    device.name
                )));
            }
            let edits = &device.container_edits;
            let check = if edits.is_empty() {
                Err("containerEdits is empty".to_string())
            } else {
                edits
                    .validate()
                    .map_err(|reason| format!("containerEdits: {reason}"))
            };
            check.map_err(|reason| {
                Error::invalid_spec(format!("device {:?}: {reason}", device.name))
            })?;
        }
        Ok(())
    }

    /// The lowest `cdiVersion` that has every feature this spec uses (upstream
    /// `MinimumRequiredVersion` in `specs-go/version.go`); never below 0.3.0.
    ///
    /// | needs | feature |
    /// |-------|---------|
    /// | 0.4.0 | `mounts[].type` |
    /// | 0.5.0 | `deviceNodes[].hostPath`; a device name starting with a digit |
    /// | 0.6.0 | spec or device `annotations`; a `.` in the kind's class |
    /// | 0.7.0 | `intelRdt`; `additionalGids` |
    /// | 1.1.0 | `netDevices`; `intelRdt.schemata`; `intelRdt.enableMonitoring` |
    ///
    /// As upstream, only non-empty values count: `"annotations": {}` at 0.5.0,
    /// `"additionalGids": []` at 0.6.0 or `"hostPath": ""` at 0.4.0 pass, since
    /// podman's library accepts them and mlenv must never refuse a spec podman
    /// would use. A spec being written should declare [`Spec::version_to_write`].
    pub fn minimum_version(&self) -> Version {
        Self::highest(self.requirements(Presence::NonEmpty))
    }

    /// The `cdiVersion` a producer should declare: like [`Spec::minimum_version`],
    /// but a field counts whenever it is present, even empty, since a runtime that
    /// predates a field rejects the spec for the field's name alone.
    pub fn version_to_write(&self) -> Version {
        Self::highest(self.requirements(Presence::Present))
    }

    fn highest(needs: Vec<(Version, String)>) -> Version {
        needs
            .into_iter()
            .map(|(version, _)| version)
            .fold(Version::V0_3_0, Version::max)
    }

    /// Every versioned feature the spec uses, with the version it needs.
    fn requirements(&self, counts: Presence) -> Vec<(Version, String)> {
        let map = |m: &Option<BTreeMap<String, String>>| match counts {
            Presence::Present => m.is_some(),
            Presence::NonEmpty => m.as_ref().is_some_and(|m| !m.is_empty()),
        };
        let text = |t: &Option<String>| match counts {
            Presence::Present => t.is_some(),
            Presence::NonEmpty => t.as_ref().is_some_and(|t| !t.is_empty()),
        };
        let mut needs = Vec::new();
        if map(&self.annotations) {
            needs.push((Version::V0_6_0, "spec annotations".to_string()));
        }
        if self.kind.class().contains('.') {
            needs.push((
                Version::V0_6_0,
                format!("the '.' in the class of kind \"{}\"", self.kind),
            ));
        }
        for device in &self.devices {
            if device.name.starts_with(|c: char| c.is_ascii_digit()) {
                needs.push((
                    Version::V0_5_0,
                    format!("device name {:?} (starts with a digit)", device.name),
                ));
            }
            if map(&device.annotations) {
                needs.push((
                    Version::V0_6_0,
                    format!("annotations of device {:?}", device.name),
                ));
            }
        }
        for (scope, edits) in self.all_edits() {
            for mount in &edits.mounts {
                if text(&mount.typ) {
                    needs.push((
                        Version::V0_4_0,
                        format!("{scope}mounts[].type (mount {:?})", mount.container_path),
                    ));
                }
            }
            for node in &edits.device_nodes {
                if text(&node.host_path) {
                    needs.push((
                        Version::V0_5_0,
                        format!("{scope}deviceNodes[].hostPath (node {:?})", node.path),
                    ));
                }
            }
            if let Some(rdt) = &edits.intel_rdt {
                needs.push((Version::V0_7_0, format!("{scope}intelRdt")));
                let schemata = rdt.schemata.as_ref();
                if schemata.is_some_and(|v| counts == Presence::Present || !v.is_empty()) {
                    needs.push((Version::V1_1_0, format!("{scope}intelRdt.schemata")));
                }
                let monitoring = rdt.enable_monitoring;
                if monitoring.is_some_and(|on| counts == Presence::Present || on) {
                    needs.push((Version::V1_1_0, format!("{scope}intelRdt.enableMonitoring")));
                }
            }
            if edits
                .additional_gids
                .as_ref()
                .is_some_and(|v| counts == Presence::Present || !v.is_empty())
            {
                needs.push((Version::V0_7_0, format!("{scope}additionalGids")));
            }
            if edits
                .net_devices
                .as_ref()
                .is_some_and(|v| counts == Presence::Present || !v.is_empty())
            {
                needs.push((Version::V1_1_0, format!("{scope}netDevices")));
            }
        }
        needs
    }

    /// The spec-level edits and every device's edits, each with a prefix
    /// saying where they are, for messages.
    fn all_edits(&self) -> Vec<(String, &ContainerEdits)> {
        let spec_level = self
            .container_edits
            .iter()
            .map(|edits| ("containerEdits.".to_string(), edits));
        let devices = self.devices.iter().map(|device| {
            (
                format!("device {:?}: containerEdits.", device.name),
                &device.container_edits,
            )
        });
        spec_level.chain(devices).collect()
    }

    /// The qualified names of the spec's devices, in order, e.g.
    /// `nvidia.com/gpu=0`. Devices whose names are invalid are left out
    /// ([`Spec::validate`] reports them).
    pub fn qualified_names(&self) -> Vec<QualifiedName> {
        self.devices
            .iter()
            .filter_map(|device| self.kind.device(&device.name).ok())
            .collect()
    }

    /// The device named `name` (the `NAME` of `VENDOR/CLASS=NAME`), if any.
    pub fn device(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|device| device.name == name)
    }
}

/// Upstream refuses a file without spec data; so do we, with a clearer word
/// than the parser's "EOF while parsing".
fn check_not_empty(bytes: &[u8]) -> Result<()> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid_spec("the spec is empty"));
    }
    Ok(())
}

pub(crate) fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml"))
}

impl ContainerEdits {
    /// Whether there are no edits at all (valid for a spec, not for a device).
    fn is_empty(&self) -> bool {
        self.env.is_empty()
            && self.device_nodes.is_empty()
            && self.hooks.is_empty()
            && self.mounts.is_empty()
            && self
                .additional_gids
                .as_deref()
                .unwrap_or_default()
                .is_empty()
            && self.intel_rdt.is_none()
            && self.net_devices.as_deref().unwrap_or_default().is_empty()
    }

    /// Upstream `ContainerEdits.Validate`; the error is the reason.
    fn validate(&self) -> Result<(), String> {
        check_env(&self.env)?;
        for node in &self.device_nodes {
            node.validate()?;
        }
        for hook in &self.hooks {
            hook.validate()?;
        }
        for mount in &self.mounts {
            if mount.host_path.is_empty() {
                return Err(format!(
                    "mount {:?} has an empty hostPath",
                    mount.container_path
                ));
            }
            if mount.container_path.is_empty() {
                return Err(format!(
                    "mount {:?} has an empty containerPath",
                    mount.host_path
                ));
            }
        }
        if let Some(clos_id) = self.intel_rdt.as_ref().and_then(|rdt| rdt.clos_id.as_ref()) {
            let bad = clos_id != "/"
                && (clos_id.len() >= 4096
                    || clos_id == "."
                    || clos_id == ".."
                    || clos_id.contains(['/', '\n']));
            if bad {
                return Err(format!(
                    "invalid intelRdt.closID {clos_id:?}: expected a file name or \"/\""
                ));
            }
        }
        let mut host_names = HashSet::new();
        let mut names = HashSet::new();
        for net in self.net_devices.iter().flatten() {
            if net.host_interface_name.is_empty() || net.name.is_empty() {
                return Err(format!(
                    "net device {:?} -> {:?} needs both hostInterfaceName and name",
                    net.host_interface_name, net.name
                ));
            }
            if !host_names.insert(&net.host_interface_name) {
                return Err(format!(
                    "net device hostInterfaceName {:?} appears more than once",
                    net.host_interface_name
                ));
            }
            if !names.insert(&net.name) {
                return Err(format!(
                    "net device name {:?} appears more than once",
                    net.name
                ));
            }
        }
        Ok(())
    }
}

/// What makes a versioned field count as used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    /// Present, even empty: what a producer must declare.
    Present,
    /// Holding a value: what upstream's validator asks for.
    NonEmpty,
}

impl DeviceNode {
    /// Upstream `DeviceNode.Validate`.
    fn validate(&self) -> Result<(), String> {
        if self.path.is_empty() {
            return Err("a device node has an empty path".into());
        }
        let path = &self.path;
        if let Some(typ) = &self.typ {
            if !matches!(typ.as_str(), "" | "b" | "c" | "u" | "p") {
                return Err(format!(
                    "device node {path:?} has type {typ:?}; expected b, c, u or p"
                ));
            }
        }
        // No check of the major and minor numbers: upstream has none, and a spec
        // podman would use must pass here too.
        if let Some(perms) = &self.permissions {
            if perms != "none" && !perms.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
                return Err(format!(
                    "device node {path:?} has permissions {perms:?}; expected letters of \"rwm\" or \"none\""
                ));
            }
        }
        Ok(())
    }
}

impl Hook {
    /// Upstream `Hook.Validate`.
    fn validate(&self) -> Result<(), String> {
        if !HOOK_NAMES.contains(&self.hook_name.as_str()) {
            return Err(format!(
                "hook {:?} has hookName {:?}; expected one of {}",
                self.path,
                self.hook_name,
                HOOK_NAMES.join(", ")
            ));
        }
        if self.path.is_empty() {
            return Err(format!("{} hook has an empty path", self.hook_name));
        }
        check_env(self.env.as_deref().unwrap_or_default())
            .map_err(|reason| format!("{} hook {:?}: {reason}", self.hook_name, self.path))
    }
}

/// Upstream `ValidateEnv`: each entry has a `=` after a non-empty name.
fn check_env(env: &[String]) -> Result<(), String> {
    match env.iter().find(|var| var.find('=').unwrap_or(0) == 0) {
        Some(var) => Err(format!(
            "invalid environment variable {var:?}; expected NAME=VALUE"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    /// A spec of `version` with one device `dev` whose edits are `edits`.
    fn with_edits(version: &str, edits: &str) -> String {
        format!(
            r#"{{"cdiVersion":"{version}","kind":"vendor.com/dev",
                "devices":[{{"name":"dev","containerEdits":{edits}}}]}}"#
        )
    }

    const NODE: &str = r#"{"deviceNodes":[{"path":"/dev/x"}]}"#;

    #[test]
    fn minimum_version_table() {
        let kind = |k: &str| {
            format!(
                r#"{{"cdiVersion":"1.1.0","kind":"{k}","devices":[{{"name":"d","containerEdits":{NODE}}}]}}"#
            )
        };
        let device_named = |n: &str| {
            format!(
                r#"{{"cdiVersion":"1.1.0","kind":"v.com/c","devices":[{{"name":"{n}","containerEdits":{NODE}}}]}}"#
            )
        };
        let cases: Vec<(String, Version)> = vec![
            (with_edits("1.1.0", NODE), Version::V0_3_0),
            (device_named("gpu0"), Version::V0_3_0),
            (device_named("0"), Version::V0_5_0),
            (device_named("9abc"), Version::V0_5_0),
            (kind("nvidia.com/gpu"), Version::V0_3_0),
            (kind("vendor.com/class.sub"), Version::V0_6_0),
            (
                with_edits("1.1.0", r#"{"mounts":[{"hostPath":"/a","containerPath":"/a","type":"bind"}]}"#),
                Version::V0_4_0,
            ),
            (
                with_edits("1.1.0", r#"{"mounts":[{"hostPath":"/a","containerPath":"/a","options":["ro"]}]}"#),
                Version::V0_3_0,
            ),
            (
                with_edits("1.1.0", r#"{"deviceNodes":[{"path":"/dev/x","hostPath":"/dev/y"}]}"#),
                Version::V0_5_0,
            ),
            (
                with_edits("1.1.0", r#"{"deviceNodes":[{"path":"/dev/x","hostPath":""}]}"#),
                Version::V0_5_0,
            ),
            (
                with_edits("1.1.0", r#"{"intelRdt":{"closID":"g"}}"#),
                Version::V0_7_0,
            ),
            (with_edits("1.1.0", r#"{"intelRdt":{}}"#), Version::V0_7_0),
            (
                with_edits("1.1.0", r#"{"additionalGids":[44]}"#),
                Version::V0_7_0,
            ),
            (
                with_edits("1.1.0", r#"{"intelRdt":{"schemata":["L3:0=f"]}}"#),
                Version::V1_1_0,
            ),
            (
                with_edits("1.1.0", r#"{"intelRdt":{"enableMonitoring":true}}"#),
                Version::V1_1_0,
            ),
            (
                with_edits(
                    "1.1.0",
                    r#"{"netDevices":[{"hostInterfaceName":"eth1","name":"net0"}]}"#,
                ),
                Version::V1_1_0,
            ),
            (
                r#"{"cdiVersion":"1.1.0","kind":"v.com/c","annotations":{"a":"b"},
                    "devices":[{"name":"d","containerEdits":{"env":["A=1"]}}]}"#
                    .to_string(),
                Version::V0_6_0,
            ),
            (
                r#"{"cdiVersion":"1.1.0","kind":"v.com/c","annotations":{},
                    "devices":[{"name":"d","containerEdits":{"env":["A=1"]}}]}"#
                    .to_string(),
                Version::V0_6_0,
            ),
            (
                r#"{"cdiVersion":"1.1.0","kind":"v.com/c",
                    "devices":[{"name":"d","annotations":{"a":"b"},"containerEdits":{"env":["A=1"]}}]}"#
                    .to_string(),
                Version::V0_6_0,
            ),
            (
                r#"{"cdiVersion":"1.1.0","kind":"v.com/c",
                    "containerEdits":{"mounts":[{"hostPath":"/a","containerPath":"/a","type":"bind"}]},
                    "devices":[{"name":"0","containerEdits":{"env":["A=1"]}}]}"#
                    .to_string(),
                Version::V0_5_0,
            ),
            (
                r#"{"cdiVersion":"1.1.0","kind":"v.com/c",
                    "containerEdits":{"additionalGids":[]},
                    "devices":[{"name":"0","containerEdits":{"env":["A=1"]}}]}"#
                    .to_string(),
                Version::V0_7_0,
            ),
        ];
        for (json, want) in cases {
            let spec = spec(&json);
            assert_eq!(spec.version_to_write(), want, "{json}");
            assert!(spec.minimum_version() <= want, "{json}");
            spec.validate().unwrap_or_else(|e| panic!("{e}: {json}"));
        }
    }

    /// Upstream counts only values that hold something: present-but-empty
    /// fields need no newer version to pass validation (podman would use such a
    /// spec), though a producer still declares the version that names them.
    #[test]
    fn empty_values_need_no_newer_version() {
        let top = |version: &str, field: &str| {
            format!(
                r#"{{"cdiVersion":"{version}","kind":"v.com/c",{field},
                    "devices":[{{"name":"d","containerEdits":{{"env":["A=1"]}}}}]}}"#
            )
        };
        let cases: Vec<(String, Version)> = vec![
            (top("0.5.0", r#""annotations":{}"#), Version::V0_6_0),
            (
                with_edits("0.6.0", r#"{"env":["A=1"],"additionalGids":[]}"#),
                Version::V0_7_0,
            ),
            (
                with_edits("1.0.0", r#"{"env":["A=1"],"netDevices":[]}"#),
                Version::V1_1_0,
            ),
            (
                with_edits(
                    "0.3.0",
                    r#"{"mounts":[{"hostPath":"/a","containerPath":"/a","type":""}]}"#,
                ),
                Version::V0_4_0,
            ),
            (
                with_edits(
                    "0.4.0",
                    r#"{"deviceNodes":[{"path":"/dev/x","hostPath":""}]}"#,
                ),
                Version::V0_5_0,
            ),
            (
                with_edits(
                    "1.0.0",
                    r#"{"intelRdt":{"closID":"g","schemata":[],"enableMonitoring":false}}"#,
                ),
                Version::V1_1_0,
            ),
        ];
        for (json, to_write) in cases {
            let spec = spec(&json);
            spec.validate().unwrap_or_else(|e| panic!("{e}: {json}"));
            assert!(spec.minimum_version() <= spec.cdi_version, "{json}");
            assert_eq!(spec.version_to_write(), to_write, "{json}");
        }
    }

    /// Upstream does not check device numbers, so neither does the crate.
    #[test]
    fn negative_device_numbers_pass() {
        let json = with_edits(
            "0.6.0",
            r#"{"deviceNodes":[{"path":"/dev/x","type":"c","major":-1,"minor":-2}]}"#,
        );
        spec(&json).validate().unwrap();
    }

    /// Each versioned feature, declared at every released version: accepted
    /// from the version that introduced it on, refused before with
    /// [`Error::VersionTooLow`] naming the feature.
    #[test]
    fn validate_per_declared_version_table() {
        let spec_with = |top: &str, name: &str, edits: &str| {
            format!(
                r#"{{"cdiVersion":"VERSION","kind":"v.com/c"{top},
                    "devices":[{{"name":"{name}","containerEdits":{edits}}}]}}"#
            )
        };
        let cases: Vec<(&str, String, Version)> = vec![
            (
                "nothing versioned",
                spec_with("", "d", NODE),
                Version::V0_3_0,
            ),
            (
                "mounts[].type",
                spec_with(
                    "",
                    "d",
                    r#"{"mounts":[{"hostPath":"/a","containerPath":"/a","type":"bind"}]}"#,
                ),
                Version::V0_4_0,
            ),
            (
                "deviceNodes[].hostPath",
                spec_with(
                    "",
                    "d",
                    r#"{"deviceNodes":[{"path":"/a","hostPath":"/b"}]}"#,
                ),
                Version::V0_5_0,
            ),
            (
                "starts with a digit",
                spec_with("", "0", NODE),
                Version::V0_5_0,
            ),
            (
                "spec annotations",
                spec_with(r#","annotations":{"a":"b"}"#, "d", NODE),
                Version::V0_6_0,
            ),
            (
                "annotations of device",
                r#"{"cdiVersion":"VERSION","kind":"v.com/c","devices":[
                    {"name":"d","annotations":{"a":"b"},"containerEdits":{"env":["A=1"]}}]}"#
                    .to_string(),
                Version::V0_6_0,
            ),
            (
                "in the class",
                spec_with("", "d", NODE).replace("v.com/c", "v.com/c.sub"),
                Version::V0_6_0,
            ),
            (
                "intelRdt",
                spec_with("", "d", r#"{"intelRdt":{"closID":"g"}}"#),
                Version::V0_7_0,
            ),
            (
                "additionalGids",
                spec_with("", "d", r#"{"additionalGids":[44]}"#),
                Version::V0_7_0,
            ),
            (
                "netDevices",
                spec_with(
                    "",
                    "d",
                    r#"{"netDevices":[{"hostInterfaceName":"eth1","name":"n"}]}"#,
                ),
                Version::V1_1_0,
            ),
        ];
        for (feature, template, required) in cases {
            for version in Version::KNOWN {
                let json = template.replace("VERSION", &version.to_string());
                let result = Spec::from_json_str(&json);
                if version >= required {
                    result.unwrap_or_else(|e| panic!("{feature} at {version}: {e}"));
                    continue;
                }
                let err = result.expect_err(&format!("{feature} at {version}"));
                let Error::VersionTooLow {
                    declared,
                    required: got,
                    feature: ref what,
                } = err
                else {
                    panic!("{feature} at {version}: {err:?}");
                };
                assert_eq!((declared, got), (version, required), "{feature}");
                if required > Version::V0_3_0 {
                    assert!(what.contains(feature), "{what:?} lacks {feature:?}");
                }
            }
        }
    }

    #[test]
    fn declared_version_below_minimum_is_rejected() {
        let json = r#"{"cdiVersion":"0.5.0","kind":"v.com/c","annotations":{"a":"b"},
            "devices":[{"name":"0","containerEdits":{"env":["A=1"]}}]}"#;
        let err = Spec::from_json_str(json).unwrap_err();
        assert!(
            matches!(
                err,
                Error::VersionTooLow {
                    declared: Version::V0_5_0,
                    required: Version::V0_6_0,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "cdiVersion 0.5.0 is too old for this spec: spec annotations needs cdiVersion 0.6.0 or later"
        );

        let json = r#"{"cdiVersion":"0.4.0","kind":"nvidia.com/gpu",
            "devices":[{"name":"0","containerEdits":{"env":["A=1"]}}]}"#;
        let err = Spec::from_json_str(json).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cdiVersion 0.4.0 is too old for this spec: device name \"0\" (starts with a digit) \
             needs cdiVersion 0.5.0 or later"
        );
    }

    #[test]
    fn unknown_version_is_rejected() {
        for version in ["0.9.0", "1.2.0", "2.0.0", "0.0.1"] {
            let err = Spec::from_json_str(&with_edits(version, NODE)).unwrap_err();
            assert!(matches!(err, Error::UnknownVersion { .. }), "{err:?}");
            assert!(err
                .to_string()
                .contains(&format!("unknown cdiVersion {version}")));
            assert!(err.to_string().contains("0.1.0, 0.2.0"), "{err}");
        }
        for version in Version::KNOWN.into_iter().filter(|v| *v >= Version::V0_3_0) {
            Spec::from_json_str(&with_edits(&version.to_string(), NODE)).unwrap();
        }
        // Known, but below upstream's earliest supported version.
        for version in ["0.1.0", "0.2.0"] {
            let err = Spec::from_json_str(&with_edits(version, NODE)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "cdiVersion {version} is too old for this spec: \
                     any spec needs cdiVersion 0.3.0 or later"
                )
            );
        }
        // Upstream's newVersion accepts a leading "v".
        let spec = Spec::from_json_str(&with_edits("v0.3.0", NODE)).unwrap();
        assert_eq!(spec.cdi_version, Version::V0_3_0);
    }

    #[test]
    fn removed_intel_rdt_fields() {
        let edits = r#"{"intelRdt":{"enableCMT":true}}"#;
        Spec::from_json_str(&with_edits("0.7.0", edits)).unwrap();
        Spec::from_json_str(&with_edits("1.0.0", r#"{"intelRdt":{"enableMBM":false}}"#)).unwrap();
        let err = Spec::from_json_str(&with_edits("1.1.0", edits)).unwrap_err();
        assert!(
            err.to_string()
                .contains("intelRdt.enableCMT was removed in cdiVersion 1.1.0"),
            "{err}"
        );
    }

    #[test]
    fn invalid_specs_table() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"cdiVersion":"0.6.0","kind":"v.com/c","devices":[]}"#,
                "invalid CDI spec: no devices",
            ),
            (
                r#"{"cdiVersion":"0.6.0","kind":"v.com/c","devices":[
                    {"name":"a","containerEdits":{"env":["A=1"]}},
                    {"name":"a","containerEdits":{"env":["A=1"]}}]}"#,
                "device \"a\" is defined more than once",
            ),
            (
                r#"{"cdiVersion":"0.6.0","kind":"v.com/c","devices":[
                    {"name":"a-","containerEdits":{"env":["A=1"]}}]}"#,
                "device name \"a-\" must end with an ASCII letter or digit",
            ),
            (
                r#"{"cdiVersion":"0.6.0","kind":"v.com/c","devices":[
                    {"name":"","containerEdits":{"env":["A=1"]}}]}"#,
                "device name is empty",
            ),
            (
                r#"{"cdiVersion":"0.6.0","kind":"v.com/c","devices":[
                    {"name":"v.com/c=a","containerEdits":{"env":["A=1"]}}]}"#,
                "device name \"v.com/c=a\" contains '/'",
            ),
            (
                r#"{"cdiVersion":"0.6.0","kind":"v.com/c","devices":[
                    {"name":"a","containerEdits":{}}]}"#,
                "device \"a\": containerEdits is empty",
            ),
            (
                r#"{"cdiVersion":"0.7.0","kind":"v.com/c","devices":[
                    {"name":"a","containerEdits":{"additionalGids":[]}}]}"#,
                "device \"a\": containerEdits is empty",
            ),
            (
                &with_edits("0.6.0", r#"{"env":["NOEQUALS"]}"#),
                "invalid environment variable \"NOEQUALS\"; expected NAME=VALUE",
            ),
            (
                &with_edits("0.6.0", r#"{"env":["=x"]}"#),
                "invalid environment variable \"=x\"",
            ),
            (
                &with_edits("0.6.0", r#"{"deviceNodes":[{"path":""}]}"#),
                "a device node has an empty path",
            ),
            (
                &with_edits("0.6.0", r#"{"deviceNodes":[{"path":"/dev/x","type":"x"}]}"#),
                "has type \"x\"; expected b, c, u or p",
            ),
            (
                &with_edits("0.6.0", r#"{"deviceNodes":[{"path":"/dev/x","permissions":"rwx"}]}"#),
                "has permissions \"rwx\"",
            ),
            (
                &with_edits("0.6.0", r#"{"hooks":[{"hookName":"preStart","path":"/bin/h"}]}"#),
                "hook \"/bin/h\" has hookName \"preStart\"; expected one of prestart, createRuntime",
            ),
            (
                &with_edits("0.6.0", r#"{"hooks":[{"hookName":"prestart","path":""}]}"#),
                "prestart hook has an empty path",
            ),
            (
                &with_edits(
                    "0.6.0",
                    r#"{"hooks":[{"hookName":"prestart","path":"/h","env":["X"]}]}"#,
                ),
                "prestart hook \"/h\": invalid environment variable \"X\"",
            ),
            (
                &with_edits("0.6.0", r#"{"mounts":[{"hostPath":"","containerPath":"/a"}]}"#),
                "mount \"/a\" has an empty hostPath",
            ),
            (
                &with_edits("0.6.0", r#"{"mounts":[{"hostPath":"/a","containerPath":""}]}"#),
                "mount \"/a\" has an empty containerPath",
            ),
            (
                &with_edits("0.7.0", r#"{"intelRdt":{"closID":"a/b"}}"#),
                "invalid intelRdt.closID \"a/b\"",
            ),
            (
                &with_edits("0.7.0", r#"{"intelRdt":{"closID":".."}}"#),
                "invalid intelRdt.closID \"..\"",
            ),
            (
                &with_edits(
                    "1.1.0",
                    r#"{"netDevices":[{"hostInterfaceName":"eth0","name":""}]}"#,
                ),
                "needs both hostInterfaceName and name",
            ),
            (
                &with_edits(
                    "1.1.0",
                    r#"{"netDevices":[{"hostInterfaceName":"eth0","name":"a"},
                                       {"hostInterfaceName":"eth0","name":"b"}]}"#,
                ),
                "hostInterfaceName \"eth0\" appears more than once",
            ),
            (
                &with_edits(
                    "1.1.0",
                    r#"{"netDevices":[{"hostInterfaceName":"eth0","name":"a"},
                                       {"hostInterfaceName":"eth1","name":"a"}]}"#,
                ),
                "net device name \"a\" appears more than once",
            ),
            (
                r#"{"cdiVersion":"0.6.0","kind":"v.com/c",
                    "containerEdits":{"env":["BAD"]},
                    "devices":[{"name":"a","containerEdits":{"env":["A=1"]}}]}"#,
                "invalid CDI spec: containerEdits: invalid environment variable \"BAD\"",
            ),
        ];
        for &(json, fragment) in cases {
            let err = Spec::from_json_str(json).expect_err(json);
            let message = err.to_string();
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
    }

    #[test]
    fn valid_edge_cases() {
        let cases = [
            with_edits(
                "0.3.0",
                r#"{"deviceNodes":[{"path":"/dev/x","permissions":"none"}]}"#,
            ),
            with_edits(
                "0.3.0",
                r#"{"deviceNodes":[{"path":"/dev/x","permissions":""}]}"#,
            ),
            with_edits("0.3.0", r#"{"deviceNodes":[{"path":"/dev/x","type":""}]}"#),
            with_edits(
                "0.3.0",
                r#"{"deviceNodes":[{"path":"/dev/x","type":"c","major":0,"minor":0,"fileMode":8630,"uid":0,"gid":0}]}"#,
            ),
            with_edits("0.3.0", r#"{"env":["A="]}"#),
            with_edits("0.7.0", r#"{"intelRdt":{"closID":"/"}}"#),
            with_edits("0.7.0", r#"{"additionalGids":[0]}"#),
            with_edits(
                "0.3.0",
                r#"{"deviceNodes":null,"hooks":[],"mounts":null,"env":["A=1"]}"#,
            ),
        ];
        for json in cases {
            Spec::from_json_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        }
        let hooks: Vec<String> = HOOK_NAMES
            .iter()
            .map(|name| {
                format!(
                    r#"{{"hookName":"{name}","path":"/h","args":["h"],"env":["A=b"],"timeout":5}}"#
                )
            })
            .collect();
        Spec::from_json_str(&with_edits(
            "0.3.0",
            &format!(r#"{{"hooks":[{}]}}"#, hooks.join(",")),
        ))
        .unwrap();
    }

    #[test]
    fn null_lists_read_as_empty() {
        let spec = Spec::from_json_str(&with_edits(
            "0.3.0",
            r#"{"env":null,"deviceNodes":[{"path":"/dev/x"}],"hooks":null,"mounts":null}"#,
        ))
        .unwrap();
        let edits = &spec.devices[0].container_edits;
        assert!(edits.env.is_empty() && edits.hooks.is_empty() && edits.mounts.is_empty());
    }

    #[test]
    fn unknown_fields_are_rejected_everywhere() {
        let cases = [
            r#"{"cdiVersion":"0.6.0","kind":"v.com/c","extra":1,
                "devices":[{"name":"a","containerEdits":{"env":["A=1"]}}]}"#
                .to_string(),
            r#"{"cdiVersion":"0.6.0","kind":"v.com/c",
                "devices":[{"name":"a","extra":1,"containerEdits":{"env":["A=1"]}}]}"#
                .to_string(),
            with_edits("0.6.0", r#"{"env":["A=1"],"extra":1}"#),
            with_edits("0.6.0", r#"{"deviceNodes":[{"path":"/dev/x","extra":1}]}"#),
            with_edits(
                "0.6.0",
                r#"{"mounts":[{"hostPath":"/a","containerPath":"/a","extra":1}]}"#,
            ),
            with_edits(
                "0.6.0",
                r#"{"hooks":[{"hookName":"prestart","path":"/h","extra":1}]}"#,
            ),
            with_edits("0.7.0", r#"{"intelRdt":{"extra":1}}"#),
            with_edits(
                "1.1.0",
                r#"{"netDevices":[{"hostInterfaceName":"a","name":"b","extra":1}]}"#,
            ),
            // Field names are case-sensitive.
            r#"{"cdiversion":"0.6.0","kind":"v.com/c",
                "devices":[{"name":"a","containerEdits":{"env":["A=1"]}}]}"#
                .to_string(),
            with_edits(
                "0.6.0",
                r#"{"deviceNodes":[{"path":"/dev/x","hostpath":"/dev/y"}]}"#,
            ),
        ];
        for json in cases {
            let err = Spec::from_json_str(&json).expect_err(&json);
            assert!(matches!(err, Error::Json(_)), "{err:?}");
            assert!(err.to_string().contains("unknown field"), "{err}");
        }
    }

    #[test]
    fn shape_errors() {
        let cases: &[(&str, &str)] = &[
            ("", "invalid CDI spec: the spec is empty"),
            ("  \n", "invalid CDI spec: the spec is empty"),
            ("{}", "missing field `cdiVersion`"),
            ("[]", "malformed CDI spec"),
            ("{", "malformed CDI spec"),
            (
                r#"{"cdiVersion":"0.6.0","kind":"v.com/c"}"#,
                "missing field `devices`",
            ),
            (
                r#"{"cdiVersion":"0.6.0","devices":[]}"#,
                "missing field `kind`",
            ),
            (
                r#"{"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a"}]}"#,
                "missing field `containerEdits`",
            ),
            (
                r#"{"cdiVersion":"0.6.0","kind":"nvidia.com","devices":[]}"#,
                "invalid CDI kind \"nvidia.com\": missing '/' between vendor and class",
            ),
            (
                r#"{"cdiVersion":"0.6","kind":"v.com/c","devices":[]}"#,
                "invalid CDI version \"0.6\"",
            ),
            (
                r#"{"cdiVersion":6,"kind":"v.com/c","devices":[]}"#,
                "invalid type: integer `6`",
            ),
            (
                &with_edits("0.6.0", r#"{"deviceNodes":[{"path":"/dev/x","uid":-1}]}"#),
                "invalid value: integer `-1`",
            ),
            (
                &with_edits("0.6.0", r#"{"additionalGids":[4294967296]}"#),
                "invalid value: integer `4294967296`",
            ),
            (
                r#"{"cdiVersion":"0.6.0","cdiVersion":"0.6.0","kind":"v.com/c","devices":[]}"#,
                "duplicate field `cdiVersion`",
            ),
        ];
        for &(json, fragment) in cases {
            let err = Spec::from_json_str(json).expect_err(json);
            assert!(
                err.to_string().contains(fragment),
                "{err} lacks {fragment:?}"
            );
        }
    }

    #[test]
    fn accessors() {
        let spec = Spec::from_json_str(
            r#"{"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[
                {"name":"0","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0"}]}},
                {"name":"all","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0"}]}}]}"#,
        )
        .unwrap();
        let names: Vec<String> = spec
            .qualified_names()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["nvidia.com/gpu=0", "nvidia.com/gpu=all"]);
        assert_eq!(spec.device("all").unwrap().name, "all");
        assert!(spec.device("1").is_none());
        assert!(spec.device("nvidia.com/gpu=0").is_none());

        let mut unvalidated = spec.clone();
        unvalidated.devices[1].name = "bad name".into();
        assert_eq!(unvalidated.qualified_names().len(), 1);
        assert!(unvalidated.validate().is_err());
    }

    #[test]
    fn serialisation_omits_absent_fields() {
        let spec = Spec {
            cdi_version: Version::V0_5_0,
            kind: "nvidia.com/gpu".parse().unwrap(),
            annotations: None,
            devices: vec![Device {
                name: "0".into(),
                annotations: None,
                container_edits: ContainerEdits {
                    device_nodes: vec![DeviceNode {
                        path: "/dev/nvidia0".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            }],
            container_edits: None,
        };
        spec.validate().unwrap();
        assert_eq!(
            serde_json::to_string(&spec).unwrap(),
            r#"{"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[{"name":"0","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0"}]}}]}"#
        );
    }

    #[test]
    fn yaml_paths() {
        for (path, yaml) in [
            ("/etc/cdi/nvidia.yaml", true),
            ("/etc/cdi/nvidia.YML", true),
            ("/etc/cdi/nvidia.json", false),
            ("/etc/cdi/yaml", false),
        ] {
            assert_eq!(is_yaml(Path::new(path)), yaml, "{path}");
        }
        let err = Spec::load("/nonexistent/nvidia.yaml").unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("cannot read /nonexistent/nvidia.yaml: "),
            "{err}"
        );
    }
}
