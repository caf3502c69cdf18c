//! Trigger stages between workflows: targets must exist, triggers must not loop,
//! and a trigger must pass the params its target requires.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use super::cycles;
use super::summary::{Targets, TriggerSummary, WorkflowSummary};
use crate::diagnostic::{Code, Diagnostic, suggestion};
use crate::span::Span;

pub(super) fn check(workflows: &[&WorkflowSummary], out: &mut Vec<Diagnostic>) {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, w) in workflows.iter().enumerate() {
        index.entry(w.name.value.as_str()).or_insert(i);
    }
    let mut graph: DiGraph<usize, Span> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..workflows.len()).map(|i| graph.add_node(i)).collect();
    // One edge per pair of workflows, found without scanning a node's edges.
    let mut edges: std::collections::HashSet<(usize, usize)> = std::collections::HashSet::new();
    // Every workflow name, sorted (made at the first unknown name).
    let mut all_names: Option<Vec<&str>> = None;

    for (from, workflow) in workflows.iter().enumerate() {
        for trigger in &workflow.triggers {
            match &trigger.targets {
                Targets::Known(names) => {
                    for (name, binding) in names {
                        if let Some(&to) = index.get(name.as_str()) {
                            if edges.insert((from, to)) {
                                graph.add_edge(nodes[from], nodes[to], trigger.span);
                            }
                            check_params(trigger, workflows[to], out);
                        } else {
                            let all_names = all_names.get_or_insert_with(|| {
                                let mut all: Vec<&str> = index.keys().copied().collect();
                                all.sort_unstable();
                                all
                            });
                            out.push(unknown_workflow(trigger.span, name, binding, all_names));
                        }
                    }
                }
                Targets::Pattern(literals) => {
                    if !index.keys().any(|n| matches_pattern(literals, n)) {
                        let shown = literals.join("*");
                        out.push(
                            Diagnostic::new(
                                Code::UnknownWorkflow,
                                trigger.span,
                                format!("no workflow has a name of the form `{shown}`"),
                            )
                            .label("matches no workflow")
                            .help(
                                "check the fixed parts of the name; `*` stands for the templates",
                            ),
                        );
                    }
                }
            }
        }
    }

    cycles::report(
        &graph,
        |i| workflows[i].name.value.as_str(),
        &cycles::Wording {
            code: Code::TriggerCycle,
            what: "workflows trigger each other",
            verb: "triggers",
            help: "a workflow in this cycle would run forever; remove one of the triggers on the path",
        },
        out,
    );
}

fn unknown_workflow(at: Span, name: &str, binding: &str, names: &[&str]) -> Diagnostic {
    let message = if binding.is_empty() {
        format!("no workflow is named `{name}`")
    } else {
        format!("no workflow is named `{name}` (the name when {binding})")
    };
    let otherwise =
        || Some("define the workflow in one of the checked files, or fix the name".into());
    let diagnostic = Diagnostic::new(Code::UnknownWorkflow, at, message).label("unknown workflow");
    if binding.is_empty() {
        // The name is written at `at` (the fix is dropped where it is quoted).
        diagnostic.did_you_mean_or(name, names.iter().copied(), otherwise)
    } else {
        // The name comes through a template: the help only.
        diagnostic.maybe_help(suggestion(name, names.iter().copied()).or_else(otherwise))
    }
}

/// `a*b*c`: starts with `a`, ends with `c`, holds `b` in between.
fn matches_pattern(literals: &[String], name: &str) -> bool {
    let Some((first, rest)) = literals.split_first() else {
        return true;
    };
    let Some(mut remaining) = name.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for lit in middle {
        match remaining.find(lit.as_str()) {
            Some(i) => remaining = &remaining[i + lit.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last.as_str())
}

fn check_params(trigger: &TriggerSummary, target: &WorkflowSummary, out: &mut Vec<Diagnostic>) {
    for param in &target.params {
        if param.must_pass && !trigger.passed.iter().any(|k| k.value == param.name.value) {
            out.push(
                Diagnostic::new(
                    Code::MissingTriggerParam,
                    trigger.span,
                    format!(
                        "workflow `{}` requires param `{}`, but this trigger does not pass it",
                        target.name.value, param.name.value
                    ),
                )
                .label("missing param")
                .with_secondary(param.name.span, "required here")
                .help(format!(
                    "pass it under `params:`, e.g. `params: {{{}: ...}}`",
                    param.name.value
                )),
            );
        }
    }
    for key in &trigger.passed {
        if target.param(&key.value).is_none() {
            out.push(
                Diagnostic::new(
                    Code::UnknownTriggerParam,
                    key.span,
                    format!(
                        "workflow `{}` does not declare param `{}`",
                        target.name.value, key.value
                    ),
                )
                .label("not declared by the triggered workflow")
                .did_you_mean_or(
                    &key.value,
                    target.params.iter().map(|p| p.name.value.as_str()),
                    || {
                        Some(format!(
                            "declare `{}` in workflow `{}`, or remove it here",
                            key.value, target.name.value
                        ))
                    },
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches_pattern;

    #[test]
    fn wildcard_patterns() {
        let p = |s: &[&str]| s.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
        assert!(matches_pattern(
            &p(&["routing-", "-workflow"]),
            "routing-01-workflow"
        ));
        assert!(!matches_pattern(
            &p(&["routing-", "-workflow"]),
            "route-01-workflow"
        ));
        assert!(matches_pattern(&p(&["", ""]), "anything"));
        assert!(!matches_pattern(&p(&["ab", "ba"]), "aba"));
    }
}
