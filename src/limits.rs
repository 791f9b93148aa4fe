//! `--memory` and `--cpus`, parsed the way podman's CLI reads them.

/// Podman refuses memory limits below 6 MiB.
const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// `16g`, `512m`, `1.5g`, `2048`, `16GiB`, `16gb`: binary units as podman's `--memory`.
pub fn parse_memory(value: &str) -> Result<u64, String> {
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
                "invalid --memory {value:?}: unknown unit; {accepted}"
            ))
        }
    };
    let n: f64 = match number.parse() {
        Ok(n) if number.bytes().filter(|b| *b == b'.').count() <= 1 => n,
        _ => {
            return Err(format!(
                "invalid --memory {value:?}: not a number; {accepted}"
            ))
        }
    };
    let bytes = n * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 / 2.0 {
        return Err(format!("invalid --memory {value:?}: too large; {accepted}"));
    }
    let bytes = bytes as u64;
    if bytes < MIN_MEMORY {
        return Err(format!("invalid --memory {value:?}: below 6m; {accepted}"));
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

#[cfg(test)]
mod tests {
    use super::*;

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
