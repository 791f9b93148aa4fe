//! The CDI spec for a discovered driver, shaped like `nvidia-ctk cdi generate`'s: devices by
//! index, by UUID and `all`; the driver's control nodes, libraries, utilities and firmware
//! for any of them.

use std::path::{Path, PathBuf};

use cdi::{ContainerEdits, Device, DeviceNode, Hook, Mount, Spec, Version};

use super::discover::{Driver, Node};

/// Where containers get the driver's libraries. CUDA images (NGC's and nvidia/cuda) have it
/// in `LD_LIBRARY_PATH`, a convention from nvidia-docker 1.
pub const LIB_DIR: &str = "/usr/local/nvidia/lib64";
/// nvidia-ctk's options for its read-only bind mounts.
pub const MOUNT_OPTIONS: [&str; 5] = ["ro", "nosuid", "nodev", "rbind", "rprivate"];

/// How containers find the driver's libraries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibraryMode {
    /// Through `LD_LIBRARY_PATH`, which must include [`LIB_DIR`].
    NvidiaLib64,
    /// `nvidia-cdi-hook update-ldcache` adds [`LIB_DIR`] to each container's ld.so.cache.
    Ldcache { hook: PathBuf },
}

/// A generated spec and what the user should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub spec: Spec,
    pub library_mode: LibraryMode,
    /// Discovery's notes, for the user.
    pub notes: Vec<String>,
}

impl Generated {
    /// A sentence saying how containers will find the driver's libraries.
    pub fn describe(&self) -> String {
        match &self.library_mode {
            LibraryMode::NvidiaLib64 => format!(
                "driver libraries are mounted in {LIB_DIR}, which CUDA images (NGC, nvidia/cuda) have in LD_LIBRARY_PATH; other images need LD_LIBRARY_PATH={LIB_DIR} (or install nvidia-container-toolkit for nvidia-cdi-hook and run `mlenv gpu setup` again)"
            ),
            LibraryMode::Ldcache { hook } => format!(
                "driver libraries are mounted in {LIB_DIR} and added to each container's ld.so.cache by {}, so any image finds them",
                hook.display()
            ),
        }
    }
}

/// Builds the spec for `driver` with the lowest `cdiVersion` its content needs (0.5.0: names
/// like `0` start with a digit); fails when that is above `max_version`, the newest the
/// installed podman accepts.
pub fn generate(driver: &Driver, max_version: Version) -> Result<Generated, String> {
    let mut devices = Vec::new();
    for gpu in &driver.gpus {
        devices.push(gpu_device(gpu.index.to_string(), [&gpu.node])?);
    }
    for gpu in &driver.gpus {
        devices.push(gpu_device(gpu.uuid.clone(), [&gpu.node])?);
    }
    devices.push(gpu_device(
        "all".to_string(),
        driver.gpus.iter().map(|g| &g.node),
    )?);

    let mut mounts = Vec::new();
    for library in &driver.libraries {
        let mut names = vec![library.file_name.clone()];
        names.extend(library.names.iter().cloned());
        // Triton and other programs dlopen the linker name, which only the CUDA toolkit's
        // stub provides otherwise.
        if library.file_name.starts_with("libcuda.so.") {
            names.push("libcuda.so".to_string());
        }
        let mut seen = Vec::new();
        for name in names {
            if !seen.contains(&name) {
                mounts.push(mount(&library.host_path, format!("{LIB_DIR}/{name}"))?);
                seen.push(name);
            }
        }
    }
    for file in driver.binaries.iter().chain(&driver.firmware) {
        mounts.push(mount(&file.host_path, file.container_path.clone())?);
    }

    let (hooks, library_mode) = match &driver.cdi_hook {
        Some(hook) => {
            let path = utf8(hook)?.to_string();
            let mut hooks = Vec::new();
            // As nvidia-ctk does (toolkit 1.17.5 and later): before the ld.so.cache update,
            // so that an image's CUDA forward compatibility libraries come first when the
            // host driver is older than they are. Only with a hook that has the command:
            // an older one would fail every container start.
            if knows_cuda_compat(hook) {
                hooks.push(Hook {
                    hook_name: "createContainer".into(),
                    path: path.clone(),
                    args: Some(vec![
                        "nvidia-cdi-hook".into(),
                        "enable-cuda-compat".into(),
                        format!("--host-driver-version={}", driver.version),
                    ]),
                    env: None,
                    timeout: None,
                });
            }
            hooks.push(Hook {
                hook_name: "createContainer".into(),
                path,
                args: Some(
                    ["nvidia-cdi-hook", "update-ldcache", "--folder", LIB_DIR]
                        .map(String::from)
                        .to_vec(),
                ),
                env: None,
                timeout: None,
            });
            (hooks, LibraryMode::Ldcache { hook: hook.clone() })
        }
        None => (Vec::new(), LibraryMode::NvidiaLib64),
    };

    let mut spec = Spec {
        cdi_version: Version::V0_3_0,
        kind: super::KIND.parse().map_err(|e: cdi::Error| e.to_string())?,
        annotations: None,
        devices,
        container_edits: Some(ContainerEdits {
            // As nvidia-ctk does: stops an NVIDIA runtime hook in the image from acting too.
            env: vec!["NVIDIA_VISIBLE_DEVICES=void".into()],
            device_nodes: device_nodes(&driver.control_nodes)?,
            hooks,
            mounts,
            ..Default::default()
        }),
    };
    spec.cdi_version = spec.version_to_write();
    if spec.cdi_version > max_version {
        return Err(format!(
            "this spec needs cdiVersion {}; podman accepts at most {max_version}",
            spec.cdi_version
        ));
    }
    spec.validate()
        .map_err(|e| format!("the generated spec is invalid (a bug in mlenv): {e}"))?;
    Ok(Generated {
        spec,
        library_mode,
        notes: driver.notes.clone(),
    })
}

