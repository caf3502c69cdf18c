//! `wfr release`, `wfr backfill`, `wfr rerun` and `wfr schedule`: runs for
//! logical times, once each; runs again of what did not succeed; the scheduler.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use wfc_plan::Plan;
use wfc_plan::schedule::Schedules;

use super::{Done, Error, Launch, ParamArgs, RunOptions, history::Where};
use crate::schedule::{Catchup, Clock as _, Decision, Scheduled, SystemClock, Ticker};
use crate::store::{self, Claim, Claimer, RunState};
use crate::value::Map;
use crate::vm;

#[derive(Debug, Args)]
pub(crate) struct ReleaseArgs {
    /// The workflow's name.
    name: String,
    /// The logical time: RFC 3339 (`2026-03-01T06:00:00Z`), or `YYYY-MM-DD[ HH:MM]`
    /// in the timezone of the workflow's first schedule (UTC without one).
    #[arg(long, value_name = "DATETIME")]
    at: String,
    /// Run it even when that time was released already (a new run; the history
    /// keeps both).
    #[arg(long)]
    force: bool,
    /// (internal) The release was claimed for this run id by `wfr schedule` or
    /// `wfr backfill`, which started this `wfr`.
    #[arg(long, value_name = "RUN_ID", hide = true)]
    claimed: Option<String>,
    #[command(flatten)]
    given: ParamArgs,
    #[command(flatten)]
    options: RunOptions,
}

/// The workflow's schedules (None without `on.schedule`), and the timezone
/// `--at`, `--from` and `--to` are read in: the first schedule's (UTC without one).
fn schedules_of(plan: &Plan) -> Result<(Option<Schedules>, TimeZone), Error> {
    if plan.schedule.is_empty() {
        return Ok((None, TimeZone::UTC));
    }
    let schedules = Schedules::new(&plan.schedule)
        .map_err(|e| Error::Usage(format!("workflow `{}`: {e}", plan.name)))?;
    let zone = schedules
        .as_slice()
        .first()
        .map_or(TimeZone::UTC, |first| first.time_zone().clone());
    Ok((Some(schedules), zone))
}

/// A time as people read it in the workflow's zone (and in UTC).
fn both(t: Timestamp, zone: &TimeZone) -> String {
    let local = t.to_zoned_datetime(zone.clone());
    if zone == &TimeZone::UTC {
        t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        format!(
            "{} ({})",
            local.strftime("%Y-%m-%dT%H:%M:%S%:z"),
            t.strftime("%H:%M:%SZ")
        )
    }
}

/// The logical time `text` names for `plan`: one of its ticks when it has a
/// schedule (else the time, truncated to the minute, as upstream).
fn logical_time(plan: &Plan, text: &str) -> Result<Timestamp, Error> {
    let (schedules, zone) = schedules_of(plan)?;
    let at = wfc_plan::when::parse_datetime(text, &zone)
        .map_err(|e| Error::Usage(format!("--at {text}: {e}")))?;
    let Some(schedules) = schedules else {
        let seconds = at.as_second() - at.as_second().rem_euclid(60);
        return Ok(Timestamp::from_second(seconds).unwrap_or(at));
    };
    if schedules.is_tick(at) {
        return Ok(at);
    }
    let (before, after) = schedules.nearest(at);
    let near: Vec<String> = [before, after]
        .into_iter()
        .flatten()
        .map(|tick| both(tick.at, &zone))
        .collect();
    let crons: Vec<String> = plan
        .schedule
        .iter()
        .map(|s| format!("`{}` in {}", s.cron, s.timezone))
        .collect();
    Err(Error::Usage(format!(
        "{} is not a tick of workflow `{}` (on.schedule: {}); the nearest ticks are {}",
        both(at, &zone),
        plan.name,
        crons.join(", "),
        if near.is_empty() {
            "none (the schedule never fires)".to_string()
        } else {
            near.join(" and ")
        }
    )))
}

