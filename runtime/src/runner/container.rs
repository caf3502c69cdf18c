//! Container jobs (`runs-on: {type: container|docker, with: {image, …}}`): one
//! container per strategy from `image`, kept alive by a long-lived command; the
//! stages that start processes run inside it with `docker exec`.

use wfc_plan::JobPlan;

use super::{JobRunner, refused};
use crate::executor::ListResult;
use crate::value::Value;
use crate::vm::RunCx;
use crate::vm::stage::StageCx;

/// A strategy's running container.
pub(crate) struct Session {
    /// The container's id.
    #[allow(dead_code)]
    pub id: String,
}

/// Runs each strategy in a container of its own.
pub(crate) struct Runner;

impl Runner {
    pub(crate) fn for_job(_run: &RunCx, job: &JobPlan) -> Result<Runner, Value> {
        Err(refused(job, "container jobs are not supported yet"))
    }
}

impl JobRunner for Runner {
    fn run_strategy(&self, cx: &StageCx, job: &JobPlan, _strategy: &str) -> ListResult {
        crate::vm::stage::run_list(cx, &job.stages)
    }
}
