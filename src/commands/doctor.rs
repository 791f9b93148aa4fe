//! `mlenv doctor`: check the machine, each problem with its fix.

use color_eyre::eyre::{eyre, Result};

use crate::config::{Config, Doctor};
use crate::podman::Podman;

pub async fn run(_cfg: &Config, _podman: &Podman, _doctor: &Doctor) -> Result<()> {
    Err(eyre!("mlenv doctor is not built yet"))
}
