//! Run records: `.wfc/runs/<run_id>/` holds the final context, the params, the plan
//! it ran (name, source hash and owner: the `wfr` process that ran it) and the
//! log. The record is assembled in a hidden folder `.<run_id>.partial` and
//! renamed into place at the end, so a reader never sees a half-written record.
//!
//! A record is always closed: by its run; when a second signal cannot wait for
//! the run, as cancelled with what the run's events told of its jobs (the
//! record is a subscriber of them: [`Record::journal`]); and when its `wfr` was
//! killed, the same way by `wfr`'s guard or by the next `wfr` that finds it
//! (`reap.rs`), from the job events written down in its log. A record that
//! cannot be written (a full disk) is removed, and `wfr` says so in its exit
//! status.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Receiver;

use crate::events::{self, Interest, Kind, RunEvent};
use crate::lock;
use crate::owner::Owner;
use crate::status::{self, ErrorName, Status};
use crate::value::{Map, Value};

pub struct Record {
    tmp: PathBuf,
    dest: PathBuf,
    /// The record's folder and first files, made while the run goes: the
    /// context's file when they are, and whether the thread cleans up after
    /// gone runs; then word that it is done.
    files: Option<(Receiver<Made>, Receiver<()>)>,
    /// The log file, once made, for the logs.
    log: Receiver<std::io::Result<File>>,
    journal: Arc<Journal>,
}

/// The record's first files made (the context's file), and whether its thread
/// goes on to clean up after gone runs.
type Made = (std::io::Result<File>, bool);

/// Records of this process that are not closed yet: their partial folder and
/// what the run's events told of its jobs. Whoever closes one takes it out,
/// under the lock: the run at its end, or a second signal that cannot wait for
/// it.
static OPEN: Mutex<Vec<(PathBuf, Arc<Journal>)>> = Mutex::new(Vec::new());

