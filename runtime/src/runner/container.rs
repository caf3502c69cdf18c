//! Container jobs (`runs-on: {type: container|docker, with: {image, …}}`), as
//! GitHub Actions' container jobs: one container per strategy from `image`,
//! kept up by a command that only waits, with the workspace (the run's working
//! directory) mounted at `working_dir`; the stages that start processes (Bash,
//! Py, Call, VirtualPy) run inside it with `docker exec` (`exec.rs`), the others
//! (Empty, Raise, Case, conditions, templates) in wfr as in any job, and a
//! Docker stage starts a sibling container as anywhere. The container is
//! labelled as a Docker stage's (its run, its `wfr`), so a killed `wfr`'s guard,
//! or the next `wfr`, removes it; it is removed when the strategy ends, is
//! cancelled or runs out of `timeout` (unless `remove: false`: then it is
//! stopped and left, and its name logged).

mod exec;
mod spec;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use wfc_plan::JobPlan;

pub(crate) use exec::Exited;

use super::{Host, JobRunner, refused};
use crate::executor::docker::{self as stage, mounts};
use crate::executor::{Context, ExecError, ListResult, Stop};
use crate::owner;
use crate::status::{self, ErrorName, Status};
use crate::value::{Map, Value};
use crate::vm::RunCx;
use crate::vm::stage::{StageCx, run_list};

/// What keeps the container up: PID 1 waits, and ends at once on SIGTERM.
const KEEP_UP: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

/// How long the engine may take to answer whether it is there.
const PING: Duration = Duration::from_secs(10);

/// wfr's scripts, mounted read-only at `/.wfc/bin`.
const SUPPORT: &str = include_str!("../../python/wfc_support.py");
const RUNNER: &str = include_str!("../../python/wfc_container.py");

/// Runs one stage's command (`"$@"`), then kills what it left running (the
/// processes that carry its marker, `WFR_STAGE`, in their environment), as a
/// Bash stage's leftovers are killed on the host.
const EXEC_SH: &str = r#"# wfc: runs one stage's command of a container job ("$@"), then kills what it left running.
"$@"
code=$?
sh /.wfc/bin/kill.sh "$WFR_STAGE" KILL $$
exit $code
"#;

/// Signals (`$2`) the processes whose environment holds `WFR_STAGE=$1`, but
/// process `$3` and itself.
const KILL_SH: &str = r#"# wfc: signals ($2) the processes of one stage of a container job: those with WFR_STAGE=$1 in their environment, but process $3.
marker="WFR_STAGE=$1"
signal=$2
spare=${3:-0}
unset WFR_STAGE
for dir in /proc/[0-9]*; do
  pid=${dir#/proc/}
  case " $$ $spare " in *" $pid "*) continue ;; esac
  if tr '\000' '\n' < "$dir/environ" 2>/dev/null | grep -qxF "$marker"; then
    kill -s "$signal" "$pid" 2>/dev/null
  fi
done
exit 0
"#;

/// Container names: `wfc-job-<place>-<run id>-<n>`.
static CONTAINERS: AtomicU64 = AtomicU64::new(0);

/// A strategy's running container, and what was learnt about its image.
pub(crate) struct Session {
    /// The container's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The image, as written (`name:tag`).
    pub image: String,
    runtime: tokio::runtime::Runtime,
    docker: Docker,
    /// `bash` when the image has it, else `sh`.
    shell: &'static str,
    python3: bool,
    uv: bool,
    user: Option<String>,
    working_dir: String,
    /// The run's working directory, mounted at `working_dir`.
    workdir: PathBuf,
    /// Holds `bin/` (at `/.wfc/bin`, read-only) and `io/` (at `/.wfc/io`): the
    /// requests and results of Python stages.
    scratch: tempfile::TempDir,
    next: AtomicU64,
}

/// Runs each strategy in a container of its own.
pub(crate) struct Runner;

impl Runner {
    #[allow(clippy::unnecessary_wraps)]
    pub(crate) fn for_job(_run: &RunCx, _job: &JobPlan) -> Result<Runner, Value> {
        // `with:` may name the matrix: it is read for each strategy.
        Ok(Runner)
    }
}

