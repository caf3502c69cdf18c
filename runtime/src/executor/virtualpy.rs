//! VirtualPy stage: the code, with `vars` as assignments and its `deps` in a PEP 723
//! header, written to a private temporary folder and run by `uv run --no-project`
//! in an environment of its own. `version` picks an interpreter installed on the
//! machine (uv never downloads one). Outputs as a Bash stage's.

use std::path::{Path, PathBuf};
use std::process::Command;

use wfc_plan::PlanMap;
use wfc_plan::expr::ast::Template;

use super::bash::{private_dir, run_process, write_private};
use super::{Context, Outcome};
use crate::eval;
use crate::status::ErrorName;
use crate::value::{Map, Value};

pub(super) fn run(
    cx: &impl Context,
    local: &Map,
    retry: Option<i64>,
    code: &Template,
    vars: &PlanMap,
    deps: &[Template],
    version: Option<&Template>,
) -> Outcome {
    // Upstream renders these without `pass_env`: `null` stays text.
    let scope = cx.scope(local, retry).plain();
    let code = match eval::render_text(&scope, code) {
        Ok(text) => text,
        Err(e) => return Outcome::eval_error(e),
    };
    let vars = match eval::map(&scope, vars) {
        Ok(vars) => vars,
        Err(e) => return Outcome::eval_error(e),
    };
    let mut packages = Vec::with_capacity(deps.len());
    for dep in deps {
        match eval::render_text(&scope, dep) {
            Ok(text) => packages.push(text),
            Err(e) => return Outcome::eval_error(e),
        }
    }
    let version = match version.map(|v| eval::render_text(&scope, v)) {
        None => None,
        Some(Err(e)) => return Outcome::eval_error(e),
        Some(Ok(version)) => Some(version),
    };
    // A dry run looks for neither the interpreter nor uv: it needs neither.
    if cx.dry_run() {
        return Outcome::dry_run(dry_run_fields(code, &vars, &packages, version));
    }
    // In a container job, the image's uv runs it (`version` as uv reads it there).
    #[cfg(feature = "docker")]
    if let crate::runner::Host::Container(session) = cx.host() {
        if cx.cancel().is_cancelled() {
            return Outcome::cancelled("Cancel before start virtual python process.");
        }
        let script = script(&code, &vars, &packages);
        return match session.run_uv(cx, &script, version.as_deref().map(str::trim)) {
            Ok(exited) => {
                super::bash::Finished::of(exited).outcome(cx, |stderr| failure(stderr, &code))
            }
            Err(error) => error.into(),
        };
    }
    let interpreter = match version {
        None => None,
        Some(version) => match find_interpreter(version.trim()) {
            Ok(path) => Some(path),
            Err(missing) => return Outcome::failed(ErrorName::StageError, missing.to_string()),
        },
    };
    let uv = match find_uv() {
        Ok(uv) => uv,
        Err(missing) => return Outcome::failed(ErrorName::StageError, missing.to_string()),
    };
    if cx.cancel().is_cancelled() {
        return Outcome::cancelled("Cancel before start virtual python process.");
    }
    let script = script(&code, &vars, &packages);
    let done = (|| {
        let dir = private_dir("wfr-venv-")?;
        let path = dir.path().join("stage.py");
        write_private(&path, &script)?;
        let mut command = uv.command();
        command.args(["run", "--quiet", "--no-project"]);
        if let Some(python) = &interpreter {
            command.arg("--python").arg(python);
        }
        command.arg(&path).env("UV_PYTHON_DOWNLOADS", "never");
        let done = run_process(cx, command, false);
        drop(dir);
        done
    })();
    match done {
        Err(_) if cx.cancel().is_killed() => {
            Outcome::cancelled("Cancel while the process was running.")
        }
        Ok(done) => done.outcome(cx, |stderr| failure(stderr, &code)),
        Err(error) => Outcome::failed(
            ErrorName::StageError,
            format!("cannot run the script with {}: {error}", uv.describe()),
        ),
    }
}

/// The message of a script that exited with a status other than 0.
fn failure(stderr: &str, code: &str) -> String {
    format!(
        "Subprocess: {}\nRunning Statement:\n---\n```python\n{}\n```",
        stderr.strip_suffix('\n').unwrap_or(stderr),
        code
    )
}

/// What a dry run shows: the code, each var as the script assigns it, the
/// dependencies and the version asked for.
fn dry_run_fields(
    code: String,
    vars: &Map,
    deps: &[String],
    version: Option<String>,
) -> Vec<(String, String)> {
    let mut fields = vec![("run".to_string(), code)];
    fields.extend(super::py::python_values("vars", vars));
    if !deps.is_empty() {
        fields.push(("deps".to_string(), deps.join(", ")));
    }
    fields.extend(version.map(|version| ("version".to_string(), version)));
    fields
}

