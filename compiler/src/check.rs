//! Semantic checks over the loaded model: names, the job graph, triggers between
//! workflows, references in templates and conditions, matrices, and warnings.
//!
//! Checks that look at one workflow run in parallel; the ones that relate
//! workflows to each other run once over the whole project.

mod lint;
mod matrix;
mod names;
mod needs;
mod refs;
mod triggers;

use rayon::prelude::*;

use crate::diagnostic::Diagnostic;
use crate::project::Project;
use crate::source::{SourceFile, map_content_range};
use crate::span::Span;
use crate::syntax::expr::ast::TextRange;
use crate::syntax::model::{Cond, Stage, Text};

/// What the checks need to know beyond the files.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Filters registered in Python (`@custom_filter`) that templates may use.
    pub extra_filters: Vec<String>,
}

/// Runs every check; returns the findings (unsorted).
#[must_use]
pub fn run(project: &Project, options: &Options) -> Vec<Diagnostic> {
    let workflows: Vec<_> = project.workflows().collect();
    let mut out: Vec<Diagnostic> = workflows
        .par_iter()
        .flat_map_iter(|(file, workflow)| {
            let source = project.sources.get(*file);
            let mut found = Vec::new();
            names::stage_ids(workflow, &mut found);
            needs::check(workflow, &mut found);
            matrix::check(workflow, &mut found);
            refs::check(source, workflow, options, &mut found);
            lint::check(source, workflow, &mut found);
            found
        })
        .collect();
    names::duplicate_workflows(project, &mut out);
    triggers::check(project, &mut out);
    out
}

/// The file span of a range inside a template.
pub(crate) fn text_span(source: &SourceFile, text: &Text, range: TextRange) -> Span {
    map_content_range(&source.text, text.span, &text.raw, range.range())
}

/// The file span of a range inside a condition.
pub(crate) fn cond_span(source: &SourceFile, cond: &Cond, range: TextRange) -> Span {
    map_content_range(&source.text, cond.span, &cond.raw, range.range())
}

/// Calls `visit` on every stage, nested ones included, parents first.
pub(crate) fn walk_stages<'a>(stages: &'a [Stage], visit: &mut impl FnMut(&'a Stage)) {
    for stage in stages {
        visit(stage);
        for list in stage.children() {
            walk_stages(list, visit);
        }
    }
}
