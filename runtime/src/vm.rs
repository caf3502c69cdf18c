//! The VM: runs a plan. Jobs start the moment their needs end (an event from the
//! finishing job, never polling), gated by their trigger rule and `if`; strategies,
//! branches and items run on the shared work-stealing pool.

pub(crate) mod fanout;
mod job;
pub(crate) mod stage;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use petgraph::Direction;
use petgraph::graph::NodeIndex;
use wfc_plan::vocab::TriggerRule;
use wfc_plan::{JobPlan, Plan};

use crate::cancel::Cancel;
use crate::events::{Bus, Kind, NeedEnd, NotRun, RunEvent, RunEvents};
use crate::plans::PlanStore;
use crate::pool::Pool;
use crate::status::{self, ErrorName, Status};
use crate::value::{Map, Str, Value};

/// What is shared by a run and the runs it triggers.
pub struct Engine {
    pub pool: Pool,
    pub plans: PlanStore,
    /// Store outputs of stages without `id` under upstream's hashed ids.
    pub default_ids: bool,
    pub max_job_parallel: usize,
    /// How deep triggers may nest before a run is refused (dynamic cycles).
    pub max_depth: u32,
    /// Stop the whole run at the first failed stage.
    pub raise_error: bool,
    /// Who listens to the runs' events.
    pub events: Arc<Bus>,
    /// A dry run: everything is decided as in a real run (params, matrices,
    /// foreach items, `if`s, trigger rules), but no stage with side effects
    /// starts (no process, no interpreter, no container, no child run): each
    /// renders what it would start with, tells it (`RunEvent::StageDryRun`)
    /// and ends SUCCESS with no outputs; empty stages do not sleep. The run's
    /// `info` says `dry_run: true`.
    pub dry_run: bool,
    /// `wfr run --workers URL`: every job goes to the worker fleet at this NATS
    /// URL, as if it said `runs-on: self_hosted`.
    pub workers: Option<String>,
    /// `wfr resume`: the run whose jobs on the fleet this run takes up: its
    /// strategies go to the fleet under that run's id, so the ones that
    /// finished are found there and the ones still running are waited for.
    pub resume_of: Option<String>,
}

/// How a run ended, beyond its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Finished,
    Cancelled,
    TimedOut,
}

/// A finished run.
#[derive(Debug)]
pub struct RunResult {
    pub run_id: String,
    pub status: Status,
    pub ending: Ending,
    /// `{params, jobs, status, errors?, info}`, as upstream's context.
    pub context: Map,
}

/// The run-level data every stage sees.
pub(crate) struct RunCx {
    pub run_id: String,
    /// Where the run's events go.
    pub events: Arc<RunEvents>,
    pub workflow: String,
    pub params: Map,
    pub pool: Pool,
    pub default_ids: bool,
    pub engine: Arc<Engine>,
    pub depth: u32,
    /// The run's own token (with `raise_error`, a failed stage cancels it).
    pub root: Cancel,
    /// With `raise_error`: the first stage failure, which becomes the run's error.
    pub first_failure: std::sync::Mutex<Option<Value>>,
    pub parent_run_id: Option<String>,
    /// The workflow file the plan came from.
    pub source: String,
    /// Some stage output holds a live foreign object (see `Value::Foreign`).
    pub foreign: std::sync::atomic::AtomicBool,
}

