//! Call stage: `uses: <path>/<function>@<tag>` names a Python function marked with
//! `@tag`, found in the task package `<path>` (under each registry root, when
//! roots are configured); `with` is bound to its signature and the dict it
//! returns becomes the outputs.

use wfc_plan::expr::ast::Template;
use wfc_plan::{PlanMap, StagePlan};

use super::py::run_python;
use super::{Context, Outcome};
use crate::eval;
use crate::python;
use crate::value::Map;

pub(super) fn run(
    cx: &impl Context,
    local: &Map,
    retry: Option<i64>,
    stage: &StagePlan,
    uses: &Template,
    args: &PlanMap,
) -> Outcome {
    let scope = cx.scope(local, retry);
    // Upstream renders `uses` without `pass_env`, `with` with it.
    let uses = match eval::render_text(&cx.scope(local, retry).plain(), uses) {
        Ok(text) => text,
        Err(e) => return Outcome::eval_error(e),
    };
    let args = match eval::map(&scope, args) {
        Ok(args) => args,
        Err(e) => return Outcome::eval_error(e),
    };
    if cx.cancel().is_cancelled() {
        return Outcome::cancelled("Cancel before start call process.");
    }
    tracing::info!(target: "wfr::call", run = cx.run_id(), at = cx.at(), "calling {uses}");
    let roots = wfc_compiler::api::call_roots();
    run_python(
        cx,
        stage.timeout.is_some(),
        move |caller| python::call(&uses, &args, &roots, caller),
        "Cancel while the called function was running.",
    )
}
