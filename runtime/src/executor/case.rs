//! Case stage: the stages of the first arm whose rendered `case` equals the
//! rendered value (type-sensitive, as upstream), else the default arm.

use std::sync::Arc;

use wfc_plan::expr::ast::Template;
use wfc_plan::{ArmPlan, PlanValue};

use super::{Context, Outcome, Step, Stop};
use crate::eval::{self, Bindings};
use crate::status::{self, ErrorName, Status};
use crate::value::{Map, Value};

pub(super) fn run(
    cx: &impl Context,
    local: &Map,
    case: &Template,
    arms: &[ArmPlan],
    skip_not_match: bool,
) -> Outcome {
    let scope = cx.scope(local, None);
    // Upstream renders the value without `pass_env` (what the output shows), and
    // compares it and each arm's case through `pass_env` (`null` is None).
    let value = match eval::render(&cx.scope(local, None).plain(), case) {
        Ok(v) => v,
        Err(e) => return Outcome::eval_error(e),
    };
    let compared = match &value {
        Value::Str(s) if s == "null" => Value::Null,
        other => other.clone(),
    };
    let mut chosen = None;
    for arm in arms {
        let Some(candidate) = &arm.case else { continue };
        let candidate = match candidate {
            PlanValue::Str(t) => eval::render(&scope, t),
            other => eval::value(&scope, other),
        };
        match candidate {
            Ok(candidate) if same(&candidate, &compared) => {
                chosen = Some((value.clone(), arm));
                break;
            }
            Ok(_) => {}
            Err(e) => return Outcome::eval_error(e),
        }
    }
    let (label, arm) = match chosen.or_else(|| {
        // With both `case: _` and `else:`, the one listed last (as upstream).
        arms.iter()
            .rev()
            .find(|a| a.case.is_none())
            .map(|a| (Value::str("_"), a))
    }) {
        Some(found) => found,
        None if skip_not_match => return Outcome::status(Status::Skip),
        None => {
            return Outcome::failed(
                ErrorName::StageError,
                "This stage does not set else for support not match any case.",
            );
        }
    };
    if cx.cancel().is_cancelled() {
        return Outcome::cancelled("Cancel before start case process.");
    }
    let bindings = Bindings {
        case: Some(label.clone()),
        ..Bindings::default()
    };
    let nested = cx.nested(
        &Arc::new(local.clone()),
        bindings,
        Step::Branch(&label.py_str()),
    );
    let list = nested.run_list(&arm.stages, Map::with_capacity(arm.stages.len()));
    // Upstream's words differ from the other nested stages' (`nested.rs`).
    let errors = list.stop.map(|stop| match stop {
        // Upstream names this one StageError (its status is CANCEL all the same).
        Stop::CancelledBefore => status::error(
            ErrorName::StageError,
            format!(
                "Cancel case: {} before start nested process.",
                label.py_repr()
            ),
        ),
        Stop::Failed(iden) => status::error(
            ErrorName::StageError,
            format!(
                "Break case: {} because nested stage: {iden}, failed.",
                label.py_repr()
            ),
        ),
        Stop::Cancelled => status::error(
            ErrorName::StageCancelError,
            format!("Cancel case {} after end nested process.", label.py_repr()),
        ),
        Stop::Runner(error) => error,
    });
    let mut outputs = Map::default();
    outputs.insert("case".into(), label);
    outputs.insert("stages".into(), Value::from(list.stages));
    Outcome {
        status: list.status,
        outputs,
        errors,
        retried: None,
        dry_run: None,
    }
}

/// Python `==` between the rendered values: `"2"` does not equal `2`.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(_), Value::Int(_) | Value::BigInt(_) | Value::Float(_))
        | (Value::Int(_) | Value::BigInt(_) | Value::Float(_), Value::Str(_)) => false,
        _ => a.py_eq(b),
    }
}
