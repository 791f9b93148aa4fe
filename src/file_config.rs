//! `up` settings from files: the project's `mlenv.toml` and the user's
//! `~/.config/mlenv/config.toml`.
//!
//! Precedence is flags (and `MLENV_IMAGE`) > `mlenv.toml` > user config > defaults. Both files
//! take the same keys, one per `up` setting, named after its flag. Every value keeps the line
//! it came from, so that a value the validators reject is reported as `FILE:LINE`, and an
//! unknown key or a wrong type is too (from the TOML parser's span).
//!
//! Relative paths (`env-file`, `requirements`) are relative to the project folder in both
//! files, so a user config's `env-file = ".env"` means each project's own `.env`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// The project's config file, in the project folder.
pub const PROJECT_FILE: &str = "mlenv.toml";

/// Every key, in the order `mlenv init` writes them.
pub const KEYS: &[&str] = &[
    "image",
    "ports",
    "env-file",
    "gpus",
    "memory",
    "cpus",
    "user-mapping",
    "ipc",
    "shm-size",
    "ulimits",
    "home",
    "requirements",
    "pip-constraints",
    "autostart",
];

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub file: PathBuf,
    pub line: usize,
}

impl<T> At<T> {
    /// A validator's message (written for the flag, `invalid --memory "x": ...`) restated for
    /// the key and prefixed with the file and line.
    pub fn error(&self, message: &str, flag: &str, key: &str) -> String {
        let restated = match message.strip_prefix(&format!("invalid --{flag} ")) {
            Some(rest) => format!("invalid {key} = {rest}"),
            None => message.to_string(),
        };
        format!("{}:{}: {restated}", self.file.display(), self.line)
    }
}

/// The `up` settings one file (or the merge of both) gives; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileSettings {
    pub image: Option<At<String>>,
    /// Port lists, each as `--port` takes it.
    pub ports: Option<At<Vec<String>>>,
    /// Already joined to the project folder when relative.
    pub env_file: Option<At<PathBuf>>,
    /// As `--gpu` takes it: `all`, `none`, `0,1`, CDI names.
    pub gpus: Option<At<String>>,
    pub memory: Option<At<String>>,
    pub cpus: Option<At<String>>,
    pub user_mapping: Option<At<bool>>,
    pub ipc: Option<At<String>>,
    pub shm_size: Option<At<String>>,
    /// Limits, each as `--ulimit` takes it.
    pub ulimits: Option<At<Vec<String>>>,
    pub home: Option<At<String>>,
    pub pip_constraints: Option<At<String>>,
    /// `none`, or a file (joined to the project folder when relative).
    pub requirements: Option<At<PathBuf>>,
    pub autostart: Option<At<bool>>,
}

impl FileSettings {
    /// `self` where it says something, else `lower`.
    pub fn over(self, lower: FileSettings) -> FileSettings {
        FileSettings {
            image: self.image.or(lower.image),
            ports: self.ports.or(lower.ports),
            env_file: self.env_file.or(lower.env_file),
            gpus: self.gpus.or(lower.gpus),
            memory: self.memory.or(lower.memory),
            cpus: self.cpus.or(lower.cpus),
            user_mapping: self.user_mapping.or(lower.user_mapping),
            ipc: self.ipc.or(lower.ipc),
            shm_size: self.shm_size.or(lower.shm_size),
            ulimits: self.ulimits.or(lower.ulimits),
            home: self.home.or(lower.home),
            pip_constraints: self.pip_constraints.or(lower.pip_constraints),
            requirements: self.requirements.or(lower.requirements),
            autostart: self.autostart.or(lower.autostart),
        }
    }
}

/// The file as TOML sees it. Values are taken loosely typed and converted by hand, so that a
/// wrong type gets a message naming the key and what it takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    image: Option<Spanned<toml::Value>>,
    ports: Option<Spanned<toml::Value>>,
    env_file: Option<Spanned<toml::Value>>,
    gpus: Option<Spanned<toml::Value>>,
    memory: Option<Spanned<toml::Value>>,
    cpus: Option<Spanned<toml::Value>>,
    user_mapping: Option<Spanned<toml::Value>>,
    ipc: Option<Spanned<toml::Value>>,
    shm_size: Option<Spanned<toml::Value>>,
    ulimits: Option<Spanned<toml::Value>>,
    home: Option<Spanned<toml::Value>>,
    pip_constraints: Option<Spanned<toml::Value>>,
    requirements: Option<Spanned<toml::Value>>,
    autostart: Option<Spanned<toml::Value>>,
}

