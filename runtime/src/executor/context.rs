//! What executors may ask of the VM that runs them: the [`Context`] a stage runs
//! in, and the plain data that crosses it. Executors see the VM only through
//! this; the VM implements it (`vm/stage.rs`) and calls executors only through
//! [`super::execute`].

use std::sync::Arc;

use wfc_plan::{Plan, StagePlan};

use crate::cancel::Cancel;
use crate::eval::{Bindings, Scope};
use crate::events::RunEvents;
use crate::status::Status;
use crate::value::{Map, Str, Value};

/// The context of one stage: what its templates read, where it runs, what stops
/// it, and the VM's services (nested stage lists, fan-out, child runs, waits).
pub(crate) trait Context: Sync {
    /// A scope over this context and the current list's results so far
    /// (`local`); `retry` is the attempt number of a stage that retries.
    fn scope<'a>(&'a self, local: &'a Map, retry: Option<i64>) -> Scope<'a>;

    /// The run's id: with [`Context::at`], what every log line and container
    /// label of the stage carries.
    fn run_id(&self) -> &str;

    /// Where the stage's processes run: on this machine, or inside its job's
    /// container (`runs-on: container`).
    fn host(&self) -> &crate::runner::Host;

    /// Where the run's events go: the lines the stage writes, its `echo`.
    fn events(&self) -> &RunEvents;

    /// Where the stage's list runs: `job`, `job/strategy`, `job/each[2]`...
    fn at(&self) -> &str;

    /// The run that triggered this one, if any.
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    fn parent_run_id(&self) -> Option<&str>;

    /// The workflow this run is of.
    fn workflow(&self) -> &str;

    /// The workflow file the plan came from.
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    fn source(&self) -> &str;

    /// What stops the stage: a stop, a kill, its timeout.
    fn cancel(&self) -> &Cancel;

    /// The run is a dry run: a stage with side effects renders what it would
    /// start with and returns [`super::Outcome::dry_run`] where it would start
    /// it; an empty stage does not sleep.
    fn dry_run(&self) -> bool;

    /// Runs `f`, which waits outside the VM (a process, a sleep, the engine),
    /// without taking a worker from the other stages.
    fn blocking<R>(&self, f: impl FnOnce() -> R) -> R;

    /// Runs `f`, which runs stages itself, where the stack has room for them.
    fn nesting<R: Send>(&self, f: impl FnOnce() -> R + Send) -> std::io::Result<R>;

    /// The context of a nested list, at `step` below this one: `outer` (the
    /// current list's results so far) is visible from the inside, with
    /// `bindings`.
    fn nested(&self, outer: &Arc<Map>, bindings: Bindings, step: Step<'_>) -> Self;

    /// Runs `stages` in this context, in order, until one fails or is
    /// cancelled; the results go into `into` (empty, maybe with room already).
    fn run_list(&self, stages: &[StagePlan], into: Map) -> ListResult;

    /// Runs `work` for every unit, at most `limit` at a time; results in unit
    /// order, `None` for units that never started because an earlier one failed
    /// under `fail_fast` (which also stops the rest of the run, as upstream).
    fn fan_out<U, R>(
        &self,
        units: Vec<U>,
        limit: usize,
        fail_fast: bool,
        work: impl Fn(&Self, usize, U) -> Done<R> + Send + Sync + 'static,
    ) -> Vec<Option<R>>
    where
        U: Send + 'static,
        R: Send + 'static;

    /// The plan of a child run of `workflow`, or why none may start (the
    /// trigger depth limit, no such plan).
    fn child_plan(&self, workflow: &str) -> Result<Arc<Plan>, NoChildPlan>;

    /// Runs `plan` as a child of this run (its own run id, this run as its
    /// parent, stopped with this stage) with `params` (already resolved).
    fn run_child(&self, plan: &Arc<Plan>, params: Map) -> ChildRun;

    /// Notes that the stage's outputs hold live foreign objects (see
    /// `Value::Foreign`): they are cleaned out of the job's context when it ends.
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    fn made_foreign(&self);
}

/// Why a trigger has no plan to run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NoChildPlan {
    /// The child would be nested deeper than the engine allows.
    #[error(
        "Trigger depth limit reached: workflow {} would be the {depth}th nested run (the limit is {limit}); is there a trigger cycle?",
        Value::str(workflow).py_repr()
    )]
    TooDeep {
        workflow: String,
        depth: u32,
        limit: u32,
    },
    #[error(transparent)]
    NoPlan(#[from] crate::plans::NoPlan),
}

/// Where a nested list runs, below its stage's place (for logs and container
/// labels).
#[derive(Clone, Copy)]
pub(crate) enum Step<'a> {
    /// A parallel branch or a case arm: `/<name>`.
    Branch(&'a str),
    /// An until loop's pass: `#<n>`.
    Pass(u32),
    /// A foreach item: `[<its str()>]`.
    Item(&'a Value),
}

/// What a stage list produced.
pub(crate) struct ListResult {
    /// `stages.<id>` entries.
    pub stages: Map,
    pub status: Status,
    /// Why the list stopped before its end, if it did.
    pub stop: Option<Stop>,
}

/// Why a stage list stopped before its end.
pub(crate) enum Stop {
    /// Cancelled before its next stage started.
    CancelledBefore,
    /// This stage (its id, or its name) failed.
    Failed(Str),
    /// A stage was cancelled.
    Cancelled,
    /// The strategy's runner stopped it, with this error (its container could
    /// not start, its time ran out); never a nested list's.
    Runner(Value),
}

/// What a unit of a fan-out reports: its result, and whether it failed or was
/// cancelled (for fail-fast).
pub(crate) struct Done<R> {
    pub result: R,
    pub failed: bool,
}

/// How a child run ended.
pub(crate) struct ChildRun {
    pub status: Status,
    /// `{params, jobs, status, errors?, info}`, as upstream's context.
    pub context: Map,
}
