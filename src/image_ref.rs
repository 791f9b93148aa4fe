//! Image references, checked before anything is sent to podman.

/// The NGC PyTorch image used when neither `--image` nor `MLENV_IMAGE` says otherwise.
pub const DEFAULT_IMAGE: &str = "nvcr.io/nvidia/pytorch:26.10-py3";

const ACCEPTED: &str =
    "expected [REGISTRY[:PORT]/]NAME[:TAG][@DIGEST] such as nvcr.io/nvidia/pytorch:26.10-py3";

/// Validates a reference by the distribution grammar: lower-case path components joined by
/// `.`, `_`, `__` or dashes; a tag of up to 128 word characters; a digest `algo:hex`.
pub fn validate(reference: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("invalid image {reference:?}: {why}; {ACCEPTED}"));
    if reference.is_empty() {
        return fail("it is empty");
    }
    if let Some(c) = reference
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        return fail(&format!("it contains {c:?}"));
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (reference, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(algo, hex)| {
            !algo.is_empty()
                && algo
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if !ok {
            return fail("the digest is not ALGORITHM:HEX");
        }
    }
    // A ':' after the last '/' starts the tag; one before it is a registry port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].find(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return fail(&format!("tag {tag:?} is not valid"));
        }
    }
    let mut components: Vec<&str> = name.split('/').collect();
    // The first component is a registry host when it looks like one.
    if components.len() > 1
        && (components[0].contains('.')
            || components[0].contains(':')
            || components[0] == "localhost")
    {
        let host = components.remove(0);
        let (h, port) = match host.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host, None),
        };
        let host_ok = !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b));
        let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !host_ok || !port_ok {
            return fail(&format!("registry {host:?} is not a host[:port]"));
        }
    }
    for c in &components {
        if !valid_component(c) {
            return fail(&format!(
                "name component {c:?} must be lower-case letters and digits, joined by '.', '_' or '-'"
            ));
        }
    }
    Ok(())
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    b.iter()
        .all(|&x| x.is_ascii_lowercase() || x.is_ascii_digit() || b"._-".contains(&x))
        && !c.contains("..")
        && !c.contains("___")
        && !c.contains("._")
        && !c.contains("_.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let ok = [
            DEFAULT_IMAGE,
            "busybox",
            "localhost/mlenv-test/busybox:latest",
            "localhost:5000/a/b:1.0",
            "docker.io/library/python:3.12-slim",
            "ghcr.io/org/my_image__x:v1",
            "quay.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "registry.example.com:443/team/img:tag@sha256:0123456789abcdef0123456789abcdef",
        ];
        for r in ok {
            assert_eq!(validate(r), Ok(()), "{r}");
        }
        let bad: &[(&str, &str)] = &[
            ("my image", "contains ' '"),
            ("", "empty"),
            ("Busybox", "name component \"Busybox\""),
            ("a:", "tag \"\""),
            ("a:-x", "tag \"-x\""),
            ("a@sha256:xyz", "digest"),
            ("-a/b", "name component \"-a\""),
            ("reg:port/a", "registry \"reg:port\""),
            ("a//b", "name component \"\""),
            ("img\t", "contains '\\t'"),
        ];
        for (r, want) in bad {
            let err = validate(r).unwrap_err();
            assert!(
                err.contains(want) && err.contains(&format!("{r:?}")),
                "{r:?}: {err}"
            );
        }
    }
}
