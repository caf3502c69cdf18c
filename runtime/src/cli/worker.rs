//! `wfr worker`: a worker of a fleet on NATS JetStream. It pulls strategies of
//! `self_hosted` jobs from the job queue (those its labels allow), runs each
//! with the same VM as `wfr run`, heartbeats while it runs, publishes the
//! stages' events and the result, and obeys cancels. SIGTERM (or Ctrl-C)
//! stops it gracefully: it takes no new job, lets the ones it holds finish for
//! `--grace` seconds, then stops those and returns them to the queue, where
//! another worker takes them. The protocol is in [`crate::fleet`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use clap::Args;
use futures_util::StreamExt as _;
use wfc_plan::Plan;

use super::{Done, Error};
use crate::cancel::Cancel;
use crate::events::{self, Event, Interest, Kind, Source};
use crate::executor::{ListResult, Stop};
use crate::fleet::{self, Endpoint, EventMsg, Fleet, FleetError, JobMsg, RemoteEvent, ResultMsg};
use crate::plans::PlanStore;
use crate::pool::Pool;
use crate::value::wire::{self, Wire};
use crate::vm::{self, Engine};

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// The fleet's NATS servers: `nats://[TOKEN@]host:port[,nats://…]` or
    /// `nats://user:pass@host:port` (default: $WFR_NATS_URL; a token also from
    /// $WFR_NATS_TOKEN).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,

    /// The worker's name, in the run's log and as $WFR_WORKER in its stages'
    /// environment (default: HOSTNAME-PID).
    #[arg(long)]
    name: Option<String>,

    /// Its labels: a job whose `labels` are all among them may come here.
    #[arg(long, value_name = "K=V,…", default_value = "")]
    labels: String,

    /// How many strategies it runs at once.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    slots: u16,

    /// Seconds a job may go without a heartbeat before JetStream gives it to
    /// another worker. Set when the fleet's consumer is first made; the fleet's
    /// first worker decides it.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    ack_wait: f64,

    /// Seconds a SIGTERM lets held jobs finish before they are stopped and
    /// returned to the queue.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    grace: f64,
}

/// Numbers the units a worker runs.
static NEXT_UNIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The environment variable that names the worker to its stages.
const WORKER_VAR: &str = "WFR_WORKER";

pub(crate) fn worker(args: &WorkerArgs) -> Result<Done, Error> {
    let url = fleet_url(args.nats.as_deref())?;
    let endpoint = Endpoint::parse(&url, std::env::var("WFR_NATS_TOKEN").ok())
        .map_err(|e| Error::Usage(e.to_string()))?;
    let labels =
        fleet::parse_labels(&args.labels).map_err(|e| Error::Usage(format!("--labels: {e}")))?;
    if !(args.ack_wait >= 1.0 && args.ack_wait <= 3600.0) {
        return Err(Error::Usage("--ack-wait must be 1 to 3600 seconds".into()));
    }
    if !(args.grace >= 0.0 && args.grace <= 86_400.0) {
        return Err(Error::Usage("--grace must be 0 to 86400 seconds".into()));
    }
    let name = args.name.clone().unwrap_or_else(|| {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "worker".into());
        format!("{host}-{}", std::process::id())
    });
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(Error::Usage(
            "--name must be 1 to 128 characters, none of them control characters".into(),
        ));
    }
    // Stages see the worker's name in their environment; the process becomes
    // itself (or `wfr-python`, which runs any stage) with it set.
    if std::env::var(WORKER_VAR).ok().as_deref() != Some(name.as_str()) {
        return Err(become_worker(&name));
    }
    // Stage processes stay below the worker, and a guard process kills them if
    // the worker is killed (as for `wfr run`).
    crate::process::init();
    let stopping = Arc::new(AtomicBool::new(false));
    let stop_now = Arc::new(tokio::sync::Notify::new());
    watch_signals(&stopping, &stop_now);
    let state = Arc::new(Worker {
        name: name.clone(),
        pool: Pool::for_this_machine(),
        plans: Mutex::new(HashMap::new()),
        running: Mutex::new(HashMap::new()),
        cancelled: Mutex::new(std::collections::HashSet::new()),
        held: AtomicUsize::new(0),
        returning: AtomicBool::new(false),
        idle: tokio::sync::Notify::new(),
    });
    let ack_wait = Duration::from_secs_f64(args.ack_wait);
    let grace = Duration::from_secs_f64(args.grace);
    let slots = usize::from(args.slots);
    let result = fleet::block_on(serve(
        Arc::clone(&state),
        endpoint,
        labels,
        slots,
        ack_wait,
        grace,
        stopping,
        stop_now,
    ));
    state.pool.shutdown();
    let _ = crate::process::sweep(true);
    crate::guard::dismiss();
    crate::owner::remove_scratch_root();
    match result {
        Ok(()) => Ok(Done::Success),
        Err(e) => Err(Error::Usage(e.to_string())),
    }
}

