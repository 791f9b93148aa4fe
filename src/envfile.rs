//! `--env-file`: KEY=VALUE lines read with dotenvy. Values are secrets: they go into the
//! API request body and nowhere else (never argv, logs, labels or unit files).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Variables read from an env file, in file order.
#[derive(Clone, Default)]
pub struct EnvFile {
    pub path: PathBuf,
    pub vars: Vec<(String, String)>,
}

// Hand-written so that a `{:?}` in a log line can never print a value.
impl std::fmt::Debug for EnvFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvFile")
            .field("path", &self.path)
            .field("keys", &self.keys())
            .finish()
    }
}

impl EnvFile {
    pub fn read(path: &Path) -> Result<EnvFile, String> {
        let accepted = "expected KEY=VALUE lines (# comments, quotes and `export` allowed)";
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("invalid --env-file {shown:?}: {e}; {accepted}"))?;
        let mut vars: Vec<(String, String)> = Vec::new();
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            let (k, v) = item.map_err(|e| {
                format!(
                    "invalid --env-file {shown:?}: {}; {accepted}",
                    describe(&e, &text)
                )
            })?;
            // A later line overrides an earlier one, as in a shell.
            vars.retain(|(old, _)| old != &k);
            vars.push((k, v));
        }
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(EnvFile { path, vars })
    }

    pub fn keys(&self) -> Vec<String> {
        self.vars.iter().map(|(k, _)| k.clone()).collect()
    }

    /// A digest of the values keyed by a secret only this user can read, so settings drift
    /// is detectable from a container label without the label giving the values away.
    /// Taken in key order: reordering the file's lines changes nothing in the container.
    pub fn digest(&self, key: &[u8]) -> String {
        let mut vars: Vec<&(String, String)> = self.vars.iter().collect();
        vars.sort();
        let mut h = Sha256::new();
        h.update(key);
        for (k, v) in vars {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.as_bytes());
            h.update([0]);
        }
        h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// dotenvy's messages quote the whole offending line, which can hold a secret: name the
/// line number and position instead.
fn describe(e: &dotenvy::Error, text: &str) -> String {
    match e {
        dotenvy::Error::LineParse(line, index) => {
            let first = line.lines().next().unwrap_or("");
            let number = text
                .lines()
                .position(|l| l.trim() == first.trim())
                .map_or("?".to_string(), |n| (n + 1).to_string());
            format!("line {number} cannot be parsed at character {index} (a space in the key, an unclosed quote, or no '=')")
        }
        dotenvy::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_values() {
        let f = file("# c\nA=1\nexport B=\"two words\"\nC='x=y'\nA=3\n");
        let env = EnvFile::read(f.path()).unwrap();
        assert_eq!(
            env.vars,
            [
                ("B".into(), "two words".into()),
                ("C".into(), "x=y".into()),
                ("A".into(), "3".into())
            ]
        );
        assert!(!format!("{env:?}").contains("two words"));
    }

    #[test]
    fn rejects_malformed_without_echoing_secrets() {
        for text in ["GOOD=1\nBAD LINE secret123\n", "A=\"unclosed secret123\n"] {
            let f = file(text);
            let err = EnvFile::read(f.path()).unwrap_err();
            assert!(err.starts_with("invalid --env-file"), "{err}");
            assert!(!err.contains("secret123"), "{err}");
        }
        let err = EnvFile::read(Path::new("/nonexistent/.env")).unwrap_err();
        assert!(err.contains("/nonexistent/.env"), "{err}");
    }

    #[test]
    fn digest_changes_with_values_and_key() {
        let a = EnvFile {
            path: "/x".into(),
            vars: vec![("K".into(), "1".into())],
        };
        let b = EnvFile {
            path: "/x".into(),
            vars: vec![("K".into(), "2".into())],
        };
        assert_ne!(a.digest(b"k"), b.digest(b"k"));
        let ab = EnvFile {
            path: "/x".into(),
            vars: vec![("A".into(), "1".into()), ("B".into(), "2".into())],
        };
        let ba = EnvFile {
            path: "/x".into(),
            vars: vec![("B".into(), "2".into()), ("A".into(), "1".into())],
        };
        assert_eq!(ab.digest(b"k"), ba.digest(b"k"), "line order is no change");
        assert_ne!(a.digest(b"k"), a.digest(b"other"));
        assert_eq!(a.digest(b"k"), a.digest(b"k"));
    }
}
