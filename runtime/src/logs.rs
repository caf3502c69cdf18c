//! Run logs: the lines people and tools read, on stderr (human lines or JSON
//! lines) and as JSON lines in the run's log file. They come from two places:
//! the run's events ([`Logs::subscriber`]: the words of each event's line are
//! said in `message` only, and nothing reads them back) and wfr's own
//! diagnostics, which are tracing events (warnings, a Docker pull, a traceback).
//!
//! Whoever logs only captures the line (its fields into a recycled buffer) and
//! queues it; the `wfr-logs` thread formats queued lines into both sinks, in
//! order, whenever a batch has built up and at least every 50 ms. Stages thus
//! never wait on formatting, the terminal or the disk, and on a machine with a
//! spare core the lines are made in parallel with the run. A queue that grows
//! past a bound is written out by the thread that fills it. [`Logs::finish`]
//! writes out the rest.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::events::{self, Interest, Kind, RunEvent, Source};
use crate::human::duration;
use crate::lock;

/// The shape of the lines on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// How logging is set up for a run.
pub struct Options {
    pub format: Format,
    pub filter: Filter,
    /// Colored human lines.
    pub color: bool,
    /// Where stderr lines go (above the live progress view, on a terminal).
    pub stderr: Box<dyn Write + Send>,
}

/// Why the run's logging cannot be installed.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// `WFR_LOG` does not parse.
    #[error(
        "WFR_LOG={filter}: {error}; write a level (`off`, `error`, `warn`, `info`, `debug`, `trace`) or `target=level` pairs separated by commas, such as `info,wfr::echo=off`"
    )]
    Filter { filter: String, error: NotALevel },
    #[error("cannot install the logger: {0}")]
    Install(#[from] tracing_subscriber::util::TryInitError),
}

/// A `WFR_LOG` directive whose level is not one.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a level")]
pub struct NotALevel(pub String);

/// `WFR_LOG`: a level (`info`, `debug`, `off`) or `target=level` pairs; `info`
/// when unset.
pub struct Filter(Targets);

impl Filter {
    pub fn parse(text: Option<&str>) -> Result<Filter, LogsError> {
        match text.map(str::trim) {
            // The NATS client's own connection chatter only when asked for.
            None | Some("") => Ok(Filter(
                Targets::new()
                    .with_default(Level::INFO)
                    .with_target("async_nats", Level::WARN),
            )),
            Some(text) => parse_filter(text)
                .map(Filter)
                .map_err(|error| LogsError::Filter {
                    filter: text.to_string(),
                    error,
                }),
        }
    }

    /// Nothing at all is logged (`WFR_LOG=off`).
    #[must_use]
    pub fn is_off(&self) -> bool {
        self.0
            .default_level()
            .is_none_or(|level| level == LevelFilter::OFF)
            && self.0.iter().all(|(_, level)| level == LevelFilter::OFF)
    }
}

/// Queued events that make the `wfr-logs` thread start a batch at once.
const BATCH: usize = 512;
/// Queued events past which the logging thread writes them out itself.
const BOUND: usize = 64 * 1024;

/// Keeps the log thread going; [`Logs::finish`] (or dropping it) writes out what is
/// still queued.
pub struct Logs {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Logs {
    /// Writes out the queued lines. Fails when a line could not be written to
    /// the run's log file (a full disk): the record would not hold the whole
    /// log.
    pub fn finish(self) -> std::io::Result<()> {
        let shared = Arc::clone(&self.shared);
        drop(self);
        match lock(&shared.writer).file_error.take() {
            Some(e) => Err(std::io::Error::new(
                e.kind(),
                format!("the run's log could not be written: {e}"),
            )),
            None => Ok(()),
        }
    }
}

impl Drop for Logs {
    fn drop(&mut self) {
        {
            let mut state = lock(&self.shared.state);
            state.stopped = true;
            self.shared.wake.notify_all();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.shared.write_out();
    }
}

/// Installs the run's logging: JSON lines into `log_file` (the run record's),
/// `options.format` lines on stderr. Fails when the logger cannot be installed.
pub fn init(options: Options, log_file: Box<dyn Write + Send>) -> Result<Logs, LogsError> {
    let silent = options.filter.is_off();
    let filter = options.filter.0.clone();
    let logs = start(options, log_file);
    // `WFR_LOG=off`: nothing to write, so no writer thread, no buffers and no
    // subscriber (every event is off at its call site).
    if silent {
        return Ok(logs);
    }
    tracing_subscriber::registry()
        .with(filter)
        .with(LogLayer {
            shared: Arc::clone(&logs.shared),
        })
        .try_init()?;
    Ok(logs)
}

/// The logs' queue and writer thread, with no tracing subscriber installed.
fn start(options: Options, log_file: Box<dyn Write + Send>) -> Logs {
    let silent = options.filter.is_off();
    let file: Box<dyn Write + Send> = if silent {
        Box::new(std::io::sink())
    } else {
        log_file
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: Vec::with_capacity(if silent { 0 } else { 4 * BATCH }),
            ..State::default()
        }),
        wake: Condvar::new(),
        writer: Mutex::new(Writer {
            stderr: std::io::BufWriter::with_capacity(
                if silent { 0 } else { 64 * 1024 },
                options.stderr,
            ),
            file: std::io::BufWriter::with_capacity(if silent { 0 } else { 64 * 1024 }, file),
            stderr_format: options.format,
            color: options.color,
            batch: Vec::new(),
            human: String::new(),
            json: Vec::new(),
            clock: Clock::default(),
            file_error: None,
        }),
        shown: Shown::new(&options.filter),
    });
    if silent {
        return Logs {
            shared,
            thread: None,
        };
    }
    let thread = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("wfr-logs".into())
            .spawn(move || shared.run_writer(Duration::from_millis(50)))
            .ok()
    };
    Logs { shared, thread }
}

