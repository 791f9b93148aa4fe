//! `mlenv jupyter` and `mlenv tensorboard`: a server started inside the environment, as the
//! user, in the project folder, detached so it outlives the terminal, reached through a port
//! the container forwards. mlenv keeps what it started in the project's state dir (port,
//! URL, token: mode 0600), so a second call finds the running server and prints the same URL,
//! and `status` lists servers with a TCP probe, no exec.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use color_eyre::eyre::{eyre, Result, WrapErr};

use crate::config::{Config, ServerKind, ServerRequest};
use crate::environment::servers::{answers, Running};
use crate::error::invalid;
use crate::podman::{Container, Podman};
use crate::ui;

/// Inside the container: Jupyter's config, data and IPython dirs, kept with the installed
/// packages (a keep-id container's HOME is `/`, where Jupyter cannot write).
const JUPYTER_HOME: &str = "/opt/mlenv/python/jupyter";

/// JupyterLab asks on first start whether to fetch Jupyter's news from the internet; mlenv
/// answers no once (the setting is the user's to change afterwards).
const NO_NEWS: &str =
    "lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings";

/// How long a server may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(120);

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Jupyter => "jupyter",
            ServerKind::TensorBoard => "tensorboard",
        }
    }

    fn title(self) -> &'static str {
        match self {
            ServerKind::Jupyter => "JupyterLab",
            ServerKind::TensorBoard => "TensorBoard",
        }
    }

    /// The program whose absence means "not installed", and the requirement that adds it.
    fn program(self) -> (&'static str, &'static str) {
        match self {
            ServerKind::Jupyter => ("jupyter-lab", "jupyterlab"),
            ServerKind::TensorBoard => ("tensorboard", "tensorboard"),
        }
    }
}

fn state_file(cfg: &Config, kind: ServerKind, port: u16) -> PathBuf {
    cfg.project
        .state_dir
        .join("servers")
        .join(format!("{}-{port}.json", kind.name()))
}

/// Inside the container: the server's pid and log files, and its runtime files (HOME is `/`
/// in a keep-id container and not writable, so Jupyter is told where to write).
fn runtime_dir(kind: ServerKind, port: u16) -> String {
    format!("/tmp/mlenv-{}-{port}", kind.name())
}

/// The shell command that starts the server, detached from mlenv, its output in a log file.
/// Secrets (Jupyter's token) come in the environment, never in argv.
pub fn start_script(kind: ServerKind, port: u16, logdir: Option<&str>) -> String {
    let dir = runtime_dir(kind, port);
    let exec = match kind {
        ServerKind::Jupyter => format!(
            "f=\"$JUPYTER_CONFIG_DIR/{NO_NEWS}\"; [ -e \"$f\" ] || {{ mkdir -p \"${{f%/*}}\" && echo '{{\"fetchNews\": \"false\"}}' > \"$f\"; }}; \
             exec jupyter lab --no-browser --ip=0.0.0.0 --port={port} --ServerApp.port_retries=0 --ServerApp.root_dir=\"$MLENV_PROJECT\""
        ),
        ServerKind::TensorBoard => format!(
            "exec tensorboard --logdir {} --port {port} --bind_all",
            crate::shell::quote(logdir.unwrap_or("."))
        ),
    };
    format!("mkdir -p {dir} && echo $$ > {dir}/pid && {exec} > {dir}/log 2>&1")
}

/// The host address of container port `port`, as the container forwards it; 0.0.0.0 is
/// reached as 127.0.0.1.
pub fn forwarded(c: &Container, port: u16) -> Option<(String, u16)> {
    let bindings = c
        .network_settings
        .ports
        .as_ref()?
        .get(&format!("{port}/tcp"))?
        .as_ref()?;
    let b = bindings.first()?;
    let ip = match b.host_ip.as_str() {
        "" | "0.0.0.0" => "127.0.0.1".to_string(),
        "::" => "::1".to_string(),
        ip => ip.to_string(),
    };
    Some((ip, b.host_port.parse().ok()?))
}

fn url(kind: ServerKind, host: &str, host_port: u16, token: Option<&str>) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    match (kind, token) {
        (ServerKind::Jupyter, Some(t)) => format!("http://{host}:{host_port}/lab?token={t}"),
        _ => format!("http://{host}:{host_port}/"),
    }
}

