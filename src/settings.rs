//! The settings an environment is created with, recorded on the container as a label,
//! and the pure decisions made from them: what differs, what a recreate keeps.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::limits::{format_memory, Ipc, Ulimit};
use crate::ports::PortMapping;

/// Label holding the JSON of [`Settings`].
pub const LABEL_SETTINGS: &str = "io.mlenv.settings";
/// Label holding the project folder, so `podman ps --filter label=...` finds mlenv's containers.
pub const LABEL_PROJECT: &str = "io.mlenv.project";

/// Everything that shapes the container. Never holds a secret: env values are represented
/// by their keys and a keyed digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    pub image: String,
    pub ports: Vec<PortMapping>,
    /// CDI references, e.g. `nvidia.com/gpu=0`.
    pub gpus: Vec<String>,
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub user_mapping: bool,
    pub env_file: Option<PathBuf>,
    pub env_keys: Vec<String>,
    pub env_digest: Option<String>,
    /// /dev/shm's size with a private IPC namespace (`None`: [`crate::limits::DEFAULT_SHM`]).
    pub shm_size: Option<u64>,
    pub ipc: Ipc,
    /// The limits the user set; NVIDIA's memlock and stack fill in the rest at create.
    pub ulimits: Vec<Ulimit>,
    pub home: Home,
}

/// What HOME is inside. Never the project folder: caches (pip, Hugging Face, torch,
/// triton), shell history and tool settings would land in the user's repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Home {
    /// The user's own home, mounted at its own path, as toolbx and distrobox do: dotfiles,
    /// git identity and ssh config work, and caches are the host's, shared by every project.
    #[default]
    Host,
    /// A home of this environment's own, kept beside its installed packages (it survives
    /// `rm` + `up`), at the same path; the host's ~/.cache (shared by every project),
    /// ~/.gitconfig, ~/.config/git and ~/.ssh are mounted into it, the last three read-only.
    Isolated,
}

impl Home {
    pub fn parse(value: &str) -> Result<Home, String> {
        match value.trim() {
            "host" => Ok(Home::Host),
            "isolated" => Ok(Home::Isolated),
            _ => Err(format!(
                "invalid --home {value:?}: expected host (your home, at its own path) or \
                 isolated (a home of the environment's own; caches and git identity shared)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Home::Host => "host",
            Home::Isolated => "isolated",
        }
    }
}

/// Which settings the user asked for on this run (flag or environment variable). Only
/// these are compared with an existing container; the rest keep what it was created with.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Given {
    pub image: bool,
    pub ports: bool,
    pub gpus: bool,
    pub memory: bool,
    pub cpus: bool,
    pub user_mapping: bool,
    pub env_file: bool,
    pub shm_size: bool,
    pub ipc: bool,
    pub ulimits: bool,
    pub home: bool,
}

/// One setting that differs between the container and this run.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub setting: &'static str,
    pub current: String,
    pub wanted: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} → {}", self.setting, self.current, self.wanted)
    }
}

/// The settings the user asked for that the existing container does not have.
pub fn differences(current: &Settings, wanted: &Settings, given: Given) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut check = |asked: bool, setting: &'static str, cur: String, want: String| {
        if asked && cur != want {
            out.push(Difference {
                setting,
                current: cur,
                wanted: want,
            });
        }
    };
    check(
        given.image,
        "image",
        current.image.clone(),
        wanted.image.clone(),
    );
    // Order carries no meaning in these lists: `-p A,B` after `-p B,A` is no change.
    let ports = |s: &Settings| s.ports.iter().map(crate::ports::key).collect::<Vec<_>>();
    check(
        given.ports && !same_items(&ports(current), &ports(wanted)),
        "ports",
        show_ports(&current.ports),
        show_ports(&wanted.ports),
    );
    check(
        given.gpus && !same_items(&current.gpus, &wanted.gpus),
        "gpus",
        show_list(&current.gpus),
        show_list(&wanted.gpus),
    );
    check(
        given.memory,
        "memory",
        show_memory(current.memory),
        show_memory(wanted.memory),
    );
    check(
        given.cpus,
        "cpus",
        show_cpus(current.cpus),
        show_cpus(wanted.cpus),
    );
    check(
        given.user_mapping,
        "user mapping",
        show_mapping(current.user_mapping),
        show_mapping(wanted.user_mapping),
    );
    check(
        given.shm_size,
        "shm size",
        show_shm(current.shm_size),
        show_shm(wanted.shm_size),
    );
    check(
        given.ipc,
        "ipc",
        current.ipc.as_str().into(),
        wanted.ipc.as_str().into(),
    );
    let ulimits = |s: &Settings| s.ulimits.iter().map(|u| u.to_string()).collect::<Vec<_>>();
    check(
        given.ulimits && !same_items(&ulimits(current), &ulimits(wanted)),
        "ulimits",
        show_list(&ulimits(current)),
        show_list(&ulimits(wanted)),
    );
    check(
        given.home,
        "home",
        current.home.as_str().into(),
        wanted.home.as_str().into(),
    );
    if given.env_file {
        let path = |s: &Settings| {
            s.env_file
                .as_ref()
                .map_or("none".to_string(), |p| p.display().to_string())
        };
        if current.env_file != wanted.env_file {
            check(true, "env file", path(current), path(wanted));
        } else if !same_items(&current.env_keys, &wanted.env_keys) {
            check(
                true,
                "env keys",
                show_list(&current.env_keys),
                show_list(&wanted.env_keys),
            );
        } else if current.env_digest != wanted.env_digest {
            // Values are secrets: say that they changed, never what they are.
            check(
                true,
                "env values",
                "(as created)".into(),
                "(changed in the file)".into(),
            );
        }
    }
    out
}

