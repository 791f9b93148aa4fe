//! `mlenv export`: the environment as a cluster runs it. The generators are pure: they take
//! an [`Environment`] (what `up` would make, or made) and return text, so every decision in
//! a manifest or a batch script is unit-tested here, and the command only gathers the facts.

pub mod kube;
pub mod slurm;

use std::path::PathBuf;

use crate::ports::PortMapping;

/// Everything a cluster needs to reproduce an environment.
#[derive(Clone)]
pub struct Environment {
    /// The container's name (`mlenv-<slug>-<hash>`), from which every object is named.
    pub container: String,
    /// The project folder: mounted at the same path, and the working directory.
    pub project_dir: String,
    pub image: String,
    /// The image's own PATH, when the image is on this machine (the user base's `bin` goes
    /// in front of it, as `up` does).
    pub image_path: Option<String>,
    /// How many devices of each CDI kind (`nvidia.com/gpu`): the count a cluster schedules.
    pub gpus: Vec<(String, u32)>,
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub ports: Vec<PortMapping>,
    /// Run as the caller (keep-id); false for `--no-user-mapping`.
    pub user_mapping: bool,
    pub uid: u32,
    pub gid: u32,
    /// The env file (absolute): the batch script reads it on the node.
    pub env_file: Option<PathBuf>,
    /// Its variables: only the Kubernetes Secret holds the values.
    pub env: Vec<(String, String)>,
    pub requirements: Option<RequirementsPlan>,
    /// The command of a batch job; `None` for an interactive Pod.
    pub job: Option<String>,
    pub ipc: crate::limits::Ipc,
    pub shm_size: Option<u64>,
    /// The limits the user set; NVIDIA's memlock and stack are added where these say
    /// nothing, capped on the node at its hard limits.
    pub ulimits: Vec<crate::limits::Ulimit>,
    /// HOME inside, as `up` makes it (the node's own `$HOME` at its path, or the
    /// environment's own home in its data folder).
    pub home: crate::settings::Home,
}

// Hand-written so that a `{:?}` in a log line can never print an env value.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("container", &self.container)
            .field("image", &self.image)
            .field("gpus", &self.gpus)
            .field("env_keys", &self.env_keys())
            .field("requirements", &self.requirements)
            .field("job", &self.job.is_some())
            .finish()
    }
}

impl Environment {
    pub fn env_keys(&self) -> Vec<String> {
        self.env.iter().map(|(k, _)| k.clone()).collect()
    }

    /// GPUs of every kind together (Slurm's `--gres=gpu:N`).
    pub fn gpu_total(&self) -> u32 {
        self.gpus.iter().map(|(_, n)| n).sum()
    }

    /// The variables `up` sets besides the env file's: the persistent user base for pip.
    pub fn base_vars(&self) -> Vec<(String, String)> {
        use crate::create::PYTHON_DIR;
        let mut v = vec![
            ("PYTHONUSERBASE".to_string(), PYTHON_DIR.to_string()),
            ("PIP_USER".into(), "1".into()),
            ("PIP_BREAK_SYSTEM_PACKAGES".into(), "1".into()),
        ];
        if let Some(path) = &self.image_path {
            v.push(("PATH".into(), format!("{PYTHON_DIR}/bin:{path}")));
        }
        v.push(("MLENV_PROJECT".into(), self.project_dir.clone()));
        v.push(("MLENV_CONTAINER".into(), self.container.clone()));
        v
    }
}

/// The requirements install a cluster repeats: the file pip reads and every file the key
/// covers (the file, then what it references), as absolute paths the job sees.
#[derive(Debug, Clone, PartialEq)]
pub struct RequirementsPlan {
    pub file: String,
    pub inputs: Vec<String>,
    /// pip keeps the image's pins (`pip-constraints = "image"`, the default).
    pub image_constraints: bool,
}

/// Longest base name: the longest suffix (`-project`) keeps every object name within
/// DNS-1123's 63 characters.
const MAX_BASE: usize = 55;

/// A DNS-1123 label from the container name: lower case letters, digits and `-`, starting
/// and ending with a letter or digit, at most [`MAX_BASE`] long (the hash at its end kept).
pub fn object_name(container: &str) -> String {
    let mut out = String::new();
    for c in container.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_string();
    if out.len() > MAX_BASE {
        // Keep the head and the hash: `mlenv-<slug>-<8 hex>` stays tellable apart.
        let tail = out.rsplit('-').next().unwrap_or("").to_string();
        let tail = if tail.len() < MAX_BASE - 6 {
            tail
        } else {
            String::new()
        };
        let head_len = MAX_BASE - tail.len() - usize::from(!tail.is_empty());
        let head = out[..head_len].trim_end_matches('-').to_string();
        out = if tail.is_empty() {
            head
        } else {
            format!("{head}-{tail}")
        };
    }
    if out.is_empty() {
        "mlenv".into()
    } else {
        out
    }
}

