//! Trigger stages between workflows: targets must exist, triggers must not loop,
//! and a trigger must pass the params its target requires.

use std::collections::{HashMap, HashSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::needs::shortest_cycle;
use super::walk_stages;
use crate::diagnostic::{Code, Diagnostic, suggestion};
use crate::project::Project;
use crate::span::Span;
use crate::syntax::expr::ast::Part;
use crate::syntax::model::{
    AxisValues, Job, ParamType, StageKind, Text, Value, ValueKind, Workflow,
};

/// At most this many names are expanded from one templated trigger.
const MAX_EXPANSION: usize = 256;

/// What a trigger's `trigger:` can name.
enum Targets {
    /// Every name it can produce, with the binding that produces it (for messages).
    Known(Vec<(String, String)>),
    /// Only a pattern is known: literal text with `*` for the templates.
    Pattern(Vec<String>),
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    let workflows: Vec<&Workflow> = project.workflows().map(|(_, w)| w).collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, w) in workflows.iter().enumerate() {
        index.entry(w.name.value.as_str()).or_insert(i);
    }
    let mut graph: DiGraph<usize, Span> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..workflows.len()).map(|i| graph.add_node(i)).collect();

    for (from, workflow) in workflows.iter().enumerate() {
        for job in &workflow.jobs {
            walk_stages(&job.stages, &mut |stage| {
                let StageKind::Trigger { trigger, params } = &stage.kind else {
                    return;
                };
                match targets(workflow, job, trigger) {
                    Targets::Known(names) => {
                        for (name, binding) in names {
                            match index.get(name.as_str()) {
                                Some(&to) => {
                                    if graph.find_edge(nodes[from], nodes[to]).is_none() {
                                        graph.add_edge(nodes[from], nodes[to], trigger.span);
                                    }
                                    check_params(trigger, params.as_ref(), workflows[to], out);
                                }
                                None => {
                                    out.push(unknown_workflow(trigger, &name, &binding, &index));
                                }
                            }
                        }
                    }
                    Targets::Pattern(literals) => {
                        if !index.keys().any(|n| matches_pattern(&literals, n)) {
                            let shown = literals.join("*");
                            out.push(
                                Diagnostic::new(Code::UnknownWorkflow, trigger.span, format!("no workflow has a name of the form `{shown}`"))
                                    .label("matches no workflow")
                                    .help("check the fixed parts of the name; `*` stands for the templates"),
                            );
                        }
                    }
                }
            });
        }
    }

    for component in tarjan_scc(&graph) {
        let is_cycle = component.len() > 1 || graph.find_edge(component[0], component[0]).is_some();
        if !is_cycle {
            continue;
        }
        let start = component
            .iter()
            .copied()
            .min_by_key(|n| graph[*n])
            .unwrap_or(component[0]);
        let members: HashSet<NodeIndex> = component.iter().copied().collect();
        let path = shortest_cycle(&graph, start, &members);
        let name = |n: NodeIndex| workflows[graph[n]].name.value.as_str();
        let names: Vec<&str> = path.iter().map(|n| name(*n)).collect();
        let edge = |a: NodeIndex, b: NodeIndex| graph.find_edge(a, b).map(|e| graph[e]);
        let Some(first) = edge(path[0], path[1]) else {
            continue;
        };
        let mut diagnostic = Diagnostic::new(
            Code::TriggerCycle,
            first,
            format!(
                "workflows trigger each other in a cycle: {}",
                names.join(" -> ")
            ),
        )
        .label(format!("`{}` triggers `{}`", names[0], names[1]))
        .help("a workflow in this cycle would run forever; remove one of the triggers on the path");
        for pair in path.windows(2).skip(1) {
            if let Some(span) = edge(pair[0], pair[1]) {
                diagnostic = diagnostic.with_secondary(
                    span,
                    format!("`{}` triggers `{}`", name(pair[0]), name(pair[1])),
                );
            }
        }
        out.push(diagnostic);
    }
}

fn unknown_workflow(
    trigger: &Text,
    name: &str,
    binding: &str,
    index: &HashMap<&str, usize>,
) -> Diagnostic {
    let mut names: Vec<&str> = index.keys().copied().collect();
    names.sort_unstable();
    let message = if binding.is_empty() {
        format!("no workflow is named `{name}`")
    } else {
        format!("no workflow is named `{name}` (the name when {binding})")
    };
    Diagnostic::new(Code::UnknownWorkflow, trigger.span, message)
        .label("unknown workflow")
        .help(suggestion(name, names.iter().copied()).unwrap_or_else(|| {
            "define the workflow in one of the checked files, or fix the name".to_string()
        }))
}

