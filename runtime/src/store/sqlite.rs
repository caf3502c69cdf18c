//! The embedded store: one SQLite database (`.wfc/wfc.db`) in WAL mode, so that
//! readers (`wfr runs`) never wait for a writer and a writer waits (up to
//! [`BUSY`]) for another. Every write is one transaction; claims take the write
//! lock first (`BEGIN IMMEDIATE`), so two schedulers cannot both find a tick
//! free. Its schema is versioned (`PRAGMA user_version`) and migrated forward
//! by [`MIGRATIONS`]; a database written by a newer wfc is refused.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use super::{Claim, Claimer, RunQuery, RunRow, RunState, Store, StoreError, from_micros, micros};

/// The write-ahead log's size (pages) past which a commit checkpoints it.
const WAL_PAGES: i64 = 64;

/// How long a write waits for another process's.
const BUSY: Duration = Duration::from_secs(10);

/// The schema, one step per version: step `i` takes a database from version `i`
/// to `i + 1`. Steps are only ever added.
const MIGRATIONS: &[&str] = &[
    // 1: runs, releases, scheduler state.
    "CREATE TABLE runs (
        run_id   TEXT PRIMARY KEY,
        workflow TEXT NOT NULL,
        state    TEXT NOT NULL,
        release  INTEGER,
        started  INTEGER NOT NULL,
        ended    INTEGER,
        rerun_of TEXT,
        record   TEXT NOT NULL,
        owner    TEXT
    );
    CREATE INDEX runs_by_start ON runs (started DESC);
    CREATE INDEX runs_by_workflow ON runs (workflow, started DESC);
    CREATE INDEX runs_open ON runs (state) WHERE ended IS NULL;
    CREATE TABLE releases (
        workflow   TEXT NOT NULL,
        logical    INTEGER NOT NULL,
        run_id     TEXT NOT NULL,
        claimed    INTEGER NOT NULL,
        claimed_by TEXT NOT NULL,
        PRIMARY KEY (workflow, logical)
    );
    CREATE INDEX releases_by_claim ON releases (claimed);
    CREATE TABLE ticks (
        workflow TEXT PRIMARY KEY,
        last     INTEGER NOT NULL
    );",
    // 2: the history's order (newest first, then by id) read straight from its
    // indexes, so a page of 10,000 runs (`wfr server`, `wfr runs`) and a
    // workflow's last run sort nothing.
    "CREATE INDEX runs_in_order ON runs (started DESC, run_id DESC);
    CREATE INDEX runs_of_workflow_in_order ON runs (workflow, started DESC, run_id DESC);
    DROP INDEX runs_by_start;
    DROP INDEX runs_by_workflow;",
];

/// Who holds a scheduler's claim whose run never started, once a scheduler took
/// it over to start it (once: a claim adopted and orphaned again is left).
const ADOPTED: &str = "schedule-adopted";

/// The schema version this wfr writes.
#[allow(clippy::cast_possible_wrap)] // a handful of steps
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// The SQLite store.
pub struct Sqlite {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Sqlite {
    /// Opens (making it, and migrating it, when needed) the database at `path`;
    /// a database made here indexes the records already in `runs`.
    pub fn open(path: &Path, runs: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            wfc_plan::state::prepare(&parent.join("runs")).map_err(|error| StoreError::Folder {
                path: path.to_path_buf(),
                error,
            })?;
            std::fs::create_dir_all(parent).map_err(|error| StoreError::Folder {
                path: path.to_path_buf(),
                error,
            })?;
        }
        let db = |error| StoreError::Database {
            path: path.to_path_buf(),
            error,
        };
        // Two processes opening a new database at once: one may find it locked
        // where the busy timeout does not apply (switching it to WAL); it tries
        // again, up to the same timeout.
        let started = std::time::Instant::now();
        let (connection, made) = loop {
            match connect(path) {
                Ok(done) => break done,
                Err(Migration::Sql(error)) if is_busy(&error) && started.elapsed() < BUSY => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(Migration::Newer(found)) => {
                    return Err(StoreError::Newer {
                        path: path.to_path_buf(),
                        found,
                        known: VERSION,
                    });
                }
                Err(Migration::Sql(error)) => return Err(db(error)),
            }
        };
        let store = Sqlite {
            path: path.to_path_buf(),
            connection: Mutex::new(connection),
        };
        if made {
            store.index_records(runs)?;
        }
        Ok(store)
    }

