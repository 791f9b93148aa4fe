//! The layer picture of docs/design.md, checked on the source: which module may import
//! which. A module imports only modules of its own layer or below, never one above; no two
//! modules import each other round a circle; no command imports another command. A new
//! top-level module fails here until it is given a layer in [`LAYERS`].
//!
//! Imports are read from the text: `crate::a::b` paths (in `use` lines or inline, braces
//! included) and `super::x` in a command's file. Comments and `#[cfg(test)]` modules do not
//! count: a doc link may point up, and tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top to bottom. Keep in step with docs/design.md.
const LAYERS: &[(&str, &[&str])] = &[
    ("entry", &["main"]),
    ("commands", &["commands"]),
    ("input", &["cli", "config", "file_config"]),
    (
        "domain",
        &[
            "environment",
            "autostart",
            "export",
            "create",
            "settings",
            "requirements",
            "project",
            "state",
            "gpu",
        ],
    ),
    (
        "leaves",
        &[
            "podman",
            "systemd",
            "nvidia",
            "ui",
            "error",
            "fsx",
            "dirs",
            "envfile",
            "image_ref",
            "limits",
            "ports",
            "shell",
        ],
    ),
];

fn layer_of(unit: &str) -> Option<usize> {
    let top = unit.split("::").next().unwrap();
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/commands/up.rs` -> ["commands", "up"]; `src/podman/mod.rs` -> ["podman"].
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The unit a module belongs to: its top-level module, or `commands::<command>` for a
/// command (each command is a unit of its own, so that one importing another shows).
fn unit(path: &[String]) -> String {
    match path {
        [top, cmd, ..] if top == "commands" => format!("commands::{cmd}"),
        [top, ..] => top.clone(),
        [] => "main".into(),
    }
}

/// The code of a file without comments and without its `#[cfg(test)]` items.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        if let Some(item) = t.strip_prefix("#[cfg(test)]") {
            // Skip the item it marks: on this line (`#[cfg(test)] mod tests;`) or the next.
            // rustfmt (CI checks it) ends a block item with a `}` line at the indentation it
            // starts at; braces in strings cannot fool that, as a count would be.
            let indent = &line[..line.len() - t.len()];
            let first = if item.trim().is_empty() {
                lines.next().unwrap_or_default()
            } else {
                item
            };
            if first.trim_end().ends_with('{') {
                let close = format!("{indent}}}");
                for l in lines.by_ref() {
                    if l.trim_end() == close {
                        break;
                    }
                }
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The first two segments of every `crate::` path in `code`, braces expanded one level
/// (`use crate::{a, b::c}` gives `a`, `b::c`).
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        out.extend(paths_at(&code[i + "crate::".len()..]));
    }
    out
}

/// The path (or, for a `{...}` group, the paths) that `rest` starts with, two segments of
/// each at most.
fn paths_at(rest: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 1;
        let end = group
            .char_indices()
            .find(|(_, c)| {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map_or(group.len(), |(j, _)| j);
        let mut depth = 0;
        let mut item = String::new();
        for c in group[..end].chars().chain([',']) {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(segments(item.trim()));
                    item.clear();
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
    } else {
        out.push(segments(rest));
    }
    out.retain(|p| !p.is_empty() && !p[0].is_empty());
    out
}

/// Every `super::` path in `code` of the module at `path` (a file's module path, as
/// [`module_path`] gives it), resolved to a path from the crate root.
fn super_paths(code: &str, path: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = code[at..].find("super::") {
        let start = at + i;
        at = start + "super::".len();
        // Only the first `super` of a chain starts one.
        if code[..start].ends_with("::") {
            continue;
        }
        let mut ups = 1;
        let mut rest = &code[at..];
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        let Some(base) = path.len().checked_sub(ups) else {
            continue;
        };
        for tail in paths_at(rest) {
            let mut resolved: Vec<String> = path[..base].to_vec();
            resolved.extend(tail);
            out.push(resolved);
        }
    }
    out
}

fn segments(path: &str) -> Vec<String> {
    let first = ident(path);
    let mut v = vec![first.clone()];
    if let Some(rest) = path[first.len()..].strip_prefix("::") {
        let second = ident(rest);
        if !second.is_empty() {
            v.push(second);
        }
    }
    v
}

/// unit -> the units it imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let commands: BTreeSet<String> = files
        .iter()
        .map(|f| module_path(&src, f))
        .filter(|p| p.len() >= 2 && p[0] == "commands")
        .map(|p| p[1].clone())
        .collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let path = module_path(&src, file);
        let from = unit(&path);
        let code = code(&std::fs::read_to_string(file).unwrap());
        let mut targets: Vec<Vec<String>> = crate_paths(&code);
        // The crate root names its modules without `crate::`.
        if path == ["main"] {
            for top in LAYERS.iter().flat_map(|(_, mods)| mods.iter()) {
                let needle = format!("{top}::");
                let found = code.match_indices(&needle).any(|(i, _)| {
                    !code[..i]
                        .ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                });
                if found {
                    targets.push(vec![top.to_string()]);
                }
            }
        }
        // `super::super::x`: the path above this module's, then what follows.
        targets.extend(super_paths(&code, &path));
        let entry = g.entry(from.clone()).or_default();
        for t in targets {
            let to = match t.as_slice() {
                [top, cmd, ..] if top == "commands" && commands.contains(cmd) => {
                    format!("commands::{cmd}")
                }
                [top, ..] => top.clone(),
                [] => continue,
            };
            if to != from {
                entry.insert(to);
            }
        }
    }
    g
}

