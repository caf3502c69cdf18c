//! `wfc check --watch`: check, then check again whenever a workflow file, a
//! `.confignore` or the configuration changes. Unchanged files are read back
//! from the check cache (a temporary one under `--no-cache`), not parsed again.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher as _};

use super::args::CheckArgs;
use super::check::Session;
use super::{Done, Error};

/// How long events are gathered after the first one before checking (an
/// editor's save is several events).
const SETTLE: Duration = Duration::from_millis(100);

pub(super) fn run(args: &CheckArgs, first: &Session) -> Result<Done, Error> {
    let (sender, events) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(sender).map_err(|e| Error::Watch {
        path: PathBuf::from("."),
        error: e.to_string(),
    })?;
    for path in &first.paths {
        watcher
            .watch(path, RecursiveMode::Recursive)
            .map_err(|e| Error::Watch {
                path: path.clone(),
                error: e.to_string(),
            })?;
    }
    let config_file = first.config.file.clone();
    if let Some(file) = &config_file {
        // Its folder: editors replace files rather than write them.
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let _ = watcher.watch(dir, RecursiveMode::NonRecursive);
    }
    // Under --no-cache, a cache that lives as long as the watch.
    let scratch = tempfile::tempdir().map_err(|e| Error::Watch {
        path: std::env::temp_dir(),
        error: e.to_string(),
    })?;
    let mut session: Option<Session> = None;
    loop {
        let current = session.as_ref().unwrap_or(first);
        let started = Instant::now();
        match check_once(args, current, scratch.path()) {
            Ok((findings, parsed, files)) => crate::errln!(
                "wfc: {findings} in {files} file{} ({parsed} parsed again) in {} ms; watching for changes (Ctrl-C stops)",
                if files == 1 { "" } else { "s" },
                started.elapsed().as_millis()
            ),
            Err(error) => crate::errln!("wfc: error: {error}; watching for changes"),
        }
        // Wait for a change that matters, then let the burst settle.
        let mut config_changed = false;
        loop {
            let Ok(event) = events.recv() else {
                return Ok(Done::Clean);
            };
            if let Some(kind) = relevant(&event, config_file.as_deref()) {
                config_changed |= kind == Change::Config;
                break;
            }
        }
        let deadline = Instant::now() + SETTLE;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match events.recv_timeout(left) {
                Ok(event) => {
                    config_changed |=
                        relevant(&event, config_file.as_deref()) == Some(Change::Config);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(Done::Clean),
            }
        }
        if config_changed {
            match Session::new(args) {
                Ok(fresh) => session = Some(fresh),
                Err(error) => {
                    crate::errln!("wfc: error: {error}; the configuration in force before is kept");
                }
            }
        }
    }
}

/// One check, printed: the summary's words, files parsed again, files.
fn check_once(
    args: &CheckArgs,
    session: &Session,
    scratch: &Path,
) -> Result<(String, usize, usize), Error> {
    let checked = if session.cache.is_some() {
        session.check(args.resolve_calls)?
    } else {
        let with_cache = session.with_cache(scratch.join("check.bin"));
        with_cache.check(args.resolve_calls)?
    };
    let shown = session.shown(&checked);
    super::report_with(
        &args.report,
        &checked.sources,
        &shown,
        session.reporting(args, false),
    )?;
    let errors = shown.iter().filter(|d| d.is_error()).count();
    let warnings = shown.len() - errors;
    let files = checked.sources.len();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    Ok((
        format!(
            "{errors} error{} and {warnings} warning{}",
            plural(errors),
            plural(warnings)
        ),
        files - checked.cache_hits,
        files,
    ))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Workflows,
    Config,
}

/// Whether an event is about a workflow file, a `.confignore` or the
/// configuration (the check cache's own writes, and everything else, are not).
fn relevant(event: &notify::Result<notify::Event>, config: Option<&Path>) -> Option<Change> {
    let Ok(event) = event else {
        // The watch overflowed or failed: check again to be sure.
        return Some(Change::Workflows);
    };
    if event.kind.is_access() {
        return None;
    }
    let config_name = config.and_then(Path::file_name);
    let mut found = None;
    for path in &event.paths {
        if config_name.is_some() && path.file_name() == config_name {
            return Some(Change::Config);
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let yaml = Path::new(name)
            .extension()
            .is_some_and(|e| e == "yml" || e == "yaml");
        if yaml || name == ".confignore" {
            found = Some(Change::Workflows);
        }
    }
    found
}
