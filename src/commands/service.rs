//! `mlenv service start|stop|status`: podman's API service for this user, started in the
//! background by mlenv, for machines where `systemctl --user enable --now podman.socket` is
//! not possible: a login node reached over ssh or `su`, with no systemd user manager, no
//! lingering, and often no XDG_RUNTIME_DIR. The service gets the caller's environment as
//! it is, so that it keeps its runtime state (runc's above all) where the caller's podman
//! CLI looks for it, and listens where that podman puts its socket (`podman info`'s
//! RemoteSocket, which `podman --remote` and mlenv's own socket search both find). Its own
//! session keeps it alive after the shell that started it logs out, and its log and pid are
//! in mlenv's state folder.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use color_eyre::eyre::{eyre, Result, WrapErr};

use crate::config::{Config, ServiceAction};
use crate::podman::Podman;
use crate::ui;

/// How long a started service gets to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopped one gets to go before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where mlenv keeps the service's pid and log.
pub fn service_dir() -> Result<PathBuf> {
    Ok(crate::project::state_root()?.join("service"))
}

/// Where this user's podman puts its API socket, as `podman --remote` expects it: podman
/// 4 and 5 differ without a session (`podman-run-UID` against `storage-run-UID` in /tmp),
/// so podman is asked rather than guessed at. None when podman cannot say.
async fn podman_socket(program: &Path) -> Option<PathBuf> {
    let mut command = tokio::process::Command::new(program);
    command
        .current_dir("/")
        .args(["info", "--format", "{{.Host.RemoteSocket.Path}}"])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(START_TIMEOUT, command.output())
        .await
        .ok()?
        .ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    tracing::debug!(status = ?out.status, path, stderr = %String::from_utf8_lossy(&out.stderr).trim(), "podman info: its socket");
    (out.status.success() && path.starts_with('/')).then(|| PathBuf::from(path))
}

/// The pid in the pid file, when that process is still podman's service.
fn running_pid(dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dir.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let words: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let is_service = words.iter().any(|w| w.ends_with(b"podman"))
        && words
            .windows(2)
            .any(|w| w[0] == b"system" && w[1] == b"service");
    is_service.then_some(pid)
}

async fn answers(podman: &Podman) -> bool {
    podman.version().await.is_ok()
}

