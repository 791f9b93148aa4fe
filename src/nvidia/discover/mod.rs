//! Finding the NVIDIA driver without nvidia-ctk: what the kernel module says under
//! `/proc/driver/nvidia`, the device nodes, and the user-space files the driver installed
//! (libraries from the ldconfig cache, utilities, firmware).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{ldcache, rootfs};

mod parse;

pub use parse::{
    is_version, normalize_bus_id, parse_information, parse_smi_gpus, parse_version, pci_address,
    Information, SmiGpu,
};

/// Nodes every container with a GPU needs besides the GPU's own, as nvidia-ctk lists them.
pub const CONTROL_NODES: [&str; 4] = [
    "/dev/nvidiactl",
    "/dev/nvidia-uvm",
    "/dev/nvidia-uvm-tools",
    "/dev/nvidia-modeset",
];
/// The driver's utilities that containers get at `/usr/bin/<name>`.
pub const BINARIES: [&str; 5] = [
    "nvidia-smi",
    "nvidia-debugdump",
    "nvidia-persistenced",
    "nvidia-cuda-mps-control",
    "nvidia-cuda-mps-server",
];
/// Where the driver's utilities (and nvidia-container-toolkit's hook) are installed.
const BIN_DIRS: [&str; 3] = ["/usr/bin", "/usr/local/bin", "/bin"];
const FIRMWARE_DIRS: [&str; 2] = ["/lib/firmware/nvidia", "/usr/lib/firmware/nvidia"];
/// File name prefixes of the driver's user-space libraries (`libcuda.so.<ver>`,
/// `libnvidia-ml.so.<ver>`, ...); other libraries in the cache are not the driver's.
const LIBRARY_PREFIXES: [&str; 5] = [
    "libcuda",
    "libnvidia-",
    "libnvcuvid",
    "libnvoptix",
    "libcudadebugger",
];
const VERSION_FILE: &str = "/proc/driver/nvidia/version";
const GPUS_DIR: &str = "/proc/driver/nvidia/gpus";
const LD_CACHE: &str = "/etc/ld.so.cache";
/// The query discovery asks nvidia-smi when `/proc/driver/nvidia/gpus` is missing.
pub const SMI_QUERY: [&str; 2] = [
    "--query-gpu=index,uuid,pci.bus_id,name",
    "--format=csv,noheader",
];

/// The NVIDIA driver found under a root prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Driver {
    /// The root prefix everything was read from ("/" on a real host).
    pub root: PathBuf,
    /// The loaded kernel module's version, e.g. `550.54.15`.
    pub version: String,
    /// The GPUs, by index.
    pub gpus: Vec<Gpu>,
    /// Those of [`CONTROL_NODES`] that exist.
    pub control_nodes: Vec<Node>,
    /// The driver's 64-bit libraries of this version, sorted by file name.
    pub libraries: Vec<Library>,
    /// Those of [`BINARIES`] that exist, mounted at `/usr/bin/<name>`.
    pub binaries: Vec<HostFile>,
    /// The GSP firmware files of this version.
    pub firmware: Vec<HostFile>,
    /// `nvidia-cdi-hook` (from nvidia-container-toolkit), when installed.
    pub cdi_hook: Option<PathBuf>,
    /// Things the user may want to know (a missing uvm node, a fallback taken).
    pub notes: Vec<String>,
}

/// One GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpu {
    /// nvidia-smi's (NVML's) index: the position in PCI bus order.
    pub index: u32,
    /// The device minor number: the node is `/dev/nvidia<minor>`. Need not equal `index`.
    pub minor: u32,
    /// `GPU-<uuid>`.
    pub uuid: String,
    /// `0000:17:00.0` form.
    pub pci_bus_id: String,
    /// e.g. `NVIDIA H100 80GB HBM3`.
    pub model: String,
    /// `/dev/nvidia<minor>`.
    pub node: Node,
}

/// A device node: its path in the container and the file on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The path in the container.
    pub path: String,
    /// The node on this machine.
    pub host_path: PathBuf,
}

/// A driver library: its real file and the names the linker may look it up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// The real file on this machine (symlinks resolved), e.g. `.../libcuda.so.550.54.15`.
    pub host_path: PathBuf,
    /// Its file name, e.g. `libcuda.so.550.54.15`.
    pub file_name: String,
    /// The cache's names for it other than `file_name`, sorted, e.g. `libcuda.so`,
    /// `libcuda.so.1`.
    pub names: Vec<String>,
}

