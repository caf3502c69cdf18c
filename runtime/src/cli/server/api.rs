//! The JSON API under `/api/v1`, its Server-Sent Events and its OpenAPI
//! document (generated from these handlers by utoipa).

use std::convert::Infallible;
use std::io::{Read as _, Seek as _};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use petgraph::Direction;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use wfc_plan::Plan;

use super::{Failure, MAX_PAGE, Run, RunView, Server, history};
use crate::store::{RunQuery, RunRow, RunState};

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

type Answer<T> = Result<T, Failure>;

pub(super) fn routes() -> axum::Router<Arc<Server>> {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/workflows", get(workflows))
        .route("/api/v1/workflows/{name}", get(workflow))
        .route("/api/v1/workflows/{name}/runs", post(start_run))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/runs/{id}", get(run))
        .route("/api/v1/runs/{id}/stop", post(stop))
        .route("/api/v1/runs/{id}/rerun", post(rerun))
        .route("/api/v1/runs/{id}/events", get(events))
        .route("/api/v1/runs/{id}/logs", get(logs))
        .layer(axum::middleware::map_response(as_json))
}

/// An API answer that failed before a handler (a bad path, query or body,
/// one too large: axum says those in plain text) in the API's JSON shape.
async fn as_json(response: Response) -> Response {
    let failed = response.status().is_client_error() || response.status().is_server_error();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !failed || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("failed")
            .to_string()
    } else {
        text
    };
    Failure::new(parts.status, message).into_response()
}

/// A path that is nothing of the server's.
pub(super) async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return Failure::not_found(format!(
            "no API path {}; GET /api/v1/openapi.json lists them",
            uri.path()
        ))
        .into_response();
    }
    super::ui::failure_page(&Failure::not_found(format!(
        "there is no page {}",
        uri.path()
    )))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wfr server",
        description = "Workflows and runs of a wfc workspace. Every path but /healthz needs `Authorization: Bearer TOKEN` when the server has a token."
    ),
    paths(
        healthz, workflows, workflow, start_run, runs, run, stop, rerun, events, logs
    ),
    components(schemas(
        ErrorBody, ParamInfo, ScheduleInfo, WorkflowInfo, WorkflowDetail, JobNode, StageNode,
        RunInfo, RunPage, StepInfo, JobInfo, ErrorInfo, RunDetail, Started, StartBody
    )),
    modifiers(&Bearer)
)]
struct Doc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The OpenAPI document of this API.
async fn openapi() -> Response {
    Json(Doc::openapi()).into_response()
}