/// Execs this program (or `wfr-python` beside it) with `WFR_WORKER` set.
fn become_worker(name: &str) -> Error {
    use std::os::unix::process::CommandExt as _;
    let me = match std::env::current_exe() {
        Ok(me) => me,
        Err(e) => return Error::Usage(format!("wfr worker cannot find its own program: {e}")),
    };
    #[cfg(not(feature = "python"))]
    let program = {
        let python = me.with_file_name(crate::handoff::PYTHON_BINARY);
        if python.is_file() { python } else { me }
    };
    #[cfg(feature = "python")]
    let program = me;
    let error = std::process::Command::new(&program)
        .args(std::env::args_os().skip(1))
        .env(WORKER_VAR, name)
        .exec();
    Error::Usage(format!(
        "wfr worker cannot start {}: {error}",
        program.display()
    ))
}

fn watch_signals(stopping: &Arc<AtomicBool>, stop_now: &Arc<tokio::sync::Notify>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let (stopping, stop_now) = (Arc::clone(stopping), Arc::clone(stop_now));
    std::thread::spawn(move || {
        for _ in signals.forever() {
            stopping.store(true, Ordering::SeqCst);
            stop_now.notify_waiters();
            stop_now.notify_one();
        }
    });
}

/// What the worker's tasks share.
struct Worker {
    name: String,
    pool: Pool,
    /// Plans fetched, by hash.
    plans: Mutex<HashMap<String, Arc<Plan>>>,
    /// The cancel tokens of the units running, by run (and a number of
    /// their own).
    running: Mutex<HashMap<String, Vec<(u64, Cancel)>>>,
    /// The runs cancelled (the cancel bucket's keys, as the watch tells them).
    cancelled: Mutex<std::collections::HashSet<String>>,
    /// Jobs held (taken and not yet acked or returned).
    held: AtomicUsize,
    /// Stopping after the grace period: held jobs go back to the queue.
    returning: AtomicBool,
    /// Told when a held job is let go.
    idle: tokio::sync::Notify,
}

