//! `mlenv doctor`: check the machine, each problem with its fix.
//!
//! This file gathers the facts (files, the podman API, filesystem numbers) and prints;
//! [`checks`] decides. Doctor writes nothing: not into the project, not a spec, not a
//! unit (its debug log goes where every command's does).

mod checks;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Report, Result};
use serde::Serialize;

use self::checks::{Check, Level};
use crate::config::{Config, Doctor};
use crate::error::Exit;
use crate::gpu::{self, NVIDIA_KIND};
use crate::podman::{self, Podman, ServiceInfo};
use crate::{nvidia, ui};

/// `--json`: every check, and whether none blocks `up`.
#[derive(Serialize)]
struct JsonOut<'a> {
    ok: bool,
    checks: &'a [Check],
}

pub async fn run(cfg: &Config, podman: &Podman, doctor: &Doctor) -> Result<()> {
    let checks = gather(cfg, podman, doctor).await;
    for c in &checks {
        tracing::debug!(name = c.name, level = ?c.level, fix = ?c.fix, "{}", c.message);
    }
    let failed = checks.iter().filter(|c| c.level == Level::Fail).count();
    let warned = checks.iter().filter(|c| c.level == Level::Warn).count();
    if doctor.json {
        let text = serde_json::to_string_pretty(&JsonOut {
            ok: failed == 0,
            checks: &checks,
        })? + "\n";
        let mut out = std::io::stdout().lock();
        crate::ui::write_out(&mut out, text.as_bytes())?;
    } else {
        show(&checks);
    }
    let warnings = match warned {
        0 => String::new(),
        1 => " (1 warning)".to_string(),
        n => format!(" ({n} warnings)"),
    };
    if failed > 0 {
        return Err(Report::new(Exit {
            code: crate::error::EXIT_FAILED,
            message: format!(
                "{failed} problem{} would block `mlenv up`{warnings}; fix {} and run `mlenv doctor` again",
                if failed == 1 { "" } else { "s" },
                if failed == 1 { "it" } else { "them" }
            ),
        }));
    }
    if !doctor.json {
        ui::success(&format!("Nothing blocks `mlenv up`{warnings}"));
    }
    Ok(())
}

fn show(checks: &[Check]) {
    for c in checks {
        let line = format!("{}: {}", c.name, c.message);
        match c.level {
            Level::Ok => ui::success(&line),
            Level::Info => ui::info(&line),
            Level::Warn => ui::warn(&line),
            Level::Fail => ui::error(&line),
        }
        if let Some(fix) = &c.fix {
            ui::detail(&format!("fix: {fix}"), c.level >= Level::Warn);
        }
    }
}

