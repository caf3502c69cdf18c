//! Worker fleets on NATS JetStream: what the coordinator (`runner::workers`)
//! and the workers (`wfr worker`) agree on.
//!
//! * Jobs: the work-queue stream `WFR_JOBS`. A strategy to run is one message
//!   on `wfr.jobs.<labels>`, where `<labels>` is `any` or a hash of the sorted
//!   `k=v` labels it needs; every worker pulls from one durable consumer per
//!   subset of its labels (`any` included), shared with the workers that have
//!   the same subset, so a job goes to exactly one worker that has all its
//!   labels. A message id (`<run>.<unit>`) makes a second publish of the same
//!   unit (a resumed coordinator) a no-op within the duplicate window.
//! * Delivery is at-least-once: a worker heartbeats a job it holds (in-progress
//!   acks) and acks it once its result is stored; a job whose worker dies is
//!   delivered again after the ack wait, to any worker, as its next attempt.
//! * Results: the stream `WFR_RESULTS`, one message per finished unit on
//!   `wfr.res.<run>.<unit>`, kept a week: a coordinator that died finds them
//!   there (`wfr resume`). Events: core NATS on `wfr.ev.<run>.<unit>`, as they
//!   happen, each message a JSON list of them (a stage's events gathered for a
//!   few milliseconds; those still unsent when the unit ends go in its result);
//!   a coordinator that is gone misses them (the worker logs them too). A
//!   coordinator listens on one subscription per run, `wfr.*.<run>.*`.
//! * Plans: the KV bucket `wfr-plans`, by the hash of the plan file; workers
//!   keep the ones they fetched. (A KV bucket, not an object store: a plan is
//!   a few kilobytes, and after a cluster node's loss, reads from an object
//!   store timed out for half a minute on nats-server 2.9, while a KV get is
//!   answered by any replica.) Cancels: the KV bucket `wfr-cancel` (run id →
//!   why), watched by the workers, so a job taken after the cancel is not run.
//! * Runs: the KV bucket `wfr-runs` (run id → its manifest), for `wfr resume`.
//!
//! Credentials come from the URL (`nats://TOKEN@host:port`,
//! `nats://user:pass@host:port`) or `WFR_NATS_TOKEN`; they are never shown:
//! every message names the servers without them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::events::{Kind, RunEvent, RunEvents};
use crate::lock;
use crate::status::Status;
use crate::store::nats::{Address, DEFAULT_NAMESPACE, connect, key_value, replicas};
use crate::value::wire::{self, Wire};

pub(crate) const JOBS: &str = "WFR_JOBS";
pub(crate) const RESULTS: &str = "WFR_RESULTS";
pub(crate) const PLANS: &str = "wfr-plans";
pub(crate) const CANCELS: &str = "wfr-cancel";
pub(crate) const RUNS: &str = "wfr-runs";

/// How long connecting may take before the job fails (or the worker exits).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long setting up the streams and buckets may keep failing (a cluster
/// electing leaders) before the fleet is said to be unusable.
const SETUP_TIME: Duration = Duration::from_secs(30);
/// How many times a job is delivered before JetStream gives up on it (each
/// delivery after the first is a worker that died or returned it).
pub(crate) const MAX_DELIVER: i64 = 5;
/// How long results stay in `WFR_RESULTS`.
const RESULTS_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// The window in which a second publish of a unit is dropped.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Why the fleet cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("not a NATS URL: {why}")]
    Url { why: String },
    #[error("cannot reach NATS at {servers} within {} s: {error}", CONNECT_TIMEOUT.as_secs())]
    Unreachable { servers: String, error: String },
    #[error(
        "NATS at {servers} refused the credentials ({error}): give the fleet's token in the URL (nats://TOKEN@host:port), in WFR_NATS_TOKEN, or as the job's `token: ${{VAR}}`"
    )]
    Refused { servers: String, error: String },
    #[error("NATS at {servers}: {what}: {error}")]
    JetStream {
        servers: String,
        what: String,
        error: String,
    },
}

