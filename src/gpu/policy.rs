//! What the installed podman does with CDI: the highest `cdiVersion` it accepts and the
//! spec directories it reads. Both depend on its version (see podman-facts in the design
//! notes); checking against them lets mlenv say "this spec is too new for podman 4.3.1"
//! instead of podman's bare "unresolvable CDI devices" at start.

use std::path::{Path, PathBuf};

use cdi::Version;

/// The CDI behaviour of one podman version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodmanCdi {
    /// The podman version, as the service reports it.
    pub podman: String,
    /// The highest `cdiVersion` it parses; a spec declaring a higher one is dropped whole.
    pub max_version: Version,
    /// The spec directories it reads, lowest priority first (a later one wins a duplicate).
    pub dirs: Vec<PathBuf>,
    /// Whether `cdi_spec_dirs` in containers.conf is honoured (podman 5.5 and later).
    pub reads_config: bool,
}

/// `(major, minor)` of a version string such as `4.3.1`, `5.5.0-rc1` or `5.6.2-dev`.
pub fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version
        .trim()
        .trim_start_matches('v')
        .split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The highest `cdiVersion` a podman version accepts (the container-device-interface
/// library it vendors). Unknown or unparsable versions get the oldest answer we know to be
/// safe, so mlenv never writes a spec podman would drop.
pub fn max_cdi_version(podman: &str) -> Version {
    match major_minor(podman) {
        Some(v) if v >= (5, 5) => Version::V1_0_0,
        Some(v) if v >= (5, 2) => Version::V0_8_0,
        Some(v) if v >= (5, 1) => Version::V0_7_0,
        Some(v) if v >= (4, 7) => Version::V0_6_0,
        Some(v) if v >= (4, 3) => Version::V0_5_0,
        Some(_) => Version::V0_3_0,
        None => Version::V0_5_0,
    }
}

/// The spec directories a podman version reads. Before 5.5 they are fixed; 5.5 honours
/// `cdi_spec_dirs` and defaults to `/etc/cdi` alone; 5.6 restores `/var/run/cdi`.
pub fn podman_cdi(podman: &str, configured: Option<Vec<PathBuf>>) -> PodmanCdi {
    let mm = major_minor(podman).unwrap_or((0, 0));
    let reads_config = mm >= (5, 5);
    let defaults: &[&str] = if mm.0 == 5 && mm.1 == 5 {
        &["/etc/cdi"]
    } else {
        &cdi::DEFAULT_SPEC_DIRS
    };
    let dirs = match configured {
        Some(dirs) if reads_config => dirs,
        _ => defaults.iter().map(PathBuf::from).collect(),
    };
    PodmanCdi {
        podman: podman.to_string(),
        max_version: max_cdi_version(podman),
        dirs,
        reads_config,
    }
}

/// The containers.conf files podman reads, lowest precedence first (containers.conf(5)).
/// `CONTAINERS_CONF` replaces them all.
pub fn containers_conf_files(
    containers_conf: Option<&str>,
    config_home: &Path,
    uid: u32,
) -> Vec<PathBuf> {
    if let Some(file) = containers_conf.filter(|f| !f.is_empty()) {
        return vec![PathBuf::from(file)];
    }
    let mut files = Vec::new();
    let user = config_home.join("containers");
    for base in [
        Path::new("/usr/share/containers"),
        Path::new("/etc/containers"),
        user.as_path(),
    ] {
        files.push(base.join("containers.conf"));
        let mut dropins = vec![base.join("containers.conf.d")];
        if base != user {
            let mode = if uid == 0 { "rootful" } else { "rootless" };
            dropins.push(base.join(format!("containers.{mode}.conf.d")));
            if uid != 0 {
                dropins.push(base.join(format!("containers.rootless.conf.d/{uid}")));
            }
        }
        for dir in dropins {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "conf"))
                .collect();
            found.sort();
            files.extend(found);
        }
    }
    files
}

/// `engine.cdi_spec_dirs` of one containers.conf text, if it sets it.
pub fn parse_cdi_spec_dirs(text: &str) -> Result<Option<Vec<PathBuf>>, String> {
    let value: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let Some(dirs) = value.get("engine").and_then(|e| e.get("cdi_spec_dirs")) else {
        return Ok(None);
    };
    let dirs = dirs
        .as_array()
        .ok_or("engine.cdi_spec_dirs is not a list")?
        .iter()
        .map(|d| d.as_str().map(PathBuf::from))
        .collect::<Option<Vec<_>>>()
        .ok_or("engine.cdi_spec_dirs holds a value that is not a string")?;
    Ok(Some(dirs))
}

/// The `cdi_spec_dirs` the last of `files` that sets it gives. Unreadable or broken files
/// are skipped with a debug note: podman itself would complain about them loudly.
pub fn configured_spec_dirs(files: &[PathBuf]) -> Option<Vec<PathBuf>> {
    let mut found = None;
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        match parse_cdi_spec_dirs(&text) {
            Ok(Some(dirs)) => found = Some(dirs),
            Ok(None) => {}
            Err(e) => tracing::debug!("ignoring {}: {e}", file.display()),
        }
    }
    found
}

/// The `cdi_spec_dirs` this user's podman is configured with, from the usual files.
pub fn configured_for_user() -> Option<Vec<PathBuf>> {
    let files = containers_conf_files(
        std::env::var("CONTAINERS_CONF").ok().as_deref(),
        &config_home(),
        nix::unistd::getuid().as_raw(),
    );
    configured_spec_dirs(&files)
}

