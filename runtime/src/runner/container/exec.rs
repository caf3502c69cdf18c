//! Stages inside a container job's container: each one's processes are a
//! `docker exec` of `/.wfc/bin/exec.sh`, which runs the command and then kills
//! what it left running. Every process of the stage carries its marker
//! (`WFR_STAGE=<marker>`) in its environment, as on the host: a cancelled or
//! timed-out stage's processes are found by it (`/.wfc/bin/kill.sh`, run as
//! root in the container) and get SIGTERM, then SIGKILL after the grace period
//! (at once after a second signal). A process that clears its environment
//! escapes that; it ends when the container is removed with the job.
//!
//! Py and Call stages run `/.wfc/bin/wfc_container.py` with the image's
//! `python3`: the request (code and `vars`, or the call and `with`) and the
//! result (outputs, or the exception) cross as files of `/.wfc/io`, their
//! values in wire form (`value/wire.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt as _;

use super::Session;
use crate::events::{Source, Stream};
use crate::executor::docker::{self as stage, mounts};
use crate::executor::{Context, ExecError, Outcome};
use crate::output::{LineLog, StreamOutput};
use crate::process;
use crate::status::ErrorName;
use crate::value::Map;
use crate::value::wire::{self, Wire};

/// How a stage's command ended in the container.
pub(crate) struct Exited {
    /// Its exit status (128 + the signal when a signal ended it).
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// How long the engine may take to report an ended exec's status.
const STATUS_WAIT: Duration = Duration::from_secs(5);

/// What a Python stage's runner writes back.
#[derive(serde::Deserialize)]
struct PyResult {
    outputs: Vec<(String, Wire)>,
    error: Option<(String, String, String)>,
}

impl Session {
    /// Runs a Bash stage's `script` with the container's shell and `env`, its
    /// lines logged as a Bash stage's.
    pub(crate) fn run_script(
        &self,
        cx: &impl Context,
        script: &str,
        env: &[(String, String)],
    ) -> Result<Exited, ExecError> {
        let argv = vec![self.shell.to_string(), "-c".to_string(), script.to_string()];
        let env = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.exec(cx, argv, env, Source::Bash)
    }