impl Worker {
    fn is_cancelled(&self, run_key: &str) -> bool {
        self.cancelled
            .lock()
            .is_ok_and(|cancelled| cancelled.contains(run_key))
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    state: Arc<Worker>,
    endpoint: Endpoint,
    labels: Vec<(String, String)>,
    slots: usize,
    mut ack_wait: Duration,
    grace: Duration,
    stopping: Arc<AtomicBool>,
    stop_now: Arc<tokio::sync::Notify>,
) -> Result<(), FleetError> {
    let fleet = Arc::new(Fleet::open(&endpoint, &format!("wfr worker {}", state.name)).await?);
    // The queue as set up above: asking the server for it again could fail
    // on a cluster whose node this client talks to does not know it yet.
    let stream = &fleet.jobs;
    let mut consumers = Vec::new();
    for key in fleet::label_subsets(&labels) {
        let name = format!("wfr-{key}");
        let consumer: async_nats::jetstream::consumer::Consumer<pull::Config> = stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: format!("wfr.jobs.{key}"),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait,
                    max_deliver: fleet::MAX_DELIVER,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| endpoint.error(format!("cannot open the job consumer {name}"), e))?;
        // The consumer's ack wait is the fleet's first worker's: heartbeats
        // keep to the one in force.
        ack_wait = ack_wait.min(consumer.cached_info().config.ack_wait);
        consumers.push(consumer);
    }
    // Cancels: a run whose key appears is stopped here.
    let mut watch = fleet
        .cancels
        .watch_all()
        .await
        .map_err(|e| endpoint.error("cannot watch the cancel bucket", e))?;
    let watcher = {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            while let Some(Ok(entry)) = watch.next().await {
                if let Ok(mut cancelled) = state.cancelled.lock() {
                    cancelled.insert(entry.key.clone());
                }
                let running = state
                    .running
                    .lock()
                    .ok()
                    .and_then(|r| r.get(&entry.key).cloned());
                for (_, cancel) in running.into_iter().flatten() {
                    cancel.cancel();
                }
            }
        })
    };
    wfc_plan::errln!(
        "wfr worker {}: serving {} with {slots} slot(s), heartbeats every {:.1} s{}",
        state.name,
        endpoint.servers,
        (ack_wait / 3).as_secs_f64(),
        if labels.is_empty() {
            String::new()
        } else {
            format!(
                ", labels {}",
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
    );
    let slots = Arc::new(tokio::sync::Semaphore::new(slots));
    let heartbeat = ack_wait / 3;
    let mut pullers = Vec::new();
    for consumer in consumers {
        let (state, fleet, slots, stopping) = (
            Arc::clone(&state),
            Arc::clone(&fleet),
            Arc::clone(&slots),
            Arc::clone(&stopping),
        );
        pullers.push(tokio::spawn(async move {
            while !stopping.load(Ordering::SeqCst) {
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                    break;
                };
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let batch = consumer
                    .fetch()
                    .max_messages(1)
                    .expires(Duration::from_secs(1))
                    .messages()
                    .await;
                let Ok(mut batch) = batch else {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                };
                let mut got = None;
                while let Some(msg) = batch.next().await {
                    if let Ok(msg) = msg {
                        got = Some(msg);
                    }
                }
                let Some(msg) = got else { continue };
                state.held.fetch_add(1, Ordering::SeqCst);
                let (state, fleet) = (Arc::clone(&state), Arc::clone(&fleet));
                tokio::spawn(async move {
                    take(&state, &fleet, msg, heartbeat).await;
                    drop(permit);
                    state.held.fetch_sub(1, Ordering::SeqCst);
                    state.idle.notify_waiters();
                });
            }
        }));
    }
    // Until a signal.
    while !stopping.load(Ordering::SeqCst) {
        stop_now.notified().await;
    }
    wfc_plan::errln!(
        "wfr worker {}: stopping: no new job; {} held job(s) get {} s to finish",
        state.name,
        state.held.load(Ordering::SeqCst),
        grace.as_secs_f64()
    );
    for puller in &pullers {
        puller.abort();
    }
    let deadline = tokio::time::Instant::now() + grace;
    while state.held.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
        let _ = tokio::time::timeout_at(deadline, state.idle.notified()).await;
    }
    if state.held.load(Ordering::SeqCst) > 0 {
        wfc_plan::errln!(
            "wfr worker {}: returning {} job(s) to the queue",
            state.name,
            state.held.load(Ordering::SeqCst)
        );
        state.returning.store(true, Ordering::SeqCst);
        let running: Vec<Cancel> = state
            .running
            .lock()
            .map(|r| r.values().flatten().map(|(_, c)| c.clone()).collect())
            .unwrap_or_default();
        for cancel in running {
            cancel.cancel();
        }
        while state.held.load(Ordering::SeqCst) > 0 {
            let _ = tokio::time::timeout(Duration::from_millis(200), state.idle.notified()).await;
        }
    }
    watcher.abort();
    let _ = fleet.client.flush().await;
    wfc_plan::errln!("wfr worker {}: stopped", state.name);
    Ok(())
}

