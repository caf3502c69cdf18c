//! Parallel stage: every branch's stages on the pool, up to `max-workers` at once.
//! All branches run to the end (no fail-fast), as upstream.

use std::sync::Arc;

use wfc_plan::{Bound, StagePlan};

use super::nested::{self, Unit, Units};
use super::{Context, Outcome, Step};
use crate::eval::{self, Bindings};
use crate::status::ErrorName;
use crate::value::{Map, Str, Value};

pub(super) fn run(
    cx: &impl Context,
    local: &Map,
    branches: &[(String, Vec<StagePlan>)],
    max_workers: &Bound,
) -> Outcome {
    let workers = match max_workers {
        Bound::Fixed(n) => i64::from(*n),
        Bound::Template(t) => match eval::render(&cx.scope(local, None), t) {
            Ok(Value::Int(n)) => n,
            Ok(Value::Str(s)) => s.trim().parse().unwrap_or(0),
            Ok(_) => 0,
            Err(e) => return Outcome::eval_error(e),
        },
    };
    if !(1..20).contains(&workers) {
        return Outcome::failed(
            ErrorName::ValueError,
            "A max-workers value should between 1 and 19.",
        );
    }
    if cx.cancel().is_cancelled() {
        return Outcome::cancelled("Cancel before start parallel process.");
    }
    let units: Vec<(String, Arc<Vec<StagePlan>>)> = branches
        .iter()
        .map(|(name, stages)| (name.clone(), Arc::new(stages.clone())))
        .collect();
    let nested = Arc::new(Units::new(&nested::BRANCH, local, false));
    let each = Arc::clone(&nested);
    let results = cx.fan_out(
        units,
        usize::try_from(workers).unwrap_or(1),
        false,
        move |cx, index, (branch, stages): (String, Arc<Vec<StagePlan>>)| {
            let name = Value::str(&branch);
            let unit = Unit {
                label: &name,
                bindings: Bindings {
                    branch: Some(name.clone()),
                    ..Bindings::default()
                },
                step: Step::Branch(&branch),
            };
            each.run_placed(
                cx,
                &stages,
                unit,
                (index, Str::from(branch.as_str())),
                [(Str::const_new("branch"), name.clone())],
            )
        },
    );
    let folded = nested.fold(results, false);
    let mut outputs = Map::default();
    outputs.insert("workers".into(), Value::Int(workers));
    outputs.insert("parallel".into(), Value::from(folded.entries));
    Outcome {
        status: folded.status,
        outputs,
        errors: folded.errors,
        retried: None,
        dry_run: None,
    }
}
