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
use self::plan::{check, plan, Item, Plan};

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
    let planned = plan(
        &[find_one(cfg, podman).await?],
        pip_cache.as_deref(),
        volumes,
        false,
    );
    check(&planned, &roots)?;
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
    let planned = plan(
        &[find_one(cfg, podman).await?],
        pip_cache.as_deref(),
        volumes,
        false,
    );
    check(&planned, &roots)?;
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

/// What `--all` removes, project by project, and what it keeps.
fn listing(plan: &Plan) -> String {
    let mut out = String::from("mlenv clean --all removes:\n");
    for g in plan.groups.iter().filter(|g| !g.remove.is_empty()) {
        match &g.project {
            Some(p) => out.push_str(&format!("  {p} ({})\n", g.name)),
            None => out.push_str(&format!(
                "  {} (project folder unknown: its container is gone and its state dir does not say)\n",
                g.name
            )),
        }
        for item in &g.remove {
            out.push_str(&format!("    {}\n", item.describe()));
        }
    }
    if !plan.shared_remove.is_empty() {
        out.push_str("  shared by all projects\n");
        for item in &plan.shared_remove {
            out.push_str(&format!("    {}\n", item.describe()));
        }
    }
    let kept: Vec<&Item> = plan
        .groups
        .iter()
        .flat_map(|g| &g.kept)
        .chain(&plan.shared_kept)
        .collect();
    if !kept.is_empty() {
        out.push_str("and keeps (add --volumes to remove them too):\n");
        for item in kept {
            out.push_str(&format!("    {}\n", item.describe()));
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::plan::Found;
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    fn env(name: &str) -> Found {
        Found {
            name: name.into(),
            project: Some(format!("/home/u/{name}")),
            ..Found::default()
        }
    }

    #[test]
    fn listing_groups_by_project() {
        let found = [
            Found {
                containers: vec![("mlenv-a".into(), true)],
                state_dir: Some(p("/s/mlenv-a")),
                data_dir: Some(p("/d/mlenv-a")),
                ..env("mlenv-a")
            },
            Found {
                name: "mlenv-b".into(),
                state_dir: Some(p("/s/mlenv-b")),
                ..Found::default()
            },
        ];
        let text = listing(&plan(&found, Some(Path::new("/c/pip")), false, true));
        assert_eq!(
            text,
            "mlenv clean --all removes:
  /home/u/mlenv-a (mlenv-a)
    container mlenv-a (running: it is stopped first)
    state and logs /s/mlenv-a
  mlenv-b (project folder unknown: its container is gone and its state dir does not say)
    state and logs /s/mlenv-b
and keeps (add --volumes to remove them too):
    installed packages /d/mlenv-a
    pip download cache /c/pip
"
        );
    }
}