/// Where the fleet is and how to log in: a NATS URL read as the store on NATS
/// reads one ([`Address`]: `nats://TOKEN@h:p`, `nats://user:pass@h1:p,h2:p`),
/// `nats://` added when no scheme is written. A fleet's URL takes no
/// `/namespace` nor `?replicas=` (its streams' names are fixed, and they are
/// replicated as the cluster allows).
#[derive(Clone)]
pub struct Endpoint {
    /// The servers, without credentials: what messages show.
    pub servers: String,
    address: Address,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Parses `url`; `token` (a job's `with.token`, `WFR_NATS_TOKEN`) is used
    /// when the URL has no credentials.
    pub fn parse(url: &str, token: Option<String>) -> Result<Endpoint, FleetError> {
        let url = url.trim();
        let with_scheme = if url.contains("://") {
            url.to_string()
        } else {
            format!("nats://{url}")
        };
        let address = Address::parse(&with_scheme, token.as_deref())
            .map_err(|why| FleetError::Url { why })?;
        if address.namespace != DEFAULT_NAMESPACE || address.replicas.is_some() {
            return Err(FleetError::Url {
                why: "a fleet's URL takes no /namespace nor ?replicas= (those are the store's)"
                    .into(),
            });
        }
        Ok(Endpoint {
            servers: address.shown(),
            address,
        })
    }

    /// Connects, or says why not within [`CONNECT_TIMEOUT`].
    pub(crate) async fn connect(&self, name: &str) -> Result<async_nats::Client, FleetError> {
        let unreachable = |error: String| FleetError::Unreachable {
            servers: self.servers.clone(),
            error,
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connect(&self.address, name)).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) if e.kind() == async_nats::ConnectErrorKind::AuthorizationViolation => {
                Err(FleetError::Refused {
                    servers: self.servers.clone(),
                    error: e.to_string(),
                })
            }
            Ok(Err(e)) => Err(unreachable(e.to_string())),
            Err(_) => Err(unreachable("no answer".to_string())),
        }
    }

    pub(crate) fn error(
        &self,
        what: impl Into<String>,
        error: impl std::fmt::Display,
    ) -> FleetError {
        FleetError::JetStream {
            servers: self.servers.clone(),
            what: what.into(),
            error: error.to_string(),
        }
    }
}

/// The process's async runtime for NATS: one thread drives it; other threads
/// wait on futures with [`block_on`].
fn runtime() -> &'static tokio::runtime::Handle {
    static HANDLE: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("wfr-nats".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                let _ = tx.send(runtime.handle().clone());
                runtime.block_on(std::future::pending::<()>());
            })
            .ok();
        match rx.recv() {
            Ok(handle) => handle,
            // No thread, no runtime: nothing can go on.
            Err(_) => std::process::abort(),
        }
    })
}

/// Ticks every `period`, the first a period from now. (Not
/// `tokio::time::interval` and its first tick: that tick is "now", which
/// the timer rounds up to its next millisecond, so awaiting it put up to a
/// millisecond and more into every job's trip.)
pub(crate) fn ticks(period: Duration) -> tokio::time::Interval {
    tokio::time::interval_at(tokio::time::Instant::now() + period, period)
}

/// Waits for `future` on the NATS runtime, from a thread that is not one of
/// its own.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

/// JetStream with the fleet's streams, buckets and consumers in place.
pub(crate) struct Fleet {
    pub endpoint: Endpoint,
    pub client: async_nats::Client,
    pub js: async_nats::jetstream::Context,
    /// The job queue (a work-queue stream).
    pub jobs: async_nats::jetstream::stream::Stream,
    /// The results stream.
    pub results: async_nats::jetstream::stream::Stream,
    pub plans: async_nats::jetstream::kv::Store,
    pub cancels: async_nats::jetstream::kv::Store,
    pub runs: async_nats::jetstream::kv::Store,
    /// A coordinator's subscriptions: see [`Fleet::listen`].
    listening: Listening,
}