/// The script uv runs: the PEP 723 header with the dependencies, the variables,
/// then the code.
fn script(code: &str, vars: &Map, deps: &[String]) -> String {
    let mut out = String::from("# /// script\n# dependencies = [");
    out.push_str(
        &deps
            .iter()
            .map(|d| serde_json::Value::String(d.clone()).to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push_str("]\n# ///\n");
    let needs = |pick: fn(&Value) -> bool| vars.values().any(|v| contains(v, pick));
    if needs(|v| matches!(v, Value::Date(_) | Value::DateTime(_))) {
        out.push_str("import datetime\n");
    }
    if needs(|v| matches!(v, Value::Decimal(_))) {
        out.push_str("from decimal import Decimal\n");
    }
    for (name, value) in vars {
        out.push_str(name);
        out.push_str(" = ");
        out.push_str(&value.py_repr());
        out.push('\n');
    }
    out.push_str(code);
    out
}

fn contains(value: &Value, pick: fn(&Value) -> bool) -> bool {
    pick(value)
        || match value {
            Value::List(items) | Value::Tuple(items) => items.iter().any(|v| contains(v, pick)),
            Value::Map(map) => map.values().any(|v| contains(v, pick)),
            _ => false,
        }
}

/// How uv is started: `$WFC_UV`, else `uv` on the PATH, else `python3 -m uv`.
enum Uv {
    Binary(PathBuf),
    Module,
}

impl Uv {
    fn command(&self) -> Command {
        match self {
            Uv::Binary(path) => Command::new(path),
            Uv::Module => {
                let mut command = Command::new("python3");
                command.args(["-m", "uv"]);
                command
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Uv::Binary(path) => path.display().to_string(),
            Uv::Module => "python3 -m uv".to_string(),
        }
    }
}

/// What a VirtualPy stage needs and this machine does not have: it fails with it.
#[derive(Debug, thiserror::Error)]
enum Missing {
    #[error(
        "VirtualPy stages run with uv, which is not installed: `python3 -m pip install uv` (or set WFC_UV to its path)"
    )]
    Uv,
    /// `version` is a path, and no file is there.
    #[error("`version: {version}`: no such interpreter")]
    InterpreterFile { version: String },
    #[error(
        "`version: {version}`: no Python {version} is installed (looked in {}); install it, or drop `version` to use the default interpreter",
        looked.join(", ")
    )]
    Interpreter {
        version: String,
        looked: Vec<String>,
    },
}

fn find_uv() -> Result<Uv, Missing> {
    if let Some(path) = std::env::var_os("WFC_UV").filter(|p| !p.is_empty()) {
        return Ok(Uv::Binary(PathBuf::from(path)));
    }
    if let Some(path) = on_path("uv") {
        return Ok(Uv::Binary(path));
    }
    let module = Command::new("python3")
        .args(["-m", "uv", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if module {
        return Ok(Uv::Module);
    }
    Err(Missing::Uv)
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// An installed interpreter for `version` (`3.12`, `3.12.1`, or a path): pyenv's
/// versions first, then `python3.12` on the PATH and in the usual folders. Never
/// one to download.
fn find_interpreter(version: &str) -> Result<PathBuf, Missing> {
    let as_path = Path::new(version);
    if version.contains('/') {
        return if as_path.is_file() {
            Ok(as_path.to_path_buf())
        } else {
            Err(Missing::InterpreterFile {
                version: version.to_string(),
            })
        };
    }
    let short: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let executable = format!("python{short}");
    let mut looked = Vec::new();
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(root) = pyenv {
        let versions = root.join("versions");
        looked.push(versions.display().to_string());
        let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(&versions)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let matches = name == version || name.starts_with(&format!("{version}."));
                let path = entry.path().join("bin").join(&executable);
                (matches && path.is_file()).then(|| {
                    let key = name.split('.').filter_map(|p| p.parse().ok()).collect();
                    (key, path)
                })
            })
            .collect();
        found.sort();
        if let Some((_, path)) = found.pop() {
            return Ok(path);
        }
    }
    // Exact patch versions are only told apart by pyenv's folder names.
    if version.split('.').count() <= 2 {
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.extend(["/usr/local/bin", "/usr/bin"].map(PathBuf::from));
        for dir in dirs {
            // pyenv's shims answer for versions that are not selected: skip them.
            if dir.ends_with("shims") {
                continue;
            }
            let path = dir.join(&executable);
            if path.is_file() {
                return Ok(path);
            }
            looked.push(dir.display().to_string());
        }
    }
    Err(Missing::Interpreter {
        version: version.to_string(),
        looked,
    })
}
