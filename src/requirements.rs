//! Requirements files: which files an install depends on, and the cache key over them.
//!
//! The key covers everything that changes what pip installs: the file's bytes, the bytes of
//! every file it references (`-r`, `-c`, recursively), and the image's ID, so a new image
//! (perhaps a new Python ABI) starts a fresh install and nothing else does.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A validated requirements file and the files it pulls in.
#[derive(Debug, Clone)]
pub struct Requirements {
    /// The file given (canonical path; inside the project, so the container sees it).
    pub file: PathBuf,
    /// Every input file with its bytes, the given file first.
    pub inputs: Vec<(PathBuf, Vec<u8>)>,
    /// Reinstall even when the key is unchanged.
    pub force: bool,
    /// pip honours the image's own pins (its `PIP_CONSTRAINT`, /etc/pip/constraint.txt in
    /// NGC images, which keeps the image's framework builds); `pip-constraints = "none"`
    /// turns them off for the project.
    pub image_constraints: bool,
}

impl Requirements {
    /// Reads `file` and every file it references; each must exist and be readable.
    pub fn read(file: &Path, project_dir: &Path, force: bool) -> Result<Requirements, String> {
        let canonical = std::fs::canonicalize(file)
            .map_err(|_| format!("Requirements file not found: {}", file.display()))?;
        if !canonical.starts_with(project_dir) {
            return Err(format!(
                "invalid --requirements {}: the file must be inside the project folder {} (the container sees only that folder)",
                file.display(),
                project_dir.display()
            ));
        }
        let mut inputs = Vec::new();
        collect(&canonical, &mut inputs)?;
        Ok(Requirements {
            file: canonical,
            inputs,
            force,
            image_constraints: true,
        })
    }

    /// SHA-256 over every input (path and bytes) and the image ID, as hex.
    pub fn key(&self, image_id: &str) -> String {
        if self.image_constraints {
            key(&self.inputs, image_id)
        } else {
            // Another install than with the image's pins; the keys made with them stay.
            key(
                &self.inputs,
                &format!("{image_id}\0without-image-constraints"),
            )
        }
    }
}

fn collect(file: &Path, inputs: &mut Vec<(PathBuf, Vec<u8>)>) -> Result<(), String> {
    if inputs.iter().any(|(p, _)| p == file) {
        return Ok(()); // a file included twice, or a cycle: count it once
    }
    let bytes = std::fs::read(file)
        .map_err(|e| format!("Requirements file not found: {} ({e})", file.display()))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    inputs.push((file.to_path_buf(), bytes));
    let dir = file.parent().unwrap_or(Path::new("/"));
    for reference in references(&text) {
        let path = dir.join(&reference);
        let canonical = std::fs::canonicalize(&path).map_err(|_| {
            format!(
                "Requirements file not found: {} (referenced from {})",
                path.display(),
                file.display()
            )
        })?;
        collect(&canonical, inputs)?;
    }
    Ok(())
}

/// The files a requirements file references with `-r`/`--requirement` and
/// `-c`/`--constraint`, in order, as written (relative to the file's folder, or absolute).
/// URLs are left to pip: they are not files we can hash.
pub fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        // pip strips comments that start at the line start or after whitespace.
        let line = match line.find(" #") {
            Some(i) => &line[..i],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        };
        let line = line.trim();
        let target = ["-r", "--requirement", "-c", "--constraint"]
            .iter()
            .find_map(|opt| {
                let rest = line.strip_prefix(opt)?;
                if let Some(v) = rest.strip_prefix('=') {
                    Some(v)
                } else if rest.starts_with(char::is_whitespace)
                    || (opt.len() == 2 && !rest.is_empty())
                {
                    // `-r file.txt`, or the short form glued on: `-rfile.txt`.
                    Some(rest)
                } else {
                    None
                }
            })
            .map(|t| unquote(t.trim()));
        if let Some(t) = target.filter(|t| !t.is_empty() && !t.contains("://")) {
            out.push(t.to_string());
        }
    }
    out
}

