//! Cycles in the job and trigger graphs, each reported once, starting at its
//! earliest node, with the whole path.

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

/// How a cycle is described: "jobs need each other", with "`a` needs `b`" edges.
pub(super) struct Wording<'a> {
    pub code: Code,
    pub what: &'a str,
    pub verb: &'a str,
    pub help: &'a str,
}

/// One diagnostic per cycle of `graph`. Nodes carry their declaration order, edges
/// the place that creates them; `name` gives a node's name.
pub(super) fn report<'n>(
    graph: &DiGraph<usize, Span>,
    name: impl Fn(usize) -> &'n str,
    wording: &Wording<'_>,
    out: &mut Vec<Diagnostic>,
) {
    for component in tarjan_scc(graph) {
        let loops = component.len() > 1 || graph.find_edge(component[0], component[0]).is_some();
        if !loops {
            continue;
        }
        let start = component
            .iter()
            .copied()
            .min_by_key(|n| graph[*n])
            .unwrap_or(component[0]);
        let members: HashSet<NodeIndex> = component.iter().copied().collect();
        let path = shortest_cycle(graph, start, &members);
        let names: Vec<&str> = path.iter().map(|n| name(graph[*n])).collect();
        let edge = |a: NodeIndex, b: NodeIndex| graph.find_edge(a, b).map(|e| graph[e]);
        let Some(first) = edge(path[0], path[1]) else {
            continue;
        };
        let mut diagnostic = Diagnostic::new(
            wording.code,
            first,
            format!("{} in a cycle: {}", wording.what, names.join(" -> ")),
        )
        .label(format!("`{}` {} `{}`", names[0], wording.verb, names[1]))
        .help(wording.help);
        for (i, pair) in path.windows(2).enumerate().skip(1) {
            if let Some(span) = edge(pair[0], pair[1]) {
                diagnostic = diagnostic.with_secondary(
                    span,
                    format!("`{}` {} `{}`", names[i], wording.verb, names[i + 1]),
                );
            }
        }
        out.push(diagnostic);
    }
}

/// The shortest path `start -> ... -> start` inside one strongly connected component.
fn shortest_cycle<N, E>(
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
            if members.contains(&next) && !previous.contains_key(&next) {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    vec![start, start]
}