impl Fleet {
    /// Connects and makes sure the streams and buckets exist (replicated
    /// `replicas` ways: 3 on a cluster).
    pub(crate) async fn open(endpoint: &Endpoint, name: &str) -> Result<Fleet, FleetError> {
        let client = endpoint.connect(name).await?;
        // A cluster that lost a node elects new leaders for a few seconds, and
        // JetStream's requests time out meanwhile: tried again until
        // SETUP_TIME has passed.
        let deadline = tokio::time::Instant::now() + SETUP_TIME;
        loop {
            // Boxed: the streams' and buckets' handles make a large future.
            match Box::pin(Self::set_up(endpoint, client.clone())).await {
                Ok(fleet) => return Ok(fleet),
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    async fn set_up(endpoint: &Endpoint, client: async_nats::Client) -> Result<Fleet, FleetError> {
        use async_nats::jetstream::{self, stream};
        let js = jetstream::new(client.clone());
        let replicas = replicas(&client);
        let e = |what: &str, err: &dyn std::fmt::Display| endpoint.error(what, err);
        let jobs = js
            .get_or_create_stream(stream::Config {
                name: JOBS.into(),
                subjects: vec!["wfr.jobs.>".into()],
                retention: stream::RetentionPolicy::WorkQueue,
                num_replicas: replicas,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(|x| e("cannot set up the job queue (stream WFR_JOBS)", &x))?;
        let results = js
            .get_or_create_stream(stream::Config {
                name: RESULTS.into(),
                subjects: vec!["wfr.res.>".into()],
                max_age: RESULTS_AGE,
                num_replicas: replicas,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(|x| e("cannot set up the results (stream WFR_RESULTS)", &x))?;
        let plans = key_value(&js, PLANS, "wfr: plans by hash", replicas, RESULTS_AGE)
            .await
            .map_err(|x| e("cannot set up the plan store", &x))?;
        let cancels = key_value(&js, CANCELS, "wfr: cancelled runs", replicas, RESULTS_AGE)
            .await
            .map_err(|x| e("cannot set up the cancel bucket", &x))?;
        let runs = key_value(&js, RUNS, "wfr: runs on the fleet", replicas, RESULTS_AGE)
            .await
            .map_err(|x| e("cannot set up the run bucket", &x))?;
        Ok(Fleet {
            endpoint: endpoint.clone(),
            client,
            js,
            jobs,
            results,
            plans,
            cancels,
            runs,
            listening: Listening::default(),
        })
    }
}

/// The subject part for a set of labels: `any`, or a hash of `k=v` sorted.
#[must_use]
pub fn labels_key(labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return "any".to_string();
    }
    let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.dedup();
    format!("l{}", wfc_plan::ids::hash_id(&pairs.join(",")))
}

/// Every subset of `labels` (the empty one included): the job subjects a
/// worker with these labels serves.
#[must_use]
pub fn label_subsets(labels: &[(String, String)]) -> Vec<String> {
    let n = labels.len().min(MAX_LABELS);
    let mut keys: Vec<String> = (0..1usize << n)
        .map(|mask| {
            let subset: Vec<(String, String)> = (0..n)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| labels[i].clone())
                .collect();
            labels_key(&subset)
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// How many labels a worker may have (it pulls from 2^n consumers).
pub const MAX_LABELS: usize = 6;

/// Parses `k=v,k2=v2`.
pub fn parse_labels(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut labels = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(format!("label `{pair}` is not key=value"));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            return Err(format!(
                "label key `{k}` must be letters, digits, `_`, `-` or `.`"
            ));
        }
        labels.push((k.to_string(), v.to_string()));
    }
    if labels.len() > MAX_LABELS {
        return Err(format!(
            "{} labels given; a worker has at most {MAX_LABELS}",
            labels.len()
        ));
    }
    Ok(labels)
}

/// A subject token for any text: itself when it is safe, else a hash.
#[must_use]
pub fn token(text: &str) -> String {
    if !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        text.to_string()
    } else {
        format!("h{}", wfc_plan::ids::hash_id(text))
    }
}

/// A strategy to run, as the coordinator sends it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct JobMsg {
    pub run_id: String,
    /// `<job token>-<strategy token>`: with the run id, names the unit.
    pub unit: String,
    pub workflow: String,
    /// The plan file's hash in the plan store.
    pub plan: String,
    /// Plans of the workflows its trigger stages may start: name → hash.
    pub children: Vec<(String, String)>,
    pub job: String,
    pub strategy: String,
    /// Where its stages run, for logs (`job` or `job/strategy`).
    pub at: String,
    pub matrix: Vec<(String, Wire)>,
    pub params: Vec<(String, Wire)>,
    /// The needed jobs' entries.
    pub jobs: Vec<(String, Wire)>,
    pub parent_run_id: Option<String>,
    pub dry_run: bool,
    pub default_ids: bool,
    pub source: String,
}

/// How a unit ended, as the worker sends it back.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ResultMsg {
    pub worker: String,
    pub attempt: u64,
    /// `stages.<id>` entries.
    pub stages: Vec<(String, Wire)>,
    pub status: String,
    /// Why the list stopped: `cancelled_before`, `failed:<stage>`, `cancelled`.
    pub stop: Option<String>,
    /// The unit's last events ([`EventMsg`]s), not sent on their own: told
    /// before the result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Box<serde_json::value::RawValue>>,
}

/// A run event from a worker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EventMsg {
    pub worker: String,
    pub attempt: u64,
    pub run: String,
    pub event: RemoteEvent,
}

/// The events a strategy's stages emit, owned, for the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum RemoteEvent {
    /// The worker took the unit (the coordinator tells of the attempt).
    Taken,
    StageStarted {
        at: String,
        stage: String,
        kind: String,
    },
    StageEnded {
        at: String,
        stage: String,
        status: String,
        seconds: f64,
        outputs: Option<Vec<(String, Wire)>>,
        error: Option<Wire>,
    },
    StageRetry {
        at: String,
        attempt: u32,
    },
    StageDryRun {
        at: String,
        stage: String,
        kind: String,
        values: Vec<(String, String)>,
    },
    Line {
        at: String,
        source: crate::events::Source,
        stream: Option<crate::events::Stream>,
        text: String,
    },
}

impl RemoteEvent {
    /// The wire form of a stage event a worker sends; none for the events
    /// that do not go back (the unit's own job and strategy events, which the
    /// coordinator makes).
    pub(crate) fn of(event: &RunEvent<'_>) -> Option<RemoteEvent> {
        Some(match event {
            RunEvent::StageStarted { at, stage, kind } => RemoteEvent::StageStarted {
                at: (*at).to_string(),
                stage: (*stage).to_string(),
                kind: (*kind).to_string(),
            },
            RunEvent::StageEnded {
                at,
                stage,
                status,
                seconds,
                outputs,
                error,
            } => RemoteEvent::StageEnded {
                at: (*at).to_string(),
                stage: (*stage).to_string(),
                status: status.as_str().to_string(),
                seconds: *seconds,
                outputs: outputs.map(wire::map_of),
                error: error.map(Wire::of),
            },
            RunEvent::StageRetry { at, attempt } => RemoteEvent::StageRetry {
                at: (*at).to_string(),
                attempt: *attempt,
            },
            RunEvent::StageDryRun {
                at,
                stage,
                kind,
                values,
            } => RemoteEvent::StageDryRun {
                at: (*at).to_string(),
                stage: (*stage).to_string(),
                kind: (*kind).to_string(),
                values: values.to_vec(),
            },
            RunEvent::Line {
                at,
                source,
                stream,
                text,
            } => RemoteEvent::Line {
                at: (*at).to_string(),
                source: *source,
                stream: *stream,
                text: (*text).to_string(),
            },
            _ => return None,
        })
    }

