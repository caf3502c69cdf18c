//! Cleaning up after a `wfr` that is gone: the processes its stages started (by
//! their marker), its containers, its open run records and its scratch folder.
//! Its guard does it the moment it dies (`guard.rs`); every new `wfr` looks, on
//! its record's thread, for what an owner left when its guard died with it (the
//! whole session killed, the machine rebooted).

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::owner::Owner;

/// What was cleaned up, for people.
#[derive(Default)]
pub struct Report {
    pub processes: usize,
    pub containers: usize,
    pub records: Vec<PathBuf>,
    /// What could not be cleaned up, and why.
    pub problems: Vec<String>,
}

impl Report {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.processes == 0
            && self.containers == 0
            && self.records.is_empty()
            && self.problems.is_empty()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.processes > 0 {
            parts.push(format!("killed {} stage processes", self.processes));
        }
        if self.containers > 0 {
            parts.push(format!("removed {} containers", self.containers));
        }
        for record in &self.records {
            parts.push(format!("closed the record {}", record.display()));
        }
        parts.extend(self.problems.iter().cloned());
        f.write_str(&parts.join(", "))
    }
}

/// Cleans up after `owner`, which is gone: kills its processes, removes its
/// containers (when its scratch folder notes some), closes `records` as
/// cancelled with `reason`, and removes its scratch folder.
#[must_use]
pub fn after(owner: &Owner, records: &[PathBuf], scratch: Option<&Path>, reason: &str) -> Report {
    let mut report = Report {
        processes: kill_marked(owner),
        ..Report::default()
    };
    // Its containers, when its scratch folder notes that it started some.
    if scratch.is_some_and(|s| s.join("containers").exists()) {
        match crate::executor::containers::remove_containers_of(owner) {
            Ok(removed) => report.containers = removed,
            Err(e) => report
                .problems
                .push(format!("cannot remove its containers: {e}")),
        }
    }
    for record in records {
        match crate::record::close_abandoned(record, crate::record::Closing::cancelled(reason)) {
            Ok(Some(closed)) => report.records.push(closed),
            Ok(None) => {}
            Err(e) => report
                .problems
                .push(format!("cannot close the record {}: {e}", record.display())),
        }
    }
    if let Some(scratch) = scratch
        && let Err(e) = std::fs::remove_dir_all(scratch)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        report
            .problems
            .push(format!("cannot remove {}: {e}", scratch.display()));
    }
    report
}

/// Kills every process on the machine that carries a marker of `owner`'s
/// stages; goes round until none is left (a dying parent's children may be
/// forking).
fn kill_marked(owner: &Owner) -> usize {
    let prefix = format!("{}/", owner.label());
    let mut killed = 0;
    for _ in 0..50 {
        let found = marked_processes(&prefix);
        if found.is_empty() {
            break;
        }
        for pid in found {
            if kill(pid, Signal::SIGKILL).is_ok() {
                killed += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    killed
}

/// Live processes whose `WFR_STAGE` holds a marker starting with `prefix`.
fn marked_processes(prefix: &str) -> Vec<Pid> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me && crate::owner::start_time(*pid).is_some())
        .filter_map(|pid| i32::try_from(pid).ok().map(Pid::from_raw))
        .filter(|pid| crate::process::carries(*pid, |m| m.starts_with(prefix)))
        .collect()
}

/// Looks for what owners that are gone left behind: scratch folders (with their
/// processes and containers) and open records under `runs` (but `own`). Every
/// run does it as it starts, on its record's thread (`record.rs`). Returns the
/// clean-up to do, if there is any.
#[must_use]
pub fn look_around(runs: &Path, own: &Path) -> Option<impl FnOnce() + use<>> {
    let scratch = gone_scratch_roots();
    let records = gone_records(runs, own);
    if scratch.is_empty() && records.is_empty() {
        return None;
    }
    Some(move || {
        for (owner, scratch) in scratch {
            let report = after(&owner, &[], Some(&scratch), "");
            if !report.is_empty() {
                tracing::warn!(target: "wfr::run", owner = %owner.label(), "cleaned up after a wfr that was killed: {report}");
            }
        }
        for (owner, partial) in records {
            let reason = format!(
                "wfr (pid {} on {}) was killed before the run ended; this record was closed by wfr (pid {})",
                owner.pid,
                owner.host,
                std::process::id()
            );
            if let Ok(Some(closed)) =
                crate::record::close_abandoned(&partial, crate::record::Closing::cancelled(&reason))
            {
                tracing::warn!(target: "wfr::run", owner = %owner.label(), record = %closed.display(), "closed the record of a run whose wfr was killed");
            }
        }
    })
}

/// Scratch roots (`$TMPDIR/wfr-<pid>-<start>`) of owners that are gone.
fn gone_scratch_roots() -> Vec<(Owner, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name().to_str().is_some_and(|n| {
                n.strip_prefix("wfr-").is_some_and(|rest| {
                    rest.split_once('-').is_some_and(|(pid, start)| {
                        pid.bytes().all(|b| b.is_ascii_digit())
                            && start.bytes().all(|b| b.is_ascii_digit())
                    })
                })
            })
        })
        .filter_map(|e| {
            let path = e.path();
            let owner = crate::owner::read_owner_file(&path)?;
            owner.is_gone().then_some((owner, path))
        })
        .collect()
}

/// Partial records under `runs` (but `own`) of owners that are gone.
fn gone_records(runs: &Path, own: &Path) -> Vec<(Owner, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return Vec::new();
    };
    let own = own.file_name();
    entries
        .flatten()
        .filter(|e| {
            Some(e.file_name().as_os_str()) != own
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| crate::record::partial_run_id(n).is_some())
        })
        .filter_map(|e| {
            let path = e.path();
            match crate::record::owner_of(&path) {
                Some(owner) => owner.is_gone().then_some((owner, path)),
                // A record names its owner a moment after its folder is made;
                // one that still does not long after, lost it with its wfr.
                None => e
                    .metadata()
                    .ok()?
                    .modified()
                    .ok()?
                    .elapsed()
                    .is_ok_and(|age| age > UNNAMED)
                    .then(|| (unknown_owner(), path)),
            }
        })
        .collect()
}

/// How old a partial record that names no owner must be to be taken for lost.
const UNNAMED: Duration = Duration::from_secs(600);

/// The owner of a record that names none.
fn unknown_owner() -> Owner {
    Owner {
        host: "?".into(),
        boot: String::new(),
        pid: 0,
        start: 0,
    }
}
