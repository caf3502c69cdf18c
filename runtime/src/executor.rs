//! Stage executors: one file per stage kind, each a function from the stage's
//! [`Context`] and plan to an [`Outcome`]. They reach the VM only through that
//! context (`context.rs`); the VM reaches them only through [`execute`].

mod bash;
mod call;
mod case;
mod context;
#[cfg(feature = "docker")]
pub(crate) mod docker;
mod empty;
mod foreach;
mod nested;
mod parallel;
mod py;
mod raise;
mod trigger;
mod until;
mod virtualpy;

/// The containers of a `wfr` that is gone: [`containers::remove_containers_of`]
/// (one owner's, for its guard or the next `wfr`). (Every ended owner's are
/// looked for with the first Docker stage of a process: `docker.rs`.)
pub(crate) mod containers {
    #[cfg(feature = "docker")]
    pub(crate) use super::docker::owners::remove_containers_of;

    /// A build without Docker stages starts no containers and does not talk to
    /// the engine: nothing to remove.
    #[cfg(not(feature = "docker"))]
    #[allow(clippy::unnecessary_wraps)]
    pub(crate) fn remove_containers_of(
        _owner: &crate::owner::Owner,
    ) -> Result<usize, std::convert::Infallible> {
        Ok(0)
    }
}

use wfc_plan::{StageKindPlan, StagePlan};

pub(crate) use context::{ChildRun, Context, Done, ListResult, NoChildPlan, Step, Stop};

use crate::eval::EvalError;
use crate::status::{self, ErrorName, Status};
use crate::value::{Map, Value};

/// What a stage execution produced.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub status: Status,
    pub outputs: Map,
    /// `{name, message}`, or errors keyed by branch / item / loop for nested stages.
    pub errors: Option<Value>,
    /// The last retry attempt, when the stage was retried.
    pub retried: Option<i64>,
    /// In a dry run, what a stage with side effects would have started with
    /// (field, rendered text), in place of starting it: the VM tells it
    /// (`RunEvent::StageDryRun`).
    pub dry_run: Option<Vec<(String, String)>>,
}

impl Outcome {
    pub(crate) fn status(status: Status) -> Self {
        Self {
            status,
            outputs: Map::default(),
            errors: None,
            retried: None,
            dry_run: None,
        }
    }

    /// What a dry run gives for a stage with side effects, instead of starting
    /// it: SUCCESS, no outputs, and the `fields` it would have started with
    /// (rendered as the real run renders them).
    pub(crate) fn dry_run(fields: Vec<(String, String)>) -> Self {
        Self {
            dry_run: Some(fields),
            ..Self::status(Status::Success)
        }
    }

    pub(crate) fn success(outputs: Map) -> Self {
        Self {
            outputs,
            ..Self::status(Status::Success)
        }
    }

    pub(crate) fn failed(name: ErrorName, message: impl Into<String>) -> Self {
        Self::raised(name.as_str(), message)
    }

    /// Failed with an exception a stage's Python code raised, under its own name.
    pub(crate) fn raised(name: &str, message: impl Into<String>) -> Self {
        Self {
            errors: Some(status::error_named(name, message)),
            ..Self::status(Status::Failed)
        }
    }

    pub(crate) fn cancelled(message: impl Into<String>) -> Self {
        Self {
            errors: Some(status::error(ErrorName::StageCancelError, message)),
            ..Self::status(Status::Cancel)
        }
    }

    pub(crate) fn eval_error(error: EvalError) -> Self {
        Self::failed(error.name, error.message)
    }
}

/// Why a stage ends before it has a result of its own: the error of an
/// executor's steps (`?`), which the executor returns as its [`Outcome`].
#[derive(Debug)]
pub(crate) enum ExecError {
    /// FAILED, with `{name, message}` as its errors.
    Failed { name: ErrorName, message: String },
    /// CANCEL, with a `StageCancelError` of this message.
    #[cfg_attr(not(feature = "docker"), allow(dead_code))]
    Cancelled(String),
}

impl ExecError {
    pub(crate) fn failed(name: ErrorName, message: impl Into<String>) -> Self {
        Self::Failed {
            name,
            message: message.into(),
        }
    }
}

impl From<EvalError> for ExecError {
    fn from(error: EvalError) -> Self {
        Self::failed(error.name, error.message)
    }
}

impl From<ExecError> for Outcome {
    fn from(error: ExecError) -> Self {
        match error {
            ExecError::Failed { name, message } => Outcome::failed(name, message),
            ExecError::Cancelled(message) => Outcome::cancelled(message),
        }
    }
}

/// Runs the stage's executor: the one way from the VM to executors. `retry` is
/// the attempt number for stages that retry.
///
/// Stages that run stages (parallel, foreach, until, case) and triggers (a whole
/// child run) nest: they run where the stack has room for them
/// ([`Context::nesting`]).
pub(crate) fn execute<C: Context>(
    cx: &C,
    stage: &StagePlan,
    local: &Map,
    retry: Option<i64>,
) -> Outcome {
    if !stage.kind.kind().nests() {
        return run(cx, stage, local, retry);
    }
    cx.nesting(|| run(cx, stage, local, retry))
        .unwrap_or_else(|e| {
            Outcome::failed(
                ErrorName::StageError,
                format!("cannot start a thread for the nested stages: {e}"),
            )
        })
}

fn run<C: Context>(cx: &C, stage: &StagePlan, local: &Map, retry: Option<i64>) -> Outcome {
    match &stage.kind {
        StageKindPlan::Empty { echo, sleep } => empty::run(cx, local, echo.as_ref(), *sleep),
        StageKindPlan::Bash { script, env } => bash::run(cx, local, retry, script, env),
        StageKindPlan::Raise { message } => raise::run(cx, local, message),
        StageKindPlan::Parallel {
            branches,
            max_workers,
        } => parallel::run(cx, local, branches, max_workers),
        StageKindPlan::ForEach {
            items,
            stages,
            concurrent,
            use_index_as_key,
        } => foreach::run(cx, local, items, stages, *concurrent, *use_index_as_key),
        StageKindPlan::Until {
            item,
            until,
            stages,
            max_loop,
        } => until::run(cx, local, item, until, stages, *max_loop),
        StageKindPlan::Case {
            case,
            arms,
            skip_not_match,
        } => case::run(cx, local, case, arms, *skip_not_match),
        StageKindPlan::Trigger { workflow, params } => {
            trigger::run(cx, local, retry, workflow, params)
        }
        // Rendered (and dry-run) in every build; run only with Python.
        StageKindPlan::Py { run, vars } => py::run(cx, local, retry, stage, run, vars),
        StageKindPlan::Call { uses, args } => call::run(cx, local, retry, stage, uses, args),
        StageKindPlan::VirtualPy {
            run,
            vars,
            deps,
            version,
        } => virtualpy::run(cx, local, retry, run, vars, deps, version.as_ref()),
        #[cfg(feature = "docker")]
        StageKindPlan::Docker(docker) => docker::run(cx, local, retry, &stage.name, docker),
        #[cfg(not(feature = "docker"))]
        StageKindPlan::Docker(_) => not_supported(stage),
    }
}

#[cfg(any(not(feature = "python"), not(feature = "docker")))]
fn not_supported(stage: &StagePlan) -> Outcome {
    Outcome::failed(
        ErrorName::NotImplementedError,
        format!(
            "{} stages are not supported by this build of wfr yet",
            stage.kind.name()
        ),
    )
}
