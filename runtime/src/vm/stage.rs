//! Running stage lists and one stage: the condition, retries, the timeout, the
//! executor, and the result as it is stored under `stages.<id>`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wfc_plan::{Plan, StagePlan};

use super::{RunCx, RunRequest};
use crate::cancel::Cancel;
use crate::eval::{self, Bindings, Frame, Scope};
use crate::events::{Kind, RunEvent, RunEvents};
use crate::executor::{
    self, ChildRun, Context, Done, ListResult, NoChildPlan, Outcome, Step, Stop,
};
use crate::runner::Host;
use crate::status::{ErrorName, Status};
use crate::value::{Map, Str, Value};

/// Where a stage runs: what templates see and what stops it; what executors
/// see of it is its [`Context`]. What does not
/// change from one nested level to the next is behind one shared pointer (a
/// loop's item copies one pointer, not four); its fields read as the context's
/// own (`cx.run`, `cx.cancel`).
#[derive(Clone)]
pub(crate) struct StageCx {
    base: Arc<Base>,
    /// The enclosing levels (bindings and outer stage results).
    pub frame: Arc<Frame>,
    /// For logs: `job`, `job/strategy`, `job/each[2]`...
    pub path: Place,
}

/// What the stages of one strategy (and of its nested lists) share.
pub(crate) struct Base {
    pub run: Arc<RunCx>,
    pub jobs: Arc<Map>,
    pub matrix: Arc<Map>,
    pub cancel: Cancel,
    /// Where the stages that start processes run: here, or in the job's
    /// container.
    pub host: Host,
}

impl std::ops::Deref for StageCx {
    type Target = Base;

    fn deref(&self) -> &Base {
        &self.base
    }
}

/// Where a stage list runs, for logs and container labels: `job`,
/// `job/strategy`, `job/each[2]`... A nested place is its parent's text and a
/// suffix, put together the first time something asks: a loop whose logs are
/// off puts none together.
#[derive(Clone)]
pub(crate) struct Place {
    parent: Arc<str>,
    suffix: Suffix,
    whole: std::sync::OnceLock<Arc<str>>,
}

#[derive(Clone)]
enum Suffix {
    Text(Str),
    /// An until pass: `#<n>`.
    Pass(u32),
    /// A foreach item: `[<its str()>]`.
    Item(Value),
}

impl Place {
    pub(crate) fn root(text: &str) -> Place {
        Place {
            parent: Arc::from(text),
            suffix: Suffix::Text(Str::default()),
            whole: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        if self.is_bare() {
            &self.parent
        } else {
            self.joined()
        }
    }

    fn is_bare(&self) -> bool {
        matches!(&self.suffix, Suffix::Text(t) if t.is_empty())
    }

    fn joined(&self) -> &Arc<str> {
        self.whole.get_or_init(|| {
            let mut suffix = Str::default();
            let suffix = match &self.suffix {
                Suffix::Text(t) => t,
                Suffix::Pass(n) => {
                    suffix.push('#');
                    suffix.push_str(itoa::Buffer::new().format(*n));
                    &suffix
                }
                Suffix::Item(key) => {
                    suffix.push('[');
                    key.push_str_to(&mut suffix);
                    suffix.push(']');
                    &suffix
                }
            };
            let mut text = String::with_capacity(self.parent.len() + suffix.len());
            text.push_str(&self.parent);
            text.push_str(suffix);
            Arc::from(text)
        })
    }

    fn whole_parent(&self) -> Arc<str> {
        if self.is_bare() {
            Arc::clone(&self.parent)
        } else {
            Arc::clone(self.joined())
        }
    }

    /// The place of a nested list, `step` below this one (`job/each` and item
    /// `3` give `job/each[3]`).
    fn nested(&self, step: Step<'_>) -> Place {
        let suffix = match step {
            Step::Branch(name) => {
                let mut suffix = Str::with_capacity(1 + name.len());
                suffix.push('/');
                suffix.push_str(name);
                Suffix::Text(suffix)
            }
            Step::Pass(n) => Suffix::Pass(n),
            Step::Item(key) => Suffix::Item(key.clone()),
        };
        Place {
            parent: self.whole_parent(),
            suffix,
            whole: std::sync::OnceLock::new(),
        }
    }
}

impl StageCx {
    pub(crate) fn new(base: Base, frame: Arc<Frame>, path: Place) -> StageCx {
        StageCx {
            base: Arc::new(base),
            frame,
            path,
        }
    }

