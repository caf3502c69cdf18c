//! What Python code starts stops with its stage, and Python that does not stop
//! (a call into C) does not hold the run.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::support::{indent, processes_running, start, write};

fn workflow(dir: &std::path::Path, keys: &str, code: &str, after: &str) {
    let code = indent(code, 12);
    write(
        dir,
        "conf/p.yml",
        &format!(
            "p:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: py\n          id: py\n{keys}          run: |\n{code}{after}"
        ),
    );
}

/// `subprocess.run(["sleep", …])` blocks in C; the stage's timeout, the run's
/// timeout and SIGTERM stop it on time, and the child with it.
#[test]
fn a_stage_blocked_in_a_subprocess_stops_on_time_and_its_child_with_it() {
    for (how, keys, args, code) in [
        (
            "a stage timeout",
            "          timeout: 1\n",
            &["run", "p"][..],
            1,
        ),
        ("--timeout", "", &["run", "p", "--timeout", "1"][..], 4),
        ("SIGTERM", "", &["run", "p"][..], 3),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        workflow(
            dir.path(),
            keys,
            "import subprocess\nsubprocess.run([\"sleep\", \"7431\"])",
            "",
        );
        let run = start(args, dir.path());
        let started = std::time::Instant::now();
        while processes_running("sleep 7431").is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{how}: no child"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        if how == "SIGTERM" {
            run.signal(Signal::SIGTERM);
        }
        let ended = run.end_within(Duration::from_secs(15));
        assert_eq!(ended.code, Some(code), "{how}: {}", ended.stderr);
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{how}: {:?}",
            started.elapsed()
        );
        assert_eq!(processes_running("sleep 7431"), Vec::<i32>::new(), "{how}");
    }
}

/// A loop in C never gives the interpreter back: the stage fails on its timeout
/// and the run ends without waiting for it.
#[test]
fn python_stuck_in_c_does_not_hold_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    workflow(
        dir.path(),
        "          timeout: 1\n",
        "total = sum(range(10 ** 13))",
        "        - name: after\n          id: after\n          if: 'True'\n          echo: never\n",
    );
    let started = std::time::Instant::now();
    let run = start(&["run", "p", "--output", "json"], dir.path());
    let ended = run.end_within(Duration::from_secs(20));
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    let ctx: serde_json::Value = serde_json::from_str(&ended.stdout).expect("json");
    assert_eq!(
        ctx["jobs"]["j"]["stages"]["py"]["errors"]["name"], "StageTimeoutError",
        "{ctx:#}"
    );
    assert!(ended.stderr.contains("did not stop"), "{}", ended.stderr);
}

/// Processes the code leaves running (through subprocess, os.system, os.popen,
/// in a session of their own or not) are killed when the stage ends.
#[test]
fn what_python_leaves_running_is_killed_when_the_stage_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    workflow(
        dir.path(),
        "",
        "import os, subprocess\nsubprocess.Popen([\"setsid\", \"sleep\", \"7441\"])\nsubprocess.Popen([\"sleep\", \"7442\"], start_new_session=True)\nos.system(\"sleep 7443 &\")\nos.popen(\"setsid sleep 7444 &\")\nimport time\ntime.sleep(0.3)",
        "        - name: check\n          id: check\n          bash: pgrep -f 'sleep 744' || true\n",
    );
    let run = start(&["run", "p", "--output", "json"], dir.path());
    let ended = run.end_within(Duration::from_secs(20));
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let ctx: serde_json::Value = serde_json::from_str(&ended.stdout).expect("json");
    assert_eq!(
        ctx["jobs"]["j"]["stages"]["check"]["outputs"]["stdout"],
        serde_json::Value::Null,
        "still running when the next stage started: {ctx:#}"
    );
    for n in 7441..=7444 {
        assert_eq!(processes_running(&format!("sleep {n}")), Vec::<i32>::new());
    }
}

