//! Everything mlenv tells a person: the ✔ ✖ ⚠ ℹ lines on stderr, progress displays, and the
//! timestamped debug log in the project's state dir.
//!
//! Human output goes to stderr so stdout stays clean for `exec`, `logs` and `--json`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    Quiet,
    #[default]
    Normal,
    Verbose,
}

struct Ui {
    verbosity: Verbosity,
    color: bool,
    terminal: bool,
}

static UI: OnceLock<Ui> = OnceLock::new();

fn ui() -> &'static Ui {
    UI.get_or_init(|| Ui {
        verbosity: Verbosity::Normal,
        color: false,
        terminal: false,
    })
}

/// Sets the verbosity; colour only on a terminal and never with `NO_COLOR` set.
pub fn init(verbosity: Verbosity) {
    let terminal = std::io::stderr().is_terminal();
    let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = UI.set(Ui {
        verbosity,
        color,
        terminal,
    });
}

/// Sends debug events to `log` (append, 0600), and to stderr too with `--verbose`.
pub fn init_log(log: Option<&Path>) {
    use tracing_subscriber::prelude::*;
    let file = log.and_then(|path| {
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = path.parent() {
            let _ = crate::fsx::create_private_dir(dir);
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .ok()
    });
    let file_layer = file.map(|f| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::sync::Mutex::new(f))
            .with_ansi(false)
            .with_target(false)
            .with_filter(our_debug())
    });
    let stderr_layer = (ui().verbosity == Verbosity::Verbose).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ui().color)
            .with_target(false)
            .with_filter(our_debug())
    });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
}

/// Our own events at debug level; the HTTP stack's only from warnings up.
fn our_debug() -> tracing_subscriber::filter::Targets {
    tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::WARN)
        .with_target("mlenv", tracing::Level::DEBUG)
}

fn line(symbol: &str, color: &str, msg: &str, always: bool) {
    let u = ui();
    if u.verbosity == Verbosity::Quiet && !always {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = if u.color {
        writeln!(err, "\x1b[{color}m{symbol}\x1b[0m {msg}")
    } else {
        writeln!(err, "{symbol} {msg}")
    };
}

pub fn success(msg: &str) {
    tracing::info!("{msg}");
    line("✔", "32", msg, false);
}

pub fn info(msg: &str) {
    tracing::info!("{msg}");
    line("ℹ", "34", msg, false);
}

/// Warnings are shown even with `--quiet`: they say something did not happen as asked.
pub fn warn(msg: &str) {
    tracing::warn!("{msg}");
    line("⚠", "33", msg, true);
}

pub fn error(msg: &str) {
    tracing::error!("{msg}");
    line("✖", "31", msg, true);
}

/// A line that belongs to the one above it (a check's fix), indented under its message;
/// `always` when that line is shown even with `--quiet`.
pub fn detail(msg: &str, always: bool) {
    tracing::info!("{msg}");
    if ui().verbosity == Verbosity::Quiet && !always {
        return;
    }
    let _ = writeln!(std::io::stderr().lock(), "  {msg}");
}

pub fn is_quiet() -> bool {
    ui().verbosity == Verbosity::Quiet
}

pub fn is_verbose() -> bool {
    ui().verbosity == Verbosity::Verbose
}

/// A spinner for a step of unknown length.
pub fn spinner(msg: &str) -> ProgressBar {
    progress(
        msg,
        ProgressBar::new_spinner(),
        "{spinner} {msg} ({elapsed})",
    )
}

/// A byte progress bar for pulls.
pub fn bytes_bar(msg: &str) -> ProgressBar {
    progress(
        msg,
        ProgressBar::new(0),
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
}

/// Shows `pb` on a terminal; hides it when quiet, and off a terminal prints one plain line
/// saying the step started instead, so logs and CI output stay readable.
fn progress(msg: &str, pb: ProgressBar, template: &str) -> ProgressBar {
    tracing::info!("{msg}");
    let u = ui();
    if u.verbosity == Verbosity::Quiet {
        return ProgressBar::hidden();
    }
    if !u.terminal {
        line("ℹ", "34", msg, false);
        return ProgressBar::hidden();
    }
    pb.set_style(
        ProgressStyle::with_template(template)
            .expect("static template")
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
            .progress_chars("=> "),
    );
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

/// Writes and flushes command output; a closed pipe (`mlenv logs | head`) ends mlenv
/// quietly, with status 0.
pub fn write_out(w: &mut impl std::io::Write, bytes: &[u8]) -> color_eyre::Result<()> {
    use color_eyre::eyre::WrapErr;
    match w.write_all(bytes).and_then(|_| w.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Err(crate::error::CommandExit(0).into())
        }
        r => r.wrap_err("cannot write output"),
    }
}