    /// Tells this event of a unit (`job`'s strategy `strategy`, at
    /// `strategy_at`) that `worker` ran, as attempt `attempt`, to a run's
    /// listeners, as if it happened here.
    pub(crate) fn tell(
        &self,
        events: &RunEvents,
        job: &str,
        strategy: &str,
        strategy_at: &str,
        worker: &str,
        attempt: u64,
    ) {
        let map =
            |entries: &Option<Vec<(String, Wire)>>| entries.clone().and_then(|e| wire::map(e).ok());
        match self {
            RemoteEvent::Taken => events.emit(Kind::StrategyTaken, || RunEvent::StrategyTaken {
                job,
                strategy,
                at: strategy_at,
                worker,
                attempt,
            }),
            RemoteEvent::StageStarted { at, stage, kind } => {
                events.emit(Kind::StageStarted, || RunEvent::StageStarted {
                    at,
                    stage,
                    kind: kind_name(kind),
                });
            }
            RemoteEvent::StageEnded {
                at,
                stage,
                status,
                seconds,
                outputs,
                error,
            } => {
                let outputs = map(outputs);
                let error = error.clone().and_then(|e| e.into_value().ok());
                events.emit(Kind::StageEnded, || RunEvent::StageEnded {
                    at,
                    stage,
                    status: Status::parse(status).unwrap_or(Status::Failed),
                    seconds: *seconds,
                    outputs: outputs.as_ref(),
                    error: error.as_ref(),
                });
            }
            RemoteEvent::StageRetry { at, attempt } => {
                events.emit(Kind::StageRetry, || RunEvent::StageRetry {
                    at,
                    attempt: *attempt,
                });
            }
            RemoteEvent::StageDryRun {
                at,
                stage,
                kind,
                values,
            } => events.emit(Kind::StageDryRun, || RunEvent::StageDryRun {
                at,
                stage,
                kind: kind_name(kind),
                values,
            }),
            RemoteEvent::Line {
                at,
                source,
                stream,
                text,
            } => events.emit(*source, || RunEvent::Line {
                at,
                source: *source,
                stream: *stream,
                text,
            }),
        }
    }
}

/// A stage kind's name as the events hold it (`'static`).
fn kind_name(name: &str) -> &'static str {
    wfc_plan::kind::Kind::ALL
        .iter()
        .find(|k| k.name() == name)
        .map_or("stage", |k| k.name())
}

