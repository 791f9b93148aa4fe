//! The pure parsers of driver discovery: the kernel module's version and per-GPU
//! information files, nvidia-smi's CSV, PCI bus IDs. No filesystem, no processes.

use std::collections::BTreeMap;

/// The version in `/proc/driver/nvidia/version`, whose first line reads
/// `NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 ...` or, for the
/// open module, `NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.15  Release
/// Build ...`: the first word made of numbers and dots.
pub fn parse_version(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("NVRM version:"))?;
    line.split_whitespace()
        .find(|word| is_version(word))
        .map(str::to_string)
}

/// `550.54.15`, `390.157`: at least two dot-separated numbers.
pub fn is_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// What `/proc/driver/nvidia/gpus/<bus>/information` says about a GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Information {
    pub model: String,
    /// `None` when the driver has not read it yet (it prints `??`).
    pub uuid: Option<String>,
    pub minor: u32,
    pub pci_bus_id: Option<String>,
    /// Excluded with `NVreg_ExcludedGpus`: not usable, and NVML does not number it.
    pub excluded: bool,
}

/// Parses an information file: `Key: <tabs and spaces> value` lines.
pub fn parse_information(text: &str) -> Result<Information, String> {
    let fields: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim(), value.trim()))
        .collect();
    let minor = fields
        .get("Device Minor")
        .ok_or("no \"Device Minor:\" line")?;
    let minor = minor
        .parse()
        .map_err(|_| format!("\"Device Minor: {minor}\" is not a number"))?;
    Ok(Information {
        model: fields.get("Model").unwrap_or(&"unknown model").to_string(),
        uuid: fields
            .get("GPU UUID")
            .filter(|u| is_gpu_uuid(u))
            .map(|u| u.to_string()),
        minor,
        pci_bus_id: fields.get("Bus Location").map(|b| b.to_string()),
        excluded: fields.get("GPU Excluded").is_some_and(|e| *e == "Yes"),
    })
}

fn is_gpu_uuid(s: &str) -> bool {
    s.strip_prefix("GPU-").is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
    })
}

/// One line of `nvidia-smi --query-gpu=index,uuid,pci.bus_id,name --format=csv,noheader`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmiGpu {
    pub index: u32,
    pub uuid: String,
    pub pci_bus_id: String,
    pub name: String,
}

/// Parses nvidia-smi's answer to [`SMI_QUERY`], e.g.
/// `0, GPU-4cf8db2d-..., 00000000:17:00.0, NVIDIA H100 80GB HBM3`.
pub fn parse_smi_gpus(text: &str) -> Result<Vec<SmiGpu>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let bad = |why: &str| format!("line {} {line:?}: {why}", n + 1);
            let fields: Vec<&str> = line.splitn(4, ',').map(str::trim).collect();
            let [index, uuid, bus, name] = fields[..] else {
                return Err(bad(
                    "expected 4 comma-separated fields: index, uuid, pci.bus_id, name",
                ));
            };
            let index = index
                .parse()
                .map_err(|_| bad("the index is not a number"))?;
            if !is_gpu_uuid(uuid) {
                return Err(bad("the UUID does not start with GPU-"));
            }
            Ok(SmiGpu {
                index,
                uuid: uuid.to_string(),
                pci_bus_id: normalize_bus_id(bus),
                name: name.to_string(),
            })
        })
        .collect()
}

/// `(domain, bus, device, function)` of a PCI address in `0000:17:00.0` form or
/// nvidia-smi's `00000000:17:00.0`.
pub fn pci_address(s: &str) -> Option<(u32, u32, u32, u32)> {
    let mut parts = s.split(':');
    let (domain, bus, devfn) = (parts.next()?, parts.next()?, parts.next()?);
    let (device, function) = devfn.split_once('.')?;
    if parts.next().is_some() {
        return None;
    }
    let hex = |p: &str| u32::from_str_radix(p, 16).ok();
    Some((hex(domain)?, hex(bus)?, hex(device)?, hex(function)?))
}