fn gpu_device<'a>(
    name: String,
    nodes: impl IntoIterator<Item = &'a Node>,
) -> Result<Device, String> {
    Ok(Device {
        name,
        annotations: None,
        container_edits: ContainerEdits {
            device_nodes: device_nodes(nodes)?,
            ..Default::default()
        },
    })
}

/// CDI device nodes, one per path (test trees point several nodes at one host device).
fn device_nodes<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> Result<Vec<DeviceNode>, String> {
    let mut out: Vec<DeviceNode> = Vec::new();
    for node in nodes {
        if out.iter().any(|n| n.path == node.path) {
            continue;
        }
        let host_path = utf8(&node.host_path)?;
        out.push(DeviceNode {
            path: node.path.clone(),
            host_path: (host_path != node.path).then(|| host_path.to_string()),
            ..Default::default()
        });
    }
    Ok(out)
}

fn mount(host_path: &Path, container_path: String) -> Result<Mount, String> {
    Ok(Mount {
        host_path: utf8(host_path)?.to_string(),
        container_path,
        typ: None,
        options: Some(MOUNT_OPTIONS.map(String::from).to_vec()),
    })
}

fn utf8(path: &Path) -> Result<&str, String> {
    path.to_str().ok_or_else(|| {
        format!(
            "{} is not UTF-8, which a CDI spec cannot hold",
            path.display()
        )
    })
}

/// Whether the hook binary has the `enable-cuda-compat` command (its name is a string in
/// the binary); read, never run: running it would be a hook call.
fn knows_cuda_compat(hook: &std::path::Path) -> bool {
    const NAME: &[u8] = b"enable-cuda-compat";
    std::fs::read(hook).is_ok_and(|bytes| bytes.windows(NAME.len()).any(|w| w == NAME))
}

#[cfg(test)]
mod tests {
    use super::super::discover::discover;
    use super::super::nvidia_tree::NvidiaTree;
    use super::*;

    fn generated(tree: &NvidiaTree) -> Generated {
        generate(&discover(tree.root()).unwrap(), Version::V0_5_0).unwrap()
    }

    fn mounts(spec: &Spec) -> Vec<(String, String)> {
        let edits = spec.container_edits.as_ref().unwrap();
        edits
            .mounts
            .iter()
            .map(|m| (m.container_path.clone(), m.host_path.clone()))
            .collect()
    }