    /// Where the database is.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        work(&mut connection).map_err(|error| StoreError::Database {
            path: self.path.clone(),
            error,
        })
    }

    /// Indexes the run records in `runs` (a history that starts with the runs
    /// made before it): each finished record by its context's status and times;
    /// an open one (`.<id>.partial`) as running by its owner, for
    /// [`super::find_lost`] to judge.
    fn index_records(&self, runs: &Path) -> Result<(), StoreError> {
        let Ok(entries) = std::fs::read_dir(runs) else {
            return Ok(());
        };
        let found: Vec<RunRow> = entries
            .flatten()
            .filter_map(|entry| indexed(&entry.path()))
            .collect();
        self.with(|connection| {
            let tx = connection.transaction()?;
            for run in &found {
                insert_run(&tx, run, true)?;
            }
            tx.commit()
        })
    }
}

/// What a record in `path` says of its run, for the index.
fn indexed(path: &Path) -> Option<RunRow> {
    let name = path.file_name()?.to_str()?;
    let (run_id, open) = match crate::record::partial_run_id(name) {
        Some(id) => (id, true),
        None if !name.starts_with('.') => (name, false),
        None => return None,
    };
    let read = |file: &str, max: u64| -> Option<serde_json::Value> {
        let text = crate::owner::read_small(&path.join(file), max).ok()?;
        serde_json::from_str(&text).ok()
    };
    let plan = read("plan.json", 64 << 10)?;
    let workflow = plan["workflow"].as_str()?.to_string();
    let owner = plan["owner"].as_str().map(str::to_string);
    let record = if open {
        path.with_file_name(run_id)
    } else {
        path.to_path_buf()
    };
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| Timestamp::try_from(t).ok())
        .unwrap_or_else(Timestamp::now);
    // The run id starts with its start time, to the microsecond.
    let started = started_of(run_id).unwrap_or(modified);
    let (state, ended) = if open {
        (RunState::Running, None)
    } else {
        // A context can be large: its status and times are read from it whole
        // only when it is not too large; otherwise the record's time stands.
        let context = read("context.json", 64 << 20);
        let state = context
            .as_ref()
            .and_then(|c| c["status"].as_str())
            .and_then(RunState::parse)
            .unwrap_or(RunState::Cancel);
        let ended = context
            .as_ref()
            .and_then(|c| c["info"]["exec_end"].as_str())
            .and_then(|t| t.parse::<Timestamp>().ok())
            .unwrap_or(modified);
        (state, Some(ended))
    };
    Some(RunRow {
        run_id: run_id.to_string(),
        workflow,
        state,
        release: None,
        started,
        ended,
        rerun_of: None,
        record,
        owner,
    })
}

/// The start time a run id begins with (`YYYYmmddHHMMSSffffff`, UTC).
fn started_of(run_id: &str) -> Option<Timestamp> {
    let stamp = run_id.get(..20)?;
    let time = jiff::fmt::strtime::parse("%Y%m%d%H%M%S%6f", stamp).ok()?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(time.to_datetime().ok()?)
        .ok()
}