/// What every failure answers.
#[derive(Serialize, ToSchema)]
pub(super) struct ErrorBody {
    /// What is wrong, and what to do.
    error: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ParamInfo {
    name: String,
    /// str, int, float, decimal, date, datetime, choice, map or array.
    #[serde(rename = "type")]
    ty: &'static str,
    desc: Option<String>,
    required: bool,
    #[schema(value_type = Option<Object>)]
    default: Option<serde_json::Value>,
    /// A choice param's options.
    #[schema(value_type = Vec<Object>)]
    options: Vec<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ScheduleInfo {
    cron: String,
    timezone: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct WorkflowInfo {
    name: String,
    desc: Option<String>,
    params: Vec<ParamInfo>,
    schedules: Vec<ScheduleInfo>,
    /// The next tick of its schedules (RFC 3339), if it has any.
    pub(super) next_tick: Option<String>,
    /// Its newest run.
    pub(super) last_run: Option<RunInfo>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct WorkflowDetail {
    #[serde(flatten)]
    info: WorkflowInfo,
    /// Its jobs, each with the jobs it needs.
    jobs: Vec<JobNode>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct JobNode {
    id: String,
    desc: Option<String>,
    needs: Vec<String>,
    runs_on: &'static str,
    stages: Vec<StageNode>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct StageNode {
    name: String,
    kind: &'static str,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RunInfo {
    pub(super) run_id: String,
    workflow: String,
    /// RUNNING, SUCCESS, FAILED, SKIP, CANCEL or LOST.
    pub(super) status: &'static str,
    release: Option<String>,
    pub(super) started: String,
    ended: Option<String>,
    /// How long it took (so far, while it runs).
    seconds: f64,
    rerun_of: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RunPage {
    runs: Vec<RunInfo>,
    limit: usize,
    offset: usize,
    /// The `offset` of the next page, when there is one.
    next_offset: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct StepInfo {
    /// Where the stage ran: `job`, `job/strategy`, `job[item]`.
    at: String,
    name: String,
    status: Option<String>,
    started: Option<String>,
    seconds: Option<f64>,
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct JobInfo {
    id: String,
    /// None while it runs.
    status: Option<String>,
    started: Option<String>,
    seconds: Option<f64>,
    /// Why it did not run (a trigger rule, an `if`), or whose result it took.
    not_run: Option<String>,
    stages: Vec<StepInfo>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ErrorInfo {
    /// `run`, `job ID` or `stage NAME (AT)`.
    at: String,
    message: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RunDetail {
    #[serde(flatten)]
    run: RunInfo,
    jobs: Vec<JobInfo>,
    errors: Vec<ErrorInfo>,
    #[schema(value_type = Option<Object>)]
    params: Option<serde_json::Value>,
    /// The run's final context (once it ended), as `wfr run --output json` prints it.
    #[schema(value_type = Option<Object>)]
    context: Option<serde_json::Value>,
    record: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Started {
    run_id: String,
    workflow: String,
    /// Where its status is.
    url: String,
    /// Where its events stream.
    events: String,
}

/// The body of `POST /workflows/{name}/runs`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub(super) struct StartBody {
    /// The params, by name (values of the params' types, or text as `-p` takes).
    #[schema(value_type = Option<Object>)]
    params: Option<serde_json::Value>,
}

pub(super) fn run_info(row: &RunRow) -> RunInfo {
    RunInfo {
        run_id: row.run_id.clone(),
        workflow: row.workflow.clone(),
        status: row.state.as_str(),
        release: row.release.map(|t| t.to_string()),
        started: row.started.to_string(),
        ended: row.ended.map(|t| t.to_string()),
        seconds: super::seconds_of(row),
        rerun_of: row.rerun_of.clone(),
    }
}

fn plan_json(value: &wfc_plan::PlanValue) -> serde_json::Value {
    serde_json::to_value(crate::value::Value::from_plan(value, false)).unwrap_or_default()
}

pub(super) fn workflow_info(server: &Server, plan: &Plan) -> Answer<WorkflowInfo> {
    let last = server.runs(&RunQuery {
        workflow: Some(plan.name.clone()),
        limit: 1,
        ..RunQuery::default()
    })?;
    Ok(WorkflowInfo {
        name: plan.name.clone(),
        desc: plan.desc.clone(),
        params: plan
            .params
            .iter()
            .map(|p| ParamInfo {
                name: p.name.clone(),
                ty: p.ty.name(),
                desc: p.desc.clone(),
                required: p.required,
                default: p.default.as_ref().map(plan_json),
                options: p.options.iter().map(plan_json).collect(),
            })
            .collect(),
        schedules: plan
            .schedule
            .iter()
            .map(|s| ScheduleInfo {
                cron: s.cron.clone(),
                timezone: s.timezone.clone(),
            })
            .collect(),
        next_tick: super::next_tick(plan).map(|t| t.to_string()),
        last_run: last.first().map(run_info),
    })
}

pub(super) fn job_nodes(plan: &Plan) -> Vec<JobNode> {
    plan.jobs
        .node_indices()
        .map(|index| {
            let job = &plan.jobs[index];
            JobNode {
                id: job.id.clone(),
                desc: job.desc.clone(),
                needs: plan
                    .jobs
                    .neighbors_directed(index, Direction::Incoming)
                    .map(|n| plan.jobs[n].id.clone())
                    .collect(),
                runs_on: job.runs_on.name(),
                stages: job
                    .stages
                    .iter()
                    .map(|s| StageNode {
                        name: s.name.to_string(),
                        kind: s.kind.name(),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn step_info(step: &history::Step) -> StepInfo {
    StepInfo {
        at: step.at.clone(),
        name: step.name.clone(),
        status: step.status.clone(),
        started: step.started.clone(),
        seconds: step.seconds,
        error: step.error.clone(),
    }
}

pub(super) fn run_detail(view: &RunView) -> RunDetail {
    RunDetail {
        run: run_info(&view.run.row),
        jobs: view
            .jobs
            .iter()
            .map(|job| JobInfo {
                id: job.name.clone(),
                status: job.status.clone(),
                started: job.started.clone(),
                seconds: job.seconds,
                not_run: job.not_run.clone(),
                stages: view.stages_of(&job.name).map(step_info).collect(),
            })
            .collect(),
        errors: view
            .errors()
            .into_iter()
            .map(|(at, message)| ErrorInfo { at, message })
            .collect(),
        params: view.params.clone(),
        context: view.context.clone(),
        record: view.run.row.record.display().to_string(),
    }
}

/// Is the server up.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, description = "It is up")))]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Runs a blocking piece of work (the store, the workspace's compile, files)
/// off the server's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Answer<T> + Send + 'static,
) -> Answer<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(Failure::internal)?
}

/// The workflows of the workspace.
#[utoipa::path(get, path = "/api/v1/workflows", responses(
    (status = 200, body = Vec<WorkflowInfo>),
    (status = 401, body = ErrorBody)
))]
async fn workflows(State(server): State<Arc<Server>>) -> Answer<Json<Vec<WorkflowInfo>>> {
    blocking(move || {
        let workspace = server.workspace()?;
        let mut list = Vec::new();
        for plan in &workspace.plans {
            list.push(workflow_info(&server, plan)?);
        }
        Ok(Json(list))
    })
    .await
}

/// One workflow, with its job graph.
#[utoipa::path(get, path = "/api/v1/workflows/{name}", params(("name" = String, Path)), responses(
    (status = 200, body = WorkflowDetail),
    (status = 404, body = ErrorBody)
))]
async fn workflow(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
) -> Answer<Json<WorkflowDetail>> {
    blocking(move || {
        let plan = server.plan(&name)?;
        Ok(Json(WorkflowDetail {
            info: workflow_info(&server, &plan)?,
            jobs: job_nodes(&plan),
        }))
    })
    .await
}

/// Starts a run. It answers at once; the run goes on in the background.
#[utoipa::path(post, path = "/api/v1/workflows/{name}/runs", params(("name" = String, Path)),
    request_body(content = StartBody, content_type = "application/json"),
    responses(
        (status = 202, body = Started, description = "Started; follow it at `url` or `events`"),
        (status = 400, body = ErrorBody, description = "The body is not `{\"params\": {…}}`"),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Params that do not fit, with `wfr run`'s message")
))]
async fn start_run(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer<(StatusCode, Json<Started>)> {
    let given = super::params_from_json(&body)?;
    let workflow = name.clone();
    let run_id = blocking(move || server.start(&name, &given)).await?;
    Ok((StatusCode::ACCEPTED, Json(started(run_id, workflow))))
}

fn started(run_id: String, workflow: String) -> Started {
    Started {
        url: format!("/api/v1/runs/{run_id}"),
        events: format!("/api/v1/runs/{run_id}/events"),
        run_id,
        workflow,
    }
}

#[derive(Deserialize, IntoParams)]
pub(super) struct RunsQuery {
    /// Only this workflow's runs.
    workflow: Option<String>,
    /// Only runs with this status.
    status: Option<String>,
    /// At most this many (default 50, at most 500).
    limit: Option<usize>,
    /// Pass over this many of the newest first.
    offset: Option<usize>,
}

/// Checks a `status` filter.
pub(super) fn parse_state(text: Option<&str>) -> Answer<Option<RunState>> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => RunState::parse(text).map(Some).ok_or_else(|| {
            let names: Vec<&str> = RunState::ALL.iter().map(|s| s.as_str()).collect();
            Failure::new(
                StatusCode::BAD_REQUEST,
                format!("status `{text}`: a status is one of {}", names.join(", ")),
            )
        }),
    }
}

/// One page of the history, newest first, and whether there is another.
pub(super) fn page(
    server: &Server,
    workflow: Option<String>,
    state: Option<RunState>,
    limit: usize,
    offset: usize,
) -> Answer<(Vec<RunRow>, bool)> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut rows = server.runs(&RunQuery {
        workflow: workflow.filter(|w| !w.trim().is_empty()),
        state,
        since: None,
        limit: limit + 1,
        offset,
    })?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, more))
}

/// The run history, newest first.
#[utoipa::path(get, path = "/api/v1/runs", params(RunsQuery), responses(
    (status = 200, body = RunPage),
    (status = 400, body = ErrorBody)
))]
async fn runs(
    State(server): State<Arc<Server>>,
    Query(query): Query<RunsQuery>,
) -> Answer<Json<RunPage>> {
    let state = parse_state(query.status.as_deref())?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let offset = query.offset.unwrap_or(0);
    blocking(move || {
        let (rows, more) = page(&server, query.workflow, state, limit, offset)?;
        Ok(Json(RunPage {
            next_offset: more.then_some(offset + rows.len()),
            runs: rows.iter().map(run_info).collect(),
            limit,
            offset,
        }))
    })
    .await
}