    /// Runs a VirtualPy stage's `script` with the image's uv (`version`: the
    /// interpreter it asks for), its lines logged as a VirtualPy stage's.
    pub(crate) fn run_uv(
        &self,
        cx: &impl Context,
        script: &str,
        version: Option<&str>,
    ) -> Result<Exited, ExecError> {
        if !self.uv {
            return Err(self.needs(
                "uv",
                "a VirtualPy stage of a container job runs with the image's uv",
            ));
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("{n}.py");
        let host = self.scratch.path().join("io").join(&name);
        write_shared(&host, script).map_err(|e| {
            ExecError::failed(
                ErrorName::StageError,
                format!("cannot write the script for the container: {e}"),
            )
        })?;
        let mut argv: Vec<String> = ["uv", "run", "--quiet", "--no-project"]
            .map(String::from)
            .to_vec();
        if let Some(version) = version {
            argv.push("--python".into());
            argv.push(version.to_string());
        }
        argv.push(format!("/.wfc/io/{name}"));
        let done = self.exec(
            cx,
            argv,
            vec!["UV_PYTHON_DOWNLOADS=never".into()],
            Source::VirtualPy,
        );
        let _ = std::fs::remove_file(&host);
        done
    }

    /// Runs a Py stage's code in the container.
    pub(crate) fn py(&self, cx: &impl Context, name: &str, source: &str, vars: &Map) -> Outcome {
        let request = serde_json::json!({
            "kind": "py",
            "source": source,
            "name": name,
            "vars": wire::map_of(vars),
            "run_id": cx.run_id(),
            "parent_run_id": cx.parent_run_id(),
            "at": cx.at(),
            "folders": self.folders(cx),
        });
        self.python(cx, &request, "Cancel while the Python code was running.")
    }

    /// Runs a Call stage's function in the container.
    pub(crate) fn call(&self, cx: &impl Context, uses: &str, args: &Map) -> Outcome {
        tracing::info!(target: "wfr::call", run = cx.run_id(), at = cx.at(), "calling {uses} in container {}", self.name);
        let request = serde_json::json!({
            "kind": "call",
            "uses": uses,
            "args": wire::map_of(args),
            "roots": wfc_compiler::api::call_roots(),
            "run_id": cx.run_id(),
            "parent_run_id": cx.parent_run_id(),
            "at": cx.at(),
            "folders": self.folders(cx),
        });
        self.python(
            cx,
            &request,
            "Cancel while the called function was running.",
        )
    }

    /// Where task packages are found, as the container sees them: the folders
    /// wfr would look in, those inside the workspace (the others are not in
    /// the container).
    fn folders(&self, cx: &impl Context) -> Vec<String> {
        let inside = std::path::Path::new(&self.working_dir);
        wfc_compiler::api::python_places(Some(std::path::Path::new(cx.source())))
            .into_iter()
            .filter_map(|folder| {
                let path = std::path::Path::new(&folder);
                let path = if path.is_absolute() {
                    path.to_path_buf()
                } else {
                    self.workdir.join(path)
                };
                let path = wfc_plan::volume::normalize(&path);
                let rel = path.strip_prefix(&self.workdir).ok()?;
                Some(inside.join(rel).to_string_lossy().into_owned())
            })
            .collect()
    }

    fn python(&self, cx: &impl Context, request: &serde_json::Value, cancelled: &str) -> Outcome {
        if !self.python3 {
            return self
                .needs(
                    "python3",
                    "Py and Call stages of a container job run with the image's python3",
                )
                .into();
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let io = self.scratch.path().join("io");
        let (ask, answer) = (format!("{n}.in.json"), format!("{n}.out.json"));
        if let Err(e) = write_shared(&io.join(&ask), &request.to_string()) {
            return Outcome::failed(
                ErrorName::StageError,
                format!("cannot write the stage's request for the container: {e}"),
            );
        }
        let argv = vec![
            "python3".to_string(),
            "/.wfc/bin/wfc_container.py".to_string(),
            format!("/.wfc/io/{ask}"),
            format!("/.wfc/io/{answer}"),
        ];
        let done = self.exec(
            cx,
            argv,
            vec!["PYTHONDONTWRITEBYTECODE=1".into()],
            Source::Py,
        );
        let _ = std::fs::remove_file(io.join(&ask));
        let result = std::fs::read_to_string(io.join(&answer));
        let _ = std::fs::remove_file(io.join(&answer));
        let exited = match done {
            Ok(exited) => exited,
            Err(error) => return error.into(),
        };
        if cx.cancel().is_killed() {
            return Outcome::cancelled(cancelled);
        }
        let Ok(result) = result else {
            return Outcome::failed(
                ErrorName::StageError,
                format!(
                    "the stage's Python in container {} ended without a result (exit status {}): {}",
                    self.name,
                    exited.code,
                    exited.stderr.trim_end()
                ),
            );
        };
        let result: PyResult = match serde_json::from_str(&result) {
            Ok(result) => result,
            Err(e) => {
                return Outcome::failed(
                    ErrorName::StageError,
                    format!("the stage's result from the container is not readable: {e}"),
                );
            }
        };
        if let Some((name, message, traceback)) = result.error {
            tracing::error!(target: "wfr::py", run = cx.run_id(), at = cx.at(), "{}", traceback.trim_end());
            return Outcome::raised(&name, message);
        }
        match wire::map(result.outputs) {
            Ok(outputs) => Outcome::success(outputs),
            Err(e) => Outcome::failed(
                ErrorName::StageError,
                format!("the stage's outputs from the container: {e}"),
            ),
        }
    }

    /// Runs `argv` in the container without logging (probes), as the
    /// container's user.
    pub(super) fn run_quiet(
        &self,
        cx: &impl Context,
        argv: Vec<String>,
        user: Option<String>,
    ) -> Result<Exited, ExecError> {
        let user = user.or_else(|| self.user.clone());
        cx.blocking(|| {
            self.runtime.block_on(async {
                let (output, exec_id) = start_with_id(self, argv, Vec::new(), user).await?;
                let mut lines = Lines::new(None);
                drain(output, &mut lines).await?;
                let code = exit_code(self, &exec_id).await;
                Ok(lines.exited(code))
            })
        })
    }

    /// Runs one stage's command (`argv`, with `env` besides the container's)
    /// through `exec.sh`, its lines logged as `source`'s; cancelling the stage
    /// stops its processes.
    fn exec(
        &self,
        cx: &impl Context,
        argv: Vec<String>,
        mut env: Vec<String>,
        source: Source,
    ) -> Result<Exited, ExecError> {
        if cx.cancel().is_cancelled() {
            return Err(ExecError::Cancelled(
                "Cancel before start the process in the job's container.".into(),
            ));
        }
        let marker = format!(
            "wfr-{}-{}-{}",
            std::process::id(),
            self.name,
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        env.push(format!("WFR_STAGE={marker}"));
        let mut command = vec!["sh".to_string(), "/.wfc/bin/exec.sh".to_string()];
        command.extend(argv);
        let stop = Arc::new(tokio::sync::Notify::new());
        let _guard = {
            let stop = Arc::clone(&stop);
            cx.cancel().on_cancel(move || stop.notify_one())
        };
        cx.blocking(|| {
            self.runtime.block_on(async {
                let (output, exec_id) =
                    start_with_id(self, command, env, self.user.clone()).await?;
                let mut lines = Lines::new(Some(LineLog::new(cx.events(), source, cx.at())));
                let stopping = async {
                    stop.notified().await;
                    self.stop_processes(&marker).await;
                    // Until the output ends.
                    std::future::pending::<()>().await;
                };
                tokio::select! {
                    done = drain(output, &mut lines) => done?,
                    () = stopping => {}
                }
                let code = exit_code(self, &exec_id).await;
                Ok(lines.exited(code))
            })
        })
    }

    /// SIGTERM to the processes of stage `marker`, then SIGKILL after the
    /// grace period (at once after a second signal).
    async fn stop_processes(&self, marker: &str) {
        if !process::hurried() {
            self.signal(marker, "TERM").await;
            let until = tokio::time::Instant::now() + process::GRACE;
            while !process::hurried() && tokio::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.signal(marker, "KILL").await;
    }

    async fn signal(&self, marker: &str, signal: &str) {
        let argv = ["sh", "/.wfc/bin/kill.sh", marker, signal]
            .map(String::from)
            .to_vec();
        let sent = async {
            let output = start(self, argv, Vec::new(), Some("0".into())).await?;
            let mut lines = Lines::new(None);
            drain(output, &mut lines).await
        };
        if let Ok(Err(ExecError::Failed { message, .. })) =
            tokio::time::timeout(stage::REQUEST, sent).await
        {
            tracing::warn!(target: "wfr::container", container = %self.name, "cannot signal the stage's processes ({signal}): {message}");
        }
    }
}

type Output = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
>;

async fn start(
    session: &Session,
    argv: Vec<String>,
    env: Vec<String>,
    user: Option<String>,
) -> Result<Output, ExecError> {
    start_with_id(session, argv, env, user)
        .await
        .map(|(output, _)| output)
}

/// Creates and starts an exec of `argv` in the session's container.
async fn start_with_id(
    session: &Session,
    argv: Vec<String>,
    env: Vec<String>,
    user: Option<String>,
) -> Result<(Output, String), ExecError> {
    // Not while the container is paused (another container is being started
    // with a folder it could write to): until its process runs.
    let _gate = mounts::exec_gate(&session.id).read_owned().await;
    let created = stage::bounded(
        &format!("cannot start a process in container {}", session.name),
        stage::REQUEST,
        session.docker.create_exec(
            &session.id,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(argv),
                env: Some(env),
                working_dir: Some(session.working_dir.clone()),
                user,
                ..Default::default()
            },
        ),
    )
    .await?;
    let started = stage::bounded(
        &format!("cannot start a process in container {}", session.name),
        stage::REQUEST,
        session.docker.start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: false,
                output_capacity: None,
            }),
        ),
    )
    .await?;
    match started {
        StartExecResults::Attached { output, .. } => {
            running(session, &created.id).await;
            Ok((output, created.id))
        }
        StartExecResults::Detached => Err(ExecError::failed(
            ErrorName::StageError,
            "the Docker engine started the process detached",
        )),
    }
}

/// Waits (a little) until the engine reports the exec's process started (it
/// has a pid) or ended.
async fn running(session: &Session, exec: &str) {
    let until = tokio::time::Instant::now() + STATUS_WAIT;
    while tokio::time::Instant::now() < until {
        match tokio::time::timeout(stage::REQUEST, session.docker.inspect_exec(exec)).await {
            // The engine says `Running` before it has started the process;
            // its pid comes once it has.
            Ok(Ok(inspected))
                if inspected.pid.is_some_and(|pid| pid > 0) || inspected.exit_code.is_some() =>
            {
                return;
            }
            Ok(Ok(_)) => {}
            _ => return,
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reads an exec's output to its end.
async fn drain(mut output: Output, lines: &mut Lines<'_>) -> Result<(), ExecError> {
    while let Some(chunk) = output.next().await {
        match chunk {
            Ok(LogOutput::StdErr { message }) => lines.push(Stream::Stderr, &message),
            Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                lines.push(Stream::Stdout, &message);
            }
            Ok(LogOutput::StdIn { .. }) => {}
            Err(e) => {
                return Err(ExecError::failed(
                    ErrorName::StageError,
                    format!("lost the output of the process in the container: {e}"),
                ));
            }
        }
    }
    lines.end();
    Ok(())
}

/// The exit status of an ended exec (the engine may take a moment to have it).
async fn exit_code(session: &Session, exec: &str) -> i64 {
    let until = tokio::time::Instant::now() + STATUS_WAIT;
    loop {
        if let Ok(Ok(inspected)) =
            tokio::time::timeout(stage::REQUEST, session.docker.inspect_exec(exec)).await
            && inspected.running != Some(true)
            && let Some(code) = inspected.exit_code
        {
            return code;
        }
        if tokio::time::Instant::now() > until {
            return -1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A process's output: kept (within bounds), and logged line by line as it
/// comes (when `log` says where).
struct Lines<'a> {
    log: Option<LineLog<'a>>,
    streams: [StreamOutput; 2],
}

impl<'a> Lines<'a> {
    fn new(log: Option<LineLog<'a>>) -> Self {
        Lines {
            log,
            streams: [
                StreamOutput::new(Stream::Stdout),
                StreamOutput::new(Stream::Stderr),
            ],
        }
    }

    fn push(&mut self, stream: Stream, bytes: &[u8]) {
        let i = usize::from(stream == Stream::Stderr);
        match &self.log {
            Some(log) => self.streams[i].push(bytes, log),
            None => self.streams[i].keep(bytes),
        }
    }

    fn end(&mut self) {
        if let Some(log) = &self.log {
            for stream in &mut self.streams {
                stream.finish(log);
            }
        }
    }

    fn exited(self, code: i64) -> Exited {
        let [stdout, stderr] = self.streams.map(StreamOutput::text);
        Exited {
            code,
            stdout,
            stderr,
        }
    }
}

/// Writes `text` to a file the container's user may read (its folder keeps
/// others out).
fn write_shared(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}