/// `wfr release`.
pub(crate) fn release(args: &ReleaseArgs) -> Result<Done, Error> {
    let (plan, dir) = super::locate(&args.name, &args.options.plans, &args.options.runs)?;
    let plans = super::prepare(&plan, dir, args.options.workers.is_some())?;
    let logical = logical_time(&plan, &args.at)?;
    let history: Arc<dyn store::Store> = Arc::from(args.options.store.open(&args.options.runs)?);
    let run_id = args
        .claimed
        .clone()
        .unwrap_or_else(|| vm::new_run_id(&plan.name));
    let release = crate::release::context(logical, Timestamp::now(), &run_id);
    let given = args.given.read(Some(&release))?;
    let resolved = super::resolve(&plan, &given)?;
    let kind = if args.force { "force" } else { "normal" };
    match &args.claimed {
        Some(claimed) => {
            // Claimed for this run by the scheduler (or a backfill) that started it.
            if history.released_as(&plan.name, logical)?.as_deref() != Some(claimed) {
                return Err(Error::Usage(format!(
                    "workflow `{}` at {logical} is not claimed for run {claimed}",
                    plan.name
                )));
            }
        }
        None => {
            match history.claim_release(
                &plan.name,
                logical,
                &run_id,
                Claimer::Release,
                args.force,
            )? {
                Claim::Claimed => {}
                Claim::Taken { run_id: previous } => {
                    let state = history
                        .run(&previous)?
                        .map_or_else(|| "not started".to_string(), |r| r.state.to_string());
                    wfc_plan::errln!(
                        "wfr: workflow `{}` at {logical} already released as {previous} ({state}); skipped (--force runs it again)",
                        plan.name
                    );
                    let line = format!("{} {logical}: already released as {previous}\n", plan.name);
                    let _ = wfc_plan::output::stdout(&line);
                    return Ok(Done::Success);
                }
            }
        }
    }
    let workflow = plan.name.clone();
    let how = Launch {
        release: Some((logical, kind)),
        history: Some(Arc::clone(&history)),
        ..Launch::new(run_id.clone())
    };
    let launched = super::launch(&args.options, plan, plans, resolved, how);
    if launched.is_err() && args.claimed.is_none() {
        // The run did not start: the time is not released.
        let _ = history.unclaim(&workflow, logical, &run_id);
    }
    launched
}

#[derive(Debug, Args)]
pub(crate) struct BackfillArgs {
    /// The workflow's name.
    name: String,
    /// The first logical time (inclusive; RFC 3339, or local in the schedule's zone).
    #[arg(long, value_name = "DATETIME")]
    from: String,
    /// The last logical time (inclusive).
    #[arg(long, value_name = "DATETIME")]
    to: String,
    /// How many releases run at once.
    #[arg(long, value_name = "N", default_value_t = 1)]
    parallel: usize,
    /// Run the ticks that were released already too.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    given: ParamArgs,
    /// Where compiled plans are.
    #[arg(long, value_name = "DIR", default_value = ".wfc/plans")]
    plans: PathBuf,
    #[command(flatten)]
    place: Where,
}

/// The most ticks one backfill runs.
const MAX_BACKFILL: usize = 10_000;

