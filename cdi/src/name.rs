//! Qualified CDI device names (`vendor.com/class=name`) and kinds (`vendor.com/class`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A fully qualified CDI device name, `VENDOR/CLASS=NAME`, for example
/// `nvidia.com/gpu=0`: what a runtime such as Podman accepts as a device.
///
/// The rules are those of upstream container-device-interface
/// (`api/producer/identifiers.go`, re-exported by `pkg/parser/parser.go` as
/// `ParseQualifiedName`, `ValidateVendorName`, `ValidateClassName` and
/// `ValidateDeviceName`):
///
/// * the name splits at the first `=` into kind and device name, and the kind
///   at its first `/` into vendor and class; a name starting with `/` (a device
///   path) is never qualified;
/// * vendor and class follow one rule: ASCII letters, digits, `-`, `_` and
///   `.`, starting with a letter and ending with a letter or digit. So the
///   vendor need not contain a dot (`a/b=c` is valid), and the class may
///   contain one (`vendor.com/class.sub=x`; in a spec's kind that needs
///   `cdiVersion` 0.6.0);
/// * the device name may contain ASCII letters, digits, `-`, `_`, `.` and `:`,
///   and starts and ends with a letter or digit (starting with a digit needs
///   `cdiVersion` 0.5.0 in a spec).
///
/// Parsing accepts exactly what upstream accepts; only the error messages
/// differ. Every value is valid: [`FromStr`], [`QualifiedName::new`] and
/// `Deserialize` apply the same rules. It (de)serialises as its string form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualifiedName {
    vendor: String,
    class: String,
    name: String,
}

/// A CDI kind, `VENDOR/CLASS`, for example `nvidia.com/gpu`: the `kind` of a
/// spec and the part of a [`QualifiedName`] before `=`.
///
/// Vendor and class follow the rules given at [`QualifiedName`]. Every value is
/// valid: [`FromStr`], [`Kind::new`] and `Deserialize` apply the same rules. It
/// (de)serialises as its string form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind {
    vendor: String,
    class: String,
}

/// Whether `s` is a valid fully qualified CDI device name (`VENDOR/CLASS=NAME`);
/// upstream `parser.IsQualifiedName`.
///
/// ```
/// assert!(cdi::is_qualified_name("nvidia.com/gpu=0"));
/// assert!(!cdi::is_qualified_name("/dev/nvidia0"));
/// ```
pub fn is_qualified_name(s: &str) -> bool {
    s.parse::<QualifiedName>().is_ok()
}

impl QualifiedName {
    /// Makes a qualified name from its parts, checking each.
    pub fn new(
        vendor: impl Into<String>,
        class: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<Self> {
        let (vendor, class, name) = (vendor.into(), class.into(), name.into());
        let check = check_vendor(&vendor)
            .and_then(|()| check_class(&class))
            .and_then(|()| check_device_name(&name));
        match check {
            Ok(()) => Ok(QualifiedName {
                vendor,
                class,
                name,
            }),
            Err(reason) => Err(Error::InvalidQualifiedName {
                input: format!("{vendor}/{class}={name}"),
                reason,
            }),
        }
    }

    /// The vendor, e.g. `nvidia.com`.
    pub fn vendor(&self) -> &str {
        &self.vendor
    }

    /// The device class, e.g. `gpu`.
    pub fn class(&self) -> &str {
        &self.class
    }

    /// The device name within its kind, e.g. `0`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kind, `VENDOR/CLASS`.
    pub fn kind(&self) -> Kind {
        Kind {
            vendor: self.vendor.clone(),
            class: self.class.clone(),
        }
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}={}", self.vendor, self.class, self.name)
    }
}

impl FromStr for QualifiedName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        parse_qualified(s).map_err(|reason| Error::InvalidQualifiedName {
            input: s.to_string(),
            reason,
        })
    }
}

