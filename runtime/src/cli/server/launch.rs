//! How the server starts runs: each is a `wfr run` (or `wfr rerun`) child of
//! the server, given the run id the server answered with. A thread per child
//! waits for it, keeps the end of what it said on stderr, and, when it ended
//! without putting its run in the history (it refused the run: bad input it
//! found), puts the run there as FAILED with what it said, so no run the server
//! answered 202 for is ever missing from the history.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::Run;
use super::Where;
use crate::store::{self, RunRow, RunState};
use crate::value::{Map, Value};

/// What the server knows of a run it started.
struct Child {
    pid: u32,
    workflow: String,
    started: Timestamp,
    rerun_of: Option<String>,
    /// Set when its `wfr` has exited.
    exited: bool,
    /// What its `wfr` said when it refused the run.
    refused: Option<String>,
}

pub(crate) struct Launcher {
    exe: PathBuf,
    runs: PathBuf,
    plans: PathBuf,
    store: Option<String>,
    /// The workflow folder, for `wfr rerun` to find the workflow by name.
    workspace: Option<PathBuf>,
    history: Arc<dyn store::Store>,
    /// Where params files are kept while their run starts.
    scratch: tempfile::TempDir,
    children: Arc<Mutex<HashMap<String, Child>>>,
}

/// How much of a child's stderr is kept (its end).
const STDERR_TAIL: usize = 8 << 10;

/// How many ended children are remembered (for what they said).
const REMEMBERED: usize = 1000;

