//! A fake NVIDIA driver installation under a root prefix, for tests of `mlenv gpu setup`.
//!
//! Discovery reads everything below a root prefix, so a temporary directory laid out like
//! a host with the driver loaded stands in for one: `proc/driver/nvidia`, `dev/nvidia*`,
//! the driver's libraries with their soname links, a binary `etc/ld.so.cache` naming them,
//! `usr/bin/nvidia-smi` (a shell script printing what the real one would) and GSP firmware.
//! File contents are a line of text, so a test can read a library through a mount and see
//! which driver version it got.
//!
//! Included with `#[path]` by the unit tests in `src/nvidia` and by the integration tests,
//! so it uses std only and panics on I/O errors (naming the path). What only one of the two
//! uses says so with an `allow(dead_code)` of its own.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the tree puts the 64-bit driver libraries (relative to the root).
pub const LIB_DIR: &str = "usr/lib/x86_64-linux-gnu";
/// Where the tree puts a 32-bit libcuda that discovery must ignore.
pub const LIB32_DIR: &str = "usr/lib/i386-linux-gnu";
/// The driver libraries the tree installs, as `<name>.so.<driver version>`.
pub const DRIVER_LIBS: [&str; 3] = ["libcuda", "libnvidia-ml", "libnvidia-ptxjitcompiler"];
/// The GPU model every fake GPU reports.
pub const MODEL: &str = "NVIDIA H100 80GB HBM3";
/// Total memory (MiB) every fake GPU reports.
pub const MEMORY_TOTAL_MIB: u32 = 81559;
/// The control nodes the tree creates under `dev/`.
pub const CONTROL_NODES: [&str; 4] = [
    "nvidiactl",
    "nvidia-uvm",
    "nvidia-uvm-tools",
    "nvidia-modeset",
];

/// `ld.so.cache` entry flags (glibc `FLAG_ELF_LIBC6 | FLAG_X8664_LIB64`): a 64-bit x86 library.
pub const FLAG_X86_64: i32 = 0x0303;
/// `FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64`: a 64-bit Arm library.
pub const FLAG_AARCH64: i32 = 0x0a03;
/// `FLAG_ELF_LIBC6` alone: a 32-bit (i386) library, shown as `(libc6)` by `ldconfig -p`.
pub const FLAG_I386: i32 = 0x0003;
/// The flags of a 64-bit library of the machine running the tests.
pub const FLAG_NATIVE: i32 = if cfg!(target_arch = "aarch64") {
    FLAG_AARCH64
} else {
    FLAG_X86_64
};

/// PCI addresses of the fake GPUs, in bus order (an 8-GPU HGX board's layout).
const BUS_IDS: [&str; 8] = [
    "0000:18:00.0",
    "0000:2a:00.0",
    "0000:3a:00.0",
    "0000:5d:00.0",
    "0000:9a:00.0",
    "0000:ab:00.0",
    "0000:ba:00.0",
    "0000:db:00.0",
];

/// One GPU of the tree, as NVML would number it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGpu {
    /// The nvidia-smi index: the position in PCI bus order.
    pub index: u32,
    /// The device minor number: the GPU's node is `dev/nvidia<minor>`.
    pub minor: u32,
    pub uuid: String,
    /// `0000:18:00.0` form, as in `proc/driver/nvidia/gpus/`.
    pub pci_bus_id: String,
    pub model: String,
}

/// A fake driver installation under `root`; see the module docs.
#[derive(Debug)]
pub struct NvidiaTree {
    root: PathBuf,
    version: String,
    gpus: Vec<FakeGpu>,
    /// Set by [`NvidiaTree::with_host_nodes`]: (targets for GPU nodes, target for control nodes).
    host_nodes: Option<(Vec<String>, String)>,
    proc_gpus: bool,
    /// MIG compute instances, as (GPU minor, GPU instance, compute instance).
    mig: Vec<(u32, u32, u32)>,
}

