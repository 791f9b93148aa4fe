//! `--port` values: `PORT`, `HOST:CONTAINER`, `IP:HOST:CONTAINER`, each with an optional
//! `/tcp` or `/udp`, and `auto` for HOST: a free host port mlenv picks when it makes the
//! container and keeps from then on (a login node's loopback is shared: a fixed port may be
//! another user's).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Bind address when none is given: a shared login node must not expose Jupyter by accident.
pub const DEFAULT_HOST_IP: &str = "127.0.0.1";

const ACCEPTED: &str =
    "expected PORT, HOST:CONTAINER or IP:HOST:CONTAINER with ports 1-65535 (HOST may be auto: a free port) and an optional /tcp or /udp, e.g. 8888:8888, auto:8888 or 0.0.0.0:6006:6006/tcp";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
    /// `auto:CONTAINER`: the host port is picked when the container is made (0 until then).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto: bool,
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = if self.host_ip.contains(':') {
            format!("[{}]", self.host_ip)
        } else {
            self.host_ip.clone()
        };
        match (self.auto, self.host_port) {
            (true, 0) => write!(f, "{ip}:auto->{}/{}", self.container_port, self.protocol),
            (true, port) => write!(
                f,
                "{ip}:{port}->{}/{} (auto)",
                self.container_port, self.protocol
            ),
            _ => write!(
                f,
                "{ip}:{}->{}/{}",
                self.host_port, self.container_port, self.protocol
            ),
        }
    }
}

/// What two mappings must share to be the same setting: an `auto` one is the same whatever
/// port was picked for it.
pub fn key(p: &PortMapping) -> String {
    if p.auto {
        format!("{}:auto->{}/{}", p.host_ip, p.container_port, p.protocol)
    } else {
        p.to_string()
    }
}

/// The ports a recreate keeps: each `auto` mapping asked for again keeps the port picked for
/// the container before, so URLs and tunnels stay valid.
pub fn remember_auto(wanted: &mut [PortMapping], current: &[PortMapping]) {
    for w in wanted.iter_mut().filter(|w| w.auto && w.host_port == 0) {
        if let Some(c) = current
            .iter()
            .find(|c| c.auto && c.host_port != 0 && key(c) == key(w))
        {
            w.host_port = c.host_port;
        }
    }
}

/// Picks a free host port for every `auto` mapping that has none, as the kernel hands out
/// an unused one for port 0.
pub fn assign_auto(ports: &mut [PortMapping]) -> Result<(), String> {
    for p in ports.iter_mut().filter(|p| p.auto && p.host_port == 0) {
        let addr = (p.host_ip.as_str(), 0);
        let port = if p.protocol == "udp" {
            std::net::UdpSocket::bind(addr).and_then(|s| s.local_addr())
        } else {
            std::net::TcpListener::bind(addr).and_then(|s| s.local_addr())
        }
        .map_err(|e| format!("cannot find a free port on {}: {e}", p.host_ip))?
        .port();
        p.host_port = port;
    }
    Ok(())
}

/// Parses every `--port` occurrence (each may be a comma-separated list) and rejects
/// the same host address and port asked for twice.
pub fn parse_list(values: &[String]) -> Result<Vec<PortMapping>, String> {
    let mut out: Vec<PortMapping> = Vec::new();
    for value in values {
        for item in value.split(',') {
            let mapping = parse_one(item.trim())
                .map_err(|why| format!("invalid --port {value:?}: {item:?} {why}; {ACCEPTED}"))?;
            if let Some(prev) = out.iter().find(|m| {
                !mapping.auto
                    && m.host_port == mapping.host_port
                    && m.protocol == mapping.protocol
                    && m.host_ip == mapping.host_ip
            }) {
                return Err(format!(
                    "invalid --port {value:?}: host port {}/{} is already forwarded ({prev}); each host port can be used once",
                    mapping.host_port, mapping.protocol
                ));
            }
            out.push(mapping);
        }
    }
    Ok(out)
}

