//! Run events: the single, typed account of what happens in a run. The VM emits
//! each [`RunEvent`] once; the logs, the live progress view and the run record
//! are [`Subscriber`]s of a [`Bus`], and nothing reads log text to learn what
//! happened. An event is serializable, so that what comes next (a scheduler,
//! remote workers, a web server) can ship it.
//!
//! Emitting costs nothing when nobody listens: every subscriber says once, when
//! it joins the bus, which [`Kind`]s (and which sources of lines) it wants, and an
//! event nobody wants is never built: no allocation, no formatting, no clock
//! read. Events borrow what they tell from the VM; a subscriber that keeps one
//! copies (or serializes) what it needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::status::Status;
use crate::value::{Map, Value};

/// What happened, as the VM tells it.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent<'a> {
    /// A run starts: a run of `wfr run`, or a child run a trigger stage started
    /// (`parent` is then the triggering run's id). `dry_run` says its stages
    /// with side effects only tell what they would run ([`RunEvent::StageDryRun`]);
    /// `rerun_of`, the run it reruns (its SUCCESS jobs are reused:
    /// [`RunEvent::JobReused`]).
    RunStarted {
        workflow: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        parent: Option<&'a str>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        dry_run: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        rerun_of: Option<&'a str>,
    },
    /// A run ends, with its status and, when it has one, its error
    /// (`{name, message}`).
    RunEnded {
        workflow: &'a str,
        status: Status,
        seconds: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a Value>,
    },
    /// A job whose needs are met starts (its `if` is evaluated after this).
    JobStarted { job: &'a str },
    /// A job that started ends; `error` says why one failed before any stage
    /// ran (a stage's failure has its own event).
    JobEnded {
        job: &'a str,
        status: Status,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
    },
    /// A job that never starts, and why. `status` is the one it is given (none
    /// when it is left out of the run's jobs).
    JobNotRun {
        job: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<Status>,
        reason: NotRun<'a>,
    },
    /// A job that ended SUCCESS in the run this one reruns (`from_run`) is not
    /// run again: its context there is taken as it is, as if it had just ended
    /// SUCCESS (the jobs that need it start when it is taken). It has no
    /// [`RunEvent::JobStarted`] nor [`RunEvent::JobEnded`].
    JobReused { job: &'a str, from_run: &'a str },
    /// A strategy of a job (one matrix combination, or the only one) starts at
    /// `at`.
    StrategyStarted {
        job: &'a str,
        strategy: &'a str,
        at: &'a str,
        matrix: &'a Map,
    },
    /// A strategy ends.
    StrategyEnded {
        job: &'a str,
        strategy: &'a str,
        at: &'a str,
        status: Status,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a Value>,
    },
    /// A matrix strategy that ended SUCCESS in the run this one reruns
    /// (`from_run`) is not run again: its entry there is taken as it is (the
    /// job runs its other strategies). It has no strategy start nor end.
    StrategyReused {
        job: &'a str,
        strategy: &'a str,
        from_run: &'a str,
    },
    /// A worker of the fleet took a strategy of a `self_hosted` job: its name
    /// and the attempt (1, then 2… when a worker died or returned it, and
    /// JetStream delivered it again).
    StrategyTaken {
        job: &'a str,
        strategy: &'a str,
        at: &'a str,
        worker: &'a str,
        attempt: u64,
    },
    /// A stage starts at `at` (`job`, `job/strategy`, `job/each[2]`...).
    StageStarted {
        at: &'a str,
        stage: &'a str,
        /// The stage's kind (`bash`, `foreach`...).
        kind: &'static str,
    },
    /// A stage ends: its status, its outputs (none when it has none) and its
    /// error. `seconds` is what it took, when the start was timed (someone
    /// wanted this event when it started).
    StageEnded {
        at: &'a str,
        stage: &'a str,
        status: Status,
        seconds: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        outputs: Option<&'a Map>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a Value>,
    },
    /// A stage that failed is tried again (`attempt` counts from 1).
    StageRetry { at: &'a str, attempt: u32 },
    /// In a dry run, a stage with side effects (a bash, python, virtual python,
    /// call, docker or trigger stage: `kind`, as in [`RunEvent::StageStarted`])
    /// does not start: what it would start with instead, its templates rendered as a real run renders them, field
    /// by field (`script`, `env.NAME`, `params.NAME`...: the text a field
    /// gives, or the Python `repr` of a value). It then ends SUCCESS with no
    /// outputs. Written as an object of the fields, in their order.
    StageDryRun {
        at: &'a str,
        stage: &'a str,
        kind: &'static str,
        #[serde(serialize_with = "fields_object")]
        values: &'a [(String, String)],
    },
    /// A line of text from a stage: what its process wrote on a stream, or its
    /// `echo`.
    Line {
        at: &'a str,
        source: Source,
        #[serde(skip_serializing_if = "Option::is_none")]
        stream: Option<Stream>,
        text: &'a str,
    },
}

wfc_plan::listed_enum! {
    /// The kinds of [`RunEvent`], for subscribing and for telling events apart
    /// where they were written down (the record reads them back from its log).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Kind {
        RunStarted,
        RunEnded,
        JobStarted,
        JobEnded,
        JobNotRun,
        JobReused,
        StrategyStarted,
        StrategyEnded,
        StrategyReused,
        StrategyTaken,
        StageStarted,
        StageEnded,
        StageRetry,
        StageDryRun,
        Line,
    }
}