impl JobRunner for Runner {
    fn run_strategy(&self, cx: &StageCx, job: &JobPlan, strategy: &str) -> ListResult {
        let spec = match spec::render(cx, job) {
            Ok(spec) => spec,
            Err(why) => return stopped(refused(job, why)),
        };
        if cx.dry_run() {
            tracing::info!(target: "wfr::container", run = cx.run_id(), at = cx.at(), "dry run: the stages would run in a container of {}", spec.reference());
            return run_list(cx, &job.stages);
        }
        if cx.cancel().is_cancelled() {
            return ListResult {
                stages: Map::default(),
                status: Status::Cancel,
                stop: Some(Stop::CancelledBefore),
            };
        }
        let with_matrix = !matches!(job.strategy.matrix, wfc_plan::MatrixPlan::None);
        let session = match Session::start(cx, &spec, with_matrix.then_some(strategy)) {
            Ok(session) => Arc::new(session),
            Err(ExecError::Cancelled(_)) => {
                return ListResult {
                    stages: Map::default(),
                    status: Status::Cancel,
                    stop: Some(Stop::CancelledBefore),
                };
            }
            Err(ExecError::Failed { message, .. }) => return stopped(refused(job, message)),
        };
        // The stages' own token: the `timeout` kills it.
        let cancel = cx.cancel().child();
        let timed_out = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
        let timer = spec.timeout.map(|limit| {
            let cancel = cancel.clone();
            let timed_out = Arc::clone(&timed_out);
            std::thread::spawn(move || {
                if let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    done_rx.recv_timeout(limit)
                {
                    timed_out.store(true, Ordering::Release);
                    cancel.cancel();
                }
            })
        });
        let inside = cx.with_host(Host::Container(Arc::clone(&session)), cancel);
        let list = run_list(&inside, &job.stages);
        drop(inside);
        drop(done_tx);
        if let Some(timer) = timer {
            let _ = timer.join();
        }
        session.finish(cx, spec.remove);
        if timed_out.load(Ordering::Acquire) {
            let limit = spec.timeout.map_or(0.0, |t| t.as_secs_f64());
            return ListResult {
                stages: list.stages,
                status: Status::Failed,
                stop: Some(Stop::Runner(status::error(
                    ErrorName::JobError,
                    format!(
                        "Container job `{}` ran out of its timeout of {limit} seconds (`with.timeout`); its stages were stopped",
                        job.id
                    ),
                ))),
            };
        }
        list
    }
}

/// A strategy that stopped before its stages, with `error`.
fn stopped(error: Value) -> ListResult {
    ListResult {
        stages: Map::default(),
        status: Status::Failed,
        stop: Some(Stop::Runner(error)),
    }
}

