//! `mlenv clean`: remove mlenv's own files for a project; never the project's files.

use color_eyre::eyre::{eyre, Result};

use crate::config::{Clean, Config};
use crate::podman::Podman;

pub async fn run(_cfg: &Config, _podman: &Podman, _clean: &Clean) -> Result<()> {
    Err(eyre!("mlenv clean is not built yet"))
}
