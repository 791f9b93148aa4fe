//! `mlenv logs`: the container's output, or mlenv's own debug log with `--mlenv`.

use color_eyre::eyre::{Result, WrapErr};

use crate::config::Config;
use crate::environment::not_created;
use crate::podman::{Output, Podman};
use crate::state;
use crate::ui::write_out;

pub async fn run(cfg: &Config, podman: &Podman, follow: bool, mlenv: bool) -> Result<()> {
    if mlenv {
        let path = state::log_path(&cfg.project.state_dir);
        let text = std::fs::read(&path)
            .wrap_err_with(|| format!("cannot read mlenv's log {}", path.display()))?;
        return write_out(&mut std::io::stdout().lock(), &text);
    }
    let name = &cfg.project.container;
    if podman.inspect(name).await?.is_none() {
        return Err(not_created(&cfg.project));
    }
    podman
        .logs(name, follow, |chunk| match chunk {
            Output::Stderr(b) => write_out(&mut std::io::stderr().lock(), &b),
            Output::Stdout(b) => write_out(&mut std::io::stdout().lock(), &b),
        })
        .await
}
