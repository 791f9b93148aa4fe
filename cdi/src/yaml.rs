//! Writing specs as YAML that YAML 1.1 readers read back unchanged.
//!
//! The runtimes read YAML with `sigs.k8s.io/yaml`, which is Go's `yaml.v2`: a
//! YAML 1.1 reader, to which a plain `yes`, `on`, `n` or `0755` is a boolean or
//! a number, turned into `"true"` or `"493"` when the field is a string.
//! serde_yaml_ng quotes only what YAML 1.2 would misread, so an annotation
//! value `yes` would come back as `true`. This writer quotes every string that
//! is not plainly safe under both versions, and writes the rest in block style
//! like `nvidia-ctk` does.

use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};

/// `value` as a YAML document ending with a newline: see [`to_string`].
pub(crate) fn to_yaml_string<T: Serialize>(value: &T) -> serde_yaml_ng::Result<String> {
    // serde_yaml_ng's Value keeps the fields in order (serde_json's sorts them).
    Ok(to_string(&serde_yaml_ng::to_value(value)?))
}

/// `value` as a YAML document ending with a newline. Mappings are written in
/// block style (keys in their order), sequences too, strings plain or
/// double-quoted (see [`is_plain_safe`]), tags dropped.
fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match untagged(value) {
        Value::Mapping(map) if !map.is_empty() => write_mapping(&mut out, map, 0),
        Value::Sequence(items) if !items.is_empty() => write_sequence(&mut out, items, 0),
        scalar => {
            write_inline(&mut out, scalar);
            out.push('\n');
        }
    }
    out
}

/// Specs have no tags; should one appear, its value is written without it.
fn untagged(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => untagged(&tagged.value),
        other => other,
    }
}

fn write_mapping(out: &mut String, map: &Mapping, indent: usize) {
    for (i, (key, value)) in map.iter().enumerate() {
        // The first entry of a mapping that is a sequence item goes on the
        // item's `- ` line, already indented.
        if i > 0 || !out.ends_with("- ") {
            push_indent(out, indent);
        }
        write_inline(out, untagged(key));
        out.push(':');
        match untagged(value) {
            Value::Mapping(inner) if !inner.is_empty() => {
                out.push('\n');
                write_mapping(out, inner, indent + 2);
            }
            // A sequence under a key sits at the key's indentation, the
            // usual style (`devices:` then `- name: ...`).
            Value::Sequence(items) if !items.is_empty() => {
                out.push('\n');
                write_sequence(out, items, indent);
            }
            scalar => {
                out.push(' ');
                write_inline(out, scalar);
                out.push('\n');
            }
        }
    }
}

fn write_sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        push_indent(out, indent);
        out.push_str("- ");
        match untagged(item) {
            Value::Mapping(map) if !map.is_empty() => write_mapping(out, map, indent + 2),
            Value::Sequence(inner) if !inner.is_empty() => {
                out.pop();
                out.push('\n');
                write_sequence(out, inner, indent + 2);
            }
            scalar => {
                write_inline(out, scalar);
                out.push('\n');
            }
        }
    }
}