/// The manifest of a run whose jobs went to the fleet, for `wfr resume`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RunManifest {
    pub workflow: String,
    pub plan: String,
    pub params: Vec<(String, Wire)>,
    /// The run sent every job to the fleet (`--workers`).
    #[serde(default)]
    pub every_job: bool,
}

/// The events in a message on `wfr.ev.<run>.<unit>`: a list of them (or one).
pub(crate) fn events_of(payload: &[u8]) -> Vec<EventMsg> {
    serde_json::from_slice::<Vec<EventMsg>>(payload)
        .or_else(|_| serde_json::from_slice::<EventMsg>(payload).map(|one| vec![one]))
        .unwrap_or_default()
}

/// What a unit's worker says, as its coordinator hears it: a message on
/// `wfr.ev.<run>.<unit>` or on `wfr.res.<run>.<unit>`.
pub(crate) enum Said {
    Events(async_nats::Message),
    Result(async_nats::Message),
}

/// How long a run's subscription outlives its last waiting strategy (the
/// run's next job usually comes sooner, and reuses it).
const QUIET: Duration = Duration::from_secs(30);

/// A coordinator's subscriptions: one per run (`wfr.*.<run>.*`, its units'
/// events and results), shared by the strategies waiting on it and dropped
/// once the run has been quiet for [`QUIET`]; one per process for JetStream's
/// advisories of jobs delivered too many times. (A subscription per strategy
/// cost the server six more operations per job.)
#[derive(Default)]
struct Listening {
    runs: Arc<Mutex<HashMap<String, Arc<Ears>>>>,
    gave_up: tokio::sync::OnceCell<tokio::sync::broadcast::Sender<u64>>,
}

