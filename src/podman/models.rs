//! The shapes mlenv reads from libpod and sends to it: only the fields it uses.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------
// What we read back
// ---------------------------------------------------------------------------------------
/// The parts of `GET /libpod/containers/{name}/json` mlenv uses. Read leniently: field sets
/// differ between podman versions, and a missing field must not break `status`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// The image's ID.
    pub image: String,
    pub image_name: String,
    pub state: ContainerState,
    pub config: ContainerConfig,
    pub network_settings: NetworkSettings,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    /// created, running, exited, stopped, paused, ...
    pub status: String,
    pub running: bool,
    /// The host pid of the container's first process (0 when it does not run).
    pub pid: i64,
    pub started_at: String,
    pub exit_code: i64,
    pub error: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub labels: Option<BTreeMap<String, String>>,
    pub working_dir: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    pub ports: Option<BTreeMap<String, Option<Vec<HostPort>>>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostPort {
    pub host_ip: String,
    pub host_port: String,
}

impl Container {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.config.labels.as_ref()?.get(key).map(String::as_str)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Created {
    pub id: String,
    pub warnings: Option<Vec<String>>,
    /// A storage-only leftover of the name (a create the service never finished) was
    /// removed first.
    #[serde(skip)]
    pub removed_leftover: bool,
}

/// The parts of `GET /libpod/images/{name}/json` mlenv uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Image {
    pub id: String,
    pub config: ImageConfig,
    /// Bytes the image takes in storage.
    pub size: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageConfig {
    pub env: Option<Vec<String>>,
}

impl Image {
    /// A variable from the image's `ENV`.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.config
            .env
            .iter()
            .flatten()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    }
}

/// One entry of `GET /libpod/containers/json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listed {
    pub names: Vec<String>,
    pub image: String,
    pub state: String,
    #[serde(default)]
    pub labels: Option<HashMap<String, String>>,
    #[serde(default)]
    pub ports: Option<Vec<ListedPort>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ListedPort {
    #[serde(default)]
    pub host_ip: String,
    pub container_port: u16,
    pub host_port: u16,
    #[serde(default)]
    pub protocol: String,
}

/// What `/libpod/info` says about the service that matters to mlenv.
#[derive(Debug, Clone, Default)]
pub struct ServiceInfo {
    pub rootless: bool,
    pub version: String,
    /// `store.graphDriverName`: overlay, vfs, btrfs, ...
    pub graph_driver: String,
    /// `store.graphRoot`: where images and containers are stored.
    pub graph_root: String,
    /// `store.graphStatus."Supports shifting"` (podman 5 reports it): the driver maps IDs
    /// itself, so keep-id needs no copy of an image.
    pub supports_shifting: bool,
    /// `store.graphOptions."overlay.mount_program".Executable` (fuse-overlayfs), if any.
    pub mount_program: Option<String>,
    /// `store.configFile`: the storage.conf podman reads.
    pub storage_conf: String,
    /// Subordinate IDs the service's user namespace maps (`host.idMappings`, every range but
    /// the one for the user's own ID); `None` when it reports no mappings (rootful).
    pub mapped_uids: Option<u64>,
    pub mapped_gids: Option<u64>,
    /// What gives rootless containers their network: `host.rootlessNetworkCmd` (podman 5:
    /// pasta by default), else slirp4netns, podman 4's only choice.
    pub network_cmd: String,
    /// That program's path as podman found it (`host.pasta` / `host.slirp4netns`
    /// `executable`); empty when it is not installed.
    pub network_program: String,
    /// `host.cgroupVersion`: v1 or v2.
    pub cgroup_version: String,
}

// ---------------------------------------------------------------------------------------
// What we send
// ---------------------------------------------------------------------------------------

/// `POST /libpod/containers/create` body (podman's SpecGenerator), only the fields mlenv sets.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateBody {
    pub name: String,
    pub image: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// Secrets from the env file travel here and only here.
    pub env: BTreeMap<String, String>,
    pub work_dir: String,
    pub mounts: Vec<Mount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns: Option<Namespace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The user's /etc/passwd line (podman 4.1 and later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passwd_entry: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub portmappings: Vec<PortMapping>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<ResourceLimits>,
    pub restart_policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_tries: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selinux_opts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipcns: Option<Namespace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub r_limits: Vec<Rlimit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
}

/// One process limit as podman's API takes it: `memlock` (podman adds `RLIMIT_`), values
/// in the resource's units, u64::MAX for unlimited.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rlimit {
    #[serde(rename = "type")]
    pub kind: String,
    pub hard: u64,
    pub soft: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Mount {
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub destination: String,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Namespace {
    pub nsmode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Device {
    pub path: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortMapping {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
    pub range: u16,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ResourceLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryLimit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuLimit>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MemoryLimit {
    pub limit: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CpuLimit {
    pub period: u64,
    pub quota: i64,
}

/// Progress of an image pull, summed over layers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PullProgress {
    pub current: u64,
    pub total: u64,
    pub layers: usize,
    pub layers_done: usize,
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_keys_match_libpod() {
        let body = CreateBody {
            name: "n".into(),
            image: "i".into(),
            userns: Some(Namespace {
                nsmode: "keep-id".into(),
                value: None,
            }),
            devices: vec![Device {
                path: "nvidia.com/gpu=0".into(),
            }],
            resource_limits: Some(ResourceLimits {
                memory: Some(MemoryLimit { limit: 1 }),
                cpu: Some(CpuLimit {
                    period: 100000,
                    quota: 200000,
                }),
            }),
            ..Default::default()
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["userns"]["nsmode"], "keep-id");
        assert_eq!(v["devices"][0]["path"], "nvidia.com/gpu=0");
        assert_eq!(v["resource_limits"]["cpu"]["quota"], 200000);
        assert!(v.get("portmappings").is_none());
    }
}
