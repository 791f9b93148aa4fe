//! `mlenv status [--json]`: one inspect, shown for people or for scripts.

use std::io::Write;

use color_eyre::eyre::Result;
use serde::Serialize;

use crate::config::Config;
use crate::environment::recorded_settings;
use crate::podman::{Container, Podman};
use crate::settings::{show_cpus, show_memory, Settings};

/// What `status --json` prints; stable field names for scripts.
#[derive(Debug, Serialize)]
pub struct Status {
    pub name: String,
    pub project: String,
    /// absent, created, running, exited, stopped, paused, ...
    pub state: String,
    pub running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// The project folder was replaced (removed and made anew) since the container started:
    /// it still mounts the old one, and `mlenv up` restarts it.
    pub project_replaced: bool,
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<u64>,
    pub gpus: Vec<String>,
    /// Live use of the attached GPUs, from nvidia-smi in the container; empty when none are
    /// attached or the container is not running.
    pub gpu_usage: Vec<GpuUsage>,
    /// Why `gpu_usage` is empty although GPUs are attached to a running container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_usage_error: Option<String>,
    /// MIG devices the container sees (`nvidia-smi -L`), by UUID.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mig_devices: Vec<MigDevice>,
    /// The systemd user unit that brings the environment back after a reboot.
    pub autostart: Autostart,
    /// Servers `mlenv jupyter` / `mlenv tensorboard` started that answer now.
    pub servers: Vec<crate::environment::servers::Running>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
}

#[derive(Debug, Serialize)]
pub struct Autostart {
    /// Whether it runs at the next boot (or login): `up` enables it, `down` disables it.
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<std::path::PathBuf>,
    /// The unit's start failed at boot (or keeps failing): which unit, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<crate::systemd::Failure>,
    /// The container is gone but mlenv kept its settings: `mlenv up` brings it back.
    pub settings_kept: bool,
}

/// One MIG device as `nvidia-smi -L` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigDevice {
    /// The index of the GPU it is a part of.
    pub gpu: u32,
    /// Its profile, e.g. `1g.10gb`.
    pub profile: String,
    /// Its index on that GPU.
    pub device: u32,
    pub uuid: String,
}

/// The MIG devices in `nvidia-smi -L` output: `  MIG 1g.10gb Device 0: (UUID: MIG-...)`
/// lines under their GPU's `GPU 0: ... (UUID: GPU-...)` line.
pub fn parse_mig(list: &str) -> Vec<MigDevice> {
    let mut gpu = None;
    let mut out = Vec::new();
    for line in list.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("GPU ") {
            gpu = rest.split(':').next().and_then(|n| n.trim().parse().ok());
        } else if let (Some(rest), Some(g)) = (t.strip_prefix("MIG "), gpu) {
            let mut words = rest.split_whitespace();
            let profile = words.next().unwrap_or_default().to_string();
            let device = rest
                .split("Device")
                .nth(1)
                .and_then(|d| d.split(':').next())
                .and_then(|d| d.trim().parse().ok());
            let uuid = rest
                .split("UUID:")
                .nth(1)
                .map(|u| u.trim().trim_end_matches(')').trim().to_string());
            if let (Some(device), Some(uuid)) = (device, uuid) {
                out.push(MigDevice {
                    gpu: g,
                    profile,
                    device,
                    uuid,
                });
            }
        }
    }
    out
}

/// One GPU as nvidia-smi reports it. Values nvidia-smi cannot give (`[N/A]`, as on MIG
/// slices) are `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuUsage {
    pub index: u32,
    pub name: String,
    pub utilization_percent: Option<u32>,
    pub memory_used_mib: Option<u64>,
    pub memory_total_mib: Option<u64>,
}

/// The nvidia-smi query whose output [`parse_usage`] reads.
pub const NVIDIA_SMI_QUERY: [&str; 3] = [
    "nvidia-smi",
    "--query-gpu=index,name,utilization.gpu,memory.used,memory.total",
    "--format=csv,noheader,nounits",
];

/// Parses the CSV lines of [`NVIDIA_SMI_QUERY`].
pub fn parse_usage(csv: &str) -> Result<Vec<GpuUsage>, String> {
    csv.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let [index, name, util, used, total] = f[..] else {
                return Err(format!("unexpected nvidia-smi line {line:?}"));
            };
            Ok(GpuUsage {
                index: index
                    .parse()
                    .map_err(|_| format!("unexpected nvidia-smi line {line:?}"))?,
                name: name.to_string(),
                utilization_percent: util.parse().ok(),
                memory_used_mib: used.parse().ok(),
                memory_total_mib: total.parse().ok(),
            })
        })
        .collect()
}

