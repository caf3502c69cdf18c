//! Stage processes: everything a stage starts is found and stopped when the stage
//! ends, is cancelled or times out, including processes that left its process
//! group or whose parent ended.
//!
//! * `wfr` is the child subreaper of its tree ([`init`]): a process whose parent
//!   ends (a daemon that forks and leaves, `setsid cmd &`) is adopted by `wfr`
//!   rather than by init, so it stays below `wfr`.
//! * Every process a stage starts carries `WFR_STAGE` in its environment (see
//!   [`Stage`]), which its children inherit: a process that left the stage's group
//!   is still known as the stage's.
//! * A stage's first process runs in a group of its own. If `wfr` dies, `wfr`'s
//!   guard (`guard.rs`) kills every process found by its marker. Without a guard
//!   the first process gets SIGKILL when `wfr` dies (`PR_SET_PDEATHSIG`, set
//!   between fork and exec: it makes every spawn a fork of `wfr`, which costs a
//!   short Bash stage about a tenth more than the vfork `std` uses otherwise).
//!
//! What a process left in the environment can be undone (`env -i`), which takes
//! it out of its stage's reach: it is killed with everything else `wfr` started
//! when the run ends ([`sweep`]).

use std::io::Read as _;
use std::os::fd::AsFd as _;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::events;
use crate::output::{CAPTURE_LIMIT, LineLog, StreamOutput};
use crate::owner::{Owner, STAGE_ENV};

/// How long cancelled processes get between SIGTERM and SIGKILL.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// How long a stage's pipes are still read once its processes are gone (a
/// process wfr could not find may still hold them).
const DRAIN: Duration = Duration::from_millis(200);

/// How often a stage whose pipes stay open is checked for its first process's
/// end, where the kernel cannot tell (no pidfd).
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// Set by a second SIGINT/SIGTERM: no more grace periods.
static HURRY: AtomicBool = AtomicBool::new(false);

/// Makes `wfr` the subreaper of the processes below it. Done once, before any
/// stage runs.
pub fn init() {
    if let Err(errno) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!(target: "wfr::run", %errno, "cannot become the subreaper of stage processes: processes that leave their stage may outlive it");
    }
}

/// From now on, cancelled processes are killed at once (a second signal).
pub fn hurry() {
    HURRY.store(true, Ordering::SeqCst);
}

/// True after a second signal.
pub(crate) fn hurried() -> bool {
    HURRY.load(Ordering::SeqCst)
}

/// One stage's processes: the marker they carry.
pub(crate) struct Stage {
    /// `<owner label>/<number>`.
    marker: String,
    /// What `WFR_STAGE` holds in the stage's processes: the marker of the stage
    /// that runs this `wfr`, if any, then this one, separated by `;`.
    env: String,
    /// Set once the stage's first process is reaped: its pid (and group id) may
    /// then name another process, and it is not signalled any more. Held while
    /// signals are sent.
    ended: std::sync::Mutex<bool>,
}

static NEXT_STAGE: AtomicU64 = AtomicU64::new(1);

impl Stage {
    pub(crate) fn new() -> Stage {
        // This process's part of every marker: the owner's label, after the
        // marker of the stage that runs this `wfr`, if any.
        static PREFIX: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
        let (outer, label) = PREFIX.get_or_init(|| {
            let outer = match std::env::var(STAGE_ENV) {
                Ok(outer) if !outer.is_empty() => format!("{outer};"),
                _ => String::new(),
            };
            (outer, Owner::current().label())
        });
        let mut number = itoa::Buffer::new();
        let number = number.format(NEXT_STAGE.fetch_add(1, Ordering::Relaxed));
        let marker = [label.as_str(), "/", number].concat();
        let env = [outer.as_str(), &marker].concat();
        Stage {
            marker,
            env,
            ended: std::sync::Mutex::new(false),
        }
    }

    /// The stage's own marker.
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn marker(&self) -> &str {
        &self.marker
    }

    /// The value of `WFR_STAGE` for the stage's processes.
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn env(&self) -> &str {
        &self.env
    }

