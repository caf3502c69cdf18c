//! The store: run history, releases and scheduler state. Run records stay as
//! files under `.wfc/runs` (a context can be large); the store is their index, and
//! the one place that says whether a workflow's logical time has been released
//! and who owns a run.
//!
//! [`Store`] is what the commands use; [`sqlite::Sqlite`] is the embedded default
//! (`.wfc/wfc.db`, nothing to install); [`nats::Nats`] keeps it in NATS JetStream
//! key-value buckets, for many machines sharing one store (`--store nats://…`).
//! Every operation that must not happen twice (a release, a scheduler's tick)
//! is one call that claims or refuses.

#[cfg(feature = "nats")]
pub mod nats;
pub mod sqlite;

use std::path::{Path, PathBuf};

use jiff::Timestamp;

wfc_plan::listed_enum! {
    /// Where a run stands in the history.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum RunState {
        /// Its `wfr` is (as far as anyone knows) running it.
        Running,
        Success,
        Failed,
        Skip,
        Cancel,
        /// Its `wfr` died (SIGKILL, power loss) before the run ended; found by the
        /// next command that looked. Its record was closed as cancelled.
        Lost,
    }
}

impl RunState {
    /// The name the history shows (`RUNNING`, `SUCCESS`, ..., `LOST`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "RUNNING",
            RunState::Success => "SUCCESS",
            RunState::Failed => "FAILED",
            RunState::Skip => "SKIP",
            RunState::Cancel => "CANCEL",
            RunState::Lost => "LOST",
        }
    }

    /// The state a name gives (any case), for `--status`.
    #[must_use]
    pub fn parse(text: &str) -> Option<RunState> {
        RunState::ALL
            .iter()
            .copied()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// The state of a run that ended with `status`.
    #[must_use]
    pub fn ended(status: crate::status::Status) -> RunState {
        use crate::status::Status;
        match status {
            Status::Success => RunState::Success,
            Status::Failed => RunState::Failed,
            Status::Skip => RunState::Skip,
            Status::Cancel => RunState::Cancel,
            // A run that has ended is never WAIT.
            Status::Wait => RunState::Failed,
        }
    }

    #[must_use]
    pub fn has_ended(self) -> bool {
        self != RunState::Running
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run in the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRow {
    pub run_id: String,
    pub workflow: String,
    pub state: RunState,
    /// The logical time of a release; None for a run that is not one.
    pub release: Option<Timestamp>,
    pub started: Timestamp,
    /// None while it runs.
    pub ended: Option<Timestamp>,
    /// The run this one re-runs (`wfr rerun`).
    pub rerun_of: Option<String>,
    /// Where its record is (once it ended; `.<id>.partial` beside it while it runs).
    pub record: PathBuf,
    /// The `wfr` process that runs it (an owner label, see `owner.rs`).
    pub owner: Option<String>,
}

/// What `wfr runs` asks for.
#[derive(Clone, Debug, Default)]
pub struct RunQuery {
    pub workflow: Option<String>,
    pub state: Option<RunState>,
    pub since: Option<Timestamp>,
    pub limit: usize,
    /// How many of the newest that match to pass over first (a page further on).
    pub offset: usize,
}

/// How a claim of a workflow's logical time came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The time is the caller's, under its run id.
    Claimed,
    /// It was released already, as this run.
    Taken { run_id: String },
}

/// Who claims a release: a person (`wfr release`, `wfr backfill`), or a
/// scheduler, whose claim also moves the workflow's last fired tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claimer {
    Release,
    Backfill,
    Scheduler,
}

impl Claimer {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Claimer::Release => "release",
            Claimer::Backfill => "backfill",
            Claimer::Scheduler => "schedule",
        }
    }
}

