//! Docker stage, through the engine's API (bollard): pull the image when it is not
//! there (with `auth`), create a container with `env`, the `volume` mounts (inside
//! the working directory only, held as checked until mounted: `mounts.rs`) and a
//! fresh host folder at `/logs`, start it, stream its output into the run log,
//! wait, and remove it. Exit code 0 is SUCCESS with `{return_code, stdout,
//! stderr}` and the JSON object the container wrote to `/logs/outputs.json`; a
//! cancel or a timeout stops the container (SIGTERM, SIGKILL after a grace period
//! that a second signal skips). Every wait on the engine is bounded, and every
//! container is labelled with its `wfr` (`owners.rs` removes those of a `wfr`
//! that is gone).

pub(crate) mod mounts;
pub(crate) mod owners;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    KillContainerOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptions,
};
use futures_util::StreamExt as _;
use wfc_plan::expr::ast::Template;
use wfc_plan::{CommandPlan, DockerPlan, PlanValue};

use super::bash::trimmed;
use super::{Context, ExecError, Outcome};
use crate::eval;
use crate::events::{Source, Stream};
use crate::output::{LineLog, StreamOutput};
use crate::owner::{self, Owner};
use crate::process;
use crate::status::ErrorName;
use crate::value::{Map, Value};

/// How long the engine may take to answer a request (other than waiting for the
/// container and pulling).
pub(crate) const REQUEST: Duration = Duration::from_secs(30);
/// How long a pull may take.
const PULL: Duration = Duration::from_secs(600);

/// The label every container of a stage carries (its run id).
pub(crate) const LABEL: &str = "dev.wfc.run";

/// A Docker stage's fields, rendered.
struct Spec {
    image: String,
    tag: String,
    env: Vec<String>,
    volumes: Vec<mounts::Volume>,
    /// The working directory, which volumes may not leave.
    workdir: PathBuf,
    auth: Option<DockerCredentials>,
    command: Option<Vec<String>>,
}

impl Spec {
    /// What a dry run shows of the container it would start: the image, each
    /// `env` variable, each volume (`volume.<host path>`: the container's path),
    /// the command as it would be given, and which credentials are given (their
    /// values are not shown: a log is no place for them).
    fn dry_run_fields(self) -> Vec<(String, String)> {
        let mut fields = vec![
            ("image".to_string(), self.image),
            ("tag".to_string(), self.tag),
        ];
        for var in self.env {
            let (name, value) = var.split_once('=').unwrap_or((&var, ""));
            fields.push((format!("env.{name}"), value.to_string()));
        }
        for volume in self.volumes {
            fields.push((format!("volume.{}", volume.host), volume.target));
        }
        if let Some(auth) = self.auth {
            let given = [
                ("username", auth.username.is_some()),
                ("password", auth.password.is_some()),
                ("serveraddress", auth.serveraddress.is_some()),
                ("email", auth.email.is_some()),
                ("identitytoken", auth.identitytoken.is_some()),
                ("auth", auth.auth.is_some()),
                ("registrytoken", auth.registrytoken.is_some()),
            ];
            let given: Vec<&str> = given
                .iter()
                .filter(|(_, on)| *on)
                .map(|(k, _)| *k)
                .collect();
            fields.push((
                "auth".to_string(),
                format!("{} (not shown)", given.join(", ")),
            ));
        }
        if let Some(command) = self.command {
            fields.push((
                "command".to_string(),
                serde_json::Value::from(command).to_string(),
            ));
        }
        fields
    }
}

/// Container names: `wfc-<stage>-<run id>-<n>`.
static CONTAINERS: AtomicU64 = AtomicU64::new(0);

