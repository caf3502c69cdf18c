//! The web UI: server-rendered HTML (maud escapes what it writes), one
//! stylesheet and one small script, both in the binary. Every action is a plain
//! form (it works without the script, by keyboard); the script only makes a
//! run's page live: its graph's colours and status words, and its log, from the
//! run's events.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use wfc_plan::Plan;

use super::{Auth, COOKIE, Failure, RunView, Server, api, history};
use crate::store::RunState;

pub(super) fn routes() -> axum::Router<Arc<Server>> {
    axum::Router::new()
        .route("/", get(workflows_page))
        .route("/workflows/{name}/run", post(run_form))
        .route("/runs", get(runs_page))
        .route("/runs/{id}", get(run_page))
        .route("/runs/{id}/stop", post(stop_form))
        .route("/runs/{id}/rerun", post(rerun_form))
        .route("/login", get(login_page).post(login))
        .route("/assets/ui.css", get(css))
        .route("/assets/ui.js", get(js))
        .layer(axum::middleware::map_response(as_page))
}

/// A page's request that failed before its handler (a bad form, path or
/// query: axum says those in plain text) as an error page.
async fn as_page(response: Response) -> Response {
    let failed = response.status().is_client_error() || response.status().is_server_error();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if !failed || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    failure_page(&Failure::new(parts.status, text))
}

const CSS: &str = include_str!("ui.css");
const JS: &str = include_str!("ui.js");

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

fn asset(text: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        text,
    )
        .into_response()
}

/// Escapes text for a URL's query.
pub(super) fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Escapes a path segment (a workflow's name, a run's id).
fn segment(text: &str) -> String {
    query_escape(text).replace('/', "%2F")
}

