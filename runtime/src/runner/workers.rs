//! Worker fleets on NATS JetStream (`runs-on: {type: self_hosted, with: {host,
//! token, labels}}`, or every job of `wfr run --workers URL`): each strategy
//! goes to the job queue, a worker with the job's labels takes it, and its
//! stages' events and its result come back. The protocol is in
//! [`crate::fleet`].

#[cfg(not(feature = "nats"))]
use super::{JobRunner, refused};
#[cfg(not(feature = "nats"))]
use crate::executor::ListResult;
#[cfg(not(feature = "nats"))]
use crate::value::Value;
#[cfg(not(feature = "nats"))]
use crate::vm::RunCx;
#[cfg(not(feature = "nats"))]
use crate::vm::stage::StageCx;
#[cfg(not(feature = "nats"))]
use wfc_plan::JobPlan;

#[cfg(feature = "nats")]
pub(crate) use fleet_runner::Runner;

#[cfg(not(feature = "nats"))]
pub(crate) enum Runner {}

#[cfg(not(feature = "nats"))]
impl Runner {
    pub(crate) fn for_job(_run: &RunCx, job: &JobPlan) -> Result<Runner, Value> {
        Err(refused(
            job,
            "self_hosted workers need NATS support, and this wfr was built without it (cargo feature `nats`)",
        ))
    }

    pub(crate) fn for_fleet(run: &RunCx, job: &JobPlan, _url: &str) -> Result<Runner, Value> {
        Self::for_job(run, job)
    }
}

#[cfg(not(feature = "nats"))]
impl JobRunner for Runner {
    fn run_strategy(&self, _cx: &StageCx, _job: &JobPlan, _strategy: &str) -> ListResult {
        match *self {}
    }
}

#[cfg(feature = "nats")]
mod fleet_runner {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::Duration;

    use wfc_plan::{JobPlan, Plan};

    use crate::executor::{Context as _, ListResult, Stop};
    use crate::fleet::{
        self, Endpoint, EventMsg, Fleet, FleetError, JobMsg, RemoteEvent, ResultMsg, RunManifest,
        Said,
    };
    use crate::runner::{JobRunner, refused};
    use crate::status::{self, ErrorName, Status};
    use crate::value::wire;
    use crate::value::{Map, Str, Value};
    use crate::vm::RunCx;
    use crate::vm::stage::StageCx;

    /// How long a cancelled strategy waits for its worker to say it stopped.
    const CANCEL_WAIT: Duration = Duration::from_secs(15);
    /// How often the results stream is looked at while waiting (a result
    /// published while this coordinator's connection was down is found there).
    const RESULT_POLL: Duration = Duration::from_secs(5);

    /// Sends each strategy of a job to the fleet.
    pub(crate) struct Runner {
        fleet: Arc<Fleet>,
        /// `wfr.jobs.<labels>`.
        subject: String,
        plan: Arc<Shipped>,
    }

    /// A plan in the fleet's plan store.
    struct Shipped {
        hash: String,
        children: Vec<(String, String)>,
    }

