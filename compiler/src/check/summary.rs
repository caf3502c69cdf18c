//! What the cross-file checks need to know of a workflow, small enough to cache:
//! its name, its params and where it triggers other workflows.

use serde::{Deserialize, Serialize};

use crate::span::{FileId, Span, Spanned};
use crate::syntax::expr::ast::{Part, Path};
use crate::syntax::model::{
    AxisValues, Job, ParamType, Stage, StageKind, Text, ValueKind, Workflow, WrittenValue,
};
use crate::syntax::visit::{Visitor, walk_job, walk_stage};

/// At most this many names are expanded from one templated trigger.
const MAX_EXPANSION: usize = 256;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkflowSummary {
    pub name: Spanned<String>,
    /// The whole definition.
    pub span: Span,
    pub params: Vec<ParamSummary>,
    pub triggers: Vec<TriggerSummary>,
    /// Call stages whose `uses` is plain text (`wfc check --resolve-calls`).
    #[serde(default)]
    pub calls: Vec<CallSummary>,
}

/// One Call stage with a literal `uses`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CallSummary {
    pub uses: Spanned<String>,
    /// The keys of `with:`, when it is a literal mapping (`None` when templated).
    pub args: Option<Vec<Spanned<String>>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParamSummary {
    pub name: Spanned<String>,
    /// A run must pass it (required, no default).
    pub must_pass: bool,
}

/// One trigger stage.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TriggerSummary {
    /// The `trigger:` value.
    pub span: Span,
    pub targets: Targets,
    /// The keys of `params:`, when it is a literal mapping.
    pub passed: Vec<Spanned<String>>,
}

/// What a trigger's name can be.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Targets {
    /// Every name it can take, each with the binding that gives it ("`params.kind` is `a`").
    Known(Vec<(String, String)>),
    /// Only a pattern is known: literal pieces, with any text between them.
    Pattern(Vec<String>),
}

impl WorkflowSummary {
    #[must_use]
    pub fn of(workflow: &Workflow) -> Self {
        let mut stages = Stages {
            workflow,
            job: None,
            triggers: Vec::new(),
            calls: Vec::new(),
        };
        stages.visit_workflow(workflow);
        let Stages {
            triggers, calls, ..
        } = stages;
        WorkflowSummary {
            name: workflow.name.clone(),
            span: workflow.span,
            params: workflow
                .params
                .iter()
                .map(|p| ParamSummary {
                    name: p.name.clone(),
                    must_pass: p.must_be_passed(),
                })
                .collect(),
            triggers,
            calls,
        }
    }

    /// Moves every span to `file` (summaries read back from the cache).
    pub fn set_file(&mut self, file: FileId) {
        self.name.span.file = file;
        self.span.file = file;
        for p in &mut self.params {
            p.name.span.file = file;
        }
        for t in &mut self.triggers {
            t.span.file = file;
            for k in &mut t.passed {
                k.span.file = file;
            }
        }
        for c in &mut self.calls {
            c.uses.span.file = file;
            for k in c.args.iter_mut().flatten() {
                k.span.file = file;
            }
        }
    }

    #[must_use]
    pub fn param(&self, name: &str) -> Option<&ParamSummary> {
        self.params.iter().find(|p| p.name.value == name)
    }
}

/// The call and trigger stages of a workflow.
struct Stages<'a> {
    workflow: &'a Workflow,
    /// The job being walked.
    job: Option<&'a Job>,
    triggers: Vec<TriggerSummary>,
    calls: Vec<CallSummary>,
}

impl<'a> Visitor<'a> for Stages<'a> {
    fn visit_job(&mut self, job: &'a Job) {
        self.job = Some(job);
        walk_job(self, job);
    }

    fn visit_stage(&mut self, stage: &'a Stage) {
        if let StageKind::Call { uses, args } = &stage.kind
            && uses.template.is_literal()
        {
            let args = match args {
                None => Some(Vec::new()),
                Some(value) => value.as_map().map(|map| {
                    map.iter()
                        .map(|(k, _)| Spanned::new(k.name.clone(), k.span))
                        .collect()
                }),
            };
            self.calls.push(CallSummary {
                uses: Spanned::new(uses.raw.clone(), uses.span),
                args,
            });
        }
        if let (StageKind::Trigger { trigger, params }, Some(job)) = (&stage.kind, self.job) {
            let passed = params
                .as_ref()
                .and_then(WrittenValue::as_map)
                .unwrap_or(&[])
                .iter()
                .map(|(k, _)| Spanned::new(k.name.clone(), k.span))
                .collect();
            self.triggers.push(TriggerSummary {
                span: trigger.span,
                targets: targets(self.workflow, job, trigger),
                passed,
            });
        }
        walk_stage(self, stage);
    }
}

/// The names a trigger can produce: its text with every template replaced by each
/// value it can take (choice params, static matrix values); else a pattern.
pub(crate) fn targets(workflow: &Workflow, job: &Job, trigger: &Text) -> Targets {
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
fn choices(workflow: &Workflow, job: &Job, path: &Path) -> Option<(String, Vec<String>)> {
    let root = path.root()?;
    let key = path.name_at(1)?;
    if path.segments.len() != 2 {
        return None;
    }
    let values: Vec<&WrittenValue> = match root {
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
            let mut all: Vec<&WrittenValue> = list.iter().collect();
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
            ValueKind::BigInt(digits) => digits.clone(),
            _ => return None,
        };
        if !out.contains(&text) {
            out.push(text);
        }
    }
    Some((format!("{root}.{key}"), out))
}
