//! Whether the host's NVIDIA driver can run an image's CUDA, decided before a container is
//! made: the failure otherwise shows only at the first CUDA call, as "CUDA driver version is
//! insufficient for CUDA runtime version".
//!
//! The image says what it needs in its config: `CUDA_DRIVER_VERSION` (the driver its CUDA
//! compatibility package was built from, in NGC images) or `CUDA_VERSION` (then the
//! toolkit's minimum driver from [`CUDA_DRIVERS`]), and in `NVIDIA_REQUIRE_CUDA` the older
//! driver branches its forward-compatibility libraries support (`brand=tesla,driver>=535,
//! driver<536`: spaces OR terms, commas AND them, as nvidia-container-toolkit reads it).
//! Podman with CDI never reads `NVIDIA_REQUIRE_CUDA`, so mlenv does.

/// NGC PyTorch releases: (release, CUDA, the driver its CUDA needs natively). From NVIDIA's
/// release notes ("Release 24.10 is based on CUDA 12.6.2 which requires NVIDIA Driver
/// release 560 or later") and the CUDA toolkit's driver table; newest last. Used to name a
/// release that fits an older driver.
pub const NGC_PYTORCH: &[(&str, &str, &str)] = &[
    ("23.01", "12.0.1", "525.85.12"),
    ("23.03", "12.1.0", "530.30.02"),
    ("23.07", "12.1.1", "530.30.02"),
    ("23.08", "12.2.1", "535.86.09"),
    ("23.10", "12.2.2", "535.104.05"),
    ("23.11", "12.3.0", "545.23.06"),
    ("24.02", "12.3.2", "545.23.08"),
    ("24.03", "12.4.0", "550.54.14"),
    ("24.05", "12.4.1", "550.54.15"),
    ("24.06", "12.5.0", "555.42.02"),
    ("24.07", "12.5.1", "555.42.06"),
    ("24.08", "12.6.0", "560.28.03"),
    ("24.12", "12.6.3", "560.35.05"),
    ("25.02", "12.8.0", "570.86.10"),
    ("25.03", "12.8.1", "570.124.06"),
    ("25.06", "12.9.1", "575.57.08"),
    ("25.10", "13.0.2", "580.95.05"),
    ("25.12", "13.1.0", "590.44.01"),
];

/// CUDA major.minor -> the toolkit's minimum driver, for images that set `CUDA_VERSION`
/// but no `CUDA_DRIVER_VERSION` (nvidia/cuda images).
const CUDA_DRIVERS: &[(&str, &str)] = &[
    ("11.8", "520.61.05"),
    ("12.0", "525.60.13"),
    ("12.1", "530.30.02"),
    ("12.2", "535.54.03"),
    ("12.3", "545.23.06"),
    ("12.4", "550.54.14"),
    ("12.5", "555.42.02"),
    ("12.6", "560.28.03"),
    ("12.8", "570.26"),
    ("12.9", "575.51.03"),
    ("13.0", "580.65.06"),
    ("13.1", "590.44.01"),
];

/// What an image's config says about its CUDA.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageCuda {
    /// `CUDA_VERSION`, e.g. `12.6.2.004`.
    pub version: Option<String>,
    /// `CUDA_DRIVER_VERSION`, e.g. `560.35.03`.
    pub driver: Option<String>,
    /// `NVIDIA_REQUIRE_CUDA`.
    pub require: Option<String>,
    /// `NVIDIA_DISABLE_REQUIRE=true`: the image asks for no check.
    pub disabled: bool,
}

impl ImageCuda {
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> ImageCuda {
        let set = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        ImageCuda {
            version: set("CUDA_VERSION"),
            driver: set("CUDA_DRIVER_VERSION"),
            require: set("NVIDIA_REQUIRE_CUDA"),
            disabled: set("NVIDIA_DISABLE_REQUIRE")
                .is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes")),
        }
    }
}

/// The outcome for one image on one host driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Nothing to say: the image names no CUDA, or asks for no check.
    Unknown,
    /// The host driver runs the image's CUDA natively.
    Native,
    /// Older than the image needs, on a branch the image's compat libraries support: CUDA
    /// forward compatibility (data-center GPUs only) is used.
    ForwardCompat { host: String, needs: String },
    /// Older, not a forward-compatible branch, but the same CUDA major: minor-version
    /// compatibility runs most code (not PTX newer than the driver).
    MinorVersion { host: String, needs: String },
    /// Cannot work: what to say.
    Unsupported {
        host: String,
        needs: String,
        cuda: Option<String>,
    },
}

/// `535.104.05` as numbers, for ordering; `None` when it is not a version.
fn numbers(v: &str) -> Option<Vec<u64>> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    v.split('.').map(|p| p.parse::<u64>().ok()).collect()
}

fn at_least(have: &str, need: &str) -> bool {
    match (numbers(have), numbers(need)) {
        (Some(h), Some(n)) => h >= n,
        _ => true,
    }
}

fn major(v: &str) -> Option<u64> {
    numbers(v)?.first().copied()
}

