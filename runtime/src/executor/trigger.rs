//! Trigger stage: runs another workflow's plan as a child run (its own run id, the
//! parent's as parent); the child's context becomes the stage's outputs. In a
//! dry run the child's plan is found and its params resolved, but it does not run.

use wfc_plan::PlanMap;
use wfc_plan::expr::ast::Template;

use super::{Context, Outcome};
use crate::eval;
use crate::params;
use crate::status::{self, ErrorName, Status};
use crate::value::Map;

pub(super) fn run(
    cx: &impl Context,
    local: &Map,
    retry: Option<i64>,
    workflow: &Template,
    params: &PlanMap,
) -> Outcome {
    let scope = cx.scope(local, retry);
    let name = match eval::render_text(&scope, workflow) {
        Ok(name) => name,
        Err(e) => return Outcome::eval_error(e),
    };
    if name == cx.workflow() {
        return Outcome::failed(
            ErrorName::StageError,
            "Circle execute via trigger itself workflow name.",
        );
    }
    let plan = match cx.child_plan(&name) {
        Ok(plan) => plan,
        Err(error) => return Outcome::failed(ErrorName::StageError, error.to_string()),
    };
    // Upstream renders `params` without `pass_env`: `null` stays text.
    let given = match eval::map(&cx.scope(local, retry).plain(), params) {
        Ok(map) => map,
        Err(e) => return Outcome::eval_error(e),
    };
    let resolved = match params::resolve(&plan.params, &given) {
        Ok(p) => p,
        Err(e) => return Outcome::failed(ErrorName::ParamError, e.to_string()),
    };
    if cx.cancel().is_cancelled() {
        return Outcome::cancelled("Cancel before start trigger process.");
    }
    if cx.dry_run() {
        let params = resolved
            .iter()
            .map(|(key, value)| (format!("params.{key}"), value.py_repr()));
        return Outcome::dry_run(
            std::iter::once(("workflow".to_string(), name))
                .chain(params)
                .collect(),
        );
    }
    let result = cx.run_child(&plan, resolved);
    // The child's context, less what becomes the stage's own status and errors.
    let mut outputs = result.context;
    outputs.shift_remove("info");
    outputs.shift_remove("status");
    let child_errors = outputs.shift_remove("errors");
    match result.status {
        Status::Failed => {
            let detail = child_errors
                .as_ref()
                .and_then(status::message)
                .map_or_else(|| ".".to_string(), |m| format!(" with:\n{m}"));
            Outcome {
                outputs,
                ..Outcome::failed(
                    ErrorName::StageError,
                    format!("Trigger workflow was failed{detail}"),
                )
            }
        }
        Status::Cancel => Outcome {
            outputs,
            ..Outcome::cancelled("Trigger workflow was cancel.")
        },
        Status::Skip => Outcome {
            outputs,
            ..Outcome::status(Status::Skip)
        },
        _ => Outcome::success(outputs),
    }
}