#[test]
fn every_module_has_a_layer() {
    let unplaced: Vec<String> = graph()
        .keys()
        .filter(|u| layer_of(u).is_none())
        .cloned()
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules with no layer (add them to LAYERS here and to docs/design.md): {unplaced:?}"
    );
}

#[test]
fn no_module_imports_a_higher_layer() {
    let mut wrong = Vec::new();
    for (from, tos) in graph() {
        for to in tos {
            if let (Some(a), Some(b)) = (layer_of(&from), layer_of(&to)) {
                if b < a {
                    wrong.push(format!(
                        "{from} ({}) imports {to} ({})",
                        LAYERS[a].0, LAYERS[b].0
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "imports that run up: {wrong:#?}");
}

#[test]
fn no_command_imports_another() {
    let mut wrong = Vec::new();
    for (from, tos) in graph() {
        if from.starts_with("commands::") {
            for to in tos.iter().filter(|t| t.starts_with("commands")) {
                wrong.push(format!("{from} imports {to}"));
            }
        }
    }
    assert!(wrong.is_empty(), "commands importing commands: {wrong:#?}");
}

#[test]
fn no_circles() {
    let g = graph();
    // Depth-first search; a back edge closes a circle.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<String>,
    ) {
        if let Some(at) = stack.iter().position(|s| s == n) {
            let mut circle = stack[at..].to_vec();
            circle.push(n.to_string());
            found.push(circle.join(" -> "));
            return;
        }
        if !done.insert(n.to_string()) {
            return;
        }
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            visit(m, g, stack, done, found);
        }
        stack.pop();
    }
    let (mut stack, mut done, mut found) = (Vec::new(), BTreeSet::new(), Vec::new());
    for n in g.keys() {
        visit(n, &g, &mut stack, &mut done, &mut found);
    }
    assert!(found.is_empty(), "import circles: {found:#?}");
}

#[test]
fn the_reader_sees_imports() {
    // The parser this test rests on: it must find what it checks.
    let text = code(
        "use crate::{a, b::c, d::{e, f}};\n// crate::comment\nfn x() { crate::g::h(); }\n#[cfg(test)]\nmod tests {\n    use crate::t;\n}\n",
    );
    let paths = crate_paths(&text);
    let firsts: Vec<&str> = paths.iter().map(|p| p[0].as_str()).collect();
    assert_eq!(firsts, ["a", "b", "d", "g"]);
    // `#[cfg(test)]` items end where rustfmt closes them, braces in strings or not, and an
    // item on the attribute's own line skips only that line.
    let code2 = code(
        "#[cfg(test)] mod tests;\nuse crate::kept;\n#[cfg(test)]\nmod tests {\n    const S: &str = \"}}\";\n    use crate::hidden;\n}\nuse crate::after;\n",
    );
    let firsts: Vec<String> = crate_paths(&code2)
        .into_iter()
        .map(|p| p[0].clone())
        .collect();
    assert_eq!(firsts, ["kept", "after"]);
    // `super::` chains resolve against the module's own path.
    let here: Vec<String> = ["commands", "clean", "plan"].map(String::from).to_vec();
    let ups = super_paths(
        "use super::super::up::x;\nuse super::{find, plan};\n",
        &here,
    );
    assert_eq!(
        ups,
        [
            vec!["commands", "up", "x"],
            vec!["commands", "clean", "find"],
            vec!["commands", "clean", "plan"]
        ]
    );
    let root: Vec<String> = vec!["environment".to_string()];
    assert_eq!(
        super_paths("super::commands::up::run()", &root),
        [vec!["commands", "up"]]
    );
    let g = graph();
    assert!(g["commands::up"].contains("environment"), "{g:#?}");
    assert!(g["main"].contains("commands"));
}
