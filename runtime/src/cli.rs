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
use crate::status::Status;
use crate::value::{Map, Text, Value};
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
}

/// `--timeout`: a number of seconds above 0, up to wfc's longest timeout.
fn timeout_seconds(text: &str) -> Result<f64, String> {
    let max = wfc_plan::limits::MAX_TIMEOUT_SECONDS;
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= max => Ok(seconds),
        Ok(_) => Err(format!(
            "a timeout must be greater than 0 and at most {}",
            wfc_plan::limits::MAX_TIMEOUT_TEXT
        )),
        Err(_) => Err("a timeout is a number of seconds, such as `90` or `0.5`".to_string()),
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

/// Runs `wfr` with the process arguments.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::SUCCESS
            });
        }
    };
    match cli.command {
        Command::Run(args) => ExitCode::from(run(&args)),
        Command::Guard { owner, scratch } => ExitCode::from(crate::guard::run(&owner, &scratch)),
    }
}

fn fail(message: impl std::fmt::Display) -> u8 {
    wfc_plan::errln!("wfr: error: {message}");
    exit::BAD_INPUT
}

fn run(args: &RunArgs) -> u8 {
    let (plan, plan_dir) = match locate(args) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let plans = PlanStore::new(plan_dir);
    #[cfg(not(feature = "python"))]
    if let Some(reason) = crate::handoff::reason(&plan, &plans) {
        return fail(crate::handoff::exec(&reason));
    }
    let mut given = Map::default();
    if let Some(file) = &args.params_file {
        match wfc_plan::input::read_text(file, wfc_plan::input::MAX_PARAMS_FILE)
            .map_err(|e| e.to_string())
            .and_then(|t| params::from_file(&t))
        {
            Ok(map) => given.extend(map),
            Err(e) => return fail(format!("params file {}: {e}", file.display())),
        }
    }
    for pair in &args.params {
        let Some((key, value)) = pair.split_once('=') else {
            return fail(format!("`-p {pair}`: write params as `-p key=value`"));
        };
        given.insert(Text::from(key.trim()), params::from_cli(value));
    }
    let resolved = match params::resolve(&plan.params, &given) {
        Ok(p) => p,
        Err(e) => return fail(format!("workflow `{}`: {e}", plan.name)),
    };
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
    let record = match Record::start(&args.runs, &run_id, &resolved, &plan_info) {
        Ok(r) => r,
        Err(e) => {
            return fail(format!(
                "cannot create the run record in {}: {e}",
                args.runs.display()
            ));
        }
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
            logs::init(options, Box::new(record.log_file())).map(|log| (log, progress))
        });
    let (log, progress) = match logging {
        Ok(logging) => logging,
        Err(e) => {
            // The run does not start: no record of it.
            record.discard();
            return fail(format!("logging: {e}"));
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
                "{} {}: {}{seconds}\n",
                plan.name,
                result.run_id,
                result.status.as_str()
            );
            if let Err(e) = wfc_plan::output::stdout(&line) {
                wfc_plan::errln!("wfr: cannot write the summary to stdout: {e}");
            }
        }
    }
    let code = match (result.ending, result.status) {
        (Ending::TimedOut, _) => exit::TIMED_OUT,
        (Ending::Cancelled, _) | (_, Status::Cancel) => exit::CANCELLED,
        (_, Status::Failed) => exit::FAILED,
        _ => exit::SUCCESS,
    };
    let code = match saved {
        // With JSON logs, stderr stays JSON lines to the end.
        Ok(path) if args.log_format == LogFormat::Json => {
            wfc_plan::errln!(
                "{}",
                serde_json::json!({"level": "INFO", "target": "wfr::record", "record": path, "message": "run record written"})
            );
            code
        }
        Ok(path) => {
            wfc_plan::errln!("wfr: run record: {}", path.display());
            code
        }
        Err(e) if args.log_format == LogFormat::Json => {
            wfc_plan::errln!(
                "{}",
                serde_json::json!({"level": "ERROR", "target": "wfr::record", "error": e.to_string(), "status": result.status.as_str(), "message": "cannot write the run record; it was removed"})
            );
            exit::NO_RECORD
        }
        Err(e) => {
            wfc_plan::errln!(
                "wfr: error: cannot write the run record ({e}); it was removed. The run ended {}; free space in {} and run it again to keep its record",
                result.status.as_str(),
                args.runs.display()
            );
            exit::NO_RECORD
        }
    };
    // The process ends here: freeing a large context (or plan) piece by piece
    // would only delay the exit.
    std::mem::forget(result);
    std::mem::forget(plan);
    code
}

/// The plan's source hash, when its file is in the plan folder.
fn source_hash(dir: &Path, plan: &Plan) -> String {
    plan::read_header(&dir.join(plan::file_name(&plan.name)))
        .map_or_else(|_| String::new(), |h| h.source_hash)
}

/// Finds (compiling if needed) the plan to run and the folder of its siblings,
/// through the compile API. When the workflow cannot be run, the findings that say
/// why are printed as `wfc check` prints them (on stderr), then the error.
fn locate(args: &RunArgs) -> Result<(Arc<Plan>, PathBuf), u8> {
    // `.wfc/runs` and `.wfc/plans` are made below: their `.wfc` gets its
    // `.gitignore` and `CACHEDIR.TAG` first.
    for dir in [&args.runs, &args.plans] {
        wfc_plan::state::prepare(dir).map_err(fail)?;
    }
    let color = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    #[cfg(feature = "python")]
    let python_filters = crate::python::filter_names;
    #[cfg(not(feature = "python"))]
    let python_filters = || {
        Err(crate::handoff::exec(
            "a template uses a filter that is not built in (it may be registered in Python)",
        ))
    };
    match api::locate(
        &args.target,
        &args.plans,
        api::Show { color },
        python_filters,
    ) {
        Ok((plan, dir)) => Ok((Arc::new(plan), dir)),
        Err(refused) => {
            if let Some(findings) = &refused.findings {
                let _ = std::io::stderr().lock().write_all(findings);
            }
            Err(fail(refused.message))
        }
    }
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
    let (closing, code, message) = match ending {
        Ending::TimedOut => (
            "WorkflowTimeoutError",
            exit::TIMED_OUT,
            format!(
                "The run was stopped by its timeout; {why}, so the record holds the jobs' statuses as far as the run got."
            ),
        ),
        _ => (
            "WorkflowCancelError",
            exit::CANCELLED,
            format!(
                "Execution was canceled by a signal; {why}, so the record holds the jobs' statuses as far as the run got."
            ),
        ),
    };
    let closing = crate::record::Closing {
        status: if code == exit::TIMED_OUT {
            Status::Failed
        } else {
            Status::Cancel
        },
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
    std::process::exit(i32::from(code));
}
