//! The job graph: `needs` must name jobs, and must not loop.

use petgraph::graph::{DiGraph, NodeIndex};

use super::cycles;

use crate::diagnostic::{Applicability, Code, Diagnostic, Fix};
use crate::source::SourceFile;
use crate::span::Span;
use crate::syntax::build::edits::list_item_removal;
use crate::syntax::model::Workflow;

pub(super) fn check(workflow: &Workflow, out: &mut Vec<Diagnostic>) {
    let index = workflow.job_index();
    let mut graph: DiGraph<usize, Span> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..workflow.jobs.len())
        .map(|i| graph.add_node(i))
        .collect();
    for (i, job) in workflow.jobs.iter().enumerate() {
        for (n, need) in job.needs.iter().enumerate() {
            if let Some(first) = job.needs[..n].iter().find(|m| m.value == need.value) {
                out.push(
                    Diagnostic::new(
                        Code::DuplicateNeed,
                        need.span,
                        format!("job `{}` needs `{}` twice", job.id.value, need.value),
                    )
                    .label("again")
                    .with_secondary(first.span, "first here")
                    .help("remove the repeated entry; ddeutil-workflow would wait for it forever"),
                );
                continue;
            }
            match index.get(need.value.as_str()) {
                Some(&target) => {
                    graph.add_edge(nodes[i], nodes[target], need.span);
                }
                None => out.push(
                    Diagnostic::new(
                        Code::UnknownNeed,
                        need.span,
                        format!(
                            "job `{}` needs `{}`, which is not a job of workflow `{}`",
                            job.id.value, need.value, workflow.name.value
                        ),
                    )
                    .label("no such job")
                    .did_you_mean_or(
                        &need.value,
                        workflow.jobs.iter().map(|j| j.id.value.as_str()),
                        || {
                            Some(format!(
                                "jobs are: {}",
                                crate::diagnostic::name_list(
                                    workflow.jobs.iter().map(|j| j.id.value.as_str())
                                )
                            ))
                        },
                    ),
                ),
            }
        }
    }
    cycles::report(
        &graph,
        |i| workflow.jobs[i].id.value.as_str(),
        &cycles::Wording {
            code: Code::NeedsCycle,
            what: "jobs need each other",
            verb: "needs",
            help: "remove one of the `needs` on this path; no job in a cycle can ever start",
        },
        out,
    );
}

/// Gives the repeated `needs` entries [`check`] reported their fix: the entry's
/// removal (its line of a block list, `, x` in a flow list). The edit needs the
/// file's text, which `check` is not given; `lint::check` calls this.
pub(super) fn fix_duplicates(source: &SourceFile, workflow: &Workflow, out: &mut [Diagnostic]) {
    for job in &workflow.jobs {
        for (n, need) in job.needs.iter().enumerate() {
            if !job.needs[..n].iter().any(|m| m.value == need.value) {
                continue;
            }
            let Some(diagnostic) = out
                .iter_mut()
                .rev()
                .find(|d| d.code == Code::DuplicateNeed && d.span == need.span && d.fix.is_none())
            else {
                continue;
            };
            diagnostic.fix = list_item_removal(&source.text, need.span).map(|edit| Fix {
                message: format!("remove the repeated `{}`", need.value),
                applicability: Applicability::Safe,
                edits: vec![edit],
            });
        }
    }
}
