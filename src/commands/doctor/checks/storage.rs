//! Storage: the driver, and room for the image.

use std::path::Path;

use serde_json::json;

use super::{gib, Check, Level, GIB};
pub use crate::fsx::{fs_kind, FsKind};

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

/// What the storage does for keep-id (`environment::keepid`): maps IDs itself, or copies
/// each image once for the user's ID mapping, which for a 20 GB NGC image means minutes and
/// twice the disk on its first start. `image` is the configured one, with its size and
/// whether its copy exists when it is on this machine.
pub fn keepid_copy(
    driver: &str,
    shifting: bool,
    mount_program: Option<&str>,
    storage_conf: &str,
    image: &str,
    local: Option<(u64, Option<bool>)>,
) -> Check {
    use crate::environment::keepid;
    const NAME: &str = "keep-id copy";
    let facts = json!({
        "driver": driver, "shifting": shifting, "mount_program": mount_program,
        "image": image, "size": local.map(|l| l.0), "copied": local.and_then(|l| l.1),
    });
    if !keepid::copies(driver, shifting, mount_program, Some(false)) {
        let how = match (mount_program, shifting) {
            (Some(p), _) => format!("{p} maps IDs"),
            (None, true) => "the kernel's idmapped mounts map IDs".into(),
            _ => format!("{driver} storage copies nothing for keep-id"),
        };
        return Check::new(
            NAME,
            Level::Ok,
            format!("{how}: no copy of an image for your user"),
        )
        .facts(facts);
    }
    let fix = format!(
        "to avoid the copies, have fuse-overlayfs map IDs: in {storage_conf} set\n{}\n\
         (the trade: every file access then goes through FUSE, and an import-heavy Python start \
         measured 2.6-2.7x slower, tests/bench-keepid.sh; images already copied keep their \
         copies until `podman system reset`)",
        keepid::fuse_overlayfs_snippet()
    );
    let (level, message) = match local {
        Some((_, Some(true))) => (
            Level::Ok,
            format!("{image} already has its copy for your ID mapping; other images get one on their first start"),
        ),
        Some((size, _)) => (
            Level::Info,
            format!(
                "native overlay without ID shifting: the first start of {image} copies it for your ID mapping, {} more disk and {}",
                crate::limits::format_memory(size),
                keepid::estimate(size)
            ),
        ),
        None => {
            let size = image_estimate(image);
            (
                Level::Info,
                format!(
                    "native overlay without ID shifting: each image's first start copies it for your ID mapping ({image}: about {} more disk and {})",
                    gib(size),
                    keepid::estimate(size)
                ),
            )
        }
    };
    Check::new(NAME, level, message).fix(fix).facts(facts)
}

/// The filesystems under podman's storage and the project folder (`graph_fs`, `project_fs`:
/// statfs magic numbers; `None` when unreadable). Storage on a network filesystem fails:
/// the fix moves it to `local_dir` (a local folder the caller found). A project there works,
/// but the quota is not what free space shows.
pub fn filesystems(
    graph_root: &Path,
    graph_fs: Option<i64>,
    project: &Path,
    project_fs: Option<i64>,
    local_dir: &str,
) -> Check {
    const NAME: &str = "filesystems";
    let name = |fs: Option<i64>| match fs.map(fs_kind) {
        Some(FsKind::Local(n) | FsKind::Memory(n) | FsKind::Network(n)) => n.to_string(),
        Some(FsKind::Unknown(m)) => format!("filesystem 0x{m:x}"),
        None => "an unknown filesystem".to_string(),
    };
    let facts = json!({
        "graph_root": graph_root, "graph_fs": name(graph_fs),
        "project": project, "project_fs": name(project_fs),
    });
    if let Some(FsKind::Network(fs)) = graph_fs.map(fs_kind) {
        return Check::new(
            NAME,
            Level::Fail,
            format!(
                "podman's storage {} is on {fs}: rootless image storage there fails in odd ways (no overlay upper dirs, chowns refused, root squash, lock timeouts), and a 20 GB image fills a home quota",
                graph_root.display()
            ),
        )
        .fix(crate::environment::storage::local_storage_snippet(local_dir))
        .facts(facts);
    }
    let mut notes = vec![format!(
        "storage {} on {}",
        graph_root.display(),
        name(graph_fs)
    )];
    if let Some(FsKind::Memory(fs)) = graph_fs.map(fs_kind) {
        notes.push(format!(
            "{fs} is emptied at reboot: images are pulled again"
        ));
    }
    notes.push(format!(
        "project {} on {}",
        project.display(),
        name(project_fs)
    ));
    if let Some(FsKind::Network(fs)) = project_fs.map(fs_kind) {
        return Check::new(
            NAME,
            Level::Warn,
            format!(
                "{}; {fs} works for the project, but free space there does not show your quota",
                notes.join("; ")
            ),
        )
        .fix("check the quota itself (quota -s, lfs quota -u $USER, mmlsquota): checkpoints and caches fill it")
        .facts(facts);
    }
    Check::new(NAME, Level::Ok, notes.join("; ")).facts(facts)
}

/// A folder on the way to podman's storage that other users may not enter: harmless with
/// runc (as on this project's CI), fatal for keep-id with crun ("Permission denied",
/// podman#25189). Said as a fact, with the way out should starts fail.
pub fn storage_path_modes(graph_root: &Path, blocked: Option<(&Path, u32)>, fix: &str) -> Check {
    const NAME: &str = "storage path";
    match blocked {
        None => Check::new(
            NAME,
            Level::Ok,
            format!("every folder on the way to {} can be entered by the container's root", graph_root.display()),
        ),
        Some((folder, mode)) => Check::new(
            NAME,
            Level::Info,
            format!(
                "{} (mode {mode:04o}) on the way to podman's storage cannot be entered by other users, which the container's root is under keep-id: some OCI runtimes (crun) then fail keep-id starts with \"Permission denied\"",
                folder.display()
            ),
        )
        .fix(format!("if `mlenv up` fails so: {fix}")),
    }
    .facts(json!({"graph_root": graph_root, "blocked": blocked.map(|b| b.0), "mode": blocked.map(|b| format!("{:04o}", b.1))}))
}
