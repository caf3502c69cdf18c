//! Run logs: human lines and JSON lines on stderr, the JSON log in the record,
//! `WFR_LOG`, and the live progress view on a terminal.

use std::path::Path;
use std::process::Command;

use crate::support::{stderr, wfr, write};

const FLOW: &str = "flow:\n  type: Workflow\n  jobs:\n    first:\n      stages:\n        - name: Greet\n          echo: hello there\n        - name: Loop\n          foreach: [1, 2]\n          stages:\n            - name: Inner\n              echo: item ${{ item }}\n    second:\n      needs: [first]\n      stages:\n        - name: Fail here\n          bash: echo boom >&2; exit 3\n";

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/flow.yml", FLOW);
    dir
}

fn record_log(dir: &Path) -> String {
    let runs: Vec<_> = std::fs::read_dir(dir.join(".wfc/runs"))
        .expect("runs")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    std::fs::read_to_string(runs[0].join("run.log")).expect("run.log")
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[test]
fn human_lines_name_the_place_the_stage_and_the_error() {
    let dir = setup();
    let out = wfr(&["run", "flow"], dir.path(), None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let has = |needle: &str| {
        assert!(
            err.lines().any(|l| l.contains(needle)),
            "no line with {needle:?}:\n{err}"
        );
    };
    has("first stage started stage=Greet kind=empty");
    has("first hello there");
    has("first[2] item 2");
    has("first[1] stage ended stage=Inner status=SUCCESS");
    has("second job started");
    let failed = err
        .lines()
        .find(|l| l.contains("stage failed"))
        .expect("a failed stage line");
    assert!(failed.contains("ERROR"), "{failed}");
    assert!(
        failed.contains("boom"),
        "the error is on the line: {failed}"
    );
    assert!(err.contains("run ended"), "{err}");
    assert!(
        !err.contains('\x1b'),
        "no colors when stderr is not a terminal"
    );
}

#[test]
fn json_logs_on_stderr_and_in_the_record() {
    let dir = setup();
    let out = wfr(&["run", "flow", "--log-format", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines = json_lines(&stderr(&out));
    let ended: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "stage ended" || l["message"] == "stage failed")
        .collect();
    // Greet, Loop, Inner twice, Fail here.
    assert_eq!(ended.len(), 5, "{lines:#?}");
    let failed = lines
        .iter()
        .find(|l| l["message"] == "stage failed")
        .expect("failed stage");
    assert_eq!(failed["level"], "ERROR");
    assert_eq!(failed["at"], "second");
    assert_eq!(failed["stage"], "Fail here");
    assert!(failed["seconds"].is_number(), "{failed}");
    assert!(
        failed["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{failed}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l["message"] == "run record written"),
        "the record line is JSON too: {lines:#?}"
    );
    // The record's log holds the same events (the record line aside).
    let logged = json_lines(&record_log(dir.path()));
    assert_eq!(logged.len(), lines.len() - 1);
    assert!(
        logged
            .iter()
            .all(|l| l["run"].as_str().is_some_and(|r| !r.is_empty()))
    );
}

#[test]
fn wfr_log_filters_and_a_bad_filter_is_refused() {
    let dir = setup();
    let out = Command::new(env!("CARGO_BIN_EXE_wfr"))
        .args(["run", "flow"])
        .current_dir(dir.path())
        .env("WFR_LOG", "error")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let lines: Vec<_> = err.lines().filter(|l| !l.starts_with("wfr:")).collect();
    assert_eq!(lines.len(), 1, "only the error line:\n{err}");
    assert!(lines[0].contains("stage failed"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_wfr"))
        .args(["run", "flow"])
        .current_dir(dir.path())
        .env("WFR_LOG", "loud")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("WFR_LOG=loud"), "{}", stderr(&out));
}

/// On a terminal (a pseudo-terminal made by `script`), a line per job shows its
/// progress and ends with its status.
#[test]
fn progress_view_on_a_terminal() {
    let dir = setup();
    let script = Path::new("/usr/bin/script");
    assert!(
        script.is_file(),
        "this test needs `script` (util-linux) to make a terminal"
    );
    let command = format!("{} run flow", env!("CARGO_BIN_EXE_wfr"));
    let out = Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir.path())
        .env_remove("WFR_LOG")
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .output()
        .expect("script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("✔ first SUCCESS in"), "{text}");
    assert!(text.contains("· 4 stages"), "{text}");
    assert!(text.contains("✘ second FAILED in"), "{text}");
    assert!(text.contains("1 stage, 1 failed"), "{text}");
    // The log lines still reach the terminal, above the progress lines.
    assert!(text.contains("first hello there"), "{text}");
}

/// With the logs off nothing is logged, and nothing else changes: the final
/// context is the same, an `echo` whose template fails still fails its stage, and
/// the record's log is empty.
#[test]
fn logs_off_change_only_the_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = "quiet:\n  type: Workflow\n  params: {n: {type: int, default: 2}}\n  jobs:\n    j:\n      stages:\n        - name: Each\n          id: each\n          foreach: [1, 2, 3]\n          stages:\n            - {name: Say, id: say, echo: 'item ${{ item }} of ${{ params.n }}'}\n        - {name: Broken, id: broken, echo: 'value ${{ params.n | keys }}'}\n";
    write(dir.path(), "conf/quiet.yml", flow);
    let run = |log: Option<&str>| {
        let mut command = Command::new(crate::WFR);
        command
            .args(["run", "quiet", "--output", "json"])
            .current_dir(dir.path())
            .env_remove("WORKFLOW_CORE_CONF_PATH");
        match log {
            Some(level) => command.env("WFR_LOG", level),
            None => command.env_remove("WFR_LOG"),
        };
        command.output().expect("run")
    };
    let on = run(None);
    let off = run(Some("off"));
    assert_eq!(on.status.code(), Some(1), "{}", stderr(&on));
    assert_eq!(off.status.code(), Some(1), "{}", stderr(&off));
    let context =
        |out: &std::process::Output| crate::support::without_info(crate::support::context(out));
    let (on_ctx, off_ctx) = (context(&on), context(&off));
    assert_eq!(on_ctx, off_ctx);
    assert_eq!(
        off_ctx["jobs"]["j"]["stages"]["broken"]["status"], "FAILED",
        "{off_ctx}"
    );
    assert!(stderr(&on).contains("item 3 of 2"), "{}", stderr(&on));
    assert!(!stderr(&off).contains("item"), "{}", stderr(&off));
    let records = dir.path().join(".wfc/runs");
    let logs: Vec<u64> = std::fs::read_dir(&records)
        .expect("records")
        .map(|e| {
            std::fs::metadata(e.expect("entry").path().join("run.log"))
                .expect("log")
                .len()
        })
        .collect();
    assert_eq!(logs.len(), 2);
    assert!(logs.contains(&0) && logs.iter().any(|&n| n > 0), "{logs:?}");
}

/// A Bash stage's output is logged line by line as it comes, on the console and
/// in the record's log (`stream=stdout|stderr`); its outputs are as before.
#[test]
fn bash_output_is_logged_line_by_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/b.yml",
        "b:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Talk\n          id: talk\n          bash: |\n            echo 'first line'\n            echo 'to stderr' >&2\n            printf 'no newline at the end'\n",
    );
    let out = wfr(&["run", "b", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    for line in [
        " INFO j first line stream=stdout",
        " INFO j to stderr stream=stderr",
        " INFO j no newline at the end stream=stdout",
    ] {
        assert!(
            err.lines().any(|l| l.ends_with(line)),
            "no line {line:?}:\n{err}"
        );
    }
    let logged: Vec<serde_json::Value> = json_lines(&record_log(dir.path()))
        .into_iter()
        .filter(|l| l["target"] == "wfr::bash")
        .collect();
    let lines: Vec<(&str, &str)> = logged
        .iter()
        .map(|l| {
            (
                l["stream"].as_str().unwrap_or(""),
                l["message"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("stdout", "first line"),
            ("stderr", "to stderr"),
            ("stdout", "no newline at the end")
        ]
    );
    let ctx: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        ctx["jobs"]["j"]["stages"]["talk"]["outputs"]["stdout"],
        "first line\nno newline at the end"
    );
    assert_eq!(
        ctx["jobs"]["j"]["stages"]["talk"]["outputs"]["stderr"],
        "to stderr"
    );
    // WFR_LOG turns them off like any target.
    let quiet = crate::support::wfr_with(
        &["run", "b"],
        dir.path(),
        None,
        &[("WFR_LOG", "info,wfr::bash=off")],
    );
    assert!(!stderr(&quiet).contains("first line"), "{}", stderr(&quiet));
}

/// Jobs that never run are logged with the reason, and named.
#[test]
fn jobs_that_do_not_run_say_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/n.yml",
        "n:\n  type: Workflow\n  jobs:\n    a:\n      stages:\n        - {name: Boom, bash: exit 3}\n    ok:\n      stages:\n        - {name: Fine, echo: fine}\n    b:\n      needs: [a, ok]\n      stages:\n        - {name: Never, echo: never}\n    c:\n      needs: [b]\n      stages:\n        - {name: Never either, echo: never}\n",
    );
    write(
        dir.path(),
        "conf/s.yml",
        "s:\n  type: Workflow\n  jobs:\n    off:\n      if: 'False'\n      stages:\n        - {name: Skipped, echo: skipped}\n    after-off:\n      needs: [off]\n      stages:\n        - {name: Skipped too, echo: skipped}\n",
    );
    let out = wfr(
        &[
            "run",
            "n",
            "--log-format",
            "json",
            "--max-job-parallel",
            "1",
        ],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let not_run: Vec<(String, String)> = crate::support::json_lines(&stderr(&out))
        .into_iter()
        .filter(|l| l["message"] == "job not run")
        .map(|l| {
            (
                l["job"].as_str().unwrap_or("").to_string(),
                l["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let reason = |job: &str| {
        let found = not_run.iter().find(|(j, _)| j == job);
        found.map_or_else(
            || panic!("no line for {job}: {not_run:?}"),
            |(_, r)| r.as_str(),
        )
    };
    assert!(
        reason("b").contains("trigger rule `all_success` is not met: `a` FAILED, `ok` SUCCESS"),
        "{not_run:?}"
    );
    assert!(reason("c").contains("`b` could not run"), "{not_run:?}");
    let skipped = wfr(&["run", "s", "--log-format", "json"], dir.path(), None);
    assert!(
        crate::support::json_lines(&stderr(&skipped))
            .iter()
            .any(|l| l["message"] == "job not run"
                && l["job"] == "after-off"
                && l["status"] == "SKIP"
                && l["reason"] == "every job it needs was skipped"),
        "{}",
        stderr(&skipped)
    );
    // The human view names them too.
    let human = wfr(&["run", "n", "--max-job-parallel", "1"], dir.path(), None);
    assert!(
        stderr(&human)
            .lines()
            .any(|l| l.contains(" b job not run") && l.contains("reason=")),
        "{}",
        stderr(&human)
    );
}

/// Durations read as durations: `SUCCESS in 61µs`, not `6.1e-05s`.
#[test]
fn durations_are_written_for_people() {
    let dir = setup();
    let out = wfr(&["run", "flow"], dir.path(), None);
    let summary = crate::support::stdout(&out);
    let took = summary
        .trim()
        .rsplit_once(" in ")
        .map(|(_, t)| t.to_string())
        .expect("a duration");
    let (number, unit) = took.split_at(
        took.find(|c: char| !c.is_ascii_digit() && c != '.')
            .expect("a unit"),
    );
    assert!(number.parse::<f64>().is_ok(), "{summary}");
    assert!(["µs", "ms", "s"].contains(&unit), "{summary}");
    assert!(
        stderr(&out)
            .lines()
            .any(|l| l.contains("stage ended") && l.contains(" took=")),
        "{}",
        stderr(&out)
    );
}

/// The lines logged on `stream` in a run log (JSON lines).
fn stage_lines(log: &str, stream: &str) -> Vec<String> {
    json_lines(log)
        .into_iter()
        .filter(|l| l["event"] == "line" && l["stream"] == stream)
        .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A stage that writes a flood of short lines (`yes | head`) does not make a
/// log a hundred times its size: its first lines are logged as they come, then
/// a note of what was left out, then its last lines, the last one included.
/// Its outputs keep their own bound, and say so.
#[test]
fn a_flood_of_output_logs_its_head_a_note_and_its_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/f.yml",
        "f:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Flood\n          id: flood\n          bash: |\n            yes | head -n 300000\n            head -c 20000000 /dev/zero | tr '\\0' x\n            echo; echo the last line\n",
    );
    let out = wfr(&["run", "f", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = record_log(dir.path());
    assert!(log.len() < 40 << 20, "the log takes {} bytes", log.len());
    let lines = stage_lines(&log, "stdout");
    assert!(
        lines.len() <= 100_000 + 1 + 1_000,
        "{} lines logged",
        lines.len()
    );
    assert_eq!(lines[0], "y");
    let note = lines
        .iter()
        .find(|l| l.starts_with("[wfr: "))
        .expect("a note of what was not logged");
    assert!(note.contains("of stdout were not logged"), "{note}");
    assert_eq!(lines.last().map(String::as_str), Some("the last line"));
    // The same flood on stderr, for the console.
    assert!(stderr(&out).len() < 40 << 20);
    let ctx = crate::support::context(&out);
    let kept = ctx["jobs"]["j"]["stages"]["flood"]["outputs"]["stdout"]
        .as_str()
        .expect("stdout");
    assert!(kept.len() <= (16 << 20) + 200, "{} bytes kept", kept.len());
    assert!(kept.ends_with("a stage keeps at most 16 MiB of each stream]"));
}
