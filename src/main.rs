//! mlenv: per-project GPU development containers on rootless Podman.
//!
//! `main` only parses, runs, and maps the one error to a message and an exit code.

mod autostart;
mod cli;
mod commands;
mod config;
mod create;
mod envfile;
mod error;
mod export;
mod file_config;
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
mod ui;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::error::{CommandExit, Exit};

/// `mlenv man [SUBCOMMAND]`: the roff page the packages install.
fn man_page(subcommand: Option<&str>) -> ExitCode {
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
            None => {
                eprintln!("✖ no subcommand {name:?}");
                return ExitCode::from(error::EXIT_INVALID);
            }
        },
    };
    match clap_mangen::Man::new(page).render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
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
        Command::Man(args) => return man_page(args.subcommand.as_deref()),
        _ => {}
    }
    ui::init(match (cli.global.quiet, cli.global.verbose) {
        (true, _) => ui::Verbosity::Quiet,
        (_, true) => ui::Verbosity::Verbose,
        _ => ui::Verbosity::Normal,
    });
    let result = Config::from_cli(cli).and_then(|mut cfg| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(commands::validate(&mut cfg))?;
        // `clean` removes the state dir the log lives in; opening the log would create it.
        let log = match cfg.action {
            config::Action::Clean(_) => None,
            _ => Some(state::log_path(&cfg.project.state_dir)),
        };
        ui::init_log(log.as_deref());
        tracing::debug!(argv = ?std::env::args().collect::<Vec<_>>(), "start");
        let result = runtime.block_on(commands::run(&cfg));
        // Do not wait for a stdin reader still blocked in a read: the session is over.
        runtime.shutdown_background();
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(report) => {
            if let Some(CommandExit(code)) = report.downcast_ref::<CommandExit>() {
                return ExitCode::from(*code);
            }
            if let Some(exit) = report.downcast_ref::<Exit>() {
                ui::error(&exit.message);
                return ExitCode::from(exit.code);
            }
            ui::error(&format!("{report:#}"));
            ExitCode::FAILURE
        }
    }
}
