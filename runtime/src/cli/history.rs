//! `wfr runs`, `wfr show`, `wfr logs` and `wfr stop`: the history, one run, its
//! log, and stopping it from another shell.

use std::fmt::Write as _;
use std::io::{BufRead as _, IsTerminal as _, Seek as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use jiff::Timestamp;

use super::{Done, Error, LogFormat};
use crate::store::{self, RunQuery, RunRow, RunState};

/// Where the history is: beside the runs folder.
#[derive(Clone, Debug, Args)]
pub(crate) struct Where {
    /// Where run records are (the history, `wfc.db`, is beside this folder).
    #[arg(long, value_name = "DIR", default_value = ".wfc/runs")]
    pub runs: PathBuf,
    #[command(flatten)]
    pub store: StoreArg,
}

/// Which store keeps the history, releases and schedulers' state.
#[derive(Clone, Debug, Default, Args)]
pub(crate) struct StoreArg {
    /// The run store: `nats://[TOKEN@]HOST:PORT[,…]` keeps the history, releases
    /// and schedulers' state in NATS JetStream, shared by the wfr of many machines
    /// (the token may come from $WFR_NATS_TOKEN instead). Default: $WFR_STORE,
    /// else `wfc.db` beside the runs folder.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

impl StoreArg {
    /// The store it names, else the SQLite store of `runs`.
    pub(crate) fn open(&self, runs: &Path) -> Result<Box<dyn store::Store>, store::StoreError> {
        store::open_chosen(runs, self.store.as_deref())
    }
}

impl Where {
    /// The store, its lost runs found first (any command that looks at the
    /// history marks the runs whose `wfr` died as LOST and cleans up after them).
    pub(crate) fn open(&self) -> Result<Box<dyn store::Store>, Error> {
        let history = self.store.open(&self.runs)?;
        for lost in store::find_lost(history.as_ref(), &self.runs)? {
            wfc_plan::errln!(
                "wfr: run {} of `{}` was lost: its wfr (owner {}) is gone; marked LOST, its leftovers cleaned up",
                lost.run_id,
                lost.workflow,
                lost.owner.as_deref().unwrap_or("?")
            );
        }
        Ok(history)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// Only the runs of this workflow.
    #[arg(long, value_name = "NAME")]
    workflow: Option<String>,
    /// Only runs with this status (RUNNING, SUCCESS, FAILED, SKIP, CANCEL, LOST).
    #[arg(long, value_name = "STATUS", value_parser = state)]
    status: Option<RunState>,
    /// Only runs started at or after this time (RFC 3339, `YYYY-MM-DD[ HH:MM]` in
    /// UTC, or a duration ago such as `2h`).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// At most this many runs (newest first).
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: usize,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    output: ListFormat,
    #[command(flatten)]
    place: Where,
}

fn state(text: &str) -> Result<RunState, String> {
    RunState::parse(text).ok_or_else(|| {
        let names: Vec<&str> = RunState::ALL.iter().map(|s| s.as_str()).collect();
        format!("a status is one of {}", names.join(", "))
    })
}

/// `wfr runs`.
pub(crate) fn runs(args: &RunsArgs) -> Result<Done, Error> {
    let history = args.place.open()?;
    let since = args
        .since
        .as_deref()
        .map(|text| parse_since(text).map_err(|why| Error::Usage(format!("--since {text}: {why}"))))
        .transpose()?;
    let rows = history.runs(&RunQuery {
        workflow: args.workflow.clone(),
        state: args.status,
        since,
        limit: args.limit,
        offset: 0,
    })?;
    let text = match args.output {
        ListFormat::Json => {
            let list: Vec<RunJson<'_>> = rows.iter().map(row_json).collect();
            let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
            text.push('\n');
            text
        }
        ListFormat::Table => table(&rows),
    };
    write_out(&text);
    Ok(Done::Success)
}

/// `--since`: a time, or a duration ago.
fn parse_since(text: &str) -> Result<Timestamp, String> {
    if let Ok(ago) = wfc_plan::when::parse_duration(text) {
        let ago = jiff::SignedDuration::try_from(ago).map_err(|e| e.to_string())?;
        return Timestamp::now().checked_sub(ago).map_err(|e| e.to_string());
    }
    wfc_plan::when::parse_datetime(text, &jiff::tz::TimeZone::UTC).map_err(|e| e.to_string())
}

/// A run as `wfr runs --output json` writes it (the fields in this order).
#[derive(serde::Serialize)]
pub(crate) struct RunJson<'a> {
    run_id: &'a str,
    workflow: &'a str,
    status: &'static str,
    release: Option<String>,
    started: String,
    ended: Option<String>,
    rerun_of: Option<&'a str>,
    record: &'a Path,
}

pub(crate) fn row_json(row: &RunRow) -> RunJson<'_> {
    RunJson {
        run_id: &row.run_id,
        workflow: &row.workflow,
        status: row.state.as_str(),
        release: row.release.map(|t| t.to_string()),
        started: row.started.to_string(),
        ended: row.ended.map(|t| t.to_string()),
        rerun_of: row.rerun_of.as_deref(),
        record: &row.record,
    }
}

fn table(rows: &[RunRow]) -> String {
    let header = [
        "RUN", "WORKFLOW", "STATUS", "STARTED", "TOOK", "RELEASE", "RERUN OF",
    ];
    let mut lines: Vec<[String; 7]> = vec![header.map(str::to_string)];
    for row in rows {
        lines.push([
            row.run_id.clone(),
            row.workflow.clone(),
            row.state.as_str().to_string(),
            short_time(row.started),
            took(row),
            row.release.map_or_else(|| "-".into(), short_time),
            row.rerun_of.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut widths = [0usize; 7];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no runs)\n");
    }
    out
}

/// `2026-11-30 17:09:27Z`.
pub(crate) fn short_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// How long a run took, or has been running (`running 3s`).
pub(crate) fn took(row: &RunRow) -> String {
    let end = row.ended.unwrap_or_else(Timestamp::now);
    let seconds = end.duration_since(row.started).as_secs_f64().max(0.0);
    let shown = crate::human::duration(seconds);
    if row.ended.is_some() {
        shown
    } else {
        format!("running {shown}")
    }
}

fn write_out(text: &str) {
    if let Err(e) = wfc_plan::output::stdout(text) {
        wfc_plan::errln!("wfr: cannot write to stdout: {e}");
    }
}

/// The run `id` in the history, or why there is none.
pub(crate) fn find(history: &dyn store::Store, id: &str) -> Result<RunRow, Error> {
    if let Some(row) = history.run(id.trim())? {
        return Ok(row);
    }
    Err(Error::Usage(format!(
        "no run has the id `{id}`; `wfr runs` lists them"
    )))
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The run's id (as `wfr runs` shows it).
    run_id: String,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    output: ListFormat,
    #[command(flatten)]
    place: Where,
}

/// What a run's log tells of a job or stage.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub(crate) struct Step {
    /// The stage's path (`job`, `job/strategy`, `job[item]`); the job's id for a job.
    pub at: String,
    pub name: String,
    pub status: Option<String>,
    pub started: Option<String>,
    pub seconds: Option<f64>,
    /// Why a job did not run.
    pub not_run: Option<String>,
    /// Why a stage failed.
    pub error: Option<String>,
}

/// `wfr show`.
pub(crate) fn show(args: &ShowArgs) -> Result<Done, Error> {
    let history = args.place.open()?;
    let row = find(&*history, &args.run_id)?;
    let log = log_path(&row);
    let (jobs, stages) = log.as_deref().map(steps).unwrap_or_default();
    if args.output == ListFormat::Json {
        let step = |s: &Step| {
            serde_json::json!({
                "at": s.at, "name": s.name, "status": s.status, "started": s.started,
                "seconds": s.seconds, "not_run": s.not_run, "error": s.error,
            })
        };
        let mut value = serde_json::to_value(row_json(&row)).unwrap_or_default();
        value["jobs"] = jobs.iter().map(step).collect();
        value["stages"] = stages.iter().map(step).collect();
        value["log"] = serde_json::json!(log);
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        write_out(&text);
        return Ok(Done::Success);
    }
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "{label:<9} {value}");
    };
    line("run", row.run_id.clone());
    line("workflow", row.workflow.clone());
    line("status", row.state.as_str().to_string());
    line(
        "release",
        row.release.map_or_else(|| "-".into(), |t| t.to_string()),
    );
    line("started", row.started.to_string());
    line(
        "ended",
        row.ended
            .map_or_else(|| "- (running)".into(), |t| t.to_string()),
    );
    line("took", took(&row));
    line(
        "rerun of",
        row.rerun_of.clone().unwrap_or_else(|| "-".into()),
    );
    line("owner", row.owner.clone().unwrap_or_else(|| "-".into()));
    line("record", row.record.display().to_string());
    out.push_str("\njobs\n");
    if jobs.is_empty() {
        out.push_str("  (none started)\n");
    }
    for job in &jobs {
        let status = job.status.as_deref().unwrap_or("RUNNING");
        let time = job.seconds.map(crate::human::duration).unwrap_or_default();
        let _ = writeln!(out, "  {:<24} {status:<8} {time}", job.name);
        if let Some(why) = &job.not_run {
            let _ = writeln!(out, "    not run: {why}");
        }
        // The job's stages: at `job`, `job/strategy`, `job[item]`...
        let of_job = |at: &str| {
            at.strip_prefix(job.name.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '[']))
        };
        for stage in stages.iter().filter(|s| of_job(&s.at)) {
            let status = stage.status.as_deref().unwrap_or("RUNNING");
            let time = stage
                .seconds
                .map(crate::human::duration)
                .unwrap_or_default();
            let name = if stage.at == job.name {
                stage.name.clone()
            } else {
                format!("{} {}", &stage.at[job.name.len()..], stage.name)
            };
            let _ = writeln!(out, "    {name:<30} {status:<8} {time}");
        }
    }
    write_out(&out);
    Ok(Done::Success)
}