/// `WFR_LOG`: comma-separated `level` or `target=level` directives.
fn parse_filter(text: &str) -> Result<Targets, NotALevel> {
    let level = |name: &str| -> Result<LevelFilter, NotALevel> {
        name.trim()
            .parse::<LevelFilter>()
            .ok()
            .filter(|_| !name.trim().chars().all(|c| c.is_ascii_digit()))
            .ok_or_else(|| NotALevel(name.trim().to_string()))
    };
    let mut targets = Targets::new();
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        targets = match directive.split_once('=') {
            Some((target, lvl)) => targets.with_target(target.trim().to_string(), level(lvl)?),
            None => targets.with_default(level(directive)?),
        };
    }
    Ok(targets)
}

/// One captured line.
struct Entry {
    level: Level,
    target: &'static str,
    /// The kind of the run event it tells, written down (in JSON lines) for
    /// what reads the log back: the record of a run that did not end.
    event: Option<Kind>,
    time: jiff::Timestamp,
    fields: Fields,
}

#[derive(Default)]
struct State {
    queue: Vec<Entry>,
    /// Field buffers to reuse, so capturing an event allocates nothing once warm.
    spare: Vec<Fields>,
    stopped: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Held while a batch is formatted and written: batches go out in order.
    writer: Mutex<Writer>,
    /// What the filter shows of the run's events.
    shown: Shown,
}

struct Writer {
    stderr: std::io::BufWriter<Box<dyn Write + Send>>,
    file: std::io::BufWriter<Box<dyn Write + Send>>,
    stderr_format: Format,
    color: bool,
    batch: Vec<Entry>,
    human: String,
    json: Vec<u8>,
    clock: Clock,
    /// The first error writing the log file: lines after it are not written.
    file_error: Option<std::io::Error>,
}

/// Timestamps of one second share their date and time of day: those are formatted
/// once a second, the microseconds for each line.
#[derive(Default)]
struct Clock {
    second: Option<i64>,
    /// `2026-01-02T03:04:05`.
    prefix: [u8; 19],
}

impl Clock {
    /// `now` as RFC 3339 UTC with microseconds (`2026-01-02T03:04:05.123456Z`), in `buf`.
    fn stamp<'b>(&mut self, now: jiff::Timestamp, buf: &'b mut [u8; 32]) -> &'b str {
        let second = now.as_second();
        if self.second != Some(second) {
            let full = timestamp(now, buf);
            // Years beyond 9999 (or before 0) do not fit the cached layout.
            if full.len() != 27 {
                return timestamp(now, buf);
            }
            self.prefix.copy_from_slice(&full.as_bytes()[..19]);
            self.second = Some(second);
        }
        buf[..19].copy_from_slice(&self.prefix);
        buf[19] = b'.';
        let mut micros = u32::try_from(now.subsec_microsecond()).unwrap_or(0);
        for digit in buf[20..26].iter_mut().rev() {
            *digit = b'0' + u8::try_from(micros % 10).unwrap_or(0);
            micros /= 10;
        }
        buf[26] = b'Z';
        std::str::from_utf8(&buf[..27]).unwrap_or_default()
    }
}

