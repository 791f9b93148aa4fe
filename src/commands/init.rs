//! `mlenv init`: write a commented mlenv.toml from the given flags.

use color_eyre::eyre::Result;

use crate::config::{Config, Init};
use crate::error::invalid;
use crate::ui;

pub fn run(_cfg: &Config, init: &Init) -> Result<()> {
    if init.path.exists() && !init.force {
        return Err(invalid(format!(
            "{} exists; edit it, or pass --force to replace it",
            init.path.display()
        )));
    }
    // Not secret (env values never go in it), and the project's own file: 0644.
    crate::fsx::write_atomic(&init.path, init.text.as_bytes(), 0o644)?;
    ui::success(&format!(
        "Wrote {}; `mlenv up` reads it",
        init.path.display()
    ));
    Ok(())
}
