//! A set of loaded files and their workflows: what `wfc check` and `wfc compile` work on.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{SourceFile, Sources};
use crate::span::{FileId, Span};
use crate::syntax::discover::{self, DiscoverError};
use crate::syntax::model::{FileModel, Workflow};
use crate::syntax::{build, yaml};

#[derive(Debug, Default)]
pub struct Project {
    pub sources: Sources,
    pub files: Vec<FileModel>,
}

/// A project and what loading it found.
#[derive(Debug)]
pub struct Loaded {
    pub project: Project,
    pub diagnostics: Vec<Diagnostic>,
}

/// A file's text as read from disk.
#[derive(Debug)]
pub struct RawFile {
    /// The path as shown to users.
    pub path: PathBuf,
    pub text: String,
    /// Where the first invalid UTF-8 byte was, if any (the text is then lossy).
    pub bad_utf8: Option<usize>,
    /// Named on the command line (rather than found in a folder).
    pub explicit: bool,
}

impl RawFile {
    #[must_use]
    pub fn new(path: PathBuf, text: String) -> Self {
        Self {
            path,
            text,
            bad_utf8: None,
            explicit: false,
        }
    }
}

/// Reads every workflow file under `paths`, in parallel, in a stable order.
pub fn read_files(paths: &[PathBuf]) -> Result<Vec<RawFile>, DiscoverError> {
    discover::discover(paths)?
        .into_par_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).map_err(|e| DiscoverError {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let (text, bad_utf8) = match String::from_utf8(bytes) {
                Ok(text) => (text, None),
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    (String::from_utf8_lossy(e.as_bytes()).into_owned(), Some(at))
                }
            };
            Ok(RawFile {
                explicit: paths.contains(&path),
                path: display_path(&path),
                text,
                bad_utf8,
            })
        })
        .collect()
}

/// Parses and reads one file into its model, with what was found on the way.
#[must_use]
pub fn load_file(
    file: FileId,
    source: &SourceFile,
    bad_utf8: Option<usize>,
) -> (FileModel, Vec<Diagnostic>) {
    let empty = FileModel {
        file,
        workflows: Vec::new(),
    };
    if let Some(at) = bad_utf8 {
        let diagnostic = Diagnostic::new(
            Code::YamlSyntax,
            Span::new(file, at, at + 1),
            "the file is not valid UTF-8",
        )
        .label("invalid byte")
        .help("save the file as UTF-8");
        return (empty, vec![diagnostic]);
    }
    match yaml::parse(file, source) {
        Ok(root) => build::build_file(file, source, &root),
        Err(diagnostic) => (empty, vec![*diagnostic]),
    }
}

/// The id of the `index`-th file.
#[must_use]
pub fn file_id(index: usize) -> FileId {
    FileId(u32::try_from(index).unwrap_or(u32::MAX))
}

impl Project {
    /// Loads every workflow file under `paths` (files are read and parsed in parallel).
    pub fn load(paths: &[PathBuf]) -> Result<Loaded, DiscoverError> {
        Ok(Self::from_raw(read_files(paths)?))
    }

    /// Loads in-memory files (tests, benchmarks).
    #[must_use]
    pub fn from_sources(files: Vec<(PathBuf, String)>) -> Loaded {
        Self::from_raw(files.into_iter().map(|(p, t)| RawFile::new(p, t)).collect())
    }

    fn from_raw(files: Vec<RawFile>) -> Loaded {
        let built: Vec<(SourceFile, FileModel, Vec<Diagnostic>)> = files
            .into_par_iter()
            .enumerate()
            .map(|(index, raw)| {
                let source = SourceFile::new(raw.path, raw.text);
                let (model, diagnostics) = load_file(file_id(index), &source, raw.bad_utf8);
                (source, model, diagnostics)
            })
            .collect();
        let mut project = Project::default();
        let mut diagnostics = Vec::new();
        for (source, model, found) in built {
            project.sources.add(source);
            project.files.push(model);
            diagnostics.extend(found);
        }
        Loaded {
            project,
            diagnostics,
        }
    }

    /// Every workflow with the file it is in.
    pub fn workflows(&self) -> impl Iterator<Item = (FileId, &Workflow)> {
        self.files
            .iter()
            .flat_map(|f| f.workflows.iter().map(move |w| (f.file, w)))
    }

    /// The workflow with this name (the first one, if the name is defined twice).
    #[must_use]
    pub fn workflow(&self, name: &str) -> Option<&Workflow> {
        self.workflows()
            .map(|(_, w)| w)
            .find(|w| w.name.value == name)
    }
}

/// `./conf/a.yml` is shown as `conf/a.yml`.
fn display_path(path: &Path) -> PathBuf {
    path.strip_prefix(".")
        .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}
