//! `wfr rerun RUN_ID`: the jobs (and matrix strategies) that succeeded in the
//! run that is rerun are taken as they are from its record, the others run
//! again, in a new run linked to it.

use std::path::{Path, PathBuf};

use crate::support::{context, json_lines, stderr, wfr, write};

const CHAIN: &str = r#"
chain:
  type: Workflow
  jobs:
    one:
      stages:
        - {name: One, id: one, bash: 'echo x >> one.count; echo from-one'}
    two:
      needs: [one]
      stages:
        - name: Two
          id: two
          bash: 'set -e; echo x >> two.count; test -f fixed; echo "${{ jobs.one.stages.one.outputs.stdout }}"'
    three:
      needs: [two]
      stages:
        - {name: Three, bash: 'echo x >> three.count'}
"#;

const MATRIX: &str = r"
cells:
  type: Workflow
  jobs:
    grid:
      strategy:
        max-parallel: 1
        matrix:
          n: [1, 2, 3]
      stages:
        - name: Cell
          id: cell
          bash: 'set -e; echo x >> m${{ matrix.n }}.count; test ${{ matrix.n }} != 2 || test -f fixed; echo ${{ matrix.n }}'
";

/// How many times a stage appended to `name` in `dir`.
fn count(dir: &Path, name: &str) -> usize {
    std::fs::read_to_string(dir.join(name)).map_or(0, |text| text.lines().count())
}

/// The records in `dir`'s `.wfc/runs`, oldest first (run ids sort by time).
fn records(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join(".wfc/runs"))
        .expect("runs")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    found.sort();
    found
}

/// Runs `workflow`, or reruns the run of `record` when there is one; returns
/// its exit code, its context and its JSON log lines.
fn run(
    dir: &Path,
    workflow: &str,
    record: Option<&Path>,
) -> (
    Option<i32>,
    serde_json::Value,
    Vec<serde_json::Value>,
    String,
) {
    let id = record.map(|r| {
        r.file_name()
            .expect("a run id")
            .to_string_lossy()
            .into_owned()
    });
    let mut args = match &id {
        Some(id) => vec!["rerun", id.as_str()],
        None => vec!["run", workflow],
    };
    args.extend(["--output", "json", "--log-format", "json"]);
    let out = wfr(&args, dir, None);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code(),
        context(&out),
        json_lines(&stderr(&out)),
        text,
    )
}

fn events<'a>(lines: &'a [serde_json::Value], event: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["event"] == event).collect()
}

#[test]
fn a_rerun_reuses_the_jobs_that_succeeded_and_runs_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/chain.yml", CHAIN);
    let (code, first, _, _) = run(dir.path(), "chain", None);
    assert_eq!(code, Some(1));
    assert_eq!(first["jobs"]["two"]["status"], "FAILED");
    assert!(first["jobs"].get("three").is_none(), "{first}");
    let failed = records(dir.path()).pop().expect("the first record");
    let failed_id = failed
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();

    std::fs::write(dir.path().join("fixed"), "").expect("fix");
    let (code, rerun, lines, _) = run(dir.path(), "chain", Some(&failed));
    assert_eq!(code, Some(0), "{rerun}");
    // Job one did not run again; two and three ran.
    assert_eq!(
        [
            count(dir.path(), "one.count"),
            count(dir.path(), "two.count"),
            count(dir.path(), "three.count"),
        ],
        [1, 2, 1]
    );
    assert_eq!(rerun["status"], "SUCCESS");
    assert_eq!(rerun["info"]["rerun_of"], failed_id.as_str());
    // One's context is the one it had, and the job that needs it saw it.
    assert_eq!(rerun["jobs"]["one"], first["jobs"]["one"]);
    assert_eq!(
        rerun["jobs"]["two"]["stages"]["two"]["outputs"]["stdout"],
        "from-one"
    );
    for job in ["one", "two", "three"] {
        assert_eq!(rerun["jobs"][job]["status"], "SUCCESS", "{job}: {rerun}");
    }
    let reused = events(&lines, "job_reused");
    assert_eq!(reused.len(), 1, "{lines:?}");
    assert_eq!(reused[0]["job"], "one");
    assert_eq!(reused[0]["from_run"], failed_id.as_str());
    let started: Vec<_> = events(&lines, "job_started")
        .iter()
        .map(|l| l["job"].clone())
        .collect();
    assert_eq!(started, ["two", "three"]);
    // The rerun's record has what it printed.
    let record = records(dir.path()).pop().expect("the rerun's record");
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(record.join("context.json")).expect("context.json"),
    )
    .expect("JSON");
    assert_eq!(saved["jobs"], rerun["jobs"]);

    // Rerunning a run that succeeded: nothing to run again, no new run.
    let rerun_id = record
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let out = wfr(&["rerun", &rerun_id], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing to run again"),
        "{}",
        stderr(&out)
    );
    assert_eq!(records(dir.path()).len(), 2);
    assert_eq!(count(dir.path(), "two.count"), 2);
    // The history links the rerun to the run it re-ran.
    let out = wfr(&["runs", "--output", "json"], dir.path(), None);
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(history[0]["run_id"], rerun_id.as_str());
    assert_eq!(history[0]["rerun_of"], failed_id.as_str());
    assert_eq!(history[1]["rerun_of"], serde_json::Value::Null);
}

