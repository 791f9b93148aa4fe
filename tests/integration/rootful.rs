//! mlenv against a rootful podman service: no keep-id there, so the container must run as
//! the caller's uid:gid. tests/setup-host.sh starts that service with a socket the test
//! user's group may use, and tests/it passes its path.

use std::os::unix::fs::MetadataExt;

use crate::harness::*;

fn rootful_host() -> String {
    let sock = std::env::var("MLENV_TEST_ROOTFUL_SOCKET").expect(
        "MLENV_TEST_ROOTFUL_SOCKET is not set: run through tests/it (tests/setup-host.sh starts the rootful service)",
    );
    format!("unix://{sock}")
}

/// The podman CLI as a client of the rootful service.
fn remote(host: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--remote", "--url", host];
    all.extend_from_slice(args);
    podman(&all)
}

/// Removes the rootful container however the test ends.
struct Cleanup<'a>(&'a str, String);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = remote(self.0, &["rm", "-f", "-t", "0", &self.1]);
    }
}

#[test]
fn rootful_up_runs_as_the_caller_uid_gid() {
    let host = rootful_host();
    let p = Project::new("rootful project");
    p.ok(&["--host", &host, "up", "--image", BUSYBOX, "--gpu", "none"]);
    let out = p.ok(&["--host", &host, "status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name = status["name"].as_str().unwrap().to_string();
    let _cleanup = Cleanup(&host, name.clone());
    assert_eq!(status["state"], "running");

    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    let out = remote(&host, &["inspect", &name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c[0]["Config"]["User"], format!("{uid}:{gid}"));
    assert!(
        c[0]["HostConfig"]["IDMappings"]["UidMap"]
            .as_array()
            .is_none_or(|m| m.is_empty()),
        "a rootful container got an ID mapping: {}",
        c[0]["HostConfig"]["IDMappings"]
    );

    // A file made inside belongs to the caller on the host, as with keep-id.
    let file = p.dir.join("made-inside");
    let out = remote(&host, &["exec", &name, "touch", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    let out = remote(&host, &["exec", &name, "id", "-u"]);
    assert_eq!(text(&out.stdout).trim(), uid.to_string());

    // And the rootless service never saw it.
    assert!(!exists(&name));
}
