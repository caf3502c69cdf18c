//! Py stage: the rendered code run by the embedded interpreter with `vars` as
//! globals; its locals (not modules, classes or dunders) become the outputs.
//! What it prints goes to the run log; an exception fails the stage with its type
//! and message, and its traceback goes to the log.

use wfc_compiler::plan::PMap;
use wfc_compiler::syntax::expr::ast::Template;

use std::sync::Arc;
use std::time::Duration;

use super::Outcome;
use crate::eval;
use crate::process;
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
    let run_id = cx.run.run_id.clone();
    let parent = cx.run.parent_run_id.clone();
    let folders = python::places(Some(&cx.run.source));
    let at = cx.path.as_str().to_string();
    let name = name.to_string();
    run_python(
        cx,
        move |running, marker| {
            let caller = python::Caller {
                run_id: &run_id,
                parent_run_id: parent.as_deref(),
                places: python::Places { folders: &folders },
                running,
                marker,
                at: &at,
            };
            python::run_py(&source, &name, &vars, &caller)
        },
        "Cancel while the Python code was running.",
    )
}

/// How long a cancelled stage's interruption may wait for the interpreter
/// before the code is taken to be stuck in a call into C that holds it.
const INTERPRETER_WAIT: Duration = Duration::from_millis(250);

/// Runs a Py or Call stage's Python (`work`, given the stage's token and
/// process marker) on a Python thread, and waits for it, or for the stage to be
/// cancelled (or to time out). Then the code is interrupted at its next Python
/// instruction and the processes it started are stopped (SIGTERM, SIGKILL after
/// the grace period); if it still does not return (a call into C that does not
/// come back), the stage ends without it: its thread is left behind, and the run
/// does not wait for it. What the code started and left running is killed when
/// it returns.
pub(super) fn run_python(
    cx: &StageCx,
    work: impl FnOnce(Running, &str) -> Result<python::PyRun, python::PyFailure> + Send + 'static,
    cancelled: &str,
) -> Outcome {
    let running = Running::new();
    let stage = Arc::new(process::Stage::new());
    let _ = crate::guard::ensure();
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    {
        let stage = Arc::clone(&stage);
        python::on_python_thread(Box::new(move || {
            let done = work(running, stage.env());
            let _ = done_tx.send(done);
        }));
    }
    let (cancel_tx, cancel_rx) = crossbeam_channel::bounded::<()>(1);
    let _guard = cx.cancel.on_cancel(move || {
        let _ = cancel_tx.try_send(());
    });
    let done = cx.run.pool.blocking(|| {
        crossbeam_channel::select! {
            recv(done_rx) -> done => return Some(done.ok()),
            recv(cancel_rx) -> _ => {}
        }
        // The interruption needs the interpreter, which a call into C may hold
        // and never give back: it waits for it on a thread of its own, and if
        // it does not get it soon, the code will not stop for it.
        let (interrupted_tx, interrupted_rx) = crossbeam_channel::bounded::<()>(1);
        std::thread::spawn(move || {
            running.interrupt();
            let _ = interrupted_tx.send(());
        });
        super::bash::stop(&stage, None);
        if process::hurried() {
            return done_rx.try_recv().ok().map(Some);
        }
        crossbeam_channel::select! {
            recv(done_rx) -> done => return Some(done.ok()),
            recv(interrupted_rx) -> _ => {}
            default(INTERPRETER_WAIT) => return None,
        }
        done_rx.recv_timeout(process::GRACE).ok().map(Some)
    });
    stage.kill_leftovers(None, process::Threads::All);
    match done {
        Some(Some(done)) => finish(cx, done, cancelled),
        Some(None) => Outcome::failed(
            "StageError",
            "the thread running the Python code ended without a result",
        ),
        None => {
            tracing::warn!(target: "wfr::py", run = cx.run.run_id.as_str(), at = cx.path.as_str(), "the Python code did not stop after the stage was cancelled (it is in a call into C); the run goes on without it and its thread is left behind");
            Outcome::cancelled(
                "Cancelled, but the Python code did not stop (it is in a call into C that does not return); its thread was left behind.",
            )
        }
    }
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
