//! `wfc check --resolve-calls`: Call stages checked against the functions the
//! project's task packages register (imported with python3), and filters
//! registered in Python accepted.

use std::path::Path;
use std::process::Command;

use crate::support::write;

const TASKS: &str = r#"
from ddeutil.workflow import tag, custom_filter


@tag("v1", alias="load")
def load(table: str, _from: str, limit: int = 10) -> dict:
    return {}


@tag("v2", alias="load")
def load_v2(table: str, **options) -> dict:
    return {}


@custom_filter("shout")
def shout(value):
    return str(value).upper()
"#;

const FLOW: &str = "\
flow:
  type: Workflow
  params:
    name: str
  jobs:
    j:
      stages:
        - name: Good
          uses: tasks/load@v1
          with: {table: a, from: b}
        - name: Typo in the function
          uses: tasks/lod@v1
        - name: Unknown tag
          uses: tasks/load@v3
          with: {table: a, from: b}
        - name: Unknown argument
          uses: tasks/load@v1
          with: {table: a, from: b, limt: 5}
        - name: Missing argument
          uses: tasks/load@v1
          with: {table: a}
        - name: Anything goes with kwargs
          uses: tasks/load@v2
          with: {table: a, whatever: 1}
        - name: No such package
          uses: nothing/load@v1
        - name: Templated, not checked
          uses: tasks/${{ params.name }}@v1
        - name: A Python filter
          echo: ${{ params.name | shout }}
";

fn wfc(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(args)
        .current_dir(cwd)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env_remove("WFC_REGISTRY_CALLER")
        .env_remove("WORKFLOW_CORE_REGISTRY_CALLER")
        .env_remove("WFC_REGISTRY_FILTER")
        .env_remove("WORKFLOW_CORE_REGISTRY_FILTER")
        .env("NO_COLOR", "1")
        .output()
        .expect("run wfc")
}

/// `(line, column, code, message)` of every finding, from `--format json`.
fn findings(out: &std::process::Output) -> Vec<(u64, u64, String, String)> {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    json["findings"]
        .as_array()
        .expect("a list of findings")
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().expect("line"),
                d["column"].as_u64().expect("column"),
                d["code"].as_str().expect("code").to_string(),
                d["message"].as_str().expect("message").to_string(),
            )
        })
        .collect()
}

#[test]
fn calls_are_checked_against_the_registry() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "tasks/__init__.py", TASKS);
    write(dir.path(), "conf/flow.yml", FLOW);

    // Without it, only the Python filter is unknown.
    let out = wfc(&["check", "--format", "json", "--no-cache"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let codes: Vec<String> = findings(&out).into_iter().map(|f| f.2).collect();
    assert_eq!(codes, ["WF409"]);

    let out = wfc(
        &["check", "--resolve-calls", "--format", "json", "--no-cache"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let got = findings(&out);
    let expected = [
        (
            12,
            17,
            "WF411",
            "no function `lod` is registered in the package `tasks`",
        ),
        (14, 17, "WF411", "`load` has no tag `v3`"),
        (18, 37, "WF412", "`load@v1` has no argument `limt`"),
        (20, 17, "WF412", "`load@v1` needs `from` under `with:`"),
        (
            26,
            17,
            "WF411",
            "no task package: the package `nothing` is not found",
        ),
    ];
    let got: Vec<(u64, u64, &str, &str)> = got
        .iter()
        .map(|(l, c, code, m)| (*l, *c, code.as_str(), m.as_str()))
        .collect();
    assert_eq!(got, expected);

    // The human output suggests the fix.
    let out = wfc(&["check", "--resolve-calls", "--no-cache"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("did you mean `load`?"), "{text}");
    assert!(text.contains("did you mean `limit`?"), "{text}");
    assert!(text.contains("its tags: v1, v2"), "{text}");
}

#[test]
fn registry_roots_and_import_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "pkg/__init__.py", "");
    write(dir.path(), "pkg/tasks.py", "import missing_dependency\n");
    write(
        dir.path(),
        "conf/flow.yml",
        "flow:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: A, uses: tasks/load@v1}\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["check", "--resolve-calls", "--format", "json", "--no-cache"])
        .current_dir(dir.path())
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env("WFC_REGISTRY_CALLER", "pkg")
        .output()
        .expect("run wfc");
    assert_eq!(out.status.code(), Some(1));
    let got = findings(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].2, "WF411");
    assert_eq!(
        got[0].3,
        "cannot import `pkg.tasks`: ModuleNotFoundError: No module named 'missing_dependency'"
    );

    // No python: a usage error that says what to do.
    let out = Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["check", "--resolve-calls", "--no-cache"])
        .current_dir(dir.path())
        .env("WFC_PYTHON", "/no/such/python")
        .output()
        .expect("run wfc");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("WFC_PYTHON"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