impl RunCx {
    /// Notes that stage outputs hold live foreign objects: job contexts are then
    /// cleaned of them when their job ends.
    pub(crate) fn made_foreign(&self) {
        self.foreign
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Called with every failed stage: under `raise_error` the first one stops the run.
    pub(crate) fn stage_failed(&self, stage: &str, errors: Option<&Value>) {
        if !self.engine.raise_error {
            return;
        }
        if let Ok(mut first) = self.first_failure.lock()
            && first.is_none()
        {
            let detail = errors.and_then(status::message).unwrap_or("see its errors");
            *first = Some(status::error(
                ErrorName::StageError,
                format!(
                    "Stage {} failed and --raise-error stops the run: {detail}",
                    Value::str(stage).py_repr()
                ),
            ));
            self.root.cancel();
        }
    }
}

/// A new run id: the time to the microsecond, `T`, and a hash of the workflow name
/// (upstream's format).
#[must_use]
pub fn new_run_id(workflow: &str) -> String {
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let stamp = jiff::fmt::strtime::format("%Y%m%d%H%M%S%6f", &now).unwrap_or_default();
    let salt = format!("{workflow}{}", now.timestamp().as_nanosecond());
    format!("{stamp}T{}", wfc_plan::ids::hash_id(&salt))
}

/// What a run is asked to do.
pub struct RunRequest {
    pub plan: Arc<Plan>,
    /// Already coerced (see `params::resolve`).
    pub params: Map,
    pub run_id: String,
    pub parent_run_id: Option<String>,
    pub timeout: Option<Duration>,
    pub cancel: Cancel,
    pub depth: u32,
    /// A rerun: what the run it reruns left (see [`Prior`]).
    pub prior: Option<Prior>,
}

/// What a rerun takes from the run it reruns: that run's id and its `jobs`, each
/// job's context as its record's `context.json` holds it.
///
/// A rerun works job by job, as upstream's `Workflow.rerun`, and a little
/// finer:
///
/// * A job that ended SUCCESS is not run again: its context is taken as it is,
///   at the start of the rerun (first in `jobs`, in the order they were in),
///   and the jobs that need it see it ended SUCCESS
///   (`RunEvent::JobReused`). Its `if` and its trigger rule are not evaluated
///   again (it ran), and a rerun never loses a job that succeeded, even one
///   that stops (fails, times out) before the jobs it needs have run again.
/// * Any other job runs again as in a fresh run: FAILED and CANCEL ones, SKIP
///   ones (their `if` and their needs decide again), and the ones the run never
///   got to (not in its `jobs`).
/// * A matrix job that runs again keeps its strategies that ended SUCCESS (by
///   strategy id, so a matrix that renders to other values runs them all) and
///   runs only the others (`RunEvent::StrategyReused`); its context is then
///   what a fresh run would give (`strategies` in the matrix's order, `errors`
///   of the failed ones) and its status comes from all its strategies.
///
/// When every job is reused the rerun runs nothing and ends SUCCESS (upstream
/// raises `WorkflowSkipError` and ends SKIP): its context has every job, all
/// SUCCESS, as a fresh run that succeeded would, so it reads as the success it
/// records, and a rerun of it is refused as any SUCCESS run's. (`wfr rerun`
/// refuses a SUCCESS run before it gets here.)
///
/// Values read back from JSON are what JSON holds: a date a job output is text
/// in its reused context.
#[derive(Clone, Debug, Default)]
pub struct Prior {
    /// The id of the run that is rerun.
    pub run_id: String,
    /// Its `jobs`: job id to context (`{status, stages?, strategies?, errors?}`).
    pub jobs: Map,
}

/// Why a run's final context gives no [`Prior`].
#[derive(Debug, thiserror::Error)]
pub enum PriorError {
    #[error(
        "it is not a run's final context (a record's `context.json`): it has no `jobs` mapping"
    )]
    NoJobs,
}

impl Prior {
    /// What run `run_id` left, from its final context (`{params, jobs, status,
    /// …}`, as its record's `context.json` holds it).
    pub fn from_context(run_id: impl Into<String>, context: &Value) -> Result<Prior, PriorError> {
        let jobs = context
            .as_map()
            .and_then(|c| c.get("jobs"))
            .and_then(Value::as_map)
            .ok_or(PriorError::NoJobs)?;
        Ok(Prior {
            run_id: run_id.into(),
            jobs: jobs.clone(),
        })
    }

