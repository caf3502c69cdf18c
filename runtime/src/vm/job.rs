//! One job: its `if`, its strategies (matrix combinations, up to `max-parallel` at
//! a time, fail-fast), and its context entry.

use std::sync::Arc;

use wfc_plan::{Axis, Bound, Combination, JobPlan, MatrixPlan, PlanMap, PlanValue};

use super::fanout;
use super::stage::{Base, Place, StageCx};
use super::{JobRef, Prior, RunCx, ended_success};
use crate::cancel::Cancel;
use crate::eval::{self, Frame, Scope};
use crate::events::{Kind, RunEvent};
use crate::executor::{Done, Stop};
use crate::status::{self, ErrorName, Status};
use crate::value::{Map, Str, Value};

/// A finished job: its status and its entry under `jobs.<id>`.
pub(crate) struct JobResult {
    pub status: Status,
    pub context: Value,
    /// Why it failed before any stage ran (for its log line; upstream's context
    /// does not always say).
    pub failure: Option<String>,
}

impl JobResult {
    /// A job that ended before any strategy ran: its status, its errors.
    fn only(job: &JobPlan, status: Status, errors: Option<Value>) -> Self {
        let failure = errors
            .as_ref()
            .and_then(status::message)
            .map(str::to_string);
        Self {
            status,
            context: not_run(job, status, errors),
            failure,
        }
    }
}

/// The entry of a job that ran no strategy (skipped by its `if` or its needs,
/// cancelled or failed before it started): `{status, errors?}`, with upstream's
/// `strategies: {}` for a job with a matrix.
pub(crate) fn not_run(job: &JobPlan, status: Status, errors: Option<Value>) -> Value {
    let mut map = Map::default();
    if !matches!(job.strategy.matrix, MatrixPlan::None) {
        map.insert("strategies".into(), Value::from(Map::default()));
    }
    if let Some(errors) = errors {
        map.insert("errors".into(), errors);
    }
    map.insert("status".into(), status.value());
    Value::from(map)
}

fn scope<'a>(run: &'a RunCx, jobs: &'a Map, empty: &'a Map, frame: &'a Frame) -> Scope<'a> {
    Scope {
        params: &run.params,
        jobs,
        matrix: empty,
        local: empty,
        frame,
        retry: None,
        overlay: None,
        env: &eval::process_env,
        pass_env: true,
        release: None,
    }
}

