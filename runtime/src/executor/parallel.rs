//! Parallel stage: every branch's stages on the pool, up to `max-workers` at once.
//! All branches run to the end (no fail-fast), as upstream.

use std::sync::Arc;

use wfc_plan::pytext::repr_str;
use wfc_plan::{Count, StagePlan};

use super::{Outcome, nested_entry};
use crate::eval::{self, Bindings};
use crate::status::{self, Status};
use crate::value::{Map, Text, Value};
use crate::vm::fanout::{self, Done};
use crate::vm::stage::{StageCx, run_list};

pub(super) fn run(
    cx: &StageCx,
    local: &Map,
    branches: &[(String, Vec<StagePlan>)],
    max_workers: &Count,
) -> Outcome {
    let workers = match max_workers {
        Count::Fixed(n) => i64::from(*n),
        Count::Template(t) => match eval::render(&cx.scope(local, None), t) {
            Ok(Value::Int(n)) => n,
            Ok(Value::Str(s)) => s.trim().parse().unwrap_or(0),
            Ok(_) => 0,
            Err(e) => return Outcome::eval_error(e),
        },
    };
    if !(1..20).contains(&workers) {
        return Outcome::failed("ValueError", "A max-workers value should between 1 and 19.");
    }
    if cx.cancel.is_cancelled() {
        return Outcome::cancelled("Cancel before start parallel process.");
    }
    let units: Vec<(String, Arc<Vec<StagePlan>>)> = branches
        .iter()
        .map(|(name, stages)| (name.clone(), Arc::new(stages.clone())))
        .collect();
    let local = Arc::new(local.clone());
    let results = fanout::run(
        cx,
        units,
        usize::try_from(workers).unwrap_or(1),
        false,
        move |cx, _, (branch, stages): (String, Arc<Vec<StagePlan>>)| {
            let bindings = Bindings {
                branch: Some(Value::str(&branch)),
                ..Bindings::default()
            };
            let nested = cx.nested(&local, bindings, ["/", &branch, ""]);
            let list = run_list(&nested, &stages);
            let error = match (&list.stopped_by, list.cancelled_before) {
                (_, true) => Some((
                    "StageCancelError",
                    format!(
                        "Cancel branch: {} before start nested process.",
                        repr_str(&branch)
                    ),
                )),
                (Some((iden, Status::Failed)), _) => Some((
                    "StageError",
                    format!(
                        "Break branch: {} because nested stage: {}, failed.",
                        repr_str(&branch),
                        repr_str(iden)
                    ),
                )),
                (Some((_, _)), _) => Some((
                    "StageCancelError",
                    format!(
                        "Cancel branch: {} after end nested process.",
                        repr_str(&branch)
                    ),
                )),
                _ => None,
            };
            let errors = error.map(|(name, message)| status::error(name, message));
            let status = list.status;
            let entry = nested_entry(
                status,
                [(Text::const_new("branch"), Value::str(&branch))],
                Value::from(list.stages),
                errors.clone(),
            );
            Done {
                failed: matches!(status, Status::Failed | Status::Cancel),
                result: (branch, status, entry, errors),
            }
        },
    );
    let mut parallel = Map::default();
    let mut errors = Map::default();
    let mut statuses = Vec::new();
    for (branch, status, entry, error) in results.into_iter().flatten() {
        statuses.push(status);
        if let Some(error) = error {
            errors.insert(Text::from(branch.as_str()), error);
        }
        parallel.insert(Text::from(branch), entry);
    }
    let mut outputs = Map::default();
    outputs.insert("workers".into(), Value::Int(workers));
    outputs.insert("parallel".into(), Value::from(parallel));
    Outcome {
        status: Status::aggregate(statuses),
        outputs,
        errors: (!errors.is_empty()).then_some(Value::from(errors)),
        retried: None,
    }
}
