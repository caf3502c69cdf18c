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
}

/// Runs a plan to the end (or to its cancellation or timeout).
#[must_use]
pub fn run(engine: &Arc<Engine>, request: RunRequest) -> RunResult {
    let started = jiff::Timestamp::now();
    let clock = Instant::now();
    let plan = &request.plan;
    let events = Arc::new(RunEvents::new(Arc::clone(&engine.events), &request.run_id));
    let _live = crate::events::live(&events);
    events.emit(Kind::RunStarted, || RunEvent::RunStarted {
        workflow: &plan.name,
        parent: request.parent_run_id.as_deref(),
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
    let mut scheduler = Scheduler::new(Arc::clone(plan), Arc::clone(&cx), request.cancel.clone());
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
}

impl Scheduler {
    fn new(plan: Arc<Plan>, cx: Arc<RunCx>, cancel: Cancel) -> Self {
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
        };
        for i in scheduler.plan.jobs.node_indices() {
            if matches!(
                scheduler.states[i.index()],
                JobState::Waiting { remaining: 0 }
            ) {
                scheduler.states[i.index()] = JobState::Ready;
                scheduler.ready.push_back(i);
            }
        }
        scheduler
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
        let tx = tx.clone();
        cx.events.emit(Kind::JobStarted, || RunEvent::JobStarted {
            job: &plan.jobs[index].id,
        });
        let task = move || {
            let job = Arc::new(JobRef { plan, index });
            let result = job::run(&cx, &job, jobs, &cancel);
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
        let has_errors = context.as_map().is_some_and(|m| m.contains_key("errors"));
        self.states[index.index()] = JobState::Done { status, has_errors };
        Arc::make_mut(&mut self.contexts)
            .insert(Str::from(self.plan.jobs[index].id.as_str()), context);
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
