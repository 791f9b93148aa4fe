//! The decisions of `mlenv doctor`: each check is a pure function from facts the caller
//! gathered (file texts, mode bits, the API's answers, filesystem numbers) to one [`Check`]
//! with its fix, so every verdict is table-tested without the machine it describes.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

/// How bad a finding is. Only `Fail` blocks `mlenv up` (and makes doctor exit non-zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    /// Nothing to fix: a fact worth knowing, or a check that does not apply.
    Info,
    /// `up` works, but something the user expects will not (GPUs, a reboot, disk use).
    Warn,
    /// `up` would fail, or would not do what the configuration asks.
    Fail,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub level: Level,
    pub message: String,
    pub fix: Option<String>,
    /// What was found, for scripts (`--json`); null when there is nothing beyond the message.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub facts: serde_json::Value,
}

impl Check {
    fn new(name: &'static str, level: Level, message: impl Into<String>) -> Check {
        Check {
            name,
            level,
            message: message.into(),
            fix: None,
            facts: serde_json::Value::Null,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    fn facts(mut self, facts: serde_json::Value) -> Check {
        self.facts = facts;
        self
    }

    /// A check that needs the podman service, when it does not answer.
    pub fn skipped(name: &'static str) -> Check {
        Check::new(
            name,
            Level::Info,
            "not checked: the podman service does not answer",
        )
    }
}

const GIB: u64 = 1 << 30;

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / GIB as f64)
}

// ---------------------------------------------------------------------------------------
// The podman service
// ---------------------------------------------------------------------------------------

/// What the service said about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub version: String,
    pub rootless: bool,
}

/// The oldest podman mlenv supports (keep-id with `uid=`/`gid=`, CDI names in `devices`).
const OLDEST_PODMAN: (u64, u64) = (4, 3);

/// The socket answering, and a podman mlenv supports. `answer` is the service or why it
/// did not answer; `user_manager` picks the fix that starts it.
pub fn podman_service(
    socket: &Path,
    answer: &Result<Service, String>,
    euid: u32,
    user_manager: bool,
) -> Check {
    let service = match answer {
        Ok(s) => s,
        Err(why) => {
            let fix = if euid == 0 {
                "systemctl enable --now podman.socket".to_string()
            } else if user_manager {
                "systemctl --user enable --now podman.socket".to_string()
            } else {
                format!(
                    "podman system service --time=0 unix://{} &   (no systemd user manager here; with one: systemctl --user enable --now podman.socket)",
                    socket.display()
                )
            };
            return Check::new(
                "podman",
                Level::Fail,
                format!(
                    "no answer from the podman API at {} ({why})",
                    socket.display()
                ),
            )
            .fix(fix)
            .facts(json!({ "socket": socket }));
        }
    };
    let facts = json!({
        "socket": socket,
        "version": service.version,
        "rootless": service.rootless,
    });
    let mode = if service.rootless {
        "rootless"
    } else {
        "rootful"
    };
    match crate::gpu::policy::major_minor(&service.version) {
        Some(v) if v >= OLDEST_PODMAN => Check::new(
            "podman",
            Level::Ok,
            format!(
                "podman {} ({mode}) answers at {}",
                service.version,
                socket.display()
            ),
        )
        .facts(facts),
        Some(_) => Check::new(
            "podman",
            Level::Fail,
            format!(
                "podman {} is older than {}.{}, the oldest mlenv supports",
                service.version, OLDEST_PODMAN.0, OLDEST_PODMAN.1
            ),
        )
        .fix("upgrade podman (your distribution's podman package)")
        .facts(facts),
        None => Check::new(
            "podman",
            Level::Warn,
            format!(
                "podman answers at {} but reports an unreadable version {:?}",
                socket.display(),
                service.version
            ),
        )
        .facts(facts),
    }
}

/// The reason inside podman client's "Cannot reach the Podman API at SOCKET (why). Start
/// it: ..." message; the whole first line for any other error.
pub fn unreachable_reason(error: &str, socket: &Path) -> String {
    let first = error.lines().next().unwrap_or_default();
    let prefix = format!("Cannot reach the Podman API at {} (", socket.display());
    let reason = first
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split(". Start it").next())
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(first);
    // The transport's error chain often repeats its innermost cause.
    let mut parts: Vec<&str> = Vec::new();
    for part in reason.split(": ") {
        if parts.last() != Some(&part) {
            parts.push(part);
        }
    }
    parts.join(": ")
}

// ---------------------------------------------------------------------------------------
// Rootless prerequisites
// ---------------------------------------------------------------------------------------

/// Subordinate UIDs or GIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ids {
    Uid,
    Gid,
}

impl Ids {
    fn name(self) -> &'static str {
        match self {
            Ids::Uid => "subuid",
            Ids::Gid => "subgid",
        }
    }
    fn what(self) -> &'static str {
        match self {
            Ids::Uid => "UIDs",
            Ids::Gid => "GIDs",
        }
    }
}

/// What keep-id needs: a whole 16-bit ID space, so files owned by any ID an image uses
/// (up to 65534, `nobody`) map.
pub const WANTED_IDS: u64 = 65536;

/// The `start:count` ranges of `user` (by name or UID) in /etc/subuid or /etc/subgid text.
pub fn id_ranges_of(text: &str, user: &str, uid: u32) -> Vec<(u64, u64)> {
    let uid = uid.to_string();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split(':');
            let owner = parts.next()?;
            let start = parts.next()?.trim().parse().ok()?;
            let count = parts.next()?.trim().parse().ok()?;
            (owner == user || owner == uid).then_some((start, count))
        })
        .collect()
}

fn usermod_fix(user: &str) -> String {
    format!(
        "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}, then podman system migrate"
    )
}

