//! The pure steps of `clean`: what goes and what stays ([`plan`]), and the check that every
//! path of a plan is one of mlenv's own ([`is_ours`]) before anything is removed.

use std::path::{Component, Path, PathBuf};

use color_eyre::eyre::{eyre, Result};

/// The suffix `up --recreate` gives the container it sets aside while it makes the new one.
pub(super) const SET_ASIDE: &str = "-replaced";

/// One thing `clean` removes (or keeps, without `--volumes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// The environment's container, or the one an interrupted `up --recreate` set aside.
    Container { name: String, running: bool },
    /// An autostart unit file, or its `default.target.wants` link.
    Unit(PathBuf),
    /// The state dir: lock, debug log, server records, the env copy the unit reads.
    StateDir(PathBuf),
    /// The data dir: installed Python packages, the requirements record, the profile snippet.
    Packages(PathBuf),
    /// pip's download cache, shared by every project.
    PipCache(PathBuf),
}

impl Item {
    fn path(&self) -> Option<&Path> {
        match self {
            Item::Container { .. } => None,
            Item::Unit(p) | Item::StateDir(p) | Item::Packages(p) | Item::PipCache(p) => Some(p),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Item::Container {
                name,
                running: true,
            } => format!("container {name} (running: it is stopped first)"),
            Item::Container { name, .. } => format!("container {name}"),
            Item::Unit(p) => format!("autostart unit {}", p.display()),
            Item::StateDir(p) => format!("state and logs {}", p.display()),
            Item::Packages(p) => format!("installed packages {}", p.display()),
            Item::PipCache(p) => format!("pip download cache {}", p.display()),
        }
    }
}

/// What exists of one environment, found before anything is removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// The environment's container name: the key of its state dir, data dir and units.
    pub name: String,
    /// The project folder, from the container's label; unknown once the container is gone.
    pub project: Option<String>,
    /// The containers present, with whether each runs: the environment's own and a set-aside.
    pub containers: Vec<(String, bool)>,
    pub state_dir: Option<PathBuf>,
    /// Unit files and links present.
    pub units: Vec<PathBuf>,
    pub data_dir: Option<PathBuf>,
}

/// What goes, and what stays, of one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub project: Option<String>,
    pub remove: Vec<Item>,
    pub kept: Vec<Item>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub groups: Vec<Group>,
    /// Not any one project's: pip's cache.
    pub shared_remove: Vec<Item>,
    pub shared_kept: Vec<Item>,
}

impl Plan {
    fn removals(&self) -> impl Iterator<Item = &Item> {
        self.groups
            .iter()
            .flat_map(|g| &g.remove)
            .chain(&self.shared_remove)
    }

    pub fn is_empty(&self) -> bool {
        self.removals().next().is_none()
    }
}

/// The plan: every container, unit and state dir found goes; the data dir only with
/// `volumes`; pip's shared cache only with `all` and `volumes`. Containers go first (a
/// running one must not lose its mounts' sources under it), then units, then the folders.
pub fn plan(found: &[Found], pip_cache: Option<&Path>, volumes: bool, all: bool) -> Plan {
    let mut groups = Vec::new();
    for f in found {
        let mut remove: Vec<Item> = f
            .containers
            .iter()
            .map(|(name, running)| Item::Container {
                name: name.clone(),
                running: *running,
            })
            .collect();
        remove.extend(f.units.iter().cloned().map(Item::Unit));
        remove.extend(f.state_dir.iter().cloned().map(Item::StateDir));
        let mut kept = Vec::new();
        if let Some(data) = &f.data_dir {
            let item = Item::Packages(data.clone());
            if volumes {
                remove.push(item);
            } else {
                kept.push(item);
            }
        }
        if !remove.is_empty() || !kept.is_empty() {
            groups.push(Group {
                name: f.name.clone(),
                project: f.project.clone(),
                remove,
                kept,
            });
        }
    }
    let mut shared = Plan {
        groups,
        ..Plan::default()
    };
    if let Some(cache) = pip_cache {
        let item = Item::PipCache(cache.to_path_buf());
        if volumes && all {
            shared.shared_remove.push(item);
        } else {
            shared.shared_kept.push(item);
        }
    }
    shared
}

/// The only places `clean` deletes in, and the folders it must never touch.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    /// mlenv's own folders (state, data, cache roots): their direct children may go.
    pub trees: Vec<PathBuf>,
    /// Where units live among other programs' units: only `mlenv-*` unit files there.
    pub unit_dirs: Vec<PathBuf>,
    /// Project folders: nothing in them, and nothing that holds them, is ever deleted.
    pub projects: Vec<PathBuf>,
}

