//! Which files to load: every `*.yml` / `*.yaml` under the given paths, minus the
//! patterns of each root's `.confignore`.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::input;

/// A path that cannot be read: a usage or I/O problem, not a finding.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct DiscoverError {
    pub path: PathBuf,
    pub message: String,
}

/// The paths used when none are given: `$WORKFLOW_CORE_CONF_PATH`, else `./conf` if it
/// exists, else the current directory.
#[must_use]
pub fn default_paths() -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os("WORKFLOW_CORE_CONF_PATH").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(path)];
    }
    let conf = PathBuf::from("conf");
    if conf.is_dir() {
        vec![conf]
    } else {
        vec![PathBuf::from(".")]
    }
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e == "yml" || e == "yaml")
}

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// The workflow files to read, sorted, each once.
    pub files: Vec<PathBuf>,
    /// Entries below a folder that were not read, with why: a `*.yml` / `*.yaml`
    /// that is not a regular file (a FIFO, a socket, a device, a dangling link), any
    /// other dangling link, a symbolic link to a folder outside the folder, a folder
    /// that cannot be listed. Each becomes a warning (WF005).
    pub skipped: Vec<Skipped>,
}

/// An entry [`discover`] did not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub why: String,
}

/// Every workflow file under `paths`, sorted and without repeats, and the entries
/// that were skipped. A file named directly is taken whatever its extension; a path
/// that is neither a file nor a folder (a FIFO, a socket, a device), a missing path
/// or a dangling link is an error.
///
/// Folders are walked without following symbolic links: a link to a file is read
/// (it is a workflow file like another), a link to a folder is not walked (when it
/// leads inside the folder its files are found where they are; when it leads
/// outside, it is reported), so a link never makes the walk leave the folder or go
/// round in a cycle. Hidden entries (`.name`, such as an editor's `.#flow.yml` lock)
/// are never looked at.
pub fn discover(paths: &[PathBuf]) -> Result<Discovered, DiscoverError> {
    let mut found = Discovered::default();
    for root in paths {
        let meta = input::metadata(root).map_err(|e| DiscoverError {
            path: root.clone(),
            message: e.to_string(),
        })?;
        if meta.is_file() {
            found.files.push(root.clone());
            continue;
        }
        if !meta.is_dir() {
            return Err(DiscoverError {
                path: root.clone(),
                message: format!(
                    "{}, not a workflow file or a folder of them",
                    input::kind(&meta)
                ),
            });
        }
        walk(root, &mut found)?;
    }
    found.files.sort();
    found.files.dedup();
    // The same file reached twice (`.` and `./conf/a.yml`, or through a link) is
    // loaded once.
    let mut seen = std::collections::HashSet::new();
    found
        .files
        .retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    found.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    found.skipped.dedup();
    Ok(found)
}

/// Walks one folder given on the command line.
fn walk(root: &Path, found: &mut Discovered) -> Result<(), DiscoverError> {
    let ignore = read_ignore(root)?;
    let real_root = std::fs::canonicalize(root).map_err(|e| DiscoverError {
        path: root.to_path_buf(),
        message: input::io_message(&e),
    })?;
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
    let mut skip = |path: &Path, why: String| {
        found.skipped.push(Skipped {
            path: path.to_path_buf(),
            why,
        });
    };
    let mut files = Vec::new();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let path = error
                    .path()
                    .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
                let message = error
                    .io_error()
                    .map_or_else(|| error.to_string(), input::io_message);
                if error.depth() == 0 {
                    return Err(DiscoverError { path, message });
                }
                skip(&path, format!("cannot be read: {message}"));
                continue;
            }
        };
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap_or(path);
        if ignore.as_ref().is_some_and(|set| set.is_match(relative)) {
            continue;
        }
        let kind = entry.file_type();
        if kind.is_dir() {
            continue;
        }
        if kind.is_file() {
            if is_yaml(path) {
                files.push(entry.into_path());
            }
            continue;
        }
        if !kind.is_symlink() {
            // A FIFO, a socket or a device.
            if is_yaml(path) {
                let why = std::fs::symlink_metadata(path)
                    .map_or("not a regular file", |m| input::kind(&m));
                skip(path, format!("{why}, not a regular file"));
            }
            continue;
        }
        match input::metadata(path) {
            Ok(target) if target.is_file() => {
                if is_yaml(path) {
                    files.push(entry.into_path());
                }
            }
            Ok(target) if target.is_dir() => {
                let inside = std::fs::canonicalize(path).is_ok_and(|t| t.starts_with(&real_root));
                if !inside {
                    let to = std::fs::read_link(path).unwrap_or_default();
                    skip(
                        path,
                        format!(
                            "a symbolic link to the folder `{}`, outside `{}`: not followed",
                            to.display(),
                            root.display()
                        ),
                    );
                }
            }
            Ok(target) => {
                if is_yaml(path) {
                    skip(
                        path,
                        format!(
                            "a symbolic link to {}, not to a regular file",
                            input::kind(&target)
                        ),
                    );
                }
            }
            Err(error) => skip(path, error.to_string()),
        }
    }
    found.files.append(&mut files);
    Ok(())
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with('.') && n != "." && n != "..")
}

/// The root's `.confignore`, read as upstream does: a file is skipped when its path
/// (relative to the root) contains a match of any pattern, `*` crossing folders.
fn read_ignore(root: &Path) -> Result<Option<GlobSet>, DiscoverError> {
    let path = root.join(".confignore");
    let text = match input::read_text(&path, input::MAX_CONFIGNORE) {
        Ok(text) => text,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => {
            return Err(DiscoverError {
                path,
                message: e.to_string(),
            });
        }
    };
    let mut builder = GlobSetBuilder::new();
    // Lines end at LF, CRLF or a lone CR.
    for line in text.split(['\n', '\r']) {
        let pattern = line.trim().trim_end_matches('/');
        if pattern.is_empty() || pattern.starts_with('#') {
            continue;
        }
        let glob = Glob::new(&format!("*{pattern}*")).map_err(|e| DiscoverError {
            path: path.clone(),
            message: format!("bad pattern `{pattern}`: {e}"),
        })?;
        builder.add(glob);
    }
    builder.build().map(Some).map_err(|e| DiscoverError {
        path,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_yaml_and_honours_confignore() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/ignore")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        for f in [
            "a/one.yml",
            "a/two.yaml",
            "a/ignore/x.yml",
            "a/three_ignore.yml",
            "a/no.txt",
            ".hidden/h.yml",
        ] {
            std::fs::write(root.join(f), "").unwrap();
        }
        // Line ends of every kind: LF, a lone CR, CRLF.
        std::fs::write(
            root.join(".confignore"),
            "ignore/*\r*_ignore\r\n# comment\n",
        )
        .unwrap();
        let found = discover(&[root.to_path_buf()]).unwrap();
        let names: Vec<_> = found
            .files
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a/one.yml", "a/two.yaml"]);
    }

    #[test]
    fn missing_path_is_an_error() {
        let err = discover(&[PathBuf::from("/no/such/place")]).unwrap_err();
        assert!(err.message.contains("no such file"));
    }
}
