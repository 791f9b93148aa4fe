//! `--memory`, `--cpus`, `--shm-size`, `--ipc` and `--ulimit`, parsed the way podman's CLI
//! reads them, and the process limits NVIDIA recommends for its images.

use serde::{Deserialize, Serialize};

/// Podman refuses memory limits below 6 MiB.
const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// `16g`, `512m`, `1.5g`, `2048`, `16GiB`, `16gb`: binary units as podman's `--memory`.
pub fn parse_memory(value: &str) -> Result<u64, String> {
    parse_size("memory", value)
}

/// `--shm-size`: a size as `--memory` takes it (podman has no lower bound; 6m keeps a
/// typo such as `2` from giving PyTorch's workers a 2-byte /dev/shm).
pub fn parse_shm(value: &str) -> Result<u64, String> {
    parse_size("shm-size", value)
}

fn parse_size(flag: &str, value: &str) -> Result<u64, String> {
    let accepted = "expected a size like 512m, 16g or 1.5g (units b, k, m, g, t; at least 6m)";
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => {
            return Err(format!(
                "invalid --{flag} {value:?}: unknown unit; {accepted}"
            ))
        }
    };
    let n: f64 = match number.parse() {
        Ok(n) if number.bytes().filter(|b| *b == b'.').count() <= 1 => n,
        _ => {
            return Err(format!(
                "invalid --{flag} {value:?}: not a number; {accepted}"
            ))
        }
    };
    let bytes = n * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 / 2.0 {
        return Err(format!("invalid --{flag} {value:?}: too large; {accepted}"));
    }
    let bytes = bytes as u64;
    if bytes < MIN_MEMORY {
        return Err(format!("invalid --{flag} {value:?}: below 6m; {accepted}"));
    }
    Ok(bytes)
}

/// Human form of a byte count for messages: `16g`, `1.5g`, `512m`.
pub fn format_memory(bytes: u64) -> String {
    for (shift, unit) in [(40, "t"), (30, "g"), (20, "m"), (10, "k")] {
        let scale = (1u64 << shift) as f64;
        if bytes >= 1u64 << shift {
            let v = bytes as f64 / scale;
            return if v.fract() == 0.0 {
                format!("{v}{unit}")
            } else {
                let n = format!("{v:.2}");
                format!("{}{unit}", n.trim_end_matches('0'))
            };
        }
    }
    format!("{bytes}b")
}

/// CFS period the podman CLI uses for `--cpus`; the quota is `cpus * period`.
pub const CPU_PERIOD: u64 = 100_000;

/// `4`, `2.5`, `0.5`: a number of CPUs from 0.01 up to the CPUs this machine has.
pub fn parse_cpus(value: &str, online: usize) -> Result<f64, String> {
    let accepted = format!("expected a number of CPUs from 0.01 to {online}, e.g. 4 or 2.5");
    let n: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("invalid --cpus {value:?}: not a number; {accepted}"))?;
    if !n.is_finite() || n < 0.01 || n > online as f64 {
        return Err(format!(
            "invalid --cpus {value:?}: out of range; {accepted}"
        ));
    }
    // Podman works in quota units of 1/100000 of a CPU period; round to what it keeps.
    Ok((n * 100.0).round() / 100.0)
}

/// The smallest /dev/shm mlenv gives by default: podman's 64 MiB default makes PyTorch
/// DataLoader workers die with "bus error" on real batches.
pub const DEFAULT_SHM: u64 = 2 << 30;

/// /dev/shm's size when `shm-size` says nothing: half the host's memory, as the host's own
/// /dev/shm has it (what `--ipc=host` would give), and at least [`DEFAULT_SHM`]. A tmpfs
/// size is a cap: nothing is used until written, and what is written counts against the
/// container's memory.
pub fn default_shm(mem_total: Option<u64>) -> u64 {
    mem_total.map_or(DEFAULT_SHM, |m| (m / 2).max(DEFAULT_SHM))
}

