//! What names in a workflow file refer to, for hover, go to definition and
//! completion: `params.x`, `stages.s`, `jobs.j.stages.s` and filters in
//! templates, found in the file's YAML tree by their spans.

use crate::span::Span;
use crate::syntax::yaml::{Entry, Node, NodeKind};

/// The workflow and the job around an offset.
pub(super) struct Scope<'n> {
    pub workflow: &'n Node,
    pub job: Option<&'n Entry>,
}

/// A name in a template.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ref {
    Param(String),
    /// A stage's id, and the job it is in when the template names one.
    Stage(String, Option<String>),
    Job(String),
    Filter(String),
}

fn contains(span: Span, offset: u32) -> bool {
    span.start <= offset && offset <= span.end
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'
}

/// The workflow (and job) whose mapping holds `offset`.
pub(super) fn scope_at<'n>(
    workflows: &[(String, Span, &'n Node)],
    offset: u32,
) -> Option<Scope<'n>> {
    let (_, _, workflow) = workflows
        .iter()
        .find(|(_, _, w)| contains(w.span, offset))?;
    let job = entries(workflow, "jobs")
        .and_then(|jobs| jobs.iter().find(|j| contains(j.value.span, offset)));
    Some(Scope { workflow, job })
}

/// The byte range of the run of characters `part` takes around `offset`.
pub(super) fn run_around(text: &str, offset: u32, part: impl Fn(char) -> bool) -> (usize, usize) {
    let offset = (offset as usize).min(text.len());
    let start = text[..offset]
        .char_indices()
        .rev()
        .find(|(_, c)| !part(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let end = text[offset..]
        .char_indices()
        .find(|(_, c)| !part(*c))
        .map_or(text.len(), |(i, _)| offset + i);
    (start, end)
}

/// The name in a template under `offset`, and its byte range.
pub(super) fn ref_at(text: &str, offset: u32) -> Option<(Ref, usize, usize)> {
    let (start, end) = run_around(text, offset, is_name);
    let token = &text[start..end];
    // Only inside a template (`${{ … }}` opened on this line before it).
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..start];
    let opened = before.rfind("${{");
    if opened.is_none_or(|o| before.rfind("}}").is_some_and(|c| c > o)) {
        return None;
    }
    let parts: Vec<&str> = token.split('.').collect();
    let found = match parts.as_slice() {
        ["params", name, ..] if !name.is_empty() => Ref::Param((*name).to_string()),
        ["stages", id, ..] if !id.is_empty() => Ref::Stage((*id).to_string(), None),
        ["jobs", job, "stages", id, ..] if !id.is_empty() => {
            Ref::Stage((*id).to_string(), Some((*job).to_string()))
        }
        ["jobs", job, ..] if !job.is_empty() => Ref::Job((*job).to_string()),
        [name] if before.trim_end().ends_with('|') && !name.is_empty() => {
            Ref::Filter((*name).to_string())
        }
        _ => return None,
    };
    Some((found, start, end))
}

/// The entries of the mapping under `key` of a mapping.
pub(super) fn entries<'n>(node: &'n Node, key: &str) -> Option<&'n [Entry]> {
    node.as_map()?
        .iter()
        .find(|e| e.key.name == key)?
        .value
        .as_map()
}

/// A workflow's param entry.
pub(super) fn param<'n>(workflow: &'n Node, name: &str) -> Option<&'n Entry> {
    entries(workflow, "params")?
        .iter()
        .find(|e| e.key.name == name)
}

/// A param's type and default as written.
pub(super) fn param_facts(entry: &Entry, text: &str) -> (String, Option<String>) {
    let slice = |n: &Node| text.get(n.span.range()).unwrap_or("").to_string();
    match &entry.value.kind {
        NodeKind::Str(ty) => (ty.clone(), None),
        NodeKind::Map(keys) => {
            let ty = keys
                .iter()
                .find(|e| e.key.name == "type")
                .map_or_else(|| "str".to_string(), |e| slice(&e.value));
            let default = keys
                .iter()
                .find(|e| e.key.name == "default")
                .map(|e| slice(&e.value));
            (ty, default)
        }
        _ => (String::new(), None),
    }
}

/// A workflow's job entry.
pub(super) fn job<'n>(workflow: &'n Node, name: &str) -> Option<&'n Entry> {
    entries(workflow, "jobs")?
        .iter()
        .find(|e| e.key.name == name)
}