    /// The job's context in the run that is rerun, when the job ended SUCCESS
    /// there (it is reused).
    /// A job whose entry holds only its status (a record closed after its
    /// `wfr` was killed keeps no more) is run again: its outputs are not known.
    fn succeeded(&self, job: &str) -> Option<&Value> {
        self.jobs.get(job).filter(|context| {
            ended_success(context) && context.as_map().is_some_and(|m| m.len() > 1)
        })
    }

    /// The entries of the job's strategies in the run that is rerun, by
    /// strategy id (a matrix job's).
    fn strategies(&self, job: &str) -> Option<&Map> {
        self.jobs.get(job)?.as_map()?.get("strategies")?.as_map()
    }
}

/// A job's context (a strategy's entry) whose `status` is SUCCESS.
fn ended_success(context: &Value) -> bool {
    context
        .as_map()
        .and_then(|m| m.get("status"))
        .and_then(|s| match s {
            Value::Str(s) => Status::parse(s),
            _ => None,
        })
        == Some(Status::Success)
}

/// Runs a plan to the end (or to its cancellation or timeout).
#[must_use]
pub fn run(engine: &Arc<Engine>, request: RunRequest) -> RunResult {
    let started = jiff::Timestamp::now();
    let clock = Instant::now();
    let plan = &request.plan;
    let events = Arc::new(RunEvents::new(Arc::clone(&engine.events), &request.run_id));
    let _live = crate::events::live(&events);
    let prior = request.prior.map(Arc::new);
    events.emit(Kind::RunStarted, || RunEvent::RunStarted {
        workflow: &plan.name,
        parent: request.parent_run_id.as_deref(),
        dry_run: engine.dry_run,
        rerun_of: prior.as_ref().map(|p| p.run_id.as_str()),
    });
    let cx = Arc::new(RunCx {
        run_id: request.run_id.clone(),
        events: Arc::clone(&events),
        workflow: plan.name.clone(),
        params: request.params.clone(),
        pool: engine.pool.clone(),
        default_ids: engine.default_ids,
        engine: Arc::clone(engine),
        depth: request.depth,
        root: request.cancel.clone(),
        first_failure: std::sync::Mutex::new(None),
        parent_run_id: request.parent_run_id.clone(),
        source: plan.source.clone(),
        foreign: std::sync::atomic::AtomicBool::new(false),
    });
    let mut scheduler = Scheduler::new(
        Arc::clone(plan),
        Arc::clone(&cx),
        request.cancel.clone(),
        prior.clone(),
    );
    let deadline = request.timeout.map(|t| clock + t);
    let ending = scheduler.drive(deadline, engine.max_job_parallel.max(1));
    let statuses = scheduler.statuses();
    let mut status = Status::aggregate(statuses);
    let mut errors = scheduler.workflow_error.take();
    let raised = cx.first_failure.lock().ok().and_then(|mut f| f.take());
    let ending = if raised.is_some() {
        Ending::Finished
    } else {
        ending
    };
    if let Some(raised) = raised {
        errors = Some(raised);
    }
    match ending {
        Ending::TimedOut => {
            status = Status::Failed;
            errors = Some(status::error(
                ErrorName::WorkflowTimeoutError,
                format!(
                    "{} was timeout because it use exec time more than {} seconds.",
                    Value::str(&plan.name).py_repr(),
                    request.timeout.map_or(0.0, |t| t.as_secs_f64())
                ),
            ));
        }
        Ending::Cancelled => {
            if status != Status::Failed {
                status = Status::Cancel;
            }
            errors.get_or_insert_with(|| {
                status::error(
                    ErrorName::WorkflowCancelError,
                    "Execution was canceled by a signal.",
                )
            });
        }
        // A job that failed, a trigger rule that failed, `--raise-error`: FAILED.
        // A fail-fast stop's cancel error leaves the jobs' status (upstream's).
        Ending::Finished
            if errors.as_ref().is_some_and(|e| {
                status::name(e) != Some(ErrorName::WorkflowCancelError.as_str())
            }) =>
        {
            status = Status::Failed;
        }
        Ending::Finished => {}
    }
    let mut context = Map::default();
    context.insert("params".into(), Value::from(request.params));
    context.insert("jobs".into(), Value::from(scheduler.into_contexts()));
    context.insert("status".into(), status.value());
    if let Some(errors) = errors {
        context.insert("errors".into(), errors);
    }
    let ended = jiff::Timestamp::now();
    let mut info = Map::default();
    info.insert("exec_start".into(), Value::DateTime(started));
    info.insert("exec_end".into(), Value::DateTime(ended));
    info.insert(
        "exec_latency".into(),
        Value::Float((clock.elapsed().as_secs_f64() * 1e6).round() / 1e6),
    );
    if engine.dry_run {
        info.insert("dry_run".into(), Value::Bool(true));
    }
    if let Some(prior) = &prior {
        info.insert("rerun_of".into(), Value::str(&prior.run_id));
    }
    if let Some(resumed) = engine.resume_of.as_ref().filter(|_| request.depth == 0) {
        info.insert("resume_of".into(), Value::str(resumed));
    }
    context.insert("info".into(), Value::from(info));
    events.emit(Kind::RunEnded, || RunEvent::RunEnded {
        workflow: &plan.name,
        status,
        seconds: clock.elapsed().as_secs_f64(),
        error: context.get("errors"),
    });
    RunResult {
        run_id: request.run_id,
        status,
        ending,
        context,
    }
}