/// Handles one delivered job: runs it (or not: cancelled, done already) and
/// acks it once its result is stored; returns it to the queue when the worker
/// stops first.
async fn take(
    state: &Arc<Worker>,
    fleet: &Arc<Fleet>,
    msg: async_nats::jetstream::Message,
    heartbeat: Duration,
) {
    let attempt = msg
        .info()
        .ok()
        .and_then(|i| u64::try_from(i.delivered).ok())
        .unwrap_or(1);
    let job: JobMsg = match serde_json::from_slice(&msg.payload) {
        Ok(job) => job,
        Err(e) => {
            wfc_plan::errln!(
                "wfr worker {}: dropped a job that is not one: {e}",
                state.name
            );
            let _ = msg.ack_with(AckKind::Term).await;
            return;
        }
    };
    let run_key = fleet::token(&job.run_id);
    let result_subject = format!("wfr.res.{run_key}.{}", job.unit);
    let events_subject = format!("wfr.ev.{run_key}.{}", job.unit);
    // Done by an earlier attempt that died before its ack: not run twice. (A
    // first delivery has no earlier attempt: the coordinator publishes a unit
    // once, and JetStream drops a second publish of it.)
    if attempt > 1
        && fleet
            .results
            .get_last_raw_message_by_subject(&result_subject)
            .await
            .is_ok()
    {
        let _ = msg.ack().await;
        return;
    }
    let cancelled = state.is_cancelled(&run_key);
    wfc_plan::errln!(
        "wfr worker {}: took {} {} (attempt {attempt}){}",
        state.name,
        job.run_id,
        job.at,
        if cancelled {
            ", cancelled before it started"
        } else {
            ""
        }
    );
    // Events, in order, through one task.
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel::<EventMsg>();
    let publisher = tokio::spawn(publish_events(
        fleet.client.clone(),
        events_subject.clone(),
        events_rx,
    ));
    let send =
        |event: RemoteEvent, run: &str, tx: &tokio::sync::mpsc::UnboundedSender<EventMsg>| {
            let _ = tx.send(EventMsg {
                worker: state.name.clone(),
                attempt,
                run: run.to_string(),
                event,
            });
        };
    send(RemoteEvent::Taken, &job.run_id, &events_tx);
    let list = if cancelled {
        Ok(ListResult {
            stages: crate::value::Map::default(),
            status: crate::status::Status::Cancel,
            stop: Some(Stop::CancelledBefore),
        })
    } else {
        match plans(state, fleet, &job).await {
            Err(why) => Err(why),
            Ok((plan, store)) => {
                let cancel = Cancel::new();
                let id = NEXT_UNIT.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut running) = state.running.lock() {
                    running
                        .entry(run_key.clone())
                        .or_default()
                        .push((id, cancel.clone()));
                }
                // A cancel that came between the check above and now.
                if state.is_cancelled(&run_key) {
                    cancel.cancel();
                }
                let publisher = Arc::new(Publisher {
                    tx: events_tx.clone(),
                    worker: state.name.clone(),
                    attempt,
                });
                let engine = Arc::new(Engine {
                    pool: state.pool.clone(),
                    plans: store,
                    default_ids: job.default_ids,
                    max_job_parallel: 2,
                    max_depth: 16,
                    raise_error: false,
                    events: Arc::new(events::Bus::new([publisher as Arc<dyn events::Subscriber>])),
                    dry_run: job.dry_run,
                    workers: None,
                    resume_of: None,
                });
                let unit = unit_of(&job, plan, cancel.clone());
                let mut running = tokio::task::spawn_blocking(move || {
                    unit.map(|unit| vm::run_unit(&engine, unit))
                });
                let mut beat = fleet::ticks(heartbeat);
                let result = loop {
                    tokio::select! {
                        done = &mut running => break done,
                        _ = beat.tick() => {
                            let _ = msg.ack_with(AckKind::Progress).await;
                        }
                    }
                };
                if let Ok(mut running) = state.running.lock()
                    && let Some(list) = running.get_mut(&run_key)
                {
                    list.retain(|(other, _)| *other != id);
                    if list.is_empty() {
                        running.remove(&run_key);
                    }
                }
                match result {
                    Ok(Ok(Some(list))) => Ok(list),
                    Ok(Ok(None)) => Err(format!(
                        "job `{}` is not in the plan of `{}`",
                        job.job, job.workflow
                    )),
                    Ok(Err(why)) => Err(why),
                    Err(e) => Err(format!("the worker's run of it ended badly: {e}")),
                }
            }
        }
    };
    drop(events_tx);
    let last_events = publisher.await.unwrap_or_default();
    if state.returning.load(Ordering::SeqCst) {
        // The worker is stopping: the job goes to another worker.
        let _ = msg.ack_with(AckKind::Nak(None)).await;
        wfc_plan::errln!(
            "wfr worker {}: returned {} {}",
            state.name,
            job.run_id,
            job.at
        );
        return;
    }
    let result = match list {
        Ok(list) => ResultMsg {
            worker: state.name.clone(),
            attempt,
            stages: wire::map_of(&list.stages),
            status: list.status.as_str().to_string(),
            events: Vec::new(),
            stop: list.stop.map(|stop| match stop {
                Stop::CancelledBefore => "cancelled_before".to_string(),
                Stop::Cancelled => "cancelled".to_string(),
                Stop::Failed(failed_stage) => format!("failed:{failed_stage}"),
                Stop::Runner(error) => format!(
                    "runner:{}",
                    serde_json::to_string(&Wire::of(&error)).unwrap_or_default()
                ),
            }),
        },
        Err(why) => failed(&state.name, attempt, &why),
    };
    let result = ResultMsg {
        events: last_events,
        ..result
    };
    let status = result.status.clone();
    let Ok(payload) = serde_json::to_vec(&result) else {
        return;
    };
    // Stored before the ack: a worker that dies in between leaves a result
    // that the next attempt finds (and does not run the job again).
    let stored = match fleet
        .js
        .send_publish(
            result_subject,
            async_nats::jetstream::message::PublishMessage::build()
                .payload(payload.into())
                .message_id(format!("{run_key}.{}.result", job.unit)),
        )
        .await
    {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    if stored {
        // A lost ack only means a redelivery, which finds the stored result.
        let _ = msg.ack().await;
        wfc_plan::errln!(
            "wfr worker {}: finished {} {}: {status}",
            state.name,
            job.run_id,
            job.at
        );
    } else {
        wfc_plan::errln!(
            "wfr worker {}: could not store the result of {} {}; the job will be delivered again",
            state.name,
            job.run_id,
            job.at
        );
    }
}

