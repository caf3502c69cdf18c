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