pub(super) fn run(
    cx: &impl Context,
    local: &Map,
    retry: Option<i64>,
    name: &Template,
    docker: &DockerPlan,
) -> Outcome {
    let spec = match render(cx, local, retry, docker) {
        Ok(spec) => spec,
        Err(e) => return e.into(),
    };
    if cx.cancel().is_cancelled() {
        return Outcome::cancelled("Cancel before start the Docker container.");
    }
    if cx.dry_run() {
        return Outcome::dry_run(spec.dry_run_fields());
    }
    let logs = match logs_folder() {
        Ok(dir) => dir,
        Err(e) => {
            return Outcome::failed(
                ErrorName::StageError,
                format!("cannot make the container's /logs folder: {e}"),
            );
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Outcome::failed(ErrorName::StageError, format!("cannot start I/O: {e}")),
    };
    let stop = Arc::new(tokio::sync::Notify::new());
    let _guard = {
        let stop = Arc::clone(&stop);
        cx.cancel().on_cancel(move || stop.notify_one())
    };
    let name = format!(
        "wfc-{}-{}-{}",
        sanitize(&name.to_string()),
        cx.run_id(),
        CONTAINERS.fetch_add(1, Ordering::Relaxed)
    );
    let outcome = cx.blocking(|| runtime.block_on(container(cx, &spec, &name, &logs.1, &stop)));
    drop(logs);
    outcome
}

/// The stage's fields rendered, its volumes checked.
fn render(
    cx: &impl Context,
    local: &Map,
    retry: Option<i64>,
    docker: &DockerPlan,
) -> Result<Spec, ExecError> {
    let DockerPlan {
        image,
        tag,
        env,
        volume,
        auth,
        command,
    } = docker;
    let scope = cx.scope(local, retry);
    let text = |t: &Template| eval::render_text(&scope, t).map_err(ExecError::from);
    let value_text = |v: &PlanValue| eval::value_text(&scope, v).map_err(ExecError::from);
    let image = text(image)?;
    let tag = text(tag)?;
    let mut vars = Vec::with_capacity(env.0.len());
    for (k, v) in env.iter() {
        vars.push(format!("{k}={}", value_text(v)?));
    }
    let workdir = std::env::current_dir().map_err(|e| {
        ExecError::failed(
            ErrorName::StageError,
            format!("cannot read the working directory: {e}"),
        )
    })?;
    let mut volumes = Vec::with_capacity(volume.len());
    for (host, target) in volume {
        let host = text(host)?;
        let target = value_text(target)?;
        // Refused early, before any pull; checked again when mounted.
        wfc_plan::volume::host_path(&host, &workdir)
            .map_err(|refusal| ExecError::failed(ErrorName::StageError, refusal.message(&host)))?;
        if !target.starts_with('/')
            || wfc_plan::volume::normalize(Path::new(&target)) == Path::new("/logs")
        {
            return Err(ExecError::failed(
                ErrorName::StageError,
                format!(
                    "volume `{host}`: the container path `{target}` must be absolute and not `/logs`"
                ),
            ));
        }
        volumes.push(mounts::Volume {
            host,
            target,
            read_only: false,
        });
    }
    let auth = if auth.0.is_empty() {
        None
    } else {
        let mut fields = HashMap::new();
        for (k, v) in auth.iter() {
            fields.insert(k.as_str(), value_text(v)?);
        }
        Some(DockerCredentials {
            username: fields.remove("username"),
            password: fields.remove("password"),
            serveraddress: fields
                .remove("serveraddress")
                .or_else(|| fields.remove("registry")),
            email: fields.remove("email"),
            identitytoken: fields.remove("identitytoken"),
            auth: fields.remove("auth"),
            registrytoken: fields.remove("registrytoken"),
        })
    };
    let command = match command {
        None => None,
        Some(CommandPlan::Shell(t)) => Some(vec!["sh".to_string(), "-c".to_string(), text(t)?]),
        Some(CommandPlan::Exec(parts)) => {
            Some(parts.iter().map(&text).collect::<Result<Vec<_>, _>>()?)
        }
    };
    Ok(Spec {
        image,
        tag,
        env: vars,
        volumes,
        workdir,
        auth,
        command,
    })
}

/// A private folder, in this process's scratch root, holding the `/logs` folder
/// the container may write to.
fn logs_folder() -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = owner::scratch_dir("wfr-docker-")?;
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs)?;
    // The container's user may not be ours; the folder above keeps others out.
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o777))?;
    Ok((dir, logs))
}

pub(crate) fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    cleaned.trim_matches('-').chars().take(40).collect()
}

fn engine_error(what: &str, error: &bollard::errors::Error) -> ExecError {
    ExecError::failed(ErrorName::StageError, format!("{what}: {error}"))
}

