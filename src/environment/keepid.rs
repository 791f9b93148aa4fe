//! The first keep-id start of an image, on storage that cannot map IDs itself: rootless
//! podman on native overlay copies (and chowns) the whole image for the user's ID mapping
//! before the container runs: seconds for a small image, minutes and twice the disk for a
//! 20 GB NGC image, with nothing on the screen. Said before it is paid, with determinate
//! progress while it runs; storage that shifts IDs (fuse-overlayfs as overlay's mount
//! program, or a kernel and podman with idmapped overlay mounts) makes no copy.

use std::path::{Path, PathBuf};

use super::storage::StorageFacts;

/// Images smaller than this copy in about a second: not worth a word, nor the
/// `/libpod/info` it takes to know.
pub const NOTICE_BYTES: u64 = 100 << 20;

/// Roughly how fast the copy goes (it reads and writes every file and chowns it), for the
/// estimate shown before it starts. `tests/bench-keepid.sh` measured 2.2 GiB in 3.7 s on
/// podman 4.3.1 and on 5.4.2 here, from a warm page cache; a 20 GB image read from disk
/// goes slower, so a third of that.
pub const COPY_BYTES_PER_SEC: u64 = 250_000_000;

/// A copy the next start will make.
#[derive(Debug, Clone, PartialEq)]
pub struct Copy {
    pub bytes: u64,
    /// podman's graph root, on whose filesystem the copy lands.
    pub graph_root: PathBuf,
}

/// Whether a keep-id start copies the image: overlay without ID shifting (no mount
/// program, no "Supports shifting"), and no copy for a mapping made before (`has_copy`:
/// `None` when storage's records cannot be read, which counts as no copy).
pub fn copies(
    driver: &str,
    shifting: bool,
    mount_program: Option<&str>,
    has_copy: Option<bool>,
) -> bool {
    driver == "overlay" && !shifting && mount_program.is_none() && has_copy != Some(true)
}

/// Whether containers/storage holds an ID-mapped copy of image `id`: the image's
/// `mapped-top-layers` (newer storage), or a layer with an ID mapping whose content digest is
/// the image's top layer's (older storage, as podman 4.3's). Read-only; `None` when the
/// records cannot be read.
pub fn has_mapped_copy(graph_root: &Path, image_id: &str) -> Option<bool> {
    let read = |rel: &str| -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(graph_root.join(rel)).ok()?).ok()
    };
    let images = read("overlay-images/images.json")?;
    let image = images
        .as_array()?
        .iter()
        .find(|i| i["id"].as_str() == Some(image_id))?;
    if image["mapped-top-layers"]
        .as_array()
        .is_some_and(|l| !l.is_empty())
    {
        return Some(true);
    }
    let top = image["layer"].as_str()?;
    let layers = read("overlay-layers/layers.json")?;
    let layers = layers.as_array()?;
    let digest = layers
        .iter()
        .find(|l| l["id"].as_str() == Some(top))?
        .get("diff-digest")?
        .as_str()?
        .to_string();
    Some(
        layers.iter().any(|l| {
            l.get("uidmap").is_some() && l["diff-digest"].as_str() == Some(digest.as_str())
        }),
    )
}

/// The copy a keep-id start of image `id` (of `bytes`) would make on the storage `info`
/// describes; `None` when it makes none.
pub fn planned(info: &StorageFacts, image_id: &str, bytes: u64) -> Option<Copy> {
    let root = PathBuf::from(&info.graph_root);
    let has_copy = has_mapped_copy(&root, image_id);
    copies(
        &info.graph_driver,
        info.supports_shifting,
        info.mount_program.as_deref(),
        has_copy,
    )
    .then_some(Copy {
        bytes,
        graph_root: root,
    })
}

/// `about 3 min`, `about 40 s`, for the estimate.
pub fn estimate(bytes: u64) -> String {
    let secs = (bytes / COPY_BYTES_PER_SEC).max(1);
    if secs < 90 {
        format!("about {secs} s")
    } else {
        format!("about {} min", secs.div_ceil(60))
    }
}

/// Bytes used on the filesystem holding `path` (what the copy adds to, for progress).
// fsblkcnt_t and c_ulong are narrower than u64 on some 32-bit targets.
#[allow(clippy::unnecessary_cast)]
pub fn used_bytes(path: &Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    Some((s.blocks() as u64).saturating_sub(s.blocks_free() as u64) * s.fragment_size() as u64)
}

/// Bytes free for an unprivileged user there.
#[allow(clippy::unnecessary_cast)]
pub fn available_bytes(path: &Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    Some(s.blocks_available() as u64 * s.fragment_size() as u64)
}

/// The storage.conf lines that make keep-id free of copies.
pub fn fuse_overlayfs_snippet() -> &'static str {
    "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_start_copies() {
        assert!(copies("overlay", false, None, Some(false)));
        assert!(copies("overlay", false, None, None));
        assert!(!copies("overlay", false, None, Some(true)));
        assert!(!copies("overlay", true, None, Some(false)));
        assert!(!copies(
            "overlay",
            false,
            Some("/usr/bin/fuse-overlayfs"),
            Some(false)
        ));
        // vfs copies every container anyway; btrfs snapshots.
        assert!(!copies("vfs", false, None, Some(false)));
    }

    #[test]
    fn estimates() {
        assert_eq!(estimate(750_000_000), "about 3 s");
        assert_eq!(estimate(20_000_000_000), "about 80 s");
        assert_eq!(estimate(50_000_000_000), "about 4 min");
        assert_eq!(estimate(1), "about 1 s");
    }

    #[test]
    fn mapped_copies_in_both_record_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("overlay-images")).unwrap();
        std::fs::create_dir_all(root.join("overlay-layers")).unwrap();
        let write = |rel: &str, v: serde_json::Value| {
            std::fs::write(root.join(rel), serde_json::to_vec(&v).unwrap()).unwrap()
        };
        write(
            "overlay-images/images.json",
            serde_json::json!([
                {"id": "old", "layer": "top"},
                {"id": "new", "layer": "t2", "mapped-top-layers": ["m2"]},
                {"id": "never", "layer": "t3"},
            ]),
        );
        write(
            "overlay-layers/layers.json",
            serde_json::json!([
                {"id": "top", "diff-digest": "sha256:a"},
                {"id": "copy", "diff-digest": "sha256:a", "uidmap": [{"container_id": 0}]},
                {"id": "t3", "diff-digest": "sha256:c"},
                {"id": "rw", "uidmap": []},
            ]),
        );
        assert_eq!(has_mapped_copy(root, "old"), Some(true));
        assert_eq!(has_mapped_copy(root, "new"), Some(true));
        assert_eq!(has_mapped_copy(root, "never"), Some(false));
        assert_eq!(has_mapped_copy(root, "missing"), None);
        assert_eq!(has_mapped_copy(&root.join("nowhere"), "old"), None);
    }
}
