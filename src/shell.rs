//! Quoting for the shell commands mlenv shows to users or runs with `sh -c`.

/// `s` as one POSIX shell word: unchanged when it is plainly safe, else single-quoted.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%=,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The image's own shell setup, as an interactive `sh` reads it: the file named by `ENV`.
/// NGC images point it at /etc/shinit_v2, which switches CUDA forward compatibility on (the
/// compat libraries first on LD_LIBRARY_PATH when the host driver is older than the image's
/// CUDA), as their entrypoint does. mlenv replaces the entrypoint with its keep-alive and
/// runs commands with `sh -c`, which reads no file at all; so every command it starts
/// begins with this line. An image that sets no `ENV` runs the command exactly as before.
///
/// Sourcing `ENV` rather than wrapping each command in the image's entrypoint: the
/// entrypoint prints a banner on stdout (which `exec -c` must keep byte-exact) and runs
/// every script of /opt/nvidia/entrypoint.d each time; the file costs one `.` of a short
/// script. `BASH_ENV` needs nothing from mlenv: bash reads it itself whenever a command
/// starts one.
///
/// Only an absolute path to a readable file: `.` looks a name without a slash up in PATH,
/// and an `ENV=test` from a project's `.env` (a common name there) must not make every
/// command source /usr/bin/test.
pub const IMAGE_SETUP: &str =
    "case \"${ENV:-}\" in /*) if [ -f \"$ENV\" ] && [ -r \"$ENV\" ]; then . \"$ENV\"; fi ;; esac";

/// `script` preceded by [`IMAGE_SETUP`], on a line of its own so that the script's own
/// first line is parsed as it was written.
pub fn with_image_setup(script: &str) -> String {
    format!("{IMAGE_SETUP}\n{script}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_setup_runs_first_and_only_when_env_names_a_file() {
        let script = with_image_setup("echo \"$X\"");
        let run = |env: &[(&str, &str)]| {
            let out = std::process::Command::new("/bin/sh")
                .args(["-c", &script])
                .env_clear()
                .envs(env.iter().copied())
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        };
        let dir = std::env::temp_dir().join(format!("mlenv-shinit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("shinit");
        std::fs::write(&file, "X=from-setup; export X\n").unwrap();
        let file = file.to_str().unwrap();
        assert_eq!(run(&[("ENV", file)]), (Some(0), "from-setup\n".into()));
        assert_eq!(run(&[]), (Some(0), "\n".into()));
        assert_eq!(run(&[("ENV", "/nonexistent")]), (Some(0), "\n".into()));
        assert_eq!(run(&[("X", "given")]), (Some(0), "given\n".into()));
        // A relative name (a project's ENV=test) or a folder is not sourced.
        assert_eq!(
            run(&[("ENV", "test"), ("PATH", "/usr/bin:/bin")]),
            (Some(0), "\n".into())
        );
        assert_eq!(run(&[("ENV", "/tmp")]), (Some(0), "\n".into()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn words() {
        let cases = [
            ("/etc/cdi/nvidia.yaml", "/etc/cdi/nvidia.yaml"),
            ("8888:8888", "8888:8888"),
            ("/home/a b/x", "'/home/a b/x'"),
            ("it's", "'it'\\''s'"),
            ("$HOME", "'$HOME'"),
            ("", "''"),
        ];
        for (input, want) in cases {
            assert_eq!(quote(input), want, "{input}");
        }
    }
}