impl Shared {
    /// The `wfr-logs` thread: writes out a batch when one has built up, or every
    /// `every`, until stopped.
    fn run_writer(&self, every: Duration) {
        loop {
            {
                let mut state = lock(&self.state);
                if state.queue.len() < BATCH && !state.stopped {
                    state = self
                        .wake
                        .wait_timeout(state, every)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                if state.stopped {
                    return;
                }
            }
            self.write_out();
        }
    }

    /// A field buffer to capture a line into.
    fn fields(&self) -> Fields {
        lock(&self.state).spare.pop().unwrap_or_else(Fields::sized)
    }

    /// Queues a captured line; wakes the writer when a batch has built up, or
    /// writes the queue out itself past the bound.
    fn queue(&self, entry: Entry) {
        let queued = {
            let mut state = lock(&self.state);
            state.queue.push(entry);
            state.queue.len()
        };
        if queued == BATCH {
            self.wake.notify_one();
        } else if queued >= BOUND {
            self.write_out();
        }
    }

    /// Formats and writes everything queued so far, then flushes both sinks.
    fn write_out(&self) {
        let mut writer = lock(&self.writer);
        let Writer {
            stderr,
            file,
            stderr_format,
            color,
            batch,
            human,
            json,
            clock,
            file_error,
        } = &mut *writer;
        std::mem::swap(&mut lock(&self.state).queue, batch);
        let mut used = Vec::with_capacity(batch.len());
        for entry in batch.drain(..) {
            let mut stamp = [0u8; 32];
            let stamp = clock.stamp(entry.time, &mut stamp);
            json.clear();
            write_json(json, stamp, &entry);
            // A log line that cannot be written does not stop the run; the
            // record is then not kept (see `Logs::finish`).
            if file_error.is_none()
                && let Err(e) = file.write_all(json)
            {
                *file_error = Some(e);
            }
            match stderr_format {
                Format::Json => {
                    let _ = stderr.write_all(json);
                }
                Format::Human => {
                    human.clear();
                    write_human(
                        human,
                        *color,
                        stamp,
                        entry.level,
                        entry.target,
                        &entry.fields,
                    );
                    let _ = stderr.write_all(human.as_bytes());
                }
            }
            used.push(entry.fields);
        }
        if file_error.is_none()
            && let Err(e) = file.flush()
        {
            *file_error = Some(e);
        }
        let _ = stderr.flush();
        drop(writer);
        let mut state = lock(&self.state);
        let room = 4096usize.saturating_sub(state.spare.len());
        state.spare.extend(used.into_iter().take(room).map(|mut f| {
            f.clear();
            f
        }));
    }
}

struct LogLayer {
    shared: Arc<Shared>,
}

impl<S: Subscriber> Layer<S> for LogLayer {
    fn on_event(&self, event: &Event<'_>, _cx: Context<'_, S>) {
        let time = jiff::Timestamp::now();
        let mut fields = self.shared.fields();
        event.record(&mut fields);
        let meta = event.metadata();
        self.shared.queue(Entry {
            level: *meta.level(),
            target: meta.target(),
            event: None,
            time,
            fields,
        });
    }
}

impl Logs {
    /// The run events' lines, as a subscriber of the run's events.
    #[must_use]
    pub fn subscriber(&self) -> Arc<dyn events::Subscriber> {
        self.worded(message)
    }