fn parse_one(item: &str) -> Result<PortMapping, String> {
    if item.is_empty() {
        return Err("is empty".into());
    }
    let (addr, protocol) = match item.rsplit_once('/') {
        Some((a, p)) if p == "tcp" || p == "udp" => (a, p.to_string()),
        Some((_, p)) => return Err(format!("has protocol {p:?}, not tcp or udp")),
        None => (item, "tcp".to_string()),
    };
    // An IPv6 address comes in brackets: [::1]:8888:8888.
    let (host_ip, rest) = if let Some(stripped) = addr.strip_prefix('[') {
        let (ip, rest) = stripped
            .split_once("]:")
            .ok_or("has an unclosed [ or no ports after the address")?;
        (Some(ip), rest)
    } else {
        match addr.matches(':').count() {
            0 | 1 => (None, addr),
            2 => {
                let (ip, rest) = addr.split_once(':').unwrap_or_default();
                (Some(ip), rest)
            }
            _ => return Err("has too many ':'".into()),
        }
    };
    let host_ip = match host_ip {
        None => DEFAULT_HOST_IP.to_string(),
        Some(ip) => ip
            .parse::<IpAddr>()
            .map_err(|_| format!("has an invalid IP address {ip:?}"))?
            .to_string(),
    };
    let (host, container) =
        match rest.split_once(':') {
            Some((h, c)) => (h, c),
            None if rest == "auto" => return Err(
                "has auto but no container port (auto:8888 forwards 8888 from a free host port)"
                    .into(),
            ),
            None => (rest, rest),
        };
    let auto = host == "auto";
    Ok(PortMapping {
        host_ip,
        host_port: if auto { 0 } else { port(host)? },
        container_port: port(container)?,
        protocol,
        auto,
    })
}

fn port(s: &str) -> Result<u16, String> {
    if s.is_empty() {
        return Err("has an empty port".into());
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("has port {s:?}, which is not a number"));
    }
    match s.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!("has port {s}, outside 1-65535")),
    }
}

/// Whether this machine lets us bind `p`'s host address now. Podman binds it only when
/// the container starts, after it was created; this asks first. An address taken by anyone
/// (on a login node: another user) fails with "in use"; other errors (an address this host
/// does not have) are left to podman.
pub fn in_use(p: &PortMapping) -> bool {
    let addr = (p.host_ip.as_str(), p.host_port);
    let result = if p.protocol == "udp" {
        std::net::UdpSocket::bind(addr).map(drop)
    } else {
        std::net::TcpListener::bind(addr).map(drop)
    };
    matches!(result, Err(e) if e.kind() == std::io::ErrorKind::AddrInUse)
}

/// The next host port after `p`'s that `free` says is free (up to 100 on), to suggest.
pub fn next_free(p: &PortMapping, free: impl Fn(&PortMapping) -> bool) -> Option<u16> {
    (1..=100u16)
        .filter_map(|d| p.host_port.checked_add(d))
        .find(|port| {
            free(&PortMapping {
                host_port: *port,
                ..p.clone()
            })
        })
}

/// The error for a host port someone else holds: which one, and another to use.
pub fn taken_message(p: &PortMapping, suggestion: Option<u16>) -> String {
    let other = suggestion.map_or_else(
        || "another host port".to_string(),
        |s| {
            let mut q = p.clone();
            q.host_port = s;
            format!("e.g. --port {} (free now)", short(&q))
        },
    );
    format!(
        "host port {}:{} is already in use on this machine (by another program or, on a shared login node, another user), so {} cannot be forwarded; pick {other}, or ports = [...] in mlenv.toml",
        p.host_ip, p.host_port, p
    )
}

