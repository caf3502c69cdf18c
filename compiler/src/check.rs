//! Semantic checks over the loaded model: names, the job graph, triggers between
//! workflows, references in templates and conditions, matrices, and warnings.
//!
//! Checks that look at one workflow run in parallel; the ones that relate
//! workflows to each other run once over the whole project.

mod cache;
mod cycles;
mod docker;
mod lint;
mod matrix;
mod names;
mod needs;
mod refs;

pub mod summary;
mod triggers;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::project::{self, Project};
use crate::source::{SourceFile, Sources, map_content_range};
use crate::span::Span;
use crate::syntax::discover::DiscoverError;
use crate::syntax::expr::ast::TextRange;
use crate::syntax::model::{Cond, FileModel, Text};
use summary::WorkflowSummary;

/// What the checks need to know beyond the files.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Filters registered in Python (`@custom_filter`) that templates may use.
    pub extra_filters: Vec<String>,
}

/// The findings of one file on its own, and what the cross-file checks need of it.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FileReport {
    pub diagnostics: Vec<Diagnostic>,
    pub workflows: Vec<WorkflowSummary>,
    /// Its `# wfc: ignore[…]` comments.
    pub suppressions: Vec<crate::suppress::Suppression>,
}

/// Checks one file's workflows (everything that does not need other files).
#[must_use]
pub fn check_file(source: &SourceFile, model: &FileModel, options: &Options) -> FileReport {
    crate::diagnostic::reset_suggestion_budget();
    let mut diagnostics = Vec::new();
    for workflow in &model.workflows {
        names::stage_ids(workflow, &mut diagnostics);
        needs::check(workflow, &mut diagnostics);
        matrix::check(workflow, &mut diagnostics);
        refs::check(source, workflow, options, &mut diagnostics);
        lint::check(source, workflow, &mut diagnostics);
        docker::check(workflow, &mut diagnostics);
    }
    FileReport {
        diagnostics,
        workflows: model.workflows.iter().map(WorkflowSummary::of).collect(),
        suppressions: Vec::new(),
    }
}

/// The checks that relate workflows of different files: names and triggers.
#[must_use]
pub fn check_across(workflows: &[&WorkflowSummary]) -> Vec<Diagnostic> {
    crate::diagnostic::reset_suggestion_budget();
    let mut out = Vec::new();
    names::duplicate_workflows(workflows, &mut out);
    triggers::check(workflows, &mut out);
    out
}

/// Runs every check on a loaded project; returns the findings (unsorted).
#[must_use]
pub fn run(project: &Project, options: &Options) -> Vec<Diagnostic> {
    let reports: Vec<FileReport> = project
        .files
        .par_iter()
        .map(|model| check_file(project.sources.get(model.file), model, options))
        .collect();
    let summaries: Vec<&WorkflowSummary> = reports.iter().flat_map(|r| &r.workflows).collect();
    let mut out = check_across(&summaries);
    out.extend(reports.iter().flat_map(|r| r.diagnostics.iter().cloned()));
    out
}

/// The result of checking paths.
#[derive(Debug)]
pub struct Checked {
    pub sources: Sources,
    /// Sorted, as renderers print them.
    pub diagnostics: Vec<Diagnostic>,
    /// Per file (indexed by file id): its workflows, as the cross-file checks saw them.
    pub workflows: Vec<Vec<WorkflowSummary>>,
    /// Per file: its model, when asked for and the file was parsed in this run.
    pub models: Vec<Option<FileModel>>,
    /// Per file: its suppression comments.
    pub suppressions: Vec<Vec<crate::suppress::Suppression>>,
    /// Files whose findings came from the cache.
    pub cache_hits: usize,
    /// Per file: a hash of its content (and of the compiler build and the options),
    /// the check cache's key.
    pub content_hashes: Vec<[u8; 16]>,
}

/// One file on its way through `check_paths`.
struct FileResult {
    source: SourceFile,
    key: cache::CacheKey,
    report: FileReport,
    from_cache: bool,
    explicit: bool,
    /// The model, when the file was parsed in this run and the caller wants it.
    model: Option<FileModel>,
}

/// Loads and checks every file under `paths`. With a cache file, a file whose
/// content (and compiler build and options) is unchanged is not parsed again.
pub fn check_paths(
    paths: &[PathBuf],
    options: &Options,
    cache_file: Option<&Path>,
) -> Result<Checked, DiscoverError> {
    check_paths_keeping(paths, options, cache_file, false)
}

/// [`check_paths`], keeping the models of the files it parsed (in `Checked::models`)
/// for a caller that lowers them next.
pub fn check_paths_keeping(
    paths: &[PathBuf],
    options: &Options,
    cache_file: Option<&Path>,
    keep_models: bool,
) -> Result<Checked, DiscoverError> {
    check_paths_with(paths, options, cache_file, keep_models, None)
}