/// Whether `path` (absolute and resolved) is one of mlenv's own that `clean` may delete: a
/// direct child of one of its own roots, or an `mlenv-*` unit in a unit folder; never a
/// project folder, anything that holds one, or anything inside one. The one exception: a root
/// inside a project through a hidden folder (`~/.local/state/mlenv` when the project is the
/// home folder) is mlenv's, not the project's.
pub fn is_ours(path: &Path, roots: &Roots) -> bool {
    let plain = path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
    else {
        return false;
    };
    let unit_name =
        name.starts_with("mlenv-") && (name.ends_with(".service") || name.ends_with(".container"));
    let in_root = roots.trees.iter().any(|t| t == parent)
        || (unit_name && roots.unit_dirs.iter().any(|d| d == parent));
    plain
        && in_root
        && roots.projects.iter().all(|project| {
            if project.starts_with(path) {
                return false;
            }
            match parent.strip_prefix(project) {
                Err(_) => true,
                Ok(inside) => inside
                    .components()
                    .next()
                    .is_some_and(|c| c.as_os_str().to_string_lossy().starts_with('.')),
            }
        })
}

/// A path as the file system resolves it, without following its last part: a symlinked
/// root (`~/.local/state` on another disk) is compared as what it points to.
fn resolve(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|p| p.join(name))
            .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Refuses the whole plan if any path in it is not provably mlenv's.