/// A file to mount: the real file on this machine and where it goes in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFile {
    pub host_path: PathBuf,
    pub container_path: String,
}

/// Why the driver could not be found. Each message names the file read and what to do.
#[derive(Debug)]
pub enum DiscoverError {
    /// `/proc/driver/nvidia/version` does not exist.
    NoDriver { path: PathBuf },
    /// A file could not be read.
    Read { path: PathBuf, source: io::Error },
    /// The version file has no version in it.
    BadVersion { path: PathBuf, line: String },
    /// No GPU under `/proc/driver/nvidia/gpus` and no nvidia-smi to ask.
    NoGpus { path: PathBuf },
    /// A GPU's information file lacks what we need.
    BadGpu { path: PathBuf, reason: String },
    /// nvidia-smi failed or printed something unexpected.
    NvidiaSmi { path: PathBuf, reason: String },
    /// A device node that must exist does not.
    MissingNode { path: PathBuf, what: String },
    /// The ldconfig cache is missing or unreadable.
    LdCache { path: PathBuf, reason: String },
    /// The ldconfig cache has no libcuda for the loaded driver.
    NoLibcuda {
        path: PathBuf,
        version: String,
        /// The libcuda files of other versions the cache points at.
        others: Vec<String>,
    },
}

impl fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoverError::NoDriver { path } => write!(
                f,
                "no NVIDIA driver loaded: {} does not exist; load the driver (nvidia-smi should work on the host)",
                path.display()
            ),
            DiscoverError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            DiscoverError::BadVersion { path, line } => write!(
                f,
                "cannot find the driver version in {} (it starts {line:?}); is the NVIDIA driver loaded?",
                path.display()
            ),
            DiscoverError::NoGpus { path } => write!(
                f,
                "no GPUs found in {}, and there is no nvidia-smi to ask; check that `nvidia-smi -L` lists the GPUs",
                path.display()
            ),
            DiscoverError::BadGpu { path, reason } => write!(
                f,
                "{}: {reason}; run `nvidia-smi` once (or enable persistence mode with `sudo nvidia-smi -pm 1`) and retry",
                path.display()
            ),
            DiscoverError::NvidiaSmi { path, reason } => write!(
                f,
                "{} {}: {reason}; check that `nvidia-smi -L` lists the GPUs",
                path.display(),
                SMI_QUERY.join(" ")
            ),
            DiscoverError::MissingNode { path, what } => write!(
                f,
                "device node {} ({what}) does not exist; run `sudo nvidia-smi` once, which creates the nodes",
                path.display()
            ),
            DiscoverError::LdCache { path, reason } => write!(
                f,
                "cannot read the ldconfig cache {}: {reason}; run `sudo ldconfig`",
                path.display()
            ),
            DiscoverError::NoLibcuda {
                path,
                version,
                others,
            } => {
                write!(
                    f,
                    "the ldconfig cache {} has no libcuda.so.{version} for the loaded driver {version}",
                    path.display()
                )?;
                if others.is_empty() {
                    write!(f, "; run `sudo ldconfig`, and check that the driver's libraries are installed")
                } else {
                    write!(
                        f,
                        " (it has {}); run `sudo ldconfig`, or reboot if the driver was upgraded since the last boot",
                        others.join(", ")
                    )
                }
            }
        }
    }
}