/// The run's log: in its record, or in its partial record while it runs.
pub(crate) fn log_path(row: &RunRow) -> Option<PathBuf> {
    let done = row.record.join("run.log");
    if done.is_file() {
        return Some(done);
    }
    let name = row.record.file_name()?.to_str()?;
    let open = row
        .record
        .with_file_name(crate::record::partial_name(name))
        .join("run.log");
    open.is_file().then_some(open)
}

/// The jobs and stages of the run, as its log's events tell (events of the
/// runs it triggered are left out).
pub(crate) fn steps(log: &Path) -> (Vec<Step>, Vec<Step>) {
    let (jobs, stages, _) = steps_and_lines(log);
    (jobs, stages)
}

/// [`steps`], and how many whole lines of the log they were read from (a line
/// being written, not ended yet, is left for later).
pub(crate) fn steps_and_lines(log: &Path) -> (Vec<Step>, Vec<Step>, u64) {
    let mut jobs: Vec<Step> = Vec::new();
    let mut stages: Vec<Step> = Vec::new();
    let mut lines = 0u64;
    let Ok(file) = std::fs::File::open(log) else {
        return (jobs, stages, lines);
    };
    let mut run: Option<String> = None;
    let mut reader = std::io::BufReader::new(std::io::Read::take(file, 256 << 20));
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        match reader.read_until(b'\n', &mut bytes) {
            Ok(n) if n > 0 && bytes.ends_with(b"\n") => lines += 1,
            _ => break,
        }
        let Ok(entry) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let text = |key: &str| entry[key].as_str().map(str::to_string);
        let Some(event) = entry["event"].as_str() else {
            continue;
        };
        let this_run = text("run");
        if event == "run_started" && run.is_none() {
            run.clone_from(&this_run);
        }
        if this_run.is_some() && this_run != run {
            continue;
        }
        match event {
            "job_started" => jobs.push(Step {
                at: text("job").unwrap_or_default(),
                name: text("job").unwrap_or_default(),
                started: text("timestamp"),
                ..Step::default()
            }),
            "job_ended" | "job_not_run" | "job_reused" => {
                let name = text("job").unwrap_or_default();
                let at = if let Some(i) = jobs.iter().rposition(|j| j.name == name) {
                    i
                } else {
                    jobs.push(Step {
                        at: name.clone(),
                        name,
                        ..Step::default()
                    });
                    jobs.len() - 1
                };
                let ended = text("timestamp").and_then(|t| t.parse::<Timestamp>().ok());
                let seconds = jobs[at]
                    .started
                    .as_deref()
                    .and_then(|t| t.parse::<Timestamp>().ok())
                    .zip(ended)
                    .map(|(start, end)| end.duration_since(start).as_secs_f64());
                let job = &mut jobs[at];
                job.status = text("status").or_else(|| Some("-".into()));
                job.seconds = seconds;
                if event == "job_not_run" {
                    job.not_run = text("why").or_else(|| text("message"));
                }
                if event == "job_reused" {
                    job.not_run = Some(format!(
                        "taken from run {}",
                        text("from_run").unwrap_or_default()
                    ));
                }
            }
            "stage_started" => stages.push(Step {
                at: text("at").unwrap_or_default(),
                name: text("stage").unwrap_or_default(),
                started: text("timestamp"),
                ..Step::default()
            }),
            "stage_ended" => {
                let at = text("at").unwrap_or_default();
                let name = text("stage").unwrap_or_default();
                if let Some(stage) = stages
                    .iter_mut()
                    .rev()
                    .find(|s| s.at == at && s.name == name && s.status.is_none())
                {
                    stage.status = text("status");
                    stage.seconds = entry["seconds"].as_f64();
                    stage.error = text("error");
                }
            }
            _ => {}
        }
    }
    (jobs, stages, lines)
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The run's id (as `wfr runs` shows it).
    run_id: String,
    /// Keep reading a running run's log until it ends.
    #[arg(short, long)]
    follow: bool,
    /// The log as people read it, or its JSON lines as written.
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    #[command(flatten)]
    place: Where,
}