pub async fn run(cfg: &Config, podman: &Podman, action: ServiceAction) -> Result<()> {
    let dir = service_dir()?;
    let sock = &cfg.socket.path;
    match action {
        ServiceAction::Status => {
            let pid = running_pid(&dir);
            let up = answers(podman).await;
            let mut out = std::io::stdout().lock();
            let line = match (up, pid) {
                (true, Some(pid)) => format!(
                    "running: podman's API service on {} (pid {pid}, started by mlenv; log {})",
                    sock.display(),
                    dir.join("log").display()
                ),
                (true, None) => format!(
                    "running: podman's API service answers on {} (not started by mlenv)",
                    sock.display()
                ),
                (false, Some(pid)) => format!(
                    "not answering: mlenv's service (pid {pid}) runs but {} does not answer; see {}",
                    sock.display(),
                    dir.join("log").display()
                ),
                (false, None) => format!(
                    "stopped: nothing answers on {}; start it with `mlenv service start`",
                    sock.display()
                ),
            };
            ui::write_out(&mut out, format!("{line}\n").as_bytes())?;
            if up {
                Ok(())
            } else {
                // As every command that cannot reach the service.
                Err(crate::error::CommandExit(crate::error::EXIT_UNREACHABLE).into())
            }
        }
        ServiceAction::Start => {
            if answers(podman).await {
                ui::success(&format!(
                    "podman's API service already answers on {}",
                    sock.display()
                ));
                return Ok(());
            }
            let program = crate::fsx::which("podman")
                .ok_or_else(|| eyre!("podman is not installed (not found in PATH)"))?;
            // --host/CONTAINER_HOST names the socket; otherwise podman's own place for it.
            let own = if cfg.socket.explicit {
                None
            } else {
                podman_socket(&program).await
            };
            match own.filter(|own| own != sock) {
                Some(own) => start(&program, &own, &dir, &Podman::new(&own)).await,
                None => start(&program, sock, &dir, podman).await,
            }
        }
        ServiceAction::Stop => {
            let Some(pid) = running_pid(&dir) else {
                if answers(podman).await {
                    return Err(eyre!(
                        "the service on {} was not started by mlenv; stop it the way it was started (systemctl --user stop podman.socket podman.service)",
                        sock.display()
                    ));
                }
                ui::info("mlenv's podman service is not running");
                return Ok(());
            };
            let target = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM);
            let since = Instant::now();
            while running_pid(&dir).is_some() && since.elapsed() < STOP_TIMEOUT {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if running_pid(&dir).is_some() {
                let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = std::fs::remove_file(dir.join("pid"));
            ui::success(&format!(
                "Stopped podman's API service on {} (pid {pid}); containers keep running",
                sock.display()
            ));
            Ok(())
        }
    }
}

async fn start(program: &Path, sock: &Path, dir: &Path, podman: &Podman) -> Result<()> {
    crate::fsx::create_private_dir(dir)?;
    // One start at a time: a second would overwrite the first one's pid file.
    let file = std::fs::File::create(dir.join("lock"))
        .wrap_err_with(|| format!("cannot create {}", dir.join("lock").display()))?;
    // Held until this start has its answer.
    let _lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .wrap_err("cannot lock mlenv's service folder")?;
    if answers(podman).await {
        ui::success(&format!(
            "podman's API service already answers on {}",
            sock.display()
        ));
        return Ok(());
    }
    let uid = nix::unistd::getuid().as_raw();
    if let Some(runtime) = crate::podman::runtime_dir_for(sock) {
        // In /tmp (or any folder everyone may write to) anyone could have made the folder
        // first, to listen for our requests.
        let shared = runtime.parent().is_some_and(|p| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o002 != 0)
        });
        if shared {
            if runtime.exists() && !crate::podman::private_dir_of(&runtime, uid) {
                return Err(eyre!(
                    "{} is not a private folder of yours (another user may have made it); remove it, or start the service with XDG_RUNTIME_DIR set to a folder of your own",
                    runtime.display()
                ));
            }
            crate::fsx::create_private_dir(&runtime)?;
        }
    }
    if let Some(parent) = sock.parent() {
        crate::fsx::create_private_dir(parent)?;
    }
    // A socket file nothing listens on is a leftover of a service that died; one that
    // accepts (a systemd socket still activating its service) is not ours to remove.
    if let Err(e) = std::os::unix::net::UnixStream::connect(sock) {
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            let _ = std::fs::remove_file(sock);
        }
    } else {
        return Err(eyre!(
            "{} accepts connections but does not answer as podman's API; is another service starting there?",
            sock.display()
        ));
    }
    let log_path = dir.join("log");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .wrap_err_with(|| format!("cannot open {}", log_path.display()))?;
    writeln!(
        log,
        "--- mlenv service start: {} system service --time=0 unix://{}",
        program.display(),
        sock.display()
    )?;
    let mut command = std::process::Command::new(program);
    command
        // Not the caller's folder: if it is removed later, every conmon the service forks
        // fails ("Failed to get working directory").
        .current_dir("/")
        .args(["system", "service", "--time=0"])
        .arg(format!("unix://{}", sock.display()))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // The caller's environment as it is (no XDG_RUNTIME_DIR of mlenv's making): podman then
    // keeps its runtime files, runc's state among them, where the caller's podman CLI does,
    // and `podman stop` from a shell stops what the service started.
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // Its own session: a logout's SIGHUP to the shell's session does not reach it.
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let child = command
        .spawn()
        .wrap_err_with(|| format!("cannot run {}", program.display()))?;
    let pid = child.id();
    crate::fsx::write_atomic(&dir.join("pid"), format!("{pid}\n").as_bytes(), 0o600)?;
    let pb = ui::spinner(&format!(
        "Starting podman's API service on {}",
        sock.display()
    ));
    let since = Instant::now();
    let mut up = false;
    while since.elapsed() < START_TIMEOUT {
        if answers(podman).await {
            up = true;
            break;
        }
        if running_pid(dir).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    pb.finish_and_clear();
    if !up {
        let tail: String = std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        return Err(eyre!(
            "podman's API service did not answer on {} within {} s; its log ({}):\n{tail}",
            sock.display(),
            START_TIMEOUT.as_secs(),
            log_path.display()
        ));
    }
    ui::success(&format!(
        "Started podman's API service on {} (pid {pid}; log {}); `mlenv service stop` stops it",
        sock.display(),
        log_path.display()
    ));
    Ok(())
}
