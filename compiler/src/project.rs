//! A set of loaded files and their workflows: what `wfc check` and `wfc compile` work on.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::diagnostic::{Code, Diagnostic};
use crate::input::{self, ReadError};
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
    /// Per file: its `# wfc: ignore[…]` comments (see [`crate::suppress::apply`]).
    pub suppressions: Vec<Vec<crate::suppress::Suppression>>,
}

/// A file's text as read from disk.
#[derive(Debug)]
pub struct RawFile {
    /// The path as shown to users.
    pub path: PathBuf,
    pub text: String,
    /// Why the file cannot be loaded as it is, if it cannot.
    pub problem: Option<FileProblem>,
    /// Named on the command line (rather than found in a folder).
    pub explicit: bool,
}

/// Why a file's workflows cannot be loaded, found before parsing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FileProblem {
    /// The bytes are not UTF-8 text: `text` holds them with U+FFFD for what is not,
    /// `at` is where the first replacement character is, `mark` whether a byte-order
    /// mark of another encoding starts the file.
    Encoding { at: usize, what: String, mark: bool },
    /// Found in a folder but not read (WF005): a FIFO, a dangling link...
    Skipped(String),
    /// Larger than [`input::MAX_WORKFLOW_FILE`] (WF006).
    TooLarge(String),
}

impl RawFile {
    #[must_use]
    pub fn new(path: PathBuf, text: String) -> Self {
        Self {
            path,
            text,
            problem: None,
            explicit: false,
        }
    }

    /// A file from its bytes, as [`read_files`] makes it from the disk.
    #[must_use]
    pub fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> Self {
        let (text, problem) = decode(bytes);
        Self {
            path,
            text,
            problem,
            explicit: false,
        }
    }

    fn skipped(path: PathBuf, problem: FileProblem, explicit: bool) -> Self {
        Self {
            path,
            text: String::new(),
            problem: Some(problem),
            explicit,
        }
    }
}

/// A file's bytes as text. Text that is not UTF-8 is kept (invalid bytes become
/// U+FFFD, so that every place in it can be shown) with what is wrong with it.
#[must_use]
pub fn decode(bytes: Vec<u8>) -> (String, Option<FileProblem>) {
    // Byte-order marks of the encodings YAML allows besides UTF-8 (longest first).
    const MARKS: [(&[u8], &str); 4] = [
        (&[0xFF, 0xFE, 0, 0], "UTF-32 (little-endian)"),
        (&[0, 0, 0xFE, 0xFF], "UTF-32 (big-endian)"),
        (&[0xFF, 0xFE], "UTF-16 (little-endian)"),
        (&[0xFE, 0xFF], "UTF-16 (big-endian)"),
    ];
    let marked = MARKS
        .iter()
        .find(|(mark, _)| bytes.starts_with(mark))
        .map(|(_, name)| format!("the file is {name} text, not UTF-8"));
    match String::from_utf8(bytes) {
        Ok(text) => {
            let problem = marked.map(|what| FileProblem::Encoding {
                at: 0,
                what,
                mark: true,
            });
            (text, problem)
        }
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let problem = match marked {
                Some(what) => FileProblem::Encoding {
                    at: 0,
                    what,
                    mark: true,
                },
                None => FileProblem::Encoding {
                    at,
                    what: format!(
                        "the file is not valid UTF-8 (byte 0x{:02X} at offset {at})",
                        e.as_bytes()[at]
                    ),
                    mark: false,
                },
            };
            (
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
                Some(problem),
            )
        }
    }
}