/// The user's config file: `$XDG_CONFIG_HOME/mlenv/config.toml`, else `~/.config/...`.
pub fn user_file() -> Option<PathBuf> {
    Some(crate::dirs::base(crate::dirs::Base::Config)?.join("mlenv/config.toml"))
}

/// Both files merged, the project's over the user's. A missing file says nothing; an
/// unreadable or invalid one is an error naming it.
pub fn load(project_dir: &Path) -> Result<FileSettings, String> {
    let project = read(&project_dir.join(PROJECT_FILE), project_dir)?;
    let user = match user_file() {
        Some(file) => read(&file, project_dir)?,
        None => FileSettings::default(),
    };
    Ok(project.over(user))
}

fn read(file: &Path, project_dir: &Path) -> Result<FileSettings, String> {
    match std::fs::read_to_string(file) {
        Ok(text) => parse(file, &text, project_dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileSettings::default()),
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}

/// Parses one file's text; `file` is only for messages.
pub fn parse(file: &Path, text: &str, project_dir: &Path) -> Result<FileSettings, String> {
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        let mut message = e.message().trim_end().to_string();
        if let Some(hint) = unknown_key_hint(&message) {
            message.push_str(&format!(" (did you mean `{hint}`?)"));
        }
        format!("{}:{line}: {message}", file.display())
    })?;
    fn wrap<T>(file: &Path, text: &str, v: &Spanned<toml::Value>, value: T) -> At<T> {
        At {
            value,
            file: file.to_path_buf(),
            line: line_of(text, v.span().start),
        }
    }
    let fail = |v: &Spanned<toml::Value>, key: &str, expected: &str| {
        format!(
            "{}:{}: invalid {key} = {}: expected {expected}",
            file.display(),
            line_of(text, v.span().start),
            show(v.get_ref())
        )
    };
    let path = |v: &Spanned<toml::Value>, key: &str| match v.get_ref() {
        toml::Value::String(s) if !s.is_empty() => Ok(wrap(file, text, v, project_dir.join(s))),
        _ => Err(fail(
            v,
            key,
            "a file name in quotes, relative to the project folder",
        )),
    };
    let flag = |v: &Spanned<toml::Value>, key: &str| match v.get_ref() {
        toml::Value::Boolean(b) => Ok(wrap(file, text, v, *b)),
        _ => Err(fail(v, key, "true or false")),
    };
    let string = |v: &Spanned<toml::Value>, key: &str, expected: &str| match v.get_ref() {
        toml::Value::String(s) => Ok(wrap(file, text, v, s.clone())),
        _ => Err(fail(v, key, expected)),
    };
    // A string, or a list of strings and numbers: `ports = [8888, "6006:6006"]`.
    let list = |v: &Spanned<toml::Value>| -> Option<Vec<String>> {
        match v.get_ref() {
            toml::Value::String(s) => Some(vec![s.clone()]),
            toml::Value::Integer(i) => Some(vec![i.to_string()]),
            toml::Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => Some(s.clone()),
                    toml::Value::Integer(i) => Some(i.to_string()),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    };

    let mut out = FileSettings::default();
    if let Some(v) = &raw.image {
        out.image = Some(string(v, "image", "an image reference in quotes")?);
    }
    if let Some(v) = &raw.ports {
        let items = list(v)
            .ok_or_else(|| fail(v, "ports", "a list of ports such as [\"8888:8888\", 6006]"))?;
        out.ports = Some(wrap(file, text, v, items));
    }
    if let Some(v) = &raw.env_file {
        out.env_file = Some(path(v, "env-file")?);
    }
    if let Some(v) = &raw.gpus {
        let items = list(v).ok_or_else(|| {
            fail(
                v,
                "gpus",
                "\"all\", \"none\", a list of indices such as [0, 1], or CDI names such as [\"nvidia.com/gpu=0\"]",
            )
        })?;
        out.gpus = Some(wrap(file, text, v, items.join(",")));
    }
    if let Some(v) = &raw.memory {
        out.memory = Some(string(v, "memory", "a size in quotes such as \"16g\"")?);
    }
    if let Some(v) = &raw.cpus {
        let cpus = match v.get_ref() {
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::String(s) => s.clone(),
            _ => return Err(fail(v, "cpus", "a number such as 4 or 2.5")),
        };
        out.cpus = Some(wrap(file, text, v, cpus));
    }
    if let Some(v) = &raw.user_mapping {
        out.user_mapping = Some(flag(v, "user-mapping")?);
    }
    if let Some(v) = &raw.ipc {
        out.ipc = Some(string(v, "ipc", "\"host\" or \"private\"")?);
    }
    if let Some(v) = &raw.shm_size {
        out.shm_size = Some(string(v, "shm-size", "a size in quotes such as \"16g\"")?);
    }
    if let Some(v) = &raw.ulimits {
        let items = match v.get_ref() {
            toml::Value::Array(_) | toml::Value::String(_) => list(v),
            _ => None,
        }
        .ok_or_else(|| {
            fail(
                v,
                "ulimits",
                "a list such as [\"memlock=-1\", \"stack=67108864\"]",
            )
        })?;
        out.ulimits = Some(wrap(file, text, v, items));
    }
    if let Some(v) = &raw.home {
        out.home = Some(string(v, "home", "\"host\" or \"isolated\"")?);
    }
    if let Some(v) = &raw.pip_constraints {
        out.pip_constraints = Some(string(v, "pip-constraints", "\"image\" or \"none\"")?);
    }
    if let Some(v) = &raw.requirements {
        out.requirements = Some(match v.get_ref() {
            toml::Value::String(s) if s == "none" => wrap(file, text, v, PathBuf::from("none")),
            _ => path(v, "requirements")
                .map_err(|_| fail(v, "requirements", "\"none\" or a file inside the project"))?,
        });
    }
    if let Some(v) = &raw.autostart {
        out.autostart = Some(flag(v, "autostart")?);
    }
    Ok(out)
}

