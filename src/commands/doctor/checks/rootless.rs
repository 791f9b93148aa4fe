//! Rootless prerequisites: subordinate IDs, the ID-map helpers, /dev/net/tun, the rootless network.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{Check, Level};

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
    // No line in the file, yet podman maps IDs: they come from elsewhere (SSSD or FreeIPA
    // through nsswitch's subid, or /etc/subid.d); what podman maps is what counts.
    if total == 0 {
        match mapped {
            Some(m) if m >= WANTED_IDS => {
                return Check::new(
                    name,
                    Level::Ok,
                    format!(
                        "{user} has no line in {}, but podman maps {m} subordinate {what} (from SSSD/FreeIPA or another subid source)",
                        file.display()
                    ),
                )
                .facts(facts)
            }
            Some(0) => {
                return Check::new(
                    name,
                    Level::Warn,
                    format!(
                        "{user} has no subordinate {what} (none in {}, and podman maps only your own): keep-id and images with files of other owners fail; `mlenv up --no-user-mapping` still works (root inside is you outside)",
                        file.display()
                    ),
                )
                .fix(usermod_fix(user))
                .facts(facts)
            }
            Some(m) => {
                return Check::new(
                    name,
                    Level::Warn,
                    format!(
                        "{user} has no line in {}, and podman maps only {m} subordinate {what} (from SSSD/FreeIPA or another source): fewer than {WANTED_IDS}, so images with files owned by higher IDs fail to pull",
                        file.display()
                    ),
                )
                .fix(usermod_fix(user))
                .facts(facts)
            }
            None => {}
        }
    }
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
