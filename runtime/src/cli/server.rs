//! `wfr server`: the HTTP API (`/api/v1`, JSON, Server-Sent Events) and the web
//! UI (server-rendered HTML, a little JS, assets in the binary) over a
//! workspace's workflows and its run history.
//!
//! The server never runs a workflow inside a request, nor in its own process:
//! each run is a `wfr run` (or `wfr rerun`) child, started with the run id the
//! server answered with, so it keeps its record, its history row, its logs and
//! its `wfr stop` exactly as one started from a shell, and a run that crashes
//! cannot take the server down. What the server shows comes from the history
//! (the store) and the runs' records, as `wfr runs`, `show` and `logs` read
//! them; a run's events stream from its log (`run.log`, JSON lines), live while
//! it runs.
//!
//! Auth: bearer tokens (`--token-file`, `$WFR_SERVER_TOKEN`), on by default on
//! any address but loopback; the UI takes the token once (`/login`) into an
//! HttpOnly, SameSite=Strict cookie.

mod api;
mod graph;
mod launch;
mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use clap::Args;
use jiff::Timestamp;
use sha2::Digest as _;
use wfc_plan::Plan;

use super::history::{self, Where};
use super::{Done, Error};
use crate::store::{self, RunQuery, RunRow, RunState};
use crate::value::{Map, Str, Value};

#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// The workflow folder (default: $WORKFLOW_CORE_CONF_PATH, ./conf or .).
    path: Option<PathBuf>,

    /// The address to listen on (port 0: any free port, said on stderr).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// A file holding the bearer token every request but /healthz must carry
    /// (default: $WFR_SERVER_TOKEN). Needed to listen on anything but loopback.
    #[arg(long, value_name = "FILE", conflicts_with = "no_auth")]
    token_file: Option<PathBuf>,

    /// Serve without auth: allowed on a loopback address only (127.0.0.1, ::1).
    #[arg(long)]
    no_auth: bool,

    /// Allow browser pages from this origin to call the API (CORS; repeatable).
    /// Off unless given.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,

    /// After SIGTERM or Ctrl-C, how long the runs the server started get to end
    /// (they are cancelled first, as `wfr stop` does).
    #[arg(long, value_name = "DURATION", value_parser = super::orchestrate::duration, default_value = "30s")]
    grace: Duration,

    /// Where compiled plans are.
    #[arg(long, value_name = "DIR", default_value = ".wfc/plans")]
    plans: PathBuf,

    #[command(flatten)]
    place: Where,
}

/// Who may use the server.
#[derive(Clone)]
enum Auth {
    Off,
    /// The token's SHA-256: requests are compared by digest, never by the
    /// token's bytes one by one.
    Token([u8; 32]),
}

/// The shortest token the server takes.
const MIN_TOKEN: usize = 16;

fn digest(text: &str) -> [u8; 32] {
    sha2::Sha256::digest(text.as_bytes()).into()
}

impl Auth {
    /// The auth `args` ask for: see the module doc. A token given with
    /// `--no-auth`, `--no-auth` off loopback, or no token off loopback is
    /// refused, saying what to do.
    fn of(args: &ServerArgs, from_env: Option<String>) -> Result<Auth, Error> {
        let token = match &args.token_file {
            Some(file) => {
                let text = wfc_plan::input::read_text(file, 4096)
                    .map_err(|e| Error::Usage(format!("--token-file {}: {e}", file.display())))?;
                Some((
                    text.trim().to_string(),
                    format!("--token-file {}", file.display()),
                ))
            }
            None => from_env
                .filter(|t| !t.trim().is_empty())
                .map(|t| (t.trim().to_string(), "WFR_SERVER_TOKEN".to_string())),
        };
        let loopback = args.listen.ip().is_loopback();
        match (token, args.no_auth) {
            (Some((_, from)), true) => Err(Error::Usage(format!(
                "--no-auth and a token ({from}) were both given; drop one"
            ))),
            (None, true) if !loopback => Err(Error::Usage(format!(
                "--no-auth is allowed on a loopback address only (127.0.0.1, ::1), not on {}; give a token with --token-file FILE or WFR_SERVER_TOKEN",
                args.listen
            ))),
            (None, true) => Ok(Auth::Off),
            (Some((token, from)), false) => {
                let fits = token.len() >= MIN_TOKEN
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b));
                if !fits {
                    return Err(Error::Usage(format!(
                        "{from}: a token is at least {MIN_TOKEN} letters, digits or `._~+/=-` (make one with `openssl rand -hex 32`)"
                    )));
                }
                Ok(Auth::Token(digest(&token)))
            }
            (None, false) if loopback => Ok(Auth::Off),
            (None, false) => Err(Error::Usage(format!(
                "listening on {} needs a token: give one with --token-file FILE or WFR_SERVER_TOKEN (or listen on 127.0.0.1)",
                args.listen
            ))),
        }
    }

    /// Whether `headers` carry the token: `Authorization: Bearer …`, or the
    /// UI's cookie.
    fn allows(&self, headers: &HeaderMap) -> bool {
        let Auth::Token(want) = self else {
            return true;
        };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let cookie = || {
            headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|pair| pair.trim().strip_prefix(COOKIE_PREFIX))
                .find(|t| digest(t) == *want)
        };
        bearer.is_some_and(|t| digest(t) == *want) || cookie().is_some()
    }
}

