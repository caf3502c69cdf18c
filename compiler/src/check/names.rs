//! Names that must be unique: workflows across all files, stage ids in one list.

use std::collections::HashMap;

use super::summary::WorkflowSummary;
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::model::{Stage, Workflow};

pub(super) fn duplicate_workflows(workflows: &[&WorkflowSummary], out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<&str, Span> = HashMap::new();
    for workflow in workflows {
        let name = workflow.name.value.as_str();
        match first.get(name) {
            Some(&earlier) => out.push(
                Diagnostic::new(
                    Code::DuplicateWorkflow,
                    workflow.name.span,
                    format!("workflow `{name}` is defined twice"),
                )
                .label("defined again here")
                .with_secondary(earlier, "first defined here")
                .help("workflow names are global across all files; rename one of them"),
            ),
            None => {
                first.insert(name, workflow.name.span);
            }
        }
    }
}

pub(super) fn stage_ids(workflow: &Workflow, out: &mut Vec<Diagnostic>) {
    for job in &workflow.jobs {
        list(&job.stages, true, out);
    }
}

/// One stage list; at the job's top level a stage without `id` is known by its
/// `name` (upstream requires those to be unique too).
fn list(stages: &[Stage], top: bool, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, (Span, bool)> = HashMap::new();
    for stage in stages {
        let (key, span, by_id) = match (&stage.id, top) {
            (Some(id), _) if id.template.is_literal() => (id.raw.as_str(), id.span, true),
            (None, true) if stage.name.template.is_literal() => {
                (stage.name.raw.as_str(), stage.name.span, false)
            }
            _ => ("", stage.span, false),
        };
        if !key.is_empty() {
            if let Some(&(earlier, earlier_by_id)) = seen.get(key) {
                let message = if by_id && earlier_by_id {
                    format!("duplicate stage id `{key}`")
                } else if !by_id && !earlier_by_id {
                    format!("two stages named `{key}` have no `id`, so they share the id `{key}`")
                } else {
                    format!("stage id `{key}` is also the name of a stage without `id`")
                };
                out.push(
                    Diagnostic::new(Code::DuplicateStageId, span, message)
                        .label("used again here")
                        .with_secondary(earlier, "first used here")
                        .help("give each stage in this list its own `id`; outputs are stored under it"),
                );
            } else {
                seen.insert(key, (span, by_id));
            }
        }
        for children in stage.children() {
            list(children, false, out);
        }
    }
}