    /// The fleets this process is connected to, by servers and credentials.
    fn fleets() -> &'static Mutex<HashMap<String, Arc<Fleet>>> {
        static FLEETS: OnceLock<Mutex<HashMap<String, Arc<Fleet>>>> = OnceLock::new();
        FLEETS.get_or_init(Mutex::default)
    }

    /// The runs whose manifest this process wrote.
    fn manifests() -> &'static Mutex<std::collections::HashSet<String>> {
        static DONE: OnceLock<Mutex<std::collections::HashSet<String>>> = OnceLock::new();
        DONE.get_or_init(Mutex::default)
    }

    /// Plans already shipped, by (servers, workflow).
    type ShippedPlans = Mutex<HashMap<(String, String), Arc<Shipped>>>;

    fn shipped() -> &'static ShippedPlans {
        static SHIPPED: OnceLock<ShippedPlans> = OnceLock::new();
        SHIPPED.get_or_init(Mutex::default)
    }

    impl Runner {
        /// The runner of a `self_hosted` job: its `with` rendered now (the
        /// token from the environment, never written anywhere).
        pub(crate) fn for_job(run: &RunCx, job: &JobPlan) -> Result<Runner, Value> {
            let args = render_args(run, job)?;
            let host = match args.get("host") {
                Some(Value::Str(s)) if !s.is_empty() => s.to_string(),
                Some(Value::Null) | None => std::env::var("WFR_NATS_URL").map_err(|_| {
                    refused(
                        job,
                        "its runs-on has no `host` and WFR_NATS_URL is not set: give the fleet's NATS URL (`host: nats://…`)",
                    )
                })?,
                Some(other) => {
                    return Err(refused(
                        job,
                        format!("`host` must be a NATS URL, got {}", other.py_repr()),
                    ));
                }
            };
            let token = match args.get("token") {
                Some(Value::Str(s)) if !s.is_empty() => Some(s.to_string()),
                _ => std::env::var("WFR_NATS_TOKEN").ok(),
            };
            let labels = labels(job, args.get("labels"))?;
            Self::connect(run, job, &host, token, &labels)
        }

        /// The runner of any job under `wfr run --workers URL`.
        pub(crate) fn for_fleet(run: &RunCx, job: &JobPlan, url: &str) -> Result<Runner, Value> {
            let labels = match job.runs_on {
                wfc_plan::vocab::RunsOnKind::SelfHosted => {
                    let args = render_args(run, job)?;
                    labels(job, args.get("labels"))?
                }
                _ => Vec::new(),
            };
            Self::connect(run, job, url, std::env::var("WFR_NATS_TOKEN").ok(), &labels)
        }

        fn connect(
            run: &RunCx,
            job: &JobPlan,
            url: &str,
            token: Option<String>,
            labels: &[(String, String)],
        ) -> Result<Runner, Value> {
            let fail = |e: FleetError| refused(job, e);
            let endpoint = Endpoint::parse(url, token).map_err(fail)?;
            let key = format!("{}\u{0}{}", endpoint.servers, wfc_plan::ids::hash_id(url));
            let existing = fleets().lock().ok().and_then(|f| f.get(&key).cloned());
            let fleet = if let Some(fleet) = existing {
                fleet
            } else {
                let name = format!("wfr run {}", run.run_id);
                let fleet = Arc::new(
                    run.pool
                        .blocking(|| fleet::block_on(Fleet::open(&endpoint, &name)))
                        .map_err(fail)?,
                );
                if let Ok(mut f) = fleets().lock() {
                    f.insert(key, Arc::clone(&fleet));
                }
                fleet
            };
            let plan = ship(run, &fleet).map_err(fail)?;
            Ok(Runner {
                fleet,
                subject: format!("wfr.jobs.{}", fleet::labels_key(labels)),
                plan,
            })
        }
    }

    /// The job's `with`, rendered with the run's params and the environment.
    fn render_args(run: &RunCx, job: &JobPlan) -> Result<Map, Value> {
        let Some(args) = &job.runs_on_args else {
            return Ok(Map::default());
        };
        let empty = Map::default();
        let frame = crate::eval::Frame::default();
        let jobs = Map::default();
        let scope = crate::eval::Scope {
            params: &run.params,
            jobs: &jobs,
            matrix: &empty,
            local: &empty,
            frame: &frame,
            retry: None,
            overlay: None,
            env: &crate::eval::process_env,
            pass_env: true,
            release: None,
        };
        match crate::eval::value(&scope, args) {
            Ok(Value::Map(map)) => Ok(Arc::unwrap_or_clone(map)),
            Ok(_) => Ok(Map::default()),
            // The message may not hold the token: say which key, not its text.
            Err(e) => Err(refused(
                job,
                format!("its runs-on `with` does not render: {}", e.message),
            )),
        }
    }

    /// `labels: {k: v}` (or a list of `k=v`).
    fn labels(job: &JobPlan, value: Option<&Value>) -> Result<Vec<(String, String)>, Value> {
        let bad = |why: String| refused(job, format!("its `labels`: {why}"));
        let text = match value {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Map(map)) => map
                .iter()
                .map(|(k, v)| format!("{k}={}", v.py_str()))
                .collect::<Vec<_>>()
                .join(","),
            Some(Value::List(items)) => items
                .iter()
                .map(Value::py_str)
                .collect::<Vec<_>>()
                .join(","),
            Some(Value::Str(s)) => s.to_string(),
            Some(other) => return Err(bad(format!("expected a map, got {}", other.py_repr()))),
        };
        fleet::parse_labels(&text).map_err(bad)
    }

    /// Puts the run's plan (and the plans its trigger stages name) in the
    /// fleet's plan store, once per process.
    fn ship(run: &RunCx, fleet: &Arc<Fleet>) -> Result<Arc<Shipped>, FleetError> {
        let key = (fleet.endpoint.servers.clone(), run.workflow.clone());
        if let Some(done) = shipped().lock().ok().and_then(|s| s.get(&key).cloned()) {
            return Ok(done);
        }
        let plans = &run.engine.plans;
        let mut queue = vec![run.workflow.clone()];
        let mut seen = std::collections::HashSet::new();
        let mut hashes: Vec<(String, String)> = Vec::new();
        while let Some(name) = queue.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            // A plan that cannot be loaded fails when it is triggered, as locally.
            let Ok(plan) = plans.get(&name) else { continue };
            let (hash, bytes) =
                encode(&plan).map_err(|e| fleet.endpoint.error("cannot encode the plan", e))?;
            run.pool
                .blocking(|| fleet::block_on(put_plan(fleet, &hash, bytes)))?;
            queue.extend(plan.triggers.iter().cloned());
            hashes.push((name, hash));
        }
        let hash = hashes.first().map(|(_, h)| h.clone()).unwrap_or_default();
        let shipped_plan = Arc::new(Shipped {
            hash,
            children: hashes.into_iter().skip(1).collect(),
        });
        if let Ok(mut s) = shipped().lock() {
            s.insert(key, Arc::clone(&shipped_plan));
        }
        Ok(shipped_plan)
    }

    /// A plan's file bytes and their hash (the file's own SHA-256, its last
    /// 32 bytes).
    pub(crate) fn encode(plan: &Plan) -> std::io::Result<(String, Vec<u8>)> {
        let header = wfc_plan::file::Header {
            format: wfc_plan::file::FORMAT_VERSION,
            compiler: "wfr fleet".into(),
            workflow: plan.name.clone(),
            source_hash: String::new(),
            params_hash: String::new(),
        };
        let bytes = wfc_plan::file::encode(&header, plan)?;
        let digest = &bytes[bytes.len().saturating_sub(32)..];
        let hash = digest.iter().fold(String::with_capacity(64), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        });
        Ok((hash, bytes))
    }

    async fn put_plan(fleet: &Fleet, hash: &str, bytes: Vec<u8>) -> Result<(), FleetError> {
        if matches!(fleet.plans.get(hash).await, Ok(Some(_))) {
            return Ok(());
        }
        fleet
            .plans
            .put(hash, bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| fleet.endpoint.error("cannot store the plan", e))
    }

    impl JobRunner for Runner {
        fn run_strategy(&self, cx: &StageCx, job: &JobPlan, strategy: &str) -> ListResult {
            let unit = format!("{}-{}", fleet::token(&job.id), fleet::token(strategy));
            // A resumed run's strategies go under the run it resumes.
            let run_id = match &cx.run.engine.resume_of {
                Some(resumed) if cx.run.depth == 0 => resumed.clone(),
                _ => cx.run_id().to_string(),
            };
            let message = JobMsg {
                run_id,
                unit: unit.clone(),
                workflow: cx.run.workflow.clone(),
                plan: self.plan.hash.clone(),
                children: self.plan.children.clone(),
                job: job.id.clone(),
                strategy: strategy.to_string(),
                at: cx.at().to_string(),
                matrix: wire::map_of(&cx.matrix),
                params: wire::map_of(&cx.run.params),
                jobs: wire::map_of(&cx.jobs),
                parent_run_id: cx.run.parent_run_id.clone(),
                dry_run: cx.dry_run(),
                default_ids: cx.run.default_ids,
                source: cx.run.source.clone(),
            };
            // Told by the cancel token's hook (any thread) to the waiting future.
            let (cancelled_tx, cancelled_rx) = tokio::sync::watch::channel(false);
            let _hook = cx.cancel().on_cancel(move || {
                let _ = cancelled_tx.send(true);
            });
            if cx.cancel().is_cancelled() {
                return stopped(Stop::CancelledBefore);
            }
            let waited = cx.blocking(|| {
                fleet::block_on(dispatch(
                    &self.fleet,
                    &self.subject,
                    message,
                    cx,
                    job,
                    strategy,
                    cancelled_rx,
                ))
            });
            match waited {
                Ok(list) => list,
                Err(why) => failed(job, &why),
            }
        }
    }

    fn stopped(stop: Stop) -> ListResult {
        ListResult {
            stages: Map::default(),
            status: Status::Cancel,
            stop: Some(stop),
        }
    }

    /// A strategy that did not run on the fleet: FAILED, with why, as a stage
    /// entry would be (the job's error says its strategy failed).
    fn failed(job: &JobPlan, why: &str) -> ListResult {
        let mut stages = Map::default();
        let mut entry = Map::default();
        entry.insert("status".into(), Status::Failed.value());
        entry.insert(
            "errors".into(),
            status::error(
                ErrorName::JobError,
                format!("job `{}` on the worker fleet: {why}", job.id),
            ),
        );
        stages.insert("fleet".into(), Value::from(entry));
        ListResult {
            stages,
            status: Status::Failed,
            stop: Some(Stop::Failed(Str::from("fleet"))),
        }
    }

    /// Publishes the strategy and waits for its result, passing its events on.
    async fn dispatch(
        fleet: &Fleet,
        subject: &str,
        message: JobMsg,
        cx: &StageCx,
        job: &JobPlan,
        strategy: &str,
        mut cancelled: tokio::sync::watch::Receiver<bool>,
    ) -> Result<ListResult, String> {
        let run_id = message.run_id.clone();
        let unit = message.unit.clone();
        let result_subject = format!("wfr.res.{}.{unit}", fleet::token(&run_id));
        let shown = |e: &dyn std::fmt::Display| fleet.endpoint.error("", e).to_string();
        // Listen first: nothing the worker says is missed.
        let mut inbox = fleet
            .listen(&fleet::token(&run_id), &unit)
            .await
            .map_err(|e| shown(&e))?;
        let mut gave_up = fleet.gave_up().await.map_err(|e| shown(&e))?;
        // A resumed coordinator: the unit may have finished already.
        if cx.run.engine.resume_of.is_some()
            && let Some(done) = stored_result(fleet, &result_subject).await
        {
            return finish(cx, job, strategy, &run_id, done);
        }
        // The run's manifest, for `wfr resume`: once per run.
        let first = manifests()
            .lock()
            .is_ok_and(|mut done| done.insert(run_id.clone()));
        if first && !message.dry_run {
            let manifest = RunManifest {
                workflow: message.workflow.clone(),
                plan: message.plan.clone(),
                params: message.params.clone(),
                every_job: cx.run.engine.workers.is_some(),
            };
            if let Ok(bytes) = serde_json::to_vec(&manifest) {
                let _ = fleet.runs.put(fleet::token(&run_id), bytes.into()).await;
            }
        }
        let payload = serde_json::to_vec(&message).map_err(|e| e.to_string())?;
        let ack = fleet
            .js
            .send_publish(
                subject.to_string(),
                async_nats::jetstream::message::PublishMessage::build()
                    .payload(payload.into())
                    .message_id(format!("{}.{unit}", fleet::token(&run_id))),
            )
            .await
            .map_err(|e| format!("the job could not be queued: {}", shown(&e)))?
            .await
            .map_err(|e| format!("the job queue did not take the job: {}", shown(&e)))?;
        let sequence = ack.sequence;
        let mut taken = false;
        let mut cancel_deadline: Option<tokio::time::Instant> = None;
        let mut poll = fleet::ticks(RESULT_POLL);
        loop {
            tokio::select! {
                // A worker sends a unit's events before its result, on one
                // connection: they come in that order.
                Some(said) = inbox.next() => match said {
                    Said::Events(msg) => {
                        for event in fleet::events_of(&msg.payload) {
                            if matches!(event.event, RemoteEvent::Taken) {
                                taken = true;
                            }
                            replay(cx, job, strategy, &run_id, &event);
                        }
                    }
                    Said::Result(msg) => {
                        if let Ok(done) = serde_json::from_slice::<ResultMsg>(&msg.payload) {
                            return finish(cx, job, strategy, &run_id, done);
                        }
                    }
                },
                Ok(seq) = gave_up.recv() => {
                    if seq == sequence {
                        return Err(format!(
                            "JetStream delivered it {} times and no worker finished it (each worker that took it died or returned it); it is not run again",
                            fleet::MAX_DELIVER
                        ));
                    }
                }
                _ = poll.tick() => {
                    if let Some(done) = stored_result(fleet, &result_subject).await {
                        return finish(cx, job, strategy, &run_id, done);
                    }
                    if let Some(deadline) = cancel_deadline
                        && tokio::time::Instant::now() >= deadline
                    {
                        return Ok(stopped(Stop::Cancelled));
                    }
                }
                Ok(()) = cancelled.changed(), if cancel_deadline.is_none() => {
                    // Workers watch the cancel bucket: the one that holds the
                    // job stops it; one that takes it later does not run it.
                    let _ = fleet.cancels.put(fleet::token(&run_id), "cancelled".into()).await;
                    if !taken {
                        return Ok(stopped(Stop::CancelledBefore));
                    }
                    cancel_deadline = Some(tokio::time::Instant::now() + CANCEL_WAIT);
                }
            }
        }
    }

    async fn stored_result(fleet: &Fleet, subject: &str) -> Option<ResultMsg> {
        let raw = fleet
            .results
            .get_last_raw_message_by_subject(subject)
            .await
            .ok()?;
        serde_json::from_slice(&raw.payload).ok()
    }

    /// A unit's result: the events it carries (those its worker had not
    /// sent yet) are told first.
    fn finish(
        cx: &StageCx,
        job: &JobPlan,
        strategy: &str,
        run_id: &str,
        mut done: ResultMsg,
    ) -> Result<ListResult, String> {
        for raw in std::mem::take(&mut done.events) {
            if let Ok(event) = serde_json::from_str::<EventMsg>(raw.get()) {
                replay(cx, job, strategy, run_id, &event);
            }
        }
        to_list(done)
    }

    fn to_list(done: ResultMsg) -> Result<ListResult, String> {
        let stages = wire::map(done.stages).map_err(|e| e.to_string())?;
        let status = Status::parse(&done.status)
            .ok_or_else(|| format!("the worker sent an unknown status {:?}", done.status))?;
        let stop = done.stop.as_deref().map(|s| match s {
            "cancelled_before" => Stop::CancelledBefore,
            "cancelled" => Stop::Cancelled,
            other => match other
                .strip_prefix("runner:")
                .and_then(|e| serde_json::from_str::<crate::value::wire::Wire>(e).ok())
                .and_then(|e| e.into_value().ok())
            {
                Some(error) => Stop::Runner(error),
                None => Stop::Failed(Str::from(other.strip_prefix("failed:").unwrap_or(other))),
            },
        });
        Ok(ListResult {
            stages,
            status,
            stop,
        })
    }

    /// A worker's event, told to the run's listeners as if it happened here
    /// (a child run's, started by a trigger stage on the worker, stays in the
    /// worker's log).
    fn replay(cx: &StageCx, job: &JobPlan, strategy: &str, run_id: &str, msg: &EventMsg) {
        if msg.run == run_id {
            msg.event.tell(
                &cx.run.events,
                &job.id,
                strategy,
                cx.at(),
                &msg.worker,
                msg.attempt,
            );
        }
    }
}
