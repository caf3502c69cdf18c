//! Worker fleets on NATS JetStream (`runs-on: {type: self_hosted, with: {host,
//! token, labels}}`, or every job of `wfr run --workers URL`).

use wfc_plan::JobPlan;

use super::{JobRunner, refused};
use crate::executor::ListResult;
use crate::value::Value;
use crate::vm::RunCx;
use crate::vm::stage::StageCx;

/// Sends each strategy to the fleet.
pub(crate) struct Runner;

impl Runner {
    pub(crate) fn for_job(_run: &RunCx, job: &JobPlan) -> Result<Runner, Value> {
        Err(refused(job, "self_hosted workers are not supported yet"))
    }

    pub(crate) fn for_fleet(_run: &RunCx, job: &JobPlan, _url: &str) -> Result<Runner, Value> {
        Err(refused(job, "self_hosted workers are not supported yet"))
    }
}

impl JobRunner for Runner {
    fn run_strategy(&self, cx: &StageCx, job: &JobPlan, _strategy: &str) -> ListResult {
        crate::vm::stage::run_list(cx, &job.stages)
    }
}