pub async fn run(cfg: &Config, podman: &Podman, req: &ServerRequest) -> Result<()> {
    let kind = req.kind;
    let name = &cfg.project.container;
    let c = podman.inspect(name).await?.ok_or_else(|| {
        eyre!(
            "{name} does not exist; create it with the port forwarded: mlenv up --port {p}:{p}",
            p = req.port
        )
    })?;
    let file = state_file(cfg, kind, req.port);
    if req.stop {
        return stop(podman, &c, kind, req.port, &file).await;
    }
    // A stopped container has no live bindings: its recorded settings say what it forwards.
    let settings = crate::environment::recorded_settings(&c)?;
    let recorded = settings
        .ports
        .iter()
        .any(|p| p.container_port == req.port && p.protocol == "tcp");
    if !recorded {
        return Err(invalid(format!(
            "{name} does not forward container port {p}, which {} would listen on; apply it with: mlenv up --port {p}:{p} --recreate (or pass --port with a port it forwards: {})",
            kind.title(),
            show_forwarded(&settings),
            p = req.port,
        )));
    }
    let c = if c.state.running {
        c
    } else {
        crate::environment::start_stopped(podman, name, &settings).await?;
        podman
            .inspect(name)
            .await?
            .ok_or_else(|| eyre!("{name} disappeared"))?
    };
    let (host, host_port) = forwarded(&c, req.port).ok_or_else(|| {
        eyre!(
            "podman reports no host port for container port {}",
            req.port
        )
    })?;

    // A second call finds the running server.
    if let Ok(bytes) = std::fs::read(&file) {
        if let Ok(r) = serde_json::from_slice::<Running>(&bytes) {
            if r.host_port == host_port && answers(&host, host_port) {
                ui::success(&format!("{} is running", kind.title()));
                print_url(&r.url)?;
                return Ok(());
            }
        }
    }
    if answers(&host, host_port) {
        return Err(eyre!(
            "something else already answers on {host}:{host_port} (container port {}); stop it, or pass another --port",
            req.port
        ));
    }

    let (program, requirement) = kind.program();
    let found = podman
        .capture(
            name,
            &["sh".into(), "-c".into(), format!("command -v {program}")],
        )
        .await?;
    if found.code != 0 {
        return Err(eyre!(
            "{} is not installed in {name}: add `{requirement}` to the project's requirements.txt and run `mlenv up`",
            kind.title()
        ));
    }

    let token = (kind == ServerKind::Jupyter).then(new_token).transpose()?;
    let mut env: Vec<(String, String)> = Vec::new();
    if let Some(t) = &token {
        let dir = runtime_dir(kind, req.port);
        env.push(("JUPYTER_TOKEN".into(), t.clone()));
        // Settings and workspaces persist beside the installed packages; sockets and
        // connection files are the server's alone.
        env.push(("JUPYTER_RUNTIME_DIR".into(), format!("{dir}/runtime")));
        env.push((
            "JUPYTER_CONFIG_DIR".into(),
            format!("{JUPYTER_HOME}/config"),
        ));
        env.push(("JUPYTER_DATA_DIR".into(), format!("{JUPYTER_HOME}/data")));
        env.push(("IPYTHONDIR".into(), format!("{JUPYTER_HOME}/ipython")));
    }
    let script = start_script(kind, req.port, req.logdir.as_deref());
    tracing::debug!(%script, "starting {}", kind.name());
    start_detached(podman, name, &script, &env, cfg.project.dir_str()?).await?;

    let pb = ui::spinner(&format!("Starting {}", kind.title()));
    let started = Instant::now();
    let mut up = false;
    while started.elapsed() < START_TIMEOUT {
        if answers(&host, host_port) {
            up = true;
            break;
        }
        if !alive(podman, name, kind, req.port).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    pb.finish_and_clear();
    if !up {
        let log = server_log(podman, name, kind, req.port).await;
        return Err(eyre!(
            "{} did not come up on {host}:{host_port}; its log ({}/log):\n{log}",
            kind.title(),
            runtime_dir(kind, req.port)
        ));
    }
    let r = Running {
        kind: kind.name().into(),
        port: req.port,
        host: host.clone(),
        host_port,
        url: url(kind, &host, host_port, token.as_deref()),
    };
    save(&file, &r)?;
    ui::success(&format!(
        "{} is running in {} (stop it with `mlenv {} --stop`)",
        kind.title(),
        cfg.project.dir.display(),
        kind.name()
    ));
    if kind == ServerKind::TensorBoard {
        // Loopback is shared by every user of a login node or lab machine.
        ui::warn(&format!(
            "TensorBoard has no login: anyone on this machine who can reach {host}:{host_port} can read it (on a shared login node, every user)"
        ));
    }
    ui::info(&tunnel_hint(
        &host,
        host_port,
        &crate::dirs::user_name(),
        &host_name(),
    ));
    print_url(&r.url)
}

/// The `ssh -L` line that brings a server on this machine's `host:port` to the same port on
/// the user's own computer.
pub fn tunnel_hint(host: &str, port: u16, user: &str, machine: &str) -> String {
    let target = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    format!(
        "From your own computer: ssh -N -L {port}:{target}:{port} {user}@{machine}, then open the URL there"
    )
}

/// The kernel's host name (what `hostname` prints).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "THIS-HOST".into())
}