/// A PCI address in the kernel's `0000:17:00.0` form; unchanged when it is not one.
pub fn normalize_bus_id(s: &str) -> String {
    match pci_address(s) {
        Some((domain, bus, device, function)) => {
            format!("{domain:04x}:{bus:02x}:{device:02x}.{function:x}")
        }
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvidia::nvidia_tree;

    #[test]
    fn version_table() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n",
                Some("550.54.15"),
            ),
            (
                "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  (dvs-builder@U16-I3-B03-4-3)  Fri Aug 16 21:42:42 UTC 2024\n",
                Some("560.35.03"),
            ),
            (
                "NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  550.90.07  Release Build  (dvs-builder@U16-T02-35-3)  Fri May 31 09:30:47 UTC 2024\n",
                Some("550.90.07"),
            ),
            (
                "NVRM version: NVIDIA UNIX x86_64 Kernel Module  390.157  Wed Oct 12 09:19:07 UTC 2022\n",
                Some("390.157"),
            ),
            ("", None),
            ("NVRM version: NVIDIA UNIX x86_64 Kernel Module\n", None),
            ("GCC version:  gcc version 12.2.0\n", None),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_version(text).as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn information_table() {
        let gpu = nvidia_tree::FakeGpu {
            index: 0,
            minor: 3,
            uuid: nvidia_tree::uuid(0),
            pci_bus_id: "0000:18:00.0".into(),
            model: "NVIDIA A100-SXM4-80GB".into(),
        };
        let real = nvidia_tree::information(&gpu);
        assert_eq!(
            parse_information(&real).unwrap(),
            Information {
                model: "NVIDIA A100-SXM4-80GB".into(),
                uuid: Some(gpu.uuid.clone()),
                minor: 3,
                pci_bus_id: Some("0000:18:00.0".into()),
                excluded: false,
            }
        );
        let unknown_uuid = real.replace(&gpu.uuid, "??");
        assert_eq!(parse_information(&unknown_uuid).unwrap().uuid, None);
        let excluded = real.replace("GPU Excluded:\t No", "GPU Excluded:\t Yes");
        assert!(parse_information(&excluded).unwrap().excluded);
        let no_minor = real.replace("Device Minor: \t 3\n", "");
        assert_eq!(
            parse_information(&no_minor).unwrap_err(),
            "no \"Device Minor:\" line"
        );
        let bad_minor = real.replace("Device Minor: \t 3", "Device Minor: \t x");
        assert!(parse_information(&bad_minor)
            .unwrap_err()
            .contains("is not a number"));
    }

    #[test]
    fn smi_csv_table() {
        let uuid = nvidia_tree::uuid(0);
        let ok: &[(String, Vec<SmiGpu>)] = &[
            (String::new(), vec![]),
            (
                format!("0, {uuid}, 00000000:17:00.0, NVIDIA H100 80GB HBM3\n\n"),
                vec![SmiGpu {
                    index: 0,
                    uuid: uuid.clone(),
                    pci_bus_id: "0000:17:00.0".into(),
                    name: "NVIDIA H100 80GB HBM3".into(),
                }],
            ),
            (
                format!("1,{uuid},00000001:AB:00.0,Tesla T4, rev a\n"),
                vec![SmiGpu {
                    index: 1,
                    uuid: uuid.clone(),
                    pci_bus_id: "0001:ab:00.0".into(),
                    name: "Tesla T4, rev a".into(),
                }],
            ),
        ];
        for (text, want) in ok {
            assert_eq!(&parse_smi_gpus(text).unwrap(), want, "{text:?}");
        }
        let bad: &[(String, &str)] = &[
            (
                "No devices were found\n".into(),
                "expected 4 comma-separated fields",
            ),
            (
                format!("x, {uuid}, 0000:17:00.0, T4"),
                "index is not a number",
            ),
            (
                "0, 0000:17:00.0, GPU, T4".into(),
                "UUID does not start with GPU-",
            ),
        ];
        for (text, want) in bad {
            let err = parse_smi_gpus(text).unwrap_err();
            assert!(err.contains(want) && err.starts_with("line 1 "), "{err}");
        }
    }

    #[test]
    fn bus_ids() {
        for (input, want) in [
            ("00000000:17:00.0", "0000:17:00.0"),
            ("0000:AB:1F.7", "0000:ab:1f.7"),
            ("not a bus", "not a bus"),
        ] {
            assert_eq!(normalize_bus_id(input), want);
        }
    }
}
