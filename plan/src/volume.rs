//! Which host paths a Docker stage may mount: only folders inside the workflow's
//! working directory, and never one that holds (or is) a socket of the container
//! engine. `wfc check` applies the rule to what it can see in the text of a path
//! ([`static_refusal`]); the runtime applies it to every path, resolved on the
//! machine, before it mounts it ([`host_path`]).
//!
//! The rule judges a path at one moment. What keeps it true until the engine
//! mounts the path (a container that could swap a folder on the way for a
//! symlink) is the runtime's part: see `runtime/src/executor/docker/mounts.rs`.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Component, Path, PathBuf};

/// Why a host path may not be mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The path is, or holds, a socket of the container engine (named): a
    /// container with it commands the engine, and with it the machine.
    EngineSocket(PathBuf),
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
            Refusal::EngineSocket(socket) if normalize(Path::new(host)) == *socket => format!(
                "volume `{host}` is the container engine's socket: a container with it commands the engine, and with it the whole machine"
            ),
            Refusal::EngineSocket(socket) => format!(
                "volume `{host}` holds the container engine's socket `{}`: a container with it commands the engine, and with it the whole machine",
                socket.display()
            ),
            Refusal::Outside => format!("volume `{host}` is outside the working directory"),
            Refusal::Symlink(to) => format!(
                "volume `{host}` goes through a symlink to `{}`, outside the working directory",
                to.display()
            ),
        }
    }
}

/// `path` with `.` and `..` steps resolved without touching the file system
/// (`//`, trailing `/` and `/.` are gone too).
#[must_use]
pub fn normalize(path: &Path) -> PathBuf {
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

/// File names that are an engine's socket wherever they are.
const SOCKET_NAMES: [&str; 3] = ["docker.sock", "containerd.sock", "podman.sock"];

/// Where the container engines keep their sockets, as written (not resolved):
/// Docker's socket and its own folder (containerd's and the shims' sockets,
/// plugins), containerd's and Podman's.
const USUAL_SOCKETS: [&str; 8] = [
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/docker",
    "/run/docker",
    "/var/run/containerd",
    "/run/containerd",
    "/var/run/podman",
    "/run/podman",
];

/// The sockets of the container engines and the folders that hold their other
/// sockets, as written (not resolved): the usual places, the one `$DOCKER_HOST`
/// names (`unix://`), and the rootless engines' under `$XDG_RUNTIME_DIR`.
#[must_use]
pub fn engine_sockets() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = USUAL_SOCKETS.iter().map(PathBuf::from).collect();
    if let Some(host) = std::env::var_os("DOCKER_HOST") {
        let host = host.to_string_lossy();
        if let Some(path) = host.strip_prefix("unix://") {
            out.push(normalize(Path::new(path)));
        }
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR") {
        let runtime = Path::new(&runtime);
        if runtime.is_absolute() {
            for name in ["docker.sock", "docker", "containerd", "podman"] {
                out.push(normalize(&runtime.join(name)));
            }
        }
    }
    out
}

/// What `wfc check` can tell from the text of a host path alone: `..` steps
/// that leave the working directory, an absolute path, an engine's socket (by
/// name, or an absolute path that holds one of the usual sockets: `/var/run`,
/// `/run`, `/`). `host` is the path as written; for a templated path, the text
/// before the first template.
#[must_use]
pub fn static_refusal(host: &str) -> Option<Refusal> {
    let path = Path::new(host);
    let root = Path::new("/__workdir__");
    if let Some(name) = socket_name(&normalize(path)) {
        return Some(Refusal::EngineSocket(name));
    }
    let joined = normalize(&root.join(path));
    if path.is_absolute() {
        // Only the usual places: what the check says may not depend on the
        // environment it runs in.
        let absolute = normalize(path);
        for socket in USUAL_SOCKETS {
            if Path::new(socket).starts_with(&absolute) {
                return Some(Refusal::EngineSocket(PathBuf::from(socket)));
            }
        }
        return Some(Refusal::Outside);
    }
    (!joined.starts_with(root)).then_some(Refusal::Outside)
}

/// A component of `path` named as an engine's socket.
fn socket_name(path: &Path) -> Option<PathBuf> {
    path.components()
        .any(|c| SOCKET_NAMES.iter().any(|n| c.as_os_str() == *n))
        .then(|| path.to_path_buf())
}

