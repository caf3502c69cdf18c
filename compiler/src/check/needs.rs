//! The job graph: `needs` must name jobs, and must not loop.

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::{Code, Diagnostic, suggestion};
use crate::span::Span;
use crate::syntax::model::Workflow;

pub(super) fn check(workflow: &Workflow, out: &mut Vec<Diagnostic>) {
    let index: HashMap<&str, usize> = workflow
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.id.value.as_str(), i))
        .collect();
    let mut graph: DiGraph<usize, Span> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..workflow.jobs.len())
        .map(|i| graph.add_node(i))
        .collect();
    for (i, job) in workflow.jobs.iter().enumerate() {
        for need in &job.needs {
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
                    .help(
                        suggestion(
                            &need.value,
                            workflow.jobs.iter().map(|j| j.id.value.as_str()),
                        )
                        .unwrap_or_else(|| {
                            format!(
                                "jobs are: {}",
                                workflow
                                    .jobs
                                    .iter()
                                    .map(|j| format!("`{}`", j.id.value))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }),
                    ),
                ),
            }
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
        let names: Vec<&str> = path
            .iter()
            .map(|n| workflow.jobs[graph[*n]].id.value.as_str())
            .collect();
        let edge_span = |a: NodeIndex, b: NodeIndex| graph.find_edge(a, b).map(|e| graph[e]);
        let Some(first_edge) = edge_span(path[0], path[1]) else {
            continue;
        };
        let mut diagnostic = Diagnostic::new(
            Code::NeedsCycle,
            first_edge,
            format!("jobs need each other in a cycle: {}", names.join(" -> ")),
        )
        .label(format!("`{}` needs `{}`", names[0], names[1]))
        .help("remove one of the `needs` on this path; no job in a cycle can ever start");
        for pair in path.windows(2).skip(1) {
            if let Some(span) = edge_span(pair[0], pair[1]) {
                diagnostic = diagnostic.with_secondary(
                    span,
                    format!(
                        "`{}` needs `{}`",
                        workflow.jobs[graph[pair[0]]].id.value,
                        workflow.jobs[graph[pair[1]]].id.value
                    ),
                );
            }
        }
        out.push(diagnostic);
    }
}

/// The shortest path `start -> ... -> start` inside one strongly connected component.
pub(crate) fn shortest_cycle<N, E>(
    graph: &DiGraph<N, E>,
    start: NodeIndex,
    members: &HashSet<NodeIndex>,
) -> Vec<NodeIndex> {
    let mut previous: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in graph.neighbors(node) {
            if next == start {
                let mut path = vec![node];
                let mut at = node;
                while at != start {
                    let Some(&before) = previous.get(&at) else {
                        break;
                    };
                    at = before;
                    path.push(at);
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if members.contains(&next) && next != start && !previous.contains_key(&next) {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    vec![start, start]
}

/// For each job, every job it needs directly or through others.
#[must_use]
pub(crate) fn upstream(workflow: &Workflow) -> HashMap<&str, HashSet<&str>> {
    let needs: HashMap<&str, Vec<&str>> = workflow
        .jobs
        .iter()
        .map(|j| {
            (
                j.id.value.as_str(),
                j.needs.iter().map(|n| n.value.as_str()).collect(),
            )
        })
        .collect();
    needs
        .keys()
        .map(|&job| {
            let mut seen: HashSet<&str> = HashSet::new();
            let mut stack: Vec<&str> = needs[job].clone();
            while let Some(next) = stack.pop() {
                if seen.insert(next) {
                    stack.extend(needs.get(next).into_iter().flatten().copied());
                }
            }
            (job, seen)
        })
        .collect()
}