/// pip reads option values shell-style: `-r "base file.txt"` names `base file.txt`.
fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

pub fn key(inputs: &[(PathBuf, Vec<u8>)], image_id: &str) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut h = Sha256::new();
    h.update(b"mlenv-requirements-v1\0");
    h.update(image_id.as_bytes());
    h.update([0]);
    for (path, bytes) in inputs {
        h.update(path.as_os_str().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Name of the record of the last successful install, beside the installed packages.
pub const REQUIREMENTS_RECORD: &str = ".mlenv-requirements";

/// Proxy and index settings HPC sites need, taken from the caller's environment as set;
/// nothing is invented. Values may hold credentials: they go to the exec request only.
pub fn pip_environment(get: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    const PASSED: [&str; 9] = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_TRUSTED_HOST",
    ];
    PASSED
        .iter()
        .filter_map(|k| Some((k.to_string(), get(k)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_found() {
        let text = "\
numpy==1.26
-r base.txt
--requirement=dev.txt
-c constraints.txt
--constraint   more constraints.txt
-rshort.txt
-r \"quoted name.txt\"
# -r commented.txt
-r https://example.com/remote.txt
torch  # -r not-a-ref.txt
-e ./local-pkg
--find-links ./wheels
";
        assert_eq!(
            references(text),
            [
                "base.txt",
                "dev.txt",
                "constraints.txt",
                "more constraints.txt",
                "short.txt",
                "quoted name.txt"
            ]
        );
    }

    #[test]
    fn key_covers_every_input_and_the_image() {
        let a = vec![("/p/r.txt".into(), b"x==1".to_vec())];
        let b = vec![("/p/r.txt".into(), b"x==2".to_vec())];
        let c = vec![
            ("/p/r.txt".into(), b"x==1".to_vec()),
            ("/p/b.txt".into(), b"y".to_vec()),
        ];
        assert_ne!(key(&a, "img1"), key(&b, "img1"));
        assert_ne!(key(&a, "img1"), key(&a, "img2"));
        assert_ne!(key(&a, "img1"), key(&c, "img1"));
        assert_eq!(key(&a, "img1"), key(&a, "img1"));
        assert_eq!(key(&a, "img1").len(), 64);
    }

    #[test]
    fn reads_references_recursively_and_rejects_missing() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("sub dir")).unwrap();
        std::fs::write(root.join("requirements.txt"), "-r sub dir/base.txt\nx\n").unwrap();
        std::fs::write(
            root.join("sub dir/base.txt"),
            "-c ../c.txt\n-r ../requirements.txt\n",
        )
        .unwrap();
        std::fs::write(root.join("c.txt"), "x<2\n").unwrap();
        let r = Requirements::read(&root.join("requirements.txt"), &root, false).unwrap();
        let names: Vec<_> = r
            .inputs
            .iter()
            .map(|(p, _)| p.strip_prefix(&root).unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                Path::new("requirements.txt"),
                Path::new("sub dir/base.txt"),
                Path::new("c.txt")
            ]
        );

        std::fs::write(root.join("c.txt"), "x<3\n").unwrap();
        let r2 = Requirements::read(&root.join("requirements.txt"), &root, false).unwrap();
        assert_ne!(
            r.key("i"),
            r2.key("i"),
            "a referenced file's change changes the key"
        );

        std::fs::remove_file(root.join("c.txt")).unwrap();
        let err = Requirements::read(&root.join("requirements.txt"), &root, false).unwrap_err();
        assert!(err.contains("c.txt") && err.contains("not found"), "{err}");
        let err = Requirements::read(&root.join("nope.txt"), &root, false).unwrap_err();
        assert_eq!(
            err,
            format!(
                "Requirements file not found: {}",
                root.join("nope.txt").display()
            )
        );
        let err = Requirements::read(Path::new("/etc/hostname"), &root, false).unwrap_err();
        assert!(err.contains("inside the project folder"), "{err}");
    }

    #[test]
    fn pip_gets_only_the_variables_that_are_set() {
        let env = pip_environment(|k| match k {
            "HTTPS_PROXY" => Some("http://u:pw@proxy:3128".into()),
            "no_proxy" => Some("localhost".into()),
            "PIP_INDEX_URL" => Some("https://pypi.example/simple".into()),
            "HOME" => Some("/home/u".into()),
            _ => None,
        });
        let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["HTTPS_PROXY", "no_proxy", "PIP_INDEX_URL"]);
    }
}

