//! Where `wfc check` keeps its cache, and that git never sees it: a pre-commit hook
//! that runs `wfc check` must not find files it made staged or modified.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::write;

const CLEAN: &str =
    "wf:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, echo: hi}\n";

fn wfc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(args)
        .current_dir(cwd)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env_remove("WFC_CACHE_DIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("run wfc")
}

fn git(args: &[&str], cwd: &Path) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
        .args(args)
        .current_dir(cwd)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", cwd)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_hook_that_runs_wfc_check_finds_nothing_to_stage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path();
    git(&["init", "-q", "-b", "main"], repo);
    write(repo, "conf/a.yml", CLEAN);
    git(&["add", "-A"], repo);
    git(&["commit", "-q", "-m", "first"], repo);
    for round in 0..2 {
        // What pre-commit runs, from the repository's root.
        let out = wfc(&["check", "conf"], repo);
        assert_eq!(out.status.code(), Some(0), "{round}");
        assert!(repo.join(".wfc/cache/check.bin").is_file());
        git(&["add", "-A"], repo);
        let status = git(&["status", "--porcelain", "--ignored=no"], repo);
        assert_eq!(status, "", "round {round}: git sees {status}");
    }
    // The folder ignores itself, so nothing in it is ever staged.
    assert_eq!(
        git(
            &["check-ignore", ".wfc/cache/check.bin", ".wfc/.gitignore"],
            repo
        ),
        ".wfc/cache/check.bin\n.wfc/.gitignore\n"
    );
    assert!(
        std::fs::read_to_string(repo.join(".wfc/CACHEDIR.TAG"))
            .expect("tag")
            .starts_with("Signature: 8a477f597d28d172789f06886806bc55\n")
    );
    // A change to a workflow is what git sees, and only that.
    write(repo, "conf/a.yml", &CLEAN.replace("echo: hi", "echo: ho"));
    assert_eq!(wfc(&["check", "conf"], repo).status.code(), Some(0));
    assert_eq!(
        git(&["status", "--porcelain", "--ignored=no"], repo),
        " M conf/a.yml\n"
    );
    // `wfc compile` writes into the same ignored folder.
    assert_eq!(wfc(&["compile", "conf"], repo).status.code(), Some(0));
    assert_eq!(
        git(&["status", "--porcelain", "--ignored=no"], repo),
        " M conf/a.yml\n"
    );
}

#[test]
fn the_cache_lives_in_the_project_not_where_the_command_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("sub")).expect("mkdir");
    git(&["init", "-q"], &repo);
    write(&repo, "conf/a.yml", CLEAN);
    // From a subfolder of the repository.
    assert_eq!(
        wfc(&["check", "../conf"], &repo.join("sub")).status.code(),
        Some(0)
    );
    assert!(repo.join(".wfc/cache/check.bin").is_file());
    assert!(!repo.join("sub/.wfc").exists());
    // From outside it, with an absolute path.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    std::fs::remove_dir_all(repo.join(".wfc")).expect("rm");
    let conf = repo.join("conf");
    let out = wfc(&["check", conf.to_str().expect("utf-8")], &elsewhere);
    assert_eq!(out.status.code(), Some(0));
    assert!(repo.join(".wfc/cache/check.bin").is_file());
    assert!(!elsewhere.join(".wfc").exists());

    // Without git, a `.wfc` folder marks the project.
    let plain = dir.path().join("plain");
    write(&plain, "flows/deep/a.yml", CLEAN);
    std::fs::create_dir_all(plain.join(".wfc")).expect("mkdir");
    assert_eq!(
        wfc(&["check", "deep"], &plain.join("flows")).status.code(),
        Some(0)
    );
    assert!(plain.join(".wfc/cache/check.bin").is_file());
    assert!(!plain.join("flows/.wfc").exists());
    // With neither, the folder the command runs in, when the files are inside it.
    let bare = dir.path().join("bare");
    write(&bare, "conf/a.yml", CLEAN);
    assert_eq!(wfc(&["check", "conf"], &bare).status.code(), Some(0));
    assert!(bare.join(".wfc/cache/check.bin").is_file());
}