impl NvidiaTree {
    /// Lays out a driver `driver` (e.g. `550.54.15`) with `gpus` GPUs (1 to 8) under `root`.
    /// GPU `i` has minor `i`, bus [`BUS_IDS`]`[i]` and a UUID made from `i`.
    pub fn new(root: &Path, gpus: usize, driver: &str) -> NvidiaTree {
        assert!(
            (1..=BUS_IDS.len()).contains(&gpus),
            "NvidiaTree supports 1 to 8 GPUs, not {gpus}"
        );
        let gpus = (0..gpus as u32)
            .map(|i| FakeGpu {
                index: i,
                minor: i,
                uuid: uuid(i),
                pci_bus_id: BUS_IDS[i as usize].to_string(),
                model: MODEL.to_string(),
            })
            .collect();
        let tree = NvidiaTree {
            root: root.to_path_buf(),
            version: driver.to_string(),
            gpus,
            host_nodes: None,
            proc_gpus: true,
            mig: Vec::new(),
        };
        tree.write_version();
        tree.write_gpus();
        tree.write_nodes();
        tree.write_libraries();
        tree.write_ld_cache();
        tree.write_binaries();
        tree.write_firmware();
        write(
            &tree.path("usr/lib/x86_64-linux-gnu/libc.so.6"),
            "fake libc\n",
        );
        tree
    }

    /// Makes `dev/nvidia<minor>` of the GPU with index `i` a symlink to `gpu_nodes[i % len]`
    /// and every control node a symlink to `ctl`: real character devices of the host
    /// (`/dev/zero`, `/dev/full`, `/dev/net/tun`), so a spec generated from the tree can be
    /// used by a real rootless podman without a GPU.
    pub fn with_host_nodes(mut self, gpu_nodes: &[&str], ctl: &str) -> NvidiaTree {
        assert!(!gpu_nodes.is_empty(), "with_host_nodes needs a GPU node");
        self.host_nodes = Some((
            gpu_nodes.iter().map(|s| s.to_string()).collect(),
            ctl.to_string(),
        ));
        self.write_nodes();
        self
    }

    /// Installs `usr/bin/nvidia-cdi-hook`: a shell script that appends its arguments, as
    /// one line, to [`NvidiaTree::hook_log`].
    pub fn with_cdi_hook(self) -> NvidiaTree {
        let log = shell_quote(&self.hook_log().to_string_lossy());
        let script = format!(
            "#!/bin/sh\n# Fake nvidia-cdi-hook of mlenv's test tree: records its arguments.\nprintf '%s\\n' \"$*\" >> {log}\n"
        );
        write_executable(&self.path("usr/bin/nvidia-cdi-hook"), &script);
        self
    }

    /// Gives the GPUs (by index) these minor numbers, e.g. `[1, 0]`: NVML numbers GPUs in
    /// PCI order, the kernel numbers nodes in probe order, and the two can differ.
    #[allow(dead_code)] // the unit tests of src/nvidia only
    pub fn with_minors(mut self, minors: &[u32]) -> NvidiaTree {
        assert_eq!(minors.len(), self.gpus.len(), "one minor per GPU");
        for (gpu, &minor) in self.gpus.iter_mut().zip(minors) {
            gpu.minor = minor;
        }
        self.write_gpus();
        self.write_nodes();
        self
    }

    /// Partitions GPU `minor` with MIG: the driver's capability files for GPU instance
    /// `gi` and its compute instances `cis` (as `nvidia-smi mig -cgi ... -C` leaves them).
    #[allow(dead_code)] // not every test crate uses it
    pub fn with_mig(mut self, minor: u32, gi: u32, cis: &[u32]) -> NvidiaTree {
        let base = format!("proc/driver/nvidia/capabilities/gpu{minor}/mig/gi{gi}");
        write(
            &self.path(&format!("{base}/access")),
            &format!("DeviceFileMinor: {}\nDeviceFileMode: 292\n", 3 + gi * 9),
        );
        for ci in cis {
            write(
                &self.path(&format!("{base}/ci{ci}/access")),
                &format!(
                    "DeviceFileMinor: {}\nDeviceFileMode: 292\n",
                    4 + gi * 9 + ci
                ),
            );
            self.mig.push((minor, gi, *ci));
        }
        // nvidia-smi -L lists them now.
        self.write_binaries();
        self
    }

    /// The UUID the fake nvidia-smi gives MIG compute instance `ci` of GPU instance `gi`
    /// on GPU `minor`.
    #[allow(dead_code)] // not every test crate uses it
    pub fn mig_uuid(minor: u32, gi: u32, ci: u32) -> String {
        format!("MIG-{minor:08x}-{gi:04x}-{ci:04x}-9c9c-0123456789ab")
    }

