//! mlenv: per-project GPU development containers on rootless Podman.
//!
//! `main` only parses, runs, and maps the one error to a message and an exit code.

mod autostart;
mod cli;
mod commands;
mod config;
mod create;
mod dirs;
mod envfile;
mod environment;
mod error;
mod export;
mod file_config;
mod fsx;
mod gpu;
mod image_ref;
mod limits;
mod nvidia;
mod podman;
mod ports;
mod project;
mod requirements;
mod settings;
mod shell;
mod state;
mod systemd;
mod ui;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::Config;

/// `mlenv man [SUBCOMMAND]`: the roff page the packages install.
fn man_page(subcommand: Option<&str>) -> color_eyre::Result<()> {
    let mut cmd = cli::command();
    cmd.build();
    let page = match subcommand {
        None => cmd,
        // `gpu-setup` is the page of `mlenv gpu setup`.
        Some(name) => match name
            .split('-')
            .try_fold(&cmd, |c, part| c.find_subcommand(part))
        {
            // clap wants a static name; this process prints one page and exits.
            Some(sub) => sub.clone().name(&*format!("mlenv-{name}").leak()),
            None => return Err(error::invalid(format!("no subcommand {name:?}"))),
        },
    };
    clap_mangen::Man::new(page)
        .render(&mut std::io::stdout())
        .map_err(Into::into)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Completions(args) => {
            clap_complete::generate(
                args.shell,
                &mut cli::command(),
                "mlenv",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Command::Man(args) if args.markdown => {
            print!("{}", cli::reference_markdown());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    ui::init(match (cli.global.quiet, cli.global.verbose) {
        (true, _) => ui::Verbosity::Quiet,
        (_, true) => ui::Verbosity::Verbose,
        _ => ui::Verbosity::Normal,
    });
    let result = match &cli.command {
        Command::Man(args) => man_page(args.subcommand.as_deref()),
        _ => run(cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(report) => {
            let (code, message) = error::exit_of(&report);
            if let Some(message) = message {
                ui::error(&message);
            }
            ExitCode::from(code)
        }
    }
}

/// Validates the command line into a [`Config`] and runs its command.
fn run(cli: Cli) -> color_eyre::Result<()> {
    Config::from_cli(cli).and_then(|mut cfg| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // One client for the whole run: what it learns (podman's version) is asked once.
        let podman = podman::Podman::new(&cfg.socket.path);
        runtime.block_on(commands::validate(&mut cfg, &podman))?;
        // `clean` removes the state dir the log lives in; opening the log would create it.
        let log = match cfg.action {
            config::Action::Clean(_) => None,
            _ => Some(state::log_path(&cfg.project.state_dir)),
        };
        ui::init_log(log.as_deref());
        tracing::debug!(argv = ?std::env::args().collect::<Vec<_>>(), "start");
        let result = runtime.block_on(commands::run(&cfg, &podman));
        // Do not wait for a stdin reader still blocked in a read: the session is over.
        runtime.shutdown_background();
        result
    })
}