pub async fn run(cfg: &Config, podman: &Podman, json: bool) -> Result<()> {
    let container = podman.inspect(&cfg.project.container).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut status = build(cfg, container.as_ref(), now)?;
    if status.running {
        status.servers = crate::environment::servers::running(&cfg.project.state_dir);
    }
    if let Some((unit, enabled)) = crate::autostart::installed(&cfg.project) {
        status.autostart.enabled = enabled;
        status.autostart.unit = Some(unit);
        // Only for an environment that is not running: the warm path asks no systemctl.
        if !status.running {
            status.autostart.failed = crate::systemd::failure(&cfg.project.container);
        }
    }
    if container.is_none() {
        status.autostart.settings_kept =
            crate::environment::kept_settings(&cfg.project.state_dir).is_ok_and(|k| k.is_some());
    }
    // nvidia-smi answers only for NVIDIA's devices; other kinds cost no exec.
    if status.running && status.gpus.iter().any(|g| is_nvidia(g)) {
        match gpu_usage(podman, &cfg.project.container).await {
            Ok(usage) => {
                // MIG slices show as their GPU with n/a values; their own UUIDs are in -L.
                if usage.iter().any(|u| u.utilization_percent.is_none()) {
                    let argv = ["nvidia-smi".to_string(), "-L".to_string()];
                    if let Ok(o) = podman.capture(&cfg.project.container, &argv).await {
                        status.mig_devices = parse_mig(&String::from_utf8_lossy(&o.stdout));
                    }
                }
                status.gpu_usage = usage
            }
            Err(why) => status.gpu_usage_error = Some(why),
        }
    }
    let mut out = std::io::stdout().lock();
    let text = if json {
        serde_json::to_string_pretty(&status)? + "\n"
    } else {
        render(&status)
    };
    crate::ui::write_out(&mut out, text.as_bytes())?;
    out.flush().ok();
    Ok(())
}

fn build(cfg: &Config, c: Option<&Container>, now: i64) -> Result<Status> {
    // What is known without a container; one that exists fills in the rest.
    let absent = Status {
        name: cfg.project.container.clone(),
        project: cfg.project.dir.display().to_string(),
        state: "absent".into(),
        running: false,
        id: None,
        image: None,
        workdir: None,
        project_replaced: false,
        ports: vec![],
        started_at: None,
        uptime_seconds: None,
        gpus: vec![],
        gpu_usage: vec![],
        gpu_usage_error: None,
        mig_devices: vec![],
        autostart: Autostart {
            enabled: false,
            unit: None,
            failed: None,
            settings_kept: false,
        },
        servers: vec![],
        settings: None,
    };
    let Some(c) = c else {
        return Ok(absent);
    };
    let settings = recorded_settings(c).ok();
    let uptime = if c.state.running {
        parse_rfc3339(&c.state.started_at).map(|t| (now - t).max(0) as u64)
    } else {
        None
    };
    Ok(Status {
        state: c.state.status.clone(),
        running: c.state.running,
        id: Some(c.id.chars().take(12).collect()),
        image: Some(c.image_name.clone()),
        workdir: Some(c.config.working_dir.clone()),
        project_replaced: crate::environment::folder_replaced(c, &cfg.project.dir) == Some(true),
        ports: ports_of(c),
        started_at: Some(c.state.started_at.clone()).filter(|s| !s.is_empty()),
        uptime_seconds: uptime,
        gpus: settings
            .as_ref()
            .map(|s| s.gpus.clone())
            .unwrap_or_default(),
        settings,
        ..absent
    })
}

/// Whether a recorded CDI name is one of NVIDIA's (`nvidia.com/gpu=0`, `nvidia.com/mig=...`).
fn is_nvidia(name: &str) -> bool {
    name.split_once('/')
        .is_some_and(|(vendor, _)| vendor == "nvidia.com")
}

/// Asks nvidia-smi inside the container: it sees exactly the GPUs attached to it.
async fn gpu_usage(podman: &Podman, name: &str) -> Result<Vec<GpuUsage>, String> {
    let argv: Vec<String> = NVIDIA_SMI_QUERY.iter().map(|s| s.to_string()).collect();
    let crate::podman::ExecOutcome {
        code,
        stdout: out,
        stderr: err,
    } = podman
        .capture(name, &argv)
        .await
        .map_err(|e| format!("cannot run nvidia-smi in {name}: {e}"))?;
    if code != 0 {
        let why = String::from_utf8_lossy(&err);
        let why = why.trim();
        return Err(match code {
            127 => "nvidia-smi is not in the container (is the NVIDIA CDI spec's utilities mount missing?)".to_string(),
            _ if why.is_empty() => format!("nvidia-smi exited with {code}"),
            _ => format!("nvidia-smi exited with {code}: {why}"),
        });
    }
    parse_usage(&String::from_utf8_lossy(&out))
}

