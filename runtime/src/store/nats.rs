//! The store on NATS JetStream key-value buckets: one history, one set of
//! releases and one scheduler state shared by the `wfr`s of many machines
//! (`--store nats://…`, or `$WFR_STORE`).
//!
//! Four buckets, named `NS-runs`, `NS-open`, `NS-releases` and `NS-ticks` (`NS`
//! is `wfc`, or the URL's path: `nats://host:4222/team`), each keeping one
//! value per key, on file storage, with min(3, servers in the cluster)
//! replicas (`?replicas=N` in the URL says otherwise):
//!
//! * `runs`: a run's row (JSON) under its run id;
//! * `open`: a copy of the row of each run that has not ended, under
//!   `WORKFLOW.RUN_ID`, so that [`Store::active`] and [`Store::open_runs`] read
//!   the few running runs, not the whole history;
//! * `releases`: who claimed a workflow's logical time, under
//!   `WORKFLOW.MICROSECONDS`;
//! * `ticks`: a workflow's last fired tick (microseconds), under `WORKFLOW`.
//!
//! Nothing that must happen once relies on a lock: a claim is a KV `create`
//! (refused when the key exists), a tick moves by `update` at the revision read
//! (refused when someone wrote it meanwhile, then read again), an orphan is
//! adopted by an `update` at the revision read and a claim is given back by a
//! delete at the revision read. JetStream (2.9) has no transaction over several
//! keys: [`Store::claim_releases`] claims each tick on its own, each still once
//! (a scheduler killed among them leaves claims that [`Store::adopt_orphans`]
//! finds, as with one killed after the claim).
//!
//! Keys allow `[-/_=.a-zA-Z0-9]`, `.` separating tokens: names are written with
//! each other byte as `=XX` (see [`key`]).
//!
//! The trait is synchronous: the store owns a small tokio runtime, driven by a
//! thread of its own, on which every call waits, bounded ([`OPEN_WITHIN`] to
//! connect, [`CALL_WITHIN`] for a call). The URL is shown without its
//! credentials everywhere.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use futures_util::StreamExt as _;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Claim, Claimer, RunQuery, RunRow, RunState, Store, StoreError, from_micros, micros};

/// How long opening the store may take to reach a server.
pub const OPEN_WITHIN: Duration = Duration::from_secs(5);
/// How long one call (a claim, a row, a scan of the history) may take.
pub const CALL_WITHIN: Duration = Duration::from_secs(30);
/// How long one request to JetStream waits for its answer.
const REQUEST_WITHIN: Duration = Duration::from_secs(5);

/// Who holds a scheduler's claim whose run never started once a scheduler took
/// it over (as in the SQLite store).
const ADOPTED: &str = "schedule-adopted";

/// The buckets' prefix when the URL names none.
pub const DEFAULT_NAMESPACE: &str = "wfc";

/// Where the store is, as `--store` / `$WFR_STORE` says (and, without a
/// namespace or replicas, where a worker fleet is: `fleet::Endpoint`).
#[derive(Clone, PartialEq, Eq)]
pub struct Address {
    /// `host:port` of each server.
    pub servers: Vec<String>,
    pub credentials: Credentials,
    /// The buckets' prefix.
    pub namespace: String,
    /// The buckets' replicas, when the URL says.
    pub replicas: Option<usize>,
    tls: bool,
}

#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    Token(String),
    User { user: String, password: String },
}

// Never the credentials.
impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

