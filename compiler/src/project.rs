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

impl Project {
    /// Loads every workflow file under `paths` (files are read and parsed in parallel).
    pub fn load(paths: &[PathBuf]) -> Result<Loaded, DiscoverError> {
        let files = discover::discover(paths)?;
        let texts: Vec<(PathBuf, String, Option<usize>)> = files
            .into_par_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).map_err(|e| DiscoverError {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                let (text, bad_at) = match String::from_utf8(bytes) {
                    Ok(text) => (text, None),
                    Err(e) => {
                        let at = e.utf8_error().valid_up_to();
                        (String::from_utf8_lossy(e.as_bytes()).into_owned(), Some(at))
                    }
                };
                Ok((display_path(&path), text, bad_at))
            })
            .collect::<Result<_, DiscoverError>>()?;
        Ok(Self::from_texts(texts))
    }

    /// Loads in-memory files (tests, benchmarks, stdin).
    #[must_use]
    pub fn from_sources(files: Vec<(PathBuf, String)>) -> Loaded {
        Self::from_texts(files.into_iter().map(|(p, t)| (p, t, None)).collect())
    }

    fn from_texts(texts: Vec<(PathBuf, String, Option<usize>)>) -> Loaded {
        let built: Vec<(SourceFile, FileModel, Vec<Diagnostic>)> = texts
            .into_par_iter()
            .enumerate()
            .map(|(index, (path, text, bad_utf8))| {
                let file = FileId(u32::try_from(index).unwrap_or(u32::MAX));
                let source = SourceFile::new(path, text);
                if let Some(at) = bad_utf8 {
                    let diagnostic = Diagnostic::new(
                        Code::YamlSyntax,
                        Span::new(file, at, at + 1),
                        "the file is not valid UTF-8",
                    )
                    .label("invalid byte")
                    .help("save the file as UTF-8");
                    return (
                        source,
                        FileModel {
                            file,
                            workflows: Vec::new(),
                        },
                        vec![diagnostic],
                    );
                }
                match yaml::parse(file, &source) {
                    Ok(root) => {
                        let (model, diagnostics) = build::build_file(file, &source, &root);
                        (source, model, diagnostics)
                    }
                    Err(diagnostic) => (
                        source,
                        FileModel {
                            file,
                            workflows: Vec::new(),
                        },
                        vec![*diagnostic],
                    ),
                }
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
