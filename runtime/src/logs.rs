//! Run logs: one tracing layer that writes every event as a human line (or a JSON
//! line) on stderr and as a JSON line in the run's log file, and feeds the live
//! progress view on a terminal.
//!
//! Lines are formatted once per sink into thread-local buffers, then appended to a
//! sink's buffer; a background thread writes buffered lines out every 100 ms (and a
//! full buffer is written at once), so stages never wait on the terminal or the
//! disk line by line. [`Logs::finish`] writes out what is left.

use std::cell::RefCell;
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

/// How logging was set up for a run.
pub struct Options {
    pub format: Format,
    /// `WFR_LOG`: a level (`info`, `debug`, `off`) or `target=level` pairs.
    pub filter: Option<String>,
    /// The live progress view (stderr is a terminal).
    pub terminal: bool,
    /// Colored human lines.
    pub color: bool,
}

/// Keeps the log sinks going; [`Logs::finish`] writes out what is still buffered.
pub struct Logs {
    sinks: Vec<Arc<Sink>>,
    flusher: Option<std::thread::JoinHandle<()>>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    progress: Option<Arc<Progress>>,
}

impl Logs {
    /// Writes out the buffered lines and closes the progress view.
    pub fn finish(self) {
        drop(self);
    }

    fn shutdown(&mut self) {
        {
            let (stopped, wake) = &*self.stop;
            *stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
            wake.notify_all();
        }
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        if let Some(progress) = &self.progress {
            progress.clear();
        }
        for sink in &self.sinks {
            sink.flush();
        }
    }
}

impl Drop for Logs {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs the run's logging. `log_file` receives JSON lines; stderr receives
/// `format` lines. Fails only when the filter does not parse.
pub fn init(options: &Options, log_file: std::fs::File) -> Result<Logs, String> {
    let filter = match options.filter.as_deref().map(str::trim) {
        None | Some("") => Targets::new().with_default(Level::INFO),
        Some(text) => parse_filter(text).map_err(|e| {
            format!("WFR_LOG={text}: {e}; write a level (`off`, `error`, `warn`, `info`, `debug`, `trace`) or `target=level` pairs separated by commas, such as `info,wfr::echo=off`")
        })?,
    };
    let progress =
        (options.terminal && options.format == Format::Human).then(|| Arc::new(Progress::new()));
    let stderr: Box<dyn Write + Send> = match &progress {
        Some(progress) => Box::new(progress.writer()),
        None => Box::new(std::io::stderr()),
    };
    let err_sink = Arc::new(Sink::new(stderr));
    let file_sink = Arc::new(Sink::new(Box::new(log_file)));
    let layer = LogLayer {
        stderr: Arc::clone(&err_sink),
        stderr_format: options.format,
        color: options.color,
        file: Arc::clone(&file_sink),
        progress: progress.clone(),
    };
    let stop = Arc::new((Mutex::new(false), Condvar::new()));
    let sinks = vec![err_sink, file_sink];
    let flusher = {
        let sinks = sinks.clone();
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("wfr-logs".into())
            .spawn(move || flush_every(&sinks, &stop, Duration::from_millis(100)))
            .ok()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(Logs {
        sinks,
        flusher,
        stop,
        progress,
    })
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

fn flush_every(sinks: &[Arc<Sink>], stop: &(Mutex<bool>, Condvar), every: Duration) {
    let (stopped, wake) = stop;
    let mut guard = stopped.lock().unwrap_or_else(PoisonError::into_inner);
    while !*guard {
        guard = wake
            .wait_timeout(guard, every)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        for sink in sinks {
            sink.flush();
        }
    }
}

/// A buffered destination shared by the threads that log.
struct Sink {
    out: Mutex<std::io::BufWriter<Box<dyn Write + Send>>>,
}

impl Sink {
    fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(std::io::BufWriter::with_capacity(64 * 1024, out)),
        }
    }

    fn push(&self, line: &[u8]) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        // A log line that cannot be written is not worth failing the run.
        let _ = out.write_all(line);
    }

    fn flush(&self) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = out.flush();
    }
}

struct LogLayer {
    stderr: Arc<Sink>,
    stderr_format: Format,
    color: bool,
    file: Arc<Sink>,
    progress: Option<Arc<Progress>>,
}