impl Kind {
    /// The name an event of this kind is written down with (as serde writes it).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Kind::RunStarted => "run_started",
            Kind::RunEnded => "run_ended",
            Kind::JobStarted => "job_started",
            Kind::JobEnded => "job_ended",
            Kind::JobNotRun => "job_not_run",
            Kind::JobReused => "job_reused",
            Kind::StrategyStarted => "strategy_started",
            Kind::StrategyEnded => "strategy_ended",
            Kind::StrategyReused => "strategy_reused",
            Kind::StrategyTaken => "strategy_taken",
            Kind::StageStarted => "stage_started",
            Kind::StageEnded => "stage_ended",
            Kind::StageRetry => "stage_retry",
            Kind::StageDryRun => "stage_dry_run",
            Kind::Line => "line",
        }
    }
}

wfc_plan::listed_enum! {
    /// Where a line comes from.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Source {
        /// An Empty stage's `echo`.
        Echo,
        Bash,
        VirtualPy,
        /// A Py or Call stage's code (what it prints).
        Py,
        Docker,
    }
}

/// The stream a stage's process wrote a line on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Why a job never starts.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum NotRun<'a> {
    /// Every job it needs was skipped: it is SKIP.
    NeedsSkipped,
    /// A job it needs was cancelled: it is CANCEL.
    NeedCancelled,
    /// Its trigger rule is not met by how its needs ended; the run stops.
    TriggerRule {
        rule: &'static str,
        needs: Vec<NeedEnd<'a>>,
    },
    /// A fail-fast failure stopped the run before it could start.
    FailFast,
    /// The run timed out before it could start.
    TimedOut,
    /// The run was cancelled before it could start.
    Cancelled,
    /// The run stopped when job `job` could not run (its trigger rule), before
    /// this one could start.
    Blocked { job: &'a str },
    /// The run ended before it could start.
    RunEnded,
}

/// How a job's need ended, for a trigger rule that is not met.
#[derive(Clone, Debug, Serialize)]
pub struct NeedEnd<'a> {
    pub job: &'a str,
    pub status: Status,
    /// Its context has `errors`.
    pub errors: bool,
}

impl std::fmt::Display for NotRun<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRun::NeedsSkipped => f.write_str("every job it needs was skipped"),
            NotRun::NeedCancelled => f.write_str("a job it needs was cancelled"),
            NotRun::TriggerRule { rule, needs } => {
                let mut needs: Vec<String> = needs
                    .iter()
                    .map(|need| {
                        let errors = if need.errors && need.status != Status::Failed {
                            " with errors"
                        } else {
                            ""
                        };
                        format!("`{}` {}{errors}", need.job, need.status.as_str())
                    })
                    .collect();
                needs.sort();
                write!(
                    f,
                    "its trigger rule `{rule}` is not met: {}; the run stops",
                    needs.join(", ")
                )
            }
            NotRun::FailFast => {
                f.write_str("a fail-fast failure stopped the run before it could start")
            }
            NotRun::TimedOut => f.write_str("the run timed out before it could start"),
            NotRun::Cancelled => f.write_str("the run was cancelled before it could start"),
            NotRun::Blocked { job } => write!(
                f,
                "the run stopped when job `{job}` could not run, before this one could start"
            ),
            NotRun::RunEnded => f.write_str("the run ended before it could start"),
        }
    }
}

