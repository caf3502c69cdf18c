//! `wfr run --dry-run`: everything is decided as in a real run, nothing with a
//! side effect starts, and what would have started is told with its templates
//! rendered.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{context, json_lines, stderr, stdout, wfr, write};

const FLOWS: &str = r#"
child:
  type: Workflow
  params:
    who: {type: str, required: true}
    n: {type: int, default: 1}
  jobs:
    c:
      stages:
        - {name: Child, bash: 'touch child-ran.txt'}
dry:
  type: Workflow
  params:
    name: {type: str, default: ann}
    items: {type: array, default: [a, b]}
  jobs:
    first:
      stages:
        - name: Write
          id: write
          bash: 'echo "hi ${{ params.name }}" > written.txt'
          env: {WHO: '${{ params.name }}', N: '3'}
        - name: Compute
          run: 'x = greeting + "!"'
          vars: {greeting: 'hello ${{ params.name }}', n: 2}
        - name: Never
          if: 'params.name == "bob"'
          bash: 'touch never.txt'
        - name: Each
          foreach: '${{ params.items }}'
          stages:
            - {name: Item, bash: 'touch item-${{ item }}.txt'}
        - {name: Nap, echo: 'napping ${{ params.name }}', sleep: 30}
        - name: Go
          trigger: child
          params: {who: '${{ params.name }}'}
    second:
      needs: [first]
      strategy:
        matrix:
          n: [1, 2]
      stages:
        - {name: Cell, bash: 'touch cell-${{ matrix.n }}.txt'}
"#;

/// The files the workflow's stages would write, found in `dir`.
fn written(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .filter_map(|path| Some(path.file_name()?.to_string_lossy().into_owned()))
        .collect();
    found.sort();
    found
}