    /// Removes `proc/driver/nvidia/gpus`, so discovery has to ask nvidia-smi.
    #[allow(dead_code)] // the unit tests of src/nvidia only
    pub fn without_proc_gpus(mut self) -> NvidiaTree {
        self.proc_gpus = false;
        self.write_gpus();
        self
    }

    /// Upgrades the driver to `new_version`: removes the old versioned libraries and
    /// firmware, installs new ones, repoints the soname links and rewrites the ldconfig
    /// cache, `proc/driver/nvidia/version` and nvidia-smi. Device nodes stay.
    pub fn upgrade(&mut self, new_version: &str) {
        for dir in [LIB_DIR, LIB32_DIR] {
            for name in DRIVER_LIBS {
                remove(&self.path(&format!("{dir}/{name}.so.{}", self.version)));
            }
        }
        let old_firmware = self.path(&format!("lib/firmware/nvidia/{}", self.version));
        fs::remove_dir_all(&old_firmware)
            .unwrap_or_else(|e| panic!("cannot remove {}: {e}", old_firmware.display()));
        self.version = new_version.to_string();
        self.write_version();
        self.write_libraries();
        self.write_ld_cache();
        self.write_binaries();
        self.write_firmware();
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The GPUs, by index.
    pub fn gpus(&self) -> &[FakeGpu] {
        &self.gpus
    }

    /// `rel` (relative, or absolute as seen inside the tree) under the root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    /// The real file of a 64-bit driver library, e.g. `lib("libcuda")` is
    /// `<root>/usr/lib/x86_64-linux-gnu/libcuda.so.<version>`.
    pub fn lib(&self, name: &str) -> PathBuf {
        self.path(&format!("{LIB_DIR}/{name}.so.{}", self.version))
    }

    /// What a driver library file contains: `fake <file name>`, and a newline.
    pub fn lib_contents(name: &str, version: &str) -> String {
        format!("fake {name}.so.{version}\n")
    }

    /// Where the fake nvidia-cdi-hook writes its arguments.
    pub fn hook_log(&self) -> PathBuf {
        self.path("hook.log")
    }

    /// The `ldconfig -p`-like entries of the tree's `etc/ld.so.cache`: (soname, path, flags).
    /// One entry names a library that is not installed: caches go stale too.
    pub fn ld_cache_entries(&self) -> Vec<(String, String, i32)> {
        let mut entries = Vec::new();
        for name in DRIVER_LIBS {
            entries.push((
                format!("{name}.so.1"),
                format!("/{LIB_DIR}/{name}.so.1"),
                FLAG_NATIVE,
            ));
        }
        entries.push((
            "libcuda.so".into(),
            format!("/{LIB_DIR}/libcuda.so"),
            FLAG_NATIVE,
        ));
        entries.push((
            "libcuda.so.1".into(),
            format!("/{LIB32_DIR}/libcuda.so.1"),
            FLAG_I386,
        ));
        entries.push((
            "libnvidia-fbc.so.1".into(),
            format!("/{LIB_DIR}/libnvidia-fbc.so.1"),
            FLAG_NATIVE,
        ));
        entries.push((
            "libc.so.6".into(),
            format!("/{LIB_DIR}/libc.so.6"),
            FLAG_NATIVE,
        ));
        entries
    }

    fn write_version(&self) {
        write(
            &self.path("proc/driver/nvidia/version"),
            &format!(
                "{}\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n",
                version_line(&self.version)
            ),
        );
    }

    fn write_gpus(&self) {
        let dir = self.path("proc/driver/nvidia/gpus");
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .unwrap_or_else(|e| panic!("cannot remove {}: {e}", dir.display()));
        }
        if !self.proc_gpus {
            return;
        }
        for gpu in &self.gpus {
            write(
                &dir.join(&gpu.pci_bus_id).join("information"),
                &information(gpu),
            );
        }
    }

