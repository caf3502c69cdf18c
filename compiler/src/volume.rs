//! Which host paths a Docker stage may mount: only paths inside the workflow's
//! working directory. `wfc check` applies the rule to static paths (with the
//! directory it runs in); the runtime applies it to every path before it mounts it.

use std::path::{Component, Path, PathBuf};

/// Why a host path may not be mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The Docker socket (or a path holding it) gives the container the engine.
    DockerSocket,
    /// An absolute path, or `..` steps, that lead outside the working directory.
    Outside,
    /// A symlink on the way leads outside the working directory.
    Symlink(PathBuf),
}

impl Refusal {
    /// What to tell the user.
    #[must_use]
    pub fn message(&self, host: &str) -> String {
        match self {
            Refusal::DockerSocket => format!(
                "volume `{host}` would give the container the Docker socket, and with it the whole machine"
            ),
            Refusal::Outside => format!("volume `{host}` is outside the working directory"),
            Refusal::Symlink(to) => format!(
                "volume `{host}` goes through a symlink to `{}`, outside the working directory",
                to.display()
            ),
        }
    }
}

/// `path` with `.` and `..` steps resolved without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The host path to mount for `host` (relative to `workdir`, or absolute inside
/// it), or why it may not be mounted. `workdir` must be absolute.
///
/// # Errors
/// A refusal: the Docker socket, a path outside `workdir`, or a symlink on the way
/// out of it.
pub fn host_path(host: &str, workdir: &Path) -> Result<PathBuf, Refusal> {
    let joined = normalize(&workdir.join(host));
    if joined
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains("docker.sock"))
        || host.contains("docker.sock")
    {
        return Err(Refusal::DockerSocket);
    }
    let base = normalize(workdir);
    if !joined.starts_with(&base) {
        return Err(Refusal::Outside);
    }
    // The deepest existing part (inside the working directory) decides where
    // symlinks lead.
    let real_base = base.canonicalize().unwrap_or_else(|_| base.clone());
    let mut existing = joined.clone();
    while !existing.exists() && existing != base {
        existing.pop();
    }
    if existing.exists()
        && let Ok(real) = existing.canonicalize()
    {
        if !real.starts_with(&real_base) {
            return Err(Refusal::Symlink(real));
        }
        if real
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("docker.sock"))
        {
            return Err(Refusal::DockerSocket);
        }
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_are_accepted_and_others_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().canonicalize().expect("real path");
        std::fs::create_dir(work.join("data")).expect("mkdir");
        assert_eq!(host_path("data", &work), Ok(work.join("data")));
        assert_eq!(
            host_path("./data/../data/x", &work),
            Ok(work.join("data/x"))
        );
        assert_eq!(
            host_path(work.join("data").to_str().expect("utf-8"), &work),
            Ok(work.join("data"))
        );
        assert_eq!(host_path("../elsewhere", &work), Err(Refusal::Outside));
        assert_eq!(host_path("data/../../x", &work), Err(Refusal::Outside));
        assert_eq!(host_path("/etc", &work), Err(Refusal::Outside));
        assert_eq!(
            host_path("/var/run/docker.sock", &work),
            Err(Refusal::DockerSocket)
        );
        std::os::unix::fs::symlink("/etc", work.join("escape")).expect("symlink");
        assert!(matches!(
            host_path("escape/passwd", &work),
            Err(Refusal::Symlink(_))
        ));
        std::os::unix::fs::symlink("/var/run/docker.sock", work.join("sock")).expect("symlink");
        assert!(host_path("sock", &work).is_err());
    }
}
