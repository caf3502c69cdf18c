//! A plan's job graph as Graphviz DOT or Mermaid: jobs are clusters holding their
//! stages in order; parallel branches, loops and case arms are nested clusters.

use std::fmt::Write as _;

use petgraph::visit::EdgeRef;

use super::{Plan, PlanValue, StagePlan};
use wfc_plan::visit::Nest;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// Renders the plan's graph.
#[must_use]
pub fn render(plan: &Plan, format: GraphFormat) -> String {
    match format {
        GraphFormat::Dot => dot(plan),
        GraphFormat::Mermaid => mermaid(plan),
    }
}

/// A stage's label: its name (templates as written) and kind.
fn label(stage: &StagePlan) -> String {
    format!("{} ({})", stage.name, stage.kind.name())
}

/// The labels of a stage's nested lists ("branch a", "case th", "else", "each item").
fn child_lists(stage: &StagePlan) -> Vec<(String, &[StagePlan])> {
    stage
        .nested()
        .into_iter()
        .map(|(nest, stages)| {
            let name = match nest {
                Nest::Job => "stages".to_string(),
                Nest::Branch(name) => format!("branch {name}"),
                Nest::ForEach => "each item".to_string(),
                Nest::Until => "each loop".to_string(),
                Nest::Arm(Some(PlanValue::Str(t))) => format!("case {t}"),
                Nest::Arm(Some(PlanValue::Int(n))) => format!("case {n}"),
                Nest::Arm(Some(PlanValue::BigInt(digits))) => format!("case {digits}"),
                Nest::Arm(Some(_)) => "case".to_string(),
                Nest::Arm(None) => "else".to_string(),
            };
            (name, stages)
        })
        .collect()
}

fn escape_dot(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// DOT: each job a cluster, its stages chained top to bottom. A job's cluster ends
/// in an invisible anchor that every last stage of every list in it leads to, so the
/// anchor lies below everything in the job; a need's edge goes from that anchor to
/// the first stage of the job that needs it, drawn between the clusters' borders
/// (`ltail`, `lhead`). So a job is laid out below its needs, never beside them.
/// Edges that end at a cluster's border skip a rank (`minlen=2`), so that they are
/// arrows, not bare arrowheads.
fn dot(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape_dot(&plan.name));
    out.push_str("  compound=true;\n  rankdir=TB;\n  node [shape=box, style=rounded];\n");
    // Per job: its cluster, its first node, its end anchor.
    let mut ends = Vec::new();
    for index in plan.jobs.node_indices() {
        let job = &plan.jobs[index];
        let cluster = format!("job_{}", index.index());
        let _ = writeln!(out, "  subgraph \"cluster_{cluster}\" {{");
        let _ = writeln!(out, "    label=\"job {}\";", escape_dot(&job.id));
        let mut lasts = Vec::new();
        let first = if job.stages.is_empty() {
            let node = format!("{cluster}_empty");
            let _ = writeln!(
                out,
                "    \"{node}\" [label=\"(no stages)\", shape=plaintext];"
            );
            lasts.push(node.clone());
            node
        } else {
            dot_stages(&mut out, &job.stages, &cluster, 2, &mut lasts)
        };
        let end = format!("{cluster}_end");
        let _ = writeln!(
            out,
            "    \"{end}\" [shape=point, style=invis, width=0, height=0, label=\"\"];"
        );
        for last in &lasts {
            let _ = writeln!(out, "    \"{last}\" -> \"{end}\" [style=invis];");
        }
        out.push_str("  }\n");
        ends.push((cluster, first, end));
    }
    for edge in plan.jobs.edge_references() {
        let (from_cluster, _, from) = &ends[edge.source().index()];
        let (to_cluster, to, _) = &ends[edge.target().index()];
        let _ = writeln!(
            out,
            "  \"{from}\" -> \"{to}\" [ltail=\"cluster_{from_cluster}\", lhead=\"cluster_{to_cluster}\", minlen=2];"
        );
    }
    out.push_str("}\n");
    out
}