pub(crate) async fn bounded<T>(
    what: &str,
    limit: Duration,
    future: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, ExecError> {
    match tokio::time::timeout(limit, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(engine_error(what, &error)),
        Err(_) => Err(ExecError::failed(
            ErrorName::StageError,
            format!(
                "{what}: the Docker engine did not answer within {}s",
                limit.as_secs()
            ),
        )),
    }
}

async fn container(
    cx: &impl Context,
    spec: &Spec,
    name: &str,
    logs: &Path,
    stop: &tokio::sync::Notify,
) -> Outcome {
    let docker = match Docker::connect_with_local_defaults() {
        Ok(d) => d.with_timeout(Duration::from_secs(24 * 3600)),
        Err(e) => return engine_error("cannot reach the Docker engine", &e).into(),
    };
    if let Err(error) = bounded(
        "cannot reach the Docker engine (is it running? DOCKER_HOST names another one)",
        Duration::from_secs(10),
        docker.ping(),
    )
    .await
    {
        return error.into();
    }
    let reference = format!("{}:{}", spec.image, spec.tag);
    let image = Image {
        name: &spec.image,
        tag: &spec.tag,
        auth: spec.auth.as_ref(),
    };
    if let Err(error) = pull_if_missing(cx, &docker, &image, &reference, stop).await {
        return error.into();
    }
    let labels = match owned_labels(cx) {
        Ok(labels) => labels,
        Err(error) => return error.into(),
    };
    // From here until the container has started, no container that could swap
    // a folder on the way to a host path runs.
    let own = [mounts::Own {
        path: logs,
        target: "/logs",
        read_only: false,
    }];
    let held = match mounts::hold(
        &docker,
        &spec.volumes,
        &own,
        &spec.workdir,
        cancelled(cx, stop),
    )
    .await
    {
        Ok(held) => held,
        Err(error) => return error.into(),
    };
    let body = ContainerCreateBody {
        image: Some(reference.clone()),
        cmd: spec.command.clone(),
        env: Some(spec.env.clone()),
        labels: Some(labels),
        host_config: Some(HostConfig {
            mounts: Some(held.mounts.clone()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = bounded(
        &format!("cannot create a container of {reference}"),
        REQUEST,
        docker.create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            body,
        ),
    )
    .await;
    let id = match created {
        Ok(created) => created.id,
        Err(error) => {
            held.release(&docker).await;
            // The engine may have made it all the same (a request that timed out).
            remove(cx, &docker, name).await;
            return error.into();
        }
    };
    // Its output is read from the container's own streams, attached before it
    // starts: the engine's log files may rotate (a `max-size` log option) and
    // lose what a chatty container writes before anyone reads it.
    let attached = if cx.cancel().is_cancelled() {
        Err(ExecError::Cancelled(
            "Cancel before start the Docker container.".into(),
        ))
    } else {
        bounded(
            &format!("cannot attach to the container of {reference}"),
            REQUEST,
            docker.attach_container(
                &id,
                Some(
                    AttachContainerOptionsBuilder::default()
                        .stream(true)
                        .stdout(true)
                        .stderr(true)
                        .build(),
                ),
            ),
        )
        .await
    };
    let started = match attached {
        Ok(attached) => bounded(
            &format!("cannot start the container of {reference}"),
            REQUEST,
            docker.start_container(&id, None),
        )
        .await
        .map(|()| attached.output),
        Err(error) => Err(error),
    };
    held.release(&docker).await;
    let outcome = match started {
        Ok(output) => run_created(cx, &docker, &id, &reference, logs, stop, output).await,
        Err(error) => error.into(),
    };
    // The container goes, whatever happened to it.
    remove(cx, &docker, &id).await;
    outcome
}

/// The labels of a container this process starts for `cx`'s stage (or
/// strategy): its run, its owner (this `wfr`), its place. Before the first,
/// whoever cleans up after this process should it be killed (its guard, or the
/// next `wfr`, from the note in its scratch folder) is made ready.
pub(crate) fn owned_labels(cx: &impl Context) -> Result<HashMap<String, String>, ExecError> {
    let _ = crate::guard::ensure();
    sweep_gone_owners_once();
    owner::note_containers().map_err(|e| {
        ExecError::failed(
            ErrorName::StageError,
            format!("cannot note this process's containers in its scratch folder: {e}"),
        )
    })?;
    let mut labels = HashMap::new();
    labels.insert(LABEL.to_string(), cx.run_id().to_string());
    labels.insert(owner::LABEL.to_string(), Owner::current().label());
    labels.insert("dev.wfc.stage".to_string(), cx.at().to_string());
    Ok(labels)
}

/// Resolves when the stage is killed.
async fn cancelled(cx: &impl Context, stop: &tokio::sync::Notify) {
    if !cx.cancel().is_killed() {
        stop.notified().await;
    }
}

/// Force-removes a container (and its anonymous volumes); a failure is logged.
pub(crate) async fn remove(cx: &impl Context, docker: &Docker, id: &str) {
    let removed = tokio::time::timeout(
        REQUEST,
        docker.remove_container(
            id,
            Some(
                RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(true)
                    .build(),
            ),
        ),
    )
    .await;
    let why = match removed {
        Ok(
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }),
        ) => return,
        Ok(Err(e)) => format!("cannot remove the container: {e}"),
        Err(_) => format!(
            "cannot remove the container: the Docker engine did not answer within {}s",
            REQUEST.as_secs()
        ),
    };
    tracing::warn!(target: "wfr::docker", run = cx.run_id(), at = cx.at(), container = %id, "{why}");
}

/// Stops a container as a Bash stage's processes are stopped: SIGTERM, then
/// SIGKILL when it has not ended after the grace period, or at once after a
/// second signal (`process::hurry`).
pub(crate) async fn stop_container(docker: &Docker, id: &str) {
    let kill = |signal: &'static str| {
        tokio::time::timeout(
            REQUEST,
            docker.kill_container(
                id,
                Some(
                    KillContainerOptionsBuilder::default()
                        .signal(signal)
                        .build(),
                ),
            ),
        )
    };
    if !process::hurried() {
        let _ = kill("SIGTERM").await;
        let mut ended = docker.wait_container(id, None::<WaitContainerOptions>);
        let until = tokio::time::Instant::now() + process::GRACE;
        // A second signal sets a flag: looked at every 50 ms.
        while !process::hurried() && tokio::time::Instant::now() < until {
            tokio::select! {
                _ = ended.next() => return,
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }
    let _ = kill("SIGKILL").await;
}

/// An image to pull when the engine lacks it.
pub(crate) struct Image<'a> {
    pub name: &'a str,
    pub tag: &'a str,
    pub auth: Option<&'a DockerCredentials>,
}

/// Pulls `image` (`reference` is `name:tag`) unless the engine has it; a
/// notification on `stop` ends the pull.
pub(crate) async fn pull_if_missing(
    cx: &impl Context,
    docker: &Docker,
    image: &Image<'_>,
    reference: &str,
    stop: &tokio::sync::Notify,
) -> Result<(), ExecError> {
    match tokio::time::timeout(REQUEST, docker.inspect_image(reference)).await {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        })) => {}
        Ok(Err(e)) => return Err(engine_error(&format!("cannot inspect {reference}"), &e)),
        Err(_) => {
            return Err(ExecError::failed(
                ErrorName::StageError,
                format!(
                    "cannot inspect {reference}: the Docker engine did not answer within {}s",
                    REQUEST.as_secs()
                ),
            ));
        }
    }
    tracing::info!(target: "wfr::docker", run = cx.run_id(), at = cx.at(), "pulling {reference}");
    let options = CreateImageOptionsBuilder::default()
        .from_image(image.name)
        .tag(image.tag)
        .build();
    let with_auth = image.auth.is_some();
    let mut stream = docker.create_image(Some(options), None, image.auth.cloned());
    let pull = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                        return Err(pull_error(reference, &detail, with_auth));
                    }
                    if let Some(status) = info.status {
                        tracing::debug!(target: "wfr::docker", run = cx.run_id(), at = cx.at(), "{status}");
                    }
                }
                Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                    return Err(pull_error(reference, &message, with_auth));
                }
                Err(e) => return Err(engine_error(&format!("cannot pull {reference}"), &e)),
            }
        }
        Ok(())
    };
    tokio::select! {
        done = tokio::time::timeout(PULL, pull) => match done {
            Ok(result) => result,
            Err(_) => Err(ExecError::failed(
                ErrorName::StageError,
                format!("cannot pull {reference}: not done after {}s", PULL.as_secs()),
            )),
        },
        () = stop.notified() => Err(ExecError::Cancelled("Cancel while the image was pulled.".into())),
    }
}

