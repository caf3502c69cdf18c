//! `wfr` without embedded Python hands runs that need Python to `wfr-python`.
//!
//! Loading libpython costs every process about two milliseconds (its relocations
//! alone touch some 300 pages), which is most of what a small run costs. So `wfr`
//! is built without CPython, and `wfr-python`, the same program built with it,
//! sits beside it. Before anything runs (no record, no log, no stage), `wfr` looks
//! at the plan and at every plan it may trigger; when one of them needs Python it
//! becomes `wfr-python` (exec, same arguments), which then does the whole run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use wfc_plan::filters::BuiltinFilter;
use wfc_plan::visit::{Visitor, walk_job, walk_stage};
use wfc_plan::vocab::RunsOnKind;
use wfc_plan::{JobPlan, Plan, StageKindPlan, StagePlan};

use crate::plans::PlanStore;

/// The name of the binary with embedded Python, beside `wfr`.
pub const PYTHON_BINARY: &str = "wfr-python";

/// Why the run needs Python, if it does: the first reason found in `plan` or in
/// the plans it triggers (found in `store`).
///
/// A run none of whose stages starts here (`no_stage_here`: a dry run, or
/// every job sent to the fleet) needs Python only for the filters registered
/// in Python that `plan`'s templates use. So does a job that runs elsewhere
/// (on a worker of the fleet; a container job's Py and Call stages).
#[must_use]
pub fn reason(plan: &Plan, store: &PlanStore, no_stage_here: bool) -> Option<String> {
    if no_stage_here {
        return python_filter(plan);
    }
    let mut seen = HashSet::new();
    reason_in(plan, store, &mut seen)
}

/// The first filter `plan` uses that is not built in (so registered in Python).
fn python_filter(plan: &Plan) -> Option<String> {
    let name = plan
        .filter_names()
        .into_iter()
        .find(|name| BuiltinFilter::from_name(name).is_none())?;
    Some(format!(
        "workflow `{}` uses the filter `{name}`, registered in Python",
        plan.name
    ))
}

fn reason_in(plan: &Plan, store: &PlanStore, seen: &mut HashSet<String>) -> Option<String> {
    if !seen.insert(plan.name.clone()) {
        return None;
    }
    let mut found = None;
    visit_stages(plan, &mut |stage, place| {
        if found.is_some() {
            return;
        }
        let what = match &stage.kind {
            // A worker of the fleet runs the whole job, with its own Python.
            _ if place == Place::Fleet => return,
            // The job's container runs its Python (`runner/container.rs`).
            StageKindPlan::Py { .. } | StageKindPlan::Call { .. } if place == Place::Container => {
                return;
            }
            // A literal name is among the plan's `triggers`, looked at below.
            StageKindPlan::Trigger { workflow, .. } if workflow.is_literal() => return,
            // Which workflow it runs is known only at run time: it may need Python.
            StageKindPlan::Trigger { .. } => "triggers a workflow named at run time",
            kind if !kind.kind().needs_python() => return,
            StageKindPlan::Call { .. } => "calls a function registered in Python",
            _ => "is a Python stage",
        };
        found = Some(format!(
            "stage `{}` of workflow `{}` {what}",
            stage.name, plan.name
        ));
    });
    if found.is_some() {
        return found;
    }
    if let Some(filter) = python_filter(plan) {
        return Some(filter);
    }
    plan.triggers.iter().find_map(|name| {
        // A plan that cannot be loaded fails the run when it is triggered.
        let target = store.get(name).ok()?;
        reason_in(&target, store, seen)
    })
}

/// Where a job's stages run, as far as Python is concerned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In this process.
    Here,
    /// In the job's container (`runs-on: container|docker`): its Python.
    Container,
    /// On a worker of the fleet (`runs-on: self_hosted`): the worker's.
    Fleet,
}

/// Calls `visit` with every stage of `plan` (nested ones too) and where its
/// job runs.
fn visit_stages<'a>(plan: &'a Plan, visit: &mut impl FnMut(&'a StagePlan, Place)) {
    struct Stages<'v, F> {
        visit: &'v mut F,
        place: Place,
    }
    impl<'a, F: FnMut(&'a StagePlan, Place)> Visitor<'a> for Stages<'_, F> {
        fn visit_job(&mut self, job: &'a JobPlan) {
            self.place = match job.runs_on {
                RunsOnKind::Container | RunsOnKind::Docker => Place::Container,
                RunsOnKind::SelfHosted => Place::Fleet,
                _ => Place::Here,
            };
            walk_job(self, job);
        }
        fn visit_stage(&mut self, stage: &'a StagePlan) {
            (self.visit)(stage, self.place);
            walk_stage(self, stage);
        }
    }
    Stages {
        visit,
        place: Place::Here,
    }
    .visit_plan(plan);
}

/// Why a run that needs Python (`reason` says why it does) cannot be handed to
/// `wfr-python`.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("{reason}, and the path of wfr is unknown ({error})")]
    NoPath {
        reason: String,
        error: std::io::Error,
    },
    #[error(
        "{reason}: wfr runs Python through `{PYTHON_BINARY}`, which is not beside it in {}; \
         build both (`cargo build --release`) or install it (`cargo install --path runtime/wfr-python`)",
        folder.display()
    )]
    NotBeside { reason: String, folder: PathBuf },
    #[error("{reason}, and {} cannot start: {error}", binary.display())]
    CannotStart {
        reason: String,
        binary: PathBuf,
        error: std::io::Error,
    },
}

/// Becomes `wfr-python` with this process's arguments; returns only on failure.
#[must_use]
pub fn exec(reason: &str) -> HandoffError {
    use std::os::unix::process::CommandExt as _;
    let reason = reason.to_string();
    let binary = match std::env::current_exe() {
        Ok(me) => me.with_file_name(PYTHON_BINARY),
        Err(error) => return HandoffError::NoPath { reason, error },
    };
    if !binary.is_file() {
        let folder = binary.parent().unwrap_or(Path::new("")).to_path_buf();
        return HandoffError::NotBeside { reason, folder };
    }
    let error = std::process::Command::new(&binary)
        .args(std::env::args_os().skip(1))
        .exec();
    HandoffError::CannotStart {
        reason,
        binary,
        error,
    }
}