fn parse_qualified(s: &str) -> Result<QualifiedName, String> {
    if s.is_empty() {
        return Err("the name is empty".into());
    }
    if s.starts_with('/') {
        return Err("it starts with '/', like a device path".into());
    }
    let Some((kind, name)) = s.split_once('=') else {
        return Err("missing \"=NAME\" after the kind".into());
    };
    if kind.is_empty() {
        return Err("VENDOR/CLASS before '=' is empty".into());
    }
    let Some((vendor, class)) = kind.split_once('/') else {
        return Err(format!("missing vendor: {kind:?} has no '/'"));
    };
    check_vendor(vendor)?;
    check_class(class)?;
    check_device_name(name)?;
    Ok(QualifiedName {
        vendor: vendor.into(),
        class: class.into(),
        name: name.into(),
    })
}

impl Kind {
    /// Makes a kind from its parts, checking each.
    pub fn new(vendor: impl Into<String>, class: impl Into<String>) -> Result<Self> {
        let (vendor, class) = (vendor.into(), class.into());
        match check_vendor(&vendor).and_then(|()| check_class(&class)) {
            Ok(()) => Ok(Kind { vendor, class }),
            Err(reason) => Err(Error::InvalidKind {
                input: format!("{vendor}/{class}"),
                reason,
            }),
        }
    }

    /// The vendor, e.g. `nvidia.com`.
    pub fn vendor(&self) -> &str {
        &self.vendor
    }

    /// The device class, e.g. `gpu`.
    pub fn class(&self) -> &str {
        &self.class
    }

    /// The qualified name of device `name` of this kind, e.g. `nvidia.com/gpu`
    /// and `0` give `nvidia.com/gpu=0`. Fails if `name` is not a valid device name.
    pub fn device(&self, name: &str) -> Result<QualifiedName> {
        match check_device_name(name) {
            Ok(()) => Ok(QualifiedName {
                vendor: self.vendor.clone(),
                class: self.class.clone(),
                name: name.into(),
            }),
            Err(reason) => Err(Error::InvalidQualifiedName {
                input: format!("{self}={name}"),
                reason,
            }),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.vendor, self.class)
    }
}

impl FromStr for Kind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let parsed = if s.is_empty() {
            Err("the kind is empty".to_string())
        } else if let Some((vendor, class)) = s.split_once('/') {
            check_vendor(vendor)
                .and_then(|()| check_class(class))
                .map(|()| Kind {
                    vendor: vendor.into(),
                    class: class.into(),
                })
        } else {
            Err("missing '/' between vendor and class".to_string())
        };
        parsed.map_err(|reason| Error::InvalidKind {
            input: s.to_string(),
            reason,
        })
    }
}

/// Checks a device name (the part after `=`); upstream `ValidateDeviceName`.
/// The error is the reason, for the caller to wrap.
pub(crate) fn check_device_name(name: &str) -> Result<(), String> {
    const WHAT: &str = "device name";
    let Some(first) = name.chars().next() else {
        return Err(format!("{WHAT} is empty"));
    };
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "{WHAT} {name:?} must start with an ASCII letter or digit"
        ));
    }
    check_middle(WHAT, name, "'-', '_', '.' and ':'", |c| {
        matches!(c, '-' | '_' | '.' | ':')
    })?;
    check_last(WHAT, name)
}

/// Checks a vendor name; upstream `ValidateVendorName`.
fn check_vendor(vendor: &str) -> Result<(), String> {
    check_vendor_or_class("vendor", vendor)
}

/// Checks a class name; upstream `ValidateClassName` (the same rule as the vendor's).
fn check_class(class: &str) -> Result<(), String> {
    check_vendor_or_class("class", class)
}

/// Upstream `validateVendorOrClassName`.
fn check_vendor_or_class(what: &str, s: &str) -> Result<(), String> {
    let Some(first) = s.chars().next() else {
        return Err(format!("{what} is empty"));
    };
    if !first.is_ascii_alphabetic() {
        return Err(format!("{what} {s:?} must start with an ASCII letter"));
    }
    check_middle(what, s, "'-', '_' and '.'", |c| {
        matches!(c, '-' | '_' | '.')
    })?;
    check_last(what, s)
}