pub(super) fn check(plan: &Plan, roots: &Roots) -> Result<()> {
    let roots = Roots {
        trees: roots.trees.iter().map(|p| canonical(p)).collect(),
        unit_dirs: roots.unit_dirs.iter().map(|p| canonical(p)).collect(),
        projects: roots.projects.iter().map(|p| canonical(p)).collect(),
    };
    for path in plan.removals().filter_map(Item::path) {
        if !is_ours(&resolve(path), &roots) {
            return Err(eyre!(
                "refusing to clean: {} is not one of mlenv's own files (it must be directly in {}, \
                 or an mlenv-* unit in {}, and outside every project folder); nothing was removed",
                path.display(),
                join(&roots.trees),
                join(&roots.unit_dirs)
            ));
        }
    }
    Ok(())
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `--all` removes, project by project, and what it keeps.
pub fn listing(plan: &Plan) -> String {
    let mut out = String::from("mlenv clean --all removes:\n");
    for g in plan.groups.iter().filter(|g| !g.remove.is_empty()) {
        match &g.project {
            Some(p) => out.push_str(&format!("  {p} ({})\n", g.name)),
            None => out.push_str(&format!(
                "  {} (project folder unknown: its container is gone and its state dir does not say)\n",
                g.name
            )),
        }
        for item in &g.remove {
            out.push_str(&format!("    {}\n", item.describe()));
        }
    }
    if !plan.shared_remove.is_empty() {
        out.push_str("  shared by all projects\n");
        for item in &plan.shared_remove {
            out.push_str(&format!("    {}\n", item.describe()));
        }
    }
    let kept: Vec<&Item> = plan
        .groups
        .iter()
        .flat_map(|g| &g.kept)
        .chain(&plan.shared_kept)
        .collect();
    if !kept.is_empty() {
        out.push_str("and keeps (add --volumes to remove them too):\n");
        for item in kept {
            out.push_str(&format!("    {}\n", item.describe()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    fn env(name: &str) -> Found {
        Found {
            name: name.into(),
            project: Some(format!("/home/u/{name}")),
            ..Found::default()
        }
    }

    fn container(name: &str, running: bool) -> Item {
        Item::Container {
            name: name.into(),
            running,
        }
    }

    #[test]
    fn plans() {
        let full = Found {
            containers: vec![("mlenv-a".into(), true), ("mlenv-a-replaced".into(), false)],
            state_dir: Some(p("/s/mlenv/mlenv-a")),
            units: vec![
                p("/c/systemd/user/default.target.wants/mlenv-a.service"),
                p("/c/systemd/user/mlenv-a.service"),
            ],
            data_dir: Some(p("/d/mlenv/mlenv-a")),
            ..env("mlenv-a")
        };
        let everything_but_data = vec![
            container("mlenv-a", true),
            container("mlenv-a-replaced", false),
            Item::Unit(p("/c/systemd/user/default.target.wants/mlenv-a.service")),
            Item::Unit(p("/c/systemd/user/mlenv-a.service")),
            Item::StateDir(p("/s/mlenv/mlenv-a")),
        ];
        let with_data = {
            let mut v = everything_but_data.clone();
            v.push(Item::Packages(p("/d/mlenv/mlenv-a")));
            v
        };
        let only_data = Found {
            data_dir: Some(p("/d/mlenv/mlenv-b")),
            ..env("mlenv-b")
        };
        let pip = Item::PipCache(p("/cache/mlenv/pip"));
        struct Case {
            what: &'static str,
            found: Vec<Found>,
            volumes: bool,
            all: bool,
            remove: Vec<Vec<Item>>,
            kept: Vec<Vec<Item>>,
            shared_remove: Vec<Item>,
            shared_kept: Vec<Item>,
        }
        let cases = [
            Case {
                what: "nothing there",
                found: vec![env("mlenv-a")],
                volumes: true,
                all: false,
                remove: vec![],
                kept: vec![],
                shared_remove: vec![],
                shared_kept: vec![pip.clone()],
            },
            Case {
                what: "everything but the data dir, which is kept",
                found: vec![full.clone()],
                volumes: false,
                all: false,
                remove: vec![everything_but_data.clone()],
                kept: vec![vec![Item::Packages(p("/d/mlenv/mlenv-a"))]],
                shared_remove: vec![],
                shared_kept: vec![pip.clone()],
            },
            Case {
                what: "--volumes takes the data dir, not the shared pip cache",
                found: vec![full.clone()],
                volumes: true,
                all: false,
                remove: vec![with_data.clone()],
                kept: vec![vec![]],
                shared_remove: vec![],
                shared_kept: vec![pip.clone()],
            },
            Case {
                what: "--all keeps data without --volumes",
                found: vec![full.clone(), only_data.clone()],
                volumes: false,
                all: true,
                remove: vec![everything_but_data.clone(), vec![]],
                kept: vec![
                    vec![Item::Packages(p("/d/mlenv/mlenv-a"))],
                    vec![Item::Packages(p("/d/mlenv/mlenv-b"))],
                ],
                shared_remove: vec![],
                shared_kept: vec![pip.clone()],
            },
            Case {
                what: "--all --volumes takes the pip cache too",
                found: vec![full.clone(), only_data.clone()],
                volumes: true,
                all: true,
                remove: vec![
                    with_data.clone(),
                    vec![Item::Packages(p("/d/mlenv/mlenv-b"))],
                ],
                kept: vec![vec![], vec![]],
                shared_remove: vec![pip.clone()],
                shared_kept: vec![],
            },
        ];
        for c in cases {
            let got = plan(
                &c.found,
                Some(Path::new("/cache/mlenv/pip")),
                c.volumes,
                c.all,
            );
            let remove: Vec<Vec<Item>> = got.groups.iter().map(|g| g.remove.clone()).collect();
            let kept: Vec<Vec<Item>> = got.groups.iter().map(|g| g.kept.clone()).collect();
            assert_eq!(remove, c.remove, "{}: remove", c.what);
            assert_eq!(kept, c.kept, "{}: kept", c.what);
            assert_eq!(got.shared_remove, c.shared_remove, "{}: shared", c.what);
            assert_eq!(got.shared_kept, c.shared_kept, "{}: shared kept", c.what);
            let empty = c.remove.iter().all(Vec::is_empty) && c.shared_remove.is_empty();
            assert_eq!(got.is_empty(), empty, "{}: is_empty", c.what);
        }
        // No pip cache on disk: nothing said about it.
        let got = plan(&[env("mlenv-a")], None, true, true);
        assert_eq!(got, Plan::default());
    }

    #[test]
    fn ours_and_not_ours() {
        let roots = Roots {
            trees: vec![
                p("/home/u/.local/state/mlenv"),
                p("/home/u/.local/share/mlenv"),
                p("/home/u/.cache/mlenv"),
            ],
            unit_dirs: vec![
                p("/home/u/.config/systemd/user/default.target.wants"),
                p("/home/u/.config/systemd/user"),
                p("/home/u/.config/containers/systemd"),
            ],
            projects: vec![p("/home/u/proj"), p("/home/u")],
        };
        let cases: &[(&str, bool)] = &[
            ("/home/u/.local/state/mlenv/mlenv-proj-12345678", true),
            ("/home/u/.local/share/mlenv/mlenv-proj-12345678", true),
            ("/home/u/.cache/mlenv/pip", true),
            ("/home/u/.config/systemd/user/mlenv-proj-1.service", true),
            (
                "/home/u/.config/systemd/user/default.target.wants/mlenv-proj-1.service",
                true,
            ),
            (
                "/home/u/.config/containers/systemd/mlenv-proj-1.container",
                true,
            ),
            // A root itself, or deeper than a direct child, is not what clean removes.
            ("/home/u/.local/state/mlenv", false),
            ("/home/u/.local/state/mlenv/mlenv-x/servers", false),
            // Other programs' units, and not-unit files, in the unit folders.
            ("/home/u/.config/systemd/user/other.service", false),
            ("/home/u/.config/systemd/user/mlenv-x.timer", false),
            ("/home/u/.config/systemd/user/mlenv-x", false),
            // Outside every root.
            ("/home/u/proj/requirements.txt", false),
            ("/home/u/proj", false),
            ("/home/u", false),
            ("/", false),
            ("/tmp/mlenv-x", false),
            // Not plain: relative, or climbing out of a root.
            ("home/u/.local/state/mlenv/mlenv-x", false),
            ("/home/u/.local/state/mlenv/../mlenv/mlenv-x", false),
            ("/home/u/.local/state/mlenv/..", false),
        ];
        for (path, want) in cases {
            assert_eq!(is_ours(Path::new(path), &roots), *want, "{path}");
        }

        // A root in a project through a visible folder is the project's, and a root that
        // holds a project folder never loses a child that is (or holds) the project.
        let inside = Roots {
            trees: vec![p("/w/proj/state/mlenv"), p("/w/proj/.state/mlenv"), p("/w")],
            unit_dirs: vec![p("/w/proj")],
            projects: vec![p("/w/proj")],
        };
        let cases: &[(&str, bool)] = &[
            ("/w/proj/state/mlenv/mlenv-x", false),
            ("/w/proj/.state/mlenv/mlenv-x", true),
            ("/w/proj/mlenv-x.service", false),
            ("/w/proj", false),
            ("/w/other", true),
        ];
        for (path, want) in cases {
            assert_eq!(is_ours(Path::new(path), &inside), *want, "{path}");
        }
    }

    #[test]
    fn check_refuses_the_whole_plan() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let state = root.join("state/mlenv");
        let proj = root.join("proj");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::create_dir_all(&proj).unwrap();
        let roots = Roots {
            trees: vec![state.clone()],
            unit_dirs: vec![],
            projects: vec![proj.clone()],
        };
        let good = Found {
            state_dir: Some(state.join("mlenv-a")),
            ..env("mlenv-a")
        };
        check(
            &plan(std::slice::from_ref(&good), None, false, false),
            &roots,
        )
        .unwrap();
        let bad = Found {
            state_dir: Some(proj.join("mlenv-b")),
            ..env("mlenv-b")
        };
        let err = check(&plan(&[good, bad], None, false, false), &roots).unwrap_err();
        assert!(err.to_string().contains("nothing was removed"), "{err}");
        // A symlink into the project is judged by where it leads.
        std::os::unix::fs::symlink(&proj, root.join("state/link")).unwrap();
        let linked = Roots {
            trees: vec![root.join("state/link")],
            ..roots
        };
        let via_link = Found {
            state_dir: Some(root.join("state/link/mlenv-c")),
            ..env("mlenv-c")
        };
        assert!(check(&plan(&[via_link], None, false, false), &linked).is_err());
    }

    #[test]
    fn listing_groups_by_project() {
        let found = [
            Found {
                containers: vec![("mlenv-a".into(), true)],
                state_dir: Some(p("/s/mlenv-a")),
                data_dir: Some(p("/d/mlenv-a")),
                ..env("mlenv-a")
            },
            Found {
                name: "mlenv-b".into(),
                state_dir: Some(p("/s/mlenv-b")),
                ..Found::default()
            },
        ];
        let text = listing(&plan(&found, Some(Path::new("/c/pip")), false, true));
        assert_eq!(
            text,
            "mlenv clean --all removes:
  /home/u/mlenv-a (mlenv-a)
    container mlenv-a (running: it is stopped first)
    state and logs /s/mlenv-a
  mlenv-b (project folder unknown: its container is gone and its state dir does not say)
    state and logs /s/mlenv-b
and keeps (add --volumes to remove them too):
    installed packages /d/mlenv-a
    pip download cache /c/pip
"
        );
    }
}
