//! The compile API: how another program (the runtime) uses the compiler. It finds
//! or compiles the plan of a workflow to run, and answers the few questions about
//! a workspace the runtime asks (where Python task modules live, "did you mean").
//! Nothing else of the compiler is meant for use outside it; what both sides share
//! (the plan, expressions, the built-in filters, bounds) is `wfc_plan`'s.

use std::path::{Path, PathBuf};

use crate::check::{self, Checked};
use crate::compile;
use crate::diagnostic::{Code, Diagnostic};
use crate::render;
use crate::source::{SourceFile, Sources};
use crate::span::FileId;
use crate::syntax::discover;
use crate::syntax::yaml;
use wfc_plan::{self as plan, Plan};

/// What `--version`, `completions` and `man` print: the same for `wfc` and `wfr`.
pub use crate::cli::dist;
pub use crate::diagnostic::suggestion;
pub use crate::registry::{call_roots, filter_modules};
pub use crate::syntax::yaml::{Node as YamlNode, NodeKind as YamlKind};

/// Why no plan can be run: the message, and the findings that explain it as
/// `wfc check` prints them (human format), when there are some.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NotRunnable {
    pub message: String,
    pub findings: Option<Vec<u8>>,
}

impl NotRunnable {
    fn new(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            findings: None,
        }
    }
}

/// How findings are shown.
#[derive(Clone, Copy, Debug)]
pub struct Show {
    pub color: bool,
}

/// Finds the plan to run for `target` (compiling what is not up to date into
/// `plans`), and the folder of the plans it may trigger.
///
/// A target ending in `.wfp` is a plan file and one ending in `.yml` / `.yaml` a
/// workflow file (it must be a readable regular file); anything else is a workflow
/// name. When a template uses a filter the compiler does not know,
/// `python_filters` is asked for the filters registered in Python, and the
/// workspace is compiled again with them (its error is the message of the
/// [`NotRunnable`]).
pub fn locate(
    target: &str,
    plans: &Path,
    show: Show,
    python_filters: impl FnOnce() -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>>,
) -> Result<(Plan, PathBuf), NotRunnable> {
    let target_path = Path::new(target);
    if target_path.extension().is_some_and(|e| e == "wfp") {
        let (_, plan) = plan::read(target_path).map_err(NotRunnable::new)?;
        let dir = target_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        return Ok((plan, dir));
    }
    let is_file = target_path
        .extension()
        .is_some_and(|e| e == "yml" || e == "yaml");
    if is_file {
        // A folder, FIFO, socket or device named `*.yml`, a dangling link, a file
        // that cannot be read: said as such (not "no workflow is named").
        wfc_plan::input::read(target_path, wfc_plan::input::MAX_WORKFLOW_FILE)
            .map_err(|e| NotRunnable::new(format!("{}: {e}", target_path.display())))?;
    }
    let mut paths = discover::default_paths();
    if is_file && !paths.iter().any(|p| target_path.starts_with(p)) {
        // A file outside the workflow folder comes with the workflows beside it
        // (which it may trigger) rather than with everything under `.`.
        let folder = target_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if paths == [PathBuf::from(".")] {
            paths.clear();
        }
        paths.push(folder.to_path_buf());
    }
    // The check cache beside the plans (`.wfc/cache`): unchanged files are not parsed again.
    let cache = plans.parent().map(|dir| dir.join("cache/check.bin"));
    let compile = |options: &check::Options| {
        compile::compile_paths(&paths, plans, options, cache.as_deref()).map_err(NotRunnable::new)
    };
    let mut compiled = compile(&check::Options::default())?;
    // Filters unknown to the compiler may be registered in Python (`@custom_filter`):
    // look them up (this starts the interpreter, so only when needed) and compile again.
    if compiled
        .checked
        .diagnostics
        .iter()
        .any(|d| d.code == Code::UnknownFilter)
    {
        let extra_filters = python_filters().map_err(NotRunnable::new)?;
        if !extra_filters.is_empty() {
            compiled = compile(&check::Options { extra_filters })?;
        }
    }
    // A plan that could not be written (a full disk, a read-only folder) is said as
    // such: the run would otherwise find no plan, or an old one.
    if let Some((path, error)) = compiled.write_errors.first() {
        for (path, error) in &compiled.write_errors[1..] {
            wfc_plan::errln!("wfr: error: cannot write plan {}: {error}", path.display());
        }
        return Err(NotRunnable::new(format!(
            "cannot write plan {}: {error}",
            path.display()
        )));
    }
    let checked = &compiled.checked;
    let refused = |findings: &[Diagnostic], message: String| NotRunnable {
        message,
        findings: Some(rendered(&checked.sources, findings, show)),
    };
    let name = if is_file {
        let display = target_path.strip_prefix(".").unwrap_or(target_path);
        let files: Vec<FileId> = checked
            .sources
            .iter()
            .filter(|(_, f)| f.path == display || f.path == target_path)
            .map(|(id, _)| id)
            .collect();
        let names: Vec<&str> = files
            .iter()
            .flat_map(|id| checked.workflows[id.0 as usize].iter())
            .map(|w| w.name.value.as_str())
            .collect();
        match names.as_slice() {
            [one] => (*one).to_string(),
            [] => {
                let findings: Vec<_> = checked
                    .diagnostics
                    .iter()
                    .filter(|d| files.contains(&d.span.file))
                    .cloned()
                    .collect();
                if findings.iter().any(Diagnostic::is_error) {
                    return Err(refused(
                        &findings,
                        format!(
                            "{} has errors; fix them, then run it again",
                            target_path.display()
                        ),
                    ));
                }
                return Err(NotRunnable::new(format!(
                    "{} holds no workflow (no top-level entry has `type: Workflow`)",
                    target_path.display()
                )));
            }
            many => {
                return Err(NotRunnable::new(format!(
                    "{} holds several workflows ({}); run one by name",
                    target_path.display(),
                    many.join(", ")
                )));
            }
        }
    } else {
        target.to_string()
    };
    if compiled.failed.contains(&name) {
        let errors: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        return Err(refused(
            &errors,
            format!("workflow `{name}` has errors; fix them, then run it again"),
        ));
    }
    let path = plans.join(plan::file_name(&name));
    let known = checked
        .workflows
        .iter()
        .flatten()
        .any(|w| w.name.value == name);
    if !known || !path.exists() {
        let names = checked
            .workflows
            .iter()
            .flatten()
            .map(|w| w.name.value.as_str());
        let hint = suggestion(&name, names)
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        // Files that did not load may hold it: show why they did not.
        let unloaded = unloaded_findings(checked);
        if unloaded.is_empty() {
            return Err(NotRunnable::new(format!(
                "no workflow is named `{name}`{hint}"
            )));
        }
        return Err(refused(
            &unloaded,
            format!(
                "no workflow is named `{name}`{hint}; files with the errors above may define it"
            ),
        ));
    }
    let (_, plan) = plan::read(&path).map_err(NotRunnable::new)?;
    Ok((plan, plans.to_path_buf()))
}