fn print_url(url: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    crate::ui::write_out(&mut out, format!("{url}\n").as_bytes())?;
    Ok(())
}

fn show_forwarded(settings: &crate::settings::Settings) -> String {
    let ports: Vec<String> = settings
        .ports
        .iter()
        .filter(|p| p.protocol == "tcp")
        .map(|p| p.container_port.to_string())
        .collect();
    if ports.is_empty() {
        "none".into()
    } else {
        ports.join(", ")
    }
}

/// 24 random bytes, hex: Jupyter's own token length.
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .wrap_err("cannot read /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The record holds the token: only the user may read it.
fn save(file: &Path, r: &Running) -> Result<()> {
    if let Some(dir) = file.parent() {
        crate::state::create_private_dir(dir)?;
    }
    Ok(crate::fsx::write_atomic(
        file,
        serde_json::to_string_pretty(r)?.as_bytes(),
        0o600,
    )?)
}

async fn start_detached(
    podman: &Podman,
    name: &str,
    script: &str,
    env: &[(String, String)],
    workdir: &str,
) -> Result<()> {
    let argv = [
        "/bin/sh".to_string(),
        "-c".to_string(),
        crate::shell::with_image_setup(script),
    ];
    Ok(podman.exec_detached(name, &argv, env, workdir).await?)
}

/// Whether the server's process (its recorded pid) still runs in the container.
async fn alive(podman: &Podman, name: &str, kind: ServerKind, port: u16) -> bool {
    let dir = runtime_dir(kind, port);
    let probe = format!("[ -s {dir}/pid ] || exit 0; kill -0 \"$(cat {dir}/pid)\" 2>/dev/null");
    match podman
        .capture(name, &["sh".into(), "-c".into(), probe])
        .await
    {
        Ok(o) => o.code == 0,
        Err(_) => true,
    }
}

async fn server_log(podman: &Podman, name: &str, kind: ServerKind, port: u16) -> String {
    let cmd = format!("tail -n 20 {}/log 2>&1", runtime_dir(kind, port));
    match podman.capture(name, &["sh".into(), "-c".into(), cmd]).await {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => format!("(cannot read it: {e})"),
    }
}

async fn stop(
    podman: &Podman,
    c: &Container,
    kind: ServerKind,
    port: u16,
    file: &Path,
) -> Result<()> {
    let name = &c.name;
    if c.state.running {
        let dir = runtime_dir(kind, port);
        // TERM, then wait for it to go (Jupyter shuts its kernels down first).
        let script = format!(
            "[ -s {dir}/pid ] || exit 3; p=$(cat {dir}/pid); kill -TERM \"$p\" 2>/dev/null || exit 3; \
             for i in $(seq 100); do kill -0 \"$p\" 2>/dev/null || exit 0; sleep 0.1; done; kill -KILL \"$p\""
        );
        let code = podman
            .capture(name, &["sh".into(), "-c".into(), script])
            .await?
            .code;
        let _ = std::fs::remove_file(file);
        if code == 3 {
            ui::info(&format!("{} is not running", kind.title()));
        } else {
            ui::success(&format!("Stopped {}", kind.title()));
        }
    } else {
        let _ = std::fs::remove_file(file);
        ui::info(&format!(
            "{} is not running ({name} is stopped)",
            kind.title()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_scripts_keep_secrets_out_of_argv() {
        let s = start_script(ServerKind::Jupyter, 8888, None);
        assert!(
            s.contains("--port=8888") && s.contains("--ip=0.0.0.0"),
            "{s}"
        );
        assert!(!s.contains("token"), "{s}");
        let s = start_script(ServerKind::TensorBoard, 6006, Some("runs/it's"));
        assert!(
            s.contains("--logdir 'runs/it'\\''s' --port 6006 --bind_all"),
            "{s}"
        );
    }

    #[test]
    fn tunnels() {
        assert_eq!(
            tunnel_hint("127.0.0.1", 8888, "ada", "login1"),
            "From your own computer: ssh -N -L 8888:127.0.0.1:8888 ada@login1, then open the URL there"
        );
        assert!(tunnel_hint("::1", 6006, "ada", "l").contains("-L 6006:[::1]:6006 "));
    }

    #[test]
    fn urls() {
        assert_eq!(
            url(ServerKind::Jupyter, "127.0.0.1", 8888, Some("ab")),
            "http://127.0.0.1:8888/lab?token=ab"
        );
        assert_eq!(
            url(ServerKind::TensorBoard, "::1", 6006, None),
            "http://[::1]:6006/"
        );
    }

    #[test]
    fn tokens_are_fresh_hex() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 48);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