/// The UI's cookie that holds the token.
const COOKIE: &str = "wfr_token";
const COOKIE_PREFIX: &str = "wfr_token=";

/// What the handlers share.
pub(crate) struct Server {
    auth: Auth,
    /// The workflow folder (None: the default, as `wfc check`).
    path: Option<PathBuf>,
    plans: PathBuf,
    runs: PathBuf,
    history: Arc<dyn store::Store>,
    launcher: launch::Launcher,
    /// The origins `--cors-origin` allows (without a trailing `/`).
    cors_origins: Vec<String>,
    /// The workspace's plans, and the workflow files' names, sizes and times
    /// they were compiled from (compiled again when those change).
    workspace: Mutex<Option<(Fingerprint, Arc<Workspace>)>>,
}

type Fingerprint = Vec<(PathBuf, u64, Option<std::time::SystemTime>)>;

/// The workflows of the workspace.
pub(crate) struct Workspace {
    plans: Vec<Arc<Plan>>,
    /// Workflows with errors (`wfc check` says why).
    failed: Vec<String>,
}

/// Why a request cannot be served: its HTTP status and what to say.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, message)
    }

    fn conflict(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::CONFLICT, message)
    }

    fn internal(message: impl std::fmt::Display) -> Failure {
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, message.to_string())
    }
}

impl From<store::StoreError> for Failure {
    fn from(error: store::StoreError) -> Failure {
        Failure::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
    }
}

/// A run as the server shows it: its history row, or (for a moment after the
/// server started it) what the server knows of a run whose `wfr` has not put
/// it in the history yet.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    row: RunRow,
    /// Why its `wfr` ended before the run started (bad input it found).
    refused: Option<String>,
}

/// How many runs a page shows at most.
pub(crate) const MAX_PAGE: usize = 500;

impl Server {
    /// The workspace, compiled again when its files changed.
    fn workspace(&self) -> Result<Arc<Workspace>, Failure> {
        let now = super::orchestrate::fingerprint(self.path.as_deref());
        let mut cached = self
            .workspace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((seen, workspace)) = cached.as_ref()
            && *seen == now
        {
            return Ok(Arc::clone(workspace));
        }
        let compiled = wfc_compiler::api::compile_workspace(self.path.as_deref(), &self.plans)
            .map_err(|e| Failure::internal(format!("the workspace does not compile: {e}")))?;
        let workspace = Arc::new(Workspace {
            plans: compiled.plans.into_iter().map(Arc::new).collect(),
            failed: compiled.failed,
        });
        *cached = Some((now, Arc::clone(&workspace)));
        Ok(workspace)
    }

    /// The plan of the workflow `name`.
    fn plan(&self, name: &str) -> Result<Arc<Plan>, Failure> {
        let workspace = self.workspace()?;
        if let Some(plan) = workspace.plans.iter().find(|p| p.name == name) {
            return Ok(Arc::clone(plan));
        }
        if workspace.failed.iter().any(|f| f == name) {
            return Err(Failure::new(
                StatusCode::CONFLICT,
                format!("workflow `{name}` has errors; `wfc check` says which"),
            ));
        }
        let names = workspace.plans.iter().map(|p| p.name.as_str());
        let hint = wfc_compiler::api::suggestion(name, names)
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        Err(Failure::not_found(format!(
            "no workflow is named `{name}`{hint}"
        )))
    }

    /// One run: from the history, else one the server is starting.
    fn run(&self, id: &str) -> Result<Run, Failure> {
        if let Some(row) = self.history.run(id)? {
            let refused = self.launcher.refused(id);
            return Ok(Run { row, refused });
        }
        self.launcher.starting(id).ok_or_else(|| {
            Failure::not_found(format!(
                "no run has the id `{id}`; GET /api/v1/runs lists them"
            ))
        })
    }