#[test]
fn a_rerun_of_a_matrix_job_runs_only_the_strategies_that_did_not_succeed() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/cells.yml", MATRIX);
    let (code, first, _, first_text) = run(dir.path(), "cells", None);
    assert_eq!(code, Some(1));
    let before = first["jobs"]["grid"]["strategies"]
        .as_object()
        .expect("strategies")
        .clone();
    assert_eq!(before.len(), 3, "{first}");
    let failed_sid = before
        .iter()
        .find(|(_, s)| s["status"] == "FAILED")
        .map(|(id, _)| id.clone())
        .expect("a failed strategy");
    let record = records(dir.path()).pop().expect("record");

    std::fs::write(dir.path().join("fixed"), "").expect("fix");
    let (code, rerun, lines, rerun_text) = run(dir.path(), "cells", Some(&record));
    assert_eq!(code, Some(0), "{rerun}");
    assert_eq!(
        [1, 2, 3].map(|n| count(dir.path(), &format!("m{n}.count"))),
        [1, 2, 1],
        "only the failed strategy ran again"
    );
    let grid = &rerun["jobs"]["grid"];
    assert_eq!(grid["status"], "SUCCESS");
    assert!(grid.get("errors").is_none(), "{grid}");
    let after = grid["strategies"].as_object().expect("strategies");
    assert_eq!(after.len(), 3, "{grid}");
    for (id, strategy) in after {
        assert_eq!(strategy["status"], "SUCCESS", "{id}");
        if *id != failed_sid {
            assert_eq!(*strategy, before[id], "kept as it was");
        }
    }
    assert_eq!(
        after[&failed_sid]["stages"]["cell"]["outputs"]["stdout"],
        "2"
    );
    // In the matrix's order, as a fresh run writes them.
    let order = |text: &str| {
        let mut ids: Vec<&String> = before.keys().collect();
        ids.sort_by_key(|id| text.find(&format!("\"{id}\"")));
        ids.into_iter().cloned().collect::<Vec<_>>()
    };
    assert_eq!(order(&rerun_text), order(&first_text));
    let kept: Vec<_> = events(&lines, "strategy_reused")
        .iter()
        .map(|l| l["strategy"].as_str().expect("strategy").to_string())
        .collect();
    assert_eq!(kept.len(), 2, "{lines:?}");
    assert!(!kept.contains(&failed_sid));
}

#[test]
fn a_record_that_holds_no_context_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/chain.yml", CHAIN);
    let (code, _, _, _) = run(dir.path(), "chain", None);
    assert_eq!(code, Some(1));
    let record = records(dir.path()).pop().expect("record");
    std::fs::write(record.join("context.json"), "{\"status\": \"FAILED\"}").expect("spoil");
    let id = record
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let out = wfr(&["rerun", &id], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("it is not a run's final context"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(dir.path(), "one.count"), 1);
    let out = wfr(&["rerun", "no-such-run"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no run has the id `no-such-run`"),
        "{}",
        stderr(&out)
    );
}

/// A job that was skipped is not reused: its `if` decides again.
#[test]
fn a_rerun_runs_skipped_jobs_again_and_their_if_decides() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/gate.yml",
        "gate:\n  type: Workflow\n  jobs:\n    broken:\n      stages:\n        - {name: Broken, bash: 'set -e; echo x >> broken.count; test -f fixed'}\n    maybe:\n      needs: [broken]\n      trigger-rule: all_done\n      if: 'jobs.broken.status == \"SUCCESS\"'\n      stages:\n        - {name: Maybe, bash: 'echo x >> maybe.count'}\n",
    );
    let (code, first, _, _) = run(dir.path(), "gate", None);
    assert_eq!(code, Some(1), "{first}");
    assert_eq!(first["jobs"]["maybe"]["status"], "SKIP", "{first}");
    let record = records(dir.path()).pop().expect("record");
    std::fs::write(dir.path().join("fixed"), "").expect("fix");
    let (code, ctx, _, _) = run(dir.path(), "gate", Some(&record));
    assert_eq!(code, Some(0), "{ctx}");
    assert_eq!(ctx["jobs"]["maybe"]["status"], "SUCCESS");
    assert_eq!(ctx["jobs"]["broken"]["status"], "SUCCESS");
    assert_eq!(count(dir.path(), "maybe.count"), 1);
    assert_eq!(count(dir.path(), "broken.count"), 2);
}