impl Address {
    /// Reads `nats://[TOKEN@|USER:PASSWORD@]HOST[:PORT][,…][/NAMESPACE][?replicas=N]`
    /// (`tls://` for TLS); without credentials in it, `token` (from
    /// `$WFR_NATS_TOKEN`) is used. The error never repeats the credentials.
    pub fn parse(text: &str, token: Option<&str>) -> Result<Address, String> {
        let text = text.trim();
        let (tls, rest) = if let Some(rest) = text.strip_prefix("nats://") {
            (false, rest)
        } else if let Some(rest) = text.strip_prefix("tls://") {
            (true, rest)
        } else {
            return Err(
                "a NATS URL is nats://[TOKEN@]HOST:PORT (a NATS server with JetStream, or several separated by commas)"
                    .into(),
            );
        };
        // Options after the last server: `/namespace` and `?replicas=N`.
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut namespace = DEFAULT_NAMESPACE.to_string();
        let mut replicas = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("replicas", n)) => {
                    let n: usize = n
                        .parse()
                        .ok()
                        .filter(|n| (1..=5).contains(n))
                        .ok_or("?replicas= takes a number from 1 to 5")?;
                    replicas = Some(n);
                }
                _ => {
                    return Err(format!(
                        "unknown option `{}` in the store's URL (it takes ?replicas=N)",
                        pair.split('=').next().unwrap_or(pair)
                    ));
                }
            }
        }
        let mut credentials = Credentials::None;
        let mut servers = Vec::new();
        for part in rest.split(',') {
            let part = part
                .strip_prefix("nats://")
                .or_else(|| part.strip_prefix("tls://"))
                .unwrap_or(part);
            let (part, path) = part.split_once('/').unwrap_or((part, ""));
            let path = path.trim_end_matches('/');
            if !path.is_empty() {
                if !path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(format!(
                        "the store's namespace `{path}` (the URL's path) takes letters, digits, `_` and `-`"
                    ));
                }
                namespace = path.to_string();
            }
            let (auth, host) = match part.rsplit_once('@') {
                Some((auth, host)) => (Some(auth), host),
                None => (None, part),
            };
            if let Some(auth) = auth.filter(|a| !a.is_empty()) {
                let given = match auth.split_once(':') {
                    Some((user, password)) => Credentials::User {
                        user: decode(user),
                        password: decode(password),
                    },
                    None => Credentials::Token(decode(auth)),
                };
                if credentials != Credentials::None && credentials != given {
                    return Err(
                        "the NATS URL gives different credentials for different servers".into(),
                    );
                }
                credentials = given;
            }
            if host.is_empty() {
                return Err("the NATS URL names no server (nats://HOST:PORT)".into());
            }
            let host = if host.starts_with('[') || host.rsplit_once(':').is_none() {
                if host.ends_with(']') || !host.contains(':') {
                    format!("{host}:4222")
                } else {
                    host.to_string()
                }
            } else {
                host.to_string()
            };
            let port_ok = host
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !port_ok {
                return Err(format!(
                    "`{host}` in the NATS URL is not HOST:PORT (a port is a number up to 65535)"
                ));
            }
            servers.push(host);
        }
        if credentials == Credentials::None
            && let Some(token) = token.filter(|t| !t.is_empty())
        {
            credentials = Credentials::Token(token.to_string());
        }
        Ok(Address {
            servers,
            credentials,
            namespace,
            replicas,
            tls,
        })
    }

    /// The URL without its credentials (what messages show).
    #[must_use]
    pub fn shown(&self) -> String {
        let scheme = if self.tls { "tls" } else { "nats" };
        let mut text = self
            .servers
            .iter()
            .map(|s| format!("{scheme}://{s}"))
            .collect::<Vec<_>>()
            .join(",");
        if self.namespace != DEFAULT_NAMESPACE {
            let _ = write!(text, "/{}", self.namespace);
        }
        text
    }

    fn bucket(&self, name: &str) -> String {
        format!("{}-{name}", self.namespace)
    }
}