impl Launcher {
    pub(crate) fn new(
        place: &Where,
        plans: &Path,
        workspace: Option<&Path>,
        history: Arc<dyn store::Store>,
    ) -> std::io::Result<Launcher> {
        let scratch = tempfile::Builder::new().prefix("wfr-server-").tempdir()?;
        Ok(Launcher {
            exe: std::env::current_exe()?,
            runs: std::path::absolute(&place.runs)?,
            plans: std::path::absolute(plans)?,
            store: place.store.store.clone(),
            workspace: workspace.map(std::path::absolute).transpose()?,
            history,
            scratch,
            children: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    fn children(&self) -> std::sync::MutexGuard<'_, HashMap<String, Child>> {
        self.children.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The options every child takes: where runs, plans and the store are.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.exe);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(folder) = &self.workspace {
            command.env("WORKFLOW_CORE_CONF_PATH", folder);
        }
        command
    }

    fn common(&self, run_id: &str) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--run-id".into(),
            run_id.into(),
            "--runs".into(),
            self.runs.clone().into(),
            "--plans".into(),
            self.plans.clone().into(),
            "--log-format".into(),
            "json".into(),
        ];
        if let Some(store) = &self.store {
            args.push("--store".into());
            args.push(store.into());
        }
        args
    }

    /// Starts a run of the plan `plan_file` (of `workflow`) as `run_id`.
    pub(crate) fn run(
        &self,
        run_id: &str,
        workflow: &str,
        plan_file: &Path,
        given: &Map,
    ) -> std::io::Result<()> {
        let params = self.scratch.path().join(format!("{run_id}.json"));
        let text =
            serde_json::to_vec(&Value::from(given.clone())).map_err(std::io::Error::other)?;
        std::fs::write(&params, text)?;
        let mut command = self.command();
        command
            .arg("run")
            .arg(plan_file)
            .arg("--params-file")
            .arg(&params)
            .args(self.common(run_id));
        self.spawn(command, run_id, workflow, None, Some(params))
    }

    /// Starts `wfr rerun OLD` as `run_id`.
    pub(crate) fn rerun(&self, run_id: &str, workflow: &str, old: &str) -> std::io::Result<()> {
        let mut command = self.command();
        command.arg("rerun").arg(old).args(self.common(run_id));
        self.spawn(command, run_id, workflow, Some(old.to_string()), None)
    }

    fn spawn(
        &self,
        mut command: Command,
        run_id: &str,
        workflow: &str,
        rerun_of: Option<String>,
        params: Option<PathBuf>,
    ) -> std::io::Result<()> {
        let mut child = command.spawn()?;
        let started = Timestamp::now();
        self.children().insert(
            run_id.to_string(),
            Child {
                pid: child.id(),
                workflow: workflow.to_string(),
                started,
                rerun_of: rerun_of.clone(),
                exited: false,
                refused: None,
            },
        );
        let stderr = child.stderr.take();
        let children = Arc::clone(&self.children);
        let history = Arc::clone(&self.history);
        let record = self.runs.join(run_id);
        let run_id = run_id.to_string();
        let workflow = workflow.to_string();
        std::thread::Builder::new()
            .name("wfr-server-run".into())
            .spawn(move || {
                let said = stderr.map(tail).unwrap_or_default();
                let status = child.wait();
                if let Some(params) = params {
                    let _ = std::fs::remove_file(params);
                }
                let code = status
                    .as_ref()
                    .ok()
                    .and_then(std::process::ExitStatus::code);
                let in_history = matches!(history.run(&run_id), Ok(Some(_)));
                let refused = (code == Some(i32::from(super::super::exit::BAD_INPUT))
                    || !in_history)
                    .then(|| said_errors(&said, code));
                // Why, before the history says FAILED: a client that sees the
                // run ended reads why at once.
                {
                    let mut children = children.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(child) = children.get_mut(&run_id) {
                        child.exited = true;
                        child.refused.clone_from(&refused);
                    }
                }
                if !in_history {
                    // Its wfr ended before the run was in the history: the run
                    // goes there as FAILED, with why.
                    let row = RunRow {
                        run_id: run_id.clone(),
                        workflow,
                        state: RunState::Running,
                        release: None,
                        started,
                        ended: None,
                        rerun_of,
                        record,
                        owner: None,
                    };
                    let added = history.add_run(&row).and_then(|()| {
                        history.end_run(&run_id, RunState::Failed, Timestamp::now())
                    });
                    if let Err(e) = added {
                        wfc_plan::errln!("wfr server: run {run_id} is not in the history: {e}");
                    }
                }
                if let Some(why) = &refused {
                    wfc_plan::errln!("wfr server: run {run_id} did not start: {why}");
                }
                let mut children = children.lock().unwrap_or_else(PoisonError::into_inner);
                // Forget the oldest ended ones beyond what is remembered.
                if children.len() > REMEMBERED {
                    let mut ended: Vec<(Timestamp, String)> = children
                        .iter()
                        .filter(|(_, c)| c.exited)
                        .map(|(id, c)| (c.started, id.clone()))
                        .collect();
                    ended.sort();
                    let extra = children.len() - REMEMBERED;
                    for (_, id) in ended.into_iter().take(extra) {
                        children.remove(&id);
                    }
                }
            })?;
        Ok(())
    }

    /// A run the server started that is not in the history yet.
    pub(crate) fn starting(&self, run_id: &str) -> Option<Run> {
        let children = self.children();
        let child = children.get(run_id)?;
        Some(Run {
            row: RunRow {
                run_id: run_id.to_string(),
                workflow: child.workflow.clone(),
                state: if child.exited {
                    RunState::Failed
                } else {
                    RunState::Running
                },
                release: None,
                started: child.started,
                ended: None,
                rerun_of: child.rerun_of.clone(),
                record: self.runs.join(run_id),
                owner: None,
            },
            refused: child.refused.clone(),
        })
    }

    /// What the `wfr` of a run the server started said as it refused it.
    pub(crate) fn refused(&self, run_id: &str) -> Option<String> {
        self.children().get(run_id)?.refused.clone()
    }

    /// Cancels a run the server started whose `wfr` still runs (SIGTERM, as
    /// `wfr stop`); false when it is not one.
    pub(crate) fn stop(&self, run_id: &str) -> bool {
        let children = self.children();
        let Some(child) = children.get(run_id).filter(|c| !c.exited) else {
            return false;
        };
        terminate(child.pid);
        true
    }

    /// Cancels every run the server started that still runs and waits up to
    /// `grace` for them to end; then a second SIGTERM (their stages are killed
    /// at once) and a few seconds more; then SIGKILL (their guards clean up).
    pub(crate) fn stop_all(&self, grace: Duration) {
        let live = || -> Vec<u32> {
            self.children()
                .values()
                .filter(|c| !c.exited)
                .map(|c| c.pid)
                .collect()
        };
        let wait = |within: Duration| {
            let deadline = Instant::now() + within;
            while !live().is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        let first = live();
        if first.is_empty() {
            return;
        }
        wfc_plan::errln!(
            "wfr server: cancelling {} run(s) it started; they get {} s to end",
            first.len(),
            grace.as_secs_f64()
        );
        first.iter().copied().for_each(terminate);
        wait(grace);
        live().into_iter().for_each(terminate);
        wait(Duration::from_secs(5));
        for pid in live() {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        wait(Duration::from_secs(2));
    }
}

fn terminate(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
}

/// The end of what a reader gives, up to [`STDERR_TAIL`] bytes.
fn tail(mut from: impl std::io::Read) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.extend_from_slice(&buffer[..n]);
                if kept.len() > 2 * STDERR_TAIL {
                    kept.drain(..kept.len() - STDERR_TAIL);
                }
            }
        }
    }
    if kept.len() > STDERR_TAIL {
        kept.drain(..kept.len() - STDERR_TAIL);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// What a `wfr` that refused a run said: its error lines (`wfr: error: …`, and
/// JSON lines' messages), else the last lines it wrote.
fn said_errors(said: &str, code: Option<i32>) -> String {
    let errors: Vec<&str> = said
        .lines()
        .filter_map(|line| line.strip_prefix("wfr: error: "))
        .collect();
    if !errors.is_empty() {
        return errors.join("\n");
    }
    let last: Vec<&str> = said.lines().rev().take(5).collect();
    if last.is_empty() {
        return match code {
            Some(code) => format!("its wfr exited with status {code} and said nothing"),
            None => "its wfr was killed by a signal before the run started".to_string(),
        };
    }
    last.into_iter().rev().collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_refusing_wfr_said_is_its_error_lines() {
        let said = "wfc: note\nwfr: error: workflow `w`: param `n` is required\n";
        assert_eq!(
            said_errors(said, Some(2)),
            "workflow `w`: param `n` is required"
        );
        assert!(said_errors("", None).contains("killed"));
        assert_eq!(said_errors("a\nb\n", Some(1)), "a\nb");
        let long = "x".repeat(3 * STDERR_TAIL);
        assert_eq!(tail(long.as_bytes()).len(), STDERR_TAIL);
    }
}