/// One run: its jobs, stages, errors, params and (once it ended) its context.
#[utoipa::path(get, path = "/api/v1/runs/{id}", params(("id" = String, Path)), responses(
    (status = 200, body = RunDetail),
    (status = 404, body = ErrorBody)
))]
async fn run(State(server): State<Arc<Server>>, Path(id): Path<String>) -> Answer<Json<RunDetail>> {
    blocking(move || {
        let run = server.run(&id)?;
        Ok(Json(run_detail(&RunView::of(run))))
    })
    .await
}

/// Cancels a running run (its stages get their grace period, as with `wfr stop`).
#[utoipa::path(post, path = "/api/v1/runs/{id}/stop", params(("id" = String, Path)), responses(
    (status = 202, body = RunInfo, description = "Told to stop; its status turns CANCEL when it has"),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "It already ended, or runs on another host")
))]
async fn stop(
    State(server): State<Arc<Server>>,
    Path(id): Path<String>,
) -> Answer<(StatusCode, Json<RunInfo>)> {
    blocking(move || {
        let row = server.stop(&id)?;
        Ok((StatusCode::ACCEPTED, Json(run_info(&row))))
    })
    .await
}

/// Runs again the jobs of a run that did not succeed, in a new run linked to it.
#[utoipa::path(post, path = "/api/v1/runs/{id}/rerun", params(("id" = String, Path)), responses(
    (status = 202, body = Started),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "It still runs, or it succeeded")
))]
async fn rerun(
    State(server): State<Arc<Server>>,
    Path(id): Path<String>,
) -> Answer<(StatusCode, Json<Started>)> {
    blocking(move || {
        let workflow = server.run(&id)?.row.workflow;
        let run_id = server.rerun(&id)?;
        Ok((StatusCode::ACCEPTED, Json(started(run_id, workflow))))
    })
    .await
}