/// The names a trigger can produce: its text, with every template replaced by each
/// value it can take (choice params, static matrix values); else a pattern.
fn targets(workflow: &Workflow, job: &Job, trigger: &Text) -> Targets {
    let mut names: Vec<(String, String)> = vec![(String::new(), String::new())];
    let mut literals = vec![String::new()];
    let mut known = true;
    for part in &trigger.template.parts {
        match part {
            Part::Text(t) => {
                for (n, _) in &mut names {
                    n.push_str(t);
                }
                if let Some(last) = literals.last_mut() {
                    last.push_str(t);
                }
            }
            Part::Interp(interp) => {
                literals.push(String::new());
                let choices = if interp.pipeline.filters.is_empty() {
                    choices(workflow, job, &interp.pipeline.path)
                } else {
                    None
                };
                match choices {
                    Some((label, values))
                        if known && names.len() * values.len() <= MAX_EXPANSION =>
                    {
                        names = names
                            .iter()
                            .flat_map(|(n, why)| {
                                let label = &label;
                                values.iter().map(move |v| {
                                    let sep = if why.is_empty() { "" } else { ", " };
                                    (format!("{n}{v}"), format!("{why}{sep}`{label}` is `{v}`"))
                                })
                            })
                            .collect();
                    }
                    _ => known = false,
                }
            }
            Part::Env(_) => {
                literals.push(String::new());
                known = false;
            }
        }
    }
    if known {
        Targets::Known(names)
    } else {
        Targets::Pattern(literals)
    }
}

/// The values a path can take, when they are all known statically.
fn choices(
    workflow: &Workflow,
    job: &Job,
    path: &crate::syntax::expr::ast::Path,
) -> Option<(String, Vec<String>)> {
    let root = path.root()?;
    let key = path.name_at(1)?;
    if path.segments.len() != 2 {
        return None;
    }
    let values: Vec<&Value> = match root {
        "params" => {
            let param = workflow.param(key)?;
            if param.ty.value != ParamType::Choice {
                return None;
            }
            param.options.iter().collect()
        }
        "matrix" => {
            let strategy = job.strategy.as_ref()?;
            let axis = strategy.matrix.iter().find(|a| a.key.name == key)?;
            let AxisValues::List(list) = &axis.values else {
                return None;
            };
            let mut all: Vec<&Value> = list.iter().collect();
            for row in &strategy.include {
                all.extend(
                    row.entries
                        .iter()
                        .filter(|(k, _)| k.name == key)
                        .map(|(_, v)| v),
                );
            }
            all
        }
        _ => return None,
    };
    let mut out = Vec::new();
    for v in values {
        let text = match &v.kind {
            ValueKind::Text(t) if t.template.is_literal() => t.raw.clone(),
            ValueKind::Int(i) => i.to_string(),
            _ => return None,
        };
        if !out.contains(&text) {
            out.push(text);
        }
    }
    Some((format!("{root}.{key}"), out))
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

fn check_params(
    trigger: &Text,
    params: Option<&Value>,
    target: &Workflow,
    out: &mut Vec<Diagnostic>,
) {
    let passed: &[(crate::syntax::yaml::Key, Value)] =
        params.and_then(Value::as_map).unwrap_or(&[]);
    for param in &target.params {
        if param.must_be_passed() && !passed.iter().any(|(k, _)| k.name == param.name.value) {
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
    for (key, _) in passed {
        if target.param(&key.name).is_none() {
            out.push(
                Diagnostic::new(
                    Code::UnknownTriggerParam,
                    key.span,
                    format!(
                        "workflow `{}` does not declare param `{}`",
                        target.name.value, key.name
                    ),
                )
                .label("not declared by the triggered workflow")
                .help(
                    suggestion(
                        &key.name,
                        target.params.iter().map(|p| p.name.value.as_str()),
                    )
                    .unwrap_or_else(|| {
                        format!(
                            "declare `{}` in workflow `{}`, or remove it here",
                            key.name, target.name.value
                        )
                    }),
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