/// A result that says why the worker could not run the job.
fn failed(worker: &str, attempt: u64, why: &str) -> ResultMsg {
    let mut entry = crate::value::Map::default();
    entry.insert("status".into(), crate::status::Status::Failed.value());
    entry.insert(
        "errors".into(),
        crate::status::error(
            crate::status::ErrorName::JobError,
            format!("worker {worker}: {why}"),
        ),
    );
    ResultMsg {
        worker: worker.to_string(),
        attempt,
        stages: vec![(
            "fleet".to_string(),
            Wire::of(&crate::value::Value::from(entry)),
        )],
        status: "FAILED".into(),
        stop: Some("failed:fleet".into()),
        events: Vec::new(),
    }
}

fn unit_of(job: &JobMsg, plan: Arc<Plan>, cancel: Cancel) -> Result<vm::Unit, String> {
    let map = |entries: &Vec<(String, Wire)>| wire::map(entries.clone()).map_err(|e| e.to_string());
    Ok(vm::Unit {
        plan,
        job: job.job.clone(),
        at: job.at.clone(),
        matrix: map(&job.matrix)?,
        params: map(&job.params)?,
        jobs: map(&job.jobs)?,
        run_id: job.run_id.clone(),
        parent_run_id: job.parent_run_id.clone(),
        cancel,
    })
}

/// The job's plan and a plan store with the plans its trigger stages name.
async fn plans(
    state: &Worker,
    fleet: &Fleet,
    job: &JobMsg,
) -> Result<(Arc<Plan>, PlanStore), String> {
    let store = PlanStore::new(PathBuf::from("(the fleet's plan store)"));
    let plan = plan_of(state, fleet, &job.plan).await?;
    for (name, hash) in &job.children {
        // One that cannot be had fails when it is triggered, as locally.
        if let Ok(child) = plan_of(state, fleet, hash).await
            && child.name == *name
        {
            store.insert(child);
        }
    }
    store.insert(Arc::clone(&plan));
    Ok((plan, store))
}