/// Checks the characters between the first and the last.
fn check_middle(
    what: &str,
    s: &str,
    punctuation: &str,
    allowed: impl Fn(char) -> bool,
) -> Result<(), String> {
    let mut chars = s.chars();
    chars.next();
    chars.next_back();
    match chars.find(|&c| !c.is_ascii_alphanumeric() && !allowed(c)) {
        Some(c) => Err(format!(
            "{what} {s:?} contains {c:?}; a {what} may contain only ASCII letters, digits, {punctuation}"
        )),
        None => Ok(()),
    }
}

fn check_last(what: &str, s: &str) -> Result<(), String> {
    match s.chars().next_back() {
        Some(c) if c.is_ascii_alphanumeric() => Ok(()),
        _ => Err(format!(
            "{what} {s:?} must end with an ASCII letter or digit"
        )),
    }
}

impl Serialize for QualifiedName {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QualifiedName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Valid qualified names and their parts. Includes upstream's
    /// `pkg/parser/parser_test.go` cases.
    const GOOD: &[(&str, &str, &str, &str)] = &[
        ("nvidia.com/gpu=0", "nvidia.com", "gpu", "0"),
        ("nvidia.com/gpu=all", "nvidia.com", "gpu", "all"),
        ("amd.com/gpu=0", "amd.com", "gpu", "0"),
        ("vendor.com/class=a:b", "vendor.com", "class", "a:b"),
        (
            "nvidia.com/gpu=GPU-4f8ad0b4-6e1e-40ad-9e7c-2f6b6b7f3c11",
            "nvidia.com",
            "gpu",
            "GPU-4f8ad0b4-6e1e-40ad-9e7c-2f6b6b7f3c11",
        ),
        ("nvidia.com/gpu=0:1", "nvidia.com", "gpu", "0:1"),
        ("nvidia.com/mig=MIG-0", "nvidia.com", "mig", "MIG-0"),
        ("vendor.com/class=dev", "vendor.com", "class", "dev"),
        ("vendor.com/class=0", "vendor.com", "class", "0"),
        ("a/b=c", "a", "b", "c"),
        ("aa/b=cc", "aa", "b", "cc"),
        ("a/bb=cc", "a", "bb", "cc"),
        ("vendor1.com/class1=dev1", "vendor1.com", "class1", "dev1"),
        (
            "vendor1.com/class.subclass=dev1",
            "vendor1.com",
            "class.subclass",
            "dev1",
        ),
        (
            "other-vendor1.com/class_1=dev_1",
            "other-vendor1.com",
            "class_1",
            "dev_1",
        ),
        (
            "yet_another-vendor2.com/c-lass_2=dev_1:2.3",
            "yet_another-vendor2.com",
            "c-lass_2",
            "dev_1:2.3",
        ),
        ("Vendor/Class=Dev", "Vendor", "Class", "Dev"),
        ("vendor/class=a.b-c_d:e", "vendor", "class", "a.b-c_d:e"),
    ];