/// A job of a shared plan (jobs are not copied out of their plan to run).
pub(crate) struct JobRef {
    plan: Arc<Plan>,
    index: NodeIndex,
}

impl std::ops::Deref for JobRef {
    type Target = JobPlan;

    fn deref(&self) -> &JobPlan {
        &self.plan.jobs[self.index]
    }
}

/// Where each job is.
#[derive(Clone, Debug)]
enum JobState {
    Waiting {
        remaining: usize,
    },
    Ready,
    Running,
    Done {
        status: Status,
        /// Its context has `errors` (for the trigger rules).
        has_errors: bool,
    },
    /// Never started: the run was aborted, cancelled or timed out first.
    Dropped,
    /// Ready to start when a fail-fast failure set the run's cancel event: CANCEL
    /// (for the run's status) without an entry in `jobs`, as upstream.
    Refused,
}

struct Scheduler {
    plan: Arc<Plan>,
    cx: Arc<RunCx>,
    cancel: Cancel,
    states: Vec<JobState>,
    ready: VecDeque<NodeIndex>,
    running: usize,
    /// Set when a trigger rule fails: no more jobs start.
    aborted: bool,
    /// The job whose trigger rule failed and stopped the run.
    blocked: Option<String>,
    workflow_error: Option<Value>,
    /// The contexts of finished jobs in completion order: what `jobs` shows to
    /// the jobs that start next. Shared with running jobs, copied only when a
    /// job ends while others still read an older version.
    contexts: Arc<Map>,
    /// In a rerun, what the run it reruns left.
    prior: Option<Arc<Prior>>,
}

impl Scheduler {
    fn new(plan: Arc<Plan>, cx: Arc<RunCx>, cancel: Cancel, prior: Option<Arc<Prior>>) -> Self {
        let states = plan
            .jobs
            .node_indices()
            .map(|i| {
                let remaining = plan.jobs.neighbors_directed(i, Direction::Incoming).count();
                JobState::Waiting { remaining }
            })
            .collect();
        let mut scheduler = Scheduler {
            plan,
            cx,
            cancel,
            states,
            ready: VecDeque::new(),
            running: 0,
            aborted: false,
            blocked: None,
            workflow_error: None,
            contexts: Arc::new(Map::default()),
            prior,
        };
        let reused = scheduler.reuse();
        for i in scheduler.plan.jobs.node_indices() {
            if matches!(
                scheduler.states[i.index()],
                JobState::Waiting { remaining: 0 }
            ) {
                scheduler.states[i.index()] = JobState::Ready;
                scheduler.ready.push_back(i);
            }
        }
        for index in reused {
            scheduler.release(index);
        }
        scheduler
    }

