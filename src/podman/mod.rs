//! The one Podman client: socket choice, the libpod REST calls mlenv makes, and typed
//! errors. Nothing outside this module names `podman_api`, builds a URL or a JSON body.
//!
//! Plain JSON calls go through `containers-api`'s request client (the transport under
//! `podman-api`) with our own typed bodies ([`models`]), because `podman-api`'s create
//! builder sends some fields under wrong keys and has no way to add missing ones. Exec and
//! logs ([`exec`]) use `podman-api`, whose stream demultiplexing is the part worth reusing.
//! The client never prints: progress goes to callbacks, notes to the debug log.

mod error;
mod exec;
mod models;
mod pull;
mod socket;

use std::path::{Path, PathBuf};

use containers_api::conn::{hyper, Headers, Payload, RequestClient, Transport};

pub use error::{Error, Result};
pub use exec::{ExecOutcome, ExecSpec, Output, Resizer};
pub use models::*;
pub use socket::{choose_socket, private_dir_of, runtime_dir_for, SocketChoice};

/// libpod accepts any `/vX/` prefix and branches on it; 4.3.1 is what `podman-api` speaks and
/// what every podman since answers with the v4 shapes we read.
const API: &str = "/v4.3.1";

/// How long `create` waits for a create of the same name still in flight to land, before it
/// takes the storage-only holder of the name for a leftover. Storage takes the name only at
/// the end of a create (after any slow ID-mapped copy), moments before podman records it.
const IN_FLIGHT_CREATE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Podman {
    socket: PathBuf,
    /// JSON requests with our own bodies.
    client: RequestClient<podman_api::Error>,
    /// Exec and logs streams.
    api: podman_api::Podman,
    /// [`Podman::version`], once asked.
    version: tokio::sync::OnceCell<String>,
}

impl Podman {
    pub fn new(socket: &Path) -> Podman {
        let transport = Transport::Unix {
            client: hyper::Client::builder().build(containers_api::conn::get_unix_connector()),
            path: socket.to_path_buf(),
        };
        Podman {
            socket: socket.to_path_buf(),
            client: RequestClient::new(transport, Box::new(error::validate)),
            api: podman_api::Podman::unix(socket),
            version: tokio::sync::OnceCell::new(),
        }
    }

