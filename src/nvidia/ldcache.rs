//! glibc's `/etc/ld.so.cache`, the index `ldconfig` writes and the dynamic linker reads:
//! which file each library name (soname) resolves to. Read here as `ldconfig -p` does.
//!
//! Two layouts exist (glibc `sysdeps/generic/dl-cache.h`):
//! * new, alone (glibc >= 2.32 writes only this): `glibc-ld.so.cache1.1`;
//! * old then new (older glibc, `ldconfig -c compat`): an `ld.so-1.7.0` header and its
//!   12-byte entries, then the new layout, starting at the next 8-byte boundary.
//!
//! New layout: a 48-byte header (magic and version, `nlibs`, `len_strings`, an endianness
//! byte, padding, `extension_offset`, unused words), `nlibs` 24-byte entries (`flags`,
//! `key`, `value`, `osversion`, `hwcap`), then NUL-terminated strings, whose offsets count
//! from the start of the new header. Only little-endian caches are read.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;

/// `FLAG_ELF_LIBC6`: an ELF library for glibc.
const FLAG_ELF_LIBC6: i32 = 0x0003;
const FLAG_TYPE_MASK: i32 = 0x00ff;
const FLAG_REQUIRED_MASK: i32 = 0xff00;
/// `FLAG_X8664_LIB64`.
const FLAG_X8664_LIB64: i32 = 0x0300;
/// `FLAG_AARCH64_LIB64`.
const FLAG_AARCH64_LIB64: i32 = 0x0a00;

/// One library of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name the linker looks up, e.g. `libcuda.so.1`.
    pub key: String,
    /// The file, as an absolute path on the system the cache belongs to.
    pub value: PathBuf,
    /// The library's type and architecture, e.g. `0x0303` for x86-64.
    pub flags: i32,
    /// The hardware capabilities the library needs (0 for most).
    pub hwcap: u64,
}

impl Entry {
    /// Whether this is a 64-bit glibc library for the architecture mlenv runs on (what
    /// `ldconfig -p` shows as `(libc6,x86-64)` on x86-64), and not, say, a 32-bit one
    /// (`(libc6)`).
    pub fn is_native(&self) -> bool {
        let arch = if cfg!(target_arch = "aarch64") {
            FLAG_AARCH64_LIB64
        } else {
            FLAG_X8664_LIB64
        };
        self.flags & FLAG_TYPE_MASK == FLAG_ELF_LIBC6 && self.flags & FLAG_REQUIRED_MASK == arch
    }
}

/// Parses a cache file's bytes; the error says what is wrong with them.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let start = if bytes.starts_with(NEW_MAGIC) {
        0
    } else if bytes.starts_with(OLD_MAGIC) {
        let nlibs = u32_at(bytes, 12).ok_or("the old-format header is truncated")? as usize;
        let old_end = nlibs
            .checked_mul(OLD_ENTRY)
            .and_then(|n| n.checked_add(OLD_HEADER))
            .ok_or("the old-format entry count is implausible")?;
        let start = old_end.next_multiple_of(8);
        if !bytes.get(start..).is_some_and(|b| b.starts_with(NEW_MAGIC)) {
            return Err("it is in the old ld.so-1.7.0 format only".into());
        }
        start
    } else {
        return Err("it is not a glibc ld.so.cache (unknown magic)".into());
    };
    let cache = &bytes[start..];
    let header = |at| u32_at(cache, at).ok_or("the header is truncated");
    let nlibs = header(20)? as usize;
    match cache.get(28) {
        Some(0 | 2) => {}
        Some(3) => return Err("it is a big-endian cache".into()),
        _ => return Err("its endianness flag is invalid".into()),
    }
    let entries_end = nlibs
        .checked_mul(NEW_ENTRY)
        .and_then(|n| n.checked_add(NEW_HEADER))
        .filter(|&end| end <= cache.len())
        .ok_or_else(|| format!("it is truncated: {nlibs} entries do not fit"))?;
    (NEW_HEADER..entries_end)
        .step_by(NEW_ENTRY)
        .map(|at| {
            let word = |offset| u32_at(cache, at + offset).expect("checked above");
            let string = |offset: u32| {
                string_at(cache, offset as usize).ok_or_else(|| {
                    format!(
                        "entry {} names a string outside the file",
                        (at - NEW_HEADER) / NEW_ENTRY
                    )
                })
            };
            let hwcap = u64::from(word(16)) | (u64::from(word(20)) << 32);
            Ok(Entry {
                flags: word(0) as i32,
                key: String::from_utf8_lossy(string(word(4))?).into_owned(),
                value: PathBuf::from(OsStr::from_bytes(string(word(8))?)),
                hwcap,
            })
        })
        .collect()
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(word.try_into().expect("4 bytes")))
}

fn string_at(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let rest = bytes.get(at..)?;
    let len = rest.iter().position(|&b| b == 0)?;
    Some(&rest[..len])
}

#[cfg(test)]
mod tests {
    use super::super::nvidia_tree::{ld_so_cache_bytes, FLAG_I386, FLAG_NATIVE};
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;
    use std::process::Command;

    const ENTRIES: [(&str, &str, i32); 3] = [
        (
            "libcuda.so.1",
            "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
            FLAG_NATIVE,
        ),
        (
            "libcuda.so.1",
            "/usr/lib/i386-linux-gnu/libcuda.so.1",
            FLAG_I386,
        ),
        ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", FLAG_NATIVE),
    ];