impl Record {
    /// Starts a record for `run_id` under `root` (usually `.wfc/runs`). A run
    /// whose record cannot be kept does not start: `root` must exist (it is made)
    /// and take new entries. The record's folder and first files (the log,
    /// params, plan) are made on a thread of their own while the run goes:
    /// a new file or folder costs a few hundred microseconds on some file
    /// systems (0.3 ms each on the ext4 of our machines), as much as a short run.
    /// The log is made here, and first, even when nothing is logged
    /// (`WFR_LOG=off`); the logs write into it ([`Record::log_file`]).
    pub fn start(root: &Path, run_id: &str, params: &Map, plan: &Value) -> std::io::Result<Self> {
        use nix::unistd::{AccessFlags, access};
        fs::create_dir_all(root)?;
        access(root, AccessFlags::W_OK | AccessFlags::X_OK).map_err(|errno| {
            std::io::Error::new(
                std::io::Error::from(errno).kind(),
                format!("{} does not take new entries ({errno})", root.display()),
            )
        })?;
        let tmp = root.join(partial_name(run_id));
        let dest = root.join(run_id);
        let journal = Arc::new(Journal {
            run: run_id.to_string(),
            jobs: Mutex::new(Vec::new()),
        });
        lock(&OPEN).push((tmp.clone(), Arc::clone(&journal)));
        crate::guard::note_record(&tmp);
        let dir = tmp.clone();
        let params = json_line(params)?;
        let mut plan = serde_json::to_value(plan).map_err(std::io::Error::other)?;
        let runs = root.to_path_buf();
        let (made_tx, made_rx) = crossbeam_channel::bounded(1);
        let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
        let (log_tx, log_rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("wfr-record".into())
            .spawn(move || {
                let made = (|| {
                    let log = fs::create_dir_all(&dir).and_then(|()| {
                        fs::OpenOptions::new()
                            .append(true)
                            .create(true)
                            .open(dir.join("run.log"))
                    });
                    let failed = log
                        .as_ref()
                        .err()
                        .map(|e| std::io::Error::new(e.kind(), e.to_string()));
                    let _ = log_tx.send(log);
                    if let Some(e) = failed {
                        return Err(e);
                    }
                    write_file(&dir.join("params.json"), &params)?;
                    // The owner, for whoever finds the record still open later.
                    plan["owner"] = serde_json::Value::from(Owner::current().label());
                    write_file(&dir.join("plan.json"), &json_line(&plan)?)?;
                    File::create(dir.join("context.json"))
                })();
                // Then clean up after runs whose wfr is gone: when there is
                // something to do, the run waits for it at its end (a little).
                let cleanup = crate::reap::look_around(&runs, &dir);
                let _ = made_tx.send((made, cleanup.is_some()));
                if let Some(cleanup) = cleanup {
                    cleanup();
                }
                let _ = done_tx.send(());
            });
        let files = spawned.ok().map(|_| (made_rx, done_rx));
        Ok(Self {
            tmp,
            dest,
            files,
            log: log_rx,
            journal,
        })
    }

    /// The record's log file, for the logs to write into: it waits, at the
    /// first line, for the record's thread to make it.
    #[must_use]
    pub fn log_file(&self) -> LogFile {
        LogFile {
            made: self.log.clone(),
            file: None,
        }
    }

    /// The subscriber that keeps, as the run's events tell, each job's status:
    /// what the record says of the jobs if it is closed before the run ends.
    #[must_use]
    pub fn journal(&self) -> Arc<dyn events::Subscriber> {
        Arc::clone(&self.journal) as Arc<dyn events::Subscriber>
    }

    /// Writes the final context and moves the record into place. When that
    /// fails, the record is removed: nothing half-written stays.
    pub fn finish(self, context: &Map) -> std::io::Result<PathBuf> {
        let mut open = lock(&OPEN);
        let Some(at) = open.iter().position(|(tmp, _)| *tmp == self.tmp) else {
            return Err(std::io::Error::other(
                "the record was closed as cancelled before the run ended (a second signal)",
            ));
        };
        open.remove(at);
        let (made, done) = match self.files {
            Some((made, done)) => (made.recv().ok(), Some(done)),
            None => (None, None),
        };
        let cleaning = made.as_ref().is_some_and(|(_, cleaning)| *cleaning);
        let written = (|| {
            let mut file = match made {
                Some((file, _)) => file?,
                None => return Err(std::io::Error::other("the record's files were not made")),
            };
            crate::json::write_map(context, &mut file)?;
            file.write_all(b"\n")?;
            fs::rename(&self.tmp, &self.dest)
        })();
        crate::guard::forget_record(&self.tmp);
        if cleaning && let Some(done) = done {
            let _ = done.recv_timeout(std::time::Duration::from_secs(3));
        }
        match written {
            Ok(()) => Ok(self.dest),
            Err(e) => {
                let _ = fs::remove_dir_all(&self.tmp);
                Err(e)
            }
        }
    }
}

impl Record {
    /// Removes the record: it cannot be kept whole (its log could not be
    /// written).
    pub fn discard(self) {
        lock(&OPEN).retain(|(tmp, _)| *tmp != self.tmp);
        if let Some((made, _)) = self.files {
            let _ = made.recv();
        }
        let _ = fs::remove_dir_all(&self.tmp);
        crate::guard::forget_record(&self.tmp);
    }
}

/// The name of the folder a record is assembled in, beside where it goes:
/// `.<run id>.partial`.
#[must_use]
pub fn partial_name(run_id: &str) -> String {
    format!(".{run_id}.partial")
}

/// The run id whose record a folder named `name` assembles (see [`partial_name`]).
#[must_use]
pub fn partial_run_id(name: &str) -> Option<&str> {
    name.strip_prefix('.')?.strip_suffix(".partial")
}

/// The partial folders of this process's open records.
pub(crate) fn open_partials() -> Vec<PathBuf> {
    lock(&OPEN).iter().map(|(tmp, _)| tmp.clone()).collect()
}

/// How a record whose run did not end is closed: the run's status and error.
#[derive(Clone, Copy, Debug)]
pub struct Closing<'a> {
    pub status: Status,
    pub error: ErrorName,
    pub message: &'a str,
}

impl<'a> Closing<'a> {
    /// A run stopped from outside (a signal, a killed wfr): CANCEL.
    #[must_use]
    pub fn cancelled(message: &'a str) -> Self {
        Closing {
            status: Status::Cancel,
            error: ErrorName::WorkflowCancelError,
            message,
        }
    }
}