/// How often a stream looks for new lines of a running run's log: soon after
/// the last lines came, then less and less often, down to [`POLL_SLOWEST`].
const POLL_FIRST: Duration = Duration::from_millis(5);
const POLL_SLOWEST: Duration = Duration::from_millis(150);

/// The most read from a log at one look.
const CHUNK: u64 = 1 << 20;

/// A run's log, read as it grows: from its record (or its partial record while
/// it runs; the file stays open when the record is moved into place).
struct Tail {
    server: Arc<Server>,
    id: String,
    file: Option<std::fs::File>,
    /// A line not ended yet.
    pending: Vec<u8>,
    /// Lines read so far.
    lines: u64,
    /// How long to wait for a run that has no log yet.
    patience: u32,
}

impl Tail {
    fn new(server: Arc<Server>, id: String) -> Tail {
        Tail {
            server,
            id,
            file: None,
            pending: Vec::new(),
            lines: 0,
            patience: 200,
        }
    }

    /// The complete lines there are now.
    fn read(&mut self, run: &Run) -> Vec<String> {
        if self.file.is_none() {
            self.file = history::log_path(&run.row).and_then(|p| std::fs::File::open(p).ok());
        }
        let Some(file) = &mut self.file else {
            return Vec::new();
        };
        // A file that was cut (never, for a log) is read again from its start.
        if let (Ok(position), Ok(meta)) = (file.stream_position(), file.metadata())
            && meta.len() < position
        {
            let _ = file.rewind();
        }
        let mut chunk = Vec::new();
        let _ = file.take(CHUNK).read_to_end(&mut chunk);
        self.pending.extend_from_slice(&chunk);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.lines += 1;
            lines.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
        }
        lines
    }

    /// The next lines; None once the run has ended and every line was given
    /// (then `end` says how it ended).
    fn next(&mut self) -> Answer<(Vec<String>, Option<Run>)> {
        let run = self.server.run(&self.id)?;
        // Whether it ended is read before the lines: every line written before
        // the end is read after it.
        let ended = run.row.state.has_ended();
        let lines = self.read(&run);
        if ended && (self.file.is_some() || self.patience == 0) {
            // What the last look left, in case it was more than a chunk.
            let mut all = lines;
            loop {
                let more = self.read(&run);
                if more.is_empty() {
                    break;
                }
                all.extend(more);
            }
            return Ok((all, Some(run)));
        }
        if self.file.is_none() {
            self.patience = self.patience.saturating_sub(1);
        }
        Ok((lines, None))
    }
}

