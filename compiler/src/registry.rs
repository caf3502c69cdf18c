//! The Python side of workflows, as the compiler sees it: where task packages and
//! filter modules are looked for (shared with the runtime), and
//! `wfc check --resolve-calls`, which imports them with `python3` and checks every
//! Call stage's function, tag and arguments against what they register.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::check::Checked;
use crate::diagnostic::{Code, Diagnostic, Fix};
use crate::span::Span;

/// The support module the runtime embeds (registry, `@tag`, shims).
const SUPPORT: &str = include_str!("../../runtime/python/wfc_support.py");
/// What `--resolve-calls` runs after it.
const RESOLVE: &str = include_str!("../../runtime/python/wfc_resolve.py");

/// Where Python looks for task packages, first: the current folder, the workflow
/// folders (`folders`, else `$WORKFLOW_CORE_CONF_PATH`, `./conf` or `.`) and the
/// folders that hold them.
#[must_use]
pub fn places(folders: &[PathBuf]) -> Vec<String> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut add = |path: &Path| {
        if let Ok(path) = std::path::absolute(path)
            && !out.contains(&path)
        {
            out.push(path);
        }
    };
    add(Path::new("."));
    let folders = if folders.is_empty() {
        crate::syntax::discover::default_paths()
    } else {
        folders.to_vec()
    };
    for folder in folders {
        let folder = std::path::absolute(&folder).unwrap_or(folder);
        // A file names its folder.
        let folder = if folder.is_file() {
            folder.parent().map_or(folder.clone(), Path::to_path_buf)
        } else {
            folder
        };
        if let Some(parent) = folder.parent() {
            add(parent);
        }
        add(&folder);
    }
    out.into_iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect()
}

/// Comma-separated names from the first of `vars` that is set (`.` is no name).
fn names_from_env(vars: &[&str]) -> Option<Vec<String>> {
    vars.iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        .map(|value| {
            value
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty() && *r != ".")
                .map(str::to_string)
                .collect()
        })
}

/// The registry roots of Call stages: `$WFC_REGISTRY_CALLER`, else
/// `$WORKFLOW_CORE_REGISTRY_CALLER` (comma-separated package names). None means
/// `uses: tasks/...` imports the package `tasks` itself.
#[must_use]
pub fn call_roots() -> Vec<String> {
    names_from_env(&["WFC_REGISTRY_CALLER", "WORKFLOW_CORE_REGISTRY_CALLER"]).unwrap_or_default()
}

/// The modules that hold `@custom_filter` functions: `$WFC_REGISTRY_FILTER`, else
/// `$WORKFLOW_CORE_REGISTRY_FILTER`, else the `tasks` package.
#[must_use]
pub fn filter_modules() -> Vec<String> {
    names_from_env(&["WFC_REGISTRY_FILTER", "WORKFLOW_CORE_REGISTRY_FILTER"])
        .unwrap_or_else(|| vec!["tasks".to_string()])
}

/// `path/function@tag`.
#[must_use]
pub fn split_uses(uses: &str) -> Option<(&str, &str, &str)> {
    let (path, rest) = uses.split_once('/')?;
    let (func, tag) = rest.split_once('@')?;
    let valid = !path.is_empty()
        && !path.contains('@')
        && !func.is_empty()
        && !func.contains('@')
        && !tag.is_empty();
    valid.then_some((path, func, tag))
}

#[derive(Debug, Deserialize)]
struct Answer {
    paths: HashMap<String, PathAnswer>,
    filters: Vec<String>,
    filter_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PathAnswer {
    Found {
        modules: Vec<String>,
        funcs: BTreeMap<String, BTreeMap<String, Signature>>,
    },
    Failed {
        error: String,
    },
}

#[derive(Debug, Deserialize)]
struct Signature {
    params: Vec<Param>,
    kwargs: bool,
}

#[derive(Debug, Deserialize)]
struct Param {
    name: String,
    required: bool,
}

/// What the project's Python registers.
#[derive(Debug)]
pub struct Registry {
    answer: Answer,
    roots: Vec<String>,
}

impl Registry {
    /// The filters registered with `@custom_filter`.
    #[must_use]
    pub fn filters(&self) -> &[String] {
        &self.answer.filters
    }

    /// Why the filter modules could not be loaded, if they could not.
    #[must_use]
    pub fn filter_error(&self) -> Option<&str> {
        self.answer.filter_error.as_deref()
    }
}

/// The interpreter `--resolve-calls` runs: `$WFC_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("WFC_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

/// Why `--resolve-calls` got no answer from Python.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("--resolve-calls runs `{python}` (set WFC_PYTHON to another interpreter): {error}")]
    Start {
        python: String,
        error: std::io::Error,
    },
    #[error("cannot talk to `{python}`: {error}")]
    Talk {
        python: String,
        error: std::io::Error,
    },
    #[error("cannot run `{python}`: {error}")]
    Run {
        python: String,
        error: std::io::Error,
    },
    /// Python ran but gave no answer: its stderr says why.
    #[error("`{python}` could not import the task packages:\n{stderr}")]
    Import { python: String, stderr: String },
}