/// `12.6` of `12.6.2.004`.
fn major_minor(v: &str) -> Option<String> {
    let n = numbers(v)?;
    Some(format!("{}.{}", n.first()?, n.get(1)?))
}

/// The lowest driver of each CUDA major's minor-version compatibility.
fn minor_version_floor(cuda_major: u64) -> Option<&'static str> {
    match cuda_major {
        11 => Some("450.80.02"),
        12 => Some("525.60.13"),
        13 => Some("580.65.06"),
        _ => None,
    }
}

/// Whether driver branch `branch` satisfies one term of `NVIDIA_REQUIRE_CUDA` that names a
/// driver range (`brand=tesla,driver>=535,driver<536`). Terms without a driver range (the
/// leading `cuda>=12.6`) say nothing about forward compatibility.
pub fn compat_branch(require: &str, host: &str) -> bool {
    let Some(host) = numbers(host) else {
        return false;
    };
    require.split_whitespace().any(|term| {
        let mut ranged = false;
        let ok = term.split(',').all(|c| {
            let (op, value) = if let Some(v) = c.strip_prefix("driver>=") {
                (">=", v)
            } else if let Some(v) = c.strip_prefix("driver<") {
                ("<", v)
            } else {
                // brand=..., cuda>=..., arch=...: the brand cannot be told here (it is the
                // GPU's), so the driver range decides; forward compatibility is a data-center
                // feature, which the message says.
                return true;
            };
            ranged = true;
            match numbers(value) {
                Some(v) if op == ">=" => host >= v,
                Some(v) => host < v,
                None => false,
            }
        });
        ranged && ok
    })
}

/// The decision for `image` on a host running `host` (the loaded driver's version).
pub fn decide(image: &ImageCuda, host: &str) -> Verdict {
    if image.disabled {
        return Verdict::Unknown;
    }
    // The toolkit's minimum for the image's CUDA first: `CUDA_DRIVER_VERSION` is the driver
    // the compat package was built from, often newer than the CUDA needs (24.10 says
    // 560.35.03; CUDA 12.6 runs on 560.28.03).
    let from_table = image
        .version
        .as_deref()
        .and_then(major_minor)
        .and_then(|mm| {
            CUDA_DRIVERS
                .iter()
                .find(|(c, _)| *c == mm)
                .map(|(_, d)| d.to_string())
        });
    let needs = match (from_table, &image.driver) {
        (Some(d), _) => d,
        (None, Some(d)) if numbers(d).is_some() => d.clone(),
        _ => return Verdict::Unknown,
    };
    if at_least(host, &needs) {
        return Verdict::Native;
    }
    let (host, needs_s) = (host.to_string(), needs.clone());
    if image
        .require
        .as_deref()
        .is_some_and(|r| compat_branch(r, &host))
    {
        return Verdict::ForwardCompat {
            host,
            needs: needs_s,
        };
    }
    let cuda = image.version.as_deref().and_then(major_minor);
    let cuda_major = cuda.as_deref().and_then(major);
    if let Some(floor) = cuda_major.and_then(minor_version_floor) {
        if at_least(&host, floor) {
            return Verdict::MinorVersion {
                host,
                needs: needs_s,
            };
        }
    }
    Verdict::Unsupported {
        host,
        needs: needs_s,
        cuda,
    }
}

/// The newest NGC PyTorch release whose CUDA this driver runs natively.
pub fn fitting_release(host: &str) -> Option<(&'static str, &'static str)> {
    NGC_PYTORCH
        .iter()
        .rev()
        .find(|(_, _, driver)| at_least(host, driver))
        .map(|(release, cuda, _)| (*release, *cuda))
}