    /// Runs, newest first.
    fn runs(&self, query: &RunQuery) -> Result<Vec<RunRow>, Failure> {
        Ok(self.history.runs(query)?)
    }

    /// Starts a run of `name` with the params `given` (validated first, as
    /// `wfr run` does: bad ones are a 422 with its messages); returns its id.
    fn start(&self, name: &str, given: &Map) -> Result<String, Failure> {
        let plan = self.plan(name)?;
        crate::params::resolve(&plan.params, given).map_err(|error| {
            Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("workflow `{name}`: {error}"),
            )
        })?;
        let run_id = crate::vm::new_run_id(&plan.name);
        let plan_file = std::path::absolute(self.plans.join(wfc_plan::file_name(&plan.name)))
            .map_err(Failure::internal)?;
        self.launcher
            .run(&run_id, &plan.name, &plan_file, given)
            .map_err(Failure::internal)?;
        Ok(run_id)
    }

    /// Cancels a running run, as `wfr stop` does (without waiting for its end).
    fn stop(&self, id: &str) -> Result<RunRow, Failure> {
        let run = self.run(id)?;
        let row = run.row;
        if row.state.has_ended() {
            return Err(Failure::conflict(format!(
                "run {id} already ended {}; nothing to stop",
                row.state
            )));
        }
        if self.launcher.stop(id) {
            return Ok(row);
        }
        match history::signal_owner(&row) {
            Ok(_) => {}
            Err(history::NotSignalled::Gone) => {
                let _ = store::find_lost(&*self.history, &self.runs);
                return Err(Failure::conflict(format!(
                    "run {id} was lost: its wfr is gone"
                )));
            }
            Err(e @ (history::NotSignalled::Refused { .. } | history::NotSignalled::BadPid(_))) => {
                return Err(Failure::internal(e));
            }
            Err(other) => return Err(Failure::conflict(other.to_string())),
        }
        Ok(row)
    }

    /// Runs again the jobs of a run that did not succeed (`wfr rerun`); returns
    /// the new run's id.
    fn rerun(&self, id: &str) -> Result<String, Failure> {
        let run = self.run(id)?;
        let row = run.row;
        if !row.state.has_ended() {
            return Err(Failure::conflict(format!(
                "run {id} is still running; stop it or let it end first"
            )));
        }
        if row.state == RunState::Success {
            return Err(Failure::conflict(format!(
                "run {id} succeeded; nothing to run again (start a new run of `{}`)",
                row.workflow
            )));
        }
        if !row.record.join("context.json").is_file() {
            return Err(Failure::conflict(format!(
                "run {id} has no record to run again from ({} is gone)",
                row.record.display()
            )));
        }
        // Its workflow must still be there (the rerun runs it as it is now).
        self.plan(&row.workflow)?;
        let run_id = crate::vm::new_run_id(&row.workflow);
        self.launcher
            .rerun(&run_id, &row.workflow, id)
            .map_err(Failure::internal)?;
        Ok(run_id)
    }
}

/// A workflow's next tick after now (None without a schedule).
fn next_tick(plan: &Plan) -> Option<Timestamp> {
    wfc_plan::schedule::Schedules::new(&plan.schedule)
        .ok()?
        .next_after(Timestamp::now())
        .map(|t| t.at)
}

/// Params given as text (a form's fields, as `-p key=value`): empty ones are
/// left out, so their defaults apply.
fn params_from_text<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Map {
    let mut given = Map::default();
    for (key, value) in pairs {
        if !value.is_empty() {
            given.insert(Str::from(key), crate::params::from_cli(value));
        }
    }
    given
}

/// Params given as JSON (`{"params": {…}}`, or no body): typed, as a params
/// file's.
fn params_from_json(body: &[u8]) -> Result<Map, Failure> {
    let bad = |why: String| Failure::new(StatusCode::BAD_REQUEST, why);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::default());
    }
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8".into()))?;
    let value = crate::json::parse(text).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let Value::Map(body) = value else {
        return Err(bad(
            "the body is a JSON object: {\"params\": {\"name\": value, …}}".into(),
        ));
    };
    for key in body.keys() {
        if key != "params" {
            return Err(bad(format!(
                "unknown field `{key}` in the body; it holds `params` only"
            )));
        }
    }
    match body.get("params") {
        None | Some(Value::Null) => Ok(Map::default()),
        Some(Value::Map(params)) => Ok((**params).clone()),
        Some(_) => Err(bad("`params` is a JSON object of names to values".into())),
    }
}