/// `wfr logs`.
pub(crate) fn logs(args: &LogsArgs) -> Result<Done, Error> {
    let history = args.place.open()?;
    let row = find(&*history, &args.run_id)?;
    let Some(path) = log_path(&row) else {
        return Err(Error::Usage(format!(
            "run {} has no log: its record {} is gone",
            row.run_id,
            row.record.display()
        )));
    };
    // Opened once: the file stays readable when its record is moved into place.
    let mut file = std::fs::File::open(&path).map_err(|error| {
        Error::Usage(format!("cannot read the log {}: {error}", path.display()))
    })?;
    let color = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut pending = String::new();
    loop {
        let ended = !args.follow
            || history
                .run(&row.run_id)?
                .is_none_or(|r| r.state.has_ended());
        // What is there now (the whole rest once the run has ended).
        let mut chunk = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut chunk).map_err(|error| {
            Error::Usage(format!("cannot read the log {}: {error}", path.display()))
        })?;
        pending.push_str(&String::from_utf8_lossy(&chunk));
        let mut out = String::new();
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let line = line.trim_end_matches('\n');
            match args.log_format {
                LogFormat::Json => {
                    out.push_str(line);
                    out.push('\n');
                }
                LogFormat::Human => {
                    if let Some(shown) = crate::logs::replay_human(line, color) {
                        out.push_str(&shown);
                    }
                }
            }
        }
        if !out.is_empty() && wfc_plan::output::stdout(&out).is_err() {
            // The reader went away (`| head`).
            return Ok(Done::Success);
        }
        if ended {
            break;
        }
        std::thread::sleep(FOLLOW_EVERY);
        // A file that was cut (never, for a log) is read again from its start.
        if let (Ok(position), Ok(meta)) = (file.stream_position(), file.metadata())
            && meta.len() < position
        {
            let _ = file.rewind();
        }
    }
    Ok(Done::Success)
}