/// Whether `name` is a DNS-1123 subdomain (the names of claims and secrets).
pub fn is_dns_subdomain(name: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && alnum(b[0])
                && alnum(b[b.len() - 1])
                && b.iter().all(|&c| alnum(c) || c == b'-')
        })
}

/// Kubernetes memory quantity: the largest binary unit that divides exactly, else bytes.
pub fn memory_quantity(bytes: u64) -> String {
    for (unit, size) in [
        ("Ti", 1u64 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

/// Kubernetes CPU quantity: whole cores as a number, else millicores.
pub fn cpu_quantity(cpus: f64) -> String {
    let milli = (cpus * 1000.0).round() as u64;
    if milli.is_multiple_of(1000) {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

/// Slurm `--mem`: whole MiB, rounded up so the job never gets less than asked.
pub fn slurm_mem(bytes: u64) -> String {
    format!("{}M", bytes.div_ceil(1 << 20))
}

/// Slurm `--cpus-per-task`: whole CPUs, rounded up.
pub fn slurm_cpus(cpus: f64) -> u32 {
    (cpus.ceil() as u32).max(1)
}

/// Where the installed packages go in a Slurm job, a shell expression: mlenv's own data
/// folder layout (`$XDG_DATA_HOME/mlenv/<container>/python`), on shared storage on a
/// cluster; `MLENV_SLURM_DATA` moves it.
pub fn slurm_data_dir(container: &str) -> String {
    format!("${{MLENV_SLURM_DATA:-${{XDG_DATA_HOME:-$HOME/.local/share}}/mlenv}}/{container}")
}

/// The requirements step, a POSIX shell script run inside the image with the user base
/// mounted at [`crate::create::PYTHON_DIR`] and `$1` the image key. It computes the key
/// exactly as [`crate::requirements::key`] does (python3 is in every image pip runs in),
/// with `$1` standing for the image ID, and installs only when the record beside the
/// packages holds another key; the record is removed first and written last, so a failed
/// install is retried.
pub fn install_script(req: &RequirementsPlan) -> String {
    use crate::create::PYTHON_DIR;
    use crate::shell::quote;
    let record = format!("{PYTHON_DIR}/{}", crate::requirements::REQUIREMENTS_RECORD);
    let inputs: Vec<String> = req.inputs.iter().map(|p| quote(p)).collect();
    let file = quote(&req.file);
    format!(
        r#"set -eu
for f in {inputs}; do
  if [ ! -f "$f" ]; then
    echo "mlenv: $f is not in the project volume: copy the project into it first (kubectl cp, rsync)" >&2
    exit 1
  fi
done
key=$(python3 -c '
import hashlib, struct, sys
h = hashlib.sha256(b"mlenv-requirements-v1\0" + sys.argv[1].encode(){suffix} + b"\0")
for p in sys.argv[2:]:
    b = open(p, "rb").read()
    h.update(p.encode() + b"\0" + struct.pack("<Q", len(b)) + b)
print(h.hexdigest())
' "$1" {inputs})
short=$(printf %.8s "$key")
record={record}
if [ -f "$record" ] && IFS= read -r last < "$record" && [ "$last" = "$key" ]; then
  echo "mlenv: requirements unchanged (sha256 $short), skipping"
  exit 0
fi
rm -f "$record"
echo "mlenv: installing requirements from {file_shown} (sha256 $short)"
{no_pins}python3 -m pip install --user -r {file}
printf '%s\n%s\n' "$key" {file} > "$record"
"#,
        inputs = inputs.join(" "),
        file_shown = req.file.replace(['"', '$', '`', '\\'], "_"),
        // As `Requirements::key` keys an install without the image's pins, and as `up` runs it.
        suffix = if req.image_constraints {
            ""
        } else {
            r#" + b"\0without-image-constraints""#
        },
        no_pins = if req.image_constraints {
            ""
        } else {
            "PIP_CONSTRAINT= "
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_dns_labels() {
        let cases = [
            ("mlenv-proj-0123abcd", "mlenv-proj-0123abcd"),
            ("mlenv-My_Proj.v2-0123abcd", "mlenv-my-proj-v2-0123abcd"),
            ("--mlenv--x--", "mlenv-x"),
            ("___", "mlenv"),
        ];
        for (input, want) in cases {
            assert_eq!(object_name(input), want, "{input}");
        }
        let long = format!("mlenv-{}-0123abcd", "a".repeat(80));
        let n = object_name(&long);
        assert!(n.len() <= MAX_BASE, "{n}");
        assert!(
            n.ends_with("-0123abcd") && n.starts_with("mlenv-aaa"),
            "{n}"
        );
        for name in [n.clone(), format!("{n}-project"), format!("{n}-python")] {
            assert!(name.len() <= 63 && is_dns_subdomain(&name), "{name}");
        }
        // Every real container name fits as it is (slug <= 40).
        let real = crate::project::container_name(std::path::Path::new(&format!(
            "/home/u/{}",
            "Some Project_Name ".repeat(5)
        )));
        assert_eq!(object_name(&real), real);
    }

    #[test]
    fn subdomains() {
        for ok in ["data", "my-claim", "a.b-c.d", "x1"] {
            assert!(is_dns_subdomain(ok), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in ["", "Data", "-a", "a-", "a..b", "a_b", "a b", long.as_str()] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
    }

    #[test]
    fn quantities() {
        let mem = [
            (16u64 << 30, "16Gi"),
            (512 << 20, "512Mi"),
            (1536 << 20, "1536Mi"),
            (1 << 40, "1Ti"),
            (1000, "1000"),
            (3 << 10, "3Ki"),
        ];
        for (b, want) in mem {
            assert_eq!(memory_quantity(b), want, "{b}");
        }
        for (c, want) in [
            (2.0, "2"),
            (2.5, "2500m"),
            (0.25, "250m"),
            (1.0005, "1001m"),
        ] {
            assert_eq!(cpu_quantity(c), want, "{c}");
        }
        assert_eq!(slurm_mem(16 << 30), "16384M");
        assert_eq!(slurm_mem((1 << 20) + 1), "2M");
        assert_eq!(slurm_cpus(2.5), 3);
        assert_eq!(slurm_cpus(2.0), 2);
        assert_eq!(slurm_cpus(0.1), 1);
    }

    /// The in-image key is mlenv's own key: run the script's Python on this machine against
    /// real files and compare with [`crate::requirements::key`].
    #[test]
    fn install_script_key_matches_mlenv_key() {
        let Ok(python) = which("python3") else {
            panic!("python3 is needed for this test");
        };
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("requirements.txt");
        let b = dir.path().join("base.txt");
        std::fs::write(&a, "-r base.txt\nnumpy\n").unwrap();
        std::fs::write(&b, "torch==2.1\n").unwrap();
        let inputs = vec![
            (a.clone(), std::fs::read(&a).unwrap()),
            (b.clone(), std::fs::read(&b).unwrap()),
        ];
        let want = crate::requirements::key(&inputs, "sha256img");
        let plan = RequirementsPlan {
            image_constraints: true,
            file: a.display().to_string(),
            inputs: vec![a.display().to_string(), b.display().to_string()],
        };
        assert_eq!(key_in_image(&python, &install_script(&plan), &plan), want);

        // Without the image's pins: the key `up` makes then, and pip told so.
        let mut requirements =
            crate::requirements::Requirements::read(&a, dir.path(), false).unwrap();
        requirements.image_constraints = false;
        let want = requirements.key("sha256img");
        let plan = RequirementsPlan {
            image_constraints: false,
            ..plan
        };
        let script = install_script(&plan);
        assert!(
            script.contains("PIP_CONSTRAINT= python3 -m pip install"),
            "{script}"
        );
        assert_eq!(key_in_image(&python, &script, &plan), want);
    }

    /// The key the install script's Python computes, run here with `python` on the plan's
    /// inputs for an image ID of "sha256img".
    fn key_in_image(python: &std::path::Path, script: &str, plan: &RequirementsPlan) -> String {
        let program = script
            .split("python3 -c '")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap();
        let out = std::process::Command::new(python)
            .arg("-c")
            .arg(program)
            .arg("sha256img")
            .args(&plan.inputs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn which(cmd: &str) -> Result<PathBuf, ()> {
        crate::fsx::which(cmd).ok_or(())
    }

    #[test]
    fn install_script_parses_and_quotes_paths() {
        let plan = RequirementsPlan {
            image_constraints: true,
            file: "/p/my reqs.txt".into(),
            inputs: vec!["/p/my reqs.txt".into(), "/p/it's.txt".into()],
        };
        let s = install_script(&plan);
        assert!(s.contains("pip install --user -r '/p/my reqs.txt'"), "{s}");
        assert!(
            s.contains(r#" "$1" '/p/my reqs.txt' '/p/it'\''s.txt')"#),
            "{s}"
        );
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(&s)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn install_script_names_a_requirements_file_missing_from_the_volume() {
        let dir = tempfile::tempdir().unwrap();
        let present = dir.path().join("requirements.txt");
        std::fs::write(&present, "six\n").unwrap();
        let missing = dir.path().join("constraints.txt");
        let plan = RequirementsPlan {
            image_constraints: true,
            file: present.to_string_lossy().into_owned(),
            inputs: vec![
                present.to_string_lossy().into_owned(),
                missing.to_string_lossy().into_owned(),
            ],
        };
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(install_script(&plan))
            .arg("mlenv-requirements")
            .arg("image-key")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "{} is not in the project volume",
                missing.display()
            )),
            "{stderr}"
        );
    }
}