/// Closes the records of this process that are still open (a run that cannot
/// wait for its end any more), with each job's status as the run's events
/// told it. Returns the folders.
#[must_use]
pub fn close_open(how: Closing<'_>) -> Vec<PathBuf> {
    let open = std::mem::take(&mut *lock(&OPEN));
    open.into_iter()
        .filter_map(|(tmp, journal)| {
            let jobs = lock(&journal.jobs).clone();
            let closed = close(&tmp, how, |_| jobs).ok().flatten();
            crate::guard::forget_record(&tmp);
            closed
        })
        .collect()
}

/// Closes the record in the partial folder `tmp`, whose run did not end: its
/// context has `how`'s status and error, and each job's status as far as the
/// job events written down in its log tell (a job that started and did not
/// end is CANCEL). None when another process is closing it, or has.
pub fn close_abandoned(tmp: &Path, how: Closing<'_>) -> std::io::Result<Option<PathBuf>> {
    close(tmp, how, |run| jobs_from_log(&tmp.join("run.log"), run))
}

/// Closes the record in `tmp` (see [`close_abandoned`]), its jobs from `jobs`
/// (given the run's id).
fn close(
    tmp: &Path,
    how: Closing<'_>,
    jobs: impl FnOnce(&str) -> Jobs,
) -> std::io::Result<Option<PathBuf>> {
    use nix::fcntl::{Flock, FlockArg};
    let Some(name) = tmp.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    let Some(run_id) = partial_run_id(name) else {
        return Ok(None);
    };
    let dest = tmp.with_file_name(run_id);
    // One closer at a time: the lock (on the folder) dies with its holder.
    let Ok(folder) = File::open(tmp) else {
        return Ok(None);
    };
    let Ok(_lock) = Flock::lock(folder, FlockArg::LockExclusiveNonblock) else {
        return Ok(None);
    };
    if !tmp.is_dir() {
        return Ok(None);
    }
    let params = fs::read(tmp.join("params.json"))
        .ok()
        .and_then(|text| serde_json::from_slice::<serde_json::Value>(&text).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    if !tmp.join("plan.json").exists() {
        write_file(&tmp.join("plan.json"), b"{}\n")?;
    }
    let jobs: serde_json::Map<String, serde_json::Value> = jobs(run_id)
        .into_iter()
        .map(|(job, status)| (job, serde_json::json!({ "status": status.as_str() })))
        .collect();
    let error = status::error(how.error, how.message);
    let context = serde_json::json!({
        "params": params,
        "jobs": jobs,
        "status": how.status.as_str(),
        "errors": serde_json::to_value(&error).unwrap_or_default(),
    });
    let mut text = serde_json::to_vec_pretty(&context).map_err(std::io::Error::other)?;
    text.push(b'\n');
    let part = tmp.join(".context.json.tmp");
    write_file(&part, &text)?;
    fs::rename(&part, tmp.join("context.json"))?;
    fs::rename(tmp, &dest)?;
    Ok(Some(dest))
}

/// Each job's status in the record of a run that did not end, as far as the
/// run's job events tell.
type Jobs = Vec<(String, Status)>;

/// Notes in `jobs` what a job event tells of its job: the status it ended
/// with (SUCCESS for one reused by a rerun); CANCEL for one that started (if
/// it does not end).
fn note_job(jobs: &mut Jobs, kind: Kind, job: &str, status: Option<Status>) {
    let status = match (kind, status) {
        (Kind::JobEnded, Some(status)) => status,
        (Kind::JobReused, _) => Status::Success,
        (Kind::JobStarted, _) => Status::Cancel,
        _ => return,
    };
    match jobs.iter_mut().rev().find(|(known, _)| known == job) {
        Some(known) => known.1 = status,
        None => jobs.push((job.to_string(), status)),
    }
}

/// Each job's status as far as the run's log tells: the job events written
/// down in it (the lines with an `event`), of the run `run` (not of the runs
/// it triggered).
fn jobs_from_log(log: &Path, run: &str) -> Jobs {
    use std::io::BufRead as _;
    /// What the line of a job event holds of it.
    #[derive(serde::Deserialize)]
    struct JobLine<'a> {
        event: Kind,
        run: &'a str,
        job: &'a str,
        status: Option<Status>,
    }
    let mut jobs = Jobs::new();
    let Ok(file) = File::open(log) else {
        return jobs;
    };
    // A log larger than this is not read for job statuses.
    let reader = std::io::BufReader::new(std::io::Read::take(file, 256 << 20));
    for line in reader.lines().map_while(Result::ok) {
        // Lines of other events, or not of events, do not read as job lines.
        if let Ok(entry) = serde_json::from_str::<JobLine<'_>>(&line)
            && entry.run == run
        {
            note_job(&mut jobs, entry.event, entry.job, entry.status);
        }
    }
    jobs
}