/// Per-thread scratch space, so formatting a line allocates nothing once warm.
#[derive(Default)]
struct Scratch {
    fields: Fields,
    human: String,
    json: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl<S: Subscriber> Layer<S> for LogLayer {
    fn on_event(&self, event: &Event<'_>, _cx: Context<'_, S>) {
        SCRATCH.with(|scratch| {
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                return;
            };
            let Scratch {
                fields,
                human,
                json,
            } = &mut *scratch;
            fields.clear();
            event.record(fields);
            let meta = event.metadata();
            // `2026-01-02T03:04:05.123456Z`: the JSON lines' time; human lines
            // show its time of day.
            let mut stamp = [0u8; 32];
            let stamp = timestamp(&mut stamp);
            if let Some(progress) = &self.progress {
                progress.on_event(meta.target(), fields);
            }
            json.clear();
            write_json(json, stamp, *meta.level(), meta.target(), fields);
            self.file.push(json);
            match self.stderr_format {
                Format::Json => self.stderr.push(json),
                Format::Human => {
                    human.clear();
                    self.write_human(human, stamp, *meta.level(), meta.target(), fields);
                    self.stderr.push(human.as_bytes());
                }
            }
        });
    }
}

impl LogLayer {
    fn write_human(
        &self,
        out: &mut String,
        stamp: &str,
        level: Level,
        target: &str,
        fields: &Fields,
    ) {
        let (dim, bold, reset) = if self.color {
            ("\x1b[2m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        out.push_str(dim);
        out.push_str(stamp.get(11..23).unwrap_or(stamp));
        out.push('Z');
        out.push_str(reset);
        out.push(' ');
        let (color, name) = match level {
            Level::ERROR => ("\x1b[31m", "ERROR"),
            Level::WARN => ("\x1b[33m", " WARN"),
            Level::INFO => ("\x1b[32m", " INFO"),
            Level::DEBUG => ("\x1b[34m", "DEBUG"),
            Level::TRACE => ("\x1b[35m", "TRACE"),
        };
        if self.color {
            let _ = write!(out, "{color}{name}{reset} ");
        } else {
            let _ = write!(out, "{name} ");
        }
        // Where the line comes from: the stage path, or the job.
        let place = fields.get("at").map(|at| ("at", at));
        let place = place.or_else(|| fields.get("job").map(|job| ("job", job)));
        if let Some((_, place)) = place {
            let _ = write!(out, "{bold}{place}{reset} ");
        }
        out.push_str(&fields.message);
        for (name, value) in &fields.list {
            // The run id is on the run's own lines; the place is already shown.
            if place.is_some_and(|(shown, _)| shown == *name)
                || (*name == "run" && target != "wfr::run")
            {
                continue;
            }
            let _ = write!(out, " {dim}{name}={reset}");
            match value {
                FieldValue::Float(v) if *name == "seconds" => {
                    let _ = write!(out, "{v:.3}");
                }
                FieldValue::Float(v) => {
                    let _ = write!(out, "{v}");
                }
                FieldValue::Int(v) => {
                    let _ = write!(out, "{v}");
                }
                FieldValue::Bool(v) => {
                    let _ = write!(out, "{v}");
                }
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
}

/// The current UTC time as RFC 3339 with microseconds, in `buf`.
fn timestamp(buf: &mut [u8; 32]) -> &str {
    let now = jiff::Timestamp::now();
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cursor, "{now:.6}");
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    std::str::from_utf8(&buf[..len]).unwrap_or_default()
}

fn write_json(out: &mut Vec<u8>, stamp: &str, level: Level, target: &str, fields: &Fields) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    out.extend_from_slice(stamp.as_bytes());
    let _ = write!(out, "\",\"level\":\"{level}\",\"target\":");
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
            FieldValue::Int(v) => {
                let _ = write!(out, "{v}");
            }
            FieldValue::Bool(v) => {
                let _ = write!(out, "{v}");
            }
            FieldValue::Text(range) => json_str(out, &fields.text[range.clone()]),
        }
    }
    out.extend_from_slice(b",\"message\":");
    json_str(out, &fields.message);
    out.extend_from_slice(b"}\n");
}

fn json_str(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(&mut *out, text);
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
