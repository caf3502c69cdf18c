//! The `wfr` command line.

use std::io::{IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use clap::{Args, CommandFactory as _, Parser, Subcommand, ValueEnum};
use wfc_compiler::api::{self, dist};
use wfc_plan::{self as plan, Plan};

use crate::cancel::Cancel;
use crate::events;
use crate::logs;
use crate::params;
use crate::plans::PlanStore;
use crate::pool::Pool;
use crate::progress::Progress;
use crate::record::Record;
use crate::status::{ErrorName, Status};
use crate::value::{Map, Str, Value};
use crate::vm::{self, Ending, Engine, RunRequest};

mod history;
mod orchestrate;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "nats")]
mod worker;

/// Exit statuses of `wfr run`.
pub mod exit {
    /// The run succeeded (or everything was skipped).
    pub const SUCCESS: u8 = 0;
    /// The run failed.
    pub const FAILED: u8 = 1;
    /// Bad input: unknown workflow, compile errors, params that do not fit, a bad plan.
    pub const BAD_INPUT: u8 = 2;
    /// Cancelled (SIGINT / SIGTERM).
    pub const CANCELLED: u8 = 3;
    /// Stopped by `--timeout`.
    pub const TIMED_OUT: u8 = 4;
    /// The run ended but its record could not be written (a full disk): the
    /// record was removed, nothing half-written stays.
    pub const NO_RECORD: u8 = 5;
}

/// What `wfr --version` says after `wfr` (see [`dist::version`]).
static VERSION: LazyLock<String> = LazyLock::new(|| dist::version(env!("WFC_BUILD_COMMIT")));

/// wfr: runs compiled wfc workflow plans.
#[derive(Debug, Parser)]
#[command(name = "wfr", version = VERSION.as_str(), about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a workflow: a plan file, a workflow name, or a YAML file.
    ///
    /// Exit status: 0 success (or all skipped), 1 failed, 2 bad input, 3 cancelled,
    /// 4 timed out, 5 the run's record could not be written.
    Run(RunArgs),
    /// Run a workflow as the release of a logical time (once per workflow and
    /// time; `--force` runs it again). With `on.schedule`, the time must be a tick.
    Release(orchestrate::ReleaseArgs),
    /// Fire every workflow at its `on.schedule` ticks, until a signal (or `--for`).
    Schedule(orchestrate::ScheduleArgs),
    /// Release every tick of a workflow's schedule in a range, oldest first.
    Backfill(orchestrate::BackfillArgs),
    /// Run again the jobs of a run that did not succeed, in a new run linked to it.
    Rerun(orchestrate::RerunArgs),
    /// The run history, newest first.
    Runs(history::RunsArgs),
    /// One run: its jobs and stages, their status and time, and its record.
    Show(history::ShowArgs),
    /// A run's log (`--follow` tails a running run until it ends).
    Logs(history::LogsArgs),
    /// Cancel a running run from another shell (its wfr ends it as a signal would).
    Stop(history::StopArgs),
    /// Serve the HTTP API and web UI of a workspace's workflows and runs
    /// (`/api/v1`, `/`): start, follow, stop and rerun runs.
    #[cfg(feature = "server")]
    Server(server::ServerArgs),
    /// Serve a worker fleet on NATS JetStream: run the `self_hosted` jobs (and
    /// `wfr run --workers`) that its labels allow, until SIGTERM.
    #[cfg(feature = "nats")]
    Worker(worker::WorkerArgs),
    /// Take up a run whose coordinator died: its jobs on the worker fleet that
    /// finished keep their results, those still running are waited for.
    #[cfg(feature = "nats")]
    Resume(worker::ResumeArgs),
    /// Print the shell completion script of wfr.
    ///
    /// For example `wfr completions bash > ~/.local/share/bash-completion/completions/wfr`
    /// (README, "Shell completions and man pages").
    Completions(dist::CompletionsArgs),
    /// Print wfr's man page, or write it and one per subcommand into a folder.
    ///
    /// For example `wfr man --out ~/.local/share/man/man1`, then `man wfr-run`.
    Man(dist::ManArgs),
    /// (internal) Watches a `wfr` and cleans up after it if it is killed.
    #[command(hide = true)]
    Guard {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        scratch: PathBuf,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// A plan (`.wfp`), a workflow name (compiled from $WORKFLOW_CORE_CONF_PATH,
    /// ./conf or . through the plan cache), or a YAML file with one workflow.
    target: String,

    #[command(flatten)]
    given: ParamArgs,

    /// Decide everything (params, matrices, foreach items, `if`s, trigger rules)
    /// but start nothing: stages with side effects (bash, python, call, docker,
    /// trigger...) log what they would run, rendered, and succeed. No record is
    /// written and the run is not in the history.
    #[arg(long)]
    dry_run: bool,

    #[command(flatten)]
    options: RunOptions,
}