/// A run's subscription's listeners, by unit.
#[derive(Default)]
struct Ears {
    state: Mutex<EarsState>,
}

#[derive(Default)]
struct EarsState {
    units: HashMap<String, tokio::sync::mpsc::UnboundedSender<Said>>,
    /// When the last unit stopped listening.
    quiet_since: Option<tokio::time::Instant>,
    /// The subscription is gone: a new one is needed.
    closed: bool,
}

/// What one unit's worker says, until it is dropped.
pub(crate) struct UnitInbox {
    said: tokio::sync::mpsc::UnboundedReceiver<Said>,
    ears: Arc<Ears>,
    unit: String,
}

impl UnitInbox {
    pub(crate) async fn next(&mut self) -> Option<Said> {
        self.said.recv().await
    }
}

impl Drop for UnitInbox {
    fn drop(&mut self) {
        let mut state = lock(&self.ears.state);
        state.units.remove(&self.unit);
        if state.units.is_empty() {
            state.quiet_since = Some(tokio::time::Instant::now());
        }
    }
}

impl Fleet {
    /// Listens to what the worker of `unit` (of the run whose subject token
    /// is `run_key`) says. Messages sent after this returns are not missed:
    /// the subscription is made (or was) on this connection before anything
    /// this coordinator publishes next.
    pub(crate) async fn listen(
        &self,
        run_key: &str,
        unit: &str,
    ) -> Result<UnitInbox, async_nats::SubscribeError> {
        let (tx, said) = tokio::sync::mpsc::unbounded_channel();
        loop {
            let existing = lock(&self.listening.runs).get(run_key).cloned();
            if let Some(ears) = existing {
                let mut state = lock(&ears.state);
                if !state.closed {
                    state.units.insert(unit.to_string(), tx);
                    state.quiet_since = None;
                    drop(state);
                    return Ok(UnitInbox {
                        said,
                        ears,
                        unit: unit.to_string(),
                    });
                }
                drop(state);
                let mut runs = lock(&self.listening.runs);
                if runs.get(run_key).is_some_and(|e| Arc::ptr_eq(e, &ears)) {
                    runs.remove(run_key);
                }
                continue;
            }
            let subscription = self.client.subscribe(format!("wfr.*.{run_key}.*")).await?;
            let ears = Arc::new(Ears::default());
            {
                let mut runs = lock(&self.listening.runs);
                if runs.contains_key(run_key) {
                    // Another strategy of the run subscribed meanwhile.
                    continue;
                }
                runs.insert(run_key.to_string(), Arc::clone(&ears));
            }
            tokio::spawn(route(
                subscription,
                ears,
                Arc::clone(&self.listening.runs),
                run_key.to_string(),
            ));
        }
    }

    /// The stream sequences of jobs JetStream gave up on (delivered
    /// [`MAX_DELIVER`] times), from now on.
    pub(crate) async fn gave_up(
        &self,
    ) -> Result<tokio::sync::broadcast::Receiver<u64>, async_nats::SubscribeError> {
        let sender = self
            .listening
            .gave_up
            .get_or_try_init(|| async {
                let mut advisories = self
                    .client
                    .subscribe(format!(
                        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{JOBS}.>"
                    ))
                    .await?;
                let (sender, _) = tokio::sync::broadcast::channel(64);
                let tell = sender.clone();
                tokio::spawn(async move {
                    use futures_util::StreamExt as _;
                    while let Some(msg) = advisories.next().await {
                        let advisory: serde_json::Value =
                            serde_json::from_slice(&msg.payload).unwrap_or_default();
                        if let Some(seq) = advisory
                            .get("stream_seq")
                            .and_then(serde_json::Value::as_u64)
                        {
                            let _ = tell.send(seq);
                        }
                    }
                });
                Ok::<_, async_nats::SubscribeError>(sender)
            })
            .await?;
        Ok(sender.subscribe())
    }
}

