//! Warnings: templates spliced into scripts, and conditions that never change.

use super::{cond_span, text_span};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::SourceFile;
use crate::syntax::model::{Condition, Job, Stage, StageKind, Workflow};
use crate::syntax::visit::{Visitor, walk_job, walk_stage};

pub(super) fn check(source: &SourceFile, workflow: &Workflow, out: &mut Vec<Diagnostic>) {
    // `needs::check` has no text to make its fixes from; this has.
    super::needs::fix_duplicates(source, workflow, out);
    Lint { source, out }.visit_workflow(workflow);
}

struct Lint<'a> {
    source: &'a SourceFile,
    out: &'a mut Vec<Diagnostic>,
}

impl<'a> Visitor<'a> for Lint<'_> {
    fn visit_job(&mut self, job: &'a Job) {
        if let Some(cond) = &job.cond {
            constant(self.source, cond, "job", self.out);
        }
        walk_job(self, job);
    }

    fn visit_stage(&mut self, stage: &'a Stage) {
        if let Some(cond) = &stage.cond {
            constant(self.source, cond, "stage", self.out);
        }
        script(self.source, &stage.kind, self.out);
        walk_stage(self, stage);
    }
}

/// Templates spliced into a script's text.
fn script(source: &SourceFile, kind: &StageKind, out: &mut Vec<Diagnostic>) {
    let (script, language, advice) = match kind {
        StageKind::Bash { bash, .. } => (
            bash,
            "shell",
            "pass the value through `env` and use `\"$NAME\"` in the script",
        ),
        StageKind::Py { run, .. } | StageKind::VirtualPy { run, .. } => (
            run,
            "Python",
            "pass the value through `vars` and use the variable in the code",
        ),
        _ => return,
    };
    for interp in script.template.interps() {
        out.push(
            Diagnostic::new(
                Code::TemplateInScript,
                text_span(source, script, interp.range),
                format!("template spliced into {language} code; a value containing code would run"),
            )
            .label("pasted into the script text")
            .help(advice),
        );
    }
}

fn constant(source: &SourceFile, cond: &Condition, what: &str, out: &mut Vec<Diagnostic>) {
    let (span, value) = match cond {
        Condition::Bool(b) => (b.span, Some(b.value)),
        Condition::Expr(c) => match &c.expr {
            Some(expr) if expr.is_constant() => (cond_span(source, c, expr.range), None),
            _ => return,
        },
    };
    let outcome = match value {
        Some(true) => format!("the {what} always runs"),
        Some(false) => format!("the {what} never runs"),
        None => format!("the {what} always runs or never runs"),
    };
    out.push(
        Diagnostic::new(
            Code::ConstantCondition,
            span,
            format!("this `if` does not depend on anything: {outcome}"),
        )
        .label("constant condition")
        .help(format!(
            "remove the `if` (or the {what}), or make it depend on a param"
        )),
    );
}