    fn write_nodes(&self) {
        let dev = self.path("dev");
        fs::create_dir_all(&dev).unwrap_or_else(|e| panic!("cannot create {}: {e}", dev.display()));
        for entry in
            fs::read_dir(&dev).unwrap_or_else(|e| panic!("cannot list {}: {e}", dev.display()))
        {
            let path = entry.expect("dev entry").path();
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("nvidia"))
            {
                remove(&path);
            }
        }
        let node = |name: &str, target: Option<&str>| {
            let at = dev.join(name);
            match target {
                Some(target) => link(target, &at),
                None => write(&at, ""),
            }
        };
        for gpu in &self.gpus {
            let target = self
                .host_nodes
                .as_ref()
                .map(|(gpus, _)| gpus[gpu.index as usize % gpus.len()].as_str());
            node(&format!("nvidia{}", gpu.minor), target);
        }
        for name in CONTROL_NODES {
            node(name, self.host_nodes.as_ref().map(|(_, ctl)| ctl.as_str()));
        }
    }

    fn write_libraries(&self) {
        let v = &self.version;
        for name in DRIVER_LIBS {
            let dir = self.path(LIB_DIR);
            write(
                &dir.join(format!("{name}.so.{v}")),
                &Self::lib_contents(name, v),
            );
            // One absolute link: a link in the tree must resolve inside the tree.
            let target = if name == "libnvidia-ptxjitcompiler" {
                format!("/{LIB_DIR}/{name}.so.{v}")
            } else {
                format!("{name}.so.{v}")
            };
            relink(&target, &dir.join(format!("{name}.so.1")));
        }
        relink("libcuda.so.1", &self.path(&format!("{LIB_DIR}/libcuda.so")));
        let dir32 = self.path(LIB32_DIR);
        write(
            &dir32.join(format!("libcuda.so.{v}")),
            &format!("fake 32-bit libcuda.so.{v}\n"),
        );
        relink(&format!("libcuda.so.{v}"), &dir32.join("libcuda.so.1"));
    }

    fn write_ld_cache(&self) {
        let entries = self.ld_cache_entries();
        let refs: Vec<(&str, &str, i32)> = entries
            .iter()
            .map(|(k, v, f)| (k.as_str(), v.as_str(), *f))
            .collect();
        write_ld_so_cache(&self.path("etc/ld.so.cache"), &refs);
    }

    fn write_binaries(&self) {
        write_executable(&self.path("usr/bin/nvidia-smi"), &self.nvidia_smi_script());
        write_executable(
            &self.path("usr/bin/nvidia-persistenced"),
            &format!(
                "#!/bin/sh\necho 'fake nvidia-persistenced {}'\n",
                self.version
            ),
        );
    }

    fn write_firmware(&self) {
        write(
            &self.path(&format!(
                "lib/firmware/nvidia/{}/gsp_ga10x.bin",
                self.version
            )),
            &format!("fake GSP firmware {}\n", self.version),
        );
    }

    /// A `#!/bin/sh` nvidia-smi: the discovery query, the metrics query (any other
    /// `--query-gpu`, answered as `index, name, utilization.gpu, memory.used, memory.total`),
    /// `-L`, and a banner without arguments.
    fn nvidia_smi_script(&self) -> String {
        let mut discovery = String::new();
        let mut metrics = String::new();
        let mut list = String::new();
        for gpu in &self.gpus {
            let i = gpu.index;
            discovery.push_str(&format!(
                "{i}, {}, 0000{}, {}\n",
                gpu.uuid, gpu.pci_bus_id, gpu.model
            ));
            // A MIG-enabled GPU has no utilization of its own: nvidia-smi says [N/A].
            let utilization = if self.mig.iter().any(|m| m.0 as usize == i as usize) {
                "[N/A]".to_string()
            } else {
                (37 + i).to_string()
            };
            metrics.push_str(&format!(
                "{i}, {}, {utilization}, {}, {MEMORY_TOTAL_MIB}\n",
                gpu.model,
                1024 * (i + 1)
            ));
            list.push_str(&format!("GPU {i}: {} (UUID: {})\n", gpu.model, gpu.uuid));
            for (n, (minor, gi, ci)) in self
                .mig
                .iter()
                .filter(|m| m.0 as usize == i as usize)
                .enumerate()
            {
                list.push_str(&format!(
                    "  MIG 1g.10gb     Device  {n}: (UUID: {})\n",
                    Self::mig_uuid(*minor, *gi, *ci)
                ));
            }
        }
        let v = &self.version;
        format!(
            r#"#!/bin/sh
# Fake nvidia-smi of mlenv's test tree (driver {v}).
case "$*" in
*--query-gpu=index,uuid,pci.bus_id,name*)
cat <<'EOF'
{discovery}EOF
;;
*--query-gpu=*)
cat <<'EOF'
{metrics}EOF
;;
-L)
cat <<'EOF'
{list}EOF
;;
"")
cat <<'EOF'
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI {v:<22} Driver Version: {v:<14} CUDA Version: 12.4     |
+-----------------------------------------------------------------------------------------+
(fake nvidia-smi: {n} GPUs)
EOF
;;
*)
echo "fake nvidia-smi: unsupported arguments: $*" >&2
exit 2
;;
esac
"#,
            n = self.gpus.len()
        )
    }
}

