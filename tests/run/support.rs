//! Helpers shared by the runtime tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests")
}

/// `wfr` with a clean environment for the conf path.
pub fn wfr(args: &[&str], cwd: &Path, conf: Option<&Path>) -> Output {
    wfr_with(args, cwd, conf, &[])
}

/// `wfr` with extra environment variables.
pub fn wfr_with(args: &[&str], cwd: &Path, conf: Option<&Path>, envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wfr"));
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

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
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