/// `text` with its percent-escapes (`%40` for `@`) decoded, as in URLs.
fn decode(text: &str) -> String {
    let raw = text.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let escaped = (raw[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The four buckets.
struct Buckets {
    client: async_nats::Client,
    runs: kv::Store,
    open: kv::Store,
    releases: kv::Store,
    ticks: kv::Store,
}

/// The NATS store (see the module doc).
pub struct Nats {
    address: Address,
    buckets: Buckets,
    // Last: the runtime outlives what runs on it.
    driver: Driver,
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats")
            .field("address", &self.address.shown())
            .finish_non_exhaustive()
    }
}

/// A current-thread tokio runtime, driven by a thread of its own (its tasks,
/// the client's connection, run while a thread is in its `block_on`: that one,
/// always), on which any thread waits for a future with `Handle::block_on`.
struct Driver {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Driver {
    fn start() -> std::io::Result<Driver> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("wfr-nats".into())
            .spawn(move || {
                let _ = runtime.block_on(stopped);
            })?;
        Ok(Driver {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a release key holds.
#[derive(Serialize, Deserialize)]
struct Release {
    run_id: String,
    claimed: i64,
    claimed_by: String,
}

/// A run's row as the buckets hold it.
#[derive(Serialize, Deserialize)]
struct Row {
    run_id: String,
    workflow: String,
    state: String,
    release: Option<i64>,
    started: i64,
    ended: Option<i64>,
    rerun_of: Option<String>,
    record: String,
    owner: Option<String>,
}

impl From<&RunRow> for Row {
    fn from(run: &RunRow) -> Self {
        Row {
            run_id: run.run_id.clone(),
            workflow: run.workflow.clone(),
            state: run.state.as_str().to_string(),
            release: run.release.map(micros),
            started: micros(run.started),
            ended: run.ended.map(micros),
            rerun_of: run.rerun_of.clone(),
            record: run.record.to_string_lossy().into_owned(),
            owner: run.owner.clone(),
        }
    }
}

impl From<Row> for RunRow {
    fn from(row: Row) -> Self {
        RunRow {
            run_id: row.run_id,
            workflow: row.workflow,
            // A state this wfr does not know (a newer one's) reads as failed.
            state: RunState::parse(&row.state).unwrap_or(RunState::Failed),
            release: row.release.map(from_micros),
            started: from_micros(row.started),
            ended: row.ended.map(from_micros),
            rerun_of: row.rerun_of,
            record: PathBuf::from(row.record),
            owner: row.owner,
        }
    }
}

/// `name` as a key token: `[A-Za-z0-9_-]` kept, every other byte `=XX`.
#[must_use]
pub fn key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "={byte:02X}");
        }
    }
    if out.is_empty() {
        out.push('=');
    }
    out
}

fn release_key(workflow: &str, logical: Timestamp) -> String {
    format!("{}.{}", key(workflow), micros(logical))
}

fn open_key(workflow: &str, run_id: &str) -> String {
    format!("{}.{}", key(workflow), key(run_id))
}

/// Why a call failed, before it is said with the store's URL.
type Failure = String;

fn failed(e: impl std::fmt::Display) -> Failure {
    e.to_string()
}

/// A failure to `what` (an operation) `key` in `bucket`.
fn at<E: std::fmt::Display>(
    what: &'static str,
    bucket: &kv::Store,
    key: &str,
) -> impl FnOnce(E) -> Failure + use<E> {
    let (bucket, key) = (bucket.name.clone(), key.to_string());
    move |e| format!("cannot {what} `{key}` in bucket {bucket}: {e}")
}

/// A key's value and revision, None when it has none (never written, deleted
/// or purged).
async fn read(bucket: &kv::Store, key: &str) -> Result<Option<(Vec<u8>, u64)>, Failure> {
    Ok(bucket
        .entry(key)
        .await
        .map_err(at("read", bucket, key))?
        .filter(|e| e.operation == kv::Operation::Put)
        .map(|e| (e.value.to_vec(), e.revision)))
}

fn json<T: for<'de> Deserialize<'de>>(bucket: &str, key: &str, value: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(value)
        .map_err(|e| format!("the value of `{key}` in bucket {bucket} is not what wfr writes: {e}"))
}

fn bytes_of<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// The keys under `filter` (`>` for all) and their values, as one ordered
/// consumer on the bucket's stream delivers the last message of each key: a
/// scan in one go, not a request per key. Deleted keys are left out.
async fn scan(
    client: &async_nats::Client,
    bucket: &kv::Store,
    filter: &str,
) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    use async_nats::jetstream::consumer::{DeliverPolicy, ReplayPolicy, push::OrderedConfig};
    let consumer = bucket
        .stream
        .create_consumer(OrderedConfig {
            deliver_subject: client.new_inbox(),
            description: Some("wfr scan".to_string()),
            filter_subject: format!("{}{filter}", bucket.prefix),
            replay_policy: ReplayPolicy::Instant,
            deliver_policy: DeliverPolicy::LastPerSubject,
            ..Default::default()
        })
        .await
        .map_err(failed)?;
    let mut found = Vec::new();
    if consumer.cached_info().num_pending == 0 {
        return Ok(found);
    }
    let mut messages = consumer.messages().await.map_err(failed)?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(failed)?;
        let info = message.info().map_err(failed)?;
        let pending = info.pending;
        let deleted = message
            .headers
            .as_ref()
            .and_then(|h| h.get("KV-Operation"))
            .is_some_and(|op| op.as_str() != "PUT");
        if !deleted && let Some(key) = message.subject.strip_prefix(bucket.prefix.as_str()) {
            found.push((key.to_string(), message.payload.to_vec()));
        }
        if pending == 0 {
            break;
        }
    }
    Ok(found)
}