    /// In a rerun, takes the contexts of the jobs that ended SUCCESS in the run
    /// it reruns, in their order there, as ended now (see [`Prior`]); returns
    /// them, for their dependents to be moved on.
    fn reuse(&mut self) -> Vec<NodeIndex> {
        let Some(prior) = self.prior.clone() else {
            return Vec::new();
        };
        let plan = Arc::clone(&self.plan);
        let by_id: std::collections::HashMap<&str, NodeIndex> = plan
            .jobs
            .node_indices()
            .map(|i| (plan.jobs[i].id.as_str(), i))
            .collect();
        let mut reused = Vec::new();
        for id in prior.jobs.keys() {
            let (Some(&index), Some(context)) = (by_id.get(id.as_str()), prior.succeeded(id))
            else {
                continue;
            };
            self.cx
                .events
                .emit(Kind::JobReused, || RunEvent::JobReused {
                    job: id,
                    from_run: &prior.run_id,
                });
            self.record(index, Status::Success, context.clone());
            reused.push(index);
        }
        reused
    }

    fn into_contexts(self) -> Map {
        Arc::try_unwrap(self.contexts).unwrap_or_else(|shared| (*shared).clone())
    }

    fn statuses(&self) -> Vec<Status> {
        self.states
            .iter()
            .filter_map(|s| match s {
                JobState::Done { status, .. } => Some(*status),
                JobState::Refused => Some(Status::Cancel),
                _ => None,
            })
            .collect()
    }

    /// Starts ready jobs and waits for them until nothing is left to do.
    ///
    /// A job that is the only thing to do (none running, no other ready) runs on
    /// this thread: nothing can become ready before it ends, so there is nothing
    /// to wait for meanwhile, and a sequential workflow runs without a hand-off
    /// between threads. Jobs that can run side by side go to the pool.
    fn drive(&mut self, deadline: Option<Instant>, max_parallel: usize) -> Ending {
        let (tx, rx) = crossbeam_channel::unbounded::<(NodeIndex, job::JobResult)>();
        let watchdog = deadline.map(|deadline| Watchdog::start(deadline, self.cancel.clone()));
        loop {
            // Stopped, not killed: the jobs that would start now are refused.
            if self.cancel.is_cancelled() && !self.cancel.is_killed() {
                while let Some(next) = self.ready.pop_front() {
                    self.refuse(next);
                }
            }
            let stopping = self.aborted || self.cancel.is_cancelled();
            while !stopping && self.running < max_parallel {
                let Some(next) = self.ready.pop_front() else {
                    break;
                };
                let alone = self.running == 0 && self.ready.is_empty();
                self.start(next, &tx, alone);
            }
            if self.running == 0 {
                break;
            }
            let Ok((index, result)) = self.cx.pool.blocking(|| rx.recv()) else {
                break;
            };
            self.running -= 1;
            self.ended(index, result.status);
            self.finish(index, result.status, result.context);
        }
        let timed_out = watchdog.is_some_and(Watchdog::stop);
        let ending = if timed_out {
            Ending::TimedOut
        } else if self.cancel.is_killed() {
            Ending::Cancelled
        } else {
            Ending::Finished
        };
        let blocked = self.blocked.clone();
        let why = match (ending, &blocked) {
            (Ending::TimedOut, _) => NotRun::TimedOut,
            (_, Some(job)) => NotRun::Blocked { job },
            (Ending::Cancelled, _) => NotRun::Cancelled,
            (Ending::Finished, None) if self.cancel.is_cancelled() => NotRun::FailFast,
            (Ending::Finished, None) => NotRun::RunEnded,
        };
        for index in 0..self.states.len() {
            if matches!(
                self.states[index],
                JobState::Waiting { .. } | JobState::Ready
            ) {
                self.states[index] = JobState::Dropped;
                if self.blocked.as_deref()
                    != Some(self.plan.jobs[NodeIndex::new(index)].id.as_str())
                {
                    self.not_run(NodeIndex::new(index), None, why.clone());
                }
            }
        }
        ending
    }