/// The user's subordinate IDs. `text` is the file (`Err` when unreadable; a missing file
/// reads as empty); `mapped` what the running podman maps, when it says.
pub fn sub_ids(
    ids: Ids,
    file: &Path,
    text: Result<&str, String>,
    user: &str,
    uid: u32,
    mapped: Option<u64>,
) -> Check {
    let name = ids.name();
    if uid == 0 {
        return Check::new(
            name,
            Level::Info,
            "running as root: rootful podman needs no subordinate IDs",
        );
    }
    let text = match text {
        Ok(t) => t,
        Err(why) => {
            return Check::new(
                name,
                Level::Warn,
                format!("cannot read {}: {why}", file.display()),
            )
            .fix(format!("sudo chmod a+r {}", file.display()))
        }
    };
    let ranges = id_ranges_of(text, user, uid);
    let total: u64 = ranges.iter().map(|r| r.1).sum();
    let shown: Vec<String> = ranges
        .iter()
        .map(|(s, c)| format!("{s}-{}", s + c.saturating_sub(1)))
        .collect();
    let facts = json!({ "file": file, "ranges": ranges, "total": total, "podman_mapped": mapped });
    let what = ids.what();
    if total == 0 {
        return Check::new(
            name,
            Level::Fail,
            format!(
                "{user} has no subordinate {what} in {}: rootless podman cannot store image files owned by other users, and keep-id needs them",
                file.display()
            ),
        )
        .fix(usermod_fix(user))
        .facts(facts);
    }
    let found = format!(
        "{user} has {total} subordinate {what} ({} in {})",
        shown.join(", "),
        file.display()
    );
    if total < WANTED_IDS {
        return Check::new(
            name,
            Level::Warn,
            format!("{found}: fewer than {WANTED_IDS}, so images with files owned by higher IDs fail to pull"),
        )
        .fix(usermod_fix(user))
        .facts(facts);
    }
    match mapped {
        Some(m) if m < total.min(WANTED_IDS) => Check::new(
            name,
            Level::Warn,
            format!(
                "{found}, but the running podman maps only {m}: it has not picked up the ranges"
            ),
        )
        .fix("podman system migrate (it stops your running containers), then start them again")
        .facts(facts),
        _ => Check::new(name, Level::Ok, found).facts(facts),
    }
}

/// A setuid helper as found in PATH.
#[derive(Debug, Clone, PartialEq)]
pub struct Helper {
    pub path: PathBuf,
    pub mode: u32,
    pub owner: u32,
    /// It has file capabilities (`security.capability`), as Fedora ships them.
    pub caps: bool,
}

/// `newuidmap` / `newgidmap`: rootless podman runs them to set up its ID mappings, so they
/// must run with privilege: setuid root or file capabilities.
pub fn id_helper(name: &'static str, found: Option<&Helper>, euid: u32) -> Check {
    if euid == 0 {
        return Check::new(name, Level::Info, "running as root: not needed");
    }
    let Some(h) = found else {
        return Check::new(
            name,
            Level::Fail,
            format!("{name} is not in PATH: rootless podman can map only your own ID, and keep-id fails"),
        )
        .fix("install it: sudo apt-get install uidmap (Debian, Ubuntu) or sudo dnf install shadow-utils (Fedora, RHEL)");
    };
    let facts = json!({ "path": h.path, "mode": format!("{:o}", h.mode & 0o7777), "caps": h.caps });
    let setuid = h.owner == 0 && h.mode & 0o4000 != 0;
    if setuid || h.caps {
        let how = if setuid {
            "setuid root"
        } else {
            "file capabilities"
        };
        return Check::new(name, Level::Ok, format!("{} ({how})", h.path.display())).facts(facts);
    }
    let cap = if name == "newgidmap" {
        "cap_setgid"
    } else {
        "cap_setuid"
    };
    Check::new(
        name,
        Level::Fail,
        format!(
            "{} is neither setuid root nor has file capabilities (mode {:o}): it cannot set up podman's ID mappings",
            h.path.display(),
            h.mode & 0o7777
        ),
    )
    .fix(format!(
        "sudo chmod u+s {0} (or sudo setcap {cap}+ep {0}); reinstalling the package restores it",
        h.path.display()
    ))
    .facts(facts)
}

/// `/dev/net/tun` opened read-write: slirp4netns and pasta, which give rootless containers
/// their network and forward ports, need it. `open` is the result of that open.
pub fn tun(open: &Result<(), (std::io::ErrorKind, String)>) -> Check {
    const NAME: &str = "/dev/net/tun";
    match open {
        Ok(()) => Check::new(
            NAME,
            Level::Ok,
            "opens read-write (rootless networking and port forwarding work)",
        ),
        Err((std::io::ErrorKind::NotFound, _)) => Check::new(
            NAME,
            Level::Fail,
            "missing: rootless containers get no network (slirp4netns and pasta need it)",
        )
        .fix("sudo modprobe tun (and list tun in /etc/modules-load.d/tun.conf so it loads at boot)"),
        Err((std::io::ErrorKind::PermissionDenied, why)) => Check::new(
            NAME,
            Level::Fail,
            format!("cannot be opened read-write ({why}): rootless containers get no network"),
        )
        .fix("sudo chmod 0666 /dev/net/tun (the usual mode; udev's default rule sets it at boot)"),
        Err((_, why)) => Check::new(
            NAME,
            Level::Fail,
            format!("cannot be opened read-write ({why}): rootless containers get no network"),
        )
        .fix("check that the tun module is loaded (sudo modprobe tun) and /dev/net/tun is a character device 10,200"),
    }
}

/// The program that gives rootless containers their network: `cmd` as the service names it
/// (pasta, the default from podman 5; slirp4netns before), `program` its path (empty when
/// podman did not find it).
pub fn rootless_network(cmd: &str, program: &str, rootless: bool) -> Check {
    const NAME: &str = "network";
    let facts = json!({ "program": cmd, "executable": program });
    if !rootless {
        return Check::new(
            NAME,
            Level::Ok,
            "rootful podman: netavark/CNI bridge networks",
        )
        .facts(facts);
    }
    let package = if cmd == "pasta" { "passt" } else { cmd };
    if program.is_empty() {
        return Check::new(
            NAME,
            Level::Fail,
            format!("podman runs {cmd} for rootless networking, but it is not installed: containers cannot start"),
        )
        .fix(format!(
            "sudo dnf install {package} (Fedora/RHEL) or sudo apt install {package} (Debian/Ubuntu)"
        ))
        .facts(facts);
    }
    let message = if cmd == "pasta" {
        format!(
            "pasta ({program}): the container gets the host's own address, so it reaches the \
             host as host.containers.internal (slirp4netns's 10.0.2.2 does not exist)"
        )
    } else {
        format!(
            "{cmd} ({program}): containers reach the host as 10.0.2.2 or host.containers.internal"
        )
    };
    Check::new(NAME, Level::Ok, message).facts(facts)
}

