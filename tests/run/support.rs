//! Helpers shared by the runtime tests (`tests/run`, and `tests/python` for
//! `wfr-python`).

// Not every test crate uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../common.rs"]
mod common;
// Not every crate that includes this file uses every helper.
#[allow(unused_imports)]
pub use common::{
    Tmpfs, assert_version_line, bounded, damaged_plans, installed, mkfifo, stderr, stdout,
    syntax_ok, write,
};

pub fn tests_dir() -> PathBuf {
    PathBuf::from(crate::TESTS)
}

/// The binary under test (`crate::WFR`: `wfr`, or `wfr-python` for the Python tests)
/// with a clean environment for the conf path.
pub fn wfr(args: &[&str], cwd: &Path, conf: Option<&Path>) -> Output {
    wfr_with(args, cwd, conf, &[])
}

/// `wfr` with extra environment variables.
pub fn wfr_with(args: &[&str], cwd: &Path, conf: Option<&Path>, envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(crate::WFR);
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("WORKFLOW_CORE_STAGE_DEFAULT_ID")
        .env_remove("WFR_LOG")
        .env_remove("WORKFLOW_CORE_REGISTRY_CALLER")
        .env_remove("WFC_REGISTRY_CALLER")
        .env("NO_COLOR", "1");
    match conf {
        Some(conf) => command.env("WORKFLOW_CORE_CONF_PATH", conf),
        None => command.env_remove("WORKFLOW_CORE_CONF_PATH"),
    };
    command.envs(envs.iter().copied());
    command.output().expect("run wfr")
}

/// A `TMPDIR` of the test's own, for a test that leaves a `wfr` gone with its
/// guard: every `wfr` cleans up after the gone owners of its `TMPDIR`, so in the
/// shared one another test's `wfr` could do it before this test's next `wfr`.
pub fn private_tmp(dir: &Path) -> String {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).expect("private TMPDIR");
    tmp.to_str().expect("UTF-8 path").to_string()
}

/// A JSON value without its `info` entries (timings), as the goldens are.
pub fn without_info(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .filter(|(k, _)| k != "info")
                .map(|(k, v)| (k, without_info(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(without_info).collect())
        }
        other => other,
    }
}

/// The final context `wfr run --output json` printed.
pub fn context(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}\n{}", stdout(out), stderr(out)))
}

/// The lines of `text` that are JSON.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Runs `wfr run NAME --output json` in `cwd`, sends it SIGTERM after `after`, and
/// returns what it printed and how long it took to stop.
pub fn run_and_terminate(
    name: &str,
    cwd: &Path,
    after: std::time::Duration,
) -> (Output, std::time::Duration) {
    let child = Command::new(crate::WFR)
        .args(["run", name, "--output", "json"])
        .current_dir(cwd)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wfr");
    std::thread::sleep(after);
    let started = std::time::Instant::now();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
    let out = child.wait_with_output().expect("wait for wfr");
    (out, started.elapsed())
}

/// A `wfr` started in the background, its output going to files (so that
/// nothing it leaves behind can hold the test's pipes).
pub struct Started {
    pub child: std::process::Child,
    out: tempfile::NamedTempFile,
    err: tempfile::NamedTempFile,
}

/// What a background `wfr` ended with.
pub struct Ended {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Starts `wfr ARGS` in `cwd` (workflows from `cwd/conf`).
pub fn start(args: &[&str], cwd: &Path) -> Started {
    start_with(args, cwd, &[])
}

/// [`start`] with extra environment variables.
pub fn start_with(args: &[&str], cwd: &Path, envs: &[(&str, &str)]) -> Started {
    let out = tempfile::NamedTempFile::new().expect("stdout file");
    let err = tempfile::NamedTempFile::new().expect("stderr file");
    let child = Command::new(crate::WFR)
        .args(args)
        .current_dir(cwd)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env_remove("WFR_LOG")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(out.reopen().expect("stdout"))
        .stderr(err.reopen().expect("stderr"))
        .envs(envs.iter().copied())
        .spawn()
        .expect("spawn wfr");
    Started { child, out, err }
}

impl Started {
    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"))
    }

    /// What `wfr` wrote on stderr so far.
    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(self.err.path()).unwrap_or_default()
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal).expect("signal wfr");
    }

    /// Waits for `wfr` to end, at most `limit`: past it, `wfr` is killed and
    /// the test fails with what it printed.
    pub fn end_within(mut self, limit: std::time::Duration) -> Ended {
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let read =
            |f: &tempfile::NamedTempFile| std::fs::read_to_string(f.path()).unwrap_or_default();
        let ended = Ended {
            code: status.and_then(|s| s.code()),
            stdout: read(&self.out),
            stderr: read(&self.err),
        };
        assert!(
            status.is_some(),
            "wfr did not end within {limit:?}:\n{}",
            ended.stderr
        );
        ended
    }
}

/// Waits until `path` exists (a stage wrote it whole, then renamed it into
/// place), at most 20 s.
pub fn wait_for(path: &Path) {
    let started = std::time::Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The pids written (one per file) in `dir`.
pub fn pids_in(dir: &Path) -> Vec<(String, i32)> {
    let mut pids: Vec<(String, i32)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                // Files are written as `.name`, then renamed.
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter_map(|e| {
                    let pid = std::fs::read_to_string(e.path())
                        .ok()?
                        .trim()
                        .parse()
                        .ok()?;
                    Some((e.file_name().to_string_lossy().into_owned(), pid))
                })
                .collect()
        })
        .unwrap_or_default();
    pids.sort();
    pids
}

/// True while `pid` runs (a zombie has ended).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat[stat.rfind(')')? + 2..].chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

/// The processes of `pids` still running, a moment given for them to go; the
/// ones found are killed (so that a failing test leaves nothing behind).
pub fn still_running(pids: &[(String, i32)]) -> Vec<String> {
    let started = std::time::Instant::now();
    loop {
        let running: Vec<&(String, i32)> = pids.iter().filter(|(_, p)| alive(*p)).collect();
        if running.is_empty() || started.elapsed() > std::time::Duration::from_secs(3) {
            for (_, pid) in &running {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            return running.iter().map(|(name, _)| name.clone()).collect();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The entries of the runs folder `runs`.
pub fn run_entries(runs: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(runs)
        .map(|e| {
            e.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The pids of running processes whose command line is `cmdline` (its
/// arguments joined by spaces).
pub fn processes_running(cmdline: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                        String::from_utf8_lossy(&c)
                            .trim_end_matches('\0')
                            .replace('\0', " ")
                            == cmdline
                    }) && alive(*pid)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `text` with each line indented by `spaces` (a block in a YAML file).
pub fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.lines() {
        out.push_str(&pad);
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The guard of the wfr `pid`: its child that runs `guard`.
pub fn guard_of(pid: u32) -> nix::unistd::Pid {
    find_guard(pid).expect("wfr started a guard")
}

pub fn find_guard(pid: u32) -> Option<nix::unistd::Pid> {
    let children: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    let guard = children.iter().copied().find(|c| {
        std::fs::read(format!("/proc/{c}/cmdline"))
            .is_ok_and(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == b"guard"))
    })?;
    Some(nix::unistd::Pid::from_raw(i32::try_from(guard).ok()?))
}