    fn want() -> Vec<(String, PathBuf, bool)> {
        ENTRIES
            .iter()
            .map(|(k, v, f)| (k.to_string(), PathBuf::from(v), *f == FLAG_NATIVE))
            .collect()
    }

    fn got(entries: &[Entry]) -> Vec<(String, PathBuf, bool)> {
        entries
            .iter()
            .map(|e| (e.key.clone(), e.value.clone(), e.is_native()))
            .collect()
    }

    /// The old layout, then the new one, as `ldconfig -c compat` writes it.
    fn compat(new: &[u8], old_entries: usize) -> Vec<u8> {
        let mut out = OLD_MAGIC.to_vec();
        out.push(0);
        out.extend_from_slice(&(old_entries as u32).to_le_bytes());
        out.extend(std::iter::repeat_n(0u8, old_entries * OLD_ENTRY));
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        out.extend_from_slice(new);
        out
    }

    #[test]
    fn new_format() {
        let entries = parse(&ld_so_cache_bytes(&ENTRIES)).unwrap();
        assert_eq!(got(&entries), want());
        assert!(parse(&ld_so_cache_bytes(&[])).unwrap().is_empty());
    }

    #[test]
    fn old_then_new_format() {
        // 3 old entries end at 52: the new part starts at 56, not right after.
        for old in [0, 1, 3, 4] {
            let bytes = compat(&ld_so_cache_bytes(&ENTRIES), old);
            assert_eq!(got(&parse(&bytes).unwrap()), want(), "{old} old entries");
        }
    }

    #[test]
    fn flags_table() {
        let cases: &[(i32, bool)] = &[
            (0x0303, cfg!(target_arch = "x86_64")),
            (0x0a03, cfg!(target_arch = "aarch64")),
            (0x0003, false), // i386
            (0x0803, false), // x32
            (0x0001, false), // libc5
            (0x0300, false), // no libc6 type
        ];
        for &(flags, native) in cases {
            let entry = Entry {
                key: "x".into(),
                value: "/x".into(),
                flags,
                hwcap: 0,
            };
            assert_eq!(entry.is_native(), native, "{flags:#06x}");
        }
    }

    #[test]
    fn malformed() {
        let good = ld_so_cache_bytes(&ENTRIES);
        let mut big_endian = good.clone();
        big_endian[28] = 3;
        let mut bad_string = good.clone();
        bad_string[48 + 4..48 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut too_many = good.clone();
        too_many[20..24].copy_from_slice(&1000u32.to_le_bytes());
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "unknown magic"),
            (b"\x7fELF".to_vec(), "unknown magic"),
            (good[..30].to_vec(), "truncated"),
            (good[..20].to_vec(), "header is truncated"),
            (big_endian, "big-endian"),
            (bad_string, "entry 0 names a string outside the file"),
            (too_many, "1000 entries do not fit"),
            (compat(&[], 2), "old ld.so-1.7.0 format only"),
        ];
        for (bytes, want) in cases {
            let err = parse(&bytes).unwrap_err();
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        }
    }

    type Listing = BTreeSet<(String, String, bool)>;

    /// `ldconfig -p -C cache` as (name, path, 64-bit native); `None` without ldconfig.
    fn ldconfig_p(cache: &Path) -> Option<Listing> {
        let ldconfig = ["/sbin/ldconfig", "/usr/sbin/ldconfig"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let out = Command::new(ldconfig)
            .arg("-p")
            .arg("-C")
            .arg(cache)
            .output()
            .unwrap();
        assert!(out.status.success(), "ldconfig -p: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        // `\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1`
        let listing = text
            .lines()
            .skip(1)
            .filter_map(|line| {
                let (name, rest) = line.trim().split_once(" (")?;
                let (desc, path) = rest.split_once(") => ")?;
                let native = desc.starts_with("libc6,x86-64") || desc.starts_with("libc6,AArch64");
                Some((name.to_string(), path.to_string(), native))
            })
            .collect();
        Some(listing)
    }

    fn ours(bytes: &[u8]) -> Listing {
        parse(bytes)
            .unwrap()
            .into_iter()
            .map(|e| (e.key.clone(), e.value.display().to_string(), e.is_native()))
            .collect()
    }

    /// The host's own cache, read by us and by `ldconfig -p`, gives the same libraries.
    #[test]
    fn matches_ldconfig_on_the_host() {
        let cache = Path::new("/etc/ld.so.cache");
        let (Some(theirs), Ok(bytes)) = (ldconfig_p(cache), std::fs::read(cache)) else {
            eprintln!("skipped: no ldconfig or /etc/ld.so.cache on this host");
            return;
        };
        let ours = ours(&bytes);
        assert!(!ours.is_empty());
        assert_eq!(ours, theirs);
    }

    /// glibc's own ldconfig reads the caches the test fixtures write, as we do.
    #[test]
    fn ldconfig_reads_the_fixture_caches() {
        let tmp = tempfile::tempdir().unwrap();
        let new = ld_so_cache_bytes(&ENTRIES);
        for (name, bytes) in [("new", new.clone()), ("compat", compat(&new, 3))] {
            let path = tmp.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            let Some(theirs) = ldconfig_p(&path) else {
                eprintln!("skipped: no ldconfig on this host");
                return;
            };
            assert_eq!(ours(&bytes), theirs, "{name}");
            assert_eq!(theirs.len(), ENTRIES.len(), "{name}");
        }
    }
}