/// Runs a job whose needs are met. `jobs` holds the finished jobs' entries; in a
/// rerun, `prior` what the run it reruns left (a matrix job keeps the
/// strategies that succeeded there).
pub(crate) fn run(
    run: &Arc<RunCx>,
    job: &Arc<JobRef>,
    jobs: Arc<Map>,
    cancel: &Cancel,
    prior: Option<&Prior>,
) -> JobResult {
    let empty = Map::default();
    let root = Arc::new(Frame::default());
    if let Some(cond) = &job.cond {
        match eval::condition(&scope(run, &jobs, &empty, &root), cond) {
            Ok(true) => {}
            Ok(false) => return JobResult::only(job, Status::Skip, None),
            // Upstream's job context says only FAILED; the log line says why.
            Err(e) => {
                return JobResult {
                    failure: Some(format!("its `if` failed: {}: {}", e.name, e.message)),
                    ..JobResult::only(job, Status::Failed, None)
                };
            }
        }
    }
    let max_parallel = match &job.strategy.max_parallel {
        Bound::Fixed(n) => i64::from(*n),
        Bound::Template(t) => {
            match eval::render(&scope(run, &jobs, &empty, &root).plain(), t)
                .map_err(|e| status::error(e.name, e.message))
                .and_then(|v| py_int(&v))
            {
                Ok(n) => n,
                Err(error) => return JobResult::only(job, Status::Failed, Some(error)),
            }
        }
    };
    if max_parallel >= 10 {
        return JobResult::only(
            job,
            Status::Failed,
            Some(status::error(
                ErrorName::JobError,
                format!(
                    "The max-parallel value should not more than 10, the current value was set: {max_parallel}."
                ),
            )),
        );
    }
    // Upstream's thread pool refuses it (and the job is lost from the context).
    if max_parallel < 1 {
        return JobResult::only(
            job,
            Status::Failed,
            Some(status::error(
                ErrorName::ValueError,
                format!(
                    "max-parallel must be at least 1, the current value was set: {max_parallel}."
                ),
            )),
        );
    }
    let combinations = match strategies(run, job, &jobs) {
        Ok(c) => c,
        Err(error) => {
            return JobResult::only(
                job,
                Status::Failed,
                Some(status::error(ErrorName::JobError, error.to_string())),
            );
        }
    };
    if cancel.is_cancelled() {
        return JobResult::only(
            job,
            Status::Cancel,
            Some(status::error(
                ErrorName::JobCancelError,
                "Execution was canceled from the event before start local job execution.",
            )),
        );
    }
    // Where its strategies run; a job whose `runs-on` cannot be honoured here
    // fails, it never runs locally instead.
    let runner = match crate::runner::for_job(run, job) {
        Ok(runner) => runner,
        Err(error) => return JobResult::only(job, Status::Failed, Some(error)),
    };
    let cx = StageCx::new(
        Base {
            run: Arc::clone(run),
            jobs,
            matrix: Arc::new(Map::default()),
            cancel: cancel.clone(),
            host: crate::runner::Host::Local,
        },
        root,
        Place::root(&job.id),
    );
    let is_matrix = !matches!(job.strategy.matrix, MatrixPlan::None);
    // In a rerun, the strategies that succeeded are kept, in their place.
    let (places, combinations) = match prior {
        Some(prior) if is_matrix => keep_succeeded(run, job, prior, combinations),
        _ => (
            std::iter::repeat_with(|| None)
                .take(combinations.len())
                .collect(),
            combinations,
        ),
    };
    let job_for_units = Arc::clone(job);
    let results = fanout::run(
        &cx,
        combinations,
        usize::try_from(max_parallel).unwrap_or(1),
        job.strategy.fail_fast,
        move |cx, _, combination: (String, Map)| {
            let (id, matrix) = combination;
            let path = if is_matrix {
                format!("{}/{id}", job_for_units.id)
            } else {
                job_for_units.id.clone()
            };
            let strategy_cx = cx.with_matrix(matrix.clone(), Place::root(&path));
            let events = &strategy_cx.run.events;
            events.emit(Kind::StrategyStarted, || RunEvent::StrategyStarted {
                job: &job_for_units.id,
                strategy: &id,
                at: &path,
                matrix: &strategy_cx.matrix,
            });
            let list = runner.run_strategy(&strategy_cx, &job_for_units, &id);
            let error = list.stop.as_ref().map(|stop| match stop {
                Stop::CancelledBefore => status::error(
                    ErrorName::JobCancelError,
                    "Strategy execution was canceled from the event before start stage execution.",
                ),
                Stop::Failed(iden) => status::error(
                    ErrorName::JobError,
                    format!(
                        "Strategy execution was break because its nested-stage, {}, failed.",
                        Value::Str(iden.clone()).py_repr()
                    ),
                ),
                Stop::Cancelled => status::error(
                    ErrorName::JobCancelError,
                    "Strategy execution was canceled from the event after end stage execution.",
                ),
                Stop::Runner(error) => error.clone(),
            });
            events.emit(Kind::StrategyEnded, || RunEvent::StrategyEnded {
                job: &job_for_units.id,
                strategy: &id,
                at: &path,
                status: list.status,
                error: error.as_ref(),
            });
            let mut entry = Map::default();
            entry.insert("status".into(), list.status.value());
            entry.insert("matrix".into(), Value::from(matrix));
            entry.insert("stages".into(), Value::from(list.stages));
            if let Some(error) = &error {
                entry.insert("errors".into(), error.clone());
            }
            Done {
                failed: matches!(list.status, Status::Failed | Status::Cancel),
                result: (id, list.status, entry, error),
            }
        },
    );
    // Each strategy in its place: kept, or as it ran (none if it never started).
    let mut ran = results.into_iter();
    let results = places.into_iter().map(|kept| match kept {
        Some((id, entry)) => Some((id, Status::Success, entry, None)),
        None => ran
            .next()
            .flatten()
            .map(|(id, status, entry, error)| (id, status, Value::from(entry), error)),
    });
    let mut statuses = Vec::new();
    let mut strategies = Map::default();
    let mut errors: Vec<(String, Value)> = Vec::new();
    for result in results {
        match result {
            Some((id, status, entry, error)) => {
                statuses.push(status);
                if let Some(error) = error {
                    errors.push((id.clone(), error));
                }
                strategies.insert(Str::from(id), entry);
            }
            None => statuses.push(Status::Cancel),
        }
    }
    let status = Status::aggregate(statuses);
    let mut context = Map::default();
    if is_matrix {
        context.insert("strategies".into(), Value::from(strategies));
        if !errors.is_empty() {
            context.insert(
                "errors".into(),
                Value::from(
                    errors
                        .into_iter()
                        .map(|(k, v)| (Str::from(k), v))
                        .collect::<Map>(),
                ),
            );
        }
    } else {
        // One strategy: its stages sit directly under the job.
        if let Some(Value::Map(only)) = strategies.into_values().next() {
            let mut only = Arc::unwrap_or_clone(only);
            only.shift_remove("matrix");
            only.shift_remove("status");
            only.shift_remove("errors");
            context.extend(only);
        }
        if let Some((_, error)) = errors.into_iter().next() {
            context.insert("errors".into(), error);
        }
    }
    context.insert("status".into(), status.value());
    let context = Value::from(context);
    // Live foreign objects (Python functions) stay inside their job.
    let context = if run.foreign.load(std::sync::atomic::Ordering::Relaxed) {
        context.without_foreign()
    } else {
        context
    };
    JobResult {
        status,
        context,
        failure: None,
    }
}