/// A requirement pip could not install because the image's constraints pin the package to
/// another version: what the requirements asked for and what the image pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinConflict {
    pub requested: String,
    pub pinned: String,
}

/// The conflicts between requirements and constraints in pip's resolver output ("The
/// conflict is caused by:" lists `The user requested X` and `The user requested
/// (constraint) Y`; pip canonicalises constraint names, so names are compared as PEP 503
/// normalises them).
pub fn pin_conflicts(pip_output: &str) -> Vec<PinConflict> {
    let name = |spec: &str| -> String {
        let end = spec
            .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
            .unwrap_or(spec.len());
        let mut out = String::new();
        for c in spec[..end].chars() {
            let c = if "._-".contains(c) {
                '-'
            } else {
                c.to_ascii_lowercase()
            };
            if !(c == '-' && out.ends_with('-')) {
                out.push(c);
            }
        }
        out
    };
    let mut pinned = Vec::new();
    // (what to show, the requirement itself)
    let mut requested: Vec<(String, String)> = Vec::new();
    for line in pip_output.lines().map(str::trim) {
        if let Some(spec) = line.strip_prefix("The user requested (constraint) ") {
            pinned.push(spec.trim().to_string());
        } else if let Some(spec) = line.strip_prefix("The user requested ") {
            requested.push((spec.trim().to_string(), spec.trim().to_string()));
        } else if let Some((parent, spec)) = line.split_once(" depends on ") {
            // A package the requirements pull in needs another version of a pinned one.
            requested.push((
                format!("{parent} (which needs {spec})"),
                spec.trim().to_string(),
            ));
        }
    }
    let mut out: Vec<PinConflict> = Vec::new();
    for (shown, r) in &requested {
        if let Some(p) = pinned.iter().find(|p| name(p) == name(r)) {
            let c = PinConflict {
                requested: shown.clone(),
                pinned: p.clone(),
            };
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod pin_tests {
    use super::*;

    #[test]
    fn conflicts_from_pips_resolver_output() {
        let out = "\
ERROR: Cannot install -r requirements.txt (line 3) and torch==2.0.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested torch==2.0.0
    The user requested (constraint) torch==2.5.0a0+e000cf0ad9.nv24.10
    The user requested Flash_Attn>=2
    The user requested (constraint) flash-attn==2.4.2

To fix this you could try to:
1. loosen the range of package versions you've specified
";
        assert_eq!(
            pin_conflicts(out),
            [
                PinConflict {
                    requested: "torch==2.0.0".into(),
                    pinned: "torch==2.5.0a0+e000cf0ad9.nv24.10".into()
                },
                PinConflict {
                    requested: "Flash_Attn>=2".into(),
                    pinned: "flash-attn==2.4.2".into()
                },
            ]
        );
        // A conflict between two requirements is not the image's doing.
        let between =
            "The conflict is caused by:\n    The user requested a==1\n    b 1.0 depends on a==2\n";
        assert!(pin_conflicts(between).is_empty());
        // A dependency that needs another version of a pinned package.
        let dep = "The conflict is caused by:\n    flash-attn 2.6.3 depends on torch==2.4.0\n    The user requested (constraint) torch==2.5.0a0\n";
        assert_eq!(
            pin_conflicts(dep),
            [PinConflict {
                requested: "flash-attn 2.6.3 (which needs torch==2.4.0)".into(),
                pinned: "torch==2.5.0a0".into()
            }]
        );
        assert!(pin_conflicts("").is_empty());
    }
}
