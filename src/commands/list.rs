//! `mlenv list [--json]`: every mlenv environment of this user, from container labels, in
//! one API call (no inspect per container).

use std::io::Write;

use color_eyre::eyre::Result;
use serde::Serialize;

use crate::podman::{Listed, Podman};
use crate::settings::{Settings, LABEL_PROJECT, LABEL_SETTINGS};

/// One row of `mlenv list --json`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    pub project: String,
    pub state: String,
    pub image: String,
    /// Live bindings while running, `127.0.0.1:8888->8888/tcp`; the recorded ones otherwise.
    pub ports: Vec<String>,
    pub gpus: Vec<String>,
}

pub async fn run(podman: &Podman, json: bool) -> Result<()> {
    let mut envs: Vec<Environment> = podman
        .list_labelled(LABEL_PROJECT)
        .await?
        .into_iter()
        .filter_map(environment)
        .collect();
    envs.sort_by(|a, b| a.project.cmp(&b.project));
    let text = if json {
        serde_json::to_string_pretty(&envs)? + "\n"
    } else {
        render(&envs)
    };
    let mut out = std::io::stdout().lock();
    crate::ui::write_out(&mut out, text.as_bytes())?;
    out.flush().ok();
    Ok(())
}

/// A listed container as an environment; `None` for one set aside by `--recreate`.
pub fn environment(c: Listed) -> Option<Environment> {
    let labels = c.labels.unwrap_or_default();
    let name = c.names.first()?.clone();
    if name.ends_with("-replaced") {
        return None;
    }
    let settings: Option<Settings> = labels
        .get(LABEL_SETTINGS)
        .and_then(|s| serde_json::from_str(s).ok());
    let live: Vec<String> = c
        .ports
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            let proto = if p.protocol.is_empty() {
                "tcp"
            } else {
                &p.protocol
            };
            format!("{ip}:{}->{}/{proto}", p.host_port, p.container_port)
        })
        .collect();
    let ports = if live.is_empty() {
        settings
            .as_ref()
            .map(|s| s.ports.iter().map(|p| p.to_string()).collect())
            .unwrap_or_default()
    } else {
        live
    };
    Some(Environment {
        name,
        project: labels.get(LABEL_PROJECT).cloned().unwrap_or_default(),
        state: c.state,
        image: c.image,
        ports,
        gpus: settings.map(|s| s.gpus).unwrap_or_default(),
    })
}

fn render(envs: &[Environment]) -> String {
    if envs.is_empty() {
        return "No mlenv environments (create one with `mlenv up` in a project folder)\n".into();
    }
    let w = envs
        .iter()
        .map(|e| e.project.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = format!(
        "{:<w$}  {:<8}  {:<40}  {:<24}  GPUS\n",
        "PROJECT", "STATE", "IMAGE", "PORTS"
    );
    for e in envs {
        let none = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(",")
            }
        };
        out.push_str(&format!(
            "{:<w$}  {:<8}  {:<40}  {:<24}  {}\n",
            e.project,
            e.state,
            e.image,
            none(&e.ports),
            none(&e.gpus)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str, labels: &[(&str, &str)], state: &str) -> Listed {
        serde_json::from_value(serde_json::json!({
            "Names": [name],
            "Image": "localhost/img:1",
            "State": state,
            "Labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::HashMap<_, _>>(),
            "Ports": [{"host_ip": "127.0.0.1", "container_port": 8888, "host_port": 18888, "range": 1, "protocol": "tcp"}],
        }))
        .unwrap()
    }

    #[test]
    fn rows_from_labels() {
        let settings = r#"{"image":"localhost/img:1","ports":[],"gpus":["nvidia.com/gpu=0"],"memory":null,"cpus":null,"user_mapping":true,"env_file":null,"env_keys":[],"env_digest":null}"#;
        let e = environment(listed(
            "mlenv-a-1",
            &[(LABEL_PROJECT, "/home/u/a"), (LABEL_SETTINGS, settings)],
            "running",
        ))
        .unwrap();
        assert_eq!(e.project, "/home/u/a");
        assert_eq!(e.ports, ["127.0.0.1:18888->8888/tcp"]);
        assert_eq!(e.gpus, ["nvidia.com/gpu=0"]);
        assert!(environment(listed(
            "mlenv-a-1-replaced",
            &[(LABEL_PROJECT, "/x")],
            "exited"
        ))
        .is_none());
        assert!(render(&[e]).contains("/home/u/a"));
    }
}