/// What a Py stage prints is logged as it comes, not when the stage ends.
#[test]
fn printed_lines_are_logged_as_they_come() {
    let dir = tempfile::tempdir().expect("tempdir");
    workflow(
        dir.path(),
        "",
        "import sys, time\nprint('early line')\nprint('to stderr', file=sys.stderr)\ntime.sleep(30)",
        "",
    );
    let mut run = start(&["run", "p"], dir.path());
    let started = std::time::Instant::now();
    loop {
        let err = run.stderr_so_far();
        if err.contains("early line stream=stdout") && err.contains("to stderr stream=stderr") {
            break;
        }
        assert!(
            run.child.try_wait().expect("wait").is_none(),
            "the run ended first:\n{err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "not logged while the stage runs:\n{err}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    run.signal(Signal::SIGTERM);
    let ended = run.end_within(Duration::from_secs(15));
    assert_eq!(ended.code, Some(3), "{}", ended.stderr);
    // Logged once.
    assert_eq!(
        ended.stderr.matches("early line").count(),
        1,
        "{}",
        ended.stderr
    );
}

/// A stage reads nothing from wfr's terminal: `input()` ends at once (EOFError)
/// and a child that reads its stdin gets none, even while wfr's own stdin
/// stays open.
#[test]
fn a_stage_reads_nothing_from_wfrs_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    workflow(
        dir.path(),
        "",
        "import subprocess\nread = subprocess.run(['cat'], capture_output=True, text=True).stdout\ntry:\n    input()\n    asked = 'answered'\nexcept EOFError:\n    asked = 'no input'",
        "",
    );
    let mut child = std::process::Command::new(crate::WFR)
        .args(["run", "p", "--output", "json"])
        .current_dir(dir.path())
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wfr");
    // wfr's stdin stays open (and empty) until it ends.
    let _stdin = child.stdin.take();
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the stage waited for wfr's stdin");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let ctx: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let outputs = &ctx["jobs"]["j"]["stages"]["py"]["outputs"];
    assert_eq!(outputs["read"], "", "{ctx:#}");
    assert_eq!(outputs["asked"], "no input", "{ctx:#}");
}

/// Code stuck in C in a stage without a `timeout` runs on the stage's own
/// thread: a signal or `--timeout` still ends the run a few seconds later, its
/// record closed (from what the log says of the jobs).
#[test]
fn a_run_cancelled_or_timed_out_while_python_is_stuck_in_c_still_ends() {
    for (how, args, code, status) in [
        ("SIGTERM", &["run", "p"][..], 3, "CANCEL"),
        (
            "--timeout",
            &["run", "p", "--timeout", "1"][..],
            4,
            "FAILED",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        workflow(dir.path(), "", "total = sum(range(10 ** 13))", "");
        let run = start(args, dir.path());
        std::thread::sleep(Duration::from_secs(1));
        if how == "SIGTERM" {
            run.signal(Signal::SIGTERM);
        }
        let started = std::time::Instant::now();
        let ended = run.end_within(Duration::from_secs(30));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{how}: {:?}",
            started.elapsed()
        );
        assert_eq!(ended.code, Some(code), "{how}: {}", ended.stderr);
        let runs = dir.path().join(".wfc/runs");
        let records: Vec<_> = std::fs::read_dir(&runs)
            .expect("runs")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(records.len(), 1, "{how}: {records:?}");
        assert!(
            !records[0].to_string_lossy().contains("partial"),
            "{how}: {records:?}"
        );
        let ctx: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(records[0].join("context.json")).expect("context"),
        )
        .expect("json");
        assert_eq!(ctx["status"], status, "{how}: {ctx:#}");
    }
}

/// What the processes a Py stage starts write is the stage's log, as a Bash
/// stage's is, and never lands in `--output json`; a flood of lines printed or
/// written by them logs its head, a note and its tail, in order.
#[test]
fn what_a_stage_s_processes_write_is_its_log_and_not_wfr_s_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    workflow(
        dir.path(),
        "",
        "import os, subprocess\nsubprocess.run(['echo', 'from a child'])\nsubprocess.run('echo child error >&2', shell=True)\nos.system('echo from os.system')\nkept = subprocess.run(['echo', 'captured'], capture_output=True, text=True).stdout.strip()\nfor i in range(150000):\n    print(i)\nsubprocess.run(['bash', '-c', 'yes | head -n 50000'])\nprint('kept', kept)",
        "",
    );
    let out = crate::support::wfr(&["run", "p", "--output", "json"], dir.path(), None);
    let err = crate::support::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let ctx: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not the context ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(ctx["status"], "SUCCESS");
    for line in [
        "from a child stream=stdout",
        "child error stream=stderr",
        "kept captured stream=stdout",
    ] {
        assert!(
            err.contains(line),
            "no {line:?} in the log:\n{}",
            tail(&err)
        );
    }
    // os.system's child is not the stage's (no pipe of its own): it shows on
    // stderr, still not in stdout.
    assert!(err.contains("from os.system"), "{}", tail(&err));
    assert!(
        !err.lines()
            .any(|l| l.ends_with(" j captured stream=stdout")),
        "captured output is not logged"
    );
    let note = err
        .lines()
        .find(|l| l.contains("of stdout were not logged"))
        .unwrap_or_else(|| panic!("no note of what was not logged:\n{}", tail(&err)));
    assert!(note.contains("[wfr: "), "{note}");
    let printed = err.matches(" stream=stdout").count();
    assert!(
        printed <= 100_000 + 1 + 1_000 + 10,
        "{printed} lines logged"
    );
    let after_note = &err[err.find(note).expect("the note")..];
    assert!(
        after_note.contains("kept captured stream=stdout"),
        "the last line comes after the note, in order"
    );
}

fn tail(text: &str) -> &str {
    &text[text.len().saturating_sub(3000)..]
}