/// A strategy of a job: its id and entry when a rerun keeps it, none when it
/// runs.
type Kept = Option<(String, Value)>;

/// In a rerun, splits a matrix job's strategies: the ones that ended SUCCESS in
/// the run it reruns (the same id, so the same matrix values) are kept and
/// told; the others run. Returns every strategy in the matrix's order, kept or
/// not, and the ones to run.
fn keep_succeeded(
    run: &RunCx,
    job: &JobPlan,
    prior: &Prior,
    combinations: Vec<(String, Map)>,
) -> (Vec<Kept>, Vec<(String, Map)>) {
    let before = prior.strategies(&job.id);
    let mut places = Vec::with_capacity(combinations.len());
    let mut to_run = Vec::with_capacity(combinations.len());
    for (id, matrix) in combinations {
        let kept = before
            .and_then(|before| before.get(id.as_str()))
            .filter(|entry| ended_success(entry));
        if let Some(entry) = kept {
            run.events
                .emit(Kind::StrategyReused, || RunEvent::StrategyReused {
                    job: &job.id,
                    strategy: &id,
                    from_run: &prior.run_id,
                });
            places.push(Some((id, entry.clone())));
        } else {
            places.push(None);
            to_run.push((id, matrix));
        }
    }
    (places, to_run)
}

/// Python's `int()` of a rendered `max-parallel`: an int, a bool, a float
/// (truncated) or the text of an int; upstream's errors otherwise.
fn py_int(value: &Value) -> Result<i64, Value> {
    #[allow(clippy::cast_possible_truncation)]
    match value {
        Value::Int(n) => Ok(*n),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Float(x) if x.is_finite() && x.abs() < 9.2e18 => Ok(x.trunc() as i64),
        Value::Str(s) => s.trim().replace('_', "").parse().map_err(|_| {
            status::error(
                ErrorName::ValueError,
                format!(
                    "invalid literal for int() with base 10: {}",
                    value.py_repr()
                ),
            )
        }),
        other => Err(status::error(
            ErrorName::TypeError,
            format!(
                "int() argument must be a string, a bytes-like object or a real number, not {}",
                Value::str(other.type_name()).py_repr()
            ),
        )),
    }
}