/// The host's memory (MemTotal of /proc/meminfo).
pub fn host_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The IPC namespace: a private one with a /dev/shm of `shm-size` (the default), or the
/// host's, as NVIDIA's own `docker run --ipc=host` examples do. Private by default: the
/// host's needs /dev/mqueue mounted on the host (podman binds it; minimal hosts and some
/// VMs have none) and shares /dev/shm with every other user of a login node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Ipc {
    Host,
    #[default]
    Private,
}

impl Ipc {
    pub fn parse(value: &str) -> Result<Ipc, String> {
        match value.trim() {
            "host" => Ok(Ipc::Host),
            "private" => Ok(Ipc::Private),
            _ => Err(format!(
                "invalid --ipc {value:?}: expected private (a /dev/shm of --shm-size) or host \
                 (the host's IPC namespace and /dev/shm, as NVIDIA's examples run)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ipc::Host => "host",
            Ipc::Private => "private",
        }
    }
}

/// Resource names `--ulimit` takes, as podman's (RLIMIT_ + upper case).
const ULIMIT_NAMES: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// One process limit, `NAME=SOFT[:HARD]`; -1 is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

impl std::fmt::Display for Ulimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.soft == self.hard {
            write!(f, "{}={}", self.name, self.soft)
        } else {
            write!(f, "{}={}:{}", self.name, self.soft, self.hard)
        }
    }
}

/// NVIDIA's recommendation for its images: `--ulimit memlock=-1 --ulimit stack=67108864`.
pub const NVIDIA_MEMLOCK: i64 = -1;
pub const NVIDIA_STACK: i64 = 64 << 20;

/// `memlock=-1`, `stack=67108864`, `nofile=1024:4096` (a list, comma separated or
/// repeated). A name given twice is an error: which one wins would be a guess.
pub fn parse_ulimits(values: &[String]) -> Result<Vec<Ulimit>, String> {
    let accepted = "expected NAME=SOFT[:HARD] such as memlock=-1 or stack=67108864 \
                    (-1 or unlimited for no limit; NAME one of as, core, cpu, data, fsize, \
                    locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, \
                    sigpending, stack)";
    let mut out: Vec<Ulimit> = Vec::new();
    for item in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let bad = |why: &str| format!("invalid --ulimit {item:?}: {why}; {accepted}");
        let (name, limits) = item.split_once('=').ok_or_else(|| bad("no '='"))?;
        let name = name.trim().to_ascii_lowercase();
        if !ULIMIT_NAMES.contains(&name.as_str()) {
            return Err(bad("unknown limit name"));
        }
        let number = |s: &str| -> Result<i64, String> {
            match s.trim() {
                "-1" | "unlimited" => Ok(-1),
                n => n
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| bad("not a number")),
            }
        };
        let (soft, hard) = match limits.split_once(':') {
            Some((s, h)) => (number(s)?, number(h)?),
            None => {
                let n = number(limits)?;
                (n, n)
            }
        };
        if hard != -1 && (soft == -1 || soft > hard) {
            return Err(bad("the soft limit is above the hard limit"));
        }
        if out.iter().any(|u| u.name == name) {
            return Err(bad(&format!("{name} is given twice")));
        }
        out.push(Ulimit { name, soft, hard });
    }
    Ok(out)
}

/// The limits a container gets: those the user set, and NVIDIA's memlock and stack where
/// the user set none. A rootless podman cannot raise a hard limit (it lacks
/// CAP_SYS_RESOURCE), and a container asking for more than the caller's hard limit fails
/// to start; so each default is capped at that hard limit (`None`: unlimited), and
/// memlock=-1 becomes the hard limit wherever that is finite. A limit the user set is
/// passed as given: podman's own error then names it.
pub fn effective_ulimits(set: &[Ulimit], hard_limit: impl Fn(&str) -> Option<u64>) -> Vec<Ulimit> {
    let mut out = set.to_vec();
    for (name, wanted) in [("memlock", NVIDIA_MEMLOCK), ("stack", NVIDIA_STACK)] {
        if set.iter().any(|u| u.name == name) {
            continue;
        }
        let value = match hard_limit(name) {
            None => wanted,
            Some(hard) => {
                let hard = i64::try_from(hard).unwrap_or(i64::MAX);
                if wanted == -1 {
                    hard
                } else {
                    wanted.min(hard)
                }
            }
        };
        out.push(Ulimit {
            name: name.into(),
            soft: value,
            hard: value,
        });
    }
    out
}

