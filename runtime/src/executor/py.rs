//! Py stage: the rendered code run by the embedded interpreter with `vars` as
//! globals; its locals (not modules, classes or dunders) become the outputs.
//! What it prints goes to the run log; an exception fails the stage with its type
//! and message, and its traceback goes to the log.

use wfc_compiler::plan::PMap;
use wfc_compiler::syntax::expr::ast::Template;

use super::Outcome;
use crate::eval;
use crate::python::{self, Running};
use crate::value::Map;
use crate::vm::stage::StageCx;

pub(super) fn run(
    cx: &StageCx,
    local: &Map,
    retry: Option<i64>,
    name: &str,
    code: &Template,
    vars: &PMap,
) -> Outcome {
    let scope = cx.scope(local, retry);
    let source = match eval::render_text(&scope, code) {
        Ok(text) => text,
        Err(e) => return Outcome::eval_error(e),
    };
    let vars = match eval::map(&scope, vars) {
        Ok(vars) => vars,
        Err(e) => return Outcome::eval_error(e),
    };
    if cx.cancel.is_cancelled() {
        return Outcome::cancelled("Cancel before start exec process.");
    }
    let running = Running::new();
    let _guard = cx.cancel.on_cancel(move || running.interrupt());
    let parent = cx.run.parent_run_id.as_deref();
    let folders = python::places(Some(&cx.run.source));
    let places = python::Places { folders: &folders };
    let done = cx.run.pool.blocking(|| {
        python::run_py(
            &source,
            name,
            &vars,
            &cx.run.run_id,
            parent,
            &places,
            running,
        )
    });
    finish(cx, done, "Cancel while the Python code was running.")
}

/// The outcome of a Python run (Py or Call stage): its printed output logged, an
/// exception FAILED with its traceback logged, an interruption by cancel CANCEL.
pub(super) fn finish(
    cx: &StageCx,
    done: Result<python::PyRun, python::PyFailure>,
    cancelled: &str,
) -> Outcome {
    let run = match done {
        Ok(run) => run,
        Err(failure) => {
            tracing::error!(target: "wfr::py", run = cx.run.run_id.as_str(), at = cx.path.as_str(), "{}", failure.traceback);
            return Outcome::failed(&failure.name, failure.message);
        }
    };
    log_output(cx, "stdout", &run.stdout);
    log_output(cx, "stderr", &run.stderr);
    if let Some(failure) = run.error {
        if cx.cancel.is_cancelled() && failure.name == "StageInterrupted" {
            return Outcome::cancelled(cancelled);
        }
        tracing::error!(target: "wfr::py", run = cx.run.run_id.as_str(), at = cx.path.as_str(), "{}", failure.traceback.trim_end());
        return Outcome::failed(&failure.name, failure.message);
    }
    if run
        .outputs
        .values()
        .any(|v| matches!(v, crate::value::Value::Foreign(_)))
    {
        cx.run.made_foreign();
    }
    Outcome::success(run.outputs)
}

/// A stage's printed output: a log line per line.
fn log_output(cx: &StageCx, stream: &str, text: &str) {
    for line in text.lines() {
        tracing::info!(target: "wfr::py", run = cx.run.run_id.as_str(), at = cx.path.as_str(), stream, "{line}");
    }
}