/// How often `wfr logs --follow` looks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// The run's id (as `wfr runs` shows it).
    run_id: String,
    /// How long to wait for the run to end before saying it did not.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    wait: f64,
    #[command(flatten)]
    place: Where,
}

/// Why a running run's `wfr` was not told to stop.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotSignalled {
    #[error("run {0} names no owner to stop")]
    NoOwner(String),
    #[error("run {run} runs on {host} (pid {pid}); stop it there")]
    OtherHost { run: String, host: String, pid: u32 },
    /// Its `wfr` is gone: the run is lost.
    #[error("its wfr is gone")]
    Gone,
    #[error("run {0} names a bad pid")]
    BadPid(String),
    #[error("cannot signal wfr (pid {pid}) of run {run}: {errno}")]
    Refused {
        run: String,
        pid: u32,
        errno: nix::errno::Errno,
    },
}

/// Sends a running run's `wfr` SIGTERM, which cancels the run as a signal in
/// its own shell would; the owner told. `wfr stop` and `wfr server` stop runs
/// through it.
pub(crate) fn signal_owner(row: &RunRow) -> Result<crate::owner::Owner, NotSignalled> {
    let owner = row
        .owner
        .as_deref()
        .and_then(crate::owner::Owner::parse)
        .ok_or_else(|| NotSignalled::NoOwner(row.run_id.clone()))?;
    let me = crate::owner::Owner::current();
    if owner.host != me.host {
        return Err(NotSignalled::OtherHost {
            run: row.run_id.clone(),
            host: owner.host,
            pid: owner.pid,
        });
    }
    if owner.is_gone() {
        return Err(NotSignalled::Gone);
    }
    let pid = i32::try_from(owner.pid)
        .map(nix::unistd::Pid::from_raw)
        .map_err(|_| NotSignalled::BadPid(row.run_id.clone()))?;
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).map_err(|errno| {
        NotSignalled::Refused {
            run: row.run_id.clone(),
            pid: owner.pid,
            errno,
        }
    })?;
    Ok(owner)
}