/// Podman 5 on cgroup v1: deprecated, and every podman command says so (mlenv's units
/// silence that warning, so it is said here once). None where it does not apply.
pub fn cgroup_v1_deprecated(podman_version: &str, cgroup_version: &str) -> Option<Check> {
    let major = crate::gpu::policy::major_minor(podman_version)?.0;
    (major >= 5 && cgroup_version == "v1").then(|| {
        Check::new(
            "cgroup v1",
            Level::Warn,
            format!("podman {podman_version} deprecates cgroup v1, which this machine runs: a later podman will not run here"),
        )
        .fix("boot with cgroup v2: add systemd.unified_cgroup_hierarchy=1 to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then sudo update-grub) and reboot")
    })
}

// ---------------------------------------------------------------------------------------
// cgroups
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cgroups {
    /// cgroup v1; `hybrid` when a v2 hierarchy is mounted beside it (systemd's hybrid mode).
    V1 {
        hybrid: bool,
    },
    V2,
}

const DELEGATE_FIX: &str = "delegate them to users: sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload, then log in again";

/// Memory and CPU limits: rootless podman applies them only on cgroup v2 with the `cpu`
/// and `memory` controllers delegated to the user. `delegated` is the user's controllers
/// when known; `limits` whether the project configures any.
pub fn cgroups(version: Cgroups, delegated: Option<&[String]>, limits: bool, euid: u32) -> Check {
    const NAME: &str = "cgroups";
    if euid == 0 {
        return Check::new(
            NAME,
            Level::Ok,
            "running as root: rootful podman applies memory and CPU limits",
        );
    }
    let facts = json!({
        "version": if version == Cgroups::V2 { "v2" } else { "v1" },
        "delegated": delegated,
        "limits": limits,
    });
    match version {
        Cgroups::V1 { hybrid } => {
            let what = if hybrid {
                "cgroup v1 (hybrid: v2 is mounted only beside it)"
            } else {
                "cgroup v1"
            };
            if limits {
                Check::new(
                    NAME,
                    Level::Fail,
                    format!("{what}: rootless podman cannot apply the memory and CPU limits the project configures (they would be dropped)"),
                )
                .fix(format!(
                    "boot with cgroup v2 (add systemd.unified_cgroup_hierarchy=1 to the kernel command line, e.g. GRUB_CMDLINE_LINUX in /etc/default/grub, then sudo update-grub and reboot) and {DELEGATE_FIX}; or remove the limits from the project's configuration"
                ))
                .facts(facts)
            } else {
                Check::new(
                    NAME,
                    Level::Info,
                    format!("{what}: rootless podman cannot apply memory or CPU limits (none are configured)"),
                )
                .facts(facts)
            }
        }
        Cgroups::V2 => {
            let Some(list) = delegated else {
                let level = if limits { Level::Warn } else { Level::Info };
                return Check::new(
                    NAME,
                    level,
                    "cgroup v2, but which controllers are delegated to you is unknown (no systemd user slice to read)",
                )
                .fix(DELEGATE_FIX)
                .facts(facts);
            };
            let missing: Vec<&str> = ["cpu", "memory"]
                .into_iter()
                .filter(|c| !list.iter().any(|d| d == c))
                .collect();
            if missing.is_empty() {
                return Check::new(
                    NAME,
                    Level::Ok,
                    "cgroup v2 with cpu and memory delegated to you",
                )
                .facts(facts);
            }
            let what = format!(
                "cgroup v2, but {} not delegated to you (delegated: {})",
                missing.join(" and "),
                if list.is_empty() {
                    "none".to_string()
                } else {
                    list.join(" ")
                }
            );
            if limits {
                Check::new(
                    NAME,
                    Level::Fail,
                    format!("{what}: the project's limits cannot be applied"),
                )
                .fix(DELEGATE_FIX)
                .facts(facts)
            } else {
                Check::new(
                    NAME,
                    Level::Info,
                    format!("{what}: limits would not work (none are configured)"),
                )
                .fix(DELEGATE_FIX)
                .facts(facts)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------

/// vfs has no copy-on-write: every container is a full copy of its image.
pub fn storage_driver(driver: &str, graph_root: &str) -> Check {
    const NAME: &str = "storage driver";
    let facts = json!({ "driver": driver, "graph_root": graph_root });
    match driver {
        "vfs" => Check::new(
            NAME,
            Level::Warn,
            "vfs: every container is a full copy of its image (tens of GB for an NGC image), and creating one is slow",
        )
        .fix("use overlay: set driver = \"overlay\" under [storage] in ~/.config/containers/storage.conf (kernel 5.13 or later; else install fuse-overlayfs), then podman system reset, which deletes all your images and containers")
        .facts(facts),
        "" => Check::new(NAME, Level::Warn, "podman did not name its storage driver").facts(facts),
        other => Check::new(NAME, Level::Ok, format!("{other} (copy-on-write)")).facts(facts),
    }
}

/// What an NGC PyTorch image takes once pulled and unpacked: about 20 GB. The registry
/// does not say before a pull, so doctor assumes it (and a smaller figure for other images).
pub const NGC_IMAGE_ESTIMATE: u64 = 20 * GIB;
/// The assumed size of an image that is not an NGC one.
pub const OTHER_IMAGE_ESTIMATE: u64 = 4 * GIB;

pub fn image_estimate(image: &str) -> u64 {
    if image.starts_with("nvcr.io/") {
        NGC_IMAGE_ESTIMATE
    } else {
        OTHER_IMAGE_ESTIMATE
    }
}

/// Space in podman's storage for the image (`local_size` when it is already pulled) and the
/// ID-mapped copy of it the first keep-id container makes.
pub fn free_space(
    graph_root: &Path,
    available: u64,
    image: &str,
    local_size: Option<u64>,
) -> Check {
    const NAME: &str = "free space";
    let facts = |needed: u64| {
        json!({
            "graph_root": graph_root,
            "available_bytes": available,
            "needed_bytes": needed,
            "image": image,
            "image_present": local_size.is_some(),
        })
    };
    let free = format!("{} free in {}", gib(available), graph_root.display());
    let fix = format!(
        "free space in {} (podman image prune removes unused images) or move podman's storage (graphroot in ~/.config/containers/storage.conf)",
        graph_root.display()
    );
    if let Some(size) = local_size {
        let facts = facts(size);
        if available < size {
            return Check::new(
                NAME,
                Level::Warn,
                format!(
                    "{free}; {image} is pulled ({}), but the ID-mapped copy the first container makes of it may not fit",
                    gib(size)
                ),
            )
            .fix(fix)
            .facts(facts);
        }
        return Check::new(
            NAME,
            Level::Ok,
            format!("{free}; {image} is already pulled ({})", gib(size)),
        )
        .facts(facts);
    }
    let needed = image_estimate(image);
    let assumed = format!(
        "{image} is not pulled yet; assuming it takes about {} (the size is known only after the pull)",
        gib(needed)
    );
    if available < needed {
        Check::new(NAME, Level::Fail, format!("{free}: too little; {assumed}"))
            .fix(fix)
            .facts(facts(needed))
    } else if available < 2 * needed {
        Check::new(
            NAME,
            Level::Warn,
            format!(
                "{free}: tight; {assumed}, and the first container makes an ID-mapped copy of it"
            ),
        )
        .fix(fix)
        .facts(facts(2 * needed))
    } else {
        Check::new(NAME, Level::Ok, format!("{free}; {assumed}")).facts(facts(2 * needed))
    }
}

// ---------------------------------------------------------------------------------------
// NVIDIA CDI
// ---------------------------------------------------------------------------------------

/// One NVIDIA spec podman reads.
#[derive(Debug, Clone, PartialEq)]
pub struct NvidiaSpec {
    pub path: PathBuf,
    pub cdi_version: String,
    pub devices: Vec<String>,
    /// Why podman cannot use it ([`crate::gpu::preflight::spec_problems`]); empty when it can.
    pub problems: Vec<String>,
    /// mlenv wrote it (its header), so `up` regenerates it when stale...
    pub mlenv: bool,
    /// ...where it may write its folder.
    pub writable: bool,
}

/// What podman's spec folders hold for NVIDIA, and the loaded driver.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CdiFacts {
    pub podman: String,
    pub dirs: Vec<PathBuf>,
    /// The loaded driver's version (`/proc/driver/nvidia/version`); `None` without one.
    pub driver: Option<String>,
    pub specs: Vec<NvidiaSpec>,
    /// Spec files that may be NVIDIA's and cannot be read or parsed, with why.
    pub broken: Vec<(PathBuf, String)>,
    /// NVIDIA devices defined twice in one folder, which podman drops.
    pub conflicts: Vec<(String, Vec<PathBuf>)>,
}

fn show(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `up` gets the machine's NVIDIA GPUs: a spec podman reads, readable and fresh.
pub fn nvidia_cdi(f: &CdiFacts) -> Check {
    const NAME: &str = "NVIDIA CDI";
    let facts = json!({
        "podman": f.podman,
        "spec_dirs": f.dirs,
        "driver": f.driver,
        "specs": f.specs.iter().map(|s| json!({
            "path": s.path, "cdi_version": s.cdi_version, "devices": s.devices,
            "problems": s.problems, "mlenv": s.mlenv,
        })).collect::<Vec<_>>(),
        "broken": f.broken,
    });
    if let Some((path, why)) = f.broken.first() {
        let quoted = crate::shell::quote(&path.to_string_lossy());
        let fix = if why.contains("ermission denied") {
            format!("sudo chmod a+r {quoted} (rootless podman reads specs as you)")
        } else {
            format!("regenerate it: remove {quoted} and run `mlenv gpu setup` (or sudo nvidia-ctk cdi generate --output={quoted})")
        };
        return Check::new(
            NAME,
            Level::Fail,
            format!(
                "{} cannot be used: {why}; `up` would fail (or pass --gpu none)",
                path.display()
            ),
        )
        .fix(fix)
        .facts(facts);
    }
    if let Some((name, files)) = f.conflicts.first() {
        return Check::new(
            NAME,
            Level::Fail,
            format!(
                "{name} is defined in {} (one folder): podman drops it, so `up` would fail",
                show(files).replace(", ", " and ")
            ),
        )
        .fix("remove one of the files")
        .facts(facts);
    }
    if let Some(s) = f.specs.iter().find(|s| !s.problems.is_empty()) {
        let why = format!(
            "{} cannot be used: {}",
            s.path.display(),
            s.problems.join("; ")
        );
        if s.mlenv && s.writable {
            return Check::new(
                NAME,
                Level::Warn,
                format!("{why}; mlenv wrote it, and `up` regenerates it"),
            )
            .fix("mlenv gpu setup (regenerates it now)")
            .facts(facts);
        }
        let fix = if s.mlenv {
            "mlenv gpu setup (it prints the sudo command that installs the fresh spec)".to_string()
        } else {
            format!(
                "sudo nvidia-ctk cdi generate --output={}, or remove it and run `mlenv gpu setup`",
                s.path.display()
            )
        };
        return Check::new(
            NAME,
            Level::Fail,
            format!("{why}; `up` would fail (or pass --gpu none)"),
        )
        .fix(fix)
        .facts(facts);
    }
    if let Some(s) = f.specs.first() {
        let driver = f
            .driver
            .as_deref()
            .map_or(String::new(), |d| format!(", driver {d}"));
        return Check::new(
            NAME,
            Level::Ok,
            format!(
                "{} (cdiVersion {}{driver}) is current: devices {}",
                s.path.display(),
                s.cdi_version,
                s.devices.join(", ")
            ),
        )
        .facts(facts);
    }
    match &f.driver {
        Some(v) => Check::new(
            NAME,
            Level::Warn,
            format!(
                "NVIDIA driver {v} is loaded, but podman {} has no NVIDIA CDI spec in {}: `up` gives no GPUs",
                f.podman,
                show(&f.dirs)
            ),
        )
        .fix("mlenv gpu setup")
        .facts(facts),
        None => Check::new(
            NAME,
            Level::Info,
            "no NVIDIA GPU on this machine (no NVIDIA driver loaded, no NVIDIA CDI spec): environments get no GPUs",
        )
        .facts(facts),
    }
}

/// The GPUs the project configures, resolved as `up` resolves them (`outcome`: the devices
/// podman would get, or why it would fail). `regenerable` are stale specs mlenv wrote and may
/// rewrite: `up` regenerates those before it resolves, so they do not block it.
pub fn configured_gpus(
    names: &[String],
    outcome: &Result<Vec<String>, String>,
    regenerable: &[PathBuf],
) -> Check {
    const NAME: &str = "GPUs";
    let facts = json!({ "configured": names });
    if names.is_empty() {
        return Check::new(NAME, Level::Ok, "none configured").facts(facts);
    }
    match outcome {
        Ok(devices) => Check::new(
            NAME,
            Level::Ok,
            format!("{} resolve to {}", names.join(", "), devices.join(", ")),
        )
        .facts(facts),
        Err(why)
            if why.lines().all(|l| {
                regenerable
                    .iter()
                    .any(|p| l.contains(&p.display().to_string()))
            }) =>
        {
            Check::new(
                NAME,
                Level::Warn,
                format!("{why} (`up` regenerates the spec first)"),
            )
            .fix("mlenv gpu setup (regenerates it now)")
            .facts(facts)
        }
        Err(why) => Check::new(NAME, Level::Fail, why.clone())
            .fix(
                "`mlenv gpu list` shows what podman can attach; change the project's GPUs to match",
            )
            .facts(facts),
    }
}

// ---------------------------------------------------------------------------------------
// Coming back after a reboot
// ---------------------------------------------------------------------------------------

/// A systemd user manager starts the environments' units at boot (or login).
pub fn user_manager(present: bool, runtime_dir: Option<&Path>, user: &str, euid: u32) -> Check {
    const NAME: &str = "systemd user manager";
    if euid == 0 {
        return Check::new(
            NAME,
            Level::Info,
            "running as root: the system manager is used",
        );
    }
    if present {
        return Check::new(NAME, Level::Ok, "running");
    }
    let socket = runtime_dir.map_or_else(
        || "$XDG_RUNTIME_DIR/systemd/private (XDG_RUNTIME_DIR is not set)".to_string(),
        |d| d.join("systemd/private").display().to_string(),
    );
    Check::new(
        NAME,
        Level::Warn,
        format!("none runs for {user} ({socket} is missing): environments are not started again after a reboot; run `mlenv up` then"),
    )
    .fix(format!("log in through a systemd (logind) session; loginctl enable-linger {user} starts the manager at boot"))
}

/// Linger keeps the user manager running without a login, so units start at boot.
pub fn linger(lingering: bool, user: &str, euid: u32) -> Check {
    const NAME: &str = "linger";
    if euid == 0 {
        return Check::new(NAME, Level::Info, "running as root: not needed");
    }
    if lingering {
        return Check::new(
            NAME,
            Level::Ok,
            format!("enabled for {user}: environments start at boot"),
        );
    }
    Check::new(
        NAME,
        Level::Warn,
        format!("off for {user} (no /var/lib/systemd/linger/{user}): environments come back only when you log in after a reboot"),
    )
    .fix(format!("loginctl enable-linger {user}"))
}

// ---------------------------------------------------------------------------------------
// SELinux
// ---------------------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(checks: &[Check]) -> Vec<Level> {
        checks.iter().map(|c| c.level).collect()
    }

    #[test]
    fn rootless_networks() {
        // (cmd, program, rootless, level, message part, fix part)
        for (cmd, program, rootless, level, msg, fix) in [
            (
                "pasta",
                "/usr/bin/pasta",
                true,
                Level::Ok,
                "host.containers.internal",
                None,
            ),
            (
                "pasta",
                "",
                true,
                Level::Fail,
                "runs pasta",
                Some("install passt"),
            ),
            (
                "slirp4netns",
                "/usr/bin/slirp4netns",
                true,
                Level::Ok,
                "10.0.2.2",
                None,
            ),
            (
                "slirp4netns",
                "",
                true,
                Level::Fail,
                "not installed",
                Some("install slirp4netns"),
            ),
            ("slirp4netns", "", false, Level::Ok, "rootful", None),
        ] {
            let c = rootless_network(cmd, program, rootless);
            assert_eq!(c.level, level, "{cmd} {program:?}: {c:?}");
            assert!(c.message.contains(msg), "{c:?}");
            assert_eq!(c.fix.is_some(), fix.is_some(), "{c:?}");
            if let Some(f) = fix {
                assert!(c.fix.as_deref().unwrap().contains(f), "{c:?}");
            }
        }
    }

    #[test]
    fn cgroup_v1_is_deprecated_from_podman_5() {
        for (podman, cgroups, warns) in [
            ("5.4.2", "v1", true),
            ("5.0.0", "v1", true),
            ("4.9.4", "v1", false),
            ("5.4.2", "v2", false),
            ("junk", "v1", false),
        ] {
            let c = cgroup_v1_deprecated(podman, cgroups);
            assert_eq!(c.is_some(), warns, "{podman} {cgroups}");
            if let Some(c) = c {
                assert_eq!(c.level, Level::Warn);
                assert!(c.fix.unwrap().contains("unified_cgroup_hierarchy=1"));
            }
        }
    }

    #[test]
    fn podman_service_levels_and_fixes() {
        let sock = Path::new("/run/user/1000/podman/podman.sock");
        let ok = |v: &str| {
            Ok(Service {
                version: v.into(),
                rootless: true,
            })
        };
        // (answer, euid, user manager, level, message part, fix start)
        type Case = (
            Result<Service, String>,
            u32,
            bool,
            Level,
            &'static str,
            Option<&'static str>,
        );
        let cases: &[Case] = &[
            (ok("4.3.1"), 1000, false, Level::Ok, "podman 4.3.1 (rootless) answers at /run/user/1000/podman/podman.sock", None),
            (ok("5.6.2-dev"), 1000, false, Level::Ok, "podman 5.6.2-dev", None),
            (ok("4.2.0"), 1000, false, Level::Fail, "older than 4.3", Some("upgrade podman")),
            (ok("weird"), 1000, false, Level::Warn, "unreadable version", None),
            (
                Err("connection refused".into()),
                1000,
                false,
                Level::Fail,
                "no answer from the podman API at /run/user/1000/podman/podman.sock (connection refused)",
                Some("podman system service --time=0 unix:///run/user/1000/podman/podman.sock &"),
            ),
            (Err("x".into()), 1000, true, Level::Fail, "no answer", Some("systemctl --user enable --now podman.socket")),
            (Err("x".into()), 0, true, Level::Fail, "no answer", Some("systemctl enable --now podman.socket")),
        ];
        for (answer, euid, manager, level, msg, fix) in cases {
            let c = podman_service(sock, answer, *euid, *manager);
            assert_eq!(c.level, *level, "{answer:?}: {c:?}");
            assert!(c.message.contains(msg), "{answer:?}: {}", c.message);
            match fix {
                Some(f) => assert!(c.fix.as_deref().unwrap().starts_with(f), "{c:?}"),
                None => assert_eq!(c.fix, None, "{c:?}"),
            }
        }
        let rootful = podman_service(
            sock,
            &Ok(Service {
                version: "4.9.3".into(),
                rootless: false,
            }),
            0,
            false,
        );
        assert!(rootful.message.contains("(rootful)"), "{rootful:?}");
    }

    #[test]
    fn unreachable_reasons() {
        let sock = Path::new("/x/p.sock");
        let cases = [
            (
                "Cannot reach the Podman API at /x/p.sock (error trying to connect: No such file or directory (os error 2)). Start it: systemctl --user enable --now podman.socket\n  (without systemd: ...)",
                "error trying to connect: No such file or directory (os error 2)",
            ),
            (
                "Cannot reach the Podman API at /x/p.sock (error trying to connect: Connection refused (os error 111): Connection refused (os error 111)). Start it: x",
                "error trying to connect: Connection refused (os error 111)",
            ),
            ("something else\nmore", "something else"),
        ];
        for (input, want) in cases {
            assert_eq!(unreachable_reason(input, sock), want);
        }
    }

    #[test]
    fn subordinate_id_ranges() {
        let text = "# comment\nalice:100000:65536\nbob:165536:65536\n1003:231072:1000\n1003:300000:2000\nbad line\ncarol:x:1\n";
        assert_eq!(id_ranges_of(text, "alice", 1001), [(100000, 65536)]);
        assert_eq!(
            id_ranges_of(text, "dave", 1003),
            [(231072, 1000), (300000, 2000)]
        );
        assert_eq!(id_ranges_of(text, "carol", 1004), []);
        assert_eq!(id_ranges_of("", "alice", 1001), []);

        let f = Path::new("/etc/subuid");
        // (file text, user, uid, podman's mapped count, level, message part)
        type Case<'a> = (
            Result<&'a str, String>,
            &'a str,
            u32,
            Option<u64>,
            Level,
            &'a str,
        );
        let cases: &[Case] = &[
            (Ok(text), "alice", 1001, Some(65536), Level::Ok, "alice has 65536 subordinate UIDs (100000-165535 in /etc/subuid)"),
            (Ok(text), "alice", 1001, None, Level::Ok, "alice has 65536"),
            (Ok(text), "dave", 1003, None, Level::Warn, "dave has 3000 subordinate UIDs (231072-232071, 300000-301999 in /etc/subuid): fewer than 65536"),
            (Ok(text), "erin", 1005, None, Level::Fail, "erin has no subordinate UIDs in /etc/subuid"),
            (Ok(""), "erin", 1005, None, Level::Fail, "no subordinate"),
            (Ok(text), "alice", 1001, Some(0), Level::Warn, "maps only 0"),
            (Err("Permission denied".into()), "alice", 1001, None, Level::Warn, "cannot read /etc/subuid"),
            (Ok(""), "root", 0, None, Level::Info, "running as root"),
        ];
        for (t, user, uid, mapped, level, msg) in cases {
            let c = sub_ids(Ids::Uid, f, t.clone(), user, *uid, *mapped);
            assert_eq!(c.level, *level, "{user}: {c:?}");
            assert!(c.message.contains(msg), "{user}: {}", c.message);
            if c.level == Level::Fail {
                assert_eq!(
                    c.fix.as_deref(),
                    Some(format!("sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}, then podman system migrate").as_str())
                );
            }
        }
        let g = sub_ids(
            Ids::Gid,
            Path::new("/etc/subgid"),
            Ok(""),
            "erin",
            1005,
            None,
        );
        assert!(
            g.name == "subgid" && g.message.contains("GIDs in /etc/subgid"),
            "{g:?}"
        );
    }

    #[test]
    fn id_helpers() {
        let h = |mode: u32, owner: u32, caps: bool| Helper {
            path: "/usr/bin/newuidmap".into(),
            mode: 0o100000 | mode,
            owner,
            caps,
        };
        let cases = [
            (
                Some(h(0o4755, 0, false)),
                1000,
                Level::Ok,
                "/usr/bin/newuidmap (setuid root)",
            ),
            (
                Some(h(0o755, 0, true)),
                1000,
                Level::Ok,
                "(file capabilities)",
            ),
            (
                Some(h(0o755, 0, false)),
                1000,
                Level::Fail,
                "neither setuid root nor has file capabilities (mode 755)",
            ),
            // setuid to someone else is no privilege.
            (
                Some(h(0o4755, 1000, false)),
                1000,
                Level::Fail,
                "neither setuid root",
            ),
            (None, 1000, Level::Fail, "newuidmap is not in PATH"),
            (None, 0, Level::Info, "running as root"),
        ];
        for (found, euid, level, msg) in cases {
            let c = id_helper("newuidmap", found.as_ref(), euid);
            assert_eq!(c.level, level, "{found:?}: {c:?}");
            assert!(c.message.contains(msg), "{}", c.message);
            assert_eq!(c.fix.is_some(), level == Level::Fail, "{c:?}");
        }
        let c = id_helper("newgidmap", Some(&h(0o755, 0, false)), 1000);
        assert!(c.fix.unwrap().contains("setcap cap_setgid+ep"));
    }

    #[test]
    fn tun_device() {
        use std::io::ErrorKind as K;
        let cases = [
            (Ok(()), Level::Ok, None),
            (
                Err((K::NotFound, "No such file".to_string())),
                Level::Fail,
                Some("sudo modprobe tun"),
            ),
            (
                Err((K::PermissionDenied, "Permission denied".to_string())),
                Level::Fail,
                Some("sudo chmod 0666 /dev/net/tun"),
            ),
            (
                Err((K::Other, "No such device".to_string())),
                Level::Fail,
                Some("check that the tun module"),
            ),
        ];
        for (open, level, fix) in cases {
            let c = tun(&open);
            assert_eq!(c.level, level, "{open:?}");
            match fix {
                Some(f) => assert!(c.fix.as_deref().unwrap().starts_with(f), "{c:?}"),
                None => assert!(c.fix.is_none()),
            }
        }
    }

    #[test]
    fn cgroup_levels() {
        let all: Vec<String> = ["cpuset", "cpu", "io", "memory", "pids"]
            .map(String::from)
            .to_vec();
        let pids: Vec<String> = vec!["pids".into()];
        let hybrid = Cgroups::V1 { hybrid: true };
        let v1 = Cgroups::V1 { hybrid: false };
        // (version, delegated, limits, euid, level, message part)
        type Case<'a> = (Cgroups, Option<&'a [String]>, bool, u32, Level, &'a str);
        let cases: &[Case] = &[
            (hybrid, None, true, 1000, Level::Fail, "cgroup v1 (hybrid"),
            (
                v1,
                None,
                true,
                1000,
                Level::Fail,
                "cannot apply the memory and CPU limits",
            ),
            (
                hybrid,
                None,
                false,
                1000,
                Level::Info,
                "none are configured",
            ),
            (hybrid, None, true, 0, Level::Ok, "rootful podman applies"),
            (
                Cgroups::V2,
                Some(&all),
                true,
                1000,
                Level::Ok,
                "cpu and memory delegated",
            ),
            (
                Cgroups::V2,
                Some(&all),
                false,
                1000,
                Level::Ok,
                "cpu and memory delegated",
            ),
            (
                Cgroups::V2,
                Some(&pids),
                true,
                1000,
                Level::Fail,
                "cpu and memory not delegated to you (delegated: pids)",
            ),
            (
                Cgroups::V2,
                Some(&[]),
                false,
                1000,
                Level::Info,
                "(delegated: none)",
            ),
            (Cgroups::V2, None, true, 1000, Level::Warn, "unknown"),
            (Cgroups::V2, None, false, 1000, Level::Info, "unknown"),
        ];
        for (version, delegated, limits, euid, level, msg) in cases {
            let c = cgroups(*version, *delegated, *limits, *euid);
            assert_eq!(c.level, *level, "{version:?} {delegated:?} {limits}: {c:?}");
            assert!(c.message.contains(msg), "{}", c.message);
        }
        let fail = cgroups(Cgroups::V2, Some(&pids), true, 1000);
        assert!(fail
            .fix
            .unwrap()
            .contains("Delegate=cpu cpuset io memory pids"));
        let fail = cgroups(hybrid, None, true, 1000);
        assert!(fail
            .fix
            .unwrap()
            .contains("systemd.unified_cgroup_hierarchy=1"));
    }

    #[test]
    fn storage_drivers() {
        let cases = [
            ("overlay", Level::Ok),
            ("btrfs", Level::Ok),
            ("vfs", Level::Warn),
            ("", Level::Warn),
        ];
        for (driver, level) in cases {
            let c = storage_driver(driver, "/h/.local/share/containers/storage");
            assert_eq!(c.level, level, "{driver}");
            assert_eq!(c.facts["driver"], driver);
        }
        let vfs = storage_driver("vfs", "/x");
        assert!(vfs
            .fix
            .unwrap()
            .contains("podman system reset, which deletes"));
    }

    #[test]
    fn free_space_levels() {
        let root = Path::new("/h/storage");
        let ngc = "nvcr.io/nvidia/pytorch:26.10-py3";
        let cases: &[(u64, &str, Option<u64>, Level, &str)] = &[
            (100 * GIB, ngc, None, Level::Ok, "100.0 GiB free in /h/storage; nvcr.io/nvidia/pytorch:26.10-py3 is not pulled yet; assuming it takes about 20.0 GiB"),
            (30 * GIB, ngc, None, Level::Warn, "tight"),
            (10 * GIB, ngc, None, Level::Fail, "too little"),
            (10 * GIB, "localhost/small", None, Level::Ok, "about 4.0 GiB"),
            (3 * GIB, "localhost/small", None, Level::Fail, "too little"),
            (30 * GIB, ngc, Some(18 * GIB), Level::Ok, "already pulled (18.0 GiB)"),
            (10 * GIB, ngc, Some(18 * GIB), Level::Warn, "ID-mapped copy"),
        ];
        for (avail, image, size, level, msg) in cases {
            let c = free_space(root, *avail, image, *size);
            assert_eq!(c.level, *level, "{avail} {image} {size:?}: {c:?}");
            assert!(c.message.contains(msg), "{}", c.message);
            assert_eq!(c.fix.is_some(), *level != Level::Ok);
            assert_eq!(c.facts["available_bytes"], *avail);
        }
    }

    fn spec(problems: &[&str], mlenv: bool, writable: bool) -> NvidiaSpec {
        NvidiaSpec {
            path: "/etc/cdi/nvidia.yaml".into(),
            cdi_version: "0.5.0".into(),
            devices: vec!["nvidia.com/gpu=0".into(), "nvidia.com/gpu=all".into()],
            problems: problems.iter().map(|p| p.to_string()).collect(),
            mlenv,
            writable,
        }
    }

    #[test]
    fn nvidia_cdi_levels() {
        let base = CdiFacts {
            podman: "4.3.1".into(),
            dirs: vec!["/etc/cdi".into(), "/var/run/cdi".into()],
            ..CdiFacts::default()
        };
        let with = |f: &dyn Fn(&mut CdiFacts)| {
            let mut c = base.clone();
            f(&mut c);
            c
        };
        let stale = "/usr/lib/libcuda.so.550.54.15 (mounted at /usr/lib/libcuda.so.550.54.15) no longer exists";
        let cases: Vec<(CdiFacts, Level, &str, Option<&str>)> = vec![
            (base.clone(), Level::Info, "no NVIDIA GPU on this machine", None),
            (
                with(&|c| c.driver = Some("550.54.15".into())),
                Level::Warn,
                "NVIDIA driver 550.54.15 is loaded, but podman 4.3.1 has no NVIDIA CDI spec in /etc/cdi, /var/run/cdi",
                Some("mlenv gpu setup"),
            ),
            (
                with(&|c| {
                    c.driver = Some("550.54.15".into());
                    c.specs = vec![spec(&[], true, false)];
                }),
                Level::Ok,
                "/etc/cdi/nvidia.yaml (cdiVersion 0.5.0, driver 550.54.15) is current: devices nvidia.com/gpu=0, nvidia.com/gpu=all",
                None,
            ),
            (
                with(&|c| c.specs = vec![spec(&[stale], true, true)]),
                Level::Warn,
                "no longer exists; mlenv wrote it, and `up` regenerates it",
                Some("mlenv gpu setup"),
            ),
            (
                with(&|c| c.specs = vec![spec(&[stale], true, false)]),
                Level::Fail,
                "/etc/cdi/nvidia.yaml cannot be used: /usr/lib/libcuda.so.550.54.15",
                Some("mlenv gpu setup (it prints the sudo command"),
            ),
            (
                with(&|c| c.specs = vec![spec(&[stale], false, true)]),
                Level::Fail,
                "`up` would fail",
                Some("sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"),
            ),
            (
                with(&|c| {
                    c.specs = vec![spec(&[], true, true)];
                    c.broken = vec![("/var/run/cdi/nvidia.json".into(), "Permission denied (os error 13)".into())];
                }),
                Level::Fail,
                "/var/run/cdi/nvidia.json cannot be used: Permission denied",
                Some("sudo chmod a+r /var/run/cdi/nvidia.json"),
            ),
            (
                with(&|c| c.broken = vec![("/etc/cdi/nvidia.yaml".into(), "unknown field `foo`".into())]),
                Level::Fail,
                "unknown field",
                Some("regenerate it: remove /etc/cdi/nvidia.yaml"),
            ),
            (
                with(&|c| c.conflicts = vec![("nvidia.com/gpu=0".into(), vec!["/etc/cdi/a.yaml".into(), "/etc/cdi/b.yaml".into()])]),
                Level::Fail,
                "nvidia.com/gpu=0 is defined in /etc/cdi/a.yaml and /etc/cdi/b.yaml",
                Some("remove one"),
            ),
        ];
        for (facts, level, msg, fix) in cases {
            let c = nvidia_cdi(&facts);
            assert_eq!(c.level, level, "{facts:?}: {c:?}");
            assert!(c.message.contains(msg), "{}", c.message);
            match fix {
                Some(f) => assert!(c.fix.as_deref().unwrap().starts_with(f), "{c:?}"),
                None => assert!(c.fix.is_none(), "{c:?}"),
            }
        }
    }

    #[test]
    fn configured_gpu_levels() {
        let names = vec!["nvidia.com/gpu=0".to_string()];
        let none: &[PathBuf] = &[];
        let c = configured_gpus(&names, &Ok(vec!["nvidia.com/gpu=0".into()]), none);
        assert_eq!(c.level, Level::Ok);
        let c = configured_gpus(&names, &Err("invalid --gpu: unknown device".into()), none);
        assert_eq!(
            (c.level, c.message.as_str()),
            (Level::Fail, "invalid --gpu: unknown device")
        );
        assert!(c.fix.unwrap().contains("mlenv gpu list"));
        assert_eq!(configured_gpus(&[], &Ok(vec![]), none).level, Level::Ok);
        // A stale spec `up` regenerates does not block it; another stale one does.
        let stale: Result<Vec<String>, String> =
            Err("the CDI spec /var/run/cdi/nvidia.yaml cannot be used: x; regenerate it".into());
        let mine = [PathBuf::from("/var/run/cdi/nvidia.yaml")];
        assert_eq!(configured_gpus(&names, &stale, &mine).level, Level::Warn);
        let other = [PathBuf::from("/etc/cdi/nvidia.yaml")];
        assert_eq!(configured_gpus(&names, &stale, &other).level, Level::Fail);
    }

    #[test]
    fn reboot_checks() {
        let run = Path::new("/run/user/1000");
        let checks = [
            user_manager(true, Some(run), "alice", 1000),
            user_manager(false, Some(run), "alice", 1000),
            user_manager(false, None, "alice", 1000),
            linger(true, "alice", 1000),
            linger(false, "alice", 1000),
            linger(false, "root", 0),
        ];
        assert_eq!(
            levels(&checks),
            [
                Level::Ok,
                Level::Warn,
                Level::Warn,
                Level::Ok,
                Level::Warn,
                Level::Info
            ]
        );
        assert!(checks[1]
            .message
            .contains("/run/user/1000/systemd/private is missing"));
        assert!(checks[2].message.contains("XDG_RUNTIME_DIR is not set"));
        assert_eq!(
            checks[4].fix.as_deref(),
            Some("loginctl enable-linger alice")
        );
    }

    #[test]
    fn selinux_states() {
        let s = |enforce: Option<&str>, nfs: bool| Selinux {
            enforce: enforce.map(String::from),
            project: "/home/u/p".into(),
            label: Some("unconfined_u:object_r:user_home_t:s0".into()),
            nfs,
        };
        let off = selinux(&s(None, false));
        assert_eq!(
            (off.level, off.message.as_str()),
            (Level::Ok, "not enabled: nothing to relabel")
        );
        let on = selinux(&s(Some("1\n"), false));
        assert_eq!(on.level, Level::Ok);
        assert!(on.message.starts_with("enforcing; mlenv starts containers with label=disable, so /home/u/p (unconfined_u:object_r:user_home_t:s0)"), "{}", on.message);
        assert!(selinux(&s(Some("0"), false))
            .message
            .starts_with("permissive"));
        assert!(selinux(&s(Some("1"), true)).message.contains("on NFS"));
    }
}