impl Session {
    /// Starts the strategy's container (pulling the image when the engine lacks
    /// it) and looks at what its image has.
    fn start(
        cx: &StageCx,
        spec: &spec::Spec,
        strategy: Option<&str>,
    ) -> Result<Session, ExecError> {
        // Stages of the strategy that run side by side (a parallel stage) each
        // block on it: one of them drives the engine's I/O at a time.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                ExecError::failed(ErrorName::JobError, format!("cannot start I/O: {e}"))
            })?;
        let scratch = scratch().map_err(|e| {
            ExecError::failed(
                ErrorName::JobError,
                format!("cannot make the container's /.wfc folders: {e}"),
            )
        })?;
        let name = match (&spec.name, strategy) {
            (Some(name), None) => name.clone(),
            (Some(name), Some(strategy)) => format!("{name}-{}", stage::sanitize(strategy)),
            (None, _) => format!(
                "wfc-job-{}-{}-{}",
                stage::sanitize(cx.at()),
                cx.run_id(),
                CONTAINERS.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let stop = Arc::new(tokio::sync::Notify::new());
        let _guard = {
            let stop = Arc::clone(&stop);
            cx.cancel().on_cancel(move || stop.notify_one())
        };
        let (docker, id) = cx.blocking(|| {
            runtime.block_on(create_and_start(cx, spec, &name, scratch.path(), &stop))
        })?;
        let mut session = Session {
            id,
            name,
            image: spec.reference(),
            runtime,
            docker,
            shell: "sh",
            python3: false,
            uv: false,
            user: spec.user.clone(),
            working_dir: spec.working_dir.clone(),
            workdir: spec.workdir.clone(),
            scratch,
            next: AtomicU64::new(0),
        };
        if let Err(error) = session.look(cx) {
            session.finish(cx, true);
            return Err(error);
        }
        Ok(session)
    }

    /// What the image has: bash (else Bash stages run with sh), python3, uv.
    /// Told in the log.
    fn look(&mut self, cx: &StageCx) -> Result<(), ExecError> {
        let probe =
            "for p in bash python3 uv; do if command -v $p >/dev/null 2>&1; then echo $p; fi; done";
        let found = self.run_quiet(cx, vec!["sh".into(), "-c".into(), probe.into()], None)?;
        if found.code != 0 {
            return Err(ExecError::failed(
                ErrorName::JobError,
                format!(
                    "image {} has no working `sh` (exit status {}: {}): a container job runs its stages with sh or bash",
                    self.image,
                    found.code,
                    found.stderr.trim()
                ),
            ));
        }
        let has = |what: &str| found.stdout.lines().any(|l| l.trim() == what);
        self.shell = if has("bash") { "bash" } else { "sh" };
        self.python3 = has("python3");
        self.uv = has("uv");
        let shell = if self.shell == "bash" {
            "bash -c".to_string()
        } else {
            "sh -c (the image has no bash)".to_string()
        };
        let line = format!(
            "container {} of {}: Bash stages run with {shell}; python3 {}; uv {}",
            self.name,
            self.image,
            if self.python3 { "found" } else { "not found" },
            if self.uv { "found" } else { "not found" },
        );
        tracing::info!(target: "wfr::container", run = cx.run_id(), at = cx.at(), "{line}");
        Ok(())
    }

    /// Removes the container (or, with `remove: false`, stops it and logs
    /// its name).
    fn finish(&self, cx: &StageCx, remove: bool) {
        mounts::forget_gate(&self.id);
        self.runtime.block_on(async {
            if remove {
                stage::remove(cx, &self.docker, &self.id).await;
            } else {
                let _ = tokio::time::timeout(
                    stage::REQUEST,
                    self.docker.stop_container(
                        &self.id,
                        Some(
                            bollard::query_parameters::StopContainerOptionsBuilder::default()
                                .t(0)
                                .build(),
                        ),
                    ),
                )
                .await;
                tracing::info!(target: "wfr::container", run = cx.run_id(), at = cx.at(), "container {} of {} is left, stopped (`remove: false`): `docker rm {}` removes it", self.name, self.image, self.name);
            }
        });
    }

    /// The image has no python3: the error of a stage that needs it.
    fn needs(&self, what: &str, why: &str) -> ExecError {
        ExecError::failed(
            ErrorName::StageError,
            format!(
                "image {} has no {what}: {why} (looked for with `command -v {what}` in container {})",
                self.image, self.name
            ),
        )
    }
}

/// The scratch folder: `bin/` with wfr's scripts, `io/` for requests and
/// results, writable by the container's user (whoever that is).
fn scratch() -> std::io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = owner::scratch_dir("wfr-container-")?;
    let bin = dir.path().join("bin");
    let io = dir.path().join("io");
    std::fs::create_dir(&bin)?;
    std::fs::create_dir(&io)?;
    for (name, text) in [
        ("wfc_support.py", SUPPORT),
        ("wfc_container.py", RUNNER),
        ("exec.sh", EXEC_SH),
        ("kill.sh", KILL_SH),
    ] {
        let path = bin.join(name);
        std::fs::write(&path, text)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    }
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
    // The folder above keeps others out.
    std::fs::set_permissions(&io, std::fs::Permissions::from_mode(0o777))?;
    Ok(dir)
}