    /// This context under another cancel token.
    pub(crate) fn with_cancel(&self, cancel: Cancel) -> StageCx {
        self.rebased(|base| Base { cancel, ..base })
    }

    /// This context with another matrix, at another place (a strategy's).
    pub(crate) fn with_matrix(&self, matrix: Map, path: Place) -> StageCx {
        StageCx {
            path,
            ..self.rebased(|base| Base {
                matrix: Arc::new(matrix),
                ..base
            })
        }
    }

    /// This context with its processes started on `host`, stopped by `cancel`
    /// (a child of this context's token, which a runner may cancel on its own).
    #[cfg_attr(not(feature = "docker"), allow(dead_code))]
    pub(crate) fn with_host(&self, host: Host, cancel: Cancel) -> StageCx {
        self.rebased(|base| Base {
            cancel,
            host,
            ..base
        })
    }

    fn rebased(&self, change: impl FnOnce(Base) -> Base) -> StageCx {
        let base = Base {
            run: Arc::clone(&self.run),
            jobs: Arc::clone(&self.jobs),
            matrix: Arc::clone(&self.matrix),
            cancel: self.cancel.clone(),
            host: self.host.clone(),
        };
        StageCx::new(change(base), Arc::clone(&self.frame), self.path.clone())
    }
}

impl Context for StageCx {
    fn scope<'a>(&'a self, local: &'a Map, retry: Option<i64>) -> Scope<'a> {
        Scope {
            params: &self.run.params,
            jobs: &self.jobs,
            matrix: &self.matrix,
            local,
            frame: &self.frame,
            retry,
            overlay: None,
            env: &eval::process_env,
            pass_env: true,
            release: None,
        }
    }

    fn run_id(&self) -> &str {
        &self.run.run_id
    }

    fn host(&self) -> &Host {
        &self.base.host
    }

    fn events(&self) -> &RunEvents {
        &self.run.events
    }

    fn at(&self) -> &str {
        self.path.as_str()
    }

    fn parent_run_id(&self) -> Option<&str> {
        self.run.parent_run_id.as_deref()
    }

    fn workflow(&self) -> &str {
        &self.run.workflow
    }

    fn source(&self) -> &str {
        &self.run.source
    }

    fn cancel(&self) -> &Cancel {
        &self.base.cancel
    }

    fn dry_run(&self) -> bool {
        self.run.engine.dry_run
    }

    fn blocking<R>(&self, f: impl FnOnce() -> R) -> R {
        self.run.pool.blocking(f)
    }

    fn nesting<R: Send>(&self, f: impl FnOnce() -> R + Send) -> std::io::Result<R> {
        self.run.pool.nested(f)
    }

    fn nested(&self, outer: &Arc<Map>, bindings: Bindings, step: Step<'_>) -> StageCx {
        StageCx {
            base: Arc::clone(&self.base),
            frame: Frame::nested(&self.frame, Arc::clone(outer), bindings),
            path: self.path.nested(step),
        }
    }

    fn run_list(&self, stages: &[StagePlan], into: Map) -> ListResult {
        run_list_into(self, stages, into)
    }

    fn fan_out<U, R>(
        &self,
        units: Vec<U>,
        limit: usize,
        fail_fast: bool,
        work: impl Fn(&StageCx, usize, U) -> Done<R> + Send + Sync + 'static,
    ) -> Vec<Option<R>>
    where
        U: Send + 'static,
        R: Send + 'static,
    {
        super::fanout::run(self, units, limit, fail_fast, work)
    }

    fn child_plan(&self, workflow: &str) -> Result<Arc<Plan>, NoChildPlan> {
        let engine = &self.run.engine;
        if self.run.depth >= engine.max_depth {
            return Err(NoChildPlan::TooDeep {
                workflow: workflow.to_string(),
                depth: self.run.depth + 1,
                limit: engine.max_depth,
            });
        }
        Ok(engine.plans.get(workflow)?)
    }