/// A scalar, or an empty collection in flow style.
fn write_inline(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Sequence(_) => out.push_str("[]"),
        Value::Mapping(_) => out.push_str("{}"),
        Value::Tagged(tagged) => write_inline(out, &tagged.value),
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn write_string(out: &mut String, s: &str) {
    if is_plain_safe(s) {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // YAML allows only printable characters, even when quoted.
            c if c.is_control() || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether `s` reads back as the same string, unquoted, in YAML 1.1 and 1.2,
/// in block context as a key or a value. Deliberately narrow: letters,
/// digits and `_ . / = : -`, starting with a letter, `/` or `_` (after at
/// most two `-`, for options such as `--link`), not ending with `:`, and not
/// one of the words YAML 1.1 reads as a boolean or null; or a dotted version
/// such as `0.5.0` (never a number: two dots).
pub(crate) fn is_plain_safe(s: &str) -> bool {
    const WORDS: [&str; 10] = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nil",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let version_like = first.is_ascii_digit()
        && s.split('.').count() >= 3
        && s.split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if version_like {
        return true;
    }
    let unflagged = s
        .strip_prefix("--")
        .or_else(|| s.strip_prefix('-'))
        .unwrap_or(s);
    let starts_well = match unflagged.chars().next() {
        Some(c) if unflagged.len() < s.len() => c.is_ascii_alphabetic(),
        Some(c) => c.is_ascii_alphabetic() || c == '/' || c == '_',
        None => false,
    };
    starts_well
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '=' | ':' | '-'))
        && !s.ends_with(':')
        && !WORDS.iter().any(|word| s.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml_of(value: &serde_json::Value) -> String {
        to_yaml_string(value).unwrap()
    }

    #[test]
    fn plain_or_quoted_table() {
        let plain = [
            "nvidia.com/gpu",
            "/dev/nvidia0",
            "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
            "NVIDIA_VISIBLE_DEVICES=void",
            "GPU-4f8ad0b4-6e1e-40ad-9e7c-2f6b6b7f3c11",
            "all",
            "0.5.0",
            "1.0.0",
            "createContainer",
            "--link",
            "a:b",
            "rw",
            "_x",
            "-a",
            "--a-b=c",
        ];
        let quoted = [
            "", "0", "12", "1:20", "0755", "0x1F", "1e3", "1_000", "1.5", "0.5", ".inf", ".nan",
            "yes", "Yes", "NO", "on", "Off", "y", "N", "true", "False", "null", "Null", "nil", "~",
            "-", "--", "---", "-1", "--1", "-.inf", "---a", "-/x", "a b", "a: b", "a:", "#x",
            "x #y", "'x'", "\"x\"", "[x]", "{x}", "*x", "&x", "!x", "%x", "@x", "`x", "|", ">",
            "?", "a,b", "é", "x\ny", "\u{7f}", "=", "0.5.0.", "0..5",
        ];
        for s in plain {
            assert!(is_plain_safe(s), "{s:?} should be plain");
            assert_eq!(yaml_of(&json!(s)), format!("{s}\n"));
        }
        for s in quoted {
            assert!(!is_plain_safe(s), "{s:?} should be quoted");
            let yaml = yaml_of(&json!(s));
            assert!(yaml.starts_with('"'), "{s:?} -> {yaml}");
        }
        // Whatever the quoting, every string reads back as itself.
        let mut all: Vec<&str> = plain.to_vec();
        all.extend(quoted);
        all.extend([
            "tab\there",
            "back\\slash",
            "cr\r",
            "bom\u{feff}",
            "\u{85}",
            "日本",
        ]);
        for s in all {
            let yaml = yaml_of(&json!({ s: [s] }));
            let back: serde_json::Value =
                serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| panic!("{s:?}: {e}\n{yaml}"));
            assert_eq!(back, json!({ s: [s] }), "{yaml}");
        }
    }

    #[test]
    fn layout() {
        // Flow style in, block style out, in the same order.
        let value: Value = serde_yaml_ng::from_str(
            r#"{
                "cdiVersion": "0.5.0",
                "kind": "nvidia.com/gpu",
                "devices": [
                    {"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0", "major": 195}]}},
                ],
                "containerEdits": {
                    "env": ["A=1"],
                    "additionalGids": [],
                    "intelRdt": {},
                    "hooks": [{"hookName": "createContainer", "path": "/h", "args": ["h", "--x"]}],
                },
                "nested": [[1, 2], [], true, null],
            }"#,
        )
        .unwrap();
        let want = "\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: \"0\"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
      major: 195
containerEdits:
  env:
  - A=1
  additionalGids: []
  intelRdt: {}
  hooks:
  - hookName: createContainer
    path: /h
    args:
    - h
    - --x
nested:
-
  - 1
  - 2
- []
- true
- null
";
        let yaml = to_string(&value);
        assert_eq!(yaml, want);
        let back: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(back, value);
        assert_eq!(yaml_of(&json!({})), "{}\n");
        assert_eq!(yaml_of(&json!([])), "[]\n");
    }
}
