//! The verdicts of every check, as tables.

use std::path::{Path, PathBuf};

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
            Some("mlenv service start   (no systemd user manager here: it runs podman system service --time=0 unix:///run/user/1000/podman/podman.sock in the background"),
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
        // SSSD/FreeIPA: no line in the file, the IDs come through nsswitch; podman's word counts.
        (Ok(text), "ipa-user", 1006, Some(65536), Level::Ok, "no line in /etc/subuid, but podman maps 65536 subordinate UIDs"),
        (Ok(""), "ipa-user", 1006, Some(0), Level::Warn, "`mlenv up --no-user-mapping` still works"),
        (Ok(""), "ipa-user", 1006, Some(1000), Level::Warn, "podman maps only 1000 subordinate UIDs"),
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
    let stale =
        "/usr/lib/libcuda.so.550.54.15 (mounted at /usr/lib/libcuda.so.550.54.15) no longer exists";
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

#[test]
fn cuda_driver_against_the_image() {
    use crate::gpu::cuda::ImageCuda;
    let ngc = ImageCuda {
        version: Some("12.6.2.004".into()),
        driver: Some("560.35.03".into()),
        require: Some("cuda>=12.6 brand=tesla,driver>=535,driver<536".into()),
        disabled: false,
    };
    let img = "nvcr.io/nvidia/pytorch:24.10-py3";
    let level =
        |driver: Option<&str>, cuda: Option<&ImageCuda>| cuda_driver(img, driver, cuda).level;
    assert_eq!(level(None, Some(&ngc)), Level::Info);
    assert_eq!(level(Some("560.35.03"), None), Level::Info);
    assert_eq!(level(Some("570.1"), Some(&ngc)), Level::Ok);
    let compat = cuda_driver(img, Some("535.104.05"), Some(&ngc));
    assert_eq!(compat.level, Level::Info);
    assert!(
        compat.message.contains("forward compatibility"),
        "{}",
        compat.message
    );
    assert_eq!(level(Some("545.23.08"), Some(&ngc)), Level::Warn);
    let old = cuda_driver(img, Some("520.61.05"), Some(&ngc));
    assert_eq!(old.level, Level::Fail);
    assert!(
        old.message.contains(
            "needs NVIDIA driver 560.28.03 or later (CUDA 12.6), and this host runs 520.61.05"
        ),
        "{}",
        old.message
    );
    assert!(old.fix.as_deref().unwrap().contains("upgrade the driver"));
    assert_eq!(
        level(Some("520.61.05"), Some(&ImageCuda::default())),
        Level::Info
    );
}

#[test]
fn keepid_copy_states() {
    let conf = "/home/u/.config/containers/storage.conf";
    let img = "nvcr.io/nvidia/pytorch:24.10-py3";
    let fuse = keepid_copy(
        "overlay",
        false,
        Some("/usr/bin/fuse-overlayfs"),
        conf,
        img,
        None,
    );
    assert_eq!(fuse.level, Level::Ok);
    assert!(
        fuse.message.starts_with("/usr/bin/fuse-overlayfs maps IDs"),
        "{}",
        fuse.message
    );
    assert_eq!(
        keepid_copy("overlay", true, None, conf, img, None).level,
        Level::Ok
    );
    let unknown = keepid_copy("overlay", false, None, conf, img, None);
    assert_eq!(unknown.level, Level::Info);
    assert!(
        unknown
            .message
            .contains("about 20.0 GiB more disk and about 85 s"),
        "{}",
        unknown.message
    );
    assert!(unknown
        .fix
        .as_deref()
        .unwrap()
        .contains("mount_program = \"/usr/bin/fuse-overlayfs\""));
    assert!(unknown.fix.as_deref().unwrap().contains(conf));
    let pulled = keepid_copy(
        "overlay",
        false,
        None,
        conf,
        img,
        Some((3 << 30, Some(false))),
    );
    assert!(
        pulled
            .message
            .contains("copies it for your ID mapping, 3g more disk"),
        "{}",
        pulled.message
    );
    let done = keepid_copy(
        "overlay",
        false,
        None,
        conf,
        img,
        Some((3 << 30, Some(true))),
    );
    assert_eq!(done.level, Level::Ok);
}

#[test]
fn filesystem_rules() {
    let cases: &[(i64, FsKind)] = &[
        (0xEF53, FsKind::Local("ext4")),
        (0x6969, FsKind::Network("NFS")),
        (0x0BD0_0BD0, FsKind::Network("Lustre")),
        (0x4750_4653, FsKind::Network("GPFS (Spectrum Scale)")),
        (0x1983_0326, FsKind::Network("BeeGFS")),
        (0x6573_5546, FsKind::Network("a FUSE filesystem")),
        (0x0102_1994, FsKind::Memory("tmpfs")),
        // As a signed f_type, as some targets give it.
        (0xFF53_4D42u32 as i32 as i64, FsKind::Network("CIFS/SMB")),
        (0x1234, FsKind::Unknown(0x1234)),
    ];
    for (magic, want) in cases {
        assert_eq!(fs_kind(*magic), *want, "{magic:x}");
    }
    let g = Path::new("/home/u/.local/share/containers/storage");
    let p = Path::new("/home/u/proj");
    let nfs = filesystems(
        g,
        Some(0x6969),
        p,
        Some(0x6969),
        "/var/tmp/u/containers/storage",
    );
    assert_eq!(nfs.level, Level::Fail);
    assert!(nfs.message.contains("is on NFS"), "{}", nfs.message);
    let fix = nfs.fix.unwrap();
    assert!(
        fix.contains("graphroot = \"/var/tmp/u/containers/storage\"")
            && fix.contains("rootless_storage_path"),
        "{fix}"
    );
    let project_only = filesystems(g, Some(0xEF53), p, Some(0x0BD0_0BD0), "/x");
    assert_eq!(project_only.level, Level::Warn);
    assert!(
        project_only.message.contains("does not show your quota"),
        "{}",
        project_only.message
    );
    let fine = filesystems(g, Some(0xEF53), p, Some(0x5846_5342), "/x");
    assert_eq!(fine.level, Level::Ok);
    assert!(
        fine.message.contains("on ext4") && fine.message.contains("on xfs"),
        "{}",
        fine.message
    );
}

#[test]
fn storage_path_states() {
    let g = Path::new("/home/u/.local/share/containers/storage");
    assert_eq!(storage_path_modes(g, None, "x").level, Level::Ok);
    let c = storage_path_modes(g, Some((Path::new("/home/u"), 0o700)), "move it");
    assert_eq!(c.level, Level::Info);
    assert!(
        c.message.starts_with("/home/u (mode 0700) on the way"),
        "{}",
        c.message
    );
    assert_eq!(c.fix.as_deref(), Some("if `mlenv up` fails so: move it"));
}