fn pull_error(reference: &str, message: &str, with_auth: bool) -> ExecError {
    let lower = message.to_lowercase();
    let why = if lower.contains("unauthorized") || lower.contains("authentication required") {
        if with_auth {
            "the registry refused the credentials in `auth`"
        } else {
            "the registry wants credentials: give them in `auth` (username, password)"
        }
    } else if lower.contains("not found") || lower.contains("manifest unknown") {
        "no such image or tag in the registry"
    } else {
        "the pull failed"
    };
    ExecError::failed(
        ErrorName::StageError,
        format!("cannot pull {reference}: {why} ({message})"),
    )
}

async fn run_created(
    cx: &impl Context,
    docker: &Docker,
    id: &str,
    reference: &str,
    logs: &Path,
    stop: &tokio::sync::Notify,
    mut output: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
    >,
) -> Outcome {
    let log = LineLog::new(cx.events(), Source::Docker, cx.at());
    let mut streams = [
        StreamOutput::new(Stream::Stdout),
        StreamOutput::new(Stream::Stderr),
    ];
    let follow = async {
        while let Some(chunk) = output.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    tracing::warn!(target: "wfr::docker", run = cx.run_id(), at = cx.at(), "lost the rest of the container's output: {e}");
                    break;
                }
            };
            let (stream, bytes) = match chunk {
                LogOutput::StdErr { message } => (&mut streams[1], message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    (&mut streams[0], message)
                }
                LogOutput::StdIn { .. } => continue,
            };
            stream.push(&bytes, &log);
        }
    };
    let mut wait = docker.wait_container(id, None::<WaitContainerOptions>);
    let waited = async {
        follow.await;
        match wait.next().await {
            Some(Ok(done)) => Ok(done.status_code),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(engine_error("cannot wait for the container", &e)),
            None => Err(ExecError::failed(
                ErrorName::StageError,
                "the Docker engine stopped answering about the container",
            )),
        }
    };
    let ended = tokio::select! {
        code = waited => Some(code),
        () = cancelled(cx, stop) => None,
    };
    if ended.is_none() {
        stop_container(docker, id).await;
    }
    // Cancelled or not, what the budget held back of its lines is logged.
    for stream in &mut streams {
        stream.finish(&log);
    }
    let Some(code) = ended else {
        return Outcome::cancelled("Cancel while the Docker container was running.");
    };
    let [stdout, stderr] = streams.map(StreamOutput::text);
    let code = match code {
        Ok(code) => code,
        Err(error) => return error.into(),
    };
    if code != 0 {
        return Outcome::failed(
            ErrorName::StageError,
            format!(
                "Container of {reference} exited with status {code}: {}",
                stderr.trim_end_matches('\n')
            ),
        );
    }
    let mut outputs = Map::default();
    outputs.insert("return_code".into(), Value::Int(code));
    outputs.insert("stdout".into(), trimmed(&stdout));
    outputs.insert("stderr".into(), trimmed(&stderr));
    let file = logs.join("outputs.json");
    if file.exists() {
        let parsed = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| crate::json::parse(&text).map_err(|e| e.to_string()));
        match parsed {
            Ok(Value::Map(map)) => {
                for (k, v) in Arc::unwrap_or_clone(map) {
                    outputs.insert(k, v);
                }
            }
            Ok(_) => {
                return Outcome::failed(
                    ErrorName::StageError,
                    "/logs/outputs.json holds JSON that is not an object",
                );
            }
            Err(e) => {
                return Outcome::failed(
                    ErrorName::StageError,
                    format!("/logs/outputs.json is not JSON: {e}"),
                );
            }
        }
    }
    Outcome::success(outputs)
}

/// With the first Docker stage of a process, removes (in the background) the
/// containers of `wfr`s that are gone whose scratch folder went with them (a
/// reboot), which nothing else would find: listing the engine's containers
/// costs tens of milliseconds, nothing next to a container's start.
fn sweep_gone_owners_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("wfr-docker-reap".into())
            .spawn(|| match owners::reap_gone_owners() {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::warn!(target: "wfr::docker", removed, "removed containers of wfr processes that are gone");
                }
                Err(e) => {
                    tracing::debug!(target: "wfr::docker", error = %e, "cannot look for containers of wfr processes that are gone");
                }
            });
    });
}