    /// Ours, for a failure of either client.
    fn error(&self, err: podman_api::Error) -> Error {
        Error::from_api(&self.socket, err)
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub async fn inspect(&self, name: &str) -> Result<Option<Container>> {
        let ep = format!("{API}/libpod/containers/{name}/json");
        match self.client.get_json::<Container>(&ep).await {
            Ok(c) => Ok(Some(c)),
            Err(podman_api::Error::Fault { code, .. }) if code == hyper::StatusCode::NOT_FOUND => {
                Ok(None)
            }
            Err(e) => Err(self.error(e)),
        }
    }

    pub async fn info(&self) -> Result<ServiceInfo> {
        let v: serde_json::Value = self
            .client
            .get_json(format!("{API}/libpod/info"))
            .await
            .map_err(|e| self.error(e))?;
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
            supports_shifting: v["store"]["graphStatus"]["Supports shifting"].as_str()
                == Some("true"),
            mount_program: v["store"]["graphOptions"]["overlay.mount_program"]["Executable"]
                .as_str()
                .filter(|p| !p.is_empty())
                .map(str::to_string),
            storage_conf: v["store"]["configFile"].as_str().unwrap_or("").to_string(),
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
        let query = encode(&filters);
        self.client
            .get_json(format!(
                "{API}/libpod/containers/json?all=true&filters={query}"
            ))
            .await
            .map_err(|e| self.error(e))
    }

    /// Whether the service is rootless, without asking it: the uid of whoever listens on the
    /// socket (`SO_PEERCRED`: the podman service, or the systemd manager holding the socket
    /// for it) is root only for root's podman. Not the socket file's owner, which a
    /// `SocketUser=` drop-in or a chown changes. `/libpod/info` would say the same at the
    /// cost of a slow request (see [`Podman::version`]); it is the answer when the socket
    /// cannot be asked.
    pub async fn rootless(&self) -> Result<bool> {
        match listener_uid(&self.socket) {
            Some(uid) => Ok(uid != 0),
            None => Ok(self.info().await?.rootless),
        }
    }

    /// The service's podman version, asked once per process: `_ping`'s `Libpod-Api-Version`
    /// header (libpod's API version is its podman version). `_ping` answers in milliseconds;
    /// `/libpod/version` and `/libpod/info` make podman 4.3 run conmon and the OCI runtime to
    /// learn their versions (360-530 ms), which a warm `up` must not pay.
    pub async fn version(&self) -> Result<String> {
        self.version
            .get_or_try_init(|| async {
                let response = self
                    .client
                    .get(format!("{API}/libpod/_ping"))
                    .await
                    .map_err(|e| self.error(e))?;
                let header = response
                    .headers()
                    .get("Libpod-Api-Version")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                match header {
                    Some(v) if !v.is_empty() => Ok(v),
                    // A service that does not say (not seen from podman 4.3 on): ask the
                    // slow way rather than guess.
                    _ => {
                        let v: serde_json::Value = self
                            .client
                            .get_json(format!("{API}/libpod/version"))
                            .await
                            .map_err(|e| self.error(e))?;
                        Ok(v["Version"].as_str().unwrap_or("").to_string())
                    }
                }
            })
            .await
            .cloned()
    }

    /// Creates the container. When podman says the name is taken but has no such container,
    /// the name is held in storage only: by a create still in flight (an earlier mlenv was
    /// interrupted while podman made the container), or by the leftover of one the service never
    /// finished (it was killed mid-create). The first lands within moments and is taken if it is
    /// the container asked for (same labels, so same settings); the second never lands and is
    /// removed (it never ran, so nothing is lost), after which the create is tried once more.
    pub async fn create(&self, body: &CreateBody) -> Result<Created> {
        let json = serde_json::to_string(body).expect("a create body serialises");
        let name = &body.name;
        let deadline = std::time::Instant::now() + IN_FLIGHT_CREATE_WAIT;
        let mut waited = false;
        let mut removed_leftover = false;
        let mut retried_subids = false;
        loop {
            let (status, message) = match self
                .client
                .post_json::<_, Created>(
                    format!("{API}/libpod/containers/create"),
                    Payload::Json(json.clone()),
                    Headers::none(),
                )
                .await
            {
                Ok(created) => {
                    return Ok(Created {
                        removed_leftover,
                        ..created
                    })
                }
                Err(podman_api::Error::Fault { code, message })
                    if message.contains("already in use") =>
                {
                    (code.as_u16(), message.trim_end_matches(": ").to_string())
                }
                // podman 4.3 now and then finds no subordinate IDs where there are some, and
                // says so with a nil error ("...to function correctly: %!w(<nil>)"): a
                // transient of its own reading, which the same request does not meet again.
                Err(podman_api::Error::Fault { message, .. })
                    if !retried_subids
                        && message.contains("keep-id requires additional UIDs")
                        && message.contains("%!w(<nil>)") =>
                {
                    retried_subids = true;
                    tracing::debug!(
                        "podman found no subordinate IDs ({message}); creating once more"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    continue;
                }
                Err(e) => {
                    return Err(match self.error(e) {
                        // What the user would not learn otherwise.
                        Error::Api { status, message } if removed_leftover => Error::Api {
                            status,
                            message: format!(
                                "{message} (after removing a leftover of {name} that podman never finished creating)"
                            ),
                        },
                        other => other,
                    });
                }
            };
            if let Some(c) = self.inspect(name).await? {
                if body.labels.iter().all(|(k, v)| c.label(k) == Some(v)) {
                    tracing::debug!(id = %c.id, "an earlier create of {name} landed; using it");
                    return Ok(Created {
                        id: c.id,
                        warnings: None,
                        removed_leftover,
                    });
                }
                return Err(Error::Api { status, message });
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
                return Err(Error::Api { status, message });
            }
            removed_leftover = true;
            // Without force: podman then removes a storage-only container by name.
            if let Err(e) = self
                .client
                .delete(format!("{API}/libpod/containers/{name}"))
                .await
            {
                return Err(match self.error(e) {
                    Error::Api {
                        status,
                        message: why,
                    } => Error::Api {
                        status,
                        message: format!("{message}; removing the leftover failed: {why}"),
                    },
                    other => other,
                });
            }
            tracing::debug!("removed a storage-only leftover of {name}");
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
            .map_err(|e| self.error(e))
    }

    pub async fn image(&self, image: &str) -> Result<Image> {
        self.client
            .get_json(format!("{API}/libpod/images/{image}/json"))
            .await
            .map_err(|e| self.error(e))
    }

    pub async fn image_exists(&self, image: &str) -> Result<bool> {
        let ep = format!("{API}/libpod/images/{image}/exists");
        match self.client.get(ep).await {
            Ok(_) => Ok(true),
            Err(podman_api::Error::Fault { code, .. }) if code == hyper::StatusCode::NOT_FOUND => {
                Ok(false)
            }
            Err(e) => Err(self.error(e)),
        }
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
            Err(e) => Err(self.error(e)),
        }
    }
}

/// The uid of the process listening on Unix socket `path`, as the kernel recorded it when
/// it listened.
/// The hard limit `name` (`memlock`, `stack`) of the process listening on the socket:
/// podman's service, or the systemd user manager that activates it, whose limits the
/// containers it starts inherit. `Some(None)` is unlimited; `None` when it cannot be read.
pub fn listener_hard_limit(path: &Path, name: &str) -> Option<Option<u64>> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let stream = std::os::unix::net::UnixStream::connect(path).ok()?;
    let pid = getsockopt(&stream, PeerCredentials).ok()?.pid();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let label = match name {
        "memlock" => "Max locked memory",
        "stack" => "Max stack size",
        _ => return None,
    };
    let line = limits.lines().find(|l| l.starts_with(label))?;
    let hard = line[label.len()..].split_whitespace().nth(1)?;
    Some(if hard == "unlimited" {
        None
    } else {
        Some(hard.parse().ok()?)
    })
}

fn listener_uid(path: &Path) -> Option<u32> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let stream = std::os::unix::net::UnixStream::connect(path).ok()?;
    getsockopt(&stream, PeerCredentials).ok().map(|c| c.uid())
}

/// What the service's `host.cgroupVersion` says ("v2" when true), read on this host, which
/// is the service's (a Unix socket): /sys/fs/cgroup is a cgroup2 mount only on the unified
/// hierarchy; a hybrid one is v1 to podman.
pub fn host_cgroup_v2() -> bool {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    statfs("/sys/fs/cgroup").is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

/// Percent-encodes a query value: everything but RFC 3986's unreserved characters (the
/// service decodes the rest, `/` and `:` of an image reference included).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_listeners_uid_is_the_kernels_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(
            super::listener_uid(&path),
            Some(nix::unistd::geteuid().as_raw())
        );
        assert_eq!(super::listener_uid(&dir.path().join("none.sock")), None);
    }

    #[test]
    fn encodes_all_but_unreserved() {
        assert_eq!(super::encode("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(
            super::encode(r#"{"label":["x=1"]} nvcr.io/a:1"#),
            "%7B%22label%22%3A%5B%22x%3D1%22%5D%7D%20nvcr.io%2Fa%3A1"
        );
    }
}