/// Imports the task packages that `checked`'s Call stages name (and the filter
/// modules) with Python, and reads what they register.
///
/// # Errors
/// When Python cannot be run or does not answer.
pub fn query(checked: &Checked, folders: &[PathBuf]) -> Result<Registry, QueryError> {
    let mut paths: Vec<&str> = checked
        .workflows
        .iter()
        .flatten()
        .flat_map(|w| &w.calls)
        .filter_map(|c| split_uses(&c.uses.value).map(|(path, _, _)| path))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let roots = call_roots();
    let request = serde_json::json!({
        "places": places(folders),
        "roots": roots,
        "paths": paths,
        "filter_modules": filter_modules(),
    });
    let python = python();
    let mut child = Command::new(&python)
        .args(["-c", &format!("{SUPPORT}\n{RESOLVE}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| QueryError::Start {
            python: python.clone(),
            error,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(request.to_string().as_bytes())
            .map_err(|error| QueryError::Talk {
                python: python.clone(),
                error,
            })?;
    }
    let out = child.wait_with_output().map_err(|error| QueryError::Run {
        python: python.clone(),
        error,
    })?;
    let answer: Answer = serde_json::from_slice(&out.stdout).map_err(|_| QueryError::Import {
        python: python.clone(),
        stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
    })?;
    Ok(Registry { answer, roots })
}

/// Every Call stage whose function, tag or arguments the registry does not have.
#[must_use]
pub fn check_calls(checked: &Checked, registry: &Registry) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for call in checked.workflows.iter().flatten().flat_map(|w| &w.calls) {
        let Some((path, func, tag)) = split_uses(&call.uses.value) else {
            continue;
        };
        let span = call.uses.span;
        let where_ = if registry.roots.is_empty() {
            format!("the package `{path}`")
        } else {
            registry
                .roots
                .iter()
                .map(|r| format!("`{r}.{path}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (modules, funcs) = match registry.answer.paths.get(path) {
            Some(PathAnswer::Found { modules, funcs }) => (modules, funcs),
            Some(PathAnswer::Failed { error }) => {
                out.push(
                    Diagnostic::new(
                        Code::UnknownCall,
                        span,
                        format!("cannot import {where_}: {error}"),
                    )
                    .label("its task package fails to import")
                    .help("fix the import error (run `python3 -c 'import …'` to see it whole)"),
                );
                continue;
            }
            None => continue,
        };
        if modules.is_empty() {
            out.push(
                Diagnostic::new(Code::UnknownCall, span, format!("no task package: {where_} is not found"))
                    .label("nothing to import")
                    .help("put a `tasks` package beside the workflow folder, or name the packages that hold it in WFC_REGISTRY_CALLER"),
            );
            continue;
        }
        let Some(tags) = funcs.get(func) else {
            let known: Vec<&str> = funcs.keys().map(String::as_str).collect();
            out.push(
                Diagnostic::new(
                    Code::UnknownCall,
                    span,
                    format!("no function `{func}` is registered in {where_}"),
                )
                .label("unknown function")
                .did_you_mean_or(func, known.iter().copied(), || {
                    Some(if known.is_empty() {
                        "mark a function with `@tag(\"<tag>\", alias=\"<name>\")`".to_string()
                    } else {
                        format!("registered: {}", known.join(", "))
                    })
                }),
            );
            // The fix renames the function inside `uses` (path/func@tag).
            if let Some(last) = out.last_mut() {
                last.fix = last.fix.take().and_then(|fix| {
                    let offset = call.uses.value.find('/')? + 1;
                    let at = span.start as usize + offset;
                    let word = Span::new(span.file, at, at + func.len());
                    let fix = Fix::rename(word, func, &fix.edits[0].replacement, fix.applicability);
                    fix.holds(&checked.sources.get(span.file).text)
                        .then_some(fix)
                });
            }
            continue;
        };
        let Some(signature) = tags.get(tag) else {
            let known: Vec<&str> = tags.keys().map(String::as_str).collect();
            out.push(
                Diagnostic::new(
                    Code::UnknownCall,
                    span,
                    format!("`{func}` has no tag `{tag}`"),
                )
                .label("unknown tag")
                .help(format!("its tags: {}", known.join(", "))),
            );
            continue;
        };
        let Some(given) = &call.args else {
            continue;
        };
        let accepts = |key: &str| {
            signature
                .params
                .iter()
                .any(|p| p.name == key || p.name.strip_prefix('_') == Some(key))
        };
        let names: Vec<String> = signature
            .params
            .iter()
            .filter(|p| p.name != "result" && p.name != "extras")
            .map(|p| p.name.strip_prefix('_').unwrap_or(&p.name).to_string())
            .collect();
        if !signature.kwargs {
            for key in given.iter().filter(|k| !accepts(&k.value)) {
                out.push(
                    Diagnostic::new(
                        Code::CallArguments,
                        key.span,
                        format!("`{func}@{tag}` has no argument `{}`", key.value),
                    )
                    .label("unknown argument")
                    .did_you_mean_or(
                        &key.value,
                        names.iter().map(String::as_str),
                        || Some(format!("its arguments: {}", names.join(", "))),
                    ),
                );
                if let Some(last) = out.last_mut()
                    && last
                        .fix
                        .as_ref()
                        .is_some_and(|f| !f.holds(&checked.sources.get(key.span.file).text))
                {
                    last.fix = None;
                }
            }
        }
        let missing: Vec<&str> = signature
            .params
            .iter()
            .filter(|p| p.required && p.name != "result" && p.name != "extras")
            .filter(|p| {
                !given.iter().any(|k| {
                    k.value == p.name || p.name.strip_prefix('_') == Some(k.value.as_str())
                })
            })
            .map(|p| p.name.strip_prefix('_').unwrap_or(&p.name))
            .collect();
        if !missing.is_empty() {
            out.push(
                Diagnostic::new(
                    Code::CallArguments,
                    span,
                    format!(
                        "`{func}@{tag}` needs {} under `with:`",
                        missing
                            .iter()
                            .map(|m| format!("`{m}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .label("required arguments missing")
                .help("pass them under `with:`"),
            );
        }
    }
    out
}