impl std::error::Error for DiscoverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DiscoverError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Finds the driver under `root` ("/" on a real host). Reads files only, except that it
/// runs `<root>/usr/bin/nvidia-smi` when `/proc/driver/nvidia/gpus` lacks what it needs.
pub fn discover(root: &Path) -> Result<Driver, DiscoverError> {
    let version_path = rootfs::join(root, VERSION_FILE);
    let version = running_version(root)?.ok_or(DiscoverError::NoDriver { path: version_path })?;
    let mut notes = Vec::new();
    let binaries = find_binaries(root);
    let smi = binaries
        .iter()
        .find(|b| b.container_path == "/usr/bin/nvidia-smi")
        .map(|b| b.host_path.as_path());
    let gpus = find_gpus(root, smi, &mut notes)?;
    let control_nodes: Vec<Node> = CONTROL_NODES
        .iter()
        .filter_map(|path| device_node(root, path))
        .collect();
    if device_node(root, CONTROL_NODES[0]).is_none() {
        return Err(DiscoverError::MissingNode {
            path: rootfs::join(root, CONTROL_NODES[0]),
            what: "the driver's control node".into(),
        });
    }
    if device_node(root, "/dev/nvidia-uvm").is_none() {
        notes.push(format!(
            "{} does not exist, and CUDA needs it; create it with `sudo nvidia-modprobe -u -c=0` and run `mlenv gpu setup` again",
            rootfs::join(root, "/dev/nvidia-uvm").display()
        ));
    }
    let mig = mig_instances(root);
    if !mig.is_empty() {
        notes.push(mig_note(&mig));
    }
    let libraries = find_libraries(root, &version)?;
    let firmware = find_firmware(root, &version);
    let cdi_hook = find_binary(root, "nvidia-cdi-hook");
    Ok(Driver {
        root: root.to_path_buf(),
        version,
        gpus,
        control_nodes,
        libraries,
        binaries,
        firmware,
        cdi_hook,
        notes,
    })
}

/// Where the driver lists MIG (Multi-Instance GPU) partitions: `gpuN/mig/giG/ciC/access`.
const CAPABILITIES_DIR: &str = "/proc/driver/nvidia/capabilities";