    /// A ready job that does not start because a fail-fast failure set the run's
    /// cancel event: upstream's `process_job` gives CANCEL and the run's error,
    /// and leaves the job out of `jobs`.
    fn refuse(&mut self, index: NodeIndex) {
        self.states[index.index()] = JobState::Refused;
        self.not_run(index, Some(Status::Cancel), NotRun::FailFast);
        self.workflow_error = Some(status::error(
            ErrorName::WorkflowCancelError,
            "Job execution was canceled because the event was set before start job execution.",
        ));
    }

    /// The run's error after a job that ran ended FAILED or CANCEL (the last such
    /// job's, as upstream). A job cancelled by a signal or `--timeout` leaves it:
    /// the run's own error says why.
    fn ended(&mut self, index: NodeIndex, status: Status) {
        let id = Value::str(&self.plan.jobs[index].id).py_repr();
        match status {
            Status::Failed => {
                self.workflow_error = Some(status::error(
                    ErrorName::WorkflowError,
                    format!("Job execution, {id}, was failed."),
                ));
            }
            Status::Cancel if !self.cancel.is_killed() => {
                self.workflow_error = Some(status::error(
                    ErrorName::WorkflowCancelError,
                    format!(
                        "Job execution, {id}, was canceled from the event after end job execution."
                    ),
                ));
            }
            _ => {}
        }
    }

    /// Tells of a job that does not run, and why.
    fn not_run(&self, index: NodeIndex, status: Option<Status>, reason: NotRun<'_>) {
        self.cx
            .events
            .emit(Kind::JobNotRun, || RunEvent::JobNotRun {
                job: &self.plan.jobs[index].id,
                status,
                reason,
            });
    }