/// Why a job's templated matrix gives no strategies: the job fails with it.
#[derive(Debug, thiserror::Error)]
enum StrategyError {
    /// A value or template of the matrix does not render (its message alone).
    #[error("{}", .0.message)]
    Render(#[from] eval::EvalError),
    #[error("matrix key `{key}` must give a list, got {got}")]
    NotAList { key: String, got: String },
    #[error("the matrix of job `{job}` {}", error.message())]
    Matrix {
        job: String,
        error: wfc_plan::matrix::MatrixError,
    },
}

/// The job's strategies: `(id, matrix)` pairs; one empty strategy without a matrix.
fn strategies(run: &RunCx, job: &JobPlan, jobs: &Map) -> Result<Vec<(String, Map)>, StrategyError> {
    let to_map = |c: &Combination| -> Map {
        c.values
            .iter()
            .map(|(k, v)| (Str::from(k.as_str()), Value::from_plan(v, true)))
            .collect()
    };
    match &job.strategy.matrix {
        MatrixPlan::None => Ok(vec![(
            wfc_plan::matrix::EMPTY_ID.to_string(),
            Map::default(),
        )]),
        MatrixPlan::Static(combinations) => Ok(combinations
            .iter()
            .map(|c| (c.id.clone(), to_map(c)))
            .collect()),
        MatrixPlan::Dynamic {
            axes,
            include,
            exclude,
        } => dynamic(run, job, jobs, axes, include, exclude),
    }
}

/// A templated matrix, expanded now with upstream's rules.
fn dynamic(
    run: &RunCx,
    job: &JobPlan,
    jobs: &Map,
    axes: &[(String, Axis)],
    include: &[PlanMap],
    exclude: &[PlanMap],
) -> Result<Vec<(String, Map)>, StrategyError> {
    let empty = Map::default();
    let root = Frame::default();
    let scope = scope(run, jobs, &empty, &root);
    let render = |v: &PlanValue| eval::value(&scope, v).map_err(StrategyError::from);
    let mut columns: Vec<(String, Vec<Value>)> = Vec::with_capacity(axes.len());
    for (key, axis) in axes {
        let values = match axis {
            Axis::Values(values) => values.iter().map(render).collect::<Result<Vec<_>, _>>()?,
            Axis::Template(t) => match eval::render(&scope, t)? {
                Value::List(items) | Value::Tuple(items) => items,
                other => {
                    return Err(StrategyError::NotAList {
                        key: key.clone(),
                        got: other.py_repr(),
                    });
                }
            },
        };
        columns.push((key.clone(), values));
    }
    let rows = |list: &[PlanMap]| -> Result<Vec<Vec<(String, Value)>>, StrategyError> {
        list.iter()
            .map(|m| m.iter().map(|(k, v)| Ok((k.clone(), render(v)?))).collect())
            .collect()
    };
    let (include, exclude) = (rows(include)?, rows(exclude)?);
    let kept =
        wfc_plan::matrix::make(&columns, &include, &exclude, Value::py_eq).map_err(|error| {
            StrategyError::Matrix {
                job: job.id.clone(),
                error,
            }
        })?;
    Ok(kept
        .into_iter()
        .map(|row| {
            let row: Map = row.into_iter().map(|(k, v)| (Str::from(k), v)).collect();
            let id = if row.is_empty() {
                wfc_plan::matrix::EMPTY_ID.to_string()
            } else {
                wfc_plan::ids::hash_id(&Value::from(row.clone()).py_str())
            };
            (id, row)
        })
        .collect())
}