/// The MIG compute instances the driver lists, as (GPU minor, GPU instance, compute
/// instance), sorted.
pub fn mig_instances(root: &Path) -> Vec<(u32, u32, u32)> {
    let number = |name: &str, prefix: &str| name.strip_prefix(prefix)?.parse::<u32>().ok();
    let entries = |dir: &Path| -> Vec<String> {
        fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let base = rootfs::join(root, CAPABILITIES_DIR);
    let mut out = Vec::new();
    for gpu in entries(&base) {
        let Some(g) = number(&gpu, "gpu") else {
            continue;
        };
        let mig = base.join(&gpu).join("mig");
        for gi in entries(&mig) {
            let Some(i) = number(&gi, "gi") else { continue };
            for ci in entries(&mig.join(&gi)) {
                if let Some(c) = number(&ci, "ci") {
                    out.push((g, i, c));
                }
            }
        }
    }
    out.sort_unstable();
    out
}

/// What `gpu setup` says when GPUs are partitioned with MIG: it writes whole GPUs only, and
/// a MIG device needs its `/dev/nvidia-caps` nodes and NVML's numbering, which nvidia-ctk has.
pub fn mig_note(instances: &[(u32, u32, u32)]) -> String {
    let mut gpus: Vec<u32> = instances.iter().map(|i| i.0).collect();
    gpus.dedup();
    let shown: Vec<String> = gpus.iter().map(|g| format!("/dev/nvidia{g}")).collect();
    format!(
        "{} MIG compute instance{} on {}: this spec holds whole GPUs only, and a process on a MIG-enabled GPU sees no MIG device through it. For MIG devices, generate the spec with nvidia-ctk (toolkit 1.12 or later: `sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`), which names each one by index (nvidia.com/gpu=0:0) and by its MIG UUID; `mlenv gpu list` then shows them, and `mlenv up --gpu nvidia.com/gpu=0:0` attaches one",
        instances.len(),
        if instances.len() == 1 { "" } else { "s" },
        shown.join(", ")
    )
}

/// The loaded driver's version from `<root>/proc/driver/nvidia/version`; `None` when the
/// file does not exist (no driver loaded).
pub fn running_version(root: &Path) -> Result<Option<String>, DiscoverError> {
    let path = rootfs::join(root, VERSION_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(DiscoverError::Read { path, source }),
    };
    match parse_version(&text) {
        Some(version) => Ok(Some(version)),
        None => Err(DiscoverError::BadVersion {
            line: text.lines().next().unwrap_or_default().to_string(),
            path,
        }),
    }
}

/// The GPUs, numbered as NVML does: in PCI bus order, excluded GPUs left out.
fn find_gpus(
    root: &Path,
    smi: Option<&Path>,
    notes: &mut Vec<String>,
) -> Result<Vec<Gpu>, DiscoverError> {
    let dir = rootfs::join(root, GPUS_DIR);
    let mut found: Vec<(String, Information, PathBuf)> = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => Some(entries),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(source) => return Err(DiscoverError::Read { path: dir, source }),
    };
    for entry in entries.into_iter().flatten() {
        let entry = entry.map_err(|source| DiscoverError::Read {
            path: dir.clone(),
            source,
        })?;
        let path = entry.path().join("information");
        let text = fs::read_to_string(&path).map_err(|source| DiscoverError::Read {
            path: path.clone(),
            source,
        })?;
        let info = parse_information(&text).map_err(|reason| DiscoverError::BadGpu {
            path: path.clone(),
            reason,
        })?;
        if info.excluded {
            notes.push(format!(
                "GPU {} is excluded from use by the driver (NVreg_ExcludedGpus); it is left out",
                info.pci_bus_id.as_deref().unwrap_or("?")
            ));
            continue;
        }
        let bus = normalize_bus_id(
            info.pci_bus_id
                .as_deref()
                .unwrap_or(&entry.file_name().to_string_lossy()),
        );
        found.push((bus, info, path));
    }

    let mut gpus: Vec<Gpu>;
    if found.is_empty() {
        let Some(smi) = smi else {
            return Err(DiscoverError::NoGpus { path: dir });
        };
        gpus = ask_nvidia_smi(smi)?
            .into_iter()
            .map(|g| Gpu {
                index: g.index,
                // nvidia-smi's query has no minor number; the kernel usually numbers nodes
                // in the same order.
                minor: g.index,
                uuid: g.uuid,
                pci_bus_id: g.pci_bus_id,
                model: g.name,
                node: placeholder_node(),
            })
            .collect();
        if gpus.is_empty() {
            return Err(DiscoverError::NoGpus { path: dir });
        }
        notes.push(format!(
            "{} is missing; took the GPUs from nvidia-smi, assuming /dev/nvidia<N> is GPU N",
            dir.display()
        ));
    } else {
        found.sort_by_key(|(bus, _, _)| (pci_address(bus), bus.clone()));
        // The driver prints `??` for the UUID of a GPU it has not initialised since boot.
        let smi_gpus = if found.iter().any(|(_, info, _)| info.uuid.is_none()) {
            match smi {
                Some(smi) => ask_nvidia_smi(smi)?,
                None => Vec::new(),
            }
        } else {
            Vec::new()
        };
        gpus = Vec::new();
        for (index, (bus, info, path)) in found.into_iter().enumerate() {
            let uuid = match info.uuid {
                Some(uuid) => uuid,
                None => smi_gpus
                    .iter()
                    .find(|g| g.pci_bus_id == bus)
                    .map(|g| g.uuid.clone())
                    .ok_or_else(|| DiscoverError::BadGpu {
                        path,
                        reason: "the GPU's UUID is not known yet".into(),
                    })?,
            };
            gpus.push(Gpu {
                index: index as u32,
                minor: info.minor,
                uuid,
                pci_bus_id: bus,
                model: info.model,
                node: placeholder_node(),
            });
        }
    }
    gpus.sort_by_key(|g| g.index);
    for gpu in &mut gpus {
        let path = format!("/dev/nvidia{}", gpu.minor);
        gpu.node = device_node(root, &path).ok_or_else(|| DiscoverError::MissingNode {
            path: rootfs::join(root, &path),
            what: format!("GPU {} {}", gpu.index, gpu.uuid),
        })?;
    }
    Ok(gpus)
}

fn placeholder_node() -> Node {
    Node {
        path: String::new(),
        host_path: PathBuf::new(),
    }
}