/// The GPU table, as the original tool showed it (index, name, utilization, memory).
fn gpu_table(usage: &[GpuUsage], error: Option<&str>) -> String {
    if let Some(e) = error {
        return format!("           GPU usage unavailable: {e}\n");
    }
    let na = |v: Option<String>| v.unwrap_or_else(|| "n/a".into());
    let mut t = format!(
        "           {:<5} {:<28} {:>5} {:>21}\n",
        "INDEX", "NAME", "UTIL", "MEMORY USED / TOTAL"
    );
    for g in usage {
        let mem = format!(
            "{} / {} MiB",
            na(g.memory_used_mib.map(|m| m.to_string())),
            na(g.memory_total_mib.map(|m| m.to_string()))
        );
        t.push_str(&format!(
            "           {:<5} {:<28} {:>5} {:>21}\n",
            g.index,
            g.name,
            na(g.utilization_percent.map(|u| format!("{u}%"))),
            mem
        ));
    }
    t
}

/// Live port bindings as podman reports them: `127.0.0.1:8888->8888/tcp`.
fn ports_of(c: &Container) -> Vec<String> {
    let mut out = Vec::new();
    for (container_port, bindings) in c.network_settings.ports.iter().flatten() {
        for b in bindings.iter().flatten() {
            let ip = if b.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &b.host_ip
            };
            out.push(format!("{ip}:{}->{container_port}", b.host_port));
        }
    }
    out
}

fn render(s: &Status) -> String {
    let rule = "━".repeat(50);
    let mut out = format!("{rule}\n");
    let row = |out: &mut String, k: &str, v: &str| out.push_str(&format!("{k:<10} {v}\n"));
    row(&mut out, "Container:", &s.name);
    let state = match s.uptime_seconds {
        Some(up) => format!("{} (up {})", s.state, human_duration(up)),
        None if s.state == "absent" && s.autostart.settings_kept => {
            "gone (`mlenv up` brings it back with the settings it had)".into()
        }
        None if s.state == "absent" => "not created (run `mlenv up`)".into(),
        None => s.state.clone(),
    };
    row(&mut out, "State:", &state);
    row(&mut out, "Project:", &s.project);
    if s.project_replaced {
        row(
            &mut out,
            "",
            "⚠ replaced since the container started: it still sees the old folder; `mlenv up` restarts it",
        );
    }
    if let Some(image) = &s.image {
        row(&mut out, "Image:", image);
    }
    if let Some(w) = &s.workdir {
        row(&mut out, "Workdir:", w);
    }
    if s.state != "absent" {
        let ports = if s.ports.is_empty() {
            match &s.settings {
                Some(st) if !st.ports.is_empty() => crate::settings::show_ports(&st.ports),
                _ => "none".into(),
            }
        } else {
            s.ports.join(", ")
        };
        row(&mut out, "Ports:", &ports);
        let gpus = if s.gpus.is_empty() {
            "no GPUs attached".to_string()
        } else {
            s.gpus.join(", ")
        };
        row(&mut out, "GPUs:", &gpus);
        if s.running && s.gpus.iter().any(|g| is_nvidia(g)) {
            out.push_str(&gpu_table(&s.gpu_usage, s.gpu_usage_error.as_deref()));
            for m in &s.mig_devices {
                out.push_str(&format!(
                    "           MIG {} (device {} of GPU {}): {}\n",
                    m.profile, m.device, m.gpu, m.uuid
                ));
            }
        }
        let autostart = match (&s.autostart.unit, s.autostart.enabled) {
            (Some(u), true) => format!("after reboot ({})", u.display()),
            (Some(u), false) => format!("off until `mlenv up` ({})", u.display()),
            (None, _) => "off".to_string(),
        };
        row(&mut out, "Autostart:", &autostart);
        for (i, srv) in s.servers.iter().enumerate() {
            let label = if i == 0 { "Servers:" } else { "" };
            row(&mut out, label, &format!("{} {}", srv.kind, srv.url));
        }
        if let Some(st) = &s.settings {
            row(
                &mut out,
                "Limits:",
                &format!(
                    "memory {}, cpus {}",
                    show_memory(st.memory),
                    show_cpus(st.cpus)
                ),
            );
            if let Some(env) = &st.env_file {
                row(
                    &mut out,
                    "Env file:",
                    &format!("{} ({} variables)", env.display(), st.env_keys.len()),
                );
            }
        }
    }
    if let Some(f) = &s.autostart.failed {
        let why = f.reason.as_deref().unwrap_or("its journal says why");
        row(
            &mut out,
            "Autostart:",
            &format!("{} {}: {why}", f.unit, f.state),
        );
        row(
            &mut out,
            "",
            &format!(
                "(journalctl --user -u {}; `mlenv up` brings it back)",
                f.unit
            ),
        );
    }
    out.push_str(&rule);
    out.push('\n');
    out
}

pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// Seconds since the epoch of an RFC 3339 time as podman writes it
/// (`2026-11-29T01:50:03.123456789+01:00` or `...Z`).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (date, rest) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    let time_end = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(time_end);
    let time = time.split('.').next()?;
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let offset = match zone {
        "" | "Z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (oh, om) = z[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    Some(days_from_civil(y, mo, day) * 86400 + hh * 3600 + mm * 60 + ss - offset)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let cases: &[(&str, Option<i64>)] = &[
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2026-11-29T01:50:03.123456789Z", Some(1795917003)),
            ("2026-11-29T02:50:03.5+01:00", Some(1795917003)),
            ("2026-11-28T20:50:03-05:00", Some(1795917003)),
            ("2000-02-29T00:00:00Z", Some(951782400)),
            ("0001-01-01T00:00:00Z", Some(-62135596800)),
            ("garbage", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_rfc3339(input), *want, "{input}");
        }
    }

    #[test]
    fn nvidia_smi_usage() {
        let got = parse_usage(
            "0, NVIDIA H100 80GB HBM3, 37, 1024, 81559\n1, NVIDIA A100-SXM4-40GB, [N/A], [N/A], 40960\n\n",
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            GpuUsage {
                index: 0,
                name: "NVIDIA H100 80GB HBM3".into(),
                utilization_percent: Some(37),
                memory_used_mib: Some(1024),
                memory_total_mib: Some(81559),
            }
        );
        assert_eq!(got[1].utilization_percent, None);
        assert_eq!(got[1].memory_total_mib, Some(40960));
        assert_eq!(parse_usage("").unwrap(), vec![]);
        for bad in ["x, a, 1, 2, 3", "0, a, 1", "No devices were found"] {
            assert!(parse_usage(bad).is_err(), "{bad}");
        }
        let table = gpu_table(&got, None);
        assert!(table.contains("NVIDIA H100 80GB HBM3") && table.contains("37%"));
        assert!(table.contains("1024 / 81559 MiB") && table.contains("n/a / 40960 MiB"));
        assert!(gpu_table(&[], Some("nvidia-smi exited with 9")).contains("unavailable"));
    }

    #[test]
    fn durations() {
        for (secs, want) in [(5, "5s"), (65, "1m 5s"), (3700, "1h 1m"), (90000, "1d 1h")] {
            assert_eq!(human_duration(secs), want);
        }
    }

    #[test]
    fn only_nvidia_devices_ask_nvidia_smi() {
        for (name, want) in [
            ("nvidia.com/gpu=0", true),
            ("nvidia.com/gpu=all", true),
            ("nvidia.com/mig=0:1", true),
            ("mlenv.test/dev=zero", false),
            ("amd.com/gpu=0", false),
            ("notnvidia.com/gpu=0", false),
        ] {
            assert_eq!(is_nvidia(name), want, "{name}");
        }
    }

    #[test]
    fn mig_devices_from_nvidia_smi_list() {
        let list = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5fb3)\n  MIG 1g.5gb      Device  0: (UUID: MIG-aaaa-1111)\n  MIG 2g.10gb     Device  1: (UUID: MIG-bbbb-2222)\nGPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-6fb3)\n";
        assert_eq!(
            parse_mig(list),
            [
                MigDevice {
                    gpu: 0,
                    profile: "1g.5gb".into(),
                    device: 0,
                    uuid: "MIG-aaaa-1111".into()
                },
                MigDevice {
                    gpu: 0,
                    profile: "2g.10gb".into(),
                    device: 1,
                    uuid: "MIG-bbbb-2222".into()
                },
            ]
        );
        assert!(parse_mig("GPU 0: T4 (UUID: GPU-1)\n").is_empty());
    }
}
