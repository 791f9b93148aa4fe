//! Integration tests: the real `mlenv` binary against a real rootless Podman service, with
//! every effect checked through an independent client (the podman CLI, curl, /proc).
//!
//! They run as the unprivileged test user that `tests/setup-host.sh` prepares; `tests/run`
//! builds them and runs them as that user. Run by hand:
//! `runuser -u mlenvtest -- env XDG_RUNTIME_DIR=/run/user/1001 HOME=/home/mlenvtest PATH=/usr/bin:/bin target/debug/deps/integration-*`
//!
//! The same tests run against rootless podman 5 with `MLENV_TEST_PODMAN=5 tests/it` (after
//! `tests/setup-podman5.sh`). A test that applies to one podman only says so in its code,
//! with the reason: `harness::podman_version`, `harness::skip_on_podman`.

mod harness;
#[path = "../support/nvidia_tree.rs"]
mod nvidia_tree;
#[path = "../support/systemd_exec.rs"]
mod systemd_exec;

mod autostart;
mod bad_input;
mod clean;
mod config;
mod core;
mod doctor;
mod exec_status;
mod export;
mod faults;
mod gpu;
mod listing;
mod ngc;
mod pull;
mod requirements;
mod rootful;
mod servers;