fn ask_nvidia_smi(smi: &Path) -> Result<Vec<SmiGpu>, DiscoverError> {
    let failed = |reason: String| DiscoverError::NvidiaSmi {
        path: smi.to_path_buf(),
        reason,
    };
    let out = Command::new(smi)
        .args(SMI_QUERY)
        .output()
        .map_err(|e| failed(format!("cannot run it: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = [stderr.trim(), stdout.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(failed(format!("{}: {said}", out.status)));
    }
    parse_smi_gpus(&stdout).map_err(failed)
}

/// The device node at `path` (`/dev/...`, inside `root`), if it exists.
///
/// Rootless runc bind-mounts a device node from the host at its container path, and fails
/// when the two differ; so a node keeps its host path in the container, and under a root
/// prefix other than "/" (tests) the spec gets a `hostPath`, which only a runtime that
/// creates nodes (rootful) can use.
///
/// The exception lets tests use real podman without a GPU: when `<root>/dev/X` is a symlink
/// to an absolute path outside `root` that is a character device of this machine
/// (`/dev/zero`, `/dev/full`, `/dev/net/tun`), the node is that device, at its own path in
/// both places.
fn device_node(root: &Path, path: &str) -> Option<Node> {
    let at = rootfs::join(root, path);
    let meta = fs::symlink_metadata(&at).ok()?;
    if meta.file_type().is_symlink() && root != Path::new("/") {
        if let Ok(target) = fs::read_link(&at) {
            let is_char_device =
                fs::metadata(&target).is_ok_and(|m| m.file_type().is_char_device());
            if target.is_absolute() && !target.starts_with(root) && is_char_device {
                return Some(Node {
                    path: target.to_string_lossy().into_owned(),
                    host_path: target,
                });
            }
        }
    }
    at.exists().then(|| Node {
        path: path.to_string(),
        host_path: at,
    })
}

/// The driver's 64-bit libraries of `version`, from the ldconfig cache.
fn find_libraries(root: &Path, version: &str) -> Result<Vec<Library>, DiscoverError> {
    let path = rootfs::join(root, LD_CACHE);
    let bytes = fs::read(&path).map_err(|e| DiscoverError::LdCache {
        path: path.clone(),
        reason: if e.kind() == io::ErrorKind::NotFound {
            "it does not exist".to_string()
        } else {
            e.to_string()
        },
    })?;
    let entries = ldcache::parse(&bytes).map_err(|reason| DiscoverError::LdCache {
        path: path.clone(),
        reason,
    })?;
    let suffix = format!(".so.{version}");
    let libcuda = format!("libcuda.so.{version}");
    let mut libraries: BTreeMap<String, Library> = BTreeMap::new();
    let mut others = Vec::new();
    for entry in entries.iter().filter(|e| e.is_native()) {
        // A cache can name files that are gone (removed since the last `ldconfig`).
        let Ok(real) = rootfs::resolve(root, &entry.value) else {
            continue;
        };
        let Some(file_name) = real.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if !LIBRARY_PREFIXES.iter().any(|p| file_name.starts_with(p)) {
            continue;
        }
        if !file_name.ends_with(&suffix) {
            if file_name.starts_with("libcuda.so.") && !others.contains(&file_name) {
                others.push(file_name);
            }
            continue;
        }
        let library = libraries
            .entry(file_name.clone())
            .or_insert_with(|| Library {
                host_path: real,
                file_name: file_name.clone(),
                names: Vec::new(),
            });
        if entry.key != file_name && !library.names.contains(&entry.key) {
            library.names.push(entry.key.clone());
            library.names.sort();
        }
    }
    if !libraries.contains_key(&libcuda) {
        others.sort();
        return Err(DiscoverError::NoLibcuda {
            path,
            version: version.to_string(),
            others,
        });
    }
    Ok(libraries.into_values().collect())
}

/// The real file of `name` in the first of [`BIN_DIRS`] that has it.
fn find_binary(root: &Path, name: &str) -> Option<PathBuf> {
    BIN_DIRS.iter().find_map(|dir| {
        rootfs::resolve(root, format!("{dir}/{name}"))
            .ok()
            .filter(|p| p.is_file())
    })
}

fn find_binaries(root: &Path) -> Vec<HostFile> {
    BINARIES
        .iter()
        .filter_map(|name| {
            find_binary(root, name).map(|host_path| HostFile {
                host_path,
                container_path: format!("/usr/bin/{name}"),
            })
        })
        .collect()
}

/// `*.bin` in `/lib/firmware/nvidia/<version>` (or `/usr/lib/...`), at the same path in the
/// container; one file once where `/lib` links to `/usr/lib`.
fn find_firmware(root: &Path, version: &str) -> Vec<HostFile> {
    let mut files: Vec<HostFile> = Vec::new();
    for dir in FIRMWARE_DIRS {
        let dir = format!("{dir}/{version}");
        let Ok(real_dir) = rootfs::resolve(root, &dir) else {
            continue;
        };
        let Ok(entries) = fs::read_dir(&real_dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".bin"))
            .collect();
        names.sort();
        for name in names {
            let Ok(host_path) = rootfs::resolve(root, format!("{dir}/{name}")) else {
                continue;
            };
            if host_path.is_file() && !files.iter().any(|f| f.host_path == host_path) {
                files.push(HostFile {
                    host_path,
                    container_path: format!("{dir}/{name}"),
                });
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::super::nvidia_tree::{self, NvidiaTree, DRIVER_LIBS, LIB_DIR};
    use super::*;
    use std::os::unix::fs::symlink;

    fn check_tree(gpus: usize) {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), gpus, "550.54.15");
        let driver = discover(tree.root()).unwrap();
        assert_eq!(driver.version, "550.54.15");
        assert_eq!(driver.root, tree.root());
        let got: Vec<(u32, u32, &str, &str)> = driver
            .gpus
            .iter()
            .map(|g| (g.index, g.minor, g.uuid.as_str(), g.pci_bus_id.as_str()))
            .collect();
        let want: Vec<(u32, u32, &str, &str)> = tree
            .gpus()
            .iter()
            .map(|g| (g.index, g.minor, g.uuid.as_str(), g.pci_bus_id.as_str()))
            .collect();
        assert_eq!(got, want);
        for gpu in &driver.gpus {
            assert_eq!(gpu.model, nvidia_tree::MODEL);
            assert_eq!(gpu.node.path, format!("/dev/nvidia{}", gpu.minor));
            assert_eq!(gpu.node.host_path, tree.path(&gpu.node.path));
        }
        let ctl: Vec<&str> = driver
            .control_nodes
            .iter()
            .map(|n| n.path.as_str())
            .collect();
        assert_eq!(ctl, CONTROL_NODES);
        // 64-bit driver libraries only: not the i386 libcuda, libc, or the cache's stale
        // libnvidia-fbc entry.
        let libs: Vec<(&str, &Path, Vec<&str>)> = driver
            .libraries
            .iter()
            .map(|l| {
                (
                    l.file_name.as_str(),
                    l.host_path.as_path(),
                    l.names.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        let cuda = tree.lib("libcuda");
        let ml = tree.lib("libnvidia-ml");
        let ptx = tree.lib("libnvidia-ptxjitcompiler");
        assert_eq!(
            libs,
            [
                (
                    "libcuda.so.550.54.15",
                    cuda.as_path(),
                    vec!["libcuda.so", "libcuda.so.1"]
                ),
                (
                    "libnvidia-ml.so.550.54.15",
                    ml.as_path(),
                    vec!["libnvidia-ml.so.1"]
                ),
                (
                    "libnvidia-ptxjitcompiler.so.550.54.15",
                    ptx.as_path(),
                    vec!["libnvidia-ptxjitcompiler.so.1"]
                ),
            ]
        );
        assert_eq!(DRIVER_LIBS.len(), libs.len());
        let bins: Vec<(&str, PathBuf)> = driver
            .binaries
            .iter()
            .map(|b| (b.container_path.as_str(), b.host_path.clone()))
            .collect();
        assert_eq!(
            bins,
            [
                ("/usr/bin/nvidia-smi", tree.path("usr/bin/nvidia-smi")),
                (
                    "/usr/bin/nvidia-persistenced",
                    tree.path("usr/bin/nvidia-persistenced")
                ),
            ]
        );
        assert_eq!(
            driver.firmware,
            [HostFile {
                host_path: tree.path("lib/firmware/nvidia/550.54.15/gsp_ga10x.bin"),
                container_path: "/lib/firmware/nvidia/550.54.15/gsp_ga10x.bin".into(),
            }]
        );
        assert_eq!(driver.cdi_hook, None);
        assert_eq!(driver.notes, Vec::<String>::new());
    }

    #[test]
    fn discovers_1_gpu() {
        check_tree(1);
    }

    #[test]
    fn discovers_2_gpus() {
        check_tree(2);
    }

    #[test]
    fn discovers_8_gpus() {
        check_tree(8);
    }

    #[test]
    fn index_is_pci_order_not_minor() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), 4, "550.54.15").with_minors(&[2, 0, 3, 1]);
        let driver = discover(tree.root()).unwrap();
        let got: Vec<(u32, u32, String)> = driver
            .gpus
            .iter()
            .map(|g| (g.index, g.minor, g.node.path.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (0, 2, "/dev/nvidia2".to_string()),
                (1, 0, "/dev/nvidia0".to_string()),
                (2, 3, "/dev/nvidia3".to_string()),
                (3, 1, "/dev/nvidia1".to_string()),
            ]
        );
        assert_eq!(driver.gpus[1].uuid, nvidia_tree::uuid(1));
    }

    #[test]
    fn falls_back_to_nvidia_smi() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), 2, "550.54.15").without_proc_gpus();
        let driver = discover(tree.root()).unwrap();
        let got: Vec<_> = driver
            .gpus
            .iter()
            .map(|g| (g.index, g.minor, &g.uuid, &g.pci_bus_id, &g.model))
            .collect();
        let want: Vec<_> = tree
            .gpus()
            .iter()
            .map(|g| (g.index, g.minor, &g.uuid, &g.pci_bus_id, &g.model))
            .collect();
        assert_eq!(got, want);
        assert!(driver.notes[0].contains("took the GPUs from nvidia-smi"));
    }

    #[test]
    fn unknown_uuid_asks_nvidia_smi() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), 2, "550.54.15");
        let gpu = &tree.gpus()[1];
        let info = tree.path(&format!(
            "proc/driver/nvidia/gpus/{}/information",
            gpu.pci_bus_id
        ));
        fs::write(
            &info,
            nvidia_tree::information(gpu).replace(&gpu.uuid, "??"),
        )
        .unwrap();
        assert_eq!(discover(tree.root()).unwrap().gpus[1].uuid, gpu.uuid);
        fs::remove_file(tree.path("usr/bin/nvidia-smi")).unwrap();
        let err = discover(tree.root()).unwrap_err().to_string();
        assert!(
            err.contains("UUID is not known yet") && err.contains(&info.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn host_node_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), 3, "550.54.15")
            .with_host_nodes(&["/dev/zero", "/dev/full"], "/dev/null");
        let driver = discover(tree.root()).unwrap();
        let nodes: Vec<(&str, &Path)> = driver
            .gpus
            .iter()
            .map(|g| (g.node.path.as_str(), g.node.host_path.as_path()))
            .collect();
        assert_eq!(
            nodes,
            [
                ("/dev/zero", Path::new("/dev/zero")),
                ("/dev/full", Path::new("/dev/full")),
                ("/dev/zero", Path::new("/dev/zero")),
            ]
        );
        assert!(driver.control_nodes.iter().all(|n| n.path == "/dev/null"));

        // Not a character device, or inside the root: the node stays where it is.
        let dev = tree.path("dev");
        fs::remove_file(dev.join("nvidia0")).unwrap();
        symlink("/etc/hostname", dev.join("nvidia0")).unwrap();
        fs::remove_file(dev.join("nvidia1")).unwrap();
        fs::write(dev.join("real1"), "").unwrap();
        symlink(dev.join("real1"), dev.join("nvidia1")).unwrap();
        let cases = [
            ("/dev/nvidia0", "dev/nvidia0"),
            ("/dev/nvidia1", "dev/nvidia1"),
        ];
        for (path, host) in cases {
            assert_eq!(
                device_node(tree.root(), path),
                Some(Node {
                    path: path.into(),
                    host_path: tree.path(host)
                })
            );
        }
        assert_eq!(device_node(tree.root(), "/dev/nvidia7"), None);
        // On a real host, "/" is the root: nodes are what they are.
        assert_eq!(
            device_node(Path::new("/"), "/dev/null"),
            Some(Node {
                path: "/dev/null".into(),
                host_path: "/dev/null".into()
            })
        );
    }

    #[test]
    fn errors_name_the_file_and_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let err = discover(root).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "no NVIDIA driver loaded: {}/proc/driver/nvidia/version does not exist; load the driver (nvidia-smi should work on the host)",
                root.display()
            )
        );

        type BreakTree = Box<dyn Fn(&NvidiaTree)>;
        let cases: Vec<(BreakTree, String)> = vec![
            (
                Box::new(|t| fs::write(t.path("proc/driver/nvidia/version"), "garbage\n").unwrap()),
                "cannot find the driver version in".into(),
            ),
            (
                Box::new(|t| {
                    fs::remove_dir_all(t.path("proc/driver/nvidia/gpus")).unwrap();
                    fs::remove_file(t.path("usr/bin/nvidia-smi")).unwrap();
                }),
                format!("no GPUs found in {}/proc/driver/nvidia/gpus", root.display()),
            ),
            (
                Box::new(|t| fs::remove_file(t.path("dev/nvidia1")).unwrap()),
                format!("device node {}/dev/nvidia1 (GPU 1 GPU-", root.display()),
            ),
            (
                Box::new(|t| fs::remove_file(t.path("dev/nvidiactl")).unwrap()),
                format!("device node {}/dev/nvidiactl (the driver's control node)", root.display()),
            ),
            (
                Box::new(|t| fs::remove_file(t.path("etc/ld.so.cache")).unwrap()),
                format!("cannot read the ldconfig cache {}/etc/ld.so.cache: it does not exist; run `sudo ldconfig`", root.display()),
            ),
            (
                Box::new(|t| fs::write(t.path("etc/ld.so.cache"), "junk").unwrap()),
                "(unknown magic); run `sudo ldconfig`".into(),
            ),
            (
                Box::new(|t| {
                    let v = "550.54.15";
                    fs::rename(t.lib("libcuda"), t.path(&format!("{LIB_DIR}/libcuda.so.545.23.08"))).unwrap();
                    fs::remove_file(t.path(&format!("{LIB_DIR}/libcuda.so.1"))).unwrap();
                    symlink("libcuda.so.545.23.08", t.path(&format!("{LIB_DIR}/libcuda.so.1"))).unwrap();
                    assert!(!t.path(&format!("{LIB_DIR}/libcuda.so.{v}")).exists());
                }),
                format!("the ldconfig cache {}/etc/ld.so.cache has no libcuda.so.550.54.15 for the loaded driver 550.54.15 (it has libcuda.so.545.23.08); run `sudo ldconfig`, or reboot", root.display()),
            ),
        ];
        for (break_it, want) in cases {
            for entry in fs::read_dir(root).unwrap() {
                let path = entry.unwrap().path();
                fs::remove_dir_all(&path)
                    .or_else(|_| fs::remove_file(&path))
                    .unwrap();
            }
            let tree = NvidiaTree::new(root, 2, "550.54.15");
            break_it(&tree);
            let err = discover(root).unwrap_err().to_string();
            assert!(err.contains(&want), "{err}\n lacks {want}");
        }
    }

    #[test]
    fn missing_uvm_is_a_note() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), 1, "550.54.15").with_cdi_hook();
        fs::remove_file(tree.path("dev/nvidia-uvm")).unwrap();
        let driver = discover(tree.root()).unwrap();
        assert_eq!(driver.control_nodes.len(), 3);
        assert!(
            driver.notes[0].contains("nvidia-modprobe -u"),
            "{:?}",
            driver.notes
        );
        assert_eq!(driver.cdi_hook, Some(tree.path("usr/bin/nvidia-cdi-hook")));
    }

    #[test]
    fn mig_partitions_are_found_and_said() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = NvidiaTree::new(tmp.path(), 2, "550.54.15")
            .with_mig(0, 1, &[0, 1])
            .with_mig(1, 2, &[0]);
        assert_eq!(
            mig_instances(tree.root()),
            [(0, 1, 0), (0, 1, 1), (1, 2, 0)]
        );
        let driver = discover(tree.root()).unwrap();
        let note = driver.notes.iter().find(|n| n.contains("MIG")).unwrap();
        assert!(
            note.starts_with("3 MIG compute instances on /dev/nvidia0, /dev/nvidia1: this spec holds whole GPUs only")
                && note.contains("nvidia-ctk cdi generate")
                && note.contains("nvidia.com/gpu=0:0"),
            "{note}"
        );
        let plain = NvidiaTree::new(&tmp.path().join("plain"), 1, "550.54.15");
        assert!(mig_instances(plain.root()).is_empty());
        assert!(discover(plain.root())
            .unwrap()
            .notes
            .iter()
            .all(|n| !n.contains("MIG")));
    }
}