/// Lets a request through when it carries the token (or auth is off). An API
/// request without one gets 401; a page, the login page.
async fn guard(State(server): State<Arc<Server>>, request: Request, next: Next) -> Response {
    if let Err(why) = same_site(&server, request.method(), request.headers()) {
        return Failure::new(StatusCode::FORBIDDEN, why).into_response();
    }
    let path = request.uri().path();
    let open = path == "/healthz" || path == "/login" || path.starts_with("/assets/");
    if open || server.auth.allows(request.headers()) {
        return next.run(request).await;
    }
    if path.starts_with("/api/") {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({
                "error": "this server needs a token: send `Authorization: Bearer TOKEN`"
            })),
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"wfr\""),
        );
        return response;
    }
    let next_page = request
        .uri()
        .path_and_query()
        .map_or("/", axum::http::uri::PathAndQuery::as_str);
    let target = format!("/login?next={}", ui::query_escape(next_page));
    Redirect::to(&target).into_response()
}

/// Refuses what another site makes a browser send:
/// * without auth (loopback only), a request for a host name that is not
///   loopback's: a page of another site whose name was made to point at
///   127.0.0.1 (DNS rebinding) would otherwise be this server's "same origin";
/// * a request that changes something (not GET) from a page of another origin
///   (its `Origin`, or `Sec-Fetch-Site: cross-site`), unless `--cors-origin`
///   allows that origin: a plain form of any site could otherwise start runs
///   on a server without auth, or with the UI's cookie.
fn same_site(
    server: &Server,
    method: &axum::http::Method,
    headers: &HeaderMap,
) -> Result<(), String> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if matches!(server.auth, Auth::Off) && !is_loopback_host(host) {
        return Err(format!(
            "this server has no auth and answers requests for localhost, 127.0.0.1 or [::1] only, not for `{host}`"
        ));
    }
    if matches!(
        *method,
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    ) {
        return Ok(());
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let cross = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site");
    let allowed = |o: &str| server.cors_origins.iter().any(|a| a == o);
    match origin {
        Some(o) if o == format!("http://{host}") || allowed(o) => Ok(()),
        Some(o) => Err(format!(
            "a request from a page of {o} may not change anything here (allow that origin with --cors-origin)"
        )),
        None if cross => {
            Err("a request from a page of another site may not change anything here".into())
        }
        None => Ok(()),
    }
}

/// Whether a `Host` header names loopback (`localhost`, `127.x.y.z`, `[::1]`,
/// with any port).
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `wfr server`.
pub(crate) fn server(args: &ServerArgs) -> Result<Done, Error> {
    let auth = Auth::of(args, std::env::var("WFR_SERVER_TOKEN").ok())?;
    for dir in [&args.place.runs, &args.plans] {
        wfc_plan::state::prepare(dir).map_err(Error::State)?;
    }
    let history: Arc<dyn store::Store> = Arc::from(args.place.open()?);
    let launcher = launch::Launcher::new(
        &args.place,
        &args.plans,
        args.path.as_deref(),
        Arc::clone(&history),
    )
    .map_err(Error::State)?;
    let server = Arc::new(Server {
        auth,
        path: args.path.clone(),
        plans: args.plans.clone(),
        runs: args.place.runs.clone(),
        history,
        launcher,
        cors_origins: args
            .cors_origins
            .iter()
            .map(|o| o.trim_end_matches('/').to_string())
            .collect(),
        workspace: Mutex::new(None),
    });
    // The workspace compiles now, so that a broken one says so at the start.
    if let Err(failure) = server.workspace() {
        return Err(Error::Usage(failure.message));
    }
    let cors = cors(&args.cors_origins)?;
    watch_lost(Arc::clone(&server));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("wfr-server")
        .enable_all()
        .build()
        .map_err(Error::State)?;
    let outcome = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
        let bound = listener.local_addr().map_err(Error::State)?;
        let auth = match server.auth {
            Auth::Off => "off",
            Auth::Token(_) => "bearer token",
        };
        wfc_plan::errln!("wfr server: listening on http://{bound} (auth: {auth})");
        let mut app = axum::Router::new()
            .merge(api::routes())
            .merge(ui::routes())
            .fallback(api::not_found)
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&server),
                guard,
            ))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
            .with_state(Arc::clone(&server));
        if let Some(cors) = cors {
            app = app.layer(cors);
        }
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(Error::State)
    });
    // Stop taking requests, then the runs the server started get `--grace`.
    drop(runtime);
    server.launcher.stop_all(args.grace);
    outcome.map(|()| Done::Success)
}