fn page(title: &str, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · wfr" }
                link rel="stylesheet" href="/assets/ui.css";
                script src="/assets/ui.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="main" {
                        span.brand { "wfr" }
                        a href="/" aria-current=[(current == "workflows").then_some("page")] { "Workflows" }
                        a href="/runs" aria-current=[(current == "runs").then_some("page")] { "Runs" }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// A status, in words, coloured: never colour alone.
fn status(text: &str) -> Markup {
    html! { span.status data-status=(text) { (text) } }
}

pub(super) fn failure_page(failure: &Failure) -> Response {
    let body = html! {
        h1 { "Something went wrong" }
        p.error role="alert" { (failure.message) }
        p { a href="/" { "Back to the workflows" } }
    };
    (failure.status, page("Error", "", body)).into_response()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(Failure::internal)?
}

fn short(t: &str) -> String {
    t.parse::<jiff::Timestamp>()
        .map_or_else(|_| t.to_string(), history::short_time)
}

/// A param's field of a Run form.
fn field(workflow: &str, param: &wfc_plan::ParamSpec) -> Markup {
    use wfc_plan::vocab::ParamType;
    let id = format!("p-{}-{}", segment(workflow), segment(&param.name));
    let name = format!("p.{}", param.name);
    let default = param.default.as_ref().map(|v| {
        let value = crate::value::Value::from_plan(v, false);
        match value.as_str() {
            Some(text) => text.to_string(),
            None => serde_json::to_string(&value).unwrap_or_default(),
        }
    });
    let hint = match (&default, param.required) {
        (Some(d), _) => format!("default: {d}"),
        (None, true) => "required".to_string(),
        (None, false) => "optional".to_string(),
    };
    let help = format!("{id}-help");
    html! {
        div.field {
            label for=(id) {
                (param.name) " " span.type { (param.ty.name()) }
                @if param.required && default.is_none() { " " abbr title="required" { "*" } }
            }
            @match param.ty {
                ParamType::Choice => {
                    select id=(id) name=(name) aria-describedby=(help) {
                        @if !param.required { option value="" { "(default)" } }
                        @for option in &param.options {
                            @let value = crate::value::Value::from_plan(option, false);
                            @let text = value.as_str().map_or_else(|| serde_json::to_string(&value).unwrap_or_default(), str::to_string);
                            option value=(text) selected[default.as_deref() == Some(text.as_str())] { (text) }
                        }
                    }
                }
                ParamType::Map | ParamType::Array => {
                    textarea id=(id) name=(name) rows="2" placeholder=(default.clone().unwrap_or_default()) aria-describedby=(help) required[param.required && default.is_none()] {}
                }
                ParamType::Int => {
                    input id=(id) name=(name) type="number" step="1" value=[default.clone()] aria-describedby=(help) required[param.required && default.is_none()];
                }
                ParamType::Float => {
                    input id=(id) name=(name) type="number" step="any" value=[default.clone()] aria-describedby=(help) required[param.required && default.is_none()];
                }
                ParamType::Date => {
                    input id=(id) name=(name) type="date" value=[default.clone()] aria-describedby=(help) required[param.required && default.is_none()];
                }
                _ => {
                    input id=(id) name=(name) type="text" value=[default.clone()] aria-describedby=(help) required[param.required && default.is_none()];
                }
            }
            small id=(help) {
                (hint)
                @if let Some(desc) = &param.desc { " · " (desc) }
            }
        }
    }
}

/// The workflows page; `error`: a Run form refused, for the workflow named.
fn workflows_markup(server: &Server, error: Option<(&str, &str)>) -> Result<Markup, Failure> {
    let workspace = server.workspace()?;
    let body = html! {
        h1 { "Workflows" }
        @if !workspace.failed.is_empty() {
            p.warning role="status" {
                "Workflows with errors (not shown; " code { "wfc check" } " says why): "
                (workspace.failed.join(", "))
            }
        }
        @if workspace.plans.is_empty() { p { "No workflows in this workspace." } }
        @for plan in &workspace.plans {
            (workflow_card(server, plan, error.filter(|(name, _)| *name == plan.name).map(|(_, e)| e))?)
        }
    };
    Ok(page("Workflows", "workflows", body))
}

fn workflow_card(server: &Server, plan: &Plan, error: Option<&str>) -> Result<Markup, Failure> {
    let info = api::workflow_info(server, plan)?;
    let heading = format!("wf-{}", segment(&plan.name));
    Ok(html! {
        section.workflow aria-labelledby=(heading) data-workflow=(plan.name) {
            h2 id=(heading) { (plan.name) }
            @if let Some(desc) = &plan.desc { p.desc { (desc) } }
            dl {
                dt { "Schedule" }
                dd {
                    @if plan.schedule.is_empty() { "none" }
                    @for s in &plan.schedule { code { (s.cron) } " (" (s.timezone) ") " }
                }
                dt { "Next tick" }
                dd { (info.next_tick.as_deref().map_or_else(|| "-".to_string(), short)) }
                dt { "Last run" }
                dd {
                    @match &info.last_run {
                        Some(run) => {
                            (status(run.status)) " "
                            a href=(format!("/runs/{}", segment(&run.run_id))) { (run.run_id) }
                            " · " (short(&run.started))
                        }
                        None => { "never" }
                    }
                }
            }
            details.run-box open[error.is_some()] {
                summary { "Run " (plan.name) "…" }
                form.run method="post" action=(format!("/workflows/{}/run", segment(&plan.name))) {
                    @if let Some(error) = error {
                        p.error role="alert" { (error) }
                    }
                    @if plan.params.is_empty() { p.note { "No params." } }
                    @for param in &plan.params { (field(&plan.name, param)) }
                    button type="submit" { "Run " (plan.name) }
                }
            }
        }
    })
}

async fn workflows_page(State(server): State<Arc<Server>>) -> Response {
    match blocking(move || workflows_markup(&server, None)).await {
        Ok(markup) => markup.into_response(),
        Err(failure) => failure_page(&failure),
    }
}

/// A Run form: its fields are `p.NAME`, read as `wfr run -p NAME=VALUE`.
async fn run_form(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let pairs: Vec<(String, String)> = fields
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix("p.").map(|k| (k.to_string(), v)))
        .collect();
    let given = super::params_from_text(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let answer = blocking(move || match server.start(&name, &given) {
        Ok(run_id) => Ok(Ok(run_id)),
        Err(failure) if failure.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let markup = workflows_markup(&server, Some((&name, &failure.message)))?;
            Ok(Err(markup))
        }
        Err(failure) => Err(failure),
    })
    .await;
    match answer {
        Ok(Ok(run_id)) => Redirect::to(&format!("/runs/{}", segment(&run_id))).into_response(),
        Ok(Err(markup)) => (StatusCode::UNPROCESSABLE_ENTITY, markup).into_response(),
        Err(failure) => failure_page(&failure),
    }
}

#[derive(Deserialize)]
struct RunsQuery {
    workflow: Option<String>,
    status: Option<String>,
    offset: Option<usize>,
}

/// Runs a page shows.
const PAGE: usize = 50;