    /// Spawns `command` as the stage's first process: its marker in the
    /// environment, a process group of its own, stdin from /dev/null, output
    /// through pipes. If `wfr` dies, the guard kills it with the rest of the
    /// stage; without a guard, it gets SIGKILL when `wfr` dies.
    pub(crate) fn spawn(&self, mut command: Command) -> std::io::Result<Child> {
        use std::os::unix::process::CommandExt as _;
        let guarded = crate::guard::ensure();
        command
            .env(STAGE_ENV, &self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if !guarded {
            die_with_parent(&mut command);
        }
        command.spawn()
    }

    /// Sends `signal` to every process of the stage: the group and the tree of
    /// its first process `root`, and every process below `wfr` that carries the
    /// stage's marker, with the tree below it.
    pub(crate) fn signal(&self, root: Option<Pid>, signal: Signal) {
        let ended = self
            .ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let root = root.filter(|_| !*ended);
        // Found first (a signalled process may be gone before it is looked at),
        // signalled parents first: the group of `root` (a shell and its jobs)
        // before the processes that left it. A shell whose child dies before it
        // is signalled itself would go on to its next command (`sleep 30; touch
        // done`), for as long as this thread is not scheduled.
        let members = self.members(root, Threads::All);
        if let Some(root) = root {
            let _ = killpg(root, signal);
        }
        for pid in members {
            let _ = kill(pid, signal);
        }
    }

    /// The stage's first process `root` has ended: kills what is left of the
    /// stage, then reaps `root`.
    fn end(&self, child: &mut Child, root: Pid) -> std::io::Result<ExitStatus> {
        self.kill_leftovers(Some(root), Threads::Main);
        *self
            .ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        child.wait()
    }

    /// Kills (SIGKILL) what is left of the stage once its first process ended,
    /// and reaps what `wfr` adopted of it. `threads`: where adopted processes
    /// may be found (orphans go to `wfr`'s main thread; Python's children are
    /// children of the thread that ran the stage).
    pub(crate) fn kill_leftovers(&self, root: Option<Pid>, threads: Threads) -> usize {
        // Found before anything is killed: a killed process has no environment
        // left to tell whose it was. What `wfr` adopted of the root's group is
        // reaped below too.
        let members = self.adopted(root, threads);
        if let Some(root) = root {
            let _ = killpg(root, Signal::SIGKILL);
        }
        for pid in &members {
            let _ = kill(*pid, Signal::SIGKILL);
        }
        if !members.is_empty() {
            reap_some(&members);
        }
        members.len()
    }

    /// The stage's processes below `wfr`: the tree of its first process `root`
    /// (not `root` itself, which its stage waits for), and `wfr`'s children
    /// that carry the stage's marker, with their trees.
    fn members(&self, root: Option<Pid>, threads: Threads) -> Vec<Pid> {
        let mut found = Vec::new();
        if let Some(root) = root {
            subtree(root, &mut found);
        }
        found.extend(self.adopted(None, threads));
        found
    }

    /// `wfr`'s children (but the guard and `root`) that carry the stage's
    /// marker or are in the group of `root`, with their trees.
    fn adopted(&self, root: Option<Pid>, threads: Threads) -> Vec<Pid> {
        let mut found = Vec::new();
        for child in children(Pid::this(), threads) {
            if Some(child) == root || found.contains(&child) || crate::guard::is_guard(child) {
                continue;
            }
            if carries(child, |m| m == self.marker) || root.is_some_and(|r| in_group(child, r)) {
                found.push(child);
                subtree(child, &mut found);
            }
        }
        found
    }
}

/// Which threads of `wfr` to ask for children.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// The main thread: where orphans are adopted.
    Main,
    All,
}

/// The children of `pid` (of all its threads, or of its main thread).
fn children(pid: Pid, threads: Threads) -> Vec<Pid> {
    let mut out = Vec::new();
    let read = |tid: &str, out: &mut Vec<Pid>| {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/children")) {
            out.extend(
                text.split_ascii_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .map(Pid::from_raw),
            );
        }
    };
    if threads == Threads::Main {
        read(&pid.to_string(), &mut out);
        return out;
    }
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            read(&task.file_name().to_string_lossy(), &mut out);
        }
    }
    out
}