/// Runs every check. The podman-dependent ones are marked not checked when the service
/// does not answer; the rest run regardless.
async fn gather(cfg: &Config, podman: &Podman, doctor: &Doctor) -> Vec<Check> {
    let euid = nix::unistd::geteuid().as_raw();
    let uid = nix::unistd::getuid().as_raw();
    let user = crate::dirs::user_name();
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    let user_manager = crate::systemd::user_manager();

    let info: Result<ServiceInfo, String> = podman.info().await.map_err(|e| match e {
        podman::Error::Unreachable { reason, .. } => reason,
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    });
    let mut out = vec![checks::podman_service(
        &cfg.socket.path,
        &info
            .as_ref()
            .map(|i| checks::Service {
                version: i.version.clone(),
                rootless: i.rootless,
            })
            .map_err(Clone::clone),
        euid,
        user_manager,
    )];

    for (ids, file, mapped) in [
        (
            checks::Ids::Uid,
            "/etc/subuid",
            info.as_ref().ok().and_then(|i| i.mapped_uids),
        ),
        (
            checks::Ids::Gid,
            "/etc/subgid",
            info.as_ref().ok().and_then(|i| i.mapped_gids),
        ),
    ] {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(e.to_string()),
        };
        // The service's mappings say something only for the rootless service of this user.
        let mapped = mapped.filter(|_| info.as_ref().is_ok_and(|i| i.rootless));
        out.push(checks::sub_ids(
            ids,
            Path::new(file),
            text.as_deref().map_err(Clone::clone),
            &user,
            uid,
            mapped,
        ));
    }
    for name in ["newuidmap", "newgidmap"] {
        out.push(checks::id_helper(name, find_helper(name).as_ref(), euid));
    }
    out.push(checks::tun(&open_tun()));
    out.push(checks::cgroups(
        cgroup_version(),
        delegated(uid).as_deref(),
        doctor.limits,
        euid,
    ));

    match &info {
        Ok(i) => {
            out.extend(checks::cgroup_v1_deprecated(&i.version, &i.cgroup_version));
            out.push(checks::rootless_network(
                &i.network_cmd,
                &i.network_program,
                i.rootless,
            ));
            out.push(checks::storage_driver(&i.graph_driver, &i.graph_root));
            let graph = std::fs::canonicalize(&i.graph_root)
                .unwrap_or_else(|_| PathBuf::from(&i.graph_root));
            let blocked = crate::environment::storage::untraversable_ancestor(
                &graph,
                crate::environment::storage::mode_of,
            );
            out.push(checks::storage_path_modes(
                &graph,
                blocked.as_ref().map(|(p, m)| (p.as_path(), *m)),
                &format!(
                    "move podman's storage to a folder it can reach, {}",
                    crate::environment::storage::local_storage_snippet(
                        &crate::environment::storage::local_dir(&user, crate::fsx::fs_magic)
                    )
                ),
            ));
            out.push(checks::filesystems(
                Path::new(&i.graph_root),
                crate::fsx::fs_magic(Path::new(&i.graph_root)),
                &cfg.project.dir,
                crate::fsx::fs_magic(&cfg.project.dir),
                &crate::environment::storage::local_dir(&user, crate::fsx::fs_magic),
            ));
            out.push(space(podman, i, &doctor.image).await);
            let local = match podman.image_exists(&doctor.image).await {
                Ok(true) => podman.image(&doctor.image).await.ok().map(|img| {
                    let copied = crate::environment::keepid::has_mapped_copy(
                        Path::new(&i.graph_root),
                        &img.id,
                    );
                    (img.size, copied)
                }),
                _ => None,
            };
            out.push(checks::keepid_copy(
                &i.graph_driver,
                i.supports_shifting,
                i.mount_program.as_deref(),
                &i.storage_conf,
                &doctor.image,
                local,
            ));
        }
        Err(_) => {
            out.push(Check::skipped("network"));
            out.push(Check::skipped("storage driver"));
            out.push(Check::skipped("filesystems"));
            out.push(Check::skipped("storage path"));
            out.push(Check::skipped("free space"));
            out.push(Check::skipped("keep-id copy"));
        }
    }

    // Without the service, the CDI rules of the oldest podman mlenv supports (as `gpu
    // setup` assumes): the spec folders of every podman before 5.5.
    let rules = gpu::rules_for(info.as_ref().map_or("4.3.0", |i| i.version.as_str()));
    let cdi = cdi_facts(&rules);
    out.push(checks::nvidia_cdi(&cdi));
    let image_cuda = match podman.image_exists(&doctor.image).await {
        Ok(true) => podman
            .image(&doctor.image)
            .await
            .ok()
            .map(|i| gpu::cuda::ImageCuda::from_env(|k| i.env(k).map(str::to_string))),
        _ => None,
    };
    out.push(checks::cuda_driver(
        &doctor.image,
        cdi.spec_driver.as_deref().or(cdi.driver.as_deref()),
        image_cuda.as_ref(),
    ));
    if let Some(names) = &doctor.gpus {
        // Without healing: doctor rewrites no spec.
        let outcome = gpu::preflight::resolve(Some(names), &rules, false).map(|r| r.devices);
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let regenerable: Vec<PathBuf> = cdi
            .specs
            .iter()
            .filter(|s| !s.problems.is_empty() && s.mlenv && s.writable)
            .map(|s| s.path.clone())
            .collect();
        out.push(checks::configured_gpus(&names, &outcome, &regenerable));
    }

    out.push(checks::user_manager(
        user_manager,
        runtime_dir.as_deref(),
        &user,
        euid,
    ));
    out.push(checks::linger(
        Path::new("/var/lib/systemd/linger").join(&user).exists(),
        &user,
        euid,
    ));
    out.push(checks::selinux(&checks::Selinux {
        enforce: std::fs::read_to_string("/sys/fs/selinux/enforce").ok(),
        project: cfg.project.dir.clone(),
        label: xattr(&cfg.project.dir, "security.selinux").map(|l| {
            String::from_utf8_lossy(&l)
                .trim_end_matches('\0')
                .to_string()
        }),
        nfs: nix::sys::statfs::statfs(&cfg.project.dir)
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::NFS_SUPER_MAGIC),
    }));
    out
}

