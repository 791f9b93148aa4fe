//! Whether a spec still fits the installed driver. After a driver upgrade a spec names the
//! old `libcuda.so.<old>`, and podman fails at container start ("failed to stat CDI host
//! device", a missing mount source); so a spec is stale when a file it names is gone or
//! the loaded driver is not the one it was made for.

use std::collections::BTreeSet;
use std::path::Path;

use super::discover::{is_version, running_version};

/// Why `spec` no longer fits the driver under `root`; empty when it does. Works for
/// nvidia-ctk's specs too. Each reason names the path or the versions.
pub fn staleness(spec: &cdi::Spec, root: &Path) -> Vec<String> {
    let mut reasons = Vec::new();
    let mut checked = BTreeSet::new();
    let all_edits = spec
        .container_edits
        .iter()
        .chain(spec.devices.iter().map(|d| &d.container_edits));
    for edits in all_edits {
        for node in &edits.device_nodes {
            let path = node.host_path.as_deref().unwrap_or(&node.path);
            // The runtime stats the node through any symlink.
            if checked.insert(path) && !Path::new(path).exists() {
                reasons.push(format!("device node {path} no longer exists"));
            }
        }
        for mount in &edits.mounts {
            let path = mount.host_path.as_str();
            if checked.insert(path) && !Path::new(path).exists() {
                reasons.push(format!(
                    "{path} (mounted at {}) no longer exists",
                    mount.container_path
                ));
            }
        }
        for hook in &edits.hooks {
            let path = hook.path.as_str();
            if checked.insert(path) && !Path::new(path).exists() {
                reasons.push(format!("hook {path} no longer exists"));
            }
        }
    }
    if let Some(made_for) = spec_driver_version(spec) {
        match running_version(root) {
            Ok(Some(running)) if running != made_for => reasons.push(format!(
                "the spec is for NVIDIA driver {made_for}, but {} says {running} is loaded",
                super::rootfs::join(root, "/proc/driver/nvidia/version").display()
            )),
            Ok(_) => {}
            Err(e) => reasons.push(e.to_string()),
        }
    }
    reasons
}

