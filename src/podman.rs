//! The one small Podman client: socket discovery and the libpod REST calls mlenv makes.
//!
//! Plain JSON calls go through `containers-api`'s request client (the transport under
//! `podman-api`) with our own typed bodies, because `podman-api`'s create builder sends some
//! fields under wrong keys and has no way to add missing ones. Exec and logs use `podman-api`,
//! whose stream demultiplexing is the part worth reusing. Nothing else in mlenv builds a URL.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use color_eyre::eyre::{eyre, Report, Result, WrapErr};
use containers_api::conn::{hyper, Headers, Payload, RequestClient, Transport};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::error::{Exit, EXIT_UNREACHABLE};

/// libpod accepts any `/vX/` prefix and branches on it; 4.3.1 is what `podman-api` speaks and
/// what every podman since answers with the v4 shapes we read.
const API: &str = "/v4.3.1";

/// How long `create` waits for a create of the same name still in flight to land, before it
/// takes the storage-only holder of the name for a leftover. Storage takes the name only at
/// the end of a create (after any slow ID-mapped copy), moments before podman records it.
const IN_FLIGHT_CREATE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

type Client = RequestClient<podman_api::Error>;

pub struct Podman {
    socket: PathBuf,
    client: Client,
    api: podman_api::Podman,
}

/// Where the socket was looked for, in order, and whether the caller chose it.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketChoice {
    pub path: PathBuf,
    pub explicit: bool,
}