    /// Why a job's trigger rule fails: the rule and each need's status.
    fn rule_failed(&self, index: NodeIndex, rule: TriggerRule) -> NotRun<'_> {
        let needs = self
            .plan
            .jobs
            .neighbors_directed(index, Direction::Incoming)
            .filter_map(|n| match &self.states[n.index()] {
                JobState::Done { status, has_errors } => Some(NeedEnd {
                    job: &self.plan.jobs[n].id,
                    status: *status,
                    errors: *has_errors,
                }),
                _ => None,
            })
            .collect();
        NotRun::TriggerRule {
            rule: rule.name(),
            needs,
        }
    }

    /// Runs job `index` on the pool, or on this thread when it runs `alone`; its
    /// result comes through `tx`.
    fn start(
        &mut self,
        index: NodeIndex,
        tx: &crossbeam_channel::Sender<(NodeIndex, job::JobResult)>,
        alone: bool,
    ) {
        self.states[index.index()] = JobState::Running;
        self.running += 1;
        let plan = Arc::clone(&self.plan);
        let jobs = Arc::clone(&self.contexts);
        let cx = Arc::clone(&self.cx);
        let cancel = self.cancel.clone();
        let prior = self.prior.clone();
        let tx = tx.clone();
        cx.events.emit(Kind::JobStarted, || RunEvent::JobStarted {
            job: &plan.jobs[index].id,
        });
        let task = move || {
            let job = Arc::new(JobRef { plan, index });
            let result = job::run(&cx, &job, jobs, &cancel, prior.as_deref());
            cx.events.emit(Kind::JobEnded, || RunEvent::JobEnded {
                job: &job.id,
                status: result.status,
                // A job that failed before any stage ran (a matrix too large, a
                // bad `if`) says why; a stage's failure has its own event.
                error: (result.status == Status::Failed)
                    .then_some(result.failure.as_deref())
                    .flatten(),
            });
            let _ = tx.send((index, result));
        };
        if alone {
            task();
        } else {
            let _ = self.cx.pool.spawn(task);
        }
    }

    /// Records a finished job and moves on the jobs that need it.
    fn finish(&mut self, index: NodeIndex, status: Status, context: Value) {
        self.record(index, status, context);
        self.release(index);
    }

    /// Records a finished job: its state, its entry in `jobs`.
    fn record(&mut self, index: NodeIndex, status: Status, context: Value) {
        let has_errors = context.as_map().is_some_and(|m| m.contains_key("errors"));
        self.states[index.index()] = JobState::Done { status, has_errors };
        Arc::make_mut(&mut self.contexts)
            .insert(Str::from(self.plan.jobs[index].id.as_str()), context);
    }

    /// Moves on the jobs that need the finished job `index`: each whose needs
    /// have all ended is ready, skipped, cancelled or stops the run, as its
    /// trigger rule says.
    fn release(&mut self, index: NodeIndex) {
        let mut dependents: Vec<NodeIndex> = self
            .plan
            .jobs
            .neighbors_directed(index, Direction::Outgoing)
            .collect();
        dependents.sort_unstable();
        for dependent in dependents {
            let JobState::Waiting { remaining } = &mut self.states[dependent.index()] else {
                continue;
            };
            *remaining -= 1;
            if *remaining > 0 {
                continue;
            }
            match self.check_needs(dependent) {
                Need::Run => {
                    self.states[dependent.index()] = JobState::Ready;
                    self.ready.push_back(dependent);
                }
                Need::Skip => {
                    self.not_run(dependent, Some(Status::Skip), NotRun::NeedsSkipped);
                    let skipped = job::not_run(&self.plan.jobs[dependent], Status::Skip, None);
                    self.finish(dependent, Status::Skip, skipped);
                }
                // Under a fail-fast stop, upstream runs the job, which is refused.
                Need::Cancel if self.cancel.is_cancelled() && !self.cancel.is_killed() => {
                    self.states[dependent.index()] = JobState::Ready;
                    self.ready.push_back(dependent);
                }
                Need::Cancel => {
                    self.not_run(dependent, Some(Status::Cancel), NotRun::NeedCancelled);
                    let cancelled = job::not_run(&self.plan.jobs[dependent], Status::Cancel, None);
                    self.finish(dependent, Status::Cancel, cancelled);
                }
                Need::Fail(rule) => {
                    self.not_run(dependent, None, self.rule_failed(dependent, rule));
                    if !self.aborted {
                        self.aborted = true;
                        self.blocked = Some(self.plan.jobs[dependent].id.clone());
                        self.workflow_error = Some(status::error(
                            ErrorName::WorkflowError,
                            format!(
                                "Validate job trigger rule was failed with {}.",
                                Value::str(rule.name()).py_repr()
                            ),
                        ));
                    }
                }
            }
        }
    }

    /// Upstream's `check_needs`, with `one_*` meaning at least one (not exactly
    /// one), and a cancelled need cancelling the job instead of running it.
    fn check_needs(&self, index: NodeIndex) -> Need {
        let job = &self.plan.jobs[index];
        let needs: Vec<(Status, bool)> = self
            .plan
            .jobs
            .neighbors_directed(index, Direction::Incoming)
            .filter_map(|n| match &self.states[n.index()] {
                JobState::Done { status, has_errors } => Some((*status, *has_errors)),
                _ => None,
            })
            .collect();
        if needs.iter().all(|(s, _)| *s == Status::Skip) {
            return Need::Skip;
        }
        if needs.iter().any(|(s, _)| *s == Status::Cancel) {
            return Need::Cancel;
        }
        let success = |(s, errors): &(Status, bool)| *s == Status::Success && !errors;
        let failed = |(s, errors): &(Status, bool)| *s == Status::Failed || *errors;
        let ok = match job.trigger_rule {
            TriggerRule::AllDone => true,
            TriggerRule::AllSuccess => needs.iter().all(success),
            TriggerRule::AllFailed => needs.iter().all(failed),
            TriggerRule::OneSuccess => needs.iter().any(success),
            TriggerRule::OneFailed => needs.iter().any(failed),
            TriggerRule::NoneFailed => !needs.iter().any(failed),
            TriggerRule::NoneSkipped => !needs.iter().any(|(s, _)| *s == Status::Skip),
        };
        if ok {
            Need::Run
        } else {
            Need::Fail(job.trigger_rule)
        }
    }
}