/// The first line of `/proc/driver/nvidia/version` for `version` (proprietary module wording).
pub fn version_line(version: &str) -> String {
    format!(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  {version}  Tue Mar  5 22:23:56 UTC 2024"
    )
}

/// A made-up but well-formed UUID for GPU `i`.
pub fn uuid(i: u32) -> String {
    format!(
        "GPU-{:08x}-7d70-1a51-{:04x}-e59b25b2c16c",
        0x4cf8_db2d_u32 + i * 0x1111,
        0x0c00 + i
    )
}

/// `/proc/driver/nvidia/gpus/<bus>/information` as the driver writes it.
pub fn information(gpu: &FakeGpu) -> String {
    format!(
        "Model: \t\t {}\nIRQ:   \t\t {}\nGPU UUID: \t {}\nVideo BIOS: \t 96.00.74.00.01\nBus Type: \t PCIe\nDMA Size: \t 52 bits\nDMA Mask: \t 0xfffffffffffff\nBus Location: \t {}\nDevice Minor: \t {}\nGPU Excluded:\t No\n",
        gpu.model,
        200 + gpu.index,
        gpu.uuid,
        gpu.pci_bus_id,
        gpu.minor
    )
}

/// Writes a glibc `ld.so.cache` (format `glibc-ld.so.cache1.1`) with these (soname, path,
/// flags) entries; see [`ld_so_cache_bytes`].
pub fn write_ld_so_cache(path: &Path, entries: &[(&str, &str, i32)]) {
    write_bytes(path, &ld_so_cache_bytes(entries));
}

/// The bytes of a glibc `ld.so.cache` in the new format (what glibc >= 2.32 writes):
/// a 48-byte header (`glibc-ld.so.cache`, `1.1`, nlibs, len_strings, the little-endian
/// flag 2, padding, extension_offset 0, unused), 24-byte entries (flags, key, value,
/// osversion, hwcap) and the strings, whose offsets count from the start of the header.
pub fn ld_so_cache_bytes(entries: &[(&str, &str, i32)]) -> Vec<u8> {
    const HEADER: usize = 48;
    const ENTRY: usize = 24;
    let strings_start = HEADER + ENTRY * entries.len();
    let mut strings = Vec::new();
    let mut offsets = Vec::new();
    for (key, value, _) in entries {
        let mut push = |s: &str| {
            let at = (strings_start + strings.len()) as u32;
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            at
        };
        let key = push(key);
        let value = push(value);
        offsets.push((key, value));
    }
    let mut out = Vec::with_capacity(strings_start + strings.len());
    out.extend_from_slice(b"glibc-ld.so.cache1.1");
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    out.push(2); // cache_file_new_flags_endian_little
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&0u32.to_le_bytes()); // extension_offset: none
    out.extend_from_slice(&[0; 12]);
    assert_eq!(out.len(), HEADER);
    for ((_, _, flags), (key, value)) in entries.iter().zip(offsets) {
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // osversion (unused)
        out.extend_from_slice(&0u64.to_le_bytes()); // hwcap
    }
    out.extend_from_slice(&strings);
    out
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn write(path: &Path, contents: &str) {
    write_bytes(path, contents.as_bytes());
}

fn write_bytes(path: &Path, contents: &[u8]) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    fs::write(path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn write_executable(path: &Path, contents: &str) {
    write(path, contents);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
}

fn link(target: &str, at: &Path) {
    if let Some(dir) = at.parent() {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    symlink(target, at).unwrap_or_else(|e| panic!("cannot link {} -> {target}: {e}", at.display()));
}

/// Replaces whatever is at `at` with a symlink to `target`.
fn relink(target: &str, at: &Path) {
    remove(at);
    link(target, at);
}

/// Removes a file or link if it is there.
fn remove(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot remove {}: {e}", path.display()),
    }
}