/// `wfr stop`: sends the run's `wfr` SIGTERM (it cancels the run as a signal in
/// its own shell would: exit 3, CANCEL in its record) and waits for it to end.
pub(crate) fn stop(args: &StopArgs) -> Result<Done, Error> {
    let history = args.place.open()?;
    let row = find(&*history, &args.run_id)?;
    if row.state.has_ended() {
        wfc_plan::errln!(
            "wfr: run {} already ended {}; nothing to stop",
            row.run_id,
            row.state
        );
        return Ok(Done::Failed);
    }
    let owner = match signal_owner(&row) {
        Ok(owner) => owner,
        Err(NotSignalled::Gone) => {
            // Found lost between the look and now: the next look marks it.
            let _ = store::find_lost(&*history, &args.place.runs)?;
            wfc_plan::errln!("wfr: run {} was lost (its wfr is gone)", row.run_id);
            return Ok(Done::Failed);
        }
        Err(other) => return Err(Error::Usage(other.to_string())),
    };
    wfc_plan::errln!("wfr: stopping run {} (wfr pid {})", row.run_id, owner.pid);
    let deadline = std::time::Instant::now() + Duration::from_secs_f64(args.wait.max(0.0));
    loop {
        let now = history.run(&row.run_id)?;
        if let Some(now) = now.filter(|r| r.state.has_ended()) {
            write_out(&format!("{} {}: {}\n", now.workflow, now.run_id, now.state));
            return Ok(Done::Success);
        }
        if owner.is_gone() {
            let _ = store::find_lost(&*history, &args.place.runs)?;
            continue;
        }
        if std::time::Instant::now() >= deadline {
            wfc_plan::errln!(
                "wfr: run {} has not ended {}s after it was told to stop; it is still cancelling",
                row.run_id,
                args.wait
            );
            return Ok(Done::Failed);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