/// What to tell the user for `verdict` about `image` (a reference); `None` for nothing.
/// `Err` is an error: the container must not be made.
pub fn explain(verdict: &Verdict, image: &str) -> Result<Option<String>, String> {
    match verdict {
        Verdict::Unknown | Verdict::Native => Ok(None),
        Verdict::ForwardCompat { host, needs } => Ok(Some(format!(
            "NVIDIA driver {host} is older than the {needs} {image} needs; its CUDA forward \
             compatibility libraries are used (they work on data-center GPUs only)"
        ))),
        Verdict::MinorVersion { host, needs } => Ok(Some(format!(
            "NVIDIA driver {host} is older than the {needs} {image} needs, and not a branch its \
             forward compatibility supports; CUDA minor-version compatibility runs most code, \
             but not PTX newer than the driver (upgrade the driver, or use an older image)"
        ))),
        Verdict::Unsupported { host, needs, cuda } => {
            let cuda = cuda
                .as_deref()
                .map(|c| format!(" (CUDA {c})"))
                .unwrap_or_default();
            let fit = match fitting_release(host) {
                Some((release, c)) => format!(
                    "use an image this driver runs, such as nvcr.io/nvidia/pytorch:{release}-py3 \
                     (CUDA {c}), or upgrade the driver"
                ),
                None => {
                    "no NGC PyTorch release since 23.01 runs on it: upgrade the driver".to_string()
                }
            };
            Err(format!(
                "{image} needs NVIDIA driver {needs} or later{cuda}, and this host runs {host}, \
                 which neither its forward compatibility nor CUDA minor-version compatibility \
                 covers; {fit}"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGC_24_10: &str = "cuda>=12.6 brand=tesla,driver>=470,driver<471 \
        brand=tesla,driver>=525,driver<526 brand=tesla,driver>=535,driver<536 \
        brand=tesla,driver>=550,driver<551";

    fn ngc() -> ImageCuda {
        ImageCuda {
            version: Some("12.6.2.004".into()),
            driver: Some("560.35.03".into()),
            require: Some(NGC_24_10.into()),
            disabled: false,
        }
    }

    #[test]
    fn verdicts() {
        let compat = |host: &str| Verdict::ForwardCompat {
            host: host.into(),
            needs: "560.28.03".into(),
        };
        let cases: Vec<(&str, Verdict)> = vec![
            ("560.35.03", Verdict::Native),
            // Older than the compat driver, new enough for CUDA 12.6 itself.
            ("560.28.03", Verdict::Native),
            ("565.57.01", Verdict::Native),
            ("535.104.05", compat("535.104.05")),
            ("470.256.02", compat("470.256.02")),
            (
                "545.23.08",
                Verdict::MinorVersion {
                    host: "545.23.08".into(),
                    needs: "560.28.03".into(),
                },
            ),
            (
                "520.61.05",
                Verdict::Unsupported {
                    host: "520.61.05".into(),
                    needs: "560.28.03".into(),
                    cuda: Some("12.6".into()),
                },
            ),
        ];
        for (host, want) in cases {
            assert_eq!(decide(&ngc(), host), want, "{host}");
        }
        // Only CUDA_DRIVER_VERSION: that one.
        let driver_only = ImageCuda {
            driver: Some("560.35.03".into()),
            ..Default::default()
        };
        assert!(matches!(
            decide(&driver_only, "560.28.03"),
            Verdict::Unsupported { .. }
        ));
        // Only CUDA_VERSION: the toolkit's minimum.
        let cuda_only = ImageCuda {
            version: Some("12.4.1".into()),
            ..Default::default()
        };
        assert_eq!(decide(&cuda_only, "550.54.14"), Verdict::Native);
        assert!(matches!(
            decide(&cuda_only, "450.80.02"),
            Verdict::Unsupported { .. }
        ));
        // Nothing to go by, or asked not to.
        assert_eq!(decide(&ImageCuda::default(), "400.1"), Verdict::Unknown);
        let off = ImageCuda {
            disabled: true,
            ..ngc()
        };
        assert_eq!(decide(&off, "400.1"), Verdict::Unknown);
    }

    #[test]
    fn require_terms() {
        assert!(compat_branch(NGC_24_10, "535.54.03"));
        assert!(!compat_branch(NGC_24_10, "536.1"));
        assert!(!compat_branch(NGC_24_10, "545.23.08"));
        // The bare cuda>= term gives no branch.
        assert!(!compat_branch("cuda>=12.6", "400.1"));
        assert!(!compat_branch("", "535.1"));
    }

    #[test]
    fn messages_name_both_versions_and_a_release_that_fits() {
        let cuda13 = ImageCuda {
            version: Some("13.0.2".into()),
            driver: Some("580.95.05".into()),
            require: Some("cuda>=13.0 brand=tesla,driver>=535,driver<536".into()),
            disabled: false,
        };
        let err = explain(
            &decide(&cuda13, "570.133.20"),
            "nvcr.io/nvidia/pytorch:25.10-py3",
        )
        .unwrap_err();
        assert!(
            err.starts_with("nvcr.io/nvidia/pytorch:25.10-py3 needs NVIDIA driver 580.65.06 or later (CUDA 13.0), and this host runs 570.133.20")
                && err.contains("nvcr.io/nvidia/pytorch:25.03-py3 (CUDA 12.8.1)"),
            "{err}"
        );
        let old = explain(&decide(&ngc(), "460.1"), "img").unwrap_err();
        assert!(old.contains("no NGC PyTorch release since 23.01"), "{old}");
        let note = explain(&decide(&ngc(), "535.104.05"), "img")
            .unwrap()
            .unwrap();
        assert!(
            note.contains("forward compatibility libraries are used"),
            "{note}"
        );
        let minor = explain(&decide(&ngc(), "545.23.08"), "img")
            .unwrap()
            .unwrap();
        assert!(minor.contains("minor-version compatibility"), "{minor}");
        assert_eq!(explain(&Verdict::Native, "img"), Ok(None));
    }

    #[test]
    fn table_is_ordered_and_parses() {
        for pair in NGC_PYTORCH.windows(2) {
            assert!(pair[0].0 < pair[1].0);
            assert!(at_least(pair[1].2, pair[0].2), "{pair:?}");
        }
        for (_, _, d) in NGC_PYTORCH {
            assert!(numbers(d).is_some(), "{d}");
        }
    }
}