#[test]
fn a_dry_run_renders_what_would_run_and_runs_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/flows.yml", FLOWS);
    let started = Instant::now();
    let out = wfr(
        &["run", "dry", "--dry-run", "--log-format", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The empty stage did not sleep its 30 seconds.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        stdout(&out).contains(": SUCCESS") && stdout(&out).trim_end().ends_with("(dry run)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(written(dir.path()), Vec::<String>::new(), "nothing ran");

    let lines = json_lines(&stderr(&out));
    // One run only: the trigger started no child run.
    let runs: Vec<_> = lines
        .iter()
        .filter(|l| l["event"] == "run_started")
        .collect();
    assert_eq!(runs.len(), 1, "{}", stderr(&out));
    assert_eq!(runs[0]["dry_run"], true);
    // Each stage that would have run, in order, with its fields rendered.
    let told: Vec<(String, String, serde_json::Value)> = lines
        .iter()
        .filter(|l| l["event"] == "stage_dry_run")
        .map(|l| {
            (
                l["at"].as_str().expect("at").to_string(),
                format!("{} {}", l["kind"].as_str().expect("kind"), l["stage"]),
                l["values"].clone(),
            )
        })
        .collect();
    // The matrix's strategies, at `second/<strategy id>`.
    let cells: Vec<&str> = lines
        .iter()
        .filter(|l| l["event"] == "stage_dry_run" && l["stage"] == "Cell")
        .map(|l| l["at"].as_str().expect("at"))
        .collect();
    assert_eq!(cells.len(), 2, "{}", stderr(&out));
    assert_eq!(
        told,
        [
            (
                "first".to_string(),
                "bash \"Write\"".to_string(),
                serde_json::json!({"script": "echo \"hi ann\" > written.txt", "env.WHO": "ann", "env.N": "3"}),
            ),
            (
                "first".to_string(),
                "python \"Compute\"".to_string(),
                serde_json::json!({"run": "x = greeting + \"!\"", "vars.greeting": "'hello ann'", "vars.n": "2"}),
            ),
            (
                "first[a]".to_string(),
                "bash \"Item\"".to_string(),
                serde_json::json!({"script": "touch item-a.txt"}),
            ),
            (
                "first[b]".to_string(),
                "bash \"Item\"".to_string(),
                serde_json::json!({"script": "touch item-b.txt"}),
            ),
            (
                "first".to_string(),
                "trigger \"Go\"".to_string(),
                serde_json::json!({"workflow": "child", "params.who": "'ann'", "params.n": "1"}),
            ),
            (
                cells[0].to_string(),
                "bash \"Cell\"".to_string(),
                serde_json::json!({"script": "touch cell-1.txt"}),
            ),
            (
                cells[1].to_string(),
                "bash \"Cell\"".to_string(),
                serde_json::json!({"script": "touch cell-2.txt"}),
            ),
        ]
    );
    assert_ne!(cells[0], cells[1]);
    // The fields of a stage keep their order in the line.
    let text = stderr(&out);
    let write_line = text
        .lines()
        .find(|l| l.contains("\"stage_dry_run\"") && l.contains("\"Write\""))
        .expect("the Write line");
    assert!(
        write_line.find("\"script\"") < write_line.find("\"env.WHO\"")
            && write_line.find("\"env.WHO\"") < write_line.find("\"env.N\""),
        "{write_line}"
    );
    // The false `if` skipped its stage, which says nothing of what it would run.
    let never: Vec<_> = lines
        .iter()
        .filter(|l| l["stage"] == "Never")
        .map(|l| (l["event"].clone(), l["status"].clone()))
        .collect();
    assert_eq!(
        never,
        [
            ("stage_started".into(), serde_json::Value::Null),
            ("stage_ended".into(), "SKIP".into()),
        ]
    );
    // The empty stage's echo is rendered and logged as in a real run.
    assert!(
        lines
            .iter()
            .any(|l| l["target"] == "wfr::echo" && l["message"] == "napping ann"),
        "{text}"
    );
}

#[test]
fn a_dry_run_context_has_no_outputs_and_says_it_was_dry() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/flows.yml", FLOWS);
    let out = wfr(
        &["run", "dry", "--dry-run", "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ctx = context(&out);
    assert_eq!(ctx["info"]["dry_run"], true);
    assert_eq!(ctx["status"], "SUCCESS");
    assert_eq!(
        ctx["jobs"]["first"]["stages"]["write"],
        serde_json::json!({"outputs": {}, "status": "SUCCESS"})
    );
    assert_eq!(ctx["jobs"]["second"]["status"], "SUCCESS");
    assert_eq!(
        ctx["jobs"]["second"]["strategies"]
            .as_object()
            .map(serde_json::Map::len),
        Some(2)
    );
    // People read what would run on the human log.
    let out = wfr(&["run", "dry", "--dry-run"], dir.path(), None);
    let text = stderr(&out);
    assert!(
        text.contains("first would run bash stage=Write script=\"echo \\\"hi ann\\\" > written.txt\" env.WHO=ann env.N=3"),
        "{text}"
    );
    assert!(
        text.contains(
            "first would run trigger stage=Go workflow=child params.who='ann' params.n=1"
        ),
        "{text}"
    );
    assert_eq!(written(dir.path()), Vec::<String>::new(), "nothing ran");
}

#[test]
fn a_template_that_does_not_render_fails_its_stage_in_a_dry_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/flows.yml",
        "broken:\n  type: Workflow\n  params:\n    cfg: {type: map, default: {}}\n  jobs:\n    j:\n      stages:\n        - {name: Bad, bash: 'echo ${{ params.cfg.missing }}'}\n        - {name: After, bash: 'touch after.txt'}\n",
    );
    let out = wfr(
        &["run", "broken", "--dry-run", "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ctx = context(&out);
    assert_eq!(ctx["status"], "FAILED");
    assert_eq!(ctx["jobs"]["j"]["status"], "FAILED");
    assert!(
        !stderr(&out).contains("would run"),
        "the failed stage ends the list: {}",
        stderr(&out)
    );
    assert_eq!(written(dir.path()), Vec::<String>::new());
}

/// A `wfr` without Python dry-runs Python stages itself: a dry run starts no
/// interpreter, so it is not handed to `wfr-python` (here there is none to
/// hand it to), while the real run must be.
#[test]
fn a_dry_run_of_python_stages_needs_no_python() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/flows.yml", FLOWS);
    let lone = crate::handoff::lone_wfr(dir.path());
    let run = |args: &[&str]| {
        Command::new(&lone)
            .args(args)
            .current_dir(dir.path())
            .env_remove("WORKFLOW_CORE_CONF_PATH")
            .env("NO_COLOR", "1")
            .output()
            .expect("run wfr")
    };
    let out = run(&["run", "dry", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("would run python stage=Compute"),
        "{}",
        stderr(&out)
    );
    let out = run(&["run", "dry"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`wfr-python`, which is not beside it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(written(dir.path()), Vec::<String>::new());
}
