//! Which files to load: every `*.yml` / `*.yaml` under the given paths, minus the
//! patterns of each root's `.confignore`.

use std::fmt;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

/// A path that cannot be read: a usage or I/O problem, not a finding.
#[derive(Debug)]
pub struct DiscoverError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for DiscoverError {}

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

/// Every workflow file under `paths`, sorted and without repeats. A file named
/// directly is taken whatever its extension.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut files = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|e| DiscoverError {
            path: root.clone(),
            message: io_message(&e),
        })?;
        if meta.is_file() {
            files.push(root.clone());
            continue;
        }
        let ignore = read_ignore(root)?;
        let walker = walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
        for entry in walker {
            let entry = entry.map_err(|e| DiscoverError {
                path: e.path().map_or_else(|| root.clone(), Path::to_path_buf),
                message: e.io_error().map_or_else(|| e.to_string(), io_message),
            })?;
            if !entry.file_type().is_file() || !is_yaml(entry.path()) {
                continue;
            }
            let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
            if ignore.as_ref().is_some_and(|set| set.is_match(relative)) {
                continue;
            }
            files.push(entry.into_path());
        }
    }
    files.sort();
    files.dedup();
    // The same file reached twice (`.` and `./conf/a.yml`) is loaded once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    Ok(files)
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with('.') && n != "." && n != "..")
}

fn io_message(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => error.to_string(),
    }
}

/// The root's `.confignore`, read as upstream does: a file is skipped when its path
/// (relative to the root) contains a match of any pattern, `*` crossing folders.
fn read_ignore(root: &Path) -> Result<Option<GlobSet>, DiscoverError> {
    let path = root.join(".confignore");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(DiscoverError {
                path,
                message: io_message(&e),
            });
        }
    };
    let mut builder = GlobSetBuilder::new();
    for line in text.lines() {
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
        std::fs::write(root.join(".confignore"), "ignore/*\n*_ignore\n# comment\n").unwrap();
        let found = discover(&[root.to_path_buf()]).unwrap();
        let names: Vec<_> = found
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