    /// Invalid qualified names and a fragment of the reason each must give.
    const BAD: &[(&str, &str)] = &[
        ("", "the name is empty"),
        ("gpu=0", "missing vendor: \"gpu\" has no '/'"),
        ("nvidia.com/gpu", "missing \"=NAME\""),
        ("nvidia.com/=0", "class is empty"),
        ("/gpu=0", "starts with '/'"),
        ("/dev/nvidia0", "starts with '/'"),
        ("=0", "VENDOR/CLASS before '=' is empty"),
        ("nvidia.com/gpu=", "device name is empty"),
        ("nvidia.com/gpu=0=1", "device name \"0=1\" contains '='"),
        ("nvidia.com/gpu/x=0", "class \"gpu/x\" contains '/'"),
        ("nvidia.com/gpu=0-", "device name \"0-\" must end"),
        ("nvidia.com/gpu=0:", "device name \"0:\" must end"),
        ("nvidia.com/gpu=-0", "device name \"-0\" must start"),
        (
            "nvidia.com/gpu=.0",
            "must start with an ASCII letter or digit",
        ),
        ("nvidia.com/gpu=a b", "device name \"a b\" contains ' '"),
        (
            "nvidia.com/gpu=ü",
            "must start with an ASCII letter or digit",
        ),
        ("nvidia.com/gpu=aüb", "device name \"aüb\" contains 'ü'"),
        (
            "nvidia.com/gpu=aü",
            "must end with an ASCII letter or digit",
        ),
        ("nvidia.com/gpü=0", "class \"gpü\" must end"),
        ("nvidiä.com/gpu=0", "vendor \"nvidiä.com\" contains 'ä'"),
        ("nvidia.com/gpu-=0", "class \"gpu-\" must end"),
        ("nvidia.com-/gpu=0", "vendor \"nvidia.com-\" must end"),
        ("nvidia.com./gpu=0", "vendor \"nvidia.com.\" must end"),
        ("/=0", "starts with '/'"),
        (
            "nvidia.com/0gpu=0",
            "class \"0gpu\" must start with an ASCII letter",
        ),
        ("0vendor.com/gpu=0", "vendor \"0vendor.com\" must start"),
        (
            "_invalid.com/class=dev",
            "vendor \"_invalid.com\" must start",
        ),
        (
            "invalid2.com-/class=dev",
            "vendor \"invalid2.com-\" must end",
        ),
        ("invalid3.com/_class=dev", "class \"_class\" must start"),
        ("invalid4.com/class_=dev", "class \"class_\" must end"),
        ("invalid5.com/class=-dev", "device name \"-dev\" must start"),
        ("invalid6.com/class=dev:", "device name \"dev:\" must end"),
        ("*.com/*dev=*gpu*", "vendor \"*.com\" must start"),
        ("nvidia:com/gpu=0", "vendor \"nvidia:com\" contains ':'"),
        (" nvidia.com/gpu=0", "vendor \" nvidia.com\" must start"),
        ("nvidia.com/gpu=0 ", "device name \"0 \" must end"),
    ];

    #[test]
    fn good_names_parse_and_display() {
        for &(input, vendor, class, name) in GOOD {
            let q: QualifiedName = input
                .parse()
                .unwrap_or_else(|e| panic!("{input:?} should parse: {e}"));
            assert_eq!(
                (q.vendor(), q.class(), q.name()),
                (vendor, class, name),
                "{input:?}"
            );
            assert_eq!(q.to_string(), input);
            assert!(is_qualified_name(input), "{input:?}");
            assert_eq!(QualifiedName::new(vendor, class, name).unwrap(), q);
            assert_eq!(q.kind().device(name).unwrap(), q);
            assert_eq!(q.kind().to_string(), format!("{vendor}/{class}"));
            assert_eq!(q.kind(), format!("{vendor}/{class}").parse().unwrap());
        }
    }