/// The settings for a recreate: what was asked for now, the rest as the container had it.
pub fn merge(current: &Settings, wanted: &Settings, given: Given) -> Settings {
    let pick = |asked: bool| if asked { wanted } else { current };
    let mut ports = pick(given.ports).ports.clone();
    crate::ports::remember_auto(&mut ports, &current.ports);
    Settings {
        ports,
        image: pick(given.image).image.clone(),
        gpus: pick(given.gpus).gpus.clone(),
        memory: pick(given.memory).memory,
        cpus: pick(given.cpus).cpus,
        user_mapping: pick(given.user_mapping).user_mapping,
        env_file: pick(given.env_file).env_file.clone(),
        env_keys: pick(given.env_file).env_keys.clone(),
        env_digest: pick(given.env_file).env_digest.clone(),
        shm_size: pick(given.shm_size).shm_size,
        ipc: pick(given.ipc).ipc,
        ulimits: pick(given.ulimits).ulimits.clone(),
        home: pick(given.home).home,
    }
}

/// The same items, in any order.
fn same_items(a: &[String], b: &[String]) -> bool {
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    sorted(a) == sorted(b)
}

pub fn show_ports(ports: &[PortMapping]) -> String {
    if ports.is_empty() {
        return "none".into();
    }
    ports
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn show_list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

pub fn show_memory(m: Option<u64>) -> String {
    m.map_or("no limit".into(), format_memory)
}

pub fn show_shm(s: Option<u64>) -> String {
    s.map_or_else(
        || "half the host's memory (the default)".to_string(),
        format_memory,
    )
}

pub fn show_cpus(c: Option<f64>) -> String {
    c.map_or("no limit".into(), |c| c.to_string())
}

fn show_mapping(on: bool) -> String {
    if on {
        "your user (keep-id)"
    } else {
        "the image's user (--no-user-mapping)"
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Settings {
        Settings {
            image: "img:1".into(),
            user_mapping: true,
            ..Default::default()
        }
    }

    #[test]
    fn only_given_settings_are_compared() {
        let cur = base();
        let mut want = base();
        want.memory = Some(16 << 30);
        want.image = "img:2".into();
        assert!(differences(&cur, &want, Given::default()).is_empty());
        let d = differences(
            &cur,
            &want,
            Given {
                memory: true,
                ..Default::default()
            },
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].to_string(), "memory: no limit → 16g");
        let d = differences(
            &cur,
            &want,
            Given {
                memory: true,
                image: true,
                ..Default::default()
            },
        );
        assert_eq!(
            d.iter().map(|d| d.setting).collect::<Vec<_>>(),
            ["image", "memory"]
        );
    }

    #[test]
    fn env_changes_never_show_values() {
        let mut cur = base();
        cur.env_file = Some("/p/.env".into());
        cur.env_keys = vec!["TOKEN".into()];
        cur.env_digest = Some("aa".into());
        let mut want = cur.clone();
        want.env_digest = Some("bb".into());
        let g = Given {
            env_file: true,
            ..Default::default()
        };
        let d = differences(&cur, &want, g);
        assert_eq!(d[0].setting, "env values");
        want.env_keys.push("OTHER".into());
        assert_eq!(
            differences(&cur, &want, g)[0].to_string(),
            "env keys: TOKEN → TOKEN, OTHER"
        );
        want.env_file = None;
        assert_eq!(
            differences(&cur, &want, g)[0].to_string(),
            "env file: /p/.env → none"
        );
    }

    #[test]
    fn order_of_ports_gpus_and_env_keys_is_no_difference() {
        let mut cur = base();
        cur.ports = crate::ports::parse_list(&["1:1,2:2".into()]).unwrap();
        cur.gpus = vec!["nvidia.com/gpu=0".into(), "nvidia.com/gpu=1".into()];
        cur.env_file = Some("/p/.env".into());
        cur.env_keys = vec!["A".into(), "B".into()];
        let mut want = cur.clone();
        want.ports.reverse();
        want.gpus.reverse();
        want.env_keys.reverse();
        let all = Given {
            ports: true,
            gpus: true,
            env_file: true,
            ..Default::default()
        };
        assert!(differences(&cur, &want, all).is_empty());
        want.ports.pop();
        want.gpus.pop();
        let d = differences(&cur, &want, all);
        assert_eq!(
            d.iter().map(|d| d.setting).collect::<Vec<_>>(),
            ["ports", "gpus"]
        );
    }

    #[test]
    fn recreate_keeps_what_was_not_asked_for() {
        let mut cur = base();
        cur.ports = crate::ports::parse_list(&["8888".into()]).unwrap();
        cur.memory = Some(1 << 30);
        let mut want = base();
        want.cpus = Some(2.0);
        let merged = merge(
            &cur,
            &want,
            Given {
                cpus: true,
                ..Default::default()
            },
        );
        assert_eq!(merged.ports, cur.ports);
        assert_eq!(merged.memory, cur.memory);
        assert_eq!(merged.cpus, Some(2.0));
    }

    #[test]
    fn label_round_trip_and_old_labels_load() {
        let mut s = base();
        s.gpus = vec!["nvidia.com/gpu=0".into()];
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Settings>(&json).unwrap(), s);
        // Fields added later must not break reading an older container's label.
        let old: Settings = serde_json::from_str(r#"{"image":"x"}"#).unwrap();
        assert_eq!(old.image, "x");
    }
}