/// pre-commit, as setup-tests installs it ($WFC_PRE_COMMIT overrides).
fn pre_commit() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("WFC_PRE_COMMIT") {
        return path.into();
    }
    let state = std::env::var_os("WFC_TEST_STATE").map_or_else(
        || {
            Path::new(&std::env::var_os("HOME").expect("HOME"))
                .join(".cache")
                .join("wfc-test")
        },
        std::path::PathBuf::from,
    );
    let path = state.join("pre-commit/bin/pre-commit");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup-tests (or set WFC_PRE_COMMIT)",
        path.display()
    );
    path
}

/// The hooks of `.pre-commit-hooks.yaml` that run the `wfc` on PATH (this
/// build's), run by pre-commit itself on a repository that uses them:
/// `wfc-check-fix-system` fixes, fails once because it changed files, then
/// passes; `wfc-check-system` reads the repository's `wfc.toml`. (The hooks that
/// install wfc themselves are tested by tests/dist/check_dist.py.)
#[test]
fn the_hooks_run_under_pre_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).expect("mkdir");
    git(&["init", "-q", "-b", "main"], &repo);
    let broken = CLEAN.replace("echo: hi", "ecoh: hi");
    write(&repo, "conf/a.yml", &broken);
    git(&["add", "-A"], &repo);
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = Path::new(env!("CARGO_BIN_EXE_wfc"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let run = |hook: &str| -> Output {
        Command::new(pre_commit())
            .args(["try-repo", &project.to_string_lossy(), hook, "--all-files"])
            .current_dir(&repo)
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", dir.path().join("pre-commit-home"))
            .env("HOME", dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("WORKFLOW_CORE_CONF_PATH")
            .env_remove("WFC_CACHE_DIR")
            .output()
            .expect("run pre-commit")
    };
    let said = |out: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let out = run("wfc-check-system");
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("WF101"), "{}", said(&out));
    // The repository's configuration is read by the hook.
    write(&repo, "wfc.toml", "[severity]\nWF101 = \"warning\"\n");
    let out = run("wfc-check-system");
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    std::fs::remove_file(repo.join("wfc.toml")).expect("rm");
    // The fixing hook: fixes, and fails because it changed a file.
    let out = run("wfc-check-fix-system");
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("files were modified by this hook"),
        "{}",
        said(&out)
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("conf/a.yml")).expect("read"),
        CLEAN
    );
    // Then it passes.
    git(&["add", "-A"], &repo);
    let out = run("wfc-check-fix-system");
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
}

/// `dist/` (the installed programs' own workspace) pins what the main workspace
/// pins, and has its version: an update of one lock file without the other
/// would ship versions the tests never ran.
#[test]
fn dist_pins_what_the_workspace_pins() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let packages = |path: &Path| -> Vec<(String, String)> {
        let text = std::fs::read_to_string(path).expect("lock file");
        text.split("[[package]]")
            .skip(1)
            .filter_map(|block| {
                let field = |key: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
                        .map(|v| v.trim_end_matches('"').to_string())
                };
                Some((field("name")?, field("version")?))
            })
            .collect()
    };
    let workspace = packages(&root.join("Cargo.lock"));
    let dist = packages(&root.join("dist/Cargo.lock"));
    assert!(dist.len() > 100, "{} packages", dist.len());
    for (name, version) in &dist {
        if name == "wfc" {
            assert_eq!(version, env!("CARGO_PKG_VERSION"), "dist's version");
            continue;
        }
        assert!(
            workspace.contains(&(name.clone(), version.clone())),
            "dist/Cargo.lock pins {name} {version}, which Cargo.lock does not: \
             copy Cargo.lock to dist/Cargo.lock and run `cargo metadata --offline` in dist/"
        );
    }
}