/// A value as it would be written in the file, for messages.
fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => quote(s),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(show).collect::<Vec<_>>().join(", ")
            )
        }
        toml::Value::Table(_) => "{ ... }".to_string(),
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The right key for an unknown one spelled as a flag or in snake case.
fn unknown_key_hint(message: &str) -> Option<&'static str> {
    let unknown = message.strip_prefix("unknown field `")?.split('`').next()?;
    let normal = unknown
        .trim_start_matches("no-")
        .trim_start_matches("no_")
        .replace('_', "-");
    let hint = match normal.as_str() {
        "port" => "ports",
        "gpu" => "gpus",
        "cpu" => "cpus",
        "env" | "envfile" => "env-file",
        "requirement" => "requirements",
        "ulimit" => "ulimits",
        "shm" | "shmsize" => "shm-size",
        other => KEYS.iter().find(|k| **k == other)?,
    };
    (hint != unknown).then_some(hint)
}

/// What `mlenv init` writes: every key, those given as flags set and the rest commented out
/// with what happens when they are absent.
pub fn render(values: &[(&str, Option<String>)]) -> String {
    let mut out = String::from(
        "# mlenv.toml: this project's environment, read by `mlenv up`.\n\
         # Flags given to `mlenv up` win over this file, and this file wins over your\n\
         # ~/.config/mlenv/config.toml. Paths are relative to this folder. After a change,\n\
         # `mlenv up` says what differs from the running container; `mlenv up --recreate` applies it.\n",
    );
    for key in KEYS {
        let (about, example) = describe(key);
        out.push('\n');
        for line in about.lines() {
            out.push_str(&format!("# {line}\n"));
        }
        match values
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_ref())
        {
            Some(value) => out.push_str(&format!("{key} = {value}\n")),
            None if *key == "image" => {
                let default = quote(crate::image_ref::DEFAULT_IMAGE);
                out.push_str(&format!("# {key} = {default}\n"));
            }
            None => out.push_str(&format!("# {key} = {example}\n")),
        }
    }
    out
}

