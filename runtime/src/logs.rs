//! Run logs: one tracing layer that writes every event as a human line (or a JSON
//! line) on stderr and as a JSON line in the run's log file, and feeds the live
//! progress view on a terminal.
//!
//! A thread that logs only captures the event (its fields into a recycled buffer)
//! and queues it; the `wfr-logs` thread formats queued events into both sinks, in
//! order, whenever a batch has built up and at least every 50 ms. Stages thus never
//! wait on formatting, the terminal or the disk, and on a machine with a spare core
//! the lines are made in parallel with the run. A queue that grows past a bound is
//! written out by the thread that fills it. [`Logs::finish`] writes out the rest.

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

use crate::progress::Progress;

/// The shape of the lines on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// How logging is set up for a run.
pub struct Options {
    pub format: Format,
    /// `WFR_LOG`: a level (`info`, `debug`, `off`) or `target=level` pairs.
    pub filter: Option<String>,
    /// The live progress view (stderr is a terminal).
    pub terminal: bool,
    /// Colored human lines.
    pub color: bool,
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
    /// Writes out the queued lines and closes the progress view. Fails when a
    /// line could not be written to the run's log file (a full disk): the
    /// record would not hold the whole log.
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
        if let Some(progress) = &self.shared.progress {
            progress.clear();
        }
    }
}

/// Installs the run's logging. The file at `log_file` receives JSON lines (it is
/// made at the first line: see [`LazyFile`]); stderr receives `format` lines.
/// Fails when the filter does not parse.
pub fn init(options: &Options, log_file: std::path::PathBuf) -> Result<Logs, String> {
    let filter = match options.filter.as_deref().map(str::trim) {
        None | Some("") => Targets::new().with_default(Level::INFO),
        Some(text) => parse_filter(text).map_err(|e| {
            format!("WFR_LOG={text}: {e}; write a level (`off`, `error`, `warn`, `info`, `debug`, `trace`) or `target=level` pairs separated by commas, such as `info,wfr::echo=off`")
        })?,
    };
    // `WFR_LOG=off`: nothing to write, so no writer thread, no buffers and no
    // subscriber (every event is off at its call site).
    let silent = filter
        .default_level()
        .is_none_or(|level| level == LevelFilter::OFF)
        && filter.iter().all(|(_, level)| level == LevelFilter::OFF);
    let progress = (options.terminal && options.format == Format::Human && !silent)
        .then(|| Arc::new(Progress::new()));
    let file: Box<dyn Write + Send> = if silent {
        Box::new(std::io::sink())
    } else {
        Box::new(LazyFile {
            path: log_file,
            file: None,
        })
    };
    let stderr: Box<dyn Write + Send> = match &progress {
        Some(progress) => Box::new(progress.writer()),
        None => Box::new(std::io::stderr()),
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: Vec::with_capacity(if silent { 0 } else { 4 * BATCH }),
            ..State::default()
        }),
        wake: Condvar::new(),
        writer: Mutex::new(Writer {
            stderr: std::io::BufWriter::with_capacity(if silent { 0 } else { 64 * 1024 }, stderr),
            file: std::io::BufWriter::with_capacity(if silent { 0 } else { 64 * 1024 }, file),
            stderr_format: options.format,
            color: options.color,
            batch: Vec::new(),
            human: String::new(),
            json: Vec::new(),
            clock: Clock::default(),
            file_error: None,
        }),
        progress,
    });
    if silent {
        return Ok(Logs {
            shared,
            thread: None,
        });
    }
    let thread = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("wfr-logs".into())
            .spawn(move || shared.run_writer(Duration::from_millis(50)))
            .ok()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(LogLayer {
            shared: Arc::clone(&shared),
        })
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(Logs { shared, thread })
}

/// The record's log file, opened (made if need be, never truncated) at the first
/// line written, which the writer thread does: making a file can cost as much as
/// a short run on some file systems, and the run's own thread need not wait.
struct LazyFile {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
}

impl Write for LazyFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let file = if let Some(file) = self.file.as_mut() {
            file
        } else {
            // The record's folder may still be in the making (`record.rs`).
            if let Some(folder) = self.path.parent() {
                std::fs::create_dir_all(folder)?;
            }
            let opened = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.file.insert(opened)
        };
        file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