/// `name` in PATH, as podman's storage library looks it up, with its mode and capabilities.
fn find_helper(name: &str) -> Option<checks::Helper> {
    let p = crate::fsx::which(name)?;
    let meta = std::fs::metadata(&p).ok()?;
    Some(checks::Helper {
        caps: xattr(&p, "security.capability").is_some_and(|c| !c.is_empty()),
        mode: meta.mode(),
        owner: meta.uid(),
        path: p,
    })
}

fn open_tun() -> Result<(), (std::io::ErrorKind, String)> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map(drop)
        .map_err(|e| (e.kind(), e.to_string()))
}

/// v2 when /sys/fs/cgroup is itself a cgroup2 mount; else v1, hybrid when systemd mounted
/// a v2 hierarchy beside it.
fn cgroup_version() -> checks::Cgroups {
    if podman::host_cgroup_v2() {
        return checks::Cgroups::V2;
    }
    checks::Cgroups::V1 {
        hybrid: Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists(),
    }
}

/// The controllers systemd delegates to the user's manager, where podman's containers go.
fn delegated(uid: u32) -> Option<Vec<String>> {
    let file =
        format!("/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service/cgroup.controllers");
    let text = std::fs::read_to_string(file).ok()?;
    Some(text.split_whitespace().map(str::to_string).collect())
}

async fn space(podman: &Podman, info: &ServiceInfo, image: &str) -> Check {
    let root = PathBuf::from(&info.graph_root);
    // Storage that has never held anything may not exist yet: its filesystem is the
    // nearest folder above it.
    let existing = root.ancestors().find(|p| p.exists()).unwrap_or(&root);
    // fsblkcnt_t and c_ulong are narrower than u64 on some 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    let available = nix::sys::statvfs::statvfs(existing)
        .map(|s| s.blocks_available() as u64 * s.fragment_size() as u64)
        .unwrap_or(0);
    let local_size = match podman.image_exists(image).await {
        Ok(true) => podman.image(image).await.ok().map(|i| i.size),
        _ => None,
    };
    checks::free_space(&root, available, image, local_size)
}

/// Everything about NVIDIA specs in the folders podman reads, and the loaded driver.
fn cdi_facts(rules: &gpu::policy::PodmanCdi) -> checks::CdiFacts {
    let registry = cdi::Registry::load(&rules.dirs);
    let mut specs = Vec::new();
    // The driver the specs were made from: a spec mlenv wrote records its root (a fixture
    // tree in the tests); else the host's own.
    let mut driver_root = None;
    for file in registry.specs() {
        if file.spec().kind.to_string() != NVIDIA_KIND {
            continue;
        }
        let (header, problems) = gpu::preflight::spec_problems(file.path(), file.spec(), rules);
        if driver_root.is_none() {
            driver_root = header.as_ref().map(|h| h.root.clone());
        }
        let folder = file.path().parent().unwrap_or(Path::new("/"));
        specs.push(checks::NvidiaSpec {
            path: file.path().to_path_buf(),
            cdi_version: file.spec().cdi_version.to_string(),
            devices: file
                .spec()
                .devices
                .iter()
                .map(|d| format!("{NVIDIA_KIND}={}", d.name))
                .collect(),
            problems,
            mlenv: header.is_some(),
            writable: nix::unistd::access(folder, nix::unistd::AccessFlags::W_OK).is_ok(),
        });
    }
    let broken = registry
        .errors()
        .iter()
        .filter(|(path, _)| crate::gpu::preflight::may_be_nvidia(path))
        .map(|(path, e)| (path.clone(), e.to_string()))
        .collect();
    let conflicts = registry
        .conflicts()
        .iter()
        .filter(|(name, _)| name.kind().to_string() == NVIDIA_KIND)
        .map(|(name, paths)| (name.to_string(), paths.clone()))
        .collect();
    checks::CdiFacts {
        podman: rules.podman.clone(),
        dirs: rules.dirs.clone(),
        driver: nvidia::running_version(Path::new("/")).ok().flatten(),
        spec_driver: driver_root.and_then(|root| nvidia::running_version(&root).ok().flatten()),
        specs,
        broken,
        conflicts,
    }
}

/// The extended attribute `name` of `path`, when it has one (up to 256 bytes: labels and
/// capability sets are shorter). std has no xattr call and nix's features do not cover it.
fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let path = CString::new(path.as_os_str().as_bytes()).ok()?;
    let name = CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: both strings are NUL-terminated and live across the call; the buffer is
    // valid for writes of its full length, which is the size passed.
    let len = unsafe {
        nix::libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let len = usize::try_from(len).ok()?;
    buf.truncate(len);
    Some(buf)
}