/// The driver version a spec was made for, from the file names of its `libcuda.so.<ver>`
/// or `libnvidia-ml.so.<ver>` mounts (nvidia-ctk's specs name them the same way).
pub fn spec_driver_version(spec: &cdi::Spec) -> Option<String> {
    let mounts: Vec<&cdi::Mount> = spec
        .container_edits
        .iter()
        .chain(spec.devices.iter().map(|d| &d.container_edits))
        .flat_map(|edits| &edits.mounts)
        .collect();
    ["libcuda.so.", "libnvidia-ml.so."]
        .iter()
        .find_map(|prefix| {
            mounts.iter().find_map(|mount| {
                let name = Path::new(&mount.host_path).file_name()?.to_str()?;
                let version = name.strip_prefix(prefix)?;
                is_version(version).then(|| version.to_string())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::super::discover::discover;
    use super::super::generate::generate;
    use super::super::nvidia_tree::{NvidiaTree, LIB_DIR};
    use super::super::spec_file::{parse, parse_header, render, Header};
    use super::*;
    use cdi::Version;

    /// Generate with 550, upgrade to 560: the old spec is stale, a new one is fresh.
    #[test]
    fn driver_upgrade() {
        let tmp = tempfile::tempdir().unwrap();
        let mut tree = NvidiaTree::new(tmp.path(), 2, "550.54.15").with_cdi_hook();
        let generate_text = |tree: &NvidiaTree| {
            let driver = discover(tree.root()).unwrap();
            let spec = generate(&driver, Version::V0_5_0).unwrap().spec;
            let header = Header {
                root: tree.root().to_path_buf(),
                driver_version: driver.version.clone(),
            };
            render(&spec, &header)
        };
        let old_text = generate_text(&tree);
        let old = parse(&old_text).unwrap();
        assert_eq!(spec_driver_version(&old).as_deref(), Some("550.54.15"));
        assert_eq!(staleness(&old, tree.root()), Vec::<String>::new());

        tree.upgrade("560.35.03");
        let reasons = staleness(&old, tree.root());
        let lib = |name: &str| {
            tree.path(&format!("{LIB_DIR}/{name}"))
                .display()
                .to_string()
        };
        let want = vec![
            format!(
                "{} (mounted at /usr/local/nvidia/lib64/libcuda.so.550.54.15) no longer exists",
                lib("libcuda.so.550.54.15")
            ),
            format!(
                "{} (mounted at /usr/local/nvidia/lib64/libnvidia-ml.so.550.54.15) no longer exists",
                lib("libnvidia-ml.so.550.54.15")
            ),
            format!(
                "{} (mounted at /usr/local/nvidia/lib64/libnvidia-ptxjitcompiler.so.550.54.15) no longer exists",
                lib("libnvidia-ptxjitcompiler.so.550.54.15")
            ),
            format!(
                "{} (mounted at /lib/firmware/nvidia/550.54.15/gsp_ga10x.bin) no longer exists",
                tree.path("lib/firmware/nvidia/550.54.15/gsp_ga10x.bin").display()
            ),
            format!(
                "the spec is for NVIDIA driver 550.54.15, but {} says 560.35.03 is loaded",
                tree.path("proc/driver/nvidia/version").display()
            ),
        ];
        assert_eq!(reasons, want);

        let new_text = generate_text(&tree);
        assert_eq!(parse_header(&new_text).unwrap().driver_version, "560.35.03");
        let new = parse(&new_text).unwrap();
        assert_eq!(spec_driver_version(&new).as_deref(), Some("560.35.03"));
        assert_eq!(staleness(&new, tree.root()), Vec::<String>::new());
        let contents = std::fs::read_to_string(tree.lib("libcuda")).unwrap();
        assert_eq!(contents, NvidiaTree::lib_contents("libcuda", "560.35.03"));
    }

    /// A spec shaped like `nvidia-ctk cdi generate`'s, its host paths in the tree.
    #[test]
    fn nvidia_ctk_spec() {
        let tmp = tempfile::tempdir().unwrap();
        let mut tree = NvidiaTree::new(tmp.path(), 1, "550.54.15").with_cdi_hook();
        let root = tree.root().to_path_buf();
        let host = |p: &str| root.join(p).display().to_string();
        let json = format!(
            r#"{{
  "cdiVersion": "0.5.0",
  "kind": "nvidia.com/gpu",
  "devices": [
    {{"name": "0", "containerEdits": {{"deviceNodes": [{{"path": "/dev/nvidia0", "hostPath": "{nvidia0}"}}]}}}},
    {{"name": "all", "containerEdits": {{"deviceNodes": [{{"path": "/dev/nvidia0", "hostPath": "{nvidia0}"}}]}}}}
  ],
  "containerEdits": {{
    "env": ["NVIDIA_VISIBLE_DEVICES=void"],
    "deviceNodes": [{{"path": "/dev/nvidiactl", "hostPath": "{ctl}"}}],
    "hooks": [
      {{"hookName": "createContainer", "path": "{hook}",
        "args": ["nvidia-cdi-hook", "create-symlinks", "--link", "libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so"]}}
    ],
    "mounts": [
      {{"hostPath": "{ml}", "containerPath": "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15", "options": ["ro", "nosuid", "nodev", "bind"]}},
      {{"hostPath": "{cuda}", "containerPath": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15", "options": ["ro", "nosuid", "nodev", "bind"]}},
      {{"hostPath": "{smi}", "containerPath": "/usr/bin/nvidia-smi", "options": ["ro", "nosuid", "nodev", "bind"]}}
    ]
  }}
}}"#,
            nvidia0 = host("dev/nvidia0"),
            ctl = host("dev/nvidiactl"),
            hook = host("usr/bin/nvidia-cdi-hook"),
            ml = tree.lib("libnvidia-ml").display(),
            cuda = tree.lib("libcuda").display(),
            smi = host("usr/bin/nvidia-smi"),
        );
        let spec = cdi::Spec::from_json_str(&json).unwrap();
        assert_eq!(parse_header(&json), None);
        assert_eq!(spec_driver_version(&spec).as_deref(), Some("550.54.15"));
        assert_eq!(staleness(&spec, tree.root()), Vec::<String>::new());

        tree.upgrade("560.35.03");
        std::fs::remove_file(tree.path("dev/nvidia0")).unwrap();
        std::fs::remove_file(tree.path("usr/bin/nvidia-cdi-hook")).unwrap();
        let reasons = staleness(&spec, tree.root());
        assert_eq!(
            reasons,
            [
                format!(
                    "{} (mounted at /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15) no longer exists",
                    tree.path(&format!("{LIB_DIR}/libnvidia-ml.so.550.54.15")).display()
                ),
                format!(
                    "{} (mounted at /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15) no longer exists",
                    tree.path(&format!("{LIB_DIR}/libcuda.so.550.54.15")).display()
                ),
                format!("hook {} no longer exists", host("usr/bin/nvidia-cdi-hook")),
                format!("device node {} no longer exists", host("dev/nvidia0")),
                format!(
                    "the spec is for NVIDIA driver 550.54.15, but {} says 560.35.03 is loaded",
                    tree.path("proc/driver/nvidia/version").display()
                ),
            ]
        );
    }

    #[test]
    fn version_from_mounts_table() {
        let spec_with = |host_paths: &[&str]| {
            let mounts: Vec<String> = host_paths
                .iter()
                .map(|p| format!(r#"{{"hostPath":"{p}","containerPath":"/x"}}"#))
                .collect();
            cdi::Spec::from_json_str(&format!(
                r#"{{"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[{{"name":"0","containerEdits":{{"mounts":[{}]}}}}]}}"#,
                mounts.join(",")
            ))
            .unwrap()
        };
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["/usr/lib64/libcuda.so.550.54.15"], Some("550.54.15")),
            (
                &["/usr/lib64/libnvidia-ml.so.470.223.02"],
                Some("470.223.02"),
            ),
            (
                &["/lib/libnvidia-ml.so.1.2", "/lib/libcuda.so.550.54.15"],
                Some("550.54.15"),
            ),
            (&["/usr/lib64/libcuda.so.1", "/usr/lib64/libcuda.so"], None),
            (&["/usr/bin/nvidia-smi"], None),
            (&["/usr/lib64/libcudart.so.12.4.127"], None),
        ];
        for (paths, want) in cases {
            assert_eq!(
                spec_driver_version(&spec_with(paths)).as_deref(),
                *want,
                "{paths:?}"
            );
        }
    }

    /// Without `/proc/driver/nvidia/version` (no driver loaded) only the files count.
    #[test]
    fn no_loaded_driver() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), 1, "550.54.15");
        let spec = generate(&discover(tree.root()).unwrap(), Version::V0_5_0)
            .unwrap()
            .spec;
        std::fs::remove_file(tree.path("proc/driver/nvidia/version")).unwrap();
        assert_eq!(staleness(&spec, tree.root()), Vec::<String>::new());
    }
}
