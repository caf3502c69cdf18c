//! The embedded interpreter's side of Py and Call stages: running their Python
//! and waiting for it, or stopping it when the stage is cancelled.

use std::sync::Arc;
use std::time::Duration;

use crate::executor::{Context, Outcome};
use crate::process;
use crate::python::{self, Running};
use crate::status::ErrorName;

/// How long a cancelled stage's interruption may wait for the interpreter
/// before the code is taken to be stuck in a call into C that holds it.
const INTERPRETER_WAIT: Duration = Duration::from_millis(250);

/// Runs a Py or Call stage's Python (`work`, given the stage's token and
/// process marker) and waits for it, or for the stage to be cancelled (or to
/// time out). Then the code is interrupted at its next Python instruction and
/// the processes it started are stopped (SIGTERM, SIGKILL after the grace
/// period). What the code started and left running is killed when it returns.
///
/// A stage with a `timeout` runs its code on a Python thread of its own, so
/// that code stuck in a call into C (which no interruption reaches) can be left
/// behind: the stage fails on its timeout and the run goes on. Other stages run
/// their code on the stage's own thread, which saves a hand-over between
/// threads (some 80 µs here, more than a trivial stage costs); a run cancelled
/// while such code is stuck ends all the same (`cli.rs` ends it a few seconds
/// after it is cancelled, its record closed).
pub(in crate::executor) fn run_python(
    cx: &impl Context,
    own_thread: bool,
    work: impl FnOnce(&python::Caller<'_>) -> Result<python::PyRun, python::PyFailure> + Send + 'static,
    cancelled: &str,
) -> Outcome {
    let run_id = cx.run_id().to_string();
    let parent = cx.parent_run_id().map(str::to_string);
    let folders = python::places(Some(cx.source()));
    let at = cx.at().to_string();
    let work = move |running, marker: &str| {
        work(&python::Caller {
            run_id: &run_id,
            parent_run_id: parent.as_deref(),
            imports: python::ImportFolders { folders: &folders },
            running,
            marker,
            at: &at,
        })
    };
    let running = Running::new();
    let stage = Arc::new(process::Stage::new());
    let done = if own_thread {
        on_own_thread(cx, running, &stage, work)
    } else {
        let _guard = {
            let stage = Arc::clone(&stage);
            cx.cancel().on_cancel(move || {
                interrupt(running);
                crate::executor::bash::stop(&stage, None);
            })
        };
        Ran::Done(cx.blocking(|| work(running, stage.env())))
    };
    if python::spawned(stage.marker()) {
        stage.kill_leftovers(None, process::Threads::All);
    }
    match done {
        Ran::Done(done) => finish(cx, done, cancelled),
        Ran::Lost => Outcome::failed(
            ErrorName::StageError,
            "the thread running the Python code ended without a result",
        ),
        Ran::LeftBehind => {
            tracing::warn!(target: "wfr::py", run = cx.run_id(), at = cx.at(), "the Python code did not stop after the stage was cancelled (it is in a call into C); the run goes on without it and its thread is left behind");
            Outcome::cancelled(
                "Cancelled, but the Python code did not stop (it is in a call into C that does not return); its thread was left behind.",
            )
        }
    }
}

/// Interrupts a stage's Python code. The interruption needs the interpreter,
/// which a call into C may hold and never give back: it waits for it on a
/// thread of its own. The receiver hears when it is delivered.
fn interrupt(running: Running) -> crossbeam_channel::Receiver<()> {
    let (interrupted_tx, interrupted_rx) = crossbeam_channel::bounded::<()>(1);
    std::thread::spawn(move || {
        running.interrupt();
        let _ = interrupted_tx.send(());
    });
    interrupted_rx
}

/// How a stage's Python code ended.
enum Ran {
    Done(Result<python::PyRun, python::PyFailure>),
    /// Its thread ended without a result.
    Lost,
    /// It did not stop after the stage was cancelled: its thread is left behind.
    LeftBehind,
}

/// [`run_python`] on a Python thread.
fn on_own_thread(
    cx: &impl Context,
    running: Running,
    stage: &Arc<process::Stage>,
    work: impl FnOnce(Running, &str) -> Result<python::PyRun, python::PyFailure> + Send + 'static,
) -> Ran {
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    {
        let stage = Arc::clone(stage);
        python::on_python_thread(Box::new(move || {
            let done = work(running, stage.env());
            let _ = done_tx.send(done);
        }));
    }
    let (cancel_tx, cancel_rx) = crossbeam_channel::bounded::<()>(1);
    let _guard = cx.cancel().on_cancel(move || {
        let _ = cancel_tx.try_send(());
    });
    cx.blocking(|| {
        let got = |done: Result<_, _>| done.map_or(Ran::Lost, Ran::Done);
        crossbeam_channel::select! {
            recv(done_rx) -> done => return got(done),
            recv(cancel_rx) -> _ => {}
        }
        let interrupted = interrupt(running);
        crate::executor::bash::stop(stage, None);
        if process::hurried() {
            return done_rx.try_recv().map_or(Ran::LeftBehind, Ran::Done);
        }
        // If the interruption does not get the interpreter soon, the code
        // holds it in a call into C and will not stop for it.
        crossbeam_channel::select! {
            recv(done_rx) -> done => return got(done),
            recv(interrupted) -> _ => {}
            default(INTERPRETER_WAIT) => return Ran::LeftBehind,
        }
        done_rx
            .recv_timeout(process::GRACE)
            .map_or(Ran::LeftBehind, Ran::Done)
    })
}

/// The outcome of a Python run (Py or Call stage): its printed output logged, an
/// exception FAILED with its traceback logged, an interruption by cancel CANCEL.
fn finish(
    cx: &impl Context,
    done: Result<python::PyRun, python::PyFailure>,
    cancelled: &str,
) -> Outcome {
    let run = match done {
        Ok(run) => run,
        Err(failure) => {
            tracing::error!(target: "wfr::py", run = cx.run_id(), at = cx.at(), "{}", failure.traceback);
            return Outcome::raised(&failure.name, failure.message);
        }
    };
    if let Some(failure) = run.error {
        if cx.cancel().is_killed() && failure.name == "StageInterrupted" {
            return Outcome::cancelled(cancelled);
        }
        tracing::error!(target: "wfr::py", run = cx.run_id(), at = cx.at(), "{}", failure.traceback.trim_end());
        return Outcome::raised(&failure.name, failure.message);
    }
    if run
        .outputs
        .values()
        .any(|v| matches!(v, crate::value::Value::Foreign(_)))
    {
        cx.made_foreign();
    }
    Outcome::success(run.outputs)
}