/// What the run's events tell of its jobs (see [`Record::journal`]).
struct Journal {
    run: String,
    jobs: Mutex<Jobs>,
}

impl events::Subscriber for Journal {
    fn interest(&self) -> Interest {
        Interest::kind(Kind::JobStarted)
            .with(Interest::kind(Kind::JobEnded))
            .with(Interest::kind(Kind::JobReused))
    }

    fn on_event(&self, event: &events::Event<'_>) {
        if event.run != self.run {
            return;
        }
        match event.event {
            RunEvent::JobStarted { job } => {
                note_job(&mut lock(&self.jobs), Kind::JobStarted, job, None);
            }
            RunEvent::JobEnded { job, status, .. } => {
                note_job(&mut lock(&self.jobs), Kind::JobEnded, job, Some(status));
            }
            RunEvent::JobReused { job, .. } => {
                note_job(&mut lock(&self.jobs), Kind::JobReused, job, None);
            }
            _ => {}
        }
    }
}

/// The record's log file as the logs write it: made by the record's thread
/// (see [`Record::start`]), waited for at the first line.
pub struct LogFile {
    made: Receiver<std::io::Result<File>>,
    file: Option<File>,
}

impl std::io::Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let file = if let Some(file) = self.file.as_mut() {
            file
        } else {
            let made = self.made.recv().unwrap_or_else(|_| {
                Err(std::io::Error::other("the record's log file was not made"))
            })?;
            self.file.insert(made)
        };
        file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), std::io::Write::flush)
    }
}

fn json_line(value: &impl serde::Serialize) -> std::io::Result<Vec<u8>> {
    let mut text = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    text.push(b'\n');
    Ok(text)
}

fn write_file(path: &Path, text: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(text)
}

/// The owner named in the `plan.json` of the partial record `tmp`.
pub(crate) fn owner_of(tmp: &Path) -> Option<Owner> {
    let text = crate::owner::read_small(&tmp.join("plan.json"), 64 << 10).ok()?;
    let plan: serde_json::Value = serde_json::from_str(&text).ok()?;
    Owner::parse(plan["owner"].as_str()?)
}

#[cfg(test)]
mod tests {
    use super::{Journal, Kind, RunEvent, Status, jobs_from_log, lock};
    use crate::events::{Event, Subscriber as _};

    /// A job a rerun reused ended SUCCESS, as the record tells it from the
    /// run's events and from its log.
    #[test]
    fn a_reused_job_is_told_as_ended_success() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("run.log");
        let lines = [
            r#"{"event":"job_reused","run":"r1","job":"a","from_run":"r0"}"#,
            r#"{"event":"strategy_reused","run":"r1","job":"c","strategy":"1","from_run":"r0"}"#,
            r#"{"event":"job_started","run":"r1","job":"b"}"#,
            r#"{"event":"job_ended","run":"r1","job":"b","status":"FAILED"}"#,
        ];
        std::fs::write(&log, lines.join("\n")).unwrap();
        let told = vec![
            ("a".to_string(), Status::Success),
            ("b".to_string(), Status::Failed),
        ];
        assert_eq!(jobs_from_log(&log, "r1"), told);

        let journal = Journal {
            run: "r1".to_string(),
            jobs: std::sync::Mutex::new(Vec::new()),
        };
        assert!(journal.interest().meets(Kind::JobReused.into()));
        let events = [
            RunEvent::JobReused {
                job: "a",
                from_run: "r0",
            },
            RunEvent::JobStarted { job: "b" },
            RunEvent::JobEnded {
                job: "b",
                status: Status::Failed,
                error: None,
            },
        ];
        for (seq, event) in events.into_iter().enumerate() {
            journal.on_event(&Event {
                run: "r1",
                seq: seq as u64,
                time: jiff::Timestamp::now(),
                event,
            });
        }
        assert_eq!(*lock(&journal.jobs), told);
    }
}
