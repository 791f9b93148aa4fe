//! `mlenv list`: every environment of the user, checked against `podman ps`.

use crate::harness::*;

#[test]
fn list_shows_every_environment_like_podman_ps() {
    let a = Project::new("list-a");
    let b = Project::new("list-b");
    let port = free_port();
    a.up(&["--gpu", "none", "--port", &format!("{port}:8080")]);
    b.up(&["--gpu", TEST_CDI_DEVICE]);
    b.ok(&["down"]);
    let (na, nb) = (a.name(), b.name());

    let v: serde_json::Value = serde_json::from_slice(&a.ok(&["list", "--json"]).stdout).unwrap();
    let find = |name: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {v}"))
            .clone()
    };
    let (ea, eb) = (find(&na), find(&nb));
    assert_eq!(ea["project"], a.dir.to_str().unwrap());
    assert_eq!(ea["state"], "running");
    assert_eq!(
        ea["ports"],
        serde_json::json!([format!("127.0.0.1:{port}->8080/tcp")])
    );
    assert_eq!(eb["project"], b.dir.to_str().unwrap());
    assert_eq!(eb["state"], "exited");
    assert_eq!(eb["gpus"], serde_json::json!([TEST_CDI_DEVICE]));

    // The witness: podman's own list of mlenv containers has the same states.
    let ps = podman(&[
        "ps",
        "-a",
        "--filter",
        "label=io.mlenv.project",
        "--format",
        "json",
    ]);
    let ps: serde_json::Value = serde_json::from_slice(&ps.stdout).unwrap();
    let state = |name: &str| {
        ps.as_array()
            .unwrap()
            .iter()
            .find(|c| c["Names"][0] == name)
            .map(|c| c["State"].as_str().unwrap().to_string())
    };
    assert_eq!(state(&na).as_deref(), Some("running"), "{ps}");
    assert_eq!(state(&nb).as_deref(), Some("exited"), "{ps}");

    // Human output, from any folder (here b's).
    let table = text(&b.ok(&["list"]).stdout);
    assert!(
        table.contains(a.dir.to_str().unwrap()) && table.contains(b.dir.to_str().unwrap()),
        "{table}"
    );
}