/// The params of a run, as given on the command line.
#[derive(Clone, Debug, Default, Args)]
pub(crate) struct ParamArgs {
    /// A param, `key=value` (repeatable); the value is read as the param's type.
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// Params from a JSON or YAML file (a mapping); `-p` wins over it.
    #[arg(long, value_name = "FILE")]
    params_file: Option<PathBuf>,
}

/// How a run goes: what every command that starts runs takes.
#[derive(Clone, Debug, Args)]
pub(crate) struct RunOptions {
    /// What to print on stdout at the end.
    #[arg(long, value_enum, default_value_t = OutputArg::Summary)]
    output: OutputArg,

    /// Stop the run after this long (exit status 4): seconds (`90`, `0.5`) or a
    /// duration (`90s`, `10m`, `1h30m`); at most 30 days.
    #[arg(long, value_name = "DURATION", value_parser = timeout_seconds)]
    timeout: Option<f64>,

    /// How many jobs may run at once.
    #[arg(long, value_name = "N", default_value_t = 2)]
    max_job_parallel: usize,

    /// Stop the whole run at the first failed stage.
    #[arg(long)]
    raise_error: bool,

    /// Log lines on stderr: for people, or JSON lines.
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,

    /// Where compiled plans are (and where a name or YAML file is compiled to).
    #[arg(long, value_name = "DIR", default_value = ".wfc/plans")]
    plans: PathBuf,

    /// Where run records go (the run history, `wfc.db`, is beside this folder).
    #[arg(long, value_name = "DIR", default_value = ".wfc/runs")]
    runs: PathBuf,

    #[command(flatten)]
    store: history::StoreArg,

    /// Store the outputs of stages without `id` under upstream's hashed ids
    /// (`WORKFLOW_CORE_STAGE_DEFAULT_ID=true` does the same).
    #[arg(long)]
    default_ids: bool,

    /// Send every job to the worker fleet at this NATS URL
    /// (`nats://[TOKEN@]host:port`), as if each said `runs-on: self_hosted`.
    #[arg(long, value_name = "URL")]
    workers: Option<String>,

    /// (internal, for `wfr server`) The id of the run to start, instead of a
    /// new one: the server answers with it before the run starts.
    #[arg(long = "run-id", value_name = "ID", hide = true, value_parser = given_run_id)]
    new_run_id: Option<String>,
}

/// A run id given with `--run-id`: as `wfr` makes them (letters, digits, `-`,
/// `_`; at most 64), so it is a safe folder name.
fn given_run_id(text: &str) -> Result<String, String> {
    let fits = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fits {
        Ok(text.to_string())
    } else {
        Err("a run id is 1 to 64 letters, digits, `-` or `_`".into())
    }
}

impl RunOptions {
    /// The id of a new run of `workflow`: the one given, else a new one.
    pub(crate) fn new_run_id(&self, workflow: &str) -> String {
        self.new_run_id
            .clone()
            .unwrap_or_else(|| vm::new_run_id(workflow))
    }
}

/// A `--timeout` that is not one (clap says it as a usage error).
#[derive(Debug, thiserror::Error)]
enum BadTimeout {
    #[error(
        "a timeout must be greater than 0 and at most {}",
        wfc_plan::limits::MAX_TIMEOUT_TEXT
    )]
    OutOfRange,
    #[error(
        "a timeout is a number of seconds (`90`, `0.5`) or a duration (`90s`, `10m`, `1h30m`) of at most {max}: {0}",
        max = wfc_plan::limits::MAX_TIMEOUT_TEXT
    )]
    NotATimeout(String),
}