/// `8889:8888`, `0.0.0.0:8889:8888`, `8889:8888/udp`: as a flag would say it.
fn short(p: &PortMapping) -> String {
    let ip = if p.host_ip == "127.0.0.1" {
        String::new()
    } else {
        format!("{}:", p.host_ip)
    };
    let proto = if p.protocol == "tcp" {
        String::new()
    } else {
        format!("/{}", p.protocol)
    };
    format!("{ip}{}:{}{proto}", p.host_port, p.container_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ip: &str, h: u16, c: u16, p: &str) -> PortMapping {
        PortMapping {
            host_ip: ip.into(),
            host_port: h,
            container_port: c,
            protocol: p.into(),
            auto: false,
        }
    }

    #[test]
    fn accepted() {
        let cases: &[(&str, Vec<PortMapping>)] = &[
            ("8888:8888", vec![m("127.0.0.1", 8888, 8888, "tcp")]),
            ("8888", vec![m("127.0.0.1", 8888, 8888, "tcp")]),
            ("18080:80/udp", vec![m("127.0.0.1", 18080, 80, "udp")]),
            ("0.0.0.0:8888:8888", vec![m("0.0.0.0", 8888, 8888, "tcp")]),
            ("[::1]:8888:8888", vec![m("::1", 8888, 8888, "tcp")]),
            (
                "8888:8888,6006:6006",
                vec![
                    m("127.0.0.1", 8888, 8888, "tcp"),
                    m("127.0.0.1", 6006, 6006, "tcp"),
                ],
            ),
            (
                "53:53/tcp,53:53/udp",
                vec![m("127.0.0.1", 53, 53, "tcp"), m("127.0.0.1", 53, 53, "udp")],
            ),
            ("65535:1", vec![m("127.0.0.1", 65535, 1, "tcp")]),
        ];
        for (input, want) in cases {
            assert_eq!(&parse_list(&[input.to_string()]).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn rejected_with_the_value_named() {
        let cases: &[(&str, &str)] = &[
            ("8888:abc", "\"abc\", which is not a number"),
            ("70000:1", "port 70000, outside 1-65535"),
            ("0:1", "port 0, outside 1-65535"),
            ("", "is empty"),
            ("8888:8888,,1", "\"\" is empty"),
            ("8888:", "empty port"),
            ("1:2/sctp", "protocol \"sctp\""),
            ("300.1.1.1:80:80", "invalid IP address \"300.1.1.1\""),
            ("1:2:3:4", "too many ':'"),
            ("[::1:80:80", "unclosed ["),
            ("-1:80", "not a number"),
            ("8888:1,8888:2", "already forwarded"),
        ];
        for (input, want) in cases {
            let err = parse_list(&[input.to_string()]).unwrap_err();
            assert!(err.contains(want), "{input:?}: {err}");
            assert!(err.contains(&format!("{input:?}")), "{input:?}: {err}");
        }
    }

    #[test]
    fn display() {
        assert_eq!(
            m("127.0.0.1", 1, 2, "tcp").to_string(),
            "127.0.0.1:1->2/tcp"
        );
        assert_eq!(m("::1", 1, 2, "udp").to_string(), "[::1]:1->2/udp");
    }

    #[test]
    fn taken_ports_get_a_free_one_named() {
        let p = parse_list(&["8888:8888".into()]).unwrap().remove(0);
        let busy = [8888u16, 8889];
        let free = |q: &PortMapping| !busy.contains(&q.host_port);
        assert_eq!(next_free(&p, free), Some(8890));
        let m = taken_message(&p, Some(8890));
        assert!(
            m.starts_with("host port 127.0.0.1:8888 is already in use on this machine")
                && m.contains("pick e.g. --port 8890:8888 (free now)"),
            "{m}"
        );
        let udp = parse_list(&["0.0.0.0:7000:7000/udp".into()])
            .unwrap()
            .remove(0);
        assert!(taken_message(&udp, Some(7001)).contains("--port 0.0.0.0:7001:7000/udp"));
        assert!(taken_message(&p, None).contains("pick another host port"));
        // Held for real: a listener of ours.
        let held = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        let q = parse_list(&[format!("{port}:80")]).unwrap().remove(0);
        assert!(in_use(&q));
        drop(held);
        assert!(!in_use(&q));
    }

    #[test]
    fn auto_ports() {
        let ports = parse_list(&["auto:8888,0.0.0.0:auto:6006/udp,auto:7000".into()]).unwrap();
        assert!(ports.iter().all(|p| p.auto && p.host_port == 0));
        assert_eq!(ports[0].to_string(), "127.0.0.1:auto->8888/tcp");
        assert!(parse_list(&["auto".into()])
            .unwrap_err()
            .contains("no container port"));
        let mut picked = ports.clone();
        assign_auto(&mut picked).unwrap();
        assert!(picked.iter().all(|p| p.host_port != 0));
        assert!(picked[0].to_string().ends_with("->8888/tcp (auto)"));
        // The same setting whatever port it got; a fixed port is another one.
        assert_eq!(key(&ports[0]), key(&picked[0]));
        let fixed = parse_list(&["9999:8888".into()]).unwrap();
        assert_ne!(key(&fixed[0]), key(&ports[0]));
        // A recreate asking for auto again keeps the port it had.
        let mut again = ports.clone();
        remember_auto(&mut again, &picked);
        assert_eq!(again, picked);
        // The label of an older mlenv, without the field, still reads.
        let old: PortMapping = serde_json::from_str(
            r#"{"host_ip":"127.0.0.1","host_port":1,"container_port":2,"protocol":"tcp"}"#,
        )
        .unwrap();
        assert!(!old.auto);
        assert!(!serde_json::to_string(&old).unwrap().contains("auto"));
    }
}