/// A key's comment and example value, for `mlenv init`.
fn describe(key: &str) -> (&'static str, &'static str) {
    match key {
        "image" => (
            "Container image (--image). Default: the current NGC PyTorch image.",
            "", // the default image, filled in by `render`
        ),
        "ports" => (
            "Ports to forward (--port): HOST:CONTAINER, IP:HOST:CONTAINER or PORT, optional /udp.\n\
             Bound to 127.0.0.1 unless an IP is given. Default: none.",
            "[\"8888:8888\", \"6006:6006\"]",
        ),
        "env-file" => (
            "Environment variables from this file (--env-file), KEY=VALUE lines as Docker\n\
             Compose reads them. The values stay out of argv, logs and unit files. Default: none.",
            "\".env\"",
        ),
        "gpus" => (
            "GPUs (--gpu): \"all\", \"none\", indices such as [0, 1], or CDI names such as\n\
             [\"nvidia.com/gpu=0\"]. Default: all when an NVIDIA CDI spec exists, else none.",
            "\"all\"",
        ),
        "memory" => ("Memory limit (--memory), e.g. \"16g\". Default: none.", "\"16g\""),
        "cpus" => ("CPU limit (--cpus), e.g. 4 or 2.5. Default: none.", "4"),
        "user-mapping" => (
            "Run as you inside the container (keep-id). false runs as the image's own user\n\
             (--no-user-mapping). Default: true.",
            "true",
        ),
        "ipc" => (
            "IPC namespace (--ipc): \"private\" gives a /dev/shm of shm-size; \"host\" shares the\n\
             host's, as NVIDIA's examples run (it needs /dev/mqueue on the host). Default: \"private\".",
            "\"host\"",
        ),
        "shm-size" => (
            "Size of /dev/shm with ipc = \"private\" (--shm-size). Default: half the host's memory,\n\
             at least \"2g\" (a cap: nothing is used until written).",
            "\"16g\"",
        ),
        "ulimits" => (
            "Process limits (--ulimit), NAME=SOFT[:HARD], -1 for unlimited. Default: memlock=-1\n\
             and stack=67108864 as NVIDIA recommends, each capped at your hard limit (rootless\n\
             podman cannot raise one).",
            "[\"memlock=-1\", \"stack=67108864\"]",
        ),
        "home" => (
            "HOME inside (--home): \"host\" is your home at its own path; \"isolated\" is the\n\
             environment's own, kept across rm + up, with your ~/.cache, ~/.gitconfig and ~/.ssh\n\
             mounted in. Never the project folder. Default: \"host\".",
            "\"isolated\"",
        ),
        "pip-constraints" => (
            "Whether pip keeps the image's own pins (--pip-constraints): \"image\" honours its\n\
             PIP_CONSTRAINT (NGC images pin torch and its builds there); \"none\" installs\n\
             without them, which may replace the image's framework. Default: \"image\".",
            "\"none\"",
        ),
        "requirements" => (
            "pip requirements installed once, and again only when they change (--requirements),\n\
             or \"none\". Default: requirements.txt when the project has one.",
            "\"requirements.txt\"",
        ),
        "autostart" => (
            "Bring the environment back after a reboot with a systemd user unit\n\
             (--autostart / --no-autostart). Default: true.",
            "true",
        ),
        _ => ("", ""),
    }
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> FileSettings {
        parse(Path::new("/p/mlenv.toml"), text, Path::new("/p")).unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse(Path::new("/p/mlenv.toml"), text, Path::new("/p")).unwrap_err()
    }

    #[test]
    fn every_key_with_its_line() {
        let s = parse_ok(
            "# comment\n\
             image = \"localhost/x:1\"\n\
             ports = [8888, \"127.0.0.1:6006:6006\"]\n\
             env-file = \".env\"\n\
             gpus = [0, 1]\n\
             memory = \"16g\"\n\
             cpus = 2.5\n\
             user-mapping = false\n\
             requirements = \"req/dev.txt\"\n\
             autostart = false\n",
        );
        let image = s.image.unwrap();
        assert_eq!((image.value.as_str(), image.line), ("localhost/x:1", 2));
        assert_eq!(s.ports.unwrap().value, ["8888", "127.0.0.1:6006:6006"]);
        assert_eq!(s.env_file.unwrap().value, Path::new("/p/.env"));
        assert_eq!(s.gpus.unwrap().value, "0,1");
        assert_eq!(s.memory.unwrap().value, "16g");
        let cpus = s.cpus.unwrap();
        assert_eq!((cpus.value.as_str(), cpus.line), ("2.5", 7));
        assert!(!s.user_mapping.unwrap().value);
        assert_eq!(s.requirements.unwrap().value, Path::new("/p/req/dev.txt"));
        assert!(!s.autostart.unwrap().value);
    }

    #[test]
    fn accepted_shapes() {
        let cases: &[(&str, &str)] = &[
            ("ports = \"8888,6006\"", "8888,6006"),
            ("ports = 8888", "8888"),
            ("gpus = \"all\"", "all"),
            ("gpus = [\"nvidia.com/gpu=0\"]", "nvidia.com/gpu=0"),
            ("cpus = 4", "4"),
            ("cpus = \"3\"", "3"),
            ("requirements = \"none\"", "none"),
            ("env-file = \"/abs/.env\"", "/abs/.env"),
        ];
        for (text, want) in cases {
            let s = parse_ok(text);
            let got = s
                .ports
                .map(|v| v.value.join(","))
                .or(s.gpus.map(|v| v.value))
                .or(s.cpus.map(|v| v.value))
                .or(s.requirements.map(|v| v.value.display().to_string()))
                .or(s.env_file.map(|v| v.value.display().to_string()))
                .unwrap();
            assert_eq!(got, *want, "{text}");
        }
    }

    #[test]
    fn errors_name_the_file_line_and_what_is_accepted() {
        let cases: &[(&str, &str)] = &[
            (
                "\n\nmemroy = \"1g\"",
                "/p/mlenv.toml:3: unknown field `memroy`",
            ),
            ("port = [1]", "(did you mean `ports`?)"),
            ("env_file = \".env\"", "(did you mean `env-file`?)"),
            ("no-user-mapping = true", "(did you mean `user-mapping`?)"),
            ("gpu = \"all\"", "(did you mean `gpus`?)"),
            (
                "\nuser-mapping = \"yes\"",
                "/p/mlenv.toml:2: invalid user-mapping = \"yes\": expected true or false",
            ),
            (
                "memory = 16",
                "/p/mlenv.toml:1: invalid memory = 16: expected a size in quotes",
            ),
            ("cpus = true", "invalid cpus = true: expected a number"),
            ("ports = [{a = 1}]", "invalid ports = "),
            ("gpus = 1.5", "invalid gpus = 1.5: expected \"all\""),
            (
                "env-file = \"\"",
                "invalid env-file = \"\": expected a file name",
            ),
            (
                "requirements = false",
                "invalid requirements = false: expected \"none\" or a file",
            ),
            ("image = [\"a\"]", "invalid image = "),
            ("memory = 16g", "/p/mlenv.toml:1:"),
            ("\n\n\nimage = \"a\"\nimage = \"b\"", "/p/mlenv.toml:5:"),
        ];
        for (text, want) in cases {
            let err = parse_err(text);
            assert!(
                err.contains(want),
                "{text:?}\n  got:  {err}\n  want: {want}"
            );
        }
    }

    #[test]
    fn project_over_user_per_key() {
        let project = parse_ok("memory = \"8g\"");
        let user = parse_ok("memory = \"4g\"\ncpus = 2\nimage = \"u\"");
        let merged = project.over(user);
        assert_eq!(merged.memory.unwrap().value, "8g");
        assert_eq!(merged.cpus.unwrap().value, "2");
        assert_eq!(merged.image.unwrap().value, "u");
        assert!(merged.ports.is_none());
    }

    #[test]
    fn validator_messages_are_restated_for_the_key() {
        let at = At {
            value: (),
            file: PathBuf::from("/p/mlenv.toml"),
            line: 4,
        };
        assert_eq!(
            at.error(
                "invalid --memory \"lots\": unknown unit; expected 16g",
                "memory",
                "memory"
            ),
            "/p/mlenv.toml:4: invalid memory = \"lots\": unknown unit; expected 16g"
        );
        assert_eq!(
            at.error(
                "Requirements file not found: /p/x",
                "requirements",
                "requirements"
            ),
            "/p/mlenv.toml:4: Requirements file not found: /p/x"
        );
    }

    #[test]
    fn rendered_files_parse_back() {
        let all_commented = render(&[]);
        assert_eq!(parse_ok(&all_commented), FileSettings::default());
        for key in KEYS {
            assert!(all_commented.contains(&format!("\n# {key} = ")), "{key}");
        }
        // Every commented example is itself a valid line.
        let examples: String = all_commented
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| KEYS.iter().any(|k| l.starts_with(&format!("{k} = "))))
            .map(|l| format!("{l}\n"))
            .collect();
        let s = parse_ok(&examples);
        assert!(s.image.is_some() && s.autostart.is_some() && s.requirements.is_some());

        let text = render(&[
            ("image", Some(quote("localhost/a \"b\"\\c"))),
            ("memory", Some(quote("2g"))),
            ("user-mapping", Some("false".into())),
        ]);
        let s = parse_ok(&text);
        assert_eq!(s.image.unwrap().value, "localhost/a \"b\"\\c");
        assert_eq!(s.memory.unwrap().value, "2g");
        assert!(!s.user_mapping.unwrap().value);
        assert!(s.ports.is_none());
    }
}