/// Adds every process below `pid` to `found`.
fn subtree(pid: Pid, found: &mut Vec<Pid>) {
    let start = found.len();
    let mut queue = vec![pid];
    while let Some(next) = queue.pop() {
        for child in children(next, Threads::All) {
            // A process is counted once, even if the tree changes under us.
            if !found[start..].contains(&child) && found.len() < 100_000 {
                found.push(child);
                queue.push(child);
            }
        }
    }
}

/// True when `pid`'s `WFR_STAGE` holds a marker for which `matches` is true.
pub(crate) fn carries(pid: Pid, matches: impl Fn(&str) -> bool) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let key = STAGE_ENV.as_bytes();
    environ
        .split(|b| *b == 0)
        .filter_map(|entry| entry.strip_prefix(key)?.strip_prefix(b"="))
        .any(|value| String::from_utf8_lossy(value).split(';').any(&matches))
}

/// True when `pid` is in the process group `group`.
fn in_group(pid: Pid, group: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // Field 5, the process group, two after the state.
        stat.get(stat.rfind(')').map_or(0, |i| i + 2)..)
            .and_then(|rest| rest.split(' ').nth(2))
            .is_some_and(|g| g == group.to_string())
    })
}

/// Reaps `pids` (killed processes of a stage), waiting a little for them to die
/// and for those whose parent died with them to be adopted by `wfr`; what is
/// left is reaped by [`sweep`].
fn reap_some(pids: &[Pid]) {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let deadline = Instant::now() + Duration::from_millis(50);
    let mut left: Vec<Pid> = pids.to_vec();
    while !left.is_empty() {
        left.retain(|pid| match waitpid(*pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) => false,
            // Not ours (yet): it is adopted when its parent dies, unless it
            // is gone already.
            Err(_) => std::path::Path::new(&format!("/proc/{pid}")).exists(),
            Ok(_) => true,
        });
        if left.is_empty() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Kills every process below `wfr` (but its guard): at the end of a run, and on
/// a second signal. With `reap` (no stage runs any more: no first process is
/// waited for by its stage), reaps them too.
#[must_use]
pub fn sweep(reap: bool) -> usize {
    use nix::sys::wait::{Id, WaitPidFlag, waitid};
    // Nothing below us at all: one system call.
    if matches!(
        waitid(
            Id::All,
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT
        ),
        Err(nix::errno::Errno::ECHILD)
    ) {
        return 0;
    }
    let mut killed = 0;
    // Killing a parent makes its children ours: go round until none is left.
    for _ in 0..20 {
        let mut all = Vec::new();
        subtree(Pid::this(), &mut all);
        all.retain(|p| {
            !crate::guard::is_guard(*p)
                && crate::owner::start_time(p.as_raw().unsigned_abs()).is_some()
        });
        if all.is_empty() {
            break;
        }
        for pid in &all {
            if kill(*pid, Signal::SIGKILL).is_ok() {
                killed += 1;
            }
        }
        if reap {
            reap_exited();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    if reap {
        reap_exited();
    }
    killed
}

/// Reaps every child of `wfr` that has ended (not the guard while it runs).
fn reap_exited() {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    loop {
        match waitid(Id::All, WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Sets, in the child between fork and exec, SIGKILL on the death of the
/// parent, and gives up when the parent is already gone.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    let parent = Pid::this();
    // SAFETY: the closure runs in the forked child before exec; it only makes
    // two system calls (prctl, getppid), which are async-signal-safe, and
    // allocates nothing.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// True when the stage's first process `root` has ended (waiting for it when
/// `block`), without reaping it: while it is a zombie, its pid and its group's
/// id cannot name another process.
fn has_ended(root: Pid, block: bool) -> std::io::Result<bool> {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    let mut flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    if !block {
        flags |= WaitPidFlag::WNOHANG;
    }
    loop {
        return match waitid(Id::Pid(root), flags) {
            Ok(WaitStatus::StillAlive) => Ok(false),
            Ok(_) => Ok(true),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => Err(e.into()),
        };
    }
}

/// A stage process's output, captured and logged line by line.
pub(crate) struct Output {
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
}

/// Reads the output of the stage's first process `child` until it ends, logging
/// each line as it comes, then kills what the stage left behind and reads what
/// is left in the pipes until they close (or [`DRAIN`] passes: a process that
/// could not be found may hold them).
pub(crate) fn collect(
    stage: &Stage,
    mut child: Child,
    log: &LineLog<'_>,
    run: &str,
) -> std::io::Result<Output> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let root = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    // Readable when the first process ends: its end is seen at once even while
    // something else holds its pipes. (Without it, Linux before 5.3, the end
    // is looked for every 100 ms.)
    let exited = rustix::process::pidfd_open(
        rustix::process::Pid::from_child(&child),
        rustix::process::PidfdFlags::empty(),
    )
    .ok();
    let file = |fd: std::os::fd::OwnedFd| std::fs::File::from(fd);
    let mut pipes = [
        child.stdout.take().map(|p| file(p.into())),
        child.stderr.take().map(|p| file(p.into())),
    ];
    let mut streams = [
        StreamOutput::new(events::Stream::Stdout),
        StreamOutput::new(events::Stream::Stderr),
    ];
    let mut status = None;
    let mut drain_until: Option<Instant> = None;
    let mut buf = vec![0u8; 64 * 1024];
    while pipes.iter().any(Option::is_some) {
        let timeout = match drain_until {
            Some(until) => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                Some(left)
            }
            None if exited.is_some() => None,
            None => Some(CHECK_EVERY),
        };
        let watch_exit = status.is_none() && exited.is_some();
        let ready = {
            let mut fds: Vec<PollFd<'_>> = pipes
                .iter()
                .flatten()
                .map(|p| PollFd::new(p.as_fd(), PollFlags::POLLIN))
                .collect();
            if let Some(exited) = exited.as_ref().filter(|_| watch_exit) {
                fds.push(PollFd::new(exited.as_fd(), PollFlags::POLLIN));
            }
            let timeout = timeout.map_or(PollTimeout::NONE, |t| {
                PollTimeout::from(u16::try_from(t.as_millis().max(1)).unwrap_or(u16::MAX))
            });
            match poll(&mut fds, timeout) {
                Ok(_) => fds
                    .iter()
                    .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                    .collect::<Vec<_>>(),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let mut index = 0;
        for (slot, stream) in pipes.iter_mut().zip(streams.iter_mut()) {
            let Some(pipe) = slot else { continue };
            let is_ready = ready.get(index).copied().unwrap_or(false);
            index += 1;
            if !is_ready {
                continue;
            }
            match pipe.read(&mut buf) {
                Ok(0) => {
                    stream.finish(log);
                    *slot = None;
                }
                Ok(n) => stream.push(&buf[..n], log),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // Has the first process ended while something else holds its pipes?
        let maybe_ended = if watch_exit {
            ready.get(index).copied().unwrap_or(false)
        } else {
            status.is_none() && exited.is_none()
        };
        if maybe_ended && has_ended(root, false)? {
            status = Some(stage.end(&mut child, root)?);
            drain_until = Some(Instant::now() + DRAIN);
        }
    }
    let status = if let Some(status) = status {
        status
    } else {
        has_ended(root, true)?;
        stage.end(&mut child, root)?
    };
    for stream in &mut streams {
        stream.finish(log);
    }
    let [o, e] = streams;
    if drain_until.is_some() && pipes.iter().any(Option::is_some) {
        tracing::warn!(target: "wfr::stage", run = run, at = log.at, "the stage's output pipes are still held open by a process that is not below wfr; stopped reading them");
    }
    let dropped = o.dropped() + e.dropped();
    if dropped > 0 {
        tracing::warn!(target: "wfr::stage", run = run, at = log.at, bytes = dropped, "the stage wrote more than its outputs keep ({} MiB of each stream): they end with a note, and the log has the rest, within its bounds", CAPTURE_LIMIT >> 20);
    }
    Ok(Output {
        stdout: o.text(),
        stderr: e.text(),
        status,
    })
}