/// The run's events as Server-Sent Events: each line of its log (JSON, as
/// `wfr logs --log-format json` prints it) is an event named by its `event`
/// field, with the line's number as its id (`Last-Event-ID` resumes after it).
/// Live while the run runs; replayed when it is over; the stream ends with an
/// `end` event that holds the run as `GET /runs/{id}` gives it.
#[utoipa::path(get, path = "/api/v1/runs/{id}/events", params(("id" = String, Path)), responses(
    (status = 200, content_type = "text/event-stream", description = "The run's events, then `end`"),
    (status = 404, body = ErrorBody)
))]
async fn events(
    State(server): State<Arc<Server>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer<Response> {
    let check = Arc::clone(&server);
    let check_id = id.clone();
    blocking(move || check.run(&check_id).map(|_| ())).await?;
    let after: u64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let tail = Tail::new(server, id);
    let stream = futures_util::stream::unfold(Some(tail), move |state| async move {
        let mut tail = state?;
        let mut wait = POLL_FIRST;
        loop {
            let Ok((tail_back, step)) = tokio::task::spawn_blocking(move || {
                let step = tail.next();
                (tail, step)
            })
            .await
            else {
                return None;
            };
            tail = tail_back;
            let (lines, ended) = match step {
                Ok(step) => step,
                Err(failure) => {
                    let event = Event::default()
                        .event("error")
                        .data(serde_json::json!({"error": failure.message}).to_string());
                    return Some((vec![Ok::<_, Infallible>(event)], None));
                }
            };
            let first = tail.lines - lines.len() as u64;
            let mut out: Vec<Result<Event, Infallible>> = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| first + *i as u64 + 1 > after)
                .map(|(i, line)| {
                    let kind = serde_json::from_str::<serde_json::Value>(line)
                        .ok()
                        .and_then(|v| v["event"].as_str().map(str::to_string))
                        .unwrap_or_else(|| "log".into());
                    Ok(Event::default()
                        .event(kind)
                        .id((first + i as u64 + 1).to_string())
                        .data(line.as_str()))
                })
                .collect();
            if let Some(run) = ended {
                let detail = run_detail(&RunView::of(run));
                let data = serde_json::to_string(&detail).unwrap_or_default();
                out.push(Ok(Event::default().event("end").data(data)));
                return Some((out, None));
            }
            if !out.is_empty() {
                return Some((out, Some(tail)));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(POLL_SLOWEST);
        }
    });
    let flat = futures_util::StreamExt::flat_map(stream, futures_util::stream::iter);
    Ok(Sse::new(flat)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[derive(Deserialize, IntoParams)]
pub(super) struct LogsQuery {
    /// `human` (the default: as `wfr logs` prints it) or `json` (its JSON lines).
    format: Option<String>,
}

/// A run's log as it is now.
#[utoipa::path(get, path = "/api/v1/runs/{id}/logs", params(("id" = String, Path), LogsQuery), responses(
    (status = 200, content_type = "text/plain", description = "The log"),
    (status = 404, body = ErrorBody)
))]
async fn logs(
    State(server): State<Arc<Server>>,
    Path(id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Answer<Response> {
    let json = match query.format.as_deref() {
        None | Some("human") => false,
        Some("json") => true,
        Some(other) => {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                format!("format `{other}`: a log's format is `human` or `json`"),
            ));
        }
    };
    let check = Arc::clone(&server);
    let check_id = id.clone();
    blocking(move || check.run(&check_id).map(|_| ())).await?;
    let tail = Tail::new(server, id);
    // Read in chunks as the body is sent: a log may be large.
    let stream = futures_util::stream::unfold(Some(tail), move |state| async move {
        let mut tail = state?;
        let (tail, lines) = tokio::task::spawn_blocking(move || {
            let run = tail.server.run(&tail.id);
            let lines = run.map(|run| tail.read(&run)).unwrap_or_default();
            (tail, lines)
        })
        .await
        .ok()?;
        if lines.is_empty() {
            return None;
        }
        let mut text = String::new();
        for line in &lines {
            if json {
                text.push_str(line);
                text.push('\n');
            } else if let Some(shown) = crate::logs::replay_human(line, false) {
                text.push_str(&shown);
            }
        }
        Some((Ok::<_, Infallible>(text), Some(tail)))
    });
    let kind = if json {
        "application/x-ndjson"
    } else {
        "text/plain; charset=utf-8"
    };
    Ok((
        [(header::CONTENT_TYPE, kind)],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}