async fn plan_of(state: &Worker, fleet: &Fleet, hash: &str) -> Result<Arc<Plan>, String> {
    if let Some(plan) = state.plans.lock().ok().and_then(|p| p.get(hash).cloned()) {
        return Ok(plan);
    }
    // A cluster electing leaders times reads out for a few seconds: tried
    // again for up to half a minute.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let bytes = loop {
        match read_plan(fleet, hash).await {
            Ok(bytes) => break bytes,
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    let (_, plan) = wfc_plan::file::decode(Path::new(hash), &bytes)
        .map_err(|e| format!("its plan {hash} is not usable here: {e}"))?;
    let plan = Arc::new(plan);
    if let Ok(mut plans) = state.plans.lock() {
        plans.insert(hash.to_string(), Arc::clone(&plan));
    }
    Ok(plan)
}

async fn read_plan(fleet: &Fleet, hash: &str) -> Result<Vec<u8>, String> {
    match fleet.plans.get(hash).await {
        Ok(Some(bytes)) => Ok(bytes.to_vec()),
        Ok(None) => Err(format!("its plan {hash} is not in the fleet's plan store")),
        Err(e) => Err(format!("its plan {hash} could not be read: {e}")),
    }
}

/// How long a stage's events wait for more to go with them in one message.
const LINGER: Duration = Duration::from_millis(5);
/// How many bytes of events one message holds at most.
const BATCH_BYTES: usize = 256 * 1024;
/// How many bytes of events may go with a unit's result instead.
const CARRIED_BYTES: usize = 64 * 1024;

/// Publishes a unit's events on `subject`, in order: `Taken` at once, a
/// stage's events gathered for up to [`LINGER`], in one message (a JSON
/// list). When the unit ends (the channel closes) the events not sent yet are
/// returned, to go with the result: a unit that ends within the linger sends
/// one message, its result, instead of one per event.
async fn publish_events(
    client: async_nats::Client,
    subject: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<EventMsg>,
) -> Vec<Box<serde_json::value::RawValue>> {
    let mut batch = Batch::default();
    let mut closed = false;
    while !closed {
        let Some(first) = rx.recv().await else { break };
        let urgent = matches!(first.event, RemoteEvent::Taken);
        batch.push(&first);
        if !urgent {
            let deadline = tokio::time::Instant::now() + LINGER;
            while batch.bytes < BATCH_BYTES {
                tokio::select! {
                    more = rx.recv() => {
                        let Some(event) = more else {
                            closed = true;
                            break;
                        };
                        batch.push(&event);
                    }
                    () = tokio::time::sleep_until(deadline) => break,
                }
            }
        }
        while batch.bytes < BATCH_BYTES
            && let Ok(event) = rx.try_recv()
        {
            batch.push(&event);
        }
        if closed && batch.bytes <= CARRIED_BYTES {
            break;
        }
        let _ = client
            .publish(subject.clone(), batch.take_payload().into())
            .await;
    }
    batch.events
}

/// Events serialized, waiting to be sent, and their size.
#[derive(Default)]
struct Batch {
    events: Vec<Box<serde_json::value::RawValue>>,
    bytes: usize,
}

impl Batch {
    fn push(&mut self, event: &EventMsg) {
        if let Ok(raw) = serde_json::value::to_raw_value(event) {
            self.bytes += raw.get().len() + 1;
            self.events.push(raw);
        }
    }

    /// The events as one message (a JSON list), leaving none.
    fn take_payload(&mut self) -> Vec<u8> {
        self.bytes = 0;
        serde_json::to_vec(&std::mem::take(&mut self.events)).unwrap_or_default()
    }
}

/// Sends a unit's stage events to its coordinator.
struct Publisher {
    tx: tokio::sync::mpsc::UnboundedSender<EventMsg>,
    worker: String,
    attempt: u64,
}

impl events::Subscriber for Publisher {
    fn interest(&self) -> Interest {
        Interest::kind(Kind::StageStarted)
            .with(Interest::kind(Kind::StageEnded))
            .with(Interest::kind(Kind::StageRetry))
            .with(Interest::kind(Kind::StageDryRun))
            .with(Interest::line(Source::Echo))
            .with(Interest::line(Source::Bash))
            .with(Interest::line(Source::VirtualPy))
            .with(Interest::line(Source::Py))
            .with(Interest::line(Source::Docker))
    }

    fn on_event(&self, event: &Event<'_>) {
        let Some(remote) = RemoteEvent::of(&event.event) else {
            return;
        };
        let _ = self.tx.send(EventMsg {
            worker: self.worker.clone(),
            attempt: self.attempt,
            run: event.run.to_string(),
            event: remote,
        });
    }
}

#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    /// The run to take up (its id, as `wfr runs` and its log show it).
    run_id: String,

    /// The fleet its jobs went to (default: $WFR_NATS_URL; a token also from
    /// $WFR_NATS_TOKEN).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,

    #[command(flatten)]
    options: super::RunOptions,
}