impl Nats {
    /// Connects to `address` (within [`OPEN_WITHIN`]) and opens its buckets,
    /// making them the first time.
    pub fn open(address: Address) -> Result<Nats, StoreError> {
        let shown = address.shown();
        let unreachable = |error: String| StoreError::NatsUnreachable {
            url: shown.clone(),
            within: OPEN_WITHIN.as_secs(),
            error,
        };
        let driver =
            Driver::start().map_err(|e| unreachable(format!("cannot start its client: {e}")))?;
        let client = driver.handle.block_on(async {
            match tokio::time::timeout(OPEN_WITHIN, connect(&address, "wfr")).await {
                Ok(Ok(client)) => Ok(client),
                Ok(Err(e)) if e.kind() == async_nats::ConnectErrorKind::AuthorizationViolation => {
                    Err(StoreError::NatsRefused {
                        url: shown.clone(),
                        error: e.to_string(),
                    })
                }
                Ok(Err(e)) => Err(unreachable(e.to_string())),
                Err(_) => Err(unreachable("no answer".into())),
            }
        })?;
        // Again while it fails for a moment: on a cluster, the info of a
        // stream that another `wfr` is making times out until it has a leader.
        let buckets = driver.handle.block_on(async {
            let deadline = tokio::time::Instant::now() + CALL_WITHIN;
            loop {
                match tokio::time::timeout_at(deadline, buckets(&client, &address)).await {
                    Ok(Ok(buckets)) => return Ok(buckets),
                    Ok(Err(failure))
                        if is_transient(&failure)
                            && tokio::time::Instant::now() + RETRY_AFTER < deadline =>
                    {
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                    Ok(Err(failure)) => return Err(failure),
                    Err(_) => {
                        return Err(format!(
                            "its JetStream did not make or find the buckets within {} s",
                            CALL_WITHIN.as_secs()
                        ));
                    }
                }
            }
        });
        let buckets = buckets.map_err(|error| StoreError::Nats {
            url: shown.clone(),
            error,
        })?;
        Ok(Nats {
            address,
            buckets,
            driver,
        })
    }

    /// The store's URL, without credentials.
    #[must_use]
    pub fn shown(&self) -> String {
        self.address.shown()
    }

    /// Runs `work` on the store's runtime, again while it fails for a moment
    /// (a timeout, no responders: a stream leader being elected, a server
    /// restarting) and [`CALL_WITHIN`] has not passed. Every `work` given is
    /// safe to do again (a claim that finds its own run id is claimed).
    fn call<T, F>(&self, work: impl Fn() -> F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, Failure>>,
    {
        self.driver
            .handle
            .block_on(async {
                let deadline = tokio::time::Instant::now() + CALL_WITHIN;
                loop {
                    let failure = match tokio::time::timeout_at(deadline, work()).await {
                        Ok(Ok(done)) => return Ok(done),
                        Ok(Err(failure)) => failure,
                        Err(_) => {
                            return Err(format!("no answer within {} s", CALL_WITHIN.as_secs()));
                        }
                    };
                    if !is_transient(&failure)
                        || tokio::time::Instant::now() + RETRY_AFTER >= deadline
                    {
                        return Err(failure);
                    }
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            })
            .map_err(|error| StoreError::Nats {
                url: self.address.shown(),
                error,
            })
    }

    /// Runs `work` once, within [`CALL_WITHIN`] (for what is not safe to do again).
    fn call_once<T>(
        &self,
        work: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, StoreError> {
        self.driver
            .handle
            .block_on(async {
                match tokio::time::timeout(CALL_WITHIN, work).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("no answer within {} s", CALL_WITHIN.as_secs())),
                }
            })
            .map_err(|error| StoreError::Nats {
                url: self.address.shown(),
                error,
            })
    }
}

/// How long a call waits before it tries again.
const RETRY_AFTER: Duration = Duration::from_millis(100);

/// A failure that may pass: async-nats says a request timed out (no answer
/// yet: a stream's leader being elected), that nobody answered (JetStream not
/// ready on that server), or the server says JetStream is temporarily
/// unavailable (503, error 10008: a cluster that lost a node, meanwhile).
fn is_transient(failure: &str) -> bool {
    failure.contains("timed out")
        || failure.contains("no responders")
        || failure.contains("temporarily unavailable")
}

/// A client connected to `address`, named `name` to the server (the store's,
/// and a worker fleet's).
pub(crate) async fn connect(
    address: &Address,
    name: &str,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let options = match &address.credentials {
        Credentials::None => async_nats::ConnectOptions::new(),
        Credentials::Token(token) => async_nats::ConnectOptions::with_token(token.clone()),
        Credentials::User { user, password } => {
            async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
        }
    };
    let scheme = if address.tls { "tls" } else { "nats" };
    // Each was checked as HOST:PORT when the address was read.
    let servers: Vec<async_nats::ServerAddr> = address
        .servers
        .iter()
        .filter_map(|s| format!("{scheme}://{s}").parse().ok())
        .collect();
    options
        .name(name)
        .connection_timeout(OPEN_WITHIN)
        .request_timeout(Some(REQUEST_WITHIN))
        // Past the first connection, a lost server is tried again for as long
        // as the process runs (a scheduler outlives a NATS restart); a call
        // meanwhile fails after its bound.
        .max_reconnects(None)
        .require_tls(address.tls)
        .connect(servers)
        .await
}

/// How many ways buckets and streams are replicated on the servers `client`
/// reached: as many as the cluster advertises, at most 3; 1 on a lone server.
pub(crate) fn replicas(client: &async_nats::Client) -> usize {
    let info = client.server_info();
    if info.cluster.as_deref().is_some_and(|c| !c.is_empty()) {
        // The servers the cluster advertises to clients, this one among them.
        info.connect_urls.len().clamp(1, 3)
    } else {
        1
    }
}

/// The KV bucket `bucket`, made when missing (by this process or another one
/// meanwhile); its entries kept `max_age` (zero: for ever).
pub(crate) async fn key_value(
    js: &jetstream::Context,
    bucket: &str,
    description: &str,
    replicas: usize,
    max_age: Duration,
) -> Result<kv::Store, String> {
    if let Ok(store) = js.get_key_value(bucket).await {
        return Ok(store);
    }
    // The bucket's stream as async-nats's `create_key_value` makes it (but for
    // direct reads), made directly: that one first reads the account's info,
    // which async-nats 0.51 cannot parse from a 2.9 server (no
    // `reserved_memory`).
    let made = js
        .create_stream(jetstream::stream::Config {
            name: format!("KV_{bucket}"),
            description: Some(description.to_string()),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            storage: jetstream::stream::StorageType::File,
            num_replicas: replicas,
            allow_rollup: true,
            deny_delete: true,
            // Reads through the stream's leader, not any replica: a replica
            // behind it would not see a claim just made (a `wfr release
            // --claimed` checks its scheduler's), nor a plan just stored.
            allow_direct: false,
            discard: jetstream::stream::DiscardPolicy::New,
            max_age,
            ..Default::default()
        })
        .await;
    // A stream just made on a cluster (by this store or a racing one) may not
    // be known yet to the server this client talks to: "stream not found" for
    // a moment, then found.
    let visible_by = tokio::time::Instant::now() + BUCKET_VISIBLE_WITHIN;
    loop {
        match js.get_key_value(bucket).await {
            Ok(store) => return Ok(store),
            Err(error)
                if error.to_string().contains("stream not found")
                    && tokio::time::Instant::now() < visible_by =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => {
                return Err(match made {
                    Err(made) => {
                        format!("cannot make bucket {bucket} ({replicas} replicas): {made}")
                    }
                    Ok(_) => format!("cannot open bucket {bucket}: {error}"),
                });
            }
        }
    }
}

/// How long a bucket just made may stay unknown to the server a client talks to.
const BUCKET_VISIBLE_WITHIN: Duration = Duration::from_secs(5);

/// The store's buckets, made when missing.
async fn buckets(client: &async_nats::Client, address: &Address) -> Result<Buckets, Failure> {
    let mut js = jetstream::new(client.clone());
    js.set_timeout(REQUEST_WITHIN);
    let replicas = address.replicas.unwrap_or_else(|| replicas(client));
    let one = |name: &'static str, description: &'static str| {
        let js = js.clone();
        let bucket = address.bucket(name);
        async move { key_value(&js, &bucket, description, replicas, Duration::ZERO).await }
    };
    Ok(Buckets {
        client: client.clone(),
        runs: one("runs", "wfc: the run history").await?,
        open: one("open", "wfc: the runs that have not ended").await?,
        releases: one("releases", "wfc: claimed releases").await?,
        ticks: one("ticks", "wfc: the schedulers' last ticks").await?,
    })
}

/// Claims `workflow`'s `logical` for `run_id` (see [`Store::claim_release`]):
/// a `create`, refused when the key holds a claim. A claim whose answer was
/// lost and is made again finds its own run id: claimed.
async fn claim(
    buckets: &Buckets,
    workflow: &str,
    logical: Timestamp,
    run_id: &str,
    by: Claimer,
    force: bool,
) -> Result<Claim, Failure> {
    let name = release_key(workflow, logical);
    let value = bytes_of(&Release {
        run_id: run_id.to_string(),
        claimed: micros(Timestamp::now()),
        claimed_by: by.as_str().to_string(),
    });
    let outcome = loop {
        if force {
            buckets
                .releases
                .put(&name, value.clone().into())
                .await
                .map_err(at("write", &buckets.releases, &name))?;
            break Claim::Claimed;
        }
        match buckets.releases.create(&name, value.clone().into()).await {
            Ok(_) => break Claim::Claimed,
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                // None: given back meanwhile, claimed again.
                if let Some((held, _)) = read(&buckets.releases, &name).await? {
                    let held: Release = json(&buckets.releases.name, &name, &held)?;
                    break if held.run_id == run_id {
                        Claim::Claimed
                    } else {
                        Claim::Taken {
                            run_id: held.run_id,
                        }
                    };
                }
            }
            Err(e) => return Err(at("create", &buckets.releases, &name)(e)),
        }
    };
    if by == Claimer::Scheduler {
        pass(buckets, workflow, logical).await?;
    }
    Ok(outcome)
}

/// Moves `workflow`'s last tick forward to `tick`: an `update` at the revision
/// read, read again when another scheduler wrote it meanwhile.
async fn pass(buckets: &Buckets, workflow: &str, tick: Timestamp) -> Result<(), Failure> {
    let name = key(workflow);
    let value = micros(tick).to_string().into_bytes();
    loop {
        let written = match read(&buckets.ticks, &name).await? {
            None => match buckets.ticks.create(&name, value.clone().into()).await {
                Ok(_) => true,
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => false,
                Err(e) => return Err(at("create", &buckets.ticks, &name)(e)),
            },
            Some((last, revision)) => {
                let last = tick_of(&buckets.ticks.name, &name, &last)?;
                if last >= micros(tick) {
                    return Ok(());
                }
                match buckets
                    .ticks
                    .update(&name, value.clone().into(), revision)
                    .await
                {
                    Ok(_) => true,
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => false,
                    Err(e) => return Err(at("update", &buckets.ticks, &name)(e)),
                }
            }
        };
        if written {
            return Ok(());
        }
    }
}

fn tick_of(bucket: &str, name: &str, value: &[u8]) -> Result<i64, Failure> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| format!("the value of `{name}` in bucket {bucket} is not a tick"))
}

