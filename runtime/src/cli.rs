//! The `wfr` command line.

use std::io::{IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use wfc_compiler::api;
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

/// wfr: runs compiled wfc workflow plans.
#[derive(Debug, Parser)]
#[command(name = "wfr", version, about)]
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

    /// A param, `key=value` (repeatable); the value is read as the param's type.
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// Params from a JSON or YAML file (a mapping); `-p` wins over it.
    #[arg(long, value_name = "FILE")]
    params_file: Option<PathBuf>,

    /// What to print on stdout at the end.
    #[arg(long, value_enum, default_value_t = OutputArg::Summary)]
    output: OutputArg,

    /// Stop the run after this many seconds (exit status 4); at most 30 days.
    #[arg(long, value_name = "SECONDS", value_parser = timeout_seconds)]
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

    /// Where run records go.
    #[arg(long, value_name = "DIR", default_value = ".wfc/runs")]
    runs: PathBuf,

    /// Store the outputs of stages without `id` under upstream's hashed ids
    /// (`WORKFLOW_CORE_STAGE_DEFAULT_ID=true` does the same).
    #[arg(long)]
    default_ids: bool,

    /// Decide everything (params, matrices, foreach items, `if`s, trigger rules)
    /// but start nothing: stages with side effects (bash, python, call, docker,
    /// trigger...) log what they would run, rendered, and succeed.
    #[arg(long)]
    dry_run: bool,

    /// (internal) Rerun: reuse what the run whose record's `context.json` is
    /// FILE left (its SUCCESS jobs and strategies). A test seam for the VM's
    /// rerun, not a user option.
    #[arg(long, value_name = "FILE", hide = true)]
    prior_context: Option<PathBuf>,
}

/// A `--timeout` that is not one (clap says it as a usage error).
#[derive(Debug, thiserror::Error)]
enum BadTimeout {
    #[error(
        "a timeout must be greater than 0 and at most {}",
        wfc_plan::limits::MAX_TIMEOUT_TEXT
    )]
    OutOfRange,
    #[error("a timeout is a number of seconds, such as `90` or `0.5`")]
    NotANumber,
}

/// `--timeout`: a number of seconds above 0, up to wfc's longest timeout.
fn timeout_seconds(text: &str) -> Result<f64, BadTimeout> {
    let max = wfc_plan::limits::MAX_TIMEOUT_SECONDS;
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= max => Ok(seconds),
        Ok(_) => Err(BadTimeout::OutOfRange),
        Err(_) => Err(BadTimeout::NotANumber),
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
    /// Logging cannot be installed (a bad `WFR_LOG`).
    #[error("logging: {0}")]
    Logs(#[from] logs::LogsError),
    /// `wfr guard --owner` of something that is not an owner label.
    #[error(transparent)]
    Guard(#[from] crate::guard::NotAnOwner),
    /// `--prior-context FILE` that is no run's final context.
    #[error("--prior-context {}: {error}", path.display())]
    PriorContext {
        path: PathBuf,
        error: vm::PriorError,
    },
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
            | Error::Guard(_)
            | Error::PriorContext { .. },
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
    let (plan, plan_dir) = locate(args)?;
    let plans = PlanStore::new(plan_dir);
    #[cfg(not(feature = "python"))]
    if let Some(reason) = crate::handoff::reason(&plan, &plans, args.dry_run) {
        return Err(crate::handoff::exec(&reason).into());
    }
    let mut given = Map::default();
    if let Some(file) = &args.params_file {
        let map = params::read_file(file).map_err(|error| Error::ParamsFile {
            path: file.clone(),
            error,
        })?;
        given.extend(map);
    }
    for pair in &args.params {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Error::ParamPair(pair.clone()));
        };
        given.insert(Str::from(key.trim()), params::from_cli(value));
    }
    let resolved = params::resolve(&plan.params, &given).map_err(|error| Error::Params {
        workflow: plan.name.clone(),
        error,
    })?;
    let prior = (args.prior_context.as_deref())
        .map(|path| {
            vm::Prior::read(path).map_err(|error| Error::PriorContext {
                path: path.to_path_buf(),
                error,
            })
        })
        .transpose()?;
    // From here on, processes that stages start stay below wfr.
    crate::process::init();
    let run_id = vm::new_run_id(&plan.name);
    let plan_info = {
        let mut m = Map::default();
        m.insert("workflow".into(), Value::str(&plan.name));
        m.insert("source".into(), Value::str(&plan.source));
        m.insert(
            "source_hash".into(),
            Value::str(source_hash(&args.plans, &plan)),
        );
        Value::from(m)
    };
    let record = Record::start(&args.runs, &run_id, &resolved, &plan_info).map_err(|error| {
        Error::Record {
            runs: args.runs.clone(),
            error,
        }
    })?;
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
            logs::init(options, Box::new(record.log_file())).map(|log| (log, progress))
        });
    let (log, progress) = match logging {
        Ok(logging) => logging,
        Err(e) => {
            // The run does not start: no record of it.
            record.discard();
            return Err(e.into());
        }
    };
    // Who listens to the run's events: the logs, the progress view, the record.
    let mut listeners = vec![log.subscriber(), record.journal()];
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
        dry_run: args.dry_run,
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
        prior,
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
    let result = vm::run(&engine, request);
    engine.pool.shutdown();
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

    let saved = match logged {
        Ok(()) => record.finish(&result.context),
        Err(e) => {
            record.discard();
            Err(e)
        }
    };
    crate::guard::dismiss();
    crate::owner::remove_scratch_root();
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
                if args.dry_run { " (dry run)" } else { "" },
            );
            if let Err(e) = wfc_plan::output::stdout(&line) {
                wfc_plan::errln!("wfr: cannot write the summary to stdout: {e}");
            }
        }
    }
    let done = Done::of(result.ending, result.status);
    let done = match saved {
        // With JSON logs, stderr stays JSON lines to the end.
        Ok(path) if args.log_format == LogFormat::Json => {
            wfc_plan::errln!(
                "{}",
                serde_json::json!({"level": "INFO", "target": "wfr::record", "record": path, "message": "run record written"})
            );
            done
        }
        Ok(path) => {
            wfc_plan::errln!("wfr: run record: {}", path.display());
            done
        }
        Err(e) if args.log_format == LogFormat::Json => {
            wfc_plan::errln!(
                "{}",
                serde_json::json!({"level": "ERROR", "target": "wfr::record", "error": e.to_string(), "status": result.status.as_str(), "message": "cannot write the run record; it was removed"})
            );
            Done::NoRecord
        }
        Err(e) => {
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
fn locate(args: &RunArgs) -> Result<(Arc<Plan>, PathBuf), Error> {
    // `.wfc/runs` and `.wfc/plans` are made below: their `.wfc` gets its
    // `.gitignore` and `CACHEDIR.TAG` first.
    for dir in [&args.runs, &args.plans] {
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
    let (plan, dir) = api::locate(
        &args.target,
        &args.plans,
        api::Show { color },
        python_filters,
    )?;
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
            (
                Err(Error::PriorContext {
                    path: "context.json".into(),
                    error: vm::PriorError::NoJobs,
                }),
                2,
            ),
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
