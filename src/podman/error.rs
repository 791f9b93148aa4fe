//! What can go wrong talking to podman, typed so that callers branch on the kind (doctor on
//! an unreachable socket, `up` on a missing image) instead of parsing a message.

use std::fmt;
use std::path::PathBuf;

use containers_api::conn::hyper;

#[derive(Debug)]
pub enum Error {
    /// The socket could not be reached, or the service dropped the connection.
    Unreachable { socket: PathBuf, reason: String },
    /// Podman answered with an error status; `message` is its own words.
    Api { status: u16, message: String },
    /// A stream (exec, logs, pull) broke or carried an error.
    Stream(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Turns a transport or server failure of `podman-api`'s client into ours.
    pub(super) fn from_api(socket: &std::path::Path, err: podman_api::Error) -> Error {
        if let Some(reason) = connection_failure(&err) {
            return Error::Unreachable {
                socket: socket.to_path_buf(),
                reason,
            };
        }
        match err {
            podman_api::Error::Fault { code, message } => Error::Api {
                status: code.as_u16(),
                message: message.trim_end_matches(": ").to_string(),
            },
            other => Error::Stream(other.to_string()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unreachable { socket, reason } => {
                let start = if nix::unistd::geteuid().is_root() {
                    "systemctl enable --now podman.socket"
                } else {
                    "systemctl --user enable --now podman.socket"
                };
                write!(
                    f,
                    "Cannot reach the Podman API at {} ({reason}). Start it: {start}\n  \
                     (without a systemd user session, as over ssh or su: mlenv service start)",
                    socket.display(),
                )
            }
            Error::Api { message, .. } => f.write_str(message),
            Error::Stream(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// A reason when the error is about reaching the socket rather than podman's answer.
fn connection_failure(err: &podman_api::Error) -> Option<String> {
    use containers_api::conn::Error as Conn;
    let podman_api::Error::Error(conn) = err else {
        return None;
    };
    match conn {
        Conn::Hyper(h) if h.is_connect() => Some(source_chain(h)),
        Conn::Hyper(h)
            if h.is_incomplete_message() || h.is_closed() || h.is_canceled() || cut_short(h) =>
        {
            Some(format!(
                "the service closed the connection: {}",
                source_chain(h)
            ))
        }
        Conn::IO(io) => Some(io.to_string()),
        _ => None,
    }
}

/// Whether the connection broke under a response: a service that dies after sending the
/// head leaves hyper a body error over an I/O error ("end of file before message length
/// reached"), which is not one of hyper's own connection kinds.
fn cut_short(e: &hyper::Error) -> bool {
    use std::io::ErrorKind::*;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = cur {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
            );
        }
        cur = s.source();
    }
    false
}

/// The error and its sources, joined with ": ", each once (the transport's chain often
/// repeats its innermost cause).
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    dedup_chain(&parts)
}

fn dedup_chain(parts: &[String]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in parts.iter().flat_map(|p| p.split(": ")) {
        if out.last() != Some(&part) {
            out.push(part);
        }
    }
    out.join(": ")
}

/// The status and message of a response that is not a success, for `RequestClient`.
pub(super) fn validate(
    response: hyper::Response<hyper::Body>,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = std::result::Result<hyper::Response<hyper::Body>, podman_api::Error>,
            > + Send
            + Sync,
    >,
> {
    Box::pin(async move {
        let status = response.status();
        if status.is_success() || status == hyper::StatusCode::SWITCHING_PROTOCOLS {
            return Ok(response);
        }
        let bytes = hyper::body::to_bytes(response.into_body())
            .await
            .map_err(containers_api::conn::Error::from)?;
        let text = String::from_utf8_lossy(&bytes);
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| Some(v.get("message")?.as_str()?.to_string()))
            .unwrap_or_else(|| {
                let t = text.trim();
                if t.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_string()
                } else {
                    t.to_string()
                }
            });
        Err(podman_api::Error::Fault {
            code: status,
            message,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_name_each_cause_once() {
        let s = |v: &[&str]| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let cases = [
            (
                s(&[
                    "error trying to connect",
                    "No such file or directory (os error 2)",
                ]),
                "error trying to connect: No such file or directory (os error 2)",
            ),
            (
                s(&[
                    "error trying to connect: Connection refused (os error 111)",
                    "Connection refused (os error 111)",
                ]),
                "error trying to connect: Connection refused (os error 111)",
            ),
            (s(&["alone"]), "alone"),
        ];
        for (parts, want) in cases {
            assert_eq!(dedup_chain(&parts), want);
        }
    }

    /// A service that dies mid-answer, as one killed between sending the head and the
    /// body: the real transport's error is taken for an unreachable service, not for
    /// podman's answer (exit code 3, not 1).
    #[tokio::test]
    async fn a_body_cut_short_is_unreachable() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("cut.sock");
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"Id\":",
            )
            .await
            .unwrap();
            // Dropped: the connection closes 94 bytes short.
        });
        let err = super::super::Podman::new(&sock)
            .inspect("x")
            .await
            .expect_err("a truncated body");
        server.await.unwrap();
        match &err {
            Error::Unreachable { reason, .. } => {
                assert!(
                    reason.starts_with("the service closed the connection"),
                    "{reason}"
                )
            }
            other => panic!("not unreachable: {other:?}"),
        }
    }

    #[test]
    fn messages() {
        let e = Error::Unreachable {
            socket: "/x/p.sock".into(),
            reason: "refused".into(),
        };
        let text = e.to_string();
        assert!(text.starts_with("Cannot reach the Podman API at /x/p.sock (refused). Start it: "));
        assert!(text.contains("mlenv service start"));
        let e = Error::Api {
            status: 404,
            message: "no such container".into(),
        };
        assert_eq!(e.to_string(), "no such container");
    }
}
