//! `--gpu` values, turned into CDI device references, and the default choice.

use std::path::PathBuf;

use cdi::QualifiedName;

/// The CDI kind of NVIDIA GPUs as `nvidia-ctk cdi generate` writes it.
pub const NVIDIA_KIND: &str = "nvidia.com/gpu";

/// Where podman (<= 5.4) reads CDI specs; the later directory wins on duplicates.
pub const SPEC_DIRS: [&str; 2] = cdi::DEFAULT_SPEC_DIRS;

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

/// One CDI spec file found in the spec dirs and the kind it declares.
#[derive(Debug, Clone)]
pub struct SpecFile {
    pub path: PathBuf,
    /// `Err` holds why the spec is unusable (unreadable, invalid), naming the file.
    pub kind: Result<String, String>,
}

/// Lists the spec files podman would read, with their kinds. A YAML spec (what
/// `nvidia-ctk` writes by default) counts by its declared kind, since the `cdi` crate reads
/// JSON only; a JSON spec must also be valid, as podman rejects it whole otherwise.
pub fn scan_specs(dirs: &[&str]) -> Vec<SpecFile> {
    cdi::scan_dirs(dirs)
        .into_iter()
        .map(|(path, spec)| {
            let kind = match spec {
                Ok(spec) => Ok(spec.kind.to_string()),
                Err(cdi::Error::UnsupportedFormat { .. }) => cdi::peek_kind(&path)
                    .ok_or_else(|| format!("{} declares no kind", path.display())),
                Err(e) => Err(format!("{}: {e}", path.display())),
            };
            SpecFile { path, kind }
        })
        .collect()
}

/// The default when `--gpu` is not given: every NVIDIA GPU when a spec for them exists.
/// Returns the selection and a sentence saying why, for the user.
pub fn default_selection(specs: &[SpecFile]) -> (Vec<QualifiedName>, String) {
    match specs
        .iter()
        .find(|s| s.kind.as_deref() == Ok(NVIDIA_KIND))
    {
        Some(spec) => (
            vec![nvidia("all").expect("constant name is valid")],
            format!("GPUs: all (NVIDIA CDI spec {})", spec.path.display()),
        ),
        None => (
            vec![],
            format!(
                "GPUs: none (no NVIDIA CDI spec in {}; create one with `sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`, or pass --gpu)",
                SPEC_DIRS.join(" or ")
            ),
        ),
    }
}

/// Podman resolves CDI names only when the container starts, and then fails with a bare
/// "unresolvable CDI devices". Checking here lets `up` refuse before creating anything.
pub fn check_kinds_present(wanted: &[QualifiedName], specs: &[SpecFile]) -> Result<(), String> {
    for name in wanted {
        let kind = name.kind().to_string();
        if specs.iter().any(|s| s.kind.as_deref() == Ok(kind.as_str())) {
            continue;
        }
        let unreadable: Vec<String> = specs
            .iter()
            .filter_map(|s| s.kind.as_ref().err().cloned())
            .collect();
        let mut msg = format!(
            "invalid --gpu: no CDI spec for {kind} (needed by {name}) in {}",
            SPEC_DIRS.join(" or ")
        );
        if !unreadable.is_empty() {
            msg.push_str(&format!("; could not read: {}", unreadable.join("; ")));
        }
        if kind == NVIDIA_KIND {
            msg.push_str(
                "; create one with `sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`",
            );
        }
        return Err(msg);
    }
    Ok(())
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

    #[test]
    fn default_follows_the_nvidia_spec() {
        let spec = |kind: Result<&str, &str>| SpecFile {
            path: "/etc/cdi/x.yaml".into(),
            kind: kind.map(str::to_string).map_err(str::to_string),
        };
        let (sel, why) = default_selection(&[spec(Ok("nvidia.com/gpu"))]);
        assert_eq!(names(&sel), ["nvidia.com/gpu=all"]);
        assert!(why.contains("/etc/cdi/x.yaml"));
        let (sel, why) = default_selection(&[spec(Ok("amd.com/gpu")), spec(Err("unreadable"))]);
        assert!(sel.is_empty());
        assert!(why.starts_with("GPUs: none"));

        let want = parse("0").unwrap();
        assert!(check_kinds_present(&want, &[spec(Ok("nvidia.com/gpu"))]).is_ok());
        let err =
            check_kinds_present(&want, &[spec(Err("cannot read /etc/cdi/x.yaml"))]).unwrap_err();
        assert!(err.contains("no CDI spec for nvidia.com/gpu") && err.contains("cannot read"));
    }
}
