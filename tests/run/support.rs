//! Helpers shared by the runtime tests (`tests/run`, and `tests/python` for
//! `wfr-python`).

// Not every test crate uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../common.rs"]
mod common;
pub use common::{stderr, stdout, write};

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