/// `wfr backfill`: every tick in the range, oldest first, each a `wfr release`
/// of its own (claimed here first, so that a tick released meanwhile by a
/// scheduler is not run twice).
pub(crate) fn backfill(args: &BackfillArgs) -> Result<Done, Error> {
    let (plan, dir) = super::locate(&args.name, &args.plans, &args.place.runs)?;
    let _ = super::prepare(&plan, dir, false)?;
    let (Some(schedules), zone) = schedules_of(&plan)? else {
        return Err(Error::Usage(format!(
            "workflow `{}` has no on.schedule, so it has no ticks to backfill; run one time with `wfr release {} --at DATETIME`",
            plan.name, plan.name
        )));
    };
    let read = |flag: &str, text: &str| {
        wfc_plan::when::parse_datetime(text, &zone)
            .map_err(|e| Error::Usage(format!("--{flag} {text}: {e}")))
    };
    let (from, to) = (read("from", &args.from)?, read("to", &args.to)?);
    if from > to {
        return Err(Error::Usage(format!(
            "--from {} is after --to {}",
            args.from, args.to
        )));
    }
    let ticks: Vec<Timestamp> = schedules
        .ticks(from, to)
        .take(MAX_BACKFILL + 1)
        .map(|t| t.at)
        .collect();
    if ticks.len() > MAX_BACKFILL {
        return Err(Error::Usage(format!(
            "{} to {} holds more than {MAX_BACKFILL} ticks of `{}`; backfill a shorter range at a time",
            args.from, args.to, plan.name
        )));
    }
    let history = args.place.open()?;
    let signals = Signals::watch();
    let bar = progress_bar(ticks.len() as u64);
    let mut counts: HashMap<&'static str, usize> = HashMap::new();
    let mut running: Vec<(Child, String, Timestamp)> = Vec::new();
    let parallel = args.parallel.max(1);
    let mut pending = ticks.iter().copied();
    let mut stopped = false;
    loop {
        while !stopped && running.len() < parallel {
            let Some(tick) = pending.next() else {
                break;
            };
            let run_id = vm::new_run_id(&plan.name);
            match history.claim_release(&plan.name, tick, &run_id, Claimer::Backfill, args.force)? {
                Claim::Taken { run_id: previous } => {
                    bar.println(format!(
                        "{}: already released as {previous}",
                        both(tick, &zone)
                    ));
                    *counts.entry("already released").or_insert(0) += 1;
                    bar.inc(1);
                }
                Claim::Claimed => {
                    let child = release_process(
                        &args.plans.join(wfc_plan::file_name(&plan.name)),
                        tick,
                        &run_id,
                        &args.given,
                        &args.plans,
                        &args.place,
                        None,
                    )
                    .map_err(|e| Error::Usage(format!("cannot start wfr release: {e}")))?;
                    running.push((child, run_id, tick));
                }
            }
        }
        if running.is_empty() && (stopped || pending.len() == 0) {
            break;
        }
        if signals.count() > 0 && !stopped {
            stopped = true;
            bar.println("stopping: no more releases start; the running ones are cancelled");
            for (child, _, _) in &running {
                terminate(child);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
        running.retain_mut(|(child, run_id, tick)| match child.try_wait() {
            Ok(Some(_)) | Err(_) => {
                let state = history
                    .run(run_id)
                    .ok()
                    .flatten()
                    .map_or(RunState::Failed, |r| r.state);
                bar.println(format!("{}: {} {state}", both(*tick, &zone), run_id));
                *counts.entry(state.as_str()).or_insert(0) += 1;
                bar.inc(1);
                false
            }
            Ok(None) => true,
        });
    }
    bar.finish_and_clear();
    let mut parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    parts.sort();
    let failed = counts
        .iter()
        .any(|(k, n)| *n > 0 && !matches!(*k, "SUCCESS" | "SKIP" | "already released"));
    let line = format!(
        "backfill {}: {} ticks from {} to {}: {}{}\n",
        plan.name,
        ticks.len(),
        both(from, &zone),
        both(to, &zone),
        if parts.is_empty() {
            "nothing to do".to_string()
        } else {
            parts.join(", ")
        },
        if stopped { " (stopped)" } else { "" }
    );
    let _ = wfc_plan::output::stdout(&line);
    Ok(if stopped {
        Done::Cancelled
    } else if failed {
        Done::Failed
    } else {
        Done::Success
    })
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:30} {pos}/{len} releases, {elapsed} ({eta} left)",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Starts `wfr release PLAN --at TICK --claimed RUN_ID`: a release claimed by
/// this process, run by a `wfr` of its own (its record, log, signals and exit).
/// It is given the plan this process compiled (`.wfc/plans/NAME.wfp`), so that
/// it does not check the workspace again.
fn release_process(
    target: &Path,
    tick: Timestamp,
    run_id: &str,
    given: &ParamArgs,
    plans: &Path,
    place: &Where,
    conf: Option<&Path>,
) -> std::io::Result<Child> {
    let me = std::env::current_exe()?;
    let mut command = Process::new(me);
    command
        .arg("release")
        .arg(target)
        .arg("--at")
        .arg(tick.to_string())
        .arg("--claimed")
        .arg(run_id)
        .arg("--plans")
        .arg(plans)
        .arg("--runs")
        .arg(&place.runs)
        .arg("--log-format")
        .arg("json")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // A group of its own: a Ctrl-C at the scheduler's terminal reaches the
        // scheduler alone, which gives running runs their grace period.
        .process_group(0);
    for pair in given.pairs() {
        command.arg("-p").arg(pair);
    }
    if let Some(file) = given.file() {
        command.arg("--params-file").arg(file);
    }
    if let Some(conf) = conf {
        command.env("WORKFLOW_CORE_CONF_PATH", conf);
    }
    // The same store, through the environment: a URL's credentials are not for
    // every user's `ps` to read.
    if let Some(store) = &place.store.store {
        command.env("WFR_STORE", store);
    }
    command.spawn()
}

/// Asks a release's `wfr` to cancel its run (as a signal in its shell would).
fn terminate(child: &Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
}

/// SIGINT / SIGTERM / SIGHUP, counted.
struct Signals {
    seen: Arc<AtomicUsize>,
}

impl Signals {
    fn watch() -> Self {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let seen = Arc::new(AtomicUsize::new(0));
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                for _ in signals.forever() {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        Signals { seen }
    }

    fn count(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Args)]
pub(crate) struct RerunArgs {
    /// The run to run again (as `wfr runs` shows it).
    run_id: String,
    #[command(flatten)]
    options: RunOptions,
}

/// `wfr rerun`: the jobs of a run that did not succeed run again, in a new run
/// linked to it; the jobs that succeeded keep their results (read from its
/// record), and so do a matrix job's strategies that succeeded.
pub(crate) fn rerun(args: &RerunArgs) -> Result<Done, Error> {
    let place = Where {
        runs: args.options.runs.clone(),
        store: args.options.store.clone(),
    };
    let history: Arc<dyn store::Store> = Arc::from(place.open()?);
    let old = super::history::find(history.as_ref(), &args.run_id)?;
    if !old.state.has_ended() {
        return Err(Error::Usage(format!(
            "run {} is still running; stop it (`wfr stop {}`) or let it end first",
            old.run_id, old.run_id
        )));
    }
    if old.state == RunState::Success {
        wfc_plan::errln!(
            "wfr: run {} succeeded; nothing to run again (`wfr run {}` starts a new run)",
            old.run_id,
            old.workflow
        );
        return Ok(Done::Success);
    }
    let read = |file: &str| -> Result<crate::value::Value, Error> {
        let path = old.record.join(file);
        let text = wfc_plan::input::read_text(&path, 256 << 20).map_err(|e| {
            Error::Usage(format!(
                "run {}: cannot read {}: {e}",
                old.run_id,
                path.display()
            ))
        })?;
        crate::json::parse(&text).map_err(|e| {
            Error::Usage(format!(
                "run {}: {} is not JSON: {e}",
                old.run_id,
                path.display()
            ))
        })
    };
    let as_map = |value: Option<&crate::value::Value>| -> Map {
        value.and_then(|v| v.as_map()).cloned().unwrap_or_default()
    };
    let context = read("context.json")?;
    let params = read("params.json")?;
    let recorded = read("plan.json")?;
    let (plan, dir) = super::locate(&old.workflow, &args.options.plans, &args.options.runs)?;
    let plans = super::prepare(&plan, dir, args.options.workers.is_some())?;
    let recorded_hash = as_map(Some(&recorded))
        .get("source_hash")
        .and_then(|h| h.as_str().map(str::to_string));
    if let Some(hash) = recorded_hash
        && !hash.is_empty()
        && hash != super::source_hash(&args.options.plans, &plan)
    {
        wfc_plan::errln!(
            "wfr: warning: workflow `{}` changed since run {}; the jobs that run again run as it is now",
            plan.name,
            old.run_id
        );
    }
    let resolved = super::resolve(&plan, &as_map(Some(&params)))?;
    let prior = vm::Prior::from_context(old.run_id.clone(), &context)
        .map_err(|e| Error::Usage(format!("run {}: {}: {e}", old.run_id, old.record.display())))?;
    let how = Launch {
        rerun: Some(prior),
        release: old.release.map(|t| (t, "rerun")),
        history: Some(history),
        ..Launch::new(args.options.new_run_id(&plan.name))
    };
    super::launch(&args.options, plan, plans, resolved, how)
}

#[derive(Debug, Args)]
pub(crate) struct ScheduleArgs {
    /// The workflow folder (default: $WORKFLOW_CORE_CONF_PATH, ./conf or .).
    path: Option<PathBuf>,
    /// Stop after this long (`90s`, `10m`, `2h`); without it, it runs until a
    /// signal.
    #[arg(long = "for", value_name = "DURATION", value_parser = duration)]
    run_for: Option<Duration>,
    /// Ticks missed while no scheduler ran: fire none, the newest, or all
    /// (the newest 1000 at most).
    #[arg(long, value_enum, default_value_t = Catchup::Latest)]
    catchup: Catchup,
    /// Runs at once per workflow; a tick that finds this many going is skipped.
    #[arg(long, value_name = "N", default_value_t = 1)]
    max_active: usize,
    /// After SIGTERM, how long running runs get to end before they are cancelled.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "60s")]
    grace: Duration,
    /// (internal, for tests) Shift the scheduler's clock by this many seconds.
    #[arg(long, value_name = "SECONDS", hide = true, allow_hyphen_values = true)]
    clock_offset: Option<f64>,
    /// Scheduler lines on stderr: for people, or JSON lines.
    #[arg(long, value_enum, default_value_t = super::LogFormat::Human)]
    log_format: super::LogFormat,
    /// Where compiled plans are.
    #[arg(long, value_name = "DIR", default_value = ".wfc/plans")]
    plans: PathBuf,
    #[command(flatten)]
    place: Where,
}

pub(super) fn duration(text: &str) -> Result<Duration, String> {
    wfc_plan::when::parse_duration(text).map_err(|e| e.to_string())
}

/// A scheduler's claim whose run has not started this long after is orphaned.
const ORPHAN_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(30);
/// How far back a starting scheduler looks for orphaned claims.
const ADOPT_FIRST: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 7);
/// How far back a running scheduler looks, every [`ADOPT_EVERY`].
const ADOPT_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);
const ADOPT_EVERY: Duration = Duration::from_secs(30);

/// How often the scheduler looks for changed workflow files.
const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// The scheduler's own lines.
struct Say {
    json: bool,
}

impl Say {
    fn cannot_start(&self, workflow: String, error: &std::io::Error) {
        self.line(
            "ERROR",
            "cannot start wfr release",
            &[
                ("workflow", workflow.into()),
                ("error", error.to_string().into()),
            ],
        );
    }

    fn line(&self, level: &str, message: &str, fields: &[(&str, serde_json::Value)]) {
        if self.json {
            let mut entry = serde_json::Map::new();
            entry.insert("timestamp".into(), Timestamp::now().to_string().into());
            entry.insert("level".into(), level.into());
            entry.insert("target".into(), "wfr::schedule".into());
            entry.insert("message".into(), message.into());
            for (k, v) in fields {
                entry.insert((*k).into(), v.clone());
            }
            wfc_plan::errln!("{}", serde_json::Value::Object(entry));
        } else {
            let mut text = format!(
                "{} {level:>5} {message}",
                Timestamp::now().strftime("%H:%M:%S%.3fZ")
            );
            for (k, v) in fields {
                match v {
                    serde_json::Value::String(s) if !s.contains(' ') && !s.is_empty() => {
                        let _ = write!(text, " {k}={s}");
                    }
                    other => {
                        let _ = write!(text, " {k}={other}");
                    }
                }
            }
            wfc_plan::errln!("{text}");
        }
    }
}

/// The workflow files' names, sizes and times: what changes when one is added,
/// edited or removed.
pub(super) fn fingerprint(
    folder: Option<&Path>,
) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
    wfc_compiler::api::workflow_files(folder)
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
            let time = meta.and_then(|m| m.modified().ok());
            (p, size, time)
        })
        .collect()
}

