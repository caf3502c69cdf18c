//! `wfc compile`: checked workflows to plan files, as a cache. A plan is rewritten
//! only when the compiler build, the workflow's file or the file of a workflow it
//! triggers changed; a workflow with errors gets no plan (and loses a stale one).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::check::summary::{Targets, WorkflowSummary};
use crate::check::{self, Checked};
use crate::diagnostic::{Diagnostic, Severity};
use crate::plan::{self, Header, Plan};
use crate::project;
use crate::source::SourceFile;
use crate::span::FileId;
use crate::syntax::discover::DiscoverError;

/// What `wfc compile` did.
#[derive(Debug)]
pub struct Compiled {
    pub checked: Checked,
    /// Plans written (workflow names).
    pub written: Vec<String>,
    pub up_to_date: usize,
    /// Workflows with errors, which got no plan.
    pub failed: Vec<String>,
    /// Plans that could not be written, with why.
    pub write_errors: Vec<(PathBuf, String)>,
    /// The findings to show: configured and suppressed (see [`crate::suppress`]).
    pub shown: Vec<Diagnostic>,
    /// Errors the configuration or a comment hides or makes warnings: they
    /// still keep their workflow from a plan.
    pub hidden_errors: Vec<Diagnostic>,
}

/// A file with plans to (re)write: the workflows and their source hashes, and the
/// model when the check parsed it already.
type StaleFile = (
    FileId,
    Vec<(String, String)>,
    Option<crate::syntax::model::FileModel>,
);

/// Compiles every workflow under `paths` into `out_dir`, rewriting the plans that
/// are not up to date.
pub fn compile_paths(
    paths: &[PathBuf],
    out_dir: &Path,
    options: &check::Options,
    cache_file: Option<&Path>,
) -> Result<Compiled, DiscoverError> {
    compile_paths_with(
        paths,
        out_dir,
        options,
        cache_file,
        false,
        crate::suppress::Policy::default(),
    )
}

