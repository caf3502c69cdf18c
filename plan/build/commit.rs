// The git commit a binary is built from, for `--version`: included (`include!`)
// by `compiler/build.rs` and `runtime/build.rs` (which `runtime/wfr-python`
// shares), so that `wfc`, `wfr` and `wfr-python` find it the same way.
//
// `commit()` sets `WFC_BUILD_COMMIT` for the crate being built:
// * in a git checkout: `git rev-parse --short=12 HEAD`, with `-dirty` when
//   tracked files have changes not committed. The build script runs again when
//   HEAD moves (`HEAD`, and the branch it points to, loose or packed: a
//   worktree's `.git` file is followed by git itself), and when the crate's
//   sources change (the callers' own `rerun-if-changed`); `-dirty` is as of
//   the last of those.
// * elsewhere (a source archive, a wheel's sdist, git not installed, or a
//   folder that git does not track, such as an archive unpacked inside another
//   repository): `$WFC_GIT_COMMIT` at build time, else `unknown`.

/// Sets `WFC_BUILD_COMMIT` (see above).
fn commit() {
    println!("cargo:rerun-if-env-changed=WFC_GIT_COMMIT");
    let dir = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = commit_from_git(&dir)
        .or_else(|| {
            std::env::var("WFC_GIT_COMMIT")
                .ok()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=WFC_BUILD_COMMIT={commit}");
}

/// `git args…` run in `dir`: its trimmed output when it succeeds. No optional
/// locks: `git status` must not take `.git/index.lock` from under a `git commit`
/// running beside the build.
fn git(dir: &std::path::Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit of the checkout `dir` is in, when git tracks this crate there.
fn commit_from_git(dir: &std::path::Path) -> Option<String> {
    git(dir, &["ls-files", "--error-unmatch", "Cargo.toml"])?;
    let commit = git(dir, &["rev-parse", "--short=12", "HEAD"]).filter(|c| !c.is_empty())?;
    // Run again when HEAD moves. Paths that do not exist are not given: cargo
    // would run the script at every build.
    let git_path = |name: &str| {
        git(dir, &["rev-parse", "--git-path", name]).map(|p| dir.join(p))
    };
    let mut watched = Vec::new();
    watched.extend(git_path("HEAD"));
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        match git_path(&branch) {
            Some(loose) if loose.is_file() => watched.push(loose),
            // A packed branch: its first commit makes it a loose file in its folder.
            loose => {
                watched.extend(git_path("packed-refs"));
                watched.extend(loose.and_then(|l| l.parent().map(std::path::Path::to_path_buf)));
            }
        }
    }
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let dirty = git(dir, &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|changes| !changes.is_empty());
    Some(if dirty { format!("{commit}-dirty") } else { commit })
}