/// Picks the socket: `--host`/`CONTAINER_HOST` (unix:// only), then
/// `$XDG_RUNTIME_DIR/podman/podman.sock`, `/run/user/$UID/podman/podman.sock`, and for root
/// `/run/podman/podman.sock`. The first candidate that exists wins; when none does, the first
/// candidate is named in the error so the user knows what to start.
pub fn choose_socket(
    host: Option<&str>,
    runtime_dir: Option<&str>,
    uid: u32,
    exists: impl Fn(&Path) -> bool,
) -> Result<SocketChoice, String> {
    if let Some(host) = host.filter(|h| !h.is_empty()) {
        let path = host.strip_prefix("unix://").ok_or_else(|| {
            format!("invalid --host/CONTAINER_HOST {host:?}: only unix:// sockets are supported, e.g. unix:///run/user/{uid}/podman/podman.sock")
        })?;
        if !path.starts_with('/') {
            return Err(format!(
                "invalid --host/CONTAINER_HOST {host:?}: expected an absolute path after unix://"
            ));
        }
        return Ok(SocketChoice {
            path: path.into(),
            explicit: true,
        });
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = runtime_dir.filter(|d| !d.is_empty()) {
        candidates.push(Path::new(dir).join("podman/podman.sock"));
    }
    candidates.push(format!("/run/user/{uid}/podman/podman.sock").into());
    if uid == 0 {
        candidates.insert(0, "/run/podman/podman.sock".into());
    }
    candidates.dedup();
    let path = candidates
        .iter()
        .find(|p| exists(p))
        .unwrap_or(&candidates[0])
        .clone();
    Ok(SocketChoice {
        path,
        explicit: false,
    })
}

/// The message for an unreachable service, with the command that starts it.
pub fn unreachable(socket: &Path, why: &str) -> Report {
    let root = nix::unistd::geteuid().is_root();
    let start = if root {
        "systemctl enable --now podman.socket"
    } else {
        "systemctl --user enable --now podman.socket"
    };
    Report::new(Exit {
        code: EXIT_UNREACHABLE,
        message: format!(
            "Cannot reach the Podman API at {} ({why}). Start it: {start}\n  \
             (without systemd: podman system service --time=0 unix://{} &)",
            socket.display(),
            socket.display()
        ),
    })
}

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
    pub shm_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
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

impl Podman {
    pub fn new(socket: &Path) -> Podman {
        let transport = Transport::Unix {
            client: hyper::Client::builder().build(containers_api::conn::get_unix_connector()),
            path: socket.to_path_buf(),
        };
        Podman {
            socket: socket.to_path_buf(),
            client: RequestClient::new(transport, Box::new(validate)),
            api: podman_api::Podman::unix(socket),
        }
    }

    /// The `podman-api` handle, for exec and logs.
    pub fn api(&self) -> &podman_api::Podman {
        &self.api
    }

    /// Turns a transport failure into the "cannot reach" message; keeps the server's own words
    /// for everything else.
    pub fn explain(&self, err: podman_api::Error) -> Report {
        match classify(&err) {
            Some(why) => unreachable(&self.socket, &why),
            None => eyre!("{}", server_message(&err)),
        }
    }

    pub async fn inspect(&self, name: &str) -> Result<Option<Container>> {
        let ep = format!("{API}/libpod/containers/{name}/json");
        match self.client.get_json::<Container>(&ep).await {
            Ok(c) => Ok(Some(c)),
            Err(podman_api::Error::Fault { code, .. }) if code == hyper::StatusCode::NOT_FOUND => {
                Ok(None)
            }
            Err(e) => Err(self.explain(e)),
        }
    }

    pub async fn info(&self) -> Result<ServiceInfo> {
        let v: serde_json::Value = self
            .client
            .get_json(format!("{API}/libpod/info"))
            .await
            .map_err(|e| self.explain(e))?;
        let mapped = |map: &serde_json::Value| {
            let ranges = map.as_array().filter(|r| !r.is_empty())?;
            Some(
                ranges
                    .iter()
                    .filter(|r| r["container_id"].as_u64() != Some(0))
                    .filter_map(|r| r["size"].as_u64())
                    .sum(),
            )
        };
        let network_cmd = v["host"]["rootlessNetworkCmd"]
            .as_str()
            .filter(|c| !c.is_empty())
            .unwrap_or("slirp4netns");
        Ok(ServiceInfo {
            rootless: v["host"]["security"]["rootless"].as_bool().unwrap_or(false),
            version: v["version"]["Version"].as_str().unwrap_or("").to_string(),
            graph_driver: v["store"]["graphDriverName"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            graph_root: v["store"]["graphRoot"].as_str().unwrap_or("").to_string(),
            mapped_uids: mapped(&v["host"]["idMappings"]["uidmap"]),
            mapped_gids: mapped(&v["host"]["idMappings"]["gidmap"]),
            network_cmd: network_cmd.to_string(),
            network_program: v["host"][network_cmd]["executable"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            cgroup_version: v["host"]["cgroupVersion"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        })
    }

    /// Every container with `label` (all states), in one request: `mlenv list`.
    pub async fn list_labelled(&self, label: &str) -> Result<Vec<Listed>> {
        let filters = serde_json::json!({ "label": [label] }).to_string();
        let query: String = filters
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        self.client
            .get_json(format!(
                "{API}/libpod/containers/json?all=true&filters={query}"
            ))
            .await
            .map_err(|e| self.explain(e))
    }

    /// The service's podman version (`/libpod/version`: cheaper than `info`).
    pub async fn version(&self) -> Result<String> {
        let v: serde_json::Value = self
            .client
            .get_json(format!("{API}/libpod/version"))
            .await
            .map_err(|e| self.explain(e))?;
        Ok(v["Version"].as_str().unwrap_or("").to_string())
    }

    /// Creates the container. When podman says the name is taken but has no such container,
    /// the name is held in storage only: by a create still in flight (an earlier mlenv was
    /// interrupted while podman made the container), or by the leftover of one the service never
    /// finished (it was killed mid-create). The first lands within moments and is taken if it is
    /// the container asked for (same labels, so same settings); the second never lands and is
    /// removed (it never ran, so nothing is lost), after which the create is tried once more.
    pub async fn create(&self, body: &CreateBody) -> Result<Created> {
        let json = serde_json::to_string(body)?;
        let name = &body.name;
        let deadline = std::time::Instant::now() + IN_FLIGHT_CREATE_WAIT;
        let mut waited = false;
        let mut removed_leftover = false;
        loop {
            let message = match self
                .client
                .post_json::<_, Created>(
                    format!("{API}/libpod/containers/create"),
                    Payload::Json(json.clone()),
                    Headers::none(),
                )
                .await
            {
                Ok(created) => return Ok(created),
                Err(podman_api::Error::Fault { message, .. })
                    if message.contains("already in use") =>
                {
                    message.trim_end_matches(": ").to_string()
                }
                Err(e) => return Err(self.explain(e)),
            };
            if let Some(c) = self.inspect(name).await? {
                if body.labels.iter().all(|(k, v)| c.label(k) == Some(v)) {
                    tracing::debug!(id = %c.id, "an earlier create of {name} landed; using it");
                    return Ok(Created {
                        id: c.id,
                        warnings: None,
                    });
                }
                return Err(eyre!("{message}"));
            }
            if std::time::Instant::now() < deadline {
                if !waited {
                    waited = true;
                    tracing::debug!("{name} is held in storage only ({message}); waiting");
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                continue;
            }
            if removed_leftover {
                return Err(eyre!("{message}"));
            }
            removed_leftover = true;
            // Without force: podman then removes a storage-only container by name.
            self.client
                .delete(format!("{API}/libpod/containers/{name}"))
                .await
                .map_err(|e| self.explain(e))
                .wrap_err_with(|| format!("{message}; removing the leftover failed"))?;
            crate::ui::info(&format!(
                "Removed a leftover of {name} that podman never finished creating"
            ));
        }
    }

    /// Starts the container. A service killed in the middle of a start leaves podman's record
    /// behind the runtime's: the container is still `created` (or `initialized`) while runc
    /// already has it (or already runs its process), and a start fails with "container with
    /// given ID already exists" or "runc start ... failed". A stop brings the two back in line
    /// (the failed start has already cleaned up runc's side in the first case), after which
    /// one more start works.
    pub async fn start(&self, name: &str) -> Result<()> {
        let ep = format!("{API}/libpod/containers/{name}/start");
        let err = match self.post_empty(ep.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        match self.inspect(name).await {
            Ok(Some(c)) if matches!(c.state.status.as_str(), "created" | "initialized") => {
                tracing::debug!(state = %c.state.status, "start failed ({err:#}); stopping and starting again");
                if let Err(e) = self.stop(name, 0).await {
                    tracing::debug!("stop before the second start failed: {e:#}");
                }
                self.post_empty(ep).await
            }
            _ => Err(err),
        }
    }

    pub async fn stop(&self, name: &str, timeout_s: u32) -> Result<()> {
        self.post_empty(format!(
            "{API}/libpod/containers/{name}/stop?timeout={timeout_s}"
        ))
        .await
    }

    pub async fn restart(&self, name: &str, timeout_s: u32) -> Result<()> {
        self.post_empty(format!(
            "{API}/libpod/containers/{name}/restart?t={timeout_s}"
        ))
        .await
    }

    pub async fn rename(&self, name: &str, new_name: &str) -> Result<()> {
        self.post_empty(format!(
            "{API}/libpod/containers/{name}/rename?name={}",
            encode(new_name)
        ))
        .await
    }

    pub async fn remove(&self, name: &str, force: bool) -> Result<()> {
        let ep = format!("{API}/libpod/containers/{name}?force={force}&v=true");
        self.client
            .delete(ep)
            .await
            .map(drop)
            .map_err(|e| self.explain(e))
    }

    pub async fn image(&self, image: &str) -> Result<Image> {
        self.client
            .get_json(format!("{API}/libpod/images/{image}/json"))
            .await
            .map_err(|e| self.explain(e))
    }

    pub async fn image_exists(&self, image: &str) -> Result<bool> {
        let ep = format!("{API}/libpod/images/{image}/exists");
        match self.client.get(ep).await {
            Ok(_) => Ok(true),
            Err(podman_api::Error::Fault { code, .. }) if code == hyper::StatusCode::NOT_FOUND => {
                Ok(false)
            }
            Err(e) => Err(self.explain(e)),
        }
    }

    /// Pulls through the Docker-compatible endpoint: unlike libpod's pull (before 4.8) it
    /// reports bytes per layer, which is what a 20 GB NGC pull needs to not look hung.
    pub async fn pull(
        &self,
        image: &str,
        mut on_progress: impl FnMut(&PullProgress),
    ) -> Result<()> {
        let (name, tag) = split_tag(image);
        let mut ep = format!("{API}/images/create?fromImage={}", encode(name));
        if let Some(tag) = tag {
            ep.push_str(&format!("&tag={}", encode(tag)));
        }
        let stream = self
            .client
            .post_stream(ep, Payload::empty(), Headers::none());
        let mut stream = Box::pin(stream);
        let mut tracker = PullTracker::default();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.explain(e))?;
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                if let Some(progress) = tracker.feed(&line)? {
                    on_progress(&progress);
                }
            }
        }
        if !buf.is_empty() {
            tracker.feed(&buf)?;
        }
        Ok(())
    }

    async fn post_empty(&self, ep: String) -> Result<()> {
        match self
            .client
            .post(ep, Payload::empty(), Headers::none())
            .await
        {
            Ok(_) => Ok(()),
            // 304: already started / already stopped, which is what we wanted.
            Err(podman_api::Error::Fault { code, .. })
                if code == hyper::StatusCode::NOT_MODIFIED =>
            {
                Ok(())
            }
            Err(e) => Err(self.explain(e)),
        }
    }
}

/// Sums layer progress from the Docker-compatible pull stream.
#[derive(Default)]
struct PullTracker {
    layers: BTreeMap<String, (u64, u64, bool)>,
}

impl PullTracker {
    fn feed(&mut self, line: &[u8]) -> Result<Option<PullProgress>> {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return Ok(None);
        };
        if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
            return Err(eyre!("{err}"));
        }
        let status = v["status"].as_str().unwrap_or("").to_string();
        if let Some(id) = v["id"].as_str() {
            let entry = self.layers.entry(id.to_string()).or_default();
            if let (Some(cur), Some(total)) = (
                v["progressDetail"]["current"].as_u64(),
                v["progressDetail"]["total"].as_u64(),
            ) {
                entry.0 = cur;
                entry.1 = total;
            }
            if status.starts_with("Pull complete")
                || status.starts_with("Already exists")
                || status.starts_with("Download complete")
            {
                entry.2 = true;
                entry.0 = entry.1;
            }
        }
        Ok(Some(PullProgress {
            current: self.layers.values().map(|l| l.0).sum(),
            total: self.layers.values().map(|l| l.1).sum(),
            layers: self.layers.len(),
            layers_done: self.layers.values().filter(|l| l.2).count(),
            status,
        }))
    }
}

/// `repo:tag` -> (`repo`, `tag`); a `:` before the last `/` is a registry port, and a digest
/// reference is passed whole.
fn split_tag(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    let after_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[after_slash..].rfind(':') {
        Some(i) => (
            &image[..after_slash + i],
            Some(&image[after_slash + i + 1..]),
        ),
        None => (image, None),
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A reason when the error is about reaching the socket rather than podman's answer.
fn classify(err: &podman_api::Error) -> Option<String> {
    use containers_api::conn::Error as Conn;
    let conn = match err {
        podman_api::Error::Error(c) => c,
        _ => return None,
    };
    match conn {
        Conn::Hyper(h) if h.is_connect() => Some(source_chain(h)),
        Conn::Hyper(h) if h.is_incomplete_message() || h.is_closed() || h.is_canceled() => Some(
            format!("the service closed the connection: {}", source_chain(h)),
        ),
        Conn::IO(io) => Some(io.to_string()),
        _ => None,
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// podman's error text without the crate's "error 500 Internal Server Error - " prefix noise.
fn server_message(err: &podman_api::Error) -> String {
    match err {
        podman_api::Error::Fault { message, .. } => message.trim_end_matches(": ").to_string(),
        other => other.to_string(),
    }
}

fn validate(
    response: hyper::Response<hyper::Body>,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = std::result::Result<hyper::Response<hyper::Body>, podman_api::Error>,
            > + Send
            + Sync,
    >,
> {
    Box::pin(async move {
        let status = response.status();
        if status.is_success() || status == hyper::StatusCode::SWITCHING_PROTOCOLS {
            return Ok(response);
        }
        let bytes = hyper::body::to_bytes(response.into_body())
            .await
            .map_err(containers_api::conn::Error::from)?;
        let text = String::from_utf8_lossy(&bytes);
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                let msg = v.get("message")?.as_str()?.to_string();
                Some(msg)
            })
            .unwrap_or_else(|| {
                let t = text.trim();
                if t.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_string()
                } else {
                    t.to_string()
                }
            });
        Err(podman_api::Error::Fault {
            code: status,
            message,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_order() {
        let none = |_: &Path| false;
        let c = choose_socket(None, Some("/run/user/1000"), 1000, none).unwrap();
        assert_eq!(c.path, Path::new("/run/user/1000/podman/podman.sock"));
        let c = choose_socket(None, None, 1000, none).unwrap();
        assert_eq!(c.path, Path::new("/run/user/1000/podman/podman.sock"));
        let c = choose_socket(None, Some("/x"), 1000, |p: &Path| {
            p.starts_with("/run/user")
        })
        .unwrap();
        assert_eq!(c.path, Path::new("/run/user/1000/podman/podman.sock"));
        let c = choose_socket(None, None, 0, |p: &Path| p.starts_with("/run/podman")).unwrap();
        assert_eq!(c.path, Path::new("/run/podman/podman.sock"));
        let c = choose_socket(Some("unix:///tmp/p.sock"), Some("/x"), 1000, none).unwrap();
        assert_eq!(
            c,
            SocketChoice {
                path: "/tmp/p.sock".into(),
                explicit: true
            }
        );
        for bad in [
            "tcp://1.2.3.4:8080",
            "ssh://u@h/run/p.sock",
            "unix://rel.sock",
        ] {
            let e = choose_socket(Some(bad), None, 1000, none).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn tags() {
        let cases = [
            (
                "nvcr.io/nvidia/pytorch:26.10-py3",
                ("nvcr.io/nvidia/pytorch", Some("26.10-py3")),
            ),
            ("localhost:5000/a", ("localhost:5000/a", None)),
            ("localhost:5000/a:1", ("localhost:5000/a", Some("1"))),
            ("a@sha256:00", ("a@sha256:00", None)),
        ];
        for (input, want) in cases {
            assert_eq!(split_tag(input), want, "{input}");
        }
    }

    #[test]
    fn pull_progress_sums_layers() {
        let mut t = PullTracker::default();
        let lines = [
            r#"{"status":"Pulling fs layer","id":"a"}"#,
            r#"{"status":"Downloading","progressDetail":{"current":50,"total":100},"id":"a"}"#,
            r#"{"status":"Downloading","progressDetail":{"current":10,"total":300},"id":"b"}"#,
        ];
        let mut last = None;
        for l in lines {
            last = t.feed(l.as_bytes()).unwrap();
        }
        let p = last.unwrap();
        assert_eq!(
            (p.current, p.total, p.layers, p.layers_done),
            (60, 400, 2, 0)
        );
        let p = t
            .feed(br#"{"status":"Pull complete","id":"a"}"#)
            .unwrap()
            .unwrap();
        assert_eq!((p.current, p.layers_done), (110, 1));
        let e = t
            .feed(br#"{"error":"manifest unknown","errorDetail":{}}"#)
            .unwrap_err();
        assert_eq!(e.to_string(), "manifest unknown");
    }

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
