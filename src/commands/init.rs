//! `mlenv init`: write a commented mlenv.toml.

use color_eyre::eyre::{eyre, Result};

use crate::config::{Config, Init};

pub fn run(_cfg: &Config, _init: &Init) -> Result<()> {
    Err(eyre!("mlenv init is not built yet"))
}