/// Opens the database at `path` in WAL mode with its schema up to date; true
/// when it was new.
fn connect(path: &Path) -> Result<(Connection, bool), Migration> {
    let mut connection = Connection::open(path)?;
    connection.busy_timeout(BUSY)?;
    // WAL: readers do not block the writer, nor it them. NORMAL: a commit is
    // durable once the WAL is synced at a checkpoint; a power loss may lose the
    // last commits, never corrupt the database.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    // Every `wfr` opens the database, writes a row or two and closes it. Closing
    // does not checkpoint (two syncs per run); the commit that grows the log past
    // WAL_PAGES pages does, so the log the next opener reads back stays short.
    connection.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    connection.pragma_update(None, "wal_autocheckpoint", WAL_PAGES)?;
    let made = migrate(&mut connection)?;
    Ok((connection, made))
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

enum Migration {
    Newer(i64),
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for Migration {
    fn from(e: rusqlite::Error) -> Self {
        Migration::Sql(e)
    }
}

/// Brings the schema to [`VERSION`], one transaction per step (the version is
/// read again under the write lock: two processes may open a new database at
/// once). True when the database was new.
fn migrate(connection: &mut Connection) -> Result<bool, Migration> {
    // Up to date (every open but the first): no write lock taken.
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == VERSION {
        return Ok(false);
    }
    let mut made = false;
    loop {
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version > VERSION {
            return Err(Migration::Newer(version));
        }
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(made);
        };
        made |= version == 0;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

/// The query of [`Sqlite::runs`]: of one workflow (its own index), or of all.
fn runs_sql(of_workflow: bool) -> String {
    let workflow = if of_workflow {
        "workflow = ?1"
    } else {
        "?1 IS NULL"
    };
    format!(
        "SELECT {COLUMNS} FROM runs
         WHERE {workflow}
           AND (?2 IS NULL OR state = ?2)
           AND (?3 IS NULL OR started >= ?3)
         ORDER BY started DESC, run_id DESC
         LIMIT ?4 OFFSET ?5"
    )
}

fn insert_run(connection: &Connection, run: &RunRow, or_ignore: bool) -> rusqlite::Result<()> {
    // A run is added once: a second `wfr` given the same run id (a claim two
    // schedulers both took over) fails here, before it runs anything.
    let verb = if or_ignore {
        "INSERT OR IGNORE"
    } else {
        "INSERT"
    };
    connection.execute(
        &format!(
            "{verb} INTO runs (run_id, workflow, state, release, started, ended, rerun_of, record, owner)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ),
        params![
            run.run_id,
            run.workflow,
            run.state.as_str(),
            run.release.map(micros),
            micros(run.started),
            run.ended.map(micros),
            run.rerun_of,
            run.record.to_string_lossy(),
            run.owner,
        ],
    )?;
    Ok(())
}

const COLUMNS: &str = "run_id, workflow, state, release, started, ended, rerun_of, record, owner";

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let state: String = row.get(2)?;
    Ok(RunRow {
        run_id: row.get(0)?,
        workflow: row.get(1)?,
        // A state this wfr does not know (a newer one's) reads as failed.
        state: RunState::parse(&state).unwrap_or(RunState::Failed),
        release: row.get::<_, Option<i64>>(3)?.map(from_micros),
        started: from_micros(row.get(4)?),
        ended: row.get::<_, Option<i64>>(5)?.map(from_micros),
        rerun_of: row.get(6)?,
        record: PathBuf::from(row.get::<_, String>(7)?),
        owner: row.get(8)?,
    })
}

impl Store for Sqlite {
    fn add_run(&self, run: &RunRow) -> Result<(), StoreError> {
        self.with(|c| insert_run(c, run, false))
    }

    fn adopt_orphans(
        &self,
        since: Timestamp,
        before: Timestamp,
    ) -> Result<Vec<(String, Timestamp, String)>, StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found: Vec<(String, i64, String)> = {
                let mut statement = tx.prepare(
                    "SELECT workflow, logical, run_id FROM releases
                     WHERE claimed >= ?1 AND claimed < ?2 AND claimed_by = ?3
                       AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.run_id = releases.run_id)
                     ORDER BY logical",
                )?;
                statement
                    .query_map(
                        params![micros(since), micros(before), Claimer::Scheduler.as_str()],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )?
                    .collect::<rusqlite::Result<_>>()?
            };
            for (workflow, logical, _) in &found {
                tx.execute(
                    "UPDATE releases SET claimed_by = ?3 WHERE workflow = ?1 AND logical = ?2",
                    params![workflow, logical, ADOPTED],
                )?;
            }
            tx.commit()?;
            Ok(found
                .into_iter()
                .map(|(w, l, r)| (w, from_micros(l), r))
                .collect())
        })
    }

    fn end_run(&self, run_id: &str, state: RunState, ended: Timestamp) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET state = ?2, ended = ?3 WHERE run_id = ?1",
                params![run_id, state.as_str(), micros(ended)],
            )
            .map(drop)
        })
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRow>, StoreError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM runs WHERE run_id = ?1"),
                [run_id],
                row,
            )
            .optional()
        })
    }

    fn runs(&self, query: &RunQuery) -> Result<Vec<RunRow>, StoreError> {
        self.with(|c| {
            let mut statement = c.prepare_cached(&runs_sql(query.workflow.is_some()))?;
            let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
            let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
            statement
                .query_map(
                    params![
                        query.workflow,
                        query.state.map(RunState::as_str),
                        query.since.map(micros),
                        limit,
                        offset
                    ],
                    row,
                )?
                .collect()
        })
    }

    fn open_runs(&self) -> Result<Vec<RunRow>, StoreError> {
        self.with(|c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM runs WHERE ended IS NULL ORDER BY started"
            ))?;
            statement.query_map([], row)?.collect()
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
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let claim = claim(&tx, workflow, logical, run_id, by, force)?;
            tx.commit()?;
            Ok(claim)
        })
    }

    fn claim_releases(
        &self,
        claims: &[(String, Timestamp, String)],
        by: Claimer,
    ) -> Result<Vec<Claim>, StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let outcomes = claims
                .iter()
                .map(|(workflow, logical, run_id)| {
                    claim(&tx, workflow, *logical, run_id, by, false)
                })
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(outcomes)
        })
    }

    fn unclaim(&self, workflow: &str, logical: Timestamp, run_id: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM releases WHERE workflow = ?1 AND logical = ?2 AND run_id = ?3",
                params![workflow, micros(logical), run_id],
            )
            .map(drop)
        })
    }

    fn released_as(
        &self,
        workflow: &str,
        logical: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT run_id FROM releases WHERE workflow = ?1 AND logical = ?2",
                params![workflow, micros(logical)],
                |row| row.get(0),
            )
            .optional()
        })
    }

    fn last_tick(&self, workflow: &str) -> Result<Option<Timestamp>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT last FROM ticks WHERE workflow = ?1",
                [workflow],
                |row| row.get::<_, i64>(0),
            )
            .optional()
            .map(|t| t.map(from_micros))
        })
    }

    fn pass_tick(&self, workflow: &str, tick: Timestamp) -> Result<(), StoreError> {
        self.with(|c| pass(c, workflow, tick))
    }

    fn active(&self, workflow: &str) -> Result<usize, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM runs WHERE workflow = ?1 AND ended IS NULL",
                [workflow],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| usize::try_from(n).unwrap_or(0))
        })
    }
}