/// `--timeout`: seconds above 0 (`90`, `0.5`) or a duration as `--for` takes it
/// (`90s`, `1h30m`), up to wfc's longest timeout.
fn timeout_seconds(text: &str) -> Result<f64, BadTimeout> {
    let max = wfc_plan::limits::MAX_TIMEOUT_SECONDS;
    let seconds = match text.trim().parse::<f64>() {
        Ok(seconds) => seconds,
        Err(_) => match wfc_plan::when::parse_duration(text) {
            Ok(duration) => duration.as_secs_f64(),
            Err(wfc_plan::when::WhenError::Duration { problem, .. }) => {
                return Err(BadTimeout::NotATimeout(problem));
            }
            Err(other) => return Err(BadTimeout::NotATimeout(other.to_string())),
        },
    };
    if seconds > 0.0 && seconds <= max {
        Ok(seconds)
    } else {
        Err(BadTimeout::OutOfRange)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputArg {
    /// One line: run id, status, time, record.
    Summary,
    /// The final context as JSON.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// How a command that did its work came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// The run succeeded (or everything was skipped); the guard's watch ended.
    Success,
    Failed,
    /// Cancelled by a signal.
    Cancelled,
    /// Stopped by `--timeout`.
    TimedOut,
    /// The run ended, but its record could not be written (said as it failed).
    NoRecord,
}

impl Done {
    /// How a run that ended came out, before its record is written.
    fn of(ending: Ending, status: Status) -> Self {
        match (ending, status) {
            (Ending::TimedOut, _) => Done::TimedOut,
            (Ending::Cancelled, _) | (_, Status::Cancel) => Done::Cancelled,
            (_, Status::Failed) => Done::Failed,
            _ => Done::Success,
        }
    }
}

/// Why a run did not start (or `wfr guard` did not watch). [`main`] says it once,
/// as `wfr: error: …`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line does not parse, or asks for `--help` or `--version`
    /// (clap prints it, in its own words).
    #[error(transparent)]
    Args(#[from] clap::Error),
    /// The `.wfc` folder of `--runs` or `--plans` cannot be made.
    #[error(transparent)]
    State(std::io::Error),
    /// No plan to run: an unknown workflow, one with errors, a bad plan (with the
    /// findings that say why, when there are some).
    #[error(transparent)]
    NotRunnable(#[from] api::NotRunnable),
    /// The run needs Python, and `wfr-python` cannot take it over.
    #[cfg(not(feature = "python"))]
    #[error(transparent)]
    Handoff(#[from] crate::handoff::HandoffError),
    #[error("params file {}: {error}", path.display())]
    ParamsFile {
        path: PathBuf,
        error: params::ParamsFileError,
    },
    /// A `-p` without `=`.
    #[error("`-p {0}`: write params as `-p key=value`")]
    ParamPair(String),
    /// Params that do not fit the workflow's.
    #[error("workflow `{workflow}`: {error}")]
    Params {
        workflow: String,
        error: params::ParamError,
    },
    #[error("cannot create the run record in {}: {error}", runs.display())]
    Record {
        runs: PathBuf,
        error: std::io::Error,
    },
    /// A command's input that does not fit: an unknown run id, a time that is
    /// not a tick... (the message says what to do).
    #[error("{0}")]
    Usage(String),
    /// The run history (`.wfc/wfc.db`) cannot be opened or written.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A `-p` of `wfr release` whose template does not render.
    #[error("`-p {pair}`: {error}")]
    ReleaseParam {
        pair: String,
        error: crate::eval::EvalError,
    },
    /// Logging cannot be installed (a bad `WFR_LOG`).
    #[error("logging: {0}")]
    Logs(#[from] logs::LogsError),
    /// `wfr guard --owner` of something that is not an owner label.
    #[error(transparent)]
    Guard(#[from] crate::guard::NotAnOwner),
    /// `wfr completions`, `wfr man` cannot write.
    #[error(transparent)]
    Dist(#[from] dist::DistError),
}

/// The exit status of `wfr`: the one place statuses are chosen (README, "Exit
/// status"; [`exit`]).
#[must_use]
pub fn exit_code(result: &Result<Done, Error>) -> u8 {
    match result {
        Ok(Done::Success) => exit::SUCCESS,
        Ok(Done::Failed) => exit::FAILED,
        Ok(Done::Cancelled) => exit::CANCELLED,
        Ok(Done::TimedOut) => exit::TIMED_OUT,
        Ok(Done::NoRecord) => exit::NO_RECORD,
        // `--help`, `--version`.
        Err(Error::Args(error)) if !error.use_stderr() => exit::SUCCESS,
        #[cfg(not(feature = "python"))]
        Err(Error::Handoff(_)) => exit::BAD_INPUT,
        Err(
            Error::Args(_)
            | Error::State(_)
            | Error::NotRunnable(_)
            | Error::ParamsFile { .. }
            | Error::ParamPair(_)
            | Error::Params { .. }
            | Error::Record { .. }
            | Error::Logs(_)
            | Error::Store(_)
            | Error::Usage(_)
            | Error::ReleaseParam { .. }
            | Error::Guard(_)
            | Error::Dist(_),
        ) => exit::BAD_INPUT,
    }
}

/// Runs `wfr` with the process arguments.
#[must_use]
pub fn main() -> ExitCode {
    let result = run();
    match &result {
        Ok(_) => {}
        Err(Error::Args(error)) => {
            let _ = error.print();
        }
        Err(Error::NotRunnable(refused)) => {
            // The findings that say why, as `wfc check` prints them, then why.
            if let Some(findings) = &refused.findings {
                let _ = std::io::stderr().lock().write_all(findings);
            }
            wfc_plan::errln!("wfr: error: {refused}");
        }
        Err(error @ Error::Guard(_)) => wfc_plan::errln!("wfr guard: {error}"),
        Err(error) => wfc_plan::errln!("wfr: error: {error}"),
    }
    ExitCode::from(exit_code(&result))
}

fn run() -> Result<Done, Error> {
    match Cli::try_parse()?.command {
        Command::Run(args) => run_workflow(&args),
        Command::Release(args) => orchestrate::release(&args),
        Command::Schedule(args) => orchestrate::schedule(&args),
        Command::Backfill(args) => orchestrate::backfill(&args),
        Command::Rerun(args) => orchestrate::rerun(&args),
        Command::Runs(args) => history::runs(&args),
        Command::Show(args) => history::show(&args),
        Command::Logs(args) => history::logs(&args),
        Command::Stop(args) => history::stop(&args),
        #[cfg(feature = "server")]
        Command::Server(args) => server::server(&args),
        #[cfg(feature = "nats")]
        Command::Worker(args) => worker::worker(&args),
        #[cfg(feature = "nats")]
        Command::Resume(args) => worker::resume(&args),
        Command::Completions(args) => {
            dist::completions(Cli::command(), "wfr", VERSION.as_str(), &args)?;
            Ok(Done::Success)
        }
        Command::Man(args) => {
            dist::man(Cli::command(), "wfr", &args)?;
            Ok(Done::Success)
        }
        Command::Guard { owner, scratch } => {
            crate::guard::run(&owner, &scratch)?;
            Ok(Done::Success)
        }
    }
}

/// Leaves `value` to the end of the process instead of freeing it: `wfr` exits
/// right after a run, and freeing a large context (or plan) piece by piece would
/// only delay the exit.
fn leave_to_exit<T>(value: T) {
    std::mem::forget(value);
}

fn run_workflow(args: &RunArgs) -> Result<Done, Error> {
    let (plan, plan_dir) = locate(&args.target, &args.options.plans, &args.options.runs)?;
    let plans = prepare(
        &plan,
        plan_dir,
        args.dry_run || args.options.workers.is_some(),
    )?;
    let given = args.given.read(None)?;
    let resolved = resolve(&plan, &given)?;
    let how = Launch {
        dry_run: args.dry_run,
        ..Launch::new(args.options.new_run_id(&plan.name))
    };
    launch(&args.options, plan, plans, resolved, how)
}

/// The plan store of a plan about to run, once sure this `wfr` can run it: a
/// `wfr` without Python hands the whole command to `wfr-python` here (before
/// anything is claimed or written). `no_stage_here`: none of the run's stages
/// starts in this process (a dry run, or every job sent to the fleet with
/// `--workers`), so only its templates' Python filters count.
#[cfg_attr(feature = "python", allow(clippy::unnecessary_wraps))]
pub(crate) fn prepare(
    plan: &Plan,
    plan_dir: PathBuf,
    no_stage_here: bool,
) -> Result<PlanStore, Error> {
    let plans = PlanStore::new(plan_dir);
    #[cfg(not(feature = "python"))]
    if let Some(reason) = crate::handoff::reason(plan, &plans, no_stage_here) {
        return Err(crate::handoff::exec(&reason).into());
    }
    #[cfg(feature = "python")]
    let _ = (plan, no_stage_here);
    Ok(plans)
}

impl ParamArgs {
    /// The `-p` pairs as given.
    pub(crate) fn pairs(&self) -> &[String] {
        &self.params
    }

    pub(crate) fn file(&self) -> Option<&Path> {
        self.params_file.as_deref()
    }

    /// The params given, from `--params-file` then `-p`; with `release`, `-p`
    /// values are templates that may read it (`${{ release.logical_date }}`).
    pub(crate) fn read(&self, release: Option<&Value>) -> Result<Map, Error> {
        let mut given = Map::default();
        if let Some(file) = &self.params_file {
            let map = params::read_file(file).map_err(|error| Error::ParamsFile {
                path: file.clone(),
                error,
            })?;
            given.extend(map);
        }
        for pair in &self.params {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(Error::ParamPair(pair.clone()));
            };
            let value = match release {
                Some(release) => crate::release::render_param(value, release).map_err(|error| {
                    Error::ReleaseParam {
                        pair: pair.clone(),
                        error,
                    }
                })?,
                None => params::from_cli(value),
            };
            given.insert(Str::from(key.trim()), value);
        }
        Ok(given)
    }
}

/// The params of a run of `plan`, as its params say.
pub(crate) fn resolve(plan: &Plan, given: &Map) -> Result<Map, Error> {
    params::resolve(&plan.params, given).map_err(|error| Error::Params {
        workflow: plan.name.clone(),
        error,
    })
}

/// What a run is, beyond its plan and params: a release, a rerun.
pub(crate) struct Launch {
    pub run_id: String,
    /// The logical time of a release, and its type (`normal`, `force`).
    pub release: Option<(jiff::Timestamp, &'static str)>,
    /// The run this one re-runs (its id and jobs).
    pub rerun: Option<vm::Prior>,
    /// Decide everything, start nothing (`--dry-run`): no record, no history.
    pub dry_run: bool,
    /// The history, when the command opened it already.
    pub history: Option<Arc<dyn crate::store::Store>>,
    /// `wfr resume`: the run whose fleet jobs this one takes up (their results,
    /// or their end when they are still running on workers).
    pub resume_of: Option<String>,
}

impl Launch {
    pub(crate) fn new(run_id: String) -> Self {
        Launch {
            run_id,
            release: None,
            rerun: None,
            dry_run: false,
            history: None,
            resume_of: None,
        }
    }
}

/// The run in the history of this process: what a run that cannot wait for its
/// end (a second signal) sets as it ends.
/// Taken out (and the database closed) when the run ends: a `wfr` that exits
/// with its connection open leaves the next opener the whole write-ahead log to
/// read again.
static HISTORY: std::sync::Mutex<Option<(Arc<dyn crate::store::Store>, String)>> =
    std::sync::Mutex::new(None);

/// Runs `plan` to its end: its record, its place in the history, its logs, its
/// output.
pub(crate) fn launch(
    options: &RunOptions,
    plan: Arc<Plan>,
    plans: PlanStore,
    resolved: Map,
    how: Launch,
) -> Result<Done, Error> {
    let args = options;
    // From here on, processes that stages start stay below wfr.
    crate::process::init();
    let run_id = how.run_id.clone();
    let plan_info = {
        let mut m = Map::default();
        m.insert("workflow".into(), Value::str(&plan.name));
        m.insert("source".into(), Value::str(&plan.source));
        m.insert(
            "source_hash".into(),
            Value::str(source_hash(&args.plans, &plan)),
        );
        if let Some((logical, kind)) = &how.release {
            m.insert("release".into(), Value::str(logical.to_string()));
            m.insert("release_type".into(), Value::str(*kind));
        }
        if let Some(prior) = &how.rerun {
            m.insert("rerun_of".into(), Value::str(&prior.run_id));
        }
        Value::from(m)
    };
    // The history first: a run that cannot be kept in it does not start. A dry
    // run is kept in neither the history nor a record.
    let history: Option<Arc<dyn crate::store::Store>> = match (how.dry_run, how.history) {
        (true, _) => None,
        (false, Some(history)) => Some(history),
        (false, None) => Some(Arc::from(args.store.open(&args.runs)?)),
    };
    // The run's row goes in before it starts when the run must not start twice
    // (a release: a second `wfr` given the same claimed run id fails here);
    // otherwise beside the run's start, on a thread (writing it costs about a
    // millisecond of syncing, as much as a short run), and surely before its end.
    let adding: Option<std::thread::JoinHandle<Result<(), crate::store::StoreError>>> =
        match &history {
            None => None,
            Some(history) => {
                let row = crate::store::RunRow {
                    run_id: run_id.clone(),
                    workflow: plan.name.clone(),
                    state: crate::store::RunState::Running,
                    release: how.release.map(|(t, _)| t),
                    started: jiff::Timestamp::now(),
                    ended: None,
                    rerun_of: how.rerun.as_ref().map(|prior| prior.run_id.clone()),
                    record: std::path::absolute(args.runs.join(&run_id))
                        .unwrap_or_else(|_| args.runs.join(&run_id)),
                    owner: Some(crate::owner::Owner::current().label()),
                };
                *HISTORY
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((Arc::clone(history), run_id.clone()));
                if how.release.is_some() {
                    history.add_run(&row)?;
                    None
                } else {
                    let history = Arc::clone(history);
                    std::thread::Builder::new()
                        .name("wfr-history".into())
                        .spawn(move || history.add_run(&row))
                        .ok()
                }
            }
        };
    // Sets how the run ended in the history, once its row is in.
    let ended = |state: crate::store::RunState| -> Result<(), crate::store::StoreError> {
        if let Some(thread) = adding {
            thread.join().unwrap_or(Ok(()))?;
        }
        match &history {
            Some(history) => history.end_run(&run_id, state, jiff::Timestamp::now()),
            None => Ok(()),
        }
    };
    let record = if how.dry_run {
        None
    } else {
        match Record::start(&args.runs, &run_id, &resolved, &plan_info) {
            Ok(record) => Some(record),
            Err(error) => {
                let _ = ended(crate::store::RunState::Failed);
                return Err(Error::Record {
                    runs: args.runs.clone(),
                    error,
                });
            }
        }
    };
    let log_file: Box<dyn Write + Send> = match &record {
        Some(record) => Box::new(record.log_file()),
        None => Box::new(std::io::sink()),
    };
    let format = match args.log_format {
        LogFormat::Human => logs::Format::Human,
        LogFormat::Json => logs::Format::Json,
    };
    let terminal = std::io::stderr().is_terminal();
    let logging =
        logs::Filter::parse(std::env::var("WFR_LOG").ok().as_deref()).and_then(|filter| {
            // The live progress view, on a terminal, with human logs, unless every
            // log is off: the log lines are written above it.
            let progress = (terminal && format == logs::Format::Human && !filter.is_off())
                .then(|| Arc::new(Progress::new()));
            let stderr: Box<dyn Write + Send> = match &progress {
                Some(progress) => Box::new(progress.writer()),
                None => Box::new(std::io::stderr()),
            };
            let options = logs::Options {
                format,
                filter,
                color: terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
                stderr,
            };
            logs::init(options, log_file).map(|log| (log, progress))
        });
    let (log, progress) = match logging {
        Ok(logging) => logging,
        Err(e) => {
            // The run does not start: no record of it.
            if let Some(record) = record {
                record.discard();
            }
            let _ = ended(crate::store::RunState::Failed);
            return Err(e.into());
        }
    };
    // Who listens to the run's events: the logs, the progress view, the record.
    let mut listeners = vec![log.subscriber()];
    if let Some(record) = &record {
        listeners.push(record.journal());
    }
    if let Some(progress) = &progress {
        listeners.push(Arc::clone(progress) as Arc<dyn events::Subscriber>);
    }

    let cancel = Cancel::new();
    watch_signals(&cancel);
    let default_ids = args.default_ids
        || std::env::var("WORKFLOW_CORE_STAGE_DEFAULT_ID")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    let engine = Arc::new(Engine {
        pool: Pool::for_this_machine(),
        plans,
        default_ids,
        max_job_parallel: args.max_job_parallel,
        max_depth: 16,
        raise_error: args.raise_error,
        events: Arc::new(events::Bus::new(listeners)),
        dry_run: how.dry_run,
        workers: args.workers.clone(),
        resume_of: how.resume_of.clone(),
    });
    engine.plans.insert(Arc::clone(&plan));
    let request = RunRequest {
        plan: Arc::clone(&plan),
        params: resolved.clone(),
        run_id: run_id.clone(),
        parent_run_id: None,
        timeout: args
            .timeout
            .filter(|t| *t > 0.0)
            .map(Duration::from_secs_f64),
        cancel,
        depth: 0,
        prior: how.rerun,
    };
    if let Some(timeout) = request.timeout {
        // Past its deadline the run is cancelled; if it has not ended a little
        // later (code stuck in a call into C), wfr ends it.
        end_after(
            timeout + END_WAIT,
            Ending::TimedOut,
            "the run did not end after its timeout",
        );
    }
    let mut result = vm::run(&engine, request);
    engine.pool.shutdown();
    if let Some((logical, kind)) = &how.release {
        // Upstream's release result: the run's context and the release.
        let mut release = Map::default();
        release.insert("type".into(), Value::str(*kind));
        release.insert("logical_date".into(), Value::DateTime(*logical));
        result
            .context
            .insert("release".into(), Value::from(release));
    }
    // Nothing a stage started outlives the run (stages kill their own as they
    // end; this finds what left their reach).
    let swept = crate::process::sweep(true);
    if swept > 0 {
        tracing::warn!(target: "wfr::run", run = %run_id, processes = swept, "killed processes that stages left behind out of their reach");
    }
    // Write out the logs before the record is closed.
    let logged = log.finish();
    if let Some(progress) = &progress {
        progress.clear();
    }

    let saved = match (logged, record) {
        (_, None) => None,
        (Ok(()), Some(record)) => Some(record.finish(&result.context)),
        (Err(e), Some(record)) => {
            record.discard();
            Some(Err(e))
        }
    };
    crate::guard::dismiss();
    crate::owner::remove_scratch_root();
    // The history says how it ended once its record is in place.
    if let Err(e) = ended(crate::store::RunState::ended(result.status)) {
        wfc_plan::errln!("wfr: error: the run is not in the history: {e}");
    }
    // The database is closed now (its log checkpointed), not left to the exit.
    drop(
        HISTORY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(),
    );
    drop(history);
    match args.output {
        OutputArg::Json => {
            // Written from the context itself: its keys in their order (as
            // upstream's dicts keep it), no copy of it made first.
            // A reader that went away (`| head`) ends the output quietly.
            let written = wfc_plan::output::stdout_with(|out| {
                serde_json::to_writer_pretty(&mut *out, &result.context)
                    .map_err(std::io::Error::from)
                    .and_then(|()| writeln!(out))
            });
            if let Err(e) = written {
                wfc_plan::errln!("wfr: cannot write the context to stdout: {e}");
            }
        }
        OutputArg::Summary => {
            let seconds = result
                .context
                .get("info")
                .and_then(|i| match i.as_map()?.get("exec_latency")? {
                    Value::Float(s) => Some(format!(" in {}", crate::human::duration(*s))),
                    _ => None,
                })
                .unwrap_or_default();
            let line = format!(
                "{} {}: {}{seconds}{}\n",
                plan.name,
                result.run_id,
                result.status.as_str(),
                if how.dry_run { " (dry run)" } else { "" },
            );
            if let Err(e) = wfc_plan::output::stdout(&line) {
                wfc_plan::errln!("wfr: cannot write the summary to stdout: {e}");
            }
        }
    }
    let done = Done::of(result.ending, result.status);
    let done = match saved {
        // A dry run keeps no record.
        None => done,
        // With JSON logs, stderr stays JSON lines to the end.
        Some(Ok(path)) if args.log_format == LogFormat::Json => {
            wfc_plan::errln!(
                "{}",
                serde_json::json!({"level": "INFO", "target": "wfr::record", "record": path, "message": "run record written"})
            );
            done
        }
        Some(Ok(path)) => {
            wfc_plan::errln!("wfr: run record: {}", path.display());
            done
        }
        Some(Err(e)) if args.log_format == LogFormat::Json => {
            wfc_plan::errln!(
                "{}",
                serde_json::json!({"level": "ERROR", "target": "wfr::record", "error": e.to_string(), "status": result.status.as_str(), "message": "cannot write the run record; it was removed"})
            );
            Done::NoRecord
        }
        Some(Err(e)) => {
            wfc_plan::errln!(
                "wfr: error: cannot write the run record ({e}); it was removed. The run ended {}; free space in {} and run it again to keep its record",
                result.status.as_str(),
                args.runs.display()
            );
            Done::NoRecord
        }
    };
    leave_to_exit(result);
    leave_to_exit(plan);
    Ok(done)
}

/// The plan's source hash, when its file is in the plan folder.
fn source_hash(dir: &Path, plan: &Plan) -> String {
    plan::read_header(&dir.join(plan::file_name(&plan.name)))
        .map_or_else(|_| String::new(), |h| h.source_hash)
}

/// Finds (compiling if needed) the plan to run and the folder of its siblings,
/// through the compile API.
pub(crate) fn locate(
    target: &str,
    plans: &Path,
    runs: &Path,
) -> Result<(Arc<Plan>, PathBuf), Error> {
    // `.wfc/runs` and `.wfc/plans` are made below: their `.wfc` gets its
    // `.gitignore` and `CACHEDIR.TAG` first.
    for dir in [runs, plans] {
        wfc_plan::state::prepare(dir).map_err(Error::State)?;
    }
    let color = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    #[cfg(feature = "python")]
    let python_filters = || crate::python::filter_names().map_err(Into::into);
    #[cfg(not(feature = "python"))]
    let python_filters = || {
        Err(crate::handoff::exec(
            "a template uses a filter that is not built in (it may be registered in Python)",
        )
        .into())
    };
    let (plan, dir) = api::locate(target, plans, api::Show { color }, python_filters)?;
    Ok((Arc::new(plan), dir))
}

/// SIGINT / SIGTERM / SIGHUP cancel the run (running stages are stopped, the
/// record is still written); if it has not ended [`END_WAIT`] later (code stuck
/// in a call into C), wfr ends it. A second signal skips the grace periods:
/// every stage process is killed at once; if the run has not ended
/// [`HURRY_WAIT`] later (or at a third signal), wfr ends it.
fn watch_signals(cancel: &Cancel) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    // SIGHUP: the terminal went away; the run is cancelled, as it would be
    // if its user pressed Ctrl-C.
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    let cancel = cancel.clone();
    std::thread::spawn(move || {
        let mut seen = 0;
        for signal in signals.forever() {
            seen += 1;
            if seen == 1 {
                tracing::warn!(target: "wfr::run", signal, "cancelling the run (a second signal stops it at once)");
                cancel.cancel();
                end_after(
                    END_WAIT,
                    Ending::Cancelled,
                    "the run did not end after it was cancelled",
                );
                continue;
            }
            if seen == 2 {
                tracing::warn!(target: "wfr::run", signal, "second signal: killing every stage process now");
                crate::process::hurry();
                cancel.cancel();
                let _ = crate::process::sweep(false);
                end_after(
                    HURRY_WAIT,
                    Ending::Cancelled,
                    "the run did not end after a second signal",
                );
                continue;
            }
            stop_now(Ending::Cancelled, "a third signal");
        }
    });
}

/// How long a cancelled run (or one past its `--timeout`) gets to end: its
/// stages' grace period, and some.
const END_WAIT: Duration = Duration::from_secs(5);

/// How long a run gets to end after a second signal, its processes killed.
const HURRY_WAIT: Duration = Duration::from_secs(3);

/// Ends wfr `after` from now, unless the run ended first (the process is gone).
fn end_after(after: Duration, ending: Ending, why: &'static str) {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        stop_now(ending, why);
    });
}

/// Ends wfr at once: kills every stage process, closes the open record
/// (cancelled, or failed on its timeout) from what its log says of the jobs,
/// cleans up and exits with the run's status (3 or 4).
fn stop_now(ending: Ending, why: &str) -> ! {
    let _ = crate::process::sweep(true);
    let (closing, status, done, message) = match ending {
        Ending::TimedOut => (
            ErrorName::WorkflowTimeoutError,
            Status::Failed,
            Done::TimedOut,
            format!(
                "The run was stopped by its timeout; {why}, so the record holds the jobs' statuses as far as the run got."
            ),
        ),
        _ => (
            ErrorName::WorkflowCancelError,
            Status::Cancel,
            Done::Cancelled,
            format!(
                "Execution was canceled by a signal; {why}, so the record holds the jobs' statuses as far as the run got."
            ),
        ),
    };
    let closing = crate::record::Closing {
        status,
        error: closing,
        message: &message,
    };
    wfc_plan::errln!("wfr: {why}: ending it now");
    let open = HISTORY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some((history, run_id)) = &open {
        let _ = history.end_run(
            run_id,
            crate::store::RunState::ended(status),
            jiff::Timestamp::now(),
        );
    }
    for record in crate::record::close_open(closing) {
        wfc_plan::errln!("wfr: run record (closed as it was): {}", record.display());
    }
    // What is left of this process's own: its containers, its scratch folder.
    let _ = crate::reap::after(
        crate::owner::Owner::current(),
        &[],
        Some(&crate::owner::scratch_root_path()),
        "",
    );
    crate::guard::dismiss();
    std::process::exit(i32::from(exit_code(&Ok(done))));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io() -> std::io::Error {
        std::io::Error::other("disk full")
    }

    /// Every command's options are well formed (clap checks names, ids and
    /// conflicts only when asked, or when the command runs).
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }

    /// Every outcome and every error maps to the status README gives it.
    #[test]
    fn exit_codes_are_the_documented_ones() {
        use clap::error::ErrorKind;
        let cases: Vec<(Result<Done, Error>, u8)> = vec![
            (Ok(Done::Success), 0),
            (Ok(Done::Failed), 1),
            (Ok(Done::Cancelled), 3),
            (Ok(Done::TimedOut), 4),
            (Ok(Done::NoRecord), 5),
            (Err(clap::Error::new(ErrorKind::DisplayHelp).into()), 0),
            (Err(clap::Error::new(ErrorKind::DisplayVersion).into()), 0),
            (Err(clap::Error::new(ErrorKind::ValueValidation).into()), 2),
            (Err(Error::State(io())), 2),
            (
                Err(api::NotRunnable {
                    message: "no workflow is named `x`".into(),
                    findings: None,
                }
                .into()),
                2,
            ),
            (
                Err(Error::ParamsFile {
                    path: "params.yml".into(),
                    error: params::ParamsFileError::NotAMapping,
                }),
                2,
            ),
            (Err(Error::ParamPair("x".into())), 2),
            (
                Err(Error::Params {
                    workflow: "w".into(),
                    error: params::ParamError::Required { name: "p".into() },
                }),
                2,
            ),
            (
                Err(Error::Record {
                    runs: ".wfc/runs".into(),
                    error: io(),
                }),
                2,
            ),
            (
                Err(logs::LogsError::Filter {
                    filter: "loud".into(),
                    error: logs::NotALevel("loud".into()),
                }
                .into()),
                2,
            ),
            (Err(crate::guard::NotAnOwner("x".into()).into()), 2),
        ];
        for (result, code) in &cases {
            assert_eq!(exit_code(result), *code, "{result:?}");
        }
        // A run stopped from outside ends with the same statuses.
        assert_eq!(Done::of(Ending::TimedOut, Status::Cancel), Done::TimedOut);
        assert_eq!(
            Done::of(Ending::Cancelled, Status::Success),
            Done::Cancelled
        );
        assert_eq!(Done::of(Ending::Finished, Status::Skip), Done::Success);
    }

    /// `wfr` that cannot hand a run to `wfr-python`: bad input, as before.
    #[cfg(not(feature = "python"))]
    #[test]
    fn a_failed_handoff_is_bad_input() {
        let error = crate::handoff::HandoffError::NotBeside {
            reason: "stage `s` of workflow `w` is a Python stage".into(),
            folder: PathBuf::new(),
        };
        assert_eq!(exit_code(&Err(error.into())), 2);
    }
}