    #[test]
    fn bad_names_are_rejected_with_reason() {
        for &(input, fragment) in BAD {
            assert!(!is_qualified_name(input), "{input:?} should be rejected");
            let err = input.parse::<QualifiedName>().unwrap_err();
            let Error::InvalidQualifiedName {
                input: ref got,
                ref reason,
            } = err
            else {
                panic!("{input:?}: wrong error variant {err:?}");
            };
            assert_eq!(got, input);
            assert!(
                reason.contains(fragment),
                "{input:?}: reason {reason:?} lacks {fragment:?}"
            );
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("invalid CDI device name {input:?}: ")),
                "{message}"
            );
            assert!(
                message.ends_with("; expected VENDOR/CLASS=NAME such as nvidia.com/gpu=0"),
                "{message}"
            );
        }
    }

    #[test]
    fn message_for_empty_device_name() {
        let err = "nvidia.com/gpu=".parse::<QualifiedName>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid CDI device name \"nvidia.com/gpu=\": device name is empty; \
             expected VENDOR/CLASS=NAME such as nvidia.com/gpu=0"
        );
    }

    #[test]
    fn message_lists_accepted_characters() {
        let err = "nvidia.com/gpu=0=1".parse::<QualifiedName>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid CDI device name \"nvidia.com/gpu=0=1\": device name \"0=1\" contains '='; \
             a device name may contain only ASCII letters, digits, '-', '_', '.' and ':'; \
             expected VENDOR/CLASS=NAME such as nvidia.com/gpu=0"
        );
    }

    #[test]
    fn new_checks_parts() {
        let cases: &[(&str, &str, &str, bool)] = &[
            ("nvidia.com", "gpu", "0", true),
            ("nvidia.com", "gpu", "", false),
            ("", "gpu", "0", false),
            ("nvidia.com", "", "0", false),
            ("nvidia.com", "gpu/x", "0", false),
            ("nvidia.com/gpu", "x", "0", false),
            ("nvidia.com", "gpu", "0=1", false),
        ];
        for &(vendor, class, name, ok) in cases {
            let got = QualifiedName::new(vendor, class, name);
            assert_eq!(got.is_ok(), ok, "{vendor:?} {class:?} {name:?}: {got:?}");
        }
        let err = QualifiedName::new("nvidia.com", "gpu", "").unwrap_err();
        assert!(err.to_string().contains("\"nvidia.com/gpu=\""), "{err}");
    }

    #[test]
    fn kinds() {
        let good = [
            "nvidia.com/gpu",
            "amd.com/gpu",
            "a/b",
            "vendor.com/class.sub",
        ];
        for input in good {
            let kind: Kind = input.parse().unwrap();
            assert_eq!(kind.to_string(), input);
            assert_eq!(Kind::new(kind.vendor(), kind.class()).unwrap(), kind);
        }
        let bad: &[(&str, &str)] = &[
            ("", "the kind is empty"),
            ("nvidia.com", "missing '/'"),
            ("nvidia.com/", "class is empty"),
            ("/gpu", "vendor is empty"),
            ("nvidia.com/gpu=0", "class \"gpu=0\" contains '='"),
            ("nvidia.com/gpu/x", "class \"gpu/x\" contains '/'"),
            ("nvidia.com/gpu-", "class \"gpu-\" must end"),
        ];
        for &(input, fragment) in bad {
            let err = input.parse::<Kind>().unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("invalid CDI kind {input:?}: ")),
                "{message}"
            );
            assert!(message.contains(fragment), "{message} lacks {fragment:?}");
            assert!(
                message.ends_with("; expected VENDOR/CLASS such as nvidia.com/gpu"),
                "{message}"
            );
        }
        assert!(Kind::new("nvidia.com", "gpu/x").is_err());
    }

    #[test]
    fn kind_device() {
        let kind: Kind = "nvidia.com/gpu".parse().unwrap();
        assert_eq!(
            kind.device("all").unwrap().to_string(),
            "nvidia.com/gpu=all"
        );
        let err = kind.device("0-").unwrap_err();
        assert!(err.to_string().contains("\"nvidia.com/gpu=0-\""), "{err}");
    }

    #[test]
    fn serde_as_strings() {
        let q: QualifiedName = "nvidia.com/gpu=0".parse().unwrap();
        assert_eq!(serde_json::to_string(&q).unwrap(), "\"nvidia.com/gpu=0\"");
        let back: QualifiedName = serde_json::from_str("\"nvidia.com/gpu=0\"").unwrap();
        assert_eq!(back, q);
        let err = serde_json::from_str::<QualifiedName>("\"nvidia.com/gpu\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid CDI device name \"nvidia.com/gpu\""),
            "{err}"
        );
        let kind: Kind = serde_json::from_str("\"nvidia.com/gpu\"").unwrap();
        assert_eq!(serde_json::to_string(&kind).unwrap(), "\"nvidia.com/gpu\"");
        assert!(serde_json::from_str::<Kind>("\"nvidia.com\"").is_err());
        assert!(serde_json::from_str::<Kind>("3").is_err());
    }
}