/// `$XDG_CONFIG_HOME`, else `$HOME/.config` ([`crate::dirs`]); `/.config` with neither,
/// where nothing of the user's is found, as podman itself ends up.
pub fn config_home() -> PathBuf {
    crate::dirs::base(crate::dirs::Base::Config).unwrap_or_else(|| "/.config".into())
}

/// A containers.conf drop-in that adds `dir` to the directories podman (5.5+) reads, after
/// the ones it reads now, so that a spec in `dir` is seen and wins duplicates.
pub fn dropin_adding(current: &[PathBuf], dir: &Path) -> String {
    let mut dirs: Vec<String> = current
        .iter()
        .filter(|d| d.as_path() != dir)
        .map(|d| d.display().to_string())
        .collect();
    dirs.push(dir.display().to_string());
    let list: Vec<String> = dirs.iter().map(|d| format!("{d:?}")).collect();
    format!(
        "# Written by `mlenv gpu setup`: podman reads CDI specs from these directories.\n\
         [engine]\ncdi_spec_dirs = [{}]\n",
        list.join(", ")
    )
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // the test tables
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let cases: &[(&str, Version)] = &[
            ("4.3.1", Version::V0_5_0),
            ("4.6.2", Version::V0_5_0),
            ("4.7.0", Version::V0_6_0),
            ("4.9.3", Version::V0_6_0),
            ("5.0.3", Version::V0_6_0),
            ("5.1.0", Version::V0_7_0),
            ("5.2.5", Version::V0_8_0),
            ("5.4.2", Version::V0_8_0),
            ("5.5.0-rc1", Version::V1_0_0),
            ("5.6.2", Version::V1_0_0),
            ("6.0.0", Version::V1_0_0),
            ("4.2.0", Version::V0_3_0),
            ("garbage", Version::V0_5_0),
        ];
        for (podman, want) in cases {
            assert_eq!(max_cdi_version(podman), *want, "{podman}");
        }
    }

    #[test]
    fn dirs_by_version() {
        let mine = Some(vec![PathBuf::from("/home/u/.config/cdi")]);
        let cases: &[(&str, Option<Vec<PathBuf>>, &[&str])] = &[
            ("4.3.1", None, &["/etc/cdi", "/var/run/cdi"]),
            ("5.4.0", mine.clone(), &["/etc/cdi", "/var/run/cdi"]),
            ("5.5.1", None, &["/etc/cdi"]),
            ("5.5.1", mine.clone(), &["/home/u/.config/cdi"]),
            ("5.6.0", None, &["/etc/cdi", "/var/run/cdi"]),
            ("5.6.0", mine.clone(), &["/home/u/.config/cdi"]),
        ];
        for (v, conf, want) in cases {
            let got = podman_cdi(v, conf.clone());
            let want: Vec<PathBuf> = want.iter().map(PathBuf::from).collect();
            assert_eq!(got.dirs, want, "{v} {conf:?}");
            assert_eq!(
                got.reads_config,
                v.starts_with("5.5") || v.starts_with("5.6")
            );
        }
    }

    #[test]
    fn containers_conf() {
        let cases: &[(&str, Result<Option<&[&str]>, &str>)] = &[
            ("", Ok(None)),
            ("[engine]\nevents_logger = \"file\"\n", Ok(None)),
            (
                "[engine]\ncdi_spec_dirs = [\"/etc/cdi\", \"/home/u/.config/cdi\"]\n",
                Ok(Some(&["/etc/cdi", "/home/u/.config/cdi"])),
            ),
            ("[containers]\ncdi_spec_dirs = [\"/x\"]\n", Ok(None)),
            ("[engine]\ncdi_spec_dirs = \"/x\"\n", Err("not a list")),
            ("[engine]\ncdi_spec_dirs = [1]\n", Err("not a string")),
            ("[engine\n", Err("")),
        ];
        for (text, want) in cases {
            let got = parse_cdi_spec_dirs(text);
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(
                    got,
                    want.map(|w| w.iter().map(PathBuf::from).collect::<Vec<_>>()),
                    "{text:?}"
                ),
                (Err(e), Err(want)) => assert!(e.contains(want), "{text:?}: {e}"),
                (got, _) => panic!("{text:?}: {got:?}"),
            }
        }
        let dropin = dropin_adding(
            &[PathBuf::from("/etc/cdi"), PathBuf::from("/var/run/cdi")],
            Path::new("/home/u/.config/cdi"),
        );
        assert_eq!(
            parse_cdi_spec_dirs(&dropin).unwrap().unwrap(),
            ["/etc/cdi", "/var/run/cdi", "/home/u/.config/cdi"].map(PathBuf::from)
        );
    }

    #[test]
    fn conf_files_order() {
        let files = containers_conf_files(None, Path::new("/nonexistent/cfg"), 1000);
        let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let usr = shown
            .iter()
            .position(|f| f == "/usr/share/containers/containers.conf");
        let etc = shown
            .iter()
            .position(|f| f == "/etc/containers/containers.conf");
        let user = shown
            .iter()
            .position(|f| f == "/nonexistent/cfg/containers/containers.conf");
        assert!(usr < etc && etc < user, "{shown:?}");
        assert_eq!(
            containers_conf_files(Some("/x.conf"), Path::new("/c"), 0),
            [PathBuf::from("/x.conf")]
        );
    }
}
