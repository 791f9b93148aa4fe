//! CDI specification versions (`cdiVersion`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A CDI specification version, `MAJOR.MINOR.PATCH`.
///
/// Versions order numerically (`0.10.0 > 0.9.0`). Parsing accepts exactly three
/// dot-separated decimal numbers without leading zeros, optionally prefixed by
/// `v` as upstream's `newVersion` does (`v0.6.0` parses as `0.6.0`);
/// `Display` never prints the `v`. Any such version parses: whether it is a
/// released version is [`Version::is_known`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    /// The major version.
    pub major: u64,
    /// The minor version.
    pub minor: u64,
    /// The patch version.
    pub patch: u64,
}

impl Version {
    /// CDI 0.1.0.
    pub const V0_1_0: Version = Version::new(0, 1, 0);
    /// CDI 0.2.0.
    pub const V0_2_0: Version = Version::new(0, 2, 0);
    /// CDI 0.3.0: the lowest version [`Spec::minimum_version`](crate::Spec::minimum_version)
    /// returns (upstream `vEarliest`).
    pub const V0_3_0: Version = Version::new(0, 3, 0);
    /// CDI 0.4.0: adds `mounts[].type`.
    pub const V0_4_0: Version = Version::new(0, 4, 0);
    /// CDI 0.5.0: adds `deviceNodes[].hostPath` and device names starting with a digit.
    pub const V0_5_0: Version = Version::new(0, 5, 0);
    /// CDI 0.6.0: adds spec and device `annotations` and dots in the class.
    pub const V0_6_0: Version = Version::new(0, 6, 0);
    /// CDI 0.7.0: adds `intelRdt` and `additionalGids`.
    pub const V0_7_0: Version = Version::new(0, 7, 0);
    /// CDI 0.8.0: no spec changes (Go API change upstream).
    pub const V0_8_0: Version = Version::new(0, 8, 0);
    /// CDI 1.0.0: no spec changes (Go API change upstream).
    pub const V1_0_0: Version = Version::new(1, 0, 0);
    /// CDI 1.1.0: adds `netDevices`, `intelRdt.schemata` and
    /// `intelRdt.enableMonitoring`; drops `intelRdt.enableCMT` and `intelRdt.enableMBM`.
    pub const V1_1_0: Version = Version::new(1, 1, 0);

    /// The released versions, oldest first (upstream `validSpecVersions`).
    pub const KNOWN: [Version; 10] = [
        Version::V0_1_0,
        Version::V0_2_0,
        Version::V0_3_0,
        Version::V0_4_0,
        Version::V0_5_0,
        Version::V0_6_0,
        Version::V0_7_0,
        Version::V0_8_0,
        Version::V1_0_0,
        Version::V1_1_0,
    ];

    /// The newest released version this crate knows.
    pub const LATEST: Version = Version::V1_1_0;

    /// Makes a version from its three numbers.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Whether this is a released CDI version (one of [`Version::KNOWN`]).
    /// Upstream rejects a spec whose `cdiVersion` is not.
    pub fn is_known(&self) -> bool {
        Version::KNOWN.contains(self)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidVersion {
            input: s.to_string(),
        };
        let digits = s.strip_prefix('v').unwrap_or(s);
        let mut numbers = [0u64; 3];
        let mut parts = digits.split('.');
        for number in &mut numbers {
            let part = parts.next().ok_or_else(invalid)?;
            let plain = !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'));
            if !plain {
                return Err(invalid());
            }
            *number = part.parse().map_err(|_| invalid())?;
        }
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Version::new(numbers[0], numbers[1], numbers[2]))
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases: &[(&str, Option<Version>)] = &[
            ("0.3.0", Some(Version::V0_3_0)),
            ("1.1.0", Some(Version::V1_1_0)),
            ("v0.6.0", Some(Version::V0_6_0)),
            ("0.10.2", Some(Version::new(0, 10, 2))),
            ("10.0.0", Some(Version::new(10, 0, 0))),
            ("", None),
            ("v", None),
            ("0.6", None),
            ("0.6.0.1", None),
            ("0.6.", None),
            (".6.0", None),
            ("00.6.0", None),
            ("0.06.0", None),
            ("+0.6.0", None),
            ("0.-6.0", None),
            (" 0.6.0", None),
            ("0.6.0 ", None),
            ("0.6.0-rc1", None),
            ("0.6.0+meta", None),
            ("V0.6.0", None),
            ("vv0.6.0", None),
            ("0.x.0", None),
            ("99999999999999999999.0.0", None),
        ];
        for (input, want) in cases {
            let got = input.parse::<Version>().ok();
            assert_eq!(got, *want, "parsing {input:?}");
        }
    }

    #[test]
    fn invalid_version_message_names_input() {
        let err = "0.6".parse::<Version>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid CDI version \"0.6\": expected MAJOR.MINOR.PATCH such as 0.6.0"
        );
    }

    #[test]
    fn display_round_trips() {
        for v in Version::KNOWN {
            assert_eq!(v.to_string().parse::<Version>().unwrap(), v);
        }
    }

    #[test]
    fn ordering_is_numeric() {
        assert!(Version::new(0, 10, 0) > Version::new(0, 9, 0));
        assert!(Version::new(1, 0, 0) > Version::new(0, 99, 99));
        assert!(Version::new(0, 5, 1) > Version::V0_5_0);
        let mut sorted = Version::KNOWN;
        sorted.sort();
        assert_eq!(sorted, Version::KNOWN, "KNOWN is oldest first");
        assert_eq!(Version::KNOWN.iter().max(), Some(&Version::LATEST));
    }

    #[test]
    fn known_versions() {
        assert!(Version::V0_1_0.is_known());
        assert!(Version::V1_1_0.is_known());
        assert!(!Version::new(0, 9, 0).is_known());
        assert!(!Version::new(1, 2, 0).is_known());
    }

    #[test]
    fn serde_as_string() {
        let json = serde_json::to_string(&Version::V0_5_0).unwrap();
        assert_eq!(json, "\"0.5.0\"");
        let v: Version = serde_json::from_str("\"v1.0.0\"").unwrap();
        assert_eq!(v, Version::V1_0_0);
        let err = serde_json::from_str::<Version>("\"1.0\"").unwrap_err();
        assert!(
            err.to_string().contains("invalid CDI version \"1.0\""),
            "{err}"
        );
        assert!(serde_json::from_str::<Version>("0.5").is_err());
    }
}