enum Need {
    Run,
    Skip,
    Cancel,
    Fail(TriggerRule),
}

/// Cancels a run at its deadline (`--timeout`), from a thread of its own: the
/// jobs may all be running, one of them on the thread that drives the run.
struct Watchdog {
    stop: crossbeam_channel::Sender<()>,
    thread: std::thread::JoinHandle<bool>,
}

impl Watchdog {
    fn start(deadline: Instant, cancel: Cancel) -> Self {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::spawn(move || {
            let wait = deadline.saturating_duration_since(Instant::now());
            match stopped.recv_timeout(wait) {
                // A run already cancelled (a signal, `--raise-error`) stays so.
                Err(RecvTimeoutError::Timeout) if !cancel.is_killed() => {
                    cancel.cancel();
                    true
                }
                _ => false,
            }
        });
        Watchdog { stop, thread }
    }

    /// Stops the watch; true when the deadline had passed.
    fn stop(self) -> bool {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or(false)
    }
}

/// One strategy of a job, run on its own (by a worker of the fleet): what the
/// coordinator decided (its matrix, the params, the needed jobs' entries) and
/// where its stages log (`at`).
pub(crate) struct Unit {
    pub plan: Arc<Plan>,
    pub job: String,
    pub at: String,
    pub matrix: Map,
    pub params: Map,
    pub jobs: Map,
    pub run_id: String,
    pub parent_run_id: Option<String>,
    pub cancel: Cancel,
}

/// Runs the stages of a unit here; its events go to `engine`'s bus.
#[cfg_attr(not(feature = "nats"), allow(dead_code))]
pub(crate) fn run_unit(engine: &Arc<Engine>, unit: Unit) -> Option<crate::executor::ListResult> {
    let index = unit
        .plan
        .jobs
        .node_indices()
        .find(|&i| unit.plan.jobs[i].id == unit.job)?;
    let events = Arc::new(RunEvents::new(Arc::clone(&engine.events), &unit.run_id));
    let _live = crate::events::live(&events);
    let cx = Arc::new(RunCx {
        run_id: unit.run_id,
        events,
        workflow: unit.plan.name.clone(),
        params: unit.params,
        pool: engine.pool.clone(),
        default_ids: engine.default_ids,
        engine: Arc::clone(engine),
        depth: 0,
        root: unit.cancel.clone(),
        first_failure: std::sync::Mutex::new(None),
        parent_run_id: unit.parent_run_id,
        source: unit.plan.source.clone(),
        foreign: std::sync::atomic::AtomicBool::new(false),
    });
    let stage_cx = stage::StageCx::new(
        stage::Base {
            run: Arc::clone(&cx),
            jobs: Arc::new(unit.jobs),
            matrix: Arc::new(unit.matrix),
            cancel: unit.cancel,
            host: crate::runner::Host::Local,
        },
        Arc::new(crate::eval::Frame::default()),
        stage::Place::root(&unit.at),
    );
    let plan = Arc::clone(&unit.plan);
    // A container job's strategy runs in its container on the worker.
    let strategy = unit.at.rsplit('/').next().unwrap_or(&unit.at);
    let result = crate::runner::on_worker(&stage_cx, &plan.jobs[index], strategy);
    // Live foreign objects (Python functions) do not leave the worker.
    Some(if cx.foreign.load(std::sync::atomic::Ordering::Relaxed) {
        crate::executor::ListResult {
            stages: match Value::from(result.stages).without_foreign() {
                Value::Map(m) => Arc::unwrap_or_clone(m),
                _ => Map::default(),
            },
            ..result
        }
    } else {
        result
    })
}