/// Passes a run's messages to the units listening; ends the subscription
/// once none has listened for [`QUIET`].
async fn route(
    mut subscription: async_nats::Subscriber,
    ears: Arc<Ears>,
    runs: Arc<Mutex<HashMap<String, Arc<Ears>>>>,
    run_key: String,
) {
    use futures_util::StreamExt as _;
    let mut tick = ticks(QUIET);
    loop {
        tokio::select! {
            msg = subscription.next() => {
                let Some(msg) = msg else { break };
                // wfr.<ev|res>.<run>.<unit>
                let mut parts = msg.subject.split('.').skip(1);
                let (Some(kind), Some(unit)) = (parts.next(), parts.nth(1)) else {
                    continue;
                };
                let (events, unit) = (kind == "ev", unit.to_string());
                if !events && kind != "res" {
                    continue;
                }
                let said = if events { Said::Events(msg) } else { Said::Result(msg) };
                if let Some(tx) = lock(&ears.state).units.get(&unit) {
                    let _ = tx.send(said);
                }
            }
            _ = tick.tick() => {
                let state = lock(&ears.state);
                if state.units.is_empty()
                    && state.quiet_since.is_some_and(|t| t.elapsed() >= QUIET)
                {
                    break;
                }
            }
        }
    }
    // Closed first (a unit that finds it closed subscribes anew), then
    // forgotten; the subscription ends when dropped.
    let mut runs = lock(&runs);
    let mut state = lock(&ears.state);
    state.closed = true;
    state.units.clear();
    drop(state);
    if runs.get(&run_key).is_some_and(|e| Arc::ptr_eq(e, &ears)) {
        runs.remove(&run_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_url_and_are_never_shown() {
        use crate::store::nats::Credentials;
        let e = Endpoint::parse("nats://s3cret@127.0.0.1:4222", None).unwrap();
        assert_eq!(e.servers, "nats://127.0.0.1:4222");
        assert!(e.address.credentials == Credentials::Token("s3cret".into()));
        assert!(!format!("{e:?}").contains("s3cret"));
        let e = Endpoint::parse("nats://me:p%40ss@h:1,nats://h2:2", None).unwrap();
        assert_eq!(e.servers, "nats://h:1,nats://h2:2");
        assert!(
            e.address.credentials
                == Credentials::User {
                    user: "me".into(),
                    password: "p@ss".into()
                }
        );
        // No scheme: nats://; the token from the environment.
        let e = Endpoint::parse("127.0.0.1:4222", Some("t".into())).unwrap();
        assert_eq!(e.servers, "nats://127.0.0.1:4222");
        assert!(e.address.credentials == Credentials::Token("t".into()));
        for bad in [
            "http://tok@h:1",
            "nats://tok@h:1/ns",
            "nats://tok@h:1?replicas=3",
        ] {
            let err = Endpoint::parse(bad, None).unwrap_err().to_string();
            assert!(!err.contains("tok"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_worker_serves_every_subset_of_its_labels() {
        let labels = parse_labels("os=linux, gpu=yes").unwrap();
        let subsets = label_subsets(&labels);
        assert_eq!(subsets.len(), 4);
        assert!(subsets.contains(&"any".to_string()));
        let gpu = vec![("gpu".to_string(), "yes".to_string())];
        assert!(subsets.contains(&labels_key(&gpu)));
        let both_reversed = vec![labels[1].clone(), labels[0].clone()];
        assert!(subsets.contains(&labels_key(&both_reversed)));
        let other = vec![("gpu".to_string(), "no".to_string())];
        assert!(!subsets.contains(&labels_key(&other)));
        assert!(parse_labels("nokey").is_err());
        assert!(parse_labels("a=1,b=2,c=3,d=4,e=5,f=6,g=7").is_err());
    }

    #[test]
    fn unsafe_subject_text_is_hashed() {
        assert_eq!(token("build-1_a"), "build-1_a");
        assert!(token("a.b").starts_with('h'));
        assert!(token("a b>").starts_with('h'));
        assert_ne!(token("a.b"), token("a.c"));
    }
}