async fn runs_page(State(server): State<Arc<Server>>, Query(query): Query<RunsQuery>) -> Response {
    let answer = blocking(move || {
        let state = api::parse_state(query.status.as_deref())?;
        let offset = query.offset.unwrap_or(0);
        let workflow = query.workflow.filter(|w| !w.is_empty());
        let (rows, more) = api::page(&server, workflow.clone(), state, PAGE, offset)?;
        let names: Vec<String> = server
            .workspace()?
            .plans
            .iter()
            .map(|p| p.name.clone())
            .collect();
        let link = |offset: usize| {
            let mut q = format!("/runs?offset={offset}");
            if let Some(w) = &workflow {
                let _ = write!(q, "&workflow={}", query_escape(w));
            }
            if let Some(s) = state {
                let _ = write!(q, "&status={}", s.as_str());
            }
            q
        };
        let body = html! {
            h1 { "Runs" }
            form.filters method="get" action="/runs" {
                label for="f-workflow" { "Workflow" }
                select #f-workflow name="workflow" {
                    option value="" { "(all)" }
                    @for name in &names {
                        option value=(name) selected[workflow.as_deref() == Some(name.as_str())] { (name) }
                    }
                }
                label for="f-status" { "Status" }
                select #f-status name="status" {
                    option value="" { "(any)" }
                    @for s in RunState::ALL {
                        option value=(s.as_str()) selected[state == Some(s)] { (s.as_str()) }
                    }
                }
                button type="submit" { "Filter" }
            }
            @if rows.is_empty() { p { "No runs." } } @else {
                table.runs {
                    caption { "Runs " (offset + 1) "–" (offset + rows.len()) ", newest first" }
                    thead { tr { th scope="col" { "Run" } th scope="col" { "Workflow" } th scope="col" { "Status" } th scope="col" { "Started" } th scope="col" { "Took" } th scope="col" { "Rerun of" } } }
                    tbody {
                        @for row in &rows {
                            tr {
                                td { a href=(format!("/runs/{}", segment(&row.run_id))) { (row.run_id) } }
                                td { (row.workflow) }
                                td { (status(row.state.as_str())) }
                                td { (history::short_time(row.started)) }
                                td { (history::took(row)) }
                                td {
                                    @match &row.rerun_of {
                                        Some(of) => { a href=(format!("/runs/{}", segment(of))) { (of) } }
                                        None => { "-" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            nav.pages aria-label="pages" {
                @if offset > 0 { a rel="prev" href=(link(offset.saturating_sub(PAGE))) { "← Newer" } }
                @if more { a rel="next" href=(link(offset + rows.len())) { "Older →" } }
            }
        };
        Ok(page("Runs", "runs", body))
    })
    .await;
    match answer {
        Ok(markup) => markup.into_response(),
        Err(failure) => failure_page(&failure),
    }
}

async fn run_page(State(server): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    let answer = blocking(move || {
        let run = server.run(&id)?;
        let view = RunView::of(run);
        let plan = server.plan(&view.run.row.workflow).ok();
        Ok(run_markup(&view, plan.as_deref()))
    })
    .await;
    match answer {
        Ok(markup) => markup.into_response(),
        Err(failure) => failure_page(&failure),
    }
}

fn run_markup(view: &RunView, plan: Option<&Plan>) -> Markup {
    let row = &view.run.row;
    let running = !row.state.has_ended();
    let job_status = |job: &str| -> Option<String> {
        view.jobs
            .iter()
            .rfind(|j| j.name == job)
            .map(|j| j.status.clone().unwrap_or_else(|| "RUNNING".into()))
    };
    let errors = view.errors();
    let outputs = |job: &str| -> Option<String> {
        let stages = view
            .context
            .as_ref()?
            .get("jobs")?
            .get(job)?
            .get("stages")?;
        let empty = stages.as_object().is_some_and(serde_json::Map::is_empty);
        (!empty).then(|| serde_json::to_string_pretty(stages).unwrap_or_default())
    };
    let path = format!("/runs/{}", segment(&row.run_id));
    let body = html! {
        h1 { "Run " code { (row.run_id) } }
        p.summary {
            "Status: " span #run-status { (status(row.state.as_str())) }
        }
        dl {
            dt { "Workflow" } dd { (row.workflow) }
            dt { "Started" } dd { (history::short_time(row.started)) }
            dt { "Ended" } dd { (row.ended.map_or_else(|| "- (running)".to_string(), history::short_time)) }
            dt { "Took" } dd { (history::took(row)) }
            @if let Some(of) = &row.rerun_of {
                dt { "Rerun of" } dd { a href=(format!("/runs/{}", segment(of))) { (of) } }
            }
            @if let Some(release) = row.release {
                dt { "Release" } dd { (release) }
            }
        }
        div.actions {
            @if running {
                form method="post" action=(format!("{path}/stop")) {
                    button.stop type="submit" { "Stop" }
                }
            }
            @if row.state.has_ended() && row.state != RunState::Success {
                form method="post" action=(format!("{path}/rerun")) {
                    button type="submit" { "Rerun" }
                }
            }
        }
        @if !errors.is_empty() {
            section.errors aria-labelledby="errors-h" {
                h2 #errors-h { "Errors" }
                ul role="alert" {
                    @for (at, message) in &errors {
                        li { strong { (at) } pre { (message) } }
                    }
                }
            }
        }
        section aria-labelledby="graph-h" {
            h2 #graph-h { "Graph" }
            @match plan {
                Some(plan) => { div.graph-box { (PreEscaped(super::graph::svg(plan, job_status))) } }
                None => { p { "The workflow is no longer in the workspace." } }
            }
        }
        section #jobs aria-labelledby="jobs-h" {
            h2 #jobs-h { "Jobs" }
            @if view.jobs.is_empty() { p #no-jobs { "No job has started yet." } }
            @for job in &view.jobs {
                @let now = job.status.clone().unwrap_or_else(|| "RUNNING".into());
                article.job data-job=(job.name) {
                    h3 {
                        (job.name) " "
                        span.job-state data-job=(job.name) { (status(&now)) }
                        @if let Some(s) = job.seconds { " " small { (crate::human::duration(s)) } }
                    }
                    @if let Some(why) = &job.not_run { p.note { (why) } }
                    table.stages {
                        caption.visually-hidden { "Stages of job " (job.name) }
                        thead { tr { th scope="col" { "Stage" } th scope="col" { "At" } th scope="col" { "Status" } th scope="col" { "Took" } } }
                        tbody {
                            @for stage in view.stages_of(&job.name) {
                                tr data-at=(stage.at) data-stage=(stage.name) data-open=(stage.status.is_none()) {
                                    td { (stage.name) }
                                    td { code { (stage.at) } }
                                    td { (status(stage.status.as_deref().unwrap_or("RUNNING"))) }
                                    td { (stage.seconds.map(crate::human::duration).unwrap_or_default()) }
                                }
                            }
                        }
                    }
                    @if let Some(outputs) = outputs(&job.name) {
                        details { summary { "Outputs" } pre { (outputs) } }
                    }
                }
            }
        }
        section aria-labelledby="log-h" {
            h2 #log-h { "Log" }
            p { a href=(format!("/api/v1/runs/{}/logs", segment(&row.run_id))) { "The whole log as text" } }
            pre #log tabindex="0" aria-live="polite" aria-label="run log" {}
        }
    };
    html! {
        (page(&format!("Run {}", row.run_id), "runs", html! {
            div #run data-run=(row.run_id) data-running=(running) data-lines=(view.lines) { (body) }
        }))
    }
}

async fn stop_form(State(server): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    let back = format!("/runs/{}", segment(&id));
    match blocking(move || server.stop(&id)).await {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(failure) => failure_page(&failure),
    }
}

async fn rerun_form(State(server): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    match blocking(move || server.rerun(&id)).await {
        Ok(new) => Redirect::to(&format!("/runs/{}", segment(&new))).into_response(),
        Err(failure) => failure_page(&failure),
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Where to go after the login: a path of this server only.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

fn login_markup(next: &str, error: Option<&str>) -> Markup {
    page(
        "Sign in",
        "",
        html! {
            h1 { "Sign in" }
            p { "This server needs its token (the one in its --token-file or WFR_SERVER_TOKEN)." }
            form.login method="post" action="/login" {
                @if let Some(error) = error { p.error role="alert" { (error) } }
                input type="hidden" name="next" value=(next);
                div.field {
                    label for="token" { "Token" }
                    input #token name="token" type="password" autocomplete="current-password" required;
                }
                button type="submit" { "Sign in" }
            }
        },
    )
}

async fn login_page(Query(query): Query<LoginQuery>) -> Markup {
    login_markup(&safe_next(query.next.as_deref()), None)
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(State(server): State<Arc<Server>>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    let token = form.token.trim();
    let mut headers = HeaderMap::new();
    if let Ok(value) = format!("Bearer {token}").parse() {
        headers.insert(header::AUTHORIZATION, value);
    }
    if matches!(server.auth, Auth::Off) {
        return Redirect::to(&next).into_response();
    }
    if token.is_empty() || !server.auth.allows(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            login_markup(&next, Some("That is not this server's token.")),
        )
            .into_response();
    }
    let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    let mut response = Redirect::to(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_sends_nowhere_but_this_server() {
        assert_eq!(safe_next(Some("/runs?x=1")), "/runs?x=1");
        for away in ["//evil.example", "https://evil.example", "/\\evil", "runs"] {
            assert_eq!(safe_next(Some(away)), "/", "{away}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn names_are_escaped_in_links() {
        assert_eq!(segment("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(query_escape("/runs?x=1"), "/runs%3Fx%3D1");
    }
}