/// The stages with an `id` under `node` (a job, a stage, a list), at any depth:
/// each id's value node and its stage's `name`.
pub(super) fn stage_ids<'n>(node: &'n Node, out: &mut Vec<(&'n Node, String)>) {
    match &node.kind {
        NodeKind::Map(entries) => {
            let id = entries.iter().find(|e| e.key.name == "id");
            let named = entries.iter().find(|e| e.key.name == "name");
            if let (Some(id), Some(_)) = (id, named)
                && let NodeKind::Str(_) = id.value.kind
            {
                let name = match named.map(|e| &e.value.kind) {
                    Some(NodeKind::Str(n)) => n.clone(),
                    _ => String::new(),
                };
                out.push((&id.value, name));
            }
            for entry in entries {
                if matches!(
                    entry.key.name.as_str(),
                    "stages" | "parallel" | "match" | "else"
                ) || matches!(entry.value.kind, NodeKind::Seq(_))
                {
                    stage_ids(&entry.value, out);
                }
            }
        }
        NodeKind::Seq(items) => {
            for item in items {
                stage_ids(item, out);
            }
        }
        _ => {}
    }
}

/// The stage with id `id` in `job`: its id's value node and its name.
pub(super) fn stage<'n>(job: &'n Entry, id: &str) -> Option<(&'n Node, String)> {
    let mut all = Vec::new();
    stage_ids(&job.value, &mut all);
    all.into_iter()
        .find(|(node, _)| matches!(&node.kind, NodeKind::Str(s) if s == id))
}

/// The jobs a job needs.
pub(super) fn needs(job: &Entry) -> Vec<String> {
    let Some(needs) = job
        .value
        .as_map()
        .and_then(|m| m.iter().find(|e| e.key.name == "needs"))
    else {
        return Vec::new();
    };
    match &needs.value.kind {
        NodeKind::Seq(items) => items
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        NodeKind::Str(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// What completes the text before the cursor on its line, inside a template.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Expecting {
    Params,
    Stages,
    Jobs,
    Filters,
    /// A workflow's name (the value of `trigger:`).
    Workflows,
    /// A key of the mapping the cursor's line is in.
    Keys,
}

/// What the line's text before the cursor asks for.
pub(super) fn expecting(prefix: &str) -> Expecting {
    let opened = prefix.rfind("${{");
    let inside = opened.is_some_and(|o| prefix.rfind("}}").is_none_or(|c| c < o));
    if inside {
        let token_start = prefix
            .char_indices()
            .rev()
            .find(|(_, c)| !is_name(*c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let token = &prefix[token_start..];
        if token.starts_with("params.") {
            return Expecting::Params;
        }
        if token.starts_with("stages.") {
            return Expecting::Stages;
        }
        if token.starts_with("jobs.") {
            return Expecting::Jobs;
        }
        if prefix[..token_start].trim_end().ends_with('|') {
            return Expecting::Filters;
        }
        return Expecting::Keys;
    }
    let trimmed = prefix.trim_start().trim_start_matches("- ");
    if trimmed.starts_with("trigger:") {
        return Expecting::Workflows;
    }
    Expecting::Keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_templates() {
        let text = "echo: \"${{ params.who | upper }} ${{ stages.a.outputs.x }} ${{ jobs.j.stages.b }}\" params.no";
        let at = |word: &str| u32::try_from(text.find(word).expect("there") + 1).expect("small");
        assert_eq!(
            ref_at(text, at("params.who")).map(|r| r.0),
            Some(Ref::Param("who".into()))
        );
        assert_eq!(
            ref_at(text, at("upper")).map(|r| r.0),
            Some(Ref::Filter("upper".into()))
        );
        assert_eq!(
            ref_at(text, at("stages.a")).map(|r| r.0),
            Some(Ref::Stage("a".into(), None))
        );
        assert_eq!(
            ref_at(text, at("jobs.j")).map(|r| r.0),
            Some(Ref::Stage("b".into(), Some("j".into())))
        );
        // Outside a template: nothing.
        assert_eq!(ref_at(text, at("params.no")).map(|r| r.0), None);
    }

    #[test]
    fn what_a_line_asks_for() {
        assert_eq!(expecting("    echo: ${{ params."), Expecting::Params);
        assert_eq!(expecting("    echo: ${{ params.x | "), Expecting::Filters);
        assert_eq!(expecting("    echo: ${{ stages.a"), Expecting::Stages);
        assert_eq!(expecting("    echo: ${{ jobs."), Expecting::Jobs);
        assert_eq!(expecting("        - trigger: ot"), Expecting::Workflows);
        assert_eq!(expecting("          ec"), Expecting::Keys);
        assert_eq!(
            expecting("    echo: ${{ params.x }} and params."),
            Expecting::Keys
        );
    }
}