/// Why the store cannot do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the run store {}: {error}", path.display())]
    Database {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error(
        "the run store {} was written by a newer wfc (schema {found}; this wfr knows up to {known}); use that wfc's wfr, or move the file away to start a new history (the run records in .wfc/runs stay and are indexed again)",
        path.display()
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("cannot make the folder of the run history {}: {error}", path.display())]
    Folder {
        path: PathBuf,
        error: std::io::Error,
    },
    /// `--store` / `$WFR_STORE` that is not a store's URL. Never the credentials.
    #[error("the run store {given}: {why}")]
    Address { given: String, why: String },
    /// The NATS servers do not answer (the URL without its credentials).
    #[error(
        "cannot reach NATS at {url} within {within} s: {error}; check that nats-server runs there with JetStream on (-js) and that the token or user is right"
    )]
    NatsUnreachable {
        url: String,
        within: u64,
        error: String,
    },
    /// The NATS servers refuse the credentials given (never shown).
    #[error(
        "NATS at {url} refused the credentials ({error}): give the token in the store's URL (nats://TOKEN@host:port) or in WFR_NATS_TOKEN, or the user as nats://USER:PASSWORD@host:port"
    )]
    NatsRefused { url: String, error: String },
    /// The store on NATS failed a call (the URL without its credentials).
    #[error("the run store on NATS at {url}: {error}")]
    Nats { url: String, error: String },
}

/// The history, releases and scheduler state (see the module doc).
pub trait Store: Send + Sync {
    /// Adds a run that starts (RUNNING, no end).
    fn add_run(&self, run: &RunRow) -> Result<(), StoreError>;
    /// Claims made by schedulers between `since` and `before` whose run never
    /// started (a scheduler killed between its claim and its run's start), taken
    /// over by the caller in one transaction, each once: (workflow, logical time,
    /// the run id it was claimed for).
    fn adopt_orphans(
        &self,
        since: Timestamp,
        before: Timestamp,
    ) -> Result<Vec<(String, Timestamp, String)>, StoreError>;
    /// Sets the state and end of a run that ended (or was found lost).
    fn end_run(&self, run_id: &str, state: RunState, ended: Timestamp) -> Result<(), StoreError>;
    /// One run.
    fn run(&self, run_id: &str) -> Result<Option<RunRow>, StoreError>;
    /// Runs, newest first, as `query` asks.
    fn runs(&self, query: &RunQuery) -> Result<Vec<RunRow>, StoreError>;
    /// Runs that have not ended (RUNNING).
    fn open_runs(&self) -> Result<Vec<RunRow>, StoreError>;
    /// Claims `workflow`'s logical time `logical` for the run `run_id`, in one
    /// transaction: `Taken` when it was released already (by anyone, whatever
    /// that run's status), unless `force`, which takes it over. A scheduler's
    /// claim also moves the workflow's last fired tick to `logical`.
    fn claim_release(
        &self,
        workflow: &str,
        logical: Timestamp,
        run_id: &str,
        by: Claimer,
        force: bool,
    ) -> Result<Claim, StoreError>;
    /// [`Store::claim_release`] (not forced) of each (workflow, logical time, run
    /// id), all in one transaction: a scheduler claims every due tick at once.
    fn claim_releases(
        &self,
        claims: &[(String, Timestamp, String)],
        by: Claimer,
    ) -> Result<Vec<Claim>, StoreError>;
    /// Gives back a claim whose run could not start (bad logging settings, a
    /// record that cannot be made): the time is free again. Only the claim of
    /// `run_id` is removed.
    fn unclaim(&self, workflow: &str, logical: Timestamp, run_id: &str) -> Result<(), StoreError>;
    /// The run `workflow`'s logical time `logical` was released as.
    fn released_as(&self, workflow: &str, logical: Timestamp)
    -> Result<Option<String>, StoreError>;
    /// The newest tick a scheduler fired (or let pass) for `workflow`.
    fn last_tick(&self, workflow: &str) -> Result<Option<Timestamp>, StoreError>;
    /// Moves `workflow`'s last tick to `tick` (never back): ticks a scheduler
    /// let pass (catch-up `none`/`latest`) without claiming them.
    fn pass_tick(&self, workflow: &str, tick: Timestamp) -> Result<(), StoreError>;
    /// How many runs of `workflow` are RUNNING.
    fn active(&self, workflow: &str) -> Result<usize, StoreError>;
}