/// The rows of `bucket` under `filter`.
async fn rows(
    client: &async_nats::Client,
    bucket: &kv::Store,
    filter: &str,
) -> Result<Vec<RunRow>, Failure> {
    scan(client, bucket, filter)
        .await?
        .into_iter()
        .map(|(name, value)| json::<Row>(&bucket.name, &name, &value).map(RunRow::from))
        .collect()
}

impl Store for Nats {
    fn add_run(&self, run: &RunRow) -> Result<(), StoreError> {
        let b = &self.buckets;
        let tried = std::cell::Cell::new(false);
        self.call(|| async {
            let again = tried.replace(true);
            let value = bytes_of(&Row::from(run));
            let name = key(&run.run_id);
            // Added once: a second `wfr` given the same run id (a claim two
            // schedulers both took over) fails here, before it runs anything.
            // Tried again, the same row found is this call's, written before
            // its answer was lost.
            match b.runs.create(&name, value.clone().into()).await {
                Ok(_) => {}
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    if !again
                        || read(&b.runs, &name)
                            .await?
                            .is_none_or(|(held, _)| held != value)
                    {
                        return Err(format!("run {} is in the history already", run.run_id));
                    }
                }
                Err(e) => return Err(at("create", &b.runs, &name)(e)),
            }
            if !run.state.has_ended() {
                b.open
                    .put(open_key(&run.workflow, &run.run_id), value.into())
                    .await
                    .map_err(at("write", &b.open, &open_key(&run.workflow, &run.run_id)))?;
            }
            Ok(())
        })
    }

    fn adopt_orphans(
        &self,
        since: Timestamp,
        before: Timestamp,
    ) -> Result<Vec<(String, Timestamp, String)>, StoreError> {
        let b = &self.buckets;
        self.call_once(async {
            // A scan of every claim: the releases bucket has no index by claim time.
            let mut adopted = Vec::new();
            for (name, value) in scan(&b.client, &b.releases, ">").await? {
                let mut held: Release = json(&b.releases.name, &name, &value)?;
                if held.claimed < micros(since)
                    || held.claimed >= micros(before)
                    || held.claimed_by != Claimer::Scheduler.as_str()
                {
                    continue;
                }
                if read(&b.runs, &key(&held.run_id)).await?.is_some() {
                    continue;
                }
                let Some((workflow, logical)) = name.rsplit_once('.') else {
                    continue;
                };
                let Ok(logical) = logical.parse::<i64>() else {
                    continue;
                };
                // Taken over at the revision read: another scheduler that
                // adopted it first makes this update fail.
                let Some((_, revision)) = read(&b.releases, &name).await? else {
                    continue;
                };
                held.claimed_by = ADOPTED.to_string();
                match b
                    .releases
                    .update(&name, bytes_of(&held).into(), revision)
                    .await
                {
                    Ok(_) => adopted.push((unkey(workflow), from_micros(logical), held.run_id)),
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {}
                    Err(e) => return Err(at("update", &b.releases, &name)(e)),
                }
            }
            adopted.sort_by_key(|(_, logical, _)| *logical);
            Ok(adopted)
        })
    }

    fn end_run(&self, run_id: &str, state: RunState, ended: Timestamp) -> Result<(), StoreError> {
        let b = &self.buckets;
        self.call(|| async {
            let name = key(run_id);
            let Some((value, _)) = read(&b.runs, &name).await? else {
                return Ok(());
            };
            let mut row: Row = json(&b.runs.name, &name, &value)?;
            row.state = state.as_str().to_string();
            row.ended = Some(micros(ended));
            b.runs
                .put(&name, bytes_of(&row).into())
                .await
                .map_err(at("write", &b.runs, &name))?;
            let open = open_key(&row.workflow, run_id);
            b.open
                .delete(&open)
                .await
                .map_err(at("delete", &b.open, &open))
        })
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRow>, StoreError> {
        let b = &self.buckets;
        self.call(|| async {
            let name = key(run_id);
            match read(&b.runs, &name).await? {
                Some((value, _)) => Ok(Some(json::<Row>(&b.runs.name, &name, &value)?.into())),
                None => Ok(None),
            }
        })
    }

    fn runs(&self, query: &RunQuery) -> Result<Vec<RunRow>, StoreError> {
        let b = &self.buckets;
        self.call(|| async {
            // A scan of the whole history (one consumer, the newest value of
            // each run), filtered and sorted here: KV has no index by time.
            // Fine for the history of thousands of runs `wfr runs` reads.
            let mut found: Vec<RunRow> = rows(&b.client, &b.runs, ">")
                .await?
                .into_iter()
                .filter(|r| query.workflow.as_ref().is_none_or(|w| &r.workflow == w))
                .filter(|r| query.state.is_none_or(|s| r.state == s))
                .filter(|r| query.since.is_none_or(|t| r.started >= t))
                .collect();
            found.sort_by(|a, b| {
                b.started
                    .cmp(&a.started)
                    .then_with(|| b.run_id.cmp(&a.run_id))
            });
            found.drain(..query.offset.min(found.len()));
            found.truncate(query.limit);
            Ok(found)
        })
    }

    fn open_runs(&self) -> Result<Vec<RunRow>, StoreError> {
        let b = &self.buckets;
        self.call(|| async {
            let mut found = rows(&b.client, &b.open, ">").await?;
            found.sort_by_key(|r| r.started);
            Ok(found)
        })
    }

    fn claim_release(
        &self,
        workflow: &str,
        logical: Timestamp,
        run_id: &str,
        by: Claimer,
        force: bool,
    ) -> Result<Claim, StoreError> {
        self.call(|| claim(&self.buckets, workflow, logical, run_id, by, force))
    }

    fn claim_releases(
        &self,
        claims: &[(String, Timestamp, String)],
        by: Claimer,
    ) -> Result<Vec<Claim>, StoreError> {
        let b = &self.buckets;
        self.call(|| async {
            // One claim after the other: JetStream 2.9 has no transaction over
            // several keys; each is claimed once all the same.
            let mut outcomes = Vec::with_capacity(claims.len());
            for (workflow, logical, run_id) in claims {
                outcomes.push(claim(b, workflow, *logical, run_id, by, false).await?);
            }
            Ok(outcomes)
        })
    }

    fn unclaim(&self, workflow: &str, logical: Timestamp, run_id: &str) -> Result<(), StoreError> {
        let b = &self.buckets;
        self.call(|| async {
            let name = release_key(workflow, logical);
            let Some((value, revision)) = read(&b.releases, &name).await? else {
                return Ok(());
            };
            let held: Release = json(&b.releases.name, &name, &value)?;
            if held.run_id != run_id {
                return Ok(());
            }
            // Only this claim: a delete at the revision read.
            match b
                .releases
                .delete_expect_revision(&name, Some(revision))
                .await
            {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == kv::DeleteErrorKind::WrongLastRevision => Ok(()),
                Err(e) => Err(at("delete", &b.releases, &name)(e)),
            }
        })
    }

    fn released_as(
        &self,
        workflow: &str,
        logical: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let b = &self.buckets;
        self.call(|| async {
            let name = release_key(workflow, logical);
            match read(&b.releases, &name).await? {
                Some((value, _)) => Ok(Some(
                    json::<Release>(&b.releases.name, &name, &value)?.run_id,
                )),
                None => Ok(None),
            }
        })
    }

    fn last_tick(&self, workflow: &str) -> Result<Option<Timestamp>, StoreError> {
        let b = &self.buckets;
        self.call(|| async {
            let name = key(workflow);
            match read(&b.ticks, &name).await? {
                Some((value, _)) => Ok(Some(from_micros(tick_of(&b.ticks.name, &name, &value)?))),
                None => Ok(None),
            }
        })
    }

    fn pass_tick(&self, workflow: &str, tick: Timestamp) -> Result<(), StoreError> {
        self.call(|| pass(&self.buckets, workflow, tick))
    }

    fn active(&self, workflow: &str) -> Result<usize, StoreError> {
        let b = &self.buckets;
        self.call(|| async {
            Ok(scan(&b.client, &b.open, &format!("{}.>", key(workflow)))
                .await?
                .len())
        })
    }
}