/// The host path to mount for `host` (relative to `workdir`, or absolute inside
/// it), resolved: symlinks followed (inside the working directory only), so that
/// no component of the result is a symlink. A tail that does not exist yet is
/// kept as written (the runtime creates it). `workdir` must be absolute.
///
/// # Errors
/// A refusal: a path outside `workdir`, a symlink on the way out of it, or a
/// path that is or holds an engine's socket.
pub fn host_path(host: &str, workdir: &Path) -> Result<PathBuf, Refusal> {
    let base = normalize(workdir);
    let joined = normalize(&base.join(host));
    if let Some(name) = socket_name(&joined) {
        return Err(Refusal::EngineSocket(name));
    }
    if !joined.starts_with(&base) {
        return Err(Refusal::Outside);
    }
    // The socket first: it is the worse news (`/var/run` from `/var` also leads
    // outside, through the `/var/run -> /run` link).
    holds_socket(&joined, false)?;
    let real_base = base.canonicalize().unwrap_or_else(|_| base.clone());
    let (resolved, exists) = resolve(&joined);
    if !resolved.starts_with(&real_base) {
        // Where the symlink leads: the part that exists.
        let mut real = resolved;
        if !exists {
            while !real.exists() && real.pop() {}
        }
        return Err(Refusal::Symlink(real));
    }
    if let Some(name) = socket_name(&resolved) {
        return Err(Refusal::EngineSocket(name));
    }
    holds_socket(&resolved, exists)?;
    Ok(resolved)
}

/// `path` with the symlinks of its deepest existing part resolved, the rest kept
/// as written; true when all of it exists.
fn resolve(path: &Path) -> (PathBuf, bool) {
    let mut existing = path.to_path_buf();
    let mut missing = Vec::new();
    loop {
        if let Ok(mut real) = existing.canonicalize() {
            let exists = missing.is_empty();
            for name in missing.iter().rev() {
                real.push(name);
            }
            return (real, exists);
        }
        let Some(name) = existing.file_name() else {
            return (path.to_path_buf(), false);
        };
        missing.push(name.to_os_string());
        existing.pop();
    }
}

/// Refuses a path that is, or is a folder above, an engine's socket: compared as
/// written and resolved, and, for a path that `exists`, by identity (device and
/// inode: another name for the same folder, a bind mount, is caught too).
fn holds_socket(path: &Path, exists: bool) -> Result<(), Refusal> {
    let identity = if exists {
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    } else {
        // A folder that does not exist yet holds nothing.
        None
    };
    for socket in engine_sockets() {
        let (real, _) = resolve(&socket);
        if socket.starts_with(path) || real.starts_with(path) {
            return Err(Refusal::EngineSocket(socket));
        }
        if let Some(identity) = identity
            && real
                .ancestors()
                .any(|above| std::fs::metadata(above).is_ok_and(|m| (m.dev(), m.ino()) == identity))
        {
            return Err(Refusal::EngineSocket(socket));
        }
    }
    Ok(())
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
        assert!(matches!(
            host_path("/var/run/docker.sock", &work),
            Err(Refusal::EngineSocket(_))
        ));
        std::os::unix::fs::symlink("/etc", work.join("escape")).expect("symlink");
        assert!(matches!(
            host_path("escape/passwd", &work),
            Err(Refusal::Symlink(_))
        ));
        assert!(matches!(
            host_path("escape/new/folder", &work),
            Err(Refusal::Symlink(_))
        ));
        std::os::unix::fs::symlink("/var/run/docker.sock", work.join("sock")).expect("symlink");
        assert!(host_path("sock", &work).is_err());
        // A symlink that stays inside resolves to where it leads.
        std::os::unix::fs::symlink(work.join("data"), work.join("alias")).expect("symlink");
        assert_eq!(host_path("alias/x", &work), Ok(work.join("data/x")));
    }

    #[test]
    fn folders_that_hold_the_engine_socket_are_refused_however_spelled() {
        // From `/`, `/run` and `/var`, relative paths reach the socket's folder.
        for (workdir, hosts) in [
            (
                "/",
                &["var/run", "run", "./", ".", "//run/.", "var/run/", "var"][..],
            ),
            ("/run", &[".", "./", "docker", "containerd"][..]),
            ("/var", &["run", "run/.", "./run//"][..]),
        ] {
            for host in hosts {
                let refused = host_path(host, Path::new(workdir));
                assert!(
                    matches!(refused, Err(Refusal::EngineSocket(_))),
                    "`{host}` from `{workdir}`: {refused:?}"
                );
            }
        }
        // Another name for the socket's folder (a symlink inside the working
        // directory) is refused too.
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().canonicalize().expect("real path");
        std::os::unix::fs::symlink("/run", work.join("run")).expect("symlink");
        assert!(host_path("run", &work).is_err());
    }

    #[test]
    fn the_static_rule_judges_the_text() {
        assert_eq!(static_refusal("./data"), None);
        assert_eq!(static_refusal("data/../x"), None);
        assert_eq!(static_refusal("../x"), Some(Refusal::Outside));
        assert_eq!(static_refusal("/etc"), Some(Refusal::Outside));
        for socket in [
            "/var/run/docker.sock",
            "/var/run",
            "/run/",
            "//var//run/.",
            "/",
            "/var",
            "/run/containerd",
            "x/docker.sock",
            "./run/containerd/containerd.sock",
        ] {
            assert!(
                matches!(static_refusal(socket), Some(Refusal::EngineSocket(_))),
                "{socket}"
            );
        }
    }
}
