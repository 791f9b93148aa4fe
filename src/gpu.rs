//! `--gpu` values, turned into CDI device references, and the default choice.

use cdi::QualifiedName;

pub mod cuda;
pub mod policy;
pub mod preflight;

/// The CDI kind of NVIDIA GPUs as `nvidia-ctk cdi generate` writes it.
pub const NVIDIA_KIND: &str = crate::nvidia::KIND;

const ACCEPTED: &str = "expected all, none, a comma-separated list of GPU indices or UUIDs (0,1 or GPU-<uuid>), or CDI device names (nvidia.com/gpu=0)";

/// Parses `--gpu` into CDI references. `none` gives an empty list.
pub fn parse(value: &str) -> Result<Vec<QualifiedName>, String> {
    let value = value.trim();
    match value {
        "none" => return Ok(vec![]),
        "all" => return Ok(vec![nvidia("all")?]),
        "" => return Err(format!("invalid --gpu \"\": the list is empty; {ACCEPTED}")),
        _ => {}
    }
    let mut out: Vec<QualifiedName> = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        let name = if item.is_empty() {
            Err("an empty item (two commas in a row?)".to_string())
        } else if item == "all" || item == "none" {
            Err(format!("{item:?} must be given alone"))
        } else if item.contains('/') || item.contains('=') {
            item.parse::<QualifiedName>().map_err(|e| e.to_string())
        } else if item.bytes().all(|b| b.is_ascii_digit()) || is_nvidia_uuid(item) {
            nvidia(item)
        } else {
            Err(format!("{item:?} is not a GPU index, UUID or CDI name"))
        }
        .map_err(|why| format!("invalid --gpu {value:?}: {why}; {ACCEPTED}"))?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

fn nvidia(device: &str) -> Result<QualifiedName, String> {
    format!("{NVIDIA_KIND}={device}")
        .parse()
        .map_err(|e: cdi::Error| e.to_string())
}

/// NVIDIA names whole GPUs `GPU-<uuid>` and MIG slices `MIG-<uuid>`.
fn is_nvidia_uuid(s: &str) -> bool {
    let rest = s.strip_prefix("GPU-").or_else(|| s.strip_prefix("MIG-"));
    rest.is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
}

/// What the installed podman does with CDI, asked of the service. `MLENV_CDI_SPEC_DIRS`
/// (colon-separated) overrides the directories, for setups mlenv cannot see into (a podman
/// service started with another containers.conf).
pub async fn installed(podman: &crate::podman::Podman) -> color_eyre::Result<policy::PodmanCdi> {
    Ok(rules_for(&podman.version().await?))
}

/// [`installed`], or when the service cannot be reached (`gpu setup` on a machine where it
/// is not running), the rules of the oldest podman mlenv supports, with a warning: they give
/// the lowest cdiVersion, which every later podman reads too.
pub async fn installed_or_assumed(podman: &crate::podman::Podman) -> policy::PodmanCdi {
    match podman.version().await {
        Ok(v) => rules_for(&v),
        Err(e) => {
            crate::ui::warn(&format!(
                "cannot ask podman its version ({}); assuming podman 4.3 rules",
                e.to_string().lines().next().unwrap_or_default()
            ));
            rules_for("4.3.0")
        }
    }
}

/// The CDI rules of podman `version` on this machine (`MLENV_CDI_SPEC_DIRS` honoured).
pub fn rules_for(version: &str) -> policy::PodmanCdi {
    let configured = if policy::major_minor(version) >= Some((5, 5)) {
        policy::configured_for_user()
    } else {
        None
    };
    let mut cdi = policy::podman_cdi(version, configured);
    if let Some(dirs) = std::env::var_os("MLENV_CDI_SPEC_DIRS").filter(|d| !d.is_empty()) {
        cdi.dirs = std::env::split_paths(&dirs).collect();
    }
    tracing::debug!(podman = %cdi.podman, max = %cdi.max_version, dirs = ?cdi.dirs, "CDI rules");
    cdi
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[QualifiedName]) -> Vec<String> {
        v.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn accepted() {
        let cases: &[(&str, &[&str])] = &[
            ("none", &[]),
            ("all", &["nvidia.com/gpu=all"]),
            ("0", &["nvidia.com/gpu=0"]),
            ("0,1", &["nvidia.com/gpu=0", "nvidia.com/gpu=1"]),
            (" 0 , 1 ", &["nvidia.com/gpu=0", "nvidia.com/gpu=1"]),
            ("1,1", &["nvidia.com/gpu=1"]),
            ("amd.com/gpu=0", &["amd.com/gpu=0"]),
            ("0,amd.com/gpu=1", &["nvidia.com/gpu=0", "amd.com/gpu=1"]),
            (
                "GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c",
                &["nvidia.com/gpu=GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c"],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(names(&parse(input).unwrap()), *want, "{input}");
        }
    }

    #[test]
    fn rejected() {
        let cases: &[(&str, &str)] = &[
            ("0,,1", "empty item"),
            ("foo", "\"foo\" is not a GPU index"),
            ("", "empty"),
            ("all,0", "\"all\" must be given alone"),
            ("nvidia.com/gpu=", "nvidia.com/gpu="),
            ("gpu=0", "gpu=0"),
            ("GPU-", "not a GPU index"),
        ];
        for (input, want) in cases {
            let err = parse(input).unwrap_err();
            assert!(err.contains(want), "{input:?}: {err}");
            assert!(err.starts_with("invalid --gpu"), "{input:?}: {err}");
        }
    }
}