/// `wfr resume RUN_ID`: takes up a run whose coordinator died (a SIGKILLed
/// `wfr run`, or a scheduler's run on a machine that went away), in a new run
/// linked to it. Its strategies on the fleet go under the old run's id: the
/// ones that finished are taken from JetStream without running again, the
/// ones still running on workers are waited for, the others are queued (a
/// publish of one still queued is a no-op). Jobs that ran on the coordinator
/// itself run again.
pub(crate) fn resume(args: &ResumeArgs) -> Result<Done, Error> {
    let url = fleet_url(args.nats.as_deref())?;
    let endpoint = Endpoint::parse(&url, std::env::var("WFR_NATS_TOKEN").ok())
        .map_err(|e| Error::Usage(e.to_string()))?;
    let run_key = fleet::token(&args.run_id);
    let found = fleet::block_on(async {
        let fleet = Fleet::open(&endpoint, "wfr resume").await?;
        let manifest = fleet
            .runs
            .get(run_key.clone())
            .await
            .map_err(|e| endpoint.error("cannot read the run bucket", e))?;
        let Some(manifest) = manifest else {
            return Ok(None);
        };
        let manifest: fleet::RunManifest = serde_json::from_slice(&manifest)
            .map_err(|e| endpoint.error("the run's manifest is not readable", e))?;
        let bytes = fleet
            .plans
            .get(manifest.plan.clone())
            .await
            .map_err(|e| endpoint.error("cannot read the plan store", e))?;
        Ok::<_, FleetError>(Some((manifest, bytes)))
    })
    .map_err(|e| Error::Usage(e.to_string()))?;
    let Some((manifest, bytes)) = found else {
        return Err(Error::Usage(format!(
            "run {} sent no job to the fleet at {}: only such runs can be resumed (`wfr rerun {}` runs a run's unfinished jobs again)",
            args.run_id, endpoint.servers, args.run_id
        )));
    };
    let Some(bytes) = bytes else {
        return Err(Error::Usage(format!(
            "the plan of run {} ({}) is no longer in the fleet's plan store",
            args.run_id, manifest.plan
        )));
    };
    let (_, plan) = wfc_plan::file::decode(Path::new(&manifest.plan), &bytes)
        .map_err(|e| Error::Usage(format!("the plan of run {}: {e}", args.run_id)))?;
    let plan = Arc::new(plan);
    let params = wire::map(manifest.params)
        .map_err(|e| Error::Usage(format!("the params of run {}: {e}", args.run_id)))?;
    let mut options = args.options.clone();
    if manifest.every_job {
        options.workers = Some(url);
    }
    let plans = super::prepare(&plan, args.options.plans.clone(), options.workers.is_some())?;
    wfc_plan::errln!(
        "wfr: resuming run {} of `{}`: its jobs on the fleet are taken up, its local jobs run again",
        args.run_id,
        plan.name
    );
    let how = super::Launch {
        resume_of: Some(args.run_id.clone()),
        ..super::Launch::new(vm::new_run_id(&plan.name))
    };
    super::launch(&options, plan, plans, params, how)
}

fn fleet_url(given: Option<&str>) -> Result<String, Error> {
    match (given, std::env::var("WFR_NATS_URL")) {
        (Some(url), _) => Ok(url.to_string()),
        (None, Ok(url)) if !url.is_empty() => Ok(url),
        _ => Err(Error::Usage(
            "the fleet's NATS URL is needed: --nats nats://host:4222 (or WFR_NATS_URL)".into(),
        )),
    }
}
