//! `mlenv clean [--volumes] [--all] [--yes]`: remove what mlenv keeps for a project (its
//! container, its state dir, its autostart unit; with `--volumes` its installed packages),
//! never the project's own files.
//!
//! Three steps, so that bad input or an unreachable service never half-cleans: find what
//! exists (one inspect per container, or one list call for `--all`), plan what goes with the
//! pure [`plan`], and check every path of the plan with the pure [`is_ours`] before the first
//! removal. mlenv makes no named podman volumes: the "volumes" are the bind-mounted host
//! folders of [`crate::create`], the per-project data dir (installed packages, the
//! requirements record, the profile snippet) and pip's download cache, which is shared by
//! every project and so goes only with `--all --volumes`.
//!
//! [`plan`] holds the pure steps, [`find`] what exists, [`execute`] the removals.

mod execute;
mod find;
mod plan;

use std::io::{BufRead, IsTerminal, Write};

use color_eyre::eyre::{Result, WrapErr};

use crate::config::{Clean, Config};
use crate::error::Exit;
use crate::podman::Podman;
use crate::{state, ui};

use self::execute::execute;
use self::find::{find_all, find_one, present_dir, roots};
use self::plan::{check, listing, plan, Item, Plan};

pub async fn run(cfg: &Config, podman: &Podman, clean: &Clean) -> Result<()> {
    // `--yes` without `--all` is accepted and does nothing: a single project is never asked.
    if clean.all {
        all(cfg, podman, clean).await
    } else {
        one(cfg, podman, clean.volumes).await
    }
}

async fn one(cfg: &Config, podman: &Podman, volumes: bool) -> Result<()> {
    let pip_cache = present_dir(cfg.project.pip_cache.clone());
    let roots = roots(cfg, vec![cfg.project.dir.clone()])?;
    let dir = cfg.project.dir.display();
    // What exists, planned and checked: once to see, once more under the lock.
    let planned_now = || async {
        let planned = plan(
            &[find_one(cfg, podman).await?],
            pip_cache.as_deref(),
            volumes,
            false,
        );
        check(&planned, &roots)?;
        Ok::<_, color_eyre::Report>(planned)
    };
    let planned = planned_now().await?;
    if planned.is_empty() {
        ui::info(&format!("nothing to clean for {dir}"));
        explain_kept(&planned, false);
        return Ok(());
    }
    // As `rm`: an `up` in flight finishes first. Taken only on a state dir that exists, so
    // that taking it creates nothing; then what exists is found again under it.
    let mut lock = match present_dir(cfg.project.state_dir.clone()) {
        Some(d) => Some(state::lock_project(&d)?),
        None => None,
    };
    let planned = planned_now().await?;
    for group in &planned.groups {
        execute(cfg, podman, &group.remove, lock.take()).await?;
    }
    explain_kept(&planned, false);
    Ok(())
}

async fn all(cfg: &Config, podman: &Podman, clean: &Clean) -> Result<()> {
    let (found, projects) = find_all(podman).await?;
    let pip_cache = present_dir(cfg.project.pip_cache.clone());
    let planned = plan(&found, pip_cache.as_deref(), clean.volumes, true);
    check(&planned, &roots(cfg, projects)?)?;
    if planned.is_empty() {
        ui::info("nothing to clean");
        explain_kept(&planned, true);
        return Ok(());
    }
    if !clean.yes || !ui::is_quiet() {
        eprint!("{}", listing(&planned));
    }
    if !clean.yes && !confirmed("Remove all of this? [y/N] ")? {
        return Err(Exit {
            code: crate::error::EXIT_FAILED,
            message: "nothing removed".into(),
        }
        .into());
    }
    for group in &planned.groups {
        if group.remove.is_empty() {
            continue;
        }
        // Each project's lock, as `rm` takes it, on a state dir that exists.
        let lock = match group.remove.iter().find_map(|i| match i {
            Item::StateDir(d) => Some(d),
            _ => None,
        }) {
            Some(d) => Some(state::lock_project(d)?),
            None => None,
        };
        execute(cfg, podman, &group.remove, lock).await?;
    }
    execute(cfg, podman, &planned.shared_remove, None).await?;
    explain_kept(&planned, true);
    Ok(())
}

/// Asks on stderr and reads one line from stdin: `y` or `yes` is a yes; anything else, or
/// the end of input, a no.
fn confirmed(question: &str) -> Result<bool> {
    eprint!("{question}");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .wrap_err("cannot read the answer from stdin")?;
    // A piped answer is not echoed: end the question's line.
    if !std::io::stdin().is_terminal() {
        eprintln!();
    }
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Says what stays, and the command that removes it.
fn explain_kept(plan: &Plan, all: bool) {
    let again = if all {
        "mlenv clean --all --volumes"
    } else {
        "mlenv clean --volumes"
    };
    for item in plan.groups.iter().flat_map(|g| &g.kept) {
        if let Item::Packages(p) = item {
            ui::info(&format!(
                "Kept installed packages {} (remove them with `{again}`)",
                p.display()
            ));
        }
    }
    for item in &plan.shared_kept {
        if let Item::PipCache(p) = item {
            ui::info(&format!(
                "Kept pip's download cache {}, shared by all your projects (remove it with `mlenv clean --all --volumes`)",
                p.display()
            ));
        }
    }
}