/// How often the server looks for runs whose `wfr` died (SIGKILL, the OOM
/// killer): they are marked LOST and their leftovers cleaned up, as any
/// command that reads the history does.
const LOST_EVERY: Duration = Duration::from_secs(10);

fn watch_lost(server: Arc<Server>) {
    let _ = std::thread::Builder::new()
        .name("wfr-server-lost".into())
        .spawn(move || {
            loop {
                std::thread::sleep(LOST_EVERY);
                match store::find_lost(&*server.history, &server.runs) {
                    Ok(lost) => {
                        for run in lost {
                            wfc_plan::errln!(
                                "wfr server: run {} of `{}` was lost: its wfr (owner {}) is gone; marked LOST",
                                run.run_id,
                                run.workflow,
                                run.owner.as_deref().unwrap_or("?")
                            );
                        }
                    }
                    Err(e) => wfc_plan::errln!("wfr server: cannot look for lost runs: {e}"),
                }
            }
        });
}

/// The largest request body taken.
const MAX_BODY: usize = 1 << 20;

/// The CORS layer `--cors-origin` asks for (none without it).
fn cors(origins: &[String]) -> Result<Option<tower_http::cors::CorsLayer>, Error> {
    if origins.is_empty() {
        return Ok(None);
    }
    let mut allowed = Vec::new();
    for origin in origins {
        let bad = || {
            Error::Usage(format!(
                "--cors-origin {origin}: an origin is `scheme://host[:port]`, such as https://ci.example.com"
            ))
        };
        if !(origin.starts_with("http://") || origin.starts_with("https://"))
            || origin.trim_end_matches('/').matches('/').count() != 2
        {
            return Err(bad());
        }
        allowed
            .push(header::HeaderValue::from_str(origin.trim_end_matches('/')).map_err(|_| bad())?);
    }
    Ok(Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(allowed)
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
    ))
}

/// Resolves at SIGINT, SIGTERM or SIGHUP.
async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = hup.recv() => {}
    }
    wfc_plan::errln!("wfr server: stopping (the runs it started are cancelled)");
}

/// How long a run has taken (so far).
fn seconds_of(row: &RunRow) -> f64 {
    let end = row.ended.unwrap_or_else(Timestamp::now);
    end.duration_since(row.started).as_secs_f64().max(0.0)
}

/// What a run's page and `GET /runs/{id}` show: its jobs (each with its
/// stages) and stages from its log, and its record's context and params.
pub(crate) struct RunView {
    run: Run,
    jobs: Vec<history::Step>,
    stages: Vec<history::Step>,
    context: Option<serde_json::Value>,
    params: Option<serde_json::Value>,
    /// How many lines of its log the jobs and stages were read from (its
    /// events up to that one are in them).
    lines: u64,
}

/// The largest record file read for a page.
const MAX_RECORD_FILE: u64 = 64 << 20;

impl RunView {
    fn of(run: Run) -> RunView {
        let log = history::log_path(&run.row);
        let (jobs, stages, lines) = log
            .as_deref()
            .map(history::steps_and_lines)
            .unwrap_or_default();
        let read = |file: &str| -> Option<serde_json::Value> {
            let text =
                wfc_plan::input::read_text(&run.row.record.join(file), MAX_RECORD_FILE).ok()?;
            serde_json::from_str(&text).ok()
        };
        let context = if run.row.state.has_ended() {
            read("context.json")
        } else {
            None
        };
        let params = read("params.json");
        RunView {
            run,
            jobs,
            stages,
            context,
            params,
            lines,
        }
    }

