//! Bash stage: the rendered script, written to a private temporary folder (mode
//! 0700), run with bash in its own process group, `env` exported, its output
//! logged line by line. A non-zero exit fails with the stderr in the message;
//! cancelling stops every process of the stage, and what the script leaves
//! running when it ends is killed (see `process.rs`).

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::Command;
use std::sync::Arc;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use wfc_plan::PlanMap;
use wfc_plan::expr::ast::Template;

use super::{Context, Outcome};
use crate::eval;
use crate::events::Source;
use crate::output::LineLog;
use crate::process;
use crate::status::ErrorName;
use crate::value::{Map, Value};

pub(super) fn run(
    cx: &impl Context,
    local: &Map,
    retry: Option<i64>,
    script: &Template,
    env: &PlanMap,
) -> Outcome {
    // Upstream renders the script and `env` without `pass_env`: `null` stays text.
    let scope = cx.scope(local, retry).plain();
    let script = match eval::render_text(&scope, script) {
        Ok(text) => text,
        Err(e) => return Outcome::eval_error(e),
    };
    let mut vars = Vec::with_capacity(env.0.len());
    for (name, value) in env.iter() {
        match eval::value_text(&scope, value) {
            Ok(text) => vars.push((name.clone(), text)),
            Err(e) => return Outcome::eval_error(e),
        }
    }
    if cx.cancel().is_cancelled() {
        return Outcome::cancelled("Cancel before start bash process.");
    }
    if cx.dry_run() {
        let env = vars
            .into_iter()
            .map(|(name, text)| (format!("env.{name}"), text));
        return Outcome::dry_run(
            std::iter::once(("script".to_string(), script))
                .chain(env)
                .collect(),
        );
    }
    #[cfg(feature = "docker")]
    if let crate::runner::Host::Container(session) = cx.host() {
        return match session.run_script(cx, &script, &vars) {
            Ok(exited) => Finished::of(exited).outcome(cx, |stderr| failure(stderr, &script)),
            Err(error) => error.into(),
        };
    }
    match spawn_and_wait(cx, &script, &vars) {
        Ok(done) => done,
        Err(_) if cx.cancel().is_killed() => {
            Outcome::cancelled("Cancel while the process was running.")
        }
        Err(error) => Outcome::failed(
            ErrorName::StageError,
            format!("cannot run the script with bash: {error}"),
        ),
    }
}

fn spawn_and_wait(
    cx: &impl Context,
    script: &str,
    vars: &[(String, String)],
) -> std::io::Result<Outcome> {
    let dir = private_dir("wfr-bash-")?;
    let path = dir.path().join("stage.sh");
    write_private(&path, script)?;
    let mut command = Command::new("bash");
    command.arg(&path).envs(vars.iter().map(|(k, v)| (k, v)));
    let done = run_process(cx, command, true)?;
    drop(dir);
    Ok(done.outcome(cx, |stderr| failure(stderr, script)))
}

/// The message of a script that exited with a status other than 0.
fn failure(stderr: &str, script: &str) -> String {
    format!(
        "Subprocess: {}\n\t```bash\n\t{}\n\t```",
        stderr.strip_suffix('\n').unwrap_or(stderr),
        script.replace('\n', "\n\t")
    )
}

/// A folder only this user can read (mode 0700), in wfr's scratch folder,
/// removed when dropped.
pub(super) fn private_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    crate::owner::scratch_dir(prefix)
}

/// Writes `text` (with Unix line ends and a final newline) to a file of mode 0700.
pub(super) fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    {
        let mut file = std::fs::File::create(path)?;
        file.write_all(text.replace("\r\n", "\n").as_bytes())?;
        file.write_all(b"\n")?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

/// How a process ended.
pub(super) struct Finished {
    status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// How a command in a container job's container ended (its exit status
    /// as a process's).
    #[cfg(feature = "docker")]
    pub(super) fn of(exited: crate::runner::container::Exited) -> Self {
        let code = i32::try_from(exited.code.clamp(0, 255)).unwrap_or(255);
        Finished {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: exited.stdout,
            stderr: exited.stderr,
        }
    }

    /// Upstream's outcome of a script: SUCCESS with `{return_code, stdout, stderr}`
    /// on exit 0, FAILED with `message(stderr)` otherwise, CANCEL when it was
    /// killed because the stage was cancelled.
    pub(super) fn outcome(
        &self,
        cx: &impl Context,
        message: impl FnOnce(&str) -> String,
    ) -> Outcome {
        match self.status.code() {
            Some(0) => {
                let mut outputs = Map::default();
                outputs.insert("return_code".into(), Value::Int(0));
                outputs.insert("stdout".into(), trimmed(&self.stdout));
                outputs.insert("stderr".into(), trimmed(&self.stderr));
                Outcome::success(outputs)
            }
            _ if cx.cancel().is_killed() => {
                Outcome::cancelled("Cancel while the process was running.")
            }
            Some(_) => Outcome::failed(ErrorName::StageError, message(&self.stderr)),
            None => Outcome::failed(
                ErrorName::StageError,
                format!(
                    "Subprocess was killed by signal {}",
                    self.status.signal().unwrap_or(0)
                ),
            ),
        }
    }
}

/// Runs `command` as a stage's process, its output captured and logged line by
/// line (as a Bash stage's lines when `bash`, else a VirtualPy stage's);
/// cancelling the stage stops every process of the stage (SIGTERM, then SIGKILL
/// after a grace period), and what is left when it ends is killed.
pub(super) fn run_process(
    cx: &impl Context,
    command: Command,
    bash: bool,
) -> std::io::Result<Finished> {
    let stage = Arc::new(process::Stage::new());
    let child = stage.spawn(command)?;
    let root = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _guard = {
        let stage = Arc::clone(&stage);
        cx.cancel().on_cancel(move || stop(&stage, Some(root)))
    };
    let source = if bash {
        Source::Bash
    } else {
        Source::VirtualPy
    };
    let log = LineLog::new(cx.events(), source, cx.at());
    let output = cx.blocking(|| process::collect(&stage, child, &log, cx.run_id()))?;
    Ok(Finished {
        status: output.status,
        stdout: output.stdout,
        stderr: output.stderr,
    })
}

/// Stops a cancelled stage's processes: SIGTERM, then SIGKILL after the grace
/// period (at once after a second signal), from a thread of its own.
pub(super) fn stop(stage: &Arc<process::Stage>, root: Option<Pid>) {
    if process::hurried() {
        stage.signal(root, Signal::SIGKILL);
        return;
    }
    stage.signal(root, Signal::SIGTERM);
    let stage = Arc::clone(stage);
    // After the stage ended, this finds nothing to kill (see `Stage::signal`).
    std::thread::spawn(move || {
        std::thread::sleep(process::GRACE);
        stage.signal(root, Signal::SIGKILL);
    });
}

/// Upstream's output form: newlines stripped at both ends, empty text is null.
pub(super) fn trimmed(text: &str) -> Value {
    let text = text.trim_matches('\n');
    if text.is_empty() {
        Value::Null
    } else {
        Value::str(text)
    }
}
