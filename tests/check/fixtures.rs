//! Fixture folders: `tests/fixtures/ok` must check clean, every file in
//! `tests/fixtures/err/<CODE>/` must produce `<CODE>`, and the human rendering of
//! each error fixture is pinned as an insta snapshot in `snapshots/`.

use std::path::{Path, PathBuf};

use wfc_compiler::diagnostic::Code;

use crate::support::{check_files, render_human, tests_dir};

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Reads files with paths relative to `root`, so renderings do not depend on the checkout.
fn read_relative(root: &Path, files: &[PathBuf]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|p| {
            let name = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            (name, std::fs::read_to_string(p).expect("read fixture"))
        })
        .collect()
}

#[test]
fn ok_fixtures_check_clean() {
    let root = tests_dir().join("fixtures/ok");
    let files = read_relative(&root, &yaml_files(&root));
    assert!(files.len() >= 3, "expected ok fixtures");
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let (project, diagnostics) = check_files(&borrowed);
    assert!(
        diagnostics.is_empty(),
        "ok fixtures must check clean:\n{}",
        render_human(&project, &diagnostics)
    );
    assert!(project.workflows().count() >= 6);
}

/// Every kind of the table (`wfc_plan::kind`) has a stage in the ok fixtures: a
/// kind the builder cannot make, or the model does not map to its table entry,
/// fails here.
#[test]
fn ok_fixtures_use_every_stage_kind() {
    use wfc_compiler::kind::Kind;
    use wfc_compiler::syntax::visit::each_stage;
    let root = tests_dir().join("fixtures/ok");
    let files = read_relative(&root, &yaml_files(&root));
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let (project, _) = check_files(&borrowed);
    let mut kinds = std::collections::BTreeSet::new();
    for (_, workflow) in project.workflows() {
        for job in &workflow.jobs {
            each_stage(&job.stages, |s| {
                kinds.insert(s.kind.kind());
            });
        }
    }
    for kind in Kind::ALL {
        assert!(
            kinds.contains(&kind),
            "no {} stage in the ok fixtures: {kinds:?}",
            kind.name()
        );
    }
}

#[test]
fn err_fixtures_produce_their_code() {
    let root = tests_dir().join("fixtures/err");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("err fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut covered = Vec::new();
    let mut referenced = std::collections::HashSet::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let code =
            Code::lookup(&name).unwrap_or_else(|| panic!("fixture folder {name} is not a code"));
        covered.push(code);
        let files = yaml_files(&dir);
        assert!(!files.is_empty(), "{name} has no fixture");
        for (path, text) in read_relative(&root, &files) {
            let (project, diagnostics) = check_files(&[(path.as_str(), text.as_str())]);
            assert!(
                diagnostics.iter().any(|d| d.code == code),
                "{path} should produce {name}, got:\n{}",
                render_human(&project, &diagnostics)
            );
            let snapshot = path.trim_end_matches(".yml").replace('/', "__");
            referenced.insert(snapshot.clone());
            insta::with_settings!({
                snapshot_path => "../../snapshots",
                prepend_module_to_snapshot => false,
                omit_expression => true,
            }, {
                insta::assert_snapshot!(snapshot, render_human(&project, &diagnostics));
            });
        }
    }
    // No snapshot is left over from a fixture that no longer exists.
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots");
    for entry in std::fs::read_dir(&snapshots).expect("snapshots folder") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = name.strip_suffix(".snap").filter(|s| s.starts_with("WF")) {
            assert!(
                referenced.contains(stem),
                "stale snapshot {name}: delete it"
            );
        }
    }
    // Every code a user can cause has a fixture (WF000 is an internal failure;
    // the `--resolve-calls` codes need Python and are tested in calls.rs; files
    // that cannot be read or are too large are made by input.rs).
    let elsewhere = [
        Code::Internal,
        Code::UnknownCall,
        Code::CallArguments,
        Code::UnreadableFile,
        Code::FileTooLarge,
    ];
    for code in Code::ALL.iter().filter(|c| !elsewhere.contains(c)) {
        assert!(
            covered.contains(code),
            "no fixture folder for {}",
            code.id()
        );
    }
}