    /// The stages of `job` (at `job`, `job/strategy`, `job[item]`...).
    fn stages_of<'a>(&'a self, job: &'a str) -> impl Iterator<Item = &'a history::Step> + 'a {
        self.stages.iter().filter(move |s| {
            s.at.strip_prefix(job)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '[']))
        })
    }

    /// Why the run failed: the run's error, each failed job's, each failed
    /// stage's (from its log), and what its `wfr` said if it refused to start.
    fn errors(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        if let Some(refused) = &self.run.refused {
            found.push(("run".to_string(), refused.clone()));
        }
        let message = |errors: &serde_json::Value| -> Option<String> {
            let one = |e: &serde_json::Value| {
                let name = e["name"].as_str().unwrap_or("Error");
                e["message"].as_str().map(|m| format!("{name}: {m}"))
            };
            match errors {
                serde_json::Value::Array(list) => {
                    let all: Vec<String> = list.iter().filter_map(one).collect();
                    (!all.is_empty()).then(|| all.join("\n"))
                }
                other => one(other),
            }
        };
        if let Some(context) = &self.context {
            if let Some(m) = message(&context["errors"]) {
                found.push(("run".to_string(), m));
            }
            if let Some(jobs) = context["jobs"].as_object() {
                for (job, value) in jobs {
                    if let Some(m) = message(&value["errors"]) {
                        found.push((format!("job {job}"), m));
                    }
                }
            }
        }
        for stage in &self.stages {
            if let Some(error) = &stage.error {
                found.push((
                    format!("stage {} ({})", stage.name, stage.at),
                    error.clone(),
                ));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ServerArgs,
    }

    fn args(line: &[&str]) -> ServerArgs {
        let mut all = vec!["wfr-server"];
        all.extend(line);
        Wrap::try_parse_from(all).expect("parses").args
    }

    fn refused(line: &[&str], env: Option<&str>) -> String {
        match Auth::of(&args(line), env.map(str::to_string)) {
            Ok(_) => panic!("{line:?} was let through"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn auth_is_on_off_loopback_and_no_auth_only_on_loopback() {
        assert!(matches!(Auth::of(&args(&[]), None), Ok(Auth::Off)));
        assert!(matches!(
            Auth::of(&args(&["--no-auth", "--listen", "[::1]:80"]), None),
            Ok(Auth::Off)
        ));
        let token = "0123456789abcdef0123";
        assert!(matches!(
            Auth::of(&args(&["--listen", "0.0.0.0:8080"]), Some(token.into())),
            Ok(Auth::Token(_))
        ));
        // Loopback with a token: on.
        assert!(matches!(
            Auth::of(&args(&[]), Some(token.into())),
            Ok(Auth::Token(_))
        ));
        let e = refused(&["--listen", "0.0.0.0:8080"], None);
        assert!(e.contains("needs a token"), "{e}");
        let e = refused(&["--listen", "10.1.2.3:80", "--no-auth"], None);
        assert!(e.contains("loopback address only"), "{e}");
        let e = refused(&["--no-auth"], Some(token));
        assert!(e.contains("drop one"), "{e}");
        let e = refused(&["--listen", "0.0.0.0:1"], Some("short"));
        assert!(e.contains("at least 16"), "{e}");
        let e = refused(&["--listen", "0.0.0.0:1"], Some("0123456789abcdef;x=1"));
        assert!(e.contains("at least 16"), "{e}");
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:80",
            "127.1.2.3",
            "[::1]:8080",
            "[::1]",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "evil.example",
            "evil.example:8080",
            "10.0.0.1:80",
            "localhost.evil.example",
            "[::2]:1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn a_request_is_let_through_with_the_token_only() {
        let auth = Auth::Token(digest("0123456789abcdef0123"));
        let with = |name: header::HeaderName, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, value.parse().expect("a header"));
            headers
        };
        assert!(!auth.allows(&HeaderMap::new()));
        assert!(auth.allows(&with(header::AUTHORIZATION, "Bearer 0123456789abcdef0123")));
        assert!(!auth.allows(&with(header::AUTHORIZATION, "Bearer 0123456789abcdef012")));
        assert!(!auth.allows(&with(header::AUTHORIZATION, "Basic 0123456789abcdef0123")));
        assert!(auth.allows(&with(header::COOKIE, "a=b; wfr_token=0123456789abcdef0123")));
        assert!(!auth.allows(&with(header::COOKIE, "wfr_token=nope")));
        assert!(Auth::Off.allows(&HeaderMap::new()));
    }

    #[test]
    fn params_from_a_body() {
        assert!(params_from_json(b"").expect("empty").is_empty());
        let given = params_from_json(br#"{"params": {"n": 3, "s": "x"}}"#).expect("params");
        assert_eq!(given.get("n"), Some(&Value::Int(3)));
        for bad in [&b"[1]"[..], b"{\"param\": {}}", b"{\"params\": 3}", b"{"] {
            let failure = params_from_json(bad).expect_err("refused");
            assert_eq!(failure.status, StatusCode::BAD_REQUEST);
        }
        let text = params_from_text([("a", "1"), ("b", "")]);
        assert_eq!(text.len(), 1, "an empty field is left to its default");
    }
}
