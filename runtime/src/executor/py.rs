//! Py stage: the rendered code run by the embedded interpreter with `vars` as
//! globals; its locals (not modules, classes or dunders) become the outputs.
//! What it prints goes to the run log; an exception fails the stage with its type
//! and message, and its traceback goes to the log.
//!
//! The code and `vars` are rendered without Python: a dry run of a Py stage
//! (which starts no interpreter) needs no build with Python. The interpreter's
//! side is `embedded.rs`.

#[cfg(feature = "python")]
pub(super) mod embedded;

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
    code: &Template,
    vars: &PlanMap,
) -> Outcome {
    let scope = cx.scope(local, retry);
    let source = match eval::render_text(&scope, code) {
        Ok(text) => text,
        Err(e) => return Outcome::eval_error(e),
    };
    // Upstream renders `vars` without `pass_env`: `null` stays text.
    let vars = match eval::map(&cx.scope(local, retry).plain(), vars) {
        Ok(vars) => vars,
        Err(e) => return Outcome::eval_error(e),
    };
    if cx.cancel().is_cancelled() {
        return Outcome::cancelled("Cancel before start exec process.");
    }
    if cx.dry_run() {
        return Outcome::dry_run(
            std::iter::once(("run".to_string(), source))
                .chain(python_values("vars", &vars))
                .collect(),
        );
    }
    // In a container job, the image's python3 runs it.
    #[cfg(feature = "docker")]
    if let crate::runner::Host::Container(session) = cx.host() {
        return session.py(cx, &stage.name.to_string(), &source, &vars);
    }
    start(cx, stage, source, vars)
}

/// A dry run's fields for values handed to Python: `<field>.<name>` and the
/// value's `repr`, as the code sees it.
pub(super) fn python_values<'a>(
    field: &'a str,
    values: &'a Map,
) -> impl Iterator<Item = (String, String)> + 'a {
    values
        .iter()
        .map(move |(name, value)| (format!("{field}.{name}"), value.py_repr()))
}

#[cfg(feature = "python")]
fn start(cx: &impl Context, stage: &StagePlan, source: String, vars: Map) -> Outcome {
    let name = stage.name.to_string();
    embedded::run_python(
        cx,
        stage.timeout.is_some(),
        move |caller| crate::python::run_py(&source, &name, &vars, caller),
        "Cancel while the Python code was running.",
    )
}

/// A build without Python runs no Python stage (`wfr` hands such runs to
/// `wfr-python` before they start); it only dry-runs them.
#[cfg(not(feature = "python"))]
fn start(_cx: &impl Context, stage: &StagePlan, _source: String, _vars: Map) -> Outcome {
    super::not_supported(stage)
}
