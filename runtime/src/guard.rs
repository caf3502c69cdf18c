//! The guard. When `wfr` is killed (SIGKILL, the OOM killer), nothing in it runs
//! to stop what its stages started. So before its first stage process, `wfr`
//! starts a small process of its own binary, `wfr guard`, in a session of its
//! own, reading a pipe from `wfr`. When `wfr` ends normally it says so (`done`);
//! when the pipe closes without that, `wfr` was killed, and the guard cleans up
//! after it (`reap::after`): it kills every process that carries `wfr`'s marker
//! (the stages' first processes and all they started), removes its containers,
//! closes its open run records as cancelled and removes its scratch folder. A
//! guard that dies is started again with the next stage; when none can be
//! started, stages' first processes die with `wfr` through `PR_SET_PDEATHSIG`
//! (`process.rs`).

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::Mutex;

use nix::unistd::Pid;

use crate::lock;
use crate::owner::Owner;

struct Guard {
    pid: Pid,
    pipe: ChildStdin,
}

/// The guard, once started.
static GUARD: Mutex<Option<Guard>> = Mutex::new(None);

/// Starting the guard failed once: it is not tried again.
static CANNOT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Starts the guard if it is not running (before a stage's first process or
/// container; again if it died). False when there is none: the stage's first
/// process then gets SIGKILL when wfr dies (`PR_SET_PDEATHSIG`), which costs a
/// fork of wfr for each process, where the guard costs nothing per process.
pub(crate) fn ensure() -> bool {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    let mut guard = lock(&GUARD);
    if let Some(running) = guard.as_ref() {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        if matches!(
            waitid(Id::Pid(running.pid), flags),
            Ok(WaitStatus::StillAlive)
        ) {
            return true;
        }
        tracing::warn!(target: "wfr::run", pid = running.pid.as_raw(), "the guard process died; starting another");
    }
    if CANNOT.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    match start() {
        Ok(started) => {
            *guard = Some(started);
            true
        }
        Err(e) => {
            CANNOT.store(true, std::sync::atomic::Ordering::Relaxed);
            *guard = None;
            tracing::warn!(target: "wfr::run", error = %e, "cannot start the guard process: stage processes will die with wfr, but what they start may outlive it if it is killed");
            false
        }
    }
}

fn start() -> std::io::Result<Guard> {
    let me = Owner::current();
    let scratch = crate::owner::scratch_root()?;
    // `/proc/self/exe`: this binary even if its file was replaced meanwhile.
    let mut child = Command::new("/proc/self/exe")
        .arg("guard")
        .arg("--owner")
        .arg(me.label())
        .arg("--scratch")
        .arg(scratch)
        .env_remove(crate::owner::STAGE_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pipe = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("the guard's pipe was not made"))?;
    let mut guard = Guard {
        pid: Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX)),
        pipe,
    };
    // The guard outlives `wfr` on purpose; its exit is reaped by `sweep` or init.
    drop(child);
    for record in crate::record::open_partials() {
        writeln!(guard.pipe, "record {}", record.display())?;
    }
    Ok(guard)
}

/// True when `pid` is the guard.
pub(crate) fn is_guard(pid: Pid) -> bool {
    lock(&GUARD).as_ref().is_some_and(|g| g.pid == pid)
}

fn tell(line: &str) {
    if let Some(guard) = lock(&GUARD).as_mut() {
        let _ = writeln!(guard.pipe, "{line}");
    }
}

/// A record is open: the guard closes it if `wfr` dies.
pub(crate) fn note_record(tmp: &Path) {
    tell(&format!("record {}", tmp.display()));
}

/// A record was closed.
pub(crate) fn forget_record(tmp: &Path) {
    tell(&format!("closed {}", tmp.display()));
}

/// `wfr` ends normally: the guard goes without doing anything.
pub fn dismiss() {
    tell("done");
}

/// `wfr guard` was given a label that names no owner (only `wfr` starts it, with
/// its own).
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an owner label")]
pub struct NotAnOwner(pub String);

/// `wfr guard`: waits for `wfr` to end; cleans up after it if it was killed.
pub fn run(owner: &str, scratch: &Path) -> Result<(), NotAnOwner> {
    // Signals for `wfr`'s terminal or group are not for the guard, which ends
    // when `wfr` does.
    let _ = nix::unistd::setsid();
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGQUIT,
    ] {
        let _ = signal_hook::flag::register(
            signal,
            std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        );
    }
    let Some(owner) = Owner::parse(owner) else {
        return Err(NotAnOwner(owner.to_string()));
    };
    let mut records: Vec<PathBuf> = Vec::new();
    let mut done = false;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line == "done" {
            done = true;
        } else if let Some(path) = line.strip_prefix("record ") {
            records.push(PathBuf::from(path));
        } else if let Some(path) = line.strip_prefix("closed ") {
            records.retain(|r| r.as_os_str() != path);
        }
    }
    if done {
        return Ok(());
    }
    let reason = format!(
        "wfr (pid {} on {}) was killed before the run ended; its guard stopped what it had started and closed this record",
        owner.pid, owner.host
    );
    let report = crate::reap::after(&owner, &records, Some(scratch), &reason);
    if !report.is_empty() {
        wfc_plan::errln!("wfr guard: wfr (pid {}) was killed: {report}", owner.pid);
    }
    Ok(())
}
