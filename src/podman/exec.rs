//! Exec sessions and container logs: the streams `podman-api` demultiplexes, handed out as
//! mlenv's own types (output chunks, an input writer, an exit code), never the crate's.

use std::pin::Pin;

use futures_util::{AsyncWrite, AsyncWriteExt, Stream, StreamExt};
use podman_api::conn::TtyChunk;
use podman_api::opts::{ContainerLogsOpts, ExecCreateOpts, ExecStartOpts};

use super::{Error, Podman, Result};

/// What to run in a container and how it is attached.
#[derive(Debug, Default)]
pub struct ExecSpec<'a> {
    pub argv: &'a [String],
    pub env: &'a [(String, String)],
    pub workdir: Option<&'a str>,
    /// stdout and stderr come back (a detached session leaves both off).
    pub output: bool,
    pub stdin: bool,
    pub tty: bool,
    /// Another user than the container's (`root` for `mlenv exec --root`).
    pub user: Option<&'a str>,
}

/// A piece of a command's output.
#[derive(Debug)]
pub enum Output {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// What a command run to its end left: its exit code and what it wrote.
#[derive(Debug)]
pub struct ExecOutcome {
    pub code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// A created exec session.
pub struct Session<'p> {
    podman: &'p Podman,
    exec: podman_api::api::Exec,
}

/// The output half of a started session.
pub struct OutputStream {
    inner: Pin<Box<dyn Stream<Item = Result<TtyChunk, podman_api::conn::Error>> + Send>>,
}

/// The stdin half of a started session; closing it ends the command's stdin.
pub struct Input {
    inner: Pin<Box<dyn AsyncWrite + Send>>,
}

/// Resizes a session's terminal; owns what it needs, for a task that follows SIGWINCH.
#[derive(Clone)]
pub struct Resizer {
    api: podman_api::Podman,
    id: String,
}

impl Podman {
    /// Creates an exec session in container `name`.
    pub async fn exec_create(&self, name: &str, spec: &ExecSpec<'_>) -> Result<Session<'_>> {
        let mut opts = ExecCreateOpts::builder()
            .command(spec.argv)
            .attach_stdout(spec.output)
            .attach_stderr(spec.output)
            .attach_stdin(spec.stdin)
            .tty(spec.tty)
            .env(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(dir) = spec.workdir {
            opts = opts.working_dir(dir);
        }
        if let Some(user) = spec.user {
            opts = opts.user(podman_api::opts::UserOpt::User(user.to_string()));
        }
        let exec = self
            .api
            .containers()
            .get(name)
            .create_exec(&opts.build())
            .await
            .map_err(|e| self.error(e))?;
        Ok(Session { podman: self, exec })
    }

    /// Runs `argv` in `name` without a TTY or stdin, to its end: for short queries whose
    /// output mlenv reads (nvidia-smi for `status`, a server's pid file).
    pub async fn capture(&self, name: &str, argv: &[String]) -> Result<ExecOutcome> {
        let spec = ExecSpec {
            argv,
            output: true,
            ..Default::default()
        };
        let session = self.exec_create(name, &spec).await?;
        let (mut output, _input) = session.start(false, None).await?;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some(chunk) = output.next().await {
            match chunk? {
                Output::Stdout(b) => stdout.extend_from_slice(&b),
                Output::Stderr(b) => stderr.extend_from_slice(&b),
            }
        }
        let code = session.exit_code().await?;
        tracing::debug!(code, command = %argv.join(" "), "captured exec");
        Ok(ExecOutcome {
            code,
            stdout,
            stderr,
        })
    }

    /// Starts `argv` in `name` and returns without waiting: a server's launcher.
    pub async fn exec_detached(
        &self,
        name: &str,
        argv: &[String],
        env: &[(String, String)],
        workdir: &str,
    ) -> Result<()> {
        let spec = ExecSpec {
            argv,
            env,
            workdir: Some(workdir),
            ..Default::default()
        };
        let session = self.exec_create(name, &spec).await?;
        session
            .exec
            .start(&ExecStartOpts::builder().detach(true).build())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Container `name`'s output, one chunk at a time to `each`, until the container's log
    /// ends (or, with `follow`, the container stops). An error from `each` ends it.
    pub async fn logs<E: From<Error>>(
        &self,
        name: &str,
        follow: bool,
        mut each: impl FnMut(Output) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let container = self.api.containers().get(name);
        let opts = ContainerLogsOpts::builder()
            .stdout(true)
            .stderr(true)
            .follow(follow)
            .build();
        let mut stream = Box::pin(container.logs(&opts));
        while let Some(chunk) = stream.next().await {
            match chunk.map_err(|e| self.error(e))? {
                TtyChunk::StdOut(b) => each(Output::Stdout(b))?,
                TtyChunk::StdErr(b) => each(Output::Stderr(b))?,
                TtyChunk::StdIn(_) => {}
            }
        }
        Ok(())
    }
}

impl Session<'_> {
    /// Starts the session attached to its streams; `size` is the terminal's (columns, rows).
    pub async fn start(
        &self,
        tty: bool,
        size: Option<(u16, u16)>,
    ) -> Result<(OutputStream, Input)> {
        let mut opts = ExecStartOpts::builder().tty(tty);
        if let Some((w, h)) = size {
            opts = opts.width(w as usize).height(h as usize);
        }
        let mux = self
            .exec
            .start(&opts.build())
            .await
            .map_err(|e| self.podman.error(e))?
            .ok_or_else(|| Error::Stream("podman did not attach to the exec session".into()))?;
        let (output, input) = mux.split();
        Ok((
            OutputStream {
                inner: Box::pin(output),
            },
            Input {
                inner: Box::pin(input),
            },
        ))
    }

    /// The host pid of the session's process, once started (podman knows it).
    pub async fn pid(&self) -> Option<i64> {
        let info = self.exec.inspect().await.ok()?;
        info["Pid"].as_i64().filter(|p| *p > 0)
    }

    /// The exit code of the session's process, after its output has ended.
    pub async fn exit_code(&self) -> Result<i64> {
        let info = self
            .exec
            .inspect()
            .await
            .map_err(|e| self.podman.error(e))?;
        info["ExitCode"]
            .as_i64()
            .ok_or_else(|| Error::Stream("podman reported no exit code for the command".into()))
    }

    pub fn resizer(&self) -> Resizer {
        Resizer {
            api: self.podman.api.clone(),
            id: self.exec.id().to_string(),
        }
    }
}

impl OutputStream {
    pub async fn next(&mut self) -> Option<Result<Output>> {
        loop {
            let chunk = self.inner.next().await?;
            return Some(match chunk {
                Ok(TtyChunk::StdOut(b)) => Ok(Output::Stdout(b)),
                Ok(TtyChunk::StdErr(b)) => Ok(Output::Stderr(b)),
                Ok(TtyChunk::StdIn(_)) => continue,
                Err(e) => Err(Error::Stream(format!("the exec stream broke: {e}"))),
            });
        }
    }
}

impl Input {
    /// Writes all of `bytes` and flushes them to the command.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(bytes).await?;
        self.inner.flush().await
    }

    pub async fn close(&mut self) -> std::io::Result<()> {
        self.inner.close().await
    }
}

impl Resizer {
    pub async fn resize(&self, columns: u16, rows: u16) {
        let exec = self.api.execs().get(self.id.clone());
        if let Err(e) = exec.resize(columns as usize, rows as usize).await {
            tracing::debug!("resize failed: {e}");
        }
    }
}
