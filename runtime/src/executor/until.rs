//! Until stage: a do-while loop. Each pass runs the nested stages with `item` and
//! `loop` (from 1); the next item is the `item` output of a nested stage, else the
//! next loop number; the loop ends when `until` holds. No random sleep between
//! passes (upstream sleeps up to 0.9 s).

use std::sync::Arc;

use wfc_plan::{CondPlan, PValue, StagePlan};

use super::{Outcome, nested_entry};
use crate::eval::{self, Bindings};
use crate::status::{self, Status};
use crate::value::{Map, Sharing, Text, Value};
use crate::vm::stage::{StageCx, run_list};

pub(super) fn run(
    cx: &StageCx,
    local: &Map,
    item: &PValue,
    until: &CondPlan,
    stages: &[StagePlan],
    max_loop: u32,
) -> Outcome {
    let mut item = match eval::value(&cx.scope(local, None), item) {
        Ok(v) => v,
        Err(e) => return Outcome::eval_error(e),
    };
    let local = Arc::new(local.clone());
    let mut passes = Map::default();
    let sharing = Sharing::default();
    let mut statuses = Vec::new();
    let mut lap: u32 = 1;
    let outcome = |passes: Map, status: Status, errors: Option<Value>| {
        let mut outputs = Map::default();
        outputs.insert("until".into(), Value::from(passes));
        Outcome {
            status,
            outputs,
            errors,
            retried: None,
        }
    };
    loop {
        if lap > max_loop {
            let plural = if max_loop > 1 { "s" } else { "" };
            let mut failed = Outcome::failed(
                "StageError",
                format!("Loop was exceed the maximum {max_loop} loop{plural}."),
            );
            failed.outputs.insert("until".into(), Value::from(passes));
            return failed;
        }
        if cx.cancel.is_cancelled() {
            let mut cancelled =
                Outcome::cancelled(format!("Cancel before start loop process, (loop: {lap})."));
            cancelled
                .outputs
                .insert("until".into(), Value::from(passes));
            return cancelled;
        }
        let bindings = Bindings {
            item: Some(item.clone()),
            loop_index: Some(Value::Int(i64::from(lap))),
            ..Bindings::default()
        };
        let nested = cx.nested(&local, bindings, ["#", itoa::Buffer::new().format(lap), ""]);
        let list = run_list(&nested, stages);
        let next_item = list
            .stages
            .values()
            .rev()
            .find_map(|r| r.as_map()?.get("outputs")?.as_map()?.get("item").cloned());
        let error = match (&list.stopped_by, list.cancelled_before) {
            (_, true) => Some((
                "StageCancelError",
                format!("Cancel loop: {lap} before start nested process."),
            )),
            (Some((iden, Status::Failed)), _) => Some((
                "StageNestedError",
                format!(
                    "Break loop: {lap} because nested stage: {}, failed.",
                    Value::Str(iden.clone()).py_repr()
                ),
            )),
            (Some(_), _) => Some((
                "StageNestedCancelError",
                format!("Cancel loop: {lap} after end nested process."),
            )),
            _ => None,
        };
        let errors = error.map(|(name, message)| status::error(name, message));
        passes.insert(
            Text::from(lap.to_string()),
            nested_entry(
                list.status,
                [
                    (Text::const_new("loop"), Value::Int(i64::from(lap))),
                    (Text::const_new("item"), item.clone()),
                ],
                sharing.share(list.stages.clone()),
                errors.clone(),
            ),
        );
        if let Some(errors) = errors {
            return outcome(passes, list.status, Some(errors));
        }
        statuses.push(list.status);
        lap += 1;
        item = next_item.unwrap_or(Value::Int(i64::from(lap)));
        // `until` sees the next item and the body's stages.
        let overlay = Bindings {
            item: Some(item.clone()),
            loop_index: Some(Value::Int(i64::from(lap))),
            ..Bindings::default()
        };
        let mut scope = nested.scope(&list.stages, None);
        scope.overlay = Some(&overlay);
        match until {
            CondPlan::Bool(done) if *done => break,
            CondPlan::Bool(_) => {}
            CondPlan::Expr { expr, .. } => match eval::expr(&scope, expr) {
                Ok(Value::Bool(true)) => break,
                Ok(Value::Bool(false)) => {}
                Ok(other) => {
                    let mut failed = Outcome::failed(
                        "TypeError",
                        format!(
                            "Return type of until condition not be `boolean`, getting: {}",
                            other.py_repr()
                        ),
                    );
                    failed.outputs.insert("until".into(), Value::from(passes));
                    return failed;
                }
                Err(e) => {
                    let mut failed = Outcome::eval_error(e);
                    failed.outputs.insert("until".into(), Value::from(passes));
                    return failed;
                }
            },
        }
    }
    outcome(passes, Status::aggregate(statuses), None)
}