/// The store of a workspace whose run records are in `runs`: the database
/// beside that folder when it is a `.wfc` folder's (`.wfc/runs` → `.wfc/wfc.db`),
/// else inside it (`--runs DIR` → `DIR/.wfc.db`: a folder of runs somewhere
/// else never shares a history with its neighbours). The first time, the
/// records already in `runs` are indexed.
pub fn open(runs: &Path) -> Result<sqlite::Sqlite, StoreError> {
    sqlite::Sqlite::open(&db_path(runs), runs)
}

/// The store `store` names (`--store`; else `$WFR_STORE`), else the SQLite
/// store of `runs` (see [`open`]). A store named that cannot be reached is an
/// error, never the SQLite store instead.
pub fn open_chosen(runs: &Path, store: Option<&str>) -> Result<Box<dyn Store>, StoreError> {
    let from_env = std::env::var("WFR_STORE")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let Some(given) = store.map(str::to_string).or(from_env) else {
        return Ok(Box::new(open(runs)?));
    };
    let hidden = hide_credentials(&given);
    if given.trim() == "sqlite" {
        return Ok(Box::new(open(runs)?));
    }
    #[cfg(feature = "nats")]
    {
        let token = std::env::var("WFR_NATS_TOKEN").ok();
        let address = nats::Address::parse(&given, token.as_deref())
            .map_err(|why| StoreError::Address { given: hidden, why })?;
        Ok(Box::new(nats::Nats::open(address)?))
    }
    #[cfg(not(feature = "nats"))]
    Err(StoreError::Address {
        given: hidden,
        why: "this wfr was built without the `nats` feature; the stores it knows are `sqlite` (the default)".into(),
    })
}

/// A store's URL as messages show it: `scheme://` kept, whatever is before an
/// `@` (credentials) gone.
fn hide_credentials(url: &str) -> String {
    url.split(',')
        .map(|part| match part.rsplit_once('@') {
            Some((before, after)) => match before.split_once("://") {
                Some((scheme, _)) => format!("{scheme}://{after}"),
                None => after.to_string(),
            },
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Where the history of the runs in `runs` is (see [`open`]).
#[must_use]
pub fn db_path(runs: &Path) -> PathBuf {
    let parent = runs.parent().filter(|p| !p.as_os_str().is_empty());
    match parent {
        Some(parent)
            if parent
                .file_name()
                .is_some_and(|n| n == wfc_plan::state::STATE_DIR) =>
        {
            parent.join(DB_FILE)
        }
        None if runs.as_os_str().is_empty() => PathBuf::from(DB_FILE),
        _ => runs.join(format!(".{DB_FILE}")),
    }
}

/// The database's file name in a `.wfc` folder.
pub const DB_FILE: &str = "wfc.db";

/// Finds runs whose `wfr` died before they ended: marks them LOST in the
/// history and cleans up what they left (their processes, containers, scratch
/// folders; their open records are closed as cancelled, as `reap.rs` does for
/// any run). Every command that reads the history calls it first. Returns the
/// runs found lost.
pub fn find_lost(store: &dyn Store, runs: &Path) -> Result<Vec<RunRow>, StoreError> {
    let mut lost = Vec::new();
    for run in store.open_runs()? {
        let gone = run
            .owner
            .as_deref()
            .and_then(crate::owner::Owner::parse)
            .is_some_and(|owner| owner.is_gone());
        if gone {
            lost.push(run);
        }
    }
    if lost.is_empty() {
        return Ok(lost);
    }
    // Their leftovers first, so that a run marked lost has nothing running.
    if let Some(cleanup) = crate::reap::look_around(runs, Path::new("")) {
        cleanup();
    }
    let now = Timestamp::now();
    for run in &mut lost {
        store.end_run(&run.run_id, RunState::Lost, now)?;
        run.state = RunState::Lost;
        run.ended = Some(now);
    }
    Ok(lost)
}

/// A time as the store keeps it: microseconds since the epoch.
pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// A time the store kept.
pub(crate) fn from_micros(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH)
}