/// Text that stands for a file (`wfc check -` reads it from stdin): it replaces
/// the file at `path` among those loaded, or joins them.
#[derive(Clone, Debug)]
pub struct Overlay {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// [`check_paths_keeping`], with `overlay` in place of the file it names.
pub fn check_paths_with(
    paths: &[PathBuf],
    options: &Options,
    cache_file: Option<&Path>,
    keep_models: bool,
    overlay: Option<&Overlay>,
) -> Result<Checked, DiscoverError> {
    let mut raw = project::read_files(paths)?;
    if let Some(overlay) = overlay {
        // The file it stands for, as loaded: by its path, or by where it leads.
        let real = std::fs::canonicalize(&overlay.path).ok();
        raw.retain(|r| {
            r.path != overlay.path
                && real
                    .as_ref()
                    .is_none_or(|real| std::fs::canonicalize(&r.path).ok().as_ref() != Some(real))
        });
        let mut file = project::RawFile::from_bytes(overlay.path.clone(), overlay.bytes.clone());
        file.explicit = true;
        raw.push(file);
        raw.sort_by(|a, b| a.path.cmp(&b.path));
    }
    let salt = cache_salt(options);
    let cached = cache_file.map(cache::Cache::read).unwrap_or_default();
    let results: Vec<FileResult> = raw
        .into_par_iter()
        .enumerate()
        .map(|(index, raw)| {
            let file = project::file_id(index);
            let key = cache::key(&salt, raw.text.as_bytes(), raw.problem.as_ref());
            let source = SourceFile::new(raw.path, raw.text);
            let (report, from_cache, model) = if let Some(mut report) = cached.get(&key).cloned() {
                report.diagnostics.iter_mut().for_each(|d| d.set_file(file));
                report.workflows.iter_mut().for_each(|w| w.set_file(file));
                report
                    .suppressions
                    .iter_mut()
                    .for_each(|s| s.set_file(file));
                (report, true, None)
            } else {
                let (model, mut diagnostics, suppressions) =
                    project::load_file_with_suppressions(file, &source, raw.problem.as_ref());
                let mut report = check_file(&source, &model, options);
                diagnostics.append(&mut report.diagnostics);
                crate::diagnostic::drop_broken_fixes(&source.text, &mut diagnostics);
                report.diagnostics = diagnostics;
                report.suppressions = suppressions;
                (report, false, keep_models.then_some(model))
            };
            FileResult {
                source,
                key,
                report,
                from_cache,
                explicit: raw.explicit,
                model,
            }
        })
        .collect();
    let cache_hits = results.iter().filter(|r| r.from_cache).count();
    if let Some(path) = cache_file {
        let stale = cached.len() != cache_hits || cache_hits != results.len();
        if stale {
            let entries = results.iter().map(|r| (r.key, &r.report));
            if let Err(error) = cache::Cache::write(path, entries) {
                crate::errln!(
                    "wfc: warning: cannot write the check cache {}: {error} (the findings are not affected)",
                    path.display()
                );
            }
        }
    }
    let summaries: Vec<&WorkflowSummary> =
        results.iter().flat_map(|r| &r.report.workflows).collect();
    let mut diagnostics = Diagnostics::default();
    diagnostics.extend(check_across(&summaries));
    let mut sources = Sources::default();
    let mut workflows = Vec::with_capacity(results.len());
    let mut models = Vec::with_capacity(results.len());
    let mut content_hashes = Vec::with_capacity(results.len());
    let mut suppressions = Vec::with_capacity(results.len());
    for result in results {
        if result.explicit
            && result.report.workflows.is_empty()
            && result.report.diagnostics.is_empty()
        {
            diagnostics.push(no_workflow(&result.source, project::file_id(sources.len())));
        }
        diagnostics.extend(result.report.diagnostics);
        workflows.push(result.report.workflows);
        suppressions.push(result.report.suppressions);
        models.push(result.model);
        content_hashes.push(result.key);
        sources.add(result.source);
    }
    Ok(Checked {
        sources,
        diagnostics: diagnostics.into_sorted(),
        workflows,
        models,
        suppressions,
        cache_hits,
        content_hashes,
    })
}

/// A file named on the command line that holds no workflow.
fn no_workflow(source: &SourceFile, file: crate::span::FileId) -> Diagnostic {
    let first_line = source.line_range(0).end;
    Diagnostic::new(
        crate::diagnostic::Code::NotAWorkflow,
        Span::new(file, 0, first_line),
        "this file holds no workflow: no top-level entry has `type: Workflow`",
    )
    .label("checked as a workflow file")
    .help("give the workflow `type: Workflow`, or do not pass this file to `wfc check`")
}

/// What, besides a file's content, decides its findings.
fn cache_salt(options: &Options) -> Vec<u8> {
    let mut filters = options.extra_filters.clone();
    filters.sort();
    let mut hasher = Sha256::new();
    hasher.update(crate::BUILD_ID.as_bytes());
    for f in filters {
        hasher.update(f.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().to_vec()
}

/// The file span of a range inside a template.
pub(crate) fn text_span(source: &SourceFile, text: &Text, range: TextRange) -> Span {
    map_content_range(&source.text, text.span, &text.raw, range.range())
}

/// The file span of a range inside a condition.
pub(crate) fn cond_span(source: &SourceFile, cond: &Cond, range: TextRange) -> Span {
    map_content_range(&source.text, cond.span, &cond.raw, range.range())
}