    #[test]
    fn device_names() {
        for gpus in [1, 2, 8] {
            let tmp = tempfile::tempdir().unwrap();
            let tree = NvidiaTree::new(tmp.path(), gpus, "550.54.15");
            let spec = generated(&tree).spec;
            let mut want: Vec<String> = (0..gpus).map(|i| i.to_string()).collect();
            want.extend(tree.gpus().iter().map(|g| g.uuid.clone()));
            want.push("all".into());
            let names: Vec<&str> = spec.devices.iter().map(|d| d.name.as_str()).collect();
            assert_eq!(names, want);
            for gpu in tree.gpus() {
                let node = DeviceNode {
                    path: format!("/dev/nvidia{}", gpu.minor),
                    host_path: Some(
                        tree.path(&format!("dev/nvidia{}", gpu.minor))
                            .display()
                            .to_string(),
                    ),
                    ..Default::default()
                };
                for name in [gpu.index.to_string(), gpu.uuid.clone()] {
                    assert_eq!(
                        spec.device(&name).unwrap().container_edits.device_nodes,
                        std::slice::from_ref(&node)
                    );
                }
                assert!(spec
                    .device("all")
                    .unwrap()
                    .container_edits
                    .device_nodes
                    .contains(&node));
            }
            assert_eq!(
                spec.device("all")
                    .unwrap()
                    .container_edits
                    .device_nodes
                    .len(),
                gpus
            );
            assert_eq!(spec.kind.to_string(), "nvidia.com/gpu");
            assert_eq!(spec.cdi_version, Version::V0_5_0);
            spec.validate().unwrap();
        }
    }