impl RunEvent<'_> {
    #[must_use]
    pub const fn kind(&self) -> Kind {
        match self {
            RunEvent::RunStarted { .. } => Kind::RunStarted,
            RunEvent::RunEnded { .. } => Kind::RunEnded,
            RunEvent::JobStarted { .. } => Kind::JobStarted,
            RunEvent::JobEnded { .. } => Kind::JobEnded,
            RunEvent::JobNotRun { .. } => Kind::JobNotRun,
            RunEvent::JobReused { .. } => Kind::JobReused,
            RunEvent::StrategyStarted { .. } => Kind::StrategyStarted,
            RunEvent::StrategyEnded { .. } => Kind::StrategyEnded,
            RunEvent::StrategyReused { .. } => Kind::StrategyReused,
            RunEvent::StrategyTaken { .. } => Kind::StrategyTaken,
            RunEvent::StageStarted { .. } => Kind::StageStarted,
            RunEvent::StageEnded { .. } => Kind::StageEnded,
            RunEvent::StageRetry { .. } => Kind::StageRetry,
            RunEvent::StageDryRun { .. } => Kind::StageDryRun,
            RunEvent::Line { .. } => Kind::Line,
        }
    }

    /// What subscribers ask for to get this event.
    const fn topic(&self) -> Interest {
        match self {
            RunEvent::Line { source, .. } => Interest::line(*source),
            other => Interest::kind(other.kind()),
        }
    }
}

/// An event as subscribers get it: which run, its place in the run's order, and
/// when.
#[derive(Clone, Debug, Serialize)]
pub struct Event<'a> {
    pub run: &'a str,
    /// Counts up within a run, from 0, over the events someone listened to:
    /// events that reach a subscriber from several threads can be put back in
    /// their order.
    pub seq: u64,
    #[serde(serialize_with = "rfc3339")]
    pub time: jiff::Timestamp,
    #[serde(flatten)]
    pub event: RunEvent<'a>,
}

/// A dry-run stage's fields as one object, `{field: text}`, in their order.
fn fields_object<S: serde::Serializer>(
    fields: &[(String, String)],
    to: S,
) -> Result<S::Ok, S::Error> {
    to.collect_map(fields.iter().map(|(k, v)| (k, v)))
}

fn rfc3339<S: serde::Serializer>(time: &jiff::Timestamp, to: S) -> Result<S::Ok, S::Error> {
    to.collect_str(&format_args!("{time:.6}"))
}

/// The bits of an [`Interest`]: one per kind below 16, one per source of lines
/// from 16 up.
const _: () = assert!(Kind::ALL.len() <= 16 && Source::ALL.len() <= 16);

/// The events a subscriber wants: a set of kinds, lines by their source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interest(u32);

impl Interest {
    pub const NONE: Interest = Interest(0);
    /// Every kind, every line.
    pub const ALL: Interest = Interest(u32::MAX);

    /// Events of `kind` (for [`Kind::Line`], lines of every source).
    #[must_use]
    pub const fn kind(kind: Kind) -> Interest {
        match kind {
            Kind::Line => Interest(((1 << Source::ALL.len()) - 1) << 16),
            other => Interest(1 << other as u32),
        }
    }

    /// Lines from `source`.
    #[must_use]
    pub const fn line(source: Source) -> Interest {
        Interest(1 << (16 + source as u32))
    }

    #[must_use]
    pub const fn with(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// Wants some of what `other` names.
    #[must_use]
    pub const fn meets(self, other: Interest) -> bool {
        self.0 & other.0 != 0
    }
}

/// One who listens to runs' events. It is called on the thread that emits, in
/// the order that thread emits (events of one run come from several threads:
/// see [`Event::seq`]); it should hand slow work (the disk, the terminal) to a
/// thread of its own.
pub trait Subscriber: Send + Sync {
    /// What it wants: asked once, when it joins a [`Bus`].
    fn interest(&self) -> Interest;

