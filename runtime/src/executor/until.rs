//! Until stage: a do-while loop. Each pass runs the nested stages with `item` and
//! `loop` (from 1); the next item is the `item` output of a nested stage, else the
//! next loop number; the loop ends when `until` holds. No random sleep between
//! passes (upstream sleeps up to 0.9 s).

use wfc_plan::{CondPlan, PlanValue, StagePlan};

use super::nested::{self, Unit, Units};
use super::{Context, Outcome, Step};
use crate::eval::{self, Bindings};
use crate::status::ErrorName;
use crate::value::{Map, Str, Value};

pub(super) fn run(
    cx: &impl Context,
    local: &Map,
    item: &PlanValue,
    until: &CondPlan,
    stages: &[StagePlan],
    max_loop: u32,
) -> Outcome {
    let mut item = match eval::value(&cx.scope(local, None), item) {
        Ok(v) => v,
        Err(e) => return Outcome::eval_error(e),
    };
    let units = Units::new(&nested::PASS, local, true);
    let mut passes = Vec::new();
    let no_results = Map::default();
    // The passes so far under `until`, in the outcome.
    let with_passes = |mut outcome: Outcome, passes: Vec<_>| {
        let folded = units.fold(passes, true);
        outcome
            .outputs
            .insert("until".into(), Value::from(folded.entries));
        outcome
    };
    let mut lap: u32 = 1;
    loop {
        if lap > max_loop {
            let plural = if max_loop > 1 { "s" } else { "" };
            let failed = Outcome::failed(
                ErrorName::StageError,
                format!("Loop was exceed the maximum {max_loop} loop{plural}."),
            );
            return with_passes(failed, passes);
        }
        if cx.cancel().is_cancelled() {
            let cancelled =
                Outcome::cancelled(format!("Cancel before start loop process, (loop: {lap})."));
            return with_passes(cancelled, passes);
        }
        let bindings = Bindings {
            item: Some(item.clone()),
            loop_index: Some(Value::Int(i64::from(lap))),
            ..Bindings::default()
        };
        let unit = Unit {
            label: &Value::Int(i64::from(lap)),
            bindings,
            step: Step::Pass(lap),
        };
        let ran = units.run(cx, stages, unit);
        // What the pass's stages gave, for the next item and for `until`.
        let results = ran.result.stages.clone();
        let results = results.as_map().unwrap_or(&no_results);
        let next_item = results
            .values()
            .rev()
            .find_map(|r| r.as_map()?.get("outputs")?.as_map()?.get("item").cloned());
        let status = ran.result.status;
        let errors = ran.result.errors.clone();
        passes.push(Some(units.place(
            passes.len(),
            Str::from(itoa::Buffer::new().format(lap)),
            ran.result,
            [
                (Str::const_new("loop"), Value::Int(i64::from(lap))),
                (Str::const_new("item"), item.clone()),
            ],
        )));
        if errors.is_some() {
            let stopped = Outcome {
                status,
                outputs: Map::default(),
                errors,
                retried: None,
                dry_run: None,
            };
            return with_passes(stopped, passes);
        }
        lap += 1;
        item = next_item.unwrap_or(Value::Int(i64::from(lap)));
        // `until` sees the next item and the body's stages.
        let overlay = Bindings {
            item: Some(item.clone()),
            loop_index: Some(Value::Int(i64::from(lap))),
            ..Bindings::default()
        };
        let mut scope = ran.cx.scope(results, None);
        scope.overlay = Some(&overlay);
        match until {
            CondPlan::Bool(done) if *done => break,
            CondPlan::Bool(_) => {}
            CondPlan::Expr { expr, .. } => match eval::expr(&scope, expr) {
                Ok(Value::Bool(true)) => break,
                Ok(Value::Bool(false)) => {}
                Ok(other) => {
                    let failed = Outcome::failed(
                        ErrorName::TypeError,
                        format!(
                            "Return type of until condition not be `boolean`, getting: {}",
                            other.py_repr()
                        ),
                    );
                    return with_passes(failed, passes);
                }
                Err(e) => return with_passes(Outcome::eval_error(e), passes),
            },
        }
    }
    let folded = units.fold(passes, true);
    let mut outputs = Map::default();
    outputs.insert("until".into(), Value::from(folded.entries));
    Outcome {
        status: folded.status,
        outputs,
        errors: None,
        retried: None,
        dry_run: None,
    }
}
