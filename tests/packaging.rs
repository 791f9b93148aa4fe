//! The committed completions and man page match what the binary generates, so packages
//! never ship stale ones. Regenerate with `packaging/generate.sh`.

use std::process::Command;

fn generated(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mlenv"))
        .args(args)
        .output()
        .expect("run mlenv");
    assert!(out.status.success(), "mlenv {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn committed_files_are_current() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (file, args) in [
        (
            "packaging/completions/mlenv.bash",
            &["completions", "bash"][..],
        ),
        ("packaging/completions/_mlenv", &["completions", "zsh"][..]),
        (
            "packaging/completions/mlenv.fish",
            &["completions", "fish"][..],
        ),
        ("packaging/man/mlenv.1", &["man"][..]),
    ] {
        let committed = std::fs::read_to_string(format!("{root}/{file}"))
            .unwrap_or_else(|e| panic!("{file}: {e}; run packaging/generate.sh"));
        assert!(
            committed == generated(args),
            "{file} is out of date: run packaging/generate.sh"
        );
    }
    // Every subcommand's page, nested ones (`mlenv-gpu-setup.1`) included.
    let mut pages = 0;
    for entry in std::fs::read_dir(format!("{root}/packaging/man")).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(sub) = file
            .strip_prefix("mlenv-")
            .and_then(|f| f.strip_suffix(".1"))
        else {
            continue;
        };
        let committed = std::fs::read_to_string(&path).unwrap();
        assert!(
            committed == generated(&["man", sub]),
            "{file} is out of date: run packaging/generate.sh"
        );
        pages += 1;
    }
    assert!(
        pages >= 18,
        "only {pages} subcommand pages in packaging/man"
    );
}

#[test]
fn readme_reference_is_current() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = "<!-- reference:start -->\n";
    let section = readme
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once("<!-- reference:end -->"))
        .map(|(section, _)| section)
        .expect("README.md lacks the <!-- reference:start/end --> markers");
    assert!(
        section == generated(&["man", "--markdown"]),
        "the README's command reference is out of date: run packaging/generate.sh"
    );
    // Every visible command is in it.
    for sub in [
        "up",
        "init",
        "doctor",
        "clean",
        "list",
        "gpu setup",
        "jupyter",
    ] {
        assert!(
            section.contains(&format!("#### `mlenv {sub}`")),
            "{sub} missing"
        );
    }
}

#[test]
fn man_page_documents_commands_and_exit_codes() {
    let man = generated(&["man"]);
    for word in [
        "up",
        "down",
        "restart",
        "exec",
        "status",
        "logs",
        "EXIT CODES",
    ] {
        assert!(man.contains(word), "man page lacks {word:?}");
    }
}