    fn on_event(&self, event: &Event<'_>);
}

/// The subscribers of a process's runs (a run and the runs it triggers share
/// one). Made before the first run; it does not change after.
#[derive(Default)]
pub struct Bus {
    subscribers: Vec<(Interest, Arc<dyn Subscriber>)>,
    /// What any subscriber wants.
    interest: Interest,
}

impl Bus {
    #[must_use]
    pub fn new(subscribers: impl IntoIterator<Item = Arc<dyn Subscriber>>) -> Bus {
        let subscribers: Vec<(Interest, Arc<dyn Subscriber>)> = subscribers
            .into_iter()
            .map(|s| (s.interest(), s))
            .filter(|(interest, _)| *interest != Interest::NONE)
            .collect();
        let interest = subscribers
            .iter()
            .fold(Interest::NONE, |all, (one, _)| all.with(*one));
        Bus {
            subscribers,
            interest,
        }
    }
}

/// The emitter of one run's events: the run's id, its bus, and its count of
/// events.
pub struct RunEvents {
    run: String,
    bus: Arc<Bus>,
    /// The bus's, at hand.
    interest: Interest,
    seq: AtomicU64,
}

impl RunEvents {
    #[must_use]
    pub fn new(bus: Arc<Bus>, run: &str) -> RunEvents {
        RunEvents {
            run: run.to_string(),
            interest: bus.interest,
            bus,
            seq: AtomicU64::new(0),
        }
    }

    /// Someone wants events of `kind` (what an emitter asks before it works out
    /// what only an event would show).
    #[inline]
    #[must_use]
    pub fn wants(&self, kind: Kind) -> bool {
        self.interest.meets(Interest::kind(kind))
    }

    /// Someone wants lines from `source`.
    #[inline]
    #[must_use]
    pub fn wants_line(&self, source: Source) -> bool {
        self.interest.meets(Interest::line(source))
    }

    /// Emits the event `make` gives, when someone wants events of its kind
    /// (`kind`, or its lines' `source`): `make` is not called otherwise.
    #[inline]
    pub fn emit<'e>(&self, topic: impl Into<Interest>, make: impl FnOnce() -> RunEvent<'e>) {
        let topic = topic.into();
        if self.interest.meets(topic) {
            let event = make();
            debug_assert!(topic.meets(event.topic()), "{event:?} emitted as {topic:?}");
            self.send(event);
        }
    }

    fn send(&self, event: RunEvent<'_>) {
        let topic = event.topic();
        let event = Event {
            run: &self.run,
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            time: jiff::Timestamp::now(),
            event,
        };
        for (interest, subscriber) in &self.bus.subscribers {
            if interest.meets(topic) {
                subscriber.on_event(&event);
            }
        }
    }

    /// Emits an `echo` line: its text is rendered only when someone reads it.
    /// When nobody does, the template is still evaluated for its errors (a
    /// template that fails fails its stage whether or not its line is read),
    /// without making the text: that is what [`crate::eval::check`] is for.
    pub(crate) fn echo<'p>(
        &self,
        at: impl FnOnce() -> &'p str,
        scope: &crate::eval::Scope<'_>,
        template: Option<&wfc_plan::expr::ast::Template>,
    ) -> Result<(), crate::eval::EvalError> {
        if self.wants_line(Source::Echo) {
            let text = match template {
                Some(template) => crate::eval::render_short(scope, template)?,
                None => crate::value::Str::const_new("..."),
            };
            self.send(RunEvent::Line {
                at: at(),
                source: Source::Echo,
                stream: None,
                text: &text,
            });
        } else if let Some(template) = template {
            crate::eval::check(scope, template)?;
        }
        Ok(())
    }
}

impl From<Kind> for Interest {
    fn from(kind: Kind) -> Interest {
        Interest::kind(kind)
    }
}

impl From<Source> for Interest {
    fn from(source: Source) -> Interest {
        Interest::line(source)
    }
}

/// The emitters of the runs going on in this process: for what knows only a
/// run's id (a line a Py stage's code prints comes through Python).
static LIVE: std::sync::Mutex<Vec<Arc<RunEvents>>> = std::sync::Mutex::new(Vec::new());

fn live_runs() -> std::sync::MutexGuard<'static, Vec<Arc<RunEvents>>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counts `events` among the live runs' until the guard is dropped.
#[must_use]
pub(crate) fn live(events: &Arc<RunEvents>) -> Live {
    live_runs().push(Arc::clone(events));
    Live(Arc::clone(events))
}

