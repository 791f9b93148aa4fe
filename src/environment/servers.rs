//! The servers (Jupyter, TensorBoard) mlenv started in an environment, as kept in its
//! state dir: what `mlenv jupyter` writes and `status` lists, with a TCP probe and no exec.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What mlenv started, kept in `<state>/servers/<kind>-<port>.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Running {
    pub kind: String,
    /// The container port the server listens on.
    pub port: u16,
    /// Where the host reaches it.
    pub host: String,
    pub host_port: u16,
    /// The URL to open (with Jupyter's token).
    pub url: String,
}

/// Whether something answers HTTP on `host:port` (any status line).
pub fn answers(host: &str, port: u16) -> bool {
    let Ok(addr) = format!("{host}:{port}")
        .parse::<SocketAddr>()
        .or_else(|_| format!("[{host}]:{port}").parse::<SocketAddr>())
    else {
        return false;
    };
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(s, "GET / HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read(&mut head)
        .is_ok_and(|n| n >= 5 && head.starts_with(b"HTTP/"))
}

/// The servers mlenv started that still answer, for `status`.
pub fn running(state_dir: &Path) -> Vec<Running> {
    let Ok(entries) = std::fs::read_dir(state_dir.join("servers")) else {
        return vec![];
    };
    let mut out: Vec<Running> = entries
        .flatten()
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .filter(|r: &Running| answers(&r.host, r.host_port))
        .collect();
    out.sort_by(|a, b| (&a.kind, a.port).cmp(&(&b.kind, b.port)));
    out
}