    fn run_child(&self, plan: &Arc<Plan>, params: Map) -> ChildRun {
        let request = RunRequest {
            plan: Arc::clone(plan),
            params,
            run_id: super::new_run_id(&plan.name),
            parent_run_id: Some(self.run.run_id.clone()),
            timeout: None,
            cancel: self.cancel.child(),
            depth: self.run.depth + 1,
            prior: None,
        };
        let result = super::run(&self.run.engine, request);
        ChildRun {
            status: result.status,
            context: result.context,
        }
    }

    fn made_foreign(&self) {
        self.run.made_foreign();
    }
}

/// Runs `stages` in order; stops at the first failed or cancelled one.
pub(crate) fn run_list(cx: &StageCx, stages: &[StagePlan]) -> ListResult {
    run_list_into(cx, stages, Map::with_capacity(stages.len()))
}

/// [`run_list`], the results going into `local` (empty, maybe with room already).
fn run_list_into(cx: &StageCx, stages: &[StagePlan], mut local: Map) -> ListResult {
    let mut skipped = 0;
    for stage in stages {
        if cx.cancel.is_cancelled() {
            return ListResult {
                stages: local,
                status: Status::Cancel,
                stop: Some(Stop::CancelledBefore),
            };
        }
        let (key, result, status) = run_stage(cx, stage, &local);
        let iden = match status {
            Status::Failed | Status::Cancel => {
                Some(key.clone().unwrap_or_else(|| stage.name.to_string().into()))
            }
            _ => None,
        };
        if let Some(key) = key {
            local.insert(key, result);
        }
        match (status, iden) {
            (Status::Skip, _) => skipped += 1,
            (Status::Failed, Some(iden)) => {
                return ListResult {
                    stages: local,
                    status,
                    stop: Some(Stop::Failed(iden)),
                };
            }
            (Status::Cancel, Some(_)) => {
                return ListResult {
                    stages: local,
                    status,
                    stop: Some(Stop::Cancelled),
                };
            }
            _ => {}
        }
    }
    ListResult {
        stages: local,
        status: if !stages.is_empty() && skipped == stages.len() {
            Status::Skip
        } else {
            Status::Success
        },
        stop: None,
    }
}

/// Runs one stage; returns the key it is stored under (none without an id, unless
/// default ids are on), its result `{outputs, status, errors?}` and its status.
pub(crate) fn run_stage(
    cx: &StageCx,
    stage: &StagePlan,
    local: &Map,
) -> (Option<Str>, Value, Status) {
    let events = &cx.run.events;
    // Stage times are only told by their end: not read when nobody listens.
    let started = events.wants(Kind::StageEnded).then(Instant::now);
    // Names and ids render without `pass_env` upstream.
    let scope = cx.scope(local, None).plain();
    // The name is made when something shows it (a log line, a failure, a
    // default id): the stage does not change what it renders from.
    let name = std::cell::OnceCell::new();
    let name = || {
        name.get_or_init(|| {
            eval::render_short(&scope, &stage.name)
                .unwrap_or_else(|_| stage.name.to_string().into())
        })
    };
    let key = match &stage.id {
        Some(id) => Some(eval::render_short(&scope, id).unwrap_or_else(|_| id.to_string().into())),
        None if cx.run.default_ids => Some(wfc_plan::ids::hash_id(name()).into()),
        None => None,
    };
    events.emit(Kind::StageStarted, || RunEvent::StageStarted {
        at: cx.path.as_str(),
        stage: name(),
        kind: stage.kind.name(),
    });
    let outcome = guarded(cx, stage, local);
    let result =
        if outcome.outputs.is_empty() && outcome.retried.is_none() && outcome.errors.is_none() {
            outcome.status.bare_result()
        } else {
            let mut result = Map::with_capacity(2 + usize::from(outcome.errors.is_some()));
            let mut outputs = outcome.outputs;
            if let Some(retried) = outcome.retried {
                outputs.insert("retry".into(), Value::Int(retried));
            }
            result.insert("outputs".into(), Value::from(outputs));
            result.insert("status".into(), outcome.status.value());
            if let Some(errors) = &outcome.errors {
                result.insert("errors".into(), errors.clone());
            }
            Value::from(result)
        };
    if let Some(fields) = &outcome.dry_run {
        events.emit(Kind::StageDryRun, || RunEvent::StageDryRun {
            at: cx.path.as_str(),
            stage: name(),
            kind: stage.kind.name(),
            values: fields,
        });
    }
    if outcome.status == Status::Failed {
        cx.run.stage_failed(name(), outcome.errors.as_ref());
    }
    events.emit(Kind::StageEnded, || RunEvent::StageEnded {
        at: cx.path.as_str(),
        stage: name(),
        status: outcome.status,
        seconds: started.map_or(0.0, |t| t.elapsed().as_secs_f64()),
        outputs: result
            .as_map()
            .and_then(|r| r.get("outputs"))
            .and_then(Value::as_map)
            .filter(|o| !o.is_empty()),
        error: outcome.errors.as_ref(),
    });
    (key, result, outcome.status)
}

/// The stage's condition, retries and timeout around its executor.
fn guarded(cx: &StageCx, stage: &StagePlan, local: &Map) -> Outcome {
    if let Some(cond) = &stage.cond {
        match eval::condition(&cx.scope(local, None), cond) {
            Ok(true) => {}
            Ok(false) => return Outcome::status(Status::Skip),
            Err(e) => {
                return Outcome::failed(
                    ErrorName::StageError,
                    format!("{}: {}", e.name, e.message),
                );
            }
        }
    }
    let retrying = stage.kind.kind().retries();
    let retries = if retrying { stage.retry } else { 0 };
    let mut attempt: u32 = 0;
    loop {
        let outcome = with_timeout(cx, stage, |cx| {
            executor::execute(cx, stage, local, retrying.then_some(i64::from(attempt)))
        });
        let failed = outcome.status == Status::Failed;
        // A stopped run tries again all the same: the attempt is cancelled before
        // it starts (upstream's order); a killed one ends here.
        if !failed || attempt >= retries || cx.cancel.is_killed() {
            return Outcome {
                retried: (attempt > 0).then_some(i64::from(attempt)),
                ..outcome
            };
        }
        attempt += 1;
        cx.run
            .events
            .emit(Kind::StageRetry, || RunEvent::StageRetry {
                at: cx.path.as_str(),
                attempt,
            });
        // Upstream retries at once the first time, then backs off 1.2^n seconds.
        if attempt > 1 && !cx.cancel.is_cancelled() {
            let wait = Duration::from_secs_f64(
                1.2f64.powi(i32::try_from(attempt - 1).unwrap_or(i32::MAX)),
            );
            if !cx.run.pool.blocking(|| cx.cancel.sleep(wait)) {
                return Outcome {
                    retried: Some(i64::from(attempt - 1)),
                    ..outcome
                };
            }
        }
    }
}

/// Runs `f` under the stage's own cancel token, cancelled when the timeout passes.
fn with_timeout(cx: &StageCx, stage: &StagePlan, f: impl FnOnce(&StageCx) -> Outcome) -> Outcome {
    let Some(seconds) = stage.timeout else {
        return f(cx);
    };
    let token = cx.cancel.child();
    let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = Cancel::new();
    let watcher = {
        let token = token.clone();
        let done = done.clone();
        let timed_out = Arc::clone(&timed_out);
        std::thread::spawn(move || {
            if done.sleep(Duration::from_secs_f64(seconds)) {
                timed_out.store(true, std::sync::atomic::Ordering::SeqCst);
                token.cancel();
            }
        })
    };
    let inner = cx.with_cancel(token);
    let outcome = f(&inner);
    done.cancel();
    let _ = watcher.join();
    if timed_out.load(std::sync::atomic::Ordering::SeqCst) {
        return Outcome {
            outputs: outcome.outputs,
            ..Outcome::failed(
                ErrorName::StageTimeoutError,
                format!("Stage was stopped after its timeout of {seconds} seconds."),
            )
        };
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_place_is_its_parent_and_its_step() {
        let job = Place::root("job");
        assert_eq!(job.as_str(), "job");
        let branch = job.nested(Step::Branch("b"));
        assert_eq!(branch.as_str(), "job/b");
        assert_eq!(branch.nested(Step::Pass(12)).as_str(), "job/b#12");
        let item = branch.nested(Step::Item(&Value::Int(3)));
        assert_eq!(
            item.nested(Step::Item(&Value::str("x"))).as_str(),
            "job/b[3][x]"
        );
    }
}
