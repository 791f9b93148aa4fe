//! Commands mlenv runs in an environment for itself whose output is progress (installs):
//! shown on stderr, copied to the debug log, a Ctrl-C passed on to the command.

use color_eyre::eyre::{Result, WrapErr};

use crate::error::{Exit, EXIT_INTERRUPTED};
use crate::podman::{ExecSpec, Output, Podman};
use crate::shell::with_image_setup;
use crate::ui::write_out;

/// Runs `argv` in the container without a TTY or stdin, showing its output on stderr when
/// `show` (mlenv's own stdout stays clean) and copying it to the debug log either way.
/// Returns the command's exit code and the end of its output (for the caller to explain
/// a failure).
pub async fn run_logged(
    podman: &Podman,
    name: &str,
    argv: &[String],
    env: &[(String, String)],
    workdir: &str,
    show: bool,
) -> Result<(i64, String)> {
    // After the image's own shell setup, as every command mlenv starts (shell::IMAGE_SETUP):
    // `sh` sources it and execs the command, which keeps the pid.
    let wrapped: Vec<String> = ["/bin/sh", "-c", &with_image_setup("exec \"$@\""), "mlenv"]
        .iter()
        .map(|s| s.to_string())
        .chain(argv.iter().cloned())
        .collect();
    let spec = ExecSpec {
        argv: &wrapped,
        env,
        workdir: Some(workdir),
        output: true,
        ..Default::default()
    };
    // Registered before the process starts, so a Ctrl-C at any moment is ours to pass on.
    let mut interrupted = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .wrap_err("cannot watch for Ctrl-C")?;
    let session = podman.exec_create(name, &spec).await?;
    let (mut output, _input) = session.start(false, None).await?;
    let pid = session.pid().await;
    let mut partial = String::new();
    // The last lines, for the caller to explain a failure; pip's resolver report is short.
    let mut tail = String::new();
    loop {
        let chunk = tokio::select! {
            chunk = output.next() => match chunk {
                Some(chunk) => chunk?,
                None => break,
            },
            _ = interrupted.recv() => {
                // The exec'd process would go on without us, and race the retry of the
                // next `up`: pass the Ctrl-C on to it.
                if let Some(pid) = pid.filter(|p| runs(*p, "/bin/sh") || runs(*p, &argv[0])) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGINT,
                    );
                }
                return Err(Exit {
                    code: EXIT_INTERRUPTED,
                    message: format!("Interrupted: stopped {}", argv.join(" ")),
                }
                .into());
            }
        };
        let (Output::Stdout(bytes) | Output::Stderr(bytes)) = chunk;
        if show {
            write_out(&mut std::io::stderr().lock(), &bytes)?;
        }
        let text = String::from_utf8_lossy(&bytes);
        tail.push_str(&text);
        if tail.len() > 64 * 1024 {
            let cut = tail.len() - 32 * 1024;
            let cut = (cut..tail.len())
                .find(|i| tail.is_char_boundary(*i))
                .unwrap_or(cut);
            tail.drain(..cut);
        }
        partial.push_str(&text);
        while let Some(nl) = partial.find('\n') {
            let line: String = partial.drain(..=nl).collect();
            tracing::debug!(target: "mlenv::exec", "{}", line.trim_end());
        }
    }
    if !partial.is_empty() {
        tracing::debug!(target: "mlenv::exec", "{}", partial.trim_end());
    }
    Ok((session.exit_code().await?, tail))
}

/// Whether host process `pid` is still `program` (podman reports the exec's host PID; this
/// guards against signalling a process that took the number since).
fn runs(pid: i64, program: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| c.split(|b| *b == 0).next() == Some(program.as_bytes()))
        .unwrap_or(false)
}