/// Keeps a run's emitter among the live ones.
pub(crate) struct Live(Arc<RunEvents>);

impl Drop for Live {
    fn drop(&mut self) {
        live_runs().retain(|e| !Arc::ptr_eq(e, &self.0));
    }
}

/// The emitter of the live run `run`.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub(crate) fn of_run(run: &str) -> Option<Arc<RunEvents>> {
    live_runs().iter().find(|e| e.run == run).cloned()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::{Bus, Event, Interest, Kind, RunEvent, RunEvents, Source, Stream, Subscriber};
    use crate::status::Status;

    /// Keeps what it gets, as JSON.
    struct Kept(Interest, Mutex<Vec<serde_json::Value>>);

    impl Subscriber for Kept {
        fn interest(&self) -> Interest {
            self.0
        }

        fn on_event(&self, event: &Event<'_>) {
            self.1
                .lock()
                .unwrap()
                .push(serde_json::to_value(event).unwrap());
        }
    }

    #[test]
    fn kinds_are_written_with_the_names_serde_reads() {
        for kind in Kind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
            assert_eq!(
                serde_json::from_value::<Kind>(kind.name().into()).unwrap(),
                kind
            );
        }
    }

    #[test]
    fn dry_run_fields_are_written_as_an_object_in_their_order() {
        let values = vec![
            ("script".to_string(), "echo hi".to_string()),
            ("env.B".to_string(), "2".to_string()),
            ("env.A".to_string(), "1".to_string()),
        ];
        let event = RunEvent::StageDryRun {
            at: "j",
            stage: "S",
            kind: "bash",
            values: &values,
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"event":"stage_dry_run","at":"j","stage":"S","kind":"bash","values":{"script":"echo hi","env.B":"2","env.A":"1"}}"#
        );
    }

    #[test]
    fn an_event_nobody_wants_is_never_made() {
        let events = RunEvents::new(Arc::new(Bus::default()), "r");
        events.emit(Kind::StageStarted, || unreachable!("made for nobody"));
        let kept = Arc::new(Kept(Interest::line(Source::Bash), Mutex::default()));
        let events = RunEvents::new(Arc::new(Bus::new([kept as Arc<dyn Subscriber>])), "r");
        assert!(events.wants_line(Source::Bash));
        assert!(!events.wants_line(Source::Echo) && !events.wants(Kind::JobEnded));
        events.emit(Source::Echo, || unreachable!("echo lines are not wanted"));
    }

    #[test]
    fn subscribers_get_what_they_asked_for_numbered_per_run() {
        let jobs = Arc::new(Kept(
            Interest::kind(Kind::JobStarted).with(Interest::kind(Kind::JobEnded)),
            Mutex::default(),
        ));
        let lines = Arc::new(Kept(Interest::kind(Kind::Line), Mutex::default()));
        let bus = Arc::new(Bus::new([
            Arc::clone(&jobs) as Arc<dyn Subscriber>,
            Arc::clone(&lines) as Arc<dyn Subscriber>,
        ]));
        let events = RunEvents::new(Arc::clone(&bus), "r1");
        events.emit(Kind::JobStarted, || RunEvent::JobStarted { job: "j" });
        events.emit(Source::Bash, || RunEvent::Line {
            at: "j",
            source: Source::Bash,
            stream: Some(Stream::Stderr),
            text: "hi",
        });
        RunEvents::new(bus, "r2").emit(Kind::JobStarted, || RunEvent::JobStarted { job: "k" });
        events.emit(Kind::JobEnded, || RunEvent::JobEnded {
            job: "j",
            status: Status::Success,
            error: None,
        });
        let jobs = jobs.1.lock().unwrap();
        let told: Vec<_> = jobs
            .iter()
            .map(|e| (e["run"].clone(), e["seq"].clone(), e["event"].clone()))
            .collect();
        assert_eq!(
            told,
            [
                ("r1".into(), 0.into(), "job_started".into()),
                ("r2".into(), 0.into(), "job_started".into()),
                ("r1".into(), 2.into(), "job_ended".into()),
            ]
        );
        assert_eq!(jobs[2]["status"], "SUCCESS");
        let lines = lines.1.lock().unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["source"], "bash");
        assert_eq!(lines[0]["stream"], "stderr");
        assert_eq!(lines[0]["text"], "hi");
        assert!(lines[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
}
