//! `mlenv logs`: the container's output, or mlenv's own debug log with `--mlenv`.

use std::io::Write;

use color_eyre::eyre::{Result, WrapErr};
use futures_util::StreamExt;
use podman_api::conn::TtyChunk;
use podman_api::opts::ContainerLogsOpts;

use super::not_created;
use crate::config::Config;
use crate::podman::Podman;
use crate::state;

pub async fn run(cfg: &Config, podman: &Podman, follow: bool, mlenv: bool) -> Result<()> {
    if mlenv {
        let path = state::log_path(&cfg.project.state_dir);
        let text = std::fs::read(&path)
            .wrap_err_with(|| format!("cannot read mlenv's log {}", path.display()))?;
        return write_out(&mut std::io::stdout().lock(), &text);
    }
    let name = &cfg.project.container;
    if podman.inspect(name).await?.is_none() {
        return Err(not_created(cfg));
    }
    let container = podman.api().containers().get(name.as_str());
    let opts = ContainerLogsOpts::builder()
        .stdout(true)
        .stderr(true)
        .follow(follow)
        .build();
    let mut stream = Box::pin(container.logs(&opts));
    while let Some(chunk) = stream.next().await {
        match chunk.map_err(|e| podman.explain(e))? {
            TtyChunk::StdErr(b) => write_out(&mut std::io::stderr().lock(), &b)?,
            TtyChunk::StdOut(b) => write_out(&mut std::io::stdout().lock(), &b)?,
            TtyChunk::StdIn(_) => {}
        }
    }
    Ok(())
}

/// Writes and flushes; a closed pipe (`mlenv logs | head`) ends quietly.
pub fn write_out(w: &mut impl Write, bytes: &[u8]) -> Result<()> {
    match w.write_all(bytes).and_then(|_| w.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Err(crate::error::CommandExit(0).into())
        }
        r => r.wrap_err("cannot write output"),
    }
}