/// The scheduled workflows of the workspace (compiled through the plan cache).
fn load(args: &ScheduleArgs, say: &Say) -> Result<Vec<Scheduled>, Error> {
    let workspace = wfc_compiler::api::compile_workspace(args.path.as_deref(), &args.plans)?;
    if !workspace.failed.is_empty() {
        say.line(
            "WARN",
            "workflows with errors are not scheduled; `wfc check` says why",
            &[("workflows", workspace.failed.join(",").into())],
        );
    }
    let mut found = Vec::new();
    for plan in workspace.plans {
        if plan.schedule.is_empty() {
            continue;
        }
        match Schedules::new(&plan.schedule) {
            Ok(schedules) => found.push(Scheduled {
                name: plan.name.clone(),
                schedules,
            }),
            Err(e) => say.line(
                "WARN",
                "workflow not scheduled",
                &[
                    ("workflow", plan.name.clone().into()),
                    ("error", e.to_string().into()),
                ],
            ),
        }
    }
    Ok(found)
}

/// `wfr schedule`.
pub(crate) fn schedule(args: &ScheduleArgs) -> Result<Done, Error> {
    let say = Say {
        json: args.log_format == super::LogFormat::Json,
    };
    let offset = args
        .clock_offset
        .map(jiff::SignedDuration::from_secs_f64)
        .unwrap_or_default();
    let clock = SystemClock { offset };
    for dir in [&args.place.runs, &args.plans] {
        wfc_plan::state::prepare(dir).map_err(Error::State)?;
    }
    let history = args.place.open()?;
    // Taken before the compile: a file changed meanwhile is seen at the next look.
    let mut seen = fingerprint(args.path.as_deref());
    let mut workflows = load(args, &say)?;
    say.line(
        "INFO",
        "scheduler started",
        &[
            ("workflows", workflows.len().into()),
            (
                "catchup",
                format!("{:?}", args.catchup).to_lowercase().into(),
            ),
            ("max_active", args.max_active.into()),
        ],
    );
    let signals = Signals::watch();
    let started = Instant::now();
    let mut ticker = Ticker::new(&*history, args.catchup, args.max_active, vm::new_run_id);
    let mut children: Vec<(Child, String, String)> = Vec::new();
    let mut last_reload = Instant::now();
    // Claims whose run never started (a scheduler killed between the two): the
    // last week's at the start, then the last few minutes' now and then.
    let mut last_adopt: Option<Instant> = None;
    // A run of `workflow` for `tick`, claimed as `run_id`.
    let start = |workflow: &str, tick: Timestamp, run_id: &str| {
        release_process(
            &args.plans.join(wfc_plan::file_name(workflow)),
            tick,
            run_id,
            &ParamArgs::default(),
            &args.plans,
            &args.place,
            args.path.as_deref(),
        )
    };
    loop {
        if last_adopt.is_none_or(|at| at.elapsed() >= ADOPT_EVERY) {
            let window = if last_adopt.is_none() {
                ADOPT_FIRST
            } else {
                ADOPT_WINDOW
            };
            last_adopt = Some(Instant::now());
            let now = Timestamp::now();
            let since = now.checked_sub(window).unwrap_or(now);
            let before = now.checked_sub(ORPHAN_AFTER).unwrap_or(now);
            for (workflow, tick, run_id) in history.adopt_orphans(since, before)? {
                match start(&workflow, tick, &run_id) {
                    Ok(child) => {
                        say.line(
                            "WARN",
                            "fired a tick whose claim was left without its run (a scheduler was killed)",
                            &[
                                ("workflow", workflow.clone().into()),
                                ("tick", tick.to_string().into()),
                                ("run", run_id.clone().into()),
                            ],
                        );
                        children.push((child, workflow, run_id));
                    }
                    Err(e) => say.cannot_start(workflow, &e),
                }
            }
        }
        let now = clock.now();
        for decision in ticker.due_all(&workflows, now)? {
            match decision {
                Decision::Fire {
                    workflow,
                    tick,
                    run_id,
                    late,
                    catchup,
                } => {
                    match start(&workflow, tick, &run_id) {
                        Ok(child) => {
                            // How late its run started (the decision's
                            // lateness plus the claims and starts before it).
                            let late = clock.now().duration_since(tick).max(late);
                            say.line(
                                "INFO",
                                if catchup { "fired (catch-up)" } else { "fired" },
                                &[
                                    ("workflow", workflow.clone().into()),
                                    ("tick", tick.to_string().into()),
                                    ("run", run_id.clone().into()),
                                    ("late", late.as_secs_f64().into()),
                                ],
                            );
                            children.push((child, workflow, run_id));
                        }
                        Err(e) => {
                            ticker.ended(&workflow);
                            say.cannot_start(workflow, &e);
                        }
                    }
                }
                Decision::Taken {
                    workflow,
                    tick,
                    run_id,
                } => say.line(
                    "DEBUG",
                    "released already",
                    &[
                        ("workflow", workflow.into()),
                        ("tick", tick.to_string().into()),
                        ("run", run_id.into()),
                    ],
                ),
                Decision::Waiting {
                    workflow,
                    tick,
                    active,
                } => say.line(
                    "WARN",
                    "waiting: runs still going (--max-active)",
                    &[
                        ("workflow", workflow.into()),
                        ("tick", tick.to_string().into()),
                        ("active", active.into()),
                    ],
                ),
                Decision::Dropped { workflow, tick } => say.line(
                    "WARN",
                    "dropped: too many ticks waiting (--max-active); passed without a run",
                    &[
                        ("workflow", workflow.into()),
                        ("tick", tick.to_string().into()),
                    ],
                ),
                Decision::Passed {
                    workflow,
                    count,
                    newest,
                } => say.line(
                    "INFO",
                    "missed ticks not fired (--catchup)",
                    &[
                        ("workflow", workflow.into()),
                        ("count", count.into()),
                        ("newest", newest.to_string().into()),
                    ],
                ),
            }
        }
        // Runs that ended.
        children.retain_mut(|(child, workflow, run_id)| match child.try_wait() {
            Ok(Some(status)) => {
                ticker.ended(workflow);
                let state = history.run(run_id).ok().flatten().map_or_else(
                    || format!("not started (exit {status})"),
                    |r| r.state.to_string(),
                );
                say.line(
                    "INFO",
                    "run ended",
                    &[
                        ("workflow", workflow.clone().into()),
                        ("run", run_id.clone().into()),
                        ("status", state.into()),
                    ],
                );
                false
            }
            Ok(None) => true,
            Err(_) => false,
        });
        if signals.count() > 0 {
            say.line(
                "INFO",
                "stopping: no more ticks fire; running runs get the grace period",
                &[
                    ("running", children.len().into()),
                    ("grace", args.grace.as_secs_f64().into()),
                ],
            );
            drain(&mut children, args.grace, &signals, &say);
            break;
        }
        if args.run_for.is_some_and(|limit| started.elapsed() >= limit) {
            say.line(
                "INFO",
                "--for elapsed: stopping",
                &[("running", children.len().into())],
            );
            drain(&mut children, args.grace, &signals, &say);
            break;
        }
        if last_reload.elapsed() >= RELOAD_EVERY {
            last_reload = Instant::now();
            let now_seen = fingerprint(args.path.as_deref());
            if now_seen != seen {
                seen = now_seen;
                match load(args, &say) {
                    Ok(reloaded) => {
                        say.line(
                            "INFO",
                            "workflows changed: reloaded",
                            &[("workflows", reloaded.len().into())],
                        );
                        workflows = reloaded;
                    }
                    Err(e) => say.line(
                        "ERROR",
                        "cannot reload the workflows; the old ones stay",
                        &[("error", e.to_string().into())],
                    ),
                }
            }
        }
        // Sleep to the next tick, a change check, the end, or a run's end.
        let now = clock.now();
        let mut wait = Duration::from_millis(250);
        if let Some(next) = Ticker::next_wake(&workflows, now) {
            let until = now.duration_until(next);
            if let Ok(until) = Duration::try_from(until) {
                wait = wait.min(until);
            } else {
                wait = Duration::ZERO;
            }
        }
        if wait > Duration::ZERO {
            std::thread::sleep(wait);
        }
    }
    say.line("INFO", "scheduler stopped", &[]);
    Ok(Done::Success)
}

/// Lets running runs end for `grace`, then cancels them (SIGTERM: each
/// ends as cancelled, its record and history saying so) and waits for them.
fn drain(
    children: &mut Vec<(Child, String, String)>,
    grace: Duration,
    signals: &Signals,
    say: &Say,
) {
    let deadline = Instant::now() + grace;
    let at_signal = signals.count();
    let mut told = false;
    while !children.is_empty() {
        children.retain_mut(|(child, _, _)| !matches!(child.try_wait(), Ok(Some(_)) | Err(_)));
        // A second signal cuts the grace period short.
        if !told && (Instant::now() >= deadline || signals.count() > at_signal.max(1)) {
            told = true;
            say.line(
                "WARN",
                "cancelling the runs still going",
                &[("running", children.len().into())],
            );
            for (child, _, _) in children.iter() {
                terminate(child);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