    /// [`Logs::subscriber`], its lines worded by `message`.
    fn worded(&self, message: fn(&RunEvent<'_>) -> &'static str) -> Arc<dyn events::Subscriber> {
        Arc::new(EventLines {
            shared: Arc::clone(&self.shared),
            message,
        })
    }
}

/// The words of a run event's line (a line of text is its own words). Said
/// here only: what happened is known from the events themselves (the
/// progress view, the record), never from these words.
fn message(event: &RunEvent<'_>) -> &'static str {
    match event {
        RunEvent::RunStarted { .. } => "run started",
        RunEvent::RunEnded { .. } => "run ended",
        RunEvent::JobStarted { .. } => "job started",
        RunEvent::JobEnded { .. } => "job ended",
        RunEvent::JobNotRun { .. } => "job not run",
        RunEvent::JobReused { .. } => "job reused",
        RunEvent::StrategyStarted { .. } => "strategy started",
        RunEvent::StrategyEnded { .. } => "strategy ended",
        RunEvent::StrategyReused { .. } => "strategy reused",
        RunEvent::StrategyTaken { attempt: 1, .. } => "taken by a worker",
        RunEvent::StrategyTaken { .. } => "taken by a worker again (delivered again)",
        RunEvent::StageStarted { .. } => "stage started",
        RunEvent::StageEnded { .. } if stage_failed(event) => "stage failed",
        RunEvent::StageEnded { .. } => "stage ended",
        RunEvent::StageRetry { .. } => "stage failed; retrying",
        // Followed by the stage's kind (`would run bash`).
        RunEvent::StageDryRun { .. } => "would run",
        RunEvent::Line { .. } => "",
    }
}

/// A stage that ended FAILED with an error: its line is an error.
fn stage_failed(event: &RunEvent<'_>) -> bool {
    matches!(
        event,
        RunEvent::StageEnded {
            status: crate::status::Status::Failed,
            error: Some(_),
            ..
        }
    )
}

/// The target of the lines of a kind of event (of a source of lines), and the
/// most severe level they have; none for events that are not logged.
fn target(kind: Kind, source: Option<Source>) -> Option<(&'static str, Level)> {
    Some(match (kind, source) {
        (Kind::RunStarted | Kind::RunEnded, _) => ("wfr::run", Level::INFO),
        (Kind::JobStarted, _) => ("wfr::job", Level::INFO),
        (Kind::JobEnded, _) => ("wfr::job", Level::ERROR),
        (Kind::JobNotRun, _) => ("wfr::job", Level::WARN),
        (Kind::JobReused | Kind::StrategyReused, _) => ("wfr::job", Level::INFO),
        (Kind::StrategyTaken, _) => ("wfr::job", Level::INFO),
        (Kind::StrategyStarted | Kind::StrategyEnded, _) | (Kind::Line, None) => return None,
        (Kind::StageStarted, _) => ("wfr::stage", Level::INFO),
        (Kind::StageEnded, _) => ("wfr::stage", Level::ERROR),
        (Kind::StageRetry, _) => ("wfr::stage", Level::WARN),
        (Kind::StageDryRun, _) => ("wfr::stage", Level::INFO),
        (Kind::Line, Some(Source::Echo)) => ("wfr::echo", Level::INFO),
        (Kind::Line, Some(Source::Bash)) => ("wfr::bash", Level::INFO),
        (Kind::Line, Some(Source::VirtualPy)) => ("wfr::virtualpy", Level::INFO),
        (Kind::Line, Some(Source::Py)) => ("wfr::py", Level::INFO),
        (Kind::Line, Some(Source::Docker)) => ("wfr::docker", Level::INFO),
    })
}

/// What the filter shows of the run events' lines, worked out once: the most
/// verbose level shown for each kind of event (each source of lines).
struct Shown {
    /// By `kind as usize` (lines are shown by source).
    kinds: [LevelFilter; Kind::ALL.len()],
    /// By `source as usize`.
    lines: [LevelFilter; Source::ALL.len()],
}

impl Shown {
    fn new(filter: &Filter) -> Shown {
        let most_verbose = |target: Option<(&str, Level)>| {
            let Some((target, _)) = target else {
                return LevelFilter::OFF;
            };
            [
                Level::TRACE,
                Level::DEBUG,
                Level::INFO,
                Level::WARN,
                Level::ERROR,
            ]
            .into_iter()
            .find(|level| filter.0.would_enable(target, level))
            .map_or(LevelFilter::OFF, LevelFilter::from_level)
        };
        Shown {
            kinds: Kind::ALL.map(|kind| most_verbose(target(kind, None))),
            lines: Source::ALL.map(|source| most_verbose(target(Kind::Line, Some(source)))),
        }
    }

    fn of(&self, kind: Kind, source: Option<Source>) -> LevelFilter {
        let shown = match source {
            Some(source) => self.lines.get(source as usize),
            None => self.kinds.get(kind as usize),
        };
        shown.copied().unwrap_or(LevelFilter::OFF)
    }

    /// The events some of whose lines are shown.
    fn interest(&self) -> Interest {
        let kinds = Kind::ALL.into_iter().filter_map(|kind| {
            let (_, severe) = target(kind, None)?;
            (severe <= self.of(kind, None)).then_some(Interest::kind(kind))
        });
        let lines = Source::ALL.into_iter().filter_map(|source| {
            let (_, severe) = target(Kind::Line, Some(source))?;
            (severe <= self.of(Kind::Line, Some(source))).then_some(Interest::line(source))
        });
        kinds.chain(lines).fold(Interest::NONE, Interest::with)
    }
}

/// The lines of the run's events, queued as the tracing events' are.
struct EventLines {
    shared: Arc<Shared>,
    message: fn(&RunEvent<'_>) -> &'static str,
}

impl events::Subscriber for EventLines {
    fn interest(&self) -> Interest {
        self.shared.shown.interest()
    }

    fn on_event(&self, event: &events::Event<'_>) {
        use crate::status::Status;
        let kind = event.event.kind();
        let source = match &event.event {
            RunEvent::Line { source, .. } => Some(*source),
            _ => None,
        };
        let Some((target, severe)) = target(kind, source) else {
            return;
        };
        let level = match &event.event {
            RunEvent::JobEnded { error: None, .. } => Level::INFO,
            RunEvent::StageEnded { .. } if !stage_failed(&event.event) => Level::INFO,
            _ => severe,
        };
        if level > self.shared.shown.of(kind, source) {
            return;
        }
        let mut fields = self.shared.fields();
        let f = &mut fields;
        f.text("run", event.run);
        match &event.event {
            RunEvent::RunStarted {
                workflow,
                parent,
                dry_run,
                rerun_of,
            } => {
                f.text("workflow", workflow);
                if let Some(parent) = parent {
                    f.text("parent", parent);
                }
                if *dry_run {
                    f.list.push(("dry_run", FieldValue::Bool(true)));
                }
                if let Some(rerun_of) = rerun_of {
                    f.text("rerun_of", rerun_of);
                }
            }
            RunEvent::RunEnded {
                workflow,
                status,
                seconds,
                ..
            } => {
                f.text("workflow", workflow);
                f.text("status", status.as_str());
                f.float("seconds", *seconds);
            }
            RunEvent::JobStarted { job } => f.text("job", job),
            RunEvent::JobEnded { job, status, error } => {
                f.text("job", job);
                f.text("status", status.as_str());
                if let Some(error) = error {
                    f.text("error", error);
                }
            }
            RunEvent::JobNotRun {
                job,
                status,
                reason,
            } => {
                f.text("job", job);
                f.text("status", status.map_or("NOT RUN", Status::as_str));
                f.push_text("reason", |text| {
                    let _ = write!(text, "{reason}");
                });
            }
            RunEvent::JobReused { job, from_run } => {
                f.text("job", job);
                f.text("from_run", from_run);
            }
            RunEvent::StrategyReused {
                job,
                strategy,
                from_run,
            } => {
                f.text("job", job);
                f.text("strategy", strategy);
                f.text("from_run", from_run);
            }
            RunEvent::StrategyTaken {
                job,
                strategy,
                at: _,
                worker,
                attempt,
            } => {
                f.text("job", job);
                f.text("strategy", strategy);
                f.text("worker", worker);
                f.list.push(("attempt", FieldValue::Int((*attempt).into())));
            }
            RunEvent::StrategyStarted { .. } | RunEvent::StrategyEnded { .. } => {}
            RunEvent::StageStarted { at, stage, kind } => {
                f.text("at", at);
                f.text("stage", stage);
                f.text("kind", kind);
            }
            RunEvent::StageEnded {
                at,
                stage,
                status,
                seconds,
                error,
                ..
            } => {
                f.text("at", at);
                f.text("stage", stage);
                f.text("status", status.as_str());
                f.float("seconds", *seconds);
                if level == Level::ERROR {
                    let error = error.and_then(crate::status::message);
                    f.text("error", error.unwrap_or("see errors"));
                }
            }
            RunEvent::StageDryRun {
                at,
                stage,
                kind,
                values,
            } => {
                f.text("at", at);
                f.text("stage", stage);
                // Its message says it (`would run bash`).
                let start = f.text.len();
                f.text.push_str(kind);
                f.list
                    .push(("kind", FieldValue::InMessage(start..f.text.len())));
                f.pairs("values", values);
            }
            RunEvent::StageRetry { at, attempt } => {
                f.text("at", at);
                f.list.push(("attempt", FieldValue::Int((*attempt).into())));
            }
            RunEvent::Line {
                at, stream, text, ..
            } => {
                f.text("at", at);
                if let Some(stream) = stream {
                    f.text("stream", stream.name());
                }
                f.message.push_str(text);
            }
        }
        if !matches!(event.event, RunEvent::Line { .. }) {
            f.message.push_str((self.message)(&event.event));
        }
        if let RunEvent::StageDryRun { kind, .. } = &event.event {
            f.message.push(' ');
            f.message.push_str(kind);
        }
        self.shared.queue(Entry {
            level,
            target,
            event: Some(kind),
            time: event.time,
            fields,
        });
    }
}

fn write_human(
    out: &mut String,
    color: bool,
    stamp: &str,
    level: Level,
    target: &str,
    fields: &Fields,
) {
    // Each field as one `name=value`, or (named texts) as one per name; no
    // allocation per line.
    let list = fields.list.iter().flat_map(|(name, value)| {
        let (single, pairs): (Option<FieldShown<'_>>, &[_]) = match value {
            FieldValue::Float(v) => (Some(FieldShown::Float(*v)), &[]),
            FieldValue::Int(v) => (Some(FieldShown::Int(*v)), &[]),
            FieldValue::Bool(v) => (Some(FieldShown::Bool(*v)), &[]),
            FieldValue::Text(range) => (Some(FieldShown::Text(&fields.text[range.clone()])), &[]),
            FieldValue::Pairs(pairs) => (None, &fields.pairs[pairs.clone()]),
            // Shown in the message already.
            FieldValue::InMessage(_) => (None, &[]),
        };
        single
            .map(|shown| (*name, shown))
            .into_iter()
            .chain(pairs.iter().map(|(name, text)| {
                (
                    &fields.text[name.clone()],
                    FieldShown::Text(&fields.text[text.clone()]),
                )
            }))
    });
    let place = fields
        .get("at")
        .map(|at| ("at", at))
        .or_else(|| fields.get("job").map(|job| ("job", job)));
    human_line(
        out,
        color,
        stamp,
        level,
        target,
        place,
        &fields.message,
        list,
    );
}

/// A field's value as a human line shows it.
enum FieldShown<'a> {
    Text(&'a str),
    Int(i128),
    Float(f64),
    Bool(bool),
}

/// One human log line: the time, the level, where (the stage path or the job),
/// the message, and the other fields as `name=value`.
#[allow(clippy::too_many_arguments)]
fn human_line<'a>(
    out: &mut String,
    color: bool,
    stamp: &str,
    level: Level,
    target: &str,
    place: Option<(&str, &str)>,
    message: &str,
    fields: impl Iterator<Item = (&'a str, FieldShown<'a>)>,
) {
    let (dim, bold, reset) = if color {
        ("\x1b[2m", "\x1b[1m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    out.push_str(dim);
    out.push_str(stamp.get(11..23).unwrap_or(stamp));
    out.push('Z');
    out.push_str(reset);
    out.push(' ');
    let (code, name) = match level {
        Level::ERROR => ("\x1b[31m", "ERROR"),
        Level::WARN => ("\x1b[33m", " WARN"),
        Level::INFO => ("\x1b[32m", " INFO"),
        Level::DEBUG => ("\x1b[34m", "DEBUG"),
        Level::TRACE => ("\x1b[35m", "TRACE"),
    };
    if color {
        out.push_str(code);
    }
    out.push_str(name);
    out.push_str(reset);
    out.push(' ');
    if let Some((_, place)) = place {
        for part in [bold, place, reset, " "] {
            out.push_str(part);
        }
    }
    out.push_str(message);
    for (name, value) in fields {
        // The run id is on the run's own lines; the place is already shown.
        if place.is_some_and(|(shown, _)| shown == name) || (name == "run" && target != "wfr::run")
        {
            continue;
        }
        // Durations read as such (`took=1.25s`); the JSON lines keep seconds.
        let shown = if name == "seconds" { "took" } else { name };
        for part in [" ", dim, shown, "=", reset] {
            out.push_str(part);
        }
        match value {
            FieldShown::Float(v) if name == "seconds" => out.push_str(&duration(v)),
            FieldShown::Float(v) => {
                let _ = write!(out, "{v}");
            }
            FieldShown::Int(v) => out.push_str(itoa::Buffer::new().format(v)),
            FieldShown::Bool(v) => out.push_str(if v { "true" } else { "false" }),
            FieldShown::Text(text) => human_text(out, text),
        }
    }
    out.push('\n');
}

/// A JSON object's entries in their order (the fields of a log line are shown
/// in the order they were written).
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// A line of a run's log (`run.log`, JSON lines) as the human format shows it
/// (`wfr logs`); None for a line that is not a log entry.
#[must_use]
pub fn replay_human(line: &str, color: bool) -> Option<String> {
    let Entries(entry) = serde_json::from_str::<Entries>(line).ok()?;
    let text = |key: &str| {
        entry
            .iter()
            .find(|(name, _)| name == key)
            .and_then(|(_, v)| v.as_str())
    };
    let level = match text("level")? {
        "ERROR" => Level::ERROR,
        "WARN" => Level::WARN,
        "DEBUG" => Level::DEBUG,
        "TRACE" => Level::TRACE,
        _ => Level::INFO,
    };
    let target = text("target").unwrap_or("");
    let place = text("at")
        .map(|at| ("at", at))
        .or_else(|| text("job").map(|job| ("job", job)));
    let skip = ["timestamp", "level", "target", "event", "message"];
    let fields = entry
        .iter()
        .filter(|(name, _)| !skip.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            let shown = match value {
                serde_json::Value::String(s) => FieldShown::Text(s),
                serde_json::Value::Bool(b) => FieldShown::Bool(*b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => FieldShown::Int(i128::from(i)),
                    None => FieldShown::Float(n.as_f64()?),
                },
                _ => return None,
            };
            Some((name.as_str(), shown))
        });
    let mut out = String::new();
    human_line(
        &mut out,
        color,
        text("timestamp").unwrap_or(""),
        level,
        target,
        place,
        text("message").unwrap_or(""),
        fields,
    );
    Some(out)
}

/// A text value in a human line: as it is, or quoted and escaped when it is
/// empty or has spaces or line ends.
fn human_text(out: &mut String, text: &str) {
    if text.is_empty() || text.contains(char::is_whitespace) {
        let _ = write!(out, "{text:?}");
    } else {
        out.push_str(text);
    }
}

/// `time` as RFC 3339 UTC with microseconds (`2026-01-02T03:04:05.123456Z`), in `buf`.
fn timestamp(now: jiff::Timestamp, buf: &mut [u8; 32]) -> &str {
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cursor, "{now:.6}");
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    std::str::from_utf8(&buf[..len]).unwrap_or_default()
}

fn write_json(out: &mut Vec<u8>, stamp: &str, entry: &Entry) {
    let fields = &entry.fields;
    out.extend_from_slice(b"{\"timestamp\":\"");
    out.extend_from_slice(stamp.as_bytes());
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(entry.level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"target\":");
    json_str(out, entry.target);
    if let Some(event) = entry.event {
        // A kind's name (`job_ended`) needs no escaping.
        out.extend_from_slice(b",\"event\":\"");
        out.extend_from_slice(event.name().as_bytes());
        out.push(b'"');
    }
    for (name, value) in &fields.list {
        out.push(b',');
        json_str(out, name);
        out.push(b':');
        match value {
            FieldValue::Float(v) if v.is_finite() => {
                let _ = write!(out, "{v}");
            }
            FieldValue::Float(_) => out.extend_from_slice(b"null"),
            FieldValue::Int(v) => out.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes()),
            FieldValue::Bool(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
            FieldValue::Text(range) | FieldValue::InMessage(range) => {
                json_str(out, &fields.text[range.clone()]);
            }
            FieldValue::Pairs(pairs) => {
                out.push(b'{');
                for (i, (name, value)) in fields.pairs[pairs.clone()].iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json_str(out, &fields.text[name.clone()]);
                    out.push(b':');
                    json_str(out, &fields.text[value.clone()]);
                }
                out.push(b'}');
            }
        }
    }
    out.extend_from_slice(b",\"message\":");
    json_str(out, &fields.message);
    out.extend_from_slice(b"}\n");
}

fn json_str(out: &mut Vec<u8>, text: &str) {
    crate::json::write_str(out, text);
}

/// The fields of one line, text kept in one buffer.
#[derive(Default)]
struct Fields {
    message: String,
    list: Vec<(&'static str, FieldValue)>,
    text: String,
    /// The (name, text) pairs of [`FieldValue::Pairs`] fields, in `text`.
    pairs: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

enum FieldValue {
    Text(std::ops::Range<usize>),
    Int(i128),
    Float(f64),
    Bool(bool),
    /// Named texts whose names are not known in advance (a dry-run stage's
    /// fields): a JSON object in JSON lines, `name=text` each in human ones.
    Pairs(std::ops::Range<usize>),
    /// A text the line's message already says: in JSON lines only.
    InMessage(std::ops::Range<usize>),
}

impl Fields {
    /// New buffers with room for a typical event: in a burst, events are captured
    /// faster than the writer hands buffers back, and growing them field by field
    /// costs more than the capture itself.
    fn sized() -> Self {
        Self {
            message: String::with_capacity(32),
            list: Vec::with_capacity(8),
            text: String::with_capacity(192),
            // Only dry-run lines have pairs.
            pairs: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.message.clear();
        self.list.clear();
        self.text.clear();
        self.pairs.clear();
    }

    /// A text field's value.
    fn get(&self, name: &str) -> Option<&str> {
        self.list.iter().find_map(|(n, v)| match v {
            FieldValue::Text(range) if *n == name => Some(&self.text[range.clone()]),
            _ => None,
        })
    }

    fn push_text(&mut self, name: &'static str, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        self.list
            .push((name, FieldValue::Text(start..self.text.len())));
    }

    fn text(&mut self, name: &'static str, value: &str) {
        self.push_text(name, |text| text.push_str(value));
    }

    fn pairs(&mut self, name: &'static str, pairs: &[(String, String)]) {
        let start = self.pairs.len();
        for (key, value) in pairs {
            let key_at = self.text.len();
            self.text.push_str(key);
            let value_at = self.text.len();
            self.text.push_str(value);
            self.pairs
                .push((key_at..value_at, value_at..self.text.len()));
        }
        self.list
            .push((name, FieldValue::Pairs(start..self.pairs.len())));
    }

    fn float(&mut self, name: &'static str, value: f64) {
        self.list.push((name, FieldValue::Float(value)));
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.push_text(field.name(), |text| {
                let _ = write!(text, "{value:?}");
            });
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.text(field.name(), value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.list
            .push((field.name(), FieldValue::Int(value.into())));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.list
            .push((field.name(), FieldValue::Int(value.into())));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.list.push((field.name(), FieldValue::Float(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.list.push((field.name(), FieldValue::Bool(value)));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::{Clock, Filter, Format, Options, RunEvent, message, start, timestamp};
    use crate::events::{Bus, Kind, RunEvents, Subscriber};
    use crate::progress::Progress;
    use crate::record::{self, Record};
    use crate::status::Status;
    use crate::value::{Map, Value};
    use crate::vm::{self, Engine, RunRequest};

    const FLOW: &str = "flow:\n  type: Workflow\n  jobs:\n    first:\n      stages:\n        - {name: Greet, echo: hello}\n        - name: Loop\n          foreach: [1, 2]\n          stages:\n            - {name: Inner, echo: 'item ${{ item }}'}\n    broken:\n      needs: [first]\n      stages:\n        - {name: Boom, raise: boom}\n    after:\n      needs: [broken]\n      stages:\n        - {name: Never, echo: never}\n    off:\n      if: 'False'\n      stages:\n        - {name: Skipped, echo: skipped}\n    after-off:\n      needs: [off]\n      stages:\n        - {name: Skipped too, echo: skipped}\n";

    /// What a run left: the messages of its log, its progress view, and the
    /// record's jobs as the run's events told them and as its log tells them.
    struct Seen {
        messages: Vec<String>,
        progress: Vec<String>,
        from_events: serde_json::Value,
        from_log: serde_json::Value,
    }

    /// Runs `FLOW` in `dir` (to its end, then a job is cut short), its lines
    /// worded by `words`.
    fn run_worded(dir: &Path, words: fn(&RunEvent<'_>) -> &'static str) -> Seen {
        let conf = dir.join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(conf.join("flow.yml"), FLOW).unwrap();
        let file = conf.join("flow.yml");
        let (plan, plans) = wfc_compiler::api::locate(
            file.to_str().unwrap(),
            &dir.join("plans"),
            wfc_compiler::api::Show { color: false },
            || Ok(Vec::new()),
        )
        .unwrap();
        let plan = Arc::new(plan);
        let store = crate::plans::PlanStore::new(plans);
        let runs = dir.join("runs");
        let run_id = vm::new_run_id("flow");
        let record = Record::start(&runs, &run_id, &Map::default(), &Value::Null).unwrap();
        let logs = start(
            Options {
                format: Format::Json,
                filter: Filter::parse(None).unwrap(),
                color: false,
                stderr: Box::new(std::io::sink()),
            },
            Box::new(record.log_file()),
        );
        let progress = Arc::new(Progress::hidden());
        let bus = Arc::new(Bus::new([
            logs.worded(words),
            record.journal(),
            Arc::clone(&progress) as Arc<dyn Subscriber>,
        ]));
        let engine = Arc::new(Engine {
            pool: crate::pool::Pool::new(2),
            plans: store,
            default_ids: false,
            max_job_parallel: 1,
            max_depth: 4,
            raise_error: false,
            events: Arc::clone(&bus),
            dry_run: false,
            workers: None,
            resume_of: None,
        });
        let result = vm::run(
            &engine,
            RunRequest {
                plan,
                params: Map::default(),
                run_id: run_id.clone(),
                parent_run_id: None,
                timeout: None,
                cancel: crate::cancel::Cancel::new(),
                depth: 0,
                prior: None,
            },
        );
        engine.pool.shutdown();
        assert_eq!(result.status, Status::Failed);
        // A job that starts and is cut short (its wfr killed, say).
        RunEvents::new(bus, &run_id).emit(Kind::JobStarted, || RunEvent::JobStarted {
            job: "cut-short",
        });
        logs.finish().unwrap();
        let log = std::fs::read_to_string(runs.join(format!(".{run_id}.partial/run.log"))).unwrap();
        let messages = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["message"].to_string())
            .collect();
        // The record as a second signal closes it (from the events), and as
        // the guard closes it (from the log, a copy of it here).
        let copy = dir.join("copy").join(format!(".{run_id}.partial"));
        std::fs::create_dir_all(&copy).unwrap();
        std::fs::write(copy.join("run.log"), &log).unwrap();
        let jobs = |record: &Path| {
            let text = std::fs::read_to_string(record.join("context.json")).unwrap();
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["jobs"].clone()
        };
        let closed = record::close_open(record::Closing::cancelled("cut short"));
        assert_eq!(closed.len(), 1);
        drop(record);
        let from_log = record::close_abandoned(&copy, record::Closing::cancelled("cut short"))
            .unwrap()
            .unwrap();
        // The times the view shows differ from run to run.
        let progress = progress
            .ended()
            .into_iter()
            .map(|line| match line.split_once(" in ") {
                Some((head, tail)) => {
                    format!("{head} · {}", tail.split_once(" · ").map_or("", |t| t.1))
                }
                None => line,
            })
            .collect();
        Seen {
            messages,
            progress,
            from_events: jobs(&closed[0]),
            from_log: jobs(&from_log),
        }
    }

    /// The progress view and the run record learn what happened from the run's
    /// events, never from the words of its log (which they once parsed): a run
    /// whose lines say other words leaves the same view and the same record.
    #[test]
    fn rewording_the_logs_changes_neither_the_progress_view_nor_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let said = run_worded(&dir.path().join("said"), message);
        let reworded = run_worded(&dir.path().join("reworded"), |event| match event {
            RunEvent::JobStarted { .. } => "work began",
            RunEvent::JobEnded { .. } => "work is over",
            _ => "something happened",
        });
        assert_ne!(said.messages, reworded.messages);
        assert!(
            said.messages.iter().any(|m| m == "\"job ended\""),
            "{:?}",
            said.messages
        );
        assert!(
            !reworded.messages.iter().any(|m| m.contains("job")),
            "{:?}",
            reworded.messages
        );
        assert_eq!(said.progress, reworded.progress);
        assert_eq!(
            said.progress,
            [
                "✔ first SUCCESS · 4 stages",
                "○ off SKIP · 0 stages",
                "○ after-off SKIP · not run: every job it needs was skipped",
                "✘ broken FAILED · 1 stage, 1 failed",
                "○ after NOT RUN · not run: its trigger rule `all_success` is not met: `broken` FAILED; the run stops",
            ]
        );
        let jobs = serde_json::json!({
            "first": {"status": "SUCCESS"},
            "off": {"status": "SKIP"},
            "broken": {"status": "FAILED"},
            "cut-short": {"status": "CANCEL"},
        });
        for seen in [&said, &reworded] {
            assert_eq!(seen.from_events, jobs);
            assert_eq!(seen.from_log, jobs);
        }
    }

    #[test]
    fn cached_stamps_are_the_full_format() {
        let mut clock = Clock::default();
        for text in [
            "2026-01-02T03:04:05.000001Z",
            "2026-01-02T03:04:05.123456Z",
            "2026-01-02T03:04:05.999999Z",
            "2026-01-02T03:04:06Z",
            "1999-12-31T23:59:59.5Z",
        ] {
            let now: jiff::Timestamp = text.parse().unwrap();
            let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
            assert_eq!(clock.stamp(now, &mut a), timestamp(now, &mut b), "{text}");
        }
    }
}
