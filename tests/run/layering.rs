//! The runtime's layering, read from its sources: it uses the compiler only through
//! the compile API, the executors do not reach into the VM, and the log writer and
//! the progress view know each other only through run events.

use std::fs;
use std::path::{Path, PathBuf};

use crate::TESTS;

/// Every `.rs` file under `dir`, with its text up to its `#[cfg(test)] mod tests`
/// (tests may use whatever they test with).
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("a source folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).expect("a source file");
                let code = match text.find("#[cfg(test)]\nmod tests") {
                    Some(at) => text[..at].to_owned(),
                    None => text,
                };
                out.push((path, code));
            }
        }
    }
    assert!(!out.is_empty(), "no sources under {}", dir.display());
    out
}

/// The places in `sources` where `needle` occurs and `allowed` does not say it is fine.
fn offenders(
    sources: &[(PathBuf, String)],
    needle: &str,
    allowed: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut found = Vec::new();
    for (path, code) in sources {
        for (n, line) in code.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find(needle) {
                let tail = &rest[at + needle.len()..];
                if !allowed(tail) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
                rest = tail;
            }
        }
    }
    found
}

fn runtime() -> PathBuf {
    Path::new(TESTS).join("../runtime")
}

#[test]
fn the_runtime_uses_the_compiler_only_through_its_compile_api() {
    let mut all = sources(&runtime().join("src"));
    all.extend(sources(&runtime().join("wfr-python")));
    let found = offenders(&all, "wfc_compiler::", |tail| {
        tail.starts_with("api::") || tail.starts_with("api;") || tail.starts_with("api}")
    });
    assert!(
        found.is_empty(),
        "compiler internals named in the runtime (use `wfc_compiler::api`, or move what \
         both sides share into `wfc_plan`):\n{}",
        found.join("\n")
    );
}

#[test]
fn executors_do_not_reach_into_the_vm() {
    let executors = sources(&runtime().join("src/executor"));
    let found = offenders(&executors, "crate::vm", |_| false);
    assert!(
        found.is_empty(),
        "executors must use their context trait, not the VM:\n{}",
        found.join("\n")
    );
}

#[test]
fn logs_and_progress_know_each_other_only_through_run_events() {
    let src = runtime().join("src");
    let read = |name: &str| {
        let text = fs::read_to_string(src.join(name)).expect("a source file");
        match text.find("#[cfg(test)]\nmod tests") {
            Some(at) => text[..at].to_owned(),
            None => text,
        }
    };
    for (file, other) in [("logs.rs", "progress"), ("progress.rs", "logs")] {
        let code = read(file);
        for needle in [format!("crate::{other}"), format!("super::{other}")] {
            assert!(
                !code.contains(&needle),
                "{file} names `{needle}`: the two subscribe to run events instead"
            );
        }
    }
}
