//! Job runners: where a job's strategies run. The VM decides everything a job
//! is (its `if`, its matrix, fail-fast, its context entry) and hands each
//! strategy (one matrix combination, or the only one) to the job's runner,
//! which runs the strategy's stages somewhere and gives back their result; the
//! stages' events reach the run's bus from wherever they ran.
//!
//! `runs-on` picks the runner:
//! * `local` (and no `runs-on`): [`Local`], the stages on this machine's pool;
//! * `container` and `docker`: [`container`], one container per strategy, the
//!   stages that start processes run inside it with `docker exec`;
//! * `self_hosted` (and every job of `wfr run --workers URL`): [`workers`], the
//!   strategy goes to a worker fleet over NATS JetStream.
//!
//! A job whose runner cannot be had (no Docker support in this build, no NATS
//! URL) fails with an error that says why. It never runs locally instead.

#[cfg(feature = "docker")]
pub(crate) mod container;
pub(crate) mod workers;

use std::sync::Arc;

use wfc_plan::JobPlan;
use wfc_plan::vocab::RunsOnKind;

use crate::executor::ListResult;
use crate::status::{self, ErrorName};
use crate::value::Value;
use crate::vm::RunCx;
use crate::vm::stage::{StageCx, run_list};

/// Runs a job's strategies somewhere.
pub(crate) trait JobRunner: Send + Sync {
    /// Runs the stages of `job` for one strategy. `cx` is the strategy's
    /// context: the run, the needed jobs' results, its matrix, its place
    /// (`job` or `job/strategy`) and its cancel token. `strategy` is its id.
    fn run_strategy(&self, cx: &StageCx, job: &JobPlan, strategy: &str) -> ListResult;
}

/// The stages on this machine, on the run's pool.
pub(crate) struct Local;

impl JobRunner for Local {
    fn run_strategy(&self, cx: &StageCx, job: &JobPlan, _strategy: &str) -> ListResult {
        run_list(cx, &job.stages)
    }
}

/// The runner of `job` in `run`, or the error the job fails with when it has
/// none here.
pub(crate) fn for_job(run: &RunCx, job: &JobPlan) -> Result<Arc<dyn JobRunner>, Value> {
    if let Some(fleet) = &run.engine.workers {
        return workers::Runner::for_fleet(run, job, fleet).map(|r| Arc::new(r) as _);
    }
    match job.runs_on {
        RunsOnKind::Local => Ok(Arc::new(Local)),
        RunsOnKind::SelfHosted => workers::Runner::for_job(run, job).map(|r| Arc::new(r) as _),
        RunsOnKind::Container | RunsOnKind::Docker => container_runner(run, job),
        // `wfc check` refuses these; an old plan that has one fails here.
        RunsOnKind::AwsBatch | RunsOnKind::GcpBatch => Err(refused(
            job,
            format!(
                "runs-on type `{}` is not supported by wfc: use self_hosted workers",
                job.runs_on.name()
            ),
        )),
    }
}

/// Runs a strategy a worker of a fleet took: in a container when its job's
/// `runs-on` says so, else its stages here.
#[cfg_attr(not(feature = "nats"), allow(dead_code))]
pub(crate) fn on_worker(cx: &StageCx, job: &JobPlan, strategy: &str) -> ListResult {
    match job.runs_on {
        RunsOnKind::Container | RunsOnKind::Docker => match container_runner(&cx.run, job) {
            Ok(runner) => runner.run_strategy(cx, job, strategy),
            Err(error) => ListResult {
                stages: crate::value::Map::default(),
                status: crate::status::Status::Failed,
                stop: Some(crate::executor::Stop::Runner(error)),
            },
        },
        _ => run_list(cx, &job.stages),
    }
}

#[cfg(feature = "docker")]
fn container_runner(run: &RunCx, job: &JobPlan) -> Result<Arc<dyn JobRunner>, Value> {
    container::Runner::for_job(run, job).map(|r| Arc::new(r) as _)
}

#[cfg(not(feature = "docker"))]
fn container_runner(_run: &RunCx, job: &JobPlan) -> Result<Arc<dyn JobRunner>, Value> {
    Err(refused(
        job,
        format!(
            "runs-on type `{}` needs Docker support, and this wfr was built without it (cargo feature `docker`)",
            job.runs_on.name()
        ),
    ))
}

/// The error of a job that cannot run where its `runs-on` says.
pub(crate) fn refused(job: &JobPlan, why: impl std::fmt::Display) -> Value {
    status::error(
        ErrorName::JobError,
        format!("job `{}` did not start: {why}", job.id),
    )
}

/// Where a stage's processes run.
#[derive(Clone, Default)]
pub(crate) enum Host {
    /// On this machine.
    #[default]
    Local,
    /// Inside its job's container (`runs-on: container|docker`).
    #[cfg(feature = "docker")]
    Container(Arc<container::Session>),
}
