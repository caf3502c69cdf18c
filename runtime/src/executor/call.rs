//! Call stage: `uses: <path>/<function>@<tag>` names a Python function marked with
//! `@tag`, found in the task package `<path>` (under each registry root, when
//! roots are configured); `with` is bound to its signature and the dict it
//! returns becomes the outputs. `uses` and `with` are rendered without Python
//! (a dry run needs no build with Python); the call is `py/embedded.rs`'s.

use wfc_plan::expr::ast::Template;
use wfc_plan::{PlanMap, StagePlan};

use super::{Context, Outcome};
use crate::eval;
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
    if cx.dry_run() {
        return Outcome::dry_run(
            std::iter::once(("uses".to_string(), uses))
                .chain(super::py::python_values("with", &args))
                .collect(),
        );
    }
    // In a container job, the image's python3 calls it.
    #[cfg(feature = "docker")]
    if let crate::runner::Host::Container(session) = cx.host() {
        return session.call(cx, &uses, &args);
    }
    start(cx, stage, uses, args)
}

#[cfg(feature = "python")]
fn start(cx: &impl Context, stage: &StagePlan, uses: String, args: Map) -> Outcome {
    tracing::info!(target: "wfr::call", run = cx.run_id(), at = cx.at(), "calling {uses}");
    let roots = wfc_compiler::api::call_roots();
    super::py::embedded::run_python(
        cx,
        stage.timeout.is_some(),
        move |caller| crate::python::call(&uses, &args, &roots, caller),
        "Cancel while the called function was running.",
    )
}

/// A build without Python calls no function (`wfr` hands such runs to
/// `wfr-python` before they start); it only dry-runs them.
#[cfg(not(feature = "python"))]
fn start(_cx: &impl Context, stage: &StagePlan, _uses: String, _args: Map) -> Outcome {
    super::not_supported(stage)
}