/// A workspace compiled for a scheduler: the plans of its workflows that compiled,
/// the workflows with errors (which got no plan), and the files it read.
#[derive(Debug)]
pub struct Workspace {
    pub plans: Vec<Plan>,
    /// Workflows with errors, by name (`wfc check` says why).
    pub failed: Vec<String>,
}

/// The workflow files under `paths` (None: as [`compile_workspace`]), as the
/// check finds them (hidden entries and links as `wfc check` treats them); none
/// when a path is missing. What a scheduler watches for changes.
#[must_use]
pub fn workflow_files(paths: Option<&Path>) -> Vec<PathBuf> {
    let paths = paths.map_or_else(discover::default_paths, |p| vec![p.to_path_buf()]);
    discover::discover(&paths).map_or_else(|_| Vec::new(), |found| found.files)
}

/// Compiles every workflow under `paths` (None: `$WORKFLOW_CORE_CONF_PATH`,
/// `./conf` or `.`, as `wfc check`) into `plans`, through the plan cache, and
/// reads back the plans of those that compiled.
pub fn compile_workspace(paths: Option<&Path>, plans: &Path) -> Result<Workspace, NotRunnable> {
    let paths = paths.map_or_else(discover::default_paths, |p| vec![p.to_path_buf()]);
    let cache = plans.parent().map(|dir| dir.join("cache/check.bin"));
    let compiled =
        compile::compile_paths(&paths, plans, &check::Options::default(), cache.as_deref())
            .map_err(NotRunnable::new)?;
    if let Some((path, error)) = compiled.write_errors.first() {
        return Err(NotRunnable::new(format!(
            "cannot write plan {}: {error}",
            path.display()
        )));
    }
    let mut read = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for summary in compiled.checked.workflows.iter().flatten() {
        let name = summary.name.value.as_str();
        if compiled.failed.iter().any(|f| f == name) || !seen.insert(name) {
            continue;
        }
        let (_, plan) = plan::read(&plans.join(plan::file_name(name))).map_err(NotRunnable::new)?;
        read.push(plan);
    }
    Ok(Workspace {
        plans: read,
        failed: compiled.failed,
    })
}

/// The findings of files with errors outside every workflow they define (a file
/// that is not YAML, not UTF-8, too large...): such a file may hold workflows
/// nobody can see.
fn unloaded_findings(checked: &Checked) -> Vec<Diagnostic> {
    let broken: Vec<FileId> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .filter(|d| {
            !checked.workflows[d.span.file.0 as usize]
                .iter()
                .any(|w| d.span.start >= w.span.start && d.span.start <= w.span.end)
        })
        .map(|d| d.span.file)
        .collect();
    checked
        .diagnostics
        .iter()
        .filter(|d| broken.contains(&d.span.file))
        .cloned()
        .collect()
}

/// Findings as `wfc check` prints them.
fn rendered(sources: &Sources, findings: &[Diagnostic], show: Show) -> Vec<u8> {
    let mut out = Vec::new();
    let color = if show.color {
        render::Color::Always
    } else {
        render::Color::Never
    };
    let options = render::Options {
        color,
        ..render::Options::default()
    };
    let _ = render::write(&mut out, render::Format::Human, sources, findings, &options);
    out
}

/// The folders Python task modules are imported from: the workflow folders and,
/// when given, the folder of the workflow's own file (see `registry::places`).
#[must_use]
pub fn python_places(source: Option<&Path>) -> Vec<String> {
    let mut folders = discover::default_paths();
    folders.extend(
        source
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf),
    );
    crate::registry::places(&folders)
}

/// A YAML document (not a workflow) that does not parse: what is wrong, and on
/// which line.
#[derive(Debug, thiserror::Error)]
#[error("{message} (line {line})")]
pub struct YamlError {
    pub message: String,
    pub line: usize,
}

/// Parses a YAML document that is not a workflow (a params file).
pub fn parse_yaml(name: &str, text: &str) -> Result<YamlNode, YamlError> {
    let file = SourceFile::new(name.into(), text.to_string());
    yaml::parse(FileId(0), &file).map_err(|d| YamlError {
        line: file.line_col(d.span.start).0,
        message: d.message,
    })
}