/// The engine `docker_host` names, else the local one, if it answers.
async fn engine(spec: &spec::Spec) -> Result<Docker, ExecError> {
    let (docker, which) = match &spec.docker_host {
        Some(host) => (
            Docker::connect_with_host(host),
            format!("the Docker engine at `{host}` (`with.docker_host`)"),
        ),
        None => (
            Docker::connect_with_local_defaults(),
            "the Docker engine (is it running? DOCKER_HOST names another one)".to_string(),
        ),
    };
    let docker = docker
        .map_err(|e| ExecError::failed(ErrorName::JobError, format!("cannot reach {which}: {e}")))?
        .with_timeout(Duration::from_secs(24 * 3600));
    match tokio::time::timeout(PING, docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(ExecError::failed(
            ErrorName::JobError,
            format!("cannot reach {which}: {e}"),
        )),
        Err(_) => Err(ExecError::failed(
            ErrorName::JobError,
            format!(
                "cannot reach {which}: it did not answer within {}s",
                PING.as_secs()
            ),
        )),
    }
}

async fn create_and_start(
    cx: &StageCx,
    spec: &spec::Spec,
    name: &str,
    scratch: &std::path::Path,
    stop: &tokio::sync::Notify,
) -> Result<(Docker, String), ExecError> {
    let docker = engine(spec).await?;
    let reference = spec.reference();
    let image = stage::Image {
        name: &spec.image,
        tag: &spec.tag,
        auth: None,
    };
    stage::pull_if_missing(cx, &docker, &image, &reference, stop)
        .await
        .map_err(|e| match e {
            ExecError::Failed { message, .. } => ExecError::failed(
                ErrorName::JobError,
                format!("image {reference} is not on the Docker engine, and {message}"),
            ),
            cancelled @ ExecError::Cancelled(_) => cancelled,
        })?;
    let mut labels = stage::owned_labels(cx)?;
    if !spec.remove {
        // Kept on purpose: no one removes it for this `wfr`.
        labels.remove(owner::LABEL);
        labels.insert("dev.wfc.kept".to_string(), "true".to_string());
    }
    let bin = scratch.join("bin");
    let io = scratch.join("io");
    let own = [
        mounts::Own {
            path: &bin,
            target: "/.wfc/bin",
            read_only: true,
        },
        mounts::Own {
            path: &io,
            target: "/.wfc/io",
            read_only: false,
        },
    ];
    let held = mounts::hold(&docker, &spec.volumes, &own, &spec.workdir, async {
        if !cx.cancel().is_killed() {
            stop.notified().await;
        }
    })
    .await?;
    let body = ContainerCreateBody {
        image: Some(reference.clone()),
        entrypoint: Some(vec!["sh".into(), "-c".into(), KEEP_UP.into()]),
        cmd: Some(Vec::new()),
        env: Some(spec.env.clone()),
        labels: Some(labels),
        working_dir: Some(spec.working_dir.clone()),
        user: spec.user.clone(),
        host_config: Some(HostConfig {
            mounts: Some(held.mounts.clone()),
            network_mode: spec.network.clone(),
            memory: spec.memory,
            memory_swap: spec.memory_swap,
            nano_cpus: spec.nano_cpus,
            cpuset_cpus: spec.cpuset_cpus.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = stage::bounded(
        &format!("cannot create a container of {reference}"),
        stage::REQUEST,
        docker.create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            body,
        ),
    )
    .await;
    let id = match created {
        // Its exec gate from the start: another start that pauses it waits
        // for the execs being started in it (see `mounts::exec_gate`).
        Ok(created) => {
            mounts::exec_gate(&created.id);
            created.id
        }
        Err(error) => {
            held.release(&docker).await;
            // The engine may have made it all the same (a request that timed out).
            if !matches!(&error, ExecError::Failed { message, .. } if message.contains("409")) {
                stage::remove(cx, &docker, name).await;
            }
            return Err(job_error(error));
        }
    };
    let started = if cx.cancel().is_cancelled() {
        Err(ExecError::Cancelled(
            "Cancel before start the job's container.".into(),
        ))
    } else {
        stage::bounded(
            &format!("cannot start the container of {reference}"),
            stage::REQUEST,
            docker.start_container(&id, None),
        )
        .await
    };
    held.release(&docker).await;
    if let Err(error) = started {
        mounts::forget_gate(&id);
        stage::remove(cx, &docker, &id).await;
        return Err(job_error(error));
    }
    Ok((docker, id))
}

fn job_error(error: ExecError) -> ExecError {
    match error {
        ExecError::Failed { message, .. } => ExecError::failed(ErrorName::JobError, message),
        cancelled @ ExecError::Cancelled(_) => cancelled,
    }
}