/// Reads every workflow file under `paths`, in parallel, in a stable order. An
/// entry of a folder that cannot be read becomes a file with a problem (a warning);
/// a path named on the command line that cannot be read is an error.
pub fn read_files(paths: &[PathBuf]) -> Result<Vec<RawFile>, DiscoverError> {
    let found = discover::discover(paths)?;
    let mut files: Vec<RawFile> = found
        .files
        .into_par_iter()
        .map(|path| {
            let explicit = paths.contains(&path);
            // `discover` saw a regular file there (or a link to one).
            match input::read_regular(&path, input::MAX_WORKFLOW_FILE) {
                Ok(bytes) => {
                    let mut raw = RawFile::from_bytes(display_path(&path), bytes);
                    raw.explicit = explicit;
                    Ok(raw)
                }
                Err(error @ ReadError::TooLarge { .. }) => Ok(RawFile::skipped(
                    display_path(&path),
                    FileProblem::TooLarge(error.to_string()),
                    explicit,
                )),
                Err(error) if explicit => Err(DiscoverError {
                    path,
                    message: error.to_string(),
                }),
                Err(error) => Ok(RawFile::skipped(
                    display_path(&path),
                    FileProblem::Skipped(error.to_string()),
                    false,
                )),
            }
        })
        .collect::<Result<_, _>>()?;
    files.extend(
        found
            .skipped
            .into_iter()
            .map(|s| RawFile::skipped(display_path(&s.path), FileProblem::Skipped(s.why), false)),
    );
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Parses and reads one file into its model, with what was found on the way.
#[must_use]
pub fn load_file(
    file: FileId,
    source: &SourceFile,
    problem: Option<&FileProblem>,
) -> (FileModel, Vec<Diagnostic>) {
    let empty = FileModel {
        file,
        workflows: Vec::new(),
    };
    if let Some(problem) = problem {
        return (empty, vec![problem_diagnostic(file, source, problem)]);
    }
    match yaml::parse(file, source) {
        Ok(root) => build::build_file(file, source, &root),
        Err(diagnostic) => (empty, vec![*diagnostic]),
    }
}

/// [`load_file`], with the file's suppression comments (and the findings about
/// those that cannot be read among the diagnostics).
#[must_use]
pub fn load_file_with_suppressions(
    file: FileId,
    source: &SourceFile,
    problem: Option<&FileProblem>,
) -> (
    FileModel,
    Vec<Diagnostic>,
    Vec<crate::suppress::Suppression>,
) {
    if problem.is_some() {
        let (model, diagnostics) = load_file(file, source, problem);
        return (model, diagnostics, Vec::new());
    }
    match yaml::parse(file, source) {
        Ok(root) => {
            let (model, mut diagnostics) = build::build_file(file, source, &root);
            let (suppressions, problems) = crate::suppress::scan(file, source, Some(&root));
            diagnostics.extend(problems);
            (model, diagnostics, suppressions)
        }
        Err(diagnostic) => (
            FileModel {
                file,
                workflows: Vec::new(),
            },
            vec![*diagnostic],
            Vec::new(),
        ),
    }
}

/// The finding for a file that cannot be loaded as it is.
fn problem_diagnostic(file: FileId, source: &SourceFile, problem: &FileProblem) -> Diagnostic {
    match problem {
        FileProblem::Encoding { at, what, mark } => {
            let start = source.floor_boundary(*at);
            let end = source.text[start..]
                .chars()
                .next()
                .map_or(start, |c| start + c.len_utf8());
            Diagnostic::new(Code::YamlSyntax, Span::new(file, start, end), what.clone())
                .label(if *mark {
                    "byte-order mark"
                } else {
                    "not UTF-8"
                })
                .help("save the file as UTF-8")
        }
        FileProblem::Skipped(why) => Diagnostic::new(
            Code::UnreadableFile,
            Span::point(file, 0),
            format!("skipped: {why}"),
        )
        .help("remove or fix it, or skip it with a pattern in the folder's `.confignore`"),
        FileProblem::TooLarge(why) => Diagnostic::new(
            Code::FileTooLarge,
            Span::point(file, 0),
            format!("the file is not loaded: it is {why}"),
        )
        .help("split its workflows over several files"),
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

    /// Loads in-memory files given as bytes, as if read from disk.
    #[must_use]
    pub fn from_bytes(files: Vec<(PathBuf, Vec<u8>)>) -> Loaded {
        Self::from_raw(
            files
                .into_iter()
                .map(|(p, b)| RawFile::from_bytes(p, b))
                .collect(),
        )
    }

    fn from_raw(files: Vec<RawFile>) -> Loaded {
        type Built = (
            SourceFile,
            FileModel,
            Vec<Diagnostic>,
            Vec<crate::suppress::Suppression>,
        );
        let built: Vec<Built> = files
            .into_par_iter()
            .enumerate()
            .map(|(index, raw)| {
                let source = SourceFile::new(raw.path, raw.text);
                let (model, diagnostics, suppressions) =
                    load_file_with_suppressions(file_id(index), &source, raw.problem.as_ref());
                (source, model, diagnostics, suppressions)
            })
            .collect();
        let mut project = Project::default();
        let mut diagnostics = Vec::new();
        let mut suppressions = Vec::new();
        for (source, model, found, comments) in built {
            project.sources.add(source);
            project.files.push(model);
            diagnostics.extend(found);
            suppressions.push(comments);
        }
        Loaded {
            project,
            diagnostics,
            suppressions,
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
