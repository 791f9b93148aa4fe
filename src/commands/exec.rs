//! `mlenv exec`: a login shell on a real TTY, or `-c CMD` through `sh -c` with stdout and
//! stderr kept apart, each after the image's own shell setup (`shell::IMAGE_SETUP`), as
//! you or, with `--root`, as root. Either way mlenv exits with the command's exit code.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;

use color_eyre::eyre::{eyre, Result, WrapErr};
use tokio::io::AsyncReadExt;

use crate::config::Config;
use crate::environment::{folder_replaced, not_created};
use crate::error::CommandExit;
use crate::podman::{ExecSpec, Output, Podman, Resizer};
use crate::shell::with_image_setup;
use crate::ui::{self, write_out};

/// Bash when the image has it, else sh; a login shell, as `toolbox enter` gives.
/// MLENV_PATH carries the environment's PATH past /etc/profile (see create::PROFILE_SCRIPT).
const LOGIN_SHELL: &str = "MLENV_PATH=\"$PATH\"; export MLENV_PATH; \
     if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi";

/// What to run: the argv, and whether it gets a terminal.
#[derive(Debug, PartialEq)]
pub struct Plan {
    pub argv: Vec<String>,
    pub tty: bool,
    pub stdin: bool,
}

/// `-c CMD` never gets a TTY (its output must stay byte-exact and split for pipes) and reads
/// stdin only when stdin is a pipe or a file. A shell gets a TTY when we have one.
pub fn plan(command: Option<&str>, stdin_is_tty: bool, stdout_is_tty: bool) -> Plan {
    match command {
        Some(cmd) => Plan {
            argv: vec!["/bin/sh".into(), "-c".into(), with_image_setup(cmd)],
            tty: false,
            stdin: !stdin_is_tty,
        },
        None => Plan {
            argv: vec!["/bin/sh".into(), "-c".into(), with_image_setup(LOGIN_SHELL)],
            tty: stdin_is_tty && stdout_is_tty,
            stdin: true,
        },
    }
}

pub async fn run(cfg: &Config, podman: &Podman, command: Option<&str>, root: bool) -> Result<()> {
    let name = cfg.project.container.as_str();
    let plan = plan(
        command,
        std::io::stdin().is_terminal(),
        std::io::stdout().is_terminal(),
    );
    let mut env: Vec<(String, String)> = Vec::new();
    if root {
        // The container's HOME is the user's; root's own is /root.
        env.push(("HOME".into(), "/root".into()));
    }
    if plan.tty {
        env.push((
            "TERM".into(),
            std::env::var("TERM").unwrap_or_else(|_| "xterm-256color".into()),
        ));
    }
    let spec = ExecSpec {
        argv: &plan.argv,
        env: &env,
        workdir: Some(cfg.project.dir_str()?),
        output: true,
        stdin: plan.stdin,
        tty: plan.tty,
        // Root inside. Rootless, it is a subordinate uid outside (keep-id maps the caller's
        // own uid to itself and root to the first subordinate one): nothing on the host.
        user: root.then_some("0"),
    };
    // Straight to exec create: the warm path costs no inspect. Only a failure asks why.
    let session = match podman.exec_create(name, &spec).await {
        Ok(session) => session,
        Err(err) => {
            return Err(match podman.inspect(name).await? {
                None => not_created(&cfg.project),
                Some(c) if !c.state.running => {
                    eyre!("{name} is {}; start it with `mlenv up`", c.state.status)
                }
                Some(c) if folder_replaced(&c, &cfg.project.dir) == Some(true) => eyre!(
                    "{} was replaced since {name} started, which still sees the old folder; `mlenv up` restarts it ({err})",
                    cfg.project.dir.display()
                ),
                Some(_) => err.into(),
            })
        }
    };

    let raw = plan.tty.then(RawTerminal::enter).transpose()?;
    let size = plan.tty.then(terminal_size).flatten();
    let (mut output, mut input) = session.start(plan.tty, size).await?;

    let stdin_task = plan.stdin.then(|| {
        tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if input.write(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
            // Closing our half tells the command its stdin ended.
            let _ = input.close().await;
        })
    });

    let resize_task = plan.tty.then(|| spawn_resizer(session.resizer()));

    let mut out_result: Result<()> = Ok(());
    while let Some(chunk) = output.next().await {
        let written = match chunk {
            Ok(Output::Stdout(b)) => write_out(&mut std::io::stdout().lock(), &b),
            Ok(Output::Stderr(b)) => write_out(&mut std::io::stderr().lock(), &b),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = written {
            out_result = Err(e);
            break;
        }
    }
    if let Some(t) = stdin_task {
        t.abort();
    }
    if let Some(t) = resize_task {
        t.abort();
    }
    drop(raw);
    out_result?;

    let code = session.exit_code().await?;
    tracing::debug!(code, "exec finished");
    if code == 0 {
        return Ok(());
    }
    // runc refuses every exec into a container whose project folder was replaced (its
    // working directory is "outside of container mount namespace root"): say what fixes it.
    // Asked only after a failure, so the warm path costs no inspect.
    if let Ok(Some(c)) = podman.inspect(name).await {
        if folder_replaced(&c, &cfg.project.dir) == Some(true) {
            ui::warn(&format!(
                "{} was replaced since {name} started, which still sees the old folder; `mlenv up` restarts it",
                cfg.project.dir.display()
            ));
        }
    }
    Err(CommandExit(code.clamp(0, 255) as u8).into())
}

/// Follows terminal resizes (SIGWINCH) into the exec session.
fn spawn_resizer(resizer: Resizer) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(mut winch) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        while winch.recv().await.is_some() {
            if let Some((w, h)) = terminal_size() {
                resizer.resize(w, h).await;
            }
        }
    })
}

/// (columns, rows) of the terminal on stdout, or stdin.
fn terminal_size() -> Option<(u16, u16)> {
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    for fd in [1, 0] {
        // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass.
        let r = unsafe { nix::libc::ioctl(fd, nix::libc::TIOCGWINSZ, &mut ws) };
        if r == 0 && ws.ws_col > 0 {
            return Some((ws.ws_col, ws.ws_row));
        }
    }
    None
}

/// Puts our terminal in raw mode for the session and restores it on drop, also on errors.
struct RawTerminal {
    saved: nix::sys::termios::Termios,
}

impl RawTerminal {
    fn enter() -> Result<RawTerminal> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).wrap_err("cannot read the terminal settings")?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)
            .wrap_err("cannot set the terminal to raw mode")?;
        Ok(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        use nix::sys::termios::{tcsetattr, SetArg};
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
        let _ = std::io::stdout().flush();
        if ui::is_verbose() {
            tracing::debug!("terminal restored");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let p = plan(Some("pip list"), true, true);
        assert_eq!(
            p.argv,
            [
                "/bin/sh",
                "-c",
                &format!("{}\npip list", crate::shell::IMAGE_SETUP)
            ]
        );
        assert!(!p.tty && !p.stdin);
        let p = plan(Some("cat"), false, false);
        assert!(!p.tty && p.stdin);
        let p = plan(None, true, true);
        assert!(p.tty && p.stdin);
        assert!(p.argv[2].ends_with(LOGIN_SHELL));
        let p = plan(None, false, true);
        assert!(!p.tty && p.stdin);
    }
}