/// The name [`key`] wrote.
#[must_use]
pub fn unkey(token: &str) -> String {
    if token == "=" {
        return String::new();
    }
    let mut bytes = Vec::with_capacity(token.len());
    let raw = token.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'='
            && let Some(byte) = token
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            bytes.push(byte);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn jetstream_unavailable_for_a_moment_is_tried_again() {
        assert!(super::is_transient(
            "failed getting entry: JetStream system temporarily unavailable (code 503, error code 10008)"
        ));
        assert!(!super::is_transient("authorization violation"));
    }

    use super::*;

    fn parse(url: &str) -> Result<Address, String> {
        Address::parse(url, None)
    }

    #[test]
    fn urls_give_servers_credentials_and_options_and_show_no_credentials() {
        let one = parse("nats://s3cret@127.0.0.1:4222").expect("a URL");
        assert_eq!(one.servers, ["127.0.0.1:4222"]);
        assert!(one.credentials == Credentials::Token("s3cret".into()));
        assert_eq!(one.shown(), "nats://127.0.0.1:4222");
        assert!(!format!("{one:?}").contains("s3cret"));
        let many =
            parse("nats://u:p%40ss@a:1,nats://u:p%40ss@b:2,c/team?replicas=2").expect("a URL");
        assert_eq!(many.servers, ["a:1", "b:2", "c:4222"]);
        assert!(
            many.credentials
                == Credentials::User {
                    user: "u".into(),
                    password: "p@ss".into()
                }
        );
        assert_eq!(many.namespace, "team");
        assert_eq!(many.replicas, Some(2));
        assert_eq!(many.shown(), "nats://a:1,nats://b:2,nats://c:4222/team");
        assert_eq!(many.bucket("runs"), "team-runs");
        // The token from the environment only without one in the URL.
        let env = Address::parse("nats://h:1", Some("t")).expect("a URL");
        assert!(env.credentials == Credentials::Token("t".into()));
        let url = Address::parse("nats://u@h:1", Some("t")).expect("a URL");
        assert!(url.credentials == Credentials::Token("u".into()));
        assert_eq!(parse("tls://h:1").expect("a URL").shown(), "tls://h:1");
    }

    #[test]
    fn bad_urls_say_why_without_credentials() {
        for (url, says) in [
            ("http://s3cret@h:1", "nats://"),
            ("nats://s3cret@h:x", "not HOST:PORT"),
            ("nats://s3cret@", "names no server"),
            ("nats://h:1?replicas=9", "1 to 5"),
            ("nats://h:1?ttl=3", "unknown option `ttl`"),
            ("nats://h:1/a.b", "namespace"),
            ("nats://a@h:1,nats://b@h:2", "different credentials"),
        ] {
            let why = parse(url).expect_err(url);
            assert!(why.contains(says), "{url}: {why}");
            assert!(!why.contains("s3cret"), "{url}: {why}");
        }
    }

    #[test]
    fn names_become_key_tokens_and_back() {
        for name in ["plain_name-1", "a.b", "a b", "ä", "=2E", "", "x>y*"] {
            let token = key(name);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-=".contains(&b)),
                "{token}"
            );
            assert_eq!(unkey(&token), name);
        }
        assert_eq!(key("a.b"), "a=2Eb");
        assert_ne!(key("a.b"), key("a=2Eb"));
    }
}