/// Writes a stage list; returns the id of its first node (to hang edges on), and
/// adds the last node of this list and of every list nested in it to `lasts`. A
/// stage comes below the lists nested in the stage before it (invisible edges from
/// their last nodes), so a list reads top to bottom around its loop bodies and arms.
fn dot_stages(
    out: &mut String,
    stages: &[StagePlan],
    prefix: &str,
    depth: usize,
    lasts: &mut Vec<String>,
) -> String {
    let pad = "  ".repeat(depth);
    let mut first = String::new();
    let mut previous: Option<String> = None;
    // The last nodes of the lists nested in the previous stage.
    let mut above: Vec<String> = Vec::new();
    for (i, stage) in stages.iter().enumerate() {
        let node = format!("{prefix}_{i}");
        let _ = writeln!(
            out,
            "{pad}\"{node}\" [label=\"{}\"];",
            escape_dot(&label(stage))
        );
        let mut nested = Vec::new();
        for (j, (name, list)) in child_lists(stage).into_iter().enumerate() {
            let cluster = format!("{node}_{j}");
            let _ = writeln!(out, "{pad}subgraph \"cluster_{cluster}\" {{");
            let _ = writeln!(out, "{pad}  label=\"{}\";", escape_dot(&name));
            if list.is_empty() {
                let empty = format!("{cluster}_empty");
                let _ = writeln!(
                    out,
                    "{pad}  \"{empty}\" [label=\"(no stages)\", shape=plaintext];"
                );
                let _ = writeln!(out, "{pad}}}");
                let _ = writeln!(
                    out,
                    "{pad}\"{node}\" -> \"{empty}\" [style=dashed, minlen=2, lhead=\"cluster_{cluster}\"];"
                );
                nested.push(empty);
            } else {
                let inner = dot_stages(out, list, &cluster, depth + 1, &mut nested);
                let _ = writeln!(out, "{pad}}}");
                let _ = writeln!(
                    out,
                    "{pad}\"{node}\" -> \"{inner}\" [style=dashed, minlen=2, lhead=\"cluster_{cluster}\"];"
                );
            }
        }
        if let Some(prev) = &previous {
            let _ = writeln!(out, "{pad}\"{prev}\" -> \"{node}\";");
        }
        for last in above.drain(..) {
            let _ = writeln!(out, "{pad}\"{last}\" -> \"{node}\" [style=invis];");
        }
        if i == 0 {
            first.clone_from(&node);
        }
        previous = Some(node);
        lasts.extend(nested.iter().cloned());
        above = nested;
    }
    lasts.extend(previous);
    first
}

fn escape_mermaid(text: &str) -> String {
    text.replace('"', "#quot;")
}

fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    for index in plan.jobs.node_indices() {
        let job = &plan.jobs[index];
        let cluster = format!("job_{}", index.index());
        let _ = writeln!(
            out,
            "  subgraph {cluster} [\"job {}\"]",
            escape_mermaid(&job.id)
        );
        if job.stages.is_empty() {
            let _ = writeln!(out, "    {cluster}_empty[\"(no stages)\"]");
        } else {
            mermaid_stages(&mut out, &job.stages, &cluster, 2);
        }
        out.push_str("  end\n");
    }
    for edge in plan.jobs.edge_references() {
        let _ = writeln!(
            out,
            "  job_{} --> job_{}",
            edge.source().index(),
            edge.target().index()
        );
    }
    out
}

fn mermaid_stages(out: &mut String, stages: &[StagePlan], prefix: &str, depth: usize) {
    let pad = "  ".repeat(depth);
    let mut previous: Option<String> = None;
    for (i, stage) in stages.iter().enumerate() {
        let node = format!("{prefix}_{i}");
        let _ = writeln!(out, "{pad}{node}[\"{}\"]", escape_mermaid(&label(stage)));
        for (j, (name, list)) in child_lists(stage).into_iter().enumerate() {
            let cluster = format!("{node}_{j}");
            let _ = writeln!(
                out,
                "{pad}subgraph {cluster} [\"{}\"]",
                escape_mermaid(&name)
            );
            if list.is_empty() {
                let _ = writeln!(out, "{pad}  {cluster}_empty[\"(no stages)\"]");
            } else {
                mermaid_stages(out, list, &cluster, depth + 1);
            }
            let _ = writeln!(out, "{pad}end");
            let _ = writeln!(out, "{pad}{node} -.-> {cluster}");
        }
        if let Some(prev) = &previous {
            let _ = writeln!(out, "{pad}{prev} --> {node}");
        }
        previous = Some(node);
    }
}