/// A limit the user set that a rootless podman cannot give: above the caller's hard
/// limit, which only CAP_SYS_RESOURCE (that podman lacks) may raise. The error names the
/// limit, the hard limit, and what to do.
pub fn check_rootless_ulimits(
    set: &[Ulimit],
    hard_limit: impl Fn(&str) -> Option<u64>,
) -> Result<(), String> {
    for u in set {
        let Some(hard) = hard_limit(&u.name) else {
            continue;
        };
        let hard = i64::try_from(hard).unwrap_or(i64::MAX);
        let over = |v: i64| v == -1 || v > hard;
        if over(u.soft) || over(u.hard) {
            return Err(format!(
                "invalid --ulimit {u}: your hard limit for {name} is {hard}, and rootless podman \
                 cannot raise a hard limit (it has no CAP_SYS_RESOURCE); ask for at most \
                 {name}={hard}, or have the administrator raise it (limits.conf, or systemd's \
                 Limit{upper}=)",
                name = u.name,
                upper = u.name.to_ascii_uppercase()
            ));
        }
    }
    Ok(())
}

/// The caller's hard limit for `name` (`None`: unlimited or unknown).
pub fn own_hard_limit(name: &str) -> Option<u64> {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    let resource = match name {
        "as" => Resource::RLIMIT_AS,
        "core" => Resource::RLIMIT_CORE,
        "cpu" => Resource::RLIMIT_CPU,
        "data" => Resource::RLIMIT_DATA,
        "fsize" => Resource::RLIMIT_FSIZE,
        "locks" => Resource::RLIMIT_LOCKS,
        "memlock" => Resource::RLIMIT_MEMLOCK,
        "msgqueue" => Resource::RLIMIT_MSGQUEUE,
        "nice" => Resource::RLIMIT_NICE,
        "nofile" => Resource::RLIMIT_NOFILE,
        "nproc" => Resource::RLIMIT_NPROC,
        "rss" => Resource::RLIMIT_RSS,
        "rtprio" => Resource::RLIMIT_RTPRIO,
        "rttime" => Resource::RLIMIT_RTTIME,
        "sigpending" => Resource::RLIMIT_SIGPENDING,
        "stack" => Resource::RLIMIT_STACK,
        _ => return None,
    };
    let (_, hard) = getrlimit(resource).ok()?;
    (hard != RLIM_INFINITY).then_some(hard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits() {
        let parsed = parse_ulimits(&[
            "memlock=-1,stack=67108864".into(),
            "nofile=1024:4096".into(),
        ])
        .unwrap();
        assert_eq!(
            parsed.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
            ["memlock=-1", "stack=67108864", "nofile=1024:4096"]
        );
        assert_eq!(
            parse_ulimits(&["core=unlimited".into()]).unwrap()[0].soft,
            -1
        );
        assert_eq!(
            parse_ulimits(&["nofile=100:-1".into()]).unwrap()[0].hard,
            -1
        );
        for (input, want) in [
            ("memlock", "no '='"),
            ("mem=1", "unknown limit name"),
            ("stack=big", "not a number"),
            ("stack=-2", "not a number"),
            ("nofile=10:5", "soft limit is above the hard limit"),
            ("nofile=-1:5", "soft limit is above the hard limit"),
            ("stack=1,stack=2", "stack is given twice"),
        ] {
            let err = parse_ulimits(&[input.into()]).unwrap_err();
            assert!(
                err.contains(want) && err.contains("--ulimit"),
                "{input}: {err}"
            );
        }
    }

    #[test]
    fn nvidia_defaults_capped_at_the_hard_limits() {
        let none = |_: &str| None;
        let names = |v: Vec<Ulimit>| v.iter().map(|u| u.to_string()).collect::<Vec<_>>();
        assert_eq!(
            names(effective_ulimits(&[], none)),
            ["memlock=-1", "stack=67108864"]
        );
        // Debian's default: memlock hard 8 MiB; a rootless podman cannot go past it.
        let debian = |n: &str| match n {
            "memlock" => Some(8 << 20),
            "stack" => Some(16 << 20),
            _ => None,
        };
        assert_eq!(
            names(effective_ulimits(&[], debian)),
            ["memlock=8388608", "stack=16777216"]
        );
        let set = parse_ulimits(&["memlock=1024".into()]).unwrap();
        assert_eq!(
            names(effective_ulimits(&set, debian)),
            ["memlock=1024", "stack=16777216"]
        );
    }

    #[test]
    fn rootless_cannot_raise_a_hard_limit() {
        let debian = |n: &str| (n == "memlock").then_some(8 << 20);
        let set = parse_ulimits(&["memlock=-1".into()]).unwrap();
        let err = check_rootless_ulimits(&set, debian).unwrap_err();
        assert!(
            err.starts_with("invalid --ulimit memlock=-1: your hard limit for memlock is 8388608")
                && err.contains("LimitMEMLOCK="),
            "{err}"
        );
        let set = parse_ulimits(&["memlock=1024:8388608".into(), "stack=-1".into()]).unwrap();
        assert_eq!(check_rootless_ulimits(&set, debian), Ok(()));
    }

    #[test]
    fn ipc_and_shm() {
        assert_eq!(Ipc::parse("host"), Ok(Ipc::Host));
        assert_eq!(Ipc::parse(" private "), Ok(Ipc::Private));
        assert!(Ipc::parse("shareable")
            .unwrap_err()
            .contains("--ipc \"shareable\""));
        assert_eq!(parse_shm("16g"), Ok(16 << 30));
        assert!(parse_shm("2")
            .unwrap_err()
            .starts_with("invalid --shm-size \"2\""));
        assert_eq!(default_shm(None), 2 << 30);
        assert_eq!(default_shm(Some(24 << 30)), 12 << 30);
        assert_eq!(default_shm(Some(2 << 30)), 2 << 30);
    }

    const G: u64 = 1 << 30;
    const M: u64 = 1 << 20;

    #[test]
    fn memory() {
        let ok: &[(&str, u64)] = &[
            ("16g", 16 * G),
            ("16G", 16 * G),
            ("16gb", 16 * G),
            ("16GiB", 16 * G),
            ("512m", 512 * M),
            ("1.5g", 3 * G / 2),
            ("6m", 6 * M),
            ("1t", 1 << 40),
            ("8388608", 8 * M),
        ];
        for (input, want) in ok {
            assert_eq!(parse_memory(input), Ok(*want), "{input}");
        }
        let bad: &[(&str, &str)] = &[
            ("16x", "unknown unit"),
            ("", "not a number"),
            ("g", "not a number"),
            ("-1g", "unknown unit"),
            ("1.2.3g", "not a number"),
            ("1k", "below 6m"),
            ("0", "below 6m"),
            ("99999999999t", "too large"),
        ];
        for (input, want) in bad {
            let err = parse_memory(input).unwrap_err();
            assert!(
                err.contains(want) && err.contains(&format!("{input:?}")),
                "{input}: {err}"
            );
        }
    }

    #[test]
    fn memory_format_round_trips() {
        for s in ["16g", "512m", "1.5g", "1t", "6m"] {
            assert_eq!(format_memory(parse_memory(s).unwrap()), s);
        }
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("4", 8), Ok(4.0));
        assert_eq!(parse_cpus("2.5", 8), Ok(2.5));
        assert_eq!(parse_cpus("0.01", 8), Ok(0.01));
        for (input, want) in [
            ("-1", "out of range"),
            ("0", "out of range"),
            ("9", "out of range"),
            ("abc", "not a number"),
            ("NaN", "out of range"),
            ("inf", "out of range"),
            ("", "not a number"),
        ] {
            let err = parse_cpus(input, 8).unwrap_err();
            assert!(
                err.contains(want) && err.contains("from 0.01 to 8"),
                "{input}: {err}"
            );
        }
    }
}