    #[test]
    fn version_limits() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), 1, "550.54.15");
        let driver = discover(tree.root()).unwrap();
        for max in [Version::V0_5_0, Version::V0_8_0, Version::V1_1_0] {
            assert_eq!(
                generate(&driver, max).unwrap().spec.cdi_version,
                Version::V0_5_0
            );
        }
        assert_eq!(
            generate(&driver, Version::V0_4_0).unwrap_err(),
            "this spec needs cdiVersion 0.5.0; podman accepts at most 0.4.0"
        );
    }

    #[test]
    fn shared_edits() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), 2, "550.54.15");
        let generated = generated(&tree);
        assert_eq!(generated.library_mode, LibraryMode::NvidiaLib64);
        assert!(generated
            .describe()
            .contains("LD_LIBRARY_PATH=/usr/local/nvidia/lib64"));
        let spec = &generated.spec;
        let edits = spec.container_edits.as_ref().unwrap();
        assert_eq!(edits.env, ["NVIDIA_VISIBLE_DEVICES=void"]);
        assert!(edits.hooks.is_empty());
        let nodes: Vec<(&str, Option<&str>)> = edits
            .device_nodes
            .iter()
            .map(|n| (n.path.as_str(), n.host_path.as_deref()))
            .collect();
        let host = |p: &str| tree.path(p).display().to_string();
        let want_nodes = [
            "/dev/nvidiactl",
            "/dev/nvidia-uvm",
            "/dev/nvidia-uvm-tools",
            "/dev/nvidia-modeset",
        ]
        .map(|p| (p, host(p)));
        let want_nodes: Vec<(&str, Option<&str>)> = want_nodes
            .iter()
            .map(|(p, h)| (*p, Some(h.as_str())))
            .collect();
        assert_eq!(nodes, want_nodes);
        let lib = |name: &str| tree.lib(name).display().to_string();
        let l = |name: &str| format!("/usr/local/nvidia/lib64/{name}");
        let want = vec![
            (l("libcuda.so.550.54.15"), lib("libcuda")),
            (l("libcuda.so"), lib("libcuda")),
            (l("libcuda.so.1"), lib("libcuda")),
            (l("libnvidia-ml.so.550.54.15"), lib("libnvidia-ml")),
            (l("libnvidia-ml.so.1"), lib("libnvidia-ml")),
            (
                l("libnvidia-ptxjitcompiler.so.550.54.15"),
                lib("libnvidia-ptxjitcompiler"),
            ),
            (
                l("libnvidia-ptxjitcompiler.so.1"),
                lib("libnvidia-ptxjitcompiler"),
            ),
            ("/usr/bin/nvidia-smi".into(), host("usr/bin/nvidia-smi")),
            (
                "/usr/bin/nvidia-persistenced".into(),
                host("usr/bin/nvidia-persistenced"),
            ),
            (
                "/lib/firmware/nvidia/550.54.15/gsp_ga10x.bin".into(),
                host("lib/firmware/nvidia/550.54.15/gsp_ga10x.bin"),
            ),
        ];
        assert_eq!(mounts(spec), want);
        for m in &edits.mounts {
            assert_eq!(m.options.as_deref().unwrap(), MOUNT_OPTIONS);
            assert_eq!(m.typ, None);
        }
    }

    #[test]
    fn hook_variant() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), 1, "550.54.15").with_cdi_hook();
        let generated = generated(&tree);
        let hook = tree.path("usr/bin/nvidia-cdi-hook");
        assert_eq!(
            generated.library_mode,
            LibraryMode::Ldcache { hook: hook.clone() }
        );
        assert!(generated.describe().contains("nvidia-cdi-hook"));
        let edits = generated.spec.container_edits.as_ref().unwrap();
        assert_eq!(
            edits.hooks,
            [Hook {
                hook_name: "createContainer".into(),
                path: hook.display().to_string(),
                args: Some(
                    [
                        "nvidia-cdi-hook",
                        "update-ldcache",
                        "--folder",
                        "/usr/local/nvidia/lib64"
                    ]
                    .map(String::from)
                    .to_vec()
                ),
                env: None,
                timeout: None,
            }]
        );
        assert_eq!(generated.spec.cdi_version, Version::V0_5_0);
        generated.spec.validate().unwrap();

        // A hook that knows enable-cuda-compat gets it first, with the host's driver.
        let script = std::fs::read_to_string(&hook).unwrap();
        std::fs::write(
            &hook,
            format!("{script}# commands: enable-cuda-compat update-ldcache\n"),
        )
        .unwrap();
        let with_compat = self::generated(&tree);
        let hooks = &with_compat.spec.container_edits.as_ref().unwrap().hooks;
        assert_eq!(hooks.len(), 2);
        assert_eq!(
            hooks[0].args.as_deref().unwrap(),
            [
                "nvidia-cdi-hook",
                "enable-cuda-compat",
                "--host-driver-version=550.54.15"
            ]
        );
        assert_eq!(hooks[1].args.as_deref().unwrap()[1], "update-ldcache");
    }

    /// Host character devices stand in for GPUs: no hostPath, one node per path.
    #[test]
    fn host_nodes() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), 8, "550.54.15")
            .with_host_nodes(&["/dev/zero", "/dev/full"], "/dev/null");
        let spec = generated(&tree).spec;
        let node = |p: &str| DeviceNode {
            path: p.into(),
            ..Default::default()
        };
        assert_eq!(
            spec.device("0").unwrap().container_edits.device_nodes,
            [node("/dev/zero")]
        );
        assert_eq!(
            spec.device("3").unwrap().container_edits.device_nodes,
            [node("/dev/full")]
        );
        assert_eq!(
            spec.device("all").unwrap().container_edits.device_nodes,
            [node("/dev/zero"), node("/dev/full")]
        );
        assert_eq!(
            spec.container_edits.as_ref().unwrap().device_nodes,
            [node("/dev/null")]
        );
        // Digit names still need 0.5.0.
        assert_eq!(spec.cdi_version, Version::V0_5_0);
        spec.validate().unwrap();
    }

    #[test]
    fn validates_against_the_json_schema() {
        for (gpus, hook) in [(1, false), (2, true), (8, false)] {
            let tmp = tempfile::tempdir().unwrap();
            let mut tree = NvidiaTree::new(tmp.path(), gpus, "550.54.15");
            if hook {
                tree = tree.with_cdi_hook();
            }
            let spec = generated(&tree).spec;
            let json = serde_json::to_value(&spec).unwrap();
            super::super::check_schema(&json);
        }
    }
}