/// Claims `workflow`'s `logical` for `run_id` inside the transaction `tx` (see
/// [`Store::claim_release`]).
fn claim(
    tx: &Connection,
    workflow: &str,
    logical: Timestamp,
    run_id: &str,
    by: Claimer,
    force: bool,
) -> rusqlite::Result<Claim> {
    let taken: Option<String> = tx
        .prepare_cached("SELECT run_id FROM releases WHERE workflow = ?1 AND logical = ?2")?
        .query_row(params![workflow, micros(logical)], |row| row.get(0))
        .optional()?;
    let claim = match taken {
        Some(previous) if !force => Claim::Taken { run_id: previous },
        _ => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO releases (workflow, logical, run_id, claimed, claimed_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                workflow,
                micros(logical),
                run_id,
                micros(Timestamp::now()),
                by.as_str()
            ])?;
            Claim::Claimed
        }
    };
    if by == Claimer::Scheduler {
        pass(tx, workflow, logical)?;
    }
    Ok(claim)
}

/// Moves `workflow`'s last tick forward to `tick`.
fn pass(c: &Connection, workflow: &str, tick: Timestamp) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO ticks (workflow, last) VALUES (?1, ?2)
         ON CONFLICT (workflow) DO UPDATE SET last = max(last, excluded.last)",
        params![workflow, micros(tick)],
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    fn run(id: &str, workflow: &str, started: &str) -> RunRow {
        RunRow {
            run_id: id.into(),
            workflow: workflow.into(),
            state: RunState::Running,
            release: None,
            started: t(started),
            ended: None,
            rerun_of: None,
            record: PathBuf::from(format!("/r/{id}")),
            owner: Some("h/b/1/2".into()),
        }
    }

    fn store(dir: &Path) -> Sqlite {
        Sqlite::open(&dir.join(".wfc/wfc.db"), &dir.join(".wfc/runs")).expect("a store")
    }

    #[test]
    fn runs_are_listed_newest_first_and_filtered() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = store(dir.path());
        store
            .add_run(&run("a", "w1", "2026-01-01T00:00:00Z"))
            .expect("added");
        store
            .add_run(&run("b", "w2", "2026-01-02T00:00:00Z"))
            .expect("added");
        store
            .add_run(&run("c", "w1", "2026-01-03T00:00:00Z"))
            .expect("added");
        store
            .end_run("a", RunState::Failed, t("2026-01-01T00:01:00Z"))
            .expect("ended");
        let all = store
            .runs(&RunQuery {
                limit: 10,
                ..RunQuery::default()
            })
            .expect("runs");
        let ids: Vec<&str> = all.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"]);
        assert_eq!(all[2].state, RunState::Failed);
        assert_eq!(all[2].ended, Some(t("2026-01-01T00:01:00Z")));
        assert_eq!(all[0].ended, None);
        let w1 = store
            .runs(&RunQuery {
                workflow: Some("w1".into()),
                state: Some(RunState::Running),
                since: Some(t("2026-01-02T00:00:00Z")),
                limit: 10,
                offset: 0,
            })
            .expect("runs");
        assert_eq!(w1.len(), 1);
        assert_eq!(w1[0].run_id, "c");
        assert_eq!(store.active("w1").expect("active"), 1);
        assert_eq!(store.open_runs().expect("open").len(), 2);
        let limited = store
            .runs(&RunQuery {
                limit: 1,
                ..RunQuery::default()
            })
            .expect("runs");
        assert_eq!(limited.len(), 1);
        // A page further on: the newest passed over.
        let page = store
            .runs(&RunQuery {
                limit: 1,
                offset: 1,
                ..RunQuery::default()
            })
            .expect("runs");
        assert_eq!(
            page.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
        let past = store
            .runs(&RunQuery {
                limit: 5,
                offset: 9,
                ..RunQuery::default()
            })
            .expect("runs");
        assert!(past.is_empty());
    }

    #[test]
    fn a_release_is_claimed_once_unless_forced() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = store(dir.path());
        let at = t("2026-03-01T00:00:00Z");
        assert_eq!(
            store
                .claim_release("w", at, "r1", Claimer::Release, false)
                .expect("claim"),
            Claim::Claimed
        );
        assert_eq!(
            store
                .claim_release("w", at, "r2", Claimer::Scheduler, false)
                .expect("claim"),
            Claim::Taken {
                run_id: "r1".into()
            }
        );
        // Another workflow's same time is its own.
        assert_eq!(
            store
                .claim_release("v", at, "r3", Claimer::Release, false)
                .expect("claim"),
            Claim::Claimed
        );
        assert_eq!(
            store
                .claim_release("w", at, "r4", Claimer::Release, true)
                .expect("claim"),
            Claim::Claimed
        );
        assert_eq!(store.released_as("w", at).expect("read"), Some("r4".into()));
        // The scheduler's refused claim still moved its last tick.
        assert_eq!(store.last_tick("w").expect("read"), Some(at));
        store
            .pass_tick("w", t("2026-02-01T00:00:00Z"))
            .expect("passed");
        assert_eq!(store.last_tick("w").expect("read"), Some(at), "never back");
    }

    /// Two stores (two processes) claiming the same ticks at once: each tick
    /// goes to exactly one.
    #[test]
    fn racing_claims_release_each_time_once() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().to_path_buf();
        drop(store(&path));
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let store = store(&path);
                    let mut won = Vec::new();
                    for minute in 0..50 {
                        let at = Timestamp::from_second(60 * minute).expect("a time");
                        let id = format!("{worker}-{minute}");
                        if store
                            .claim_release("w", at, &id, Claimer::Scheduler, false)
                            .expect("claim")
                            == Claim::Claimed
                        {
                            won.push(minute);
                        }
                    }
                    won
                })
            })
            .collect();
        let mut all: Vec<i64> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker"))
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
    }

    /// The plan SQLite makes for the history's queries: no sort of their own.
    fn plan_of(store: &Sqlite, workflow: Option<&str>) -> String {
        store
            .with(|c| {
                let mut statement = c.prepare(&format!(
                    "EXPLAIN QUERY PLAN {}",
                    runs_sql(workflow.is_some())
                ))?;
                let none: Option<&str> = None;
                let rows: Vec<String> = statement
                    .query_map(params![workflow, none, none, 50, 9950], |row| {
                        row.get::<_, String>(3)
                    })?
                    .collect::<Result<_, _>>()?;
                Ok(rows.join("\n"))
            })
            .expect("a plan")
    }

    #[test]
    fn the_history_is_read_in_order_from_an_index() {
        let dir = tempfile::tempdir().expect("a folder");
        // A database of schema 1, with a run in it, is brought up to date.
        let path = dir.path().join(".wfc/wfc.db");
        std::fs::create_dir_all(dir.path().join(".wfc/runs")).expect("made");
        let c = Connection::open(&path).expect("open");
        c.execute_batch(MIGRATIONS[0]).expect("schema 1");
        c.pragma_update(None, "user_version", 1).expect("set");
        drop(c);
        let store = store(dir.path());
        store
            .add_run(&run("a", "w1", "2026-01-01T00:00:00Z"))
            .expect("added");
        assert_eq!(
            store
                .runs(&RunQuery {
                    limit: 5,
                    ..RunQuery::default()
                })
                .expect("runs")
                .len(),
            1
        );
        for workflow in [None, Some("w1")] {
            let plan = plan_of(&store, workflow);
            assert!(!plan.contains("TEMP B-TREE"), "{workflow:?}: {plan}");
        }
        assert!(
            plan_of(&store, Some("w1")).contains("runs_of_workflow_in_order"),
            "{}",
            plan_of(&store, Some("w1"))
        );
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().expect("a folder");
        drop(store(dir.path()));
        let path = dir.path().join(".wfc/wfc.db");
        let c = Connection::open(&path).expect("open");
        c.pragma_update(None, "user_version", VERSION + 1)
            .expect("set");
        drop(c);
        let error = Sqlite::open(&path, &dir.path().join(".wfc/runs")).expect_err("refused");
        let text = error.to_string();
        assert!(text.contains("newer wfc"), "{text}");
        assert!(text.contains(&format!("schema {}", VERSION + 1)), "{text}");
    }

    #[test]
    fn existing_records_are_indexed_the_first_time() {
        let dir = tempfile::tempdir().expect("a folder");
        let runs = dir.path().join(".wfc/runs");
        let done = runs.join("20260102030405123456T1");
        std::fs::create_dir_all(&done).expect("made");
        std::fs::write(
            done.join("plan.json"),
            r#"{"workflow":"w","owner":"h/b/1/2"}"#,
        )
        .expect("written");
        std::fs::write(
            done.join("context.json"),
            r#"{"status":"FAILED","info":{"exec_end":"2026-01-02T03:04:09Z"}}"#,
        )
        .expect("written");
        let open = runs.join(".20260102030500000000T2.partial");
        std::fs::create_dir_all(&open).expect("made");
        std::fs::write(
            open.join("plan.json"),
            r#"{"workflow":"v","owner":"h/b/1/2"}"#,
        )
        .expect("written");
        let store = store(dir.path());
        let all = store
            .runs(&RunQuery {
                limit: 10,
                ..RunQuery::default()
            })
            .expect("runs");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].run_id, "20260102030500000000T2");
        assert_eq!(all[0].state, RunState::Running);
        assert_eq!(all[0].record, runs.join("20260102030500000000T2"));
        assert_eq!(all[1].state, RunState::Failed);
        assert_eq!(all[1].workflow, "w");
        assert_eq!(all[1].started, t("2026-01-02T03:04:05.123456Z"));
        assert_eq!(all[1].ended, Some(t("2026-01-02T03:04:09Z")));
    }
}
