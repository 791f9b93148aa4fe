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

#[cfg(test)]
mod tests {
    use super::*;

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