/// `WFR_LOG`: comma-separated `level` or `target=level` directives.
fn parse_filter(text: &str) -> Result<Targets, String> {
    let level = |name: &str| -> Result<LevelFilter, String> {
        name.trim()
            .parse::<LevelFilter>()
            .ok()
            .filter(|_| !name.trim().chars().all(|c| c.is_ascii_digit()))
            .ok_or_else(|| format!("`{}` is not a level", name.trim()))
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One captured event.
struct Entry {
    level: Level,
    target: &'static str,
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
    progress: Option<Arc<Progress>>,
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
            write_json(json, stamp, entry.level, entry.target, &entry.fields);
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
        let mut fields = lock(&self.shared.state)
            .spare
            .pop()
            .unwrap_or_else(Fields::sized);
        event.record(&mut fields);
        let meta = event.metadata();
        if let Some(progress) = &self.shared.progress {
            progress.on_event(meta.target(), &fields);
        }
        let queued = {
            let mut state = lock(&self.shared.state);
            state.queue.push(Entry {
                level: *meta.level(),
                target: meta.target(),
                time,
                fields,
            });
            state.queue.len()
        };
        if queued == BATCH {
            self.shared.wake.notify_one();
        } else if queued >= BOUND {
            self.shared.write_out();
        }
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
    // Where the line comes from: the stage path, or the job.
    let place = fields.get("at").map(|at| ("at", at));
    let place = place.or_else(|| fields.get("job").map(|job| ("job", job)));
    if let Some((_, place)) = place {
        for part in [bold, place, reset, " "] {
            out.push_str(part);
        }
    }
    out.push_str(&fields.message);
    for (name, value) in &fields.list {
        // The run id is on the run's own lines; the place is already shown.
        if place.is_some_and(|(shown, _)| shown == *name)
            || (*name == "run" && target != "wfr::run")
        {
            continue;
        }
        // Durations read as such (`took=1.25s`); the JSON lines keep seconds.
        let shown = if *name == "seconds" { "took" } else { name };
        for part in [" ", dim, shown, "=", reset] {
            out.push_str(part);
        }
        match value {
            FieldValue::Float(v) if *name == "seconds" => out.push_str(&duration(*v)),
            FieldValue::Float(v) => {
                let _ = write!(out, "{v}");
            }
            FieldValue::Int(v) => out.push_str(itoa::Buffer::new().format(*v)),
            FieldValue::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
            FieldValue::Text(range) => {
                let text = &fields.text[range.clone()];
                if text.is_empty() || text.contains(char::is_whitespace) {
                    let _ = write!(out, "{text:?}");
                } else {
                    out.push_str(text);
                }
            }
        }
    }
    out.push('\n');
}

/// `time` as RFC 3339 UTC with microseconds (`2026-01-02T03:04:05.123456Z`), in `buf`.
fn timestamp(now: jiff::Timestamp, buf: &mut [u8; 32]) -> &str {
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cursor, "{now:.6}");
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    std::str::from_utf8(&buf[..len]).unwrap_or_default()
}

fn write_json(out: &mut Vec<u8>, stamp: &str, level: Level, target: &str, fields: &Fields) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    out.extend_from_slice(stamp.as_bytes());
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"target\":");
    json_str(out, target);
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
            FieldValue::Text(range) => json_str(out, &fields.text[range.clone()]),
        }
    }
    out.extend_from_slice(b",\"message\":");
    json_str(out, &fields.message);
    out.extend_from_slice(b"}\n");
}

fn json_str(out: &mut Vec<u8>, text: &str) {
    crate::json::write_str(out, text);
}

/// The fields of one event, text kept in one buffer.
#[derive(Default)]
pub(crate) struct Fields {
    pub message: String,
    list: Vec<(&'static str, FieldValue)>,
    text: String,
}

enum FieldValue {
    Text(std::ops::Range<usize>),
    Int(i128),
    Float(f64),
    Bool(bool),
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
        }
    }

    fn clear(&mut self) {
        self.message.clear();
        self.list.clear();
        self.text.clear();
    }

    /// A text field's value.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.list.iter().find_map(|(n, v)| match v {
            FieldValue::Text(range) if *n == name => Some(&self.text[range.clone()]),
            _ => None,
        })
    }

    fn push_text(&mut self, field: &Field, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        self.list
            .push((field.name(), FieldValue::Text(start..self.text.len())));
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.push_text(field, |text| {
                let _ = write!(text, "{value:?}");
            });
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.push_text(field, |text| text.push_str(value));
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

/// A duration for people: `61µs`, `3.2ms`, `250ms`, `1.25s`, `12.3s`, `2m 03s`,
/// `1h 02m`.
#[must_use]
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "?".to_string();
    }
    let micros = seconds * 1e6;
    if micros < 1000.0 {
        format!("{}µs", micros.round())
    } else if seconds < 0.1 {
        format!("{:.1}ms", seconds * 1e3)
    } else if seconds < 1.0 {
        format!("{}ms", (seconds * 1e3).round())
    } else if seconds < 10.0 {
        format!("{seconds:.2}s")
    } else if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        // Whole seconds from here on.
        let total = seconds.round();
        let (minutes, secs) = ((total / 60.0).floor(), total % 60.0);
        if minutes < 60.0 {
            format!("{minutes}m {secs:02}s")
        } else {
            format!("{}h {:02}m", (minutes / 60.0).floor(), minutes % 60.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Clock, duration, timestamp};

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

    #[test]
    fn durations_read_as_people_write_them() {
        for (seconds, text) in [
            (0.000_061, "61µs"),
            (0.003_21, "3.2ms"),
            (0.25, "250ms"),
            (1.254, "1.25s"),
            (12.34, "12.3s"),
            (123.4, "2m 03s"),
            (3725.0, "1h 02m"),
            (f64::NAN, "?"),
        ] {
            assert_eq!(duration(seconds), text);
        }
    }
}
