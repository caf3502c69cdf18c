//! Run records: `.wfc/runs/<run_id>/` holds the final context, the params, the plan
//! it ran (name and source hash), the log and the owner (the `wfr` process that
//! ran it). The record is assembled in a hidden folder `.<run_id>.partial` and
//! renamed into place at the end, so a reader never sees a half-written record.
//!
//! A record is always closed: by its run; when a second signal cannot wait for
//! the run, as cancelled with what its log says of the jobs; and when its `wfr`
//! was killed, the same way by `wfr`'s guard or by the next `wfr` that finds it
//! (`reap.rs`). A record that cannot be written (a full disk) is removed, and
//! `wfr` says so in its exit status.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::owner::Owner;
use crate::status::{self, Status};
use crate::value::{Map, Value};

pub struct Record {
    tmp: PathBuf,
    dest: PathBuf,
    /// The record's folder and first files, made while the run goes.
    files: Option<JoinHandle<std::io::Result<File>>>,
}

/// Records of this process that are not closed yet: `(partial folder, final
/// folder)`. Whoever closes one takes it out, under the lock: the run at its end,
/// or a second signal that cannot wait for it.
static OPEN: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

impl Record {
    /// Starts a record for `run_id` under `root` (usually `.wfc/runs`). A run
    /// whose record cannot be kept does not start: `root` must exist (it is made)
    /// and take new entries. The record's folder and first files (owner, params,
    /// plan, an empty log) are made on a thread of their own while the run goes:
    /// a new file or folder costs a few hundred microseconds on some file
    /// systems (0.3 ms each on the ext4 of our machines), as much as a short run.
    pub fn start(root: &Path, run_id: &str, params: &Map, plan: &Value) -> std::io::Result<Self> {
        use nix::unistd::{AccessFlags, access};
        fs::create_dir_all(root)?;
        access(root, AccessFlags::W_OK | AccessFlags::X_OK).map_err(|errno| {
            std::io::Error::new(
                std::io::Error::from(errno).kind(),
                format!("{} does not take new entries ({errno})", root.display()),
            )
        })?;
        let tmp = root.join(format!(".{run_id}.partial"));
        let dest = root.join(run_id);
        lock(&OPEN).push((tmp.clone(), dest.clone()));
        crate::guard::note_record(&tmp);
        let dir = tmp.clone();
        let params = json_line(params)?;
        let plan = json_line(plan)?;
        let runs = root.to_path_buf();
        let files = std::thread::Builder::new()
            .name("wfr-record".into())
            .spawn(move || {
                let made = (|| {
                    fs::create_dir_all(&dir)?;
                    crate::owner::write_owner_file(&dir, Owner::current())?;
                    // The log exists even when nothing is logged (`WFR_LOG=off`);
                    // the logger appends to it (whichever of the two makes it
                    // first).
                    fs::OpenOptions::new()
                        .append(true)
                        .create(true)
                        .open(dir.join("run.log"))?;
                    write_file(&dir.join("params.json"), &params)?;
                    write_file(&dir.join("plan.json"), &plan)?;
                    File::create(dir.join("context.json"))
                })();
                // Then, off the run's way, clean up after runs whose wfr is gone.
                crate::reap::look_around(&runs);
                made
            })
            .ok();
        Ok(Self { tmp, dest, files })
    }

    /// The log file, written while the run goes.
    #[must_use]
    pub fn log_path(&self) -> PathBuf {
        self.tmp.join("run.log")
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
        let made = self.files.and_then(|thread| thread.join().ok());
        let written = (|| {
            let mut file = match made {
                Some(file) => file?,
                None => return Err(std::io::Error::other("the record's files were not made")),
            };
            crate::json::write_map(context, &mut file)?;
            file.write_all(b"\n")?;
            fs::rename(&self.tmp, &self.dest)
        })();
        crate::guard::forget_record(&self.tmp);
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
        if let Some(thread) = self.files {
            let _ = thread.join();
        }
        let _ = fs::remove_dir_all(&self.tmp);
        crate::guard::forget_record(&self.tmp);
    }
}

/// The partial folders of this process's open records.
pub(crate) fn open_partials() -> Vec<PathBuf> {
    lock(&OPEN).iter().map(|(tmp, _)| tmp.clone()).collect()
}

/// Closes the records of this process that are still open as cancelled (a
/// second signal that cannot wait for the run to end). Returns the folders.
#[must_use]
pub fn close_open(reason: &str) -> Vec<PathBuf> {
    let open = std::mem::take(&mut *lock(&OPEN));
    open.into_iter()
        .filter_map(|(tmp, _)| {
            let closed = close_abandoned(&tmp, reason).ok().flatten();
            crate::guard::forget_record(&tmp);
            closed
        })
        .collect()
}

/// Closes the record in the partial folder `tmp`, whose run did not end: its
/// context says CANCEL with `reason`, and each job's status as far as the log
/// tells (a job that started and did not end is CANCEL). None when another
/// process is closing it, or has.
pub fn close_abandoned(tmp: &Path, reason: &str) -> std::io::Result<Option<PathBuf>> {
    use nix::fcntl::{Flock, FlockArg};
    let Some(name) = tmp.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    let Some(run_id) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".partial"))
    else {
        return Ok(None);
    };
    let dest = tmp.with_file_name(run_id);
    // One closer at a time: the lock dies with its holder.
    let owner = match File::open(tmp.join("owner")) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // The record's thread had not even written its owner: only the
            // folder exists. It is still this run's record.
            if !tmp.is_dir() {
                return Ok(None);
            }
            crate::owner::write_owner_file(tmp, Owner::current())?;
            File::open(tmp.join("owner"))?
        }
        Err(e) => return Err(e),
    };
    let Ok(_lock) = Flock::lock(owner, FlockArg::LockExclusiveNonblock) else {
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
    let jobs = jobs_from_log(&tmp.join("run.log"));
    let error = status::error("WorkflowCancelError", reason);
    let context = serde_json::json!({
        "params": params,
        "jobs": jobs,
        "status": Status::Cancel.as_str(),
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

/// Each job's status as far as the run's log tells: `job ended` lines give it,
/// a job that started without ending is CANCEL.
fn jobs_from_log(log: &Path) -> serde_json::Map<String, serde_json::Value> {
    use std::io::BufRead as _;
    let mut jobs = serde_json::Map::new();
    let Ok(file) = File::open(log) else {
        return jobs;
    };
    // A log larger than this is not read for job statuses.
    let reader = std::io::BufReader::new(std::io::Read::take(file, 256 << 20));
    for line in reader.lines().map_while(Result::ok) {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if entry["target"] != "wfr::job" {
            continue;
        }
        let Some(job) = entry["job"].as_str() else {
            continue;
        };
        let status = match (entry["message"].as_str(), entry["status"].as_str()) {
            (Some("job ended"), Some(status)) => status,
            (Some("job started"), _) => Status::Cancel.as_str(),
            _ => continue,
        };
        jobs.insert(job.to_string(), serde_json::json!({ "status": status }));
    }
    jobs
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