/// [`compile_paths`]; with `rewrite_all`, every plan is rewritten, up to date or not
/// (`wfc compile --no-cache`).
pub fn compile_paths_with(
    paths: &[PathBuf],
    out_dir: &Path,
    options: &check::Options,
    cache_file: Option<&Path>,
    rewrite_all: bool,
    policy: crate::suppress::Policy<'_>,
) -> Result<Compiled, DiscoverError> {
    let mut checked = check::check_paths_keeping(paths, options, cache_file, true)?;
    let shown = crate::suppress::apply(
        policy,
        &checked.sources,
        &checked.suppressions,
        checked.diagnostics.clone(),
    );
    // What stops a plan: the errors shown, and the errors hidden or demoted
    // (a plan is never made of a workflow with an error).
    let visible: std::collections::HashSet<(crate::diagnostic::Code, crate::span::Span, &str)> =
        shown
            .iter()
            .filter(|d| d.is_error())
            .map(|d| (d.code, d.span, d.message.as_str()))
            .collect();
    let hidden_errors: Vec<Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && !visible.contains(&(d.code, d.span, d.message.as_str())))
        .cloned()
        .collect();
    let blocking: Vec<Diagnostic> = shown
        .iter()
        .filter(|d| d.is_error())
        .chain(&hidden_errors)
        .cloned()
        .collect();
    // What the check hashed already: the content of each file (with the build).
    let file_hashes = &checked.content_hashes;
    let mut by_name: HashMap<&str, (FileId, &WorkflowSummary)> = HashMap::new();
    for (index, list) in checked.workflows.iter().enumerate() {
        for summary in list {
            by_name
                .entry(summary.name.value.as_str())
                .or_insert((project::file_id(index), summary));
        }
    }

    let mut failed = Vec::new();
    let mut up_to_date = 0;
    // Stale workflows, grouped by file: (workflow name, source hash).
    let mut stale: HashMap<FileId, Vec<(String, String)>> = HashMap::new();
    let mut seen = BTreeSet::new();
    let mut candidates: Vec<(FileId, &WorkflowSummary, PathBuf)> = Vec::new();
    for (index, list) in checked.workflows.iter().enumerate() {
        let file = project::file_id(index);
        for summary in list {
            let name = summary.name.value.as_str();
            if !seen.insert(name) {
                continue;
            }
            let path = out_dir.join(plan::file_name(name));
            if has_errors(&blocking, file, summary, &checked.workflows[index]) {
                failed.push(name.to_string());
                // A plan from an earlier, correct version would now be a lie.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            candidates.push((file, summary, path));
        }
    }
    // Up to date: a plan that is whole (magic, format, lengths, checksum; a damaged
    // plan is stale whatever its header says) made by this build from these
    // sources. Plans are read and verified in parallel.
    let verdicts: Vec<(FileId, String, String, bool)> = candidates
        .into_par_iter()
        .map(|(file, summary, path)| {
            let hash = source_hash(summary, file, &by_name, file_hashes);
            let current = !rewrite_all
                && plan::verify(&path).ok().is_some_and(|h| {
                    h.format == plan::FORMAT_VERSION
                        && h.compiler == crate::BUILD_ID
                        && h.source_hash == hash
                });
            (file, summary.name.value.clone(), hash, current)
        })
        .collect();
    for (file, name, hash, current) in verdicts {
        if current {
            up_to_date += 1;
        } else {
            stale.entry(file).or_default().push((name, hash));
        }
    }

    let mut files: Vec<StaleFile> = stale
        .into_iter()
        .map(|(file, names)| {
            // Parsed by the check already, unless its findings came from the cache.
            let model = checked
                .models
                .get_mut(file.0 as usize)
                .and_then(Option::take);
            (file, names, model)
        })
        .collect();
    files.sort_by_key(|(file, _, _)| *file);
    // Lowering and encoding run in parallel; files are written one after another
    // (concurrent creates in one folder only contend for its lock).
    let encoded: Vec<(String, PathBuf, std::io::Result<Vec<u8>>)> = files
        .into_par_iter()
        .flat_map_iter(|(file, names, model)| {
            let source = checked.sources.get(file);
            let model = model.unwrap_or_else(|| project::load_file(file, source, None).0);
            names
                .into_iter()
                .filter_map(|(name, hash)| {
                    let workflow = model.workflows.iter().find(|w| w.name.value == name)?;
                    let plan = plan::lower(workflow, &source.path.to_string_lossy());
                    let path = out_dir.join(plan::file_name(&name));
                    let bytes = plan::encode(&header(&plan, hash), &plan);
                    Some((name, path, bytes))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut written = Vec::new();
    let mut write_errors = Vec::new();
    for (name, path, bytes) in encoded {
        match bytes.and_then(|b| plan::write_bytes(&path, &b)) {
            Ok(()) => written.push(name),
            Err(error) => write_errors.push((path, error.to_string())),
        }
    }
    Ok(Compiled {
        checked,
        written,
        up_to_date,
        failed,
        write_errors,
        shown,
        hidden_errors,
    })
}

/// The header of a freshly lowered plan.
#[must_use]
pub fn header(plan: &Plan, source_hash: String) -> Header {
    let params = postcard::to_stdvec(&plan.params).unwrap_or_default();
    Header {
        format: plan::FORMAT_VERSION,
        compiler: crate::BUILD_ID.to_string(),
        workflow: plan.name.clone(),
        source_hash,
        params_hash: hex(&Sha256::digest(&params)),
    }
}

/// Does the workflow have an error: in its own definition, or in its file outside
/// any workflow (a file that did not load)?
fn has_errors(
    diagnostics: &[Diagnostic],
    file: FileId,
    summary: &WorkflowSummary,
    in_file: &[WorkflowSummary],
) -> bool {
    diagnostics.iter().any(|d| {
        if d.severity != Severity::Error || d.span.file != file {
            return false;
        }
        let inside =
            |w: &WorkflowSummary| d.span.start >= w.span.start && d.span.start <= w.span.end;
        inside(summary) || !in_file.iter().any(inside)
    })
}

/// Hash of the compiler build, the workflow's file and the files of every workflow
/// it triggers, directly or not (names known before the run).
fn source_hash(
    summary: &WorkflowSummary,
    file: FileId,
    by_name: &HashMap<&str, (FileId, &WorkflowSummary)>,
    file_hashes: &[[u8; 16]],
) -> String {
    let mut reached: BTreeSet<&str> = BTreeSet::new();
    let mut queue: VecDeque<&WorkflowSummary> = VecDeque::from([summary]);
    while let Some(current) = queue.pop_front() {
        for trigger in &current.triggers {
            let Targets::Known(names) = &trigger.targets else {
                continue;
            };
            for (name, _) in names {
                if let Some((_, target)) = by_name.get(name.as_str())
                    && reached.insert(target.name.value.as_str())
                {
                    queue.push_back(target);
                }
            }
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(crate::BUILD_ID.as_bytes());
    hasher.update(summary.name.value.as_bytes());
    hasher.update(file_hashes[file.0 as usize]);
    for name in reached {
        if let Some((target_file, _)) = by_name.get(name) {
            hasher.update([0]);
            hasher.update(name.as_bytes());
            hasher.update(file_hashes[target_file.0 as usize]);
        }
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Lowers one workflow of a checked set (for `wfc graph`); `None` when it is not
/// there or has errors, with the errors that stop it.
#[must_use]
pub fn lower_one(checked: &Checked, name: &str) -> Option<Result<Plan, Vec<Diagnostic>>> {
    let (index, summary) = checked
        .workflows
        .iter()
        .enumerate()
        .find_map(|(i, list)| list.iter().find(|w| w.name.value == name).map(|w| (i, w)))?;
    let file = project::file_id(index);
    if has_errors(
        &checked.diagnostics,
        file,
        summary,
        &checked.workflows[index],
    ) {
        let errors = checked
            .diagnostics
            .iter()
            .filter(|d| d.span.file == file && d.severity == Severity::Error)
            .cloned()
            .collect();
        return Some(Err(errors));
    }
    let source: &SourceFile = checked.sources.get(file);
    let (model, _) = project::load_file(file, source, None);
    let workflow = model.workflows.iter().find(|w| w.name.value == name)?;
    Some(Ok(plan::lower(workflow, &source.path.to_string_lossy())))
}
