//! wfc's state folder, `.wfc/`: the check cache (`.wfc/cache`), plans
//! (`.wfc/plans`) and run records (`.wfc/runs`).
//!
//! Whenever wfc or wfr makes a folder inside a `.wfc` folder, the `.wfc` folder gets a
//! `.gitignore` that ignores everything in it, so that `git add -A` never stages it
//! (a pre-commit hook that runs `wfc check` would otherwise find its cache modified
//! at every commit), and a `CACHEDIR.TAG`, so that backup tools skip it. Files in it
//! are written atomically: a temporary file in the same folder, renamed into place.

use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// The state folder's name.
pub const STATE_DIR: &str = ".wfc";

/// `.wfc/.gitignore`: everything in the folder, this file included.
const GITIGNORE: &str = "# Made by wfc: its cache, plans and run records are not sources.\n*\n";

/// `.wfc/CACHEDIR.TAG`, as <https://bford.info/cachedir/> specifies it.
const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file marks the folder as a cache for backup tools; wfc made it.\n\
# See https://bford.info/cachedir/\n";

/// Makes `dir` and the folders above it; when one of them is a `.wfc` folder, it
/// gets its `.gitignore` and `CACHEDIR.TAG` (also when it existed already without
/// them).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    if let Some(state) = dir
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == STATE_DIR))
    {
        mark(state)?;
    }
    Ok(())
}

/// Before something makes `dir` (such as `.wfc/runs`): when `dir` is inside a `.wfc`
/// folder, makes that folder (not `dir` itself) and gives it its `.gitignore` and
/// `CACHEDIR.TAG`. Nothing happens for a `dir` outside any `.wfc` folder.
pub fn prepare(dir: &Path) -> io::Result<()> {
    let Some(state) = dir
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == STATE_DIR))
    else {
        return Ok(());
    };
    std::fs::create_dir_all(state).map_err(|e| with_path(state, e))?;
    mark(state)
}

/// Gives a `.wfc` folder its `.gitignore` and `CACHEDIR.TAG`, when they are missing.
pub fn mark(state: &Path) -> io::Result<()> {
    write_new(&state.join(".gitignore"), GITIGNORE.as_bytes())?;
    write_new(&state.join("CACHEDIR.TAG"), CACHEDIR_TAG.as_bytes())
}

/// Writes `path` unless something is there already (written whole or not at all).
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(with_path(path, e)),
    }
    let dir = parent(path);
    let write = || -> io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        match tmp.persist_noclobber(path) {
            // Made meanwhile by another wfc: as good.
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            other => other.map(drop).map_err(|e| e.error),
        }
    };
    write().map_err(|e| with_path(path, e))
}

/// The error, saying which file it was about.
fn with_path(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("{}: {}", path.display(), crate::input::io_message(&error)),
    )
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
}

/// Writes a file atomically: a temporary file in its folder (made as by
/// [`create_dir`]), renamed over it once complete. On any failure, a full disk
/// included, the old file (if any) is left as it was and no partial file remains.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent(path);
    create_dir(dir)?;
    let write = || -> io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        // Through the `File` itself: the system's error, without the temporary
        // file's name, which means nothing to the user (and the file is gone).
        tmp.as_file_mut().write_all(bytes)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(without_temporary_name)
}

/// tempfile names its temporary file in the errors it makes (creating it): keep
/// the system's message only.
fn without_temporary_name(error: io::Error) -> io::Error {
    let text = error.to_string();
    match text.find(" at path ") {
        Some(at) if error.raw_os_error().is_none() => {
            io::Error::new(error.kind(), text[..at].to_string())
        }
        _ => error,
    }
}

/// The project a check of `paths` belongs to, whose `.wfc/` keeps the check cache:
/// from the first path (a folder, or the folder of a file) upward, the nearest
/// folder that holds a `.wfc` folder or a `.git`; when there is none, the current
/// folder if the path is inside it, else the path's own folder. So the cache is the
/// same whichever folder of a repository the command runs from.
#[must_use]
pub fn project_root(paths: &[PathBuf]) -> PathBuf {
    let first = paths
        .first()
        .map_or_else(|| PathBuf::from("."), Clone::clone);
    let Ok(real) = std::fs::canonicalize(&first) else {
        return PathBuf::from(".");
    };
    let base = if real.is_dir() {
        real
    } else {
        real.parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
    };
    let cwd = std::env::current_dir().and_then(std::fs::canonicalize).ok();
    let shown = |dir: &Path| -> PathBuf {
        match cwd.as_deref().and_then(|c| dir.strip_prefix(c).ok()) {
            Some(rest) if rest.as_os_str().is_empty() => PathBuf::from("."),
            Some(rest) => rest.to_path_buf(),
            None => dir.to_path_buf(),
        }
    };
    if let Some(root) = base
        .ancestors()
        .find(|dir| dir.join(STATE_DIR).is_dir() || dir.join(".git").exists())
    {
        return shown(root);
    }
    match &cwd {
        Some(cwd) if base.starts_with(cwd) => PathBuf::from("."),
        _ => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_folder_is_marked_once() {
        let dir = tempfile::tempdir().unwrap();
        let plans = dir.path().join("p/.wfc/plans");
        create_dir(&plans).unwrap();
        let state = dir.path().join("p/.wfc");
        assert_eq!(
            std::fs::read_to_string(state.join(".gitignore")).unwrap(),
            GITIGNORE
        );
        assert!(
            std::fs::read_to_string(state.join("CACHEDIR.TAG"))
                .unwrap()
                .starts_with("Signature: 8a477f597d28d172789f06886806bc55")
        );
        // A user's own .gitignore is left alone.
        std::fs::write(state.join(".gitignore"), "mine\n").unwrap();
        create_dir(&state.join("cache")).unwrap();
        assert_eq!(
            std::fs::read_to_string(state.join(".gitignore")).unwrap(),
            "mine\n"
        );
        // Other folders get nothing.
        create_dir(&dir.path().join("out/plans")).unwrap();
        assert!(!dir.path().join("out/.gitignore").exists());
        assert!(!dir.path().join("out/plans/.gitignore").exists());
    }

    #[test]
    fn atomic_writes_replace_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".wfc/cache/x.bin");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x.bin")]);
        assert!(dir.path().join(".wfc/CACHEDIR.TAG").exists());
    }
}
