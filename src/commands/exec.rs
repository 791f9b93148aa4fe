//! `mlenv exec`: a login shell on a real TTY, or `-c CMD` through `sh -c` with stdout and
//! stderr kept apart. Either way mlenv exits with the command's exit code.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;

use color_eyre::eyre::{eyre, Result, WrapErr};
use futures_util::{AsyncWriteExt, StreamExt};
use podman_api::conn::TtyChunk;
use podman_api::opts::{ExecCreateOpts, ExecStartOpts};
use tokio::io::AsyncReadExt;

use super::{logs::write_out, not_created};
use crate::config::Config;
use crate::error::CommandExit;
use crate::podman::Podman;
use crate::ui;

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
            argv: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
            tty: false,
            stdin: !stdin_is_tty,
        },
        None => Plan {
            argv: vec!["/bin/sh".into(), "-c".into(), LOGIN_SHELL.into()],
            tty: stdin_is_tty && stdout_is_tty,
            stdin: true,
        },
    }
}

pub async fn run(cfg: &Config, podman: &Podman, command: Option<&str>) -> Result<()> {
    let name = cfg.project.container.as_str();
    let plan = plan(
        command,
        std::io::stdin().is_terminal(),
        std::io::stdout().is_terminal(),
    );
    let mut env: Vec<(String, String)> = Vec::new();
    if plan.tty {
        env.push((
            "TERM".into(),
            std::env::var("TERM").unwrap_or_else(|_| "xterm-256color".into()),
        ));
    }
    let opts = ExecCreateOpts::builder()
        .command(plan.argv.clone())
        .attach_stdout(true)
        .attach_stderr(true)
        .attach_stdin(plan.stdin)
        .tty(plan.tty)
        .working_dir(cfg.project.dir_str()?)
        .env(env)
        .build();
    let container = podman.api().containers().get(name);
    // Straight to exec create: the warm path costs no inspect. Only a failure asks why.
    let exec = match container.create_exec(&opts).await {
        Ok(exec) => exec,
        Err(err) => {
            return Err(match podman.inspect(name).await? {
                None => not_created(cfg),
                Some(c) if !c.state.running => {
                    eyre!("{name} is {}; start it with `mlenv up`", c.state.status)
                }
                Some(_) => podman.explain(err),
            })
        }
    };

    let raw = plan.tty.then(RawTerminal::enter).transpose()?;
    let size = plan.tty.then(terminal_size).flatten();
    let mut start = ExecStartOpts::builder().tty(plan.tty);
    if let Some((w, h)) = size {
        start = start.width(w as usize).height(h as usize);
    }
    let mux = exec
        .start(&start.build())
        .await
        .map_err(|e| podman.explain(e))?
        .ok_or_else(|| eyre!("podman did not attach to the exec session"))?;
    let (mut output, mut input) = mux.split();

    let stdin_task = plan.stdin.then(|| {
        tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if input.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                        let _ = input.flush().await;
                    }
                }
            }
            // Closing our half tells the command its stdin ended.
            let _ = input.close().await;
        })
    });

    let resize_task = plan
        .tty
        .then(|| spawn_resizer(podman, exec.id().to_string()));

    let mut out_result: Result<()> = Ok(());
    while let Some(chunk) = output.next().await {
        let written = match chunk {
            Ok(TtyChunk::StdOut(b)) => write_out(&mut std::io::stdout().lock(), &b),
            Ok(TtyChunk::StdErr(b)) => write_out(&mut std::io::stderr().lock(), &b),
            Ok(TtyChunk::StdIn(_)) => Ok(()),
            Err(e) => Err(eyre!("the exec stream broke: {e}")),
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

    let info = exec.inspect().await.map_err(|e| podman.explain(e))?;
    let code = info["ExitCode"]
        .as_i64()
        .ok_or_else(|| eyre!("podman reported no exit code for the command"))?;
    tracing::debug!(code, "exec finished");
    if code == 0 {
        Ok(())
    } else {
        Err(CommandExit(code.clamp(0, 255) as u8).into())
    }
}

/// Follows terminal resizes (SIGWINCH) into the exec session.
fn spawn_resizer(podman: &Podman, id: String) -> tokio::task::JoinHandle<()> {
    let api = podman.api().clone();
    tokio::spawn(async move {
        let Ok(mut winch) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        while winch.recv().await.is_some() {
            if let Some((w, h)) = terminal_size() {
                let exec = api.execs().get(id.clone());
                if let Err(e) = exec.resize(w as usize, h as usize).await {
                    tracing::debug!("resize failed: {e}");
                }
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

/// Runs `argv` in the container without a TTY or stdin, showing its output on stderr when
/// `show` (mlenv's own stdout stays clean) and copying it to the debug log either way.
/// Returns the command's exit code. Used for installs, whose output is progress.
pub async fn run_logged(
    podman: &Podman,
    name: &str,
    argv: &[String],
    env: &[(String, String)],
    workdir: &str,
    show: bool,
) -> Result<i64> {
    let opts = ExecCreateOpts::builder()
        .command(argv)
        .attach_stdout(true)
        .attach_stderr(true)
        .working_dir(workdir)
        .env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .build();
    // Registered before the process starts, so a Ctrl-C at any moment is ours to pass on.
    let mut interrupted = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .wrap_err("cannot watch for Ctrl-C")?;
    let (exec, mux) = start_attached(podman, name, &opts).await?;
    let (mut output, _input) = mux.split();
    let pid = exec
        .inspect()
        .await
        .ok()
        .and_then(|i| i["Pid"].as_i64())
        .filter(|p| *p > 0);
    let mut partial = String::new();
    loop {
        let chunk = tokio::select! {
            chunk = output.next() => match chunk {
                Some(chunk) => chunk,
                None => break,
            },
            _ = interrupted.recv() => {
                // The exec'd process would go on without us, and race the retry of the
                // next `up`: pass the Ctrl-C on to it.
                if let Some(pid) = pid.filter(|p| runs(*p, &argv[0])) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGINT,
                    );
                }
                return Err(crate::error::Exit {
                    code: 130,
                    message: format!("Interrupted: stopped {}", argv.join(" ")),
                }
                .into());
            }
        };
        let bytes = match chunk {
            Ok(TtyChunk::StdOut(b)) | Ok(TtyChunk::StdErr(b)) => b,
            Ok(TtyChunk::StdIn(_)) => continue,
            Err(e) => return Err(eyre!("the exec stream broke: {e}")),
        };
        if show {
            write_out(&mut std::io::stderr().lock(), &bytes)?;
        }
        partial.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(nl) = partial.find('\n') {
            let line: String = partial.drain(..=nl).collect();
            tracing::debug!(target: "mlenv::exec", "{}", line.trim_end());
        }
    }
    if !partial.is_empty() {
        tracing::debug!(target: "mlenv::exec", "{}", partial.trim_end());
    }

    let info = exec.inspect().await.map_err(|e| podman.explain(e))?;
    info["ExitCode"]
        .as_i64()
        .ok_or_else(|| eyre!("podman reported no exit code for {}", argv.join(" ")))
}

/// Creates an exec session in `name`.
pub async fn create_session(
    podman: &Podman,
    name: &str,
    opts: &ExecCreateOpts,
) -> Result<podman_api::api::Exec> {
    podman
        .api()
        .containers()
        .get(name)
        .create_exec(opts)
        .await
        .map_err(|e| podman.explain(e))
}

/// Creates an exec session and starts it without a TTY, attached to its output: what every
/// command mlenv runs for itself (installs, queries) does.
async fn start_attached(
    podman: &Podman,
    name: &str,
    opts: &ExecCreateOpts,
) -> Result<(podman_api::api::Exec, podman_api::conn::Multiplexer)> {
    let exec = create_session(podman, name, opts).await?;
    let mux = exec
        .start(&ExecStartOpts::builder().tty(false).build())
        .await
        .map_err(|e| podman.explain(e))?
        .ok_or_else(|| eyre!("podman did not attach to the exec session"))?;
    Ok((exec, mux))
}

/// Runs `argv` in the container without a TTY or stdin and returns its exit code, stdout and
/// stderr. For short queries whose output mlenv reads (nvidia-smi for `status`).
pub async fn capture(
    podman: &Podman,
    name: &str,
    argv: &[String],
) -> Result<(i64, Vec<u8>, Vec<u8>)> {
    let opts = ExecCreateOpts::builder()
        .command(argv)
        .attach_stdout(true)
        .attach_stderr(true)
        .build();
    let (exec, mux) = start_attached(podman, name, &opts).await?;
    let (mut output, _input) = mux.split();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while let Some(chunk) = output.next().await {
        match chunk {
            Ok(TtyChunk::StdOut(b)) => out.extend_from_slice(&b),
            Ok(TtyChunk::StdErr(b)) => err.extend_from_slice(&b),
            Ok(TtyChunk::StdIn(_)) => {}
            Err(e) => return Err(eyre!("the exec stream broke: {e}")),
        }
    }
    let info = exec.inspect().await.map_err(|e| podman.explain(e))?;
    let code = info["ExitCode"]
        .as_i64()
        .ok_or_else(|| eyre!("podman reported no exit code for {}", argv.join(" ")))?;
    tracing::debug!(code, command = %argv.join(" "), "captured exec");
    Ok((code, out, err))
}

/// Whether host process `pid` is still `program` (podman reports the exec's host PID; this
/// guards against signalling a process that took the number since).
fn runs(pid: i64, program: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| c.split(|b| *b == 0).next() == Some(program.as_bytes()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let p = plan(Some("pip list"), true, true);
        assert_eq!(p.argv, ["/bin/sh", "-c", "pip list"]);
        assert!(!p.tty && !p.stdin);
        let p = plan(Some("cat"), false, false);
        assert!(!p.tty && p.stdin);
        let p = plan(None, true, true);
        assert!(p.tty && p.stdin);
        assert_eq!(p.argv[2], LOGIN_SHELL);
        let p = plan(None, false, true);
        assert!(!p.tty && p.stdin);
    }
}
